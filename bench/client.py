#!/usr/bin/env python3
"""Clients of bench/node.sh and bench/region.sh: populate, latency,
free_port, raw, report."""
import hashlib, http.client, json, os, random, statistics, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit


def conn(base):
    u = urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def call(c, method, path, token, body=None):
    c.request(method, path, body=body,
              headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    data = r.read()
    return r.status, data


def populate(base, token, n, out):
    """Submits n distinct small random samples, waits for every verdict,
    writes the body of a 1,000-hash lookup and one sample's answer."""
    c = conn(base)
    known, ids = [], []
    for i in range(n):
        blob = os.urandom(random.randint(256, 4096))
        st, data = call(c, "POST", "/v1/submissions", token, blob)
        if st != 202:
            sys.exit("populate: POST /v1/submissions: %d %s" % (st, data[:200]))
        ids.append(json.loads(data)["id"])
        known.append((hashlib.md5(blob).hexdigest(), hashlib.sha1(blob).hexdigest(),
                      hashlib.sha256(blob).hexdigest()))
    for sid in ids:
        while True:
            st, data = call(c, "GET", "/v1/submissions/%s?wait=60" % sid, token)
            if st != 200:
                sys.exit("populate: GET submission: %d %s" % (st, data[:200]))
            if json.loads(data)["status"] in ("done", "failed"):
                break
    rnd = random.Random(1)
    hashes = []
    for j in range(500):  # known, the three kinds in turn
        hashes.append(known[j % n][j % 3])
    for j in range(500):  # unknown, the three kinds in turn
        hashes.append(os.urandom((16, 20, 32)[j % 3]).hex())
    rnd.shuffle(hashes)
    with open(os.path.join(out, "lookup.json"), "w") as f:
        json.dump({"hashes": hashes}, f)
    st, data = call(c, "POST", "/v1/lookup", token, json.dumps({"hashes": hashes}))
    res = json.loads(data)["results"]
    hits = sum(1 for r in res if r.get("verdict") not in (None, "unknown"))
    if st != 200 or hits != 500:
        sys.exit("populate: the lookup found %d of 500 known hashes" % hits)
    st, data = call(c, "GET", "/v1/files/" + known[0][2], token)
    if st != 200:
        sys.exit("populate: GET /v1/files: %d" % st)
    with open(os.path.join(out, "files.json"), "wb") as f:
        f.write(data)
    print(known[0][2])


def latency(base, token, rate, seconds, size):
    """Submits rate*seconds distinct samples of size bytes at a fixed rate;
    for each, the time from sending the POST to its verdict."""
    blob = bytearray(os.urandom(size))
    nonce = os.urandom(8)
    local = threading.local()
    lat, lag, errors = [], [], []
    lock = threading.Lock()

    def one(i, due):
        if not hasattr(local, "c"):
            local.c = conn(base)
        c = local.c
        body = bytes(nonce + i.to_bytes(8, "big")) + bytes(blob[16:])
        t0 = time.monotonic()
        try:
            st, data = call(c, "POST", "/v1/submissions", token, body)
            if st != 202:
                raise RuntimeError("POST %d %s" % (st, data[:100]))
            d = json.loads(data)
            while d.get("status") not in ("done", "failed"):
                st, data = call(c, "GET", "/v1/submissions/%s?wait=10" % d["id"], token)
                if st != 200:
                    raise RuntimeError("GET %d %s" % (st, data[:100]))
                d = json.loads(data)
            if d["status"] != "done":
                raise RuntimeError("analysis %s: %s" % (d["status"], d.get("error")))
        except Exception as e:  # counted, and the connection renewed
            local.c = conn(base)
            with lock:
                errors.append(str(e))
            return
        t1 = time.monotonic()
        with lock:
            lat.append(t1 - t0)
            lag.append(t0 - due)

    total = rate * seconds
    with ThreadPoolExecutor(max_workers=256) as ex:
        start = time.monotonic() + 0.1
        for i in range(total):
            due = start + i / rate
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            ex.submit(one, i, due)
        sent_in = time.monotonic() - start
    lat.sort()
    n = len(lat)
    if n == 0:
        sys.exit("latency: no verdict (%s)" % (errors[:1],))
    p = lambda q: lat[max(0, -(-n * q // 100) - 1)] * 1000
    print("%.1f %.1f %d %d %.1f %.1f" % (p(50), p(99), n, len(errors),
          total / sent_in, max(lag) * 1000))
    if errors:
        print("latency: %d errors, first: %s" % (len(errors), errors[0]), file=sys.stderr)


def raw(base, token, path, out):
    """Writes the exact bytes vigild answers a GET of path with (status
    line, headers and body), for http_floor to send."""
    import socket
    u = urlsplit(base)
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
               "\r\n" % (path, u.netloc, token)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head = data[:data.index(b"\r\n\r\n") + 4]
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
              if l.lower().startswith(b"content-length:")]
    if not head.startswith(b"HTTP/1.1 200 ") or len(length) != 1:
        sys.exit("raw: unexpected answer: %r" % head[:200])
    while len(data) < len(head) + length[0]:
        data += s.recv(65536)
    s.close()
    with open(out, "wb") as f:
        f.write(data[:len(head) + length[0]])


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def medians(results, cmds):
    """Every run's figures (KEY VALUE lines), the commands by key, the
    median of each figure, and the number of runs."""
    res = {}
    for line in open(results):
        k, v = line.split()
        res.setdefault(k, []).append(float(v))
    cmd = dict(l.rstrip("\n").split(" ", 1) for l in open(cmds))
    m = {k: statistics.median(v) for k, v in res.items()}
    return res, cmd, m, max(len(v) for v in res.values())


def goal(ok):
    return "**met**" if ok else "**not met**"


def report(results, cmds):
    res, cmd, m, runs = medians(results, cmds)

    def closed(k):
        c, n = m.get(k + "_closed", 0), m.get(k + "_requests", 0)
        if c > 0:
            print("The server closed the connection after %.0f of %.0f answers "
                  "(wrk reconnected each time).\n" % (c, n))

    print("\nMedian of %d runs.\n" % runs)
    print("### 1. GET /v1/files/{sha256}, %d-byte answer, keep-alive\n" % m["files_bytes"])
    print("| server | command | req/s | vigild / server |")
    print("| --- | --- | --- | --- |")
    print("| vigild | `%s` | %.0f | 1.00x |" % (cmd["files"], m["files_vigild"]))
    for k, name in (("files_nginx", "nginx, worker_processes auto (2)"),
                    ("files_nginx1", "nginx, worker_processes 1")):
        print("| %s | `%s` | %.0f | %.2fx |" % (name, cmd["files_nginx"], m[k],
                                                m["files_vigild"] / m[k]))
    print("| http_floor, 2 threads (bench/http_floor.c: one read and one write"
          " per request, nothing else) | `%s` | %.0f | %.2fx |" % (
              cmd["files_floor"], m["files_floor"],
              m["files_vigild"] / m["files_floor"]))
    r1 = m["files_vigild"] / m["files_nginx"]
    print("\nGoal: at least 1.2x nginx: %.2fx, %s. The floor, which does no HTTP"
          " at all, is %.2fx nginx: the most any server on epoll and"
          " read/write could be here.\n" % (r1, goal(r1 >= 1.2),
                                             m["files_floor"] / m["files_nginx"]))
    closed("files_vigild")

    print("### 2. POST /v1/lookup, 1,000 hashes per request (500 known)\n")
    print("| server | command | keys/s | vigild / redis |")
    print("| --- | --- | --- | --- |")
    hs = m["lookup_vigild"] * 1000
    print("| vigild | `%s` | %.0f (%.1f req/s) | %.2fx |" % (
        cmd["lookup"], hs, m["lookup_vigild"], hs / m["redis_get"]))
    print("| redis-server | `%s` | %.0f | 1.00x |" % (cmd["redis"], m["redis_get"]))
    r2 = hs / m["redis_get"]
    print("\nGoal: at least 1.5x redis: %.2fx, %s.\n" % (r2, goal(r2 >= 1.5)))
    closed("lookup_vigild")

    print("### 3. Durable 4 KiB submissions, each a new sample\n")
    print("| what | command | per s | vigild / disk |")
    print("| --- | --- | --- | --- |")
    print("| vigild, 16 connections | `%s` | %.0f | %.2fx |" % (
        cmd["submit"], m["submit_vigild"], m["submit_vigild"] / m["dd_wps"]))
    print("| vigild, 64 connections | `%s` | %.0f | %.2fx |" % (
        cmd["submit64"], m["submit64_vigild"], m["submit64_vigild"] / m["dd_wps"]))
    print("| disk, synchronous 4 KiB writes | `%s` | %.0f | 1.00x |" % (cmd["dd"], m["dd_wps"]))
    r3 = max(m["submit_vigild"], m["submit64_vigild"]) / m["dd_wps"]
    print("\nGoal: at least 2x the disk: %.2fx, %s.\n" % (r3, goal(r3 >= 2)))
    closed("submit_vigild")
    closed("submit64_vigild")

    print("### 4. Submission to verdict, 100 KB samples at 100/s for 20 s\n")
    print("| command | p50 ms | p99 ms | verdicts | errors | achieved rate/s | max send lag ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("| `%s` | %.1f | %.1f | %.0f | %.0f | %.1f | %.1f |" % (
        cmd["latency"], m["lat_p50"], m["lat_p99"], m["lat_n"], m["lat_err"],
        m["lat_rate"], m["lat_lag"]))
    print("\nGoal: p50 at most 50 ms: %s; p99 at most 250 ms: %s.\n" % (
        goal(m["lat_p50"] <= 50), goal(m["lat_p99"] <= 250)))

    print("### 5. Resident memory (VmRSS)\n")
    print("| state | vigild MiB | vigild + workers MiB |")
    print("| --- | --- | --- |")
    print("| idle after start, default rules | %.1f | %.1f |" % (
        m["rss_idle"] / 1024, m["rss_idle_all"] / 1024))
    print("| idle after 300 analyses (workers started) | %.1f | %.1f |" % (
        m["rss_warm"] / 1024, m["rss_warm_all"] / 1024))
    print("| peak during the lookup load (300 samples) | %.1f | %.1f |" % (
        m["rss_lookup"] / 1024, m["rss_lookup_all"] / 1024))


def floor_report(m, cmd, anchor):
    """The CPU each durable submission costs, and the database's floor:
    what the goal of 1.5x pgbench leaves per submission on this machine
    against what PostgreSQL alone spends on one."""
    if "floor_batch" not in m:
        return
    n = os.cpu_count()
    print("### CPU per durable submission, and the database's floor\n")
    print("| what | command | per s | cores busy | CPU us each |"
          " per s with all %d cores |" % n)
    print("| --- | --- | --- | --- | --- | --- |")
    rows = (("pgbench, 16 clients (per transaction)", "pgbench16",
             "pgbench16"),
            ("pgbench, 64 clients", "pgbench64", "pgbench64"),
            ("vigild on PostgreSQL, 64 connections", "submit64_postgres",
             "submit64"),
            ("vigild on SQLite, 64 connections", "submit64_sqlite",
             "submit64"),
            ("PostgreSQL alone: a batch's records and rows, 64 a commit",
             "floor_batch", "floor"),
            ("PostgreSQL alone: the records' rows only", "floor_bytes",
             "floor"),
            ("PostgreSQL alone: the store's rows only", "floor_rows",
             "floor"))
    for name, k, c in rows:
        if k + "_cores" not in m:
            continue
        cores = m[k + "_cores"]
        print("| %s | `%s` | %.0f | %.2f | %.0f | %.0f |" % (
            name, cmd[c], m[k], cores, cores / m[k] * 1e6,
            m[k] * n / cores))
    goal_rate = 1.5 * anchor
    budget = n / goal_rate * 1e6
    floor = m["floor_batch_cores"] / m["floor_batch"] * 1e6
    print("\nThe goal, 1.5x pgbench's best, is %.0f submissions/s: %.0f us"
          " of CPU each on %d cores, for everything (vigild, both"
          " clusters, the load generator). PostgreSQL alone spends %.0f us"
          " on the rows of one (%.2fx the budget), so that at most %.0f/s"
          " (%.2fx pgbench) could be committed here if nothing else ran.\n"
          % (goal_rate, budget, n, floor, floor / budget,
             n / floor * 1e6, n / floor * 1e6 / anchor))


def region_report(results, cmds):
    """The tables of bench/region.sh, medians of its runs."""
    res, cmd, m, runs = medians(results, cmds)

    print("\nMedian of %d runs.\n" % runs)
    print("### Durable submissions and single-row commits\n")
    print("| what | command | per s | / pgbench -c64 |")
    print("| --- | --- | --- | --- |")
    anchor = max(m["pgbench16"], m["pgbench64"])
    rows = (("pgbench, 16 clients, one INSERT per transaction", "pgbench16",
             "pgbench16"),
            ("pgbench, 64 clients", "pgbench64", "pgbench64"),
            ("vigild on PostgreSQL, 16 connections", "submit_postgres",
             "submit"),
            ("vigild on PostgreSQL, 64 connections", "submit64_postgres",
             "submit64"),
            ("vigild on SQLite, 16 connections", "submit_sqlite", "submit"),
            ("vigild on SQLite, 64 connections", "submit64_sqlite",
             "submit64"))
    for name, k, c in rows:
        print("| %s | `%s` | %.0f | %.2fx |" % (name, cmd[c], m[k],
                                              m[k] / anchor))
    best = max(m["submit_postgres"], m["submit64_postgres"])
    print("\nGoal: vigild on PostgreSQL at least 1.5x pgbench's best: %.2fx,"
          " %s.\n" % (best / anchor, goal(best / anchor >= 1.5)))

    floor_report(m, cmd, anchor)

    print("### Log appends\n")
    print("| backend | command | entries/s |")
    print("| --- | --- | --- |")
    for b in ("postgres", "sqlite"):
        print("| %s | `%s` | %.0f |" % (b, cmd["append"], m["append_" + b]))
    print("\nGoal: at least 20,000 entries/s on PostgreSQL: %s.\n" %
          goal(m["append_postgres"] >= 20000))

    print("### Lookups (1,000 hashes per request, 500 known)\n")
    print("| server | command | keys/s | / redis |")
    print("| --- | --- | --- | --- |")
    for b in ("postgres", "sqlite"):
        hs = m["lookup_" + b] * 1000
        print("| vigild on %s | `%s` | %.0f | %.2fx |" % (
            b, cmd["lookup"], hs, hs / m["redis_get"]))
    print("| redis-server | `%s` | %.0f | 1.00x |" % (cmd["redis"],
                                                     m["redis_get"]))
    r = m["lookup_postgres"] * 1000 / m["redis_get"]
    print("\nGoal: lookups on PostgreSQL unchanged from SQLite (%.2fx of it)"
          " and at least 5x redis: %.2fx, %s.\n" % (
              m["lookup_postgres"] / m["lookup_sqlite"], r, goal(r >= 5)))

    print("### Failover\n")
    print("`%s`: from the SIGKILL of zrh1's PostgreSQL and vigild to the"
          " first 202 at zrh2: %.2f s (runs: %s).\n" % (
              cmd["failover"], m["failover_s"],
              ", ".join("%.2f" % v for v in res["failover_s"])))
    print("Goal: under 10 s: %s.\n" % goal(m["failover_s"] < 10))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "populate":
        populate(a[1], a[2], int(a[3]), a[4])
    elif a[0] == "latency":
        latency(a[1], a[2], int(a[3]), int(a[4]), int(a[5]))
    elif a[0] == "raw":
        raw(a[1], a[2], a[3], a[4])
    elif a[0] == "free_port":
        free_port()
    elif a[0] == "report":
        report(a[1], a[2])
    elif a[0] == "region_report":
        region_report(a[1], a[2])
