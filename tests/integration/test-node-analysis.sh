#!/bin/sh
# test-node-analysis.sh - submissions end to end on the real vigild with
# its real sandboxed workers: EICAR submitted and analysed, lookups by every
# hash, embedded objects answering too, consent, deduplication and
# prevalence, bad submissions, kill -9 during a burst, and a worker that
# crashes or hangs.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

# Three event loops on two cores: long-polls land on loops other than
# the one that takes the analyses' results, which must pass them on.
cat >node.conf <<'CONF'
[node]
workers = 2
loops = 3
[limits]
max_sample_body = 1048576
CONF

# start_node [ENV=VALUE]: the node of this test; sets $pid and $base.
start_node() {
	node_start vigild ${1:-} -- -c node.conf --data "$tmp/var" || return 1
	pid=$node_pid
	base=$node_base
}

stop_node() {
	kill -TERM $pid 2>/dev/null
	wait $pid
}

# http METHOD PATH TOKEN [CURL ARGS...]: status in $code, body in $out.
http() {
	m=$1 p=$2 t=$3
	shift 3
	code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" \
		${t:+-H "Authorization: Bearer $t"} "$@" "$base$p")
}

json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$out"; }

enroll() { # CONSENT -> prints the token
	curl -s -X POST --data-binary "{\"consent\":\"$1\"}" "$base/v1/enroll" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

expect_code() { # CODE WHAT
	[ "$code" = "$1" ] && pass "$2" || fail "$2" "HTTP $code: $(head -c 300 "$out")"
}

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
pass "vigild starts with two analysis workers"
grep -q 'event=listening .*loops=3' vigild.err &&
	pass "vigild runs the three event loops configured" ||
	fail "vigild runs the three event loops configured" "$(grep listening vigild.err)"
t1=$(enroll files)
t2=$(enroll files)
t3=$(enroll files)
tm=$(enroll metadata)

# --- EICAR, end to end ---------------------------------------------------------------------
eicar >eicar.com
sha=$(sha256sum eicar.com | cut -d' ' -f1)
md5=$(md5sum eicar.com | cut -d' ' -f1)
sha1=$(sha1sum eicar.com | cut -d' ' -f1)
http POST /v1/submissions "$t1" --data-binary @eicar.com \
	-H 'Vigil-Metadata: {"name":"eicar.com","path":"/home/alice/Downloads/eicar.com","found_by":"on-access","os":"Debian 12"}'
expect_code 202 "POST /v1/submissions: 202 once durable"
id=$(json 'd["id"]')
[ "$(json 'd["sha256"]')" = "$sha" ] && pass "the answer carries the sample's SHA-256" ||
	fail "the answer carries the sample's SHA-256" "$(cat "$out")"
http GET "/v1/submissions/$id?wait=60" "$t1"
expect_code 200 "GET /v1/submissions/{id}?wait=60: 200"
[ "$(json 'd["status"], d["verdict"]')" = "done malicious" ] &&
	pass "EICAR is analysed: status done, verdict malicious" ||
	fail "EICAR is analysed: status done, verdict malicious" "$(head -c 600 "$out")"
[ "$(json '"Vigil_Test_EICAR" in d["detections"] and d["report"]["objects"][0]["sha256"]')" = "$sha" ] &&
	pass "the submission carries the detection and the full report" ||
	fail "the submission carries the detection and the full report"
for h in $md5 $sha1 $sha; do
	http GET /v1/files/$h "$t2"
	[ "$code" = 200 ] && [ "$(json 'd["verdict"], d["prevalence"]')" = "malicious 1" ] &&
		pass "GET /v1/files by ${#h}-digit hash: malicious, prevalence 1" ||
		fail "GET /v1/files by ${#h}-digit hash: malicious, prevalence 1" "$code $(cat "$out")"
done
http POST /v1/lookup "$t2" --data-binary "{\"hashes\":[\"$md5\",\"$(printf %064d 0)\",\"zz\"]}"
[ "$(json '[r.get("verdict", r.get("error")) for r in d["results"]]')" = "['malicious', 'unknown', 'bad_hash']" ] &&
	pass "a batch lookup with known, unknown and malformed hashes" ||
	fail "a batch lookup with known, unknown and malformed hashes" "$(cat "$out")"
# Plain bodies are answered by a scanner, others through a JSON tree: the
# same hashes must get the same bytes back either way.
http POST /v1/lookup "$t2" --data-binary " { \"hashes\" : [ \"$md5\" , \"$sha1\",\"$sha\",\"$(printf %064d 0)\",\"zz\",\"ABC\" ] } "
cp "$out" plain.json
esc=$(printf '\\u%04x' "'$(echo "$sha" | cut -c1)")$(echo "$sha" | cut -c2-)
http POST /v1/lookup "$t2" --data-binary "{\"other\":1,\"hashes\":[\"$md5\",\"$sha1\",\"$esc\",\"$(printf %064d 0)\",\"zz\",\"ABC\"]}"
if cmp -s plain.json "$out" && [ "$(json '[r.get("verdict", r.get("error")) for r in d["results"]]')" = "['malicious', 'malicious', 'malicious', 'unknown', 'bad_hash', 'bad_hash']" ]; then
	pass "a lookup answers the same whether its body is plain or needs a JSON parser"
else
	fail "a lookup answers the same whether its body is plain or needs a JSON parser" "$(cat plain.json; echo; cat "$out")"
fi
grep -q '"path":"/home/<user>/Downloads/eicar.com"' var/vigil.db* 2>/dev/null &&
	pass "the stored path has the user's name replaced" ||
	fail "the stored path has the user's name replaced"
if grep -qa 'EICAR-STANDARD' var/samples -r; then
	fail "the sample is encrypted at rest"
else
	pass "the sample is encrypted at rest"
fi

# --- the same sample from three clients: analysed once, prevalence 3 ---------------------
http POST /v1/submissions "$t2" --data-binary @eicar.com
expect_code 202 "the same sample from a second client: 202"
http POST /v1/submissions "$t3" --data-binary @eicar.com
expect_code 202 "the same sample from a third client: 202"
http GET /v1/files/$sha "$t1"
[ "$(json 'd["prevalence"]')" = 3 ] && pass "prevalence counts the three clients" ||
	fail "prevalence counts the three clients" "$(cat "$out")"
http GET /metrics ""
grep -q '^vigil_analysis_jobs_total{outcome="done"} 1$' "$out" &&
	pass "the sample was analysed once" ||
	fail "the sample was analysed once" "$(grep analysis "$out")"

# --- objects inside a container answer too --------------------------------------------------
mkdir z && cp eicar.com z/inner.com && (cd z && zip -q ../outer.zip inner.com)
http POST /v1/submissions "$t1" --data-binary @outer.zip
zid=$(json 'd["id"]')
http GET "/v1/submissions/$zid?wait=60" "$t1"
[ "$(json 'd["verdict"]')" = malicious ] && pass "a zip holding EICAR: malicious" ||
	fail "a zip holding EICAR: malicious" "$(head -c 400 "$out")"

# --- consent and bad submissions ---------------------------------------------------------
http POST /v1/submissions "$tm" --data-binary @eicar.com
expect_code 403 "a client with consent 'metadata' cannot submit files: 403"
head -c 1100000 /dev/zero >big.bin
http POST /v1/submissions "$t1" --data-binary @big.bin
expect_code 413 "a sample over max_sample_body: 413"
http POST /v1/submissions "$t1" --data-binary @eicar.com -H 'Vigil-Metadata: {"name":'
expect_code 400 "malformed metadata: 400"
http POST /v1/submissions "$t1" --data-binary @eicar.com -H 'Vigil-Metadata: {"user":"alice"}'
expect_code 400 "an unknown metadata key: 400"
http GET /v1/submissions/00000000-0000-4000-8000-000000000000 "$t1"
expect_code 404 "an unknown submission id: 404"
http GET "/v1/submissions/$id" "$t2"
expect_code 404 "another client's submission: 404"
http GET "/v1/submissions/$id?wait=99" "$t1"
expect_code 400 "wait over 60 s: 400"
http GET /healthz ""
expect_code 200 "after the bad submissions the node still serves"

# --- the client: vigil submit ---------------------------------------------------------------
export VIGIL_HOME="$tmp/home-files"
"$VIGIL" enroll --server "$base" --consent files >/dev/null 2>&1
mkdir -p "$tmp/fakehome/Downloads"
eicar >"$tmp/fakehome/Downloads/e2.com"
printf '\n' >>"$tmp/fakehome/Downloads/e2.com"
HOME="$tmp/fakehome" "$VIGIL" submit --wait 60 "$tmp/fakehome/Downloads/e2.com" >"$out" 2>"$err"
rc=$?
expect_rc 1 "vigil submit --wait of an EICAR variant: exit 1 (found)"
grep -q "e2.com: malicious (score 100)" "$out" &&
	pass "vigil submit prints the verdict" || fail "vigil submit prints the verdict" "$(cat "$out" "$err")"
grep -q '"path":"/home/<user>/Downloads/e2.com"' var/vigil.db* 2>/dev/null &&
	pass "vigil submit replaces the home directory in the path it shares" ||
	fail "vigil submit replaces the home directory in the path it shares"
export VIGIL_HOME="$tmp/home-none"
"$VIGIL" enroll --server "$base" --consent none >/dev/null 2>&1
"$VIGIL" submit eicar.com >"$out" 2>"$err"
rc=$?
expect_rc 2 "vigil submit with consent none: exit 2"
grep -q "consent (none) does not allow" "$err" &&
	pass "vigil submit says the consent does not allow it" ||
	fail "vigil submit says the consent does not allow it" "$(cat "$err")"
unset VIGIL_HOME

# --- vigil scan --cloud: the node's verdict beside the local one ---------------------------
export VIGIL_HOME="$tmp/home-files"
mkdir -p cloudscan
cp eicar.com cloudscan/copy.com
(cd "$tmp/fakehome/Downloads" && zip -q "$tmp/cloudscan/inner.zip" e2.com)
printf 'never seen before %s\n' "$(date +%s%N)" >cloudscan/new.txt
"$VIGIL" scan --no-default-rules --cloud cloudscan >"$out" 2>"$err"
rc=$?
expect_rc 1 "vigil scan --cloud: locally clean files the node knows as malicious: exit 1"
expect_line "$out" "cloudscan/copy.com: Vigil_Test_EICAR FOUND (cloud)" \
	"scan --cloud flags a file by the node's verdict"
expect_line "$out" "cloudscan/inner.zip!e2.com: Vigil_Test_EICAR FOUND (cloud)" \
	"scan --cloud flags an object inside an archive by the node's verdict"
expect_line "$out" "Cloud: 2 files flagged" "scan --cloud counts the flagged files"
newsha=$(sha256sum cloudscan/new.txt | cut -d' ' -f1)
"$VIGIL" scan --no-default-rules --submit cloudscan >"$out" 2>"$err"
http GET /v1/files/$newsha "$t1"
expect_code 200 "scan --submit shares the file the node had never seen"
unset VIGIL_HOME

# --- kill -9 during a burst: every acknowledged submission survives ----------------------
# Four clients at once, so that the node commits them in groups; the kill
# lands while batches are being written.
: >acked.0
: >acked.1
: >acked.2
: >acked.3
i=0
while [ $i -lt 120 ]; do
	printf 'sample %d %s\n' $i "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >s$i
	i=$((i + 1))
done
bursts=''
for lane in 0 1 2 3; do
	(
		i=$lane
		while [ $i -lt 120 ]; do
			f=s$i
			c=$(curl -s -o r.$f -w '%{http_code}' -X POST -H "Authorization: Bearer $t1" \
				--data-binary @$f "$base/v1/submissions")
			[ "$c" = 202 ] && "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' r.$f >>acked.$lane
			i=$((i + 4))
		done
	) &
	bursts="$bursts $!"
done
sleep 0.5
kill -9 $pid
wait $pid 2>/dev/null
# shellcheck disable=SC2086
wait $bursts
# One file per lane: lines appended to one file by four processes at
# once can interleave.
cat acked.0 acked.1 acked.2 acked.3 >acked 2>/dev/null
segs_before=$(ls "$tmp/var/samples" | grep -c '\.seg$')
n_acked=$(wc -l <acked)
start_node || { fail "vigild restarts after kill -9" "$(tail -5 vigild.err)"; finish; }
pass "vigild restarts after kill -9 ($n_acked submissions acknowledged before it)"
missing=0
undone=0
why=
while read -r sid; do
	http GET "/v1/submissions/$sid?wait=60" "$t1"
	[ "$code" = 200 ] || { missing=$((missing + 1)); why="$why $sid:$code:$(head -c 120 "$out")"; }
	[ "$(json 'd.get("status")')" = done ] || undone=$((undone + 1))
done <acked
[ $missing = 0 ] && pass "every acknowledged submission is present after kill -9" ||
	fail "every acknowledged submission is present after kill -9" "$missing missing:$why" "$(grep -E "level=(error|warn)" vigild.err | tail -5)"
[ $undone = 0 ] && pass "every acknowledged submission is analysed after the restart" ||
	fail "every acknowledged submission is analysed after the restart" "$undone not done"
# The restarted node never appends to a segment a crash may have torn.
http POST /v1/submissions "$t1" --data-binary "after the restart $(date +%s%N)"
expect_code 202 "a submission after the restart is accepted"
segs_after=$(ls "$tmp/var/samples" | grep -c '\.seg$')
[ "$segs_after" -gt "$segs_before" ] &&
	pass "after a restart, samples go to a new segment ($segs_before, then $segs_after)" ||
	fail "after a restart, samples go to a new segment" "$segs_before, then $segs_after"
stop_node

# --- SIGHUP reloads the rules without dropping connections --------------------------------
stop_node
mkdir -p myrules
cat >myrules/base.yar <<'YAR'
rule Base_Marker { meta: severity = "high" strings: $a = "vigil-reload-marker-one" condition: $a }
YAR
cat >node.conf <<CONF
[node]
workers = 2
rules = $tmp/myrules
CONF
start_node || { fail "vigild starts with its own rules" "$(tail -5 vigild.err)"; finish; }
printf 'vigil-reload-marker-two %s\n' "$(date +%s%N)" >two.txt
http POST /v1/submissions "$t1" --data-binary @two.txt
sid=$(json 'd["id"]')
http GET "/v1/submissions/$sid?wait=60" "$t1"
[ "$(json 'd["verdict"]')" = clean ] && pass "before the reload, the new marker is not known" ||
	fail "before the reload, the new marker is not known" "$(head -c 300 "$out")"
cat >myrules/more.yar <<'YAR'
rule Second_Marker { meta: severity = "critical" strings: $a = "vigil-reload-marker-two" condition: $a }
YAR
"$PYTHON" - "$base" >"$tmp/held.out" 2>&1 <<'PY' &
import http.client, sys, time
host, port = sys.argv[1][len("http://"):].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port))
ok = 0
for _ in range(10):
    c.request("GET", "/healthz")
    ok += c.getresponse().read() != b"" and 1
    time.sleep(0.2)
print(ok)
PY
held=$!
sleep 0.5
kill -HUP $pid
wait $held
[ "$(cat "$tmp/held.out")" = 10 ] && pass "a keep-alive connection is served across SIGHUP" ||
	fail "a keep-alive connection is served across SIGHUP" "$(cat "$tmp/held.out")"
printf 'vigil-reload-marker-two again %s\n' "$(date +%s%N)" >two-b.txt
http POST /v1/submissions "$t1" --data-binary @two-b.txt
sid=$(json 'd["id"]')
http GET "/v1/submissions/$sid?wait=60" "$t1"
[ "$(json 'd["verdict"], d["detections"]')" = "malicious ['Second_Marker']" ] &&
	pass "after SIGHUP the workers analyse with the new rules" ||
	fail "after SIGHUP the workers analyse with the new rules" "$(head -c 300 "$out")"
grep -q 'event=reload' vigild.err && pass "the reload is logged" || fail "the reload is logged"
stop_node

# --- a worker that crashes or hangs is replaced; its job fails after retries ---------------
# Three event loops on two cores: long-polls land on loops other than
# the one that takes the analyses' results, which must pass them on.
cat >node.conf <<'CONF'
[node]
workers = 2
loops = 3
[limits]
max_scan_ms = 1000
CONF
cat >worker-wrapper <<WRAP
#!/bin/sh
exec "$VIGIL_WORKER" --self-test-crash --self-test-hang "\$@"
WRAP
chmod +x worker-wrapper
start_node "VIGIL_WORKER=$tmp/worker-wrapper" ||
	{ fail "vigild starts with the self-test worker" "$(tail -5 vigild.err)"; finish; }
printf 'VIGIL-SELF-TEST-CRASH %s\n' "$(date +%s%N)" >crash.bin
printf 'VIGIL-SELF-TEST-HANG %s\n' "$(date +%s%N)" >hang.bin
printf 'an ordinary sample %s\n' "$(date +%s%N)" >fine.bin
for f in crash hang fine; do
	http POST /v1/submissions "$t1" --data-binary @$f.bin
	eval "id_$f=\$(json 'd[\"id\"]')"
done
http GET "/v1/submissions/$id_fine?wait=60" "$t1"
[ "$(json 'd["status"], d["verdict"]')" = "done clean" ] &&
	pass "other jobs complete while workers crash and hang" ||
	fail "other jobs complete while workers crash and hang" "$(head -c 300 "$out")"
http GET "/v1/submissions/$id_crash?wait=60" "$t1"
[ "$(json 'd["status"], d["verdict"], d["attempts"], d["detections"]')" = "failed suspicious 3 ['Analysis.Failed']" ] &&
	pass "a sample whose worker crashes: failed after 3 attempts, verdict suspicious" ||
	fail "a sample whose worker crashes: failed after 3 attempts, verdict suspicious" "$(head -c 400 "$out")"
# A hang is the node's time limit: stopped once, never retried.
http GET "/v1/submissions/$id_hang?wait=60" "$t1"
[ "$(json 'd["status"], d["verdict"], d["attempts"], d["detections"]')" = "failed suspicious 1 ['Limits.Exceeded.Time']" ] &&
	pass "a sample whose worker hangs: stopped after 1 attempt, verdict suspicious (Limits.Exceeded.Time)" ||
	fail "a sample whose worker hangs: stopped after 1 attempt, verdict suspicious (Limits.Exceeded.Time)" "$(head -c 400 "$out")"
http GET /metrics ""
n=$(sed -n 's/^vigil_worker_restarts_total //p' "$out")
[ "${n:-0}" -ge 4 ] && pass "the crashed and hung workers were replaced ($n restarts)" ||
	fail "the crashed and hung workers were replaced" "restarts: ${n:-none}"
http GET /healthz ""
expect_code 200 "the node never goes down with a worker"
# SIGTERM while a client long-polls a job that is still running: the
# client gets its answer at once, and the node exits 0.
printf 'VIGIL-SELF-TEST-HANG %s\n' "$(date +%s%N)" >hang2.bin
http POST /v1/submissions "$t1" --data-binary @hang2.bin
hid=$(json 'd["id"]')
curl -s -o "$tmp/poll.out" -w '%{http_code}' -H "Authorization: Bearer $t1" \
	"$base/v1/submissions/$hid?wait=60" >"$tmp/poll.code" &
poller=$!
sleep 0.5
kill -TERM $pid
wait $poller
wait $pid
st=$?
[ "$(cat "$tmp/poll.code")" = 200 ] && [ "$st" = 0 ] &&
	pass "SIGTERM answers pending long-polls and exits 0" ||
	fail "SIGTERM answers pending long-polls and exits 0" "poll $(cat "$tmp/poll.code"), status $st"

# --- analyses yield to a burst of submissions, and still finish them --------------
# With the threshold at 1 submission/s every burst counts: the slots wait
# between jobs while it lasts (vigil_analysis_deferred_total), yet every
# sample is analysed.
printf '[node]\nworkers = 2\nanalysis_yield_rate = 1\n' >node.conf
rm -rf "$tmp/var"
start_node || { fail "vigild starts with analysis_yield_rate" "$(cat vigild.err)"; finish; }
t3=$(enroll files)
senders=
for c in 1 2 3 4; do
	(
		for i in $(seq 1 15); do
			printf 'yield test sample %s %s %s\n' "$c" "$i" "$(date +%s%N)" |
				curl -s -o /dev/null -H "Authorization: Bearer $t3" \
					--data-binary @- "$base/v1/submissions"
		done
	) &
	senders="$senders $!"
done
# shellcheck disable=SC2086
wait $senders
i=0
while [ $i -lt 120 ]; do
	http GET /metrics ""
	[ "$(sed -n 's/^vigil_analysis_jobs_total{outcome="done"} //p' "$out")" = 60 ] && break
	sleep 0.5
	i=$((i + 1))
done
done_n=$(sed -n 's/^vigil_analysis_jobs_total{outcome="done"} //p' "$out")
deferred=$(sed -n 's/^vigil_analysis_deferred_total //p' "$out")
[ "$done_n" = 60 ] && [ "${deferred:-0}" -gt 0 ] &&
	pass "analyses yield to a burst of submissions ($deferred waits) and all 60 finish" ||
	fail "analyses yield to a burst of submissions and all 60 finish" "done ${done_n:-?}, deferred ${deferred:-?}"
stop_node

finish
