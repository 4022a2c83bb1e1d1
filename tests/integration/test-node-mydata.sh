#!/bin/sh
# test-node-mydata.sh - consent levels that differ, and the data subject's
# own controls, on the real vigild and the real vigil CLI over real
# sockets (docs/PRIVACY.md, docs/API.md "Your own data"):
#   none      lookups only: every submission refused (403), nothing kept;
#   metadata  a metadata document (no bytes) is stored, counted for
#             prevalence and visible in lookups; bytes refused (403);
#   files     bytes too;
# vigil my-data list / export; vigil consent set lowering erases at once
# (the sample's record is gone from the segment files; a sample another
# client sent too keeps its bytes); vigil my-data delete erases
# everything and revokes the token (401). Each erasure is an `erasure`
# log entry that names no one: no client id, no file name, no hash.
# Every bad input gets its 4xx and a JSON error, and the node serves on.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

log_node_conf
start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
key=$(curl -s "$base/log/key")

# http METHOD PATH TOKEN [CURL ARGS...]: status in $code, body in $out.
http() {
	m=$1 p=$2 t=$3
	shift 3
	code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" \
		${t:+-H "Authorization: Bearer $t"} "$@" "$base$p")
}
json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$out"; }
expect_http() {
	if [ "$code" = "$1" ] && { [ "$2" = - ] || [ "$(json 'd.get("error")' 2>/dev/null)" = "$2" ]; }; then
		pass "$3"
	else
		fail "$3" "expected $1 $2, got HTTP $code: $(head -c 300 "$out")"
	fi
}
# serving WHAT: the node still answers /healthz.
serving() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] &&
		pass "$1: the node still serves" || fail "$1: the node still serves"
}
size() { curl -s "$base/log/checkpoint" | sed -n 2p; }
entry() { "$VIGIL" log get "$base/log" "$1" --key "$key" --json >"$2" 2>"$err"; }
as() { VIGIL_HOME="$tmp/$1"; export VIGIL_HOME; }

# loc SHA256: "segment offset length" of the sample's record, or "none".
loc() {
	"$PYTHON" - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:var/vigil.db?mode=ro", uri=True)
r = db.execute("SELECT blob_segment, blob_offset, blob_length FROM samples"
               " WHERE sha256 = ?", (sys.argv[1],)).fetchone()
print("none" if r is None or r[0] is None else "%d %d %d" % r)
EOF
}
# marker SEG OFF LEN: 64 bytes of the record's ciphertext, in hex: the
# records are encrypted, so that is what the segment files hold of a
# sample, and what must be gone from them once it is erased.
marker() {
	"$PYTHON" - "$@" <<'EOF'
import sys
seg, off, n = (int(x) for x in sys.argv[1:4])
with open("var/samples/%016d.seg" % seg, "rb") as f:
    f.seek(off + n // 2)
    print(f.read(64).hex())
EOF
}
# in_segments HEX: whether any segment file holds those bytes.
in_segments() {
	"$PYTHON" - "$1" <<'EOF'
import glob, sys
want = bytes.fromhex(sys.argv[1])
sys.exit(0 if any(want in open(p, "rb").read()
                  for p in glob.glob("var/samples/*.seg")) else 1)
EOF
}
# range_zero SEG OFF LEN: the record's byte range reads as zeros (a hole).
range_zero() {
	"$PYTHON" - "$@" <<'EOF'
import sys
seg, off, n = (int(x) for x in sys.argv[1:4])
with open("var/samples/%016d.seg" % seg, "rb") as f:
    f.seek(off)
    sys.exit(0 if f.read(n) == bytes(n) else 1)
EOF
}

# --- four endpoints, enrolled with the real CLI ------------------------------------------
for c in files:A files:B metadata:C none:D; do
	as "home${c#*:}"
	"$VIGIL" enroll --server "$base" --consent "${c%%:*}" >"enroll${c#*:}.txt" 2>&1
done
for h in A B C D; do
	eval "id$h=\$(sed -n 's/.* as \([0-9a-f-]*\) .*/\1/p' enroll$h.txt)"
	eval "t$h=\$(sed -n 's/^token = //p' '$tmp/home$h/config')"
done
[ -n "$idA" ] && [ -n "$idD" ] && [ -n "$tA" ] && [ -n "$tD" ] &&
	pass "four endpoints enrol (files, files, metadata, none)" ||
	fail "four endpoints enrol (files, files, metadata, none)" "$(cat enroll*.txt)"

mark="vigil-mydata-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf 'only A sends this: %s\n' "$mark" >a-only.txt
printf 'A and B both send this %s\n' "$mark" >shared.txt
printf 'C states this one %s\n' "$mark" >c-meta.txt
shaA=$(sha256sum a-only.txt | cut -d' ' -f1)
shaS=$(sha256sum shared.txt | cut -d' ' -f1)
shaC=$(sha256sum c-meta.txt | cut -d' ' -f1)
md5C=$(md5sum c-meta.txt | cut -d' ' -f1)
sha1C=$(sha1sum c-meta.txt | cut -d' ' -f1)

# --- none: lookups only ---------------------------------------------------------------------
http POST /v1/lookup "$tD" --data-binary "{\"hashes\":[\"$shaC\"]}"
expect_http 200 - "none: POST /v1/lookup answers"
http POST /v1/submissions "$tD" --data-binary @a-only.txt
expect_http 403 consent "none: bytes refused, 403 consent"
http POST /v1/submissions "$tD" -H 'Content-Type: application/json' \
	--data-binary "{\"md5\":\"$md5C\",\"sha1\":\"$sha1C\",\"sha256\":\"$shaC\",\"size\":5}"
expect_http 403 consent "none: metadata refused, 403 consent"
grep -q "lookups only" "$out" && pass "none: the error says lookups only" ||
	fail "none: the error says lookups only" "$(cat "$out")"
http POST /v1/fp "$tD" --data-binary "{\"hash\":\"$shaC\",\"reason\":\"mine\"}"
expect_http 403 consent "none: a false-positive report (it names a file) refused, 403"
as homeD
"$VIGIL" submit a-only.txt >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] && grep -q "consent (none)" "$err" &&
	pass "none: vigil submit refuses, exit 2, saying why" ||
	fail "none: vigil submit refuses, exit 2, saying why" "rc $rc $(cat "$err")"
"$VIGIL" my-data list >"$out" 2>"$err"
[ $? = 0 ] && [ ! -s "$out" ] && grep -q "^0 submissions" "$err" &&
	pass "none: the node holds no submission of it" ||
	fail "none: the node holds no submission of it" "$(cat "$out" "$err")"
[ "$(loc "$shaA")" = none ] && pass "none: nothing of its file is stored" ||
	fail "none: nothing of its file is stored"

# --- metadata: a document without bytes -----------------------------------------------------
as homeC
"$VIGIL" submit c-meta.txt >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && grep -q "submitted as" "$out" &&
	pass "metadata: vigil submit sends the metadata document, exit 0" ||
	fail "metadata: vigil submit sends the metadata document, exit 0" "rc $rc $(cat "$out" "$err")"
http GET "/v1/files/$md5C" "$tC"
[ "$code" = 200 ] && [ "$(json 'd["verdict"], d["prevalence"], d["size"]')" = "unknown 1 $(stat -c %s c-meta.txt)" ] &&
	pass "metadata: the sample is counted for prevalence and found by MD5 (unknown, 1)" ||
	fail "metadata: the sample is counted for prevalence and found by MD5 (unknown, 1)" "HTTP $code $(cat "$out")"
[ "$(loc "$shaC")" = none ] && pass "metadata: no byte of it is stored" ||
	fail "metadata: no byte of it is stored" "$(loc "$shaC")"
http POST /v1/submissions "$tC" --data-binary @c-meta.txt
expect_http 403 consent "metadata: bytes refused, 403 consent"
http GET /v1/me/submissions "$tC"
[ "$code" = 200 ] && [ "$(json '[(s["sha256"], s["name"], s["verdict"]) for s in d["submissions"]]')" = "[('$shaC', 'c-meta.txt', 'unknown')]" ] &&
	pass "metadata: GET /v1/me/submissions lists it with its name" ||
	fail "metadata: GET /v1/me/submissions lists it with its name" "HTTP $code $(cat "$out")"

printf 'C scans this one %s\n' "$mark" >c-scan.txt
shaCS=$(sha256sum c-scan.txt | cut -d' ' -f1)
"$VIGIL" scan --cloud --submit c-scan.txt >"$out" 2>"$err"
http GET "/v1/files/$shaCS" "$tC"
[ "$code" = 200 ] && [ "$(json 'd["prevalence"]')" = 1 ] && [ "$(loc "$shaCS")" = none ] &&
	pass "metadata: vigil scan --cloud --submit shares an unknown file's metadata, no bytes" ||
	fail "metadata: vigil scan --cloud --submit shares an unknown file's metadata, no bytes" "HTTP $code $(cat "$out" "$err")"

# --- bad metadata documents, and other bad input -------------------------------------------------
meta() { http POST /v1/submissions "$tC" -H 'Content-Type: application/json' --data-binary "$1"; }
meta '{"md5":'
expect_http 400 bad_metadata "malformed JSON: 400 bad_metadata"
meta "{\"md5\":\"$md5C\",\"sha1\":\"$sha1C\",\"sha256\":\"$shaC\",\"size\":\"12\"}"
expect_http 400 bad_metadata "size as a string: 400 bad_metadata"
meta "{\"md5\":\"$md5C\",\"sha1\":\"$sha1C\",\"sha256\":\"${shaC%?}\",\"size\":1}"
expect_http 400 bad_metadata "a SHA-256 of 63 digits: 400 bad_metadata"
meta "{\"md5\":\"$md5C\",\"sha1\":\"$sha1C\",\"sha256\":\"$shaC\",\"size\":1,\"path\":\"/home/x\"}"
expect_http 400 bad_metadata "an unknown member: 400 bad_metadata"
meta "{\"md5\":\"$md5C\",\"sha1\":\"$sha1C\",\"sha256\":\"$shaC\",\"size\":1,\"detections\":[1]}"
expect_http 400 bad_metadata "a detection that is not a string: 400 bad_metadata"
meta "[\"$shaC\"]"
expect_http 400 bad_metadata "an array, not an object: 400 bad_metadata"
"$PYTHON" -c "print('{\"name\":\"' + 'x' * 9000 + '\"}')" >big.json
http POST /v1/submissions "$tC" -H 'Content-Type: application/json' --data-binary @big.json
expect_http 413 body_too_large "a metadata document over 8 KiB: 413"
meta "{\"md5\":\"$md5C\",\"sha1\":\"$sha1C\",\"sha256\":\"$shaC\",\"size\":999}"
expect_http 409 conflict "a size that disagrees with the stored sample: 409"
serving "after the bad metadata documents"
http PUT /v1/me/consent "$tC" --data-binary '{"consent":"everything"}'
expect_http 400 bad_consent "an unknown consent level: 400 bad_consent"
http PUT /v1/me/consent "$tC" --data-binary '{"consent":2}'
expect_http 400 bad_consent "a consent level that is not a string: 400 bad_consent"
http PUT /v1/me/consent "$tC" --data-binary '{"consent":'
expect_http 400 bad_json "a consent body that is not JSON: 400 bad_json"
http GET /v1/me/submissions ""
expect_http 401 unauthorized "no token: 401"
http GET /v1/me/submissions "vg1.eu.not-a-real-token"
expect_http 401 unauthorized "a wrong token: 401"
http GET "/v1/me/submissions?limit=0" "$tC"
expect_http 400 bad_limit "limit=0: 400"
http GET "/v1/me/submissions?after=../x" "$tC"
expect_http 400 bad_after "a malformed after: 400"
http POST /v1/me/consent "$tC"
expect_http 405 method_not_allowed "POST on /v1/me/consent: 405"
http GET /v1/me/everything "$tC"
expect_http 404 not_found "an unknown /v1/me path: 404"
as homeC
"$VIGIL" consent set all >"$out" 2>"$err"
[ $? = 2 ] && grep -q "none, metadata or files" "$err" &&
	pass "vigil consent set with an unknown level: exit 2" ||
	fail "vigil consent set with an unknown level: exit 2" "$(cat "$err")"
serving "after the bad requests"

# --- files: bytes; list and export --------------------------------------------------------------
as homeA
"$VIGIL" submit a-only.txt shared.txt >"$out" 2>"$err" ||
	fail "files: vigil submit stores two files" "$(cat "$out" "$err")"
as homeB
"$VIGIL" submit shared.txt >"$out" 2>"$err" ||
	fail "files: a second client submits the shared file" "$(cat "$out" "$err")"
locA=$(loc "$shaA")
locS=$(loc "$shaS")
[ "$locA" != none ] && [ "$locS" != none ] &&
	pass "files: both samples' bytes are stored" ||
	fail "files: both samples' bytes are stored" "$locA / $locS"
# shellcheck disable=SC2086
mA=$(marker $locA)
# shellcheck disable=SC2086
mS=$(marker $locS)
in_segments "$mA" && in_segments "$mS" &&
	pass "files: their records are in the segment files" ||
	fail "files: their records are in the segment files"
http GET "/v1/files/$shaS" "$tA"
[ "$(json 'd["prevalence"]')" = 2 ] && pass "the shared sample's prevalence is 2" ||
	fail "the shared sample's prevalence is 2" "$(cat "$out")"

as homeA
"$VIGIL" my-data list >list.txt 2>"$err"
[ $? = 0 ] && [ "$(wc -l <list.txt)" = 2 ] && grep -q "$shaA.* a-only.txt\$" list.txt &&
	grep -q "$shaS.* shared.txt\$" list.txt &&
	pass "vigil my-data list: both submissions, hashes and names" ||
	fail "vigil my-data list: both submissions, hashes and names" "$(cat list.txt "$err")"
"$VIGIL" my-data export export.json >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && [ "$(stat -c %a export.json)" = 600 ] &&
	pass "vigil my-data export FILE: written, mode 0600" ||
	fail "vigil my-data export FILE: written, mode 0600" "rc $rc $(cat "$err")"
"$PYTHON" - export.json "$idA" "$shaA" "$shaS" <<'EOF' && pass "the export: client, consent, region, every submission with its metadata and sample reputation, no token" || fail "the export holds what it should" "$(cat export.json)"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["client"]
assert d["format"] == "vigil.export/v1" and d["complete"] is True
assert c["id"] == sys.argv[2] and c["consent"] == "files" and c["region"] == "eu"
assert sorted(c) == ["consent", "created", "id", "region"]
assert d["region"] == "eu"
subs = {s["sha256"]: s for s in d["submissions"]}
assert sorted(subs) == sorted(sys.argv[3:5])
for s in subs.values():
    assert s["metadata"]["name"] in ("a-only.txt", "shared.txt")
    assert s["sample"]["verdict"] in ("unknown", "clean", "suspicious", "malicious")
    assert s["sample"]["prevalence"] >= 1
assert d["fp_reports"] == [] and d["fp_reports_complete"] is True
text = open(sys.argv[1]).read()
assert "token" not in text
EOF
grep -q "$tA" export.json && fail "the export holds no token" || pass "the export holds no token"

# --- consent lowered to metadata: A's own sample's bytes erased -----------------------------------
n=$(size)
as homeA
"$VIGIL" consent set metadata >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && grep -q "consent is now metadata" "$out" &&
	grep -q "0 submissions, 0 samples unlinked, 1 samples' bytes" "$out" &&
	pass "vigil consent set metadata: one sample's bytes erased" ||
	fail "vigil consent set metadata: one sample's bytes erased" "rc $rc $(cat "$out" "$err")"
grep -q "^consent = metadata" "$tmp/homeA/config" &&
	pass "the new level is saved in the endpoint's config" ||
	fail "the new level is saved in the endpoint's config"
[ "$(loc "$shaA")" = none ] && pass "the store no longer names A's sample's bytes" ||
	fail "the store no longer names A's sample's bytes"
! in_segments "$mA" && pass "A's sample's record is gone from the segment files" ||
	fail "A's sample's record is gone from the segment files"
# shellcheck disable=SC2086
range_zero $locA && pass "its range of the segment reads as zeros (a hole)" ||
	fail "its range of the segment reads as zeros (a hole)"
[ "$(loc "$shaS")" = "$locS" ] && in_segments "$mS" &&
	pass "the sample B sent too keeps its bytes" ||
	fail "the sample B sent too keeps its bytes"
grep -rqa "$mark" var/ && fail "no plaintext of any sample is in the data directory" ||
	pass "no plaintext of any sample is in the data directory"
http POST /v1/submissions "$tA" --data-binary @a-only.txt
expect_http 403 consent "after lowering to metadata, bytes are refused"
http GET /v1/me/submissions "$tA"
[ "$(json 'len(d["submissions"])')" = 2 ] && pass "the submissions stay at metadata" ||
	fail "the submissions stay at metadata" "$(cat "$out")"
entry "$n" e1.json
jcheck e1.json "r['type'] == 'erasure' and r['reason'] == 'consent-lowered' and
	r['consent'] == 'metadata' and r['samples-erased'] == 1 and r['submissions'] == 0 and
	sorted(r) == sorted(['index', 'type', 'time', 'reason', 'consent', 'submissions',
	'samples-unlinked', 'samples-erased', 'body'])" \
	"an erasure entry: consent-lowered, the counts, nothing else"

# --- consent lowered to none: A's submissions go, prevalence follows --------------------------------
n2=$(size)
"$VIGIL" consent set none >"$out" 2>"$err"
grep -q "2 submissions, 2 samples unlinked, 0 samples' bytes" "$out" &&
	pass "vigil consent set none: both submissions and links erased" ||
	fail "vigil consent set none: both submissions and links erased" "$(cat "$out" "$err")"
"$VIGIL" my-data list >"$out" 2>"$err"
[ ! -s "$out" ] && pass "at none, the list is empty" || fail "at none, the list is empty" "$(cat "$out")"
http GET "/v1/files/$shaS" "$tA"
[ "$(json 'd["prevalence"]')" = 1 ] && pass "the shared sample's prevalence is 1 again" ||
	fail "the shared sample's prevalence is 1 again" "$(cat "$out")"
entry "$n2" e2.json
jcheck e2.json "r['type'] == 'erasure' and r['consent'] == 'none' and r['submissions'] == 2 and
	r['samples-unlinked'] == 2" "an erasure entry for none, with its counts"

# --- delete: everything of B, and its token ----------------------------------------------------------
# The bytes cannot be erased this time (the segment is out of the way,
# a symlink in its place, which the store never follows): the erasure
# is committed and stays pending, and the next start erases it.
n3=$(size)
segS="var/samples/$(printf %016d "${locS%% *}").seg"
mv "$segS" "$segS.away" && ln -s "${segS##*/}.away" "$segS"
as homeB
"$VIGIL" my-data delete >"$out" 2>"$err"
rc=$?
rm -f "$segS" && mv "$segS.away" "$segS"
[ $rc = 0 ] && grep -q "deleted: 1 submissions, 1 samples unlinked, 1 samples' bytes erased" "$out" &&
	pass "vigil my-data delete: the submission, the link and the bytes no one else sent" ||
	fail "vigil my-data delete: the submission, the link and the bytes no one else sent" "rc $rc $(cat "$out" "$err")"
[ "$(loc "$shaS")" = none ] && in_segments "$mS" && grep -q "event=erase_failed" vigild.err &&
	pass "bytes that could not be erased: no location names them, the failure is logged" ||
	fail "bytes that could not be erased: no location names them, the failure is logged" "$(grep erase vigild.err)"
kill -TERM "$pid" 2>/dev/null
wait "$pid"
start_node || { fail "vigild starts again" "$(cat vigild.err)"; finish; }
for h in A B C D; do
	sed -i "s|^server = .*|server = $base|" "$tmp/home$h/config"
done
! in_segments "$mS" && grep -q "event=erasures_resumed records=1" vigild.err &&
	pass "the next start erases what was pending: the shared record is gone" ||
	fail "the next start erases what was pending: the shared record is gone" "$(grep erase vigild.err)"
# shellcheck disable=SC2086
range_zero $locS && pass "its range reads as zeros" || fail "its range reads as zeros"
"$VIGIL" my-data list >"$out" 2>"$err"
[ $? = 2 ] && grep -q "does not know this client" "$err" &&
	pass "after delete, vigil my-data list: the token is refused" ||
	fail "after delete, vigil my-data list: the token is refused" "$(cat "$err")"
http GET /v1/me/submissions "$tB"
expect_http 401 unauthorized "after delete, the token gets 401"
http POST /v1/lookup "$tB" --data-binary "{\"hashes\":[\"$shaS\"]}"
expect_http 401 unauthorized "after delete, lookups with the token get 401"
entry "$n3" e3.json
jcheck e3.json "r['type'] == 'erasure' and r['reason'] == 'data-subject-request' and
	r['consent'] == 'none' and r['submissions'] == 1 and r['samples-erased'] == 1" \
	"an erasure entry for the deletion: data-subject-request"
curl -s "$base/log/tile/entries/000.p/$(size)" >bundle.bin
grep -qa -e "$idA" -e "$idB" -e "$tA" -e "$tB" -e a-only -e shared.txt -e "$mark" \
	-e "$shaA" -e "$shaS" bundle.bin &&
	fail "the log names no client, token, file name, marker or hash" ||
	pass "the log names no client, token, file name, marker or hash"

# --- the others are untouched; the node serves on ---------------------------------------------------------
http GET /v1/me/submissions "$tC"
[ "$(json 'len(d["submissions"])')" = 2 ] && pass "another client's data is untouched" ||
	fail "another client's data is untouched" "$(cat "$out")"
http POST /v1/lookup "$tD" --data-binary "{\"hashes\":[\"$shaS\"]}"
expect_http 200 - "lookups go on"
serving "at the end"

kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
[ $rc = 0 ] && pass "vigild exits 0 on SIGTERM" ||
	fail "vigild exits 0 on SIGTERM" "status $rc; $(tail -20 vigild.err)"
finish
