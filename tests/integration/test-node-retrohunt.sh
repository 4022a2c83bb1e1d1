#!/bin/sh
# test-node-retrohunt.sh - verdicts that follow the rules, on the real
# vigild with its real sandboxed workers: a sample stored as clean turns
# malicious on /v1/files and /v1/lookup once a rule that matches it is
# added and the node reloads (SIGHUP), with an archive and the file known
# only from inside it; /metrics counts it; a restart with the same rules
# queues nothing again, one with changed rules re-analyses everything,
# and a node killed mid-way resumes from the store. An ad-hoc retro-hunt
# (`vigil admin retrohunt`) prints exactly the stored samples its rule
# matches, one matched only inside an archive, after its retrohunt entry
# (who, reason, the rule's SHA-256) is in the log; a rule that does not
# compile or includes a file, a missing or wrong token, a missing reason
# and an oversized rule are refused; hunt workers that crash or hang are
# replaced and the hunt goes on.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL:?VIGIL must be the path of the vigil binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

mkdir rules
eicar_rule rules/eicar.yar
log_node_conf
sed -i "s|^workers = 1\$|workers = 2\nrules = $tmp/rules|" node.conf

stop_node() {
	kill -TERM $pid 2>/dev/null
	wait $pid
}

tok=var/operator.token

# http METHOD PATH TOKEN [CURL ARGS...]: status in $code, body in $out.
http() {
	m=$1 p=$2 t=$3
	shift 3
	code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" \
		${t:+-H "Authorization: Bearer $t"} "$@" "$base$p")
}

expect_code() { # CODE WHAT
	[ "$code" = "$1" ] && pass "$2" || fail "$2" "HTTP $code: $(head -c 300 "$out")"
}

json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$out"; }

# metric NAME: its value on /metrics.
metric() { curl -s "$base/metrics" | sed -n "s/^$1 //p"; }

# verdict_of SHA TOKEN: the verdict /v1/files answers.
verdict_of() {
	http GET "/v1/files/$1" "$2"
	[ "$code" = 200 ] && json 'd["verdict"]'
}

# wait_verdict SHA TOKEN VERDICT: up to 60 s.
wait_verdict() {
	_i=0
	while [ $_i -lt 600 ]; do
		[ "$(verdict_of "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

submit() { # FILE TOKEN
	http POST /v1/submissions "$2" --data-binary "@$1"
	[ "$code" = 202 ]
}

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
key=$(curl -s "$base/log/key")
client=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# --- samples ----------------------------------------------------------------------------
{
	printf 'RETRO-MARKER-4c1e a document that new rules will call bad\n'
	head -c 20000 /dev/urandom
} >late.bin
{
	printf 'an ordinary document\n'
	head -c 20000 /dev/urandom
} >plain.bin
{
	printf 'HUNT-NEEDLE-9d2b first file\n'
	head -c 5000 /dev/urandom
} >needle1.bin
mkdir arc
{
	printf 'HUNT-NEEDLE-9d2b inside an archive only\n'
	head -c 5000 /dev/urandom
} >arc/inner.txt
(cd arc && zip -q ../needle-in.zip inner.txt)
mkdir arc2
{
	printf 'RETRO-MARKER-4c1e also inside an archive\n'
	head -c 5000 /dev/urandom
} >arc2/late-inner.txt
(cd arc2 && zip -q ../late.zip late-inner.txt)
lz=$(sha256sum late.zip | cut -d' ' -f1)
li=$(sha256sum arc2/late-inner.txt | cut -d' ' -f1)
late=$(sha256sum late.bin | cut -d' ' -f1)
plain=$(sha256sum plain.bin | cut -d' ' -f1)
n1=$(sha256sum needle1.bin | cut -d' ' -f1)
nz=$(sha256sum needle-in.zip | cut -d' ' -f1)
ok=1
for f in late.bin plain.bin needle1.bin needle-in.zip late.zip; do
	submit $f "$client" || ok=0
done
[ $ok = 1 ] && pass "five samples are submitted" || fail "five samples are submitted" "$code $(cat "$out")"
ok=1
for s in $late $plain $n1 $nz $lz $li; do
	wait_verdict $s "$client" clean || ok=0
done
[ $ok = 1 ] && pass "all five, and the file inside late.zip, are clean under the node's rules" ||
	fail "all five, and the file inside late.zip, are clean under the node's rules" "$(cat "$out")"
[ "$(metric vigil_reanalysed_total)" = 0 ] &&
	pass "nothing is re-analysed while the rules stay the same" ||
	fail "nothing is re-analysed while the rules stay the same" "$(metric vigil_reanalysed_total)"

# --- the rules change: SIGHUP ------------------------------------------------------------
write_rule rules/late.yar Test_Late_Marker "RETRO-MARKER-4c1e"
kill -HUP $pid
if wait_verdict $late "$client" malicious; then
	pass "after SIGHUP with a new rule the stored sample is malicious on /v1/files"
else
	fail "after SIGHUP with a new rule the stored sample is malicious on /v1/files" "$(cat "$out")"
fi
json 'd["detections"]' | grep -q Test_Late_Marker &&
	pass "its detections name the new rule" || fail "its detections name the new rule" "$(cat "$out")"
http POST /v1/lookup "$client" --data-binary "{\"hashes\":[\"$late\",\"$plain\"]}"
[ "$code" = 200 ] && json "[r['verdict'] for r in d['results']] if 'results' in d else d" >lk.txt
grep -q "'malicious', 'clean'" lk.txt &&
	pass "/v1/lookup answers the new verdict (and the old one for the other sample)" ||
	fail "/v1/lookup answers the new verdict (and the old one for the other sample)" "$code $(cat "$out")"
# Every stored sample is re-analysed: five.
_i=0
while [ $_i -lt 300 ] && [ "$(metric vigil_reanalysed_total)" != 5 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
[ "$(metric vigil_reanalysed_total)" = 5 ] &&
	pass "/metrics counts the five stored samples re-analysed" ||
	fail "/metrics counts the five stored samples re-analysed" "$(curl -s "$base/metrics" | grep -i reanaly)"
[ "$(verdict_of $lz "$client")" = malicious ] && [ "$(verdict_of $li "$client")" = malicious ] &&
	pass "an archive and the file inside it, known only from it, turn malicious too" ||
	fail "an archive and the file inside it, known only from it, turn malicious too" "$(cat "$out")"
[ "$(metric vigil_verdicts_changed_total)" = 2 ] &&
	pass "/metrics counts two changed verdicts" ||
	fail "/metrics counts two changed verdicts" "$(metric vigil_verdicts_changed_total)"
[ "$(metric vigil_reanalysis_queue_depth)" = 0 ] &&
	pass "the re-analysis queue is empty afterwards" ||
	fail "the re-analysis queue is empty afterwards" "$(metric vigil_reanalysis_queue_depth)"

# --- a restart with the same rules ---------------------------------------------------------
stop_node
start_node || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
sleep 1
grep 'event=rules_generation' vigild.err | tail -1 | grep -q 'queued=0' &&
	pass "a restart with the same rules queues no re-analysis" ||
	fail "a restart with the same rules queues no re-analysis" "$(grep rules_generation vigild.err)"
[ "$(metric vigil_reanalysed_total)" = 0 ] && [ "$(verdict_of $late "$client")" = malicious ] &&
	pass "after the restart nothing is re-analysed and the verdict stays" ||
	fail "after the restart nothing is re-analysed and the verdict stays" "$(metric vigil_reanalysed_total)"

# --- a restart with changed rules -------------------------------------------------------------
stop_node
write_rule rules/late.yar Test_Late_Other "NOT-IN-ANY-SAMPLE-0e7f"
start_node || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
_i=0
while [ $_i -lt 300 ] && [ "$(metric vigil_reanalysed_total)" != 5 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
grep 'event=rules_generation' vigild.err | tail -1 | grep -q 'queued=5' &&
	[ "$(metric vigil_reanalysed_total)" = 5 ] &&
	pass "a restart with changed rules re-analyses the five stored samples" ||
	fail "a restart with changed rules re-analyses the five stored samples" \
		"$(grep rules_generation vigild.err | tail -1)" "$(metric vigil_reanalysed_total)"

# --- an ad-hoc retro-hunt ------------------------------------------------------------------
cat >hunt.yar <<'EOF'
rule Hunt_Needle
{
    strings:
        $n = "HUNT-NEEDLE-9d2b"
    condition:
        $n
}
EOF
rule_sha=$(sha256sum hunt.yar | cut -d' ' -f1)
n0=$(curl -s "$base/log/checkpoint" | sed -n 2p)
"$VIGIL" admin --server "$base" --token-file $tok retrohunt hunt.yar \
	--reason "Case 4712: which stored samples carry the needle?" >hunt.out 2>hunt.err
rc=$?
printf '%s\n%s\n' "$n1" "$nz" | sort >want.txt
sort hunt.out >got.txt
[ $rc = 0 ] && cmp -s want.txt got.txt &&
	pass "vigil admin retrohunt prints exactly the two matching samples, one matched inside a zip" ||
	fail "vigil admin retrohunt prints exactly the two matching samples, one matched inside a zip" \
		"rc $rc" "$(cat hunt.out hunt.err)"
grep -q "retro-hunt [0-9a-f]* of rule $rule_sha logged as entry $n0 " hunt.err &&
	grep -q ': 5 samples, 2 matched, 0 failed' hunt.err &&
	pass "it tells the log entry and a summary on stderr" ||
	fail "it tells the log entry and a summary on stderr" "$(cat hunt.err)"
"$VIGIL" log get "$base/log" "$n0" --key "$key" --json >e.json 2>"$err"
jcheck e.json "r['type'] == 'retrohunt' and r['rule'] == '$rule_sha' and
	r['who'] == 'operator:root' and r['role'] == 'analyst' and
	r['reason'] == 'Case 4712: which stored samples carry the needle?' and
	r['body'] == ''" \
	"the log holds a retrohunt entry: the rule's SHA-256, who, role and reason"
"$VIGIL" log get "$base/log" "$n0" --key "$key" >get.txt 2>"$err"
grep -Eq "type +retrohunt" get.txt && grep -Eq "rule +$rule_sha" get.txt &&
	grep -Eq "who +operator:root" get.txt &&
	pass "vigil log get prints the retrohunt entry" ||
	fail "vigil log get prints the retrohunt entry" "$(cat get.txt "$err")"
timeout 60 "$VIGIL" log tail "$base/log" --key "$key" --from "$n0" --count 1 >tail.txt 2>"$err"
grep -Eq "type +retrohunt" tail.txt && grep -Eq "reason +Case 4712" tail.txt &&
	pass "vigil log tail prints the retrohunt entry" ||
	fail "vigil log tail prints the retrohunt entry" "$(cat tail.txt "$err")"
# The entry was durable before any worker had the rule or any sample.
l_logged=$(grep -n 'event=retrohunt_logged' vigild.err | tail -1 | cut -d: -f1)
l_rule=$(grep -n 'event=worker_hunt_rule' vigild.err | head -1 | cut -d: -f1)
l_start=$(grep -n 'event=retrohunt_started' vigild.err | tail -1 | cut -d: -f1)
[ -n "$l_logged" ] && [ -n "$l_rule" ] && [ -n "$l_start" ] &&
	[ "$l_logged" -lt "$l_rule" ] && [ "$l_rule" -lt "$l_start" ] &&
	pass "the entry is durable before a worker gets the rule or a sample" ||
	fail "the entry is durable before a worker gets the rule or a sample" "$l_logged $l_rule $l_start"
[ "$(metric vigil_retrohunt_samples_total)" = 5 ] &&
	pass "/metrics counts the five samples hunted through" ||
	fail "/metrics counts the five samples hunted through" "$(metric vigil_retrohunt_samples_total)"

# --- refusals -------------------------------------------------------------------------------
printf 'rule Broken { strings: $a = "x" condition: $b }\n' >broken.yar
"$VIGIL" admin --server "$base" --token-file $tok retrohunt broken.yar \
	--reason "a typo" >b.out 2>b.err
rc=$?
[ $rc = 1 ] && [ ! -s b.out ] && grep -q 'does not compile: (rules):1: undefined string "\$b"' b.err &&
	pass "a rule that does not compile fails with the compiler's message" ||
	fail "a rule that does not compile fails with the compiler's message" "rc $rc" "$(cat b.out b.err)"
printf 'include "/etc/passwd"\nrule I { condition: true }\n' >incl.yar
"$VIGIL" admin --server "$base" --token-file $tok retrohunt incl.yar \
	--reason "an include" >b.out 2>b.err
rc=$?
[ $rc = 1 ] && grep -q 'includes are disabled' b.err &&
	pass "a rule that includes a file is refused by the worker's compiler" ||
	fail "a rule that includes a file is refused by the worker's compiler" "rc $rc" "$(cat b.out b.err)"
"$VIGIL" admin --server "$base" --token-file $tok retrohunt hunt.yar --reason "a name" \
	--who alice >b.out 2>b.err
[ $? = 2 ] && grep -q 'name the operator whose token authenticated the request' b.err &&
	pass "vigil admin retrohunt refuses --who: the entry names the authenticated operator" ||
	fail "vigil admin retrohunt refuses --who: the entry names the authenticated operator" "$(cat b.err)"
n1s=$(curl -s "$base/log/checkpoint" | sed -n 2p)
http POST /v1/admin/retrohunt "" -H "X-Vigil-Reason: r" --data-binary @hunt.yar
expect_code 401 "no operator token: 401"
http POST /v1/admin/retrohunt "not-the-token" -H "X-Vigil-Reason: r" --data-binary @hunt.yar
expect_code 401 "a wrong operator token: 401"
http POST /v1/admin/retrohunt "$(cat $tok)" --data-binary @hunt.yar
expect_code 400 "no reason: 400"
head -c 300000 /dev/zero | tr '\0' 'a' >big.yar
http POST /v1/admin/retrohunt "$(cat $tok)" -H "X-Vigil-Reason: r" --data-binary @big.yar
expect_code 413 "a rule over 256 KiB: 413"
http GET /v1/admin/retrohunt "$(cat $tok)"
expect_code 405 "GET on the hunts' collection: 405"
http GET /v1/admin/retrohunt/0123456789abcdef0123456789abcdef "$(cat $tok)"
expect_code 404 "an unknown hunt: 404"
[ "$(curl -s "$base/log/checkpoint" | sed -n 2p)" = "$n1s" ] &&
	pass "the refusals log nothing" ||
	fail "the refusals log nothing" "$n1s, then $(curl -s "$base/log/checkpoint" | sed -n 2p)"

# --- a hunt worker that crashes or hangs is replaced; the hunt goes on ---------------------
stop_node
sed -i 's/^\[limits\]$//' node.conf
printf '[limits]\nmax_scan_ms = 1000\n' >>node.conf
cat >worker-wrapper <<WRAP
#!/bin/sh
exec "$VIGIL_WORKER" --self-test-crash --self-test-hang "\$@"
WRAP
chmod +x worker-wrapper
node_start vigild "VIGIL_WORKER=$tmp/worker-wrapper" -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild starts with the self-test worker" "$(tail -5 vigild.err)"; finish; }
pid=$node_pid
base=$node_base
printf 'VIGIL-SELF-TEST-CRASH %s\n' "$(date +%s%N)" >crash.bin
printf 'VIGIL-SELF-TEST-HANG %s\n' "$(date +%s%N)" >hang.bin
submit crash.bin "$client" && submit hang.bin "$client"
ok=1
for f in crash hang; do
	wait_verdict "$(sha256sum $f.bin | cut -d' ' -f1)" "$client" suspicious || ok=0
done
[ $ok = 1 ] && pass "the crashing and hanging samples are stored (their analyses failed)" ||
	fail "the crashing and hanging samples are stored (their analyses failed)" "$(cat "$out")"
"$VIGIL" admin --server "$base" --token-file $tok retrohunt hunt.yar \
	--reason "Case 4713: again, with hostile samples" >hunt.out 2>hunt.err
rc=$?
sort hunt.out >got.txt
[ $rc = 1 ] && cmp -s want.txt got.txt && grep -q ': 7 samples, 2 matched, 2 failed' hunt.err &&
	pass "a hunt whose workers crash and hang on two samples still finds the two matches, and says 2 failed" ||
	fail "a hunt whose workers crash and hang on two samples still finds the two matches, and says 2 failed" \
		"rc $rc" "$(cat hunt.out hunt.err)"
[ "$(grep -c 'event=retrohunt_worker_lost' vigild.err)" -ge 2 ] &&
	pass "the lost hunt workers are logged and replaced" ||
	fail "the lost hunt workers are logged and replaced" "$(grep -c retrohunt_worker_lost vigild.err)"

# --- a node killed mid-way through a re-analysis resumes it --------------------------------
write_rule rules/late.yar Test_Late_Third "NOT-IN-ANY-SAMPLE-5a1d"
kill -HUP $pid
_i=0
while [ $_i -lt 100 ] && ! grep 'event=rules_generation' vigild.err | tail -1 | grep -q 'queued=7'; do
	sleep 0.05
	_i=$((_i + 1))
done
kill -KILL $pid
wait $pid 2>/dev/null
node_start vigild "VIGIL_WORKER=$tmp/worker-wrapper" -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild restarts after kill -9" "$(tail -5 vigild.err)"; finish; }
pid=$node_pid
base=$node_base
_i=0
while [ $_i -lt 600 ] && { [ "$(metric vigil_reanalysis_queue_depth)" != 0 ] ||
	[ "$(metric vigil_analysis_busy)" != 0 ]; }; do
	sleep 0.1
	_i=$((_i + 1))
done
grep 'event=rules_generation' vigild.err | tail -1 | grep -q 'queued=0' &&
	[ "$(metric vigil_reanalysed_total)" = 5 ] &&
	pass "killed mid-way, the node resumes the re-analysis from the store (5 done after the restart, nothing queued again)" ||
	fail "killed mid-way, the node resumes the re-analysis from the store (5 done after the restart, nothing queued again)" \
		"$(grep rules_generation vigild.err | tail -2)" "reanalysed $(metric vigil_reanalysed_total)"

stop_node
finish
