#!/bin/sh
# bench/scan.sh - vigil scan against yara and clamscan on one corpus.
#
#   bench/scan.sh [CORPUS] [RUNS]
#
# CORPUS defaults to /usr/lib/x86_64-linux-gnu, RUNS to 3. In one run, with
# the page cache warmed, it times:
#   vigil scan -j 2  with the default rules and the hash signatures below
#   yara -r -p 2     with the same rules
#   clamscan -r      with the same hash signatures
# and prints the median wall time, throughput, peak RSS and the ratios.
# Every tool follows symbolic links, so all three read the same bytes.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-/usr/lib/x86_64-linux-gnu}
runs=${2:-3}
vigil=${VIGIL:-$top/build/vigil}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for t in yara clamscan /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps)" >&2; exit 2; }
done
[ -x "$vigil" ] || { echo "bench: $vigil is missing (make)" >&2; exit 2; }

# Hash signatures: 20,000 MD5 (.hdb) and 20,000 SHA-256 (.hsb) signatures
# of random content, plus the EICAR test file, so both scanners do real
# lookups for every object.
/usr/bin/python3 - "$tmp" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
with open(d + "/bench.hdb", "w") as h, open(d + "/bench.hsb", "w") as s:
    for i in range(20000):
        b = os.urandom(64)
        h.write("%s:%d:Bench.Md5.%d\n" % (hashlib.md5(b).hexdigest(), 64, i))
        s.write("%s:%d:Bench.Sha256.%d\n" % (hashlib.sha256(b).hexdigest(), 64, i))
    h.write("44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n")
PY

files=$(find -L "$corpus" -type f 2>/dev/null | wc -l)
bytes=$(find -L "$corpus" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {printf "%d\n", s}')
echo "corpus: $corpus ($files files, $(awk -v b="$bytes" 'BEGIN{printf "%.2f GiB", b/2^30}') following symlinks)"
echo "warming the page cache..."
find -L "$corpus" -type f -exec cat {} + >/dev/null 2>&1 || true

# time_cmd NAME CMD...: runs CMD once, appends "NAME seconds maxrss_kb".
time_cmd() {
	name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || {
		rc=$?
		# 1 means "found something" for all three tools.
		[ "$rc" -eq 1 ] || { echo "bench: $name failed ($rc):" >&2; tail -5 "$tmp/err" >&2; exit 2; }
	}
	echo "$name $(cat "$tmp/t")" >>"$tmp/results"
}

rules=$(ls "$top"/rules/*.yar)
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	echo "run $i/$runs"
	time_cmd vigil "$vigil" scan -j 2 --hashes "$tmp/bench.hdb" --hashes "$tmp/bench.hsb" "$corpus"
	# shellcheck disable=SC2086
	time_cmd yara yara -r -p 2 $rules "$corpus"
	time_cmd clamscan clamscan -r --no-summary --infected \
		--follow-dir-symlinks=2 --follow-file-symlinks=2 \
		-d "$tmp/bench.hdb" -d "$tmp/bench.hsb" "$corpus"
done

/usr/bin/python3 - "$tmp/results" "$bytes" "$files" <<'PY'
import statistics, sys
res = {}
for line in open(sys.argv[1]):
    name, secs, rss = line.split()
    res.setdefault(name, []).append((float(secs), int(rss)))
nbytes, nfiles = int(sys.argv[2]), int(sys.argv[3])
med = {n: statistics.median(s for s, _ in v) for n, v in res.items()}
print()
print("| tool | median s | MB/s | files/s | peak RSS MiB | vigil throughput / tool's |")
print("| --- | --- | --- | --- | --- | --- |")
for n in ("vigil", "yara", "clamscan"):
    s = med[n]
    rss = max(r for _, r in res[n]) / 1024
    print("| %s | %.2f | %.0f | %.0f | %.0f | %.2fx |" % (
        n, s, nbytes / 1e6 / s, nfiles / s, rss, s / med["vigil"]))
PY
