"""The seed's system end to end, through the real binary with real clients:
dig and dnspython for DNS, curl and requests for HTTP."""
import os
import signal
import subprocess
import threading
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import requests

from conftest import EXAMPLE, VPCD, Vpcd

NAME = "service-a.in.example.com"


def lb(stack):
    return stack["load_balancers"][0]


def node_addrs(stack):
    return [n["address"] for n in lb(stack)["nodes"]]


def get(addr, host=NAME, path="/", port=80, headers=None, session=requests):
    h = {"Host": host, **(headers or {})}
    return session.get(f"http://{addr}:{port}{path}", headers=h, timeout=5)


def test_dig_answers_cname_and_two_a_records(seed):
    out = subprocess.run(["dig", f"@{seed.resolver}", NAME, "+noall", "+answer"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    lines = [l.split() for l in out.splitlines() if l.strip()]
    stack = seed.stack()
    dns_name = lb(stack)["dns_name"]
    assert dns_name.startswith("internal-PrivateApiLoadBalancer-")
    assert dns_name.endswith(".us-east-1.elb.amazonaws.com")
    assert lines[0][0] == NAME + "." and lines[0][3] == "CNAME" and lines[0][4] == dns_name + "."
    assert lines[0][1] == "60"
    a = sorted(l[4] for l in lines[1:] if l[3] == "A" and l[0] == dns_name + ".")
    assert a == sorted(node_addrs(stack))
    assert len(a) == 2


def test_dnspython_on_dns_port_and_nxdomain_with_soa(seed):
    q = dns.message.make_query(NAME, "A")
    r = dns.query.udp(q, "127.0.0.1", port=seed.dns_port, timeout=3)
    types = [rr.rdtype for rr in r.answer]
    assert dns.rdatatype.CNAME in types and dns.rdatatype.A in types
    r = dns.query.tcp(dns.message.make_query("nope.in.example.com", "A"), "127.0.0.1",
                      port=seed.dns_port, timeout=3)
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.authority and r.authority[0].rdtype == dns.rdatatype.SOA


def test_curl_through_each_lb_node_reaches_service_a(seed):
    for addr in node_addrs(seed.stack()):
        out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", f"http://{NAME}/",
                              "--resolve", f"{NAME}:80:{addr}"],
                             capture_output=True, text=True, timeout=10)
        body, code = out.stdout.rsplit("\n", 1)
        assert code == "200", out.stderr
        assert "service-a" in body


def test_both_tasks_get_traffic(seed):
    addrs = node_addrs(seed.stack())
    seen = set()
    for i in range(20):
        r = get(addrs[i % 2])
        assert r.status_code == 200
        seen.add(r.text.strip().rsplit(" ", 1)[-1])
    task_addrs = {f"{t['address']}:8080" for t in seed.tasks()}
    assert seen == task_addrs and len(seen) == 2


def test_host_matching_no_rule_gets_503(seed):
    addr = node_addrs(seed.stack())[0]
    r = get(addr, host="other.in.example.com")
    assert r.status_code == 503
    assert r.headers["Server"] == "awselb/2.0"
    # the listener's default port is stripped before matching; another port is kept
    assert get(addr, host=NAME + ":80").status_code == 200
    assert get(addr, host=NAME + ":8080").status_code == 503


def test_forwarded_headers_reach_the_task(seed):
    addr = node_addrs(seed.stack())[0]
    r = get(addr, path="/echo", headers={"X-Forwarded-For": "10.9.9.9"})
    assert r.status_code == 200
    body = r.text.lower()
    assert "x-forwarded-for: 10.9.9.9, 127.0.0.1" in body
    assert "x-forwarded-proto: http" in body
    assert "x-forwarded-port: 80" in body
    assert "x-amzn-trace-id: root=1-" in body


def test_exec_resolves_through_vpcd(seed):
    out = subprocess.run([VPCD, "exec", "--api", seed.api, "--", "curl", "-sS",
                          "-w", "\n%{http_code}", f"http://{NAME}/"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    body, code = out.stdout.rsplit("\n", 1)
    assert code == "200" and "service-a" in body
    out = subprocess.run([VPCD, "exec", "--api", seed.api, "--", "getent", "hosts", NAME],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0 and out.stdout.split()[0] in node_addrs(seed.stack())


def test_status_prints_tables(seed):
    out = subprocess.run([VPCD, "status", "--api", seed.api], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert "LOAD BALANCERS" in out and "TARGET GROUPS" in out and "SERVICES" in out
    assert "service-a-target-group" in out and "healthy" in out
    assert "in.example.com." in out


def test_stack_json_describes_everything(seed):
    s = seed.stack()
    assert len(s["hosts"]) == 2
    assert {h["az"] for h in s["hosts"]} == {"us-east-1a", "us-east-1b"}
    svc = s["services"][0]
    assert svc["desired"] == 2 and svc["running"] == 2
    assert {t["az"] for t in seed.tasks()} == {"us-east-1a", "us-east-1b"}
    invalid = [tg for tg in s["target_groups"] if tg["name"] == "invalid-target-group"][0]
    assert invalid["targets"] == []
    rule = lb(s)["listeners"][0]["rules"][0]
    assert rule["priority"] == 1
    assert rule["conditions"][0]["values"] == [NAME]


def test_killed_task_is_replaced_and_traffic_keeps_flowing(seed):
    stack = seed.stack()
    addrs = node_addrs(stack)
    victim = seed.tasks()[0]
    results = []
    stop = threading.Event()

    def load():
        s = requests.Session()
        i = 0
        while not stop.is_set():
            try:
                results.append(get(addrs[i % 2], session=s).status_code)
            except requests.RequestException:
                results.append("error")
            i += 1

    t = threading.Thread(target=load)
    t.start()
    time.sleep(0.3)
    os.kill(victim["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    replaced = False
    while time.monotonic() < deadline and not replaced:
        running = seed.tasks()
        replaced = (len(running) == 2 and victim["id"] not in {x["id"] for x in running})
        time.sleep(0.05)
    assert replaced, seed.stack()["services"]
    seed.wait_healthy("service-a-target-group", 2)
    time.sleep(0.5)
    stop.set()
    t.join()
    failed = [r for r in results if r != 200]
    print(f"\nkill test: {len(results)} requests, {len(failed)} failed: {failed[:10]}")
    assert len(results) > 50
    assert results[-10:] == [200] * 10
    stopped = seed.tasks("STOPPED")
    assert any(x["id"] == victim["id"] and x["stop_code"] == "EssentialContainerExited"
               for x in stopped)


def test_first_200_and_sigterm_leaves_no_process(vpcd_factory):
    v = vpcd_factory()
    t0 = v.started
    addr = node_addrs(v.stack())[0]
    first = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if get(addr).status_code == 200:
                first = time.monotonic() - t0
                break
        except requests.RequestException:
            pass
        time.sleep(0.01)
    assert first is not None, v.logs()
    print(f"\ntime from vpcd up to first 200: {first * 1000:.0f} ms")
    pids = [t["pid"] for t in v.tasks()]
    assert len(pids) == 2
    assert v.stop(signal.SIGTERM) == 0
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split()[2] == "Z", f"task {pid} survived"
    # nothing listens any more
    try:
        get(addr)
        raise AssertionError("listener still answers after SIGTERM")
    except requests.ConnectionError:
        pass
