#!/bin/sh
# test-node-api.sh - the real vigild on an ephemeral port, driven with curl:
# health, metrics, enrolment, reputation routes, authentication, residency
# (421), and every kind of bad input getting its 4xx with a JSON error,
# after which the node still serves; SIGTERM stops it with status 0.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
cd "$tmp" || exit 1

cat >node.conf <<'CONF'
# test configuration
[node]
region = eu
site = zrh1
[limits]
max_json_body = 4096
max_batch = 5
[regions]
us = https://us.vigil.example:8440
CONF

if ! node_start vigild -- -c node.conf --data "$tmp/var"; then
	fail "vigild starts and prints where it listens" "$(cat vigild.err)"
	finish
fi
pid=$node_pid
base=$node_base
pass "vigild starts and prints where it listens ($base)"

# http METHOD PATH [DATA] [HEADER]: status in $code, body in $out.
http() {
	if [ -n "${4:-}" ]; then
		code=$(curl -s -o "$out" -w '%{http_code}' -X "$1" -H "$4" \
			${3:+--data-binary "$3"} "$base$2")
	else
		code=$(curl -s -o "$out" -w '%{http_code}' -X "$1" \
			${3:+--data-binary "$3"} "$base$2")
	fi
}

# expect_http CODE ERROR WHAT: the last answer had CODE and, unless ERROR
# is "-", a JSON body whose "error" is ERROR.
expect_http() {
	if [ "$code" != "$1" ]; then
		fail "$3" "expected HTTP $1, got $code: $(head -c 300 "$out")"
		return
	fi
	if [ "$2" != "-" ] &&
		! "$PYTHON" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["error"] != sys.argv[2])' "$out" "$2" 2>/dev/null; then
		fail "$3" "expected a JSON error '$2', got: $(head -c 300 "$out")"
		return
	fi
	pass "$3"
}

json() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$out"; }

# --- health, keys, and the data directory -----------------------------------------
http GET /healthz
expect_http 200 - "GET /healthz: 200"
[ "$(json 'd["status"], d["region"], d["site"]')" = "ok eu zrh1" ] &&
	pass "healthz names status, region and site" ||
	fail "healthz names status, region and site" "$(cat "$out")"
[ "$(stat -c %a var/sample.key 2>/dev/null)" = 600 ] &&
	pass "the sample key is generated on first start, mode 0600" ||
	fail "the sample key is generated on first start, mode 0600"
[ "$(stat -c %s var/sample.key 2>/dev/null)" = 32 ] &&
	pass "the sample key is 32 bytes" || fail "the sample key is 32 bytes"
[ -f var/vigil.db ] && pass "the SQLite store is created in the data directory" ||
	fail "the SQLite store is created in the data directory"
grep -q 'level=info func=main event=listening addr=127.0.0.1:' vigild.err &&
	pass "a structured key=value log line says where it listens" ||
	fail "a structured key=value log line says where it listens" "$(cat vigild.err)"

# --- routing: unknown routes, wrong methods -------------------------------------------
http GET /nope
expect_http 404 not_found "an unknown route: 404 with a JSON error"
http GET /v1/enroll
expect_http 405 method_not_allowed "GET on POST /v1/enroll: 405"
code=$(curl -s -o /dev/null -D "$tmp/hdr" -w '%{http_code}' "$base/v1/lookup")
grep -qi '^allow: POST' "$tmp/hdr" && pass "405 carries an Allow header" ||
	fail "405 carries an Allow header" "$(cat "$tmp/hdr")"
http DELETE /healthz
expect_http 405 method_not_allowed "DELETE /healthz: 405"

# --- enrolment -------------------------------------------------------------------------------
http POST /v1/enroll '{"consent":"files"}'
expect_http 201 - "POST /v1/enroll with consent files: 201"
token=$(json 'd["token"]')
client=$(json 'd["client_id"]')
case $token in
vg1.eu.*) pass "the token is bound to the node's region (vg1.eu.…)" ;;
*) fail "the token is bound to the node's region (vg1.eu.…)" "$token" ;;
esac
[ "$(json 'd["consent"], d["region"]')" = "files eu" ] &&
	pass "enrolment echoes consent and region" || fail "enrolment echoes consent and region"
if "$PYTHON" - "$tmp/var" "$token" <<'PY'
import os, sys
found = False
for name in os.listdir(sys.argv[1]):
    if name.startswith("vigil.db"):
        found |= sys.argv[2].encode() in open(os.path.join(sys.argv[1], name), "rb").read()
sys.exit(1 if found else 0)
PY
then pass "the token is not stored in clear"; else fail "the token is not stored in clear"; fi
AUTH="Authorization: Bearer $token"
http POST /v1/enroll '{"consent":"everything"}'
expect_http 400 bad_consent "enrolment with an unknown consent: 400"
http POST /v1/enroll '{"consent":'
expect_http 400 bad_json "malformed JSON: 400"
http POST /v1/enroll '["consent"]'
expect_http 400 bad_json "a JSON array where an object is expected: 400"
http POST /v1/enroll '{"consent":"none","consent":"files"}'
expect_http 400 bad_json "duplicate keys in JSON: 400"
big=$("$PYTHON" -c 'print("{\"consent\":\"none\",\"pad\":\"" + "x" * 5000 + "\"}")')
http POST /v1/enroll "$big"
expect_http 413 body_too_large "a body over the route's limit: 413"

# --- authentication and residency -----------------------------------------------------
h=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f
http GET /v1/files/$h
expect_http 401 unauthorized "GET /v1/files without a token: 401"
http GET /v1/files/$h "" "Authorization: Bearer vg1.eu.forgedforgedforgedforgedforgedforgedforg"
expect_http 401 unauthorized "a forged token: 401"
http GET /v1/files/$h "" "Authorization: Basic Zm9vOmJhcg=="
expect_http 401 unauthorized "a non-bearer Authorization: 401"
http GET /v1/files/$h "" "Authorization: Bearer vg1.us.c29tZXRva2Vu"
expect_http 421 misdirected "a token of region us: 421 Misdirected Request"
[ "$(json 'd["region"], d["endpoint"]')" = "us https://us.vigil.example:8440" ] &&
	pass "421 names the home region and its endpoint from the configuration" ||
	fail "421 names the home region and its endpoint from the configuration" "$(cat "$out")"
http GET /v1/files/$h "" "Authorization: Bearer vg1.ap.c29tZXRva2Vu"
[ "$code" = 421 ] && [ "$(json 'd["endpoint"]')" = None ] &&
	pass "a region without a configured endpoint: 421 with endpoint null" ||
	fail "a region without a configured endpoint: 421 with endpoint null" "$code $(cat "$out")"

# --- reputation --------------------------------------------------------------------------------
http GET /v1/files/$h "" "$AUTH"
expect_http 404 unknown "an unknown sha256: 404 with a JSON body"
http GET /v1/files/44d88612fea8a8f36de82e1278abb02f "" "$AUTH"
expect_http 404 unknown "an unknown md5: 404"
http GET /v1/files/xyz "" "$AUTH"
expect_http 400 bad_hash "a malformed hash: 400"
http GET /v1/files/44d88612fea8a8f36de82e1278abb0zz "" "$AUTH"
expect_http 400 bad_hash "a hash with non-hex digits: 400"
http POST /v1/lookup '{"hashes":["44d88612fea8a8f36de82e1278abb02f","nothex",42]}' "$AUTH"
expect_http 200 - "POST /v1/lookup with mixed hashes: 200"
[ "$(json '[r.get("verdict", r.get("error")) for r in d["results"]]')" = "['unknown', 'bad_hash', 'bad_hash']" ] &&
	pass "lookup: one result per hash, unknown and bad_hash as appropriate" ||
	fail "lookup: one result per hash, unknown and bad_hash as appropriate" "$(cat "$out")"
http POST /v1/lookup '{"hashes":["\u0000"]}' "$AUTH"
expect_http 400 bad_json "a NUL inside a JSON string: 400"
http POST /v1/lookup '{"hashes":["a\"b","\u00e9",null,{"x":[1]}]}' "$AUTH"
[ "$code" = 200 ] && [ "$(json '[r["error"] for r in d["results"]] == ["bad_hash"] * 4 and d["results"][0]["hash"] == "a\"b" and d["results"][3]["hash"] == {"x": [1]}')" = True ] &&
	pass "lookup echoes hostile hash values as valid JSON, each a bad_hash" ||
	fail "lookup echoes hostile hash values as valid JSON, each a bad_hash" "$code $(cat "$out")"
# Bodies the plain-body scanner must not take as plain, nor answer wrongly.
for body in '{"hashes":["44d88612fea8a8f36de82e1278abb02f",]}' \
	'{"hashes":["44d88612fea8a8f36de82e1278abb02f"]} x' \
	'{"hashes":["44d88612fea8a8f36de82e1278abb02f"' \
	'{"hashes":["44d88612fea8a8f36de82e1278abb02f]}' \
	'{"hashes":["a"]"b"]}' '{"hashes" ["a"]}' '{"hashes":["a"],"hashes":["b"]}'; do
	http POST /v1/lookup "$body" "$AUTH"
	expect_http 400 bad_json "malformed lookup body $body: 400"
done
http POST /v1/lookup '	{ "hashes" :
 [ ] }  ' "$AUTH"
[ "$code" = 200 ] && [ "$(cat "$out")" = '{"results":[]}' ] &&
	pass "an empty batch with JSON whitespace everywhere: 200, no results" ||
	fail "an empty batch with JSON whitespace everywhere: 200, no results" "$code $(cat "$out")"
http POST /v1/lookup '{"hashes":["a","b","c","d","e","f"]}' "$AUTH"
expect_http 413 batch_too_large "a batch over max_batch: 413"
http POST /v1/lookup '{"hashes":"x"}' "$AUTH"
expect_http 400 bad_request "lookup without a hashes array: 400"
http POST /v1/lookup '{"hashes":[]}'
expect_http 401 unauthorized "lookup without a token: 401"

# --- the client: vigil enroll and vigil lookup ------------------------------------------
export VIGIL_HOME="$tmp/home"
"$VIGIL" enroll --server "$base" --consent metadata >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil enroll --server URL --consent metadata: exit 0"
[ "$(stat -c %a "$VIGIL_HOME/config" 2>/dev/null)" = 600 ] &&
	pass "the client's config (with its token) is mode 0600" ||
	fail "the client's config (with its token) is mode 0600"
grep -q '^consent = metadata$' "$VIGIL_HOME/config" && grep -q '^token = vg1\.eu\.' "$VIGIL_HOME/config" &&
	pass "the config keeps consent and the region-bound token" ||
	fail "the config keeps consent and the region-bound token" "$(cat "$VIGIL_HOME/config")"
"$VIGIL" lookup 44d88612fea8a8f36de82e1278abb02f >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil lookup of an unknown hash: exit 0"
expect_line "$out" "44d88612fea8a8f36de82e1278abb02f: unknown" "vigil lookup prints 'HASH: unknown'"
"$VIGIL" lookup nothex >"$out" 2>"$err"
rc=$?
expect_rc 2 "vigil lookup of a malformed hash: exit 2"
expect_line "$out" "nothex: ERROR bad_hash" "vigil lookup names the malformed hash"
VIGIL_HOME="$tmp/never-enrolled" "$VIGIL" lookup 44d88612fea8a8f36de82e1278abb02f >"$out" 2>"$err"
rc=$?
expect_rc 2 "vigil lookup before any enrolment: exit 2"
grep -q "enrol first" "$err" && pass "vigil lookup before any enrolment says to enrol first" ||
	fail "vigil lookup before any enrolment says to enrol first" "$(cat "$err")"
"$VIGIL" enroll --server "$base" --consent all >"$out" 2>"$err"
rc=$?
expect_rc 2 "vigil enroll with a bad --consent: exit 2"

# A node of region us that knows where eu lives: the client, pointed at it,
# gets 421 and follows to its home region.
printf '[node]\nregion = us\nsite = nyc1\n[regions]\neu = %s\n' "$base" >us.conf
node_start us -- -c us.conf --data "$tmp/var-us"
us_pid=$node_pid
us=$node_base
sed -i "s|^server = .*|server = $us|" "$VIGIL_HOME/config"
"$VIGIL" lookup 44d88612fea8a8f36de82e1278abb02f >"$out" 2>"$err"
rc=$?
expect_rc 0 "vigil lookup through a node of another region: exit 0"
grep -q "serves another region; following to $base" "$err" &&
	pass "the client follows 421 to its home region" ||
	fail "the client follows 421 to its home region" "$(cat "$err")"
grep -q "^server = $base\$" "$VIGIL_HOME/config" &&
	pass "the client remembers its home region's endpoint" ||
	fail "the client remembers its home region's endpoint" "$(cat "$VIGIL_HOME/config")"
[ ! -s "$tmp/var-us/vigil.db-wal" ] || ! grep -q "$client" "$tmp/var-us/vigil.db" "$tmp/var-us/vigil.db-wal" 2>/dev/null &&
	pass "the other region's node stored nothing of the request" ||
	fail "the other region's node stored nothing of the request"
kill -TERM $us_pid
wait $us_pid

# No node at all: a clear message and exit 2.
sed -i "s|^server = .*|server = http://127.0.0.1:9|" "$VIGIL_HOME/config"
"$VIGIL" lookup 44d88612fea8a8f36de82e1278abb02f >"$out" 2>"$err"
rc=$?
expect_rc 2 "vigil lookup with the node unreachable: exit 2"
grep -q "^vigil: http://127.0.0.1:9: " "$err" &&
	pass "an unreachable node gets a clear message naming it" ||
	fail "an unreachable node gets a clear message naming it" "$(cat "$err")"

# --- refusals keep the connection alive ---------------------------------------------------
if "$PYTHON" - "$base" <<'PY'
import http.client, sys
host, port = sys.argv[1][len("http://"):].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port))
c.request("GET", "/nope")
r = c.getresponse(); r.read()
first = c.sock
c.request("POST", "/v1/enroll", body=b'{"consent":"none"}')
r2 = c.getresponse(); r2.read()
sys.exit(0 if r.status == 404 and r2.status == 201 and c.sock is first else 1)
PY
then pass "a 404 and a 201 are answered on one keep-alive connection"
else fail "a 404 and a 201 are answered on one keep-alive connection"; fi

# --- metrics, then still serving -------------------------------------------------------
http GET /metrics
expect_http 200 - "GET /metrics: 200"
grep -q '^vigil_http_requests_total{route="enroll",code="201"} 3$' "$out" &&
	pass "metrics count requests by route and status" ||
	fail "metrics count requests by route and status" "$(head -20 "$out")"
grep -q '^vigil_lookup_duration_seconds_count [1-9]' "$out" &&
	pass "metrics carry the lookup latency histogram" ||
	fail "metrics carry the lookup latency histogram"
http GET /healthz
expect_http 200 - "after all the bad input the node still answers /healthz"

# --- SIGTERM ---------------------------------------------------------------------------------
kill -TERM $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait $pid
st=$?
[ "$st" = 0 ] && pass "SIGTERM: vigild drains and exits 0" ||
	fail "SIGTERM: vigild drains and exits 0" "status $st" "$(tail -5 vigild.err)"

# --- a restart keeps the enrolled client ---------------------------------------------
node_start vigild -- -c node.conf --data "$tmp/var"
pid=$node_pid
base=$node_base
http GET /v1/files/$h "" "$AUTH"
expect_http 404 unknown "after a restart the enrolled token still authenticates"
kill -TERM $pid
wait $pid

# --- per-client rate limits and the connection limit ------------------------------------
cat >limits.conf <<'CONF'
[limits]
rate_per_sec = 2
rate_burst = 3
max_connections = 2
CONF
node_start lim -- -c limits.conf --data "$tmp/var-limits"
lpid=$node_pid
base=$node_base
http POST /v1/enroll '{"consent":"none"}'
ltoken=$(json 'd["token"]')
codes=
for k in 1 2 3 4 5 6; do
	code=$(curl -s -o "$out" -D "$tmp/hdr" -w '%{http_code}' \
		-H "Authorization: Bearer $ltoken" "$base/v1/files/$h")
	codes="$codes $code"
	# The headers of a 429, whichever request got it: under load the
	# bucket may refill before the last one.
	[ "$code" != 429 ] || cp "$tmp/hdr" "$tmp/hdr429"
done
case $codes in
*429*) pass "a client over its rate gets 429 ($codes)" ;;
*) fail "a client over its rate gets 429" "$codes" ;;
esac
grep -qi '^retry-after: [1-9]' "$tmp/hdr429" && pass "429 carries Retry-After" ||
	fail "429 carries Retry-After" "$(cat "$tmp/hdr429" 2>/dev/null)"
sleep 2
http GET /v1/files/$h "" "Authorization: Bearer $ltoken"
expect_http 404 unknown "after waiting, the client is served again"
# Two idle connections fill max_connections; a third is closed at once.
"$PYTHON" - "$base" <<'PY' >"$tmp/conn.out" 2>&1
import socket, subprocess, sys, time
host, port = sys.argv[1][len("http://"):].rsplit(":", 1)
held = [socket.create_connection((host, int(port))) for _ in range(2)]
time.sleep(0.3)
third = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        sys.argv[1] + "/healthz"], capture_output=True, text=True).stdout
for s in held:
    s.close()
time.sleep(0.3)
after = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        sys.argv[1] + "/healthz"], capture_output=True, text=True).stdout
print(third, after)
PY
[ "$(cat "$tmp/conn.out")" = "000 200" ] &&
	pass "beyond max_connections a connection is refused; once others close, served" ||
	fail "beyond max_connections a connection is refused; once others close, served" "$(cat "$tmp/conn.out")"
# Enrolment needs no token: it is limited by the client's address.
codes=
for k in $(seq 1 35); do
	codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -X POST \
		--data-binary '{"consent":"none"}' "$base/v1/enroll")"
done
case $codes in
*201*429*) pass "enrolments beyond the per-address burst get 429" ;;
*) fail "enrolments beyond the per-address burst get 429" "$codes" ;;
esac
kill -TERM $lpid
wait $lpid

# --- connections are spread over the event loops ----------------------------------------
# Loop 0 accepts and gives each new connection to the loop with the fewest
# open: 40 connections opened in one burst end up 10 on each of 4 loops
# (with every loop waiting on the listening socket, the first to wake
# took most of a burst). Each connection sends a request and gets its
# answer, so each was really taken by its loop; the metrics connection
# itself is one more.
printf '[node]\nloops = 4\n' >loops.conf
node_start loops -- -c loops.conf --data "$tmp/var-loops"
lpid=$node_pid
"$PYTHON" - "$node_base" <<'PY' >"$tmp/loops.out" 2>&1
import re, socket, sys, time
host, port = sys.argv[1][len("http://"):].rsplit(":", 1)
req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
def metrics():
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return sorted((int(l), int(n)) for l, n in re.findall(
        r'vigil_loop_connections\{loop="(\d+)"\} (\d+)', data.decode()))
held = [socket.create_connection((host, int(port))) for _ in range(40)]
for s in held:
    s.sendall(req)
for s in held:
    s.settimeout(5)
    assert s.recv(4096).startswith(b"HTTP/1.1 200"), "no answer"
during = metrics()
for s in held:
    s.close()
# The loops see the ends of the connections in their own time.
for _ in range(100):
    after = metrics()
    if sum(n for _, n in after) <= 1:
        break
    time.sleep(0.1)
print(during, after)
PY
during=$(sed -n 's/^\(\[.*\]\) \[.*$/\1/p' "$tmp/loops.out")
after=$(sed -n 's/^\[.*\] \(\[.*\]\)$/\1/p' "$tmp/loops.out")
# The metrics connection goes to one of the loops with 10.
case $during in
"[(0, 11), (1, 10), (2, 10), (3, 10)]" | "[(0, 10), (1, 11), (2, 10), (3, 10)]" | \
	"[(0, 10), (1, 10), (2, 11), (3, 10)]" | "[(0, 10), (1, 10), (2, 10), (3, 11)]")
	pass "40 connections in a burst are spread 10 to each of 4 loops" ;;
*) fail "40 connections in a burst are spread 10 to each of 4 loops" "$(cat "$tmp/loops.out")" ;;
esac
case $after in
"[(0, 1), (1, 0), (2, 0), (3, 0)]" | "[(0, 0), (1, 1), (2, 0), (3, 0)]" | \
	"[(0, 0), (1, 0), (2, 1), (3, 0)]" | "[(0, 0), (1, 0), (2, 0), (3, 1)]")
	pass "closed connections leave their loop's count" ;;
*) fail "closed connections leave their loop's count" "$(cat "$tmp/loops.out")" ;;
esac
kill -TERM $lpid
wait $lpid &&
	pass "vigild with 4 loops exits 0 on SIGTERM" ||
	fail "vigild with 4 loops exits 0 on SIGTERM"

# --- out of descriptors: accepting pauses, the node keeps serving ---------------------------
# With 80 descriptors and max_connections at its default (4096), a client
# holding 100 connections exhausts them. vigild says so at start, pauses
# accepting (instead of spinning on a listening socket that stays
# readable), serves the connections it has, and accepts again once they
# close.
# Two loops and one worker whatever the machine's cores: each loop takes
# descriptors of its own.
printf '[node]\nloops = 2\nworkers = 1\n' >fd.conf
node_wrap="prlimit --nofile=80 --"
node_start fd -- -c fd.conf --data "$tmp/var-fd"
node_wrap=
fpid=$node_pid
fbase=$node_base
grep -q 'event=fd_limit .*limit=80 ' fd.err &&
	pass "too few descriptors for max_connections: a warning at start" ||
	fail "too few descriptors for max_connections: a warning at start" "$(cat fd.err)"
"$PYTHON" - "$fbase" "$fpid" <<'PY' >"$tmp/fd.res" 2>&1
import socket, sys, time
host, port = sys.argv[1][len("http://"):].rsplit(":", 1)
pid = sys.argv[2]
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0
def get(s, path):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    return s.recv(65536)
first = socket.create_connection((host, int(port)))
assert get(first, b"/healthz").startswith(b"HTTP/1.1 200")
held = [socket.create_connection((host, int(port))) for _ in range(100)]
time.sleep(0.5)
c0 = cpu()
time.sleep(2)
busy = cpu() - c0
# A connection accepted before the descriptors ran out is still served.
served = get(first, b"/healthz").startswith(b"HTTP/1.1 200")
for s in held:
    s.close()
time.sleep(0.5)
again = socket.create_connection((host, int(port)))
ok_after = get(again, b"/healthz").startswith(b"HTTP/1.1 200")
print(served, ok_after, "%.2f" % busy)
PY
set -- $(cat "$tmp/fd.res")
[ "${1:-}" = True ] && [ "${2:-}" = True ] &&
	pass "out of descriptors: held connections served, and new ones once others close" ||
	fail "out of descriptors: held connections served, and new ones once others close" "$(cat "$tmp/fd.res")"
grep -q 'event=accept_paused ' fd.err &&
	pass "out of descriptors: accepting pauses, and the log says why" ||
	fail "out of descriptors: accepting pauses, and the log says why" "$(tail -3 fd.err)"
# Spinning on the readable listening socket would burn the whole 2 s.
[ -n "${3:-}" ] && "$PYTHON" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0.5 else 1)" "$3" &&
	pass "out of descriptors: vigild does not spin (${3:-?} s of CPU in 2 s)" ||
	fail "out of descriptors: vigild does not spin" "$(cat "$tmp/fd.res")"
kill -TERM $fpid
wait $fpid &&
	pass "out of descriptors: vigild still exits 0 on SIGTERM" ||
	fail "out of descriptors: vigild still exits 0 on SIGTERM" "$(tail -3 fd.err)"

# --- bad configuration ---------------------------------------------------------------------
printf '[node]\nlisten = nowhere\n' >bad.conf
"$VIGILD" -c bad.conf >/dev/null 2>"$err"
st=$?
[ "$st" = 2 ] && grep -q 'bad.conf:2:' "$err" &&
	pass "a bad configuration: exit 2, naming file:line" ||
	fail "a bad configuration: exit 2, naming file:line" "status $st: $(cat "$err")"

# --- the OpenAPI description parses and covers every route ---------------------------------
if "$PYTHON" - "$VIGIL_SOURCE_DIR/docs/openapi.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
want = {"/v1/enroll", "/v1/files/{hash}", "/v1/lookup", "/v1/submissions",
        "/v1/submissions/{id}", "/healthz", "/metrics", "/v1/admin/log",
        "/log/checkpoint", "/log/key", "/log/tile/{path}", "/v1/log/proof",
        "/v1/log/consistency", "/v1/stats"}
sys.exit(0 if doc["openapi"].startswith("3.") and want <= set(doc["paths"]) else 1)
PY
then pass "docs/openapi.yaml is OpenAPI 3 and lists every route"
else fail "docs/openapi.yaml is OpenAPI 3 and lists every route"; fi

finish
