"""`vpcd validate` through the real binary: the plan on success, and on bad
templates every error as FILE:LINE:COL: error: PATH: message, exit 1."""
import json
import subprocess

from conftest import EXAMPLE, VPCD


def validate(tmp_path, name, text, *args):
    f = tmp_path / name
    f.write_text(text)
    r = subprocess.run([VPCD, "validate", name, *args], cwd=tmp_path, capture_output=True,
                       text=True, timeout=10)
    return r.returncode, r.stdout, r.stderr.splitlines()


def test_plan_of_the_seed():
    r = subprocess.run([VPCD, "validate", EXAMPLE], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "127.77.1.0/24 us-east-1a" in r.stdout
    assert "nodes 127.77.1.4 127.77.2.4" in r.stdout
    assert "accepted, no effect" in r.stdout
    # creation order: the VPC before its subnets, the LB before its listener
    assert r.stdout.index("PrivateASubnet") > r.stdout.index("  VPC ")
    assert r.stdout.index("PrivateApiLoadBalancerHttpListener") > \
        r.stdout.index("PrivateApiLoadBalancer ")


def test_yaml_twin_gives_the_same_plan():
    a = subprocess.run([VPCD, "validate", EXAMPLE], capture_output=True, text=True, timeout=10)
    b = subprocess.run([VPCD, "validate", EXAMPLE.replace(".json", ".yaml")],
                       capture_output=True, text=True, timeout=10)
    assert b.returncode == 0, b.stderr
    assert a.stdout == b.stdout


def test_bad_ref(tmp_path):
    rc, _, err = validate(tmp_path, "t.json", """{
  "Resources": {
    "Cluster": { "Type": "AWS::ECS::Cluster", "Properties": { "ClusterName": { "Ref": "Nope" } } }
  }
}
""")
    assert rc == 1
    assert err == ["t.json:3:78: error: Resources.Cluster.Properties.ClusterName: Template format "
                   "error: Unresolved resource dependencies [Nope] in the Resources block of the "
                   "template"]


def test_cycle(tmp_path):
    rc, _, err = validate(tmp_path, "t.json", """{
  "Resources": {
    "A": { "Type": "AWS::ECS::Cluster", "Properties": { "ClusterName": { "Ref": "B" } } },
    "B": { "Type": "AWS::ECS::Cluster", "Properties": { "ClusterName": { "Ref": "A" } } }
  }
}
""")
    assert rc == 1
    assert err == ["t.json:3:5: error: Resources: Circular dependency between resources: [A, B]"]


def test_wrong_property_type(tmp_path):
    rc, _, err = validate(tmp_path, "t.json", """{
  "Resources": {
    "TG": { "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": { "Protocol": "HTTP", "Port": [80], "VpcId": { "Ref": "V" } } },
    "V": { "Type": "AWS::EC2::VPC", "Properties": { "CidrBlock": "10.0.0.0/16" } }
  }
}
""")
    assert rc == 1
    assert err == ["t.json:4:57: error: Resources.TG.Properties.Port: expected an integer, "
                   "found a list"]


def test_unknown_resource_type(tmp_path):
    rc, _, err = validate(tmp_path, "t.json", """{
  "Resources": {
    "Q": { "Type": "AWS::SQS::Queue" }
  }
}
""")
    assert rc == 1
    assert err == ["t.json:3:20: error: Resources.Q.Type: unknown resource type AWS::SQS::Queue "
                   "(vpcd cannot run it; --allow-unknown accepts it with no effect)"]


def test_broken_json(tmp_path):
    rc, _, err = validate(tmp_path, "t.json",
                          '{\n  "Resources": {\n    "A": { "Type": "AWS::ECS::Cluster" }\n'
                          '    "B": 1\n  }\n}\n')
    assert rc == 1
    assert err == ["t.json:4:5: error: JSON not well-formed: expected ',' or '}' after object "
                   "member, found '\"'"]


def test_misspelled_property_and_all_errors_in_one_pass(tmp_path):
    rc, _, err = validate(tmp_path, "t.yaml", """Resources:
  C:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterNme: x
  Q:
    Type: AWS::SQS::Queue
""")
    assert rc == 1
    assert err == [
        "t.yaml:5:7: error: Resources.C.Properties.ClusterNme: unknown property "
        "(did you mean ClusterName?)",
        "t.yaml:7:11: error: Resources.Q.Type: unknown resource type AWS::SQS::Queue "
        "(vpcd cannot run it; --allow-unknown accepts it with no effect)",
    ]


def test_param_overrides_default(tmp_path):
    r = subprocess.run([VPCD, "validate", EXAMPLE, "--param", "VPCCidr=10.0.0.0/16",
                        "--param", "Nope=1"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "Nope" in r.stderr


# --- the language beyond one template: parameters files, JSON for tools, unknown types,
# --- the checks cfn-lint lacks, several stacks

PARAMS_T = """Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
  Size: {Type: Number, MinValue: 1, MaxValue: 4}
  Name: {Type: String, AllowedPattern: '[a-z]+', ConstraintDescription: lower-case letters}
Resources:
  C: {Type: AWS::ECS::Cluster, Properties: {ClusterName: !Sub '${Name}-${Env}-${Size}'}}
Outputs:
  Cluster: {Value: !Ref C}
"""


def test_params_file_and_param_override(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps([
        {"ParameterKey": "Env", "ParameterValue": "prod"},
        {"ParameterKey": "Size", "ParameterValue": "2"},
        {"ParameterKey": "Name", "ParameterValue": "web"}]))
    rc, out, err = validate(tmp_path, "t.yaml", PARAMS_T, "--params", "p.json")
    assert rc == 0, err
    assert "output Cluster = web-prod-2" in out
    # --param wins over the file
    rc, out, err = validate(tmp_path, "t.yaml", PARAMS_T, "--params", "p.json",
                            "--param", "Size=3")
    assert rc == 0, err
    assert "output Cluster = web-prod-3" in out
    # every violated constraint at once, AWS's words
    rc, _, err = validate(tmp_path, "t.yaml", PARAMS_T, "--param", "Env=test",
                          "--param", "Size=9", "--param", "Name=Web1")
    assert rc == 1
    assert any("Parameter 'Env' must be one of AllowedValues" in e for e in err)
    assert any("Parameter 'Size' must be a number not greater than 4" in e for e in err)
    assert any("Malformed input-Parameter Name lower-case letters" in e for e in err)
    # all missing ones in one message
    rc, _, err = validate(tmp_path, "t.yaml", PARAMS_T)
    assert rc == 1
    assert err == ["t.yaml:2:3: error: Parameters: [Env, Size, Name] must have values (give "
                   "them with --param KEY=VALUE or --params FILE)"]
    # a file not in the aws cli format
    (tmp_path / "bad.json").write_text('{"Env": "prod"}')
    rc, _, err = validate(tmp_path, "t.yaml", PARAMS_T, "--params", "bad.json")
    assert rc == 2
    assert "expected a list of" in err[0]


def test_format_json(tmp_path):
    rc, out, _ = validate(tmp_path, "t.yaml", """Resources:
  C:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterNme: x
  Q:
    Type: AWS::SQS::Queue
""", "--format", "json")
    assert rc == 1
    doc = json.loads(out)
    assert doc["warnings"] == []
    assert doc["errors"][0] == {
        "file": "t.yaml", "line": 5, "column": 7, "path": "Resources.C.Properties.ClusterNme",
        "message": "unknown property (did you mean ClusterName?)", "severity": "error"}
    assert doc["errors"][1]["path"] == "Resources.Q.Type"
    assert len(doc["errors"]) == 2
    # success: empty lists, exit 0
    rc, out, _ = validate(tmp_path, "ok.yaml", "Resources:\n  C: {Type: AWS::ECS::Cluster}\n",
                          "--format", "json")
    assert rc == 0
    assert json.loads(out) == {"errors": [], "warnings": []}


def test_allow_unknown(tmp_path):
    t = "Resources:\n  Q: {Type: AWS::SQS::Queue}\n  C: {Type: AWS::ECS::Cluster}\n"
    rc, _, err = validate(tmp_path, "t.yaml", t)
    assert rc == 1
    rc, out, err = validate(tmp_path, "t.yaml", t, "--allow-unknown")
    assert rc == 0, err
    assert err == ["t.yaml:2:13: warning: Resources.Q.Type: unknown resource type "
                   "AWS::SQS::Queue: accepted with no effect (--allow-unknown); its Ref is its "
                   "logical id"]
    assert "AWS::ECS::Cluster" in out
    rc, out, _ = validate(tmp_path, "t.yaml", t, "--allow-unknown", "--format", "json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["errors"] == [] and doc["warnings"][0]["severity"] == "warning"


LINT_BASE = """Resources:
  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  S1: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.0.0/24, AvailabilityZone: us-east-1a}}
  S2: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.0.1.0/24, AvailabilityZone: us-east-1b}}
  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Scheme: internal, Subnets: [!Ref S1, !Ref S2]}}
  TG: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref V}}
  TG2: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Port: 80, Protocol: HTTP, VpcId: !Ref V}}
  L: {Type: AWS::ElasticLoadBalancingV2::Listener, Properties: {LoadBalancerArn: !Ref LB, Port: 80, Protocol: HTTP, DefaultActions: [{Type: forward, TargetGroupArn: !Ref TG}]}}
  Z: {Type: AWS::Route53::HostedZone, Properties: {Name: in.example.com, VPCs: [{VPCId: !Ref V, VPCRegion: us-east-1}]}}
  A: {Type: AWS::Route53::RecordSet, Properties: {HostedZoneId: !Ref Z, Name: api.in.example.com, Type: CNAME, TTL: 60, ResourceRecords: [!GetAtt LB.DNSName]}}
  Cl: {Type: AWS::ECS::Cluster}
  TD: {Type: AWS::ECS::TaskDefinition, Properties: {ContainerDefinitions: [{Name: web, Image: i, Command: [/bin/true], PortMappings: [{ContainerPort: 8080}]}]}}
"""


def rule(name, prio, host, tg):
    return (f"  {name}: {{Type: AWS::ElasticLoadBalancingV2::ListenerRule, Properties: "
            f"{{ListenerArn: !Ref L, Priority: {prio}, Conditions: [{{Field: host-header, "
            f"Values: [{host}]}}], Actions: [{{Type: forward, TargetGroupArn: !Ref {tg}}}]}}}}\n")


def service(container, port, tg):
    return (f"  Svc: {{Type: AWS::ECS::Service, Properties: {{Cluster: !Ref Cl, TaskDefinition: "
            f"!Ref TD, LoadBalancers: [{{ContainerName: {container}, ContainerPort: {port}, "
            f"TargetGroupArn: !Ref {tg}}}]}}}}\n")


def test_checks_cfn_lint_lacks(tmp_path):
    rc, _, err = validate(tmp_path, "ok.yaml", LINT_BASE + rule("R", 1, "api.in.example.com",
                                                                  "TG2") + service("web", 8080, "TG"))
    assert rc == 0 and err == [], err
    # two rules with one priority on one listener
    rc, _, err = validate(tmp_path, "t.yaml", LINT_BASE + rule("R", 5, "api.in.example.com", "TG")
                          + rule("R2", 5, "api.in.example.com", "TG2"))
    assert rc == 1
    assert any("Priority '5' is currently in use" in e for e in err), err
    # a service naming a container or a port its task definition lacks
    rc, _, err = validate(tmp_path, "t.yaml", LINT_BASE + service("app", 8080, "TG"))
    assert rc == 1 and any("has no container named app" in e for e in err), err
    rc, _, err = validate(tmp_path, "t.yaml", LINT_BASE + service("web", 80, "TG"))
    assert rc == 1 and any("has no port mapping for container port 80" in e for e in err), err
    # a target group a service uses but no listener forwards to
    rc, _, err = validate(tmp_path, "t.yaml", LINT_BASE + service("web", 8080, "TG2"))
    assert rc == 1
    assert any("Resources.Svc.Properties.LoadBalancers[0].TargetGroupArn: The target group "
               "with targetGroupArn" in e and "does not have an associated load balancer" in e
               for e in err), err
    # a host-header no record of a private zone can match: a warning only
    rc, out, err = validate(tmp_path, "t.yaml", LINT_BASE + rule("R", 1, "www.in.example.com",
                                                                 "TG2"))
    assert rc == 0
    assert len(err) == 1 and ": warning: Resources.R.Properties.Conditions: host-header " \
        "www.in.example.com can never match" in err[0], err


NET_T = """Resources:
  V: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.1.0.0/16}}
  S1: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref V, CidrBlock: 10.1.1.0/24, AvailabilityZone: us-east-1a}}
Outputs:
  VpcId: {Value: !Ref V, Export: {Name: !Sub '${AWS::StackName}-VpcId'}}
  Subnet: {Value: !Ref S1, Export: {Name: net-Subnet}}
"""

APP_T = """Resources:
  SG: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: app, VpcId: !ImportValue net-VpcId}}
  C: {Type: AWS::ECS::Cluster}
Outputs:
  Group: {Value: !Ref SG}
  SubnetSeen: {Value: !ImportValue net-Subnet}
"""


def test_two_stacks_validate(tmp_path):
    (tmp_path / "net.yaml").write_text(NET_T)
    (tmp_path / "app.yaml").write_text(APP_T)
    r = subprocess.run([VPCD, "validate", "net.yaml", "app.yaml"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "output VpcId = vpc-" in r.stdout and "(export net-VpcId)" in r.stdout
    # the other order: the import names what is missing
    r = subprocess.run([VPCD, "validate", "app.yaml", "net.yaml"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "app.yaml:2:82: error: Resources.SG.Properties.VpcId: No export named " \
        "net-VpcId found" in r.stderr


def test_two_stacks_up_with_import(tmp_path, vpcd_factory):
    (tmp_path / "net.yaml").write_text(NET_T)
    (tmp_path / "app.yaml").write_text(APP_T)
    v = vpcd_factory(str(tmp_path / "net.yaml"), extra=(str(tmp_path / "app.yaml"),))
    outs = {o["key"]: o for o in v.stack()["outputs"]}
    assert outs["VpcId"]["export_name"] == "net-VpcId"
    assert outs["VpcId"]["value"].startswith("vpc-")
    assert outs["Group"]["export_name"] is None
    assert outs["SubnetSeen"]["value"] == outs["Subnet"]["value"]
    assert v.stop() == 0
    assert f"vpcd: output SubnetSeen = {outs['Subnet']['value']}" in v.logs()
