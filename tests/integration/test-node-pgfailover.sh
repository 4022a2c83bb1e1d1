#!/bin/sh
# test-node-pgfailover.sh - a region's transparency log across a
# PostgreSQL failover: two vigild nodes (two sites) on a primary with a
# synchronous standby, a multi-host DSN; appends go on through both nodes
# while the primary is killed and the standby promoted; afterwards the
# log goes on on the new primary, holds every append either node
# acknowledged, and is consistent with the checkpoint a client saw before.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
cd "$tmp" || exit 1
chmod 0755 "$tmp"
VIGIL_HOME=$tmp/home
export VIGIL_HOME
. "$VIGIL_SOURCE_DIR/tests/pg/pglib.sh"
VIGIL_PG_FSYNC=off
export VIGIL_PG_FSYNC

pids=
stop_all() {
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	pg_stop "$tmp/p1" immediate
	pg_stop "$tmp/s2" immediate
}
trap 'stop_all; rm -rf "$tmp"' EXIT

p1port=$(pg_free_port)
s2port=$(pg_free_port)
if pg_init "$tmp/p1" "$p1port" p1 && pg_start "$tmp/p1" &&
	pg_createdb "$tmp/p1" >/dev/null &&
	pg_standby "$tmp/p1" "$tmp/s2" "$s2port" s2 && pg_sync "$tmp/p1" s2; then
	pass "a primary with a synchronous standby"
else
	fail "a primary with a synchronous standby"
	finish
fi
dsn="host=127.0.0.1,127.0.0.1 port=$p1port,$s2port dbname=vigil user=vigil connect_timeout=2"

log_node_conf "[store]
backend = postgres
dsn = $dsn
"
sed 's/^site = zrh1/site = zrh2/' node.conf >b.conf

size() { curl -s -m 10 "$1/log/checkpoint" | sed -n 2p; }

node_start a -- -c node.conf --data "$tmp/a" ||
	{ fail "node a starts" "$(cat a.err)"; finish; }
a_base=$node_base
pids="$node_pid"
mkdir -m 700 b
for f in log.key sample.key release-online.key release-online.pub operator.token; do
	cp -p "a/$f" "b/$f"
done
node_start b -- -c b.conf --data "$tmp/b" ||
	{ fail "node b starts" "$(cat b.err)"; finish; }
b_base=$node_base
pids="$pids $node_pid"
key=$(curl -s -m 10 "$a_base/log/key")
pass "two nodes of one region on the pair"

# burst TAG N: N appends through each node, in the background; the
# acknowledged ones go to acked.
: >acked
jobs_=
burst() {
	_k=1
	while [ $_k -le "$2" ]; do
		for node in "$a_base" "$b_base"; do
			_f=s.$1.$_k.$(echo "$node" | tr -dc 0-9)
			printf '%s %s via %s\n' "$1" "$_k" "$node" >"$_f"
			(
				if timeout 60 "$VIGIL" admin --server "$node" \
					--token-file a/operator.token log-append \
					--type statement "$_f" >/dev/null 2>&1; then
					cat "$_f" >>acked
				fi
			) &
			jobs_="$jobs_ $!"
		done
		sleep 0.05
		_k=$((_k + 1))
	done
	# shellcheck disable=SC2086
	wait $jobs_
}

burst before 10
jobs_=
[ "$(wc -l <acked)" = 20 ] && pass "appends through both nodes are acknowledged" ||
	fail "appends through both nodes are acknowledged" "$(wc -l <acked) of 20"
timeout 60 "$VIGIL" log checkpoint "$b_base/log" --key "$key" >"$out" 2>"$err" &&
	pass "the client stores a checkpoint before the failover" ||
	fail "the client stores a checkpoint before the failover" "$(cat "$err")"

# --- site 1's database is lost; the standby is promoted ---------------------------------
burst during 20 &
burster=$!
sleep 0.3
pg_kill "$tmp/p1"
if pg_promote "$tmp/s2"; then
	pass "the standby is promoted"
else
	fail "the standby is promoted"
fi
wait $burster

# The log goes on on the new primary, through either node.
ok=
i=0
while [ -z "$ok" ] && [ $i -lt 60 ]; do
	printf 'after %s\n' "$i" >after.txt
	timeout 30 "$VIGIL" admin --server "$b_base" --token-file a/operator.token \
		log-append --type statement after.txt >/dev/null 2>"$err" && ok=1
	[ -n "$ok" ] || sleep 0.5
	i=$((i + 1))
done
[ -n "$ok" ] && pass "the log goes on on the promoted standby" ||
	fail "the log goes on on the promoted standby" "$(cat "$err")"
timeout 60 "$VIGIL" admin --server "$a_base" --token-file a/operator.token \
	log-append --type statement after.txt >/dev/null 2>"$err" &&
	pass "both nodes append after the failover" ||
	fail "both nodes append after the failover" "$(cat "$err")"
timeout 60 "$VIGIL" log checkpoint "$b_base/log" --key "$key" >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && pass "the log after the failover is consistent with the checkpoint before" ||
	fail "the log after the failover is consistent with the checkpoint before" "rc $rc: $(cat "$out" "$err")"

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
missing=0
while read -r line; do
	case "$all" in *"$line"*) ;; *) missing=$((missing + 1)) ;; esac
done <acked
[ $missing = 0 ] &&
	pass "every acknowledged append is in the log after the failover ($(wc -l <acked) of 60)" ||
	fail "every acknowledged append is in the log after the failover" "$missing missing"
dups=$(printf '%s' "$all" | grep -ao '[a-z]* [0-9]* via [^ ]*' | sort | uniq -d | wc -l)
[ "$dups" = 0 ] && pass "no append is in the log twice" || fail "no append is in the log twice" "$dups"

finish
