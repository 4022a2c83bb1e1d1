#!/bin/sh
# test-node-releases.sh - signed releases on the real vigild: the online
# key at first start, a good publish (201) and every GET route of it, the
# artifact's proof verified with `vigil log verify`, the log's entries,
# every kind of refused publish (401, 400, 409, 413, 422) each leaving
# nothing served and the node up, a root rotation refused when only the
# new keys sign it and taken when both sets do, the artifacts of an older
# release served by their hash (and nothing the index does not list), and
# the timestamp signed again when it is stale.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${RELEASE_TOOL:?RELEASE_TOOL must be the path of release_tool}"
RT=$RELEASE_TOOL
cd "$tmp" || exit 1

log_node_conf '[limits]
max_release_body = 262144
[releases]
timestamp_refresh = 2
'

node_start vigild -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild starts" "$(cat vigild.err)"; finish; }
base=$node_base
pass "vigild starts"
token=$(cat var/operator.token)
logkey=$(curl -s "$base/log/key")

# get PATH: status in $code, body in $out.
get() {
	code=$(curl -s -o "$out" -w '%{http_code}' "$base$1")
}

# publish FILE [TOKEN]: status in $code, answer in $out.
publish() {
	code=$(curl -s -o "$out" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer ${2-$token}" \
		-H 'Content-Type: application/octet-stream' \
		--data-binary "@$1" "$base/v1/admin/releases")
}

# expect_code CODE WHAT [TEXT]: the last answer had CODE (and TEXT).
expect_code() {
	if [ "$code" = "$1" ] && { [ -z "$3" ] || grep -qF -- "$3" "$out"; }; then
		pass "$2"
	else
		fail "$2" "expected $1${3:+ with '$3'}, got $code: $(head -c 600 "$out")"
	fi
}

# still_serving WHAT VERSION: the node answers /healthz and serves targets
# version VERSION (or nothing, for 0) and nothing newer.
still_serving() {
	h=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")
	get /v1/releases/targets.json
	if [ "$2" = 0 ]; then
		ok=$([ "$code" = 404 ] && echo y)
	else
		ok=$([ "$code" = 200 ] && "$PYTHON" -c '
import json, sys
sys.exit(json.load(open(sys.argv[1]))["signed"]["version"] != int(sys.argv[2]))' "$out" "$2" && echo y)
	fi
	n=$(curl -s "$base/v1/releases" | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["releases"]))')
	want=$([ "$2" = 0 ] && echo 0 || echo "$3")
	if [ "$h" = 200 ] && [ "$ok" = y ] && [ "$n" = "$want" ]; then
		pass "after $1: the node is up and serves nothing of it"
	else
		fail "after $1: the node is up and serves nothing of it" \
			"healthz $h, targets.json $code, releases $n"
	fi
}

# --- the online key ------------------------------------------------------------------
[ "$(stat -c %a var/release-online.key)" = 600 ] &&
	pass "release-online.key is created with mode 0600" ||
	fail "release-online.key is created with mode 0600" "$(ls -l var)"
get /v1/releases/online-key.json
cp "$out" online.pub
onlineid=$(sed -n 's/^release online key (snapshot, timestamp): \([0-9a-f]\{64\}\)$/\1/p' vigild.out)
if [ "$code" = 200 ] && [ -n "$onlineid" ] && "$PYTHON" -c '
import hashlib, sys
b = open("online.pub", "rb").read()
sys.exit(hashlib.sha256(b).hexdigest() != sys.argv[1])' "$onlineid"; then
	pass "GET online-key.json: the key whose ID vigild prints at start"
else
	fail "GET online-key.json: the key whose ID vigild prints at start" \
		"$code $(cat online.pub) / $(cat vigild.out)"
fi
get /v1/releases/timestamp.json
expect_code 404 "no timestamp before the first release" '"error"'

# --- keys, root 1, a rule bundle and targets 1 ---------------------------------------
for k in r1 r2 r3 r4 t1 t2 x1 x2; do
	"$RT" keygen "$k" || fail "release_tool keygen $k"
done
mkdir rules
write_rule rules/test.yar Test_Release "vigil-release-test-string"
"$RT" bundle rules-1.json rules 1 || fail "release_tool bundle"
printf 'a program\n' >prog
"$RT" root root1.json 1 365 2 r1.pub,r2.pub 2 t1.pub,t2.pub online.pub
cp root1.json root1-low.json
"$RT" sign root1.json r1.key r2.key
"$RT" sign root1-low.json r1.key
"$RT" targets t1.json 1 90 rules/vigil-rules-1.json:rules-1.json:rules:1 \
	bin/vigil:prog:program:1.0.0
"$RT" sign t1.json t1.key t2.key
"$RT" container c1 root/1.root.json=root1.json targets.json=t1.json \
	targets/rules/vigil-rules-1.json=rules-1.json targets/bin/vigil=prog

# --- refusals before any release ------------------------------------------------------
code=$(curl -s -o "$out" -w '%{http_code}' -X POST --data-binary @c1 \
	"$base/v1/admin/releases")
expect_code 401 "publish without a token: 401" unauthorized
publish c1 "vg1.eu.not-the-operator-token"
expect_code 401 "publish with a wrong token: 401" unauthorized
still_serving "a publish without the token" 0
"$RT" container c1-low root/1.root.json=root1-low.json targets.json=t1.json \
	targets/rules/vigil-rules-1.json=rules-1.json targets/bin/vigil=prog
publish c1-low
expect_code 422 "root 1 below its threshold: 422 naming the threshold" threshold
still_serving "a root below threshold" 0
"$RT" container c1-noroot targets.json=t1.json \
	targets/rules/vigil-rules-1.json=rules-1.json targets/bin/vigil=prog
publish c1-noroot
expect_code 422 "a first release without root 1: 422" "root/1.root.json"
"$RT" root root1-other.json 1 365 2 r1.pub,r2.pub 2 t1.pub,t2.pub x1.pub
"$RT" sign root1-other.json r1.key r2.key
"$RT" container c1-other root/1.root.json=root1-other.json targets.json=t1.json \
	targets/rules/vigil-rules-1.json=rules-1.json targets/bin/vigil=prog
publish c1-other
expect_code 422 "a root whose timestamp role is not the node's online key: 422" "online key"
head -c 300000 /dev/zero >big
publish big
expect_code 413 "a container over max_release_body: 413" body_too_large
still_serving "refused first releases" 0

# --- a good publish ----------------------------------------------------------------
size0=$(curl -s "$base/log/checkpoint" | sed -n 2p)
publish c1
expect_code 201 "a good release is published: 201"
cp "$out" answer1.json
jcheck answer1.json 'r["version"] == 1 and r["root_version"] == 1 and
	len(r["signers"]) == 2 and r["rules"]["version"] == "1" and
	r["rules_diff"]["added"] == ["Test_Release"] and
	all(isinstance(a["log_index"], int) for a in r["artifacts"]) and
	len(r["key_changes"]) == 1' \
	"the answer: version, signers, artifacts with log indexes, rule diff"
size1=$(curl -s "$base/log/checkpoint" | sed -n 2p)
[ "$size1" = $((size0 + 3)) ] &&
	pass "three log entries: rule-release, software-release, key-change" ||
	fail "three log entries: rule-release, software-release, key-change" "$size0 -> $size1"

get /v1/releases
jcheck "$out" 'len(r["releases"]) == 1 and r["releases"][0]["version"] == 1' \
	"GET /v1/releases lists the release"
for f in root.json 1.root.json targets.json snapshot.json timestamp.json; do
	get "/v1/releases/$f"
	expect_code 200 "GET /v1/releases/$f"
done
get /v1/releases/1.root.json
cmp -s "$out" root1.json && pass "1.root.json is root 1 as published" ||
	fail "1.root.json is root 1 as published"
get /v1/releases/targets.json
cp "$out" served-targets.json
cmp -s served-targets.json t1.json && pass "targets.json is the one published" ||
	fail "targets.json is the one published"
get /v1/releases/snapshot.json
cp "$out" snap.json
get /v1/releases/timestamp.json
cp "$out" ts.json
if "$PYTHON" -c '
import hashlib, json, sys
t = open("served-targets.json", "rb").read()
s = open("snap.json", "rb").read()
sj, tj = json.loads(s), json.loads(open("ts.json", "rb").read())
m = sj["signed"]["meta"]["targets.json"]
n = tj["signed"]["meta"]["snapshot.json"]
ok = (m["hashes"]["sha256"] == hashlib.sha256(t).hexdigest() and
      m["length"] == len(t) and m["version"] == 1 and
      n["hashes"]["sha256"] == hashlib.sha256(s).hexdigest() and
      n["version"] == sj["signed"]["version"] and
      [x["keyid"] for x in sj["signatures"]] == [sys.argv[1]] and
      [x["keyid"] for x in tj["signatures"]] == [sys.argv[1]])
sys.exit(0 if ok else 1)' "$onlineid"; then
	pass "snapshot and timestamp: signed by the online key, naming targets and snapshot"
else
	fail "snapshot and timestamp: signed by the online key, naming targets and snapshot" \
		"$(cat snap.json ts.json)"
fi
hdr=$(curl -s -D - -o /dev/null "$base/v1/releases/targets.json" | tr -d '\r' |
	grep -i '^cache-control:' | tr 'A-Z' 'a-z')
[ "$hdr" = "cache-control: no-cache" ] && pass "manifests: Cache-Control no-cache" ||
	fail "manifests: Cache-Control no-cache" "$hdr"
get /v1/releases/targets/rules/vigil-rules-1.json
[ "$code" = 200 ] && cmp -s "$out" rules-1.json &&
	pass "GET targets/<name> serves the rule bundle" ||
	fail "GET targets/<name> serves the rule bundle" "$code"
hdr=$(curl -s -D - -o /dev/null "$base/v1/releases/targets/bin/vigil" | tr -d '\r' |
	grep -i '^cache-control:')
case "$hdr" in *max-age=31536000*) pass "artifacts: a long max-age" ;;
*) fail "artifacts: a long max-age" "$hdr" ;; esac
for p in targets/nothing targets/bin proofs/nothing 7.root.json 0.root.json \
	01.root.json nothing.json; do
	get "/v1/releases/$p"
	expect_code 404 "GET /v1/releases/$p: 404 with a JSON error" '"error"'
done

# --- the proof and the log entry -----------------------------------------------------
get /v1/releases/proofs/rules/vigil-rules-1.json
cp "$out" proof.txt
idx=$(jeval answer1.json '[a["log_index"] for a in r["artifacts"] if a["kind"] == "rules"][0]')
head -1 proof.txt | grep -q '^c2sp.org/tlog-proof@v1$' &&
	grep -q "^index $idx\$" proof.txt &&
	pass "GET proofs/<name>: a tlog-proof of the artifact's entry" ||
	fail "GET proofs/<name>: a tlog-proof of the artifact's entry" "$code $(cat proof.txt)"
# The entry's bytes, from the log's entry bundle.
curl -s "$base/log/tile/entries/000.p/$size1" >bundle
"$PYTHON" -c '
import sys
b = open("bundle", "rb").read()
i, n = 0, int(sys.argv[1])
for _ in range(n):
    i += 2 + int.from_bytes(b[i:i+2], "big")
l = int.from_bytes(b[i:i+2], "big")
open("entry", "wb").write(b[i+2:i+2+l])' "$idx"
if "$VIGIL" log verify --proof proof.txt --entry entry --key "$logkey" >"$out" 2>&1; then
	pass "vigil log verify proves the artifact's entry with the served proof"
else
	fail "vigil log verify proves the artifact's entry with the served proof" "$(cat "$out")"
fi
grep -qx 'type rule-release' entry && grep -qx 'version 1' entry &&
	grep -qx "sha256 $(sha256sum rules-1.json | cut -c1-64)" entry &&
	grep -qx 'rules 1' entry &&
	pass "the entry is a rule-release of the bundle: version, sha256, rules" ||
	fail "the entry is a rule-release of the bundle: version, sha256, rules" "$(cat entry)"
"$VIGIL" log get "$base/log" "$idx" --key "$logkey" --json >"$out" 2>&1
jcheck "$out" 'r["type"] == "rule-release" and r["version"] == "1"' \
	"vigil log get shows the rule-release entry"
sidx=$(jeval answer1.json '[a["log_index"] for a in r["artifacts"] if a["kind"] == "program"][0]')
"$VIGIL" log get "$base/log" "$sidx" --key "$logkey" --json >"$out" 2>&1
jcheck "$out" 'r["type"] == "software-release" and r["name"] == "vigil" and
	r["sha256"] == ["'"$(sha256sum prog | cut -c1-64)"'"]' \
	"the software-release entry lists the program's hash"

# --- refused second releases ---------------------------------------------------------
printf 'a program, version 2\n' >prog2
"$RT" targets t1b.json 1 90 bin/vigil:prog2:program:2.0.0
"$RT" sign t1b.json t1.key t2.key
"$RT" container c-same targets.json=t1b.json targets/bin/vigil=prog2
publish c-same
expect_code 409 "a release with the same targets version: 409" "not above"
still_serving "a version not above" 1 1
"$RT" targets t2.json 2 90 bin/vigil:prog2:program:2.0.0
cp t2.json t2-low.json
cp t2.json t2-unknown.json
"$RT" sign t2-low.json t1.key
"$RT" container c-low targets.json=t2-low.json targets/bin/vigil=prog2
publish c-low
expect_code 422 "targets below threshold: 422 naming the threshold" threshold
still_serving "targets below threshold" 1 1
"$RT" sign t2-unknown.json x1.key x2.key
"$RT" container c-unknown targets.json=t2-unknown.json targets/bin/vigil=prog2
publish c-unknown
expect_code 422 "targets signed by unknown keys: 422" signature
still_serving "targets by unknown keys" 1 1
"$RT" sign t2.json t1.key t2.key
printf 'a program, versioN 2\n' >prog2-evil
"$RT" container c-evil targets.json=t2.json targets/bin/vigil=prog2-evil
publish c-evil
expect_code 422 "an artifact whose bytes differ from its hash: 422" artifact
still_serving "an artifact with other bytes" 1 1
get /v1/releases/targets/bin/vigil
cmp -s "$out" prog && pass "the old artifact is still the one served" ||
	fail "the old artifact is still the one served"
"$RT" container c-extra targets.json=t2.json targets/bin/vigil=prog2 extra=prog
publish c-extra
expect_code 422 "a container with a file the release does not name: 422" extra
"$RT" container c-good2 targets.json=t2.json targets/bin/vigil=prog2
sz=$(wc -c <c-good2)
head -c $((sz - 10)) c-good2 >c-trunc
publish c-trunc
expect_code 400 "a truncated container: 400 naming the offset" "offset"
sed 's/^file targets.json \([0-9]*\)$/file targets.json 0\1/' c-good2 >c-zero
publish c-zero
expect_code 400 "a length with a leading zero: 400" "leading zero"
sed 's/^file targets.json \([0-9]*\)$/file targets.json 9\1/' c-good2 >c-long
publish c-long
expect_code 400 "a length beyond the container: 400" "declares"
sed 's|^file targets/bin/vigil |file targets/../vigil |' c-good2 >c-dotdot
publish c-dotdot
expect_code 400 'a path with "..": 400' "bad path"
still_serving "malformed containers" 1 1

# --- root rotation ---------------------------------------------------------------------
"$RT" root root2.json 2 365 2 r3.pub,r4.pub 2 t1.pub,t2.pub online.pub
cp root2.json root2-new.json
"$RT" sign root2-new.json r3.key r4.key
"$RT" sign root2.json r1.key r2.key r3.key r4.key
"$RT" container c-rot-new root/1.root.json=root1.json root/2.root.json=root2-new.json \
	targets.json=t2.json targets/bin/vigil=prog2
publish c-rot-new
expect_code 422 "root 2 signed only by the new keys: 422" "signature"
still_serving "a rotation by the new keys only" 1 1
get /v1/releases/2.root.json
expect_code 404 "the refused root 2 is not served" '"error"'
"$RT" container c-rot root/1.root.json=root1.json root/2.root.json=root2.json \
	targets.json=t2.json targets/bin/vigil=prog2
publish c-rot
expect_code 201 "root 2 signed by the old and the new keys, with targets 2: 201"
cp "$out" answer2.json
get /v1/releases/root.json
cmp -s "$out" root2.json && pass "root.json is now root 2" || fail "root.json is now root 2"
kidx=$(jeval answer2.json 'r["key_changes"][0]["log_index"]')
"$VIGIL" log get "$base/log" "$kidx" --key "$logkey" --json >"$out" 2>&1
jcheck "$out" 'r["type"] == "key-change" and "release root version 2" in r["body"] and
	"'"$(sha256sum root2.json | cut -c1-64)"'" in r["body"]' \
	"the key-change entry names root 2 and its SHA-256"
get /v1/releases
jcheck "$out" '[x["version"] for x in r["releases"]] == [2, 1] and
	r["releases"][0]["rules"] is None' "GET /v1/releases: newest first"

# --- artifacts of every release, by their hash -----------------------------------------
# Targets 2 lists only bin/vigil (prog2): release 1's rule bundle and
# program are served by their SHA-256, re-hashed, and only hashes that the
# index lists name a file.
# obj HASH [CURL ARGS...]: GET objects/HASH; status in $code, body in $out,
# headers in $tmp/.ohdr.
obj() {
	o=$1
	shift
	code=$(curl -s -D "$tmp/.ohdr" -o "$out" -w '%{http_code}' "$@" \
		"$base/v1/releases/objects/$o")
}
ohdr() { grep -i "^$1:" "$tmp/.ohdr" | head -n 1 | tr -d '\r' | cut -d: -f2- | sed 's/^ //'; }
rules1=$(sha256sum rules-1.json | cut -c1-64)
prog1=$(sha256sum prog | cut -c1-64)
get /v1/releases/targets/rules/vigil-rules-1.json
expect_code 404 "targets 2 no longer serves release 1's rule bundle by name" '"error"'
obj "$rules1"
[ "$code" = 200 ] && cmp -s "$out" rules-1.json &&
	pass "GET objects/<sha256>: release 1's rule bundle, by its hash" ||
	fail "GET objects/<sha256>: release 1's rule bundle, by its hash" "$code $(head -c 300 "$out")"
[ "$(ohdr content-type)" = application/octet-stream ] &&
	[ "$(ohdr cache-control)" = "public, max-age=31536000, immutable" ] &&
	pass "objects: application/octet-stream, public, max-age=31536000, immutable" ||
	fail "objects: application/octet-stream, public, max-age=31536000, immutable" "$(cat "$tmp/.ohdr")"
obj "$prog1"
[ "$code" = 200 ] && cmp -s "$out" prog &&
	pass "GET objects/<sha256>: release 1's program, which targets 2 replaced" ||
	fail "GET objects/<sha256>: release 1's program, which targets 2 replaced" "$code"
obj "$(sha256sum prog2 | cut -c1-64)"
[ "$code" = 200 ] && cmp -s "$out" prog2 &&
	pass "GET objects/<sha256>: the current program too" ||
	fail "GET objects/<sha256>: the current program too" "$code"
nbad=0
for o in "$(echo "$rules1" | tr a-f A-F)" "${rules1%?}" "${rules1}0" \
	"g${rules1#?}" "${rules1}/" ""; do
	nbad=$((nbad + 1))
	obj "$o"
	expect_code 400 "GET objects/'$o' (not 64 lowercase hex): 400" bad_hash
done
obj "$(printf 'never published' | sha256sum | cut -c1-64)"
expect_code 404 "GET objects/<sha256> of bytes never published: 404 with a JSON error" not_found
# A file under artifacts/ that no release lists is never served.
printf 'not an artifact\n' >planted
planted=$(sha256sum planted | cut -c1-64)
cp planted "var/releases/artifacts/$planted"
obj "$planted"
expect_code 404 "a file in artifacts/ that no release lists: 404" not_found
# Stored bytes are hashed again before they are served.
printf 'A program\n' >"var/releases/artifacts/$prog1"
obj "$prog1"
expect_code 500 "an old artifact whose stored bytes changed: 500, not served" corrupt
cp prog "var/releases/artifacts/$prog1"
obj "$rules1" -X POST --data x
[ "$code" = 405 ] && [ "$(ohdr allow)" = GET ] &&
	pass "POST objects/<sha256>: 405, allowing GET" ||
	fail "POST objects/<sha256>: 405, allowing GET" "$code $(cat "$tmp/.ohdr")"
curl -s "$base/metrics" >metrics.txt
grep -qx "vigil_http_requests_total{route=\"releases\",code=\"400\"} $nbad" metrics.txt &&
	grep -qx 'vigil_http_requests_total{route="releases",code="500"} 1' metrics.txt &&
	grep -q '^vigil_http_requests_total{route="releases",code="405"} [1-9]' metrics.txt &&
	pass "/metrics counts the object answers under route=\"releases\"" ||
	fail "/metrics counts the object answers under route=\"releases\"" "$(grep 'route="releases"' metrics.txt)"
h=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")
[ "$h" = 200 ] && pass "after the object requests the node answers /healthz" ||
	fail "after the object requests the node answers /healthz" "$h"

# --- the timestamp is signed again when stale ----------------------------------------
tsv() {
	curl -s "$base/v1/releases/timestamp.json" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["signed"]["version"])'
}
v0=$(tsv)
sleep 3
v1=$(tsv)
[ -n "$v0" ] && [ "$v1" -gt "$v0" ] &&
	pass "a stale timestamp is signed again (version $v0 -> $v1)" ||
	fail "a stale timestamp is signed again" "$v0 -> $v1"

# --- a restart keeps everything --------------------------------------------------------
kill "$node_pid"
wait "$node_pid" 2>/dev/null
node_start vigild -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild restarts" "$(cat vigild.err)"; finish; }
base=$node_base
get /v1/releases/targets.json
cmp -s "$out" t2.json && get /v1/releases/2.root.json && [ "$code" = 200 ] &&
	pass "after a restart the node serves the same release" ||
	fail "after a restart the node serves the same release" "$code"
obj "$rules1"
[ "$code" = 200 ] && cmp -s "$out" rules-1.json &&
	pass "after a restart release 1's rule bundle is still served by its hash" ||
	fail "after a restart release 1's rule bundle is still served by its hash" "$code"
grep -q "$onlineid" vigild.out && pass "the online key survives a restart" ||
	fail "the online key survives a restart"
kill "$node_pid"
wait "$node_pid" 2>/dev/null
finish
