"""edgeprobe.py - raw HTTP/1.1 against vigild's edge, over real sockets.

    python3 edgeprobe.py HOST PORT TOKEN CASE

Each CASE sends exact bytes (framing no HTTP library would produce), reads
the answer, and prints one line: `ok CASE: what` or `FAIL CASE: what`. The
exit status is 1 if a check failed.
"""
import socket
import sys
import time

HOST, PORT, TOKEN = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def conn():
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_answer(s, limit=1 << 20):
    """Reads one response: (status, headers dict, body bytes, rest)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None, {}, b"", buf
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode()
    n = int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    return status, hdrs, rest[:n], rest[n:]


def closed_after(s, wait=3.0):
    """True if the server closes the connection (EOF) within wait s."""
    s.settimeout(wait)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def exchange(raw, then=b""):
    s = conn()
    s.sendall(raw)
    st, h, body, rest = read_answer(s)
    if then:
        try:
            s.sendall(then)
        except OSError:
            pass
    return s, st, h, body, rest


failed = False


def check(case, cond, what):
    global failed
    print(("ok " if cond else "FAIL ") + case + ": " + what)
    if not cond:
        failed = True


def refused(case, raw, status, what):
    """raw is answered status and the connection closed; nothing after
    it in raw is served as a request of its own."""
    s, st, h, body, rest = exchange(raw)
    extra = rest
    gone = closed_after(s)
    check(case, st == status and gone and b"HTTP/1.1" not in extra,
          "%s: %s %s, closed: %s%s" % (what, st, body[:80], gone,
                                       ", and a second answer" if b"HTTP/1.1" in extra else ""))


def auth(tok):
    return b"Authorization: Bearer " + tok.encode() + b"\r\n"


H = b"Host: node\r\n"
case = sys.argv[4]

if case == "cl-te":
    # Content-Length with Transfer-Encoding: the smuggling setup.
    refused(case, b"POST /v1/enroll HTTP/1.1\r\n" + H +
            b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: node\r\n\r\n",
            400, "Content-Length with Transfer-Encoding")
elif case == "two-cl":
    refused(case, b"POST /v1/enroll HTTP/1.1\r\n" + H +
            b"Content-Length: 0\r\nContent-Length: 13\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n",
            400, "two Content-Lengths")
elif case == "same-cl":
    refused(case, b"POST /v1/enroll HTTP/1.1\r\n" + H +
            b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            400, "two equal Content-Lengths")
elif case == "cl-list":
    refused(case, b"POST /v1/enroll HTTP/1.1\r\n" + H +
            b"Content-Length: 2, 2\r\n\r\n{}", 400, "a Content-Length list")
elif case == "te-gzip":
    refused(case, b"POST /v1/enroll HTTP/1.1\r\n" + H +
            b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            501, "a transfer coding other than chunked")
elif case == "te-http10":
    refused(case, b"POST /v1/enroll HTTP/1.0\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400, "Transfer-Encoding in HTTP/1.0")
elif case == "obs-fold":
    refused(case, b"GET /healthz HTTP/1.1\r\n" + H +
            b"X-A: one\r\n two\r\n\r\n", 400, "obs-fold")
elif case == "bare-lf":
    refused(case, b"GET /healthz HTTP/1.1\n" + H + b"\n", 400,
            "bare LF line ends")
elif case == "bare-lf-field":
    refused(case, b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: 1\n\r\n",
            400, "a field ending in a bare LF")
elif case == "lone-cr":
    refused(case, b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: 1\r2\r\n\r\n",
            400, "a CR inside a field")
elif case == "space-colon":
    refused(case, b"GET /healthz HTTP/1.1\r\n" + H + b"X-A : 1\r\n\r\n",
            400, "a space before a field's colon")
elif case == "ctl":
    refused(case, b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: 1\x002\r\n\r\n",
            400, "a NUL in a field value")
elif case == "no-host":
    refused(case, b"GET /healthz HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host")
elif case == "two-hosts":
    refused(case, b"GET /healthz HTTP/1.1\r\n" + H + H + b"\r\n", 400,
            "two Host fields")
elif case in ("header-5k", "header-64k", "header-200k"):
    n = {"header-5k": 5000, "header-64k": 65536, "header-200k": 204800}[case]
    s = conn()
    raw = b"GET /healthz HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * n + b"\r\n\r\n"
    try:
        s.sendall(raw)
    except OSError:
        pass
    st, h, body, rest = read_answer(s)
    check(case, st == 400 and closed_after(s),
          "a %d-byte header field: %s %s" % (n, st, body[:80]))
elif case == "many-fields":
    refused(case, b"GET /healthz HTTP/1.1\r\n" + H +
            b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n",
            400, "101 header fields")
elif case == "long-line":
    refused(case, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n",
            414, "a 9,000-byte request line")
elif case == "h2-preface":
    refused(case, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505,
            "the cleartext HTTP/2 preface")
elif case == "bad-version":
    refused(case, b"GET /healthz HTTP/1.2x\r\n" + H + b"\r\n", 400,
            "a malformed version")
elif case == "enroll-huge-cl":
    # 262,144,001 bytes declared to an unauthenticated route: refused
    # after the head, before any body byte is read.
    s = conn()
    s.sendall(b"POST /v1/enroll HTTP/1.1\r\n" + H +
              b"Content-Length: 262144001\r\n\r\n")
    t0 = time.time()
    st, h, body, rest = read_answer(s)
    check(case, st == 413 and closed_after(s),
          "Content-Length 262144001 to /v1/enroll: %s in %.2f s" % (st, time.time() - t0))
elif case == "enroll-huge-chunk":
    s = conn()
    s.sendall(b"POST /v1/enroll HTTP/1.1\r\n" + H +
              b"Transfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n" + b"a" * 65536)
    st, h, body, rest = read_answer(s)
    check(case, st == 413 and closed_after(s),
          "a chunk of 7fffffffffffffff bytes to /v1/enroll: %s" % st)
elif case == "enroll-chunks-over":
    # Many small chunks that pass the limit only together.
    s = conn()
    s.sendall(b"POST /v1/enroll HTTP/1.1\r\n" + H +
              b"Transfer-Encoding: chunked\r\n\r\n")
    sent, st = 0, None
    try:
        while sent < 1 << 20:
            s.sendall(b"1000\r\n" + b"a" * 4096 + b"\r\n")
            sent += 4096
    except OSError:
        pass
    st, h, body, rest = read_answer(s)
    check(case, st == 413, "chunks past /v1/enroll's limit: %s after %d bytes sent" % (st, sent))
elif case == "submit-no-token":
    s = conn()
    s.sendall(b"POST /v1/submissions HTTP/1.1\r\n" + H +
              b"Content-Length: 40000000\r\n\r\n" + b"a" * 1000)
    st, h, body, rest = read_answer(s)
    check(case, st == 401 and closed_after(s),
          "40 MB to /v1/submissions without a token: %s before the body" % st)
elif case == "submit-bad-token":
    s = conn()
    s.sendall(b"POST /v1/submissions HTTP/1.1\r\n" + H + auth("vg1.eu.garbage") +
              b"Content-Length: 40000000\r\n\r\n")
    st, h, body, rest = read_answer(s)
    check(case, st == 401, "40 MB with a garbled token: %s before the body" % st)
elif case == "submit-chunked-no-token":
    s = conn()
    s.sendall(b"POST /v1/submissions HTTP/1.1\r\n" + H +
              b"Transfer-Encoding: chunked\r\n\r\n")
    st, h, body, rest = read_answer(s)
    check(case, st == 401, "a chunked submission without a token: %s" % st)
elif case == "chunked-ok":
    s = conn()
    s.sendall(b"POST /v1/enroll HTTP/1.1\r\n" + H +
              b"Transfer-Encoding: chunked\r\n\r\n"
              b"a;ext=1\r\n{\"consent\"\r\n9\r\n: \"none\"}\r\n0\r\nX-T: 1\r\n\r\n")
    st, h, body, rest = read_answer(s)
    check(case, st == 201 and b"token" in body, "a chunked enrolment: %s" % st)
elif case == "pipelined":
    s = conn()
    s.sendall(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n" +
              b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    st1, h1, b1, rest = read_answer(s)
    data = rest
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    check(case, st1 == 200 and h1.get("connection") == "keep-alive" and
          data.startswith(b"HTTP/1.1 200") and b"connection: close" in data,
          "two pipelined requests, the second closing: %s then %s" % (st1, data[:12]))
elif case == "expect-continue":
    s = conn()
    s.sendall(b"POST /v1/enroll HTTP/1.1\r\n" + H +
              b"Content-Length: 19\r\nExpect: 100-continue\r\n\r\n")
    st, h, body, rest = read_answer(s)
    ok = st == 100
    s.sendall(b'{"consent":"files"}')
    st2, h2, b2, rest = read_answer(s) if not rest else (None, {}, b"", b"")
    check(case, ok and st2 == 201, "Expect: 100-continue: %s then %s" % (st, st2))
elif case == "expect-too-large":
    s = conn()
    s.sendall(b"POST /v1/enroll HTTP/1.1\r\n" + H +
              b"Content-Length: 10000000\r\nExpect: 100-continue\r\n\r\n")
    st, h, body, rest = read_answer(s)
    check(case, st == 413, "Expect: 100-continue over the limit: %s (no 100)" % st)
elif case == "expect-other":
    refused(case, b"GET /healthz HTTP/1.1\r\n" + H + b"Expect: magic\r\n\r\n",
            417, "an unknown expectation")
elif case == "http10":
    s = conn()
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    st, h, body, rest = read_answer(s)
    check(case, st == 200 and closed_after(s), "HTTP/1.0 without Host: %s, closed" % st)
elif case == "head":
    # HEAD's answer is a head only (whatever its status), and the
    # request after it on the connection is answered next.
    s = conn()
    s.sendall(b"HEAD /healthz HTTP/1.1\r\n" + H + b"\r\n" +
              b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    first_head, _, after = buf.partition(b"\r\n\r\n")
    check(case, first_head.startswith(b"HTTP/1.1 ") and
          after.startswith(b"HTTP/1.1 200") and b"content-length: 0" not in first_head,
          "HEAD answers a head only (%s), then the next request" % first_head[:12])
elif case == "h2c-upgrade":
    # Upgrade: h2c is not taken: the answer is HTTP/1.1's, never 101.
    s = conn()
    s.sendall(b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: Upgrade, HTTP2-Settings\r\n"
              b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
    st, h, body, rest = read_answer(s)
    check(case, st == 200 and "upgrade" not in h, "Upgrade: h2c: %s, no upgrade" % st)
elif case == "slow-head":
    # A head that never ends is closed at the request timeout.
    s = conn()
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    t0 = time.time()
    gone = False
    try:
        for _ in range(40):
            time.sleep(0.25)
            s.sendall(b"X-A: 1\r\n")
    except OSError:
        gone = True
    gone = gone or closed_after(s, 5)
    check(case, gone and time.time() - t0 < 9,
          "a head sent a line at a time is closed after %.1f s" % (time.time() - t0))
elif case == "held-sample":
    # A 40 MB submission held open at 39 MB: its bytes are in vigild's
    # memory only (no file of h2o's in /tmp, no deleted file open), and
    # a second one that would pass max_body_memory gets 503.
    import glob, os
    pid = sys.argv[5]
    marker = b"VIGIL-PLAINTEXT-MARKER-"
    chunk = (marker * 4000)[:65536]
    s = conn()
    s.sendall(b"POST /v1/submissions HTTP/1.1\r\n" + H + auth(TOKEN) +
              b"Content-Type: application/octet-stream\r\n"
              b"Content-Length: 40000000\r\n\r\n")
    sent = 0
    while sent + 65536 <= 39000000:
        s.sendall(chunk)
        sent += 65536
    time.sleep(0.5)
    spills = glob.glob("/tmp/h2o.b.*")
    files = []
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            files.append(os.readlink("/proc/%s/fd/%s" % (pid, fd)))
        except OSError:
            pass
    deleted = [f for f in files if "(deleted)" in f or "h2o.b" in f]
    check(case, not spills and not deleted,
          "39 MB of a submission held: h2o spill files %s, deleted files open %s" % (spills, deleted))
    s2 = conn()
    s2.sendall(b"POST /v1/submissions HTTP/1.1\r\n" + H + auth(TOKEN) +
               b"Content-Length: 20000000\r\n\r\n")
    st2, h2, b2, _ = read_answer(s2)
    check(case, st2 == 503 and h2.get("retry-after") is not None,
          "a second body past max_body_memory: %s, Retry-After %s" % (st2, h2.get("retry-after")))
    rest = 40000000 - sent
    while rest > 0:
        n = min(rest, len(chunk))
        s.sendall(chunk[:n])
        rest -= n
    st, h, body, _ = read_answer(s)
    check(case, st == 202, "the held submission completes: %s" % st)
elif case == "flood-oversized":
    # N connections each declaring 250 MiB to /v1/enroll and sending
    # 4 MiB of it: each is refused at once; vigild's peak RSS stays low.
    pid, n = sys.argv[5], int(sys.argv[6])
    socks = []
    for _ in range(n):
        s = conn()
        s.sendall(b"POST /v1/enroll HTTP/1.1\r\n" + H +
                  b"Content-Length: 262144001\r\n\r\n")
        socks.append(s)
    junk = b"x" * 65536
    for s in socks:
        s.setblocking(False)
    for _ in range(64):
        for s in socks:
            try:
                s.send(junk)
            except OSError:
                pass
    codes = []
    for s in socks:
        s.setblocking(True)
        s.settimeout(10)
        try:
            st, h, body, _ = read_answer(s)
        except OSError:
            st = None
        codes.append(st)
        s.close()
    hwm = 0
    for ln in open("/proc/%s/status" % pid):
        if ln.startswith("VmHWM:"):
            hwm = int(ln.split()[1]) // 1024
    # Under ASan the quarantine alone holds up to 256 MiB of freed
    # memory: the bound is checked in the normal build.
    asan = "libasan" in open("/proc/%s/maps" % pid).read()
    check(case, all(c == 413 for c in codes) and (asan or hwm < 256),
          "%d connections declaring 250 MiB: %s; vigild's peak RSS %d MiB%s" %
          (n, sorted(set(map(str, codes))), hwm,
           " (ASan build: not held to 256 MiB)" if asan else ""))
else:
    print("FAIL unknown case " + case)
    sys.exit(2)
sys.exit(1 if failed else 0)
