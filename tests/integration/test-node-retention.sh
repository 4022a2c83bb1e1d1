#!/bin/sh
# test-node-retention.sh - the retention sweep on the real vigild, its
# real SQLite file and segment files (docs/PRIVACY.md, "How long"):
# with [retention] sample_days = 30 and metadata_days = 60, data made
# old by moving its timestamps back while the node is stopped is deleted
# by the sweep at the next start: the bytes of a sample last submitted
# more than 30 days ago (its record gone from the segment files, its
# range a hole), the submissions older than 60 days with the links to
# samples they alone justified (prevalence follows); recent samples and
# submissions stay. The pass is one `retention` entry, counts and
# periods only, and /metrics counters; a pass that deletes nothing
# appends no entry. Bad [retention] values stop vigild with exit 2.
# Legal holds, placed and released by a named operator with `vigil admin
# hold` / `release-hold`: a held sample keeps its bytes and submissions
# through the sweep until every hold is released, each is a log entry
# naming the sample, the case and the operator, and every bad request
# gets its 4xx while the node serves on.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

log_node_conf '[retention]
sample_days = 30
metadata_days = 60
'
start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
key=$(curl -s "$base/log/key")

size() { curl -s "$base/log/checkpoint" | sed -n 2p; }
entry() { "$VIGIL" log get "$base/log" "$1" --key "$key" --json >"$2" 2>"$err"; }
as() { VIGIL_HOME="$tmp/$1"; export VIGIL_HOME; }
prevalence() {
	curl -s -H "Authorization: Bearer $tA" "$base/v1/files/$1" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("prevalence"))'
}
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
# marker SEG OFF LEN: 64 bytes of the record's ciphertext, in hex.
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
# age DAYS SHA256 [CLIENT]: moves the sample's last submission DAYS days
# back (its last_seen) and, with CLIENT, that client's submissions of it.
age() {
	"$PYTHON" - "$@" <<'EOF'
import sqlite3, sys, time
days, sha = int(sys.argv[1]), sys.argv[2]
t = int(time.time()) - days * 86400
db = sqlite3.connect("var/vigil.db")
db.execute("UPDATE samples SET last_seen = ?, first_seen = min(first_seen, ?)"
           " WHERE sha256 = ?", (t, t, sha))
if len(sys.argv) > 3:
    db.execute("UPDATE submissions SET created = ? WHERE sha256 = ?"
               " AND client_id = ?", (t, sha, sys.argv[3]))
db.commit()
db.close()
EOF
}
stop_node() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
}
# swept N: waits (10 s at most) for the Nth retention_swept event.
swept() {
	_i=0
	while [ $_i -lt 100 ] && [ "$(grep -c 'event=retention_swept' vigild.err)" -lt "$1" ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ "$(grep -c 'event=retention_swept' vigild.err)" -ge "$1" ]
}
# passes N: waits (10 s at most) until /metrics counts N passes.
passes() {
	_i=0
	while [ $_i -lt 100 ]; do
		curl -s "$base/metrics" | grep -q "^vigil_retention_passes_total $1\$" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

passes 1 && pass "a pass runs at start" || fail "a pass runs at start" "$(curl -s "$base/metrics" | grep retention)"
grep -q 'event=retention_swept' vigild.err &&
	fail "a pass that finds nothing old deletes nothing" "$(grep retention vigild.err)" ||
	pass "a pass that finds nothing old deletes nothing"

# --- two endpoints, five files --------------------------------------------------------------
for h in A B; do
	as "home$h"
	"$VIGIL" enroll --server "$base" --consent files >"enroll$h.txt" 2>&1
	eval "id$h=\$(sed -n 's/.* as \([0-9a-f-]*\) .*/\1/p' enroll$h.txt)"
	eval "t$h=\$(sed -n 's/^token = //p' '$tmp/home$h/config')"
done
[ -n "$idA" ] && [ -n "$idB" ] && pass "two endpoints enrol" ||
	fail "two endpoints enrol" "$(cat enroll*.txt)"
mark="vigil-retention-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
for f in old ancient recent shared edge held; do
	printf '%s: %s\n' "$f" "$mark" >"$f.txt"
	eval "sha_$f=\$(sha256sum $f.txt | cut -d' ' -f1)"
done
as homeA
"$VIGIL" submit old.txt ancient.txt recent.txt shared.txt edge.txt held.txt >"$out" 2>"$err" ||
	fail "A submits six files" "$(cat "$out" "$err")"
as homeB
"$VIGIL" submit shared.txt >"$out" 2>"$err" ||
	fail "B submits the shared file" "$(cat "$out" "$err")"
for f in old ancient recent shared edge held; do
	eval "l=\$(loc \$sha_$f)"
	[ "$l" != none ] || fail "$f.txt is stored" "$l"
	eval "loc_$f=\"\$l\""
	# shellcheck disable=SC2086
	eval "m_$f=\$(marker $l)"
done
[ "$(prevalence "$sha_shared")" = 2 ] && pass "the shared file's prevalence is 2" ||
	fail "the shared file's prevalence is 2" "$(prevalence "$sha_shared")"

# --- legal holds ----------------------------------------------------------------------------------
admin() {
	_t=$1
	shift
	"$VIGIL" admin --server "$base" --token-file "$_t" "$@"
}
# http METHOD PATH TOKEN [CURL ARGS...]: status in $code, body in $out.
http() {
	m=$1 p=$2 t=$3
	shift 3
	code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" \
		${t:+-H "Authorization: Bearer $t"} "$@" "$base$p")
}
expect_http() {
	if [ "$code" = "$1" ] && "$PYTHON" -c "import json,sys; sys.exit(json.load(open(sys.argv[1])).get('error') != sys.argv[2])" "$out" "$2" 2>/dev/null; then
		pass "$3"
	else
		fail "$3" "expected $1 $2, got HTTP $code: $(head -c 300 "$out")"
	fi
}
serving() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] &&
		pass "$1: the node still serves" || fail "$1: the node still serves"
}
admin var/operator.token operator add alice >alice.token 2>"$err"
chmod 600 alice.token
tAl=$(cat alice.token)
nh=$(size)
admin alice.token hold "$sha_held" --case CASE-2026-114 --reason "kept for case 114" >"$out" 2>"$err"
rc=$?
[ $rc = 0 ] && grep -q "^held $sha_held, case CASE-2026-114 (log entry $nh)" "$out" &&
	pass "vigil admin hold: held, with its log entry" ||
	fail "vigil admin hold: held, with its log entry" "rc $rc $(cat "$out" "$err")"
entry "$nh" h.json
jcheck h.json "r['type'] == 'hold' and r['sample'] == '$sha_held' and r['case'] == 'CASE-2026-114' and
	r['reason'] == 'kept for case 114' and r['who'] == 'operator:alice'" \
	"a hold entry: the sample, the case, the reason, the authenticated operator"
admin alice.token hold "$sha_held" --case case-2 --reason "a second case" >"$out" 2>"$err" &&
	pass "a second case holds the same sample" || fail "a second case holds the same sample" "$(cat "$out" "$err")"
admin alice.token hold "$sha_held" --case CASE-2026-114 --reason "again" >"$out" 2>"$err"
rc=$?
[ $rc = 1 ] && grep -q "409" "$err" && pass "the same case again: 409, exit 1" ||
	fail "the same case again: 409, exit 1" "rc $rc $(cat "$err")"
admin alice.token hold "$(echo "$sha_held" | tr a-f A-F)" --case C1 --reason r >"$out" 2>"$err"
[ $? = 2 ] && pass "vigil admin hold with a malformed hash: exit 2" ||
	fail "vigil admin hold with a malformed hash: exit 2" "$(cat "$err")"
admin alice.token hold "$sha_held" --case "bad case" --reason r >"$out" 2>"$err"
[ $? = 2 ] && pass "vigil admin hold with a malformed case: exit 2" ||
	fail "vigil admin hold with a malformed case: exit 2" "$(cat "$err")"
admin alice.token hold "$sha_held" --case C1 >"$out" 2>"$err"
[ $? = 2 ] && pass "vigil admin hold without --reason: exit 2" ||
	fail "vigil admin hold without --reason: exit 2" "$(cat "$err")"
hb() { http POST /v1/admin/holds "$tAl" -H 'Content-Type: application/json' --data-binary "$1"; }
hb "{\"sha256\":\"${sha_held%?}\",\"case\":\"C1\",\"reason\":\"r\"}"
expect_http 400 bad_hash "a hash of 63 digits: 400 bad_hash"
hb "{\"sha256\":\"$(echo "$sha_held" | tr a-f A-F)\",\"case\":\"C1\",\"reason\":\"r\"}"
expect_http 400 bad_hash "an upper-case hash: 400 bad_hash"
hb "{\"sha256\":\"$sha_held\",\"case\":\"a/b\",\"reason\":\"r\"}"
expect_http 400 bad_case "a case with a slash: 400 bad_case"
hb "{\"sha256\":\"$sha_held\",\"case\":\"$(printf 'c%.0s' $(seq 65))\",\"reason\":\"r\"}"
expect_http 400 bad_case "a case of 65 bytes: 400 bad_case"
hb "{\"sha256\":\"$sha_held\",\"case\":\"C1\",\"reason\":\"two\\nlines\"}"
expect_http 400 bad_reason "a reason of two lines: 400 bad_reason"
hb "{\"sha256\":\"$sha_held\",\"case\":\"C1\",\"reason\":\"\"}"
expect_http 400 bad_reason "an empty reason: 400 bad_reason"
hb "{\"sha256\":\"$sha_held\",\"case\":\"C1\"}"
expect_http 400 bad_reason "no reason: 400 bad_reason"
hb "{\"sha256\":\"$sha_held\",\"case\":\"C1\",\"reason\":\"r\",\"who\":\"bob\"}"
expect_http 400 bad_body "an unknown member: 400 bad_body"
hb "{\"sha256\":\"$sha_held\",\"case\":1,\"reason\":\"r\"}"
expect_http 400 bad_body "a case that is not a string: 400 bad_body"
hb '{"sha256":'
expect_http 400 bad_body "a body that is not JSON: 400 bad_body"
hb "{\"sha256\":\"$(printf '%064d' 0)\",\"case\":\"C1\",\"reason\":\"r\"}"
expect_http 404 unknown_sample "a sample the node does not know: 404"
http DELETE "/v1/admin/holds/$sha_held?case=C1" "$tAl"
expect_http 404 unknown_hold "releasing a hold that is not there: 404"
http DELETE "/v1/admin/holds/$sha_held" "$tAl"
expect_http 400 bad_case "a release without ?case: 400"
http DELETE "/v1/admin/holds/$sha_held?case=a%2Fb" "$tAl"
expect_http 400 bad_case "a release with a malformed case: 400"
http DELETE "/v1/admin/holds/xyz?case=C1" "$tAl"
expect_http 400 bad_hash "a release of a malformed hash: 400"
http GET /v1/admin/holds "$tAl"
expect_http 405 method_not_allowed "GET /v1/admin/holds: 405"
http POST /v1/admin/holds ""
expect_http 401 unauthorized "no token: 401"
http POST /v1/admin/holds "$tA" --data-binary "{\"sha256\":\"$sha_held\",\"case\":\"C9\",\"reason\":\"r\"}"
[ "$code" = 403 ] && pass "a client's token: 403" || fail "a client's token: 403" "HTTP $code"
"$PYTHON" - "$sha_held" <<'EOF' && pass "the refused requests stored no hold" || fail "the refused requests stored no hold"
import sqlite3, sys
db = sqlite3.connect("file:var/vigil.db?mode=ro", uri=True)
r = db.execute("SELECT group_concat(case_id, ',') FROM (SELECT case_id FROM holds"
               " WHERE sha256 = ? ORDER BY case_id)", (sys.argv[1],)).fetchone()
sys.exit(0 if r[0] == "CASE-2026-114,case-2" else 1)
EOF
serving "after the bad hold requests"

# --- made old while the node is stopped ---------------------------------------------------------
n=$(size)
stop_node
age 40 "$sha_old" "$idA"         # bytes expire, the submission stays
age 70 "$sha_ancient" "$idA"     # both expire
age 29 "$sha_edge" "$idA"        # a day within both: stays
age 70 "$sha_held" "$idA"        # both expire, but held
"$PYTHON" - "$sha_shared" "$idA" <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect("var/vigil.db")
db.execute("UPDATE submissions SET created = ? WHERE sha256 = ? AND client_id = ?",
           (int(time.time()) - 70 * 86400, sys.argv[1], sys.argv[2]))
db.commit()
EOF
start_node || { fail "vigild starts again" "$(cat vigild.err)"; finish; }
for h in A B; do
	sed -i "s|^server = .*|server = $base|" "$tmp/home$h/config"
done
swept 1 && pass "the sweep at start deleted what expired" ||
	fail "the sweep at start deleted what expired" "$(grep retention vigild.err)"
grep 'event=retention_swept' vigild.err | grep -q 'samples_erased=2 submissions=2 samples_unlinked=2 sample_days=30 metadata_days=60' &&
	pass "event=retention_swept: 2 samples' bytes, 2 submissions, 2 links, the periods" ||
	fail "event=retention_swept: 2 samples' bytes, 2 submissions, 2 links, the periods" "$(grep retention vigild.err)"

# --- the bytes --------------------------------------------------------------------------------------
for f in old ancient; do
	eval "s=\$sha_$f m=\$m_$f l=\$loc_$f"
	[ "$(loc "$s")" = none ] && ! in_segments "$m" &&
		pass "$f.txt: no location, its record gone from the segment files" ||
		fail "$f.txt: no location, its record gone from the segment files" "$(loc "$s")"
	# shellcheck disable=SC2086
	range_zero $l && pass "$f.txt: its range reads as zeros (a hole)" ||
		fail "$f.txt: its range reads as zeros (a hole)"
done
for f in recent shared edge; do
	eval "s=\$sha_$f m=\$m_$f l=\$loc_$f"
	[ "$(loc "$s")" = "$l" ] && in_segments "$m" &&
		pass "$f.txt: its bytes stay" || fail "$f.txt: its bytes stay" "$(loc "$s")"
done
grep -rqa "$mark" var/ && fail "no plaintext of any sample is in the data directory" ||
	pass "no plaintext of any sample is in the data directory"

[ "$(loc "$sha_held")" = "$loc_held" ] && in_segments "$m_held" &&
	pass "held.txt: held, its bytes stay though expired" ||
	fail "held.txt: held, its bytes stay though expired" "$(loc "$sha_held")"

# --- the metadata -------------------------------------------------------------------------------------
as homeA
"$VIGIL" my-data list >list.txt 2>"$err"
[ "$(wc -l <list.txt)" = 4 ] && grep -q "$sha_old" list.txt && grep -q "$sha_recent" list.txt &&
	grep -q "$sha_edge" list.txt && grep -q "$sha_held" list.txt &&
	pass "A's submissions older than 60 days are gone, the others stay" ||
	fail "A's submissions older than 60 days are gone, the others stay" "$(cat list.txt "$err")"
as homeB
"$VIGIL" my-data list >list.txt 2>"$err"
[ "$(wc -l <list.txt)" = 1 ] && grep -q "$sha_shared" list.txt &&
	pass "B's recent submission of the shared file stays" ||
	fail "B's recent submission of the shared file stays" "$(cat list.txt "$err")"
[ "$(prevalence "$sha_shared")" = 1 ] && pass "the shared file's prevalence is 1: A's link went with its submission" ||
	fail "the shared file's prevalence is 1" "$(prevalence "$sha_shared")"
[ "$(prevalence "$sha_ancient")" = 0 ] && pass "the ancient file is still known, prevalence 0" ||
	fail "the ancient file is still known, prevalence 0" "$(prevalence "$sha_ancient")"
[ "$(prevalence "$sha_old")" = 1 ] && pass "the old file keeps its client: its submission is recent enough" ||
	fail "the old file keeps its client" "$(prevalence "$sha_old")"

# --- the log and the metrics ----------------------------------------------------------------------------
_i=0
while [ $_i -lt 100 ] && [ "$(size)" -le "$n" ]; do sleep 0.1; _i=$((_i + 1)); done
entry "$n" r.json
jcheck r.json "r['type'] == 'retention' and r['sample-days'] == 30 and r['metadata-days'] == 60 and
	r['samples-erased'] == 2 and r['submissions'] == 2 and r['samples-unlinked'] == 2 and
	sorted(r) == sorted(['index', 'type', 'time', 'sample-days', 'metadata-days',
	'samples-erased', 'submissions', 'samples-unlinked', 'body'])" \
	"a retention entry: the periods and the counts, nothing else"
curl -s "$base/log/tile/entries/000.p/$(size)" >bundle.bin
grep -qa -e "$idA" -e "$idB" -e "$mark" -e "$sha_old" -e "$sha_ancient" -e "$sha_shared" \
	-e old.txt -e ancient.txt bundle.bin &&
	fail "the log names no client, file name, marker or hash" ||
	pass "the log names no client, file name, marker or hash"
curl -s "$base/metrics" >metrics.txt
grep -q '^vigil_retention_deleted_total{kind="sample_bytes"} 2$' metrics.txt &&
	grep -q '^vigil_retention_deleted_total{kind="submissions"} 2$' metrics.txt &&
	grep -q '^vigil_retention_deleted_total{kind="sample_clients"} 2$' metrics.txt &&
	grep -q '^vigil_retention_failures_total 0$' metrics.txt &&
	pass "/metrics counts what the sweep deleted" ||
	fail "/metrics counts what the sweep deleted" "$(grep retention metrics.txt)"

# --- released: the next sweep takes the held sample -----------------------------------------------------
admin alice.token release-hold "$sha_held" --case CASE-2026-114 >"$out" 2>"$err" &&
	grep -q "^released $sha_held, case CASE-2026-114" "$out" &&
	pass "vigil admin release-hold: released" || fail "vigil admin release-hold: released" "$(cat "$out" "$err")"
nr=$(($(size) - 1))
entry "$nr" rh.json
jcheck rh.json "r['type'] == 'release-hold' and r['sample'] == '$sha_held' and r['case'] == 'CASE-2026-114' and
	r['who'] == 'operator:alice' and 'reason' not in r" \
	"a release-hold entry: the sample, the case, the authenticated operator"
admin alice.token release-hold "$sha_held" --case CASE-2026-114 >"$out" 2>"$err"
[ $? = 1 ] && grep -q 404 "$err" && pass "releasing it again: 404, exit 1" ||
	fail "releasing it again: 404, exit 1" "$(cat "$err")"
stop_node
start_node || { fail "vigild starts a third time" "$(cat vigild.err)"; finish; }
passes 1 && [ "$(grep -c 'event=retention_swept' vigild.err)" = 1 ] && [ "$(loc "$sha_held")" = "$loc_held" ] &&
	pass "a sample still held by another case stays through the sweep" ||
	fail "a sample still held by another case stays through the sweep" "$(grep retention vigild.err)"
admin alice.token release-hold "$sha_held" --case case-2 >"$out" 2>"$err" ||
	fail "the second case is released" "$(cat "$err")"
n=$(size)
stop_node
start_node || { fail "vigild starts a fourth time" "$(cat vigild.err)"; finish; }
swept 2 && grep 'event=retention_swept' vigild.err | tail -1 |
	grep -q 'samples_erased=1 submissions=1 samples_unlinked=1' &&
	[ "$(loc "$sha_held")" = none ] && ! in_segments "$m_held" &&
	pass "every hold released: the next sweep erases its bytes and deletes its submission" ||
	fail "every hold released: the next sweep erases its bytes and deletes its submission" "$(grep retention vigild.err)"
_i=0
while [ $_i -lt 100 ] && [ "$(size)" -le "$n" ]; do sleep 0.1; _i=$((_i + 1)); done
entry "$n" r2.json
jcheck r2.json "r['type'] == 'retention' and r['samples-erased'] == 1 and r['submissions'] == 1" \
	"its retention entry"

# --- a pass with nothing to delete appends nothing --------------------------------------------------------
stop_node
start_node || { fail "vigild starts a fifth time" "$(cat vigild.err)"; finish; }
n=$(size)
passes 1 && [ "$(grep -c 'event=retention_swept' vigild.err)" = 2 ] && sleep 1 && [ "$(size)" = "$n" ] &&
	pass "a pass that deletes nothing appends no entry" ||
	fail "a pass that deletes nothing appends no entry" "$(grep retention vigild.err)"
[ "$(loc "$sha_recent")" = "$loc_recent" ] && [ "$(loc "$sha_edge")" = "$loc_edge" ] &&
	pass "recent bytes stay over restarts" || fail "recent bytes stay over restarts"
curl -s -o /dev/null -w '%{http_code}' "$base/healthz" | grep -q 200 &&
	pass "the node serves on after its sweeps" || fail "the node serves on after its sweeps"
stop_node
rc=$?
[ $rc = 0 ] && pass "vigild exits 0 on SIGTERM" || fail "vigild exits 0 on SIGTERM" "status $rc"

# --- bad [retention] values stop vigild at start ------------------------------------------------------------
for bad in 'sample_days = 3651' 'metadata_days = -1' 'metadata_days = 1y' 'hold_days = 3'; do
	printf '[retention]\n%s\n' "$bad" >bad.conf
	"$VIGILD" -c bad.conf --listen 127.0.0.1:0 --data "$tmp/var2" >bad.out 2>bad.err &
	bpid=$!
	_i=0
	while [ $_i -lt 50 ] && kill -0 $bpid 2>/dev/null; do sleep 0.1; _i=$((_i + 1)); done
	if kill -0 $bpid 2>/dev/null; then
		kill -TERM $bpid
		wait $bpid
		fail "[retention] $bad: vigild refuses to start" "it started"
	else
		wait $bpid
		brc=$?
		[ $brc = 2 ] && grep -q "bad.conf:2:" bad.err &&
			pass "[retention] $bad: vigild exits 2 naming the line" ||
			fail "[retention] $bad: vigild exits 2 naming the line" "status $brc $(cat bad.err)"
	fi
done
finish
