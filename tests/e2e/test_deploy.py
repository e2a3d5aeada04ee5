"""`vpcd apply`: a rolling deployment of the seed's service (2 tasks, min 50 %,
max 200 %, 5 s deregistration delay) under >= 100 requests/s with no failed
request, scale out and in, and the refusal of changes vpcd cannot apply."""
import http.client
import json
import os
import subprocess
import threading
import time
import urllib.request

from conftest import VPCD

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "templates", "deploy.json")
TG = "service-a-target-group"
NAME = "service-a.in.example.com"


def wait_for(what, fn, v, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{v.logs()[-4000:]}")


def service(v):
    return v.stack()["services"][0]


def apply(v, *params, template=TEMPLATE):
    args = [VPCD, "apply", template, "--api", v.api]
    for p in params:
        args += ["--param", p]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


class Load:
    """Threads sending GET path (/) through both LB nodes (keep-alive, reconnect on
    close), paced to about `rate` requests/s in all; counts by outcome."""

    def __init__(self, addrs, rate=200, threads=4, path="/"):
        self.addrs = addrs
        self.path = path
        self.interval = threads / rate
        self.nthreads = threads
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.bad = []      # non-2xx: (status, body)
        self.errors = []   # connection errors
        self.bodies = []   # (monotonic time, body) of 2xx answers
        # non-2xx and errors: (sent, answered or failed, connection opened),
        # monotonic times
        self.failed = []
        self.threads = []

    def run(self, i):
        addr = self.addrs[i % len(self.addrs)]
        conn = None
        nxt = time.monotonic()
        opened = nxt
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(addr, 80, timeout=5)
                    opened = sent
                conn.request("GET", self.path, headers={"Host": NAME})
                r = conn.getresponse()
                body = r.read().decode(errors="replace")
                with self.lock:
                    if 200 <= r.status < 300:
                        self.ok += 1
                        self.bodies.append((time.monotonic(), body))
                    else:
                        self.bad.append((r.status, body))
                        self.failed.append((sent, time.monotonic(), opened))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors.append(repr(e))
                    self.failed.append((sent, time.monotonic(), opened))
                if conn is not None:
                    conn.close()
                conn = None
            nxt += self.interval
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.monotonic()
        if conn is not None:
            conn.close()

    def __enter__(self):
        self.t0 = time.monotonic()
        for i in range(self.nthreads):
            t = threading.Thread(target=self.run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)
        self.seconds = time.monotonic() - self.t0

    def total(self):
        return self.ok + len(self.bad) + len(self.errors)


def test_rolling_deployment_under_load_has_no_failed_request(vpcd_factory):
    v = vpcd_factory(TEMPLATE)
    v.wait_healthy(TG, 2)
    before = service(v)
    assert [d["status"] for d in before["deployments"]] == ["PRIMARY"]
    old_ids = {t["id"] for t in v.tasks()}
    assert {t["task_definition_arn"].rsplit(":", 1)[1] for t in v.tasks()} == {"1"}
    addrs = [n["address"] for n in v.stack()["load_balancers"][0]["nodes"]]

    with Load(addrs) as load:
        time.sleep(2)
        t0 = time.monotonic()
        out = apply(v, "Version=2")
        assert out.returncode == 0, out.stderr
        assert "new deployment ecs-svc/" in out.stdout and "service-a:2" in out.stdout

        svc = service(v)
        deps = svc["deployments"]
        assert [d["status"] for d in deps] == ["PRIMARY", "ACTIVE"], deps
        assert deps[0]["rolloutState"] == "IN_PROGRESS"
        assert deps[0]["taskDefinition"].endswith(":task-definition/service-a:2")
        assert deps[1]["taskDefinition"].endswith(":task-definition/service-a:1")
        dep_id = deps[0]["id"]
        assert dep_id.startswith("ecs-svc/") and len(dep_id) == len("ecs-svc/") + 19
        old_dep_id = deps[1]["id"]
        assert [d["failedTasks"] for d in deps] == [0, 0]
        # `vpcd status` lists both, as describe-services does
        st = subprocess.run([VPCD, "status", "--api", v.api], capture_output=True, text=True,
                            timeout=30)
        assert st.returncode == 0, st.stderr
        lines = st.stdout.splitlines()
        assert any(l.split()[:1] == ["DEPLOYMENT"] and "ROLLOUT" in l for l in lines), st.stdout
        prim = [l.split() for l in lines if l.split()[:1] == [dep_id]]
        act = [l.split() for l in lines if l.split()[:1] == [old_dep_id]]
        assert prim and prim[0][1:3] == ["PRIMARY", "IN_PROGRESS"], st.stdout
        assert prim[0][-1] == "service-a:2" and prim[0][3] == "2", st.stdout
        assert act and act[0][1:3] == ["ACTIVE", "COMPLETED"], st.stdout
        assert act[0][-1] == "service-a:1", st.stdout

        # ceil(2 * 50 / 100) = 1 healthy and floor(2 * 200 / 100) = 4 tasks at
        # most, watched for the whole deployment.
        def completed():
            st = v.stack()
            s = st["services"][0]
            live = [t for t in s["tasks"] if t["desired_status"] == "RUNNING"]
            assert len(live) <= 4, live
            healthy = [t for t in next(g["targets"] for g in st["target_groups"]
                                       if g["name"] == TG) if t["state"] == "healthy"]
            assert len(healthy) >= 1, st["target_groups"]
            d = s["deployments"]
            return len(d) == 1 and d[0]["rolloutState"] == "COMPLETED" and s
        svc = wait_for("the deployment to complete", completed, v, timeout=90)
        duration = time.monotonic() - t0
        time.sleep(2)  # answers after the end of the deployment
    t_end = t0 + duration

    print(f"\ndeployment: {duration:.1f} s; requests: {load.total()} in {load.seconds:.1f} s "
          f"({load.total() / load.seconds:.0f}/s), 2xx {load.ok}, non-2xx {len(load.bad)}, "
          f"connection errors {len(load.errors)}")
    assert load.bad == [], load.bad[:5]
    assert load.errors == [], load.errors[:5]
    assert load.total() / load.seconds >= 100
    assert svc["deployments"][0]["id"] == dep_id
    running = [t for t in svc["tasks"] if t["last_status"] == "RUNNING"]
    assert len(running) == 2 and not old_ids & {t["id"] for t in running}
    assert {t["task_definition_arn"].rsplit(":", 1)[1] for t in running} == {"2"}
    with urllib.request.urlopen(f"http://{v.api}/v4/{running[0]['id']}/task", timeout=5) as r:
        assert json.loads(r.read())["Revision"] == "2"
    assert {t["id"] for t in svc["tasks"] if t["last_status"] == "STOPPED"} == old_ids
    for t in svc["tasks"]:
        if t["id"] in old_ids:
            assert t["stop_code"] == "ServiceSchedulerInitiated"
            assert t["stopped_reason"] == f"Scaling activity initiated by (deployment {dep_id})"
    # Old and new answer during the deployment, only new ones at the end.
    bodies = [b for _, b in load.bodies]
    assert any(b.startswith("hello from service-a-v1 task") for b in bodies)
    assert any(b.startswith("hello from service-a-v2 task") for b in bodies)
    late = [b for t, b in load.bodies if t > t_end]
    assert late and all(b.startswith("hello from service-a-v2 task") for b in late), late[:3]

    events = list(reversed(svc["events"]))  # oldest first
    name = svc["name"]
    done = events.index(f"(service {name}) (deployment {dep_id}) deployment completed.")
    assert f"(service {name}) has reached a steady state." in events[done + 1:]
    # the old deployment's task set drains, as ECS words it
    assert events.count(f"(service {name}, taskSet {old_dep_id}) has begun draining "
                        "connections on 1 tasks.") == 2, events


def test_scale_out_and_in_with_apply(vpcd_factory):
    v = vpcd_factory(TEMPLATE)
    v.wait_healthy(TG, 2)
    out = apply(v, "Count=3")
    assert out.returncode == 0, out.stderr
    assert "desired 3" in out.stdout and "new deployment" not in out.stdout
    v.wait_healthy(TG, 3)
    svc = wait_for("3 running tasks", lambda: len(v.tasks()) == 3 and service(v), v)
    assert svc["desired"] == 3
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY"]
    assert {t["az"] for t in v.tasks()} == {"us-east-1a", "us-east-1b"}

    out = apply(v, "Count=1")
    assert out.returncode == 0, out.stderr
    wait_for("1 task left", lambda: len(v.tasks()) == 1
             and not v.tasks("DEACTIVATING") and not v.tasks("STOPPING"), v)
    svc = service(v)
    assert svc["desired"] == 1 and svc["running"] == 1
    stopped = [t for t in svc["tasks"] if t["last_status"] == "STOPPED"]
    assert len(stopped) == 2
    assert {t["stop_code"] for t in stopped} == {"ServiceSchedulerInitiated"}
    assert svc["events"][0] == f"(service {svc['name']}) has reached a steady state."

    # The same template again: nothing to do.
    out = apply(v, "Count=1")
    assert out.returncode == 0 and "no change" in out.stdout, out


def test_apply_refuses_other_changes(vpcd_factory, tmp_path):
    v = vpcd_factory(TEMPLATE)
    v.wait_healthy(TG, 2)
    before = v.tasks()
    changed = tmp_path / "changed.json"
    changed.write_text(open(TEMPLATE).read().replace('"HealthCheckIntervalSeconds": 5',
                                                     '"HealthCheckIntervalSeconds": 6'))
    out = apply(v, template=str(changed))
    assert out.returncode == 1
    assert "vpcd apply changes only ECS services' DesiredCount" in out.stderr
    assert "ServiceAAlbTargetGroup (AWS::ElasticLoadBalancingV2::TargetGroup): " \
        "properties changed" in out.stderr
    assert "ServiceA (" not in out.stderr

    out = apply(v, "NoSuchParam=1")
    assert out.returncode == 1 and "the template has no parameter NoSuchParam" in out.stderr
    svc = service(v)
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY"]
    assert {t["id"] for t in v.tasks()} == {t["id"] for t in before}
    assert v.proc.poll() is None


def test_circuit_breaker_rolls_back_a_failing_version(vpcd_factory):
    """A version whose container exits after 1.5 s: 10 failed tasks
    (clamp(ceil(2 / 2), 10, 200)) fail the deployment, and Rollback returns
    to the last completed one, with no failed request on the way."""
    v = vpcd_factory(TEMPLATE)
    v.wait_healthy(TG, 2)
    first = service(v)["deployments"][0]
    addrs = [n["address"] for n in v.stack()["load_balancers"][0]["nodes"]]
    with Load(addrs) as load:
        out = apply(v, "Version=3", "Command=sh,-c,sleep 1.5; exit 1")
        assert out.returncode == 0, out.stderr
        failed_id = service(v)["deployments"][0]["id"]
        assert failed_id != first["id"]

        def rolled_back():
            s = service(v)
            d = s["deployments"]
            return (len(d) == 1 and d[0]["id"] != failed_id
                    and d[0]["rolloutState"] == "COMPLETED" and s)
        svc = wait_for("the rollback to complete", rolled_back, v, timeout=120)
        time.sleep(1)
    print(f"\ncircuit breaker: requests {load.total()}, 2xx {load.ok}, "
          f"non-2xx {len(load.bad)}, connection errors {len(load.errors)}")
    assert load.bad == [] and load.errors == [], (load.bad[:5], load.errors[:5])
    d = svc["deployments"][0]
    assert d["taskDefinition"] == first["taskDefinition"]  # service-a:1
    name = svc["name"]
    events = list(reversed(svc["events"]))
    assert f"(service {name}) (deployment {failed_id}) deployment failed: " \
        "tasks failed to start." in events
    assert f"(service {name}) (deployment {failed_id}) rolling back to " \
        f"(deployment {d['id']})." in events
    failed = [t for t in svc["tasks"] if t["task_definition_arn"].endswith(":2")]
    assert len(failed) >= 10
    assert {t["stop_code"] for t in failed} <= {"EssentialContainerExited",
                                                "ServiceSchedulerInitiated"}
    running = [t for t in svc["tasks"] if t["last_status"] == "RUNNING"]
    assert len(running) == 2
    assert {t["task_definition_arn"] for t in running} == {first["taskDefinition"]}
    assert all(b.startswith("hello from service-a-v1 task") for _, b in load.bodies)
