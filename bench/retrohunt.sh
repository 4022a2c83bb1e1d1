#!/bin/sh
# bench/retrohunt.sh - a node's retro-hunt against `vigil scan -j 2` over
# the same bytes, in one run.
#
#   bench/retrohunt.sh [RUNS] [FILES] [MB]
#
# RUNS defaults to 3; every figure is the median of RUNS. The corpus is up
# to FILES (default 3000) distinct regular files, at most MB (default 300)
# MB in all, of 1 byte to 2 MiB each, from /usr/lib/x86_64-linux-gnu then
# /usr/share, in name order. The script
#
#   1. starts vigild (fresh data directory, two analysis workers, which is
#      also the number of hunt workers; rate limits out of the way),
#      submits every file of the corpus and waits until all are analysed;
#   2. copies the same files into one directory, and warms the page cache;
#   3. RUNS times: `vigil admin retrohunt RULE` (the whole command: the
#      log entry, the hunt, the polling, every match printed), then
#      `vigil scan -j 2 --no-default-rules --rules RULE DIR`, the same
#      rule over the same bytes;
#
# and prints a table of the medians, the ratio of throughputs (hunt /
# scan), the CPU time each took (vigild and its workers; the scan's user +
# system) and its ratio, which the other load of a shared machine moves
# less than wall time, and checks that both found the same number of
# matching files.
# The node keeps the samples encrypted: the hunt decrypts each (XChaCha20-
# Poly1305), hands it to a sandboxed worker in a sealed memfd and reads
# the answer; the scan reads the files.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
max_files=${2:-3000}
max_mb=${3:-300}
vigild=${VIGILD:-$top/build/vigild}
vigil=${VIGIL:-$top/build/vigil}
py=/usr/bin/python3
LC_ALL=C
export LC_ALL
unset VIGIL_RULES_DIR

for b in "$vigild" "$vigil" "$top/build/vigil-worker"; do
	[ -x "$b" ] || { echo "bench: $b is missing (make)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "bench: curl is missing" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-rh.XXXXXXXX")
node_pid=''
# stop_pid PID: stops a process this script started, and reaps it.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	k=0
	while [ $k -lt 200 ] && kill -0 "$1" 2>/dev/null; do
		k=$((k + 1))
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	[ -z "$node_pid" ] || stop_pid "$node_pid"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The rule: strings common in libraries and data files, a hex pattern and
# a regular expression, so that both sides do real matching work.
cat >"$tmp/hunt.yar" <<'YAR'
rule Bench_Retrohunt
{
    strings:
        $a = "GLIBC_2.34"
        $b = "OPENSSL_3.0.0"
        $c = { 7F 45 4C 46 02 01 01 00 [8] 03 00 3E 00 }
        $d = /copyright \(c\) 20[0-2][0-9] free software/ nocase
    condition:
        any of them
}
YAR

# ---- the corpus ------------------------------------------------------------------------------
mkdir "$tmp/corpus"
"$py" - "$tmp/corpus" "$max_files" "$max_mb" <<'PY'
import hashlib, os, shutil, sys
out, max_files, max_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) * 10**6
seen, n, total = set(), 0, 0
for root in ("/usr/lib/x86_64-linux-gnu", "/usr/share"):
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            try:
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                size = os.path.getsize(p)
                if size < 1 or size > 2 << 20 or total + size > max_bytes:
                    continue
                data = open(p, "rb").read()
            except OSError:
                continue
            h = hashlib.sha256(data).hexdigest()
            if h in seen:
                continue
            seen.add(h)
            with open(os.path.join(out, "%05d" % n), "wb") as w:
                w.write(data)
            n += 1
            total += size
            if n >= max_files:
                break
        if n >= max_files:
            break
    if n >= max_files:
        break
print("corpus: %d files, %.1f MB (from /usr/lib/x86_64-linux-gnu, /usr/share)" % (n, total / 1e6))
PY
files=$(ls "$tmp/corpus" | wc -l)
bytes=$(du -sb --apparent-size "$tmp/corpus" | cut -f1)

# ---- the node --------------------------------------------------------------------------------
cat >"$tmp/node.conf" <<CONF
[node]
region = eu
site = zrh1
workers = 2
[log]
origin = bench.example/eu
[limits]
rate_per_sec = 10000000
rate_burst = 10000000
CONF
"$vigild" -c "$tmp/node.conf" --listen 127.0.0.1:0 --data "$tmp/var" \
	>"$tmp/node.out" 2>"$tmp/node.err" &
node_pid=$!
base=
i=0
while [ $i -lt 300 ] && [ -z "$base" ]; do
	base=$(sed -n 's/^vigild listening on \(http:[^ ]*\).*/\1/p' "$tmp/node.out")
	kill -0 "$node_pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
[ -n "$base" ] || { echo "bench: vigild did not start:" >&2; tail -5 "$tmp/node.err" >&2; exit 2; }
token=$(curl -sf -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$py" -c 'import json,sys; print(json.load(sys.stdin)["token"])')

echo "submitting $files samples and waiting for their analysis..."
"$py" - "$base" "$token" "$tmp/corpus" <<'PY'
import concurrent.futures, os, re, sys, time, urllib.request
base, token, d = sys.argv[1:4]
names = sorted(os.listdir(d))
def submit(n):
    body = open(os.path.join(d, n), "rb").read()
    req = urllib.request.Request(base + "/v1/submissions", data=body, method="POST",
                                 headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.status == 202, r.status
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    list(ex.map(submit, names))
t0 = time.time()
while True:
    m = urllib.request.urlopen(base + "/metrics").read().decode()
    def val(pat):
        x = re.search(pat + r" (\d+)", m)
        return int(x.group(1)) if x else -1
    done = val(r'vigil_analysis_jobs_total\{outcome="done"\}') + \
        val(r'vigil_analysis_jobs_total\{outcome="failed"\}')
    if done >= len(names) and val("vigil_analysis_queue_depth") == 0 and \
            val("vigil_analysis_busy") == 0:
        break
    if time.time() - t0 > 3600:
        sys.exit("bench: the analyses did not finish")
    time.sleep(1)
print("analysed in %.0f s" % (time.time() - t0))
PY

echo "warming the page cache..."
cat "$tmp"/corpus/* >/dev/null

# ---- the runs ----------------------------------------------------------------------------------
now() { "$py" -c 'import time; print("%.3f" % time.monotonic())'; }
# node_cpu: CPU seconds of vigild and of the workers it reaped (a hunt's
# workers are reaped before the hunt is done).
node_cpu() {
	awk -v t="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15 + $16 + $17) / t}' \
		"/proc/$node_pid/stat"
}
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	echo "run $i/$runs"
	c0=$(node_cpu)
	t0=$(now)
	"$vigil" admin --server "$base" --token-file "$tmp/var/operator.token" \
		retrohunt "$tmp/hunt.yar" --reason "bench/retrohunt.sh run $i" \
		>"$tmp/hunt.out" 2>"$tmp/hunt.err" ||
		{ echo "bench: the retro-hunt failed:" >&2; cat "$tmp/hunt.err" >&2; exit 2; }
	t1=$(now)
	c1=$(node_cpu)
	echo "hunt $(echo "$t1 - $t0" | bc) $(wc -l <"$tmp/hunt.out") $(echo "$c1 - $c0" | bc) $(sed -n 's/.* failed, \([0-9]*\) ms.*/\1/p' "$tmp/hunt.err")" >>"$tmp/results"
	t0=$(now)
	rc=0
	/usr/bin/time -f "%U %S" -o "$tmp/scan.cpu" \
		"$vigil" scan -j 2 --no-default-rules --rules "$tmp/hunt.yar" "$tmp/corpus" \
		>"$tmp/scan.out" 2>"$tmp/scan.err" || rc=$?
	t1=$(now)
	[ "$rc" -le 1 ] || { echo "bench: vigil scan failed ($rc):" >&2; tail -5 "$tmp/scan.err" >&2; exit 2; }
	echo "scan $(echo "$t1 - $t0" | bc) $(grep -c 'Bench_Retrohunt' "$tmp/scan.out") $(tail -1 "$tmp/scan.cpu" | awk '{print $1 + $2}') 0" >>"$tmp/results"
done

"$py" - "$tmp/results" "$bytes" "$files" <<'PY'
import statistics, sys
res = {}
for line in open(sys.argv[1]):
    name, secs, matched, cpu, node_ms = line.split()
    res.setdefault(name, []).append((float(secs), int(matched), float(cpu), int(node_ms or 0)))
nbytes, nfiles = int(sys.argv[2]), int(sys.argv[3])
med = {n: statistics.median(x[0] for x in v) for n, v in res.items()}
cpu = {n: statistics.median(x[2] for x in v) for n, v in res.items()}
print()
print("| command | median s | MB/s | files/s | CPU s | matching files | throughput / vigil scan's | CPU / vigil scan's |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
labels = {"hunt": "vigil admin retrohunt (node, 2 workers)",
          "scan": "vigil scan -j 2 (same rule, same bytes)"}
for n in ("hunt", "scan"):
    s = med[n]
    print("| %s | %.2f | %.0f | %.0f | %.2f | %d | %.2fx | %.2fx |" % (
        labels[n], s, nbytes / 1e6 / s, nfiles / s, cpu[n], res[n][0][1],
        med["scan"] / s, cpu[n] / cpu["scan"]))
print()
print("node-side hunt time (median, from the node's summary): %.2f s" %
      (statistics.median(x[3] for x in res["hunt"]) / 1000))
print("runs (s): hunt %s, scan %s" % (
    " ".join("%.2f" % x[0] for x in res["hunt"]),
    " ".join("%.2f" % x[0] for x in res["scan"])))
if res["hunt"][0][1] != res["scan"][0][1]:
    print("WARNING: the hunt and the scan found different numbers of matching files")
PY
