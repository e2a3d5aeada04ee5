"""End-to-end fixtures: start the real vpcd binary on a loopback /16 of its
own, with the admin API and an extra DNS listener on free high ports, wait
until it serves, and stop it (and check it stopped) afterwards."""
import itertools
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VPCD = os.environ.get("VPCD_BIN", os.path.join(ROOT, "build", "vpcd"))
EXAMPLE = os.path.join(ROOT, "examples", "service-a.json")

# Each vpcd of the run gets its own loopback /16 so runs never collide.
# VPCD_E2E_NET0/VPCD_E2E_NET_SPAN pin a run to second octets
# [NET0, NET0+SPAN) (cycled) so concurrent runs on one machine stay apart.
def _net_octets():
    base = int(os.environ.get("VPCD_E2E_NET0", 80 + (os.getpid() % 40)))
    span = int(os.environ.get("VPCD_E2E_NET_SPAN", 255 - base))
    return (base + i % span for i in itertools.count())


_nets = _net_octets()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Vpcd:
    def __init__(self, template, tmp_path, extra=()):
        n = next(_nets)
        self.net = f"127.{n}.0.0/16"
        self.prefix = f"127.{n}"
        self.api = f"127.0.0.1:{free_port()}"
        self.dns_port = free_port()
        self.state = tmp_path / "state"
        self.log_path = tmp_path / "vpcd.log"
        self.args = [VPCD, "up", template, "--net", self.net, "--api", self.api,
                     "--dns", f"127.0.0.1:{self.dns_port}", "--state-dir", str(self.state),
                     *extra]
        self.proc = None
        self.started = None

    @property
    def resolver(self):
        return f"{self.prefix}.0.2"

    def start(self):
        self.log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"vpcd exited {self.proc.returncode}:\n{self.logs()}")
            try:
                self.stack()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"vpcd did not start:\n{self.logs()}")

    def logs(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stack(self):
        with urllib.request.urlopen(f"http://{self.api}/v1/stack", timeout=5) as r:
            return json.loads(r.read())

    def tasks(self, status="RUNNING"):
        out = []
        for svc in self.stack()["services"]:
            out += [t for t in svc["tasks"] if t["last_status"] == status]
        return out

    def targets(self, tg_name):
        for tg in self.stack()["target_groups"]:
            if tg["name"] == tg_name:
                return tg["targets"]
        raise KeyError(tg_name)

    def wait_healthy(self, tg_name, count, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            healthy = [t for t in self.targets(tg_name) if t["state"] == "healthy"]
            if len(healthy) >= count:
                return healthy
            time.sleep(0.05)
        raise AssertionError(f"{count} healthy targets not reached: "
                             f"{self.targets(tg_name)}\n{self.logs()}")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"vpcd did not stop on {sig}:\n{self.logs()}")
        finally:
            self.log.close()


@pytest.fixture
def vpcd_factory(tmp_path_factory):
    started = []

    def make(template=EXAMPLE, extra=()):
        v = Vpcd(template, tmp_path_factory.mktemp("vpcd"), extra)
        started.append(v)
        return v.start()

    yield make
    for v in started:
        v.stop()


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    """The seed's system, up once for a module, with both tasks healthy."""
    v = Vpcd(EXAMPLE, tmp_path_factory.mktemp("seed")).start()
    try:
        v.wait_healthy("service-a-target-group", 2)
        yield v
    finally:
        v.stop()


def node(v):
    """The address of the first node of the stack's first load balancer."""
    return v.stack()["load_balancers"][0]["nodes"][0]["address"]


def metrics(v):
    """/metrics as {"Name{labels}": value}; the endpoint answers text/plain."""
    with urllib.request.urlopen(f"http://{v.api}/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out = {}
    for l in text.splitlines():
        if l and not l.startswith("#"):
            k, val = l.rsplit(" ", 1)
            out[k] = float(val)
    return out


def tg_metric(m, name, tg):
    """The one value of metric name for target group tg in metrics() m."""
    keys = [k for k in m if k.startswith(name + "{") and f"/{tg}/" in k]
    assert len(keys) == 1, (name, tg, keys)
    return m[keys[0]]
