"""Shared helpers of bench/http and bench/dns: processes we start (and only
those) are stopped on exit, /proc readings, vpcd start-up, markdown tables."""
import datetime
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Procs:
    """Every process the bench starts; stop_all() ends them by pid, newest first."""

    def __init__(self):
        self.procs = []  # (name, Popen, stop signal)
        self.tmp = tempfile.mkdtemp(prefix="vpcd-bench.")
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, self._on_signal)

    def _on_signal(self, signum, frame):
        raise SystemExit(128 + signum)

    def start(self, name, argv, stop_sig=signal.SIGTERM, env=None, nofile=None, **kw):
        def pre():
            os.setpgid(0, 0)  # own group: a ^C on the terminal reaches only us
            if nofile:
                set_nofile(nofile)
        out = open(os.path.join(self.tmp, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                             preexec_fn=pre, **kw)
        out.close()
        self.procs.append((name, p, stop_sig))
        return p

    def stop(self, p, timeout=10):
        for i, (name, q, sig) in enumerate(self.procs):
            if q is p:
                del self.procs[i]
                if q.poll() is None:
                    q.send_signal(sig)
                    try:
                        q.wait(timeout)
                    except subprocess.TimeoutExpired:
                        log(f"bench: {name} (pid {q.pid}) did not stop; SIGKILL")
                        q.kill()
                        q.wait()
                return

    def stop_all(self):
        while self.procs:
            self.stop(self.procs[-1][1])

    def cleanup(self):
        self.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)


def set_nofile(n):
    """Raise RLIMIT_NOFILE to n, or as far as the hard limit allows; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))
        return n
    except (ValueError, OSError):
        n = min(n, hard) if hard != resource.RLIM_INFINITY else n
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
        return n


def children(pid):
    """Direct children of pid (from /proc/PID/task/*/children)."""
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """utime + stime of the processes, in seconds (from /proc/PID/stat).
    CPU per request is far less sensitive to the other engineers' load on this
    shared machine than requests per second are."""
    t = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return t / CLK_TCK


def reset_peak(pids):
    """Reset VmHWM (peak RSS) so that each scenario has its own peak."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def peak_rss_mib(pids):
    return sum(status_kb(p, "VmHWM") for p in pids) / 1024.0


def rss_mib(pids):
    return sum(status_kb(p, "VmRSS") for p in pids) / 1024.0


def vpcd_bin():
    b = os.environ.get("VPCD_BIN")
    if b:
        return b
    return os.path.join(REPO, os.environ.get("BUILD", "build-bench"), "vpcd")


def start_vpcd(procs, template, net, api, offset, dns=None, nofile=65536, workers=1):
    """vpcd with `--workers 1` by default: the peers run one worker each."""
    state = os.path.join(procs.tmp, "state")
    env = dict(os.environ, TMPDIR=procs.tmp)
    argv = [vpcd_bin(), "up", template, "--net", net, "--api", api,
            "--port-offset", str(offset), "--state-dir", state, "--workers", str(workers)]
    if dns:
        argv += ["--dns", dns]
    return procs.start("vpcd", argv, env=env, nofile=nofile)


def get_stack(api, timeout=1.0):
    with urllib.request.urlopen(f"http://{api}/v1/stack", timeout=timeout) as r:
        return json.load(r)


def wait_stack(api, proc, pred, deadline_s=60):
    end = time.time() + deadline_s
    last = None
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"vpcd exited with {proc.returncode}")
        try:
            st = get_stack(api)
            last = st
            if pred(st):
                return st
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"vpcd not ready in {deadline_s}s; last stack: {json.dumps(last)[:2000]}")


def machine_note():
    la = open("/proc/loadavg").read().split()[:3]
    return (f"{os.cpu_count()} CPUs, load average {' '.join(la)} at start; "
            f"kernel {os.uname().release}")


def today():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def write_result(kind, text):
    d = os.path.join(BENCH_DIR, "results")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{kind}-{today()}.md")
    with open(path, "w") as f:
        f.write(text)
    return path


def version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001 - informative only
        return f"? ({e})"


def git_rev():
    """HEAD, and whether src/ differs from it: the tree is shared with others
    who edit src/, and the binary is built from the working tree."""
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    return rev + (" (src/ with uncommitted changes)" if dirty else "")
