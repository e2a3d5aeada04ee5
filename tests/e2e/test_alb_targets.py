"""Target groups beyond ECS services, through the real binary: static ip
Targets (the test runs the targets itself: small HTTP servers on loopback
addresses inside the vpcd's own /16), health checks on a HealthCheckPort
other than the traffic port, `vpcd apply` moving the Targets, and
ProtocolVersion HTTP2/GRPC groups: refused behind an HTTP listener (AWS),
464 for the HTTP/1.1 requests an HTTPS listener routes to them.

Health checks run every 5 s with thresholds 2, so each state change takes
about 10 s; waits are bounded at 40 s."""
import http.client
import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import VPCD, Vpcd

HC = {"HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
      "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2,
      "HealthCheckPath": "/health"}


def tg(name, targets, **props):
    p = {"Protocol": "HTTP", "Port": 8080, "TargetType": "ip", "VpcId": {"Ref": "VPC"},
         "Name": name, "Targets": targets, **HC,
         "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds",
                                    "Value": "3"}]}
    p.update(props)
    return {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": p}


def template():
    r = {
        "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "VPC"}, "CidrBlock": "10.0.1.0/24",
            "AvailabilityZone": "us-east-1a"}},
        "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "VPC"}, "CidrBlock": "10.0.2.0/24",
            "AvailabilityZone": "us-east-1b"}},
        "LB": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Name": "targets-lb", "Scheme": "internal",
            "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]}},
        "TGStatic": tg("tg-static", [{"Id": "10.0.1.200"}]),
        "TGHcPort": tg("tg-hcport", [{"Id": "10.0.2.201", "AvailabilityZone": "us-east-1b"}],
                       HealthCheckPort="8081"),
        "TGH2": tg("tg-h2", [{"Id": "10.0.1.202"}], ProtocolVersion="HTTP2"),
        "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "Port": 80, "Protocol": "HTTP", "LoadBalancerArn": {"Ref": "LB"},
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TGStatic"}}]}},
        "RuleHc": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
            "ListenerArn": {"Ref": "Listener"}, "Priority": 10,
            "Conditions": [{"Field": "host-header", "Values": ["hc.example.com"]}],
            "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TGHcPort"}}]}},
        "Secure": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "Port": 443, "Protocol": "HTTPS", "LoadBalancerArn": {"Ref": "LB"},
            "Certificates": [{"CertificateArn":
                              "arn:aws:acm:us-east-1:123456789012:certificate/x"}],
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TGH2"}}]}},
    }
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": r}


class Target:
    """An HTTP server on (addr, port): every path answers 200 with its name,
    /health answers health_status. stop() also closes the keep-alive
    connections the ALB pools, as a stopped process would."""

    def __init__(self, addr, port, name, health_status=200):
        self.addr, self.port, self.name = addr, port, name
        self.health_status = health_status
        self.srv = None
        self.conns = set()
        self.lock = threading.Lock()

    def start(self):
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with me.lock:
                    me.conns.add(self.connection)

            def finish(self):
                with me.lock:
                    me.conns.discard(self.connection)
                super().finish()

            def do_GET(self):
                status = me.health_status if self.path == "/health" else 200
                body = me.name.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer((self.addr, self.port), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns.clear()


def write_template(path, t):
    path.write_text(json.dumps(t))
    return str(path)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("targets")
    tpl = write_template(d / "targets.json", template())
    v = Vpcd(tpl, d)
    p = v.prefix
    servers = {
        "static": Target(f"{p}.1.200", 8080, "static-200"),
        "traffic": Target(f"{p}.2.201", 8080, "traffic-201", health_status=503),
        "health": Target(f"{p}.2.201", 8081, "health-201"),
    }
    for s in servers.values():
        s.start()
    v.start()
    try:
        yield v, servers, d
    finally:
        v.stop()
        for s in servers.values():
            s.stop()


def node(v):
    return v.stack()["load_balancers"][0]["nodes"][0]["address"]


def get(v, host="x.example.com", port=80):
    conn = http.client.HTTPConnection(node(v), port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": host})
        r = conn.getresponse()
        return r.status, r.getheader("Server"), r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def metrics(v):
    with urllib.request.urlopen(f"http://{v.api}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for l in text.splitlines():
        if l and not l.startswith("#"):
            k, val = l.rsplit(" ", 1)
            out[k] = float(val)
    return out


def tg_metric(m, name, tg_name):
    keys = [k for k in m if k.startswith(name + "{") and f"/{tg_name}/" in k]
    assert len(keys) == 1, (name, tg_name, keys)
    return m[keys[0]]


def lb_metric(m, name):
    keys = [k for k in m if k.startswith(name + "{") and "target_group" not in k]
    assert len(keys) == 1, (name, keys)
    return m[keys[0]]


def wait_state(v, tg_name, addr, port, state, timeout=40):
    deadline = time.monotonic() + timeout
    ts = []
    while time.monotonic() < deadline:
        ts = v.targets(tg_name)
        if any(t["id"] == addr and t["port"] == port and t["state"] == state for t in ts):
            return ts
        time.sleep(0.1)
    raise AssertionError(f"{addr}:{port} not {state} in {tg_name}: {ts}\n{v.logs()}")


def log_lines(v, want):
    path = v.state / "access.log"
    for _ in range(100):
        if path.exists():
            lines = [l.split(" ") for l in path.read_text().splitlines()]
            found = [f for f in lines if want(f)]
            if found:
                return found
        time.sleep(0.05)
    return []


def test_static_ip_target_is_health_checked_and_routed(env):
    v, servers, _ = env
    addr = f"{v.prefix}.1.200"
    ts = wait_state(v, "tg-static", addr, 8080, "healthy")
    assert [(t["id"], t["port"]) for t in ts] == [(addr, 8080)]
    assert get(v)[0::2] == (200, "static-200")
    m = metrics(v)
    assert tg_metric(m, "HealthyHostCount", "tg-static") == 1
    assert tg_metric(m, "UnHealthyHostCount", "tg-static") == 0

    servers["static"].stop()
    ts = wait_state(v, "tg-static", addr, 8080, "unhealthy")
    t = [t for t in ts if t["id"] == addr][0]
    assert t["reason"] in ("Target.FailedHealthChecks", "Target.Timeout"), t
    m = metrics(v)
    assert tg_metric(m, "HealthyHostCount", "tg-static") == 0
    assert tg_metric(m, "UnHealthyHostCount", "tg-static") == 1
    # AWS fails open: every target unhealthy, requests still go to them;
    # this one refuses the connection, so the ALB answers 502
    status, server, _ = get(v)
    assert (status, server) == (502, "awselb/2.0")

    servers["static"].start()
    wait_state(v, "tg-static", addr, 8080, "healthy")
    assert get(v)[0::2] == (200, "static-200")
    m = metrics(v)
    assert tg_metric(m, "HealthyHostCount", "tg-static") == 1
    assert tg_metric(m, "UnHealthyHostCount", "tg-static") == 0


def test_health_check_port_other_than_the_traffic_port(env):
    v, servers, _ = env
    addr = f"{v.prefix}.2.201"
    hc = [g for g in v.stack()["target_groups"] if g["name"] == "tg-hcport"][0]
    assert hc["health_check"]["port"] == 8081
    # the traffic port answers /health with 503: healthy means 8081 was asked
    wait_state(v, "tg-hcport", addr, 8080, "healthy")
    assert get(v, "hc.example.com")[0::2] == (200, "traffic-201")
    servers["health"].stop()
    try:
        # the traffic port still serves; the health port is gone
        wait_state(v, "tg-hcport", addr, 8080, "unhealthy")
        assert tg_metric(metrics(v), "UnHealthyHostCount", "tg-hcport") == 1
    finally:
        servers["health"].start()
    wait_state(v, "tg-hcport", addr, 8080, "healthy")


def test_http2_group_behind_https_listener_answers_464(env):
    v, _, _ = env
    g = [g for g in v.stack()["target_groups"] if g["name"] == "tg-h2"][0]
    assert g["protocol_version"] == "HTTP2"
    before = metrics(v)
    conn = http.client.HTTPConnection(node(v), 443, timeout=10)
    try:
        conn.request("GET", "/x", headers={"Host": "h2.example.com"})
        r = conn.getresponse()
        r.read()
        status, server = r.status, r.getheader("Server")
        port = conn.sock.getsockname()[1]
    finally:
        conn.close()
    assert (status, server) == (464, "awselb/2.0")
    lines = log_lines(v, lambda f: len(f) > 9 and f[3].endswith(f":{port}"))
    assert lines, "no access-log line"
    f = lines[0]
    assert (f[4], f[8], f[9]) == ("-", "464", "-"), f
    after = metrics(v)
    assert (lb_metric(after, "HTTPCode_ELB_4XX_Count")
            - lb_metric(before, "HTTPCode_ELB_4XX_Count")) == 1


def test_http2_or_grpc_group_behind_http_listener_is_refused(tmp_path):
    for pv in ("HTTP2", "GRPC"):
        t = template()
        t["Resources"]["TGH2"]["Properties"]["ProtocolVersion"] = pv
        t["Resources"]["Listener"]["Properties"]["DefaultActions"][0]["TargetGroupArn"] = \
            {"Ref": "TGH2"}
        path = write_template(tmp_path / f"bad-{pv}.json", t)
        r = subprocess.run([VPCD, "validate", path], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 1, r
        assert (f"Resources.Listener.Properties.DefaultActions: target group TGH2 has "
                f"ProtocolVersion {pv}, which AWS allows only behind an HTTPS listener; "
                f"this listener is HTTP") in r.stderr + r.stdout, r


def test_apply_registers_and_deregisters_static_targets(env):
    v, servers, d = env
    old, new = f"{v.prefix}.1.200", f"{v.prefix}.1.203"
    t = template()
    t["Resources"]["TGStatic"]["Properties"]["Targets"] = [{"Id": "10.0.1.203",
                                                           "Port": 8090}]
    path = write_template(d / "targets2.json", t)
    extra = Target(new, 8090, "static-203").start()
    try:
        r = subprocess.run([VPCD, "apply", path, "--api", v.api], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr, v.logs())
        assert "2 static targets registered or deregistered" in r.stdout + r.stderr, r
        ts = v.targets("tg-static")
        assert any(x["id"] == old and x["state"] == "draining" for x in ts), ts
        wait_state(v, "tg-static", new, 8090, "healthy")
        # drained after the 3 s deregistration delay, then gone
        deadline = time.monotonic() + 20
        while any(x["id"] == old for x in v.targets("tg-static")):
            assert time.monotonic() < deadline, v.targets("tg-static")
            time.sleep(0.1)
        for _ in range(5):
            assert get(v)[0::2] == (200, "static-203")
    finally:
        extra.stop()
