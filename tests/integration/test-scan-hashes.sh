#!/bin/sh
# test-scan-hashes.sh - ClamAV hash signatures (--hashes): .hdb MD5 and
# .hsb SHA-256/SHA-1, matched on a nested object; the size field and its
# '*' wildcard; malformed signature files are refused with file:line.
. "$(dirname "$0")/lib.sh"

cd "$tmp" || exit 1
H="--no-default-rules"

# payload.bin inside inner.zip inside outer.tar.gz (gzip -> tar -> zip).
mkdir src
printf 'vigil hash-signature test payload, not malware\n' >src/payload.bin
(cd src && zip -q inner.zip payload.bin && tar czf ../outer.tar.gz inner.zip) ||
	fail "could not build outer.tar.gz"
P=payload.bin
md5=$(md5sum src/$P | cut -d' ' -f1)
sha1=$(sha1sum src/$P | cut -d' ' -f1)
sha256=$(sha256sum src/$P | cut -d' ' -f1)
size=$(wc -c <src/$P | tr -d ' ')
nested="outer.tar.gz!#1!inner.zip!payload.bin"

# --- .hdb: md5:size:name ------------------------------------------------------
printf '# a comment line\n\n%s:%s:Test.Hash.MD5\n' "$md5" "$size" >t.hdb
scan $H --hashes t.hdb outer.tar.gz
expect_rc 1 ".hdb MD5 on a nested object: exit status 1"
expect_line "$out" "$nested: Test.Hash.MD5 FOUND" \
	".hdb MD5: '$nested: Test.Hash.MD5 FOUND'"
expect_count "$out" " FOUND\$" 1 ".hdb MD5: only the payload matches (one FOUND line)"
expect_line "$out" "Rules: 0 YARA, 1 hash signatures" \
	".hdb MD5: summary counts 1 hash signature (comment and blank line skipped)"

scan $H --json --hashes t.hdb outer.tar.gz
jcheck "$out" 'r["verdict"] == "malicious" and r["detections"] == ["Test.Hash.MD5"]' \
	".hdb MD5: JSON verdict malicious, detections [Test.Hash.MD5]"
jcheck "$out" '[(m["source"], m["score"]) for o in objs_named(r, "payload.bin") for m in o["matches"]] == [("hash", 100)]' \
	".hdb MD5: the match is on object payload.bin, source hash, score 100"
jcheck "$out" 'objs_named(r, "payload.bin")[0]["depth"] == 3' \
	".hdb MD5: payload.bin is at depth 3 (gzip, tar, zip)"

# --- .hsb: sha256:size:name ---------------------------------------------------
printf '%s:%s:Test.Hash.SHA256\n' "$sha256" "$size" >t256.hsb
scan $H --hashes t256.hsb outer.tar.gz
expect_rc 1 ".hsb SHA-256 on a nested object: exit status 1"
expect_line "$out" "$nested: Test.Hash.SHA256 FOUND" \
	".hsb SHA-256: '$nested: Test.Hash.SHA256 FOUND'"

# --- .hsb with SHA-1, uppercase hex ----------------------------------------------
printf '%s:%s:Test.Hash.SHA1\n' "$(echo "$sha1" | tr a-f A-F)" "$size" >t1.hsb
scan $H --hashes t1.hsb outer.tar.gz
expect_rc 1 ".hsb SHA-1 (uppercase hex): exit status 1"
expect_line "$out" "$nested: Test.Hash.SHA1 FOUND" \
	".hsb SHA-1: '$nested: Test.Hash.SHA1 FOUND'"

# --- --hashes repeated: both files load, both match -------------------------------
scan $H --hashes t.hdb --hashes t256.hsb outer.tar.gz
expect_line "$out" "$nested: Test.Hash.MD5 FOUND" "--hashes twice: MD5 signature matches"
expect_line "$out" "$nested: Test.Hash.SHA256 FOUND" "--hashes twice: SHA-256 signature matches"
expect_line "$out" "Rules: 0 YARA, 2 hash signatures" "--hashes twice: 2 hash signatures loaded"

# --- the size field ---------------------------------------------------------------
printf '%s:%s:Test.Hash.WrongSize\n' "$md5" "$((size + 1))" >wrong.hdb
scan $H --hashes wrong.hdb outer.tar.gz
expect_rc 0 "right MD5, wrong size: no match, exit status 0"
expect_no_match "$out" "FOUND" "right MD5, wrong size: no FOUND line"

printf '%s:*:Test.Hash.AnySize\n' "$sha256" >any.hsb
scan $H --hashes any.hsb outer.tar.gz
expect_rc 1 "size '*' wildcard: exit status 1"
expect_line "$out" "$nested: Test.Hash.AnySize FOUND" \
	"size '*' wildcard: '$nested: Test.Hash.AnySize FOUND'"

printf '%s:*:Test.Hash.AnySize.MD5\n' "$md5" >any.hdb
scan $H --hashes any.hdb outer.tar.gz
expect_line "$out" "$nested: Test.Hash.AnySize.MD5 FOUND" \
	"size '*' wildcard in a .hdb: matches"

# A hash of the plain file (object 0) is reported on the file's own path.
printf '%s:%s:Test.Hash.Plain\n' "$md5" "$size" >plain.hdb
scan $H --hashes plain.hdb src/payload.bin
expect_line "$out" "src/payload.bin: Test.Hash.Plain FOUND" \
	"MD5 of a plain file: 'src/payload.bin: Test.Hash.Plain FOUND'"

# Small objects. A file of 3 bytes is analysed (libclamav skips inputs of
# 5 bytes or fewer; the engine analyses the file itself then). Inside a
# container libclamav hands over nothing that small (docs/REPORT.md), so the
# smallest member that can match is 6 bytes: that boundary is checked here.
mkdir tiny
printf 'abc' >tiny/t.txt
printf 'abcdef' >tiny/six.txt
(cd tiny && zip -q ../tiny.zip six.txt) || fail "could not build tiny.zip"
{
	printf '%s:3:Test.Hash.Tiny\n' "$(md5sum tiny/t.txt | cut -d' ' -f1)"
	printf '%s:6:Test.Hash.Six\n' "$(md5sum tiny/six.txt | cut -d' ' -f1)"
} >tiny.hdb
scan $H --hashes tiny.hdb tiny/t.txt
expect_line "$out" "tiny/t.txt: Test.Hash.Tiny FOUND" \
	"MD5 of a 3-byte plain file: matches"
scan $H --hashes tiny.hdb tiny.zip
expect_line "$out" "tiny.zip!six.txt: Test.Hash.Six FOUND" \
	"MD5 of a 6-byte member inside a zip: 'tiny.zip!six.txt: Test.Hash.Six FOUND'"

# --- malformed signature files: exit 2, message names file:line ---------------------
check_bad() { # FILE LINE WHAT
	scan $H --hashes "$1" outer.tar.gz
	expect_rc 2 "$3: exit status 2"
	if grep -Fq "$1:$2:" "$err"; then
		pass "$3: error message names $1:$2"
	else
		fail "$3: error message names $1:$2"
		show_last
	fi
	expect_no_match "$out" "FOUND" "$3: nothing scanned"
}
printf '%s:%s\n' "$md5" "$size" >missing-name.hdb
check_bad missing-name.hdb 1 "signature without a name"
# 32 characters, not all hexadecimal.
printf '# header\n%s:%s:Ok.Sig\nzz%030d:1:Bad.Sig\n' "$md5" "$size" 0 >badhex.hsb
check_bad badhex.hsb 3 "a non-hex hash on line 3 after a good line"
printf '%s:%s:Ok.Sig\n%s:12x:Bad.Size\n' "$md5" "$size" "$md5" >badsize.hdb
check_bad badsize.hdb 2 "a non-numeric size"
printf '%s:%s:Not.MD5\n' "$sha256" "$size" >sha-in.hdb
check_bad sha-in.hdb 1 "a SHA-256 in a .hdb (MD5 only)"
printf '%s:%s:Bad Name\n' "$md5" "$size" >space.hdb
check_bad space.hdb 1 "a signature name with a space"

scan $H --hashes does-not-exist.hdb outer.tar.gz
expect_rc 2 "missing signature file: exit status 2"
if grep -Fq "does-not-exist.hdb" "$err"; then
	pass "missing signature file: message names the file"
else
	fail "missing signature file: message names the file"
	show_last
fi

finish
