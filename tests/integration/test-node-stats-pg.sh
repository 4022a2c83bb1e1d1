#!/bin/sh
# test-node-stats-pg.sh - a region's statistics on PostgreSQL, on two real
# vigild nodes sharing one cluster (run under tests/pg/pg-run): a day
# asked of both nodes at once is computed and stored once, and both
# serve the same bytes with the same log index, whose stats entry holds
# their SHA-256. The day's submissions are moved back two days in the
# cluster with psql.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL:?VIGIL must be the path of the vigil binary}"
: "${VIGIL_TEST_PG_DSN:?run under tests/pg/pg-run}"
cd "$tmp" || exit 1

mkdir rules
eicar_rule rules/eicar.yar
log_node_conf "[store]
backend = postgres
dsn = $VIGIL_TEST_PG_DSN
[stats]
k = 2
epsilon = 50
"
sed -i "s|^workers = 1\$|workers = 1\nrules = $tmp/rules|" node.conf
sed 's/^site = zrh1/site = zrh2/' node.conf >b.conf

pids=
stop_all() {
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
}
trap 'stop_all; rm -rf "$tmp"' EXIT

hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip"; }

node_start a -- -c node.conf --data "$tmp/a" ||
	{ fail "the first node starts on PostgreSQL" "$(cat a.err)"; finish; }
a_base=$node_base
pids="$node_pid"
key=$(curl -s -m 10 "$a_base/log/key")

# Two clients submit the EICAR file through the first node.
eicar >eicar.txt
ok=1
for c in 1 2; do
	t=$(curl -s -X POST --data-binary '{"consent":"files"}' "$a_base/v1/enroll" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
	id=$(curl -s -X POST -H "Authorization: Bearer $t" --data-binary @eicar.txt \
		"$a_base/v1/submissions" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	curl -s -H "Authorization: Bearer $t" "$a_base/v1/submissions/$id?wait=60" >sub.json
	grep -q '"malicious"' sub.json || ok=0
done
[ $ok = 1 ] && pass "two clients submit the EICAR file, analysed" ||
	fail "two clients submit the EICAR file, analysed" "$(cat sub.json)"
psql -q "$VIGIL_TEST_PG_DSN" -c 'UPDATE submissions SET created = created - 2 * 86400' &&
	pass "the submissions are moved back two days in the cluster" ||
	fail "the submissions are moved back two days in the cluster"
past=$(date -u -d @$(($(date -u +%s) - 2 * 86400)) +%F)

mkdir -m 700 b
for f in log.key sample.key release-online.key release-online.pub operator.token; do
	cp -p "a/$f" "b/$f"
done
node_start b -- -c b.conf --data "$tmp/b" ||
	{ fail "a second node joins the region" "$(cat b.err)"; finish; }
b_base=$node_base
pids="$pids $node_pid"

# Both nodes asked at once, then each again.
curl -s -o a1.json -D a1.h -w '%{http_code}' "$a_base/v1/stats?day=$past" >a1.code &
ca=$!
curl -s -o b1.json -D b1.h -w '%{http_code}' "$b_base/v1/stats?day=$past" >b1.code &
cb=$!
wait $ca $cb
for n in a b; do
	case $n in a) u=$a_base ;; b) u=$b_base ;; esac
	# A node still logging the day for the first request says so.
	_i=0
	while [ "$(cat ${n}1.code)" = 503 ] && [ $_i -lt 50 ]; do
		sleep 0.2
		curl -s -o ${n}1.json -D ${n}1.h -w '%{http_code}' "$u/v1/stats?day=$past" >${n}1.code
		_i=$((_i + 1))
	done
done
[ "$(cat a1.code)" = 200 ] && [ "$(cat b1.code)" = 200 ] &&
	pass "both nodes answer the day, asked at once" ||
	fail "both nodes answer the day, asked at once" "$(cat a1.code) $(cat b1.code) $(cat a1.json b1.json)"
curl -s -o a2.json -D a2.h "$a_base/v1/stats?day=$past"
curl -s -o b2.json -D b2.h "$b_base/v1/stats?day=$past"
idx=$(hdr a2.h X-Vigil-Log-Index)
cmp -s a1.json b1.json && cmp -s a1.json a2.json && cmp -s a1.json b2.json &&
	pass "every node of the region serves the same bytes" ||
	fail "every node of the region serves the same bytes" "$(cat a1.json b1.json a2.json b2.json)"
[ -n "$idx" ] && [ "$(hdr b2.h X-Vigil-Log-Index)" = "$idx" ] &&
	pass "both nodes name the same log index" ||
	fail "both nodes name the same log index" "$(cat a2.h b2.h)"
[ "$(psql -tA "$VIGIL_TEST_PG_DSN" -c 'SELECT count(*) FROM stats')" = 1 ] &&
	pass "the day is stored once" || fail "the day is stored once"
jcheck a1.json "r['day'] == '$past' and abs(r['detections']['Test_EICAR'] - 2) <= 1 and
	r['privacy']['k'] == 2" "the document counts the two clients' detection (k = 2)"
"$VIGIL" log get "$b_base/log" "$idx" --key "$key" --json >e.json 2>"$err"
h=$(sha256sum a1.json | cut -d' ' -f1)
jcheck e.json "r['type'] == 'stats' and r['day'] == '$past' and r['sha256'] == '$h'" \
	"the region's log holds the day's stats entry with the served bytes' SHA-256"

stop_all
pids=
finish
