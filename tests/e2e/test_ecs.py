"""ECS through the real binary: replacement on a failing container health
check and on ELB-unhealthy targets, draining before SIGTERM when a host is
stopped (and the host's replacement), Fargate placement without hosts."""
import os
import subprocess
import time

from conftest import VPCD

HERE = os.path.dirname(os.path.abspath(__file__))
EC2_HEALTH = os.path.join(HERE, "templates", "ecs-ec2-health.json")
FARGATE = os.path.join(HERE, "templates", "ecs-fargate.json")
TG = "service-a-target-group"


def wait_for(what, fn, v, timeout=40):
    """Polls fn until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{v.logs()[-4000:]}")


def service(v):
    return v.stack()["services"][0]


def all_tasks(v):
    return service(v)["tasks"]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_failing_container_health_check_replaces_the_task(vpcd_factory, tmp_path):
    v = vpcd_factory(EC2_HEALTH, extra=("--param", f"HealthDir={tmp_path}"))
    running = wait_for("2 running tasks", lambda: len(v.tasks()) == 2 and v.tasks(), v)
    # The first check runs an Interval (5 s) after the start.
    wait_for("both tasks HEALTHY",
             lambda: all(t["health_status"] == "HEALTHY" for t in v.tasks()), v)
    victim = running[0]
    (tmp_path / f"fail-{victim['address']}").write_text("")

    def stopped():
        return [t for t in all_tasks(v)
                if t["id"] == victim["id"] and t["last_status"] == "STOPPED"]
    t = wait_for("the unhealthy task to stop", stopped, v)[0]
    assert t["stop_code"] == "ServiceSchedulerInitiated"
    assert t["stopped_reason"] == "Task failed container health checks"
    wait_for("a replacement", lambda: len(v.tasks()) == 2
             and victim["id"] not in {x["id"] for x in v.tasks()}, v)
    events = service(v)["events"]
    assert any("has begun draining connections on 1 tasks." in e for e in events), events


def test_host_stop_drains_then_stops_and_reschedules(vpcd_factory, tmp_path):
    v = vpcd_factory(EC2_HEALTH, extra=("--param", f"HealthDir={tmp_path}"))
    v.wait_healthy(TG, 2)
    hosts = v.stack()["hosts"]
    assert len(hosts) == 2 and {h["az"] for h in hosts} == {"us-east-1a", "us-east-1b"}
    victim = v.tasks()[0]
    host = victim["host"]
    az = next(h["az"] for h in hosts if h["id"] == host)
    out = subprocess.run([VPCD, "host", "stop", host, "--api", v.api],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert host in out.stdout

    # While the target drains (2 s), the task is DEACTIVATING and its
    # process has not been signalled yet.
    def deactivating():
        return [t for t in all_tasks(v)
                if t["id"] == victim["id"] and t["last_status"] == "DEACTIVATING"]
    t = wait_for("DEACTIVATING", deactivating, v, timeout=5)[0]
    assert alive(victim["pid"])
    assert any(x["state"] == "draining" for x in v.targets(TG))

    def stopped():
        return [t for t in all_tasks(v)
                if t["id"] == victim["id"] and t["last_status"] == "STOPPED"]
    t = wait_for("STOPPED", stopped, v)[0]
    assert t["stop_code"] == "TerminationNotice"
    assert t["stopped_reason"] == f"Host EC2 (instance {host}) stopped."
    log = (v.state / "tasks" / victim["id"] / "serviceA.log").read_text()
    assert "demo-app: stopping" in log  # SIGTERM, not SIGKILL

    events = list(reversed(service(v)["events"]))  # oldest first
    drain = next(i for i, e in enumerate(events) if "has begun draining" in e)
    stop = next(i for i, e in enumerate(events)
                if f"has stopped 1 running tasks: (task {victim['id']})." in e)
    assert drain < stop

    hosts = v.stack()["hosts"]
    assert [h["status"] for h in hosts if h["id"] == host] == ["STOPPED"]
    new = [h for h in hosts if h["status"] == "ACTIVE" and h["id"] != host]
    assert len(new) == 2
    assert az in {h["az"] for h in new if h["id"] not in {x["id"] for x in hosts[:2]}}
    running = wait_for("2 running tasks again", lambda: len(v.tasks()) == 2 and v.tasks(), v)
    assert host not in {x["host"] for x in running}

    again = subprocess.run([VPCD, "host", "stop", host, "--api", v.api],
                           capture_output=True, text=True, timeout=10)
    assert again.returncode == 1 and "already stopped" in again.stderr
    unknown = subprocess.run([VPCD, "host", "stop", "i-0000000000000000f", "--api", v.api],
                             capture_output=True, text=True, timeout=10)
    assert unknown.returncode == 1 and "no host" in unknown.stderr


def test_fargate_tasks_go_into_the_service_subnets(vpcd_factory):
    v = vpcd_factory(FARGATE)
    v.wait_healthy(TG, 2)
    st = v.stack()
    assert st["hosts"] == []
    tasks = v.tasks()
    assert {t["launch_type"] for t in tasks} == {"FARGATE"}
    assert {t["host"] for t in tasks} == {""}
    assert {t["az"] for t in tasks} == {"us-east-1a", "us-east-1b"}
    assert {t["address"].rsplit(".", 1)[0] for t in tasks} == \
        {f"{v.prefix}.1", f"{v.prefix}.2"}


def test_elb_unhealthy_task_is_replaced(vpcd_factory):
    v = vpcd_factory(FARGATE, extra=("--param", "HealthStatus=500"))
    first = wait_for("a running task", lambda: v.tasks(), v)[0]

    def stopped():
        return [t for t in all_tasks(v)
                if t["id"] == first["id"] and t["last_status"] == "STOPPED"]
    t = wait_for("the ELB-unhealthy task to stop", stopped, v, timeout=60)[0]
    arn = next(g["arn"] for g in v.stack()["target_groups"] if g["name"] == TG)
    assert t["stop_code"] == "ServiceSchedulerInitiated"
    assert t["stopped_reason"] == f"Task failed ELB health checks in (target-group {arn})"
    events = service(v)["events"]
    assert any(f"(task {first['id']}) (port 8080) is unhealthy in (target-group {arn}) "
               "due to (reason Health checks failed with these codes: [500])." in e
               for e in events), events
