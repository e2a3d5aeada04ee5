"""A container's PortMappings through the real binary: a task whose one
container maps two ports is registered, at its own address, in two target
groups (one per LoadBalancers entry, each with its ContainerPort), and the
ALB's two rules reach each port; a LoadBalancers entry naming an unmapped
port is a load-time error at FILE:LINE:COL. And EntryPoint + Command run in
WorkingDirectory."""
import http.client
import json
import os
import subprocess
import time

from conftest import VPCD

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "templates", "ecs-ec2-health.json")
TG = "service-a-target-group"
ADMIN_TG = "service-a-admin-target-group"


def wait_for(what, fn, v, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{v.logs()[-4000:]}")


def two_port_template(tmp_path, admin_port=9090, container=None):
    """service A, 1 task, its container mapped on 8080 and 9090: 8080 behind
    service-a.in.example.com, 9090 behind admin.in.example.com (a second
    target group and rule). admin_port: the second LoadBalancers entry's
    ContainerPort. container: replaces the container's definition keys."""
    t = json.load(open(BASE))
    r = t["Resources"]
    c = r["ServiceATask"]["Properties"]["ContainerDefinitions"][0]
    del c["HealthCheck"]
    c["Environment"] = [{"Name": "SERVICE_NAME", "Value": "service-a"}]
    c["PortMappings"] = [{"ContainerPort": 8080}, {"ContainerPort": 9090}]
    c.update(container or {})
    del t["Parameters"]["HealthDir"]
    admin_tg = json.loads(json.dumps(r["ServiceAAlbTargetGroup"]))
    admin_tg["Properties"].update({"Port": 9090, "Name": ADMIN_TG})
    r["AdminTargetGroup"] = admin_tg
    rule = json.loads(json.dumps(r["ServiceAAlbHttpListenerRule"]))
    rule["Properties"].update({
        "Priority": 2,
        "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "AdminTargetGroup"}}],
        "Conditions": [{"Field": "host-header", "Values": ["admin.in.example.com"]}]})
    r["AdminRule"] = rule
    s = r["ServiceA"]
    s["DependsOn"] = ["ServiceAAlbHttpListenerRule", "AdminRule"]
    s["Properties"]["DesiredCount"] = 1
    s["Properties"]["LoadBalancers"].append(
        {"ContainerName": "serviceA", "ContainerPort": admin_port,
         "TargetGroupArn": {"Ref": "AdminTargetGroup"}})
    # One entry per line, so that an error's line names the entry.
    path = tmp_path / f"ports-{admin_port}.json"
    path.write_text(json.dumps(t, indent=1))
    return str(path)


def get(addr, host):
    conn = http.client.HTTPConnection(addr, 80, timeout=5)
    try:
        conn.request("GET", "/", headers={"Host": host})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def test_two_port_mappings_behind_two_target_groups(vpcd_factory, tmp_path):
    v = vpcd_factory(two_port_template(tmp_path))
    web = v.wait_healthy(TG, 1)
    admin = v.wait_healthy(ADMIN_TG, 1)
    task = v.tasks()[0]
    assert [(t["id"], t["port"]) for t in web] == [(task["address"], 8080)]
    assert [(t["id"], t["port"]) for t in admin] == [(task["address"], 9090)]
    events = v.stack()["services"][0]["events"]
    tgs = {g["name"]: g["arn"] for g in v.stack()["target_groups"]}
    for name in (TG, ADMIN_TG):
        assert f"(service {v.stack()['services'][0]['name']}) registered 1 targets in " \
               f"(target-group {tgs[name]})" in events, events
    node = v.stack()["load_balancers"][0]["nodes"][0]["address"]
    for _ in range(3):
        assert get(node, "service-a.in.example.com") == (
            200, f"hello from service-a task on {task['address']}:8080\n")
        assert get(node, "admin.in.example.com") == (
            200, f"hello from service-a task on {task['address']}:9090\n")
    log = (v.state / "tasks" / task["id"] / "serviceA.log").read_text()
    assert f"listening on {task['address']}:8080" in log
    assert f"listening on {task['address']}:9090" in log


def test_load_balancer_entry_for_an_unmapped_port_is_refused(tmp_path):
    path = two_port_template(tmp_path, admin_port=7070)
    r = subprocess.run([VPCD, "validate", path], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r.stdout
    lines = open(path).read().split("\n")
    line = next(i + 1 for i, l in enumerate(lines) if '"ContainerPort": 7070' in l)
    col = lines[line - 1].index("7070") + 1
    want = (f"{path}:{line}:{col}: error: Resources.ServiceA.Properties.LoadBalancers[1]"
            ".ContainerPort: container serviceA has no port mapping for container port 7070")
    assert want in r.stderr, r.stderr


def test_entry_point_and_command_run_in_the_working_directory(vpcd_factory, tmp_path):
    wd = tmp_path / "workdir"
    wd.mkdir()
    path = two_port_template(tmp_path, container={
        "EntryPoint": ["/bin/sh", "-c"],
        "Command": ['pwd > started-in; echo "$0 $PORT $PORTS" >> started-in; exec vpcd demo-app',
                    "from-command"],
        "WorkingDirectory": str(wd)})
    v = vpcd_factory(path)
    v.wait_healthy(TG, 1)
    v.wait_healthy(ADMIN_TG, 1)
    got = wait_for("started-in", lambda: (wd / "started-in").exists()
                   and (wd / "started-in").read_text(), v)
    assert got == f"{wd}\nfrom-command 8080 8080,9090\n"
    node = v.stack()["load_balancers"][0]["nodes"][0]["address"]
    assert get(node, "admin.in.example.com")[0] == 200


def test_two_containers_behind_two_target_groups(vpcd_factory, tmp_path):
    """Two containers of one task (one address, as in awsvpc), web on 8080
    and admin on 9090, each named by its own LoadBalancers entry."""
    path = two_port_template(tmp_path)
    t = json.load(open(path))
    web = t["Resources"]["ServiceATask"]["Properties"]["ContainerDefinitions"][0]
    web["PortMappings"] = [{"ContainerPort": 8080}]
    admin = json.loads(json.dumps(web))
    admin.update({"Name": "admin", "PortMappings": [{"ContainerPort": 9090}],
                  "Environment": [{"Name": "SERVICE_NAME", "Value": "admin"}]})
    t["Resources"]["ServiceATask"]["Properties"]["ContainerDefinitions"].append(admin)
    t["Resources"]["ServiceA"]["Properties"]["LoadBalancers"][1]["ContainerName"] = "admin"
    path = tmp_path / "two-containers.json"
    path.write_text(json.dumps(t))
    v = vpcd_factory(str(path))
    web_t = v.wait_healthy(TG, 1)
    admin_t = v.wait_healthy(ADMIN_TG, 1)
    task = v.tasks()[0]
    assert [(t["id"], t["port"]) for t in web_t] == [(task["address"], 8080)]
    assert [(t["id"], t["port"]) for t in admin_t] == [(task["address"], 9090)]
    node = v.stack()["load_balancers"][0]["nodes"][0]["address"]
    assert get(node, "service-a.in.example.com") == (
        200, f"hello from service-a task on {task['address']}:8080\n")
    assert get(node, "admin.in.example.com") == (
        200, f"hello from admin task on {task['address']}:9090\n")
