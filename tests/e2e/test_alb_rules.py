"""ALB listener rules end to end, through the real binary: every condition
type, fixed-response, redirect, weighted forwarding and the AWSALBTG
stickiness cookie, a source refused by the LB's security group, the access
log line of a request and the /metrics counters."""
import http.client
import os
import socket
import time
import urllib.request

import pytest

from conftest import ROOT, Vpcd, node, metrics

TEMPLATE = os.path.join(ROOT, "tests", "e2e", "templates", "alb-rules.json")


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    v = Vpcd(TEMPLATE, tmp_path_factory.mktemp("rules")).start()
    try:
        v.wait_healthy("rules-a", 1)
        v.wait_healthy("rules-b", 1)
        yield v
    finally:
        v.stop()


def request(v, path="/", host="x.example.com", method="GET", headers=None, source=None):
    """One request on a fresh connection, optionally from a chosen source
    address; returns (status, headers dict lower-cased, body text)."""
    conn = http.client.HTTPConnection(node(v), 80, timeout=5,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        r = conn.getresponse()
        hs = {}
        for k, val in r.getheaders():
            hs.setdefault(k.lower(), []).append(val)
        return r.status, hs, r.read().decode(errors="replace")
    finally:
        conn.close()


def test_default_action_forwards_to_service_a(rules):
    st, _, body = request(rules, "/")
    assert st == 200
    assert "hello from svc-a" in body


def test_path_pattern_fixed_response(rules):
    st, hs, body = request(rules, "/fixed/x?y=1")
    assert st == 418
    assert body == "teapot-body"
    assert hs["content-type"] == ["text/plain"]
    assert hs["server"] == ["awselb/2.0"]
    # case-sensitive: /FIXED is not /fixed*
    st, _, body = request(rules, "/FIXED")
    assert st != 418 and body != "teapot-body"


def test_redirect_location_exact(rules):
    st, hs, _ = request(rules, "/old/page?a=b", host="redir.example.com")
    assert st == 301
    assert hs["location"] == ["https://redir.example.com:443/new/old/page?a=b&r=1"]


def test_http_header_condition(rules):
    assert request(rules, "/", headers={"x-route": "BETA"})[2] == "rule-header"
    assert "hello from" in request(rules, "/", headers={"x-route": "alpha"})[2]


def test_method_condition(rules):
    assert request(rules, "/", method="PATCH")[2] == "rule-method"
    assert "hello from" in request(rules, "/", method="GET")[2]


def test_query_string_condition(rules):
    assert request(rules, "/?MODE=QUICK")[2] == "rule-query"
    assert request(rules, "/?x=1&mode=q%75ick")[2] == "rule-query"  # percent-decoded
    assert "hello from" in request(rules, "/?mode=slow")[2]


def test_source_ip_condition(rules):
    # 127.N.2.50 is 10.0.2.50 in the VPC: inside SourceIpConfig 10.0.2.0/24
    inside = f"{rules.prefix}.2.50"
    assert request(rules, "/", source=inside)[2] == "rule-source"
    assert "hello from" in request(rules, "/", source=f"{rules.prefix}.1.50")[2]


def test_regex_path_condition(rules):
    assert request(rules, "/re/123")[2] == "rule-regex"
    st, _, body = request(rules, "/re/12x")
    assert st == 404 and body != "rule-regex"  # went on to the target


def test_path_and_host_forward_to_b(rules):
    assert "hello from svc-b" in request(rules, "/", host="q.example.net")[2]
    assert "hello from svc-a" in request(rules, "/", host="q.example.org")[2]


def test_weighted_forward_distribution(rules):
    n, b = 200, 0
    for _ in range(n):
        st, _, body = request(rules, "/", host="w.example.com")
        assert st == 200
        b += "svc-b" in body
    # weights 1:3 -> 150 expected; a wide tolerance keeps this from flaking
    assert 110 <= b <= 190, b


def test_target_group_stickiness_cookie(rules):
    st, hs, body = request(rules, "/", host="s.example.com")
    assert st == 200
    cookies = hs["set-cookie"]
    tg = [c for c in cookies if c.startswith("AWSALBTG=")]
    cors = [c for c in cookies if c.startswith("AWSALBTGCORS=")]
    assert tg and cors
    assert "SameSite=None" in cors[0] and "Secure" in cors[0]
    value = tg[0].split(";")[0].split("=", 1)[1]
    first = "svc-b" if "svc-b" in body else "svc-a"
    for _ in range(30):
        st, _, body = request(rules, "/", host="s.example.com",
                              headers={"Cookie": f"AWSALBTG={value}"})
        assert st == 200 and first in body


def test_security_group_refuses_outside_source(rules):
    # ingress allows 10.0.0.0/20; 127.N.200.5 is 10.0.200.5, outside it
    s = socket.socket()
    s.settimeout(5)
    s.bind((f"{rules.prefix}.200.5", 0))
    try:
        s.connect((node(rules), 80))
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x.example.com\r\n\r\n")
            data = s.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        assert data == b""  # closed at accept, never answered
    finally:
        s.close()
    # the same request from inside the range is served
    assert request(rules, "/", source=f"{rules.prefix}.1.7")[0] == 200


def test_access_log_line(rules):
    request(rules, "/fixed/logme?z=9", headers={"User-Agent": "alb-e2e/1"})
    path = rules.state / "access.log"
    line = None
    for _ in range(100):
        if path.exists():
            lines = [l for l in path.read_text().splitlines() if "/fixed/logme" in l]
            if lines:
                line = lines[-1]
                break
        time.sleep(0.05)
    assert line is not None
    f = line.split(" ")
    assert f[0] == "http"
    assert f[1].endswith("Z") and "T" in f[1]
    assert f[2].startswith("app/rules-lb/")
    assert f[4] == "-"                     # not dispatched to a target
    assert f[5:8] == ["-1.000", "-1.000", "-1.000"]
    assert f[8] == "418" and f[9] == "-"
    assert f'"GET http://x.example.com:80/fixed/logme?z=9 HTTP/1.1" "alb-e2e/1"' in line
    assert ' 1 ' in line                   # matched_rule_priority
    assert '"fixed-response"' in line


def test_metrics_count_requests(rules):
    tgb = [t for t in rules.stack()["target_groups"] if t["name"] == "rules-b"][0]
    before = metrics(rules)
    key = [k for k in before if k.startswith("RequestCount{") and "rules-b" in k][0]
    k2 = key.replace("RequestCount", "HTTPCode_Target_2XX_Count")
    for _ in range(7):
        assert request(rules, "/", host="m.example.net")[0] == 200
    after = metrics(rules)
    assert after[key] - before[key] == 7
    assert after[k2] - before[k2] == 7
    trt = key.replace("RequestCount", "TargetResponseTime_count")
    assert after[trt] - before[trt] == 7
    assert after[trt.replace("_count", "_sum")] >= before[trt.replace("_count", "_sum")]
    healthy = [k for k in after if k.startswith("HealthyHostCount{") and "rules-b" in k][0]
    assert after[healthy] == 1
    assert tgb["name"] == "rules-b"


def test_status_and_stack_json_describe_rules(rules):
    import subprocess
    from conftest import VPCD
    out = subprocess.run([VPCD, "status", "--api", rules.api], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert "fixed-response 418" in out
    assert "forward to rules-a:1,rules-b:3" in out
    assert "header=x-route:b*" in out
    listener = rules.stack()["load_balancers"][0]["listeners"][0]
    redirect = [r for r in listener["rules"] if r["priority"] == 2][0]["actions"][0]
    assert redirect["redirect_config"]["status_code"] == "HTTP_301"
    query = [r for r in listener["rules"] if r["priority"] == 5][0]["conditions"][0]
    assert query["field"] == "query-string"
    assert query["values"] == [{"key": "mode", "value": "q*"}]


def test_invalid_group_cookie_is_logged_and_routed_by_weight(rules):
    st, hs, _ = request(rules, "/?invalid-cookie", host="s.example.com",
                        headers={"Cookie": "AWSALBTG=not-ours"})
    assert st == 200
    assert any(c.startswith("AWSALBTG=") for c in hs["set-cookie"])  # a fresh one
    path = rules.state / "access.log"
    line = None
    for _ in range(100):
        lines = [l for l in path.read_text().splitlines() if "?invalid-cookie" in l]
        if lines:
            line = lines[-1]
            break
        time.sleep(0.05)
    assert line is not None and '"AWSALBTGCookieInvalid"' in line
