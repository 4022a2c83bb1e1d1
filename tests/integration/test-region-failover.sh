#!/bin/sh
# test-region-failover.sh - a region on two sites: two PostgreSQL 15
# clusters on loopback, zrh1 the primary and zrh2 its synchronous
# streaming standby, and one vigild per site with the same multi-host DSN
# and the same region keys. A bounded burst of submissions and log
# appends runs against both nodes; mid-burst zrh1's PostgreSQL and vigild
# are killed with SIGKILL, zrh2 is promoted, and zrh2's vigild goes on.
# Then everything acknowledged before the kill is read back through zrh2,
# the log state saved before the kill still verifies (no fork, no
# rollback), and the time from the kill to zrh2's first 202 is printed.
. "${VIGIL_SOURCE_DIR:?}/tests/integration/lib.sh"
. "$VIGIL_SOURCE_DIR/tests/pg/pglib.sh"
: "${VIGILD:?VIGILD must be the path of the vigild binary}"

# The postgres user must reach the clusters' directories.
chmod 0755 "$tmp"
cd "$tmp" || exit 1
stop_all() {
	[ -n "${n1:-}" ] && kill -9 "$n1" 2>/dev/null
	[ -n "${n2:-}" ] && kill -9 "$n2" 2>/dev/null
	[ -n "${burst:-}" ] && kill "$burst" 2>/dev/null
	pg_stop "$tmp/zrh1" immediate
	pg_stop "$tmp/zrh2" immediate
	cleanup
}
trap stop_all EXIT

p1=$(pg_free_port)
p2=$(pg_free_port)
if pg_init "$tmp/zrh1" "$p1" zrh1 && pg_start "$tmp/zrh1" &&
	pg_createdb "$tmp/zrh1" >/dev/null &&
	pg_standby "$tmp/zrh1" "$tmp/zrh2" "$p2" zrh2 &&
	pg_sync "$tmp/zrh1" zrh2 on; then
	pass "zrh1 primary and zrh2 synchronous standby (PostgreSQL $(pg_psql "$tmp/zrh1" -At -c 'SHOW server_version'))"
else
	fail "zrh1 primary and zrh2 synchronous standby"
	finish
fi

dsn="host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=vigil user=vigil target_session_attrs=read-write connect_timeout=2"
cat >node.conf <<EOF
[node]
region = eu
workers = 1
[limits]
# One client submits the whole burst and reads it all back.
rate_per_sec = 100000
rate_burst = 100000
[log]
origin = vigil.example/eu
[store]
backend = postgres
dsn = $dsn
job_lease_ms = 3000
EOF

# --- a node with no keys cannot join a region that exists -------------------
if node_start n1 -- -c node.conf --data "$tmp/d1" --site zrh1; then
	n1=$node_pid
	b1=$node_base
	pass "zrh1's vigild starts on the PostgreSQL store"
else
	fail "zrh1's vigild starts on the PostgreSQL store" "$(tail -5 n1.err)"
	finish
fi
timeout 20 "$VIGILD" -c node.conf --data "$tmp/d3" --site zrh2 \
	--listen 127.0.0.1:0 >n3.out 2>n3.err
rc=$?
if [ "$rc" = 2 ] && grep -q 'key' n3.err && [ ! -e "$tmp/d3/log.key" ]; then
	pass "a node with no keys against a cluster that holds the region refuses to start (exit 2, no key made)"
else
	fail "a node with no keys against a cluster that holds the region refuses to start" \
		"exit $rc" "$(head -5 n3.err)" "$(ls "$tmp/d3" 2>&1)"
fi

# --- the second site's node: a copy of the region's key files ---------------
mkdir -m 0700 d2
cp -p d1/*.key d1/release-online.pub d1/operator.token d2/
if node_start n2 -- -c node.conf --data "$tmp/d2" --site zrh2; then
	n2=$node_pid
	b2=$node_base
	pass "zrh2's vigild joins the region with copies of its key files"
else
	fail "zrh2's vigild joins the region with copies of its key files" "$(tail -5 n2.err)"
	finish
fi
k1=$(curl -s -m 10 "$b1/log/key")
k2=$(curl -s -m 10 "$b2/log/key")
[ -n "$k1" ] && [ "$k1" = "$k2" ] &&
	pass "both nodes serve one log under one key" ||
	fail "both nodes serve one log under one key" "$k1" "$k2"

token=$(curl -s -m 10 -X POST --data '{"consent":"files"}' "$b1/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
optoken=$(cat d1/operator.token)
[ -n "$token" ] && pass "a client enrolled at zrh1" || fail "a client enrolled at zrh1"

# --- a lookup at zrh2 sees a submission made at zrh1 within 1 s -------------
printf 'staleness probe %s\n' "$(date +%s%N)" >probe.bin
sha=$(sha256sum probe.bin | cut -c1-64)
code=$(curl -s -o "$out" -w '%{http_code}' -m 10 -H "Authorization: Bearer $token" \
	--data-binary @probe.bin "$b1/v1/submissions")
if [ "$code" = 202 ]; then
	ms=$("$PYTHON" - "$b2" "$token" "$sha" <<'PY'
import http.client, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
t0 = time.monotonic()
while time.monotonic() - t0 < 5:
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request("GET", "/v1/files/" + sys.argv[3],
              headers={"Authorization": "Bearer " + sys.argv[2]})
    if c.getresponse().status == 200:
        print(int((time.monotonic() - t0) * 1000))
        sys.exit(0)
    time.sleep(0.005)
print(-1)
PY
)
	echo "# zrh2 answered zrh1's submission after ${ms} ms"
	[ "$ms" -ge 0 ] && [ "$ms" -le 1000 ] &&
		pass "zrh2's index holds zrh1's submission within 1 s (${ms} ms)" ||
		fail "zrh2's index holds zrh1's submission within 1 s" "${ms} ms"
else
	fail "a submission at zrh1: 202" "$code $(cat "$out")"
fi

# --- the burst, and the kill mid-burst ---------------------------------------
mkdir burst
"$PYTHON" "$VIGIL_SOURCE_DIR/tests/integration/regionburst.py" burst \
	"$token" "$optoken" "$b1" "$b2" 2>burst.err &
burst=$!
i=0
while [ ! -e burst/ready ] && [ $i -lt 600 ] && kill -0 $burst 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if [ -e burst/ready ]; then
	pass "the burst runs against both nodes"
else
	fail "the burst runs against both nodes" "$(cat burst.err)" "$(tail -5 n1.err)" "$(tail -5 n2.err)"
fi
# The client's view of the log before the kill.
key=$k2
VIGIL_HOME=$tmp/lh timeout 60 "$VIGIL" log checkpoint "$b2/log" --key "$key" >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil log checkpoint saves the log's state before the kill"
before_size=$(curl -s -m 10 "$b2/log/checkpoint" | sed -n 2p)
# What was acknowledged before the kill is what must survive it.
sleep 0.5
"$PYTHON" -c 'import time; print("%.6f" % time.time())' >burst/killed.tmp
kill -9 "$n1"
pg_kill "$tmp/zrh1"
mv burst/killed.tmp burst/killed
cp burst/acks.jsonl acks-before-kill.jsonl
n1=
if pg_promote "$tmp/zrh2"; then
	pass "zrh2 promoted"
else
	fail "zrh2 promoted" "$(tail -5 "$tmp/zrh2/log")"
fi
wait $burst
burst=
if [ -s burst/summary.json ]; then
	failover=$("$PYTHON" -c 'import json,sys; s=json.load(open(sys.argv[1])); v=s["first_202_after_kill_s"]; print("none" if v is None else "%.2f" % v)' burst/summary.json)
	echo "# burst: $(cat burst/summary.json)"
	echo "# failover: the first 202 at zrh2 came ${failover} s after the kill"
	jcheck burst/summary.json 'r["stopped"] and r["after_kill"]["submission"] > 0 and r["after_kill"]["append"] > 0' \
		"zrh2 goes on: submissions answered 202 and appends 201 after the failover"
	jcheck burst/summary.json 'r["first_202_after_kill_s"] is not None and r["first_202_after_kill_s"] < 10' \
		"the first 202 at zrh2 comes under 10 s after the kill (${failover} s)"
else
	fail "the burst ends with a summary" "$(cat burst.err)"
fi

# --- nothing acknowledged is lost, and the log did not fork ------------------
if "$PYTHON" "$VIGIL_SOURCE_DIR/tests/integration/regioncheck.py" \
	acks-before-kill.jsonl "$token" "$b2" >"$out" 2>&1; then
	pass "everything acknowledged before the kill is readable through zrh2 ($(tr '\n' ';' <"$out"))"
else
	fail "everything acknowledged before the kill is readable through zrh2" "$(head -20 "$out")"
fi
if "$PYTHON" "$VIGIL_SOURCE_DIR/tests/integration/regioncheck.py" \
	burst/acks.jsonl "$token" "$b2" --analysed >"$out" 2>&1; then
	pass "everything acknowledged, before and after the kill, is there and its analysis ended, at zrh2 alone after the kill ($(tr '\n' ';' <"$out"))"
else
	fail "everything acknowledged, before and after the kill, is there and analysed" "$(head -20 "$out")"
fi
VIGIL_HOME=$tmp/lh timeout 60 "$VIGIL" log checkpoint "$b2/log" --key "$key" >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil log checkpoint with the state saved before the kill passes (no fork, no rollback)"
after_size=$(curl -s -m 10 "$b2/log/checkpoint" | sed -n 2p)
[ "${after_size:-0}" -gt "${before_size:-0}" ] &&
	pass "the log grew past the saved state ($before_size -> $after_size)" ||
	fail "the log grew past the saved state" "$before_size -> $after_size"
code=$(curl -s -o "$out" -w '%{http_code}' -m 10 "$b2/healthz")
[ "$code" = 200 ] && jcheck "$out" 'r["store"]["status"] == "ok"' "zrh2's /healthz: the store is ok again"

finish
