#!/bin/sh
# test-scan-json.sh - `vigil scan --json`: JSON Lines on stdout, one report
# per file, each valid against docs/report.schema.json; object tree
# (parent, depth) consistent; object 0's digests equal the coreutils ones;
# the summary goes to stderr.
. "$(dirname "$0")/lib.sh"

cd "$tmp" || exit 1
eicar_rule test.yar
R="--no-default-rules --rules test.yar"
SCHEMA=$VIGIL_SOURCE_DIR/docs/report.schema.json

# validate.py SCHEMA FILE: every non-empty line of FILE is a JSON document
# valid against SCHEMA; at least one line. Prints the first errors.
cat >validate.py <<'EOF'
import json, sys
import jsonschema
from jsonschema.validators import validator_for

schema = json.load(open(sys.argv[1]))
cls = validator_for(schema)
v = cls(schema)
n, bad = 0, 0
with open(sys.argv[2], "rb") as f:
    for no, raw in enumerate(f.read().split(b"\n"), 1):
        if not raw.strip():
            continue
        n += 1
        try:
            doc = json.loads(raw.decode("utf-8"))
        except Exception as e:
            bad += 1
            print("#   line %d: not JSON: %s" % (no, e))
            continue
        for e in sorted(v.iter_errors(doc), key=lambda e: list(e.path))[:3]:
            bad += 1
            print("#   line %d: %s: %s" % (no, "/".join(map(str, e.path)), e.message[:200]))
sys.exit(0 if n > 0 and bad == 0 else 1)
EOF

validate() { # FILE WHAT
	if msg=$("$PYTHON" validate.py "$SCHEMA" "$1" 2>&1); then
		pass "$2"
	else
		fail "$2"
		printf '%s\n' "$msg" | head -20
	fi
}

# --- the schema itself ------------------------------------------------------------
if [ -r "$SCHEMA" ]; then
	pass "docs/report.schema.json exists"
else
	fail "docs/report.schema.json exists"
fi
if msg=$("$PYTHON" -c '
import json, sys
from jsonschema.validators import validator_for
s = json.load(open(sys.argv[1]))
validator_for(s).check_schema(s)
' "$SCHEMA" 2>&1); then
	pass "report.schema.json is a valid JSON Schema"
else
	fail "report.schema.json is a valid JSON Schema" "$(echo "$msg" | tail -1)"
fi

# --- a corpus that exercises every field -------------------------------------------
mkdir c
eicar >c/eicar.com
echo "plain clean text" >c/clean.txt
: >c/empty
printf 'abc' >c/tiny
head -c 70000 /dev/urandom >c/random.bin
mkdir src
eicar >src/eicar.com
echo "a clean neighbour" >src/note.txt
(cd src && zip -q inner.zip eicar.com note.txt && tar czf ../c/nested.tar.gz inner.zip) ||
	fail "could not build nested.tar.gz"
(cd src && zip -q whole.zip eicar.com note.txt && head -c 100 whole.zip >../c/trunc.zip) ||
	fail "could not build trunc.zip"
md5=$(md5sum src/note.txt | cut -d' ' -f1)
printf '%s:*:Test.Hash.Note\n' "$md5" >note.hdb

scan $R --json --hashes note.hdb c
expect_rc 1 "--json on a directory with EICAR: exit status 1, as without --json"
cp "$out" corpus.jsonl
validate corpus.jsonl "corpus (clean, EICAR, empty, tiny, random, nested, truncated, hash match): every line valid against the schema"

# Each file is one line; names found by the walk.
jcheck corpus.jsonl 'sorted(x["path"] for x in rs) == ["c/clean.txt", "c/eicar.com", "c/empty", "c/nested.tar.gz", "c/random.bin", "c/tiny", "c/trunc.zip"]' \
	"directory of 7 files: exactly one report per file, path as walked"
if [ "$(wc -l <corpus.jsonl)" -eq 7 ]; then
	pass "directory of 7 files: stdout has exactly 7 lines"
else
	fail "directory of 7 files: stdout has exactly 7 lines" "got $(wc -l <corpus.jsonl)"
fi
expect_no_match corpus.jsonl '^[^{]|[^}]$' "stdout holds only JSON objects, one per line (no summary, no progress)"
expect_line "$err" "----------- SCAN SUMMARY -----------" \
	"--json: the summary goes to stderr"
expect_line "$err" "Scanned files: 7" "--json: the summary on stderr counts 7 files"

# Verdicts and detections per file.
jcheck corpus.jsonl 'by_path("c/eicar.com")["verdict"] == "malicious" and by_path("c/eicar.com")["detections"] == ["Test_EICAR"]' \
	"c/eicar.com: malicious, [Test_EICAR]"
jcheck corpus.jsonl 'all(by_path(p)["verdict"] == "clean" and by_path(p)["detections"] == [] for p in ("c/clean.txt", "c/empty", "c/tiny", "c/random.bin"))' \
	"clean, empty, tiny and random files: clean, no detections"
jcheck corpus.jsonl 'set(by_path("c/nested.tar.gz")["detections"]) == {"Test_EICAR", "Test.Hash.Note"}' \
	"nested.tar.gz: both the YARA and the hash detection"
jcheck corpus.jsonl 'by_path("c/trunc.zip")["verdict"] != "clean"' \
	"trunc.zip (first 100 bytes of a zip): not clean"

# Report invariants, for every report of the corpus.
jcheck corpus.jsonl 'all(x["version"] == 1 for x in rs)' "every report: version 1"
jcheck corpus.jsonl 'all([o["index"] for o in x["objects"]] == list(range(len(x["objects"]))) for x in rs)' \
	"every report: objects[i].index == i"
jcheck corpus.jsonl 'all(x["objects"][0]["parent"] is None and x["objects"][0]["depth"] == 0 and x["objects"][0]["name"] is None for x in rs)' \
	"every report: object 0 is the file (parent null, depth 0, name null)"
jcheck corpus.jsonl 'all(o["parent"] is not None and 0 <= o["parent"] < o["index"] and o["depth"] == x["objects"][o["parent"]]["depth"] + 1 for x in rs for o in x["objects"][1:])' \
	"every report: each member's parent is an earlier object and depth = parent depth + 1"
jcheck corpus.jsonl 'all(x["detections"] == list(dict.fromkeys(match_names(x))) for x in rs)' \
	"every report: detections = distinct match names over objects, in order"
jcheck corpus.jsonl 'all((x["verdict"] == "malicious") == (x["score"] >= 70) and (x["verdict"] == "suspicious") == (40 <= x["score"] < 70) for x in rs)' \
	"every report: verdict agrees with score (>= 70 malicious, >= 40 suspicious)"
jcheck corpus.jsonl 'all(x["bytes_scanned"] == sum(o["size"] for o in x["objects"]) for x in rs)' \
	"every report: bytes_scanned = sum of object sizes"

# The nested report's tree: gzip -> tar -> zip -> {eicar.com, note.txt}.
jcheck corpus.jsonl '[(o["depth"], o["name"]) for o in by_path("c/nested.tar.gz")["objects"]] == [(0, None), (1, None), (2, "inner.zip"), (3, "eicar.com"), (3, "note.txt")]' \
	"nested.tar.gz: objects gzip(0) > tar(1) > inner.zip(2) > eicar.com, note.txt(3)"
jcheck corpus.jsonl '[o["parent"] for o in by_path("c/nested.tar.gz")["objects"]] == [None, 0, 1, 2, 2]' \
	"nested.tar.gz: parents are [null, 0, 1, 2, 2]"
jcheck corpus.jsonl '[o["type"] for o in by_path("c/nested.tar.gz")["objects"][:3]] == ["CL_TYPE_GZ", "CL_TYPE_POSIX_TAR", "CL_TYPE_ZIP"]' \
	"nested.tar.gz: types CL_TYPE_GZ, CL_TYPE_POSIX_TAR, CL_TYPE_ZIP"
jcheck corpus.jsonl '[(m["name"], m["source"]) for m in objs_named(by_path("c/nested.tar.gz"), "note.txt")[0]["matches"]] == [("Test.Hash.Note", "hash")]' \
	"nested.tar.gz: the hash match sits on object note.txt"

# Digests of object 0 against coreutils, for several files.
for f in c/eicar.com c/random.bin c/nested.tar.gz c/empty; do
	m=$(md5sum "$f" | cut -d' ' -f1)
	s1=$(sha1sum "$f" | cut -d' ' -f1)
	s2=$(sha256sum "$f" | cut -d' ' -f1)
	sz=$(wc -c <"$f" | tr -d ' ')
	jcheck corpus.jsonl "by_path('$f')['objects'][0]['md5'] == '$m' and by_path('$f')['objects'][0]['sha1'] == '$s1' and by_path('$f')['objects'][0]['sha256'] == '$s2' and by_path('$f')['objects'][0]['size'] == $sz" \
		"$f: object 0 md5/sha1/sha256/size equal md5sum/sha1sum/sha256sum/wc -c"
done
# ...and of a member, against the file it was made from.
s2=$(sha256sum src/note.txt | cut -d' ' -f1)
jcheck corpus.jsonl "objs_named(by_path('c/nested.tar.gz'), 'note.txt')[0]['sha256'] == '$s2'" \
	"nested.tar.gz: member note.txt's sha256 equals sha256sum of the original"
jcheck corpus.jsonl 'by_path("c/eicar.com")["objects"][0]["mime"] == "text/plain" and by_path("c/nested.tar.gz")["objects"][0]["mime"] == "application/gzip"' \
	"mime: text/plain for EICAR, application/gzip for .tar.gz"
jcheck corpus.jsonl 'by_path("c/empty")["objects"][0]["entropy"] == 0 and by_path("c/random.bin")["objects"][0]["entropy"] > 7.9' \
	"entropy: 0 for an empty file, > 7.9 for random bytes"

# --- limit reports validate too (object never opened: type/mime null) ------------------
scan $R --json --max-filesize 1000 c/random.bin
validate "$out" "a FileSize-limited report is valid against the schema"
jcheck "$out" 'r["limits_exceeded"] == ["FileSize"] and r["objects"][0]["matches"][0]["source"] == "limit" and r["objects"][0]["size"] == 70000' \
	"FileSize-limited report: limits_exceeded [FileSize], a limit match, real size"

# --- odd names: one line per file, valid UTF-8 JSON ---------------------------------------
mkdir odd
eicar >"odd/new
line"
eicar >"$(printf 'odd/esc\033[1mape')"
eicar >"$(printf 'odd/latin1-\351')"
scan $R --json odd
validate "$out" "names with newline, ESC and a non-UTF-8 byte: valid JSON lines"
if [ "$(wc -l <"$out")" -eq 3 ]; then
	pass "names with newline, ESC and a non-UTF-8 byte: exactly 3 lines"
else
	fail "names with newline, ESC and a non-UTF-8 byte: exactly 3 lines" "got $(wc -l <"$out")"
fi
jcheck "$out" '"odd/new\nline" in [x["path"] for x in rs]' \
	"a newline in a name is a JSON \\n escape in path"

# --- the schema catches drift: a report with one field too many fails --------------------
head -n 1 corpus.jsonl | "$PYTHON" -c '
import json, sys
r = json.loads(sys.stdin.readline())
r["objects"][0]["unexpected"] = 1
print(json.dumps(r))' >drift.jsonl
if "$PYTHON" validate.py "$SCHEMA" drift.jsonl >/dev/null 2>&1; then
	fail "schema rejects an object with an unknown field (additionalProperties false)"
else
	pass "schema rejects an object with an unknown field (additionalProperties false)"
fi
head -n 1 corpus.jsonl | "$PYTHON" -c '
import json, sys
r = json.loads(sys.stdin.readline())
r["objects"][0]["md5"] = r["objects"][0]["md5"].upper()
print(json.dumps(r))' >drift2.jsonl
if "$PYTHON" validate.py "$SCHEMA" drift2.jsonl >/dev/null 2>&1; then
	fail "schema rejects an uppercase md5"
else
	pass "schema rejects an uppercase md5"
fi

finish
