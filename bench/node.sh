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
# stop_pid PID [SIGNAL]: signals a process this script started and reaps
# it; the signal is sent again every 2 s (one that lands before the
# program installed its handlers is lost), and after 20 s it is killed.
stop_pid() {
	kill -"${2:-TERM}" "$1" 2>/dev/null || true
	k=0
	while [ $k -lt 200 ] && [ -e "/proc/$1/stat" ] &&
		[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]; do
		k=$((k + 1))
		sleep 0.1
		[ $((k % 20)) -ne 0 ] || kill -"${2:-TERM}" "$1" 2>/dev/null || true
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	for p in $watch_pid $node_pid $ngx_pid $redis_pid $floor_pid; do
		stop_pid "$p"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers in Python (stdlib only) --------------------------------------------------------
cat >"$tmp/client.py" <<'PY'
"""Clients of bench/node.sh: populate, latency, free_port, report."""
import hashlib, http.client, json, os, random, statistics, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit


def conn(base):
    u = urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def call(c, method, path, token, body=None):
    c.request(method, path, body=body,
              headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    data = r.read()
    return r.status, data


def populate(base, token, n, out):
    """Submits n distinct small random samples, waits for every verdict,
    writes the body of a 1,000-hash lookup and one sample's answer."""
    c = conn(base)
    known, ids = [], []
    for i in range(n):
        blob = os.urandom(random.randint(256, 4096))
        st, data = call(c, "POST", "/v1/submissions", token, blob)
        if st != 202:
            sys.exit("populate: POST /v1/submissions: %d %s" % (st, data[:200]))
        ids.append(json.loads(data)["id"])
        known.append((hashlib.md5(blob).hexdigest(), hashlib.sha1(blob).hexdigest(),
                      hashlib.sha256(blob).hexdigest()))
    for sid in ids:
        while True:
            st, data = call(c, "GET", "/v1/submissions/%s?wait=60" % sid, token)
            if st != 200:
                sys.exit("populate: GET submission: %d %s" % (st, data[:200]))
            if json.loads(data)["status"] in ("done", "failed"):
                break
    rnd = random.Random(1)
    hashes = []
    for j in range(500):  # known, the three kinds in turn
        hashes.append(known[j % n][j % 3])
    for j in range(500):  # unknown, the three kinds in turn
        hashes.append(os.urandom((16, 20, 32)[j % 3]).hex())
    rnd.shuffle(hashes)
    with open(os.path.join(out, "lookup.json"), "w") as f:
        json.dump({"hashes": hashes}, f)
    st, data = call(c, "POST", "/v1/lookup", token, json.dumps({"hashes": hashes}))
    res = json.loads(data)["results"]
    hits = sum(1 for r in res if r.get("verdict") not in (None, "unknown"))
    if st != 200 or hits != 500:
        sys.exit("populate: the lookup found %d of 500 known hashes" % hits)
    st, data = call(c, "GET", "/v1/files/" + known[0][2], token)
    if st != 200:
        sys.exit("populate: GET /v1/files: %d" % st)
    with open(os.path.join(out, "files.json"), "wb") as f:
        f.write(data)
    print(known[0][2])


def latency(base, token, rate, seconds, size):
    """Submits rate*seconds distinct samples of size bytes at a fixed rate;
    for each, the time from sending the POST to its verdict."""
    blob = bytearray(os.urandom(size))
    nonce = os.urandom(8)
    local = threading.local()
    lat, lag, errors = [], [], []
    lock = threading.Lock()

    def one(i, due):
        if not hasattr(local, "c"):
            local.c = conn(base)
        c = local.c
        body = bytes(nonce + i.to_bytes(8, "big")) + bytes(blob[16:])
        t0 = time.monotonic()
        try:
            st, data = call(c, "POST", "/v1/submissions", token, body)
            if st != 202:
                raise RuntimeError("POST %d %s" % (st, data[:100]))
            d = json.loads(data)
            while d.get("status") not in ("done", "failed"):
                st, data = call(c, "GET", "/v1/submissions/%s?wait=10" % d["id"], token)
                if st != 200:
                    raise RuntimeError("GET %d %s" % (st, data[:100]))
                d = json.loads(data)
            if d["status"] != "done":
                raise RuntimeError("analysis %s: %s" % (d["status"], d.get("error")))
        except Exception as e:  # counted, and the connection renewed
            local.c = conn(base)
            with lock:
                errors.append(str(e))
            return
        t1 = time.monotonic()
        with lock:
            lat.append(t1 - t0)
            lag.append(t0 - due)

    total = rate * seconds
    with ThreadPoolExecutor(max_workers=256) as ex:
        start = time.monotonic() + 0.1
        for i in range(total):
            due = start + i / rate
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            ex.submit(one, i, due)
        sent_in = time.monotonic() - start
    lat.sort()
    n = len(lat)
    if n == 0:
        sys.exit("latency: no verdict (%s)" % (errors[:1],))
    p = lambda q: lat[max(0, -(-n * q // 100) - 1)] * 1000
    print("%.1f %.1f %d %d %.1f %.1f" % (p(50), p(99), n, len(errors),
          total / sent_in, max(lag) * 1000))
    if errors:
        print("latency: %d errors, first: %s" % (len(errors), errors[0]), file=sys.stderr)


def raw(base, token, path, out):
    """Writes the exact bytes vigild answers a GET of path with (status
    line, headers and body), for http_floor to send."""
    import socket
    u = urlsplit(base)
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
               "\r\n" % (path, u.netloc, token)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head = data[:data.index(b"\r\n\r\n") + 4]
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
              if l.lower().startswith(b"content-length:")]
    if not head.startswith(b"HTTP/1.1 200 ") or len(length) != 1:
        sys.exit("raw: unexpected answer: %r" % head[:200])
    while len(data) < len(head) + length[0]:
        data += s.recv(65536)
    s.close()
    with open(out, "wb") as f:
        f.write(data[:len(head) + length[0]])


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def report(results, cmds):
    res = {}
    for line in open(results):
        k, v = line.split()
        res.setdefault(k, []).append(float(v))
    cmd = dict(l.rstrip("\n").split(" ", 1) for l in open(cmds))
    m = {k: statistics.median(v) for k, v in res.items()}
    runs = max(len(v) for v in res.values())

    def goal(ok):
        return "**met**" if ok else "**not met**"

    def closed(k):
        c, n = m.get(k + "_closed", 0), m.get(k + "_requests", 0)
        if c > 0:
            print("The server closed the connection after %.0f of %.0f answers "
                  "(wrk reconnected each time).\n" % (c, n))

    print("\nMedian of %d runs.\n" % runs)
    print("### 1. GET /v1/files/{sha256}, %d-byte answer, keep-alive\n" % m["files_bytes"])
    print("| server | command | req/s | vigild / server |")
    print("| --- | --- | --- | --- |")
    print("| vigild | `%s` | %.0f | 1.00x |" % (cmd["files"], m["files_vigild"]))
    for k, name in (("files_nginx", "nginx, worker_processes auto (2)"),
                    ("files_nginx1", "nginx, worker_processes 1")):
        print("| %s | `%s` | %.0f | %.2fx |" % (name, cmd["files_nginx"], m[k],
                                                m["files_vigild"] / m[k]))
    print("| http_floor, 2 threads (bench/http_floor.c: one read and one write"
          " per request, nothing else) | `%s` | %.0f | %.2fx |" % (
              cmd["files_floor"], m["files_floor"],
              m["files_vigild"] / m["files_floor"]))
    r1 = m["files_vigild"] / m["files_nginx"]
    print("\nGoal: at least 1.2x nginx: %.2fx, %s. The floor, which does no HTTP"
          " at all, is %.2fx nginx: the most any server on epoll and"
          " read/write could be here.\n" % (r1, goal(r1 >= 1.2),
                                             m["files_floor"] / m["files_nginx"]))
    closed("files_vigild")

    print("### 2. POST /v1/lookup, 1,000 hashes per request (500 known)\n")
    print("| server | command | keys/s | vigild / redis |")
    print("| --- | --- | --- | --- |")
    hs = m["lookup_vigild"] * 1000
    print("| vigild | `%s` | %.0f (%.1f req/s) | %.2fx |" % (
        cmd["lookup"], hs, m["lookup_vigild"], hs / m["redis_get"]))
    print("| redis-server | `%s` | %.0f | 1.00x |" % (cmd["redis"], m["redis_get"]))
    r2 = hs / m["redis_get"]
    print("\nGoal: at least 1.5x redis: %.2fx, %s.\n" % (r2, goal(r2 >= 1.5)))
    closed("lookup_vigild")

    print("### 3. Durable 4 KiB submissions, each a new sample\n")
    print("| what | command | per s | vigild / disk |")
    print("| --- | --- | --- | --- |")
    print("| vigild, 16 connections | `%s` | %.0f | %.2fx |" % (
        cmd["submit"], m["submit_vigild"], m["submit_vigild"] / m["dd_wps"]))
    print("| vigild, 64 connections | `%s` | %.0f | %.2fx |" % (
        cmd["submit64"], m["submit64_vigild"], m["submit64_vigild"] / m["dd_wps"]))
    print("| disk, synchronous 4 KiB writes | `%s` | %.0f | 1.00x |" % (cmd["dd"], m["dd_wps"]))
    r3 = max(m["submit_vigild"], m["submit64_vigild"]) / m["dd_wps"]
    print("\nGoal: at least 2x the disk: %.2fx, %s.\n" % (r3, goal(r3 >= 2)))
    closed("submit_vigild")
    closed("submit64_vigild")

    print("### 4. Submission to verdict, 100 KB samples at 100/s for 20 s\n")
    print("| command | p50 ms | p99 ms | verdicts | errors | achieved rate/s | max send lag ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("| `%s` | %.1f | %.1f | %.0f | %.0f | %.1f | %.1f |" % (
        cmd["latency"], m["lat_p50"], m["lat_p99"], m["lat_n"], m["lat_err"],
        m["lat_rate"], m["lat_lag"]))
    print("\nGoal: p50 at most 50 ms: %s; p99 at most 250 ms: %s.\n" % (
        goal(m["lat_p50"] <= 50), goal(m["lat_p99"] <= 250)))

    print("### 5. Resident memory (VmRSS)\n")
    print("| state | vigild MiB | vigild + workers MiB |")
    print("| --- | --- | --- |")
    print("| idle after start, default rules | %.1f | %.1f |" % (
        m["rss_idle"] / 1024, m["rss_idle_all"] / 1024))
    print("| idle after 300 analyses (workers started) | %.1f | %.1f |" % (
        m["rss_warm"] / 1024, m["rss_warm_all"] / 1024))
    print("| peak during the lookup load (300 samples) | %.1f | %.1f |" % (
        m["rss_lookup"] / 1024, m["rss_lookup_all"] / 1024))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "populate":
        populate(a[1], a[2], int(a[3]), a[4])
    elif a[0] == "latency":
        latency(a[1], a[2], int(a[3]), int(a[4]), int(a[5]))
    elif a[0] == "raw":
        raw(a[1], a[2], a[3], a[4])
    elif a[0] == "free_port":
        free_port()
    elif a[0] == "report":
        report(a[1], a[2])
PY

# ---- wrk scripts ----------------------------------------------------------------------------
cat >"$tmp/lookup.lua" <<'LUA'
-- POSTs the body in the file named by the first argument.
function init(args)
	local f = assert(io.open(args[1], "rb"))
	wrk.body = f:read("*a")
	f:close()
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
end
LUA
cat >"$tmp/submit.lua" <<'LUA'
-- POSTs 4 KiB bodies, each distinct (a run nonce, the thread, a counter),
-- so that every request is a new sample.
local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end
function init(args)
	nonce = args[1]
	n = 0
	filler = string.rep("vigil benchmark sample. ", 200)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/octet-stream"
end
function request()
	n = n + 1
	local head = string.format("%s %d %d\n", nonce, tid, n)
	return wrk.format(nil, nil, nil, head .. string.sub(filler, 1, 4096 - #head))
end
LUA

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
	: >"$tmp/$1/out"
	"$vigild" -c "$tmp/node.conf" --listen 127.0.0.1:0 --data "$tmp/$1/var" \
		>"$tmp/$1/out" 2>"$tmp/$1/err" &
	node_pid=$!
	base=
	i=0
	while [ $i -lt 300 ] && [ -z "$base" ]; do
		base=$(sed -n 's/^vigild listening on \(http:[^ ]*\).*/\1/p' "$tmp/$1/out")
		kill -0 "$node_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$base" ] || { echo "bench: vigild did not start:" >&2; tail -5 "$tmp/$1/err" >&2; exit 2; }
	token=$(curl -sf -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
		"$py" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}

stop_node() {
	stop_pid "$node_pid"
	node_pid=
}

# rss PID: VmRSS of PID, then the same plus its children's, in KiB.
rss() {
	self=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status")
	kids=$(ps -o rss= --ppid "$1" | awk '{s += $1} END {print s + 0}')
	echo "$self $((self + kids))"
}

# wrk_put KEY: records wrk's requests/s from $tmp/wrk.out, or stops the
# benchmark if any request failed (a refused or throttled request is not
# a measure of anything). Read errors are counted apart: they are the
# server closing the connection after an answer (wrk then reconnects).
wrk_put() {
	if grep -q 'Non-2xx' "$tmp/wrk.out" ||
		grep 'Socket errors' "$tmp/wrk.out" | grep -qv 'connect 0, read [0-9]*, write 0, timeout 0'; then
		echo "bench: wrk saw failed requests ($1):" >&2
		cat "$tmp/wrk.out" >&2
		exit 2
	fi
	put "$1" "$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")"
	put "$1_closed" "$(awk '/^ *Socket errors/ {sub(",", "", $6); c = $6} END {print c + 0}' "$tmp/wrk.out")"
	put "$1_requests" "$(awk '/requests in/ {print $1}' "$tmp/wrk.out")"
}

ngx_start() { # WORKERS BODYFILE
	port=$("$py" "$tmp/client.py" free_port)
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
	sha=$("$py" "$tmp/client.py" populate "$base" "$token" 300 "$tmp/lookup")
	put files_bytes "$(wc -c <"$tmp/lookup/files.json")"
	"$py" "$tmp/client.py" raw "$base" "$token" "/v1/files/$sha" "$tmp/lookup/files.http"
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
	fport=$("$py" "$tmp/client.py" free_port)
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
	wrk -t2 -c16 -d10s -H "Authorization: Bearer $token" -s "$tmp/lookup.lua" \
		"$base/v1/lookup" -- "$tmp/lookup/lookup.json" >"$tmp/wrk.out"
	stop_pid "$watch_pid"
	watch_pid=
	wrk_put lookup_vigild
	put rss_lookup "$(awk '$1 > m {m = $1} END {print m}' "$tmp/rss.log")"
	put rss_lookup_all "$(awk '$2 > m {m = $2} END {print m}' "$tmp/rss.log")"
	stop_node

	echo "  redis-benchmark"
	rport=$("$py" "$tmp/client.py" free_port)
	mkdir -p "$tmp/redis"
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" --save '' \
		--appendonly no --daemonize no --logfile "$tmp/redis/log" &
	redis_pid=$!
	j=0
	until [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ]; do
		j=$((j + 1))
		[ $j -lt 100 ] || { echo "bench: redis-server did not start" >&2; exit 2; }
		sleep 0.1
	done
	redis-benchmark -p "$rport" -t get -P 16 -q -n 4000000 | tr '\r' '\n' >"$tmp/redis.out"
	put redis_get "$(awk '/^GET:/ {v = $2} END {print v}' "$tmp/redis.out")"
	stop_pid "$redis_pid"
	redis_pid=

	# -- 3: durable submissions against the disk's synchronous writes --
	echo "  dd oflag=dsync, POST /v1/submissions"
	dd if=/dev/zero of="$tmp/f" bs=4k count=2000 oflag=dsync 2>"$tmp/dd.out"
	rm -f "$tmp/f"
	put dd_wps "$(awk '/copied/ {for (k = 1; k < NF; k++) if ($(k + 1) == "s,") print 2000 / $k}' "$tmp/dd.out")"
	start_node submit
	wrk -t2 -c16 -d10s -H "Authorization: Bearer $token" -s "$tmp/submit.lua" \
		"$base/v1/submissions" -- "$(date +%s%N)" >"$tmp/wrk.out"
	wrk_put submit_vigild
	stop_node
	# Group commit grows with the number of clients submitting at once.
	start_node submit64
	wrk -t2 -c64 -d10s -H "Authorization: Bearer $token" -s "$tmp/submit.lua" \
		"$base/v1/submissions" -- "$(date +%s%N)" >"$tmp/wrk.out"
	wrk_put submit64_vigild
	stop_node

	# -- 4: submission-to-verdict latency --
	echo "  submission to verdict, 100 KB at 100/s for 20 s"
	start_node latency
	sleep 1
	lat=$("$py" "$tmp/client.py" latency "$base" "$token" 100 20 100000)
	# shellcheck disable=SC2086
	set -- $lat
	put lat_p50 "$1"
	put lat_p99 "$2"
	put lat_n "$3"
	put lat_err "$4"
	put lat_rate "$5"
	put lat_lag "$6"
	stop_node
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
"$py" "$tmp/client.py" report "$tmp/results" "$tmp/cmds"
