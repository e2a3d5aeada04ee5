"""The VPC resolver end to end, through the real binary, with dig and
dnspython: every record type Route53 serves, EDNS0 sizes, TC then TCP,
several queries on one TCP connection, negative answers with the SOA,
wildcards, aliases, the routing policies, forwarding to a fake upstream and
its cache, a zone invisible to another VPC, and `vpcd exec`."""
import collections
import os
import socket
import struct
import subprocess
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

import conftest
from conftest import ROOT, VPCD, Vpcd

TEMPLATE = os.path.join(ROOT, "tests", "e2e", "templates", "dns.json")
Z = "in.example.com."


class FakeUpstream:
    """A small authoritative server for example.org on 127.0.0.1, UDP and
    TCP, that counts the questions it gets."""

    def __init__(self):
        for _ in range(50):  # a port free for both UDP and TCP
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(8)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.count = collections.Counter()
        self.stopping = False
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def answer(self, q, tcp):
        name = q.question[0].name.to_text().lower()
        self.count[(name, "tcp" if tcp else "udp")] += 1
        r = dns.message.make_response(q)
        if name == "out.example.org.":
            r.answer.append(dns.rrset.from_text(q.question[0].name, 300, "IN", "A",
                                                "192.0.2.7"))
        elif name == "big.example.org.":
            if not tcp:
                r.flags |= dns.flags.TC
            else:
                r.answer.append(dns.rrset.from_text(
                    q.question[0].name, 300, "IN", "TXT",
                    *['"%s"' % (c * 200) for c in "abcdefgh"]))
        elif name == "slow.example.org.":
            return None
        else:
            r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(dns.rrset.from_text(
                "example.org.", 3600, "IN", "SOA",
                "ns.example.org. host.example.org. 1 7200 900 1209600 60"))
        return r.to_wire(max_size=65535)

    def _serve_udp(self):
        while not self.stopping:
            try:
                data, peer = self.udp.recvfrom(4096)
            except OSError:
                continue
            out = self.answer(dns.message.from_wire(data), False)
            if out:
                self.udp.sendto(out, peer)

    def _serve_tcp(self):
        while not self.stopping:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                continue
            with c:
                c.settimeout(2)
                try:
                    n = struct.unpack("!H", c.recv(2))[0]
                    data = b""
                    while len(data) < n:
                        data += c.recv(n - len(data))
                    out = self.answer(dns.message.from_wire(data), True)
                    if out:
                        c.sendall(struct.pack("!H", len(out)) + out)
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(2)
        self.udp.close()
        self.tcp.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    up = FakeUpstream()
    # The template's second VPC maps onto the next /16: keep it ours.
    n = next(conftest._nets)
    next(conftest._nets)
    v = Vpcd(TEMPLATE, tmp_path_factory.mktemp("dns"),
             ("--dns-upstream", f"127.0.0.1:{up.port}"))
    v.net = f"127.{n}.0.0/16"
    v.prefix = f"127.{n}"
    v.args[v.args.index("--net") + 1] = v.net
    v.other_port = conftest.free_port()
    v.args += ["--dns", f"127.{n + 1}.0.2:{v.other_port}"]
    v.other = f"127.{n + 1}.0.2"
    v.upstream = up
    v.start()
    try:
        v.wait_healthy("service-a-target-group", 1)
        yield v
    finally:
        v.stop()
        up.stop()


def ask(v, name, rdtype="A", tcp=False, payload=None, server=None, port=None, want_dnssec=False):
    q = dns.message.make_query(name, rdtype, use_edns=payload is not None,
                               payload=payload or 512, want_dnssec=want_dnssec)
    where = server or "127.0.0.1"
    p = port or v.dns_port
    if tcp:
        return dns.query.tcp(q, where, port=p, timeout=5)
    return dns.query.udp(q, where, port=p, timeout=5, ignore_trailing=True)


def texts(r, rdtype=None):
    return sorted(rd.to_text() for rr in r.answer for rd in rr
                  if rdtype is None or rr.rdtype == dns.rdatatype.from_text(rdtype))


def lb_nodes(v, name="PrivateApiLoadBalancer"):
    for lb in v.stack()["load_balancers"]:
        if lb["name"] == name:
            return sorted(n["address"] for n in lb["nodes"])
    raise KeyError(name)


@pytest.mark.parametrize("name,rdtype,want", [
    ("a", "A", "{p}.1.9"),
    ("aaaa", "AAAA", "2001:db8::1"),
    ("caa", "CAA", '0 issue "amazon.com"'),
    ("ds", "DS", "60485 5 1 2bb183af5f22588179a53b0a98631fad1a292118"),
    ("mx", "MX", "10 mail.in.example.com."),
    ("naptr", "NAPTR", '100 100 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .'),
    ("ns", "NS", "ns1.example.net."),
    ("ptr", "PTR", "a.in.example.com."),
    ("spf", "SPF", '"v=spf1 -all"'),
    ("_sip._tcp", "SRV", "1 10 5060 sip.in.example.com."),
    ("txt", "TXT", '"hello world" "second"'),
    ("service-a", "CNAME", "{lb}."),
])
def test_every_record_type(env, name, rdtype, want):
    lbname = env.stack()["load_balancers"][0]["dns_name"]
    r = ask(env, f"{name}.{Z}", rdtype)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    assert texts(r, rdtype) == [want.format(p=env.prefix, lb=lbname)]


def test_apex_soa_and_ns_with_route53_defaults(env):
    r = ask(env, Z, "SOA")
    assert texts(r) == ["ns-1536.awsdns-00.co.uk. awsdns-hostmaster.amazon.com. "
                        "1 7200 900 1209600 86400"]
    assert r.answer[0].ttl == 900
    r = ask(env, Z, "NS")
    assert texts(r) == ["ns-0.awsdns-00.com.", "ns-1024.awsdns-00.org.",
                        "ns-1536.awsdns-00.co.uk.", "ns-512.awsdns-00.net."]
    assert r.answer[0].ttl == 172800


def test_dig_every_type_and_case_kept(env):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(env.dns_port), "MX.In.Example.COM",
                          "MX", "+noall", "+answer"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    assert out.split()[0] == "MX.In.Example.COM."
    # (the target's suffix may point at the question's spelling: names
    # compare without case)
    assert [w.lower() for w in out.split()[-2:]] == ["10", "mail.in.example.com."]


def test_simple_with_several_values(env):
    assert texts(ask(env, f"multi.{Z}")) == [f"{env.prefix}.7.{i}" for i in (1, 2, 3)]


def test_nxdomain_and_nodata_carry_soa(env):
    r = ask(env, f"nothing-here.{Z}")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA
    assert r.authority[0].ttl == 900  # min(SOA TTL 900, minimum 86400)
    r = ask(env, f"a.{Z}", "TXT")
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def test_wildcards(env):
    r = ask(env, f"anything.wild.{Z}")
    assert texts(r) == [f"{env.prefix}.3.3"]
    assert r.answer[0].name.to_text() == f"anything.wild.{Z}"
    # deeper names match too (RFC 4592)
    assert texts(ask(env, f"x.y.wild.{Z}")) == [f"{env.prefix}.3.3"]
    # an existing name is not covered by the wildcard: NODATA for A
    r = ask(env, f"real.wild.{Z}")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer


def test_alias_to_lb_and_at_apex(env):
    nodes = lb_nodes(env)
    r = ask(env, f"alias.{Z}")
    assert texts(r) == nodes
    assert r.answer[0].ttl == 60
    assert texts(ask(env, Z)) == nodes


def test_edns_sizes_tc_then_tcp(env):
    name = f"big.{Z}"
    r = ask(env, name, "TXT")  # no EDNS: 512 bytes
    assert r.flags & dns.flags.TC and not r.answer
    r = ask(env, name, "TXT", payload=600)
    assert r.flags & dns.flags.TC
    r = ask(env, name, "TXT", payload=4096)
    assert not r.flags & dns.flags.TC
    assert len(r.answer[0][0].strings) == 3
    assert r.edns == 0
    r = ask(env, name, "TXT", tcp=True)
    assert not r.flags & dns.flags.TC and len(r.answer[0][0].strings) == 3
    # dig retries over TCP by itself on TC
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(env.dns_port), name, "TXT",
                          "+noedns", "+noall", "+answer"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    assert "a" * 250 in out


def test_several_queries_on_one_tcp_connection(env):
    names = [f"a.{Z}", f"txt.{Z}", f"multi.{Z}", f"nothing.{Z}"]
    with socket.create_connection(("127.0.0.1", env.dns_port), timeout=5) as s:
        wire = b""
        for i, n in enumerate(names):
            q = dns.message.make_query(n, "TXT" if "txt" in n else "A")
            q.id = 1000 + i
            w = q.to_wire()
            wire += struct.pack("!H", len(w)) + w
        s.sendall(wire)  # pipelined
        got = {}
        buf = b""
        while len(got) < len(names):
            chunk = s.recv(65535)
            assert chunk, "connection closed early"
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                m = dns.message.from_wire(buf[2:2 + n])
                got[m.id] = m
                buf = buf[2 + n:]
    assert sorted(got) == [1000, 1001, 1002, 1003]
    assert got[1003].rcode() == dns.rcode.NXDOMAIN
    assert texts(got[1000]) == [f"{env.prefix}.1.9"]


def test_weighted_distribution(env):
    count = collections.Counter()
    for _ in range(200):
        count[tuple(texts(ask(env, f"w.{Z}")))] += 1
    one, three = (f"{env.prefix}.9.1",), (f"{env.prefix}.9.3",)
    assert set(count) <= {one, three}, count  # weight 0 never, one set per answer
    # 1:3 -> 50 of 200 expected; binomial sd ~6, so 20..85 is very safe
    assert 20 <= count[one] <= 85, count
    # all weights 0: each set, equally
    zero = collections.Counter(tuple(texts(ask(env, f"zero.{Z}"))) for _ in range(100))
    assert set(zero) == {(f"{env.prefix}.9.10",), (f"{env.prefix}.9.11",)}, zero


def test_multivalue_up_to_eight_at_random(env):
    seen = set()
    for _ in range(20):
        vals = texts(ask(env, f"mv.{Z}"))
        assert len(vals) == 8 and len(set(vals)) == 8
        seen.add(tuple(vals))
    assert len(seen) > 1  # not always the same eight


def test_failover(env):
    # the bad LB's only target group has a target, never healthy (its
    # health check path is a 404)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not env.targets("bad-target-group"):
        time.sleep(0.05)
    assert all(t["state"] != "healthy" for t in env.targets("bad-target-group"))
    assert texts(ask(env, f"fo-bad.{Z}")) == [f"{env.prefix}.9.99"]
    # the good LB has a healthy target: PRIMARY, the LB's nodes
    assert texts(ask(env, f"fo-good.{Z}")) == lb_nodes(env)


def test_zone_invisible_to_other_vpc(env):
    # VPC 1's resolver answers its own zone...
    r = ask(env, "svc.other.example.com.", server=env.other, port=env.other_port)
    assert texts(r) == [f"127.{int(env.prefix.split('.')[1]) + 1}.0.50"]
    # ...and not VPC 0's: that name is forwarded (the fake upstream says NXDOMAIN)
    r = ask(env, f"a.{Z}", server=env.other, port=env.other_port)
    assert r.rcode() == dns.rcode.NXDOMAIN and not r.answer
    # and VPC 0 does not see VPC 1's zone
    r = ask(env, "svc.other.example.com.")
    assert not r.answer


def test_forwarding_and_cache(env):
    up = env.upstream
    r = ask(env, "out.example.org.")
    assert texts(r) == ["192.0.2.7"]
    assert r.flags & dns.flags.RA and not r.flags & dns.flags.AA
    n = up.count[("out.example.org.", "udp")]
    assert n == 1
    r = ask(env, "OUT.example.org.", tcp=True)
    assert texts(r) == ["192.0.2.7"]
    assert r.question[0].name.to_text() == "OUT.example.org."
    assert r.answer[0].ttl <= 300
    assert up.count[("out.example.org.", "udp")] == 1  # from the cache
    # negative answers are cached too (RFC 2308)
    assert ask(env, "nx.example.org.").rcode() == dns.rcode.NXDOMAIN
    assert ask(env, "nx.example.org.").rcode() == dns.rcode.NXDOMAIN
    assert up.count[("nx.example.org.", "udp")] == 1


def test_forwarding_tc_goes_to_tcp(env):
    r = ask(env, "big.example.org.", "TXT", tcp=True)
    assert len(r.answer[0]) == 8  # eight TXT records of 200 bytes
    assert env.upstream.count[("big.example.org.", "tcp")] == 1


def test_forwarding_servfail_when_upstream_silent(env):
    r = ask(env, "slow.example.org.")
    assert r.rcode() == dns.rcode.SERVFAIL


def test_exec_getent(env):
    out = subprocess.run([VPCD, "exec", "--api", env.api, "--", "getent", "hosts",
                          "service-a.in.example.com"],
                         capture_output=True, text=True, timeout=20)
    if "namespace" in out.stderr and out.returncode != 0:
        pytest.skip("no mount namespace here: " + out.stderr.strip())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] in lb_nodes(env)


def test_tasks_resolve_through_the_vpc_resolver(env):
    """A task's getent sees the private zone, as inside the VPC (when the
    kernel allows a mount namespace: vpcd logs which)."""
    if "tasks use the machine's resolver" in env.logs():
        pytest.skip("no mount namespace for tasks here")
    deadline = time.monotonic() + 20
    out = ""
    while time.monotonic() < deadline:
        logs = list(env.state.glob("tasks/*/probe.log"))
        out = "".join(p.read_text(errors="replace") for p in logs)
        if "service-a.in.example.com" in out:
            break
        time.sleep(0.1)
    assert f"{env.prefix}.1.9" in out and "a.in.example.com" in out, out
    assert any(a in out for a in lb_nodes(env)), out


def test_edns_do_bit_echoed_and_badvers(env):
    r = ask(env, f"a.{Z}", payload=1232, want_dnssec=True)
    assert r.ednsflags & dns.flags.DO
    r = ask(env, f"a.{Z}", payload=1232)
    assert not r.ednsflags & dns.flags.DO
    q = dns.message.make_query(f"a.{Z}", "A")
    q.use_edns(1)  # EDNS version 1: we speak 0 (RFC 6891)
    r = dns.query.udp(q, "127.0.0.1", port=env.dns_port, timeout=5)
    assert r.rcode() == dns.rcode.BADVERS


def test_cname_chain_leaving_the_zone_goes_upstream(env):
    """A private CNAME to an outside name: our CNAME, then upstream's
    records for the target, as a recursive resolver answers (glibc does
    not chase CNAMEs itself)."""
    r = ask(env, f"Ext.{Z}")
    assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert r.answer[0].name.to_text() == f"Ext.{Z}"
    assert r.answer[1].name.to_text().lower() == "out.example.org."
    assert texts(r, "A") == ["192.0.2.7"]
    r = ask(env, f"extnx.{Z}", tcp=True)
    assert r.rcode() == dns.rcode.NXDOMAIN  # the rcode of the chain's end (RFC 6604)
    assert texts(r, "CNAME") == ["gone.example.org."]
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def test_stack_json_shows_routing(env):
    zones = {z["name"]: z for z in env.stack()["zones"]}
    recs = [r for r in zones[Z]["records"] if r["name"] == f"w.{Z}"]
    assert sorted((r["set_identifier"], r["weight"]) for r in recs) == [
        ("never", 0), ("one", 1), ("three", 3)]
    assert all(r["routing_policy"] == "weighted" for r in recs)
    assert "svc.other.example.com." in [r["name"] for r in zones["other.example.com."]["records"]]
