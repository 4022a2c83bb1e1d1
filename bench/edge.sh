#!/bin/sh
# bench/edge.sh - vigild's memory under a body flood, before the token.
#
#   bench/edge.sh [CONNS] [SECONDS] [RUNS]
#
# Starts vigild (VIGILD, default build/vigild) on a fresh data directory
# and opens CONNS (default 64) connections that, for SECONDS (default 20),
# each declare Content-Length: 262144001 to POST /v1/enroll, which needs
# no token, and send the body as fast as they can, reconnecting whenever
# the node refuses or closes. Prints vigild's peak RSS (VmHWM) and the
# requests answered, by status; RUNS (default 3) runs, each on a fresh
# node, and the median. Set VIGILD to another build to compare.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
conns=${1:-64}
secs=${2:-20}
runs=${3:-3}
vigild=${VIGILD:-$top/build/vigild}
py=/usr/bin/python3
[ -x "$vigild" ] || { echo "bench: $vigild is missing (make)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-edge.XXXXXXXX")
node_pid=
cleanup() {
	[ -z "$node_pid" ] || { kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/flood.py" <<'PY'
import collections, socket, sys, threading, time
host, port, conns, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
head = (b"POST /v1/enroll HTTP/1.1\r\nHost: node\r\n"
        b"Content-Length: 262144001\r\n\r\n")
junk = b"x" * 262144
codes = collections.Counter()
lock = threading.Lock()
end = time.time() + secs

def one():
    while time.time() < end:
        try:
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(head)
            s.settimeout(0.0)
            sent = 0
            while time.time() < end and sent < 262144001:
                try:
                    sent += s.send(junk)
                except BlockingIOError:
                    time.sleep(0.001)
                    try:
                        if s.recv(1, socket.MSG_PEEK):
                            break
                    except BlockingIOError:
                        pass
            s.settimeout(5)
            line = s.recv(64).split(b"\r\n")[0]
            code = line.split()[1].decode() if line.startswith(b"HTTP/1.1") else "none"
        except OSError as e:
            code = type(e).__name__
        with lock:
            codes[code] += 1
        try:
            s.close()
        except Exception:
            pass

ts = [threading.Thread(target=one) for _ in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(" ".join("%s:%d" % kv for kv in sorted(codes.items())))
PY

hwms=
for r in $(seq 1 "$runs"); do
	rm -rf "$tmp/data"
	"$vigild" --listen 127.0.0.1:0 --data "$tmp/data" >"$tmp/out" 2>"$tmp/err" &
	node_pid=$!
	base=
	for _ in $(seq 1 100); do
		base=$(sed -n 's/^vigild listening on \(http:[^ ]*\).*/\1/p' "$tmp/out")
		[ -n "$base" ] && break
		sleep 0.1
	done
	[ -n "$base" ] || { cat "$tmp/err" >&2; exit 1; }
	port=${base##*:}
	idle=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$node_pid/status")
	answers=$("$py" "$tmp/flood.py" 127.0.0.1 "$port" "$conns" "$secs")
	hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$node_pid/status")
	kill "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=
	echo "run $r: $conns connections, $secs s: peak RSS $hwm MiB (idle $idle MiB); answers $answers"
	hwms="$hwms $hwm"
done
med=$(echo "$hwms" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median peak RSS: $med MiB"
