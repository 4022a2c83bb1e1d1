#!/bin/sh
# test-scan-limits.sh - a file the scanner could not fully analyse is never
# reported clean: zip bomb, deep nesting, too many members, too large
# objects, truncated and corrupted archives. An archive within every limit
# stays clean, so the limit detections are not always on.
. "$(dirname "$0")/lib.sh"

cd "$tmp" || exit 1
eicar_rule test.yar
R="--no-default-rules --rules test.yar"

# --- zip bomb: 1 GiB of zeros, about 1 MiB compressed --------------------------
# The member inflates beyond the default 400 MiB --max-filesize.
head -c 1073741824 /dev/zero | zip -q bomb.zip - || fail "could not build bomb.zip"
scan $R bomb.zip
expect_rc 1 "zip bomb: exit status 1 (not reported clean)"
expect_count "$out" '^bomb\.zip: Limits\.Exceeded\.[A-Za-z]+ FOUND$' 1 \
	"zip bomb: one 'bomb.zip: Limits.Exceeded.* FOUND' line"
scan $R --json bomb.zip
jcheck "$out" 'r["verdict"] in ("suspicious", "malicious")' \
	"zip bomb: JSON verdict suspicious or malicious"
jcheck "$out" 'any(d.startswith("Limits.Exceeded.") for d in r["detections"]) and len(r["limits_exceeded"]) > 0' \
	"zip bomb: a Limits.Exceeded.* detection and limits_exceeded not empty"
jcheck "$out" 'r["bytes_scanned"] < 500 * 1024 * 1024' \
	"zip bomb: the 1 GiB member was not inflated into the scan"
rm -f bomb.zip

# --- nesting: zip in zip, 20 levels -------------------------------------------------
mkdir nest
echo "the innermost file is harmless" >nest/f0
prev=f0
i=1
while [ $i -le 20 ]; do
	(cd nest && zip -q "n$i.zip" "$prev") || fail "could not build nest/n$i.zip"
	prev=n$i.zip
	i=$((i + 1))
done

scan $R --json nest/n20.zip
jcheck "$out" '"Limits.Exceeded.Recursion" in r["detections"] and r["limits_exceeded"] == ["Recursion"]' \
	"20 nested zips: Limits.Exceeded.Recursion (default limit 16)"
jcheck "$out" 'r["verdict"] != "clean"' "20 nested zips: verdict not clean"
jcheck "$out" 'max(o["depth"] for o in r["objects"]) == 16' \
	"20 nested zips: objects analysed down to depth 16 and no deeper"
scan $R nest/n20.zip
expect_rc 1 "20 nested zips: exit status 1"
expect_line "$out" "nest/n20.zip: Limits.Exceeded.Recursion FOUND" \
	"20 nested zips: 'nest/n20.zip: Limits.Exceeded.Recursion FOUND'"

# 16 levels is exactly the default limit: everything analysed, clean.
scan $R --json nest/n16.zip
jcheck "$out" 'r["verdict"] == "clean" and r["limits_exceeded"] == [] and len(r["objects"]) == 17' \
	"16 nested zips (at the default limit): clean, all 17 objects analysed"

scan $R --json --max-recursion 3 nest/n5.zip
jcheck "$out" '"Limits.Exceeded.Recursion" in r["detections"] and r["verdict"] != "clean"' \
	"--max-recursion 3 on 5 nested zips: Limits.Exceeded.Recursion"
scan $R --max-recursion 3 nest/n5.zip
expect_rc 1 "--max-recursion 3 on 5 nested zips: exit status 1"
scan $R --json --max-recursion 3 nest/n3.zip
jcheck "$out" 'r["verdict"] == "clean" and r["detections"] == []' \
	"--max-recursion 3 on 3 nested zips: clean (limit is inclusive)"

# --- too many members ------------------------------------------------------------------
mkdir ten
for i in 0 1 2 3 4 5 6 7 8 9; do
	echo "member number $i of ten" >ten/m$i.txt
done
(cd ten && zip -q ../ten.zip m0.txt m1.txt m2.txt m3.txt m4.txt m5.txt \
	m6.txt m7.txt m8.txt m9.txt) || fail "could not build ten.zip"
scan $R --json --max-files 2 ten.zip
jcheck "$out" '"Limits.Exceeded.Files" in r["detections"] and "Files" in r["limits_exceeded"] and r["verdict"] != "clean"' \
	"--max-files 2 on a 10-member zip: Limits.Exceeded.Files, not clean"
jcheck "$out" 'len(r["objects"]) <= 2' \
	"--max-files 2: at most 2 objects analysed"
scan $R --max-files 2 ten.zip
expect_rc 1 "--max-files 2 on a 10-member zip: exit status 1"

# Within the limits: the same archive is clean. Limit detections are not
# always on.
scan $R --json ten.zip
jcheck "$out" 'r["verdict"] == "clean" and r["detections"] == [] and r["limits_exceeded"] == [] and r["problems"] == [] and len(r["objects"]) == 11' \
	"10-member zip within the limits: clean, all 11 objects, no limits"
scan $R ten.zip
expect_rc 0 "10-member zip within the limits: exit status 0"

# --- object size ------------------------------------------------------------------------
head -c 5000 /dev/urandom >r5000.bin
scan $R --json --max-filesize 1000 r5000.bin
jcheck "$out" '"Limits.Exceeded.FileSize" in r["detections"] and r["limits_exceeded"] == ["FileSize"] and r["verdict"] != "clean"' \
	"--max-filesize 1000 on a 5000-byte file: Limits.Exceeded.FileSize"
scan $R --max-filesize 1000 r5000.bin
expect_rc 1 "--max-filesize 1000 on a 5000-byte file: exit status 1"
expect_line "$out" "r5000.bin: Limits.Exceeded.FileSize FOUND" \
	"--max-filesize: 'r5000.bin: Limits.Exceeded.FileSize FOUND'"
scan $R --json --max-filesize 5000 r5000.bin
jcheck "$out" 'r["verdict"] == "clean" and r["limits_exceeded"] == []' \
	"--max-filesize 5000 on a 5000-byte file: clean (limit is inclusive)"

# A member over the limit, inside a small archive.
mkdir stored
cp r5000.bin stored/r.bin
(cd stored && zip -q -0 ../stored.zip r.bin) || fail "could not build stored.zip"
scan $R --json --max-filesize 4000 stored.zip
jcheck "$out" '"Limits.Exceeded.FileSize" in r["detections"] and r["verdict"] != "clean"' \
	"--max-filesize 4000, zip with a 5000-byte member: Limits.Exceeded.FileSize"

# --- total bytes scanned -------------------------------------------------------------------
scan $R --json --max-scansize 6000 stored.zip
jcheck "$out" '"Limits.Exceeded.ScanSize" in r["detections"] and "ScanSize" in r["limits_exceeded"] and r["verdict"] != "clean"' \
	"--max-scansize 6000, zip + 5000-byte member: Limits.Exceeded.ScanSize"
scan $R --max-scansize 6000 stored.zip
expect_rc 1 "--max-scansize 6000, zip + member: exit status 1"
# The file itself larger than --max-scansize (but under --max-filesize).
scan $R --json --max-scansize 1000 r5000.bin
jcheck "$out" '"Limits.Exceeded.ScanSize" in r["detections"] and r["verdict"] != "clean" and r["verdict"] != "unknown"' \
	"--max-scansize 1000 on a 5000-byte file: Limits.Exceeded.ScanSize detection"
scan $R --max-scansize 1000 r5000.bin
expect_rc 1 "--max-scansize 1000 on a 5000-byte file: exit status 1"

# --- truncated and corrupted archives ---------------------------------------------------------
# A compressible text member (deflated) and an incompressible one, so that
# cutting or overwriting part of the file breaks a member's data.
mkdir tc
head -c 30000 /dev/urandom | od -An -tx1 >tc/a.txt
head -c 20000 /dev/urandom >tc/b.bin
(cd tc && zip -q ../whole.zip a.txt b.bin) || fail "could not build whole.zip"
(cd tc && tar czf ../whole.tar.gz a.txt b.bin) || fail "could not build whole.tar.gz"
(cd tc && 7z a -bd -bso0 ../whole.7z a.txt b.bin >/dev/null) ||
	fail "could not build whole.7z"
cut_half() {
	head -c $(($(wc -c <"$1") / 2)) "$1" >"$2"
}
# Overwrites 64 bytes at offset $3 of a copy of $1.
corrupt() {
	cp "$1" "$2"
	printf 'CORRUPTCORRUPTCORRUPTCORRUPTCORRUPTCORRUPTCORRUPTCORRUPTCORRUPT!' |
		dd of="$2" bs=1 seek="$3" conv=notrunc 2>/dev/null
}
cut_half whole.zip trunc.zip
cut_half whole.tar.gz trunc.tar.gz
cut_half whole.7z trunc.7z
# Inside the deflate stream of a.txt (zip, gzip) / the packed stream (7z).
corrupt whole.zip corrupt.zip 200
corrupt whole.tar.gz corrupt.tar.gz 200
corrupt whole.7z corrupt.7z 200
# Inside the stored (incompressible) member b.bin: only its CRC-32 shows it.
(cd tc && zip -q -0 ../stored2.zip b.bin) || fail "could not build stored2.zip"
corrupt stored2.zip crc.zip 1000

scan $R --json whole.zip whole.tar.gz whole.7z
jcheck "$out" 'len(rs) == 3 and all(x["verdict"] == "clean" and x["problems"] == [] and len(x["objects"]) >= 3 for x in rs)' \
	"intact zip, tar.gz, 7z of the same members: clean, no problems"

# A report is never clean while it lists problems or limits, and a problem
# is a detection (Decompose.Incomplete).
consistent='(x["verdict"] != "clean" or (x["problems"] == [] and x["limits_exceeded"] == [])) and (x["problems"] == [] or "Decompose.Incomplete" in x["detections"])'
for f in trunc.zip trunc.tar.gz trunc.7z corrupt.zip corrupt.tar.gz corrupt.7z crc.zip; do
	scan $R --json "$f"
	jcheck "$out" "len(rs) == 1 and all($consistent for x in rs)" \
		"$f: verdict consistent with the problems it lists"
done
# The issue: a truncated or unparseable container is never reported clean.
for f in trunc.zip trunc.tar.gz trunc.7z corrupt.zip corrupt.tar.gz corrupt.7z; do
	scan $R --json "$f"
	jcheck "$out" 'r["verdict"] != "clean" and r["problems"] != []' \
		"$f: not reported clean, problems listed (a member could not be extracted)"
done
scan $R trunc.zip
expect_rc 1 "trunc.zip: exit status 1 (incomplete analysis counts as found)"
expect_line "$out" "trunc.zip: Decompose.Incomplete FOUND" \
	"trunc.zip: 'trunc.zip: Decompose.Incomplete FOUND'"

finish
