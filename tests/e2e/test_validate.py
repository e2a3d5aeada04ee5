"""`vpcd validate` through the real binary: the plan on success, and on bad
templates every error as FILE:LINE:COL: error: PATH: message, exit 1."""
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
    assert err == ["t.json:3:20: error: Resources.Q.Type: unknown resource type AWS::SQS::Queue"]


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
        "t.yaml:7:11: error: Resources.Q.Type: unknown resource type AWS::SQS::Queue",
    ]


def test_param_overrides_default(tmp_path):
    r = subprocess.run([VPCD, "validate", EXAMPLE, "--param", "VPCCidr=10.0.0.0/16",
                        "--param", "Nope=1"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "Nope" in r.stderr
