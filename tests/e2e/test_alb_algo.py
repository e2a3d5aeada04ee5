"""Target-group algorithms end to end, through the real binary:
least_outstanding_requests sends to the target with no request in flight,
weighted_random spreads over both targets (demo-app /sleep is the slow
request), the AWSALB cookie (lb_cookie stickiness) pins a client."""
import http.client
import os
import threading
import time

import pytest

from conftest import ROOT, Vpcd, node

TEMPLATE = os.path.join(ROOT, "tests", "e2e", "templates", "alb-algo.json")


@pytest.fixture(scope="module")
def algo(tmp_path_factory):
    v = Vpcd(TEMPLATE, tmp_path_factory.mktemp("algo")).start()
    try:
        v.wait_healthy("algo-lor", 2)
        v.wait_healthy("algo-random", 2)
        yield v
    finally:
        v.stop()


def get(v, host, path="/", headers=None):
    conn = http.client.HTTPConnection(node(v), 80, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        r = conn.getresponse()
        return r.status, {k.lower(): val for k, val in r.getheaders()}, r.read().decode()
    finally:
        conn.close()


def which(body):
    """The task address:port of a demo-app "/" answer."""
    assert body.startswith("hello from "), body
    return body.rsplit(" ", 1)[1].strip()


def test_least_outstanding_prefers_the_idle_target(algo):
    # a slow request (demo-app /sleep) stays in flight on its target
    slow = {}

    def hold():
        slow["r"] = get(algo, "lor.example.com", "/sleep?ms=1500")

    th = threading.Thread(target=hold)
    th.start()
    time.sleep(0.3)
    seen = [which(get(algo, "lor.example.com")[2]) for _ in range(10)]
    th.join()
    assert slow["r"][0] == 200, slow
    busy = slow["r"][2].rsplit(" ", 1)[1].strip()
    assert set(seen) == set(seen[:1]) and busy not in seen, (busy, seen)
    # idle again: ties go round robin over both
    seen = [which(get(algo, "lor.example.com")[2]) for _ in range(10)]
    assert len(set(seen)) == 2 and busy in seen, seen


def test_weighted_random_spreads_over_both(algo):
    seen = {}
    for _ in range(60):
        t = which(get(algo, "random.example.com")[2])
        seen[t] = seen.get(t, 0) + 1
    assert len(seen) == 2, seen
    # uniform: 30 each expected; 10 is far in the tail
    assert min(seen.values()) >= 10, seen


def test_awsalb_cookie_pins_a_client(algo):
    status, h, body = get(algo, "random.example.com")
    assert status == 200
    first = which(body)
    cookies = [v for k, v in http_headers(algo, "random.example.com") if k == "set-cookie"]
    assert any(c.startswith("AWSALB=") and "Path=/" in c for c in cookies), cookies
    assert any(c.startswith("AWSALBCORS=") and "SameSite=None; Secure" in c for c in cookies)
    # the cookie of a response names the target that answered it
    for _ in range(5):
        hs, body = raw_get(algo, "random.example.com")
        v = [c for k, c in hs if k == "set-cookie" and c.startswith("AWSALB=")][0]
        pinned = which(body)
        value = v.split(";")[0]
        seen = set()
        for _ in range(15):
            hs2, body2 = raw_get(algo, "random.example.com", {"Cookie": value})
            seen.add(which(body2))
            again = [c for k, c in hs2 if k == "set-cookie" and c.startswith("AWSALB=")]
            assert again and again[0].split(";")[0] == value
        assert seen == {pinned}, (pinned, seen)
    assert first
    # a forged or foreign cookie: a new pick, a new cookie
    hs, body = raw_get(algo, "random.example.com", {"Cookie": "AWSALB=" + "0" * 32})
    assert hs and [c for k, c in hs if k == "set-cookie" and c.startswith("AWSALB=")][0] != \
        "AWSALB=" + "0" * 32


def raw_get(v, host, headers=None):
    conn = http.client.HTTPConnection(node(v), 80, timeout=5)
    try:
        conn.request("GET", "/", headers={"Host": host, **(headers or {})})
        r = conn.getresponse()
        return [(k.lower(), val) for k, val in r.getheaders()], r.read().decode()
    finally:
        conn.close()


def http_headers(v, host):
    return raw_get(v, host)[0]
