#!/bin/sh
# test-release-update.sh - signed releases from key generation to an
# endpoint scanning with the new rules, on the real vigild and the real
# `vigil release` and `vigil update`; then every attack of
# docs/RELEASES.md shown refused, each with its own exit code, the
# installed rules untouched: an unknown key, too few signatures, a
# rollback, a freeze, mix-and-match, endless data, another hash, a release
# missing from the log, a split view of the log, too few witnesses; and
# root rotation, including one that removes a compromised key; and the
# log's key replaced (20 until the new key is accepted).
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${RELEASE_TOOL:?RELEASE_TOOL must be the path of release_tool}"
cd "$tmp" || exit 1

log_node_conf

stop_node() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# v ARGS...: runs vigil with its output in $out and $err, status in $rc.
v() {
	timeout 300 "$VIGIL" "$@" >"$out" 2>"$err"
	rc=$?
}

# later OFFSET ARGS...: runs vigil as if the clock were OFFSET ahead
# ("+2d"), with libfaketime; ASan then is not the first library loaded.
later() {
	_offset=$1
	shift
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		faketime -f "$_offset" "$VIGIL" "$@" >"$out" 2>"$err"
	rc=$?
}

# expect N WHAT: the last command exited with N.
expect() {
	if [ "$rc" -eq "$1" ]; then
		pass "$2"
		# What it said, for whoever reads the log.
		[ "$1" -eq 0 ] || head -n 1 "$err" | sed 's/^/#   /'
	else
		fail "$2" "expected exit status $1, got $rc"
		show_last
	fi
}

# expect_err ERE WHAT: the last command's stderr matches ERE.
expect_err() {
	if grep -Eq -e "$1" "$err"; then
		pass "$2"
	else
		fail "$2" "stderr does not match: $1"
		show_last
	fi
}

# edit IN OUT OPS...: rewrites a release container. OPS: drop PATH,
# set PATH FILE, append PATH TEXT, flip PATH (one byte changed), take
# PREFIX OTHER (every file under PREFIX from container OTHER instead).
edit() {
	$PYTHON - "$@" <<'PY'
import sys
def read(p):
    b = open(p, 'rb').read()
    assert b.startswith(b'vigil.release-bundle/v1\n')
    i, files = 24, []
    while not b.startswith(b'end\n', i):
        nl = b.index(b'\n', i)
        _, path, n = b[i:nl].decode().split(' ')
        n = int(n)
        files.append([path, b[nl + 1:nl + 1 + n]])
        i = nl + 1 + n + 1
    return files
src, dst, ops = sys.argv[1], sys.argv[2], sys.argv[3:]
files = read(src)
find = lambda p: [f for f in files if f[0] == p][0]
while ops:
    op = ops.pop(0)
    if op == 'drop':
        p = ops.pop(0); files = [f for f in files if f[0] != p]
    elif op == 'set':
        p, fn = ops.pop(0), ops.pop(0); find(p)[1] = open(fn, 'rb').read()
    elif op == 'append':
        p, t = ops.pop(0), ops.pop(0); find(p)[1] += t.encode()
    elif op == 'flip':
        f = find(ops.pop(0)); d = bytearray(f[1]); d[len(d) // 2] ^= 1; f[1] = bytes(d)
    elif op == 'take':
        pre, other = ops.pop(0), read(ops.pop(0))
        files = [f for f in files if not f[0].startswith(pre)] + \
                [f for f in other if f[0].startswith(pre)]
    elif op == 'get':
        sys.stdout.buffer.write(find(ops.pop(0))[1]); sys.exit(0)
with open(dst, 'wb') as o:
    o.write(b'vigil.release-bundle/v1\n')
    for p, d in files:
        o.write(b'file %s %d\n' % (p.encode(), len(d)) + d + b'\n')
    o.write(b'end\n')
PY
}

# --- rules for the releases: small, with fixtures, and a small corpus ---------------
mkdir -p rules1/fixtures corpus
write_rule rules1/alpha.yar Test_Alpha 'alpha-marker-1f3b'
printf 'xx alpha-marker-1f3b xx\n' >rules1/fixtures/Test_Alpha
cp /bin/true /bin/false corpus/
printf 'a plain text file\n' >corpus/readme.txt
cp -r rules1 rules2
write_rule rules2/beta.yar Test_Beta 'beta-marker-7c2e'
printf 'xx beta-marker-7c2e xx\n' >rules2/fixtures/Test_Beta
printf 'xx beta-marker-7c2e xx\n' >beta-sample.txt

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
logkey=$(curl -s "$base/log/key")
curl -s -o online.pub "$base/v1/releases/online-key.json"
tok=var/operator.token

# --- keys ----------------------------------------------------------------------
for k in root1 root2 root3 root4 targets1 targets2 targets3 stranger; do
	v release keygen --out "keys/$k" || { fail "keygen $k" "$(cat "$err")"; finish; }
done
[ "$(stat -c %a keys/root1.key)" = 600 ] &&
	pass "release keygen writes the secret key with mode 0600" ||
	fail "release keygen writes the secret key with mode 0600" "$(ls -l keys)"

# --- the first release, and thresholds at publish time ------------------------------
v release init rel --root-key keys/root1.pub --root-key keys/root2.pub \
	--root-key keys/root3.pub --root-threshold 2 \
	--targets-key keys/targets1.pub --targets-key keys/targets2.pub \
	--targets-threshold 2 --online-key online.pub
expect 0 "release init stages root version 1"
v release stage rel --rules rules1 --version 1 --corpus corpus
expect 0 "release stage runs the rule check and stages the rule bundle"
v release sign rel --key keys/root1.key
v release sign rel --key keys/targets1.key
expect 0 "a key holder signs what they may sign"
v release sign rel --key keys/stranger.key
expect 1 "a key that may sign nothing staged is refused"
v release publish rel --server "$base" --token-file "$tok"
expect 1 "publish refuses a root below its threshold"
expect_err 'threshold' "... and says which threshold is not met"
v release sign rel --key keys/root2.key
v release publish rel --server "$base" --token-file "$tok"
expect 1 "publish refuses targets below their threshold"
v release sign rel --key keys/targets2.key
v release publish rel --server "$base" --token-file "$tok"
expect 0 "publish sends a release signed by both thresholds"
[ -f rel/1.root.json ] && [ -f rel/targets.json ] && [ ! -e rel/staged/targets.json ] &&
	pass "published manifests leave the staging area" ||
	fail "published manifests leave the staging area" "$(find rel | sort)"

# --- an endpoint installs it -----------------------------------------------------
ep() { VIGIL_HOME=$tmp/ep$1; export VIGIL_HOME; }
ep 1
v update --init --server "$base" --root rel/1.root.json --log-key "$logkey"
expect 0 "update --init pins the first root and the log's key"
v update
expect 0 "update verifies and installs rule release 1"
[ "$(readlink "$VIGIL_HOME/rules")" = rules.d/1 ] &&
	pass "the rules are installed behind an atomic link" ||
	fail "the rules are installed behind an atomic link" "$(ls -l "$VIGIL_HOME")"
v update
expect 0 "a second update finds the rules up to date"
grep -q 'up to date' "$out" && pass "... and says so" || fail "... and says so" "$(cat "$out")"
v release bundle --server "$base" --out b1
expect 0 "release bundle writes release 1 into one file"

# --- release 2, online and from a bundle ---------------------------------------------
v release stage rel --rules rules2 --version 2 --corpus corpus
v release sign rel --key keys/targets1.key
v release sign rel --key keys/targets2.key
v release publish rel --server "$base" --token-file "$tok"
expect 0 "release 2 is published"
v release bundle --server "$base" --out b2
expect 0 "release bundle writes release 2"
# A running scanner, told to reload.
sh -c 'trap "echo reloaded >hup.txt; exit 0" HUP; while :; do sleep 0.1; done' &
scanner=$!
sleep 0.3
v update --notify-pid "$scanner"
expect 0 "update installs release 2"
i=0
while [ $i -lt 50 ] && [ ! -s hup.txt ]; do sleep 0.1; i=$((i + 1)); done
[ -s hup.txt ] && pass "... and tells the running scanner to reload (SIGHUP)" ||
	fail "... and tells the running scanner to reload (SIGHUP)"
kill "$scanner" 2>/dev/null
wait "$scanner" 2>/dev/null
v scan --json beta-sample.txt
jcheck "$out" "r['detections'] == ['Test_Beta']" \
	"the endpoint scans with the new rules: release 2's rule fires"
grep -q "Default rules: $VIGIL_HOME/rules (installed)" "$err" &&
	pass "... and says it scans with the installed rules" ||
	fail "... and says it scans with the installed rules" "$(cat "$err")"

# --- a software release: programs, source and provenance, logged ---------------------
v release keygen --out keys/builder
mkdir -p sw
cp "$VIGIL" sw/vigil
printf 'source of the release\n' >sw/README
tar -C sw -czf sw/vigil-0.9.0.tar.gz README
SOURCE_DATE_EPOCH=1700000000 v release provenance --key keys/builder.key --out sw/prov.json \
	--commit 0123456789abcdef0123456789abcdef01234567 \
	--tree 89abcdef0123456789abcdef0123456789abcdef \
	--source-uri https://vigil.example/vigil.git sw/vigil
expect 0 "release provenance signs the build's statement"
v release stage rel --software --version 0.9.0 --program sw/vigil \
	--source sw/vigil-0.9.0.tar.gz --provenance sw/prov.json
expect 0 "release stage --software stages programs, source and provenance"
v release sign rel --key keys/targets1.key
v release sign rel --key keys/targets2.key
v release publish rel --server "$base" --token-file "$tok"
expect 0 "the software release is published"
curl -s "$base/v1/releases" >releases.json
jcheck releases.json "any(a['name'] == 'software/0.9.0/vigil' and a.get('log_index') is not None for rel in (r if isinstance(r, list) else r['releases']) for a in rel['artifacts'])" \
	"GET /v1/releases lists the program with its log index"
jcheck releases.json "any(a['name'] == 'rules/vigil-rules-2.json' for rel in (r if isinstance(r, list) else r['releases'])[:1] for a in rel['artifacts'])" \
	"the rules of the previous release are carried over into the new targets"
v update
expect 0 "an endpoint at rules 2 finds the software release up to date"

ep 2
v update --init --root rel/1.root.json --log-key "$logkey"
v update --from-bundle b2
expect 0 "an air-gapped endpoint installs release 2 from the bundle"

# --- attacks, each refused with its own code ------------------------------------------
# A fresh endpoint for each: the attacks need a release it does not have.
fresh() {
	ep "$1"
	shift
	v update --init --root rel/1.root.json --log-key "$logkey" "$@"
}
installed() { readlink "$VIGIL_HOME/rules" 2>/dev/null || echo none; }

ep 2
v update --from-bundle b1
expect 12 "rollback: an older release is refused (12)"
[ "$(installed)" = rules.d/2 ] && pass "... and the installed rules stay" ||
	fail "... and the installed rules stay" "$(installed)"

fresh 3
edit b2 x.bundle take targets.json b1
v update --from-bundle x.bundle
expect 14 "mix-and-match: a snapshot that does not name these targets is refused (14)"

fresh 4
edit b2 x.bundle append targets/rules/vigil-rules-2.json 'more bytes'
v update --from-bundle x.bundle
expect 15 "endless data: an artifact longer than declared is refused (15)"
edit b2 x.bundle flip targets/rules/vigil-rules-2.json
v update --from-bundle x.bundle
expect 15 "an artifact with another hash is refused (15)"
[ "$(installed)" = none ] && pass "... and nothing is installed" ||
	fail "... and nothing is installed" "$(installed)"

fresh 5
edit b1 p1 get proofs/rules/vigil-rules-1.json >proof1
edit b2 x.bundle set proofs/rules/vigil-rules-2.json proof1
v update --from-bundle x.bundle
expect 16 "a release missing from the log is refused (16)"
edit b2 x.bundle drop proofs/rules/vigil-rules-2.json
v update --from-bundle x.bundle
expect 16 "a release with no log entry at all is refused (16)"

fresh 6
later +2d update --from-bundle b2
expect 13 "freeze: a timestamp past its expiry is refused (13)"

# Manifests re-signed by someone holding the node's online key, but not
# enough targets keys.
edit b2 t.json get targets.json >t.json
edit b2 s.json get snapshot.json >s.json
edit b2 ts.json get timestamp.json >ts.json
"$RELEASE_TOOL" resign t.json keys/stranger.key keys/targets1.key &&
	"$RELEASE_TOOL" chain t.json s.json ts.json var/release-online.key ||
	fail "release_tool re-signs the manifests"
edit b2 x.bundle set targets.json t.json set snapshot.json s.json set timestamp.json ts.json
fresh 7
v update --from-bundle x.bundle
expect 11 "a signature from an unknown key does not count: below threshold (11)"
"$RELEASE_TOOL" resign t.json keys/targets2.key &&
	"$RELEASE_TOOL" chain t.json s.json ts.json var/release-online.key
edit b2 x.bundle set targets.json t.json set snapshot.json s.json set timestamp.json ts.json
v update --from-bundle x.bundle
expect 11 "fewer signatures than the threshold are refused (11)"

# Too few witnesses: the endpoint wants a cosignature the log does not have.
"$VIGIL" witness --listen 127.0.0.1:0 --state "$tmp/wstate" --key "$tmp/w.key" \
	--name witness.example/w1 --log "$logkey" >w.out 2>w.err &
wpid=$!
i=0
while [ $i -lt 100 ] && ! grep -q '^witness key: ' w.out; do sleep 0.1; i=$((i + 1)); done
wkey=$(sed -n 's/^witness key: //p' w.out)
kill $wpid; wait $wpid 2>/dev/null
fresh 8 --witness "$wkey" --quorum 1
v update --from-bundle b2
expect 18 "too few witness cosignatures are refused (18)"

# --- root rotation ----------------------------------------------------------------
# root3 and targets2 are compromised: the new root drops them.
v release rotate-root rel --root-key keys/root1.pub --root-key keys/root2.pub \
	--root-key keys/root4.pub --root-threshold 2 \
	--targets-key keys/targets1.pub --targets-key keys/targets3.pub --targets-threshold 2
expect 0 "rotate-root stages root version 2"
v release sign rel --key keys/root4.key
v release sign rel --key keys/root2.key
v release publish rel --server "$base" --token-file "$tok"
expect 2 "a new root alone is not published: targets signed under it go with it"
v release stage rel --rules rules2 --version 3 --corpus corpus
v release sign rel --key keys/targets1.key
v release sign rel --key keys/targets3.key
v release publish rel --server "$base" --token-file "$tok"
expect 1 "a new root signed by only one old root key is refused"
expect_err 'threshold' "... naming the threshold of the old root"
v release sign rel --key keys/root1.key
v release publish rel --server "$base" --token-file "$tok"
expect 0 "a new root signed by both thresholds is published, with release 3"
v release bundle --server "$base" --out b3
ep 1
v update
expect 0 "the endpoint follows the rotation and installs release 3"
[ -f "$VIGIL_HOME/update/root.json" ] && grep -q '"version":2' "$VIGIL_HOME/update/root.json" &&
	pass "... and now trusts root 2" || fail "... and now trusts root 2" "$(cat "$out" "$err")"
# The removed targets key signs, with the online key, a release 4.
edit b3 t.json get targets.json >t.json
edit b3 s.json get snapshot.json >s.json
edit b3 ts.json get timestamp.json >ts.json
$PYTHON - t.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d['signed']['version'] += 1
json.dump(d, open(sys.argv[1], 'w'))
PY
"$RELEASE_TOOL" resign t.json keys/targets1.key keys/targets2.key &&
	"$RELEASE_TOOL" chain t.json s.json ts.json var/release-online.key
edit b3 x.bundle set targets.json t.json set snapshot.json s.json set timestamp.json ts.json
v update --from-bundle x.bundle
expect 11 "after the rotation, the removed key's signature no longer counts (11)"

# --- endless data over the network ------------------------------------------------
# A hostile mirror passes everything through from the node, but follows
# each artifact with bytes that never end: the download must stop at the
# declared length.
$PYTHON - "$base" >mirror.port 2>mirror.err <<'PY' &
import http.server, socketserver, sys, urllib.error, urllib.request
base = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with urllib.request.urlopen(base + self.path) as r:
                code, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            code, body = e.code, e.read()
        endless = code == 200 and self.path.startswith('/v1/releases/targets/')
        self.send_response(code)
        if not endless:
            self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        try:
            self.wfile.write(body)
            while endless:
                self.wfile.write(b'A' * 65536)
        except OSError:
            pass
    def log_message(self, *a):
        pass
socketserver.ThreadingTCPServer.daemon_threads = True
srv = socketserver.ThreadingTCPServer(('127.0.0.1', 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
PY
mirror_pid=$!
i=0
while [ $i -lt 100 ] && [ ! -s mirror.port ]; do sleep 0.1; i=$((i + 1)); done
fresh 11
v update --server "http://127.0.0.1:$(cat mirror.port)"
expect 15 "endless data from a mirror: the download stops at the declared length (15)"
[ "$(installed)" = none ] && pass "... and nothing is installed" ||
	fail "... and nothing is installed" "$(installed)"
kill $mirror_pid 2>/dev/null
wait $mirror_pid 2>/dev/null

# --- a fast-forward attack, and the recovery by rotating the online key --------------
# A thief of the online key signs timestamp version 1000: an endpoint that
# trusts it takes every real timestamp after it for a rollback, until a
# new root names a new online key and the endpoint forgets the old ones.
fresh 10
edit b3 ts.json get timestamp.json >ts.json
$PYTHON - ts.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d['signed']['version'] = 1000
json.dump(d, open(sys.argv[1], 'w'))
PY
"$RELEASE_TOOL" resign ts.json var/release-online.key
edit b3 x.bundle set timestamp.json ts.json
v update --from-bundle x.bundle
expect 0 "a timestamp signed far ahead with the stolen online key is taken"
v update --server "$base"
expect 12 "... after which the real timestamps look like rollbacks (12)"
stop_node
rm var/release-online.key var/release-online.pub
start_node || { fail "vigild restarts with a new online key" "$(cat vigild.err)"; finish; }
curl -s -o online2.pub "$base/v1/releases/online-key.json"
cmp -s online.pub online2.pub && fail "the node made a new online key"
v release rotate-root rel --online-key online2.pub
v release stage rel --rules rules2 --version 3.1 --corpus corpus
for k in root1 root2 targets1 targets3; do v release sign rel --key "keys/$k.key"; done
v release publish rel --server "$base" --token-file "$tok"
expect 0 "root 3 names the new online key and is published"
v update --server "$base"
expect 0 "the endpoint follows root 3, forgets the fast-forwarded timestamp and updates"
grep -q 'forgotten' "$out" && pass "... and says it forgot them" ||
	fail "... and says it forgot them" "$(cat "$out")"

# --- split view: the operator rewrites the log's history ------------------------------
# Back up the node, publish release 4 and let an endpoint see it; restore
# the backup (the log forgets), grow a different history past it, and
# publish a release 4 there.
stop_node
cp -a var var.bak
cp -a rel rel.bak
start_node || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
v release stage rel --rules rules2 --version 4 --corpus corpus
v release sign rel --key keys/targets1.key
v release sign rel --key keys/targets3.key
v release publish rel --server "$base" --token-file "$tok"
ep 9
v update --init --server "$base" --root rel/1.root.json --log-key "$logkey"
v update
expect 0 "an endpoint installs release 4 and remembers the log's checkpoint"
stop_node
rm -rf var rel
mv var.bak var
mv rel.bak rel
start_node || { fail "vigild restarts on the old copy" "$(cat vigild.err)"; finish; }
printf 'a different history\n' >stmt
for i in 1 2 3 4 5 6; do
	"$VIGIL" admin --server "$base" --token-file "$tok" log-append --type statement stmt >/dev/null
done
v release stage rel --rules rules2 --version 5 --corpus corpus
v release sign rel --key keys/targets1.key
v release sign rel --key keys/targets3.key
v release publish rel --server "$base" --token-file "$tok"
v update --server "$base"
expect 17 "split view: a log inconsistent with a checkpoint seen before is refused (17)"
expect_err 'SECURITY' "... with a SECURITY error and the evidence"
[ "$(installed)" = rules.d/4 ] && pass "... and the installed rules stay" ||
	fail "... and the installed rules stay" "$(installed)"

# --- the log's key replaced ------------------------------------------------------------
# The operator hands the node's log key over (log.key moved to
# log.key.old). While no handover is served, an endpoint that recorded
# the old key refuses with 20 and says how to accept the new one (and
# `vigil log --accept-key` lets it go on); once the handover both keys
# signed is served, an endpoint follows it by itself.
for e in 10 11; do
	ep $e
	v update --init --server "$base" --root rel/1.root.json --log-key "$logkey"
	v update
	expect 0 "endpoint $e installs release 5 under the log's first key"
done
stop_node
mv var/log.key var/log.key.old
start_node || { fail "vigild restarts with a new log key" "$(cat vigild.err)"; finish; }
newkey=$(curl -s -m 10 "$base/log/key")
v release stage rel --rules rules2 --version 6 --corpus corpus
v release sign rel --key keys/targets1.key
v release sign rel --key keys/targets3.key
v release publish rel --server "$base" --token-file "$tok"
stop_node
rm var/log.key.old
mv var/log.handover handover.saved
start_node || { fail "vigild restarts without its handover" "$(cat vigild.err)"; finish; }
ep 10
v update --server "$base"
expect 20 "a log key other than the one recorded, with no handover, is refused (20), not a split view"
grep -qF -e "--accept-key $newkey" "$err" && grep -qF -e "$logkey" "$err" &&
	pass "... naming both keys and how to accept the new one" ||
	{ fail "... naming both keys and how to accept the new one"; show_last; }
[ "$(installed)" = rules.d/5 ] && pass "... and the installed rules stay" ||
	fail "... and the installed rules stay" "$(installed)"
v log checkpoint "$base/log" --accept-key "$newkey" --origin vigil.example/eu
expect 0 "vigil log --accept-key trusts the new key for the origin"
v update --server "$base"
expect 0 "then the update installs release 6 under the new key"
[ "$(installed)" = rules.d/6 ] && pass "... release 6" ||
	fail "... release 6" "$(installed)"
stop_node
mv handover.saved var/log.handover
start_node || { fail "vigild restarts with its handover" "$(cat vigild.err)"; finish; }
ep 11
v update --server "$base"
expect 0 "with the handover signed by both keys served, another endpoint follows it and installs release 6"
grep -qF -e "$newkey" "$err" && pass "... saying so, with the new key" ||
	{ fail "... saying so, with the new key"; show_last; }
[ "$(installed)" = rules.d/6 ] && pass "... release 6" ||
	fail "... release 6" "$(installed)"

# --- --check --------------------------------------------------------------------
ep 1
v update --check
expect 0 "update --check: nothing expires soon"
later +70d update --check
expect 1 "update --check warns 30 days before targets expire"
expect_err 'warning: targets.json' "... naming the manifest"

curl -sf "$base/healthz" >/dev/null && pass "the node still serves" || fail "the node still serves"
stop_node
finish
