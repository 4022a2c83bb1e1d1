#!/bin/sh
# test-node-access.sh - privileged access to a user's sample, on the real
# vigild and the real `vigil admin sample-get`: the sample comes back
# byte for byte only after a sample-access entry (hash, the operator
# whose token it was, role, reason, nothing of the content) is in the
# log; --who and an X-Vigil-Who that is not that operator are refused;
# every refusal logs nothing; and the node's key changes (an old log.settings, a replaced
# sample key, a log key handed over with log.key.old) are recorded as
# key-change entries while the log goes on under the new key, and a log
# key replaced without the old one is refused.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL:?VIGIL must be the path of the vigil binary}"
cd "$tmp" || exit 1

log_node_conf

stop_node() {
	kill -TERM $pid 2>/dev/null
	wait $pid
}

size() { curl -s "$base/log/checkpoint" | sed -n 2p; }

tok=var/operator.token

# admin_get SHA [CURL ARGS...]: GET /v1/admin/samples/SHA with the
# operator token; status in $code, body in $out, headers in hdr.txt.
admin_get() {
	_s=$1
	shift
	code=$(curl -s -o "$out" -D hdr.txt -w '%{http_code}' \
		-H "Authorization: Bearer $(cat $tok)" "$@" "$base/v1/admin/samples/$_s")
}

# hdr NAME: the value of the answer's header NAME in hdr.txt.
hdr() { tr -d '\r' <hdr.txt | sed -n "s/^$1: //Ip"; }

# entry N FILE: entry N, proven, as JSON (vigil log get --json) in FILE.
entry() { "$VIGIL" log get "$base/log" "$1" --key "$key" --json >"$2" 2>"$err"; }

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
key=$(curl -s "$base/log/key")

# --- a user's sample --------------------------------------------------------------------
t=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
{
	printf 'PRIVATE-MARKER-7f3a user document\n'
	head -c 300000 /dev/urandom
} >sample.bin
sha=$(sha256sum sample.bin | cut -d' ' -f1)
code=$(curl -s -o "$out" -w '%{http_code}' -X POST -H "Authorization: Bearer $t" \
	--data-binary @sample.bin "$base/v1/submissions")
[ "$code" = 202 ] && pass "a client with consent files submits a sample" ||
	fail "a client with consent files submits a sample" "$code $(cat "$out")"

# --- vigil admin sample-get -------------------------------------------------------------
reason='Case 4711: the user reports a false positive — détection Gen.Loader'
n0=$(size)
"$VIGIL" admin --server "$base" --token-file $tok sample-get "$sha" \
	--reason "$reason" --role incident-response --out got.bin >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && cmp -s sample.bin got.bin &&
	pass "vigil admin sample-get writes the sample byte for byte" ||
	fail "vigil admin sample-get writes the sample byte for byte" "rc $rc: $(cat "$out" "$err")"
[ "$(stat -c %a got.bin 2>/dev/null)" = 600 ] && pass "the sample's file has mode 0600" ||
	fail "the sample's file has mode 0600" "$(ls -l got.bin)"
ls got.bin.* >/dev/null 2>&1 && fail "no temporary file is left beside it" "$(ls)" ||
	pass "no temporary file is left beside it"
grep -q "access logged as entry $n0 (log size $((n0 + 1)))" "$err" &&
	pass "sample-get prints the log index of the access on stderr" ||
	fail "sample-get prints the log index of the access on stderr" "$(cat "$err")"
[ "$(size)" = $((n0 + 1)) ] && pass "the access added exactly one entry" ||
	fail "the access added exactly one entry" "$n0, then $(size)"
entry "$n0" e.json
jcheck e.json "r['type'] == 'sample-access' and r['sample'] == '$sha' and
	r['who'] == 'operator:root' and r['role'] == 'incident-response' and
	r['reason'] == '''$reason''' and r['body'] == '' and
	sorted(r) == sorted(['index', 'type', 'time', 'sample', 'who', 'role', 'reason', 'body'])" \
	"the log has a sample-access entry: the hash, who, role and reason, nothing else"
curl -s "$base/log/tile/entries/000.p/$(size)" >bundle.bin
grep -qa PRIVATE-MARKER-7f3a bundle.bin && fail "no content of the sample is in the log" ||
	pass "no content of the sample is in the log"

# --- the route itself: defaults and headers ---------------------------------------------
n=$(size)
admin_get "$sha" -H 'X-Vigil-Reason: ticket 12'
[ "$code" = 200 ] && cmp -s "$out" sample.bin && [ "$(hdr X-Vigil-Log-Index)" = "$n" ] &&
	[ "$(hdr X-Vigil-Log-Size)" = $((n + 1)) ] &&
	[ "$(hdr Content-Type)" = application/octet-stream ] &&
	[ "$(hdr Cache-Control)" = no-store ] &&
	pass "GET /v1/admin/samples/SHA: 200, the sample, X-Vigil-Log-Index and -Size" ||
	fail "GET /v1/admin/samples/SHA: 200, the sample, X-Vigil-Log-Index and -Size" "$code $(cat hdr.txt)"
entry "$n" e.json
jcheck e.json "r['who'] == 'operator:root' and r['role'] == 'analyst' and r['reason'] == 'ticket 12'" \
	"without X-Vigil-Role: who is the authenticated operator (root), role analyst"
n=$(size)
admin_get "$sha" -H 'X-Vigil-Reason: ticket 13' -H 'X-Vigil-Who: root'
[ "$code" = 200 ] && [ "$(size)" = $((n + 1)) ] &&
	pass "an X-Vigil-Who that names the authenticated operator is taken" ||
	fail "an X-Vigil-Who that names the authenticated operator is taken" "$code $(cat "$out")"
n=$(size)
"$VIGIL" admin --server "$base" --token-file $tok sample-get "$sha" \
	--reason "$reason" --who alice --out got2.bin >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && [ ! -e got2.bin ] && [ "$(size)" = "$n" ] &&
	grep -q "name the operator whose token authenticated the request" "$err" &&
	pass "vigil admin sample-get refuses --who: entries name the authenticated operator" ||
	fail "vigil admin sample-get refuses --who: entries name the authenticated operator" "rc $rc: $(cat "$err")"
long=$("$PYTHON" -c 'print("r" * 1024)')
admin_get "$sha" -H "X-Vigil-Reason: $long"
[ "$code" = 200 ] && pass "a reason of 1024 bytes is taken" || fail "a reason of 1024 bytes is taken" "$code $(cat "$out")"

# --- refusals: the right status, nothing logged -----------------------------------------
n=$(size)
refused() { # STATUS WHAT
	if [ "$code" = "$1" ] && [ "$(size)" = "$n" ] && ! grep -qa PRIVATE-MARKER "$out"; then
		pass "$2: $1, nothing logged"
	else
		fail "$2: $1, nothing logged" "HTTP $code, size $n then $(size): $(head -c 200 "$out")"
	fi
}
admin_get "$sha"
refused 400 "no X-Vigil-Reason"
admin_get "$sha" -H 'X-Vigil-Reason;'
refused 400 "an empty reason"
admin_get "$sha" -H "X-Vigil-Reason: ${long}r"
refused 400 "a reason of 1025 bytes"
admin_get "$sha" -H "$(printf 'X-Vigil-Reason: one\ttwo')"
refused 400 "a reason with a TAB"
admin_get "$sha" -H "$(printf 'X-Vigil-Reason: one\342\200\250two')"
refused 400 "a reason with U+2028 LINE SEPARATOR"
admin_get "$sha" -H "$(printf 'X-Vigil-Reason: one\342\200\256two')"
refused 400 "a reason with a bidirectional override"
admin_get "$sha" -H "$(printf 'X-Vigil-Reason: bad \377 utf-8')"
refused 400 "a reason that is not UTF-8"
admin_get "$sha" -H 'X-Vigil-Reason: a' -H 'X-Vigil-Reason: b'
refused 400 "two reasons"
admin_get "$sha" -H 'X-Vigil-Reason: a' -H 'X-Vigil-Role: Analyst'
refused 400 "a role that is not a label"
admin_get "$sha" -H 'X-Vigil-Reason: a' -H 'X-Vigil-Who: alice@example'
refused 400 "an X-Vigil-Who that is not a label"
grep -q '"error": *"who_mismatch"' "$out" && pass "its error is who_mismatch" ||
	fail "its error is who_mismatch" "$(cat "$out")"
admin_get "$sha" -H 'X-Vigil-Reason: a' -H 'X-Vigil-Who: alice'
refused 400 "an X-Vigil-Who that is not the authenticated operator"
admin_get "$sha" -H 'X-Vigil-Reason: a' -H 'X-Vigil-Who: root' -H 'X-Vigil-Who: root'
refused 400 "X-Vigil-Who twice"
# A newline cannot be sent in a header value at all: raw bytes.
echo "$sha" >sha
code=$("$PYTHON" - "$base" <<'PY'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
tok = open("var/operator.token").read().strip()
s = socket.create_connection((u.hostname, u.port))
s.sendall(("GET /v1/admin/samples/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "X-Vigil-Reason: first line\r\n second line\r\nConnection: close\r\n\r\n"
           % (open("sha").read().strip(), tok)).encode())
d = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    d += b
print(d.split(b" ")[1].decode() if d.startswith(b"HTTP/") else "none")
PY
)
: >"$out"
refused 400 "a reason folded over two lines"
"$VIGIL" admin --server "$base" --token-file $tok sample-get "$sha" \
	--reason "$(printf 'one\ntwo')" --out nl.bin >/dev/null 2>"$err"
rc=$?
[ $rc = 2 ] && [ ! -e nl.bin ] && [ "$(size)" = "$n" ] &&
	pass "sample-get refuses a reason with a newline before sending it" ||
	fail "sample-get refuses a reason with a newline before sending it" "rc $rc $(cat "$err")"
code=$(curl -s -o "$out" -w '%{http_code}' -H 'X-Vigil-Reason: a' "$base/v1/admin/samples/$sha")
refused 401 "no operator token"
code=$(curl -s -o "$out" -w '%{http_code}' -H 'X-Vigil-Reason: a' -H "Authorization: Bearer $t" \
	"$base/v1/admin/samples/$sha")
refused 403 "a client's token"
forged=$("$PYTHON" -c 'import sys; t = open(sys.argv[1]).read().strip(); print(t[:-1] + ("1" if t[-1] == "0" else "0"))' $tok)
code=$(curl -s -o "$out" -w '%{http_code}' -H 'X-Vigil-Reason: a' \
	-H "Authorization: Bearer $forged" "$base/v1/admin/samples/$sha")
refused 401 "a forged operator token"
printf 'vgop.%064d\n' 0 >bad.token && chmod 600 bad.token
"$VIGIL" admin --server "$base" --token-file bad.token sample-get "$sha" --reason a --out bad.bin \
	>/dev/null 2>"$err"
rc=$?
[ $rc = 1 ] && [ ! -e bad.bin ] && [ "$(size)" = "$n" ] &&
	pass "sample-get with a wrong token: exit 1, no file, nothing logged" ||
	fail "sample-get with a wrong token: exit 1, no file, nothing logged" "rc $rc $(cat "$err")"
admin_get "$(printf %064d 0)" -H 'X-Vigil-Reason: a'
refused 404 "a sample the node does not store"
grep -q '"error":"unknown_sample"' "$out" && pass "the 404 is JSON: unknown_sample" ||
	fail "the 404 is JSON: unknown_sample" "$(cat "$out")"
for h in "$(echo "$sha" | tr a-f A-F)" "${sha%?}" "${sha}0" "$sha/x" "$(printf %064d 0 | tr 0 g)"; do
	admin_get "$h" -H 'X-Vigil-Reason: a'
	refused 400 "a malformed hash ($h)"
done
code=$(curl -s -o "$out" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $(cat $tok)" \
	-H 'X-Vigil-Reason: a' "$base/v1/admin/samples/$sha")
refused 405 "DELETE"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")
[ "$code" = 200 ] && pass "the node keeps serving (/healthz)" || fail "the node keeps serving (/healthz)" "$code"

# --- key changes ------------------------------------------------------------------------
# A log.settings from before keys were recorded: recorded now, no entry.
stop_node
grep -q '^log-key: ' var/log.settings && grep -q '^sample-key: [0-9a-f]\{16\}$' var/log.settings &&
	pass "log.settings records the log key and the sample key's ID" ||
	fail "log.settings records the log key and the sample key's ID" "$(cat var/log.settings)"
grep -qa "$(od -An -tx1 var/sample.key | tr -d ' \n')" var/log.settings &&
	fail "log.settings does not hold the sample key" || pass "log.settings does not hold the sample key"
sed -i '/^log-key: /d; /^sample-key: /d' var/log.settings
start_node || { fail "vigild starts with an old log.settings" "$(cat vigild.err)"; finish; }
[ "$(size)" = "$n" ] && grep -q '^log-key: ' var/log.settings &&
	pass "an old log.settings gets the keys recorded, with no entry" ||
	fail "an old log.settings gets the keys recorded, with no entry" "$n, then $(size): $(cat var/log.settings)"

# The sample key replaced.
stop_node
kid() { "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(b"vigil.sample-key/v1\n" + open(sys.argv[1], "rb").read()).hexdigest()[:16])' "$1"; }
old_kid=$(kid var/sample.key)
cp -p var/sample.key sample.key.orig
head -c 32 /dev/urandom >var/sample.key.new && chmod 600 var/sample.key.new && mv var/sample.key.new var/sample.key
new_kid=$(kid var/sample.key)
start_node || { fail "vigild starts with another sample key" "$(cat vigild.err)"; finish; }
[ "$(size)" = $((n + 1)) ] && entry "$n" e.json &&
	jcheck e.json "r['type'] == 'key-change' and 'sample key' in r['body'] and
		'old $old_kid\n' in r['body'] and 'new $new_kid\n' in r['body']" \
		"another sample key: a key-change entry with the old and new key IDs" ||
	fail "another sample key: a key-change entry with the old and new key IDs" "$n, then $(size): $(cat e.json "$err")"
grep -qa "$(od -An -tx1 var/sample.key | tr -d ' \n')" e.json &&
	fail "the key-change entry does not hold the key" || pass "the key-change entry does not hold the key"
stop_node
cp -p sample.key.orig var/sample.key
start_node || { fail "vigild starts with its first sample key again" "$(cat vigild.err)"; finish; }
n=$(size)
"$VIGIL" admin --server "$base" --token-file $tok sample-get "$sha" --reason 'after the key came back' \
	--out got2.bin >/dev/null 2>"$err" && cmp -s sample.bin got2.bin &&
	pass "with the sample key back (another key-change), the sample reads again" ||
	fail "with the sample key back (another key-change), the sample reads again" "$(cat "$err")"

# The log key replaced. Removing log.key alone is refused: the handover
# must be signed by the old key too.
stop_node
n=$(sed -n 2p var/log/checkpoint)
origin=$(sed -n 1p var/log/checkpoint)
mv var/log.key log.key.orig
start_node && { fail "a node without log.key or log.key.old does not start"; stop_node; } ||
	{ grep -q 'log.key.old' vigild.err && [ ! -e var/log.key ] &&
		pass "a node without log.key or log.key.old does not start, and says what to do" ||
		fail "a node without log.key or log.key.old does not start, and says what to do" "$(cat vigild.err)"; }
# Another node's key in log.key.old: refused too, and nothing changes.
node_start other -- -c node.conf --data "$tmp/other" || fail "a second node starts" "$(cat other.err)"
kill -TERM $node_pid
wait $node_pid
cp -p other/log.key var/log.key.old
: >vigild.err
start_node && { fail "a log.key.old that is not the log's key is refused"; stop_node; } ||
	{ grep -q 'log.key.old .* is not the key the log is signed with' vigild.err &&
		[ "$(sed -n 2p var/log/checkpoint)" = "$n" ] && [ ! -e var/log.key ] &&
		pass "a log.key.old that is not the log's key is refused, and no new key is made" ||
		fail "a log.key.old that is not the log's key is refused, and no new key is made" "$(cat vigild.err)"; }
rm -f var/log.key.old
# The operator moves the key to log.key.old: the node makes a new key and
# goes on from the tree the old key signed, after a handover both keys
# signed.
mv log.key.orig var/log.key.old
start_node || { fail "vigild starts with log.key.old and a new log key" "$(cat vigild.err)"; finish; }
key2=$(curl -s "$base/log/key")
[ -n "$key2" ] && [ "$key2" != "$key" ] && grep -qF "$key2" vigild.out &&
	pass "a new log key is made, served and printed" ||
	fail "a new log key is made, served and printed" "$key / $key2"
[ "$(size)" = $((n + 1)) ] && pass "the log goes on: one entry more" ||
	fail "the log goes on: one entry more" "$n, then $(size)"
curl -s -o handover.txt "$base/log/handover"
"$TLOG_TOOL" handover-check handover.txt "$origin" "$key" >"$out" 2>"$err" &&
	grep -qxF "new $key2" "$out" && grep -q "^tree $n " "$out" &&
	pass "GET /log/handover: the handover to the new key at the old tree, signed by both keys" ||
	fail "GET /log/handover: the handover to the new key at the old tree, signed by both keys" "$(cat handover.txt "$out" "$err")"
[ "$(grep -c '^— ' handover.txt)" = 2 ] && pass "the handover has two signature lines" ||
	fail "the handover has two signature lines" "$(cat handover.txt)"
VIGIL_HOME=$tmp/client2 "$VIGIL" log get "$base/log" "$n" --key "$key2" --json >e.json 2>"$err" &&
	"$PYTHON" -c 'import json,sys; r = json.load(open("e.json")); sys.exit(not (r["type"] == "key-change" and r["body"] == open("handover.txt").read()))' &&
	pass "the key-change entry holds the handover note, proven under the new key" ||
	fail "the key-change entry holds the handover note, proven under the new key" "$(cat e.json "$err")"
VIGIL_HOME=$tmp/client3 "$VIGIL" log checkpoint "$base/log" --key "$key" >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && grep -q 'changed its key' "$err" && grep -qF "$key2" "$err" &&
	pass "a client that trusts the old key follows the handover to the new one" ||
	fail "a client that trusts the old key follows the handover to the new one" "rc $rc $(cat "$out" "$err")"
VIGIL_HOME=$tmp/client2 "$VIGIL" log verify "$base/log" --index 1 --key "$key2" >"$out" 2>"$err" &&
	pass "entries from before the change are proven under the new key" ||
	fail "entries from before the change are proven under the new key" "$(cat "$err")"
stop_node
rm var/log.key.old
start_node || { fail "vigild restarts without log.key.old" "$(cat vigild.err)"; finish; }
[ "$(size)" = $((n + 1)) ] && pass "a restart with the same keys appends nothing" ||
	fail "a restart with the same keys appends nothing" "$((n + 1)), then $(size)"
curl -s "$base/log/handover" | cmp -s - handover.txt &&
	pass "the handover is still served after a restart" ||
	fail "the handover is still served after a restart"
stop_node
finish
