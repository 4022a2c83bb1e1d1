#!/bin/sh
# test-node-streams.sh - the node's sandboxed workers take compressed
# files apart as `vigil scan` does: EICAR in the second member of a gzip
# file is malicious, and a gzip file cut at 30 bytes is suspicious with
# Decompose.Incomplete, never clean; a zip, bzip2 or xz bomb is decided by
# the engine (a size or ratio limit) in one attempt, not stopped by the
# node at its time limit.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

# A bomb must be decided by the engine well inside the node's time limit:
# one stopped by the node would say Limits.Exceeded.Time instead.
cat >node.conf <<'CONF'
[node]
workers = 1
[limits]
max_scan_ms = 20000
CONF

eicar >eicar.com
"$PYTHON" "$VIGIL_SOURCE_DIR/tests/integration/mkstreams.py" eicar.com bombs ||
	fail "mkstreams.py could not build the inputs"

node_start vigild -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild starts" "$(cat vigild.err)"; finish; }
pid=$node_pid
base=$node_base
pass "vigild starts"

token=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# submit FILE: POSTs it and waits for its analysis; the answer in $out.
submit() {
	id=$(curl -s -X POST -H "Authorization: Bearer $token" \
		-H "Vigil-Metadata: {\"name\":\"$1\"}" \
		--data-binary "@$1" "$base/v1/submissions" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	curl -s -H "Authorization: Bearer $token" \
		"$base/v1/submissions/$id?wait=60" >"$out"
}

# check EXPR WHAT: a Python expression over the answer (d) is true.
check() {
	if "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$out" 2>/dev/null; then
		pass "$2"
	else
		fail "$2" "$(head -c 600 "$out")"
	fi
}

submit two-members.gz
check 'd["status"] == "done" and d["verdict"] == "malicious" and "Vigil_Test_EICAR" in d["detections"]' \
	"two-member gzip with EICAR in member 2: malicious on the node"
check 'len(d["report"]["objects"]) == 3 and d["report"]["objects"][2]["name"] == "#member2"' \
	"two-member gzip: the worker's report holds both members"

submit truncated.gz
check 'd["status"] == "done" and d["verdict"] == "suspicious" and "Decompose.Incomplete" in d["detections"]' \
	"gzip cut at 30 bytes: suspicious with Decompose.Incomplete on the node"
check 'any("truncated" in p for p in d["report"]["problems"])' \
	"truncated gzip: the node's report says the member is truncated"

for bomb in bomb-42.zip bomb-1g.bz2 bomb-1g.xz; do
	submit $bomb
	check 'd["status"] == "done" and d["attempts"] == 1 and d["verdict"] == "suspicious" and any(x.startswith("Limits.Exceeded.") and x != "Limits.Exceeded.Time" for x in d["detections"]) and "Limits.Exceeded.Time" not in d["detections"]' \
		"$bomb: decided by the engine on the node (suspicious, a size or ratio limit), in one attempt, not stopped at the time limit"
done

kill -TERM $pid 2>/dev/null
wait $pid
finish
