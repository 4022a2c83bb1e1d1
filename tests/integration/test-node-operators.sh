#!/bin/sh
# test-node-operators.sh - named operators, on the real vigild and the
# real `vigil admin operator`: root (operator.token) adds an operator,
# whose token is shown once and whose operator-add entry names it and
# root, never the token; the operator's own token takes the admin routes
# and the log names it; only root adds and revokes; a revoked token is
# refused at once (401, an admin_denied event, vigil_admin_denied_total);
# every bad input gets its status and a JSON error, and the node keeps
# serving.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL:?VIGIL must be the path of the vigil binary}"
cd "$tmp" || exit 1

log_node_conf

tok=var/operator.token
size() { curl -s "$base/log/checkpoint" | sed -n 2p; }
# entry N FILE: entry N, proven, as JSON (vigil log get --json) in FILE.
entry() { "$VIGIL" log get "$base/log" "$1" --key "$key" --json >"$2" 2>"$err"; }
# admin TOKENFILE ARGS...: vigil admin with that token.
admin() {
	_t=$1
	shift
	"$VIGIL" admin --server "$base" --token-file "$_t" "$@"
}
# call TOKENFILE METHOD PATH [CURL ARGS...]: status in $code, body in $out.
call() {
	_t=$1 _m=$2 _p=$3
	shift 3
	if [ "$_t" = - ]; then
		code=$(curl -s -o "$out" -w '%{http_code}' -X "$_m" "$@" "$base$_p")
	else
		code=$(curl -s -o "$out" -w '%{http_code}' -X "$_m" \
			-H "Authorization: Bearer $(cat "$_t")" "$@" "$base$_p")
	fi
}
# expect STATUS ERROR WHAT: the last call answered STATUS with that JSON
# error code, and nothing was logged.
expect() {
	if [ "$code" = "$1" ] && [ "$(size)" = "$n" ] &&
		"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1]));
sys.exit(0 if d.get("error") == sys.argv[2] and d.get("message") else 1)' "$out" "$2" 2>/dev/null; then
		pass "$3: $1 $2, nothing logged"
	else
		fail "$3: $1 $2, nothing logged" "HTTP $code, size $n then $(size): $(head -c 300 "$out")"
	fi
}
denied() { curl -s "$base/metrics" | sed -n 's/^vigil_admin_denied_total //p'; }

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
key=$(curl -s "$base/log/key")

# --- root adds an operator ---------------------------------------------------------------
n0=$(size)
admin $tok operator add alice >alice.token 2>"$err"
rc=$?
chmod 600 alice.token
[ $rc = 0 ] && grep -Eqx 'vgop\.[0-9a-f]{64}' alice.token && [ "$(wc -l <alice.token)" = 1 ] &&
	pass "vigil admin operator add prints the new operator's token, one line" ||
	fail "vigil admin operator add prints the new operator's token, one line" "rc $rc: $(cat alice.token "$err")"
grep -q "operator alice added (log entry $n0)" "$err" &&
	pass "operator add says which log entry records it" ||
	fail "operator add says which log entry records it" "$(cat "$err")"
[ "$(size)" = $((n0 + 1)) ] && pass "the add made exactly one entry" ||
	fail "the add made exactly one entry" "$n0, then $(size)"
entry "$n0" e.json
jcheck e.json "r['type'] == 'operator-add' and r['name'] == 'alice' and r['by'] == 'operator:root' and
	r['body'] == '' and sorted(r) == sorted(['index', 'type', 'time', 'name', 'by', 'body'])" \
	"an operator-add entry: the name and by, nothing else"
curl -s "$base/log/tile/entries/000.p/$(size)" >bundle.bin
alice=$(cat alice.token)
hash=$(printf '%s' "$alice" | sha256sum | cut -d' ' -f1)
if grep -qa "$alice" bundle.bin || grep -qa "${alice#vgop.}" bundle.bin || grep -qa "$hash" bundle.bin; then
	fail "neither the token nor its hash is in the log"
else
	pass "neither the token nor its hash is in the log"
fi
grep -qa "$alice" vigild.err vigild.out && fail "the token is in no log line of vigild" ||
	pass "the token is in no log line of vigild"

# --- list: names and times, never a token or a hash --------------------------------------
admin $tok operator list >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && grep -q '^root ' "$out" && grep -Eq '^alice +added 20[0-9-]+T' "$out" &&
	! grep -q revoked "$out" &&
	pass "vigil admin operator list shows root and alice" ||
	fail "vigil admin operator list shows root and alice" "rc $rc: $(cat "$out" "$err")"
admin $tok operator list --json >list.jsonl 2>"$err"
jcheck list.jsonl "len(rs) == 2 and rs[0]['name'] == 'root' and rs[1]['name'] == 'alice' and
	rs[1]['revoked'] is None" "vigil admin operator list --json: one object a line"
call $tok GET /v1/admin/operators
echo "$(cat "$out")" >list.json
jcheck list.json "[o['name'] for o in r['operators']] == ['root', 'alice'] and
	all(sorted(o) == ['created', 'name', 'revoked'] for o in r['operators']) and
	r['operators'][1]['revoked'] is None and r['operators'][0]['created'] is None" \
	"GET /v1/admin/operators: name, created, revoked of each"
grep -qa "$alice" "$out" || grep -qa "$hash" "$out" || grep -qi token "$out" &&
	fail "the list holds no token and no hash" "$(cat "$out")" ||
	pass "the list holds no token and no hash"

# --- alice's token takes the admin routes, and the log names her ------------------------
t=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
printf 'an operator test sample\n' >sample.bin
sha=$(sha256sum sample.bin | cut -d' ' -f1)
code=$(curl -s -o "$out" -w '%{http_code}' -X POST -H "Authorization: Bearer $t" \
	--data-binary @sample.bin "$base/v1/submissions")
[ "$code" = 202 ] && pass "a client submits a sample" || fail "a client submits a sample" "$code $(cat "$out")"
n=$(size)
admin alice.token sample-get "$sha" --reason "Case 9: alice looks" --out got.bin >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && cmp -s sample.bin got.bin && pass "alice's token reads a sample with vigil admin sample-get" ||
	fail "alice's token reads a sample with vigil admin sample-get" "rc $rc: $(cat "$err")"
entry "$n" e.json
jcheck e.json "r['type'] == 'sample-access' and r['who'] == 'operator:alice'" \
	"the sample-access entry names alice, whose token it was"
n=$(size)
call alice.token GET "/v1/admin/samples/$sha" -H 'X-Vigil-Reason: r' -H 'X-Vigil-Who: root'
expect 400 who_mismatch "alice's token with X-Vigil-Who: root"
call alice.token GET "/v1/admin/samples/$sha" -H 'X-Vigil-Reason: r' -H 'X-Vigil-Who: alice' -o /dev/null
[ "$code" = 200 ] && [ "$(size)" = $((n + 1)) ] &&
	pass "alice's token with X-Vigil-Who: alice is taken" ||
	fail "alice's token with X-Vigil-Who: alice is taken" "$code"
admin alice.token sample-get "$sha" --reason r --who root --out x.bin >"$out" 2>"$err"
[ $? = 2 ] && grep -q 'name the operator whose token authenticated' "$err" &&
	pass "vigil admin refuses --who, saying entries name the authenticated operator" ||
	fail "vigil admin refuses --who, saying entries name the authenticated operator" "$(cat "$err")"
call alice.token GET /v1/admin/operators
[ "$code" = 200 ] && pass "alice lists the operators" || fail "alice lists the operators" "$code $(cat "$out")"

# --- only root adds and revokes ----------------------------------------------------------
n=$(size)
call alice.token POST /v1/admin/operators -H 'Content-Type: application/json' --data '{"name":"mallory"}'
expect 403 forbidden "alice adds an operator"
call alice.token DELETE /v1/admin/operators/alice
expect 403 forbidden "alice revokes an operator"
admin alice.token operator add mallory >"$out" 2>"$err"
[ $? = 1 ] && [ ! -s "$out" ] && grep -q 403 "$err" && pass "vigil admin operator add with alice's token: refused, 1" ||
	fail "vigil admin operator add with alice's token: refused, 1" "$(cat "$out" "$err")"

# --- bad inputs ----------------------------------------------------------------------------
post() { call $tok POST /v1/admin/operators -H 'Content-Type: application/json' "$@"; }
post --data '{"name":"alice"}'
expect 409 name_taken "a duplicate name"
post --data '{"name":"root"}'
expect 409 name_taken "the name root"
for bad in Alice 'a b' 'a_b' 'a.b' '' 'a12345678901234567890123456789012' 'al\u00e9' 'a\nb'; do
	post --data "{\"name\":\"$bad\"}"
	expect 400 bad_name "the name \"$bad\""
done
for body in 'not json' '[]' '"alice"' '{}' '{"name":1}' '{"name":null}' '{"name":"bob","role":"x"}' \
	'{"name":"bob","name":"eve"}' '{"Name":"bob"}' '{"name":"bob"'; do
	post --data "$body"
	expect 400 bad_body "the body $body"
done
post
expect 400 bad_body "no body"
head -c 5000 /dev/zero | tr '\0' ' ' >big.json
post --data-binary @big.json
expect 413 body_too_large "a body over 4096 bytes"
call - POST /v1/admin/operators -H 'Content-Type: application/json' --data-binary @big.json
expect 413 body_too_large "a body over 4096 bytes without a token, refused before any token"
call $tok DELETE /v1/admin/operators/bob
expect 404 unknown_operator "revoking an unknown operator"
call $tok DELETE /v1/admin/operators/Bob
expect 400 bad_name "revoking a name that is not a label"
call $tok DELETE /v1/admin/operators/
expect 400 bad_name "revoking an empty name"
call $tok DELETE /v1/admin/operators/root
expect 400 bad_name "revoking root"
call $tok PUT /v1/admin/operators
expect 405 method_not_allowed "PUT /v1/admin/operators"
call $tok GET /v1/admin/operators/alice
expect 405 method_not_allowed "GET /v1/admin/operators/alice"
admin $tok operator add 'Bad Name' >"$out" 2>"$err"
[ $? = 2 ] && [ ! -s "$out" ] && pass "vigil admin operator add refuses a name that is not a label" ||
	fail "vigil admin operator add refuses a name that is not a label" "$(cat "$out" "$err")"

# --- failed authentications: 401, admin_denied, counted --------------------------------
d0=$(denied)
call - GET /v1/admin/operators
expect 401 unauthorized "no token"
printf 'vgop.%064d\n' 0 >wrong.token
chmod 600 wrong.token
call wrong.token GET /v1/admin/operators
expect 401 unauthorized "an unknown token"
[ "$(denied)" = $((d0 + 2)) ] && pass "vigil_admin_denied_total counts both" ||
	fail "vigil_admin_denied_total counts both" "$d0, then $(denied)"
grep 'event=admin_denied' vigild.err | grep -q 'route=admin_operators peer=127.0.0.1' &&
	pass "vigild logs admin_denied with the route and the peer" ||
	fail "vigild logs admin_denied with the route and the peer" "$(grep admin_denied vigild.err | tail -3)"

# --- root revokes alice: her token is refused at once ------------------------------------
n0=$(size)
admin $tok operator revoke alice >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && grep -q "operator alice revoked (log entry $n0)" "$out" &&
	pass "vigil admin operator revoke alice" ||
	fail "vigil admin operator revoke alice" "rc $rc: $(cat "$out" "$err")"
entry "$n0" e.json
jcheck e.json "r['type'] == 'operator-revoke' and r['name'] == 'alice' and r['by'] == 'operator:root'" \
	"an operator-revoke entry names alice and root"
d0=$(denied)
n=$(size)
call alice.token GET /v1/admin/operators
expect 401 unauthorized "alice's revoked token"
call alice.token GET "/v1/admin/samples/$sha" -H 'X-Vigil-Reason: after revocation'
expect 401 unauthorized "alice's revoked token reading a sample"
[ "$(denied)" = $((d0 + 2)) ] && pass "the revoked token's refusals are counted in vigil_admin_denied_total" ||
	fail "the revoked token's refusals are counted in vigil_admin_denied_total" "$d0, then $(denied)"
grep 'event=admin_denied' vigild.err | grep -q 'route=admin_sample peer=127.0.0.1' &&
	pass "the revoked token's refusal is an admin_denied event" ||
	fail "the revoked token's refusal is an admin_denied event" "$(grep admin_denied vigild.err | tail -3)"
grep -qa "$alice" vigild.err && fail "no log line of vigild holds the revoked token" ||
	pass "no log line of vigild holds the revoked token"
call $tok DELETE /v1/admin/operators/alice
expect 404 unknown_operator "revoking alice again"
post --data '{"name":"alice"}'
expect 409 name_taken "adding alice again: a revoked name is not given again"
call $tok GET /v1/admin/operators
echo "$(cat "$out")" >list.json
jcheck list.json "[o['name'] for o in r['operators']] == ['root', 'alice'] and
	re.match(r'^20[0-9-]+T[0-9:]+Z$', r['operators'][1]['revoked'] or '')" \
	"the list shows alice revoked, with when"

# --- the node keeps serving ---------------------------------------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")
[ "$code" = 200 ] && pass "the node still serves /healthz" || fail "the node still serves /healthz" "$code"
admin $tok operator add bob >bob.token 2>"$err" && chmod 600 bob.token &&
	admin bob.token operator list >/dev/null 2>&1 &&
	pass "root still adds an operator, whose token works" ||
	fail "root still adds an operator, whose token works" "$(cat "$err")"
kill -0 $pid && pass "vigild is still running" || fail "vigild is still running"

kill -TERM $pid 2>/dev/null
wait $pid
finish
