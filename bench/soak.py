#!/usr/bin/python3
"""The soak of issue 9: many concurrent sessions through one ftp-proxy worker
for minutes, every transferred byte checked, then descriptors and memory of
every process involved back to their baseline.

    sudo /usr/bin/python3 bench/soak.py [--minutes 5] [--sessions 1000]
        [--direct-minutes M] [--proxy build/src/proxy/ftp-proxy] [--out bench/results]

Two phases with the same load, in one run: "direct" (the clients talk to
vsftpd, no proxy: the baseline the rates are compared with) and "ftpproxy"
(one worker in reverse mode in front of the same vsftpd). The load
(bench/soak_client.py) keeps --sessions slots busy with sessions of a few
RETR/STOR each over PASV, EPSV, PORT and EPRT in turn; each transfer is
verified by size and sha256. Before the first phase and after each one, the
worker's and vsftpd's descriptors (/proc/PID/fd) and memory (Rss and Pss from
/proc/PID/smaps_rollup) are taken; after the run they must be back to the
first figures within --fd-tolerance and --mem-tolerance-kib.

Isolation: this process creates a network namespace (ip netns add
ftpsoak-PID), runs everything inside it on its loopback, and deletes the
namespace, the processes in it and its work dir on /dev/shm at the end, on
failure and on SIGINT/SIGTERM too. Address plan (bench.py's):
    client 127.0.0.1, ftp-proxy 127.0.0.2:2122 (source 127.0.0.3),
    vsftpd 127.0.0.4:2121
vsftpd runs with pasv_promiscuous=NO and port_promiscuous=NO: it refuses a
data connection from, and a PORT/EPRT to, any address but its control
peer's, so on loopback too a transfer through the proxy went through it.

Writes bench/results/<date>-<rev>-soak.{md,json}; exit status 0 when every
session completed and every process is back to its baseline, 1 otherwise.
"""
import argparse
import asyncio
import hashlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench  # noqa: E402  (address plan, vsftpd's config, Daemon, /proc helpers)
import soak_report  # noqa: E402
from soak_client import Catalog, Load  # noqa: E402

PYTHON = "/usr/bin/python3"
REAPER = os.path.join(REPO, "tests/ftpx/reaper.py")
PRLIMIT = ["prlimit", f"--nofile={bench.NOFILE}:{bench.NOFILE}", "--"]
ADDR, PORT = bench.ADDR, bench.PORT
# (size in bytes, weight): empty and tiny files, a few sizes that are not a
# multiple of any buffer, up to 4 MiB; mean about 280 KiB a transfer
FILES = [(0, 1), (1, 1), (1400, 2), (4096, 3), (65537, 3), (262144, 2), (1048579, 1),
         (4194301, 0.5)]
POOL_BYTES = 8 << 20
SETTLE_TIMEOUT = 60.0      # s for the processes to drop back to their idle descriptors
PHASES = ("direct", "ftpproxy")     # the path check's targets


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="load per phase (default 5)")
    ap.add_argument("--direct-minutes", type=float, help="load of the direct phase (default: --minutes)")
    ap.add_argument("--sessions", type=int, default=1000, help="concurrent sessions (default 1000)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="phases through the proxy, one after the other, each of --minutes "
                         "(default 1; 2 tells a leak, which grows each round, from a high-water mark)")
    ap.add_argument("--connect-rate", type=float, default=100.0,
                    help="new control connections per second at most (vsftpd's listen queue is 32)")
    ap.add_argument("--transfers", default="10-40", help="transfers per session, LOW-HIGH")
    ap.add_argument("--fd-tolerance", type=int, default=0)
    ap.add_argument("--mem-tolerance-kib", type=int, default=1024,
                    help="growth of Rss and of Pss's anonymous part allowed per judged process "
                         "(default 1024 KiB)")
    ap.add_argument("--proxy", default=os.path.join(REPO, "build/src/proxy/ftp-proxy"))
    ap.add_argument("--proxy-args", default="", help="more ftp-proxy flags (one string)")
    ap.add_argument("--vsftpd", default=os.path.join(REPO, ".deps/vsftpd/usr/sbin/vsftpd"))
    ap.add_argument("--out", default=os.path.join(REPO, "bench/results"))
    ap.add_argument("--variant", default="", help="suffix of the result files' names")
    ap.add_argument("--keep-logs", metavar="DIR", help="copy the daemons' logs here at the end")
    ap.add_argument("--no-heap-probe", dest="heap_probe", action="store_false",
                    help="skip gdb's look at the worker's heap (malloc_stats, malloc_trim) "
                         "after each snapshot of it")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--render", metavar="JSON", help="only re-render the .md next to a result's .json")
    ap.add_argument("--note", action="append", default=[],
                    help="with --render: a paragraph of analysis to add (repeatable)")
    ap.add_argument("--inside", metavar="WORKDIR", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.direct_minutes = a.minutes if a.direct_minutes is None else a.direct_minutes
    low, _, high = a.transfers.partition("-")
    a.transfers_range = (int(low), int(high or low))
    if not (1 <= a.sessions <= 5000 and 0 < a.minutes <= 240 and 0 <= a.direct_minutes <= 240
            and 1 <= a.transfers_range[0] <= a.transfers_range[1] <= 10000 and a.connect_rate > 0
            and 1 <= a.rounds <= 10):
        ap.error("out of range: 1..5000 sessions, 0..240 minutes, transfers 1 <= LOW <= HIGH")
    return a


# ------------------------------------------------------------------ outside

def outside(a):
    """Namespace, work dir, the inner run under prlimit; all deleted at the end."""
    if os.geteuid() != 0:
        sys.exit("soak.py: must run as root (network namespace, vsftpd's users)")
    if not os.access(a.proxy, os.X_OK):
        sys.exit(f"soak.py: no ftp-proxy at {a.proxy}; build it: cmake -S . -B build "
                 "-DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build --target ftp-proxy")
    if not os.access(a.vsftpd, os.X_OK):
        log("vsftpd missing: deploy/install-test-deps.sh")
        subprocess.run(["sh", os.path.join(REPO, "deploy/install-test-deps.sh")], check=True,
                       stdout=subprocess.DEVNULL, timeout=900)
    ns = f"ftpsoak-{os.getpid()}"
    work = f"/dev/shm/ftpproxy-soak-{os.getpid()}"
    bound = (a.rounds * a.minutes + a.direct_minutes) * 60 + (a.rounds + 1) * 300 + 600  # + drains, setup
    inner = None

    def on_signal(sig, _frame):
        raise SystemExit(f"soak.py: signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, timeout=30)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True, timeout=30)
        # more ephemeral ports than the default 28 000: TIME_WAIT of every data connection
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                        "net.ipv4.ip_local_port_range=10000 65000"], check=True, timeout=30)
        os.makedirs(work)
        argv = ["ip", "netns", "exec", ns, *PRLIMIT, PYTHON, os.path.abspath(__file__),
                *sys.argv[1:], "--inside", work]
        log(f"network namespace {ns}, work dir {work}; the run is bounded to {bound / 60:.0f} min")
        inner = subprocess.Popen(argv, start_new_session=True)
        try:
            return inner.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            log(f"the run took longer than {bound:.0f} s: stopping it")
            return 1
    finally:
        cleanup(inner, ns, work)


def cleanup(inner, ns, work):
    if inner is not None and inner.poll() is None:
        try:
            os.killpg(inner.pid, signal.SIGTERM)
            inner.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    # whatever still runs inside our namespace was started by this run
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    if inner is not None and inner.poll() is None:
        inner.wait(10)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    shutil.rmtree(work, ignore_errors=True)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    log(f"deleted namespace {ns} ({'still listed!' if ns in left else 'gone'}) and {work}")


# ------------------------------------------------------------------- inside

def proc_figures(pid):
    """Descriptors, Rss and Pss (KiB) of one process; None when it is gone."""
    out = {"pid": pid, "fds": bench.fd_count(pid)}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss", "Pss_Anon"):
                    out[key.lower() + "_kib"] = int(rest.split()[0])
    except OSError:
        return None
    return out


HEAP_RE = re.compile(r"^(system|in use) bytes\s+=\s+(\d+)$")
ASIO_POOL_RE = re.compile(r"asio descriptor_state pool: live (\d+), free (\d+), sizeof (\d+)")
GDB_ASIO_POOL = os.path.join(HERE, "gdb_asio_pool.py")


def rss_by_mapping(pid):
    """Rss (KiB) of a process by kind of mapping: [heap], anonymous, files, [stack]."""
    out, kind = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(maxsplit=6)
            if "-" in first[0] and len(first) >= 5 and not first[0].endswith(":"):
                name = first[5].strip() if len(first) > 5 else ""
                kind = name if name.startswith("[") else ("file" if name else "anonymous")
            elif first[0] == "Rss:":
                out[kind] = out.get(kind, 0) + int(first[1])
    return out


def heap_probe(pid, log_path, trim):
    """glibc's own account of a process's heap, then what malloc_trim(0) gives
    back: tells memory the program still holds (a leak) from free memory the
    allocator keeps. malloc_stats() writes to the process's stderr, which is
    its log here. Run only after the snapshot it explains (it changes Rss)."""
    off = os.path.getsize(log_path)
    mapped = rss_by_mapping(pid)
    cmd = ["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "call (void) malloc_stats()",
           "-ex", f"source {GDB_ASIO_POOL}"]
    if trim:
        cmd += ["-ex", "call (int) malloc_trim(0)", "-ex", "call (void) malloc_stats()"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    with open(log_path, "rb") as f:
        f.seek(off)
        lines = f.read().decode("utf-8", "replace").splitlines()
    # "Total (incl. mmap):" blocks, before and after the trim
    totals, in_total = [], False
    for line in lines:
        if line.startswith("Total (incl. mmap)"):
            in_total = True
            totals.append({})
            continue
        m = HEAP_RE.match(line.strip())
        if m and in_total:
            totals[-1][m.group(1).replace(" ", "_") + "_kib"] = int(m.group(2)) // 1024
            if len(totals[-1]) == 2:
                in_total = False
    if len(totals) != (2 if trim else 1) or any(len(t) != 2 for t in totals):
        return {"error": f"gdb exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}"}
    out = {"heap": totals[0], "rss_kib_by_mapping": mapped}
    m = ASIO_POOL_RE.search(r.stdout)
    if m:
        out["asio_descriptor_pool"] = {"live": int(m.group(1)), "free": int(m.group(2)),
                                       "sizeof": int(m.group(3))}
    if trim:
        after = proc_figures(pid) or {}
        out.update({"heap_after_trim": totals[1], "rss_kib_after_trim": after.get("rss_kib"),
                    "pss_kib_after_trim": after.get("pss_kib"),
                    "rss_kib_by_mapping_after_trim": rss_by_mapping(pid)})
    return out


class Soak:
    def __init__(self, a):
        self.a = a
        self.work = a.inside
        self.logdir = os.path.join(self.work, "logs")
        self.root = os.path.join(self.work, "root")
        self.pub = os.path.join(self.root, "pub")
        self.daemons = {}
        self.phases = {}
        self.snapshots = {}
        self.notes = []
        self.heap = {}

    # -- set-up
    def prepare_files(self):
        os.makedirs(self.pub)
        os.makedirs(self.logdir)
        for d in (self.work, self.root):
            os.chmod(d, 0o755)
        shutil.chown(self.pub, user="ftpxanon")
        files = []
        for size, _ in FILES:
            name = f"f{size}.bin"
            data = os.urandom(size)
            with open(os.path.join(self.pub, name), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(self.pub, name), 0o644)
            files.append((name, size, hashlib.sha256(data).hexdigest()))
        self.catalog = Catalog(files, os.urandom(POOL_BYTES), self.pub, [w for _, w in FILES])

    def start_vsftpd(self):
        conf = os.path.join(self.work, "vsftpd.conf")
        with open(conf, "w") as f:
            f.write(bench.vsftpd_conf(self.work, self.root))
        os.chmod(conf, 0o600)
        # under a subreaper: PID 1 here does not reap vsftpd's session processes
        d = self.daemons["vsftpd"] = bench.Daemon(
            "vsftpd", [*PRLIMIT, PYTHON, REAPER, self.a.vsftpd, conf], self.logdir, cwd=self.work).start()
        bench.wait_listening(ADDR["vsftpd"], PORT["vsftpd"], proc=d.proc)
        kids = [p for p in bench.children_map().get(d.pid, []) if comm(p) == "vsftpd"]
        if len(kids) != 1:
            raise RuntimeError(f"expected one vsftpd under the reaper, found {kids}")
        self.vsftpd_pid = kids[0]

    def start_proxy(self):
        argv = [*PRLIMIT, self.a.proxy, "-d", "-R", ADDR["vsftpd"], "-P", PORT["vsftpd"],
                "-b", ADDR["ftpproxy"], "-p", PORT["ftpproxy"], "-a", ADDR["ftpproxy_src"],
                "-m", 2 * self.a.sessions + 100] + self.a.proxy_args.split()
        d = self.daemons["ftp-proxy"] = bench.Daemon("ftp-proxy", argv, self.logdir, cwd=self.work).start()
        bench.wait_listening(ADDR["ftpproxy"], PORT["ftpproxy"], proc=d.proc)

    def endpoint(self, phase):
        return bench.ENDPOINT["direct" if phase == "direct" else "ftpproxy"]

    def path_check(self):
        """vsftpd must see the proxy's source address as its peer; one session
        of the eight transfer kinds through each target must pass."""
        with socket.create_connection(self.endpoint("ftpproxy"), timeout=10) as s:
            s.settimeout(10)
            banner = s.recv(512)
            peers = bench.tcp_peers_of(ADDR["vsftpd"], PORT["vsftpd"])
        if not banner.startswith(b"220") or peers != [ADDR["ftpproxy_src"]]:
            raise RuntimeError(f"path check: banner {banner!r}, vsftpd's peers {peers}")
        out = {"vsftpd_peer_through_proxy": peers}
        for phase in PHASES:
            load = self.load(f"check-{phase}", phase, sessions=1, seconds=60, transfers=(8, 8),
                             sessions_per_slot=1)
            run_load(load)
            c = load.count
            if c.failures or c.completed != 1 or sum(c.transfers.values()) != 8:
                raise RuntimeError(f"path check through {phase}: {c.failures or c.transfers}")
            out[phase] = {"transfers": dict(c.transfers), "data_peers": c.data_peers}
        self.settle()
        log(f"path check ok: vsftpd sees {peers[0]} through the proxy; 8 transfer kinds pass both ways")
        return out

    def load(self, name, phase, sessions, seconds, transfers, **kw):
        host, port = self.endpoint(phase)
        return Load(name, host, port, ADDR["client"], sessions, seconds, self.catalog,
                    self.a.connect_rate, transfers, self.a.seed, **kw)

    # -- measurements
    def processes(self):
        """Every process involved, by role."""
        vs_tree = bench.tree(self.vsftpd_pid)
        return {"ftp-proxy": proc_figures(self.daemons["ftp-proxy"].pid),
                "vsftpd": proc_figures(self.vsftpd_pid),
                "vsftpd sessions": {"processes": len(vs_tree) - 1},
                "reaper (vsftpd's subreaper)": proc_figures(self.daemons["vsftpd"].pid),
                "load generator (this script)": proc_figures(os.getpid())}

    def settle(self):
        """Waits (bounded) until vsftpd has no session process left and the
        worker's descriptors are back to the baseline (once there is one) and
        stopped changing for 2 s; returns the seconds it took."""
        t0 = time.monotonic()
        base = self.snapshots.get("before", {}).get("ftp-proxy", {}).get("fds")
        last, stable_since = None, t0
        while time.monotonic() - t0 < SETTLE_TIMEOUT:
            now = (bench.fd_count(self.daemons["ftp-proxy"].pid), len(bench.tree(self.vsftpd_pid)))
            if now != last:
                last, stable_since = now, time.monotonic()
            elif (now[1] == 1 and (base is None or now[0] <= base)
                  and time.monotonic() - stable_since >= 2.0):
                break
            time.sleep(0.2)
        return round(time.monotonic() - t0, 1)

    def sampler(self, load):
        proxy = self.daemons["ftp-proxy"].pid

        def sample():
            c = load.count
            mem = proc_figures(proxy) or {}
            return {"open_sessions": c.started - c.completed - len(c.failures),
                    "transfers": sum(c.transfers.values()), "failures": len(c.failures),
                    "proxy_fds": mem.get("fds"), "proxy_rss_kib": mem.get("rss_kib"),
                    "vsftpd_processes": len(bench.tree(self.vsftpd_pid))}
        return sample

    def phase(self, phase, minutes):
        log(f"phase {phase}: {self.a.sessions} sessions for {minutes} min")
        proxy_log0 = os.path.getsize(self.daemons["ftp-proxy"].log_path)
        pid = self.daemons["ftp-proxy"].pid if phase != "direct" else None
        cpu0 = {"proxy": bench.cpu_ticks(pid) if pid else None,
                "vsftpd": bench.cpu_ticks(self.daemons["vsftpd"].pid), "client": own_cpu()}
        sys0 = bench.system_cpu()
        load = self.load(phase, phase, self.a.sessions, minutes * 60, self.a.transfers_range)
        samples = run_load(load, self.sampler(load))
        sys1 = bench.system_cpu()
        cpu1 = {"proxy": bench.cpu_ticks(pid) if pid else None,
                "vsftpd": bench.cpu_ticks(self.daemons["vsftpd"].pid), "client": own_cpu()}
        settle_s = self.settle()
        self.snapshots[f"after {phase}"] = self.processes()
        result = soak_report.phase_result(load, samples, cpu0, cpu1,
                                          bench.busy_fraction(sys0, sys1), settle_s)
        if pid:
            result["proxy_log"] = soak_report.proxy_log_check(
                self.daemons["ftp-proxy"].log_path, proxy_log0, load)
        self.phases[phase] = result
        log(f"phase {phase}: {result['sessions']['completed']} sessions completed, "
            f"{result['sessions']['failed']} failed, {result['transfers']['verified']} transfers "
            f"verified ({result['rates']['transfers_per_s']:.0f}/s, "
            f"{result['rates']['mib_per_s']:.1f} MiB/s); settled in {settle_s} s")

    def run(self):
        self.machine = bench.machine_basics(("net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse",
                                             "net.core.somaxconn", "kernel.pid_max",
                                             "fs.pipe-user-pages-soft"))
        self.machine.update(soak_report.revision(REPO, self.a.proxy))
        t0 = time.time()
        self.prepare_files()
        self.start_vsftpd()
        self.start_proxy()
        self.path = self.path_check()
        self.snapshots["before"] = self.processes()
        log("baseline: " + soak_report.brief(self.snapshots["before"]))
        self.heap_probe("before", trim=True)
        if self.a.direct_minutes > 0:
            self.phase("direct", self.a.direct_minutes)
        names = soak_report.proxy_phases(self.a.rounds)
        for name in names:
            self.phase(name, self.a.minutes)
            log(f"after {name}: " + soak_report.brief(self.snapshots[f"after {name}"]))
            self.heap_probe(f"after {name}", trim=(name == names[-1]))
        self.machine["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        self.machine["duration_s"] = round(time.time() - t0, 1)

    def heap_probe(self, when, trim):
        if self.a.heap_probe and shutil.which("gdb"):
            d = self.daemons["ftp-proxy"]
            self.heap[when] = heap_probe(d.pid, d.log_path, trim)
            log(f"worker's heap {when}: {self.heap[when]}")

    def stop(self):
        for name in ("ftp-proxy", "vsftpd"):
            if name in self.daemons:
                self.daemons[name].stop()
        if self.a.keep_logs:
            shutil.copytree(self.logdir, self.a.keep_logs, dirs_exist_ok=True)


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_load(load, sampler=None):
    return asyncio.run(load.run(sampler))


def inside(a):
    s = Soak(a)
    try:
        s.run()
    except BaseException:
        # the work dir and its logs are deleted at the end: say what they said
        for name, d in s.daemons.items():
            print(f"--- {name}'s log (tail)\n" + "\n".join(bench.tail(d.log_path, 20)), file=sys.stderr)
        raise
    finally:
        s.stop()
    doc = soak_report.document(s, a)
    base = soak_report.write(doc, a)
    log(f"wrote {base}.md and {base}.json")
    log(doc["verdict"]["line"])
    return 0 if doc["verdict"]["ok"] else 1


def main():
    a = parse_args()
    if a.render:
        soak_report.render(a.render, a.note)
        return 0
    return inside(a) if a.inside else outside(a)


if __name__ == "__main__":
    sys.exit(main())
