#!/bin/sh
# test-node-stats.sh - GET /v1/stats on the real vigild: a completed day's
# anonymised statistics (docs/STATS.md). Clients enrol and submit; with
# the node stopped, their submissions are moved back one day in its
# SQLite file, so that the day before yesterday is a completed day with
# known counts.
# Then: a count from k or more distinct clients is published near its
# true value, one from fewer is suppressed; the document is the same
# bytes on every request and after a restart; it is in the log (a stats
# entry whose hash is that of the served bytes, at the index the answer
# names); a document stored but not yet logged is logged as stored;
# today and later days, malformed days and other methods are refused;
# and the node keeps serving.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL:?VIGIL must be the path of the vigil binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

mkdir rules
eicar_rule rules/eicar.yar
write_rule rules/rare.yar Test_Rare "RARE-MARKER-e41c"
# k = 3 clients; a large epsilon, so that published counts are near
# their truth (the noise's scale is printed in the document).
log_node_conf '[stats]
k = 3
epsilon = 100
'
sed -i "s|^workers = 1\$|workers = 1\nrules = $tmp/rules|" node.conf

stop_node() {
	kill -TERM $pid 2>/dev/null
	wait $pid
}

# stats QUERY: GET /v1/stats?QUERY (QUERY may be empty: no query at all);
# status in $code, body in $out, headers in hdr.txt.
stats() {
	if [ -n "$1" ]; then _u="$base/v1/stats?$1"; else _u="$base/v1/stats"; fi
	code=$(curl -s -o "$out" -D hdr.txt -w '%{http_code}' "$_u")
}

hdr() { tr -d '\r' <hdr.txt | sed -n "s/^$1: //Ip"; }
size() { curl -s "$base/log/checkpoint" | sed -n 2p; }
json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$1"; }
metric() { curl -s "$base/metrics" | sed -n "s/^$1 //p"; }

enroll() {
	curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# submit TOKEN FILE: submits, then waits up to 60 s for the analysis.
submit() {
	_id=$(curl -s -X POST -H "Authorization: Bearer $1" --data-binary @"$2" \
		"$base/v1/submissions" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	[ -n "$_id" ] || return 1
	curl -s -H "Authorization: Bearer $1" "$base/v1/submissions/$_id?wait=60" >sub.json
	grep -q '"verdict"' sub.json
}

start_node || { fail "vigild starts" "$(cat vigild.err)"; finish; }
key=$(curl -s "$base/log/key")

# --- the day's submissions ------------------------------------------------------------
# Clients a, b and c submit the EICAR file and one file of their own; d
# submits one file of its own that only it has, matched by Test_Rare.
eicar >eicar.txt
ok=1
for c in a b c; do
	t=$(enroll)
	eval "tok_$c=\$t"
	head -c 4096 /dev/urandom >"own_$c.bin"
	submit "$t" eicar.txt && submit "$t" "own_$c.bin" || ok=0
done
tok_d=$(enroll)
printf 'a note RARE-MARKER-e41c of client d\n' >rare.txt
submit "$tok_d" rare.txt || ok=0
[ $ok = 1 ] && pass "four clients submit seven files, analysed" ||
	fail "four clients submit seven files, analysed" "$(cat sub.json)"
stop_node

# In the node's own database: every submission two days back (yesterday
# is published only from 00:05 UTC today).
sqlite3 var/vigil.db 'UPDATE submissions SET created = created - 2 * 86400;' &&
	pass "the submissions are moved back two days, the node stopped" ||
	fail "the submissions are moved back two days, the node stopped"
yesterday=$(date -u -d @$(($(date -u +%s) - 86400)) +%F)
past=$(date -u -d @$(($(date -u +%s) - 2 * 86400)) +%F)
today=$(date -u +%F)
tomorrow=$(date -u -d @$(($(date -u +%s) + 86400)) +%F)
before=$(date -u -d @$(($(date -u +%s) - 3 * 86400)) +%F)

start_node || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
n0=$(size)

# --- the published day ----------------------------------------------------------------
stats "day=$past"
cp "$out" doc1.json
idx=$(hdr X-Vigil-Log-Index)
[ "$code" = 200 ] && [ -n "$idx" ] && [ "$(hdr X-Vigil-Log-Size)" -gt "$idx" ] &&
	[ "$(hdr Content-Type)" = application/json ] &&
	pass "a completed day: 200, JSON, X-Vigil-Log-Index and -Size" ||
	fail "a completed day: 200, JSON, X-Vigil-Log-Index and -Size" "$code $(cat hdr.txt) $(cat "$out")"
[ "$(size)" = $((n0 + 1)) ] && pass "publishing the day added exactly one log entry" ||
	fail "publishing the day added exactly one log entry" "$n0, then $(size)"
jcheck doc1.json "r['day'] == '$past' and r['region'] == 'eu' and r['version'] == 1 and
	r['privacy']['k'] == 3 and r['privacy']['epsilon'] == 100 and
	r['privacy']['mechanism'] == 'laplace' and r['privacy']['per_client'] == 10" \
	"the document names its day, region, k, epsilon and mechanism"
# Published cells, near their truth (scale at most 10 / (100 / 12) < 1.2).
jcheck doc1.json "abs(r['submissions'] - 7) <= 6 and abs(r['samples'] - 5) <= 6" \
	"submissions (7, 4 clients) and samples (5) are published near their truth"
jcheck doc1.json "abs(r['detections']['Test_EICAR'] - 3) <= 1" \
	"a detection of 3 distinct clients (k = 3) is published near 3"
jcheck doc1.json "'Test_Rare' not in r['detections']" \
	"a detection of 1 client is suppressed, its name not shown"
jcheck doc1.json "abs(r['categories']['test'] - 4) <= 1" \
	"the category test (Test_EICAR, Test_Rare: 4 clients) is published"
jcheck doc1.json "abs(r['prevalence']['1'] - 4) <= 6 and abs(r['prevalence']['2-4'] - 1) <= 6 and
	r['prevalence']['5-9'] is None and r['prevalence']['10-99'] is None and
	r['prevalence']['100+'] is None" \
	"the prevalence histogram: buckets of 4 and 3 clients published, empty ones suppressed"
jcheck doc1.json "all(isinstance(v, int) and v >= 0 for s in ('detections', 'categories', 'file_types')
	for v in r[s].values()) and len(r['file_types']) >= 1" \
	"published counts are whole numbers, at least 0"
jcheck doc1.json "r['privacy']['cells'] == 1 + 1 + 2 + len(r['detections']) +
	len(r['categories']) + len(r['file_types']) and
	abs(r['privacy']['epsilon_per_cell'] * r['privacy']['cells'] - 100) < 1e-9" \
	"epsilon is split equally among the published cells"
grep -q "$tok_a\|$tok_d\|own_a" doc1.json && fail "no client's token is in the document" ||
	pass "no client's token is in the document"

# --- frozen: the same bytes on every request, and after a restart --------------------------
stats "day=$past"
[ "$code" = 200 ] && cmp -s "$out" doc1.json && [ "$(hdr X-Vigil-Log-Index)" = "$idx" ] &&
	pass "a second request: the same bytes, the same log index" ||
	fail "a second request: the same bytes, the same log index" "$code $(cat "$out")"
[ "$(size)" = $((n0 + 1)) ] && pass "a second request logs nothing" ||
	fail "a second request logs nothing" "$n0, then $(size)"

# --- in the log ---------------------------------------------------------------------------
"$VIGIL" log get "$base/log" "$idx" --key "$key" --json >e.json 2>"$err"
h=$(sha256sum doc1.json | cut -d' ' -f1)
jcheck e.json "r['type'] == 'stats' and r['day'] == '$past' and r['region'] == 'eu' and
	r['sha256'] == '$h' and r['body'] == ''" \
	"the log's entry at that index is a stats entry with the served bytes' SHA-256"

stop_node
# A document stored but never logged (a node stopped between the two):
# the next request logs those bytes as they are, never recomputing them.
stored=$(date -u -d @$(($(date -u +%s) - 4 * 86400)) +%F)
printf '{"day":"%s","stored":"before its entry"}' "$stored" >stored.json
sqlite3 var/vigil.db "INSERT INTO stats (day, doc, created)
	VALUES ('$stored', CAST(readfile('stored.json') AS TEXT), 0);" ||
	fail "a stored, unlogged document is put in the database"
start_node || { fail "vigild restarts" "$(cat vigild.err)"; finish; }
n1=$(size)
stats "day=$stored"
sidx=$(hdr X-Vigil-Log-Index)
"$VIGIL" log get "$base/log" "${sidx:-0}" --key "$key" --json >se.json 2>"$err"
h=$(sha256sum stored.json | cut -d' ' -f1)
[ "$code" = 200 ] && cmp -s "$out" stored.json && [ "$sidx" = "$n1" ] &&
	pass "a stored document not yet logged: its bytes served as stored, with its index" ||
	fail "a stored document not yet logged: its bytes served as stored, with its index" \
		"$code $sidx $n1 $(cat "$out")"
jcheck se.json "r['type'] == 'stats' and r['day'] == '$stored' and r['sha256'] == '$h'" \
	"its stats entry, made by that request, holds the stored bytes' SHA-256"
n1=$(size)
stats "day=$past"
[ "$code" = 200 ] && cmp -s "$out" doc1.json && [ "$(hdr X-Vigil-Log-Index)" = "$idx" ] &&
	[ "$(size)" = "$n1" ] &&
	pass "after a restart: the same bytes, the same index, nothing logged" ||
	fail "after a restart: the same bytes, the same index, nothing logged" "$code $(cat "$out")"

# --- a day with no submissions: published, everything suppressed -------------------------
stats "day=$before"
cp "$out" empty.json
[ "$code" = 200 ] && pass "a completed day without submissions: 200" ||
	fail "a completed day without submissions: 200" "$code $(cat "$out")"
jcheck empty.json "r['submissions'] is None and r['samples'] is None and
	r['detections'] == {} and r['privacy']['cells'] == 0" \
	"a day without submissions: every count suppressed, no budget spent"

# --- refusals -------------------------------------------------------------------------------
n=$(size)
refused() { # STATUS CODE WHAT
	if [ "$code" = "$1" ] && grep -q "\"error\":\"$2\"" "$out" && [ "$(size)" = "$n" ]; then
		pass "$3: $1 $2, nothing logged"
	else
		fail "$3: $1 $2, nothing logged" "HTTP $code, size $n then $(size): $(head -c 300 "$out")"
	fi
}
stats "day=$today"
refused 409 day_not_over "today"
stats "day=$tomorrow"
refused 409 day_not_over "tomorrow"
stats "day=9999-12-31"
refused 409 day_not_over "a far future day"
stats ""
refused 400 day_required "no query"
stats "day="
refused 400 bad_day "an empty day"
stats "day=2026-13-01"
refused 400 bad_day "month 13"
stats "day=2025-02-29"
refused 400 bad_day "February 29 of a common year"
stats "day=2026-04-31"
refused 400 bad_day "April 31"
stats "day=2026-1-05"
refused 400 bad_day "a day without leading zeros"
stats "day=1969-12-31"
refused 400 bad_day "a day before 1970"
stats "day=yesterday"
refused 400 bad_day "a word"
stats "day=$past%00"
refused 400 bad_day "a day with an encoded NUL after it"
stats "day=${past}T00:00:00Z"
refused 400 bad_day "a timestamp"
stats "day=$past&day=$past"
refused 400 bad_request "day twice"
stats "date=$past"
refused 400 bad_request "another parameter"
stats "day=2000-01-01"
refused 404 not_published "a day too long ago, never published"
code=$(curl -s -o "$out" -w '%{http_code}' -X POST "$base/v1/stats?day=$past")
refused 405 method_not_allowed "POST"

# --- the node keeps serving ----------------------------------------------------------------
code=$(curl -s -o "$out" -w '%{http_code}' "$base/healthz")
[ "$code" = 200 ] && pass "the node keeps serving" || fail "the node keeps serving" "$code"
[ "$(metric vigil_stats_published_total)" = 2 ] &&
	pass "/metrics counts the two days published since the restart" ||
	fail "/metrics counts the two days published since the restart" "$(metric vigil_stats_published_total)"
stats "day=$past"
[ "$code" = 200 ] && cmp -s "$out" doc1.json && pass "the day is still the same bytes" ||
	fail "the day is still the same bytes" "$code"
# Yesterday: refused in the first 5 minutes after midnight UTC, published
# after them (not asked near the boundary, where either is right).
sod=$(($(date -u +%s) % 86400))
if [ $sod -lt 290 ]; then
	stats "day=$yesterday"
	refused 409 day_not_over "yesterday, before 00:05 UTC"
elif [ $sod -gt 310 ]; then
	stats "day=$yesterday"
	[ "$code" = 200 ] && pass "yesterday, after 00:05 UTC: published" ||
		fail "yesterday, after 00:05 UTC: published" "$code $(cat "$out")"
fi

stop_node
finish
