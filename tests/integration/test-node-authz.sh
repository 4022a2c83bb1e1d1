#!/bin/sh
# test-node-authz.sh - who may call what, on the real vigild: every route
# of tests/integration/authz.tsv asked by five callers (no token, a
# garbled one, a client of this region, a client enrolled at a second
# vigild of another region, the operator) answers exactly the status of
# its cell, and docs/API.md's table is the tsv's (scripts/authz-table).
# Every route that needs an object gets a real one first: samples
# analysed malicious, a submission, false-positive reports, a retraction,
# a finished retro-hunt and a published release; every POST has a
# well-formed body, so that a status says who may call, not what was sent.
. "$(dirname "$0")/lib.sh"

: "${VIGILD:?VIGILD must be the path of the vigild binary}"
: "${VIGIL_WORKER:?VIGIL_WORKER must be the path of vigil-worker}"
: "${RELEASE_TOOL:?RELEASE_TOOL must be the path of release_tool}"
RT=$RELEASE_TOOL
cd "$tmp" || exit 1

# --- the table and its copy in the docs ----------------------------------------------
if "$PYTHON" "$VIGIL_SOURCE_DIR/scripts/authz-table" --check \
	"$VIGIL_SOURCE_DIR/docs/API.md" >"$out" 2>&1; then
	pass "docs/API.md's table is authz.tsv's"
else
	fail "docs/API.md's table is authz.tsv's (scripts/authz-table --write docs/API.md)" \
		"$(head -c 3000 "$out" | sed '2,$s/^/#   /')"
fi

# --- two regions -------------------------------------------------------------------------
mkdir us
printf '[node]\nregion = us\nsite = nyc1\nworkers = 1\n' >us/node.conf
node_start us/vigild -- -c us/node.conf --data "$tmp/us/var" ||
	{ fail "the us node starts" "$(cat us/vigild.err)"; finish; }
us_pid=$node_pid
us_base=$node_base
log_node_conf "[regions]
us = $us_base
"
start_node || { kill $us_pid; fail "the eu node starts" "$(cat vigild.err)"; finish; }
pass "two nodes start, eu and us"

# --- two releases to publish: the first in the setup, the second by the table -------------
curl -s -o online.pub "$base/v1/releases/online-key.json"
for k in r1 t1; do
	"$RT" keygen $k || fail "release_tool keygen $k"
done
printf 'a program\n' >prog1
printf 'a program, better\n' >prog2
"$RT" root root1.json 1 365 1 r1.pub 1 t1.pub online.pub &&
	"$RT" sign root1.json r1.key &&
	"$RT" targets t1.json 1 90 bin/vigil:prog1:program:1.0.0 &&
	"$RT" sign t1.json t1.key &&
	"$RT" targets t2.json 2 90 bin/vigil:prog2:program:1.0.1 &&
	"$RT" sign t2.json t1.key &&
	"$RT" container c1 root/1.root.json=root1.json targets.json=t1.json \
		targets/bin/vigil=prog1 &&
	"$RT" container c2 root/1.root.json=root1.json targets.json=t2.json \
		targets/bin/vigil=prog2 ||
	fail "release_tool makes two release containers"

# --- every cell ------------------------------------------------------------------------------
eicar >eicar.com
AUTHZ_BASE=$base AUTHZ_US=$us_base AUTHZ_TSV="$VIGIL_SOURCE_DIR/tests/integration/authz.tsv" \
	AUTHZ_OPERATOR=var/operator.token "$PYTHON" - >"$out" 2>&1 <<'PY'
import hashlib, http.client, json, os, sys, time, urllib.parse

base = urllib.parse.urlsplit(os.environ["AUTHZ_BASE"])
us = urllib.parse.urlsplit(os.environ["AUTHZ_US"])


def call(where, method, path, token=None, body=None, headers=None):
    """One request over its own connection: (status, body bytes)."""
    c = http.client.HTTPConnection(where.hostname, where.port, timeout=90)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def must(where, method, path, token=None, body=None, headers=None, want=200):
    st, data = call(where, method, path, token, body, headers)
    if st != want:
        sys.exit("setup: %s %s: %d, not %d: %s"
                 % (method, path, st, want, data[:300]))
    return json.loads(data) if data[:1] == b"{" else data


def jbody(o):
    return json.dumps(o).encode()


def enroll(where):
    return must(where, "POST", "/v1/enroll", body=jbody({"consent": "files"}),
                want=201)["token"]


REASON = {"X-Vigil-Reason": "authz table check"}
operator = open(os.environ["AUTHZ_OPERATOR"]).read().strip()
client = enroll(base)
other = enroll(us)
helper = enroll(base)  # reports the samples the operator decides on

# Four samples analysed malicious: EICAR with 0..3 spaces after it.
eicar = open("eicar.com", "rb").read()
sha = {}
for k, name in enumerate(["sample", "accept", "reject", "reinstate"]):
    data = eicar + b" " * k
    sha[name] = hashlib.sha256(data).hexdigest()
    sub = must(base, "POST", "/v1/submissions", client if k == 0 else helper,
               data, want=202)
    got = must(base, "GET", "/v1/submissions/%s?wait=60" % sub["id"],
               client if k == 0 else helper)
    if got.get("verdict") != "malicious":
        sys.exit("setup: sample %d is %s" % (k, got))
    if k == 0:
        submission = sub["id"]
for name in ["accept", "reject", "reinstate"]:
    must(base, "POST", "/v1/fp", helper,
         jbody({"hash": sha[name], "reason": "setup report"}), want=201)
must(base, "POST", "/v1/admin/fp/%s/accept" % sha["reinstate"], operator,
     jbody({"reason": "setup retraction"}), want=201)

# A retro-hunt, finished, so that the table's own may start.
rule = b'rule authz { strings: $a = "EICAR" condition: $a }\n'
hunt = must(base, "POST", "/v1/admin/retrohunt", operator, rule, REASON,
            want=202)["id"]
for _ in range(600):
    if must(base, "GET", "/v1/admin/retrohunt/" + hunt,
            operator)["state"] != "running":
        break
    time.sleep(0.1)
else:
    sys.exit("setup: the retro-hunt never ends")

# The first release, so that every release route has something to serve.
must(base, "POST", "/v1/admin/releases", operator, open("c1", "rb").read(),
     {"Content-Type": "application/octet-stream"}, want=201)
objects = [a["sha256"] for r in must(base, "GET", "/v1/releases")["releases"]
           for a in r["artifacts"]]

# An operator for the table's revocation.
must(base, "POST", "/v1/admin/operators", operator,
     jbody({"name": "authz-revoked"}), {"Content-Type": "application/json"},
     want=201)

# 421 sends the client home, to the endpoint of [regions].
st, data = call(base, "GET", "/v1/files/" + sha["sample"], other)
if st != 421 or json.loads(data).get("endpoint") != os.environ["AUTHZ_US"]:
    sys.exit("setup: another region's client: %d %s" % (st, data[:300]))


def tree_size():
    return int(must(base, "GET", "/log/checkpoint").split(b"\n")[1])


def fill(path):
    """The path with its {NAME}s made real, just before it is asked."""
    if "{tile}" in path:  # the first tile, partial while the log is small
        n = tree_size()
        path = path.replace("{tile}", "000" if n >= 256 else "000.p/%d" % n)
    if "{size}" in path:
        path = path.replace("{size}", str(tree_size()))
    if "{past_day}" in path:  # a completed UTC day, published or not
        path = path.replace("{past_day}", time.strftime(
            "%Y-%m-%d", time.gmtime(time.time() - 2 * 86400)))
    for k, v in [("{submission}", submission), ("{hunt}", hunt),
                 ("{object}", objects[0]), ("{operator}", "authz-revoked")] + \
            [("{%s}" % k, v) for k, v in sha.items()]:
        path = path.replace(k, v)
    if "{" in path:
        sys.exit("authz.tsv: unknown name in %s" % path)
    return path


def request(kind):
    """The body and headers of a body kind of authz.tsv."""
    json_h = {"Content-Type": "application/json"}
    return {
        "-": (None, {}),
        "enroll": (jbody({"consent": "metadata"}), json_h),
        "lookup": (jbody({"hashes": [sha["sample"]]}), json_h),
        "sample": (b"an ordinary sample for the authz table\n",
                   {"Content-Type": "application/octet-stream"}),
        "fp": (jbody({"hash": sha["sample"], "reason": "not malware"}),
               json_h),
        "decision": (jbody({"reason": "authz table decision"}), json_h),
        "statement": (b"authz table statement\n", {"Content-Type": "text/plain"}),
        "reason": (None, REASON),
        "rule": (rule, REASON),
        "operator": (jbody({"name": "authz-added"}), json_h),
        "hold": (jbody({"sha256": sha["sample"], "case": "authz-case",
                        "reason": "authz table hold"}), json_h),
        "release": (open("c2", "rb").read(),
                    {"Content-Type": "application/octet-stream"}),
    }[kind]


callers = [("none", base, None), ("garbled", base, "not-a-token!"),
           ("client", base, client), ("other", base, other),
           ("operator", base, operator)]
n_pass = n_fail = 0
for line in open(os.environ["AUTHZ_TSV"], encoding="utf-8"):
    if not line.strip() or line.startswith("#"):
        continue
    method, path, kind, *cells = line.rstrip("\n").split("\t")
    got, bad = [], []
    for (who, where, token), cell in zip(callers, cells):
        want, _, now = cell.partition("!")
        body, headers = request(kind)
        st, data = call(where, method, fill(path), token, body, headers)
        got.append(str(st))
        if st != int(now or want):
            bad.append("%s: %d, not %s%s: %s" % (
                who, st, now or want,
                " (the cell's WANT: correct it)" if now and st == int(want)
                else "", data[:200]))
    what = "%s %s: %s" % (method, path, " ".join(cells))
    if bad:
        n_fail += 1
        print("not ok - " + what)
        for b in bad:
            print("#   " + b)
    else:
        n_pass += 1
        print("ok - " + what)
print("authz: %d %d" % (n_pass, n_fail))
PY
py=$?
# The python's checks, counted as this script's own.
grep -E '^(not )?ok - |^#' "$out"
np=$(sed -n 's/^authz: \([0-9]*\) \([0-9]*\)$/\1/p' "$out")
nf=$(sed -n 's/^authz: \([0-9]*\) \([0-9]*\)$/\2/p' "$out")
if [ $py -ne 0 ] || [ -z "$np" ]; then
	fail "the table is asked" "$(tail -c 2000 "$out" | sed '2,$s/^/#   /')"
else
	n_pass=$((n_pass + np))
	n_fail=$((n_fail + nf))
fi

kill -TERM $pid $us_pid 2>/dev/null
wait $pid $us_pid
finish
