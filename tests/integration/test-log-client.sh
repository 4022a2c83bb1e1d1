#!/bin/sh
# test-log-client.sh - the verifying client `vigil log` against the real
# vigild: a checkpoint verified and stored; entries fetched, proven and
# decoded (also as JSON); inclusion by index and by the entry's bytes; a
# tlog-proof written, verified offline, and refused once a byte of it or
# of the entry changes or it is cut short; wrong keys and too few
# witnesses refused (exit 2); tail following appends; and the log lying:
# two nodes grown from one copied log (a fork, at a larger and at the same
# size) and a static copy of the log with a tampered tile or entry bundle
# (exit 3, SECURITY, with the evidence).
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
cd "$tmp" || exit 1
VIGIL_HOME=$tmp/home
export VIGIL_HOME
# The client's state for an origin and a key (docs/LOG.md): the key's
# directory is named by the first 16 bytes of the SHA-256 of its verifier
# key string, in hex.
keydir() {
	printf '%s' "$1" | sha256sum | cut -c1-32
}

log_node_conf
sed 's|vigil.example/eu|vigil.example/us|; s|region = eu|region = us|' node.conf >us.conf

pids=
stop_all() {
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	pids=
}
trap 'stop_all; cleanup' EXIT

# start NAME CONF: vigild on $tmp/NAME; sets $base and $pid.
start() {
	node_start "$1" -- -c "$2" --data "$tmp/$1" || {
		fail "vigild $1 starts" "$(cat "$1.err")"
		finish
	}
	base=$node_base
	pid=$node_pid
	pids="$pids $pid"
}

stop() {
	kill -TERM "$1"
	wait "$1"
}

# append BASE NAME FILE: a statement, with node NAME's operator token.
append() {
	"$VIGIL" admin --server "$1" --token-file "$tmp/$2/operator.token" \
		log-append --type statement "$3" >/dev/null 2>"$err" ||
		fail "append $3 to $2" "$(cat "$err")"
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

# entry_of URL N FILE: entry N's bytes, from its bundle.
entry_of() {
	"$PYTHON" - "$1" "$2" "$3" <<'PY'
import sys, urllib.request
base, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size = int(urllib.request.urlopen(base + "/checkpoint").read().split(b"\n")[1])
t = n // 256
w = min(256, size - t * 256)
b = urllib.request.urlopen("%s/tile/entries/%03d%s" % (base, t, "" if w == 256 else ".p/%d" % w)).read()
off = 0
for i in range(n % 256 + 1):
    l = b[off] * 256 + b[off + 1]
    e = b[off + 2:off + 2 + l]
    off += 2 + l
open(out, "wb").write(e)
PY
}

# --- a node, its key, three statements -------------------------------------------
start a node.conf
a_base=$base
a_pid=$pid
key=$(curl -s -m 10 "$a_base/log/key")
printf '%s\n' "$key" >key.txt
kdir=vigil.example%2Feu/$(keydir "$key")
state="$VIGIL_HOME/logs/$kdir/checkpoint"
printf 'Statement one: the first disclosure.\n' >s1.txt
printf 'Statement two.\n\tWith a tab, and a second line.\n' >s2.txt
append "$a_base" a s1.txt
append "$a_base" a s2.txt

# --- checkpoint ------------------------------------------------------------------
vlog checkpoint "$a_base/log" --key "$key"
check "checkpoint: verified, prints origin, size, root" 0 '^size 3$'
if grep -qx 'origin vigil.example/eu' "$out" &&
	grep -Eqx 'root [A-Za-z0-9+/]{43}=' "$out"; then
	pass "checkpoint: origin and a base64 root"
else
	fail "checkpoint: origin and a base64 root" "$(cat "$out")"
fi
curl -s -m 10 "$a_base/log/checkpoint" >served.cp
cmp -s served.cp "$state" && [ "$(stat -c %a "$state")" = 600 ] &&
	pass "checkpoint: stored verbatim in \$VIGIL_HOME/logs/<origin>/<key>/checkpoint" ||
	fail "checkpoint: stored verbatim in \$VIGIL_HOME/logs/<origin>/<key>/checkpoint" "$(ls -lR "$VIGIL_HOME")"
[ "$(cat "$VIGIL_HOME/logs/vigil.example%2Feu/key")" = "$key" ] &&
	pass "checkpoint: the origin's key recorded in \$VIGIL_HOME/logs/<origin>/key" ||
	fail "checkpoint: the origin's key recorded in \$VIGIL_HOME/logs/<origin>/key" "$(ls -lR "$VIGIL_HOME")"
vlog checkpoint "$a_base/log" --key-file key.txt
check "checkpoint --key-file: the same" 0 '^size 3$'
vlog checkpoint "$a_base" --key "$key"
check "a URL that is not the log's prefix: exit 2" 2 '' 'not found'

# --- get ------------------------------------------------------------------------------
vlog get "$a_base/log" 2 --key "$key"
check "get 2: the decoded statement" 0 '^  type +statement$'
grep -q '^  body       Statement two\.$' "$out" && grep -q 'With a tab, and a second line\.$' "$out" &&
	grep -q '^  time       20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T' "$out" &&
	pass "get 2: its time and its body, line by line" ||
	fail "get 2: its time and its body, line by line" "$(cat "$out")"
vlog get "$a_base/log" 0 --key "$key"
check "get 0: the node entry with its fields" 0 '^  log-key +vigil\.example/eu\+'
vlog get "$a_base/log" 1 --key "$key" --json
check "get 1 --json: exit 0" 0
jcheck "$out" 'len(rs) == 1 and r["index"] == 1 and r["type"] == "statement" and r["body"] == "Statement one: the first disclosure.\n" and r["time"].endswith("Z")' \
	"get 1 --json: index, type, time, body"
vlog get "$a_base/log" 3 --key "$key"
check "get 3 of a log of 3: not in the log (exit 1)" 1 '' 'entry 3 is not in vigil.example/eu'

# --- verify -----------------------------------------------------------------------------
vlog verify "$a_base/log" --key "$key" --index 2
check "verify --index 2" 0 '^entry 2 is in vigil\.example/eu at size 3$'
entry_of "$a_base/log" 2 e2.entry
vlog verify "$a_base/log" --key "$key" --entry e2.entry
check "verify --entry: found by its bytes" 0 '^entry 2 is in vigil\.example/eu at size 3$'
sed 's/two/2/' e2.entry >e2x.entry
vlog verify "$a_base/log" --key "$key" --entry e2x.entry
check "verify --entry of bytes not in the log: exit 1" 1 '' 'not in vigil\.example/eu'

vlog verify "$a_base/log" --key "$key" --index 2 --proof-out e2.tlog-proof
check "verify --proof-out: written" 0 '^entry 2 is in'
[ "$(sed -n 1p e2.tlog-proof)" = c2sp.org/tlog-proof@v1 ] && [ "$(sed -n 2p e2.tlog-proof)" = "index 2" ] &&
	tail -n +3 e2.tlog-proof | grep -q '^vigil.example/eu$' &&
	pass "the proof file: tlog-proof@v1, index, hashes, the signed checkpoint" ||
	fail "the proof file: tlog-proof@v1, index, hashes, the signed checkpoint" "$(cat e2.tlog-proof)"
vlog verify --proof e2.tlog-proof --entry e2.entry --key "$key"
check "verify --proof offline: verified" 0 '^entry 2 is in vigil\.example/eu at size 3$'
# A hash changed (a base64 digit of the first hash line: still base64).
awk 'NR == 3 { c = substr($0, 1, 1); $0 = (c == "A" ? "B" : "A") substr($0, 2) } { print }' \
	e2.tlog-proof >bad.tlog-proof
vlog verify --proof bad.tlog-proof --entry e2.entry --key "$key"
check "a proof with a changed hash: does not prove the entry (exit 1)" 1 '' 'does not prove this entry'
vlog verify --proof e2.tlog-proof --entry e2x.entry --key "$key"
check "a proof of another entry's bytes: does not prove it (exit 1)" 1 '' 'does not prove this entry'
head -c 150 e2.tlog-proof >cut.tlog-proof
vlog verify --proof cut.tlog-proof --entry e2.entry --key "$key"
check "a truncated proof file: refused (exit 2)" 2 '' 'not a valid c2sp.org/tlog-proof@v1'

# --- witnesses ----------------------------------------------------------------------------
# A cosigner key (type 0x04) named witness.example, with the log's point.
wkey=$("$PYTHON" - "$key" <<'PY'
import base64, hashlib, sys
name, kid, b = sys.argv[1].split("+", 2)
pub = base64.b64decode(b)[1:]
w = b"witness.example"
kid = hashlib.sha256(w + b"\n" + b"\x04" + pub).digest()[:4]
print("%s+%s+%s" % (w.decode(), kid.hex(), base64.b64encode(b"\x04" + pub).decode()))
PY
)
vlog checkpoint "$a_base/log" --key "$key" --witness "$wkey" --quorum 1
check "a quorum of 1 that no witness cosigned: too few witnesses (exit 2)" 2 '' 'too few witnesses: 0 of the 1'
vlog checkpoint "$a_base/log" --key "$key" --witness "$wkey"
check "the same witness with the default quorum 0: verified" 0 '^size 3$'

# --- tail ------------------------------------------------------------------------------------
printf 'Statement three.\n' >s3.txt
printf 'Statement four.\n' >s4.txt
VIGIL_HOME=$tmp/tailhome timeout 60 "$VIGIL" log tail "$a_base/log" --key "$key" \
	--interval 0.2 --count 2 >tail.out 2>tail.err &
tpid=$!
i=0
while [ $i -lt 100 ] && [ ! -f "$tmp/tailhome/logs/$kdir/checkpoint" ]; do
	sleep 0.1
	i=$((i + 1))
done
append "$a_base" a s3.txt
sleep 0.5
append "$a_base" a s4.txt
wait $tpid
rc=$?
if [ $rc = 0 ] && [ "$(grep -c '^entry ' tail.out)" = 2 ] &&
	grep -q '^entry 3 of vigil.example/eu' tail.out && grep -q 'Statement three\.' tail.out &&
	grep -q '^entry 4 of vigil.example/eu' tail.out && grep -q 'Statement four\.' tail.out; then
	pass "tail --count 2: the two entries appended while it runs, then exit 0"
else
	fail "tail --count 2: the two entries appended while it runs, then exit 0" \
		"rc $rc" "$(cat tail.out tail.err)"
fi
vlog tail "$a_base/log" --key "$key" --from 1 --count 2 --json
check "tail --from 1 --count 2 --json: entries 1 and 2" 0
jcheck "$out" '[x["index"] for x in rs] == [1, 2] and rs[1]["body"].startswith("Statement two.")' \
	"tail --json: one object per entry, in order"

# --- another log's key ---------------------------------------------------------------------
start c us.conf
c_base=$base
c_pid=$pid
c_key=$(curl -s -m 10 "$c_base/log/key")
vlog checkpoint "$c_base/log" --key "$key"
check "a checkpoint signed by another key (another log): exit 2" 2 '' "not signed by the log's key vigil\\.example/eu\\+"
vlog checkpoint "$a_base/log" --key "$c_key"
check "the log checked with a wrong key: exit 2" 2 '' "not signed by the log's key vigil\\.example/us\\+"
vlog get "$a_base/log" 1 --key "$c_key"
check "get with a wrong key: exit 2" 2 '' 'not signed by'
vlog verify --proof e2.tlog-proof --entry e2.entry --key "$c_key"
check "an offline proof with a wrong key: exit 2" 2 '' 'not signed by'
stop "$c_pid"

# --- a fork: two nodes grown from one copied log ----------------------------------------------
stop "$a_pid"
cp -a a b
start a node.conf
a_base=$base
a_pid=$pid
start b node.conf
b_base=$base
b_pid=$pid
printf 'Only on node A.\n' >fa.txt
printf 'Only on node B.\n' >fb.txt
append "$a_base" a fa.txt
append "$b_base" b fb.txt
append "$b_base" b fb.txt
VIGIL_HOME=$tmp/forkhome
vlog checkpoint "$a_base/log" --key "$key"
check "fork: node A's checkpoint (size 6) verifies" 0 '^size 6$'
curl -s -m 10 "$a_base/log/checkpoint" >a.cp
curl -s -m 10 "$b_base/log/checkpoint" >b.cp
vlog checkpoint "$b_base/log" --key "$key"
check "fork: node B's (size 7) does not extend it: SECURITY, exit 3" 3 '' '^vigil: SECURITY: the log vigil\.example/eu has forked'
cat >evidence.py <<'PY'
import re, sys
a, b, e = (open(p, encoding="utf-8").read() for p in sys.argv[1:])
m = re.search(r"--- consistency proof from size 6 to size 7[^\n]*\n"
              r"(?:[A-Za-z0-9+/]{43}=\n)+--- end of evidence", e)
sys.exit(0 if a in e and b in e and m else 1)
PY
if "$PYTHON" evidence.py a.cp b.cp "$err"; then
	pass "fork: stderr holds both checkpoints in full and the proof"
else
	fail "fork: stderr holds both checkpoints in full and the proof"
	show_last
fi
cmp -s a.cp "$tmp/forkhome/logs/$kdir/checkpoint" &&
	pass "fork: the checkpoint seen before is kept" ||
	fail "fork: the checkpoint seen before is kept"
append "$a_base" a fa.txt
vlog checkpoint "$a_base/log" --key "$key"
check "fork: node A grows to 7 and verifies" 0 '^size 7$'
vlog checkpoint "$b_base/log" --key "$key"
check "fork: two trees of size 7: SECURITY, exit 3" 3 '' 'signed two different trees of size 7'
vlog get "$b_base/log" 6 --key "$key"
check "fork: get from node B refuses too (exit 3)" 3 '' 'SECURITY'
stop "$b_pid"
VIGIL_HOME=$tmp/home

# --- a static copy of the log, tampered ------------------------------------------------------
cp -a a/log served
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PYTHON" -m http.server --bind 127.0.0.1 --directory served "$port" >http.log 2>&1 &
pids="$pids $!"
static="http://127.0.0.1:$port"
i=0
while [ $i -lt 100 ] && ! curl -s -f -o /dev/null "$static/checkpoint"; do
	sleep 0.1
	i=$((i + 1))
done
VIGIL_HOME=$tmp/statichome
vlog checkpoint "$static" --key "$key"
check "a static copy of the log (python http.server): verified" 0 '^size 7$'
vlog get "$static" 5 --key "$key"
check "a static copy: get 5" 0 'Only on node A\.'
cp served/tile/0/000.p/7 tile.orig
"$PYTHON" -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[100] ^= 1; open(p, "wb").write(b)' \
	served/tile/0/000.p/7
vlog checkpoint "$static" --key "$key"
check "a hash tile that does not hash to the checkpoint: SECURITY, exit 3" 3 '' 'SECURITY: the tiles .* hash to the root'
VIGIL_HOME=$tmp/statichome2
vlog checkpoint "$static" --key "$key"
check "the same on first contact: exit 3, nothing stored" 3 '' 'SECURITY'
[ -f "$tmp/statichome2/logs/$kdir/checkpoint" ] &&
	fail "the same on first contact: exit 3, nothing stored" ||
	pass "a checkpoint whose tiles do not match is not stored"
cp tile.orig served/tile/0/000.p/7
"$PYTHON" -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-3] ^= 1; open(p, "wb").write(b)' \
	served/tile/entries/000.p/7
VIGIL_HOME=$tmp/statichome
vlog checkpoint "$static" --key "$key"
check "a tampered entry bundle leaves the checkpoint verified" 0 '^size 7$'
vlog get "$static" 6 --key "$key"
check "get of a tampered entry: SECURITY, exit 3" 3 '' 'SECURITY: the entry bundle tile/entries/000\.p/7'
vlog verify "$static" --key "$key" --index 6
check "verify of a tampered entry: exit 3" 3 '' 'SECURITY'

# --- no answer -------------------------------------------------------------------------------------
stop "$a_pid"
vlog checkpoint "$a_base/log" --key "$key"
check "no answer: exit 2" 2 '' 'vigil: http://127\.0\.0\.1:[0-9]+/log/checkpoint: '
vlog checkpoint "$a_base/log"
check "no key: a usage error (exit 2)" 2 '' '--key'

stop_all
finish
