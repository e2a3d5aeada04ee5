"""ECS through the real binary: replacement on a failing container health
check and on ELB-unhealthy targets, draining before SIGTERM when a host is
stopped (and the host's replacement), Fargate placement without hosts."""
import json
import os
import urllib.error
import urllib.request
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
    # process has not been signalled yet. One snapshot gives both views.
    def deactivating():
        st = v.stack()
        tasks = [t for t in st["services"][0]["tasks"]
                 if t["id"] == victim["id"] and t["last_status"] == "DEACTIVATING"]
        return tasks and st
    st = wait_for("DEACTIVATING", deactivating, v, timeout=5)
    targets = next(g["targets"] for g in st["target_groups"] if g["name"] == TG)
    assert [x["state"] for x in targets
            if x["id"] == victim["address"]] == ["draining"], targets
    was_alive = alive(victim["pid"])
    # Signals come only after DEACTIVATING: if it still is, the process lived.
    assert was_alive or not deactivating()

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

    out = subprocess.run([VPCD, "status", "--api", v.api], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert any(host in line and "STOPPED" in line for line in out.splitlines()), out
    assert "HEALTH" in out and "LAUNCH" in out

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


IMAGE = os.path.join(HERE, "templates", "ecs-image.json")


def test_container_without_command_needs_the_image_map(tmp_path):
    out = subprocess.run([VPCD, "validate", IMAGE], capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert ('container serviceA has no Command or EntryPoint and its image '
            '"example/service-a:latest" is not in the image map') in out.stderr
    assert '"example/service-a:latest": {"argv": [' in out.stderr


def test_image_map_says_what_runs(vpcd_factory, tmp_path):
    images = tmp_path / "images.json"
    images.write_text(json.dumps({
        "example/service-a": {"argv": ["vpcd", "demo-app"],
                              "env": {"SERVICE_NAME": "from-image", "IMAGE_ONLY": "yes"},
                              "workdir": str(tmp_path)},
        "example/other": {"argv": ["false"]}}))
    v = vpcd_factory(IMAGE, extra=("--images", str(images)))
    healthy = v.wait_healthy(TG, 2)
    task = v.tasks()[0]
    with urllib.request.urlopen(f"http://{task['address']}:8080/", timeout=5) as r:
        body = r.read().decode()
    # The container's Environment wins over the image's env.
    assert body.startswith("hello from service-a task on"), body
    env = open(f"/proc/{task['pid']}/environ", "rb").read().split(b"\0")
    assert b"IMAGE_ONLY=yes" in env and b"SERVICE_NAME=service-a" in env
    assert os.readlink(f"/proc/{task['pid']}/cwd") == str(tmp_path)
    assert len(healthy) == 2


def test_task_metadata_endpoint(vpcd_factory, tmp_path):
    v = vpcd_factory(EC2_HEALTH, extra=("--param", f"HealthDir={tmp_path}"))
    task = wait_for("a running task", lambda: v.tasks(), v)[0]
    env = open(f"/proc/{task['pid']}/environ", "rb").read().split(b"\0")
    uri = next(e.split(b"=", 1)[1].decode() for e in env
               if e.startswith(b"ECS_CONTAINER_METADATA_URI_V4="))
    assert uri == f"http://{v.api}/v4/{task['id']}"
    with urllib.request.urlopen(uri, timeout=5) as r:
        c = json.loads(r.read())
    assert c["Name"] == "serviceA"
    assert c["Image"] == "example/service-a:latest"
    assert c["KnownStatus"] == "RUNNING" and c["DesiredStatus"] == "RUNNING"
    assert c["Labels"]["com.amazonaws.ecs.task-arn"] == task["arn"]
    assert c["Labels"]["com.amazonaws.ecs.container-name"] == "serviceA"
    assert c["Labels"]["com.amazonaws.ecs.task-definition-family"] == "service-a"
    assert c["Networks"][0]["IPv4Addresses"] == [task["address"]]
    assert c["DockerId"].startswith(task["id"])
    with urllib.request.urlopen(uri + "/task", timeout=5) as r:
        t = json.loads(r.read())
    assert t["TaskARN"] == task["arn"]
    assert t["Family"] == "service-a" and t["Revision"] == "1"
    assert t["AvailabilityZone"] == task["az"] and t["LaunchType"] == "EC2"
    assert t["Cluster"].startswith("arn:aws:ecs:") and t["Cluster"].endswith(":cluster/Main Cluster")
    assert t["VPCID"].startswith("vpc-")
    assert [x["Name"] for x in t["Containers"]] == ["serviceA"]
    assert t["ServiceName"] == service(v)["name"]
    try:
        urllib.request.urlopen(f"http://{v.api}/v4/{'0' * 32}", timeout=5)
        raise AssertionError("an unknown task must be 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
