"""Every status code the ALB itself generates, each in its AWS case, through
the real binary (spec/aws-facts.md 2.3), with the access-log line's
elb_status_code / target_status_code and the HTTPCode_ELB_* counters of
/metrics; then a WebSocket echo through the load balancer to a task,
Expect: 100-continue, and slow start.

The template sets the LB's idle timeout to 2 s (408, 504). demo-app's
/sleep blocks its task, /close, /garbage and /bighead misbehave (502).

Not produced here: 413 (a Lambda target; vpcd runs no Lambda, target type
lambda is refused at load), 464 (ProtocolVersion HTTP2 or GRPC, which AWS
allows only behind HTTPS listeners: in test_alb_targets.py), 500 (WAF, authenticate actions: out of scope; a failed rule transform's
500 is in test_alb_transforms.py)."""
import base64
import hashlib
import http.client
import os
import socket
import struct
import subprocess
import time

import pytest

from conftest import ROOT, VPCD, Vpcd, metrics, node, tg_metric

TEMPLATE = os.path.join(ROOT, "tests", "e2e", "templates", "alb-status.json")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture(scope="module")
def lb(tmp_path_factory):
    v = Vpcd(TEMPLATE, tmp_path_factory.mktemp("status")).start()
    try:
        v.wait_healthy("st-main", 1)
        v.wait_healthy("st-slow", 1)
        yield v
    finally:
        v.stop()


def connect(v, timeout=5):
    s = socket.create_connection((node(v), 80), timeout=timeout)
    return s, s.getsockname()[1]


_pending = {}  # bytes read past a response, per socket


def read_response(s, timeout=5):
    """Reads one response (head + Content-Length body) or until EOF;
    returns (status, headers lower-cased, body, raw bytes of the head)."""
    s.settimeout(timeout)
    data = _pending.pop(id(s), b"")
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines[0].startswith("HTTP/") else 0
    hs = {}
    for l in lines[1:]:
        k, _, val = l.partition(":")
        hs[k.strip().lower()] = val.strip()
    n = 0 if status // 100 == 1 else int(hs.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    if len(body) > n:
        _pending[id(s)] = body[n:]
    return status, hs, body[:n].decode("utf-8", "replace"), head + b"\r\n\r\n" + body[:n]


def closed_by_peer(s, timeout=1):
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def exchange(v, raw, timeout=5):
    """raw on a fresh connection; (client port, status, headers, body,
    closed after the response)."""
    s, port = connect(v)
    try:
        s.sendall(raw)
        status, hs, body, _ = read_response(s, timeout)
        return port, status, hs, body, closed_by_peer(s)
    finally:
        s.close()


def log_line(v, port, want=True):
    """The access-log line of the request from client port port."""
    path = v.state / "access.log"
    for _ in range(100):
        if path.exists():
            for l in path.read_text().splitlines():
                f = l.split(" ")
                if len(f) > 3 and f[3].endswith(f":{port}"):
                    return f
        time.sleep(0.05)
    assert not want, f"no access-log line for client port {port}"
    return None


def lb_metric(m, name):
    keys = [k for k in m if k.startswith(name + "{") and "target_group" not in k]
    assert len(keys) == 1, (name, keys)
    return m[keys[0]]


def delta(before, after, name):
    return lb_metric(after, name) - lb_metric(before, name)


def wait_idle_target(v):
    """/sleep blocks the task: wait until it answers again."""
    conn = http.client.HTTPConnection(node(v), 80, timeout=15)
    try:
        conn.request("GET", "/", headers={"Host": "x.example.com"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def assert_elb_reply(status, hs, body, want):
    assert status == want, (status, hs, body)
    assert hs.get("server") == "awselb/2.0", hs
    assert hs.get("content-type") == "text/html", hs
    assert f"<title>{want} " in body, body


def assert_logged(f, elb, target_status="-", dispatched=False):
    assert f[0] == "http", f
    assert f[8] == str(elb), f
    assert f[9] == target_status, f
    if dispatched:
        assert f[4] != "-" and f[4].endswith(":8080"), f
    else:
        assert f[4] == "-", f


def test_400_malformed_and_over_the_header_limits(lb):
    before = metrics(lb)
    cases = [
        # not HTTP at all (a TLS ClientHello on the HTTP port)
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",
        # one header over 16 KB
        b"GET / HTTP/1.1\r\nHost: x.example.com\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n",
        # every header under 16 KB, all of them over 64 KB
        b"GET / HTTP/1.1\r\nHost: x.example.com\r\n"
        + b"".join(b"X-H%d: " % i + b"b" * 15000 + b"\r\n" for i in range(5)) + b"\r\n",
        # HTTP/1.1 without Host
        b"GET / HTTP/1.1\r\nUser-Agent: t\r\n\r\n",
    ]
    for raw in cases:
        port, status, hs, body, closed = exchange(lb, raw)
        assert_elb_reply(status, hs, body, 400)
        assert hs.get("connection") == "close" and closed, hs
        assert_logged(log_line(lb, port), 400)
    after = metrics(lb)
    assert delta(before, after, "HTTPCode_ELB_4XX_Count") == len(cases)
    assert delta(before, after, "HTTPCode_Target_2XX_Count") == 0


def test_405_trace(lb):
    before = metrics(lb)
    port, status, hs, body, closed = exchange(
        lb, b"TRACE / HTTP/1.1\r\nHost: x.example.com\r\nConnection: close\r\n\r\n")
    assert_elb_reply(status, hs, body, 405)
    f = log_line(lb, port)
    assert_logged(f, 405)
    assert '"TRACE http://x.example.com:80/ HTTP/1.1"' in " ".join(f)
    assert delta(before, metrics(lb), "HTTPCode_ELB_4XX_Count") == 1


def test_408_partial_head_past_the_idle_timeout(lb):
    before = metrics(lb)
    s, port = connect(lb, timeout=10)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x.exa")
        t0 = time.monotonic()
        status, hs, body, _ = read_response(s, timeout=10)
        waited = time.monotonic() - t0
        assert_elb_reply(status, hs, body, 408)
        assert waited >= 1.5, waited  # the 2 s idle timeout, not at once
        assert closed_by_peer(s)
    finally:
        s.close()
    f = log_line(lb, port)
    assert_logged(f, 408)
    assert '"- - - "' in " ".join(f)  # no request could be parsed
    assert delta(before, metrics(lb), "HTTPCode_ELB_4XX_Count") == 1


def test_414_uri_too_long(lb):
    before = metrics(lb)
    port, status, hs, body, closed = exchange(
        lb, b"GET /" + b"u" * 17000 + b" HTTP/1.1\r\nHost: x.example.com\r\n\r\n")
    assert_elb_reply(status, hs, body, 414)
    assert closed
    assert_logged(log_line(lb, port), 414)
    assert delta(before, metrics(lb), "HTTPCode_ELB_4XX_Count") == 1
    # a long URI under the limit is forwarded
    port, status, _, body, _ = exchange(
        lb, b"GET /echo?" + b"q" * 8000 + b" HTTP/1.1\r\nHost: x.example.com\r\n\r\n")
    assert status == 200 and "q" * 8000 in body


def test_460_client_closes_before_the_target_answers(lb):
    before = metrics(lb)
    s, port = connect(lb)
    s.sendall(b"GET /sleep?ms=1500 HTTP/1.1\r\nHost: x.example.com\r\n\r\n")
    time.sleep(0.3)
    s.close()  # the client never sees 460: only the log and the metrics do
    f = log_line(lb, port)
    assert_logged(f, 460, dispatched=True)
    assert f[5] == "-1.000" and f[6] == "-1.000", f  # no response from the target
    after = metrics(lb)
    assert delta(before, after, "HTTPCode_ELB_4XX_Count") == 1
    assert tg_metric(after, "HTTPCode_ELB_4XX_Count", "st-main") - \
        tg_metric(before, "HTTPCode_ELB_4XX_Count", "st-main") == 1
    wait_idle_target(lb)


def test_463_too_many_x_forwarded_for_addresses(lb):
    before = metrics(lb)
    many = ", ".join(f"10.1.0.{i}" for i in range(1, 32))  # 31 addresses
    port, status, hs, body, _ = exchange(
        lb, b"GET /echo HTTP/1.1\r\nHost: x.example.com\r\nX-Forwarded-For: "
        + many.encode() + b"\r\n\r\n")
    assert_elb_reply(status, hs, body, 463)
    assert_logged(log_line(lb, port), 463)
    assert delta(before, metrics(lb), "HTTPCode_ELB_4XX_Count") == 1
    # 29 and the client's own: 30, the limit, still forwarded
    ok = ", ".join(f"10.1.0.{i}" for i in range(1, 30))
    port, status, _, body, _ = exchange(
        lb, b"GET /echo HTTP/1.1\r\nHost: x.example.com\r\nX-Forwarded-For: "
        + ok.encode() + b"\r\n\r\n")
    assert status == 200
    xff = [l for l in body.splitlines() if l.lower().startswith("x-forwarded-for:")][0]
    assert len(xff.split(":", 1)[1].split(",")) == 30, xff
    # several X-Forwarded-For lines are one list: counted together ...
    first = ", ".join(f"10.2.0.{i}" for i in range(1, 17))
    second = ", ".join(f"10.3.0.{i}" for i in range(1, 16))
    port, status, hs, body, _ = exchange(
        lb, b"GET /echo HTTP/1.1\r\nHost: x.example.com\r\nX-Forwarded-For: " + first.encode()
        + b"\r\nX-Forwarded-For: " + second.encode() + b"\r\n\r\n")
    assert_elb_reply(status, hs, body, 463)
    # ... and forwarded as one line, in order, the client's address last
    port, status, _, body, _ = exchange(
        lb, b"GET /echo HTTP/1.1\r\nHost: x.example.com\r\nX-Forwarded-For: 10.4.0.1\r\n"
        b"X-Forwarded-For: 10.4.0.2, 10.4.0.3\r\n\r\n")
    assert status == 200
    xffs = [l for l in body.splitlines() if l.lower().startswith("x-forwarded-for:")]
    assert xffs == ["X-Forwarded-For: 10.4.0.1, 10.4.0.2, 10.4.0.3, 127.0.0.1"], xffs


def test_501_unsupported_transfer_encoding(lb):
    before = metrics(lb)
    port, status, hs, body, closed = exchange(
        lb, b"POST /echo HTTP/1.1\r\nHost: x.example.com\r\nTransfer-Encoding: gzip\r\n\r\n"
        b"abc")
    assert_elb_reply(status, hs, body, 501)
    assert closed
    assert_logged(log_line(lb, port), 501)
    after = metrics(lb)
    assert delta(before, after, "HTTPCode_ELB_5XX_Count") == 1
    # chunked is supported: forwarded, the body reaches the target
    port, status, _, body, _ = exchange(
        lb, b"POST /echo HTTP/1.1\r\nHost: x.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n")
    assert status == 200, body


@pytest.mark.parametrize("path", ["/close", "/garbage", "/bighead"])
def test_502_target_closes_or_answers_garbage(lb, path):
    before = metrics(lb)
    port, status, hs, body, _ = exchange(
        lb, f"GET {path} HTTP/1.1\r\nHost: x.example.com\r\n\r\n".encode())
    assert_elb_reply(status, hs, body, 502)
    assert_logged(log_line(lb, port), 502, dispatched=True)
    after = metrics(lb)
    assert delta(before, after, "HTTPCode_ELB_5XX_Count") == 1
    assert delta(before, after, "HTTPCode_ELB_502_Count") == 1
    assert tg_metric(after, "HTTPCode_ELB_502_Count", "st-main") - \
        tg_metric(before, "HTTPCode_ELB_502_Count", "st-main") == 1
    # the target itself is fine
    wait_idle_target(lb)


def test_503_no_registered_targets(lb):
    before = metrics(lb)
    port, status, hs, body, closed = exchange(
        lb, b"GET / HTTP/1.1\r\nHost: empty.example.com\r\n\r\n")
    assert_elb_reply(status, hs, body, 503)
    assert not closed  # kept (until the 2 s idle timeout): the request had no body
    f = log_line(lb, port)
    assert_logged(f, 503)
    assert "targetgroup/st-empty/" in " ".join(f)
    after = metrics(lb)
    assert delta(before, after, "HTTPCode_ELB_503_Count") == 1
    assert tg_metric(after, "HTTPCode_ELB_503_Count", "st-empty") - \
        tg_metric(before, "HTTPCode_ELB_503_Count", "st-empty") == 1


def test_504_target_slower_than_the_idle_timeout(lb):
    before = metrics(lb)
    t0 = time.monotonic()
    port, status, hs, body, _ = exchange(
        lb, b"GET /sleep?ms=3500 HTTP/1.1\r\nHost: x.example.com\r\n\r\n", timeout=10)
    waited = time.monotonic() - t0
    assert_elb_reply(status, hs, body, 504)
    assert 1.5 <= waited < 3.4, waited  # at the 2 s idle timeout, before the answer
    f = log_line(lb, port)
    assert_logged(f, 504, dispatched=True)
    after = metrics(lb)
    assert delta(before, after, "HTTPCode_ELB_504_Count") == 1
    assert delta(before, after, "HTTPCode_ELB_5XX_Count") == 1
    wait_idle_target(lb)


def ws_frame(opcode, payload, fin=True):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_read(s, buf):
    """One server frame: (fin, opcode, payload), rest of the buffer."""
    def need(k):
        nonlocal buf
        while len(buf) < k:
            chunk = s.recv(65536)
            assert chunk, "connection closed mid-frame"
            buf += chunk
    need(2)
    fin, op, masked, n = buf[0] & 0x80, buf[0] & 0x0F, buf[1] & 0x80, buf[1] & 0x7F
    assert not masked  # server frames are never masked
    off = 2
    if n == 126:
        need(4)
        n, off = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        need(10)
        n, off = struct.unpack("!Q", buf[2:10])[0], 10
    need(off + n)
    return (bool(fin), op, buf[off:off + n]), buf[off + n:]


def test_websocket_echo_through_the_lb(lb):
    key = base64.b64encode(os.urandom(16)).decode()
    s, port = connect(lb)
    try:
        s.sendall((f"GET /ws HTTP/1.1\r\nHost: x.example.com\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        s.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101 "), lines
        hs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert hs["sec-websocket-accept"] == want, hs
        assert hs["upgrade"].lower() == "websocket" and hs["connection"].lower() == "upgrade"
        buf = rest
        big = os.urandom(3000)  # 16-bit length form
        s.sendall(ws_frame(0x1, b"hello") + ws_frame(0x2, big) + ws_frame(0x9, b"png"))
        (fin, op, p), buf = ws_read(s, buf)
        assert (fin, op, p) == (True, 0x1, b"hello")
        (fin, op, p), buf = ws_read(s, buf)
        assert (fin, op, p) == (True, 0x2, big)
        (fin, op, p), buf = ws_read(s, buf)
        assert (fin, op, p) == (True, 0xA, b"png")  # pong
        for i in range(5):  # several round trips on the one tunnel
            msg = f"message {i}".encode()
            s.sendall(ws_frame(0x1, msg))
            (fin, op, p), buf = ws_read(s, buf)
            assert (op, p) == (0x1, msg)
        # a fragmented message comes back in its fragments
        s.sendall(ws_frame(0x1, b"frag-", fin=False) + ws_frame(0x0, b"ment"))
        (fin, op, p), buf = ws_read(s, buf)
        assert (fin, op, p) == (False, 0x1, b"frag-")
        (fin, op, p), buf = ws_read(s, buf)
        assert (fin, op, p) == (True, 0x0, b"ment")
        s.sendall(ws_frame(0x8, struct.pack("!H", 1000)))
        (fin, op, p), buf = ws_read(s, buf)
        assert (op, p) == (0x8, struct.pack("!H", 1000))
        assert closed_by_peer(s)
    finally:
        s.close()
    # one access-log entry for the connection, written at close, type ws
    f = log_line(lb, port)
    assert f[0] == "ws" and f[8] == "101" and f[9] == "101", f


def test_expect_100_continue(lb):
    s, port = connect(lb)
    try:
        body = b"hello world"
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x.example.com\r\nContent-Length: 11\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        s.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        # the 100 comes before the body is sent, and alone
        assert data == b"HTTP/1.1 100 Continue\r\n\r\n", data
        s.sendall(body)
        status, hs, text, raw = read_response(s)
        assert status == 200, raw
        assert b"100 Continue" not in raw  # exactly one 100
        assert text.endswith("\n\nhello world"), text  # the body reached the target
        assert "expect:" not in text.lower()  # the ALB removed the Expect header
    finally:
        s.close()
    # also for a request the ALB answers itself (AWS answers 100 first)
    s, port = connect(lb)
    try:
        s.sendall(b"POST / HTTP/1.1\r\nHost: empty.example.com\r\nContent-Length: 0\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        status, hs, _, raw = read_response(s)
        assert status == 100, raw
        status, hs, _, raw = read_response(s)
        assert status == 503 and hs.get("server") == "awselb/2.0", raw
    finally:
        s.close()


def test_slow_start_ramps_a_new_target_up(lb):
    first = [t for t in lb.targets("st-slow") if t["state"] == "healthy"]
    assert len(first) == 1
    old = f'{first[0]["id"]}:{first[0]["port"]}'
    out = subprocess.run([VPCD, "apply", TEMPLATE, "--param", "SlowCount=2", "--api", lb.api],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    both = lb.wait_healthy("st-slow", 2, timeout=30)
    new = [f'{t["id"]}:{t["port"]}' for t in both if f'{t["id"]}:{t["port"]}' != old][0]

    def window(n=60):
        seen = {}
        conn = http.client.HTTPConnection(node(lb), 80, timeout=5)
        try:
            for _ in range(n):
                conn.request("GET", "/", headers={"Host": "slow.example.com"})
                r = conn.getresponse()
                body = r.read().decode()
                assert r.status == 200, body
                t = body.rsplit(" ", 1)[1].strip()
                seen[t] = seen.get(t, 0) + 1
        finally:
            conn.close()
        return seen

    def new_count(seen):
        assert set(seen) <= {old, new}, (old, new, seen)
        return seen.get(new, 0)

    # just healthy: a share near 0 (round robin alone would give it 30)
    early = new_count(window())
    time.sleep(13)  # about half way through the 30 s ramp
    middle = new_count(window())
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        time.sleep(2)
        late = new_count(window())
        if late >= 25:
            break
    assert early <= 15, early
    assert middle > early and 5 <= middle <= 40, (early, middle)
    assert 25 <= late <= 35, (early, middle, late)  # ramp over: round robin
