#!/bin/sh
# test-node-derived.sh - a worker's report is trusted for its own sample
# only, on the real vigild: the verdict of a file seen only inside a zip
# is answered as derived from the zip; the file submitted on its own with
# its bytes is analysed (a job of its own), and its own verdict is then
# answered, without derived_from.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
cd "$tmp" || exit 1

printf '[node]\nworkers = 1\n' >node.conf
node_start vigild -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild starts" "$(tail -5 vigild.err)"; finish; }
pass "vigild starts"
base=$node_base
pid=$node_pid

http() {
	m=$1 p=$2
	shift 2
	code=$(curl -s -o "$out" -w '%{http_code}' -X "$m" \
		-H "Authorization: Bearer $tok" "$@" "$base$p")
}
json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$out"; }
tok=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# answers HASH WHAT EXPR: EXPR (Python over d) holds for GET /v1/files
# and for POST /v1/lookup.
answers() {
	http GET "/v1/files/$1"
	[ "$code" = 200 ] && [ "$(json "$3")" = True ] &&
		pass "GET /v1/files: $2" || fail "GET /v1/files: $2" "HTTP $code $(head -c 500 "$out")"
	http POST /v1/lookup --data-binary "{\"hashes\":[\"$1\"]}"
	mv "$out" "$out.all"
	"$PYTHON" -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["results"][0], open(sys.argv[2], "w"))' \
		"$out.all" "$out"
	[ "$code" = 200 ] && [ "$(json "$3")" = True ] &&
		pass "POST /v1/lookup: $2" || fail "POST /v1/lookup: $2" "HTTP $code $(head -c 500 "$out")"
}

mkdir a
eicar >a/x.com
printf 'a clean member %s\n' "$(date +%s%N)" >a/readme.txt
printf 'never submitted alone %s\n' "$(date +%s%N)" >a/other.txt
(cd a && zip -q ../outer.zip x.com readme.txt other.txt)
zsha=$(sha256sum outer.zip | cut -d' ' -f1)
xsha=$(sha256sum a/x.com | cut -d' ' -f1)
rsha=$(sha256sum a/readme.txt | cut -d' ' -f1)
osha=$(sha256sum a/other.txt | cut -d' ' -f1)

http POST /v1/submissions --data-binary @outer.zip
sid=$(json 'd["id"]')
http GET "/v1/submissions/$sid?wait=60"
[ "$(json 'd["status"], d["verdict"]')" = "done malicious" ] &&
	pass "outer.zip is analysed: malicious" || fail "outer.zip is analysed: malicious" "$(head -c 500 "$out")"

answers "$xsha" "x.com, seen only inside outer.zip, is answered as derived from it" \
	"d['verdict'] == 'malicious' and d.get('derived_from') == '$zsha'"
answers "$rsha" "readme.txt, seen only inside outer.zip, is answered clean, derived from it" \
	"d['verdict'] == 'clean' and d.get('derived_from') == '$zsha'"
answers "$zsha" "outer.zip's own answer is not derived" "'derived_from' not in d"

# x.com on its own, with its bytes: a job of its own.
http POST /v1/submissions --data-binary @a/x.com
[ "$code" = 202 ] && [ "$(json 'd["status"]')" != done ] &&
	pass "x.com submitted on its own is queued for analysis, not answered from the zip's" ||
	fail "x.com submitted on its own is queued for analysis, not answered from the zip's" "HTTP $code $(head -c 300 "$out")"
sid=$(json 'd["id"]')
http GET "/v1/submissions/$sid?wait=60"
[ "$(json 'd["status"], d["verdict"]')" = "done malicious" ] &&
	pass "x.com's own analysis is done: malicious" || fail "x.com's own analysis is done: malicious" "$(head -c 500 "$out")"
expect_count vigild.err "event=analysed job=[0-9]+ sha256=$xsha " 1 "x.com was analysed by a job of its own"
answers "$xsha" "x.com's own verdict is answered, without derived_from" \
	"d['verdict'] == 'malicious' and 'derived_from' not in d and d['because'] == [{'path': '', 'name': 'Vigil_Test_EICAR'}]"

# readme.txt too: its own clean verdict replaces the derived one.
http POST /v1/submissions --data-binary @a/readme.txt
sid=$(json 'd["id"]')
http GET "/v1/submissions/$sid?wait=60"
expect_count vigild.err "event=analysed job=[0-9]+ sha256=$rsha " 1 "readme.txt was analysed by a job of its own"
answers "$rsha" "readme.txt's own verdict is answered, without derived_from" \
	"d['verdict'] == 'clean' and 'derived_from' not in d"

# The zip again (another client): its objects are noted again, and their
# own analyses stay.
tok2=$tok
tok=$(curl -s -X POST --data-binary '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
http POST /v1/submissions --data-binary @outer.zip
tok=$tok2
answers "$xsha" "after the zip again, x.com still answers its own analysis" "'derived_from' not in d"

# After a restart, from the store.
kill "$pid"
wait "$pid" 2>/dev/null
node_start vigild -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild restarts" "$(tail -5 vigild.err)"; finish; }
base=$node_base
pid=$node_pid
answers "$xsha" "after a restart, x.com answers its own analysis" \
	"d['verdict'] == 'malicious' and 'derived_from' not in d"
answers "$zsha" "after a restart, outer.zip is known" "d['verdict'] == 'malicious'"
answers "$osha" "after a restart, other.txt (only ever inside the zip) is still derived from it" \
	"d['verdict'] == 'clean' and d.get('derived_from') == '$zsha'"
kill "$pid"
wait "$pid" 2>/dev/null

finish
