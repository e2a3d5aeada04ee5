"""ALB workers (issue 4, item 4): with `--workers 2` connections land on both
workers (WorkerNewConnectionCount per worker on /metrics, summed families
still right, access-log lines whole), and `vpcd apply` of a changed listener
rule under steady keep-alive load drops no connection and fails no request,
while the new rule routes afterwards."""
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.request

from conftest import EXAMPLE, VPCD

TG = "service-a-target-group"
NAME = "service-a.in.example.com"
NEW_NAME = "new.in.example.com"


def metrics(v):
    with urllib.request.urlopen(f"http://{v.api}/metrics", timeout=5) as r:
        return r.read().decode()


def sample(text, name, labels):
    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    assert m, f"{name}{{{labels}}} not in /metrics:\n{text}"
    return float(m.group(1))


def nodes(v):
    return [n["address"] for n in v.stack()["load_balancers"][0]["nodes"]]


def get(addr, host, conn=None):
    c = conn or http.client.HTTPConnection(addr, 80, timeout=5)
    c.request("GET", "/", headers={"Host": host})
    r = c.getresponse()
    body = r.read()
    if conn is None:
        c.close()
    return r.status, body


def test_connections_land_on_every_worker(vpcd_factory):
    v = vpcd_factory(EXAMPLE, extra=["--workers", "2"])
    v.wait_healthy(TG, 2)
    assert "load balancer: 2 workers" in v.logs()
    addrs = nodes(v)
    n = 60
    for i in range(n):
        # a fresh connection each: the kernel hashes each 4-tuple onto one
        # of the SO_REUSEPORT sockets (all on one worker: p = 2^-59)
        status, _ = get(addrs[i % len(addrs)], NAME)
        assert status == 200
    text = metrics(v)
    w0 = sample(text, "WorkerNewConnectionCount", 'worker="0"')
    w1 = sample(text, "WorkerNewConnectionCount", 'worker="1"')
    assert w0 > 0 and w1 > 0, text
    assert w0 + w1 == n
    r0 = sample(text, "WorkerRequestCount", 'worker="0"')
    r1 = sample(text, "WorkerRequestCount", 'worker="1"')
    assert r0 > 0 and r1 > 0 and r0 + r1 == n
    lb = re.search(r'^RequestCount\{load_balancer="([^"]+)"\} (\d+)$', text, re.M)
    assert lb and int(lb.group(2)) == n, "RequestCount is the sum over the workers"
    assert re.search(r'^HTTPCode_Target_2XX_Count\{load_balancer="[^"]+",'
                     r'target_group="[^"]+"\} %d$' % n, text, re.M), text
    # access-log lines from both workers, each whole (flushed within 1 s)
    log = v.state / "access.log"
    deadline = time.monotonic() + 10
    lines = []
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= n:
            break
        time.sleep(0.2)
    assert len(lines) == n
    for line in lines:
        assert line.startswith("http ") and line.count('"') % 2 == 0, line
        assert " 200 200 " in line, line


def apply(v, template):
    return subprocess.run([VPCD, "apply", template, "--api", v.api],
                          capture_output=True, text=True, timeout=60)


class KeepAliveLoad:
    """Threads each holding one keep-alive connection, sending GET / with
    Host NAME as fast as answers come (paced); counts outcomes and how many
    connections they had to open."""

    def __init__(self, addrs, threads=8, interval=0.005):
        self.addrs = addrs
        self.nthreads = threads
        self.interval = interval
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.bad = []
        self.errors = []
        self.opened = 0
        self.threads = []

    def run(self, i):
        addr = self.addrs[i % len(self.addrs)]
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(addr, 80, timeout=5)
                    with self.lock:
                        self.opened += 1
                status, body = get(addr, NAME, conn)
                with self.lock:
                    if status == 200:
                        self.ok += 1
                    else:
                        self.bad.append((status, body[:200]))
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors.append(repr(e))
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(self.interval)
        if conn is not None:
            conn.close()

    def __enter__(self):
        for i in range(self.nthreads):
            t = threading.Thread(target=self.run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def test_apply_changed_rule_under_keepalive_load_drops_nothing(vpcd_factory, tmp_path):
    v = vpcd_factory(EXAMPLE, extra=["--workers", "2"])
    v.wait_healthy(TG, 2)
    addrs = nodes(v)
    # before: the new name matches no rule, so the default action's group
    # (no targets) answers 503
    assert get(addrs[0], NEW_NAME)[0] == 503
    tpl = json.load(open(EXAMPLE))
    rule = tpl["Resources"]["ServiceAAlbHttpListenerRule"]["Properties"]
    rule["Conditions"][0]["Values"].append(NEW_NAME)
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(tpl))

    with KeepAliveLoad(addrs) as load:
        time.sleep(1.5)
        before = load.ok
        out = apply(v, str(changed))
        assert out.returncode == 0, out.stderr + v.logs()[-3000:]
        time.sleep(1.5)
    assert load.errors == [], load.errors[:5]
    assert load.bad == [], load.bad[:5]
    assert before > 0 and load.ok > before
    # every thread kept its one connection through the swap
    assert load.opened == load.nthreads
    # the changed rule routes now, on every worker (fresh connections)
    for i in range(20):
        assert get(addrs[i % len(addrs)], NEW_NAME)[0] == 200
    assert get(addrs[0], "other.in.example.com")[0] == 503
    # and the admin API shows it
    rules = [r for lb in v.stack()["load_balancers"] for li in lb["listeners"]
             for r in li.get("rules", [])]
    assert any(NEW_NAME in json.dumps(r) for r in rules), rules
