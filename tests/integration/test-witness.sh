#!/bin/sh
# test-witness.sh - `vigil witness`, a C2SP tlog-witness, driven with curl
# against the checkpoints of a real vigild: its key and state at first
# start, a first checkpoint and growth with proofs from the node's tiles,
# every status of POST /add-checkpoint with its body and content type, a
# log that forks (signed here with the node's own key), a restart, a
# corrupt state refused, and the command's start-up errors.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${TLOG_TOOL:?TLOG_TOOL must be the path of the tlog_tool binary}"
cd "$tmp" || exit 1

log_node_conf

node_start vigild -- -c node.conf --data "$tmp/var" || {
	fail "vigild starts" "$(cat vigild.err)"
	finish
}
base=$node_base
npid=$node_pid
logkey=$(curl -s -m 10 "$base/log/key")
wpid=

stop_all() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
}

# witness_start [ARGS...]: starts the witness of the node's log on an
# ephemeral port; sets $wpid, $wbase and $wkey.
witness_start() {
	: >w.out
	"$VIGIL" witness --listen 127.0.0.1:0 --state "$tmp/wstate" \
		--key "$tmp/w.key" --log "$logkey" "$@" >>w.out 2>>w.err &
	wpid=$!
	wbase=
	_i=0
	while [ $_i -lt 100 ] && [ -z "$wbase" ]; do
		wbase=$(sed -n 's/^vigil witness listening on \(http:.*\)/\1/p' w.out)
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	wkey=$(sed -n 's/^witness key: //p' w.out)
	[ -n "$wbase" ]
}

# witness_stop: SIGTERM; the exit status in $rc.
witness_stop() {
	kill -TERM "$wpid"
	wait "$wpid"
	rc=$?
	wpid=
}

append() {
	printf 'statement %s\n' "$1" >st.txt
	"$VIGIL" admin --server "$base" --token-file var/operator.token \
		log-append --type statement st.txt >/dev/null 2>&1
}

# checkpoint FILE: the node's signed checkpoint now; its size in $size.
checkpoint() {
	curl -s -m 10 -o "$1" "$base/log/checkpoint"
	size=$(sed -n 2p "$1")
}

# request OLD CPFILE: writes to req the request from OLD to the
# checkpoint in CPFILE, with the consistency proof from the node's tiles.
request() {
	{
		printf 'old %s\n' "$1"
		"$TLOG_TOOL" consistency var/log "$1" "$(sed -n 2p "$2")"
		echo
		cat "$2"
	} >req
}

# post [FILE [PATH [METHOD]]]: sends FILE (default req); the status in
# $code, the body in $out, the content type in $ctype.
post() {
	code=$(curl -s -m 10 -o "$out" -D hdr -w '%{http_code}' \
		-X "${3:-POST}" --data-binary @"${1:-req}" \
		"$wbase${2:-/add-checkpoint}")
	ctype=$(tr -d '\r' <hdr | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
}

# expect_answer CODE CTYPE BODY WHAT: the last answer, exactly.
expect_answer() {
	if [ "$code" = "$1" ] && [ "$ctype" = "$2" ] &&
		[ "$(cat "$out")" = "$3" ]; then
		pass "$4"
	else
		fail "$4" "got $code ($ctype): $(cat "$out")" \
			"want $1 ($2): $3"
	fi
}

expect_cosigned() {
	if [ "$code" = 200 ] && [ "$ctype" = "text/plain; charset=utf-8" ] &&
		[ "$(wc -l <"$out")" = 1 ] &&
		grep -q "^— witness.example/w1 [A-Za-z0-9+/=]*\$" "$out"; then
		pass "$1"
	else
		fail "$1" "got $code ($ctype): $(cat "$out")"
	fi
}

# flip FILE OFFSET OUT: FILE with the byte at OFFSET changed ('A' <-> 'B',
# else 'A'), into OUT. A negative OFFSET counts from the last space.
flip() {
	"$PYTHON" - "$@" <<'PY'
import sys
s = bytearray(open(sys.argv[1], "rb").read())
i = int(sys.argv[2])
if i < 0:
    i = s.rindex(b" ") - i
s[i] = ord("B") if s[i] == ord("A") else ord("A")
open(sys.argv[3], "wb").write(s)
PY
}

T=text/plain\;\ charset=utf-8

# --- start ------------------------------------------------------------------
"$VIGIL" witness --listen 127.0.0.1:0 --state wstate --key w.key \
	--log "$logkey" >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && grep -q 'does not exist; --name NAME creates it' "$err" &&
	[ ! -e w.key ] &&
	pass "without a key file, --name is required (exit 2)" ||
	fail "without a key file, --name is required (exit 2)" "rc $rc: $(cat "$err")"
witness_start --name witness.example/w1 || {
	fail "vigil witness starts" "$(cat w.out w.err)"
	stop_all
	finish
}
pass "vigil witness starts and says where it listens"
case "$wkey" in
witness.example/w1+[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+B*)
	pass "it prints its verifier key, of type 0x04 ('B' in base64)" ;;
*) fail "it prints its verifier key, of type 0x04 ('B' in base64)" "$wkey" ;;
esac
[ "$(stat -c %a w.key)" = 600 ] && grep -q '^PRIVATE+KEY+witness.example/w1+' w.key &&
	pass "the key file is created, mode 0600" ||
	fail "the key file is created, mode 0600" "$(ls -l w.key)"
[ "$(stat -c %a wstate)" = 700 ] && pass "the state directory is created, mode 0700" ||
	fail "the state directory is created, mode 0700" "$(ls -ld wstate)"
grep -q 'event=listening' w.err && grep -q 'event=log origin=vigil.example/eu size=0' w.err &&
	pass "it logs key=value lines: the log, its size, where it listens" ||
	fail "it logs key=value lines: the log, its size, where it listens" "$(cat w.err)"

# --- a first checkpoint and growth ---------------------------------------------
checkpoint cp1
request 0 cp1
t0=$(date +%s)
post
t1=$(date +%s)
expect_cosigned "old 0: the first checkpoint (size $size) is cosigned"
cat cp1 "$out" >cosigned
got=$("$TLOG_TOOL" cosigned cosigned "$logkey" "$wkey" 2>&1)
t=${got##* }
[ "${got% time *}" = "size $size" ] && [ "$t" -ge "$t0" ] && [ "$t" -le "$t1" ] &&
	pass "the cosignature verifies with the witness key and carries the time" ||
	fail "the cosignature verifies with the witness key and carries the time" "$got ($t0..$t1)"
ls wstate | grep -Eq '^[0-9a-f]{64}$' && [ "$(stat -c %a wstate/* | head -1)" = 600 ] &&
	[ "$(stat -c %s wstate/*)" = 80 ] &&
	pass "the state is one 80-byte file, named by a hash of the origin" ||
	fail "the state is one 80-byte file, named by a hash of the origin" "$(ls -l wstate)"
old=$size
for i in 1 2 3 4 5; do append "growth $i" || fail "log-append $i"; done
checkpoint cp2
request "$old" cp2
[ "$(sed -n 2p req)" != "" ] && pass "a consistency proof from the node's tiles ($old to $size)" ||
	fail "a consistency proof from the node's tiles ($old to $size)" "$(cat req)"
post
expect_cosigned "growth from $old to $size with its proof is cosigned"
post
expect_answer 409 text/x.tlog.size "$size" "the same request again: 409, text/x.tlog.size, the size"
request 0 cp2
post
expect_answer 409 text/x.tlog.size "$size" "old 0 from a client that knows nothing: 409 with the size"
request "$size" cp2
post
expect_cosigned "the same checkpoint from its own size: cosigned again"

# --- proofs that do not verify ----------------------------------------------------
old=$size
for i in 1 2 3 4 5 6 7; do append "more $i" || fail "log-append more $i"; done
checkpoint cp3
request "$old" cp3
n=$(($(wc -l <req) - 2 - $(wc -l <cp3)))
[ "$n" -ge 2 ] || fail "a proof of at least 2 hashes from $old to $size" "$n"
# The first character of the second hash changed.
flip req "$(($(head -2 req | wc -c)))" req.tampered
post req.tampered
[ "$code" = 422 ] && [ "$ctype" = "$T" ] &&
	grep -q "^the consistency proof from size $old to size $size does not verify" "$out" &&
	pass "a tampered proof: 422" || fail "a tampered proof: 422" "$code $ctype $(cat "$out")"
awk -v n="$((n + 1))" 'NR != n' req >req.short
post req.short
[ "$code" = 422 ] && grep -q "consistency proof has $((n - 1)) hashes" "$out" &&
	pass "a truncated proof: 422" || fail "a truncated proof: 422" "$code $(cat "$out")"
post
expect_cosigned "the true proof from $old to $size is cosigned"

# --- what is refused before the proof ---------------------------------------------
printf 'other.example/log\n%s\n%s\n' "$size" "$(sed -n 3p cp3)" >other.txt
"$TLOG_TOOL" sign var/log.key other.txt >other.cp
request 0 other.cp
post
expect_answer 404 "$T" "unknown log" "a checkpoint of another origin: 404"
flip cp3 -40 bad.cp
request "$size" bad.cp
post
expect_answer 403 "$T" "no valid signature by the log's key" "a tampered log signature: 403"
head -3 cp3 >text.txt
"$TLOG_TOOL" sign w.key text.txt >wsigned.cp
request "$size" wsigned.cp
post
expect_answer 403 "$T" "no valid signature by the log's key" "a checkpoint not signed by the log's key: 403"
{ printf 'old %s\n\n' $((size + 1)); cat cp3; } >req.above
post req.above
expect_answer 400 "$T" "old size $((size + 1)) is above the checkpoint's size $size" \
	"an old size above the checkpoint's: 400"
for body in 'hello' 'old 01' 'old 5\r' 'old 0\nnot base64'; do
	{ printf "$body\n\n"; cat cp3; } >req.bad
	post req.bad
	[ "$code" = 400 ] && [ "$ctype" = "$T" ] && grep -q '^malformed request: ' "$out" &&
		pass "malformed '$body': 400" || fail "malformed '$body': 400" "$code $(cat "$out")"
done
printf 'old 0\n\nnot a note\n' >req.bad
post req.bad
[ "$code" = 400 ] && grep -q '^malformed checkpoint: ' "$out" &&
	pass "a body that is not a signed checkpoint: 400" ||
	fail "a body that is not a signed checkpoint: 400" "$code $(cat "$out")"

# --- a log that forks ----------------------------------------------------------
# The node's key signs another root at the size the witness cosigned.
printf 'vigil.example/eu\n%s\n%s\n' "$size" "$(sed -n 3p cp1)" >fork.txt
"$TLOG_TOOL" sign var/log.key fork.txt >fork.cp
request "$size" fork.cp
post
[ "$code" = 409 ] && [ "$ctype" = "$T" ] &&
	[ "$(cat "$out")" = "fork: the witness cosigned another root at size $size" ] &&
	pass "another root at the cosigned size: 409, but not text/x.tlog.size" ||
	fail "another root at the cosigned size: 409, but not text/x.tlog.size" "$code ($ctype) $(cat "$out")"
grep -q 'level=warn.*status=409.*fork' w.err &&
	pass "the fork is logged as a warning" || fail "the fork is logged as a warning" "$(tail -3 w.err)"
old=$size
for i in 1 2 3; do append "fork $i"; done
checkpoint cp4
printf 'vigil.example/eu\n%s\n%s\n' "$size" "$(sed -n 3p cp2)" >fork2.txt
"$TLOG_TOOL" sign var/log.key fork2.txt >fork2.cp
request "$old" cp4
{ sed -n '1,/^$/p' req; cat fork2.cp; } >req.fork2
post req.fork2
[ "$code" = 422 ] && grep -q 'does not lead to the new root' "$out" &&
	pass "a larger tree that does not extend the cosigned one: 422" ||
	fail "a larger tree that does not extend the cosigned one: 422" "$code $(cat "$out")"

# --- HTTP ------------------------------------------------------------------------
post req /add-checkpoint GET
[ "$code" = 405 ] && grep -qi '^allow: POST' hdr && pass "GET /add-checkpoint: 405, Allow: POST" ||
	fail "GET /add-checkpoint: 405, Allow: POST" "$code"
post req /checkpoint
[ "$code" = 404 ] && pass "another path: 404" || fail "another path: 404" "$code"
head -c 1100000 /dev/zero >big
post big
[ "$code" = 413 ] && pass "a body over 1 MiB: 413" || fail "a body over 1 MiB: 413" "$code"

# --- restart ---------------------------------------------------------------------
witness_stop
[ $rc = 0 ] && grep -q 'event=stopped' w.err && pass "SIGTERM: the witness exits 0" ||
	fail "SIGTERM: the witness exits 0" "rc $rc"
witness_start || fail "the witness restarts with its key file, without --name" "$(tail -3 w.err)"
[ "$(sed -n 's/^witness key: //p' w.out)" = "$wkey" ] && pass "the same key after a restart" ||
	fail "the same key after a restart" "$(cat w.out)"
request 0 cp4
post
expect_answer 409 text/x.tlog.size "$old" "the state survives the restart: 409 with size $old"
request "$old" cp4
post
expect_cosigned "and it goes on from there"
"$VIGIL" witness --listen 127.0.0.1:0 --state wstate --key w.key --log "$logkey" >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && grep -q 'in use' "$err" && pass "a second witness on the same state: exit 2" ||
	fail "a second witness on the same state: exit 2" "rc $rc: $(cat "$err")"

# --- a corrupt state -------------------------------------------------------------
witness_stop
f=$(ls wstate/* | head -1)
flip "$f" 20 "$f"
witness_start
grep -q 'level=error.*event=log_refused.*checksum does not match' w.err &&
	pass "a corrupt state is reported at start" ||
	fail "a corrupt state is reported at start" "$(tail -3 w.err)"
for o in 0 "$size"; do
	request "$o" cp4
	post
	[ "$code" = 500 ] && grep -q '^the witness cannot serve this log: ' "$out" &&
		pass "a corrupt state refuses the log (old $o): 500" ||
		fail "a corrupt state refuses the log (old $o): 500" "$code $(cat "$out")"
done
witness_stop

# --- start-up errors -------------------------------------------------------------
"$VIGIL" witness --listen 127.0.0.1:0 --state wstate2 --key var/log.key --log "$logkey" >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && grep -q 'not a cosigner key' "$err" && pass "a log key as the witness key: exit 2" ||
	fail "a log key as the witness key: exit 2" "rc $rc: $(cat "$err")"
"$VIGIL" witness --listen 127.0.0.1:0 --state wstate2 --key w.key --log "$wkey" >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && grep -q 'not a log key' "$err" && pass "a cosigner key as a log key: exit 2" ||
	fail "a cosigner key as a log key: exit 2" "rc $rc: $(cat "$err")"
"$VIGIL" witness --listen 127.0.0.1:0 --state wstate2 --key w.key --name other.example/w >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && pass "no --log: exit 2" || fail "no --log: exit 2" "rc $rc"
"$VIGIL" witness --listen 127.0.0.1:0 --state wstate2 --key w.key --name other.example/w \
	--log "$logkey" >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && grep -q 'not of --name other.example/w' "$err" &&
	pass "--name that is not the key's: exit 2" ||
	fail "--name that is not the key's: exit 2" "rc $rc: $(cat "$err")"
"$VIGIL" witness --listen 127.0.0.1 --state wstate2 --key w.key --log "$logkey" >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && grep -q 'ADDR:PORT' "$err" && pass "--listen without a port: exit 2" ||
	fail "--listen without a port: exit 2" "rc $rc: $(cat "$err")"

stop_all
finish
