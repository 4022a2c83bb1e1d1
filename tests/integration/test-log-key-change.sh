#!/bin/sh
# test-log-key-change.sh - `vigil log` keeps what it verified per origin
# and key (docs/LOG.md, "Keys"): two fresh vigild nodes configured with
# the same [log] origin, each with its own key, are a key change (exit 4,
# both keys named, how to accept the new one), not a fork (exit 3), until
# the new key is accepted with --accept-key; a node whose key is replaced
# is followed through the key handover both keys signed, which the node
# serves (and tlog_tool, from the two key files, makes the same), and,
# from a copy of the log without one, is a key change; a state kept per
# origin only, as before, is moved to the key that signed it.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${TLOG_TOOL:?TLOG_TOOL must be the path of tests/tools/tlog_tool}"
cd "$tmp" || exit 1
VIGIL_HOME=$tmp/home
export VIGIL_HOME
origin=vigil.test/eu
odir=vigil.test%2Feu
# Both nodes name the origin themselves: nothing depends on the default.
printf '[node]\nregion = eu\nsite = zrh1\nworkers = 1\n[log]\norigin = %s\n' \
	"$origin" >node.conf

pids=
stop_all() {
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	pids=
}
trap 'stop_all; cleanup' EXIT

# start NAME: vigild on $tmp/NAME; sets $base and $pid.
start() {
	node_start "$1" -- -c node.conf --data "$tmp/$1" || {
		fail "vigild $1 starts" "$(cat "$1.err")"
		finish
	}
	base=$node_base
	pid=$node_pid
	pids="$pids $pid"
}

# vlog ARGS...: `vigil log ARGS`, stdout in $out, stderr in $err, $rc.
vlog() {
	timeout 60 "$VIGIL" log "$@" >"$out" 2>"$err"
	rc=$?
}

# check WHAT RC [GREP-E-ON-STDOUT [GREP-E-ON-STDERR]]
check() {
	if [ "$rc" = "$2" ] && { [ -z "$3" ] || grep -Eq -e "$3" "$out"; } &&
		{ [ -z "$4" ] || grep -Eq -e "$4" "$err"; }; then
		pass "$1"
	else
		fail "$1" "want exit $2, stdout /$3/, stderr /$4/"
		show_last
	fi
}

# has WHAT STRING...: every STRING is in stderr, and no SECURITY.
has() {
	what=$1
	shift
	for s in "$@"; do
		if ! grep -qF -e "$s" "$err"; then
			fail "$what" "stderr lacks: $s"
			show_last
			return
		fi
	done
	if grep -q SECURITY "$err"; then
		fail "$what" "a SECURITY failure"
		show_last
		return
	fi
	pass "$what"
}

# key_is HOME KEY WHAT: the key recorded for the origin under HOME.
key_is() {
	if [ "$(cat "$1/logs/$odir/key" 2>/dev/null)" = "$2" ]; then
		pass "$3"
	else
		fail "$3" "recorded: $(cat "$1/logs/$odir/key" 2>&1)"
	fi
}

keydir() {
	printf '%s' "$1" | sha256sum | cut -c1-32
}

# --- two fresh nodes, one origin, two keys ---------------------------------------
start a
a_base=$base
a_pid=$pid
start b
b_base=$base
k1=$(curl -s -m 10 "$a_base/log/key")
k2=$(curl -s -m 10 "$b_base/log/key")
case "$k1 $k2" in
"$origin+"*" $origin+"*) [ "$k1" != "$k2" ] &&
	pass "two nodes of the origin $origin, each with its own key" ||
	fail "two nodes of the origin $origin, each with its own key" "$k1 $k2" ;;
*) fail "two nodes of the origin $origin, each with its own key" "$k1 $k2" ;;
esac

vlog checkpoint "$a_base/log" --key "$k1"
check "the first node's checkpoint verifies" 0 "^origin $origin\$"
key_is "$VIGIL_HOME" "$k1" "its key is recorded for the origin"
cp "$VIGIL_HOME/logs/$odir/$(keydir "$k1")/checkpoint" a.seen

vlog checkpoint "$b_base/log" --key "$k2"
check "the second node, with its key: a key change, exit 4, not a fork" 4 '' \
	"the key of the log vigil\\.test/eu changed"
has "the key change names both keys and how to accept the new one" \
	"$k1" "$k2" "--accept-key $k2" "not a fork"
key_is "$VIGIL_HOME" "$k1" "the key change records nothing"
cmp -s a.seen "$VIGIL_HOME/logs/$odir/$(keydir "$k1")/checkpoint" &&
	pass "the first key's checkpoint is kept" ||
	fail "the first key's checkpoint is kept"

vlog checkpoint "$b_base/log" --key "$k1"
check "the second node given the first key: exit 4" 4
has "the key the log serves at /log/key is named" "$k1" "$k2" "--accept-key $k2"

vlog checkpoint "$b_base/log" --accept-key "$k2"
check "--accept-key: the second node's key accepted" 0 "^origin $origin\$" \
	'in place of'
key_is "$VIGIL_HOME" "$k2" "the accepted key is recorded for the origin"
vlog checkpoint "$b_base/log" --key "$k2"
check "the accepted key goes on verifying, quietly" 0 "^origin $origin\$"
[ -s "$err" ] && fail "no notice once accepted" "$(cat "$err")" ||
	pass "no notice once accepted"
vlog get "$b_base/log" 0 --key "$k2"
check "get under the accepted key" 0 '^  type +node$'
vlog checkpoint "$a_base/log" --key "$k1"
check "the first node is now the other key: exit 4" 4
has "it says how to accept the first key again" "--accept-key $k1"
vlog checkpoint "$b_base/log" --key "$k2" --accept-key "$k1"
check "--accept-key and another --key: a usage error" 2 '' 'give only one'
"$VIGIL" log --help >"$out" 2>&1
grep -q -- '--accept-key VKEY' "$out" && grep -q '4 the log.s key changed' "$out" &&
	pass "usage: --accept-key and exit status 4" ||
	fail "usage: --accept-key and exit status 4" "$(cat "$out")"

# --- a node's key replaced, followed through a handover -----------------------------------
VIGIL_HOME=$tmp/home2
printf 'A statement under the first key.\n' >s1.txt
"$VIGIL" admin --server "$a_base" --token-file "$tmp/a/operator.token" \
	log-append --type statement s1.txt >/dev/null 2>"$err" ||
	fail "append to a" "$(cat "$err")"
vlog checkpoint "$a_base/log" --key "$k1"
check "a client sees the node at size 2" 0 '^size 2$'
VIGIL_HOME=$tmp/home3 vlog checkpoint "$a_base/log" --key "$k1"
check "another client sees it too" 0 '^size 2$'
curl -s -m 10 "$a_base/log/checkpoint" >old.cp
kill -TERM "$a_pid"
wait "$a_pid"
cp a/log.key old.key
mv a/log.key a/log.key.old
start a
a_base=$base
k3=$(curl -s -m 10 "$a_base/log/key")
[ "$k3" != "$k1" ] && pass "the node handed its log over to a new key" ||
	fail "the node handed its log over to a new key" "$k3"
curl -s -m 10 -o handover "$a_base/log/handover"
if "$TLOG_TOOL" handover old.key a/log.key old.cp >tool.handover 2>"$err" &&
	"$TLOG_TOOL" handover-check tool.handover "$origin" "$k1" >tool.out &&
	"$TLOG_TOOL" handover-check handover "$origin" "$k1" >node.out &&
	cmp -s tool.out node.out && grep -qxF "new $k3" node.out; then
	pass "the node's handover and tlog_tool's, from the two key files, name the same key and tree"
else
	fail "the node's handover and tlog_tool's name the same key and tree" "$(cat "$err" tool.out node.out 2>/dev/null)"
fi

vlog checkpoint "$a_base/log" --key "$k1"
check "a handover signed by both keys is followed" 0 '^size 3$' 'changed its key'
has "the notice names both keys" "$k1" "$k3"
key_is "$tmp/home2" "$k3" "the new key is recorded for the origin"
cmp -s handover "$tmp/home2/logs/$odir/$(keydir "$k3")/handover" &&
	pass "the handover is kept with the new key's state" ||
	fail "the handover is kept with the new key's state"
vlog checkpoint "$a_base/log" --key "$k1"
check "then, given the old key: checked with the new one" 0 \
	'^size 3$' 'recorded'

# A copy of the log that serves no handover: a key change, exit 4.
cp -a a/log served
curl -s -m 10 -o served/key "$a_base/log/key"
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PYTHON" -m http.server --bind 127.0.0.1 --directory served "$port" >http.log 2>&1 &
pids="$pids $!"
static="http://127.0.0.1:$port"
i=0
while [ $i -lt 100 ] && ! curl -s -f -o /dev/null "$static/checkpoint"; do
	sleep 0.1
	i=$((i + 1))
done
VIGIL_HOME=$tmp/home3 vlog checkpoint "$static" --key "$k1"
check "without a handover: a key change, exit 4" 4 '' 'serves no key handover'
has "it names both keys" "$k1" "$k3" "--accept-key $k3"

# --- a state from before keys were recorded -----------------------------------------------------
mkdir -p "$tmp/home4/logs/$odir"
curl -s -m 10 "$b_base/log/checkpoint" >"$tmp/home4/logs/$odir/checkpoint"
VIGIL_HOME=$tmp/home4 vlog checkpoint "$b_base/log" --key "$k2"
check "a state kept per origin only is read" 0 "^origin $origin\$"
[ ! -e "$tmp/home4/logs/$odir/checkpoint" ] &&
	[ -s "$tmp/home4/logs/$odir/$(keydir "$k2")/checkpoint" ] &&
	pass "it is moved to the key that signed it" ||
	fail "it is moved to the key that signed it" "$(ls -lR "$tmp/home4")"
key_is "$tmp/home4" "$k2" "and that key is recorded"

stop_all
finish
