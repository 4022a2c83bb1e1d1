#!/bin/sh
# test-node-pglog.sh - a region's transparency log on PostgreSQL, on two
# real vigild nodes sharing one cluster (run under tests/pg/pg-run, which
# exports VIGIL_TEST_PG_DSN): the first node creates the region's log; a
# node without keys is refused with the files to copy; one with copies of
# the keys joins (another site), serves the same log, and its appends are
# handed to the sequencer and answered once appended; the sequencer is
# killed mid-burst, the other node takes over, and every checkpoint the
# client saw before stays a prefix of the log that goes on. Operators
# are the region's: one added through a node acts on the other, and one
# revoked through either is refused by both at once. A prevalence that an
# erasure lowers through one node is lowered in the other's lookups.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_TEST_PG_DSN:?run under tests/pg/pg-run}"
cd "$tmp" || exit 1
VIGIL_HOME=$tmp/home
export VIGIL_HOME

log_node_conf "[store]
backend = postgres
dsn = $VIGIL_TEST_PG_DSN
"
sed 's/^site = zrh1/site = zrh2/' node.conf >b.conf

pids=
stop_all() {
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
}
trap 'stop_all; rm -rf "$tmp"' EXIT

size() { curl -s -m 10 "$1/log/checkpoint" | sed -n 2p; }

# append BASE TEXT: an operator statement through BASE; rc in $rc.
append() {
	printf '%s\n' "$2" >stmt.$$.txt
	timeout 60 "$VIGIL" admin --server "$1" --token-file a/operator.token \
		log-append --type statement stmt.$$.txt >"$out" 2>"$err"
	rc=$?
}

# --- the region's first node --------------------------------------------------------
node_start a -- -c node.conf --data "$tmp/a" ||
	{ fail "the first node starts on PostgreSQL" "$(cat a.err)"; finish; }
a_base=$node_base
a_pid=$node_pid
pids="$a_pid"
[ "$(size "$a_base")" = 1 ] && pass "the first node creates the log: its node entry" ||
	fail "the first node creates the log: its node entry" "$(size "$a_base")"
key=$(curl -s -m 10 "$a_base/log/key")

# --- a node without the region's keys ---------------------------------------------------
timeout 30 "$VIGILD" --listen 127.0.0.1:0 -c b.conf --data "$tmp/nokeys" >nokeys.out 2>nokeys.err
rc=$?
if [ $rc != 0 ] && grep -q 'no log.key' nokeys.err && grep -q 'operator.token' nokeys.err &&
	[ ! -e nokeys/log.key ]; then
	pass "a node without keys against a region's cluster is refused, naming the files to copy"
else
	fail "a node without keys against a region's cluster is refused, naming the files to copy" \
		"rc $rc: $(cat nokeys.err)"
fi

# --- a node with keys of its own, and one of another region ---------------------------------
log_node_conf
mv node.conf own.conf
log_node_conf "[store]
backend = postgres
dsn = $VIGIL_TEST_PG_DSN
"
node_start own -- -c own.conf --data "$tmp/own" &&
	kill "$node_pid" && wait "$node_pid" 2>/dev/null
timeout 30 "$VIGILD" --listen 127.0.0.1:0 -c b.conf --data "$tmp/own" >own2.out 2>own2.err
rc=$?
[ $rc != 0 ] && grep -q 'is not the log key of region eu' own2.err && grep -q 'operator.token' own2.err &&
	pass "a node with a log key of its own is refused, naming the files to copy" ||
	fail "a node with a log key of its own is refused, naming the files to copy" "rc $rc: $(cat own2.err)"
sed 's/^region = eu/region = us/' b.conf >us.conf
timeout 30 "$VIGILD" --listen 127.0.0.1:0 -c us.conf --data "$tmp/a" >us.out 2>us.err
rc=$?
[ $rc != 0 ] && grep -q 'holds the log of region eu' us.err &&
	pass "a node of another region is refused" ||
	fail "a node of another region is refused" "rc $rc: $(cat us.err)"

# --- a second node with copies of the keys ------------------------------------------------
mkdir -m 700 b
for f in log.key sample.key release-online.key release-online.pub operator.token; do
	cp -p "a/$f" "b/$f"
done
node_start b -- -c b.conf --data "$tmp/b" ||
	{ fail "a node with copies of the keys joins the region" "$(cat b.err)"; finish; }
b_base=$node_base
b_pid=$node_pid
pids="$pids $b_pid"
pass "a node with copies of the keys joins the region"
[ "$(curl -s -m 10 "$b_base/log/key")" = "$key" ] &&
	pass "both nodes sign with the region's key" ||
	fail "both nodes sign with the region's key"

append "$b_base" "Appended through the node that does not sequence."
if [ $rc = 0 ] && grep -q 'appended statement entry' "$out"; then
	pass "an append to the follower is answered once appended"
else
	fail "an append to the follower is answered once appended" "rc $rc: $(cat "$out" "$err")"
fi
n=$(size "$b_base")
i=0
while [ "$(size "$a_base")" != "$n" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(size "$a_base")" = "$n" ] && [ "$n" -ge 3 ] &&
	pass "both nodes serve one log (size $n)" ||
	fail "both nodes serve one log" "a $(size "$a_base") b $n"

# --- operators are the region's: added on one node, revoked on the other --------------------
# opcode BASE TOKENFILE: the status of GET /v1/admin/operators.
opcode() {
	curl -s -o /dev/null -m 30 -w '%{http_code}' -H "Authorization: Bearer $(cat "$2")" \
		"$1/v1/admin/operators"
}
timeout 60 "$VIGIL" admin --server "$a_base" --token-file a/operator.token \
	operator add carol >carol.token 2>"$err"
rc=$?
chmod 600 carol.token
[ $rc = 0 ] && [ "$(opcode "$b_base" carol.token)" = 200 ] &&
	pass "an operator added through one node is known to the other" ||
	fail "an operator added through one node is known to the other" "rc $rc: $(cat "$err")"
timeout 60 "$VIGIL" admin --server "$b_base" --token-file b/operator.token \
	operator revoke carol >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && [ "$(opcode "$a_base" carol.token)" = 401 ] && [ "$(opcode "$b_base" carol.token)" = 401 ] &&
	pass "an operator revoked through one node is refused at once by both" ||
	fail "an operator revoked through one node is refused at once by both" "rc $rc: $(cat "$out" "$err")"
timeout 60 "$VIGIL" log checkpoint "$a_base/log" --key "$key" >"$out" 2>"$err" &&
	pass "the client verifies the sequencer's checkpoint" ||
	fail "the client verifies the sequencer's checkpoint" "$(cat "$err")"

# --- a prevalence lowered on one node is lowered on the other -------------------------------
# Two clients of a send the same sample; then one lowers its consent to
# none, which unlinks it: b's lookup follows both changes.
cat >prev.py <<'PY'
import http.client, json, sys, time, urllib.parse
a, b, marker = sys.argv[1], sys.argv[2], sys.argv[3].encode()
def req(base, method, path, body=None, token=None):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None and body[:1] == b"{":
        h["Content-Type"] = "application/json"
    c.request(method, path, body, h)
    r = c.getresponse()
    out = (r.status, r.read())
    c.close()
    return out
def prevalence_at_b(sha, want):
    deadline = time.time() + 5
    while time.time() < deadline:
        st, body = req(b, "GET", "/v1/files/" + sha, token=tokens[0])
        if st == 200 and json.loads(body).get("prevalence") == want:
            return True
        time.sleep(0.05)
    return "b answers %d %s" % (st, body[:200])
tokens = [json.loads(req(a, "POST", "/v1/enroll", b'{"consent":"files"}')[1])["token"] for _ in range(2)]
for t in tokens:
    st, body = req(a, "POST", "/v1/submissions", marker, t)
    if st != 202:
        sys.exit("submission: %d %s" % (st, body[:200]))
sha = json.loads(body)["sha256"]
r = prevalence_at_b(sha, 2)
if r is not True:
    sys.exit("prevalence 2 never at b: %s" % r)
st, body = req(a, "PUT", "/v1/me/consent", b'{"consent":"none"}', tokens[1])
if st != 200:
    sys.exit("consent: %d %s" % (st, body[:200]))
r = prevalence_at_b(sha, 1)
if r is not True:
    sys.exit("prevalence 1 never at b: %s" % r)
PY
"$PYTHON" prev.py "$a_base" "$b_base" "prevalence marker $(date +%s%N)" >"$out" 2>&1 &&
	pass "a sample sent by two clients of a: prevalence 2 at b; one lowers its consent: 1 at b" ||
	fail "a prevalence lowered on one node is lowered on the other" "$(cat "$out")"

# --- the sequencer dies mid-burst -------------------------------------------------------------
: >acked
jobs_=
for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	for node in "$a_base" "$b_base"; do
		f=s.$k.$(echo "$node" | tr -dc 0-9)
		printf 'burst %s via %s\n' "$k" "$node" >"$f"
		(
			if timeout 60 "$VIGIL" admin --server "$node" --token-file a/operator.token \
				log-append --type statement "$f" >/dev/null 2>&1; then
				echo "burst $k via $node" >>acked
			fi
		) &
		jobs_="$jobs_ $!"
	done
	[ $k = 8 ] && kill -9 "$a_pid"
done
# shellcheck disable=SC2086
wait $jobs_
pids="$b_pid"
append "$b_base" "After the sequencer died."
[ $rc = 0 ] && pass "the other node takes the lease over and appends" ||
	fail "the other node takes the lease over and appends" "rc $rc: $(cat "$err")"
timeout 60 "$VIGIL" log checkpoint "$b_base/log" --key "$key" >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && pass "the log that goes on is consistent with the checkpoint seen before" ||
	fail "the log that goes on is consistent with the checkpoint seen before" "rc $rc: $(cat "$out" "$err")"
missing=0
final=$(size "$b_base")
all=$("$PYTHON" - "$b_base/log" "$final" <<'PY'
import sys, urllib.request
base, size = sys.argv[1], int(sys.argv[2])
out = []
for t in range((size + 255) // 256):
    w = min(256, size - t * 256)
    b = urllib.request.urlopen("%s/tile/entries/%03d%s" % (base, t, "" if w == 256 else ".p/%d" % w)).read()
    out.append(b.decode("utf-8", "replace"))
print("".join(out))
PY
)
while read -r line; do
	case "$all" in *"$line"*) ;; *) missing=$((missing + 1)) ;; esac
done <acked
[ $missing = 0 ] && [ -s acked ] &&
	pass "every acknowledged append of the burst is in the log ($(wc -l <acked) of 32)" ||
	fail "every acknowledged append of the burst is in the log" "$missing missing"
nb=$(grep -c "via $b_base\$" acked)
[ "$nb" = 16 ] && pass "every append to the surviving node is acknowledged" ||
	fail "every append to the surviving node is acknowledged" "$nb of 16: $(grep -v 'level=info' b.err | tail -20)"
dups=$(printf '%s' "$all" | grep -ao 'burst [0-9]* via [^ ]*' | sort | uniq -d | wc -l)
[ "$dups" = 0 ] && pass "no append is in the log twice" || fail "no append is in the log twice" "$dups"

finish
