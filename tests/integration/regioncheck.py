#!/usr/bin/env python3
"""regioncheck.py - after a failover, checks that everything acknowledged
before it is there, read through the surviving node.

    regioncheck.py ACKS TOKEN BASE [--analysed]

ACKS is regionburst.py's acks.jsonl. For every acknowledged submission,
GET /v1/submissions/{id} must answer 200 with the same SHA-256; for every
acknowledged log append, the entry at its index (read from the log's
entry bundles, C2SP tlog-tiles) must hold its text. Prints one line per
kind ("submissions: N of N there") and the ones missing, and exits 1 if
any is. With --analysed, every acknowledged submission must also reach
the end of its analysis ("done" or "failed", waiting up to 60 s in all):
the jobs a killed node had claimed are taken over once their leases run
out.
"""
import http.client
import json
import sys
import time
import urllib.parse

acks_path, token, base = sys.argv[1:4]
analysed = "--analysed" in sys.argv[4:]
u = urllib.parse.urlparse(base)


def get(path, headers=None):
    """GET path; a 429 is waited out as its Retry-After says (at most
    10 times): it says nothing about what the node holds."""
    for _ in range(10):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            status, body = r.status, r.read()
            wait = r.getheader("Retry-After")
        finally:
            c.close()
        if status != 429:
            break
        time.sleep(min(float(wait or 1), 5))
    return status, body


def tile_path(n):
    """A tile index as tlog-tiles writes it: x-prefixed groups of 3."""
    s = "%d" % n
    s = "0" * (-len(s) % 3) + s
    groups = [s[i:i + 3] for i in range(0, len(s), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def bundle(n, size):
    width = min(256, size - n * 256)
    path = "/log/tile/entries/" + tile_path(n)
    if width < 256:
        path += ".p/%d" % width
    status, body = get(path)
    if status != 200:
        raise RuntimeError("%s: %d" % (path, status))
    out, off = [], 0
    while off < len(body):
        ln = int.from_bytes(body[off:off + 2], "big")
        out.append(body[off + 2:off + 2 + ln])
        off += 2 + ln
    if len(out) != width:
        raise RuntimeError("%s: %d entries, not %d" % (path, len(out), width))
    return out


acks = [json.loads(line) for line in open(acks_path) if line.strip()]
missing = []
subs = [a for a in acks if a["kind"] == "submission"]
for a in subs:
    status, body = get("/v1/submissions/" + a["id"],
                       {"Authorization": "Bearer " + token})
    if status != 200 or json.loads(body).get("sha256") != a["sha256"]:
        missing.append("submission %s (acknowledged by %s): %d %s" %
                       (a["id"], a["node"], status, body[:200]))
status, cp = get("/log/checkpoint")
size = int(cp.split(b"\n")[1])
apps = [a for a in acks if a["kind"] == "append"]
bundles = {}
for a in apps:
    i = a["index"]
    if i >= size:
        missing.append("append %d beyond the log's size %d" % (i, size))
        continue
    n = i // 256
    if n not in bundles:
        bundles[n] = bundle(n, size)
    if a["text"].encode() not in bundles[n][i % 256]:
        missing.append("append %d (acknowledged by %s): another entry" %
                       (i, a["node"]))
if analysed:
    deadline = time.time() + 60
    for a in subs:
        while True:
            left = int(deadline - time.time())
            status, body = get("/v1/submissions/%s?wait=%d" %
                               (a["id"], max(0, min(left, 10))),
                               {"Authorization": "Bearer " + token})
            st = json.loads(body).get("status") if status == 200 else None
            if st in ("done", "failed") or left <= 0:
                break
        if st not in ("done", "failed"):
            missing.append("analysis of %s (acknowledged by %s): %s" %
                           (a["id"], a["node"], st))
    print("analyses: %d of %d ended" %
          (len(subs) - sum(m.startswith("analysis") for m in missing),
           len(subs)))
indexes = [a["index"] for a in apps]
if len(set(indexes)) != len(indexes):
    missing.append("two acknowledged appends share an index")
print("submissions: %d of %d there" %
      (len(subs) - sum(m.startswith("submission") for m in missing),
       len(subs)))
print("appends: %d of %d there (log size %d)" %
      (len(apps) - sum(m.startswith("append") for m in missing),
       len(apps), size))
for m in missing[:20]:
    print("missing: " + m)
sys.exit(1 if missing else 0)
