#!/bin/sh
# test-node-verdicts.sh - verdicts that stay true, on the real vigild with
# its real sandboxed workers: a container of malware is malicious however
# deep the malware sits, and says which object inside earned it; a sample
# first seen clean inside a container whose own analysis fails is
# suspicious, never clean; a sample that outlasts the node's time limit is
# stopped once, at the limit, as Limits.Exceeded.Time.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

# One worker: jobs run in the order they were submitted. The worker
# crashes or spins on samples that begin with the self-test markers
# (worker.h), never on the same bytes inside a container.
max_ms=1000
cat >node.conf <<CONF
[node]
workers = 1
[limits]
max_scan_ms = $max_ms
CONF
cat >worker-wrapper <<WRAP
#!/bin/sh
exec "$VIGIL_WORKER" --self-test-crash --self-test-hang "\$@"
WRAP
chmod +x worker-wrapper
node_start vigild "VIGIL_WORKER=$tmp/worker-wrapper" -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild starts" "$(tail -5 vigild.err)"; finish; }
pass "vigild starts with the self-test worker"
base=$node_base
pid=$node_pid

# http METHOD PATH [CURL ARGS...]: status in $code, body in $out.
http() {
	m=$1 p=$2
	shift 2
	code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" \
		-H "Authorization: Bearer $tok" "$@" "$base$p")
}
json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$out"; }
tok=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# submit FILE: submits and waits for the analysis; the answer in $out,
# the submission's id in $sid.
submit() {
	http POST /v1/submissions --data-binary @"$1"
	sid=$(json 'd["id"]')
	http GET "/v1/submissions/$sid?wait=60"
}

# verdict_everywhere HASH WHAT EXPR: EXPR (Python over d, the answer)
# holds for GET /v1/files/HASH and for POST /v1/lookup of HASH.
verdict_everywhere() {
	http GET "/v1/files/$1"
	[ "$code" = 200 ] && [ "$(json "$3")" = True ] &&
		pass "GET /v1/files: $2" || fail "GET /v1/files: $2" "HTTP $code $(head -c 500 "$out")"
	http POST /v1/lookup --data-binary "{\"hashes\":[\"$1\"]}"
	mv "$out" "$out.all"
	"$PYTHON" -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["results"][0], open(sys.argv[2], "w"))' \
		"$out.all" "$out"
	[ "$code" = 200 ] && [ "$(json "$3")" = True ] &&
		pass "POST /v1/lookup: $2" || fail "POST /v1/lookup: $2" "HTTP $code $(head -c 500 "$out")"
}

# --- (a) outer.tgz > inner.zip > eicar.com: the containers carry it --------------------------
mkdir a
eicar >a/eicar.com
printf 'a clean member %s\n' "$(date +%s%N)" >a/readme.txt
(cd a && zip -q inner.zip eicar.com readme.txt && tar czf ../outer.tgz inner.zip)
inner=$(md5sum a/inner.zip | cut -d' ' -f1)
esha=$(sha256sum a/eicar.com | cut -d' ' -f1)
readme=$(md5sum a/readme.txt | cut -d' ' -f1)
submit outer.tgz
[ "$(json 'd["status"], d["verdict"], d["because"]')" = "done malicious [{'path': '#1!inner.zip!eicar.com', 'name': 'Vigil_Test_EICAR'}]" ] &&
	pass "outer.tgz: malicious, because #1!inner.zip!eicar.com has Vigil_Test_EICAR" ||
	fail "outer.tgz: malicious, because #1!inner.zip!eicar.com has Vigil_Test_EICAR" "$(head -c 600 "$out")"
verdict_everywhere "$inner" "inner.zip (only ever seen inside outer.tgz) is malicious, because eicar.com" \
	'd["verdict"] == "malicious" and d["score"] == 100 and d["detections"] == ["Vigil_Test_EICAR"] and d["because"] == [{"path": "eicar.com", "name": "Vigil_Test_EICAR"}]'
verdict_everywhere "$esha" "eicar.com's reputation is its own: malicious, because itself" \
	'd["verdict"] == "malicious" and d["because"] == [{"path": "", "name": "Vigil_Test_EICAR"}]'
verdict_everywhere "$readme" "a clean member of the same archive stays clean" \
	'd["verdict"] == "clean" and d["detections"] == [] and d["because"] == []'
export VIGIL_HOME="$tmp/home-files"
"$VIGIL" enroll --server "$base" --consent files >/dev/null 2>&1
"$VIGIL" lookup "$inner" >"$out" 2>"$err"
rc=$?
expect_rc 1 "vigil lookup of inner.zip's MD5: exit 1 (found)"
grep -q "^$inner: malicious (score 100" "$out" &&
	pass "vigil lookup of inner.zip's MD5 prints malicious" ||
	fail "vigil lookup of inner.zip's MD5 prints malicious" "$(cat "$out" "$err")"
unset VIGIL_HOME

# --- (b) first seen clean inside a container, then its own analysis fails ---------------------
mkdir b
printf 'VIGIL-SELF-TEST-CRASH %s\n' "$(date +%s%N)" >b/crash.bin
printf 'VIGIL-SELF-TEST-HANG %s\n' "$(date +%s%N)" >b/hang.bin
(cd b && zip -q ../holder.zip crash.bin hang.bin)
csha=$(sha256sum b/crash.bin | cut -d' ' -f1)
hsha=$(sha256sum b/hang.bin | cut -d' ' -f1)
submit holder.zip
[ "$(json 'd["status"], d["verdict"]')" = "done clean" ] &&
	pass "holder.zip, the markers inside it: done clean" ||
	fail "holder.zip, the markers inside it: done clean" "$(head -c 400 "$out")"
verdict_everywhere "$csha" "crash.bin, seen only inside holder.zip: clean" 'd["verdict"] == "clean"'
for f in crash hang; do
	case $f in
	crash) h=$csha want="failed suspicious 3 True" det=Analysis.Failed ;;
	hang) h=$hsha want="failed suspicious 1 True" det=Limits.Exceeded.Time ;;
	esac
	submit b/$f.bin
	[ "$(json "d['status'], d['verdict'], d['attempts'], '$det' in d['detections'] and {'path': '', 'name': '$det'} in d['because']")" = "$want" ] &&
		pass "$f.bin on its own, its analysis failing: GET /v1/submissions says $want ($det)" ||
		fail "$f.bin on its own, its analysis failing: GET /v1/submissions says $want ($det)" "$(head -c 500 "$out")"
	verdict_everywhere "$h" "$f.bin, noted clean inside holder.zip, then failed on its own: suspicious ($det), never clean" \
		"d['verdict'] == 'suspicious' and d['score'] >= 40 and '$det' in d['detections']"
done

# --- (c) the node's time limit, enforced once ----------------------------------------------
# A sample first, so that the worker is up: the measure is the job's.
printf 'an ordinary sample %s\n' "$(date +%s%N)" >fine.bin
submit fine.bin
[ "$(json 'd["status"], d["verdict"]')" = "done clean" ] &&
	pass "an ordinary sample is analysed" || fail "an ordinary sample is analysed" "$(head -c 300 "$out")"
printf 'VIGIL-SELF-TEST-HANG %s\n' "$(date +%s%N)" >spin.bin
ssha=$(sha256sum spin.bin | cut -d' ' -f1)
t0=$(date +%s%N)
submit spin.bin
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(json 'd["status"], d["verdict"], d["attempts"], d["detections"]')" = "failed suspicious 1 ['Limits.Exceeded.Time']" ] &&
	pass "a sample past the time limit: failed, suspicious, Limits.Exceeded.Time, one attempt" ||
	fail "a sample past the time limit: failed, suspicious, Limits.Exceeded.Time, one attempt" "$(head -c 500 "$out")"
json 'd["error"]' | grep -q "stopped by the node" &&
	pass "the job's error says the node stopped it" || fail "the job's error says the node stopped it" "$(head -c 500 "$out")"
# The limit plus the grace (at most 1 s), plus room for a loaded machine:
# well short of a second attempt.
[ "$ms" -lt $((max_ms + 1000 + 2000)) ] &&
	pass "answered within the limit and the grace ($ms ms, limit $max_ms ms)" ||
	fail "answered within the limit and the grace" "$ms ms, limit $max_ms ms"
n=$(grep "sha256=$ssha" vigild.err | grep -c 'event=job_failed')
s=$(grep "sha256=$ssha" vigild.err | grep -c 'event=job_stopped')
[ "$n" = 0 ] && [ "$s" = 1 ] && pass "stopped once, never retried" ||
	fail "stopped once, never retried" "job_failed $n, job_stopped $s"
verdict_everywhere "$ssha" "the stopped sample is suspicious (Limits.Exceeded.Time)" \
	'd["verdict"] == "suspicious" and d["detections"] == ["Limits.Exceeded.Time"]'

# --- after a restart, from the store -----------------------------------------------------------
kill -TERM $pid
wait $pid
node_start vigild "VIGIL_WORKER=$tmp/worker-wrapper" -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild restarts" "$(tail -5 vigild.err)"; finish; }
base=$node_base
pid=$node_pid
verdict_everywhere "$inner" "after a restart, inner.zip is still malicious, because eicar.com" \
	'd["verdict"] == "malicious" and d["because"] == [{"path": "eicar.com", "name": "Vigil_Test_EICAR"}]'
verdict_everywhere "$csha" "after a restart, crash.bin is still suspicious" 'd["verdict"] == "suspicious"'
kill -TERM $pid
wait $pid
finish
