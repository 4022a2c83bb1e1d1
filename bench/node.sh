#!/bin/sh
# bench/node.sh - vigild against nginx, redis and the disk, in one run.
#
#   bench/node.sh [RUNS]
#
# RUNS defaults to 3; every figure is the median of RUNS. Each run measures,
# each vigild on a fresh data directory, listening on 127.0.0.1:0, with two
# analysis workers and rate limits too high to throttle anything:
#
#   1. GET /v1/files/{sha256} of a known sample, wrk -t2 -c64 -d10s, against
#      nginx answering `return 200` with a body of the same bytes (its own
#      instance on a loopback port, worker_processes auto, then 1), and
#      against build/http_floor sending vigild's exact answer with one
#      read and one write per request and nothing else (the floor);
#   2. POST /v1/lookup of 1,000 hashes (half known, half unknown, MD5, SHA-1
#      and SHA-256 mixed) after 300 samples were submitted and analysed,
#      wrk -t2 -c16 -d10s, in hashes/s, against redis-benchmark -t get
#      -P 16 on its own redis-server, in GETs/s;
#   3. durable 4 KiB submissions (each a new sample), wrk -t2 -c16 and
#      -c64 -d10s, against the disk's synchronous 4 KiB writes (dd
#      oflag=dsync);
#   4. submission-to-verdict latency of distinct 100 KB samples submitted
#      at 100/s for 20 s (POST, then GET ?wait=10 until done), p50 and p99;
#   5. vigild's VmRSS idle after start, idle after the 300 analyses, and
#      peak during the lookup load (and the same with its worker processes,
#      which start with the first job, added).
#
# Needs wrk, nginx, redis-server, redis-benchmark (scripts/install-deps
# bench) and a built tree (ninja -C build). It starts and stops its own
# nginx and redis; their system services are never used.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
vigild=${VIGILD:-$top/build/vigild}
floor=$top/build/http_floor
py=/usr/bin/python3
LC_ALL=C
export LC_ALL
unset VIGIL_RULES_DIR

for t in wrk nginx redis-server redis-cli redis-benchmark dd ps "$py"; do
	command -v "$t" >/dev/null || {
		echo "bench: $t is missing (scripts/install-deps bench)" >&2
		exit 2
	}
done
for b in "$vigild" "$floor"; do
	[ -x "$b" ] || { echo "bench: $b is missing (make)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench.XXXXXXXX")
node_pid='' ngx_pid='' redis_pid='' watch_pid='' floor_pid=''
. "$top/bench/lib.sh"
cleanup() {
	for p in $watch_pid $node_pid $ngx_pid $redis_pid $floor_pid; do
		stop_pid "$p"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Helpers in Python (stdlib only): bench/client.py.

# ---- wrk scripts ----------------------------------------------------------------------------
# wrk scripts: bench/lookup.lua and bench/submit.lua.

cat >"$tmp/node.conf" <<'CONF'
[node]
workers = 2
[limits]
rate_per_sec = 10000000
rate_burst = 10000000
CONF

# start_node NAME: vigild on a fresh data directory; sets $node_pid, $base.
start_node() {
	rm -rf "$tmp/${1:?}"
	mkdir "$tmp/$1"
	vigild_start "$tmp/$1" "$tmp/node.conf"
}

# rss PID: VmRSS of PID, then the same plus its children's, in KiB.
rss() {
	self=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status")
	kids=$(ps -o rss= --ppid "$1" | awk '{s += $1} END {print s + 0}')
	echo "$self $((self + kids))"
}


ngx_start() { # WORKERS BODYFILE
	port=$("$py" "$top/bench/client.py" free_port)
	mkdir -p "$tmp/nginx"
	"$py" - "$tmp/nginx" "$1" "$port" "$2" <<'PY'
import sys
d, workers, port, body = sys.argv[1:5]
body = open(body).read()
assert "'" not in body and "\\" not in body and "$" not in body
open(d + "/nginx.conf", "w").write("""worker_processes %s;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path %s/tmp;
    proxy_temp_path %s/tmp;
    fastcgi_temp_path %s/tmp;
    uwsgi_temp_path %s/tmp;
    scgi_temp_path %s/tmp;
    server {
        listen 127.0.0.1:%s;
        location / {
            default_type application/json;
            add_header Cache-Control no-store;
            return 200 '%s';
        }
    }
}
""" % (workers, d, d, d, d, d, d, d, port, body))
PY
	nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -e "$tmp/nginx/error.log" &
	ngx_pid=$!
	i=0
	until curl -sf -o /dev/null "http://127.0.0.1:$port/"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "bench: nginx did not start" >&2; cat "$tmp/nginx/error.log" >&2; exit 2; }
		sleep 0.1
	done
	ngx_url="http://127.0.0.1:$port/v1/files/$sha"
}

ngx_stop() {
	stop_pid "$ngx_pid" QUIT
	ngx_pid=
}

: >"$tmp/results"
put() { echo "$1 $2" >>"$tmp/results"; }

# (the helpers' counters are globals: the runs have their own name)
run=0
while [ "$run" -lt "$runs" ]; do
	run=$((run + 1))
	echo "run $run/$runs"

	# -- 5 (idle), 1, 2, 5 (peak): one vigild with 300 analysed samples --
	start_node lookup
	sleep 2
	# shellcheck disable=SC2046
	set -- $(rss "$node_pid")
	put rss_idle "$1"
	put rss_idle_all "$2"
	echo "  populating: 300 samples submitted and analysed"
	sha=$("$py" "$top/bench/client.py" populate "$base" "$token" 300 "$tmp/lookup")
	put files_bytes "$(wc -c <"$tmp/lookup/files.json")"
	"$py" "$top/bench/client.py" raw "$base" "$token" "/v1/files/$sha" "$tmp/lookup/files.http"
	# shellcheck disable=SC2046
	set -- $(rss "$node_pid")
	put rss_warm "$1"
	put rss_warm_all "$2"

	echo "  GET /v1/files: vigild, nginx"
	wrk -t2 -c64 -d10s -H "Authorization: Bearer $token" "$base/v1/files/$sha" >"$tmp/wrk.out"
	wrk_put files_vigild
	ngx_start auto "$tmp/lookup/files.json"
	wrk -t2 -c64 -d10s "$ngx_url" >"$tmp/wrk.out"
	wrk_put files_nginx
	ngx_stop
	ngx_start 1 "$tmp/lookup/files.json"
	wrk -t2 -c64 -d10s "$ngx_url" >"$tmp/wrk.out"
	wrk_put files_nginx1
	ngx_stop
	fport=$("$py" "$top/bench/client.py" free_port)
	"$floor" "$fport" "$tmp/lookup/files.http" 2 &
	floor_pid=$!
	i=0
	until curl -sf -o /dev/null "http://127.0.0.1:$fport/v1/files/$sha"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "bench: http_floor did not start" >&2; exit 2; }
		sleep 0.1
	done
	wrk -t2 -c64 -d10s "http://127.0.0.1:$fport/v1/files/$sha" >"$tmp/wrk.out"
	wrk_put files_floor
	stop_pid "$floor_pid"
	floor_pid=

	echo "  POST /v1/lookup: vigild"
	: >"$tmp/rss.log"
	(
		while :; do
			rss "$node_pid" >>"$tmp/rss.log" 2>/dev/null || exit 0
			sleep 0.1
		done
	) &
	watch_pid=$!
	wrk -t2 -c16 -d10s -H "Authorization: Bearer $token" -s "$top/bench/lookup.lua" \
		"$base/v1/lookup" -- "$tmp/lookup/lookup.json" >"$tmp/wrk.out"
	stop_pid "$watch_pid"
	watch_pid=
	wrk_put lookup_vigild
	put rss_lookup "$(awk '$1 > m {m = $1} END {print m}' "$tmp/rss.log")"
	put rss_lookup_all "$(awk '$2 > m {m = $2} END {print m}' "$tmp/rss.log")"
	vigild_stop

	echo "  redis-benchmark"
	redis_put

	# -- 3: durable submissions against the disk's synchronous writes --
	echo "  dd oflag=dsync, POST /v1/submissions"
	dd if=/dev/zero of="$tmp/f" bs=4k count=2000 oflag=dsync 2>"$tmp/dd.out"
	rm -f "$tmp/f"
	put dd_wps "$(awk '/copied/ {for (k = 1; k < NF; k++) if ($(k + 1) == "s,") print 2000 / $k}' "$tmp/dd.out")"
	start_node submit
	wrk -t2 -c16 -d10s -H "Authorization: Bearer $token" -s "$top/bench/submit.lua" \
		"$base/v1/submissions" -- "$(date +%s%N)" >"$tmp/wrk.out"
	wrk_put submit_vigild
	vigild_stop
	# Group commit grows with the number of clients submitting at once.
	start_node submit64
	wrk -t2 -c64 -d10s -H "Authorization: Bearer $token" -s "$top/bench/submit.lua" \
		"$base/v1/submissions" -- "$(date +%s%N)" >"$tmp/wrk.out"
	wrk_put submit64_vigild
	vigild_stop

	# -- 4: submission-to-verdict latency --
	echo "  submission to verdict, 100 KB at 100/s for 20 s"
	start_node latency
	sleep 1
	lat=$("$py" "$top/bench/client.py" latency "$base" "$token" 100 20 100000)
	# shellcheck disable=SC2086
	set -- $lat
	put lat_p50 "$1"
	put lat_p99 "$2"
	put lat_n "$3"
	put lat_err "$4"
	put lat_rate "$5"
	put lat_lag "$6"
	vigild_stop
done

cat >"$tmp/cmds" <<EOF
files wrk -t2 -c64 -d10s -H 'Authorization: Bearer TOKEN' http://127.0.0.1:PORT/v1/files/SHA256
files_nginx wrk -t2 -c64 -d10s http://127.0.0.1:PORT/v1/files/SHA256
files_floor build/http_floor PORT files.http 2; wrk -t2 -c64 -d10s http://127.0.0.1:PORT/v1/files/SHA256
lookup wrk -t2 -c16 -d10s -H 'Authorization: Bearer TOKEN' -s lookup.lua http://127.0.0.1:PORT/v1/lookup -- lookup.json
redis redis-benchmark -t get -P 16 -q -n 4000000
submit wrk -t2 -c16 -d10s -H 'Authorization: Bearer TOKEN' -s submit.lua http://127.0.0.1:PORT/v1/submissions
submit64 wrk -t2 -c64 -d10s -H 'Authorization: Bearer TOKEN' -s submit.lua http://127.0.0.1:PORT/v1/submissions
dd dd if=/dev/zero of=\$TMP/f bs=4k count=2000 oflag=dsync
latency python3 client.py latency URL TOKEN 100 20 100000
EOF
"$py" "$top/bench/client.py" report "$tmp/results" "$tmp/cmds"
