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
for f in old ancient recent shared edge; do
	printf '%s: %s\n' "$f" "$mark" >"$f.txt"
	eval "sha_$f=\$(sha256sum $f.txt | cut -d' ' -f1)"
done
as homeA
"$VIGIL" submit old.txt ancient.txt recent.txt shared.txt edge.txt >"$out" 2>"$err" ||
	fail "A submits five files" "$(cat "$out" "$err")"
as homeB
"$VIGIL" submit shared.txt >"$out" 2>"$err" ||
	fail "B submits the shared file" "$(cat "$out" "$err")"
for f in old ancient recent shared edge; do
	eval "l=\$(loc \$sha_$f)"
	[ "$l" != none ] || fail "$f.txt is stored" "$l"
	eval "loc_$f=\"\$l\""
	# shellcheck disable=SC2086
	eval "m_$f=\$(marker $l)"
done
[ "$(prevalence "$sha_shared")" = 2 ] && pass "the shared file's prevalence is 2" ||
	fail "the shared file's prevalence is 2" "$(prevalence "$sha_shared")"

# --- made old while the node is stopped ---------------------------------------------------------
n=$(size)
stop_node
age 40 "$sha_old" "$idA"         # bytes expire, the submission stays
age 70 "$sha_ancient" "$idA"     # both expire
age 29 "$sha_edge" "$idA"        # a day within both: stays
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

# --- the metadata -------------------------------------------------------------------------------------
as homeA
"$VIGIL" my-data list >list.txt 2>"$err"
[ "$(wc -l <list.txt)" = 3 ] && grep -q "$sha_old" list.txt && grep -q "$sha_recent" list.txt &&
	grep -q "$sha_edge" list.txt &&
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

# --- a pass with nothing to delete appends nothing --------------------------------------------------------
stop_node
start_node || { fail "vigild starts a third time" "$(cat vigild.err)"; finish; }
n=$(size)
passes 1 && [ "$(grep -c 'event=retention_swept' vigild.err)" = 1 ] && sleep 1 && [ "$(size)" = "$n" ] &&
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
