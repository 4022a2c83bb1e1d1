#!/bin/sh
# test-node-rules.sh - broken rule files on the real vigild with its real
# workers: a file that does not compile is quarantined (logged, counted in
# /metrics, named by /healthz) and every other rule keeps working; on
# SIGHUP a newly broken file keeps its last good version and a fixed one
# comes back; a rule that makes analysis hang is found by halving the
# rule files and quarantined after the node stopped the sample at its
# time limit, and the sample is then analysed again to a real verdict; a
# sample that crashes the worker without any rule blames none.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

mkdir rules
eicar_rule rules/eicar.yar
write_rule rules/bravo.yar Test_Bravo "VIGIL-QT-BRAVO"
printf 'rule Broken_One {\n  condition:\n    true and and\n}\n' >rules/broken.yar

# A short time limit: a worker that has not answered in 2 x 300 ms is
# killed as hung, well before YARA's own timeout (whole seconds).
cat >node.conf <<CONF
[node]
workers = 1
rules = $tmp/rules
[limits]
max_scan_ms = 300
max_sample_body = 4194304
CONF

http() { # METHOD PATH TOKEN [CURL ARGS...]: status in $code, body in $out
	m=$1 p=$2 t=$3
	shift 3
	code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" \
		${t:+-H "Authorization: Bearer $t"} "$@" "$base$p")
}

json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$out"; }

enroll() {
	curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# submit FILE: submits FILE and waits for its analysis; the final
# submission record in $out.
submit() {
	http POST /v1/submissions "$tok" --data-binary @"$1" \
		-H 'Vigil-Metadata: {"name":"sample.bin"}'
	[ "$code" = 202 ] || return 1
	sid=$(json 'd["id"]')
	http GET "/v1/submissions/$sid?wait=60" "$tok"
}

# check WHAT PYTHON-EXPR: the expression over $out's JSON (d) is true.
check() {
	if "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$out" 2>/dev/null; then
		pass "$1"
	else
		fail "$1" "false: $2" "$(head -c 800 "$out")"
	fi
}

quarantined_metric() {
	curl -s "$base/metrics" | sed -n 's/^vigil_rules_quarantined \([0-9]*\)$/\1/p'
}

# wait_healthz PYTHON-EXPR: polls /healthz (for up to 60 s) until true.
wait_healthz() {
	_i=0
	while [ $_i -lt 600 ]; do
		http GET /healthz ""
		"$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$out" 2>/dev/null && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# --- start: one broken file among good ones ---------------------------------------------------
node_start vigild -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild starts with a broken rule file" "$(tail -5 vigild.err)"; finish; }
pid=$node_pid
base=$node_base
pass "vigild starts with a broken rule file"
if grep -q 'event=rule_quarantined file=broken.yar reason="line 3: syntax error' vigild.err; then
	pass "the broken file is logged: event=rule_quarantined, its name and the compiler's reason"
else
	fail "the broken file is logged: event=rule_quarantined, its name and the compiler's reason" \
		"$(grep -i rule vigild.err | head -5)"
fi
[ "$(quarantined_metric)" = 1 ] && pass "/metrics: vigil_rules_quarantined 1" ||
	fail "/metrics: vigil_rules_quarantined 1" "$(curl -s "$base/metrics" | grep -i rules)"
curl -s "$base/metrics" | grep -qx '# TYPE vigil_rules_quarantined gauge' &&
	pass "/metrics: vigil_rules_quarantined is a gauge" ||
	fail "/metrics: vigil_rules_quarantined is a gauge"
http GET /healthz ""
[ "$code" = 200 ] && pass "/healthz: still 200 when degraded" || fail "/healthz: still 200 when degraded" "HTTP $code"
check "/healthz: degraded, naming broken.yar with the compiler's reason and no last good version" \
	'd["status"] == "degraded" and d["region"] and d["site"] and "samples" in d and [(q["file"], q["cause"], q["last_good"]) for q in d["rules_quarantined"]] == [("broken.yar", "compile", False)] and "syntax error" in d["rules_quarantined"][0]["reason"]'
[ "$(stat -c %a var/rules-active)" = 700 ] &&
	[ "$(stat -c %a var/rules-active/eicar.yar)" = 600 ] &&
	[ ! -e var/rules-active/broken.yar ] &&
	pass "the workers' active rules: mode 0700, files 0600, the broken file left out" ||
	fail "the workers' active rules: mode 0700, files 0600, the broken file left out" \
		"$(ls -la var/rules-active 2>&1)"

tok=$(enroll)
eicar >eicar.com
submit eicar.com || fail "EICAR submitted" "HTTP $code"
check "EICAR is still analysed malicious by the good rules" \
	'd["status"] == "done" and d["verdict"] == "malicious" and "Test_EICAR" in d["detections"]'
printf 'bravo VIGIL-QT-BRAVO %s\n' "$(date +%s%N)" >bravo1.bin
submit bravo1.bin
check "a sample for the other good file is detected" \
	'd["status"] == "done" and "Test_Bravo" in d["detections"]'

# --- SIGHUP: the broken file is fixed, a good one is broken ------------------------------------
rm rules/broken.yar
write_rule rules/broken.yar Test_Charlie "VIGIL-QT-CHARLIE"
printf 'rule Test_Bravo {\n  strings:\n    $a = "VIGIL-QT-BRAVO\n  condition: $a\n}\n' >rules/bravo.yar
kill -HUP $pid
if wait_healthz '[q["file"] for q in d["rules_quarantined"]] == ["bravo.yar"]'; then
	pass "SIGHUP: the newly broken file is quarantined, the fixed one is not"
else
	fail "SIGHUP: the newly broken file is quarantined, the fixed one is not" "$(head -c 600 "$out")"
fi
check "SIGHUP: /healthz says bravo.yar keeps its last good version" \
	'd["status"] == "degraded" and d["rules_quarantined"][0]["last_good"] is True'
[ "$(quarantined_metric)" = 1 ] && pass "SIGHUP: vigil_rules_quarantined 1" ||
	fail "SIGHUP: vigil_rules_quarantined 1" "$(quarantined_metric)"
grep -q 'event=rule_quarantined file=bravo.yar .*last_good=kept' vigild.err &&
	pass "SIGHUP: the log says the last good version is kept" ||
	fail "SIGHUP: the log says the last good version is kept" "$(grep rule_quarantined vigild.err)"
printf 'bravo VIGIL-QT-BRAVO %s\n' "$(date +%s%N)" >bravo2.bin
submit bravo2.bin
check "SIGHUP: a sample only the broken file's last good version matches is still detected" \
	'd["status"] == "done" and d["verdict"] == "malicious" and "Test_Bravo" in d["detections"]'
printf 'charlie VIGIL-QT-CHARLIE %s\n' "$(date +%s%N)" >charlie.bin
submit charlie.bin
check "SIGHUP: the fixed file's rule is back" \
	'd["status"] == "done" and "Test_Charlie" in d["detections"]'

# --- a rule that hangs analysis ----------------------------------------------------------------
# Only samples with the marker enter the loop: about 10^8 steps.
cat >rules/slow.yar <<'RULE'
rule Test_Slow
{
    strings:
        $m = "VIGIL-QT-SLOW"
    condition:
        $m and for all i in (0..filesize) : (
            for all k in (0..100) : (uint8(i) != 0x1ff)
        )
}
RULE
kill -HUP $pid
wait_healthz '[q["file"] for q in d["rules_quarantined"]] == ["bravo.yar"]' &&
	[ -e var/rules-active/slow.yar ] &&
	pass "SIGHUP: the slow rule compiles and is active" ||
	fail "SIGHUP: the slow rule compiles and is active" "$(ls var/rules-active)"
{
	printf 'VIGIL-QT-SLOW VIGIL-QT-CHARLIE %s\n' "$(date +%s%N)"
	head -c 1048576 /dev/zero
} >slow.bin
submit slow.bin
check "the hanging sample is stopped once at the time limit, never clean" \
	'd["status"] == "failed" and d["attempts"] == 1 and d["verdict"] == "suspicious" and "Limits.Exceeded.Time" in d["detections"]'
slowsha=$(sha256sum slow.bin | cut -d' ' -f1)
# The search runs after the verdict; the quarantine changes the active
# rules, so the sample is analysed again with the rules that remain.
wait_healthz '"slow.yar" in [q["file"] for q in d["rules_quarantined"]]' ||
	fail "the search by halves quarantines slow.yar" "$(head -c 600 "$out")"
_i=0
while [ $_i -lt 600 ]; do
	http GET "/v1/files/$slowsha" "$tok"
	"$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['verdict'] == 'malicious' else 1)" "$out" 2>/dev/null && break
	sleep 0.1
	_i=$((_i + 1))
done
check "the hanging sample gets a real verdict after the rule is quarantined" \
	'd["verdict"] == "malicious" and "Test_Charlie" in d["detections"] and "Analysis.Failed" not in d["detections"] and "Limits.Exceeded.Time" not in d["detections"]'
grep -q 'event=rule_bisect .*file=slow.yar' vigild.err &&
	pass "the search by halves names slow.yar" ||
	fail "the search by halves names slow.yar" "$(grep -E 'rule_bisect|job_failed' vigild.err | tail -5)"
http GET /healthz ""
check "/healthz: slow.yar quarantined for analysis, bravo.yar still for compile" \
	'sorted((q["file"], q["cause"]) for q in d["rules_quarantined"]) == [("bravo.yar", "compile"), ("slow.yar", "analysis")]'
check "/healthz (public) does not name the sample that hung" \
	"'$slowsha' not in json.dumps(d)"
grep -q "event=rule_bisect .*sha256=$slowsha" vigild.err &&
	pass "the log names the sample the search ran on" ||
	fail "the log names the sample the search ran on"
[ "$(quarantined_metric)" = 2 ] && pass "vigil_rules_quarantined 2" ||
	fail "vigil_rules_quarantined 2" "$(quarantined_metric)"
[ ! -e var/rules-active/slow.yar ] && pass "slow.yar is out of the active rules" ||
	fail "slow.yar is out of the active rules"

# Unchanged, it stays out across a reload; changed, it is tried again.
kill -HUP $pid
sleep 1
wait_healthz 'sorted(q["file"] for q in d["rules_quarantined"]) == ["bravo.yar", "slow.yar"]' &&
	pass "SIGHUP: the unchanged slow.yar stays quarantined" ||
	fail "SIGHUP: the unchanged slow.yar stays quarantined" "$(head -c 600 "$out")"
write_rule rules/slow.yar Test_Fast "VIGIL-QT-FAST"
printf 'rule Test_Bravo {\n  strings:\n    $a = "VIGIL-QT-BRAVO"\n  condition: $a\n}\n' >rules/bravo.yar
kill -HUP $pid
wait_healthz 'd["status"] == "ok" and d["rules_quarantined"] == []' &&
	pass "SIGHUP: every file fixed: /healthz ok, nothing quarantined" ||
	fail "SIGHUP: every file fixed: /healthz ok, nothing quarantined" "$(head -c 600 "$out")"
[ "$(quarantined_metric)" = 0 ] && pass "vigil_rules_quarantined 0" ||
	fail "vigil_rules_quarantined 0" "$(quarantined_metric)"

kill -TERM $pid
wait $pid

# --- a sample that crashes the worker whatever the rules: no rule is blamed ---------------------
cat >worker-wrapper <<WRAP
#!/bin/sh
exec "$VIGIL_WORKER" --self-test-crash "\$@"
WRAP
chmod +x worker-wrapper
# A data directory of its own: the samples stored above, analysed again
# because the rule files changed, would take the one worker (and, under a
# sanitizer at max_scan_ms = 300, could pass the time limit themselves).
node_start vigild2 "VIGIL_WORKER=$tmp/worker-wrapper" -- -c node.conf --data "$tmp/var2" ||
	{ fail "vigild restarts with the self-test worker" "$(tail -5 vigild2.err)"; finish; }
pid=$node_pid
base=$node_base
tok=$(enroll)
printf 'VIGIL-SELF-TEST-CRASH %s\n' "$(date +%s%N)" >crash.bin
submit crash.bin
check "a sample that crashes the worker with no rules at all fails as before" \
	'd["status"] == "failed" and d["detections"] == ["Analysis.Failed"]'
grep -q 'event=rule_bisect .*runs=1 file=none' vigild2.err &&
	pass "the search stops after its run without rules and blames no file" ||
	fail "the search stops after its run without rules and blames no file" \
		"$(grep rule_bisect vigild2.err)"
http GET /healthz ""
check "/healthz: still ok, nothing quarantined" \
	'd["status"] == "ok" and d["rules_quarantined"] == []'
kill -TERM $pid
wait $pid
finish
