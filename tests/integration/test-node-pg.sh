#!/bin/sh
# test-node-pg.sh - vigild on the PostgreSQL store when PostgreSQL is not
# there: unreachable at start (one clear line, exit 2), and lost while
# running (writes 503 with Retry-After, lookups go on from memory,
# /healthz degraded with the reason, and back to normal, with nothing
# acknowledged lost, once the server is back). Also: the store's schema
# is shared, not per node, and a DSN that is not one is refused; batches
# that share samples commit side by side on the two committers.
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

# --- batches committed side by side ----------------------------------------
# On PostgreSQL two committers take batches in turn. 8 clients submit the
# same 12 samples at once, twice over: batches that share samples commit
# concurrently, and still every submission is acknowledged, each sample
# has one row, one job and a prevalence of 8, and no batch deadlocked.
cat >burst.py <<'PY'
import http.client, json, random, sys, threading, time, urllib.parse
base, n_clients, n_samples = sys.argv[1], 8, 12
u = urllib.parse.urlparse(base)
def req(method, path, body, token=None):
    # As a client does: a 503 (a session of the node's found lost since
    # the outage above, say) is tried again after its Retry-After.
    for attempt in range(20):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        h = {"Authorization": "Bearer " + token} if token else {}
        c.request(method, path, body, h)
        r = c.getresponse()
        out = (r.status, r.read())
        wait = r.getheader("Retry-After")
        c.close()
        if out[0] != 503 or wait is None:
            return out
        time.sleep(float(wait))
    return out
def enroll():
    st, body = req("POST", "/v1/enroll", b'{"consent":"files"}')
    if st != 201 and st != 200:
        sys.exit("enroll: %d %s" % (st, body[:200]))
    return json.loads(body)["token"]
tokens = [enroll() for _ in range(n_clients)]
samples = [("side by side %d %s\n" % (i, sys.argv[2])).encode() for i in range(n_samples)]
codes, mu = {}, threading.Lock()
def client(t):
    order = list(range(n_samples)) * 2
    random.shuffle(order)
    def one(i):
        st, body = req("POST", "/v1/submissions", samples[i], t)
        with mu:
            codes[st] = codes.get(st, 0) + 1
    ths = [threading.Thread(target=one, args=(i,)) for i in order]
    for th in ths: th.start()
    for th in ths: th.join()
ths = [threading.Thread(target=client, args=(t,)) for t in tokens]
for th in ths: th.start()
for th in ths: th.join()
print(json.dumps(codes))
PY
nonce=$(date +%s%N)
before=$(curl -s -m 10 "$base/metrics" | sed -n 's/^vigil_ingest_batches_total //p')
"$PYTHON" burst.py "$base" "$nonce" >burst.out 2>&1
after=$(curl -s -m 10 "$base/metrics" | sed -n 's/^vigil_ingest_batches_total //p')
[ "$(cat burst.out)" = '{"202": 192}' ] &&
	pass "192 submissions at once, in $((after - before)) batches on two committers: all 202" ||
	fail "192 submissions at once on two committers: all 202" "$(cat burst.out)"
rows=$(pg_psql "$tmp/pg" vigil -At -F ' ' -c "WITH s AS (SELECT n, sha256, prevalence FROM samples
	WHERE sha256 IN (SELECT encode(sha256(convert_to('side by side ' || i || ' $nonce' || chr(10), 'UTF8')), 'hex')
	FROM generate_series(0, 11) i))
	SELECT (SELECT count(*) FROM s), (SELECT min(prevalence) FROM s), (SELECT max(prevalence) FROM s),
	(SELECT count(*) FROM jobs WHERE id IN (SELECT n FROM s)),
	(SELECT count(*) FROM submissions WHERE sha256 IN (SELECT sha256 FROM s))")
[ "$rows" = "12 8 8 12 192" ] &&
	pass "each of the 12 samples: one row, one job, prevalence 8; 192 submissions recorded" ||
	fail "each of the 12 samples: one row, one job, prevalence 8; 192 submissions recorded" "samples, min and max prevalence, jobs, submissions: $rows"
# The node's own commits come back to it as notifications: passed over,
# never read again, however many sessions it opened since it started.
curl -s -m 10 "$base/metrics" >metrics.out
own=$(sed -n 's/^vigil_region_feed_own_total //p' metrics.out)
applied=$(sed -n 's/^vigil_region_feed_applied_total //p' metrics.out)
[ "${own:-0}" -ge "$((after - before))" ] && [ "$applied" = 0 ] &&
	pass "the node's own notifications passed over ($own), none read back" ||
	fail "the node's own notifications passed over, none read back" "own ${own:-?}, applied ${applied:-?}"
grep -qi deadlock vigild.err && fail "no batch deadlocked" "$(grep -i deadlock vigild.err | head -3)" ||
	pass "no batch deadlocked"

finish
