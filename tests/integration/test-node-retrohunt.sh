#!/bin/sh
# test-node-retrohunt.sh - verdicts that follow the rules, on the real
# vigild with its real sandboxed workers: a sample stored as clean turns
# malicious on /v1/files and /v1/lookup once a rule that matches it is
# added and the node reloads (SIGHUP), /metrics counts it, and a restart
# with the same rules queues nothing again; an ad-hoc retro-hunt (`vigil
# admin retrohunt`) prints exactly the stored samples its rule matches,
# one matched only inside an archive, after its retrohunt entry (who,
# reason, the rule's SHA-256) is in the log; a rule that does not compile,
# a missing or wrong token and an oversized rule are refused.
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
t=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
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
late=$(sha256sum late.bin | cut -d' ' -f1)
plain=$(sha256sum plain.bin | cut -d' ' -f1)
n1=$(sha256sum needle1.bin | cut -d' ' -f1)
nz=$(sha256sum needle-in.zip | cut -d' ' -f1)
ok=1
for f in late.bin plain.bin needle1.bin needle-in.zip; do
	submit $f "$t" || ok=0
done
[ $ok = 1 ] && pass "four samples are submitted" || fail "four samples are submitted" "$code $(cat "$out")"
ok=1
for s in $late $plain $n1 $nz; do
	wait_verdict $s "$t" clean || ok=0
done
[ $ok = 1 ] && pass "all four are analysed as clean under the node's rules" ||
	fail "all four are analysed as clean under the node's rules" "$(cat "$out")"
[ "$(metric vigil_reanalysed_total)" = 0 ] &&
	pass "nothing is re-analysed while the rules stay the same" ||
	fail "nothing is re-analysed while the rules stay the same" "$(metric vigil_reanalysed_total)"

# --- the rules change: SIGHUP ------------------------------------------------------------
write_rule rules/late.yar Test_Late_Marker "RETRO-MARKER-4c1e"
kill -HUP $pid
if wait_verdict $late "$t" malicious; then
	pass "after SIGHUP with a new rule the stored sample is malicious on /v1/files"
else
	fail "after SIGHUP with a new rule the stored sample is malicious on /v1/files" "$(cat "$out")"
fi
json 'd["detections"]' | grep -q Test_Late_Marker &&
	pass "its detections name the new rule" || fail "its detections name the new rule" "$(cat "$out")"
http POST /v1/lookup "$t" --data-binary "{\"hashes\":[\"$late\",\"$plain\"]}"
[ "$code" = 200 ] && json "[r['verdict'] for r in d['results']] if 'results' in d else d" >lk.txt
grep -q "'malicious', 'clean'" lk.txt &&
	pass "/v1/lookup answers the new verdict (and the old one for the other sample)" ||
	fail "/v1/lookup answers the new verdict (and the old one for the other sample)" "$code $(cat "$out")"
# Every stored sample is re-analysed: four.
_i=0
while [ $_i -lt 300 ] && [ "$(metric vigil_reanalysed_total)" != 4 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
[ "$(metric vigil_reanalysed_total)" = 4 ] &&
	pass "/metrics counts the four stored samples re-analysed" ||
	fail "/metrics counts the four stored samples re-analysed" "$(curl -s "$base/metrics" | grep -i reanaly)"
[ "$(metric vigil_verdicts_changed_total)" = 1 ] &&
	pass "/metrics counts one changed verdict" ||
	fail "/metrics counts one changed verdict" "$(metric vigil_verdicts_changed_total)"
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
[ "$(metric vigil_reanalysed_total)" = 0 ] && [ "$(verdict_of $late "$t")" = malicious ] &&
	pass "after the restart nothing is re-analysed and the verdict stays" ||
	fail "after the restart nothing is re-analysed and the verdict stays" "$(metric vigil_reanalysed_total)"
finish
