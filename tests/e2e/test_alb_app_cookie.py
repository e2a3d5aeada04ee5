"""app_cookie stickiness end to end, through the real binary: a target group
of two demo-app tasks with stickiness.type app_cookie and cookie name
SESSIONID. A target that sets SESSIONID (demo-app /session?name=SESSIONID)
gets the AWSALBAPP-0..3 cookies added; a client sending both SESSIONID and
AWSALBAPP-0 stays on that target; without either, or with a forged value,
requests go round robin; when the session's target dies the session moves
to another target and stays there."""
import http.client
import os
import signal
import time

import pytest

from conftest import ROOT, Vpcd

TEMPLATE = os.path.join(ROOT, "tests", "e2e", "templates", "alb-app-cookie.json")
TG = "appck"


@pytest.fixture(scope="module")
def appck(tmp_path_factory):
    v = Vpcd(TEMPLATE, tmp_path_factory.mktemp("appck")).start()
    try:
        v.wait_healthy(TG, 2)
        yield v
    finally:
        v.stop()


def get(v, path="/", cookie=None):
    """One GET on a fresh connection: (status, [(header, value)], body)."""
    addr = v.stack()["load_balancers"][0]["nodes"][0]["address"]
    conn = http.client.HTTPConnection(addr, 80, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": "app.example.com",
                                           **({"Cookie": cookie} if cookie else {})})
        r = conn.getresponse()
        return r.status, [(k.lower(), val) for k, val in r.getheaders()], r.read().decode()
    finally:
        conn.close()


def where(body):
    """The task address:port that answered (demo-app / and /session)."""
    return body.strip().rsplit(" ", 1)[1]


def albapp(headers):
    """{name: full Set-Cookie value} of the AWSALBAPP-N cookies set."""
    return {c.split("=", 1)[0]: c for k, c in headers
            if k == "set-cookie" and c.startswith("AWSALBAPP-")}


def session(v):
    """Starts a session: (target, Cookie header value to send back)."""
    st, hs, body = get(v, "/session?name=SESSIONID")
    assert st == 200, body
    app = [c for k, c in hs if k == "set-cookie" and c.startswith("SESSIONID=")]
    assert len(app) == 1
    lb = albapp(hs)
    assert sorted(lb) == ["AWSALBAPP-0", "AWSALBAPP-1", "AWSALBAPP-2", "AWSALBAPP-3"], hs
    return where(body), app[0].split(";")[0] + "; " + lb["AWSALBAPP-0"].split(";")[0]


def test_no_app_cookie_no_stickiness(appck):
    seen = set()
    for _ in range(6):
        st, hs, body = get(appck)
        assert st == 200
        assert albapp(hs) == {}  # the target set no SESSIONID
        seen.add(where(body))
    assert len(seen) == 2  # round robin over both tasks


def test_app_cookie_starts_a_session(appck):
    st, hs, body = get(appck, "/session?name=SESSIONID")
    assert st == 200
    lb = albapp(hs)
    v0 = lb["AWSALBAPP-0"]
    value = v0.split(";")[0].split("=", 1)[1]
    assert len(value) == 48 and all(ch in "0123456789ABCDEF" for ch in value)
    assert "Path=/" in v0 and "Expires=" in v0
    for n in ("1", "2", "3"):
        assert lb["AWSALBAPP-" + n].startswith(f"AWSALBAPP-{n}=_remove_; Expires=")
    # the cookies' own expiry is 7 days
    exp = time.mktime(time.strptime(v0.split("Expires=")[1].split(";")[0],
                                    "%a, %d %b %Y %H:%M:%S GMT")) - time.timezone
    assert abs(exp - (time.time() + 7 * 86400)) < 120
    # the application's own cookie goes through untouched
    assert [c for k, c in hs if k == "set-cookie" and c.startswith("SESSIONID=")] == \
        [f"SESSIONID={where(body).replace(':', '-')}; Path=/"]


def test_session_pins_the_client(appck):
    target, cookie = session(appck)
    for _ in range(12):
        st, hs, body = get(appck, "/", cookie)
        assert st == 200 and where(body) == target
        # the session is refreshed on every response
        assert "AWSALBAPP-0" in albapp(hs)


def test_without_both_cookies_no_session(appck):
    target, cookie = session(appck)
    lb_only = cookie.split("; ", 1)[1]
    assert lb_only.startswith("AWSALBAPP-0=")
    forged = "SESSIONID=x; AWSALBAPP-0=" + "0" * 48
    for c in (lb_only, forged):
        seen = set()
        for _ in range(6):
            st, hs, body = get(appck, "/", c)
            assert st == 200 and albapp(hs) == {}
            seen.add(where(body))
        assert len(seen) == 2, (c, seen)


def test_session_moves_when_its_target_dies(appck):
    target, cookie = session(appck)
    addr = target.split(":")[0]
    victim = [t for t in appck.tasks() if t.get("address") == addr]
    assert len(victim) == 1, appck.tasks()
    os.kill(victim[0]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if all(t["state"] != "healthy" for t in appck.targets(TG) if t["id"] == addr):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(appck.targets(TG))
    st, hs, body = get(appck, "/", cookie)
    assert st == 200
    moved = where(body)
    assert moved != target
    # the session is now stuck to the new target: its cookie names it
    new = albapp(hs)["AWSALBAPP-0"].split(";")[0]
    cookie2 = cookie.split("; ")[0] + "; " + new
    appck.wait_healthy(TG, 2, timeout=30)  # the replacement task is up
    for _ in range(8):
        st, _, body = get(appck, "/", cookie2)
        assert st == 200 and where(body) == moved
