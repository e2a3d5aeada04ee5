#!/usr/bin/python3
"""bench/dns: vpcd's resolver against NSD and Knot, one thread each, in one run.

One zone, in.example.com, generated three ways (a vpcd template of a VPC, a
private HostedZone and its RecordSets; an NSD zone file; the same file for
Knot): SOA, NS, a CNAME service-a -> the ALB's DNS name, 1000 names with one A
record each (host0000..host0999) and 50 names with 4 A records each
(multi00..multi49).  dnsperf drives each server in turn with the same query
file (A hits, the CNAME, NXDOMAIN names) for a fixed time.

vpcd answers the CNAME with the chased LB node A records too (it knows the
LB's name); NSD and Knot, authoritative for in.example.com only, answer the
CNAME alone.  That is noted in the report; it is one query in 10.

Usage: bench/dns/run.py [--duration S] [--rounds N] [--only vpcd,nsd,knot]
                        [--perf] [--clients N] [--outstanding N]
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib as B  # noqa: E402

NET = "127.93.0.0/16"
API = "127.93.0.1:24591"
OFFSET = 20000
DNS_PORT = 53 + OFFSET
VPCD_ADDR = "127.93.0.2"     # the VPC resolver: base + 2, port 53 + offset
NSD_ADDR = "127.93.0.21"
KNOT_ADDR = "127.93.0.22"
ZONE = "in.example.com"
N_SINGLE = 1000
N_MULTI = 50
SERVERS = ["nsd", "knot", "vpcd"]


# record values outside the VPC CIDR (10.0.0.0/16): vpcd maps VPC addresses onto
# its loopback /16, and the three servers must give the same answers
def addr_single(i):
    return f"10.1.{10 + i // 250}.{1 + i % 250}"


def addr_multi(i, k):
    return f"10.1.{100 + i}.{10 + k}"


def make_template(path):
    """A VPC, two subnets, an internal ALB (for the CNAME's target), a private
    hosted zone and its RecordSets."""
    R = {
        "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16",
                                                        "EnableDnsSupport": True, "EnableDnsHostnames": True}},
        "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "VPC"}, "CidrBlock": "10.0.1.0/24",
            "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}}},
        "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "VPC"}, "CidrBlock": "10.0.2.0/24",
            "AvailabilityZone": {"Fn::Select": [1, {"Fn::GetAZs": ""}]}}},
        "LB": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Name": "BenchLB", "Scheme": "internal",
            "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]}},
        "EmptyGroup": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Protocol": "HTTP", "Port": 80, "VpcId": {"Ref": "VPC"}, "Name": "empty"}},
        "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "Port": 80, "Protocol": "HTTP", "LoadBalancerArn": {"Ref": "LB"},
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "EmptyGroup"}}]}},
        "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {
            "Name": ZONE, "VPCs": [{"VPCId": {"Ref": "VPC"}, "VPCRegion": {"Ref": "AWS::Region"}}]}},
        "ServiceA": {"Type": "AWS::Route53::RecordSet", "Properties": {
            "HostedZoneId": {"Ref": "Zone"}, "Name": f"service-a.{ZONE}", "Type": "CNAME", "TTL": 60,
            "ResourceRecords": [{"Fn::GetAtt": ["LB", "DNSName"]}]}},
    }
    # one RecordSetGroup: CloudFormation allows 500 resources per template
    sets = []
    for i in range(N_SINGLE):
        sets.append({"Name": f"host{i:04d}.{ZONE}", "Type": "A", "TTL": 300,
                     "ResourceRecords": [addr_single(i)]})
    for i in range(N_MULTI):
        sets.append({"Name": f"multi{i:02d}.{ZONE}", "Type": "A", "TTL": 300,
                     "ResourceRecords": [addr_multi(i, k) for k in range(4)]})
    R["Hosts"] = {"Type": "AWS::Route53::RecordSetGroup", "Properties": {
        "HostedZoneId": {"Ref": "Zone"}, "RecordSets": sets}}
    with open(path, "w") as f:
        json.dump({"AWSTemplateFormatVersion": "2010-09-09",
                   "Description": "bench/dns: one private zone of 1051 record sets", "Resources": R}, f)


def make_zone(path, lb_name, soa, ns):
    """The zone file NSD and Knot serve: the same records as vpcd's zone (its
    SOA and NS as vpcd reports them, so that the answers are the same)."""
    lines = [f"$ORIGIN {ZONE}.", "$TTL 300",
             f"@ 900 IN SOA {soa}"]
    lines += [f"@ 172800 IN NS {n}" for n in ns]
    lines.append(f"service-a 60 IN CNAME {lb_name}.")
    for i in range(N_SINGLE):
        lines.append(f"host{i:04d} 300 IN A {addr_single(i)}")
    for i in range(N_MULTI):
        for k in range(4):
            lines.append(f"multi{i:02d} 300 IN A {addr_multi(i, k)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def make_queries(path, n=20000, seed=1):
    """80% A hits (1 in 10 of them on a 4-record name), 10% the CNAME, 10% NXDOMAIN."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        x = rnd.random()
        if x < 0.72:
            out.append(f"host{rnd.randrange(N_SINGLE):04d}.{ZONE} A")
        elif x < 0.80:
            out.append(f"multi{rnd.randrange(N_MULTI):02d}.{ZONE} A")
        elif x < 0.90:
            out.append(f"service-a.{ZONE} A")
        else:
            out.append(f"nosuch{rnd.randrange(100000):05d}.{ZONE} A")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def nsd_conf(tmp, zonefile):
    return f"""server:
    ip-address: {NSD_ADDR}@{DNS_PORT}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{tmp}"
    zonelistfile: "{tmp}/nsd-zone.list"
    database: ""
    xfrdfile: "{tmp}/nsd-xfrd.state"
    xfrdir: "{tmp}"
    pidfile: "{tmp}/nsd.pid"
    logfile: "{tmp}/nsd.log"
    verbosity: 0
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    do-ip6: no
remote-control:
    control-enable: no
zone:
    name: {ZONE}
    zonefile: "{zonefile}"
"""


def knot_conf(tmp, zonefile):
    return f"""server:
    rundir: "{tmp}/knot-run"
    listen: {KNOT_ADDR}@{DNS_PORT}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{tmp}/knot-db"
log:
  - target: stderr
    any: warning
zone:
  - domain: {ZONE}
    file: "{zonefile}"
    journal-content: none
    zonefile-sync: -1
"""


def dig(addr, name, rtype="A"):
    r = subprocess.run(["dig", f"@{addr}", "-p", str(DNS_PORT), "+norec", "+time=2", "+tries=1",
                        name, rtype], capture_output=True, text=True, timeout=10)
    status = re.search(r"status: (\w+)", r.stdout)
    answers = sorted(ln.split()[-1] for ln in r.stdout.split(";; ANSWER SECTION:")[-1].split("\n\n")[0].splitlines()
                     if ln and not ln.startswith(";")) if "ANSWER SECTION" in r.stdout else []
    return (status.group(1) if status else "TIMEOUT"), answers


def wait_udp(addr, proc, name, secs=20):
    end = time.time() + secs
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        st, _ = dig(addr, f"host0001.{ZONE}")
        if st == "NOERROR":
            return
        time.sleep(0.2)
    raise RuntimeError(f"{name} does not answer on {addr}:{DNS_PORT}")


def dnsperf(addr, qfile, duration, clients, outstanding):
    argv = ["dnsperf", "-s", addr, "-p", str(DNS_PORT), "-d", qfile, "-l", str(duration),
            "-c", str(clients), "-q", str(outstanding), "-T", "1", "-t", "2"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
    o = r.stdout
    def num(pat, cast=float, default=0):
        m = re.search(pat, o)
        return cast(m.group(1)) if m else default
    d = {
        "sent": num(r"Queries sent:\s+(\d+)", int),
        "completed": num(r"Queries completed:\s+(\d+)", int),
        "lost": num(r"Queries lost:\s+(\d+)", int),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "avg_ms": num(r"Average Latency \(s\):\s+([\d.]+)") * 1000,
        "min_ms": num(r"Average Latency \(s\):\s+[\d.]+ \(min ([\d.]+)") * 1000,
        "max_ms": num(r"Average Latency \(s\):.*max ([\d.]+)\)") * 1000,
        "sd_ms": num(r"Latency StdDev \(s\):\s+([\d.]+)") * 1000,
        "rcodes": (re.search(r"Response codes:\s+(.*)", o) or [None, ""])[1].strip(),
    }
    if not d["sent"]:
        raise RuntimeError(f"dnsperf gave no result: {o}\n{r.stderr}")
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1, help="runs per server; the best is kept")
    ap.add_argument("--only", default=",".join(SERVERS))
    ap.add_argument("--clients", type=int, default=1, help="dnsperf -c (sockets)")
    ap.add_argument("--outstanding", type=int, default=100, help="dnsperf -q")
    ap.add_argument("--perf", action="store_true", help="perf record -g vpcd during its first run")
    ap.add_argument("--perf-out", default="/tmp/vpcd-bench-perf-dns.data")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    servers = [s for s in SERVERS if s in args.only.split(",")]
    subprocess.run(["sh", os.path.join(B.BENCH_DIR, "deps.sh")], check=True)
    note = B.machine_note()
    procs = B.Procs()
    try:
        tmp = procs.tmp
        tpl = os.path.join(tmp, "dns-template.json")
        make_template(tpl)
        t0 = time.time()
        vp = B.start_vpcd(procs, tpl, NET, API, OFFSET)
        st = B.wait_stack(API, vp, lambda s: bool(s.get("load_balancers")), 60)
        wait_udp(VPCD_ADDR, vp, "vpcd")
        B.log(f"bench: vpcd up in {time.time() - t0:.2f}s (pid {vp.pid})")
        lb_name = st["load_balancers"][0]["dns_name"]
        # the zone's SOA and NS as vpcd serves them, for the others' zone file
        soa = subprocess.run(["dig", f"@{VPCD_ADDR}", "-p", str(DNS_PORT), "+short", ZONE, "SOA"],
                             capture_output=True, text=True).stdout.strip()
        ns = subprocess.run(["dig", f"@{VPCD_ADDR}", "-p", str(DNS_PORT), "+short", ZONE, "NS"],
                            capture_output=True, text=True).stdout.split()
        if not soa or not ns:
            raise RuntimeError(f"vpcd gave no SOA/NS for {ZONE}: {soa!r} {ns!r}")
        zonefile = os.path.join(tmp, f"{ZONE}.zone")
        make_zone(zonefile, lb_name, soa, ns)
        qfile = os.path.join(tmp, "queries.txt")
        make_queries(qfile)

        pids = {"vpcd": [vp.pid]}
        if "nsd" in servers:
            with open(f"{tmp}/nsd.conf", "w") as f:
                f.write(nsd_conf(tmp, zonefile))
            chk = subprocess.run(["nsd-checkconf", f"{tmp}/nsd.conf"], capture_output=True, text=True)
            if chk.returncode:
                raise RuntimeError("nsd.conf: " + chk.stdout + chk.stderr)
            p = procs.start("nsd", ["nsd", "-d", "-c", f"{tmp}/nsd.conf"])
            wait_udp(NSD_ADDR, p, "nsd")
            time.sleep(0.5)
            pids["nsd"] = B.tree(p.pid)
        if "knot" in servers:
            os.makedirs(f"{tmp}/knot-run", exist_ok=True)
            os.makedirs(f"{tmp}/knot-db", exist_ok=True)
            with open(f"{tmp}/knot.conf", "w") as f:
                f.write(knot_conf(tmp, zonefile))
            p = procs.start("knot", ["knotd", "-c", f"{tmp}/knot.conf"])
            wait_udp(KNOT_ADDR, p, "knot")
            pids["knot"] = B.tree(p.pid)
        addr = {"vpcd": VPCD_ADDR, "nsd": NSD_ADDR, "knot": KNOT_ADDR}

        # the same answers from every server (the CNAME aside: see the docstring)
        checks = [f"host0000.{ZONE}", f"host0999.{ZONE}", f"multi07.{ZONE}", f"nosuch00001.{ZONE}"]
        for name in checks:
            got = {s: dig(addr[s], name) for s in servers}
            if len({json.dumps(v) for v in got.values()}) != 1:
                raise RuntimeError(f"servers disagree on {name}: {got}")
        cname = {s: dig(addr[s], f"service-a.{ZONE}") for s in servers}
        B.log(f"bench: service-a answers: {cname}")

        results = {}
        for rnd in range(args.rounds):
            for s in servers:
                dnsperf(addr[s], qfile, 1, args.clients, args.outstanding)  # warm-up
                B.reset_peak(pids[s])
                cpu0 = B.cpu_seconds(pids[s])
                perf = None
                if args.perf and s == "vpcd" and rnd == 0:
                    perf = procs.start("perf", ["perf", "record", "-F", "499", "--call-graph", "dwarf,16384",
                                                "-o", args.perf_out, "-p", str(vp.pid)], stop_sig=2)
                    time.sleep(0.5)
                d = dnsperf(addr[s], qfile, args.duration, args.clients, args.outstanding)
                if perf:
                    procs.stop(perf, timeout=120)
                d["peak_rss"] = B.peak_rss_mib(pids[s])
                d["cpu_us"] = (B.cpu_seconds(pids[s]) - cpu0) * 1e6 / max(d["completed"], 1)
                B.log(f"bench: {s:5} round {rnd + 1}: {d['qps']:9.0f} q/s  avg {d['avg_ms']:.3f} ms  "
                      f"lost {d['lost']}/{d['sent']}  CPU {d['cpu_us']:.1f} us/q  {d['rcodes']}  peak RSS {d['peak_rss']:.1f} MiB")
                if s not in results or d["qps"] > results[s]["qps"]:
                    results[s] = d
        report = render(args, note, servers, results, cname)
        print(report)
        if not args.no_write:
            B.log("bench: wrote " + B.write_result("dns", report))
    finally:
        procs.cleanup()


def render(args, note, servers, results, cname):
    out = [f"# bench/dns — {B.now_utc()}", "",
           f"Machine: {note}. The machine is shared with other engineers who compile and test: "
           "absolute numbers are noisy; read the ratios, measured in the same run.", "",
           f"Zone {ZONE}: SOA, NS, service-a CNAME to the ALB's name, {N_SINGLE} names with 1 A, "
           f"{N_MULTI} names with 4 A. Queries (20,000, looped): 72% single-A hits, 8% 4-A hits, "
           "10% the CNAME, 10% NXDOMAIN. "
           f"dnsperf -T 1 -c {args.clients} -q {args.outstanding}, {args.duration} s per server after a 1 s "
           f"warm-up, best of {args.rounds}; servers one thread each (NSD server-count 1, rrl-ratelimit 0; "
           "Knot udp-workers 1; vpcd's one loop), on 127.0.0.0/8 high ports.", "",
           f"Versions: {B.version(['nsd', '-v'])}; {B.version(['knotd', '--version'])}; "
           f"{B.version(['dnsperf', '-h'])[:0] or 'dnsperf (Debian)'}; vpcd at git "
           f"{B.git_rev()}.", ""]
    nsd = results.get("nsd")
    rows = []
    for s in servers:
        d = results.get(s)
        if not d:
            continue
        loss = 100.0 * d["lost"] / d["sent"] if d["sent"] else 0
        rows.append([s, f"{d['qps']:.0f}", f"{d['avg_ms']:.3f}", f"{d['sd_ms']:.3f}",
                     f"{d['lost']} ({loss:.2f}%)", d["rcodes"], f"{d['peak_rss']:.1f}",
                     f"{d['cpu_us']:.1f}",
                     f"{d['qps'] / nsd['qps']:.2f}" if nsd and nsd["qps"] else "–",
                     f"{d['cpu_us'] / nsd['cpu_us']:.2f}" if nsd and nsd["cpu_us"] else "–"])
    out.append(B.table(["server", "queries/s", "avg latency ms", "latency stddev ms", "lost",
                        "response codes", "peak RSS MiB", "CPU µs/query", "q/s × NSD",
                        "CPU/query × NSD"], rows))
    out += ["", "CPU µs/query = the server's user+system CPU time during the run over the "
            "queries answered (NSD: all its processes); on this shared "
            "machine it is less noisy than queries/s."]
    out += ["", "The CNAME query, as each server answers it (vpcd chases it to the LB's node addresses):", ""]
    for s in servers:
        st, ans = cname[s]
        out.append(f"- {s}: {st}, answer {', '.join(ans) if ans else '(none)'}")
    if "vpcd" in results and nsd:
        out += ["", f"Goal of issue 5: vpcd ≥ 1.25× NSD with no loss. Measured: "
                f"{results['vpcd']['qps'] / nsd['qps']:.2f}× with {results['vpcd']['lost']} lost."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
