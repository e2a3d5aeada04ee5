#!/usr/bin/python3
"""bench/http: vpcd's ALB against haproxy and nginx, one worker each, in one run.

vpcd runs bench/http/template.json: an internal ALB whose host-header rule
forwards to a service of 2 tasks, each an nginx answering `return 200 ok`.
The task addresses are read from GET /v1/stack; haproxy and nginx are then
configured with the same host-header routing to those two backends.  wrk
drives each target in turn, scenario by scenario (interleaved, so that the
noise of the shared machine spreads over all of them):

  ka50     keep-alive GET, 50 connections
  ka256    keep-alive GET, 256 connections
  close    GET with `Connection: close` (a new connection per request), 50 conns
  post1m   keep-alive POST of a 1 MiB body, 16 connections

plus the direct-to-backend ceiling (wrk straight to one backend task), and the
RSS that 10,000 idle keep-alive connections cost each proxy.

Usage: bench/http/run.py [--duration S] [--rounds N] [--only a,b] [--scenarios a,b]
                         [--perf SCENARIO] [--idle N] [--no-idle]
"""
import argparse
import json
import os
import re
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib as B  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NET = "127.92.0.0/16"
API = "127.92.0.1:24590"
OFFSET = 20000
VPCD_ADDR = "127.92.1.4"          # the ALB's node in subnet 10.0.1.0/24
PORT = 80 + OFFSET
HAPROXY_ADDR = "127.92.0.11"      # not in any of the VPC's subnets
NGINX_ADDR = "127.92.0.12"
HOST = "service-a.in.example.com"
TG_NAME = "service-a-target-group"

SCENARIOS = {
    "ka50": dict(conns=50, close=False, body=0, desc="keep-alive GET, 50 conns"),
    "ka256": dict(conns=256, close=False, body=0, desc="keep-alive GET, 256 conns"),
    "close": dict(conns=50, close=True, body=0, desc="new connection per request, 50 conns"),
    "post1m": dict(conns=16, close=False, body=1 << 20, desc="1 MiB POST body, keep-alive, 16 conns"),
}
TARGETS = ["direct", "haproxy", "nginx", "vpcd"]


def haproxy_cfg(tmp, backends):
    servers = "\n".join(f"    server t{i} {a}:{p} check inter 5s" for i, (a, p) in enumerate(backends))
    return f"""global
    nbthread 1
    maxconn 9900
    pidfile {tmp}/haproxy.pid
    log stderr format raw local0 emerg
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s
    option http-keep-alive
    maxconn 9900
frontend fe
    bind {HAPROXY_ADDR}:{PORT}
    acl host_a hdr(host) -i {HOST}
    use_backend be_a if host_a
    default_backend be_none
backend be_a
    balance roundrobin
{servers}
backend be_none
    http-request return status 503
"""


def nginx_cfg(tmp, backends):
    servers = "\n".join(f"        server {a}:{p};" for a, p in backends)
    return f"""worker_processes 1;
worker_rlimit_nofile 65536;
error_log {tmp}/nginx-error.log crit;
pid {tmp}/nginx.pid;
events {{ worker_connections 40000; multi_accept on; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_max_body_size 0;
    proxy_request_buffering off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    upstream be_a {{
{servers}
        keepalive 512;
        keepalive_requests 100000000;
    }}
    server {{
        listen {NGINX_ADDR}:{PORT} default_server;
        server_name _;
        return 503;
    }}
    server {{
        listen {NGINX_ADDR}:{PORT};
        server_name {HOST};
        location / {{
            proxy_pass http://be_a;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def wrk(url, sc, duration, perf_pid=None, perf_out=None, procs=None):
    argv = ["wrk", "-t1", f"-c{sc['conns']}", f"-d{duration}s", "--timeout", "5s",
            "-s", os.path.join(HERE, "stats.lua"), "-H", f"Host: {HOST}"]
    if sc["close"]:
        argv += ["-H", "Connection: close"]
    argv.append(url)
    env = dict(os.environ, BENCH_BODY_BYTES=str(sc["body"]))
    perf = None
    if perf_pid:
        perf = procs.start("perf", ["perf", "record", "-F", "499", "--call-graph", "dwarf,16384",
                                    "-o", perf_out, "-p", str(perf_pid)],
                           stop_sig=2)
        time.sleep(0.5)
    r = subprocess.run(argv, capture_output=True, text=True, env=env,
                       timeout=duration + 30, preexec_fn=lambda: B.set_nofile(65536))
    if perf:
        procs.stop(perf, timeout=120)
    m = re.search(r"BENCHJSON (\{.*\})", r.stdout)
    if not m:
        raise RuntimeError(f"wrk gave no summary: {r.stdout}\n{r.stderr}")
    d = json.loads(m.group(1))
    d["rps"] = d["requests"] / (d["duration_us"] / 1e6)
    d["errors"] = sum(d[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    nonok = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    d["non2xx"] = int(nonok.group(1)) if nonok else 0
    return d


def idle_conns(addr, port, n):
    """Open n keep-alive connections, one GET on each, and keep them open.
    Returns the list of sockets that got a 200 (the caller closes them)."""
    socks = []
    req = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    for _ in range(n):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect((addr, port))
            s.sendall(req)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    raise OSError("closed")
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            want = int(m.group(1)) if m else 0
            while len(rest) < want:
                chunk = s.recv(4096)
                if not chunk:
                    break
                rest += chunk
            if not head.startswith(b"HTTP/1.1 200"):
                raise OSError(head.split(b"\r\n")[0].decode(errors="replace"))
            socks.append(s)
        except OSError as e:
            s.close()
            B.log(f"bench: idle connection {len(socks)} to {addr}:{port} failed: {e}")
            break
    return socks


def fmt_ms(us):
    return f"{us / 1000:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1, help="runs per cell; the best is kept")
    ap.add_argument("--only", default=",".join(TARGETS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--perf", metavar="SCENARIO", help="perf record -g vpcd during this scenario")
    ap.add_argument("--perf-out", help="perf data file (default /tmp/vpcd-bench-perf-SCENARIO.data)")
    ap.add_argument("--idle", type=int, default=9000,
                    help="idle connections per proxy (the hard fd limit here is 20000; RSS is scaled to 10k)")
    ap.add_argument("--no-idle", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    ap.add_argument("--workers", type=int, default=1,
                    help="vpcd's --workers (1: one worker, as haproxy and nginx get)")
    args = ap.parse_args()
    targets = [t for t in TARGETS if t in args.only.split(",")]
    scenarios = [s for s in SCENARIOS if s in args.scenarios.split(",")]
    subprocess.run(["sh", os.path.join(B.BENCH_DIR, "deps.sh")], check=True)
    nofile = B.set_nofile(65536)
    if nofile < 2 * args.idle + 1000:
        B.log(f"bench: only {nofile} file descriptors allowed; idle connections may fall short")

    note = B.machine_note()
    procs = B.Procs()
    try:
        vp = B.start_vpcd(procs, os.path.join(HERE, "template.json"), NET, API, OFFSET,
                          workers=args.workers)

        def ready(st):
            for tg in st.get("target_groups", []):
                if tg["name"] == TG_NAME:
                    t = tg.get("targets", [])
                    return len(t) == 2 and all(x["state"] == "healthy" for x in t)
            return False

        st = B.wait_stack(API, vp, ready, 90)
        tasks = [t for s in st["services"] for t in s["tasks"] if t.get("last_status") == "RUNNING"]
        tg = next(tg for tg in st["target_groups"] if tg["name"] == TG_NAME)
        port_of = {t["id"]: t["port"] for t in tg["targets"]}
        backends = sorted((t["address"], port_of[t["address"]]) for t in tasks if t["address"] in port_of)
        if len(backends) != 2:
            raise RuntimeError(f"expected 2 task addresses in /v1/stack, got {backends}")
        B.log(f"bench: vpcd up (pid {vp.pid}), backends {backends}")
        task_pids = [t["pid"] for t in tasks]

        tmp = procs.tmp
        with open(f"{tmp}/haproxy.cfg", "w") as f:
            f.write(haproxy_cfg(tmp, backends))
        with open(f"{tmp}/nginx.conf", "w") as f:
            f.write(nginx_cfg(tmp, backends))
        hp = procs.start("haproxy", ["haproxy", "-db", "-f", f"{tmp}/haproxy.cfg"], stop_sig=15,
                         nofile=100000)
        ng = procs.start("nginx", ["nginx", "-g", "daemon off;", "-p", tmp, "-c", f"{tmp}/nginx.conf"],
                         stop_sig=3, nofile=100000)
        time.sleep(1.0)
        for name, p in (("haproxy", hp), ("nginx", ng)):
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited: " + open(f"{tmp}/{name}.log").read())

        def pids(t):
            if t == "vpcd":
                return [vp.pid]
            if t == "haproxy":
                return B.tree(hp.pid)
            if t == "nginx":
                return B.tree(ng.pid)
            return B.tree(task_pids[0])  # direct: backend 0's nginx

        url = {
            "direct": f"http://{backends[0][0]}:{backends[0][1]}/",
            "haproxy": f"http://{HAPROXY_ADDR}:{PORT}/",
            "nginx": f"http://{NGINX_ADDR}:{PORT}/",
            "vpcd": f"http://{VPCD_ADDR}:{PORT}/",
        }
        # sanity: every proxy routes the Host to a backend, and 503s another Host
        for t in targets:
            for host, want in ((HOST, 200), ("other.example.com", 503)):
                if t == "direct":
                    continue
                req = urllib_get(url[t], host)
                if req != want:
                    raise RuntimeError(f"{t}: Host {host} gave {req}, want {want}")

        results = {}  # (scenario, target) -> best dict
        for sc_name in scenarios:
            sc = SCENARIOS[sc_name]
            for rnd in range(args.rounds):
                for t in targets:
                    wrk(url[t], dict(sc), 1)  # warm-up
                    ps = pids(t)
                    B.reset_peak(ps)
                    cpu0 = B.cpu_seconds(ps)
                    perf = args.perf == sc_name and t == "vpcd" and rnd == 0
                    d = wrk(url[t], sc, args.duration,
                            perf_pid=vp.pid if perf else None,
                            perf_out=args.perf_out or f"/tmp/vpcd-bench-perf-{sc_name}.data",
                            procs=procs)
                    d["peak_rss"] = B.peak_rss_mib(ps)
                    d["cpu_us"] = (B.cpu_seconds(ps) - cpu0) * 1e6 / max(d["requests"], 1)
                    B.log(f"bench: {sc_name:7} {t:8} round {rnd + 1}: {d['rps']:10.0f} req/s  "
                          f"p50 {fmt_ms(d['p50_us'])} ms  p99 {fmt_ms(d['p99_us'])} ms  "
                          f"CPU {d['cpu_us']:.0f} us/req  errors {d['errors']} (c{d['err_connect']} r{d['err_read']} w{d['err_write']} t{d['err_timeout']}) non-2xx {d['non2xx']}  peak RSS {d['peak_rss']:.1f} MiB")
                    k = (sc_name, t)
                    if k not in results or d["rps"] > results[k]["rps"]:
                        results[k] = d
                    if vp.poll() is not None:
                        raise RuntimeError(f"vpcd exited with {vp.returncode} during {sc_name}")

        idle = {}
        if not args.no_idle:
            for t in targets:
                if t == "direct":
                    continue
                ps = pids(t)
                before = B.rss_mib(ps)
                addr, port = url[t].split("//")[1].rstrip("/").split(":")
                t0 = time.time()
                socks = idle_conns(addr, int(port), args.idle)
                took = time.time() - t0
                time.sleep(1.0)
                after = B.rss_mib(ps)
                alive = sum(1 for s in socks if s.fileno() >= 0)
                idle[t] = dict(n=alive, before=before, after=after, took=took)
                B.log(f"bench: idle {t:8}: {alive} connections in {took:.1f}s, RSS {before:.1f} -> {after:.1f} MiB")
                for s in socks:
                    s.close()
                time.sleep(1.0)

        vp_alive = vp.poll() is None
        report = render(args, note, targets, scenarios, results, idle, backends, vp_alive)
        print(report)
        if not args.no_write:
            B.log("bench: wrote " + B.write_result("http", report))
    finally:
        procs.cleanup()


def urllib_get(url, host):
    import http.client
    hp = url.split("//")[1].rstrip("/")
    a, p = hp.split(":")
    c = http.client.HTTPConnection(a, int(p), timeout=5)
    try:
        c.request("GET", "/", headers={"Host": host})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def render(args, note, targets, scenarios, results, idle, backends, vp_alive):
    out = [f"# bench/http — {B.now_utc()}", "",
           f"Machine: {note}. The machine is shared with other engineers who compile and "
           "test: absolute numbers are noisy; the ratios, measured in the same run with the "
           "targets interleaved scenario by scenario, are what to read.", "",
           f"Each cell: wrk -t1, {args.duration} s (after a 1 s warm-up), best of {args.rounds}. "
           "One worker each (haproxy nbthread 1, nginx worker_processes 1, vpcd's one loop); "
           f"backends: 2 vpcd tasks running nginx `return 200 ok` ({', '.join(f'{a}:{p}' for a, p in backends)}). "
           "direct = wrk straight to one backend task (the ceiling; not in post1m, where the "
           "backends, which read each 1 MiB body in full, are the bottleneck and the proxies use both). Latency in ms. "
           "Peak RSS = VmHWM of the proxy's processes during the cell (reset before it). "
           "CPU µs/req = the proxy's user+system CPU time during the cell over the requests done "
           "(for direct: the backend's); it is the least noisy column on a shared machine.", "",
           f"Versions: {B.version(['haproxy', '-v'])}; {B.version(['nginx', '-v'])}; "
           f"{B.version(['wrk', '-v'])}; vpcd {B.vpcd_bin()} at git "
           f"{B.git_rev()}.", ""]
    hdr = ["scenario", "target", "req/s", "p50", "p99", "errors", "non-2xx", "peak RSS MiB",
           "CPU µs/req", "× haproxy", "× nginx", "× direct", "CPU/req × haproxy"]
    rows = []
    for sc in scenarios:
        for t in targets:
            d = results.get((sc, t))
            if not d:
                continue
            hp = results.get((sc, "haproxy"))
            ng = results.get((sc, "nginx"))
            di = results.get((sc, "direct"))
            ratio = lambda ref: f"{d['rps'] / ref['rps']:.2f}" if ref and ref["rps"] > 0 else "–"  # noqa: E731
            rows.append([f"{sc} ({SCENARIOS[sc]['desc']})" if t == targets[0] else "", t,
                         f"{d['rps']:.0f}", fmt_ms(d["p50_us"]), fmt_ms(d["p99_us"]), d["errors"],
                         d["non2xx"], f"{d['peak_rss']:.1f}", f"{d['cpu_us']:.0f}",
                         ratio(hp) if t != "direct" else "–", ratio(ng) if t != "direct" else "–",
                         ratio(di) if t != "direct" else "–",
                         f"{d['cpu_us'] / hp['cpu_us']:.2f}" if t != "direct" and hp and hp["cpu_us"] else "–"])
    out.append(B.table(hdr, rows))
    # the goal of issue 4: vpcd >= 1.25x the better of haproxy and nginx
    if "vpcd" in targets:
        out += ["", "vpcd against the better of haproxy and nginx (goal of issue 4: ≥ 1.25× req/s, p99 no worse):", ""]
        g = []
        for sc in scenarios:
            v = results.get((sc, "vpcd"))
            others = [results.get((sc, t)) for t in ("haproxy", "nginx") if results.get((sc, t))]
            if not v or not others:
                continue
            best = max(others, key=lambda d: d["rps"])
            bname = "haproxy" if best is results.get((sc, "haproxy")) else "nginx"
            g.append([sc, bname, f"{v['rps'] / best['rps']:.2f}", f"{v['p99_us'] / best['p99_us']:.2f}"
                      if best["p99_us"] else "–"])
        out.append(B.table(["scenario", "better of the two", "vpcd req/s ratio", "vpcd p99 ratio (lower is better)"], g))
    if idle:
        out += ["", f"RSS for idle keep-alive connections (one GET on each, then idle; {args.idle} asked):", ""]
        rows = []
        base = idle.get("haproxy")
        for t, d in idle.items():
            per10k = (d["after"] - d["before"]) * 10000 / d["n"] if d["n"] else float("nan")
            d["per10k"] = per10k
        for t, d in idle.items():
            rows.append([t, d["n"], f"{d['took']:.1f}", f"{d['before']:.1f}", f"{d['after']:.1f}",
                         f"{d['per10k']:.1f}",
                         f"{d['per10k'] / base['per10k']:.2f}" if base and base["per10k"] > 0 else "–"])
        out.append(B.table(["proxy", "connections open", "open time s", "RSS before MiB", "RSS after MiB",
                            "MiB per 10k conns", "× haproxy"], rows))
    if not vp_alive:
        out += ["", "**vpcd had exited by the end of the run.**"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
