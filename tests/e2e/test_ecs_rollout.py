"""Service health and rollout bounds through the real binary:
HealthCheckGracePeriodSeconds keeps a task whose target fails its ELB health
checks until the grace period is over, then the service replaces it; a
rolling deployment of 3 tasks under MinimumHealthyPercent 67 / MaximumPercent
134 never runs more than floor(3 * 1.34) = 4 tasks nor keeps fewer than
ceil(3 * 0.67) = 3 healthy (the rounding itself: test_ecs.c
test_rolling_bounds)."""
import json
import os
import subprocess
import time

from conftest import VPCD

HERE = os.path.dirname(os.path.abspath(__file__))
TG = "service-a-target-group"
GRACE_S = 30


def wait_for(what, fn, v, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{v.logs()[-4000:]}")


def history_ms(task, status):
    return next(h["at_ms"] for h in task["status_history"] if h["status"] == status)


def grace_template(tmp_path):
    """1 task of service A whose health path answers 503; the target group
    finds it unhealthy after 2 failed checks 5 s apart, well inside the
    service's GRACE_S s grace period."""
    t = json.load(open(os.path.join(HERE, "templates", "ecs-ec2-health.json")))
    r = t["Resources"]
    c = r["ServiceATask"]["Properties"]["ContainerDefinitions"][0]
    del c["HealthCheck"]
    c["Environment"] = [{"Name": "SERVICE_NAME", "Value": "service-a"},
                        {"Name": "DEMO_HEALTH_STATUS", "Value": "503"}]
    del t["Parameters"]["HealthDir"]
    r["ServiceAAlbTargetGroup"]["Properties"].update(
        {"UnhealthyThresholdCount": 2, "HealthCheckTimeoutSeconds": 2})
    p = r["ServiceA"]["Properties"]
    p["DesiredCount"] = 1
    p["HealthCheckGracePeriodSeconds"] = GRACE_S
    path = tmp_path / "grace.json"
    path.write_text(json.dumps(t))
    return str(path)


def test_grace_period_delays_the_replacement_of_an_unhealthy_task(vpcd_factory, tmp_path):
    v = vpcd_factory(grace_template(tmp_path))
    first = wait_for("a RUNNING task", lambda: v.tasks() and v.tasks()[0], v)
    running_ms = history_ms(first, "RUNNING")

    def unhealthy():
        ts = v.targets(TG)
        return ts and ts[0]["state"] == "unhealthy" and ts[0]
    target = wait_for("the target to be unhealthy", unhealthy, v, timeout=GRACE_S - 5)
    seen_ms = time.time() * 1000
    assert target["id"] == first["address"]
    assert target["reason"] == "Target.ResponseCodeMismatch", target
    # Unhealthy inside the grace period, and not replaced: still the only
    # task, still RUNNING.
    assert seen_ms < running_ms + GRACE_S * 1000
    tasks = v.stack()["services"][0]["tasks"]
    assert [(t["id"], t["last_status"], t["desired_status"]) for t in tasks] == \
        [(first["id"], "RUNNING", "RUNNING")], tasks

    def stopped():
        t = next(t for t in v.stack()["services"][0]["tasks"] if t["id"] == first["id"])
        return t["last_status"] == "STOPPED" and t
    gone = wait_for("the replacement after the grace period", stopped, v, timeout=GRACE_S + 40)
    arn = next(g["arn"] for g in v.stack()["target_groups"] if g["name"] == TG)
    assert gone["stop_code"] == "ServiceSchedulerInitiated"
    assert gone["stopped_reason"] == f"Task failed ELB health checks in (target-group {arn})"
    # vpcd's own timestamps: the stop began once the grace period was over
    # (1 s slack: the scheduler's clock is read once per loop iteration,
    # the status times from the wall clock), long after the target was
    # found unhealthy.
    stop_ms = history_ms(gone, "DEACTIVATING")
    assert stop_ms >= running_ms + (GRACE_S - 1) * 1000, gone
    assert stop_ms > seen_ms + 5000, (stop_ms, seen_ms)
    # And the service started another task in its place.
    wait_for("a replacement task", lambda: any(
        t["id"] != first["id"] and t["desired_status"] == "RUNNING"
        for t in v.stack()["services"][0]["tasks"]), v)


def rollout_template(tmp_path):
    t = json.load(open(os.path.join(HERE, "templates", "deploy.json")))
    r = t["Resources"]
    r["ServiceA"]["Properties"]["DeploymentConfiguration"].update(
        {"MinimumHealthyPercent": 67, "MaximumPercent": 134})
    r["ServiceAAlbTargetGroup"]["Properties"]["TargetGroupAttributes"] = [
        {"Key": "deregistration_delay.timeout_seconds", "Value": "2"}]
    path = tmp_path / "rollout.json"
    path.write_text(json.dumps(t))
    return str(path)


def test_rolling_deployment_keeps_odd_percentages(vpcd_factory, tmp_path):
    path = rollout_template(tmp_path)
    v = vpcd_factory(path, extra=("--param", "Count=3"))
    v.wait_healthy(TG, 3, timeout=40)
    old = {t["id"] for t in v.tasks()}
    out = subprocess.run([VPCD, "apply", path, "--api", v.api, "--param", "Count=3",
                          "--param", "Version=2"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "new deployment" in out.stdout, out.stdout

    samples = []

    def completed():
        st = v.stack()
        s = st["services"][0]
        live = [t for t in s["tasks"] if t["desired_status"] == "RUNNING"]
        healthy = [t for t in next(g["targets"] for g in st["target_groups"]
                                   if g["name"] == TG) if t["state"] == "healthy"]
        new = [t for t in live if t["task_definition_arn"].endswith(":2")]
        samples.append((len(live), len(healthy), len(new)))
        assert len(live) <= 4, live                  # floor(3 * 134 / 100)
        assert len(healthy) >= 3, st["target_groups"]  # ceil(3 * 67 / 100)
        d = s["deployments"]
        return len(d) == 1 and d[0]["rolloutState"] == "COMPLETED" and s
    svc = wait_for("the deployment to complete", completed, v, timeout=120)
    print(f"\n{len(samples)} samples (live, healthy, new): "
          f"max live {max(s[0] for s in samples)}, min healthy {min(s[1] for s in samples)}")
    # New tasks came one by one, as 4 - 3 = 1 allows: three starts of 1
    # task after the first start of all 3.
    started = [e for e in svc["events"] if " has started " in e]
    assert len(started) == 4, started
    assert started[-1].startswith(f"(service {svc['name']}) has started 3 tasks:"), started
    assert all(" has started 1 tasks: (task " in e for e in started[:3]), started
    running = [t for t in svc["tasks"] if t["last_status"] == "RUNNING"]
    assert len(running) == 3 and not old & {t["id"] for t in running}
    assert all(t["task_definition_arn"].endswith(":2") for t in running)
    assert sum("has begun draining connections on 1 tasks." in e for e in svc["events"]) == 3


def test_rolling_deployment_at_100_and_100_percent_cannot_progress(vpcd_factory, tmp_path):
    """min 100 % / max 100 %: no task may start above 2 nor stop below 2, so
    the new deployment stays IN_PROGRESS with the old tasks serving, and the
    service says why, in ECS's words."""
    t = json.load(open(os.path.join(HERE, "templates", "deploy.json")))
    t["Resources"]["ServiceA"]["Properties"]["DeploymentConfiguration"].update(
        {"MinimumHealthyPercent": 100, "MaximumPercent": 100})
    path = tmp_path / "stuck.json"
    path.write_text(json.dumps(t))
    v = vpcd_factory(str(path))
    v.wait_healthy(TG, 2)
    old = {t["id"] for t in v.tasks()}
    out = subprocess.run([VPCD, "apply", str(path), "--api", v.api, "--param", "Version=2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    name = v.stack()["services"][0]["name"]
    stuck = (f"service {name} was unable to stop or start tasks during a deployment because "
             "of the service deployment configuration. Update the minimumHealthyPercent or "
             "maximumPercent value and try again.")
    svc = wait_for("the stuck event", lambda: stuck in v.stack()["services"][0]["events"]
                   and v.stack()["services"][0], v, timeout=30)
    assert [d["rolloutState"] for d in svc["deployments"]] == ["IN_PROGRESS", "COMPLETED"]
    live = [t for t in svc["tasks"] if t["desired_status"] == "RUNNING"]
    assert {t["id"] for t in live} == old and all(t["last_status"] == "RUNNING" for t in live)
