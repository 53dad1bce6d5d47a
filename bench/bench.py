#!/usr/bin/python3
"""The benchmark of issue 5: ftpproxy against no proxy and ProFTPD mod_proxy.

Started by bench/run.sh inside a network namespace of its own (so nothing
else on the machine shares its loopback addresses or ports). It starts the
three targets, runs every figure interleaved (direct, ftpproxy, ProFTPD, then
again, N runs), and writes bench/results/<date>-<rev>.{md,json}.

Address plan (all on lo of the namespace):
    client        127.0.0.1
    ftpproxy      127.0.0.2:2122   source address 127.0.0.3 (-a)
    vsftpd        127.0.0.4:2121   (the backend, and the "direct" target)
    ProFTPD       127.0.0.5:2123   source address 127.0.0.6 (ProxySourceAddress)
vsftpd runs with pasv_promiscuous=NO and port_promiscuous=NO: it refuses a
data connection from, or a PORT to, any address but its control peer's, so a
transfer that works through a proxy went through the proxy's address.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB = 1 << 30
MIB = 1 << 20

ADDR = {
    "client": "127.0.0.1",
    "ftpproxy": "127.0.0.2",
    "ftpproxy_src": "127.0.0.3",
    "vsftpd": "127.0.0.4",
    "proftpd": "127.0.0.5",
    "proftpd_src": "127.0.0.6",
}
PORT = {"vsftpd": 2121, "ftpproxy": 2122, "proftpd": 2123}
TARGETS = ["direct", "ftpproxy", "proftpd"]
ENDPOINT = {
    "direct": (ADDR["vsftpd"], PORT["vsftpd"]),
    "ftpproxy": (ADDR["ftpproxy"], PORT["ftpproxy"]),
    "proftpd": (ADDR["proftpd"], PORT["proftpd"]),
}
# the address vsftpd must see as its peer for each target (path check)
EXPECTED_PEER = {"direct": ADDR["client"], "ftpproxy": ADDR["ftpproxy_src"],
                 "proftpd": ADDR["proftpd_src"]}
LABEL = {"direct": "direct (no proxy)", "ftpproxy": "ftpproxy", "proftpd": "ProFTPD mod_proxy"}

NOFILE = 20000  # the hard limit of these machines


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------- /proc helpers

def read_stat(pid):
    """(utime+stime, cutime+cstime, ppid) in ticks, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime is field 14 -> rest[11]
    return int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14]), int(rest[1])


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = read_stat(d)
        if st:
            kids.setdefault(st[2], []).append(int(d))
    return kids


def tree(pid):
    """pid and all its live descendants."""
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(pid):
    """CPU of a process tree: own + reaped children of every live member."""
    total = 0
    for p in tree(pid):
        st = read_stat(p)
        if st:
            total += st[0] + st[1]
    return total


def pss_kib(pid):
    """(PSS KiB summed over the tree, RSS KiB summed, number of processes)."""
    pss = rss = n = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
            n += 1
        except OSError:
            pass
    return pss, rss, n


def proc_io(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                k, v = line.split(":")
                out[k] = int(v)
    except OSError:
        pass
    return out


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def system_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


def busy_fraction(a, b):
    total = b[0] - a[0]
    return 0.0 if total <= 0 else 1.0 - (b[1] - a[1]) / total


def tcp_peers_of(local_ip, local_port):
    """Remote IPv4 addresses of established TCP connections to local_ip:port."""
    want = f"{socket.inet_aton(local_ip)[::-1].hex().upper()}:{local_port:04X}"
    peers = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "01":
                ip_hex = fields[2].split(":")[0]
                peers.append(socket.inet_ntoa(bytes.fromhex(ip_hex)[::-1]))
    return peers


def wait_listening(host, port, timeout=15, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.settimeout(2)
                s.recv(256)
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def set_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


# ------------------------------------------------------------------ daemons

class Daemon:
    def __init__(self, name, argv, logdir, env=None, cwd=None):
        self.name, self.argv, self.env, self.cwd = name, [str(a) for a in argv], env, cwd
        self.log_path = os.path.join(logdir, f"{name}.log")
        self.proc = None

    def start(self):
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                     start_new_session=True, preexec_fn=set_nofile)
        logf.close()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)   # our own process group
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        # session processes left in the group (vsftpd, ProFTPD)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def vsftpd_conf(work, root):
    return "\n".join([
        "listen=YES", "listen_ipv6=NO", f"listen_address={ADDR['vsftpd']}",
        f"listen_port={PORT['vsftpd']}", "background=NO",
        "ftpd_banner=vsftpd bench server ready.",
        "anonymous_enable=YES", "local_enable=NO", "no_anon_password=NO",
        "write_enable=YES", "anon_upload_enable=YES", "anon_other_write_enable=YES",
        "anon_world_readable_only=NO", "anon_umask=022", f"anon_root={root}",
        "ftp_username=ftpxanon", "nopriv_user=ftpsecure",
        "secure_chroot_dir=/var/lib/ftpx-empty",
        "pasv_enable=YES", "port_enable=YES",
        "pasv_promiscuous=NO", "port_promiscuous=NO", "connect_from_port_20=NO",
        "seccomp_sandbox=NO", "isolate_network=NO",
        "max_clients=0", "max_per_ip=0",
        "idle_session_timeout=3600", "data_connection_timeout=300",
        # no per-command logging: the same for every target, and not the subject
        "xferlog_enable=NO", "syslog_enable=NO", "dual_log_enable=NO",
    ]) + "\n"


def proftpd_conf(work, modules):
    """ProFTPD mod_proxy in reverse mode, tuned as an operator would for speed."""
    return f"""ServerType standalone
ServerName "bench"
Port {PORT['proftpd']}
DefaultAddress {ADDR['proftpd']}
SocketBindTight on
UseIPv6 off
User nobody
Group nogroup
PidFile {work}/proftpd.pid
ScoreboardFile {work}/proftpd.scoreboard
MaxInstances {NOFILE}
WtmpLog off
UseReverseDNS off
TransferLog none
SystemLog {work}/logs/proftpd-system.log
TimeoutIdle 3600
TimeoutNoTransfer 3600
# a data port range wide enough for 128 sessions per second and more
PassivePorts 10000 30000
ModulePath {modules}
<IfModule mod_delay.c>
  DelayEngine off
</IfModule>
<IfModule mod_ctrls.c>
  ControlsEngine off
</IfModule>
# mod_cap's setreuid() fails in every session here and logs it; off, as an
# operator who reads that log would do
<IfModule mod_cap.c>
  CapabilitiesEngine off
</IfModule>
LoadModule mod_proxy.c
<IfModule mod_proxy.c>
  ProxyEngine on
  ProxyRole reverse
  ProxyTables {work}/proxy-tables
  ProxyReverseConnectPolicy RoundRobin
  ProxyReverseServers ftp://{ADDR['vsftpd']}:{PORT['vsftpd']}
  ProxySourceAddress {ADDR['proftpd_src']}
  ProxyDataTransferPolicy client
  ProxyTimeoutConnect 10sec
</IfModule>
"""


# ------------------------------------------------------------------ bench

class Bench:
    def __init__(self, a):
        self.a = a
        self.work = a.workdir
        self.logdir = os.path.join(self.work, "logs")
        self.root = os.path.join(self.work, "root")
        self.pub = os.path.join(self.root, "pub")
        self.daemons = {}
        self.samples = []       # every measurement, one dict each
        self.notes = []
        self.proxy_fd_base = 0

    # -- setup
    def prepare_files(self):
        if os.path.isdir(self.work):
            shutil.rmtree(self.work)
        os.makedirs(self.pub)
        os.makedirs(self.logdir)
        os.makedirs(os.path.join(self.work, "proxy-tables"))
        for d in (self.work, self.root):
            os.chmod(d, 0o755)
        shutil.chown(self.pub, user="ftpxanon")
        shutil.chown(os.path.join(self.work, "proxy-tables"), user="nobody")
        big = os.path.join(self.pub, "big.bin")
        log(f"writing {self.a.file_mib} MiB of random data to {big} (tmpfs)")
        with open("/dev/urandom", "rb") as src, open(big, "wb") as dst:
            left = self.a.file_mib * MIB
            while left:
                chunk = src.read(min(left, 16 * MIB))
                dst.write(chunk)
                left -= len(chunk)
        with open(os.path.join(self.pub, "small.bin"), "wb") as f:
            f.write(os.urandom(4096))
        for n in ("big.bin", "small.bin"):
            os.chmod(os.path.join(self.pub, n), 0o644)
        self.big = big
        self.big_size = os.path.getsize(big)

    def start_vsftpd(self):
        conf = os.path.join(self.work, "vsftpd.conf")
        with open(conf, "w") as f:
            f.write(vsftpd_conf(self.work, self.root))
        os.chmod(conf, 0o600)
        d = Daemon("vsftpd", [self.a.vsftpd, conf], self.logdir, cwd=self.work).start()
        wait_listening(*ENDPOINT["direct"], proc=d.proc)
        self.daemons["vsftpd"] = d

    def start_ftpproxy(self):
        argv = [self.a.proxy, "-d", "-R", ADDR["vsftpd"], "-P", PORT["vsftpd"],
                "-b", ADDR["ftpproxy"], "-p", PORT["ftpproxy"], "-a", ADDR["ftpproxy_src"],
                "-m", NOFILE] + shlex.split(self.a.proxy_args)
        d = Daemon("ftpproxy", argv, self.logdir, cwd=self.work).start()
        wait_listening(*ENDPOINT["ftpproxy"], proc=d.proc)
        self.daemons["ftpproxy"] = d
        time.sleep(0.2)
        self.proxy_fd_base = fd_count(d.pid)

    def start_proftpd(self):
        conf = os.path.join(self.work, "proftpd.conf")
        with open(conf, "w") as f:
            f.write(proftpd_conf(self.work, os.path.join(self.a.proftpd_root, "usr/lib/proftpd")))
        env = dict(os.environ)
        # Debian's mod_proxy.so needs OpenSSL's symbols, which the proftpd
        # binary does not bring in by itself (undefined symbol OPENSSL_init_ssl)
        env["LD_PRELOAD"] = ":".join(self.a.ssl_preload)
        argv = [os.path.join(self.a.proftpd_root, "usr/sbin/proftpd"), "-n", "-c", conf]
        d = Daemon("proftpd", argv, self.logdir, env=env, cwd=self.work).start()
        wait_listening(*ENDPOINT["proftpd"], timeout=20, proc=d.proc)
        self.daemons["proftpd"] = d

    def restart(self, name):
        self.daemons[name].stop()
        {"ftpproxy": self.start_ftpproxy, "proftpd": self.start_proftpd}[name]()

    def stop_all(self):
        for name in ("proftpd", "ftpproxy", "vsftpd"):
            if name in self.daemons:
                self.daemons[name].stop()

    # -- running the load generator
    def ftpload(self, mode, target, *args, timeout=900):
        host, port = ENDPOINT[target]
        argv = [self.a.ftpload, mode, "-h", host, "-p", str(port), *map(str, args)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=set_nofile)
        if r.returncode != 0:
            raise RuntimeError(f"ftpload {mode} {target}: {r.stderr.strip()}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def target_pid(self, target):
        return {"direct": None, "ftpproxy": self.daemons["ftpproxy"].pid,
                "proftpd": self.daemons["proftpd"].pid}[target]

    def settle(self, timeout=20):
        """Waits until no session is left in vsftpd, ProFTPD or ftpproxy."""
        end = time.time() + timeout
        while time.time() < end:
            kids = children_map()
            busy = [n for n in ("vsftpd", "proftpd")
                    if n in self.daemons and kids.get(self.daemons[n].pid)]
            if fd_count(self.daemons["ftpproxy"].pid) > self.proxy_fd_base:
                busy.append("ftpproxy")
            if not busy:
                return True
            time.sleep(0.05)
        self.notes.append(f"sessions still open {timeout} s after a measurement: {busy}")
        return False

    # -- checks
    def path_check(self):
        """vsftpd must see each proxy's source address, and transfers through
        each target must work in EPSV and PORT mode (ftpload fails on any
        other reply than 229/200: no silent fallback)."""
        out = {}
        for t in TARGETS:
            host, port = ENDPOINT[t]
            p = subprocess.Popen([self.a.ftpload, "idle", "-h", host, "-p", str(port), "-n", "1"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            ready = json.loads(p.stdout.readline())
            peers = tcp_peers_of(ADDR["vsftpd"], PORT["vsftpd"])
            p.stdin.write("quit\n")
            p.stdin.flush()
            p.wait(10)
            ok = ready.get("ok") == 1 and peers == [EXPECTED_PEER[t]]
            small = {}
            for m in ("epsv", "port"):
                small[m] = self.ftpload("xfer", t, "-o", "retr", "-m", m, "-f", "pub/small.bin")["mode_reply"]
            out[t] = {"vsftpd_peer": peers, "expected": EXPECTED_PEER[t], "ok": ok, "mode_replies": small}
            if not ok:
                raise RuntimeError(f"path check failed for {t}: vsftpd sees {peers}, expected {EXPECTED_PEER[t]}")
            self.settle()
        seen = ", ".join(t + " -> " + out[t]["vsftpd_peer"][0] for t in TARGETS)
        log(f"path check ok: vsftpd sees {seen}")
        return out

    # -- figures
    def xfer(self, run, target, op, mode):
        pid = self.target_pid(target)
        vs = self.daemons["vsftpd"].pid
        c0 = cpu_ticks(pid) if pid else None
        v0 = cpu_ticks(vs)
        log0 = os.path.getsize(self.daemons["ftpproxy"].log_path)
        remote = "pub/big.bin" if op == "retr" else f"pub/up-{target}.bin"
        r = self.ftpload("xfer", target, "-o", op, "-m", mode, "-f", remote, "-l", self.big)
        self.settle()
        c1 = cpu_ticks(pid) if pid else None
        v1 = cpu_ticks(vs)
        if op == "stor":
            os.unlink(os.path.join(self.pub, f"up-{target}.bin"))
        gib = r["bytes"] / GIB
        s = {"figure": "xfer", "run": run, "target": target, "op": op, "mode": mode,
             "bytes": r["bytes"], "seconds": r["seconds"],
             "mib_s": r["bytes"] / MIB / r["seconds"],
             "mode_reply": r["mode_reply"], "final_reply": r["final_reply"],
             "client_cpu_s": r["client_cpu"],
             "vsftpd_cpu_s_per_gib": (v1 - v0) / CLK_TCK / gib}
        if pid:
            s["proxy_cpu_s_per_gib"] = (c1 - c0) / CLK_TCK / gib
        if target == "ftpproxy":
            # the proxy logs what it relayed: "data completed: RETR f, N bytes
            # to client, M bytes to server" -- the proof that the data went
            # through it (recvmsg() does not count in /proc/PID/io)
            relayed = last_relay_line(self.daemons["ftpproxy"].log_path, log0)
            if not relayed or relayed[op] != r["bytes"]:
                raise RuntimeError(f"ftpproxy's log does not show {r['bytes']} bytes relayed: {relayed}")
            s["proxy_logged_bytes"] = relayed[op]
            s["proxy_logged_status"] = relayed["status"]
        self.samples.append(s)
        return s

    def sessions(self, run, target, conc):
        pid = self.target_pid(target)
        vs = self.daemons["vsftpd"].pid
        c0 = cpu_ticks(pid) if pid else None
        v0 = cpu_ticks(vs)
        sys0 = system_cpu()
        r = self.ftpload("sessions", target, "-c", conc, "-d", self.a.session_seconds,
                         "-W", self.a.session_warmup, "-f", "pub/small.bin", "-s", 4096,
                         "-t", self.a.session_timeout)
        sys1 = system_cpu()
        self.settle()
        c1 = cpu_ticks(pid) if pid else None
        v1 = cpu_ticks(vs)
        done = max(r["done_total"], 1)
        s = {"figure": "sessions", "run": run, "target": target, "conc": conc,
             "rate": r["rate"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
             "max_ms": r["max_ms"], "sessions": r["sessions"], "errors": r["errors"],
             "errors_by_state": r["errors_by_state"], "last_error": r["last_error"],
             "loadgen_cpu_fraction": r["client_cpu_window"] / self.a.session_seconds,
             "loadgen_cpu_per_session_ms": 1000 * r["client_cpu_total"] / done,
             "machine_busy_fraction": busy_fraction(sys0, sys1),
             "vsftpd_cpu_per_session_ms": 1000 * (v1 - v0) / CLK_TCK / done}
        if pid:
            s["proxy_cpu_per_session_ms"] = 1000 * (c1 - c0) / CLK_TCK / done
        self.samples.append(s)
        return s

    def noop(self, run, target):
        r = self.ftpload("noop", target, "-n", self.a.noop_count)
        self.settle()
        s = {"figure": "noop", "run": run, "target": target, "p50_us": r["p50_us"],
             "p90_us": r["p90_us"], "p99_us": r["p99_us"], "min_us": r["min_us"],
             "mean_us": r["mean_us"], "count": r["count"]}
        self.samples.append(s)
        return s

    def idle(self, run, target, count):
        """Fresh target; PSS before; COUNT logged-in idle sessions; PSS; NOOP on all."""
        self.restart(target)
        self.ftpload("noop", target, "-n", 20)          # one warm-up session
        self.settle()
        time.sleep(0.5)
        pid = self.target_pid(target)
        pss0, rss0, n0 = pss_kib(pid)
        host, port = ENDPOINT[target]
        t0 = time.time()
        p = subprocess.Popen([self.a.ftpload, "idle", "-h", host, "-p", str(port), "-n", str(count),
                              "-c", "16", "-t", "60"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             preexec_fn=set_nofile)
        ready = json.loads(p.stdout.readline())
        time.sleep(1.0)
        pss1, rss1, n1 = pss_kib(pid)
        vs_pss, _, vs_n = pss_kib(self.daemons["vsftpd"].pid)
        proxy_fds = fd_count(pid) if target == "ftpproxy" else None
        p.stdin.write("noop\n")
        p.stdin.flush()
        noop = json.loads(p.stdout.readline())
        p.stdin.write("quit\n")
        p.stdin.flush()
        closed = json.loads(p.stdout.readline())
        p.wait(60)
        self.settle(timeout=120)
        s = {"figure": "idle", "run": run, "target": target, "count": count,
             "opened": ready["ok"], "open_failed": ready["failed"],
             "open_seconds": ready["seconds"], "open_last_error": ready["last_error"],
             "noop_ok": noop["ok"], "noop_failed": noop["failed"], "noop_seconds": noop["seconds"],
             "pss_before_kib": pss0, "pss_kib": pss1, "rss_kib": rss1, "processes": n1,
             "kib_per_session": (pss1 - pss0) / max(ready["ok"], 1),
             "proxy_fds": proxy_fds, "vsftpd_pss_kib": vs_pss, "vsftpd_processes": vs_n,
             "loadgen_cpu_s": closed.get("client_cpu"), "wall_s": time.time() - t0}
        self.samples.append(s)
        log(f"  idle {target} {count}: {s['opened']} open, {s['kib_per_session']:.1f} KiB/session, "
            f"NOOP ok {s['noop_ok']}/{count}")
        return s

    def idle_feasible(self, target, count):
        """Enough memory and pids for COUNT sessions (ProFTPD forks per session,
        vsftpd forks two processes per session)?"""
        per = [s["kib_per_session"] for s in self.samples if s["figure"] == "idle" and s["target"] == target]
        per_target = max(per) if per else 2048
        vs = [s["vsftpd_pss_kib"] / max(s["opened"], 1) for s in self.samples if s["figure"] == "idle"]
        per_vs = max(vs) if vs else 400
        need_kib = count * (per_target + per_vs) * 1.2
        with open("/proc/meminfo") as f:
            mem = {l.split(":")[0]: int(l.split()[1]) for l in f}
        avail = mem["MemAvailable"] - 4 * MIB  # KiB; keep 4 GiB for the others
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        nproc_now = sum(1 for d in os.listdir("/proc") if d.isdigit())
        procs_needed = count * 2 + (count if target == "proftpd" else 0)
        reasons = []
        if need_kib > avail:
            reasons.append(f"needs ~{need_kib / MIB:.1f} GiB (from {per_target:.0f} KiB/session "
                           f"measured at the smaller count + vsftpd's {per_vs:.0f} KiB), "
                           f"{max(avail, 0) / MIB:.1f} GiB available to the benchmark")
        if nproc_now + procs_needed > pid_max - 2000:
            reasons.append(f"needs {procs_needed} processes, pid_max is {pid_max} and "
                           f"{nproc_now} run already")
        return reasons

    # -- the whole run
    def run(self):
        a = self.a
        t_start = time.time()
        self.machine = machine_info(a)
        log(f"machine: {self.machine['cpu_model']}, {self.machine['nproc']} CPUs, "
            f"load {self.machine['loadavg_start']}")
        self.prepare_files()
        self.start_vsftpd()
        self.start_ftpproxy()
        self.start_proftpd()
        self.paths = self.path_check()

        for run in range(1, a.runs + 1):
            log(f"run {run}/{a.runs}")
            for op in ("retr", "stor"):
                for mode in ("epsv", "port"):
                    for t in TARGETS:
                        s = self.xfer(run, t, op, mode)
                    log(f"  {op} {mode}: " + ", ".join(
                        f"{x['target']} {x['mib_s']:.0f} MiB/s" for x in self.samples[-3:]))
            for conc in a.concurrency:
                for t in TARGETS:
                    s = self.sessions(run, t, conc)
                log(f"  sessions c={conc}: " + ", ".join(
                    f"{x['target']} {x['rate']:.0f}/s p99 {x['p99_ms']:.0f} ms err {x['errors']}"
                    for x in self.samples[-3:]))
            for t in TARGETS:
                self.noop(run, t)
            log("  noop p50: " + ", ".join(f"{x['target']} {x['p50_us']:.1f} us" for x in self.samples[-3:]))

        log("idle sessions")
        self.skipped = []
        for run in range(1, a.idle_runs + 1):
            for count in a.idle_counts:
                for t in ("ftpproxy", "proftpd"):
                    if run > 1 and count > min(a.idle_counts):
                        continue  # the big count once
                    reasons = self.idle_feasible(t, count)
                    if reasons:
                        msg = f"{LABEL[t]} at {count} idle sessions not run: " + "; ".join(reasons)
                        if msg not in self.skipped:
                            self.skipped.append(msg)
                        log("  " + msg)
                        continue
                    self.idle(run, t, count)
        self.machine["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        self.machine["duration_s"] = round(time.time() - t_start, 1)
        self.proxy_log = log_summary(self.daemons["ftpproxy"].log_path)

    # -- results
    def write(self):
        summary = summarize(self.samples, self.a)
        stamp = datetime.datetime.now().strftime("%Y-%m-%d")
        variant = f"-{self.a.variant}" if self.a.variant else ""
        base = os.path.join(self.a.out,
                            f"{stamp}-{self.a.rev}{variant}{'-quick' if self.a.quick else ''}")
        doc = {"machine": self.machine, "settings": settings_of(self.a), "path_check": self.paths,
               "summary": summary, "samples": self.samples, "notes": self.notes,
               "skipped": self.skipped, "ftpproxy_log": self.proxy_log, "auto_notes": auto_notes(self.samples, summary, self.a)}
        with open(base + ".json", "w") as f:
            json.dump(doc, f, indent=1)
        with open(base + ".md", "w") as f:
            f.write(render_md(doc, self.a))
        log(f"wrote {base}.md and {base}.json")
        return base


# "completed", or "aborted by the session" when the session ended (QUIT)
# before the client's end of the data connection was seen closed
RELAY_RE = re.compile(r"data ([a-z ]+): (RETR|STOR) .*, (\d+) bytes to client, (\d+) bytes to server")


def last_relay_line(path, since):
    """Bytes of the last transfer ftpproxy logged after offset `since`."""
    with open(path, "rb") as f:
        f.seek(since)
        lines = f.read().decode("utf-8", "replace").splitlines()
    for line in reversed(lines):
        m = RELAY_RE.search(line)
        if m:
            return {"retr": int(m.group(3)), "stor": int(m.group(4)), "status": m.group(1)}
    return None


def log_summary(path):
    """ftpproxy's log lines by kind (numbers, addresses and names blanked)."""
    kinds = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"\S+ \S+ ftp-proxy\[\d+\] (\w+): (.*)", line)
            if not m:
                continue
            text = re.sub(r"#\d+", "#N", m.group(2))
            text = re.sub(r"\d+(\.\d+)*(:\d+)?", "N", text)
            text = re.sub(r"(RETR|STOR) \S+", r"\1 F", text)
            key = f"{m.group(1)}: {text}"
            kinds[key] = kinds.get(key, 0) + 1
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))


def tail(path, n):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


def sysctl(name):
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as f:
            return " ".join(f.read().split())
    except OSError:
        return "?"


def version(cmd, env=None):
    """First line a command prints (informative: '? (why)' when it fails)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10, env=env, stdin=subprocess.DEVNULL)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001 - only informative
        return f"? ({e})"


def machine_basics(sysctls=("net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse",
                            "net.core.somaxconn", "kernel.pid_max")):
    """What every result file says about the machine (bench.py, soak.py)."""
    cpu_model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu_model": cpu_model,
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "os": version(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "mem_gib": round(mem_kib / MIB, 1),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "sysctl": {k: sysctl(k) for k in sysctls},
        "nofile_limit": NOFILE,
        "compiler": version(["c++", "--version"]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def machine_info(a):
    return {
        **machine_basics(),
        "vsftpd": a.vsftpd_version,
        "proftpd": version([os.path.join(a.proftpd_root, "usr/sbin/proftpd"), "-v"]),
        "proftpd_mod_proxy": a.mod_proxy_version,
        "proxy_binary": a.proxy,
        "proxy_rev": a.rev_full,
        "proxy_build": a.build_desc,
        "proxy_args": a.proxy_args,
    }


def settings_of(a):
    return {"quick": a.quick, "runs": a.runs, "file_mib": a.file_mib,
            "concurrency": a.concurrency, "session_seconds": a.session_seconds,
            "session_warmup": a.session_warmup, "session_timeout": a.session_timeout,
            "noop_count": a.noop_count, "idle_counts": a.idle_counts, "idle_runs": a.idle_runs}


# ------------------------------------------------------------- summarizing

def mmm(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "n": len(values)}


def per_run(samples, key_fn, value_fn):
    """{run: {target: value}} for the samples key_fn selects."""
    out = {}
    for s in samples:
        if key_fn(s):
            out.setdefault(s["run"], {})[s["target"]] = value_fn(s)
    return out


def summarize(samples, a):
    summ = {"xfer": {}, "cpu": {}, "sessions": {}, "noop": {}, "idle": {}}
    for op in ("retr", "stor"):
        for mode in ("epsv", "port"):
            k = f"{op}_{mode}"
            sel = lambda s, op=op, mode=mode: s["figure"] == "xfer" and s["op"] == op and s["mode"] == mode
            runs = per_run(samples, sel, lambda s: s["mib_s"])
            summ["xfer"][k] = figure(runs, higher_better=True)
            cpu = per_run(samples, sel, lambda s: s.get("proxy_cpu_s_per_gib"))
            vs = per_run(samples, sel, lambda s: s["vsftpd_cpu_s_per_gib"])
            summ["cpu"][k] = {t: mmm([r.get(t) for r in cpu.values()]) for t in ("ftpproxy", "proftpd")}
            summ["cpu"][k]["vsftpd_direct"] = mmm([r.get("direct") for r in vs.values()])
    for conc in a.concurrency:
        sel = lambda s, c=conc: s["figure"] == "sessions" and s["conc"] == c
        summ["sessions"][str(conc)] = {
            "rate": figure(per_run(samples, sel, lambda s: s["rate"]), higher_better=True),
            "p50_ms": figure(per_run(samples, sel, lambda s: s["p50_ms"]), higher_better=False),
            "p99_ms": figure(per_run(samples, sel, lambda s: s["p99_ms"]), higher_better=False),
            "errors": {t: sum(s["errors"] for s in samples if sel(s) and s["target"] == t) for t in TARGETS},
        }
    sel = lambda s: s["figure"] == "noop"
    for q in ("p50_us", "p99_us"):
        runs = per_run(samples, sel, lambda s, q=q: s[q])
        summ["noop"][q] = {
            "direct": mmm([r.get("direct") for r in runs.values()]),
            **{t: {"absolute": mmm([r.get(t) for r in runs.values()]),
                   "added": mmm([r[t] - r["direct"] for r in runs.values() if t in r and "direct" in r])}
               for t in ("ftpproxy", "proftpd")}}
    for count in a.idle_counts:
        for t in ("ftpproxy", "proftpd"):
            ss = [s for s in samples if s["figure"] == "idle" and s["target"] == t and s["count"] == count]
            if ss:
                summ["idle"].setdefault(str(count), {})[t] = {
                    "kib_per_session": mmm([s["kib_per_session"] for s in ss]),
                    "pss_total_kib": mmm([s["pss_kib"] for s in ss]),
                    "noop_ok": min(s["noop_ok"] for s in ss), "opened": min(s["opened"] for s in ss),
                    "processes": max(s["processes"] for s in ss)}
    return summ


def figure(runs, higher_better):
    """Absolute values per target, and ratio to direct measured in the same run."""
    out = {"direct": mmm([r.get("direct") for r in runs.values()])}
    for t in ("ftpproxy", "proftpd"):
        out[t] = {"absolute": mmm([r.get(t) for r in runs.values()]),
                  "ratio": mmm([r[t] / r["direct"] for r in runs.values()
                                if r.get(t) is not None and r.get("direct")])}
    return out


def auto_notes(samples, summ, a):
    """Facts the reader needs to trust the figures, computed from the samples."""
    notes = []
    ses = [s for s in samples if s["figure"] == "sessions"]
    if ses:
        worst = max(ses, key=lambda s: s["loadgen_cpu_fraction"])
        busiest = [s["machine_busy_fraction"] for s in ses if s["target"] == "direct"]
        px = [s["proxy_cpu_per_session_ms"] for s in ses if s["target"] == "ftpproxy"]
        pf = [s["proxy_cpu_per_session_ms"] for s in ses if s["target"] == "proftpd"]
        notes.append(
            f"Load generator: at most {100 * worst['loadgen_cpu_fraction']:.0f}% of one core in any "
            f"session run ({LABEL[worst['target']]}, {worst['conc']} clients); it spends "
            f"{statistics.median(s['loadgen_cpu_per_session_ms'] for s in ses):.2f} ms CPU per session "
            f"(median over all runs) against ftpproxy's {statistics.median(px):.2f} ms, ProFTPD's "
            f"{statistics.median(pf):.1f} ms and vsftpd's "
            f"{statistics.median(s['vsftpd_cpu_per_session_ms'] for s in ses if s['target'] == 'direct'):.2f} ms "
            f"(at least: vsftpd's reaped session processes only). "
            f"In the direct runs the machine was {100 * min(busiest):.0f}-{100 * max(busiest):.0f}% busy "
            f"(both cores, all processes, other engineers' included).")
        errs = [s for s in ses if s["errors"]]
        if errs:
            by = {}
            for s in errs:
                key = (s["target"], s["conc"])
                by.setdefault(key, [0, set()])
                by[key][0] += s["errors"]
                by[key][1].update(s["errors_by_state"].keys())
            notes.append("Session errors (counted, not in the rate; a session that hangs more than "
                         f"{a.session_timeout} s is an error): " + "; ".join(
                             f"{LABEL[t]} at {c}: {n} (state {', '.join(sorted(st))})"
                             for (t, c), (n, st) in sorted(by.items())))
    xf = [s for s in samples if s["figure"] == "xfer"]
    if xf:
        notes.append("Transfer client CPU: median "
                     f"{statistics.median(s['client_cpu_s'] / (s['bytes'] / GIB) for s in xf):.2f} s/GiB "
                     "(ftpload: recv() into a 1 MiB buffer for RETR, sendfile() for STOR).")
        px = [s for s in xf if s["target"] == "ftpproxy"]
        if px:
            notes.append(f"Data path proof: in every one of ftpproxy's {len(px)} transfers its log "
                         "line 'data completed' shows exactly the file's size relayed.")
    return notes


# ----------------------------------------------------------------- report

def fmt(v, digits=2):
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def cell_mmm(m, unit="", digits=2):
    if not m:
        return "—"
    return f"{fmt(m['median'], digits)}{unit} ({fmt(m['min'], digits)}–{fmt(m['max'], digits)})"


def cell_ratio(fig_t, unit):
    if not fig_t or not fig_t["ratio"]:
        return "—"
    r, ab = fig_t["ratio"], fig_t["absolute"]
    return (f"**{r['median']:.2f}** ({r['min']:.2f}–{r['max']:.2f}) · "
            f"{fmt(ab['median'])} {unit}")


def render_md(doc, a):
    m, s, st = doc["machine"], doc["summary"], doc["settings"]
    L = []
    L.append(f"# Benchmark results: {m['date']} ({'quick' if st['quick'] else 'full'} run)\n")
    L.append(f"ftpproxy `{m['proxy_rev']}` ({m['proxy_build']}), against vsftpd directly and "
             f"ProFTPD mod_proxy, all on loopback in one network namespace. Made by `bench/run.sh"
             f"{' --quick' if st['quick'] else ''}`; the method is in docs/performance.md.\n")
    if m.get("proxy_args"):
        L.append(f"Variant: ftp-proxy run with `{m['proxy_args']}` added to its command line.\n")
    L.append("## Machine\n")
    L.append(f"* CPU: {m['cpu_model']}, `nproc` {m['nproc']} (affinity {m['affinity_cpus']}), "
             f"{m['mem_gib']} GiB memory; shared with other engineers' builds")
    L.append(f"* Kernel {m['kernel']}, {m['os']}")
    L.append(f"* Load average at start {' '.join(m['loadavg_start'])}, at end {' '.join(m.get('loadavg_end', ['?']))}; "
             f"run took {m.get('duration_s', '?')} s")
    L.append(f"* vsftpd {m['vsftpd']}; {m['proftpd']}, mod_proxy {m['proftpd_mod_proxy']}; {m['compiler']}")
    L.append(f"* sysctl: " + ", ".join(f"{k}={v}" for k, v in m["sysctl"].items()) +
             f"; open files limit {m['nofile_limit']}")
    L.append(f"* Settings: {st['runs']} interleaved runs, file {st['file_mib']} MiB, sessions "
             f"{st['session_seconds']} s window after {st['session_warmup']} s warm-up, "
             f"{st['noop_count']} NOOPs, idle counts {st['idle_counts']}\n")

    L.append("## Table\n")
    L.append("Ratios are to direct (no proxy) measured in the same run, then median (min–max) "
             "over the runs; the absolute median follows the dot. Throughput is measured by the "
             "client from RETR/STOR to the 226 reply.\n")
    L.append("| figure | direct | ftpproxy | ProFTPD mod_proxy | target (ftpproxy) |")
    L.append("| --- | --- | --- | --- | --- |")
    size = f"{st['file_mib'] // 1024} GiB" if st["file_mib"] >= 1024 else f"{st['file_mib']} MiB"
    for k, title in (("retr_epsv", "RETR EPSV"), ("retr_port", "RETR PORT"),
                     ("stor_epsv", "STOR EPSV"), ("stor_port", "STOR PORT")):
        f = s["xfer"][k]
        L.append(f"| {title} {size}, throughput ratio | {cell_mmm(f['direct'], ' MiB/s', 0)} | "
                 f"{cell_ratio(f['ftpproxy'], 'MiB/s')} | {cell_ratio(f['proftpd'], 'MiB/s')} | ≥ 0.95 |")
    for k, title in (("retr_epsv", "RETR EPSV"), ("retr_port", "RETR PORT"),
                     ("stor_epsv", "STOR EPSV"), ("stor_port", "STOR PORT")):
        c = s["cpu"][k]
        L.append(f"| proxy CPU s/GiB relayed, {title} | no proxy | "
                 f"{cell_mmm(c['ftpproxy'])} | {cell_mmm(c['proftpd'])} | ≤ 0.15 |")
    for conc, f in s["sessions"].items():
        tgt = {"8": "", "32": "≥ 0.9", "128": ""}.get(conc, "")
        L.append(f"| sessions/s, {conc} clients | {cell_mmm(f['rate']['direct'], '/s', 0)} | "
                 f"{cell_ratio(f['rate']['ftpproxy'], '/s')} | {cell_ratio(f['rate']['proftpd'], '/s')} | "
                 f"{tgt + ('; ' if tgt else '')}ahead of ProFTPD |")
    for conc, f in s["sessions"].items():
        for q in ("p50_ms", "p99_ms"):
            L.append(f"| session latency {q[:3]}, {conc} clients (ratio: lower is better) | "
                     f"{cell_mmm(f[q]['direct'], ' ms', 1)} | {cell_ratio(f[q]['ftpproxy'], 'ms')} | "
                     f"{cell_ratio(f[q]['proftpd'], 'ms')} | |")
    for count in st["idle_counts"]:
        row = s["idle"].get(str(count), {})

        def idle_cell(t):
            if t not in row:
                return "not run (see notes)"
            r = row[t]
            return (f"**{fmt(r['kib_per_session']['median'], 1)} KiB**/session · PSS "
                    f"{r['pss_total_kib']['median'] / 1024:.1f} MiB in {r['processes']} process(es); "
                    f"{r['opened']}/{count} opened, NOOP answered by {r['noop_ok']}")
        L.append(f"| memory per idle session (PSS), {count} sessions | no proxy | {idle_cell('ftpproxy')} | "
                 f"{idle_cell('proftpd')} | ≤ 16 KiB{', one worker' if count >= 9000 else ''} |")
    for q in ("p50_us", "p99_us"):
        f = s["noop"][q]
        L.append(f"| NOOP round trip {q[:3]}, added by the proxy | {cell_mmm(f['direct'], ' µs', 1)} (absolute) | "
                 f"**+{fmt(f['ftpproxy']['added']['median'], 1)} µs** ({fmt(f['ftpproxy']['added']['min'], 1)}–"
                 f"{fmt(f['ftpproxy']['added']['max'], 1)}) · {fmt(f['ftpproxy']['absolute']['median'], 1)} µs | "
                 f"+{fmt(f['proftpd']['added']['median'], 1)} µs ({fmt(f['proftpd']['added']['min'], 1)}–"
                 f"{fmt(f['proftpd']['added']['max'], 1)}) · {fmt(f['proftpd']['absolute']['median'], 1)} µs | "
                 f"{'≤ 20 µs' if q == 'p50_us' else ''} |")
    L.append("")
    L.append("## Checks and notes (computed)\n")
    pc = doc["path_check"]
    L.append("* Path check: vsftpd saw its control peer as " + ", ".join(
        f"{LABEL[t]} → {pc[t]['vsftpd_peer'][0]}" for t in TARGETS) +
        " (expected " + ", ".join(pc[t]["expected"] for t in TARGETS) +
        "); with pasv_promiscuous=NO/port_promiscuous=NO vsftpd accepts data only from that "
        "address, so every transfer through a proxy went through it. The transfer client sends "
        "EPSV or PORT itself and stops on any reply but 229/200: no silent fallback.")
    for n in doc["auto_notes"]:
        L.append(f"* {n}")
    for n in doc["skipped"]:
        L.append(f"* {n}")
    for n in doc["notes"]:
        L.append(f"* {n}")
    L.append("* ftpproxy's log over the whole run, lines by kind: " + "; ".join(
        f"{n} × `{k}`" for k, n in list(doc["ftpproxy_log"].items())[:12]))
    L.append("")
    L.append("## Raw samples\n")
    L.append("Every sample is in the .json file next to this one.\n")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--workdir", default="/dev/shm/ftpproxy-bench")
    ap.add_argument("--out")
    ap.add_argument("--proxy")
    ap.add_argument("--proxy-args", default="", help="more ftp-proxy flags (one string)")
    ap.add_argument("--variant", default="", help="suffix of the result files' names")
    ap.add_argument("--ftpload")
    ap.add_argument("--vsftpd")
    ap.add_argument("--vsftpd-version", default="?")
    ap.add_argument("--proftpd-root")
    ap.add_argument("--mod-proxy-version", default="?")
    ap.add_argument("--ssl-preload", nargs="+")
    ap.add_argument("--rev", default="wip")
    ap.add_argument("--rev-full", default="?")
    ap.add_argument("--build-desc", default="?")
    ap.add_argument("--render", metavar="JSON", help="only re-render JSON's .md next to it")
    a = ap.parse_args()
    if a.render:
        with open(a.render) as f:
            doc = json.load(f)
        st = doc["settings"]
        a = argparse.Namespace(**{**vars(a), **st})
        doc["auto_notes"] = auto_notes(doc["samples"], doc["summary"], a)
        with open(a.render[:-5] + ".md", "w") as f:
            f.write(render_md(doc, a))
        return
    if a.quick:
        a.runs = a.runs or 2
        a.file_mib, a.session_seconds, a.session_warmup, a.session_timeout = 256, 2.0, 0.5, 8
        a.noop_count, a.idle_counts, a.idle_runs = 3000, [300], 1
    else:
        a.runs = a.runs or 5
        a.file_mib, a.session_seconds, a.session_warmup, a.session_timeout = 1024, 4.0, 1.0, 8
        a.noop_count, a.idle_counts, a.idle_runs = 20000, [1000, 9000], 2
    a.concurrency = [8, 32, 128]
    os.makedirs(a.out, exist_ok=True)
    set_nofile()
    b = Bench(a)
    try:
        b.run()
        base = b.write()
    finally:
        b.stop_all()
        # the logs stay in the work dir; the big file (RAM, on tmpfs) goes
        for name in ("big.bin", "up-direct.bin", "up-ftpproxy.bin", "up-proftpd.bin"):
            try:
                os.unlink(os.path.join(b.pub, name))
            except OSError:
                pass
    print(base)


if __name__ == "__main__":
    main()
