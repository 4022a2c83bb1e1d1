#!/usr/bin/env python3
"""regionburst.py - a bounded burst of submissions and log appends against
the nodes of one region, for tests/integration/test-region-failover.sh.

    regionburst.py OUTDIR TOKEN OPERATOR_TOKEN BASE1 BASE2

Two threads submit samples (unique random bytes) and two append log
statements, each alternating between the nodes. Every acknowledgement
(202 for a submission, 201 for an append) is written, as a JSON line, to
OUTDIR/acks.jsonl with the node and the time; refusals and connection
errors are counted, never retried blindly into an acknowledgement.

Phases, driven through files in OUTDIR:
  - once at least READY acknowledgements of each kind are in, it writes
    OUTDIR/ready and goes on;
  - when OUTDIR/killed appears (it holds the kill's time, seconds since
    the epoch, written by the test just before the SIGKILLs), it notes
    the first 202 from a node other than the killed one (its base is
    BASE1) after that time, and stops once AFTER more acknowledgements of
    each kind have come from the surviving node, or after DEADLINE s.
At the end it writes OUTDIR/summary.json.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

READY = 40
AFTER = 20
DEADLINE = 90.0

outdir, token, optoken, base1, base2 = sys.argv[1:6]
bases = [base1, base2]
lock = threading.Lock()
acks = open(os.path.join(outdir, "acks.jsonl"), "a", buffering=1)
count = {"submission": 0, "append": 0}
after = {"submission": 0, "append": 0}
errors = {}
first_after_kill = None
stop = threading.Event()
t0 = time.time()


def killed_at():
    try:
        with open(os.path.join(outdir, "killed")) as f:
            return float(f.read().strip())
    except (OSError, ValueError):
        return None


def request(base, method, path, body, headers):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def note(kind, base, status, body, extra):
    global first_after_kill
    now = time.time()
    with lock:
        if status is None or status >= 300:
            key = "%s %s %s" % (kind, base, status)
            errors[key] = errors.get(key, 0) + 1
            return
        rec = {"kind": kind, "node": base, "t": now}
        rec.update(extra)
        rec.update(json.loads(body))
        acks.write(json.dumps(rec) + "\n")
        count[kind] += 1
        k = killed_at()
        if k is not None and now > k and base != base1:
            after[kind] += 1
            if kind == "submission" and first_after_kill is None:
                first_after_kill = now - k
        if min(count.values()) >= READY and not os.path.exists(
                os.path.join(outdir, "ready")):
            open(os.path.join(outdir, "ready"), "w").close()
        if min(after.values()) >= AFTER:
            stop.set()


def submitter(lane):
    i = 0
    while not stop.is_set() and time.time() - t0 < DEADLINE:
        base = bases[(i + lane) % 2]
        i += 1
        sample = os.urandom(512) + b"lane %d sample %d" % (lane, i)
        try:
            status, body = request(
                base, "POST", "/v1/submissions", sample, {
                    "Authorization": "Bearer " + token,
                    "Content-Type": "application/octet-stream"})
        except OSError as e:
            status, body = None, str(e).encode()
            time.sleep(0.05)
        note("submission", base, status, body, {})
        if status == 503:
            time.sleep(0.05)


def appender(lane):
    i = 0
    while not stop.is_set() and time.time() - t0 < DEADLINE:
        base = bases[(i + lane) % 2]
        i += 1
        text = "burst lane %d statement %d %s" % (lane, i, os.urandom(8).hex())
        try:
            status, body = request(
                base, "POST", "/v1/admin/log?type=statement",
                text.encode(), {"Authorization": "Bearer " + optoken})
        except OSError as e:
            status, body = None, str(e).encode()
            time.sleep(0.05)
        note("append", base, status, body, {"text": text})
        if status == 503:
            time.sleep(0.05)


threads = [threading.Thread(target=submitter, args=(k,)) for k in range(2)]
threads += [threading.Thread(target=appender, args=(k,)) for k in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(os.path.join(outdir, "summary.json"), "w") as f:
    json.dump({"count": count, "after_kill": after, "errors": errors,
               "first_202_after_kill_s": first_after_kill,
               "stopped": stop.is_set()}, f)
