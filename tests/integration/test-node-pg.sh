#!/bin/sh
# test-node-pg.sh - vigild on the PostgreSQL store when PostgreSQL is not
# there: unreachable at start (one clear line, exit 2), and lost while
# running (writes 503 with Retry-After, lookups go on from memory,
# /healthz degraded with the reason, and back to normal, with nothing
# acknowledged lost, once the server is back). Also: the store's schema
# is shared, not per node, and a DSN that is not one is refused.
. "${VIGIL_SOURCE_DIR:?}/tests/integration/lib.sh"
. "$VIGIL_SOURCE_DIR/tests/pg/pglib.sh"
: "${VIGILD:?VIGILD must be the path of the vigild binary}"

chmod 0755 "$tmp"
cd "$tmp" || exit 1
stop_all() {
	[ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null
	pg_stop "$tmp/pg" immediate
	cleanup
}
trap stop_all EXIT

conf() {
	printf '[node]\nregion = eu\nsite = zrh1\nworkers = 1\n[log]\norigin = vigil.example/eu\n[store]\nbackend = postgres\ndsn = %s\n' "$1" >node.conf
}

# --- unreachable at start ------------------------------------------------------
port=$(pg_free_port)
conf "host=127.0.0.1 port=$port dbname=vigil user=vigil connect_timeout=2"
timeout 30 "$VIGILD" -c node.conf --data "$tmp/d0" --listen 127.0.0.1:0 >n0.out 2>n0.err
rc=$?
if [ "$rc" = 2 ] && [ "$(wc -l <n0.err)" -eq 1 ] &&
	grep -q "postgresql (host=127.0.0.1 port=$port dbname=vigil)" n0.err; then
	pass "PostgreSQL unreachable at start: exit 2 and one line naming the server ($(cat n0.err))"
else
	fail "PostgreSQL unreachable at start: exit 2 and one line naming the server" "exit $rc" "$(head -5 n0.err)"
fi
conf "host='unterminated"
timeout 30 "$VIGILD" -c node.conf --data "$tmp/d0" --listen 127.0.0.1:0 >n0.out 2>n0.err
rc=$?
[ "$rc" = 2 ] && grep -q "malformed DSN" n0.err &&
	pass "a malformed DSN: exit 2, said so" ||
	fail "a malformed DSN: exit 2, said so" "exit $rc" "$(head -5 n0.err)"
grep -q "password" n0.err && fail "the error line shows no password" || true

# --- a running node that loses its server ----------------------------------
pg_init "$tmp/pg" "$port" vigiltest && pg_start "$tmp/pg" && pg_createdb "$tmp/pg" >/dev/null ||
	{ fail "a PostgreSQL cluster"; finish; }
conf "host=127.0.0.1 port=$port dbname=vigil user=vigil connect_timeout=2"
start_node || { fail "vigild starts on PostgreSQL" "$(tail -5 vigild.err)"; finish; }
pass "vigild starts on PostgreSQL"
token=$(curl -s -m 10 -X POST --data '{"consent":"files"}' "$base/v1/enroll" |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
printf 'kept through the outage\n' >kept.bin
sha=$(sha256sum kept.bin | cut -c1-64)
code=$(curl -s -o "$out" -w '%{http_code}' -m 10 -H "Authorization: Bearer $token" \
	--data-binary @kept.bin "$base/v1/submissions")
[ "$code" = 202 ] && pass "a submission before the outage: 202" || fail "a submission before the outage: 202" "$code $(cat "$out")"
subid=$(jeval "$out" 'r["id"]')
schemas=$(pg_psql "$tmp/pg" vigil -At -c "SELECT string_agg(component || '=' || version, ' ' ORDER BY component) FROM vigil_schema")
echo "# schema: $schemas"
case $schemas in *store=*) pass "the store's schema is versioned in the database" ;; *) fail "the store's schema is versioned in the database" "$schemas" ;; esac

pg_stop "$tmp/pg" immediate
sleep 2
printf 'written during the outage\n' >during.bin
code=$(curl -s -D hdr -o "$out" -w '%{http_code}' -m 30 -H "Authorization: Bearer $token" \
	--data-binary @during.bin "$base/v1/submissions")
if [ "$code" = 503 ] && grep -qi '^retry-after: ' hdr; then
	pass "a submission while PostgreSQL is down: 503 with Retry-After"
else
	fail "a submission while PostgreSQL is down: 503 with Retry-After" "$code $(cat "$out")" "$(cat hdr)"
fi
code=$(curl -s -D hdr -o "$out" -w '%{http_code}' -m 30 -H "Authorization: Bearer $(cat var/operator.token)" \
	--data-binary 'during the outage' "$base/v1/admin/log?type=statement")
[ "$code" = 503 ] && grep -qi '^retry-after: ' hdr &&
	pass "a log append while PostgreSQL is down: 503 with Retry-After" ||
	fail "a log append while PostgreSQL is down: 503 with Retry-After" "$code $(cat "$out")"
code=$(curl -s -o "$out" -w '%{http_code}' -m 10 -H "Authorization: Bearer $token" "$base/v1/files/$sha")
[ "$code" = 200 ] && pass "a lookup while PostgreSQL is down: 200, from memory" ||
	fail "a lookup while PostgreSQL is down: 200, from memory" "$code $(cat "$out")"
curl -s -m 10 "$base/healthz" >"$out"
jcheck "$out" 'r["status"] == "degraded" and r["store"]["status"] == "degraded" and "postgresql" in r["store"]["reason"]' \
	"/healthz while PostgreSQL is down: degraded, with the reason"
kill -0 "$pid" 2>/dev/null && pass "vigild keeps serving through the outage" || fail "vigild keeps serving through the outage"

pg_start "$tmp/pg"
i=0
while [ $i -lt 100 ]; do
	curl -s -m 5 "$base/healthz" >"$out"
	jeval "$out" 'r["store"]["status"]' | grep -qx ok && break
	sleep 0.1
	i=$((i + 1))
done
jcheck "$out" 'r["status"] == "ok" and r["store"]["status"] == "ok"' "/healthz once PostgreSQL is back: ok"
i=0
while [ $i -lt 50 ]; do
	code=$(curl -s -o "$out" -w '%{http_code}' -m 30 -H "Authorization: Bearer $token" \
		--data-binary @during.bin "$base/v1/submissions")
	[ "$code" = 202 ] && break
	sleep 0.2
	i=$((i + 1))
done
[ "$code" = 202 ] && pass "submissions once PostgreSQL is back: 202" || fail "submissions once PostgreSQL is back: 202" "$code $(cat "$out")"
code=$(curl -s -o "$out" -w '%{http_code}' -m 30 -H "Authorization: Bearer $(cat var/operator.token)" \
	--data-binary 'after the outage' "$base/v1/admin/log?type=statement")
[ "$code" = 201 ] && pass "log appends once PostgreSQL is back: 201" || fail "log appends once PostgreSQL is back: 201" "$code $(cat "$out")"
code=$(curl -s -o "$out" -w '%{http_code}' -m 10 -H "Authorization: Bearer $token" "$base/v1/submissions/$subid")
[ "$code" = 200 ] && pass "the submission acknowledged before the outage is there" ||
	fail "the submission acknowledged before the outage is there" "$code $(cat "$out")"

finish
