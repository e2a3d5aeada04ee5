"""ALB behaviour the issue-4 audit found covered by unit tests only, through
the real binary: rule priorities (and swapping them with `vpcd apply`),
fail open when every target is unhealthy, health check matchers and
Target.ResponseCodeMismatch, weighted_random told apart from round robin,
http-header and host-header RegexValues (and a refused lookahead at load
time), and 504 when a target accepts no connection within 10 s."""
import http.client
import json
import os
import subprocess
import time

import pytest

from conftest import ROOT, VPCD, Vpcd, metrics, node, tg_metric

TEMPLATE = os.path.join(ROOT, "tests", "e2e", "templates", "alb-behaviour.json")


@pytest.fixture(scope="module")
def beh(tmp_path_factory):
    v = Vpcd(TEMPLATE, tmp_path_factory.mktemp("behaviour")).start()
    try:
        v.wait_healthy("beh-main", 2)
        v.wait_healthy("beh-random", 2)
        yield v
    finally:
        v.stop()


def request(v, host, path="/", headers=None, conn=None, timeout=5):
    """One GET (on conn if given, else on a fresh connection); returns
    (status, body text)."""
    c = conn or http.client.HTTPConnection(node(v), 80, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host, **(headers or {})})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        if conn is None:
            c.close()


def which(body):
    """The task address:port of a demo-app "/" answer."""
    assert body.startswith("hello from "), body
    return body.rsplit(" ", 1)[1].strip()


def wait_for(what, fn, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {fn()}")


def apply(v, template, *params):
    args = [VPCD, "apply", str(template), "--api", v.api]
    for p in params:
        args += ["--param", p]
    r = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, (r.stdout, r.stderr, v.logs())


def test_lower_priority_number_wins_and_apply_swaps(beh):
    # both rules match: host prio.example.com (10) and path /prio* (20)
    assert request(beh, "prio.example.com", "/prio/x") == (200, "host-rule")
    assert request(beh, "other.example.com", "/prio/x") == (200, "path-rule")
    apply(beh, TEMPLATE, "HostRulePriority=25")
    assert request(beh, "prio.example.com", "/prio/x") == (200, "path-rule")
    assert request(beh, "prio.example.com", "/") == (200, "host-rule")
    apply(beh, TEMPLATE, "HostRulePriority=10")
    assert request(beh, "prio.example.com", "/prio/x") == (200, "host-rule")


def unhealthy(v, tg, n):
    ts = v.targets(tg)
    return len(ts) == n and all(t["state"] == "unhealthy" for t in ts) and ts


def test_fail_open_when_every_target_is_unhealthy(beh):
    # both failopen tasks answer their health check 500
    ts = wait_for("2 unhealthy failopen targets", lambda: unhealthy(beh, "beh-failopen", 2))
    assert {t["reason"] for t in ts} == {"Target.ResponseCodeMismatch"}, ts
    seen = set()
    for _ in range(10):
        status, body = request(beh, "fo.example.com")
        assert status == 200, body
        assert body.startswith("hello from failopen"), body
        seen.add(which(body))
    assert seen == {f"{t['id']}:{t['port']}" for t in ts}, (seen, ts)
    m = metrics(beh)
    assert tg_metric(m, "HealthyHostCount", "beh-failopen") == 0
    assert tg_metric(m, "UnHealthyHostCount", "beh-failopen") == 2


@pytest.mark.parametrize("tg,want", [("beh-m-range", "healthy"), ("beh-m-list", "healthy"),
                                     ("beh-m-exact", "healthy"),
                                     ("beh-m-mismatch", "unhealthy")])
def test_matcher_http_code(beh, tg, want):
    # the matcher task answers its health check 202
    ts = wait_for(f"{tg} {want}", lambda: [t for t in beh.targets(tg) if t["state"] == want])
    assert len(beh.targets(tg)) == 1
    if want == "unhealthy":
        assert ts[0]["reason"] == "Target.ResponseCodeMismatch", ts
        # fail open: still answered by the task
        status, body = request(beh, "mismatch.example.com")
        assert status == 200 and body.startswith("hello from matcher"), body
    else:
        assert ts[0]["reason"] is None, ts


def picks(v, host, n):
    """The targets of n requests on one keep-alive connection (one worker)."""
    c = http.client.HTTPConnection(node(v), 80, timeout=5)
    try:
        out = []
        for _ in range(n):
            status, body = request(v, host, conn=c)
            assert status == 200, body
            out.append(which(body))
        return out
    finally:
        c.close()


def test_weighted_random_is_not_round_robin(beh):
    # round robin on one connection alternates strictly between two targets
    rr = picks(beh, "x.example.com", 20)
    assert len(set(rr)) == 2 and all(a != b for a, b in zip(rr, rr[1:])), rr
    # weighted_random, equal weights: each pick is a fair coin. Strict
    # alternation over 100 picks has probability 2^-99 (< 1e-29); fewer than
    # 20 of one target P(Bin(100, 1/2) < 20) * 2 < 2e-9. False failure < 2e-9.
    wr = picks(beh, "rnd.example.com", 100)
    counts = {t: wr.count(t) for t in set(wr)}
    assert len(counts) == 2 and min(counts.values()) >= 20, counts
    assert any(a == b for a, b in zip(wr, wr[1:])), wr


def test_http_header_regex_values(beh):
    # header values match without regard to case (spec alb.md, http-header)
    for v in ("v1.0", "v12.345", "V1.0"):
        assert request(beh, "x.example.com", headers={"X-Api-Version": v}) == \
            (200, "header-regex"), v
    for v in ("v1", "1.0", "v1.0-beta", "xv1.0"):
        status, body = request(beh, "x.example.com", headers={"X-Api-Version": v})
        assert status == 200 and body.startswith("hello from main"), (v, body)


def test_host_header_regex_values(beh):
    assert request(beh, "api-orders.example.org") == (200, "host-regex")
    assert request(beh, "api-orders.example.org:80") == (200, "host-regex")
    for h in ("api-1.example.org", "xapi-orders.example.org", "api-orders.example.org.evil"):
        status, body = request(beh, h)
        assert status == 200 and body.startswith("hello from main"), (h, body)


def test_validate_refuses_a_lookahead_regex(tmp_path):
    t = json.load(open(TEMPLATE))
    t["Resources"]["RuleHostRegex"]["Properties"]["Conditions"][0]["HostHeaderConfig"][
        "RegexValues"] = ["^api-(?=x)[a-z]+$"]
    f = tmp_path / "lookahead.json"
    text = json.dumps(t, indent=2)
    f.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "(?=x)" in l)
    col = text.splitlines()[line - 1].index('"^api') + 1
    r = subprocess.run([VPCD, "validate", "lookahead.json"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1, (r.stdout, r.stderr)
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"lookahead.json:{line}:{col}: error: Resources.RuleHostRegex."
                            "Properties.Conditions[0].HostHeaderConfig.RegexValues[0]: "), first
    assert "lookahead" in first, first


def test_504_when_the_target_accepts_no_connection(beh):
    # the hole task's listening socket has its backlog full and never
    # accepts: the ALB's SYNs go unanswered until its 10 s connect timeout
    wait_for("a hole target", lambda: beh.targets("beh-hole"))
    before = metrics(beh)
    t0 = time.monotonic()
    c = http.client.HTTPConnection(node(beh), 80, timeout=30)
    try:
        c.request("GET", "/", headers={"Host": "hole.example.com"})
        r = c.getresponse()
        status, server = r.status, r.getheader("Server")
        r.read()
    finally:
        c.close()
    took = time.monotonic() - t0
    assert status == 504 and server == "awselb/2.0", (status, server)
    assert 9 <= took < 25, took
    after = metrics(beh)
    key = [k for k in after if k.startswith("HTTPCode_ELB_504_Count{") and
           "target_group" not in k][0]
    assert after[key] - before.get(key, 0) == 1
