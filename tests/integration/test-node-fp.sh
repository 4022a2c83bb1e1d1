#!/bin/sh
# test-node-fp.sh - false positives retracted in the open, on the real
# vigild, its real worker and store, and the real vigil CLI: EICAR is
# analysed malicious; a client reports it (vigil report-fp); the operator
# lists (no client named), rejects (still malicious), then accepts a
# second report: a retraction entry in the log (hash, detections, reason,
# nothing of the clients), after which every hash answers clean with
# "retracted", vigil scan --cloud prints RETRACTED and exits 0, a restart
# keeps it, and so does a new analysis unless it finds a detection the
# retraction did not name; reinstating brings malicious back with a new
# entry.
# Every bad input gets its 4xx, logs nothing and loses nothing.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

log_node_conf

stop_node() {
	kill -TERM $pid 2>/dev/null
	wait $pid
}

# restart: stops the node and starts it again on the same data; its new
# address goes into both endpoints' settings.
restart() {
	stop_node
	start_node || return 1
	for h in home1 home2; do
		sed -i "s|^server = .*|server = $base|" "$tmp/$h/config"
	done
}

# http METHOD PATH TOKEN [CURL ARGS...]: status in $code, body in $out.
http() {
	m=$1 p=$2 t=$3
	shift 3
	code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" \
		${t:+-H "Authorization: Bearer $t"} "$@" "$base$p")
}

json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$out"; }

# expect_http CODE ERROR WHAT: the last answer's status, and its JSON
# error code (- for none).
expect_http() {
	if [ "$code" = "$1" ] && { [ "$2" = - ] || [ "$(json 'd.get("error")' 2>/dev/null)" = "$2" ]; }; then
		pass "$3"
	else
		fail "$3" "expected $1 $2, got HTTP $code: $(head -c 300 "$out")"
	fi
}

size() { curl -s "$base/log/checkpoint" | sed -n 2p; }
tok=var/operator.token
admin() { "$VIGIL" admin --server "$base" --token-file $tok "$@" >"$out" 2>"$err"; }
# entry N FILE: entry N, proven, as JSON (vigil log get --json) in FILE.
entry() { "$VIGIL" log get "$base/log" "$1" --key "$key" --json >"$2" 2>"$err"; }

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
key=$(curl -s "$base/log/key")
ot=$(cat $tok)

# Two endpoints, each enrolled with the real CLI.
export VIGIL_HOME="$tmp/home1"
"$VIGIL" enroll --server "$base" --consent files >enroll1.txt 2>&1
export VIGIL_HOME="$tmp/home2"
"$VIGIL" enroll --server "$base" --consent metadata >enroll2.txt 2>&1
id1=$(sed -n 's/.* as \([0-9a-f-]*\) .*/\1/p' enroll1.txt)
id2=$(sed -n 's/.* as \([0-9a-f-]*\) .*/\1/p' enroll2.txt)
t1=$(sed -n 's/^token = //p' "$tmp/home1/config")
t2=$(sed -n 's/^token = //p' "$tmp/home2/config")
[ -n "$id1" ] && [ -n "$id2" ] && [ -n "$t1" ] && [ -n "$t2" ] &&
	pass "two endpoints enrol with vigil enroll" ||
	fail "two endpoints enrol with vigil enroll" "$(cat enroll1.txt enroll2.txt)"

# --- EICAR, analysed malicious ------------------------------------------------------------
eicar >eicar.com
sha=$(sha256sum eicar.com | cut -d' ' -f1)
md5=$(md5sum eicar.com | cut -d' ' -f1)
sha1=$(sha1sum eicar.com | cut -d' ' -f1)
export VIGIL_HOME="$tmp/home1"
"$VIGIL" submit --wait 60 eicar.com >"$out" 2>"$err"
http GET "/v1/files/$sha" "$t1"
[ "$code" = 200 ] && [ "$(json 'd["verdict"], d["detections"]')" = "malicious ['Vigil_Test_EICAR']" ] &&
	pass "EICAR is submitted and analysed malicious" ||
	fail "EICAR is submitted and analysed malicious" "HTTP $code $(cat "$out")"

# --- a report, listed without its client, rejected ------------------------------------------
"$VIGIL" report-fp "$sha" --reason 'our test file, not malware' >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && grep -q "reported as a false positive" "$out" &&
	pass "vigil report-fp HASH --reason TEXT: reported, exit 0" ||
	fail "vigil report-fp HASH --reason TEXT: reported, exit 0" "rc $rc $(cat "$out" "$err")"
"$VIGIL" report-fp "$md5" --reason 'again' >"$out" 2>"$err"
rc=$?
[ $rc = 1 ] && grep -q "409" "$err" &&
	pass "a second report of the same client (by its MD5): 409, exit 1" ||
	fail "a second report of the same client (by its MD5): 409, exit 1" "rc $rc $(cat "$err")"

admin fp list
rc=$?
[ $rc = 0 ] && grep -q "^$sha\$" "$out" && grep -q "reports     1" "$out" &&
	grep -q "reason      our test file, not malware" "$out" &&
	grep -q "answered    malicious" "$out" &&
	pass "vigil admin fp list: the hash, one report, its reason, the verdict" ||
	fail "vigil admin fp list: the hash, one report, its reason, the verdict" "rc $rc $(cat "$out" "$err")"
admin fp list --json
cp "$out" list.json
jcheck list.json "len(rs) == 1 and r['sha256'] == '$sha' and r['md5'] == '$md5' and
	r['reporters'] == 1 and r['reasons'] == ['our test file, not malware'] and
	r['verdict'] == 'malicious' and r['retracted'] is None and
	r['analysis']['detections'] == ['Vigil_Test_EICAR']" \
	"fp list --json: reporters, reasons, verdict and the analysis's detections"
grep -q -e "$id1" -e "$t1" list.json && fail "the list names no client" "$(cat list.json)" ||
	pass "the list names no client"

n0=$(size)
admin fp reject "$sha" --reason 'it is EICAR: detected on purpose'
rc=$?
[ $rc = 0 ] && grep -q "1 report(s) rejected" "$out" &&
	pass "vigil admin fp reject: the open report is rejected" ||
	fail "vigil admin fp reject: the open report is rejected" "rc $rc $(cat "$out" "$err")"
http GET "/v1/files/$sha" "$t1"
[ "$(json 'd["verdict"], "retracted" in d')" = "malicious False" ] && [ "$(size)" = "$n0" ] &&
	pass "a rejection leaves the sample malicious and logs nothing" ||
	fail "a rejection leaves the sample malicious and logs nothing" "$(cat "$out"), log $n0 -> $(size)"
admin fp accept "$sha" --reason 'no report is open'
rc=$?
[ $rc = 1 ] && grep -q "no client has an open report" "$err" && [ "$(size)" = "$n0" ] &&
	pass "accept with no open report: refused with a clear message, nothing logged" ||
	fail "accept with no open report: refused with a clear message, nothing logged" "rc $rc $(cat "$err")"

# --- a second report, accepted: a retraction entry ----------------------------------------
export VIGIL_HOME="$tmp/home2"
"$VIGIL" report-fp "$sha1" --reason 'flagged our build tool' >"$out" 2>"$err" &&
	pass "another client reports it (by its SHA-1)" ||
	fail "another client reports it (by its SHA-1)" "$(cat "$out" "$err")"
export VIGIL_HOME="$tmp/home1"
reason='Case 17: the EICAR test file of our CI'
n=$(size)
admin fp accept "$sha" --reason "$reason"
rc=$?
[ $rc = 0 ] && grep -q "retracted Vigil_Test_EICAR as log entry $n (log size $((n + 1)))" "$out" &&
	pass "vigil admin fp accept: retracted as log entry N" ||
	fail "vigil admin fp accept: retracted as log entry N" "rc $rc $(cat "$out" "$err")"
for h in "$md5" "$sha1" "$sha"; do
	http GET "/v1/files/$h" "$t1"
	[ "$code" = 200 ] && [ "$(json 'd["verdict"], d["score"], d["detections"], d["retracted"], d["retracted_detections"]')" = "clean 0 [] $n ['Vigil_Test_EICAR']" ] &&
		pass "GET /v1/files/{${#h} hex digits}: clean, \"retracted\": $n" ||
		fail "GET /v1/files/{${#h} hex digits}: clean, \"retracted\": $n" "HTTP $code $(cat "$out")"
done
http POST /v1/lookup "$t2" --data-binary "{\"hashes\":[\"$md5\",\"$sha\"]}"
[ "$(json '[(x["verdict"], x["retracted"]) for x in d["results"]]')" = "[('clean', $n), ('clean', $n)]" ] &&
	pass "POST /v1/lookup: clean with \"retracted\" by MD5 and SHA-256" ||
	fail "POST /v1/lookup: clean with \"retracted\" by MD5 and SHA-256" "$(cat "$out")"
entry "$n" e.json
jcheck e.json "r['type'] == 'retraction' and r['sample'] == '$sha' and r['action'] == 'retract' and
	r['detections'] == ['Vigil_Test_EICAR'] and r['reason'] == '''$reason''' and
	sorted(r) == sorted(['index', 'type', 'time', 'sample', 'action', 'detections', 'reason', 'body'])" \
	"log entry N is a retraction: the hash, the detections, the reason, nothing else"
curl -s "$base/log/tile/entries/000.p/$(size)" >bundle.bin
grep -qa -e "$id1" -e "$id2" -e 'flagged our build tool' -e 'our test file' bundle.bin &&
	fail "the log names no client and holds none of their reasons" ||
	pass "the log names no client and holds none of their reasons"
"$VIGIL" log get "$base/log" "$n" --key "$key" >"$out" 2>"$err"
grep -q "detections Vigil_Test_EICAR" "$out" && grep -q "action     retract" "$out" &&
	pass "vigil log get prints a retraction entry" ||
	fail "vigil log get prints a retraction entry" "$(cat "$out" "$err")"

"$VIGIL" scan --cloud eicar.com >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil scan --cloud of a retracted file exits 0"
expect_line "$out" "eicar.com: Vigil_Test_EICAR RETRACTED (log $n)" \
	"vigil scan --cloud prints the local detection as RETRACTED (log N)"
expect_no_match "$out" "FOUND" "and prints no FOUND line"
VIGIL_HOME="$tmp/nowhere" "$VIGIL" scan --cloud eicar.com >"$out" 2>"$err"
rc=$?
expect_rc 1 "vigil scan --cloud with no node to ask counts the detection: exit 1"
expect_line "$out" "eicar.com: Vigil_Test_EICAR FOUND" "and prints it FOUND"
"$VIGIL" scan --json --cloud eicar.com >scan.jsonl 2>"$err"
rc=$?
expect_rc 0 "vigil scan --json --cloud of a retracted file exits 0"
jcheck scan.jsonl "[x['cloud'] for x in rs if 'cloud' in x] == [{'path': 'eicar.com',
	'object': '$sha', 'verdict': 'clean', 'retracted': $n, 'detections': ['Vigil_Test_EICAR']}]" \
	"and adds a cloud line with the retraction"
"$VIGIL" lookup "$sha" >"$out" 2>"$err"
grep -q "^$sha: clean .* retracted (log $n)\$" "$out" &&
	pass "vigil lookup shows the retraction" || fail "vigil lookup shows the retraction" "$(cat "$out")"

n1=$(size)
admin fp accept "$sha" --reason 'twice'
rc=$?
[ $rc = 1 ] && grep -q "409" "$err" && [ "$(size)" = "$n1" ] &&
	pass "a second accept: 409, nothing logged" ||
	fail "a second accept: 409, nothing logged" "rc $rc $(cat "$err")"
"$VIGIL" report-fp "$sha" --reason 'x' >"$out" 2>"$err"
[ $? = 1 ] && grep -q "retracted already" "$err" &&
	pass "a report on a retracted sample: 409" || fail "a report on a retracted sample: 409" "$(cat "$err")"

# --- a restart keeps it -------------------------------------------------------------------------
restart || { fail "vigild starts again" "$(cat vigild.err)"; finish; }
http GET "/v1/files/$md5" "$t1"
[ "$(json 'd["verdict"], d["retracted"]')" = "clean $n" ] &&
	pass "after a restart the sample still answers clean, retracted $n" ||
	fail "after a restart the sample still answers clean, retracted $n" "HTTP $code $(cat "$out")"

# --- a new analysis: the retraction holds, for exactly its detections ---------------------
# What an analysis of the sample under new rules leaves in the store, as
# job_finish writes it, with the node stopped; the node reads it at start.
analyse() { # DETECTIONS-JSON SCORE
	stop_node
	"$PYTHON" - "$tmp/var/vigil.db" "$sha" "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE samples SET detections = ?, score = ?, verdict = 'malicious',"
           " analysed_at = analysed_at + 1 WHERE sha256 = ?",
           (sys.argv[3], int(sys.argv[4]), sys.argv[2]))
db.commit()
PY
	restart
}
analyse '["Vigil_Test_EICAR"]' 90 || { fail "vigild starts after a new analysis" "$(cat vigild.err)"; finish; }
http GET "/v1/files/$sha" "$t1"
[ "$(json 'd["verdict"], d["retracted"], d["analysed_at"] > 0')" = "clean $n True" ] &&
	pass "a new analysis with the same detection: still clean, retracted $n" ||
	fail "a new analysis with the same detection: still clean, retracted $n" "$(cat "$out")"
analyse '["Vigil_Test_EICAR","Gen_New_Loader"]' 95 || { fail "vigild starts after a second analysis" "$(cat vigild.err)"; finish; }
http GET "/v1/files/$md5" "$t1"
[ "$(json 'd["verdict"], d["detections"], "retracted" in d')" = "malicious ['Vigil_Test_EICAR', 'Gen_New_Loader'] False" ] &&
	pass "an analysis with a detection the retraction did not name: answered malicious" ||
	fail "an analysis with a detection the retraction did not name: answered malicious" "$(cat "$out")"
analyse '["Vigil_Test_EICAR"]' 100 || { fail "vigild starts after a third analysis" "$(cat vigild.err)"; finish; }
http GET "/v1/files/$sha1" "$t1"
[ "$(json 'd["verdict"], d["retracted"]')" = "clean $n" ] &&
	pass "the retraction stayed in force: without the new detection, clean again" ||
	fail "the retraction stayed in force: without the new detection, clean again" "$(cat "$out")"

# --- bad input: a 4xx each, nothing stored or logged, the node serving on ------------------
n2=$(size)
unknown=$(printf 'never seen %s' "$(date +%s%N)" | sha256sum | cut -d' ' -f1)
http POST /v1/fp "$t1" --data-binary "{\"hash\":\"$unknown\",\"reason\":\"r\"}"
expect_http 404 unknown "a report on an unknown hash: 404"
http POST /v1/fp "$t1" --data-binary '{"hash":"xyz","reason":"r"}'
expect_http 400 bad_hash "a report with a malformed hash: 400"
http POST /v1/fp "$t1" --data-binary "{\"hash\":\"${sha}00\",\"reason\":\"r\"}"
expect_http 400 bad_hash "a report with a hash of 66 digits: 400"
long=$("$PYTHON" -c 'print("r" * 1025)')
http POST /v1/fp "$t1" --data-binary "{\"hash\":\"$sha\",\"reason\":\"$long\"}"
expect_http 413 reason_too_long "a reason of 1025 bytes: 413"
http POST /v1/fp "$t1" --data-binary "{\"hash\":\"$sha\"}"
expect_http 400 reason_required "a report without a reason: 400"
http POST /v1/fp "$t1" --data-binary "{\"hash\":\"$sha\",\"reason\":\"a\\nb\"}"
expect_http 400 bad_reason "a reason with a control character: 400"
http POST /v1/fp "$t1" --data-binary "{\"hash\":\"$sha\",\"reason\":\"r\",\"client\":\"x\"}"
expect_http 400 bad_request "a report with an unknown field: 400"
http POST /v1/fp "$t1" --data-binary '{"hash":'
expect_http 400 bad_json "a report that is not JSON: 400"
http POST /v1/fp "" --data-binary "{\"hash\":\"$sha\",\"reason\":\"r\"}"
expect_http 401 unauthorized "a report without a token: 401"
http GET /v1/fp "$t1"
expect_http 405 method_not_allowed "GET /v1/fp: 405"
http GET /v1/admin/fp "$t1"
expect_http 403 forbidden "GET /v1/admin/fp with a client token: 403"
http POST "/v1/admin/fp/$sha/reinstate" "$t1" --data-binary '{"reason":"r"}'
expect_http 403 forbidden "an admin decision with a client token: 403"
http POST "/v1/admin/fp/$sha/reinstate" "" --data-binary '{"reason":"r"}'
expect_http 401 unauthorized "an admin decision without a token: 401"
http GET "/v1/admin/fp/$sha/accept" "$ot"
expect_http 405 method_not_allowed "GET on an admin decision: 405"
http POST /v1/admin/fp "$ot" --data-binary '{"reason":"r"}'
expect_http 405 method_not_allowed "POST on the list: 405"
http POST "/v1/admin/fp/$sha/reinstate" "$ot" --data-binary '["r"]'
expect_http 400 bad_json "an admin decision whose body is not an object: 400"
http POST "/v1/admin/fp/$sha/reinstate" "$ot" --data-binary '{}'
expect_http 400 reason_required "an admin decision without a reason: 400"
http POST "/v1/admin/fp/$sha/delete" "$ot" --data-binary '{"reason":"r"}'
expect_http 404 not_found "an unknown admin action: 404"
http POST "/v1/admin/fp/$unknown/accept" "$ot" --data-binary '{"reason":"r"}'
expect_http 404 unknown "accept of an unknown hash: 404"
http POST "/v1/admin/fp/zz/accept" "$ot" --data-binary '{"reason":"r"}'
expect_http 400 bad_hash "accept of a malformed hash: 400"
http POST "/v1/admin/fp/$sha/reinstate" "$ot" --data-binary '{"reason":" padded"}'
expect_http 400 bad_reason "a reason the log refuses (a leading space): 400"
http POST "/v1/admin/fp/$sha/reinstate" "$ot" --data-binary "{\"reason\":\"$long\"}"
expect_http 413 reason_too_long "an operator's reason of 1025 bytes: 413"
[ "$(size)" = "$n2" ] && pass "no refusal logged anything" ||
	fail "no refusal logged anything" "log $n2 -> $(size)"
http GET "/v1/files/$sha" "$t1"
[ "$code" = 200 ] && [ "$(json 'd["verdict"], d["retracted"]')" = "clean $n" ] &&
	pass "after the bad input the node serves, the retraction intact" ||
	fail "after the bad input the node serves, the retraction intact" "HTTP $code $(cat "$out")"

# A clean sample has nothing to retract.
printf 'a harmless text %s\n' "$(date +%s%N)" >clean.txt
csha=$(sha256sum clean.txt | cut -d' ' -f1)
"$VIGIL" submit --wait 60 clean.txt >/dev/null 2>&1
http POST /v1/fp "$t1" --data-binary "{\"hash\":\"$csha\",\"reason\":\"r\"}"
expect_http 409 not_detected "a report on a sample the node does not detect: 409"

# --- reinstated: malicious again, with a new entry ------------------------------------------
m=$(size)
admin fp reinstate "$sha" --reason 'Case 17 reopened: keep detecting it'
rc=$?
[ $rc = 0 ] && grep -q "reinstated Vigil_Test_EICAR as log entry $m" "$out" &&
	pass "vigil admin fp reinstate: a new log entry" ||
	fail "vigil admin fp reinstate: a new log entry" "rc $rc $(cat "$out" "$err")"
entry "$m" e.json
jcheck e.json "r['type'] == 'retraction' and r['action'] == 'reinstate' and r['sample'] == '$sha' and
	r['detections'] == ['Vigil_Test_EICAR']" "the reinstatement is a retraction entry, action reinstate"
http GET "/v1/files/$sha1" "$t1"
[ "$(json 'd["verdict"], d["detections"], "retracted" in d')" = "malicious ['Vigil_Test_EICAR'] False" ] &&
	pass "after the reinstatement the sample answers malicious again" ||
	fail "after the reinstatement the sample answers malicious again" "$(cat "$out")"
"$VIGIL" scan --cloud eicar.com >"$out" 2>"$err"
rc=$?
expect_rc 1 "vigil scan --cloud of a reinstated detection exits 1"
expect_line "$out" "eicar.com: Vigil_Test_EICAR FOUND" "and prints it FOUND"
admin fp reinstate "$sha" --reason 'again'
[ $? = 1 ] && grep -q "no retraction" "$err" &&
	pass "reinstate with no retraction in force: refused" ||
	fail "reinstate with no retraction in force: refused" "$(cat "$err")"
restart || { fail "vigild starts a third time" "$(cat vigild.err)"; finish; }
http GET "/v1/files/$sha" "$t1"
[ "$(json 'd["verdict"], "retracted" in d')" = "malicious False" ] &&
	pass "after a restart the reinstatement holds" ||
	fail "after a restart the reinstatement holds" "$(cat "$out")"
# --- two accepts at once: one decision, one entry ---------------------------------------------
t3=$(curl -s -X POST --data-binary '{"consent":"metadata"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
http POST /v1/fp "$t3" --data-binary "{\"hash\":\"$sha\",\"reason\":\"a third client\"}"
expect_http 201 - "a third client reports the reinstated sample"
k=$(size)
acc=
for i in 1 2; do
	curl -s -o "acc$i.json" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $ot" \
		--data-binary '{"reason":"Case 18"}' "$base/v1/admin/fp/$sha/accept" >"acc$i.code" &
	acc="$acc $!"
done
# shellcheck disable=SC2086
wait $acc
codes=$(cat acc1.code acc2.code | sort | tr '\n' ' ')
[ "$codes" = "201 409 " ] && [ "$(size)" = $((k + 1)) ] &&
	pass "two accepts sent together: one 201, one 409, one entry" ||
	fail "two accepts sent together: one 201, one 409, one entry" "$codes; log $k -> $(size): $(cat acc1.json acc2.json)"
http GET "/v1/files/$sha" "$t1"
[ "$(json 'd["verdict"], d["retracted"]')" = "clean $k" ] &&
	pass "and the sample answers clean, retracted by that entry" ||
	fail "and the sample answers clean, retracted by that entry" "$(cat "$out")"

if "$PYTHON" - "$VIGIL_SOURCE_DIR/docs/openapi.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
want = {"/v1/fp", "/v1/admin/fp", "/v1/admin/fp/{hash}/{action}"}
sys.exit(0 if want <= set(doc["paths"]) else 1)
PY
then pass "docs/openapi.yaml lists the false-positive routes"
else fail "docs/openapi.yaml lists the false-positive routes"; fi
curl -s "$base/healthz" | grep -q '"status":"ok"' && pass "the node is healthy at the end" ||
	fail "the node is healthy at the end"
stop_node
finish
