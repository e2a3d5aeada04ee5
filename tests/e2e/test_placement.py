"""Host resources and task placement through the real binary: hosts register
their instance type's CPU and memory, tasks reserve from them while they
run; binpack fills one host first, the default spreads over AZs, then
hosts; distinctInstance and memberOf bind; a task too big for every host
stays pending with ECS's service event and is placed once another service
scales in and frees memory."""
import json
import subprocess
import time

from conftest import VPCD

# t3.small: 2 vCPUs, 2 GiB installed -> 2048 CPU units, 1996 MiB registered.
SMALL_MEM = 1996


def template(groups, services):
    """groups: (logical, instance type or None, 'lc' | 'lt', desired, [subnets]);
    services: dicts with name, desired, memory (task MiB), cpu, strategies,
    constraints. DesiredCount of each service is a parameter <name>Count."""
    res = {
        "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "A": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "VPC"}, "CidrBlock": "10.0.1.0/24",
            "AvailabilityZone": "us-east-1a"}},
        "B": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "VPC"}, "CidrBlock": "10.0.2.0/24",
            "AvailabilityZone": "us-east-1b"}},
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "main"}},
    }
    params = {}
    for logical, itype, via, desired, subnets in groups:
        asg = {"MinSize": "0", "MaxSize": "10", "DesiredCapacity": str(desired),
               "VPCZoneIdentifier": [{"Ref": s} for s in subnets]}
        if itype and via == "lc":
            res[logical + "Config"] = {
                "Type": "AWS::AutoScaling::LaunchConfiguration",
                "Properties": {"ImageId": "ami-0c55b159cbfafe1f0", "InstanceType": itype}}
            asg["LaunchConfigurationName"] = {"Ref": logical + "Config"}
        elif itype:
            res[logical + "Template"] = {
                "Type": "AWS::EC2::LaunchTemplate",
                "Properties": {"LaunchTemplateData": {"ImageId": "ami-0c55b159cbfafe1f0",
                                                      "InstanceType": itype}}}
            asg["LaunchTemplate"] = {
                "LaunchTemplateId": {"Ref": logical + "Template"},
                "Version": {"Fn::GetAtt": [logical + "Template", "LatestVersionNumber"]}}
        res[logical] = {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": asg}
    for s in services:
        td = {"Family": s["name"], "Memory": str(s["memory"]),
              "ContainerDefinitions": [{
                  "Name": "main", "Image": "sleeper", "Essential": True,
                  "Command": ["/bin/sleep", "600"]}]}
        if "cpu" in s:
            td["Cpu"] = str(s["cpu"])
        res[s["name"] + "Task"] = {"Type": "AWS::ECS::TaskDefinition", "Properties": td}
        params[s["name"] + "Count"] = {"Type": "Number", "Default": str(s["desired"])}
        props = {"Cluster": {"Ref": "Cluster"}, "ServiceName": s["name"],
                 "TaskDefinition": {"Ref": s["name"] + "Task"},
                 "DesiredCount": {"Ref": s["name"] + "Count"}}
        if s.get("strategies"):
            props["PlacementStrategies"] = s["strategies"]
        if s.get("constraints"):
            props["PlacementConstraints"] = s["constraints"]
        res[s["name"]] = {"Type": "AWS::ECS::Service", "DependsOn": [g[0] for g in groups],
                          "Properties": props}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": params,
            "Resources": res}


def write(tmp_path, t):
    p = tmp_path / "placement.json"
    p.write_text(json.dumps(t, indent=1))
    return str(p)


def wait_for(what, fn, v, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{v.logs()[-4000:]}\n"
                         f"{json.dumps(v.stack()['services'], indent=1)[-4000:]}")


def service(v, name):
    return next(s for s in v.stack()["services"] if s["name"] == name)


def running(v, name):
    return [t for t in service(v, name)["tasks"] if t["last_status"] == "RUNNING"]


def hosts(v):
    return {h["id"]: h for h in v.stack()["hosts"]}


def per_host(tasks):
    out = {}
    for t in tasks:
        out[t["host"]] = out.get(t["host"], 0) + 1
    return out


def test_binpack_fills_one_host_first(vpcd_factory, tmp_path):
    t = template([("Hosts", "t3.small", "lc", 3, ["A", "B"])],
                 [{"name": "packed", "desired": 4, "memory": 512, "cpu": 256,
                   "strategies": [{"Type": "binpack", "Field": "memory"}]}])
    v = vpcd_factory(write(tmp_path, t))
    tasks = wait_for("4 running tasks", lambda: len(running(v, "packed")) == 4
                     and running(v, "packed"), v)
    counts = sorted(per_host(tasks).values(), reverse=True)
    # 3 x 512 MiB fit in 1996 MiB, the 4th goes to a second host
    assert counts == [3, 1], per_host(tasks)
    hs = hosts(v)
    assert len(hs) == 3
    for h in hs.values():
        assert h["instance_type"] == "t3.small"
        assert h["registered_cpu"] == 2048
        assert h["registered_memory"] == SMALL_MEM
        n = per_host(tasks).get(h["id"], 0)
        assert h["tasks"] == n
        assert h["remaining_memory"] == SMALL_MEM - 512 * n, h
        assert h["remaining_cpu"] == 2048 - 256 * n, h
    # vpcd status prints the same accounting
    out = subprocess.run([VPCD, "status", "--api", v.api], capture_output=True, text=True,
                         timeout=10).stdout
    full = next(h for h in hs.values() if h["tasks"] == 3)
    assert f"t3.small  cpu 1280/2048  memory {SMALL_MEM - 1536}/{SMALL_MEM} MiB free" in out
    assert full["id"] in out


def test_default_spreads_over_azs_then_hosts(vpcd_factory, tmp_path):
    t = template([("Hosts", "m5.large", "lt", 4, ["A", "B"])],
                 [{"name": "spread", "desired": 4, "memory": 256}])
    v = vpcd_factory(write(tmp_path, t))
    tasks = wait_for("4 running tasks", lambda: len(running(v, "spread")) == 4
                     and running(v, "spread"), v)
    azs = {}
    for task in tasks:
        azs[task["az"]] = azs.get(task["az"], 0) + 1
    assert azs == {"us-east-1a": 2, "us-east-1b": 2}
    assert sorted(per_host(tasks).values()) == [1, 1, 1, 1]
    for h in hosts(v).values():
        assert h["instance_type"] == "m5.large"
        assert h["registered_memory"] == 7985
        assert h["remaining_memory"] == 7985 - 256


def test_distinct_instance_leaves_the_extra_task_pending(vpcd_factory, tmp_path):
    t = template([("Hosts", "t3.small", "lc", 2, ["A", "B"])],
                 [{"name": "distinct", "desired": 3, "memory": 128,
                   "strategies": [{"Type": "binpack", "Field": "memory"}],
                   "constraints": [{"Type": "distinctInstance"}]}])
    v = vpcd_factory(write(tmp_path, t))
    want = ("service distinct was unable to place a task because no container instance met "
            "all of its requirements. The closest matching container-instance ")
    ev = wait_for("the placement event",
                  lambda: [e for e in service(v, "distinct")["events"] if e.startswith(want)],
                  v)
    assert 'encountered error "DistinctInstance placement constraint unsatisfied.".' in ev[0]
    # binpack alone would have packed them; the constraint keeps one per host
    tasks = running(v, "distinct")
    assert len(tasks) == 2
    assert sorted(per_host(tasks).values()) == [1, 1]
    # not repeated while nothing changes
    time.sleep(1)
    assert len([e for e in service(v, "distinct")["events"] if e.startswith(want)]) == 1


def test_member_of_instance_type(vpcd_factory, tmp_path):
    t = template([("Small", "t3.small", "lc", 2, ["A", "B"]),
                  ("Big", "m5.xlarge", "lt", 2, ["A", "B"])],
                 [{"name": "members", "desired": 4, "memory": 256,
                   "constraints": [{"Type": "memberOf",
                                    "Expression": "attribute:ecs.instance-type =~ m5.* and "
                                                  "attribute:ecs.availability-zone in "
                                                  "[us-east-1a, us-east-1b]"}]}])
    v = vpcd_factory(write(tmp_path, t))
    tasks = wait_for("4 running tasks", lambda: len(running(v, "members")) == 4
                     and running(v, "members"), v)
    hs = hosts(v)
    assert {hs[t["host"]]["instance_type"] for t in tasks} == {"m5.xlarge"}
    # spread (the default) over the two m5.xlarge hosts, one per AZ
    assert sorted(per_host(tasks).values()) == [2, 2]
    for h in hs.values():
        if h["instance_type"] == "t3.small":
            assert h["tasks"] == 0 and h["remaining_memory"] == SMALL_MEM


def test_too_big_waits_then_runs_when_memory_frees(vpcd_factory, tmp_path):
    # One t3.small (1996 MiB): two 900 MiB fillers leave 196 MiB; the
    # 1200 MiB task cannot be placed until the fillers scale in.
    t = template([("Hosts", "t3.small", "lc", 1, ["A"])],
                 [{"name": "filler", "desired": 2, "memory": 900},
                  {"name": "big", "desired": 1, "memory": 1200}])
    path = write(tmp_path, t)
    v = vpcd_factory(path)
    wait_for("2 fillers", lambda: len(running(v, "filler")) == 2, v)
    want = ("service big was unable to place a task because no container instance met all "
            "of its requirements. The closest matching container-instance ")
    ev = wait_for("the placement event",
                  lambda: [e for e in service(v, "big")["events"] if e.startswith(want)], v)
    host = next(iter(hosts(v).values()))
    assert ev[0] == (want + host["id"] + " has insufficient memory available. For more "
                     "information, see the Troubleshooting section.")
    assert running(v, "big") == []
    assert host["remaining_memory"] == SMALL_MEM - 1800
    # the filler scales in to 0: its memory comes back and big is placed
    r = subprocess.run([VPCD, "apply", path, "--api", v.api, "--param", "fillerCount=0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    tasks = wait_for("big running", lambda: running(v, "big"), v)
    assert tasks[0]["host"] == host["id"]
    wait_for("the fillers gone", lambda: running(v, "filler") == [], v)
    h = hosts(v)[host["id"]]
    assert h["tasks"] == 1
    assert h["remaining_memory"] == SMALL_MEM - 1200


def test_no_instance_type_means_no_limit(vpcd_factory, tmp_path):
    t = template([("Hosts", None, "lc", 1, ["A"])],
                 [{"name": "free", "desired": 3, "memory": 4096}])
    v = vpcd_factory(write(tmp_path, t))
    wait_for("3 running tasks", lambda: len(running(v, "free")) == 3, v)
    h = next(iter(hosts(v).values()))
    assert h["instance_type"] is None and h["registered_memory"] is None


def test_bad_expression_is_a_load_error_at_its_column(tmp_path):
    t = template([("Hosts", "t3.small", "lc", 1, ["A"])],
                 [{"name": "bad", "desired": 1, "memory": 128,
                   "constraints": [{"Type": "memberOf",
                                    "Expression": "attribute:ecs.instance-type in t3.small"}]}])
    path = write(tmp_path, t)
    r = subprocess.run([VPCD, "validate", path], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    lines = open(path).read().split("\n")
    ln = next(i for i, l in enumerate(lines) if "in t3.small" in l)
    col = lines[ln].index("t3.small") + 1
    assert (f"{path}:{ln + 1}:{col}: error: Resources.bad.Properties.PlacementConstraints[0]."
            f"Expression: expected '[' and a list of values") in r.stderr, r.stderr
    t["Resources"]["HostsConfig"]["Properties"]["InstanceType"] = "q7.large"
    t["Resources"]["bad"]["Properties"].pop("PlacementConstraints")
    path = write(tmp_path, t)
    r = subprocess.run([VPCD, "validate", path], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "Resources.HostsConfig.Properties.InstanceType: unknown instance type q7.large" \
        in r.stderr, r.stderr


OOM = "OutOfMemoryError: Container killed due to memory usage"


def test_memory_limit_oom_kills_the_task(vpcd_factory, tmp_path):
    # Task Memory 64 MiB, container Memory 48 MiB: the container writes
    # 300 MiB. Where vpcd can write a memory cgroup (v2 or v1) the kernel
    # kills it and the task stops with ECS's reason; the reservation part
    # holds everywhere.
    t = template([("Hosts", "t3.small", "lc", 1, ["A"])],
                 [{"name": "hog", "desired": 1, "memory": 64}])
    c = t["Resources"]["hogTask"]["Properties"]["ContainerDefinitions"][0]
    c["Memory"] = 48
    c["Command"] = ["/usr/bin/python3", "-c",
                    "import time\nb = b'x' * (300 << 20)\ntime.sleep(600)"]
    v = vpcd_factory(write(tmp_path, t))
    host = next(iter(hosts(v).values()))
    wait_for("the hog placed", lambda: service(v, "hog")["tasks"], v)
    # reserved while it lives: 1996 - 64
    wait_for("its reservation", lambda: hosts(v)[host["id"]]["remaining_memory"]
             == SMALL_MEM - 64 or [s for s in v.stack()["services"][0]["tasks"]
                                   if s["last_status"] == "STOPPED"], v)
    if "task memory limits are not enforced" in v.logs():
        import warnings
        warnings.warn("memory cgroups are not writable here: the OOM kill was not tested "
                      "(vpcd logged that limits are not enforced); reservation checked")
        assert len(running(v, "hog")) == 1
        assert hosts(v)[host["id"]]["remaining_memory"] == SMALL_MEM - 64
        return
    assert "task memory limits enforced through" in v.logs(), v.logs()
    stopped = wait_for("the OOM kill", lambda: [
        s for s in service(v, "hog")["tasks"]
        if s["last_status"] == "STOPPED" and s["stopped_reason"] == OOM], v, timeout=30)
    assert stopped[0]["stop_code"] == "EssentialContainerExited"
    # its memory came back (its replacement may hold the same again)
    h = hosts(v)[host["id"]]
    assert h["remaining_memory"] == SMALL_MEM - 64 * h["tasks"], h
