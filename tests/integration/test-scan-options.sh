#!/bin/sh
# test-scan-options.sh - the options of `vigil scan`: -j (same results for
# any number of workers), --rules FILE|DIR (repeatable), --no-default-rules,
# VIGIL_RULES_DIR, rule scores, --verbose, --help, --version, a missing
# path, and the progress line (only on a terminal).
. "$(dirname "$0")/lib.sh"

cd "$tmp" || exit 1
eicar_rule test.yar
R="--no-default-rules --rules test.yar"

# --- -j 1 and -j 4 give the same results ------------------------------------------
mkdir many src
eicar >src/eicar.com
i=0
while [ $i -lt 30 ]; do
	case $((i % 6)) in
	0) eicar >many/f$i.com ;;
	1) echo "clean file number $i" >many/f$i.txt ;;
	2) echo "zipped clean file $i" >src/c$i.txt
	   (cd src && zip -q ../many/f$i.zip c$i.txt) ;;
	3) (cd src && zip -q ../many/f$i.zip eicar.com) ;;
	4) head -c $((1000 * i)) /dev/urandom >many/f$i.bin ;;
	5) echo "tarred file $i" >src/t$i.txt
	   (cd src && tar czf ../many/f$i.tar.gz t$i.txt eicar.com) ;;
	esac
	i=$((i + 1))
done

# A canonical, order-free digest of a JSON Lines run: per file, its verdict,
# detections and the sorted (depth, name, sha256) of its objects.
canon() {
	"$PYTHON" -c '
import json, sys
rows = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    objs = sorted((o["depth"], o["name"] or "", o["sha256"]) for o in r["objects"])
    rows.append(json.dumps([r["path"], r["verdict"], r["score"], sorted(r["detections"]), objs]))
for row in sorted(rows):
    print(row)' "$1"
}
scan $R --json -j 1 many
rc1=$rc
canon "$out" >j1.txt
scan $R --json -j 4 many
rc4=$rc
canon "$out" >j4.txt
if [ "$(wc -l <j1.txt)" -eq 30 ]; then
	pass "-j 1: 30 reports for 30 files"
else
	fail "-j 1: 30 reports for 30 files" "got $(wc -l <j1.txt)"
fi
if [ "$(wc -l <j4.txt)" -eq 30 ]; then
	pass "-j 4: 30 reports for 30 files"
else
	fail "-j 4: 30 reports for 30 files" "got $(wc -l <j4.txt)"
fi
if cmp -s j1.txt j4.txt; then
	pass "-j 1 and -j 4: identical verdicts, detections and objects per file"
else
	fail "-j 1 and -j 4: identical verdicts, detections and objects per file"
	diff j1.txt j4.txt | head -10 | sed 's/^/#   /'
fi
if [ "$rc1" -eq 1 ] && [ "$rc4" -eq 1 ]; then
	pass "-j 1 and -j 4: both exit 1"
else
	fail "-j 1 and -j 4: both exit 1" "got $rc1 and $rc4"
fi
jcheck "$out" 'sum(x["verdict"] == "malicious" for x in rs) == 15 and sum(x["verdict"] == "clean" for x in rs) == 15' \
	"-j 4: 15 malicious files (EICAR plain, zipped, tarred), 15 clean"
# The human output too: the same lines, in some order.
scan $R -j 1 many
sort "$out" | grep 'FOUND$' >h1.txt
scan $R -j 4 many
sort "$out" | grep 'FOUND$' >h4.txt
if cmp -s h1.txt h4.txt && [ "$(wc -l <h1.txt)" -ge 15 ]; then
	pass "-j 1 and -j 4: the same FOUND lines"
else
	fail "-j 1 and -j 4: the same FOUND lines"
	diff h1.txt h4.txt | head -10 | sed 's/^/#   /'
fi
expect_line "$out" "Scanned files: 30" "-j 4: summary counts 30 files"
expect_line "$out" "Malicious files: 15" "-j 4: summary counts 15 malicious files"

# --- --rules DIR, --rules repeated ------------------------------------------------------
mkdir rules.d
write_rule rules.d/alpha.yar Test_Alpha "ALPHA-MARKER-7731"
write_rule rules.d/bravo.yara Test_Bravo "BRAVO-MARKER-7732"
# Neither of these is a rule file: a wrong extension, a hidden file.
echo "this is not YARA {" >rules.d/notes.txt
echo "rule Hidden { condition: }" >rules.d/.hidden.yar
echo "xx ALPHA-MARKER-7731 xx" >alpha.txt
echo "xx BRAVO-MARKER-7732 xx" >bravo.txt
scan --no-default-rules --rules rules.d alpha.txt bravo.txt
expect_rc 1 "--rules DIR: exit status 1"
expect_line "$out" "alpha.txt: Test_Alpha FOUND" "--rules DIR: rule from alpha.yar loaded"
expect_line "$out" "bravo.txt: Test_Bravo FOUND" "--rules DIR: rule from bravo.yara loaded"
expect_line "$out" "Rules: 2 YARA, 0 hash signatures" \
	"--rules DIR: exactly 2 rules (.txt and hidden files ignored)"

write_rule a.yar Test_Alpha "ALPHA-MARKER-7731"
write_rule b.yar Test_Bravo "BRAVO-MARKER-7732"
scan --no-default-rules --rules a.yar --rules b.yar alpha.txt bravo.txt
expect_line "$out" "alpha.txt: Test_Alpha FOUND" "--rules twice: the first file's rule matches"
expect_line "$out" "bravo.txt: Test_Bravo FOUND" "--rules twice: the second file's rule matches"
expect_line "$out" "Rules: 2 YARA, 0 hash signatures" "--rules twice: 2 rules"
scan --no-default-rules --rules a.yar alpha.txt bravo.txt
expect_no_match "$out" "bravo.txt" "--rules once: the other rule is not loaded (bravo.txt not found)"

# VIGIL_RULES_DIR replaces the default rules directory.
VIGIL_RULES_DIR=$tmp/rules.d timeout 120 "$VIGIL" scan alpha.txt >"$out" 2>"$err"
rc=$?
expect_line "$out" "alpha.txt: Test_Alpha FOUND" "VIGIL_RULES_DIR: its rules are the default rules"
VIGIL_RULES_DIR=$tmp/rules.d timeout 120 "$VIGIL" scan --no-default-rules alpha.txt >"$out" 2>"$err"
rc=$?
expect_rc 0 "VIGIL_RULES_DIR with --no-default-rules: not loaded, exit status 0"

# --- --no-default-rules with no --rules: still fingerprints and types -------------------
scan --no-default-rules --json many/f0.com
expect_rc 0 "no rules at all: EICAR not detected, exit status 0"
jcheck "$out" 'r["verdict"] == "clean" and len(r["objects"][0]["sha256"]) == 64 and r["objects"][0]["mime"] == "text/plain" and r["objects"][0]["type"].startswith("CL_TYPE_")' \
	"no rules at all: JSON still has sha256, mime and type"
scan --no-default-rules --json many/f3.zip
jcheck "$out" 'len(r["objects"]) == 2 and r["objects"][1]["name"] == "eicar.com" and r["objects"][1]["mime"] == "text/plain"' \
	"no rules at all: archives are still decomposed"
scan --no-default-rules many/f0.com
expect_line "$out" "Rules: 0 YARA, 0 hash signatures" "no rules at all: summary says 0 rules"

# --- rule scores: severity/score meta decide the verdict ---------------------------------
write_rule low.yar Test_Low "LOW-MARKER-1" 25
printf 'rule Test_Medium\n{\n    meta:\n        severity = "medium"\n    strings:\n        $s = "MEDIUM-MARKER-2"\n    condition:\n        $s\n}\n' >medium.yar
echo "LOW-MARKER-1" >low.txt
echo "MEDIUM-MARKER-2" >medium.txt
scan --no-default-rules --rules low.yar --rules medium.yar low.txt
expect_rc 0 "a score-25 rule alone: exit status 0 (below suspicious)"
expect_no_match "$out" "FOUND" "a score-25 rule alone: no FOUND line"
scan --no-default-rules --rules low.yar --rules medium.yar -v low.txt
expect_line "$out" "low.txt: Test_Low (score 25, not counted)" \
	"a score-25 rule, --verbose: 'low.txt: Test_Low (score 25, not counted)'"
scan --no-default-rules --rules low.yar --rules medium.yar --json medium.txt
jcheck "$out" 'r["verdict"] == "suspicious" and r["score"] == 50' \
	"severity \"medium\": verdict suspicious, score 50"
scan --no-default-rules --rules low.yar --rules medium.yar medium.txt
expect_rc 1 "severity \"medium\": exit status 1 (suspicious counts as found)"
expect_line "$out" "medium.txt: Test_Medium FOUND" "severity \"medium\": FOUND line"

# --- --verbose -------------------------------------------------------------------------------
mkdir v
echo "one" >v/a.txt
echo "two" >v/b.txt
eicar >v/c.com
scan $R --verbose v
expect_line "$out" "v/a.txt: OK" "--verbose: 'v/a.txt: OK'"
expect_line "$out" "v/b.txt: OK" "--verbose: 'v/b.txt: OK'"
expect_line "$out" "v/c.com: malicious (score 100)" "--verbose: 'v/c.com: malicious (score 100)'"
expect_count "$out" '^v/[abc]\.(txt|com): (OK|malicious \(score [0-9]+\)|suspicious \(score [0-9]+\))$' 3 \
	"--verbose: exactly one verdict line per file"
scan $R -v v
expect_count "$out" '^v/[abc]\.(txt|com): (OK|malicious \(score [0-9]+\))$' 3 "-v: same as --verbose"
scan $R v
expect_no_match "$out" ": OK$" "without --verbose: no line for clean files"

# --- --help, --version, usage errors ------------------------------------------------------------
timeout 60 "$VIGIL" scan --help >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil scan --help: exit status 0"
expect_line "$out" "usage: vigil scan [options] PATH..." "vigil scan --help: usage on stdout"
if grep -q -- "--max-recursion" "$out" && grep -q -- "--no-default-rules" "$out"; then
	pass "vigil scan --help: lists the options"
else
	fail "vigil scan --help: lists the options"
fi
timeout 60 "$VIGIL" scan -h >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil scan -h: exit status 0"

version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$VIGIL_SOURCE_DIR/meson.build" | head -1)
timeout 60 "$VIGIL" --version >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil --version: exit status 0"
expect_line "$out" "vigil $version" "vigil --version: prints 'vigil $version' (meson.build)"

scan
expect_rc 2 "vigil scan with no path: exit status 2"
if grep -q "usage: vigil scan" "$err"; then
	pass "vigil scan with no path: usage on stderr"
else
	fail "vigil scan with no path: usage on stderr"
	show_last
fi
timeout 60 "$VIGIL" >"$out" 2>"$err"
rc=$?
expect_rc 2 "vigil with no command: exit status 2"
timeout 60 "$VIGIL" frobnicate >"$out" 2>"$err"
rc=$?
expect_rc 2 "vigil with an unknown command: exit status 2"

# --- progress line -------------------------------------------------------------------------------
# Not a terminal: no carriage return, no escape sequence anywhere.
scan $R many
cr=$(printf '\r')
esc=$(printf '\033')
if grep -q "[$cr$esc]" "$out" "$err"; then
	fail "no progress line when stdout is not a terminal (no CR or ESC captured)"
else
	pass "no progress line when stdout is not a terminal (no CR or ESC captured)"
fi
# A terminal, through script(1): the progress line erases itself with
# "\r ESC [K" (a tty turns \n into \r\n, so look for the ESC sequence).
if command -v script >/dev/null 2>&1; then
	timeout 120 script -qec "'$VIGIL' scan $R -j 1 '$tmp/many'" /dev/null \
		>tty.txt 2>&1 </dev/null
	if grep -q "$esc\[K" tty.txt && grep -q " files, " tty.txt; then
		pass "progress line drawn when stdout is a terminal (script(1))"
	else
		fail "progress line drawn when stdout is a terminal (script(1))"
		head -c 600 tty.txt | od -c | head -10 | sed 's/^/#   /'
	fi
	if grep -q "SCAN SUMMARY" tty.txt && grep -q "many/f0.com: Test_EICAR FOUND" tty.txt; then
		pass "on a terminal: results and summary still printed"
	else
		fail "on a terminal: results and summary still printed"
	fi
else
	pass "progress on tty (script(1) not installed, not checked)"
fi

# --- one file under several names: analysed once, reported under each ----------------
mkdir links
eicar >links/a.com
ln links/a.com links/hard.com
ln -s a.com links/soft.com
scan $R links
expect_rc 1 "hard and symbolic links to EICAR: exit 1"
expect_count "$out" ": Test_EICAR FOUND$" 3 "each of the three names gets its FOUND line"
expect_line "$out" "Scanned files: 3" "three names counted as scanned files"
expect_line "$out" "Distinct files: 1" "the bytes were analysed once"
scan $R --json links
jcheck "$out" 'sorted(x["path"] for x in rs) == ["links/a.com", "links/hard.com", "links/soft.com"] and len({x["objects"][0]["sha256"] for x in rs}) == 1' \
	"--json: one report per name, same object hashes"

finish
