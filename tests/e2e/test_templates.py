"""Public ECS/ALB templates from the wild (tests/fixtures/templates, sources in
the README.md there), unmodified, through `vpcd validate`: one case each, and
every file of the folder has its case."""
import json
import os
import subprocess

import pytest

from conftest import ROOT, VPCD

FIX = os.path.join(ROOT, "tests", "fixtures", "templates")


def fx(name):
    return os.path.join(FIX, name)


def validate(*args, cwd=None):
    r = subprocess.run([VPCD, "validate", *args], capture_output=True, text=True, timeout=20,
                       cwd=cwd)
    return r.returncode, r.stdout, r.stderr


# The ecs-refarch-cloudformation stacks are nested stacks of a master template
# that passes the outputs of one as the parameters of the next; the master of
# the repository names stacks not kept here, so a parent of the same shape.
REFARCH_PARENT = """Resources:
  VPC:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example.com/vpc.yaml
      Parameters: {EnvironmentName: !Ref AWS::StackName}
  SecurityGroups:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example.com/security-groups.yaml
      Parameters:
        EnvironmentName: !Ref AWS::StackName
        VPC: !GetAtt VPC.Outputs.VPC
        BastionCidr: 10.0.0.0/32
  ALB:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example.com/load-balancers.yaml
      Parameters:
        EnvironmentName: !Ref AWS::StackName
        VPC: !GetAtt VPC.Outputs.VPC
        Subnets: !GetAtt VPC.Outputs.PublicSubnets
        SecurityGroup: !GetAtt SecurityGroups.Outputs.LoadBalancerSecurityGroup
  ECS:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example.com/ecs-cluster.yaml
      Parameters:
        EnvironmentName: !Ref AWS::StackName
        InstanceType: t2.large
        ClusterSize: 2
        VPC: !GetAtt VPC.Outputs.VPC
        SecurityGroup: !GetAtt SecurityGroups.Outputs.ECSHostSecurityGroup
        Subnets: !GetAtt VPC.Outputs.PrivateSubnets
  ProductService:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example.com/product-service.yaml
      Parameters:
        VPC: !GetAtt VPC.Outputs.VPC
        Cluster: !GetAtt ECS.Outputs.Cluster
        Listener: !GetAtt ALB.Outputs.Listener
  WebsiteService:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://example.com/website-service.yaml
      Parameters:
        VPC: !GetAtt VPC.Outputs.VPC
        Cluster: !GetAtt ECS.Outputs.Cluster
        Listener: !GetAtt ALB.Outputs.Listener
        ProductServiceUrl: !Join ["/", [!GetAtt ALB.Outputs.LoadBalancerUrl, "products"]]
"""
REFARCH = ["vpc", "security-groups", "load-balancers", "ecs-cluster", "product-service",
           "website-service"]


def refarch(tmp_path):
    (tmp_path / "master.yaml").write_text(REFARCH_PARENT)
    (tmp_path / "images.json").write_text(json.dumps(
        {"275396840892.dkr.ecr.us-east-1.amazonaws.com/ecs-refarch-cloudformation/":
         {"argv": ["vpcd", "demo-app"]}}))
    maps = []
    for n in REFARCH:
        maps += ["--template-map", f"https://example.com/{n}.yaml={fx('refarch-' + n + '.yaml')}"]
    return validate("master.yaml", *maps, "--images", "images.json", cwd=tmp_path)


def fargate(tmp_path, service):
    (tmp_path / "images.json").write_text(json.dumps({"nginx": {"argv": ["vpcd", "demo-app"]}}))
    # The service stacks import the exports of the cluster stack "production".
    return validate(fx("fargate-private-vpc.yaml"), fx(service), "--stack-name", "production",
                    "--images", "images.json", cwd=tmp_path)


def case_refarch_vpc(tmp_path):
    rc, out, err = validate(fx("refarch-vpc.yaml"), "--param", "EnvironmentName=prod")
    assert rc == 0, err
    assert "127.77.10.0/24 us-east-1a (VPC 10.192.10.0/24)" in out
    for t in ["InternetGateway", "VPCGatewayAttachment", "EIP", "NatGateway", "RouteTable",
              "Route", "SubnetRouteTableAssociation"]:
        assert f"AWS::EC2::{t} " in out
    assert "  NatGateway1                              AWS::EC2::NatGateway" \
        "                       accepted, no effect" in out


def case_refarch_security_groups(tmp_path):
    rc, out, err = validate(fx("refarch-security-groups.yaml"), "--param", "EnvironmentName=prod",
                            "--param", "VPC=vpc-0abc", "--param", "BastionCidr=10.0.0.0/32")
    assert rc == 0, err
    assert ": 2 ingress, 1 egress rules" in out  # ECSHostSecurityGroup
    rc, out, err = refarch(tmp_path)
    assert rc == 0, err
    assert "SecurityGroups                           AWS::CloudFormation::Stack" in out


def case_refarch_load_balancers(tmp_path):
    # Alone: a security group of the account, not of the template, is said and left out.
    rc, out, err = validate(fx("refarch-load-balancers.yaml"), "--param", "EnvironmentName=prod",
                            "--param", "VPC=vpc-0abc", "--param", "Subnets=subnet-1a,subnet-1b",
                            "--param", "SecurityGroup=sg-0123")
    assert rc == 0, err
    assert "refarch-load-balancers.yaml:29:11: warning: Resources.LoadBalancer.Properties." \
        "SecurityGroups[0]: security group sg-0123 is not in the template" in err
    assert "HTTP port 80, default forward to prod-default" in out
    rc, out, err = refarch(tmp_path)
    assert rc == 0, err
    assert "HTTP port 80, default forward to master-default" in out


def case_refarch_ecs_cluster(tmp_path):
    rc, out, err = validate(fx("refarch-ecs-cluster.yaml"), "--param", "EnvironmentName=prod",
                            "--param", "VPC=vpc-0abc", "--param", "Subnets=subnet-1a,subnet-1b",
                            "--param", "SecurityGroup=sg-0123")
    assert rc == 0, err
    assert 'cluster "prod"' in out
    assert "4 hosts (min 4, max 4) in us-east-1a us-east-1b" in out
    rc, out, err = refarch(tmp_path)
    assert rc == 0, err
    assert 'cluster "master"' in out
    # the private subnets of the VPC stack, one host in each AZ
    assert "2 hosts (min 2, max 2) in us-east-1a us-east-1b" in out


def case_refarch_product_service(tmp_path):
    rc, out, err = refarch(tmp_path)
    assert rc == 0, err
    assert "product-service:1, 1 container product-service [vpcd demo-app]\n" in out
    assert "priority 2 path /products -> forward to " in out


def case_refarch_website_service(tmp_path):
    rc, out, err = refarch(tmp_path)
    assert rc == 0, err
    assert "website-service:1, 1 container website-service [vpcd demo-app]\n" in out
    assert "priority 1 path / -> forward to " in out
    assert "CPUScaleOutAlarm                         AWS::CloudWatch::Alarm" in out


def case_fargate_private_vpc(tmp_path):
    rc, out, err = validate(fx("fargate-private-vpc.yaml"), "--stack-name", "production")
    assert rc == 0, err
    assert "(internet-facing) nodes 127.77.0.4 127.77.1.4" in out
    assert "(internal) nodes 127.77.2.4 127.77.3.4" in out
    assert "(export production:PrivateListener)" in out
    assert "DynamoDBEndpoint                         AWS::EC2::VPCEndpoint" in out


def case_fargate_public_service(tmp_path):
    rc, out, err = fargate(tmp_path, "fargate-private-subnet-public-service.json")
    assert rc == 0, err
    assert "priority 1 path * -> forward to nginx\n" in out
    assert "nginx: 2 desired tasks (min 75%, max 200%)" in out


def case_fargate_private_service(tmp_path, name="fargate-private-subnet-private-service.yaml"):
    rc, out, err = fargate(tmp_path, name)
    assert rc == 0, err
    assert "nginx HTTP:80 ip, health HTTP / every 6s" in out
    assert "nginx: 2 desired tasks (min 75%, max 200%)" in out


CASES = {
    "refarch-vpc.yaml": case_refarch_vpc,
    "refarch-security-groups.yaml": case_refarch_security_groups,
    "refarch-load-balancers.yaml": case_refarch_load_balancers,
    "refarch-ecs-cluster.yaml": case_refarch_ecs_cluster,
    "refarch-product-service.yaml": case_refarch_product_service,
    "refarch-website-service.yaml": case_refarch_website_service,
    "fargate-private-vpc.yaml": case_fargate_private_vpc,
    "fargate-private-subnet-public-service.json": case_fargate_public_service,
    "fargate-private-subnet-private-service.yaml": case_fargate_private_service,
    "fargate-private-subnet-private-service.json": lambda tmp_path: case_fargate_private_service(
        tmp_path, "fargate-private-subnet-private-service.json"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_template(name, tmp_path):
    CASES[name](tmp_path)


def test_every_fixture_has_a_case_and_a_source():
    files = sorted(f for f in os.listdir(FIX) if f != "README.md")
    assert files == sorted(CASES)
    with open(fx("README.md")) as f:
        readme = f.read()
    for name in files:
        assert f"`{name}`" in readme


def test_nested_stacks_built_in_their_parents_order(tmp_path):
    """Each nested stack's resources come where the stack comes in its parent's
    order, after the stacks whose outputs its Parameters use."""
    rc, out, _ = refarch(tmp_path)
    assert rc == 0
    assert out.index('cluster "master"') < out.index("product-service:1")
    assert out.index("  ALB ") < out.index("  ProductService ") < out.index("  WebsiteService ")


def test_yaml_and_json_twins_give_the_same_plan(tmp_path):
    """The repository publishes the private service in YAML (short forms) and in
    JSON: the same model, so the same plan."""
    a = fargate(tmp_path, "fargate-private-subnet-private-service.yaml")
    b = fargate(tmp_path, "fargate-private-subnet-private-service.json")
    assert a[0] == 0 and b[0] == 0, a[2] + b[2]
    assert a[1] == b[1]
