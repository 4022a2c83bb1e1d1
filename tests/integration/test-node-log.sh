#!/bin/sh
# test-node-log.sh - the node's transparency log, on the real vigild and
# the real `vigil admin`: its keys and operator token at first start, the
# first entry, the C2SP files under /log/, operator appends, every kind of
# bad append refused with nothing appended, a restart, and kill -9 during
# a burst of appends.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL:?VIGIL must be the path of the vigil binary}"
cd "$tmp" || exit 1

log_node_conf

# get PATH: status in $code, body in $out.
get() {
	code=$(curl -s -o "$out" -w '%{http_code}' "$base$1")
}

# size: the checkpoint's tree size.
size() {
	curl -s "$base/log/checkpoint" | sed -n 2p
}

mode() { stat -c %a "$1"; }

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
pass "vigild starts with its transparency log"

# --- keys and token at first start -------------------------------------------------
[ "$(mode var/log.key)" = 600 ] && [ "$(mode var/operator.token)" = 600 ] &&
	pass "log.key and operator.token are created with mode 0600" ||
	fail "log.key and operator.token are created with mode 0600" "$(ls -l var)"
get /log/key
key=$(cat "$out")
case "$key" in
vigil.example/eu+[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+*)
	pass "GET /log/key: a verifier key named after the origin" ;;
*) fail "GET /log/key: a verifier key named after the origin" "$code $key" ;;
esac
grep -qF "$key" vigild.out &&
	pass "vigild prints the verifier key when it starts" ||
	fail "vigild prints the verifier key when it starts" "$(cat vigild.out)"
grep -q PRIVATE "$out" && fail "the key route serves no private key" || pass "the key route serves no private key"

# --- the checkpoint and the first entry ----------------------------------------------
get /log/checkpoint
[ "$code" = 200 ] && [ "$(sed -n 1p "$out")" = vigil.example/eu ] &&
	[ "$(sed -n 2p "$out")" = 1 ] &&
	sed -n 3p "$out" | grep -Eq '^[A-Za-z0-9+/]{43}=$' &&
	[ -z "$(sed -n 4p "$out")" ] &&
	sed -n 5p "$out" | grep -q '^— vigil.example/eu ' &&
	pass "the checkpoint: origin, size 1 (the node entry), root, signature" ||
	fail "the checkpoint: origin, size 1 (the node entry), root, signature" "$(cat "$out")"
hdr=$(curl -s -D - -o /dev/null "$base/log/checkpoint" | tr -d '\r' | grep -i '^cache-control:')
[ "$hdr" = "cache-control: no-store" ] || [ "$hdr" = "Cache-Control: no-store" ] &&
	pass "the checkpoint may not be cached" || fail "the checkpoint may not be cached" "$hdr"
get /log/tile/entries/000.p/1
if [ "$code" = 200 ] && grep -qa 'vigil.log.entry/v1' "$out" && grep -qa '^type node$' "$out" &&
	grep -qaF "log-key $key" "$out" && grep -qa '^region eu$' "$out" &&
	grep -qa '^site zrh1$' "$out"; then
	pass "the first entry describes the node: region, site, log key"
else
	fail "the first entry describes the node: region, site, log key" "$code $(cat "$out")"
fi
grep -qa "$(od -An -tx1 var/sample.key | tr -d ' \n')" "$out" &&
	fail "the node entry does not hold the sample key" ||
	pass "the node entry does not hold the sample key"
get /log/tile/0/000.p/1
[ "$code" = 200 ] && [ "$(wc -c <"$out")" = 32 ] &&
	pass "GET /log/tile/0/000.p/1: one 32-byte hash" ||
	fail "GET /log/tile/0/000.p/1: one 32-byte hash" "$code $(wc -c <"$out")"
hdr=$(curl -s -D - -o /dev/null "$base/log/tile/0/000.p/1" | tr -d '\r' | grep -i '^cache-control:' | cut -d' ' -f2-)
case "$hdr" in *immutable*) pass "tiles may be cached for good" ;; *) fail "tiles may be cached for good" "$hdr" ;; esac
for p in tile/0/000 tile/0/000.p/2 tile/0/0 tile/0/x000.p/1 tile/entries/000.p/01 \
	tile/../../log.key tile/0/000.p/1/ 'tile/0/000.p/1%00x' 'checkpoint%00' state keyx checkpointx; do
	get "/log/$p"
	[ "$code" = 404 ] && pass "GET /log/$p: 404" || fail "GET /log/$p: 404" "$code"
done
code=$(curl -s -o "$out" -w '%{http_code}' -X POST "$base/log/checkpoint")
[ "$code" = 405 ] && pass "POST /log/checkpoint: 405" || fail "POST /log/checkpoint: 405" "$code"

# --- operator appends ----------------------------------------------------------------
printf 'On 2026-11-28 an operator read one sample without a ticket.\nDisclosed here.\n' >statement.txt
"$VIGIL" admin --server "$base" --token-file var/operator.token log-append \
	--type statement statement.txt >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && grep -q 'appended statement entry 1 to vigil.example/eu (log size 2)' "$out" &&
	pass "vigil admin log-append: entry 1, log size 2" ||
	fail "vigil admin log-append: entry 1, log size 2" "rc $rc: $(cat "$out" "$err")"
[ "$(size)" = 2 ] && pass "the checkpoint covers the appended entry" || fail "the checkpoint covers the appended entry" "$(size)"
get /log/tile/entries/000.p/2
grep -qa 'an operator read one sample without a ticket' "$out" &&
	pass "the entry bundle holds the statement's text" ||
	fail "the entry bundle holds the statement's text"
for t in key-change witness-set-change location-change; do
	echo "$t: details" >ev.txt
	"$VIGIL" admin --server "$base" --token-file var/operator.token log-append --type $t ev.txt >"$out" 2>"$err" ||
		fail "log-append --type $t" "$(cat "$err")"
done
[ "$(size)" = 5 ] && pass "every administrative type is appended" || fail "every administrative type is appended" "$(size)"

# --- proofs ---------------------------------------------------------------------------
get '/v1/log/proof?index=1'
if [ "$code" = 200 ] && [ "$(sed -n 1p "$out")" = c2sp.org/tlog-proof@v1 ] &&
	[ "$(sed -n 2p "$out")" = "index 1" ] &&
	grep -qx 'vigil.example/eu' "$out" && grep -qx 5 "$out"; then
	pass "GET /v1/log/proof?index=1: a tlog-proof with the checkpoint of size 5"
else
	fail "GET /v1/log/proof?index=1: a tlog-proof with the checkpoint of size 5" "$code $(cat "$out")"
fi
cp "$out" proof1.txt
# The leaf hash of entry 1, from its bundle: SHA-256(0x00 || entry).
leaf=$(curl -s "$base/log/tile/entries/000.p/5" | "$PYTHON" -c '
import hashlib, sys
b = sys.stdin.buffer.read(); i = 0; entries = []
while i < len(b):
    n = int.from_bytes(b[i:i + 2], "big"); entries.append(b[i + 2:i + 2 + n]); i += 2 + n
print(hashlib.sha256(b"\0" + entries[1]).hexdigest())')
get "/v1/log/proof?hash=$leaf"
cmp -s "$out" proof1.txt && pass "the proof by leaf hash is the proof by index" ||
	fail "the proof by leaf hash is the proof by index" "$code $(cat "$out")"
get '/v1/log/consistency?from=2&to=5'
[ "$code" = 200 ] && [ "$(wc -l <"$out")" -ge 1 ] &&
	! grep -Evq '^[A-Za-z0-9+/]{43}=$' "$out" &&
	pass "GET /v1/log/consistency?from=2&to=5: base64 hashes, one a line" ||
	fail "GET /v1/log/consistency?from=2&to=5: base64 hashes, one a line" "$code $(cat "$out")"
for q in 'proof?index=01:400' 'proof?index=5:404' 'proof?index=x:400' 'proof:400' \
	"proof?hash=$(printf %064d 0):404" 'proof?hash=abc:400' 'consistency?from=0&to=2:400' \
	'consistency?from=3&to=2:400' 'consistency?from=1&to=6:404' 'consistency?from=1:400'; do
	get "/v1/log/${q%:*}"
	[ "$code" = "${q##*:}" ] && pass "GET /v1/log/${q%:*}: ${q##*:}" ||
		fail "GET /v1/log/${q%:*}: ${q##*:}" "$code $(cat "$out")"
done

# --- bad appends: refused, nothing appended ------------------------------------------
cp var/operator.token tok.bad && chmod 600 tok.bad && echo vgop.0000 >tok.bad
"$VIGIL" admin --server "$base" --token-file tok.bad log-append --type statement statement.txt >"$out" 2>"$err"
rc=$?
[ $rc = 1 ] && grep -q 'operator token' "$err" && pass "a wrong operator token: refused (exit 1)" ||
	fail "a wrong operator token: refused (exit 1)" "rc $rc $(cat "$err")"
cp var/operator.token tok.open && chmod 644 tok.open
"$VIGIL" admin --server "$base" --token-file tok.open log-append --type statement statement.txt >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && grep -q 'chmod 600' "$err" && pass "a token file others can read: refused (exit 2)" ||
	fail "a token file others can read: refused (exit 2)" "rc $rc $(cat "$err")"
"$VIGIL" admin --server "$base" --token-file var/operator.token log-append --type node statement.txt >"$out" 2>"$err"
[ $? = 2 ] && pass "log-append --type node: refused by vigil (exit 2)" || fail "log-append --type node: refused by vigil (exit 2)"
tok=$(cat var/operator.token)
post() { # QUERY BODYFILE
	code=$(curl -s -o "$out" -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
		--data-binary "@$2" "$base/v1/admin/log$1")
}
post '?type=node' statement.txt
[ "$code" = 400 ] && pass "POST /v1/admin/log?type=node: 400" || fail "POST /v1/admin/log?type=node: 400" "$code $(cat "$out")"
post '' statement.txt
[ "$code" = 400 ] && pass "POST /v1/admin/log without a type: 400" || fail "POST /v1/admin/log without a type: 400" "$code"
printf '  \n\t\n' >blank.txt
post '?type=statement' blank.txt
[ "$code" = 400 ] && pass "a statement of white space only: 400" || fail "a statement of white space only: 400" "$code $(cat "$out")"
printf 'a\000b' >nul.txt
post '?type=statement' nul.txt
[ "$code" = 400 ] && pass "a statement with a NUL: 400" || fail "a statement with a NUL: 400" "$code"
printf 'bell\007\n' >ctl.txt
post '?type=statement' ctl.txt
[ "$code" = 400 ] && pass "a statement with a control character: 400" || fail "a statement with a control character: 400" "$code"
printf '\377\376 not UTF-8\n' >bin.txt
post '?type=statement' bin.txt
[ "$code" = 400 ] && pass "a statement that is not UTF-8: 400" || fail "a statement that is not UTF-8: 400" "$code"
head -c 70000 /dev/zero | tr '\0' a >big.txt
post '?type=statement' big.txt
[ "$code" = 413 ] && pass "a statement over 64 KiB: 413" || fail "a statement over 64 KiB: 413" "$code $(head -c 200 "$out")"
code=$(curl -s -o "$out" -w '%{http_code}' -X POST --data-binary @statement.txt "$base/v1/admin/log?type=statement")
[ "$code" = 401 ] && pass "an append without the operator token: 401" || fail "an append without the operator token: 401" "$code"
enrolled=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
code=$(curl -s -o "$out" -w '%{http_code}' -X POST -H "Authorization: Bearer $enrolled" \
	--data-binary @statement.txt "$base/v1/admin/log?type=statement")
[ "$code" = 403 ] && pass "a client's token is not the operator's: 403" || fail "a client's token is not the operator's: 403" "$code"
code=$(curl -s -o "$out" -w '%{http_code}' -H "Authorization: Bearer $tok" "$base/v1/admin/log?type=statement")
[ "$code" = 405 ] && pass "GET /v1/admin/log: 405" || fail "GET /v1/admin/log: 405" "$code"
[ "$(size)" = 5 ] && pass "nothing of a refused append is in the log" || fail "nothing of a refused append is in the log" "$(size)"
get /healthz
[ "$code" = 200 ] && pass "the node still serves after the bad appends" || fail "the node still serves after the bad appends" "$code"

# --- restart: the same log, the same key, no second node entry ----------------------
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 0 ] && pass "SIGTERM: vigild exits 0" || fail "SIGTERM: vigild exits 0" "rc $rc"
start_node || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
get /log/key
[ "$(cat "$out")" = "$key" ] && [ "$(size)" = 5 ] &&
	pass "after a restart: the same key, the same log (size 5)" ||
	fail "after a restart: the same key, the same log (size 5)" "$(cat "$out") $(size)"

# --- kill -9 during a burst of appends -------------------------------------------------
: >acked
for lane in 0 1 2; do
	(
		i=0
		while [ $i -lt 40 ]; do
			echo "burst $lane $i" >b$lane.txt
			c=$(curl -s -o r$lane -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
				--data-binary @b$lane.txt "$base/v1/admin/log?type=statement")
			[ "$c" = 201 ] && echo "$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["index"])' r$lane) burst $lane $i" >>acked
			i=$((i + 1))
		done
	) &
	eval "lane$lane=\$!"
done
sleep 0.4
kill -9 $pid
wait $pid 2>/dev/null
# shellcheck disable=SC2154
wait $lane0 $lane1 $lane2
n=$(wc -l <acked)
start_node || { fail "vigild restarts after kill -9" "$(cat vigild.err)"; finish; }
pass "vigild restarts after kill -9 ($n appends acknowledged before it)"
sz=$(size)
missing=0
while read -r idx text; do
	[ "$idx" -lt "$sz" ] || { missing=$((missing + 1)); continue; }
	t=$(printf '%03d' $((idx / 256)))
	w=$((sz - idx / 256 * 256))
	if [ $w -ge 256 ]; then path=tile/entries/$t; else path=tile/entries/$t.p/$w; fi
	curl -s "$base/log/$path" | grep -qa "^$text\$" || missing=$((missing + 1))
done <acked
[ $missing = 0 ] && pass "every acknowledged entry is in the log after kill -9 (size $sz)" ||
	fail "every acknowledged entry is in the log after kill -9" "$missing missing, size $sz"
"$VIGIL" admin --server "$base" --token-file var/operator.token log-append --type statement statement.txt >"$out" 2>"$err" &&
	[ "$(size)" = $((sz + 1)) ] &&
	pass "appends go on after the restart" || fail "appends go on after the restart" "$(cat "$err") $(size)"
# --- another site: the log says so ------------------------------------------------------
kill -TERM $pid
wait $pid
node_start vigild -- -c node.conf --data "$tmp/var" --site gva1 || { fail "vigild starts on another site" "$(cat vigild.err)"; finish; }
pid=$node_pid
base=$node_base
n=$(size)
[ "$n" -ge 1 ] && "$VIGIL" log get "$base/log" $((n - 1)) --key "$key" >"$out" 2>"$err" &&
	grep -q 'location-change' "$out" && grep -q 'site gva1; before, in region eu, site zrh1' "$out" &&
	pass "starting on another site appends a location-change entry" ||
	fail "starting on another site appends a location-change entry" "$(cat "$out" "$err")"
kill -TERM $pid
wait $pid
node_start vigild -- -c node.conf --data "$tmp/var" --site gva1 || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
pid=$node_pid
base=$node_base
[ "$(size)" = "$n" ] && pass "a restart with the same settings appends nothing" ||
	fail "a restart with the same settings appends nothing" "$n, then $(size)"
kill -TERM $pid
wait $pid
finish
