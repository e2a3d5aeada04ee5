"""`vpcd apply` of Route53 record sets: records added, changed and removed in
the template are answered by the running resolver at once, with no restart,
and /v1/stack shows them."""
import json
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from conftest import EXAMPLE, VPCD


def query(v, name, rtype="A"):
    q = dns.message.make_query(name, rtype)
    return dns.query.udp(q, "127.0.0.1", port=v.dns_port, timeout=3)


def test_record_sets_change_at_once(vpcd_factory, tmp_path):
    tpl = json.load(open(EXAMPLE))
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(tpl))
    v = vpcd_factory(str(path))
    assert query(v, "db.in.example.com").rcode() == dns.rcode.NXDOMAIN

    res = tpl["Resources"]
    res["DbRecord"] = {"Type": "AWS::Route53::RecordSet", "Properties": {
        "Name": "db.in.example.com", "Type": "A", "TTL": 30,
        "HostedZoneId": {"Ref": "PrivateHostedZone"}, "ResourceRecords": ["10.0.1.50"]}}
    res["ServiceALoadBalancerDNSRecord"]["Properties"]["TTL"] = 120
    path.write_text(json.dumps(tpl))
    r = subprocess.run([VPCD, "apply", str(path), "--api", v.api], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr

    a = query(v, "db.in.example.com")
    assert a.rcode() == dns.rcode.NOERROR
    rrset = a.answer[0]
    assert rrset.ttl == 30 and [x.address for x in rrset] == [f"{v.prefix}.1.50"]
    cname = query(v, "service-a.in.example.com").answer[0]
    assert cname.rdtype == dns.rdatatype.CNAME and cname.ttl == 120
    names = [r["name"] for z in v.stack()["zones"] for r in z["records"]]
    assert "db.in.example.com." in names

    del res["DbRecord"]
    path.write_text(json.dumps(tpl))
    r = subprocess.run([VPCD, "apply", str(path), "--api", v.api], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert query(v, "db.in.example.com").rcode() == dns.rcode.NXDOMAIN
    # the service kept running through it all
    assert len(v.tasks()) == 2


def test_other_changes_are_still_refused(vpcd_factory, tmp_path):
    tpl = json.load(open(EXAMPLE))
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(tpl))
    v = vpcd_factory(str(path))
    tpl["Resources"]["PrivateHostedZone"]["Properties"]["Name"] = "other.example.com"
    tpl["Resources"]["ServiceALoadBalancerDNSRecord"]["Properties"]["Name"] = \
        "service-a.other.example.com"
    path.write_text(json.dumps(tpl))
    r = subprocess.run([VPCD, "apply", str(path), "--api", v.api], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0
    assert "PrivateHostedZone" in r.stderr
    assert query(v, "service-a.in.example.com").rcode() == dns.rcode.NOERROR
