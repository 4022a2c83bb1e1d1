#!/bin/sh
# tests/rules/test-rules.sh - regression test for the default YARA rules in rules/
#
# 1. static checks: every rule has the required meta keys (id, description,
#    severity, category, author, date) with valid values, ids and rule
#    identifiers are unique and well-formed, every rule is expected to match at
#    least one fixture in expect.tsv, expect.tsv only names existing rules, and
#    (if the yara CLI is available) the rules compile without any warning
#    (e.g. "string ... is slowing down scanning").
# 2. generates inert fixtures with make-fixtures.py into a temp dir and, for
#    every line of expect.tsv, checks that the set of YARA rules matched on the
#    fixture equals the expected set.
#
# Environment:
#   VIGIL              scanner command (default: build/vigil in the repo root);
#                      run as: $VIGIL scan --json --no-default-rules --rules rules/ FILE
#   VIGIL_RULES_CHECK  "yara" to use the yara CLI instead of the scanner
#                      ($YARA rules/*.yar FILE), e.g. before vigil is built
#   YARA               yara CLI (default /usr/bin/yara)
#   PYTHON             python3 interpreter (default /usr/bin/python3)
#   VIGIL_SOURCE_DIR   repository root (default: two levels above this script)
#
# Output: one "ok"/"FAIL" line per check, then "N passed, M failed".
# Exit status: 0 if everything passed, 1 otherwise.

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=${VIGIL_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
rules_dir=$root/rules
expect=$here/expect.tsv
PYTHON=${PYTHON:-/usr/bin/python3}
YARA=${YARA:-/usr/bin/yara}
VIGIL=${VIGIL:-$root/build/vigil}
mode=${VIGIL_RULES_CHECK:-vigil}

pass=0
fail=0
ok()  { pass=$((pass + 1)); printf 'ok   %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf 'FAIL %s\n' "$*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-rules.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

case $mode in
    yara|vigil) ;;
    *) echo "unknown VIGIL_RULES_CHECK=$mode (expected 'yara' or unset)" >&2; exit 2 ;;
esac

# expect.tsv without comments / blank lines
grep -v -e '^#' -e '^[[:space:]]*$' "$expect" > "$tmp/expect" || {
    echo "cannot read $expect" >&2; exit 2; }

# ---------------------------------------------------------------------------
# 1. static checks (python3 stdlib only)
# ---------------------------------------------------------------------------
"$PYTHON" - "$rules_dir" "$tmp/expect" > "$tmp/static.out" 2>&1 <<'EOF'
import glob, os, re, sys

rules_dir, expect_path = sys.argv[1], sys.argv[2]
REQUIRED = ("id", "description", "severity", "category", "author", "date")
SEVERITIES = ("info", "low", "medium", "high", "critical")
rule_re = re.compile(r"^[ \t]*(?:(?:private|global)[ \t]+)*rule[ \t]+(\w+)", re.M)
meta_re = re.compile(r'^\s*(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+|true|false))\s*$')

def out(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)

files = sorted(glob.glob(os.path.join(rules_dir, "*.yar")))
out(bool(files), "rules/*.yar present (%d files)" % len(files))
rules = {}   # identifier -> (file, meta dict)
ids = {}
for path in files:
    text = open(path, encoding="utf-8").read()
    # drop block comments that start a line (file headers); strings are untouched
    text = re.sub(r"(?ms)^[ \t]*/\*.*?\*/", "", text)
    heads = list(rule_re.finditer(text))
    if not heads:
        out(False, "%s: no rule found" % os.path.basename(path))
    for i, m in enumerate(heads):
        name = m.group(1)
        body = text[m.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        meta = {}
        mm = re.search(r"(?s)\bmeta\s*:(.*?)(?:\bstrings\s*:|\bcondition\s*:)", body)
        if mm:
            for line in mm.group(1).splitlines():
                kv = meta_re.match(line)
                if kv:
                    meta[kv.group(1)] = kv.group(2) if kv.group(2) is not None else kv.group(3)
        where = "%s:%s" % (os.path.basename(path), name)
        if name in rules:
            out(False, "%s: duplicate rule identifier (also in %s)" % (where, rules[name][0]))
        rules[name] = (os.path.basename(path), meta)
        problems = []
        if not re.match(r"^Vigil_[A-Z][A-Za-z0-9]*(_[A-Z0-9][A-Za-z0-9]*)+$", name):
            problems.append("identifier not Vigil_Family_CamelCase")
        missing = [k for k in REQUIRED if not meta.get(k)]
        if missing:
            problems.append("missing meta " + ",".join(missing))
        if meta.get("severity") and meta["severity"] not in SEVERITIES:
            problems.append("bad severity %r" % meta["severity"])
        rid = meta.get("id")
        if rid:
            if not re.match(r"^VG-\d{4}$", rid):
                problems.append("bad id format %r" % rid)
            if rid in ids:
                problems.append("duplicate id %s (also %s)" % (rid, ids[rid]))
            ids.setdefault(rid, name)
        if meta.get("author") and meta["author"] != "vigil project":
            problems.append("author is not 'vigil project'")
        if meta.get("date") and not re.match(r"^\d{4}-\d{2}-\d{2}$", meta["date"]):
            problems.append("bad date %r" % meta["date"])
        out(not problems, "meta %s %s%s" % (rid or "?", where,
                                             (": " + "; ".join(problems)) if problems else ""))

expected_any = set()
for n, line in enumerate(open(expect_path, encoding="utf-8"), 1):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        out(False, "expect.tsv: malformed line %r" % line.rstrip("\n"))
        continue
    if parts[1] != "-":
        for r in parts[1].split(","):
            if r not in rules:
                out(False, "expect.tsv: %s expects unknown rule %s" % (parts[0], r))
            expected_any.add(r)
untested = sorted(set(rules) - expected_any)
out(not untested, "every rule has a positive fixture in expect.tsv"
    + ((": missing " + ", ".join(untested)) if untested else " (%d rules)" % len(rules)))
EOF
if [ $? -ne 0 ] && ! grep -q '^FAIL' "$tmp/static.out"; then
    cat "$tmp/static.out"
    bad "static rule checks crashed"
fi
while IFS= read -r line; do
    case $line in
        "ok   "*) ok "${line#ok   }" ;;
        "FAIL "*) bad "${line#FAIL }" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$tmp/static.out"

# compile check with the yara CLI: no errors and no warnings (slow strings...)
if [ -x "$YARA" ]; then
    if "$YARA" "$rules_dir"/*.yar /dev/null > "$tmp/compile.out" 2>&1 && [ ! -s "$tmp/compile.out" ]; then
        ok "rules compile with $YARA without warnings"
    else
        bad "rules compile with $YARA without warnings:"
        sed 's/^/     /' "$tmp/compile.out"
    fi
elif [ "$mode" = yara ]; then
    bad "yara CLI not found at $YARA"
fi

# ---------------------------------------------------------------------------
# 2. fixtures
# ---------------------------------------------------------------------------
fx=$tmp/fixtures
if ! "$PYTHON" "$here/make-fixtures.py" "$fx"; then
    bad "make-fixtures.py failed"
    echo "$pass passed, $fail failed"
    exit 1
fi

run_fixtures=yes
if [ "$mode" = vigil ]; then
    # shellcheck disable=SC2086
    set -- $VIGIL
    if ! command -v "$1" > /dev/null 2>&1; then
        bad "scanner not found: $1 (build it, set VIGIL=..., or use VIGIL_RULES_CHECK=yara)"
        run_fixtures=no
    fi
fi

# collect yara rule names from vigil JSON Lines on stdin -> "A,B" or "-"
parse_json='
import json, sys
names, records = set(), 0
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if not isinstance(rec, dict):
        continue
    records += 1
    for obj in rec.get("objects") or []:
        for m in (obj or {}).get("matches") or []:
            if isinstance(m, dict) and m.get("source") == "yara" and m.get("name"):
                names.add(m["name"])
if not records:
    sys.exit(3)
print(",".join(sorted(names)) or "-")
'

tab=$(printf '\t')
if [ "$run_fixtures" = yes ]; then
    while IFS="$tab" read -r fixture want; do
        file=$fx/$fixture
        if [ ! -f "$file" ]; then
            bad "$fixture: fixture not generated by make-fixtures.py"
            continue
        fi
        want=$(printf '%s\n' "$want" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -s -d, -)
        [ -n "$want" ] || want=-
        if [ "$mode" = yara ]; then
            if ! "$YARA" "$rules_dir"/*.yar "$file" > "$tmp/out" 2> "$tmp/err"; then
                bad "$fixture: yara failed: $(head -n 3 "$tmp/err")"
                continue
            fi
            got=$(awk '{print $1}' "$tmp/out" | sort -u | paste -s -d, -)
        else
            # the scanner may use its exit status to report detections: ignore it,
            # but require a parseable JSON report
            # shellcheck disable=SC2086
            $VIGIL scan --json --no-default-rules --rules "$rules_dir/" "$file" \
                > "$tmp/out" 2> "$tmp/err" < /dev/null
            rc=$?
            if ! got=$("$PYTHON" -c "$parse_json" < "$tmp/out"); then
                bad "$fixture: no JSON report from scanner (exit $rc): $(head -n 3 "$tmp/err")"
                continue
            fi
        fi
        [ -n "$got" ] || got=-
        if [ "$got" = "$want" ]; then
            ok "$fixture ($got)"
        else
            bad "$fixture: expected $want, got $got"
        fi
    done < "$tmp/expect"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
