#!/bin/sh
# test-rule-check.sh - `vigil release check-rules` (docs/RELEASES.md, "The
# rule check") on the repository's rules/ and their fixtures against a
# small known-good corpus (/usr/bin): it passes and its report says so
# for every rule; a rule without a fixture, a file that does not compile
# and a false positive each fail the check (exit 1) and are named; a
# corpus that does not exist is an error (exit 2). Also: `vigil scan` takes
# the installed rules, $VIGIL_HOME/rules, as its default rules.
. "$(dirname "$0")/lib.sh"

cd "$tmp" || exit 1

# check ARGS...: runs the real command; stdout in $out, stderr in $err.
check() {
	timeout 120 "$VIGIL" release check-rules "$@" >"$out" 2>"$err"
	rc=$?
	return 0
}

# report FILE EXPR WHAT: a Python expression over the JSON report r.
report() {
	if "$PYTHON" -c "
import json, sys
r = json.load(open(sys.argv[1]))
rules = {x['id']: x for x in r['rules']}
sys.exit(0 if ($2) else 1)" "$1" 2>>"$err"; then
		pass "$3"
	else
		fail "$3" "false: $2"
		show_last
	fi
}

src=$VIGIL_SOURCE_DIR/rules
n_rules=$(cat "$src"/*.yar | grep -Ec '^[[:space:]]*((private|global)[[:space:]]+)*rule[[:space:]]')

# --- the repository's rules pass ---------------------------------------------------
check "$src" --corpus /usr/bin --report report.json
expect_rc 0 "repository rules: the check passes on /usr/bin"
expect_count "$out" '^rule check passed' 1 "repository rules: the summary says passed"
report report.json "r['pass'] is True and r['failures'] == []" \
	"report: pass, no failures"
report report.json "len(rules) == $n_rules and all(x['fired_on_fixture'] for x in rules.values())" \
	"report: each of the $n_rules rules fires on its fixture"
report report.json "all(f['compiled'] for f in r['files']) and len(r['files']) == $(ls "$src"/*.yar | wc -l)" \
	"report: every rule file compiled"
report report.json "r['corpus']['directories'] == ['/usr/bin'] and r['corpus']['files_scanned'] > 0 and r['corpus']['false_positives'] == 0" \
	"report: /usr/bin scanned, no false positives"

# --- a copy of the rules, broken in three ways ---------------------------------------
mkdir rules corpus
cp "$src"/*.yar rules/
cp -R "$src/fixtures" rules/fixtures
echo "a known-good file" >corpus/clean.txt

rm rules/fixtures/Vigil_Ransom_Note
check rules --corpus corpus --report r1.json
expect_rc 1 "a rule without a fixture: exit status 1"
expect_count "$out" '^FAIL rule Vigil_Ransom_Note \(ransomware.yar\) has no fixture' 1 \
	"a rule without a fixture: named"
report r1.json "r['pass'] is False and rules['Vigil_Ransom_Note']['fixture'] is None" \
	"a rule without a fixture: in the report"
cp "$src/fixtures/Vigil_Ransom_Note" rules/fixtures/

printf 'rule Broken_Rule {\n  condition:\n    true and and\n}\n' >rules/zz_broken.yar
check rules --corpus corpus
expect_rc 1 "a file that does not compile: exit status 1"
expect_count "$out" '^FAIL zz_broken.yar:3: .*does not compile' 1 \
	"a file that does not compile: named with its line"
rm rules/zz_broken.yar

cp "$src/fixtures/Vigil_Shell_ReverseShell" corpus/innocent.sh
check rules --corpus corpus --report r3.json
expect_rc 1 "a false positive: exit status 1"
expect_line "$out" "    Vigil_Shell_ReverseShell fires on corpus/innocent.sh" \
	"a false positive: rule and path named"
report r3.json "r['corpus']['false_positive_list'] == [{'rule': 'Vigil_Shell_ReverseShell', 'path': 'corpus/innocent.sh'}]" \
	"a false positive: in the report"
rm corpus/innocent.sh

check rules --corpus corpus
expect_rc 0 "the repaired copy passes again"

check rules --corpus "$tmp/no-such-dir"
expect_rc 2 "a corpus that does not exist: exit status 2"
check
expect_rc 2 "no RULESDIR: usage, exit status 2"

# --- vigil scan takes the installed rules -------------------------------------------
mkdir -p "$HOME/.config/vigil/rules.d/5" scanme
write_rule "$HOME/.config/vigil/rules.d/5/only.yar" Installed_Rule "installed-rule-marker-51"
ln -s rules.d/5 "$HOME/.config/vigil/rules"
echo "installed-rule-marker-51" >scanme/a.txt
scan scanme/a.txt
expect_rc 1 "scan: the installed rules are the default rules"
expect_line "$out" "scanme/a.txt: Installed_Rule FOUND" "scan: installed rule matches"
expect_line "$out" "Default rules: $HOME/.config/vigil/rules (installed)" \
	"scan: the summary says which rules"
expect_line "$out" "Rules: 1 YARA, 0 hash signatures" "scan: the built-in rules are not loaded too"
rm "$HOME/.config/vigil/rules"
scan scanme/a.txt
expect_rc 0 "scan: without installed rules, the built-in ones"
expect_count "$out" '^Default rules: .* \(built-in\)$' 1 \
	"scan: the summary says built-in"

finish
