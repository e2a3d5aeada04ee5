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
