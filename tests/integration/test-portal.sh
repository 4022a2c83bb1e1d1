#!/bin/sh
# test-portal.sh - the Transparency Center's release page on the real
# vigild, read by a real browser: the page with no release, then two rule
# releases published with the real `vigil release` flow and rendered by
# headless Chromium (a DOM with no script), newest first, with their key
# IDs, threshold, artifact hashes (the linked artifact hashing to what is
# shown; the first release's, no longer current, by their hash), log
# indexes whose proof links answer with a tlog-proof, and the rule diff
# naming the added rule; the portal's headers (CSP allowing no
# script, nosniff), 405 for another method, an HTML 404 for an unknown
# page, its routes in /metrics, and the node still serving.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
cd "$tmp" || exit 1

# No skipping: without the browser the page is not checked, which fails.
CHROMIUM=$(command -v chromium || command -v chromium-browser)
if [ -z "$CHROMIUM" ]; then
	fail "chromium is installed (scripts/install-deps)"
	finish
fi

log_node_conf

node_start vigild -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild starts" "$(cat vigild.err)"; finish; }
pid=$node_pid
base=$node_base
tok=var/operator.token

# v ARGS...: runs vigil with its output in $out and $err, status in $rc.
v() {
	timeout 300 "$VIGIL" "$@" >"$out" 2>"$err"
	rc=$?
}

# must WHAT: the last vigil command succeeded, or the test cannot go on.
must() {
	if [ "$rc" -ne 0 ]; then
		fail "$1" "exit status $rc"
		show_last
		kill "$pid"
		finish
	fi
}

# dom URL FILE: FILE is the DOM headless Chromium built from URL, with a
# profile of its own and nothing fetched but the page.
dom() {
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--user-data-dir="$tmp/chromium" --no-first-run \
		--disable-background-networking --disable-component-update \
		--disable-extensions --disable-sync --dump-dom "$1" \
		>"$2" 2>chromium.err
}

# parse DOM JSON OUT: OUT holds two JSON lines, what the page shows
# (parsed from DOM) and the node's JSON file JSON; jcheck then sees them
# as rs[0] and rs[1].
parse() {
	"$PYTHON" - "$1" >"$3" <<'PY' && cat "$2" >>"$3"
import json, sys
from html.parser import HTMLParser

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.releases, self.links, self.scripts = [], [], 0
        self.text, self.cls, self.stack = '', [], []
        self.rel = self.art = None
        self.list = None
        self.capture = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        c = (a.get('class') or '').split()
        self.stack.append((tag, c))
        if tag == 'script':
            self.scripts += 1
        if tag == 'a':
            self.links.append(a.get('href'))
        if tag == 'section' and 'release' in c:
            self.rel = {'id': a.get('id'), 'keyids': [], 'artifacts': [],
                        'added': None, 'removed': None, 'text': ''}
            self.releases.append(self.rel)
        if self.rel is None:
            return
        if tag == 'tr' and 'artifact' in c:
            self.art = {'href': None, 'log_href': None}
            self.rel['artifacts'].append(self.art)
        if tag == 'a' and self.art is not None:
            h = a.get('href') or ''
            if 'log-index' in c:
                self.art['log_href'] = h
            else:
                self.art['href'] = h
        if tag == 'ul' and ('added' in c or 'removed' in c):
            self.list = c[0]
            self.rel[self.list] = []
        for k in ('version', 'keyid', 'sha256', 'name', 'log-index',
                  'rule', 'published'):
            if k in c and tag in ('span', 'code', 'a', 'time'):
                self.capture = (k, '')
    def handle_endtag(self, tag):
        while self.stack:
            t, c = self.stack.pop()
            if t == tag:
                break
        if tag == 'tr':
            self.art = None
        if tag == 'ul':
            self.list = None
        if tag == 'section':
            self.rel = None
        if self.capture and tag in ('span', 'code', 'a', 'time'):
            k, s = self.capture
            self.capture = None
            if self.rel is None:
                return
            if k == 'version' and tag == 'span':
                self.rel['version'] = int(s)
            elif k == 'keyid':
                self.rel['keyids'].append(s)
            elif k == 'rule' and self.list:
                self.rel[self.list].append(s)
            elif k == 'published':
                self.rel['published'] = s
            elif self.art is not None:
                self.art[k] = s
    def handle_data(self, d):
        self.text += d
        if self.rel is not None:
            self.rel['text'] += d
        if self.capture:
            self.capture = (self.capture[0], self.capture[1] + d)

p = Page()
p.feed(open(sys.argv[1], encoding='utf-8').read())
print(json.dumps({'releases': p.releases, 'links': p.links,
                  'scripts': p.scripts, 'text': ' '.join(p.text.split())}))
PY
}

# get PATH: status in $code, body in $out, headers in $tmp/.hdr.
get() {
	code=$(curl -s -D "$tmp/.hdr" -o "$out" -w '%{http_code}' "$@")
}

# --- no release yet ---------------------------------------------------------------
dom "$base/portal/releases" empty.html ||
	fail "chromium renders the empty release page" "$(tail -n 5 chromium.err)"
echo '{"releases": []}' >none.json
parse empty.html none.json empty.json
jcheck empty.json "'No release has been published' in r['text'] and r['releases'] == []" \
	"with no release, the page says no release has been published"
jcheck empty.json "r['scripts'] == 0" "the page holds no script"

dom "$base/portal/" index.html ||
	fail "chromium renders the portal's index" "$(tail -n 5 chromium.err)"
parse index.html none.json index.json
jcheck index.json "all(l in r['links'] for l in ('/portal/releases', '/log/checkpoint', '/log/key'))" \
	"the index links to the releases, the log's checkpoint and its key"
ok=y
for p in /log/checkpoint /log/key; do
	get "$base$p"
	[ "$code" = 200 ] || ok="$p: $code"
done
[ "$ok" = y ] && pass "... and the log's links answer 200" ||
	fail "... and the log's links answer 200" "$ok"

# --- two rule releases -------------------------------------------------------------
mkdir -p rules1/fixtures corpus
write_rule rules1/alpha.yar Test_Alpha 'alpha-marker-1f3b'
printf 'xx alpha-marker-1f3b xx\n' >rules1/fixtures/Test_Alpha
printf 'a plain text file\n' >corpus/readme.txt
cp -r rules1 rules2
write_rule rules2/beta.yar Test_Beta 'beta-marker-7c2e'
printf 'xx beta-marker-7c2e xx\n' >rules2/fixtures/Test_Beta

curl -s -o online.pub "$base/v1/releases/online-key.json"
for k in root1 targets1 targets2; do
	v release keygen --out "keys/$k"
	must "release keygen $k"
done
v release init rel --root-key keys/root1.pub --root-threshold 1 \
	--targets-key keys/targets1.pub --targets-key keys/targets2.pub \
	--targets-threshold 2 --online-key online.pub
must "release init"
for n in 1 2; do
	v release stage rel --rules "rules$n" --version "$n" --corpus corpus
	must "release stage $n"
	[ "$n" = 1 ] && v release sign rel --key keys/root1.key
	v release sign rel --key keys/targets1.key
	v release sign rel --key keys/targets2.key
	must "release sign $n"
	v release publish rel --server "$base" --token-file "$tok"
	must "release publish $n"
done
pass "two rule releases are published"
curl -s "$base/v1/releases" >releases.json

# --- the page, as the browser builds it --------------------------------------------
dom "$base/portal/releases" page.html &&
	pass "chromium renders the release page" ||
	fail "chromium renders the release page" "$(tail -n 5 chromium.err)"
parse page.html releases.json page.json
R="rs[1]['releases']"
P="r['releases']"
jcheck page.json "[x.get('version') for x in $P] == [2, 1] == [x['version'] for x in $R]" \
	"both releases are listed, newest first"
jcheck page.json "all(p['published'] == j['published'] for p, j in zip($P, $R))" \
	"each release shows its publish time"
jcheck page.json "all(len(p['keyids']) == 2 and p['keyids'] == j['signers'] for p, j in zip($P, $R))" \
	"each release shows the key IDs of its two targets signatures"
jcheck page.json "all('2 of the threshold of 2' in p['text'] for p in $P) and all(j['targets_threshold'] == 2 for j in $R)" \
	"... as two of the targets threshold of two"
jcheck page.json "all([a.get('sha256') for a in p['artifacts']] == [a['sha256'] for a in j['artifacts']] and len(p['artifacts']) >= 2 for p, j in zip($P, $R))" \
	"each release shows the SHA-256 of every artifact (the rules and their check)"
jcheck page.json "all([a.get('log-index') for a in p['artifacts'] if a['log_href']] == [str(a['log_index']) for a in j['artifacts'] if a['log_index'] is not None] != [] for p, j in zip($P, $R))" \
	"each release shows the log index of its rule bundle"
jcheck page.json "all(a['log_href'] == '/v1/log/proof?index=%s' % a['log-index'] for p in $P for a in p['artifacts'] if a['log_href'])" \
	"... linked to its inclusion proof"
jcheck page.json "any(x.endswith('Test_Beta') for x in $P[0]['added']) and $P[0]['added'] == $R[0]['rules_diff']['added'] and $P[0]['removed'] is None and '1 added, 0 removed' in $P[0]['text']" \
	"release 2's rule diff names the added rule, and nothing removed"
jcheck page.json "any(x.endswith('Test_Alpha') for x in $P[1]['added'])" \
	"release 1's rule diff shows its rule as added (the first rules)"
jcheck page.json "r['scripts'] == 0" "the release page holds no script"

# Every log index link answers with a proof.
"$PYTHON" -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
for p in r["releases"]:
    for a in p["artifacts"]:
        if a["log_href"]:
            print(a["log_href"])' page.json >proofs.txt
ok=y
n=0
while read -r u; do
	n=$((n + 1))
	get "$base$u"
	{ [ "$code" = 200 ] && head -n 1 "$out" | grep -qx 'c2sp.org/tlog-proof@v1'; } ||
		ok="$u: $code $(head -c 200 "$out")"
done <proofs.txt
[ "$ok" = y ] && [ "$n" -ge 2 ] &&
	pass "every log index link answers 200 with a tlog-proof ($n links)" ||
	fail "every log index link answers 200 with a tlog-proof" "$ok ($n links)"

# The newest release's artifacts link to the bytes the page hashes.
"$PYTHON" -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
for a in r["releases"][0]["artifacts"]:
    print(a["href"] or "-", a.get("sha256"))' page.json >arts.txt
ok=y
n=0
while read -r u h; do
	n=$((n + 1))
	[ "$u" != - ] || { ok="an artifact of the newest release has no link"; continue; }
	get "$base$u"
	got=$(sha256sum "$out" | cut -d' ' -f1)
	[ "$code" = 200 ] && [ "$got" = "$h" ] || ok="$u: $code, sha256 $got, shown $h"
done <arts.txt
[ "$ok" = y ] && [ "$n" -ge 2 ] &&
	pass "the newest release's artifact links serve bytes with the SHA-256 shown" ||
	fail "the newest release's artifact links serve bytes with the SHA-256 shown" "$ok"

# The first release's artifacts are no longer in the current targets: they
# link to the bytes by their hash.
jcheck page.json "all(a['href'] == '/v1/releases/objects/' + a['sha256'] for a in $P[1]['artifacts']) and not set(a['name'] for a in $P[1]['artifacts']) & set(a['name'] for a in $R[0]['artifacts']) and 'no longer served' not in r['text']" \
	"the first release's artifacts, no longer current, link to /v1/releases/objects/<sha256>"
"$PYTHON" -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
for a in r["releases"][1]["artifacts"]:
    print(a["href"] or "-", a.get("sha256"))' page.json >arts1.txt
ok=y
n=0
while read -r u h; do
	n=$((n + 1))
	[ "$u" != - ] || { ok="an artifact of the first release has no link"; continue; }
	get "$base$u"
	got=$(sha256sum "$out" | cut -d' ' -f1)
	[ "$code" = 200 ] && [ "$got" = "$h" ] || ok="$u: $code, sha256 $got, shown $h"
done <arts1.txt
[ "$ok" = y ] && [ "$n" -ge 2 ] &&
	pass "the first release's artifact links serve bytes with the SHA-256 shown ($n links)" ||
	fail "the first release's artifact links serve bytes with the SHA-256 shown" "$ok"

# --- headers, refusals, metrics ----------------------------------------------------
get "$base/portal/releases"
hdr() { grep -i "^$1:" "$tmp/.hdr" | head -n 1 | tr -d '\r' | cut -d: -f2- | sed 's/^ //'; }
csp=$(hdr content-security-policy)
case $csp in
*"default-src 'none'"*script-src* | *script-src*"default-src 'none'"*)
	fail "the CSP denies everything by default and names no script source" "$csp" ;;
*"default-src 'none'"*)
	pass "the CSP denies everything by default and names no script source" ;;
*) fail "the CSP denies everything by default and names no script source" "${csp:-none}" ;;
esac
[ "$(hdr x-content-type-options)" = nosniff ] && [ "$(hdr referrer-policy)" = no-referrer ] &&
	pass "the page is sent with nosniff and no-referrer" ||
	fail "the page is sent with nosniff and no-referrer" "$(cat "$tmp/.hdr")"
[ "$(hdr content-type)" = "text/html; charset=utf-8" ] && [ "$(hdr cache-control)" = no-cache ] &&
	pass "the page is text/html; charset=utf-8, no-cache" ||
	fail "the page is text/html; charset=utf-8, no-cache" "$(cat "$tmp/.hdr")"

get -X POST --data x "$base/portal/releases"
[ "$code" = 405 ] && [ "$(hdr allow)" = GET ] &&
	pass "POST to the page is 405, allowing GET" ||
	fail "POST to the page is 405, allowing GET" "$code $(cat "$out")"
get "$base/portal/no-such-page"
[ "$code" = 404 ] && hdr content-type | grep -q '^text/html' && grep -q 'Not found' "$out" &&
	pass "an unknown portal page is an HTML 404" ||
	fail "an unknown portal page is an HTML 404" "$code $(head -c 300 "$out")"
get "$base/portalx"
[ "$code" = 404 ] && grep -q '"not_found"' "$out" &&
	pass "a path that only starts like the portal is the API's JSON 404" ||
	fail "a path that only starts like the portal is the API's JSON 404" "$code $(head -c 300 "$out")"

curl -s "$base/metrics" >metrics.txt
grep -q '^vigil_http_requests_total{route="portal",code="200"} [1-9]' metrics.txt &&
	grep -q '^vigil_http_requests_total{route="portal",code="405"} 1$' metrics.txt &&
	grep -q '^vigil_http_requests_total{route="portal",code="404"} 1$' metrics.txt &&
	pass "/metrics counts the portal's answers under route=\"portal\"" ||
	fail "/metrics counts the portal's answers under route=\"portal\"" "$(grep portal metrics.txt)"

get "$base/healthz"
[ "$code" = 200 ] && pass "the node still serves /healthz" ||
	fail "the node still serves /healthz" "$code"

# --- a stored index with markup in it: shown as text, never run -------------------
# The index on disk is stored data, and stored data is hostile too.
kill "$pid"
wait "$pid" 2>/dev/null
evil='<script>alert(1)</script>&"'"'"'x'
"$PYTHON" - var/releases/index.json "$evil" <<'PY'
import json, sys
recs = json.load(open(sys.argv[1]))
recs[-1]['published'] = sys.argv[2]
recs[-1]['artifacts'][-1]['name'] = 'rules/a b' + sys.argv[2]
recs[-1]['rules_diff']['added'] = [sys.argv[2]]
recs[0]['artifacts'][0]['sha256'] = sys.argv[2]
json.dump(recs, open(sys.argv[1], 'w'))
PY
node_start vigild -- -c node.conf --data "$tmp/var" ||
	{ fail "vigild restarts" "$(cat vigild.err)"; finish; }
pid=$node_pid
base=$node_base
curl -s "$base/v1/releases" >releases.json
dom "$base/portal/releases" evil.html ||
	fail "chromium renders the page of the altered index" "$(tail -n 5 chromium.err)"
parse evil.html releases.json evil.json
EVIL=$evil
export EVIL
jcheck evil.json "r['scripts'] == 0 and $P[0]['published'] == $R[0]['published'] == __import__('os').environ['EVIL']" \
	"markup in a stored time is shown as text, and no script element appears"
jcheck evil.json "$P[0]['added'] == $R[0]['rules_diff']['added'] and $P[0]['artifacts'][-1]['name'] == $R[0]['artifacts'][-1]['name']" \
	"... and so is markup in a rule ID and an artifact name"
jcheck evil.json "$P[0]['artifacts'][-1]['href'] == '/v1/releases/targets/rules/a%20b%3Cscript%3Ealert%281%29%3C/script%3E%26%22%27x'" \
	"the artifact's link is percent-encoded"
jcheck evil.json "$P[1]['artifacts'][0]['href'] is None and $P[1]['artifacts'][0]['sha256'] == __import__('os').environ['EVIL'] and $P[1]['artifacts'][1]['href'].startswith('/v1/releases/objects/')" \
	"an older artifact whose stored hash is not hex is shown, unlinked"
kill "$pid"
wait "$pid" 2>/dev/null
finish
