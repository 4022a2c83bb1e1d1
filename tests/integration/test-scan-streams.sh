#!/bin/sh
# test-scan-streams.sh - every byte of a compressed file or archive is
# analysed, or the report says it was not: every member of a gzip, bzip2
# or xz file, the bytes glued after a zip, tar or gzip file's end;
# truncated and wrong-CRC streams are Decompose.Incomplete; and every
# compression bomb is suspicious with a Limits.Exceeded.* detection, and
# is decided without inflating it (the limits, not the clock, are what is
# checked here: times are in docs/BENCHMARKS.md).
. "$(dirname "$0")/lib.sh"

cd "$tmp" || exit 1
eicar_rule test.yar
R="--no-default-rules --rules test.yar"
# The default rules' EICAR rule wants the string at offset 0 of an object
# of at most 128 bytes, as AV products do: it finds EICAR only when the
# member or the appended bytes are an object of their own.

eicar >eicar.com
"$PYTHON" "$VIGIL_SOURCE_DIR/tests/integration/mkstreams.py" eicar.com bombs ||
	fail "mkstreams.py could not build the inputs"

# --- EICAR after the first member, stream or archive end: malicious ----------
for f in two-members.gz two-streams.tgz two-streams.bz2 two-streams.xz \
	appended.zip appended.tar appended.gz; do
	scan --json "$f"
	jcheck "$out" 'r["verdict"] == "malicious" and "Vigil_Test_EICAR" in r["detections"]' \
		"$f: EICAR after the first member or the end is found (malicious)"
	jcheck "$out" 'r["problems"] == [] and r["limits_exceeded"] == []' \
		"$f: taken apart in full: no problems, no limits"
	jcheck "$out" 'all(o["parent"] is None or o["parent"] < o["index"] for o in r["objects"])' \
		"$f: every object's parent comes before it"
done

scan two-members.gz
expect_rc 1 "two-member gzip: exit status 1"
expect_line "$out" "two-members.gz!#member2: Vigil_Test_EICAR FOUND" \
	"two-member gzip: found in 'two-members.gz!#member2'"

scan $R --json appended.zip
jcheck "$out" 'any(o["name"] == "#appended" and o["parent"] == 0 and o["size"] == 68 for o in r["objects"])' \
	"zip with EICAR after its end record: a 68-byte '#appended' child of the zip"
scan $R --json appended.tar
jcheck "$out" 'any(o["name"] == "#appended" and o["parent"] == 0 and o["size"] == 68 for o in r["objects"])' \
	"tar with EICAR after its end blocks and padding: a 68-byte '#appended' child"
scan $R --json two-streams.tgz
jcheck "$out" 'sum(1 for o in r["objects"] if o["type"] == "CL_TYPE_POSIX_TAR") == 2' \
	"tgz of two gzip streams: both tar archives analysed"

scan $R --json clean-two-members.gz
jcheck "$out" 'r["verdict"] == "clean" and r["problems"] == [] and len(r["objects"]) == 3' \
	"two harmless gzip members: clean, the file and both members analysed"

# --- cut or corrupt streams: never clean ---------------------------------------
for f in truncated.gz zeros-head.gz bad-crc.gz; do
	scan $R --json "$f"
	jcheck "$out" 'r["verdict"] != "clean" and "Decompose.Incomplete" in r["detections"]' \
		"$f: Decompose.Incomplete, not clean"
done
scan $R --json cut-end.zip
jcheck "$out" 'r["verdict"] == "suspicious" and "Decompose.Incomplete" in r["detections"]' \
	"zip cut inside its end record: Decompose.Incomplete, not clean"
scan $R --json truncated.gz
jcheck "$out" 'r["verdict"] == "suspicious" and any("truncated" in p for p in r["problems"])' \
	"gzip cut at 30 bytes: suspicious, the problem says truncated"
scan $R --json zeros-head.gz
jcheck "$out" 'r["verdict"] == "suspicious" and r["objects"][1]["size"] > 0' \
	"first 300 bytes of gzipped zeros: suspicious, the bytes recovered still analysed"
scan $R --json bad-crc.gz
jcheck "$out" 'any("check" in p for p in r["problems"])' \
	"gzip with a wrong CRC: the problem names the failed check"
scan $R truncated.gz
expect_rc 1 "truncated gzip: exit status 1"

# --- bombs: suspicious with a limit, without inflating them ---------------------
for f in bomb-1g.gz bomb-1g.zip bomb-42.zip bomb-1g.bz2 bomb-1g.xz \
	bomb-zeros.tar.gz; do
	scan $R --json "$f"
	jcheck "$out" 'r["verdict"] == "suspicious" and any(d.startswith("Limits.Exceeded.") for d in r["detections"])' \
		"$f: suspicious with a Limits.Exceeded.* detection"
	jcheck "$out" 'r["bytes_scanned"] < 64 * 1024 * 1024' \
		"$f: less than 64 MiB analysed (the bomb was not inflated)"
done
scan $R --json bomb-1g.gz
jcheck "$out" 'r["limits_exceeded"] == ["FileSize"] and len(r["objects"]) == 1' \
	"gzip of 1 GiB: refused from its declared size, nothing inflated"
scan $R --json bomb-1g.xz
jcheck "$out" 'r["limits_exceeded"] == ["Ratio"] and len(r["objects"]) == 1' \
	"xz of 1 GiB: refused from the sizes in its index, nothing inflated"
scan $R --json bomb-1g.bz2
jcheck "$out" 'r["limits_exceeded"] == ["Ratio"] and r["objects"][1]["size"] <= 24 * 1024 * 1024' \
	"bzip2 of 1 GiB (no declared size): inflation stopped by Limits.Exceeded.Ratio"
scan $R --json zeros-20m.gz
jcheck "$out" 'r["limits_exceeded"] == ["Ratio"] and r["verdict"] == "suspicious"' \
	"20 MiB of zeros gzipped (1000:1): Limits.Exceeded.Ratio by default (250)"
scan $R --json --max-ratio 2000 zeros-20m.gz
jcheck "$out" 'r["verdict"] == "clean" and r["limits_exceeded"] == [] and r["objects"][1]["size"] == 20 * 1024 * 1024' \
	"20 MiB of zeros gzipped, --max-ratio 2000: clean, all 20 MiB analysed"
scan $R --json bomb-42.zip
jcheck "$out" '"FileSize" in r["limits_exceeded"] and len(r["objects"]) < 16' \
	"42-style nest: stopped at the first 1 GiB member, its siblings never extracted"
scan $R bomb-42.zip
expect_rc 1 "42-style nest: exit status 1"

finish
