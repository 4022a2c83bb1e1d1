#!/bin/sh
# test-node-edge.sh - vigild's HTTP/1.1 edge (src/node/edge.c) against
# framing no HTTP library sends: request smuggling setups, oversized and
# malformed heads, bodies over a route's limit or without a token, the
# node-wide body budget, HTTP/2's preface, slow heads. Every case is
# refused with the documented status and the connection closed, no body
# reaches a file, and the node goes on serving.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
cd "$tmp" || exit 1

cat >node.conf <<'CONF'
[node]
region = eu
site = zrh1
workers = 1
[limits]
max_sample_body = 41943040
max_body_memory = 50331648
request_timeout_ms = 2000
CONF

if ! node_start vigild -- -c node.conf --data "$tmp/var"; then
	fail "vigild starts" "$(cat vigild.err)"
	finish
fi
pid=$node_pid
port=${node_base##*:}
pass "vigild starts ($node_base)"

token=$(curl -s -X POST --data '{"consent":"files"}' "$node_base/v1/enroll" |
	"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
[ -n "$token" ] || fail "a client enrols" ""

probe=$VIGIL_SOURCE_DIR/tests/integration/edgeprobe.py
for c in cl-te two-cl same-cl cl-list te-gzip te-http10 obs-fold bare-lf \
	bare-lf-field lone-cr space-colon ctl no-host two-hosts header-5k \
	header-64k header-200k many-fields long-line h2-preface bad-version \
	enroll-huge-cl enroll-huge-chunk enroll-chunks-over submit-no-token \
	submit-bad-token submit-chunked-no-token chunked-ok pipelined \
	expect-continue expect-too-large expect-other http10 head h2c-upgrade \
	slow-head; do
	if out=$("$PYTHON" "$probe" 127.0.0.1 "$port" "$token" "$c" 2>&1); then
		pass "$out"
	else
		fail "edge case $c" "$out"
	fi
done

if out=$("$PYTHON" "$probe" 127.0.0.1 "$port" "$token" held-sample "$pid" 2>&1); then
	pass "$(echo "$out" | tr '\n' ';')"
else
	fail "held sample" "$out"
fi

if out=$("$PYTHON" "$probe" 127.0.0.1 "$port" "$token" flood-oversized "$pid" 16 2>&1); then
	pass "$out"
else
	fail "oversized bodies from many connections" "$out"
fi

code=$(curl -s -o /dev/null -w '%{http_code}' "$node_base/healthz")
[ "$code" = 200 ] && pass "the node still serves after all of it" ||
	fail "the node still serves after all of it" "healthz: $code"

m=$(curl -s "$node_base/metrics")
for k in vigil_http_refused_total; do
	echo "$m" | grep -q "^$k" && pass "/metrics has $k" ||
		fail "/metrics has $k" "$(echo "$m" | grep http | head -5)"
done

kill -TERM "$pid"
wait "$pid" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && pass "SIGTERM stops vigild with status 0" ||
	fail "SIGTERM stops vigild with status 0" "rc=$rc"
finish
