"""The ECS task lifecycle through the real binary: container DependsOn
(an init container the sidecar waits on to COMPLETE and the app waits on to
SUCCEED, a sidecar the app waits on to be HEALTHY) starting the containers
in order while the task is PENDING, the status sequence seen from
/v1/stack up to RUNNING and, on a scale-in, through DEACTIVATING (draining)
to STOPPED, stopped tasks listed with stopCode and stoppedReason, and a
failing SUCCESS dependency stopping the task with ECS's reasons, and the
adoption after a restart of a task whose init container is done."""
import json
import os
import signal
import subprocess
import time

from conftest import VPCD, Vpcd

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "templates", "ecs-ec2-health.json")
TG = "service-a-target-group"


def wait_for(what, fn, v, timeout=40):
    """Polls fn until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{v.logs()[-4000:]}")


def template(tmp_path, desired=1):
    """The ECS e2e template with one service task of three containers:
    init (non-essential, exits $INIT_EXIT after 1 s), sidecar (waits for
    init to COMPLETE; healthy once $STEP_DIR/sidecar-ready exists) and
    serviceA (the demo app behind the LB; waits for init to SUCCEED and
    the sidecar to be HEALTHY). Each notes its start in $STEP_DIR/order."""
    t = json.load(open(BASE))
    t["Parameters"]["InitExit"] = {"Type": "String", "Default": "0"}
    t["Parameters"]["StepDir"] = {"Type": "String"}
    env = [{"Name": "STEP_DIR", "Value": {"Ref": "StepDir"}},
           {"Name": "INIT_EXIT", "Value": {"Ref": "InitExit"}}]
    note = 'echo "{} $(date +%s%N)" >> "$STEP_DIR/order"; '
    t["Resources"]["ServiceATask"]["Properties"]["ContainerDefinitions"] = [
        {"Name": "init", "Image": "example/init", "Essential": False, "Environment": env,
         "Command": ["/bin/sh", "-c", note.format("init") + 'sleep 1; exit "$INIT_EXIT"']},
        {"Name": "sidecar", "Image": "example/sidecar", "Environment": env,
         "Command": ["/bin/sh", "-c", note.format("sidecar") + "exec sleep 600"],
         "DependsOn": [{"ContainerName": "init", "Condition": "COMPLETE"}],
         "HealthCheck": {"Command": ["CMD-SHELL", 'test -f "$STEP_DIR/sidecar-ready"'],
                         "Interval": 5, "Timeout": 2, "Retries": 10},
         "StopTimeout": 5},
        {"Name": "serviceA", "Image": "example/service-a:latest", "Environment": env +
         [{"Name": "SERVICE_NAME", "Value": "service-a"}],
         "Command": ["/bin/sh", "-c", note.format("app") + "exec vpcd demo-app"],
         "PortMappings": [{"ContainerPort": 8080}],
         "DependsOn": [{"ContainerName": "init", "Condition": "SUCCESS"},
                       {"ContainerName": "sidecar", "Condition": "HEALTHY"}],
         "StopTimeout": 5},
    ]
    t["Resources"]["ServiceA"]["Properties"]["DesiredCount"] = desired
    path = tmp_path / f"lifecycle-{desired}.json"
    path.write_text(json.dumps(t))
    return str(path)


def params(tmp_path, init_exit=0):
    return ("--param", f"HealthDir={tmp_path}", "--param", f"StepDir={tmp_path}",
            "--param", f"InitExit={init_exit}")


def task(v, task_id):
    for t in v.stack()["services"][0]["tasks"]:
        if t["id"] == task_id:
            return t
    return None


def containers(t):
    return {c["name"]: c for c in t["containers"]}


def order(tmp_path):
    lines = (tmp_path / "order").read_text().split()
    return [(lines[i], int(lines[i + 1])) for i in range(0, len(lines), 2)]


def statuses(t):
    return [h["status"] for h in t["status_history"]]


def test_dependencies_order_the_start_and_the_lifecycle_is_visible(vpcd_factory, tmp_path):
    v = vpcd_factory(template(tmp_path), extra=params(tmp_path))
    first = wait_for("a task", lambda: v.stack()["services"][0]["tasks"], v)[0]
    tid = first["id"]
    seen = []

    def observe():
        t = task(v, tid)
        if t and (not seen or seen[-1] != t["last_status"]):
            seen.append(t["last_status"])
        return t

    # init has run (exit 0) and the sidecar started, but the sidecar is
    # not healthy: the app waits and the task is PENDING.
    def waiting_for_sidecar():
        t = observe()
        c = containers(t)
        return (t["last_status"] == "PENDING" and c["init"]["last_status"] == "STOPPED"
                and c["sidecar"]["last_status"] == "RUNNING" and t)
    t = wait_for("init done, sidecar running", waiting_for_sidecar, v, timeout=10)
    c = containers(t)
    assert c["init"]["exit_code"] == 0
    assert c["serviceA"]["last_status"] == "PENDING" and c["serviceA"]["pid"] == 0
    assert c["sidecar"]["health_status"] == "UNKNOWN"
    assert t["desired_status"] == "RUNNING" and t["started_at"] is None
    svc = v.stack()["services"][0]
    assert (svc["running"], svc["pending"]) == (0, 1)
    assert v.targets(TG) == []  # not registered while PENDING
    time.sleep(1)
    assert observe()["last_status"] == "PENDING"

    (tmp_path / "sidecar-ready").write_text("")
    wait_for("RUNNING", lambda: observe()["last_status"] == "RUNNING", v, timeout=20)
    v.wait_healthy(TG, 1)
    t = task(v, tid)
    assert statuses(t) == ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"]
    assert t["created_at"] and t["started_at"] and t["stopped_at"] is None
    c = containers(t)
    assert c["sidecar"]["health_status"] == "HEALTHY"
    assert c["serviceA"]["last_status"] == "RUNNING" and c["serviceA"]["pid"] > 0

    # Start order: init, then (once init exited) the sidecar, then the app
    # only once the sidecar was healthy.
    o = order(tmp_path)
    assert [n for n, _ in o] == ["init", "sidecar", "app"], o
    at = dict(o)
    assert at["sidecar"] - at["init"] >= 900_000_000  # init ran its 1 s first
    assert at["app"] > at["sidecar"]
    ready = (tmp_path / "sidecar-ready").stat().st_mtime_ns
    assert at["app"] >= ready

    # Scale in: the task drains (DEACTIVATING, target draining), then stops.
    out = subprocess.run([VPCD, "apply", template(tmp_path, desired=0), "--api", v.api,
                          *params(tmp_path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr

    def deactivating():
        st = v.stack()
        t = next((x for x in st["services"][0]["tasks"] if x["id"] == tid), None)
        if t and (not seen or seen[-1] != t["last_status"]):
            seen.append(t["last_status"])
        return t and t["last_status"] == "DEACTIVATING" and st
    st = wait_for("DEACTIVATING", deactivating, v, timeout=10)
    targets = next(g["targets"] for g in st["target_groups"] if g["name"] == TG)
    assert [x["state"] for x in targets] == ["draining"], targets
    t = wait_for("STOPPED", lambda: (observe()["last_status"] == "STOPPED"
                                     and task(v, tid)), v, timeout=30)
    assert seen[0] in ("PROVISIONING", "PENDING")
    for s in ("PENDING", "RUNNING", "DEACTIVATING", "STOPPED"):
        assert s in seen, seen
    assert seen.index("PENDING") < seen.index("RUNNING") < seen.index("DEACTIVATING") \
        < seen.index("STOPPED"), seen
    assert statuses(t) == ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING",
                           "STOPPING", "DEPROVISIONING", "STOPPED"]
    assert t["desired_status"] == "STOPPED"
    assert t["stop_code"] == "ServiceSchedulerInitiated"
    assert t["stopped_reason"].startswith("Scaling activity initiated by (deployment ecs-svc/")
    assert t["stopping_at"] and t["stopped_at"] and t["stopped_at"] >= t["stopping_at"]
    assert all(c["last_status"] == "STOPPED" for c in t["containers"]), t["containers"]

    # Reverse dependency order: the app went before the sidecar it needed.
    log = v.logs()
    app_gone = log.index(f"task {tid} container serviceA (pid")
    side_gone = log.index(f"task {tid} container sidecar (pid")
    assert app_gone < side_gone

    out = subprocess.run([VPCD, "status", "--api", v.api], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    line = next(x for x in out.splitlines() if tid in x)
    assert "STOPPED (ServiceSchedulerInitiated: Scaling activity initiated by" in line, out


def test_failing_success_dependency_stops_the_task(vpcd_factory, tmp_path):
    v = vpcd_factory(template(tmp_path), extra=params(tmp_path, init_exit=3))

    def stopped():
        return [t for t in v.stack()["services"][0]["tasks"] if t["last_status"] == "STOPPED"]
    t = wait_for("a stopped task", stopped, v, timeout=20)[0]
    assert t["stop_code"] == "EssentialContainerExited"
    assert t["stopped_reason"] == "Essential container in task exited"
    assert t["started_at"] is None
    assert statuses(t) == ["PROVISIONING", "PENDING", "STOPPING", "DEPROVISIONING", "STOPPED"]
    c = containers(t)
    assert c["init"]["exit_code"] == 3
    app = c["serviceA"]
    assert app["last_status"] == "STOPPED" and app["exit_code"] == 143
    assert app["reason"] == (
        "CannotStartContainerError: dependency graph: failed to resolve container ordering "
        "dependency [init SUCCESS (Exit: 3)] for target [serviceA] as dependency did not exit "
        "successfully."), app
    # The sidecar (init COMPLETE) did start, and was stopped with the task.
    assert c["sidecar"]["last_status"] == "STOPPED"
    assert "app" not in [n for n, _ in order(tmp_path)]

    out = subprocess.run([VPCD, "status", "--api", v.api], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert "(EssentialContainerExited: Essential container in task exited)" in out, out
    assert "as dependency did not exit successfully." in out, out
    # The service keeps trying (with its back-off); every try is listed.
    wait_for("a second stopped task", lambda: len(stopped()) >= 2, v, timeout=20)


def test_restart_adopts_a_task_whose_init_container_is_done(tmp_path):
    """state.json lists the task's running containers; init, done before the
    SIGKILL, is no reason to replace the task."""
    v = Vpcd(template(tmp_path), tmp_path, params(tmp_path))
    try:
        (tmp_path / "sidecar-ready").write_text("")
        v.start()
        v.wait_healthy(TG, 1)
        before = v.tasks()[0]
        pids = {n: c["pid"] for n, c in containers(before).items()}
        assert pids["init"] == 0 and pids["sidecar"] > 0 and pids["serviceA"] > 0
        v.proc.send_signal(signal.SIGKILL)
        v.proc.wait(timeout=10)
        v.log.close()

        v.log_path = v.log_path.with_name("vpcd-2.log")
        v.start()
        t = wait_for("the task adopted", lambda: v.tasks() and v.tasks()[0], v, timeout=20)
        assert t["id"] == before["id"]
        c = containers(t)
        assert c["init"]["last_status"] == "STOPPED"
        assert c["sidecar"]["pid"] == pids["sidecar"]
        assert c["serviceA"]["pid"] == pids["serviceA"]
        assert statuses(t) == ["RUNNING"] and t["started_at"] == before["started_at"]
        v.wait_healthy(TG, 1)
        time.sleep(1)
        assert [x["id"] for x in v.stack()["services"][0]["tasks"]] == [before["id"]]
    finally:
        v.stop()
