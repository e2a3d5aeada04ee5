"""ALB listener-rule transforms end to end, through the real binary: a rule
that rewrites Host and URL in front of a demo-app task (its /echo answers the
request head it received), a rule whose regexes do not match (the request is
unchanged), a rewrite that does not re-route, the ALB's 500 for a rewrite
that fails, the access log keeping the request as received, and the exact
load error of a bad Transforms."""
import http.client
import os
import subprocess
import time

import pytest

from conftest import ROOT, VPCD, Vpcd

TEMPLATE = os.path.join(ROOT, "tests", "e2e", "templates", "alb-transforms.json")


@pytest.fixture(scope="module")
def xf(tmp_path_factory):
    v = Vpcd(TEMPLATE, tmp_path_factory.mktemp("transforms")).start()
    try:
        v.wait_healthy("xform-a", 1)
        yield v
    finally:
        v.stop()


def request(v, path, host):
    """One GET on a fresh connection; returns (status, body text)."""
    addr = v.stack()["load_balancers"][0]["nodes"][0]["address"]
    conn = http.client.HTTPConnection(addr, 80, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def echoed(body):
    """The request line and Host the target saw, from /echo's answer."""
    lines = body.splitlines()
    host = [l.split(": ", 1)[1] for l in lines[1:] if l.lower().startswith("host: ")]
    return lines[0], host


def test_host_and_url_rewritten(xf):
    st, body = request(xf, "/api/items?id=7", "eu.shop.example.com")
    assert st == 200, body
    line, host = echoed(body)
    assert line == "GET /echo?from=items&id=7 HTTP/1.1"
    assert host == ["eu.internal.example"]
    # the host regex is case-insensitive; the Host sent on is lower-cased
    st, body = request(xf, "/api/a/b", "US.Shop.Example.com")
    assert st == 200, body
    assert echoed(body) == ("GET /echo?from=a/b& HTTP/1.1", ["us.internal.example"])


def test_no_match_leaves_request_unchanged(xf):
    # RuleRewrite's host regex does not match: only the URL changes
    st, body = request(xf, "/api/x", "plain.example.org")
    assert st == 200, body
    assert echoed(body) == ("GET /echo?from=x& HTTP/1.1", ["plain.example.org"])
    # RuleNoMatch matches the request but neither of its regexes does
    st, body = request(xf, "/echo?q=1", "keep.example.com")
    assert st == 200, body
    assert echoed(body) == ("GET /echo?q=1 HTTP/1.1", ["keep.example.com"])


def test_rewrite_does_not_reroute(xf):
    # a request that arrives with the rewritten host goes to RuleInternal ...
    st, body = request(xf, "/other", "eu.internal.example")
    assert (st, body) == (418, "routed-by-internal-host")
    # ... but a request rewritten to it stays with the rule that matched it
    st, body = request(xf, "/api/z", "eu.shop.example.com")
    assert st == 200 and echoed(body)[1] == ["eu.internal.example"]


def test_failed_rewrite_is_500(xf):
    st, _ = request(xf, "/bad/thing", "x.example.com")  # result without a leading "/"
    assert st == 500
    st, _ = request(xf, "/badhost", "x.example.com")  # a space in the host
    assert st == 500
    # the listener keeps serving
    assert request(xf, "/echo", "x.example.com")[0] == 200


def test_access_log_keeps_request_as_received(xf):
    request(xf, "/api/logged?k=v", "eu.shop.example.com")
    path = xf.state / "access.log"
    line = None
    for _ in range(100):
        if path.exists():
            lines = [l for l in path.read_text().splitlines() if "/api/logged" in l]
            if lines:
                line = lines[-1]
                break
        time.sleep(0.05)
    assert line is not None
    assert '"GET http://eu.shop.example.com:80/api/logged?k=v HTTP/1.1"' in line
    assert " 200 200 " in line
    # AWS's transformed_host, transformed_uri, request_transform_status close the line
    assert line.endswith(' "eu.internal.example" "/echo?from=logged&k=v" "-"'), line
    request(xf, "/echo?plain=1", "plain.example.com")  # matched, nothing rewritten
    for _ in range(100):
        lines = [l for l in path.read_text().splitlines() if "/echo?plain=1" in l]
        if lines:
            break
        time.sleep(0.05)
    assert lines and lines[-1].endswith(' - "-" "-" "-"'), lines


def test_bad_transform_template_error(tmp_path):
    with open(TEMPLATE) as f:
        text = f.read()
    bad = text.replace('"Replace": "/never/$1"', '"Replace": "/never/$1", "Flags": "i"', 1)
    bad = bad.replace('"Regex": "^/bad/(.*)$"', '"Regex": "^/bad/(?=x)(.*)$"', 1)
    assert bad != text
    p = tmp_path / "bad.json"
    p.write_text(bad)
    r = subprocess.run([VPCD, "validate", str(p)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    flags = [l for l in lines if "Flags" in l]
    assert len(flags) == 1 and flags[0].endswith(
        "error: Resources.RuleNoMatch.Properties.Transforms[1].UrlRewriteConfig.Rewrites[0]"
        ".Flags: unknown property"), r.stderr
    assert flags[0].startswith(f"{p}:")
    look = [l for l in lines if "lookaheads" in l]
    assert len(look) == 1 and look[0].endswith(
        "error: Resources.RuleBadUrl.Properties.Transforms[0].UrlRewriteConfig.Rewrites[0]"
        '.Regex: regular expressions here do not support lookaheads; found "^/bad/(?=x)(.*)$"'
    ), r.stderr
    # FILE:LINE:COL of the offending node
    ln, col = look[0][len(str(p)) + 1:].split(":")[:2]
    assert int(ln) > 0 and int(col) > 0
    assert '"^/bad/(?=x)(.*)$"' in bad.splitlines()[int(ln) - 1]


def test_stack_json_lists_transforms(xf):
    rules = xf.stack()["load_balancers"][0]["listeners"][0]["rules"]
    r1 = [r for r in rules if r["priority"] == 1][0]
    assert r1["transforms"] == [
        {"type": "host-header-rewrite", "host_header_rewrite_config": {"rewrites": [
            {"regex": r"^(\w+)\.shop\.example\.com$", "replace": "$1.internal.example"}]}},
        {"type": "url-rewrite", "url_rewrite_config": {"rewrites": [
            {"regex": r"^/api/([^?]*)(\?(.*))?$", "replace": "/echo?from=$1&$3"}]}},
    ]
    assert [r for r in rules if r["priority"] == 3][0]["transforms"] == []
