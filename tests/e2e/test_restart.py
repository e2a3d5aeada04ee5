"""vpcd survives its own SIGKILL: started again on the same state dir, it
adopts the tasks still running (same pids, same addresses, registered again
and healthy, traffic reaches them, no extra task), replaces a task that died
while it was down, refuses a second vpcd on the same state dir, and stops
adopted tasks on SIGTERM."""
import os
import signal
import subprocess
import time

import requests

from conftest import EXAMPLE, Vpcd

TG = "service-a-target-group"
NAME = "service-a.in.example.com"


def wait_for(what, fn, v, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{v.logs()[-6000:]}")


def alive(pid):
    """Running, not a zombie: orphans of a killed vpcd are reaped by init."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def sigkill(v):
    """SIGKILL vpcd only; its tasks (own process groups) keep running."""
    v.proc.send_signal(signal.SIGKILL)
    v.proc.wait(timeout=10)
    v.log.close()


def restart(v, n):
    """The same command line (net, api, dns, state dir) again."""
    v.log_path = v.log_path.with_name(f"vpcd-{n}.log")
    return v.start()


def lb_nodes(v):
    return [n["address"] for n in v.stack()["load_balancers"][0]["nodes"]]


def by_id(v):
    return {t["id"]: t for s in v.stack()["services"] for t in s["tasks"]}


def test_sigkill_then_restart_adopts_running_tasks(tmp_path):
    v = Vpcd(EXAMPLE, tmp_path)
    pids = []
    try:
        v.start()
        v.wait_healthy(TG, 2)
        before = {t["id"]: t for t in v.tasks()}
        assert len(before) == 2
        pids = [t["pid"] for t in before.values()]
        assert all(p > 0 and alive(p) for p in pids)
        assert (v.state / "state.json").exists()
        t0 = time.monotonic()
        sigkill(v)
        assert all(alive(p) for p in pids), "tasks died with vpcd"

        restart(v, 2)
        running = wait_for("2 RUNNING tasks", lambda: len(v.tasks()) == 2 and v.tasks(), v)
        assert {t["id"] for t in running} == set(before)
        for t in running:
            assert t["pid"] == before[t["id"]]["pid"]
            assert t["address"] == before[t["id"]]["address"]
            assert t["host"] == before[t["id"]]["host"]
        healthy = v.wait_healthy(TG, 2)
        t_healthy = time.monotonic() - t0
        addrs = {t["address"] for t in running}
        assert {h["id"] for h in healthy} == addrs
        assert "adopted" in v.logs()

        # Traffic through the LB reaches the adopted tasks, and only them.
        seen = set()
        codes = []
        for _ in range(20):
            for node in lb_nodes(v):
                r = requests.get(f"http://{node}/", headers={"Host": NAME}, timeout=5)
                codes.append(r.status_code)
                for a in addrs:
                    if a in r.text:
                        seen.add(a)
        assert codes.count(200) == len(codes), codes
        assert seen == addrs, (seen, addrs)

        # No third task: the service never started one.
        assert set(by_id(v)) == set(before), by_id(v)
        print(f"\nrestart: 2 tasks adopted (pids {pids}), healthy {t_healthy:.2f} s after "
              f"the SIGKILL, {len(codes)} requests, all 200")

        # A second vpcd on the same state dir is refused.
        other = Vpcd(EXAMPLE, tmp_path / "other")
        (tmp_path / "other").mkdir()
        other.args[other.args.index("--state-dir") + 1] = str(v.state)
        out = subprocess.run(other.args, capture_output=True, text=True, timeout=20)
        assert out.returncode != 0
        assert "in use by another vpcd" in out.stdout + out.stderr, out.stdout + out.stderr
        assert all(alive(p) for p in pids)

        assert v.stop() == 0
        assert not any(alive(p) for p in pids), "adopted tasks left running"
    finally:
        v.stop()
        for p in pids:
            if alive(p):
                os.killpg(p, signal.SIGKILL)


def test_task_killed_while_vpcd_down_is_replaced(tmp_path):
    v = Vpcd(EXAMPLE, tmp_path)
    pids = []
    try:
        v.start()
        v.wait_healthy(TG, 2)
        before = {t["id"]: t for t in v.tasks()}
        pids = [t["pid"] for t in before.values()]
        sigkill(v)
        victim, keeper = list(before.values())
        os.killpg(victim["pid"], signal.SIGKILL)
        wait_for("the victim gone", lambda: not alive(victim["pid"]), v)

        restart(v, 2)
        def replaced():
            run = v.tasks()
            return len(run) == 2 and victim["id"] not in {t["id"] for t in run} and run
        running = wait_for("a replacement", replaced, v)
        ids = {t["id"] for t in running}
        assert keeper["id"] in ids
        kept = next(t for t in running if t["id"] == keeper["id"])
        assert kept["pid"] == keeper["pid"]
        gone = by_id(v)[victim["id"]]
        assert gone["last_status"] == "STOPPED"
        assert gone["stopped_reason"] == "Task stopped while vpcd was down"
        v.wait_healthy(TG, 2)
        new = next(t for t in running if t["id"] != keeper["id"])
        pids.append(new["pid"])
        assert len(by_id(v)) == 3  # the two of before, one replacement

        assert v.stop() == 0
        assert not any(alive(p) for p in pids)
    finally:
        v.stop()
        for p in pids:
            if alive(p):
                os.killpg(p, signal.SIGKILL)


def test_sigkill_during_a_deployment_resumes_it(tmp_path):
    """A vpcd SIGKILLed in the middle of a rolling deployment (`vpcd apply`
    Version=2 of deploy.json: 2 tasks, min 50 %, max 200 %) and started
    again with the same command line resumes it: the same deployments
    (PRIMARY IN_PROGRESS, ACTIVE), every task adopted into its own, then the
    deployment completes with the tasks it had started, the old ones
    stopped by it, and no other task started. A client sending requests all
    along gets 2xx for everything but what was in flight at the kill or sent
    while vpcd was down. (The new version answers its health check only once
    the test creates a file, so the kill finds the old tasks serving.)"""
    import json
    from test_deploy import TEMPLATE, Load, apply
    t = json.load(open(TEMPLATE))
    env = t["Resources"]["ServiceATask"]["Properties"]["ContainerDefinitions"][0]["Environment"]
    env.append({"Name": "DEMO_HEALTH_FILE",
                "Value": {"Fn::Sub": str(tmp_path / "healthy-v${Version}")}})
    template = tmp_path / "deploy-gated.json"
    template.write_text(json.dumps(t))
    (tmp_path / "healthy-v1").write_text("")
    v = Vpcd(str(template), tmp_path)
    pids = []

    def revision(n):
        return [t for t in v.tasks() if t["task_definition_arn"].endswith(f":{n}")]
    try:
        v.start()
        v.wait_healthy(TG, 2)
        old = {t["id"]: t for t in v.tasks()}
        pids += [t["pid"] for t in old.values()]
        with Load(lb_nodes(v), rate=50, threads=4) as load:
            time.sleep(1)
            out = apply(v, "Version=2", template=str(template))
            assert out.returncode == 0, out.stderr
            new = wait_for("2 tasks of revision 2", lambda: len(revision(2)) == 2 and revision(2),
                           v)
            new = {t["id"]: t for t in new}
            pids += [t["pid"] for t in new.values()]
            time.sleep(2)  # health checks of the new tasks fail meanwhile
            before = v.stack()["services"][0]
            assert [(d["status"], d["rolloutState"]) for d in before["deployments"]] == \
                [("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "COMPLETED")], before["deployments"]
            # min 50 %: one old task is already draining, one serves
            live = {t["id"] for t in before["tasks"] if t["desired_status"] == "RUNNING"}
            assert set(new) <= live and len(live & set(old)) == 1, before["tasks"]
            draining = (set(old) - live).pop()
            t_kill = time.monotonic()
            sigkill(v)
            assert all(alive(p) for p in pids), "tasks died with vpcd"

            restart(v, 2)
            t_up = time.monotonic()
            after = v.stack()["services"][0]
            deps = after["deployments"]
            assert [(d["id"], d["status"], d["rolloutState"], d["taskDefinition"])
                    for d in deps] == \
                [(d["id"], d["status"], d["rolloutState"], d["taskDefinition"])
                 for d in before["deployments"]], (deps, before["deployments"])
            assert deps[0]["taskDefinition"].endswith(":task-definition/service-a:2")
            assert deps[1]["taskDefinition"].endswith(":task-definition/service-a:1")
            assert (deps[0]["runningCount"], deps[1]["runningCount"]) == (2, 1), deps
            ids = {t["id"]: t for t in after["tasks"]}
            for tid, t in list(new.items()) + list(old.items()):
                assert ids[tid]["task_definition_arn"] == t["task_definition_arn"]
                if tid != draining:
                    assert ids[tid]["pid"] == t["pid"] and ids[tid]["last_status"] == "RUNNING"
            # the one that was draining stops now (its drain went with the LB)
            assert ids[draining]["desired_status"] == "STOPPED", ids[draining]
            # Resumed, not restarted: the old one healthy again, nothing
            # stopped or started while the new version is not healthy.
            v.wait_healthy(TG, 1)
            time.sleep(2)
            still = v.stack()["services"][0]
            assert {t["id"] for t in still["tasks"]} == set(old) | set(new), still["tasks"]
            assert len(still["deployments"]) == 2

            (tmp_path / "healthy-v2").write_text("")

            def completed():
                s = v.stack()["services"][0]
                d = s["deployments"]
                return len(d) == 1 and d[0]["rolloutState"] == "COMPLETED" and s
            svc = wait_for("the resumed deployment to complete", completed, v, timeout=90)
            t_done = time.monotonic()
            time.sleep(1)  # answers after the end
        dep_id = before["deployments"][0]["id"]
        assert svc["deployments"][0]["id"] == dep_id
        running = {t["id"] for t in svc["tasks"] if t["last_status"] == "RUNNING"}
        assert running == set(new), (running, set(new))
        assert {t["id"] for t in svc["tasks"]} == set(old) | set(new), svc["tasks"]
        for t in svc["tasks"]:
            if t["id"] in old:
                assert t["last_status"] == "STOPPED", t
                assert t["stop_code"] == "ServiceSchedulerInitiated", t
                assert t["stopped_reason"] == \
                    f"Scaling activity initiated by (deployment {dep_id})", t
        wait_for("the old tasks' processes gone",
                 lambda: not any(alive(t["pid"]) for t in old.values()), v)
        name = svc["name"]
        assert f"(service {name}) (deployment {dep_id}) deployment completed." in svc["events"]

        # Every request got a 2xx but those in flight at the kill, sent
        # before the restarted vpcd answered, or sent on a keep-alive
        # connection the kill closed.
        excused = [f for f in load.failed if f[1] >= t_kill and (f[0] < t_up or f[2] < t_kill)]
        late = [f for f in load.failed if f not in excused]
        print(f"\nresumed deployment: serving again {t_up - t_kill:.2f} s after the SIGKILL, "
              f"completed {t_done - t_up:.1f} s after the restart; requests {load.total()} in "
              f"{load.seconds:.1f} s, 2xx {load.ok}, failed by the kill or while down "
              f"{len(excused)}, failed otherwise {len(late)}")
        assert late == [], (t_kill, t_up, t_done, late, load.bad[:5], load.errors[:5])
        assert load.ok > 0 and len(excused) < load.total() // 4
        bodies = [b for t, b in load.bodies if t > t_done + 0.5]
        assert bodies and all(b.startswith("hello from service-a-v2 task") for b in bodies)

        assert v.stop() == 0
        assert not any(alive(p) for p in pids), "tasks left running"
    finally:
        v.stop()
        for p in pids:
            if alive(p):
                os.killpg(p, signal.SIGKILL)
