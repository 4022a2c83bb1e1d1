#!/bin/sh
# test-scan-eicar.sh - EICAR is detected plain and nested in archives built
# here (zip, tar.gz, 7z, and zip in tar.gz in 7z), with the clamscan-style
# nested PATH; a clean file is clean; the default rules know EICAR.
. "$(dirname "$0")/lib.sh"

cd "$tmp" || exit 1
eicar_rule test.yar
R="--no-default-rules --rules test.yar"

eicar >eicar.com
echo "Just an ordinary text file, nothing to see here." >clean.txt

# --- plain EICAR ------------------------------------------------------------
scan $R eicar.com
expect_rc 1 "plain EICAR: exit status 1 (something found)"
expect_line "$out" "eicar.com: Test_EICAR FOUND" \
	"plain EICAR: line 'eicar.com: Test_EICAR FOUND'"
expect_count "$out" " FOUND\$" 1 "plain EICAR: exactly one FOUND line"
expect_line "$out" "----------- SCAN SUMMARY -----------" \
	"plain EICAR: summary block printed on stdout"
expect_line "$out" "Malicious files: 1" "plain EICAR: summary counts 1 malicious file"

scan $R --json eicar.com
jcheck "$out" 'len(rs) == 1 and r["verdict"] == "malicious" and r["score"] == 100' \
	"plain EICAR: JSON verdict malicious, score 100"
jcheck "$out" 'r["detections"] == ["Test_EICAR"]' \
	"plain EICAR: JSON detections are exactly [Test_EICAR]"
jcheck "$out" 'r["objects"][0]["matches"][0]["source"] == "yara" and r["objects"][0]["matches"][0]["rule_id"] == "TEST-Test_EICAR"' \
	"plain EICAR: the match comes from YARA with the rule's meta id"

# --- clean file ---------------------------------------------------------------
scan $R clean.txt
expect_rc 0 "clean text file: exit status 0"
expect_no_match "$out" "FOUND" "clean text file: no FOUND line"
scan $R --json clean.txt
jcheck "$out" 'r["verdict"] == "clean" and r["score"] == 0 and r["detections"] == []' \
	"clean text file: JSON verdict clean, score 0, no detections"

# --- EICAR inside archives ------------------------------------------------------
mkdir src
cp eicar.com src/eicar.com
(cd src && zip -q ../e.zip eicar.com) || fail "zip could not build e.zip"
(cd src && tar czf ../e.tar.gz eicar.com) || fail "tar could not build e.tar.gz"
(cd src && 7z a -bd -bso0 ../e.7z eicar.com >/dev/null) ||
	fail "7z could not build e.7z"

scan $R e.zip
expect_rc 1 "EICAR in zip: exit status 1"
expect_line "$out" "e.zip!eicar.com: Test_EICAR FOUND" \
	"EICAR in zip: detected as 'e.zip!eicar.com'"

scan $R e.tar.gz
expect_rc 1 "EICAR in tar.gz: exit status 1"
# gzip's member is unnamed (the tar stream): shown as #N, its object index.
expect_line "$out" "e.tar.gz!#1!eicar.com: Test_EICAR FOUND" \
	"EICAR in tar.gz: detected as 'e.tar.gz!#1!eicar.com' (unnamed gzip member as #1)"

scan $R e.7z
expect_rc 1 "EICAR in 7z: exit status 1"
expect_line "$out" "e.7z!eicar.com: Test_EICAR FOUND" \
	"EICAR in 7z: detected as 'e.7z!eicar.com'"
scan $R --json e.7z
jcheck "$out" 'r["verdict"] == "malicious" and any(o["name"] == "eicar.com" and o["depth"] == 1 and [m["name"] for m in o["matches"]] == ["Test_EICAR"] for o in r["objects"])' \
	"EICAR in 7z: JSON object 'eicar.com' at depth 1 carries the match"

# zip inside tar.gz inside 7z: four container levels.
mkdir deep
(cd src && zip -q ../deep/inner.zip eicar.com) &&
	(cd deep && tar czf mid.tar.gz inner.zip) &&
	(cd deep && 7z a -bd -bso0 ../top.7z mid.tar.gz >/dev/null) ||
	fail "could not build top.7z"
scan $R top.7z
expect_rc 1 "EICAR in zip in tar.gz in 7z: exit status 1"
expect_line "$out" "top.7z!mid.tar.gz!#2!inner.zip!eicar.com: Test_EICAR FOUND" \
	"EICAR in zip in tar.gz in 7z: detected as 'top.7z!mid.tar.gz!#2!inner.zip!eicar.com'"
scan $R --json top.7z
jcheck "$out" 'r["verdict"] == "malicious" and [o["depth"] for o in objs_named(r, "eicar.com")] == [4]' \
	"EICAR in zip in tar.gz in 7z: the EICAR object is at depth 4"

# A directory: the walk finds both, one detection line for the plain file.
mkdir mixed
cp eicar.com mixed/a-eicar.com
cp clean.txt mixed/b-clean.txt
scan $R mixed
expect_rc 1 "directory with EICAR and a clean file: exit status 1"
expect_line "$out" "mixed/a-eicar.com: Test_EICAR FOUND" \
	"directory: EICAR file found by recursive walk"
expect_no_match "$out" "b-clean" "directory: the clean file has no line"
expect_line "$out" "Scanned files: 2" "directory: both files scanned"

# --- the default rules (rules/ in the source tree) --------------------------------
# Not --no-default-rules: the real rules must name EICAR Vigil_Test_EICAR.
scan eicar.com
expect_rc 1 "default rules: EICAR gives exit status 1"
expect_line "$out" "eicar.com: Vigil_Test_EICAR FOUND" \
	"default rules: EICAR detected as Vigil_Test_EICAR"

# --rules adds to the default rules rather than replacing them.
scan --rules test.yar eicar.com
expect_line "$out" "eicar.com: Vigil_Test_EICAR FOUND" \
	"default rules + --rules: default rule still matches"
expect_line "$out" "eicar.com: Test_EICAR FOUND" \
	"default rules + --rules: added rule matches too"

# --- an archive appended to an executable (a self-extractor or dropper) ------------
# The engine skips libclamav's embedded-file pass for ELF files whose headers
# account for every byte; an appended archive is an overlay and must still be
# found and taken apart. The bare executable must stay clean.
cp /bin/true dropper
cat e.zip >>dropper
scan $R dropper
expect_rc 1 "ELF with an appended zip: exit 1"
expect_line "$out" "dropper!eicar.com: Test_EICAR FOUND" \
	"ELF with an appended zip: the member is found as 'dropper!eicar.com'"
cp /bin/true plain-elf
scan $R plain-elf
expect_rc 0 "a plain ELF executable: exit 0"

finish
