#!/bin/sh
# bench/region.sh - a region on two sites: vigild on PostgreSQL with a
# synchronous standby, against pgbench on the same clusters and against
# vigild on SQLite, in one run.
#
#   bench/region.sh [RUNS]
#
# RUNS defaults to 3; every figure is the median of RUNS. The clusters
# (tests/pg/pglib.sh) are made once: zrh1 the primary and zrh2 its
# synchronous streaming standby (synchronous_commit = on, fsync on), on
# loopback, so a commit waits for the standby's flush as it would across
# sites, minus the network's round trip. Each run measures, each vigild on
# a fresh data directory and a fresh database, two analysis workers, rate
# limits too high to throttle:
#
#   1. single-row INSERT transactions/s with pgbench -c16 and -c64 (-j2,
#      -T10), the anchor: what the cluster commits one row at a time;
#   2. durable 4 KiB submissions (each a new sample), wrk -t2 -c16 and
#      -c64 -d10s, on PostgreSQL and on SQLite;
#   3. log appends (POST /v1/admin/log?type=statement, each a distinct
#      entry), wrk -t2 -c64 -d10s, entries/s, on PostgreSQL and on SQLite;
#   4. POST /v1/lookup of 1,000 hashes after 300 samples were submitted
#      and analysed, wrk -t2 -c16 -d10s, hashes/s, on PostgreSQL and on
#      SQLite, against redis-benchmark -t get -P 16;
#   5. failover: tests/integration/test-region-failover.sh, the time from
#      the SIGKILL of zrh1 (its PostgreSQL and its vigild) to the first
#      202 at zrh2;
#   6. the database's floor: with no vigild running, pgbench -c2 -j2
#      -T10 replays what vigild's batch of 64 new 4 KiB samples writes
#      (the sealed records' rows, bench/floor-bytes.sql, and the store's
#      three statements, floor-rows.sql, in one transaction), then each
#      alone:
#      submissions/s (64 per transaction) and the cores busy meanwhile
#      (/proc/stat), so CPU time per submission. pgbench's anchor runs
#      record their busy cores too.
#
# Once, before the runs (it makes its own three): the log's appends on
# PostgreSQL alone, in batches of 64, 1024 and 4096 entries, by
# build/tlog_speed --pg, whose table is printed after the report.
#
# Needs wrk, redis-server, redis-benchmark (scripts/install-deps bench),
# PostgreSQL 15 with pgbench (scripts/install-deps), and a built tree.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
vigild=${VIGILD:-$top/build/vigild}
py=/usr/bin/python3
client=$top/bench/client.py
LC_ALL=C
export LC_ALL
unset VIGIL_RULES_DIR
VIGIL_SOURCE_DIR=$top
. "$top/tests/pg/pglib.sh"

for t in wrk redis-server redis-cli redis-benchmark "$py"; do
	command -v "$t" >/dev/null || {
		echo "bench: $t is missing (scripts/install-deps bench)" >&2
		exit 2
	}
done
pgbin=$(pg_bindir) || exit 2
[ -x "$vigild" ] || { echo "bench: $vigild is missing (make)" >&2; exit 2; }
tlog_speed=$top/build/tlog_speed
[ -x "$tlog_speed" ] || { echo "bench: $tlog_speed is missing (make)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-region.XXXXXXXX")
chmod 0755 "$tmp"
node_pid='' redis_pid=''
. "$top/bench/lib.sh"
cleanup() {
	for p in $node_pid $redis_pid; do
		stop_pid "$p"
	done
	pg_stop "$tmp/zrh1" immediate
	pg_stop "$tmp/zrh2" immediate
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

results=$tmp/results
: >"$results"
# REGION_RESULTS=FILE keeps every run's figures as they come, not only
# the medians (and what a run cut short had measured).
put() {
	echo "$1 $2" >>"$results"
	[ -z "${REGION_RESULTS:-}" ] || echo "$1 $2" >>"$REGION_RESULTS"
}

# ---- the clusters ---------------------------------------------------------------------------
p1=$("$py" "$client" free_port)
p2=$("$py" "$client" free_port)
pg_init "$tmp/zrh1" "$p1" zrh1
pg_start "$tmp/zrh1"
pg_createdb "$tmp/zrh1" >/dev/null
pg_standby "$tmp/zrh1" "$tmp/zrh2" "$p2" zrh2
pg_sync "$tmp/zrh1" zrh2 on
dsn="host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=vigil user=vigil target_session_attrs=read-write"

fresh_db() {
	pg_psql "$tmp/zrh1" -c "DROP DATABASE IF EXISTS vigil WITH (FORCE)" \
		-c "CREATE DATABASE vigil OWNER vigil" >/dev/null
}

# ---- the log's appends on PostgreSQL, once --------------------------------------------------
echo "tlog_speed --pg: log appends on PostgreSQL"
"$tlog_speed" --pg "$dsn" 3 >"$tmp/tlog_pg.out" 2>&1 || {
	echo "bench: tlog_speed --pg failed:" >&2
	cat "$tmp/tlog_pg.out" >&2
	exit 2
}
fresh_db

# ---- wrk scripts ----------------------------------------------------------------------------
cat >"$tmp/append.lua" <<'LUA'
-- POSTs a distinct statement each time: every request is a new entry.
local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end
function init(args)
	nonce = args[1]
	n = 0
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "text/plain"
end
function request()
	n = n + 1
	return wrk.format(nil, nil, nil,
		string.format("benchmark statement %s %d %d", nonce, tid, n))
end
LUA
cat >"$tmp/insert.sql" <<'SQL'
\set r random(1, 1000000000)
INSERT INTO bench_rows (v) VALUES (:r);
SQL

# start_node NAME BACKEND: vigild on a fresh data directory (and, for
# postgres, a fresh database); sets $node_pid, $base, $token, $optoken.
start_node() {
	rm -rf "$tmp/${1:?}"
	mkdir "$tmp/$1"
	{
		printf '[node]\nworkers = 2\n[limits]\nrate_per_sec = 10000000\nrate_burst = 10000000\n'
		if [ "$2" = postgres ]; then
			fresh_db
			printf '[store]\nbackend = postgres\ndsn = %s\n' "$dsn"
		fi
	} >"$tmp/$1/node.conf"
	vigild_start "$tmp/$1" "$tmp/$1/node.conf"
	optoken=$(cat "$tmp/$1/var/operator.token")
}


pgbench_put() { # KEY CLIENTS
	pg_psql "$tmp/zrh1" vigil -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS bench_rows" \
		-c "CREATE TABLE bench_rows (id bigserial PRIMARY KEY, v bigint NOT NULL)" >/dev/null
	cpu_mark
	"$pgbin/pgbench" -h 127.0.0.1 -p "$p1" -U vigil -n -c "$2" -j 2 -T 10 \
		-f "$tmp/insert.sql" vigil >"$tmp/pgbench.out" 2>&1
	put "$1_cores" "$(cpu_busy)"
	put "$1" "$(awk '/^tps = / {print $3}' "$tmp/pgbench.out")"
}

# The whole batch: the records' rows, then the statements, one COMMIT.
{
	sed '/^COMMIT;/d' "$top/bench/floor-bytes.sql"
	sed '/^\\set /d; /^BEGIN;/d' "$top/bench/floor-rows.sql"
} >"$tmp/floor-batch.sql"

# floor_put KEY SQL: submissions/s (64 a transaction) of pgbench -c2 with
# the script SQL on vigild's schema, no vigild running, and the cores busy.
floor_put() {
	cpu_mark
	"$pgbin/pgbench" -h 127.0.0.1 -p "$p1" -U vigil -n -c 2 -j 2 -T 10 \
		-f "$2" vigil >"$tmp/pgbench.out" 2>&1 || {
		echo "bench: pgbench -f $2 failed:" >&2
		cat "$tmp/pgbench.out" >&2
		exit 2
	}
	put "$1_cores" "$(cpu_busy)"
	put "$1" "$(awk '/^tps = / {print $3 * 64}' "$tmp/pgbench.out")"
}

# ---- the runs -------------------------------------------------------------------------------
r=0
while [ $r -lt "$runs" ]; do
	r=$((r + 1))
	echo "run $r of $runs"
	echo "  pgbench single-row inserts"
	pgbench_put pgbench16 16
	pgbench_put pgbench64 64

	for backend in postgres sqlite; do
		echo "  vigild on $backend: submissions"
		start_node "s16$backend" "$backend"
		wrk -t2 -c16 -d10s -H "Authorization: Bearer $token" -s "$top/bench/submit.lua" \
			"$base/v1/submissions" -- "$(date +%s%N)" >"$tmp/wrk.out"
		wrk_put "submit_$backend"
		vigild_stop
		start_node "s64$backend" "$backend"
		cpu_mark
		wrk -t2 -c64 -d10s -H "Authorization: Bearer $token" -s "$top/bench/submit.lua" \
			"$base/v1/submissions" -- "$(date +%s%N)" >"$tmp/wrk.out"
		put "submit64_${backend}_cores" "$(cpu_busy)"
		wrk_put "submit64_$backend"
		vigild_stop

		echo "  vigild on $backend: log appends"
		start_node "a$backend" "$backend"
		wrk -t2 -c64 -d10s -H "Authorization: Bearer $optoken" -s "$tmp/append.lua" \
			"$base/v1/admin/log?type=statement" -- "$(date +%s%N)" >"$tmp/wrk.out"
		wrk_put "append_$backend"
		vigild_stop

		echo "  vigild on $backend: lookups"
		start_node "l$backend" "$backend"
		mkdir -p "$tmp/l$backend/lookup"
		"$py" "$client" populate "$base" "$token" 300 "$tmp/l$backend/lookup" >/dev/null
		wrk -t2 -c16 -d10s -H "Authorization: Bearer $token" -s "$top/bench/lookup.lua" \
			"$base/v1/lookup" -- "$tmp/l$backend/lookup/lookup.json" >"$tmp/wrk.out"
		wrk_put "lookup_$backend"
		vigild_stop
	done

	echo "  the database's floor"
	# The schema and a client, made by vigild, which then stops.
	start_node floor postgres
	vigild_stop
	pg_psql "$tmp/zrh1" vigil -c "CREATE TABLE blob AS SELECT decode(string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), ''), 'hex') AS data FROM generate_series(1, 4185)" >/dev/null
	floor_put floor_batch "$tmp/floor-batch.sql"
	floor_put floor_bytes "$top/bench/floor-bytes.sql"
	floor_put floor_rows "$top/bench/floor-rows.sql"

	echo "  redis-benchmark"
	redis_put

	echo "  failover"
	VIGIL=$top/build/vigil VIGILD=$vigild VIGIL_SOURCE_DIR=$top \
		sh "$top/tests/integration/test-region-failover.sh" >"$tmp/failover.out" 2>&1 || {
		echo "bench: the failover test failed:" >&2
		grep -v '^ok' "$tmp/failover.out" >&2
		exit 2
	}
	put failover_s "$(sed -n 's/^# failover: the first 202 at zrh2 came \([0-9.]*\) s after the kill/\1/p' "$tmp/failover.out")"
done

cat >"$tmp/cmds" <<EOF
pgbench16 pgbench -n -c16 -j2 -T10 -f insert.sql (INSERT INTO bench_rows (v) VALUES (:r))
pgbench64 pgbench -n -c64 -j2 -T10 -f insert.sql
submit wrk -t2 -c16 -d10s -H 'Authorization: Bearer TOKEN' -s submit.lua http://127.0.0.1:PORT/v1/submissions
submit64 wrk -t2 -c64 -d10s -H 'Authorization: Bearer TOKEN' -s submit.lua http://127.0.0.1:PORT/v1/submissions
append wrk -t2 -c64 -d10s -H 'Authorization: Bearer OPERATOR' -s append.lua 'http://127.0.0.1:PORT/v1/admin/log?type=statement'
lookup wrk -t2 -c16 -d10s -H 'Authorization: Bearer TOKEN' -s lookup.lua http://127.0.0.1:PORT/v1/lookup -- lookup.json
redis redis-benchmark -t get -P 16 -q -n 4000000
failover sh tests/integration/test-region-failover.sh
floor pgbench -n -c2 -j2 -T10 -f F (F: bench/floor-bytes.sql then floor-rows.sql in one transaction; each alone)
EOF
"$py" "$client" region_report "$results" "$tmp/cmds"
echo
echo "The log's appends on PostgreSQL alone (build/tlog_speed --pg DSN 3, before the runs):"
echo
grep '^|' "$tmp/tlog_pg.out"
