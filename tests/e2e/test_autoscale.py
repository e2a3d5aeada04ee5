"""Application Auto Scaling: the seed's service (2 tasks) with a scalable
target of 2..4 tasks and target tracking on ALBRequestCountPerTarget at 300
requests per target per minute (10 s cooldowns). ~40 requests/s, about 1200
per target per minute on 2 targets, scales it out with no failed request; once
the load stops it scales back in to 2."""
import json
import os
import time

from test_deploy import Load, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "templates", "autoscale.json")
TG = "service-a-target-group"


def service(v):
    return v.stack()["services"][0]


def healthy(v):
    return [t for t in v.targets(TG) if t["state"] == "healthy"]


def test_validate_shows_the_policy():
    import subprocess
    from conftest import VPCD
    out = subprocess.run([VPCD, "validate", TEMPLATE], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert "DesiredCount 2..4 (service/Main Cluster/" in out.stdout
    assert ("target tracking ALBRequestCountPerTarget 300 on service-a-target-group"
            in out.stdout)
    assert "cooldown out 10s in 10s" in out.stdout
    assert "accepted, no effect" not in [l for l in out.stdout.splitlines()
                                         if "ApplicationAutoScaling" in l][0]


def test_scale_out_under_load_and_back_in(vpcd_factory):
    v = vpcd_factory(TEMPLATE)
    v.wait_healthy(TG, 2)
    assert service(v)["desired"] == 2
    addrs = [n["address"] for n in v.stack()["load_balancers"][0]["nodes"]]

    with Load(addrs, rate=40, threads=4) as load:
        t0 = time.monotonic()
        wait_for("a scale-out", lambda: service(v)["desired"] > 2, v, timeout=60)
        t_out = time.monotonic() - t0
        desired = service(v)["desired"]
        wait_for(f"{desired} healthy targets", lambda: len(healthy(v)) >= desired, v,
                 timeout=60)
        t_healthy = time.monotonic() - t0
        time.sleep(2)  # answers from the new tasks too
    print(f"\nscale-out: desired 2 -> {desired} after {t_out:.1f} s, {desired} healthy after "
          f"{t_healthy:.1f} s; requests: {load.total()} in {load.seconds:.1f} s "
          f"({load.total() / load.seconds:.0f}/s), 2xx {load.ok}, non-2xx {len(load.bad)}, "
          f"connection errors {len(load.errors)}")
    assert load.bad == [], load.bad[:5]
    assert load.errors == [], load.errors[:5]
    assert 2 < desired <= 4
    assert load.total() / load.seconds >= 30
    svc = service(v)
    name = svc["name"]
    events = list(reversed(svc["events"]))  # oldest first
    act = [i for i, e in enumerate(events)
           if f"Successfully set desired count to {desired}. Change successfully fulfilled by "
              f"ecs." in e]
    assert act, events
    assert "TargetTracking-service/Main Cluster/" in events[act[0]]
    assert "-AlarmHigh-" in events[act[0]]
    assert any(e.startswith(f"(service {name}) has started {desired - 2} tasks:")
               for e in events[act[0] + 1:]), events

    # No load: 15 low datapoints of 5 s, then back to MinCapacity.
    t1 = time.monotonic()
    wait_for("the scale-in", lambda: service(v)["desired"] == 2, v, timeout=150)
    t_in = time.monotonic() - t1
    wait_for("2 tasks left", lambda: len(v.tasks()) == 2
             and not v.tasks("DEACTIVATING") and not v.tasks("STOPPING"), v, timeout=30)
    print(f"scale-in: desired {desired} -> 2 {t_in:.1f} s after the load stopped")
    events = list(reversed(service(v)["events"]))
    assert any("Successfully set desired count to 2." in e and "-AlarmLow-" in e
               for e in events), events
    assert t_in >= 15 * 5 - 10  # scale in waits for a longer low alarm


def test_apply_keeps_the_scaled_count(vpcd_factory, tmp_path):
    """CloudFormation updates only the properties whose template value
    changed: an apply that changes the container's environment (a new
    deployment) keeps the count auto scaling set; one that changes
    DesiredCount sets it."""
    from test_deploy import apply
    v = vpcd_factory(TEMPLATE)
    v.wait_healthy(TG, 2)
    addrs = [n["address"] for n in v.stack()["load_balancers"][0]["nodes"]]
    text = open(TEMPLATE).read()
    assert '"Value": "service-a"' in text and '"DesiredCount": 2' in text
    v2 = tmp_path / "v2.json"
    v2.write_text(text.replace('"Value": "service-a"', '"Value": "service-a-v2"'))
    v3 = tmp_path / "v3.json"
    v3.write_text(text.replace('"Value": "service-a"', '"Value": "service-a-v2"')
                  .replace('"DesiredCount": 2', '"DesiredCount": 3'))

    with Load(addrs, rate=40, threads=4) as load:
        wait_for("a scale-out", lambda: service(v)["desired"] > 2, v, timeout=60)
        scaled = service(v)["desired"]
        out = apply(v, template=str(v2))
        assert out.returncode == 0, out.stderr
        assert "new deployment ecs-svc/" in out.stdout, out.stdout
        assert f"desired {scaled}," in out.stdout, out.stdout
        t0 = time.monotonic()

        def completed():
            s = service(v)
            d = s["deployments"]
            assert s["desired"] >= scaled, s["desired"]  # never back to the template's 2
            return len(d) == 1 and d[0]["rolloutState"] == "COMPLETED" and s
        svc = wait_for("the deployment to complete", completed, v, timeout=120)
        took = time.monotonic() - t0
    print(f"\nscaled to {scaled} before the apply; deployment completed in {took:.1f} s "
          f"with desired {svc['desired']}; requests {load.total()}, 2xx {load.ok}, "
          f"non-2xx {len(load.bad)}, connection errors {len(load.errors)}")
    assert load.bad == [] and load.errors == [], (load.bad[:5], load.errors[:5])
    assert svc["desired"] >= scaled
    running = [t for t in svc["tasks"] if t["last_status"] == "RUNNING"]
    assert len(running) == svc["desired"]
    assert {t["task_definition_arn"].rsplit(":", 1)[1] for t in running} == {"2"}

    # DesiredCount 2 -> 3 in the template: set, whatever scaling did.
    out = apply(v, template=str(v3))
    assert out.returncode == 0, out.stderr
    assert "desired 3," in out.stdout and "new deployment" not in out.stdout, out.stdout
    assert service(v)["desired"] == 3
    # The same template again: DesiredCount unchanged, nothing sent.
    out = apply(v, template=str(v3))
    assert out.returncode == 0 and "no change" in out.stdout, out.stdout


def cpu_template(tmp_path):
    """autoscale.json with task Cpu 256 (a quarter of a core) and target
    tracking on ECSServiceAverageCPUUtilization at 50 % instead of the
    request count."""
    t = json.load(open(TEMPLATE))
    r = t["Resources"]
    r["ServiceATask"]["Properties"]["Cpu"] = "256"
    pol = r["ServiceARequestScaling"]["Properties"]
    pol["PolicyName"] = "service-a-cpu"
    pol["TargetTrackingScalingPolicyConfiguration"] = {
        "TargetValue": 50, "ScaleOutCooldown": 10, "ScaleInCooldown": 10,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}
    path = tmp_path / "autoscale-cpu.json"
    path.write_text(json.dumps(t))
    return str(path)


def test_cpu_target_tracking_scales_out_and_back_in(vpcd_factory, tmp_path):
    """ECSServiceAverageCPUUtilization as ECS computes it: the CPU the
    service's tasks used over the CPU their task definition reserves (256
    units = a quarter of a core each). 10 requests/s of /burn?ms=40 use
    0.4 core over 2 tasks, 80 % of their 0.5 core: 3 datapoints above 50 %
    scale out to ceil(2 x 80 / 50) = 4 (MaxCapacity); the load gone, 15 low
    datapoints scale back in to MinCapacity 2."""
    v = vpcd_factory(cpu_template(tmp_path))
    v.wait_healthy(TG, 2)
    assert service(v)["desired"] == 2
    addrs = [n["address"] for n in v.stack()["load_balancers"][0]["nodes"]]

    with Load(addrs, rate=10, threads=4, path="/burn?ms=40") as load:
        t0 = time.monotonic()
        wait_for("a scale-out", lambda: service(v)["desired"] > 2, v, timeout=90)
        t_out = time.monotonic() - t0
        desired = service(v)["desired"]
        wait_for(f"{desired} healthy targets", lambda: len(healthy(v)) >= desired, v,
                 timeout=60)
        t_healthy = time.monotonic() - t0
    burned = [b for _, b in load.bodies if b.startswith("burned ")]
    print(f"\nCPU scale-out: desired 2 -> {desired} after {t_out:.1f} s, {desired} healthy after "
          f"{t_healthy:.1f} s; /burn?ms=40 requests: {load.total()} in {load.seconds:.1f} s "
          f"({load.total() / load.seconds:.1f}/s), 2xx {load.ok}, non-2xx {len(load.bad)}, "
          f"connection errors {len(load.errors)}")
    assert load.bad == [] and load.errors == [], (load.bad[:5], load.errors[:5])
    assert len(burned) == load.ok and all(" ms of CPU on " in b for b in burned)
    assert 2 < desired <= 4
    svc = service(v)
    events = list(reversed(svc["events"]))  # oldest first
    act = [e for e in events if f"Successfully set desired count to {desired}." in e]
    assert act and "-AlarmHigh-" in act[0], events
    assert "ECSServiceAverageCPUUtilization" in act[0] and "target 50)" in act[0], act[0]
    # the datapoint that triggered it: well above 50 %, at most what 0.4
    # core over 2 quarter cores can be (with slack for the interpreter)
    pct = float(act[0].split("ECSServiceAverageCPUUtilization ")[1].split(",")[0])
    print(f"CPU datapoint that scaled out: {pct:.1f} %")
    assert 50 < pct < 200, act[0]

    # No load: 15 low datapoints of 5 s, then back to MinCapacity.
    t1 = time.monotonic()
    wait_for("the scale-in", lambda: service(v)["desired"] == 2, v, timeout=150)
    t_in = time.monotonic() - t1
    print(f"CPU scale-in: desired {desired} -> 2 {t_in:.1f} s after the load stopped")
    events = list(reversed(service(v)["events"]))
    low = [e for e in events if "Successfully set desired count to 2." in e]
    assert low and "-AlarmLow-" in low[-1] and "ECSServiceAverageCPUUtilization" in low[-1], \
        events
    assert t_in >= 15 * 5 - 10
    wait_for("2 tasks left", lambda: len(v.tasks()) == 2
             and not v.tasks("DEACTIVATING") and not v.tasks("STOPPING"), v, timeout=30)
