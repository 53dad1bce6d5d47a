#!/usr/bin/python3
"""The FTPS benchmark of issue 12: ftpproxy with TLS on both legs against
direct FTPS and ProFTPD mod_proxy with TLS on both legs.

Started by bench/run-ftps.sh inside a network namespace of its own. The
addresses, ports and the plain-FTP settings of the three daemons are
bench.py's (issue 5); this script adds TLS to each:

    direct    client --TLS--> vsftpd 127.0.0.4:2121 (ssl_enable=YES, its TLS
              defaults: require_ssl_reuse=YES, strict_ssl_read_eof=YES)
    ftpproxy  client --TLS--> ftpproxy 127.0.0.2:2122 --TLS--> vsftpd
    ProFTPD   client --TLS--> mod_tls + mod_proxy 127.0.0.5:2123 --TLS--> vsftpd

Every certificate is self-signed RSA 2048, made at start; every client
verifies the certificate of the address it connects to, and both proxies
verify vsftpd's. vsftpd refuses an anonymous login or a data connection
without TLS (force_anon_*_ssl=YES), so both proxies' server legs are TLS by
the backend's own policy; the client legs are TLS because the clients demand
it (curl --ssl-reqd, ftplib PROT P).

Figures, interleaved per round (direct, ftpproxy, ProFTPD, then the next):
  * RETR and STOR of one big file with curl (EPSV): MiB/s from the 150 reply
    to the 226 reply (curl's time_total - time_pretransfer), proxy CPU per
    GiB (the proxy's whole process tree, /proc/PID/stat);
  * session rate: P client processes run N full FTPS sessions in all
    (connect, AUTH TLS, USER/PASS, PBSZ/PROT P, TYPE I, EPSV, RETR of 4 KiB
    with the data connection resuming the control session, QUIT); a full
    handshake on every control connection (the client keeps no session
    cache, and each one is checked not to be resumed);
  * memory per idle TLS session, once per proxy at the end: a fresh proxy,
    then idle sessions (logged in, PROT P, one LIST done) opened in steps;
    the proxy's PSS and RSS (all its processes) at each step.

Results: bench/results/ftps-<date>[-<variant>][-quick].{md,json}.
"""
import argparse
import datetime
import gzip
import hashlib
import json
import os
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)                        # bench.py (issue 5)
sys.path.insert(0, os.path.join(REPO, "tests"))  # ftpx (the test helpers)

import bench  # noqa: E402
from bench import (ADDR, CLK_TCK, ENDPOINT, EXPECTED_PEER, GIB, MIB, NOFILE, PORT,  # noqa: E402
                   TARGETS, cell_mmm, cpu_ticks, fd_count, figure, fmt, log, mmm, per_run,
                   set_nofile, tcp_peers_of, tree, wait_listening)
from ftpx.clients import RecFTP, TlsRecFTP  # noqa: E402
from ftpx.servers import make_server_cert  # noqa: E402

LABEL = {"direct": "direct FTPS (no proxy)", "ftpproxy": "ftpproxy (TLS both legs)",
         "proftpd": "ProFTPD mod_proxy (TLS both legs)"}
PROXIES = ("ftpproxy", "proftpd")
USER, PASSWORD = "anonymous", "bench@example.org"
SMALL = "pub/small.bin"
SMALL_SIZE = 4096
REAPER = os.path.join(REPO, "tests", "ftpx", "reaper.py")

# mod_proxy's TLS versions toward vsftpd. TLS 1.2 by default: with TLS 1.3
# every big STOR through it fails (measured: vsftpd "426 Failure reading
# network stream", FAIL UPLOAD 131448832 of 134217728 bytes). mod_proxy
# closes its backend data connection with unread bytes in its receive queue
# (TLS 1.3's post-handshake NewSessionTicket, which TLS 1.2 does not send):
# the kernel answers with a RST instead of a FIN (tcpdump: [R.] from its
# source address, no FIN), and vsftpd loses what it had not read yet.
PROFTPD_BACKEND_PROTOCOL = {"1.2": "TLSv1.2", "1.3": "TLSv1.2 TLSv1.3"}

# issue 12's targets for ftpproxy
TARGET_THROUGHPUT_RATIO = 0.8
TARGET_IDLE_KIB = 64


# --------------------------------------------------------------- the clients
# Run as child processes of this script (`ftps.py --client KIND ...`), so
# their CPU is theirs (wait4) and nothing of them runs in the orchestrator.

class BenchFTP(TlsRecFTP):
    """TlsRecFTP with a context made once per client process: the CA file is
    not parsed per session, and Python's ssl never resumes a client session
    unless it is handed one, so every control connection is a full handshake.
    Data connections resume the control connection's session ("control"):
    vsftpd (require_ssl_reuse) and ProFTPD's mod_tls refuse anything else."""

    def __init__(self, context, host, timeout):
        self.context = context
        self._prot_p = False
        self.keyfile = self.certfile = None
        self.tls_name = host            # the certificate names the IP address
        self.reuse = "control"
        self.first_session = None
        self.data = []
        RecFTP.__init__(self, mode="EPSV", source=None, timeout=timeout)


def client_context(cafile):
    return ssl.create_default_context(cafile=cafile)


def open_session(ctx, host, port, timeout):
    """connect, AUTH TLS, login, PBSZ 0 + PROT P; (ftp, control handshake resumed?)"""
    f = BenchFTP(ctx, host, timeout)
    f.connect(host, port)
    f.auth()
    resumed = f.sock.session_reused
    f.login(USER, PASSWORD)
    f.prot_p()
    return f, resumed


def client_sessions(a):
    """N full FTPS sessions in a loop, after 'go' on stdin; one JSON line."""
    ctx = client_context(a.cafile)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    lat, errors, full, data_resumed, last_error = [], 0, 0, 0, ""
    for _ in range(a.count):
        s0 = time.perf_counter()
        try:
            f, resumed = open_session(ctx, a.host, a.port, a.timeout)
            buf = bytearray()
            f.retrbinary("RETR " + SMALL, buf.extend)
            if len(buf) != SMALL_SIZE:
                raise RuntimeError(f"RETR got {len(buf)} bytes")
            data_resumed += bool(f.data and f.data[-1][2])
            full += not resumed
            f.quit()
            f.close()
            lat.append(1000 * (time.perf_counter() - s0))
        except Exception as e:  # noqa: BLE001 - counted and reported
            errors += 1
            last_error = f"{type(e).__name__}: {e}"
    t1 = time.time()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    lat.sort()
    print(json.dumps({
        "done": len(lat), "errors": errors, "last_error": last_error, "t0": t0, "t1": t1,
        "full_handshakes": full, "data_resumed": data_resumed,
        "p50_ms": statistics.median(lat) if lat else None,
        "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None,
        "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)}), flush=True)


def client_idle(a):
    """Holds idle sessions; commands on stdin, one JSON line per answer:
       open K   open K more (logged in, PROT P, one LIST, then idle)
       noop     NOOP on every open session
       quit     QUIT them all and exit"""
    ctx = client_context(a.cafile)
    sessions = []
    for line in sys.stdin:
        cmd = line.split()
        t0 = time.time()
        if cmd[0] == "open":
            ok = failed = 0
            last_error = ""
            for _ in range(int(cmd[1])):
                try:
                    f, _resumed = open_session(ctx, a.host, a.port, a.timeout)
                    f.retrlines("LIST pub", lambda _l: None)
                    if not (f.data and f.data[-1][2]):
                        raise RuntimeError("LIST data connection not resumed")
                    sessions.append(f)
                    ok += 1
                except Exception as e:  # noqa: BLE001 - counted and reported
                    failed += 1
                    last_error = f"{type(e).__name__}: {e}"
            out = {"ok": ok, "failed": failed, "open": len(sessions), "last_error": last_error}
        elif cmd[0] == "noop":
            ok = 0
            for f in sessions:
                try:
                    f.voidcmd("NOOP")
                    ok += 1
                except Exception:  # noqa: BLE001 - counted
                    pass
            out = {"ok": ok, "failed": len(sessions) - ok}
        else:
            for f in sessions:
                try:
                    f.quit()
                except Exception:  # noqa: BLE001 - the end anyway
                    pass
                f.close()
            out = {"closed": len(sessions)}
        out["seconds"] = time.time() - t0
        print(json.dumps(out), flush=True)
        if cmd[0] == "quit":
            return


# ------------------------------------------------------------ /proc helpers

def smaps_tree(pid):
    """smaps_rollup fields (KiB) summed over the process tree, + 'processes'."""
    out = {"processes": 0}
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3 and parts[2] == "kB":
                        out[parts[0].rstrip(":")] = out.get(parts[0].rstrip(":"), 0) + int(parts[1])
            out["processes"] += 1
        except OSError:
            pass
    return out


def rss_by_mapping(pid):
    """One process's RSS (KiB) by kind of mapping: heap, anonymous mmap,
    stack, file-backed: where a growth lives."""
    kinds = {"heap": 0, "anon": 0, "stack": 0, "file": 0, "other": 0}
    kind = "other"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                first = line.split(maxsplit=6)
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    name = first[5].strip() if len(first) > 5 else ""
                    kind = ("heap" if name == "[heap]" else "stack" if name.startswith("[stack")
                            else "anon" if not name else "file" if name.startswith("/")
                            else "other")
                elif line.startswith("Rss:"):
                    kinds[kind] += int(first[1])
    except OSError:
        pass
    return kinds


def status_vmrss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_split(pid):
    """(user, system) ticks of a process tree, reaped children included."""
    user = system = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # rest[0] is field 3 (state): utime, stime, cutime, cstime are 14-17
        user += int(rest[11]) + int(rest[13])
        system += int(rest[12]) + int(rest[14])
    return user, system


def wait4_rusage(proc, timeout):
    """Waits for a Popen child; (returncode, user+sys CPU seconds)."""
    end = time.time() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, ru.ru_utime + ru.ru_stime
        if time.time() > end:
            proc.kill()
            raise RuntimeError(f"{proc.args[:3]}… still running after {timeout} s")
        time.sleep(0.01)


def deb_version(changelog):
    try:
        with gzip.open(changelog, "rt") as f:
            m = re.match(r"^\S+ \(([^)]*)\)", f.readline())
            return m.group(1) if m else "?"
    except OSError:
        return "?"


# "data completed: RETR f, N bytes to client, M bytes to server, T s, relay
# read/write (client leg TLSv1.3 SUITE resumed, server leg TLSv1.3 SUITE resumed)"
RELAY_RE = re.compile(r"data ([a-z ]+): (RETR|STOR|LIST|NLST) .*?, (\d+) bytes to client, "
                      r"(\d+) bytes to server.*?relay (\S+) \(client leg ([^,]*), server leg ([^)]*)\)")


def relay_lines(path, since):
    with open(path, "rb") as f:
        f.seek(since)
        text = f.read().decode("utf-8", "replace")
    return [m for m in (RELAY_RE.search(l) for l in text.splitlines()) if m]


# ------------------------------------------------------------------ bench

class FtpsBench(bench.Bench):
    """bench.Bench's files, daemons and checks, with TLS everywhere."""

    def __init__(self, a):
        super().__init__(a)
        self.paths = {}
        self.skipped = []

    # -- setup
    def prepare(self):
        self.prepare_files()                 # bench.py's: work dir, big.bin, small.bin
        os.makedirs(os.path.join(self.work, "modules"))
        # the binary under test, copied once: the build tree may be rebuilt under us
        self.proxy_bin = os.path.join(self.work, "ftp-proxy")
        shutil.copy2(self.a.proxy, self.proxy_bin)
        with open(self.proxy_bin, "rb") as f:
            self.proxy_sha256 = hashlib.sha256(f.read()).hexdigest()
        # vsftpd's certificate (the proxies verify it), and the proxies' own
        # (one certificate for both, naming both addresses: the same RSA 2048
        # handshake cost in front of either)
        self.vs_cert, self.vs_key = map(str, make_server_cert(
            self.work, "vsftpd", f"IP:{ADDR['vsftpd']},DNS:ftp.test"))
        self.px_cert, self.px_key = map(str, make_server_cert(
            self.work, "proxies", f"IP:{ADDR['ftpproxy']},IP:{ADDR['proftpd']},DNS:ftp.test"))
        self.cafile = {"direct": self.vs_cert, "ftpproxy": self.px_cert, "proftpd": self.px_cert}
        # ProFTPD: mod_proxy.so (proftpd-mod-proxy) and mod_tls.so
        # (proftpd-mod-crypto) come from two unpacked packages of the same
        # proftpd 1.3.8 build; ModulePath takes one directory
        for so in (os.path.join(self.a.proftpd_root, "usr/lib/proftpd/mod_proxy.so"),
                   os.path.join(self.a.proftpd_tls_root, "usr/lib/proftpd/mod_tls.so")):
            os.symlink(so, os.path.join(self.work, "modules", os.path.basename(so)))

    def start_vsftpd(self):
        conf = os.path.join(self.work, "vsftpd.conf")
        with open(conf, "w") as f:
            # tests/ftpx/servers.py VsftpdTls's lines, without debug_ssl (a log
            # line per handshake): the rest is vsftpd 3.0.3's TLS default
            f.write(bench.vsftpd_conf(self.work, self.root) + "\n".join([
                "ssl_enable=YES", "allow_anon_ssl=YES",
                "force_anon_logins_ssl=YES", "force_anon_data_ssl=YES",
                f"rsa_cert_file={self.vs_cert}", f"rsa_private_key_file={self.vs_key}"]) + "\n")
        os.chmod(conf, 0o600)
        # under a subreaper (NOTES.md: PID 1 here does not reap vsftpd's orphans)
        d = bench.Daemon("vsftpd", ["/usr/bin/python3", REAPER, self.a.vsftpd, conf],
                         self.logdir, cwd=self.work).start()
        wait_listening(*ENDPOINT["direct"], proc=d.proc)
        self.daemons["vsftpd"] = d

    def ftpproxy_argv(self):
        return [self.proxy_bin, "-d", "-R", ADDR["vsftpd"], "-P", PORT["vsftpd"],
                "-b", ADDR["ftpproxy"], "-p", PORT["ftpproxy"], "-a", ADDR["ftpproxy_src"],
                "-m", NOFILE,
                "--tls-cert", self.px_cert, "--tls-key", self.px_key, "--client-tls", "required",
                "--server-tls", "required", "--server-tls-ca", self.vs_cert]

    def start_ftpproxy(self):
        d = bench.Daemon("ftpproxy", self.ftpproxy_argv(), self.logdir, cwd=self.work).start()
        wait_listening(*ENDPOINT["ftpproxy"], proc=d.proc)
        self.daemons["ftpproxy"] = d
        time.sleep(0.2)
        self.proxy_fd_base = fd_count(d.pid)

    def proftpd_tls_conf(self):
        return f"""
# issue 12: TLS toward clients (mod_tls) and toward vsftpd (mod_proxy)
LoadModule mod_tls.c
<IfModule mod_tls.c>
  TLSEngine on
  TLSRequired on
  TLSProtocol TLSv1.2 TLSv1.3
  TLSRSACertificateFile {self.px_cert}
  TLSRSACertificateKeyFile {self.px_key}
  TLSVerifyClient off
</IfModule>
<IfModule mod_proxy.c>
  ProxyTLSEngine on
  ProxyTLSProtocol {PROFTPD_BACKEND_PROTOCOL[self.a.proftpd_backend_tls]}
  ProxyTLSCACertificateFile {self.vs_cert}
  ProxyTLSVerifyServer on
  ProxyTLSTransferProtectionPolicy required
</IfModule>
"""

    def start_proftpd(self):
        conf = os.path.join(self.work, "proftpd.conf")
        with open(conf, "w") as f:
            f.write(bench.proftpd_conf(self.work, os.path.join(self.work, "modules")) +
                    self.proftpd_tls_conf())
        os.chmod(conf, 0o600)
        env = dict(os.environ)
        env["LD_PRELOAD"] = ":".join(self.a.ssl_preload)     # NOTES.md: mod_proxy.so needs it
        argv = [os.path.join(self.a.proftpd_root, "usr/sbin/proftpd"), "-n", "-c", conf]
        d = bench.Daemon("proftpd", argv, self.logdir, env=env, cwd=self.work).start()
        wait_listening(*ENDPOINT["proftpd"], timeout=20, proc=d.proc)
        self.daemons["proftpd"] = d

    def settle(self, timeout=30):
        """No session left: vsftpd's tree is reaper + master, ProFTPD's the
        master alone, ftpproxy's descriptors are back to their count at start."""
        end = time.time() + timeout
        busy = []
        while time.time() < end:
            busy = []
            if len(tree(self.daemons["vsftpd"].pid)) > 2:
                busy.append("vsftpd")
            if "proftpd" in self.daemons and len(tree(self.daemons["proftpd"].pid)) > 1:
                busy.append("proftpd")
            if "ftpproxy" in self.daemons and fd_count(self.daemons["ftpproxy"].pid) > self.proxy_fd_base:
                busy.append("ftpproxy")
            if not busy:
                return True
            time.sleep(0.05)
        self.notes.append(f"sessions still open {timeout} s after a measurement: {busy}")
        return False

    # -- clients
    def curl(self, target, op, remote, timeout=900, verbose=False):
        """One curl transfer (EPSV, TLS on control and data); its figures."""
        host, port = ENDPOINT[target]
        url = f"ftp://{host}:{port}/{remote}"
        argv = ["curl", "-sS", "--ssl-reqd", "--cacert", self.cafile[target], "-u", f"{USER}:{PASSWORD}",
                "--connect-timeout", "10", "--max-time", str(timeout),
                "-w", "%{response_code} %{size_download} %{size_upload} %{time_pretransfer} %{time_total}"]
        if verbose:
            argv.append("-v")
        argv += ["-o", "/dev/null", url] if op == "retr" else ["-T", self.big, url]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=set_nofile)
        out, err = p.communicate(timeout=timeout + 30)
        # communicate() reaped it: the CPU comes from the children's rusage delta
        if p.returncode != 0:
            raise RuntimeError(f"curl exit {p.returncode}: {err.strip()[-300:]}")
        code, down, up, pre, total = out.split()
        return {"code": int(code), "bytes": int(down if op == "retr" else up),
                "pretransfer_s": float(pre), "total_s": float(total), "stderr": err}

    def spawn_client(self, kind, target, *extra):
        host, port = ENDPOINT[target]
        argv = ["/usr/bin/python3", os.path.abspath(__file__), "--client", kind,
                "--host", host, "--port", str(port), "--cafile", self.cafile[target], *map(str, extra)]
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                preexec_fn=set_nofile)

    # -- checks
    def path_check(self):
        """Per target: vsftpd sees the expected control peer; curl shows TLS on
        the control and the data connection (resumed); for ftpproxy, its log
        shows both legs TLS and resumed."""
        out = {}
        for t in TARGETS:
            p = self.spawn_client("idle", t, "--timeout", 20)
            p.stdin.write("open 1\n")
            p.stdin.flush()
            ready = json.loads(p.stdout.readline())
            peers = tcp_peers_of(ADDR["vsftpd"], PORT["vsftpd"])
            p.stdin.write("quit\n")
            p.stdin.flush()
            p.stdout.readline()
            p.wait(20)
            self.settle()
            log0 = os.path.getsize(self.daemons["ftpproxy"].log_path)
            r = self.curl(t, "retr", SMALL, timeout=30, verbose=True)
            self.settle()
            v = r["stderr"]
            tls = re.findall(r"SSL connection using (\S+) / (\S+)", v)
            check = {"vsftpd_peer": peers, "expected": EXPECTED_PEER[t],
                     "idle_session_ok": ready.get("ok") == 1,
                     "curl_tls": [" ".join(x) for x in tls],
                     "curl_data_resumed": "SSL re-using session ID" in v,
                     "curl_auth_reply": (re.findall(r"< (234 [^\r\n]*)", v) or ["?"])[0],
                     "retr_reply": r["code"], "retr_bytes": r["bytes"]}
            if t == "ftpproxy":
                legs = relay_lines(self.daemons["ftpproxy"].log_path, log0)
                check["proxy_legs"] = [f"client leg {m.group(6)}, server leg {m.group(7)}" for m in legs]
            ok = (peers == [EXPECTED_PEER[t]] and check["idle_session_ok"] and len(tls) == 2
                  and check["curl_data_resumed"] and r["code"] == 226 and r["bytes"] == SMALL_SIZE)
            if t == "ftpproxy":
                ok = ok and len(legs) == 1 and all(
                    x.startswith("TLS") and x.endswith("resumed") for x in (legs[0].group(6), legs[0].group(7)))
            check["ok"] = ok
            out[t] = check
            if not ok:
                raise RuntimeError(f"path check failed for {t}: {json.dumps(check)[:2000]}")
        log("path check ok: vsftpd sees " + ", ".join(f"{t} -> {out[t]['vsftpd_peer'][0]}" for t in TARGETS)
            + "; TLS on control and data everywhere")
        return out

    # -- figures
    def xfer(self, run, target, op):
        pid = self.target_pid(target)
        vs = self.daemons["vsftpd"].pid
        c0 = cpu_split(pid) if pid else None
        v0 = cpu_ticks(vs)
        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        log0 = os.path.getsize(self.daemons["ftpproxy"].log_path)
        remote = "pub/big.bin" if op == "retr" else f"pub/up-{target}.bin"
        up = os.path.join(self.pub, f"up-{target}.bin")
        try:
            r = self.curl(target, op, remote)
            if r["code"] != 226 or r["bytes"] != self.big_size:
                raise RuntimeError(f"reply {r['code']}, {r['bytes']} bytes of {self.big_size}")
            if op == "stor" and os.path.getsize(up) != self.big_size:
                raise RuntimeError(f"vsftpd stored {os.path.getsize(up)} bytes of {self.big_size}")
        except RuntimeError as e:
            # a proxy that fails is a result (recorded, n/a in the table);
            # direct FTPS must work or nothing here means anything
            if target == "direct":
                raise
            self.settle()
            s = {"figure": "xfer", "run": run, "target": target, "op": op, "mib_s": None,
                 "error": str(e)[-300:]}
            self.samples.append(s)
            self.notes.append(f"{target} {op.upper()} round {run} failed: {s['error']}")
            log(f"  {target} {op} FAILED: {s['error']}")
            return s
        finally:
            if op == "stor" and os.path.exists(up):
                os.unlink(up)
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.settle()
        c1 = cpu_split(pid) if pid else None
        v1 = cpu_ticks(vs)
        gib = r["bytes"] / GIB
        seconds = r["total_s"] - r["pretransfer_s"]
        s = {"figure": "xfer", "run": run, "target": target, "op": op, "bytes": r["bytes"],
             "seconds": seconds, "mib_s": r["bytes"] / MIB / seconds, "curl_total_s": r["total_s"],
             "client_cpu_s_per_gib": ((k1.ru_utime - k0.ru_utime) + (k1.ru_stime - k0.ru_stime)) / gib,
             "vsftpd_cpu_s_per_gib": (v1 - v0) / CLK_TCK / gib}
        if pid:
            s["proxy_user_s_per_gib"] = (c1[0] - c0[0]) / CLK_TCK / gib
            s["proxy_sys_s_per_gib"] = (c1[1] - c0[1]) / CLK_TCK / gib
            s["proxy_cpu_s_per_gib"] = s["proxy_user_s_per_gib"] + s["proxy_sys_s_per_gib"]
        if target == "ftpproxy":
            legs = relay_lines(self.daemons["ftpproxy"].log_path, log0)
            got = int(legs[-1].group(3 if op == "retr" else 4)) if legs else None
            if got != r["bytes"]:
                raise RuntimeError(f"ftpproxy's log does not show {r['bytes']} bytes relayed: "
                                   f"{legs[-1].group(0) if legs else 'no data line'}")
            s["proxy_relay"] = legs[-1].group(5)
            s["proxy_legs"] = f"client leg {legs[-1].group(6)}, server leg {legs[-1].group(7)}"
        self.samples.append(s)
        return s

    def sessions(self, run, target):
        pid = self.target_pid(target)
        vs = self.daemons["vsftpd"].pid
        n, conc = self.a.session_count, self.a.session_clients
        procs = [self.spawn_client("sessions", target, "--count", n // conc + (i < n % conc),
                                   "--timeout", self.a.session_timeout) for i in range(conc)]
        for p in procs:
            json.loads(p.stdout.readline())       # imported, context made
        c0 = cpu_ticks(pid) if pid else None
        v0 = cpu_ticks(vs)
        sys0 = bench.system_cpu()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        res = []
        for p in procs:
            res.append(json.loads(p.stdout.readline()))
            p.wait(30)
        sys1 = bench.system_cpu()
        self.settle()
        c1 = cpu_ticks(pid) if pid else None
        v1 = cpu_ticks(vs)
        done = sum(r["done"] for r in res)
        wall = max(r["t1"] for r in res) - min(r["t0"] for r in res)
        s = {"figure": "sessions", "run": run, "target": target, "clients": conc,
             "sessions": done, "errors": sum(r["errors"] for r in res),
             "last_error": next((r["last_error"] for r in res if r["last_error"]), ""),
             "rate": done / wall, "seconds": wall,
             "p50_ms": statistics.median(r["p50_ms"] for r in res if r["p50_ms"] is not None),
             "p99_ms": max(r["p99_ms"] for r in res if r["p99_ms"] is not None),
             "full_handshakes": sum(r["full_handshakes"] for r in res),
             "data_resumed": sum(r["data_resumed"] for r in res),
             "client_cpu_ms_per_session": 1000 * sum(r["cpu_s"] for r in res) / max(done, 1),
             "vsftpd_cpu_ms_per_session": 1000 * (v1 - v0) / CLK_TCK / max(done, 1),
             "machine_busy_fraction": bench.busy_fraction(sys0, sys1)}
        if pid:
            s["proxy_cpu_ms_per_session"] = 1000 * (c1 - c0) / CLK_TCK / max(done, 1)
        if s["full_handshakes"] != done or s["data_resumed"] != done:
            raise RuntimeError(f"sessions {target}: {s['full_handshakes']} full handshakes and "
                               f"{s['data_resumed']} resumed data connections in {done} sessions")
        self.samples.append(s)
        return s

    def idle(self, run, target):
        """Fresh target, one warm-up session, then idle sessions opened in
        steps; the target's memory (every process of it) at each step."""
        self.restart(target)
        p = self.spawn_client("idle", target, "--timeout", 60)

        def cmd(line):
            p.stdin.write(line + "\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline())

        # one session opened and closed: lazily made state (TLS contexts,
        # the session cache) is there before the baseline
        w = self.spawn_client("idle", target, "--timeout", 60)
        w.stdin.write("open 1\nquit\n")
        w.stdin.flush()
        w.stdout.readline()
        w.stdout.readline()
        w.wait(30)
        self.settle()
        time.sleep(0.5)
        pid = self.target_pid(target)
        steps = [{"open": 0, "smaps": smaps_tree(pid), "by_mapping": rss_by_mapping(pid),
                  "vmrss_kib": status_vmrss(pid)}]
        opened, failed, last_error = 0, 0, ""
        for count in self.a.idle_steps:
            r = cmd(f"open {count - opened}")
            opened, failed = r["open"], failed + r["failed"]
            last_error = r["last_error"] or last_error
            time.sleep(1.0)
            steps.append({"open": opened, "smaps": smaps_tree(pid), "by_mapping": rss_by_mapping(pid),
                          "vmrss_kib": status_vmrss(pid), "open_seconds": r["seconds"],
                          "vsftpd": smaps_tree(self.daemons["vsftpd"].pid)})
        noop = cmd("noop")
        cmd("quit")
        p.wait(60)
        self.settle(timeout=120)
        base, top = steps[0]["smaps"], steps[-1]["smaps"]
        per = lambda k: (top.get(k, 0) - base.get(k, 0)) / max(opened, 1)
        s = {"figure": "idle", "run": run, "target": target, "count": self.a.idle_steps[-1],
             "opened": opened, "open_failed": failed, "open_last_error": last_error,
             "noop_ok": noop["ok"], "pss_kib_per_session": per("Pss"), "rss_kib_per_session": per("Rss"),
             "anon_kib_per_session": per("Anonymous"), "processes": top["processes"],
             "pss_total_kib": top.get("Pss", 0), "steps": steps}
        self.samples.append(s)
        log(f"  idle {target}: {opened} open, PSS {s['pss_kib_per_session']:.1f} KiB/session, "
            f"RSS {s['rss_kib_per_session']:.1f} KiB/session, NOOP ok {noop['ok']}/{opened}")
        return s

    # -- the whole run
    def run(self):
        a = self.a
        t_start = time.time()
        self.machine = machine_info(a)
        log(f"machine: {self.machine['cpu_model']}, {self.machine['nproc']} CPUs, "
            f"load {self.machine['loadavg_start']}")
        self.prepare()
        self.machine["proxy_sha256"] = self.proxy_sha256
        self.machine["proxy_version"] = bench.version([self.proxy_bin, "--version"])
        self.start_vsftpd()
        self.start_ftpproxy()
        self.start_proftpd()
        self.paths = self.path_check()
        for run in range(1, a.runs + 1):
            log(f"round {run}/{a.runs}")
            for op in ("retr", "stor"):
                for t in TARGETS:
                    self.xfer(run, t, op)
                log(f"  {op}: " + ", ".join(f"{x['target']} {fmt(x['mib_s'])} MiB/s"
                                            + (f" ({x['proxy_cpu_s_per_gib']:.2f} s/GiB)"
                                               if "proxy_cpu_s_per_gib" in x else "")
                                            for x in self.samples[-3:]))
            for t in TARGETS:
                self.sessions(run, t)
            log("  sessions: " + ", ".join(f"{x['target']} {x['rate']:.1f}/s err {x['errors']}"
                                           for x in self.samples[-3:]))
        log("idle TLS sessions")
        for run in range(1, a.idle_runs + 1):
            for t in PROXIES:
                self.idle(run, t)
        self.machine["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        self.machine["duration_s"] = round(time.time() - t_start, 1)
        self.proxy_log = bench.log_summary(self.daemons["ftpproxy"].log_path)

    # -- results
    def write(self):
        summary = summarize(self.samples)
        stamp = datetime.datetime.now().strftime("%Y-%m-%d")
        variant = f"-{self.a.variant}" if self.a.variant else ""
        base = os.path.join(self.a.out, f"ftps-{stamp}{variant}{'-quick' if self.a.quick else ''}")
        doc = {"machine": self.machine, "settings": settings_of(self.a), "command": self.a.command,
               "path_check": self.paths, "summary": summary, "verdicts": verdicts(summary),
               "samples": self.samples, "notes": self.notes, "auto_notes": auto_notes(self.samples),
               "ftpproxy_log": self.proxy_log}
        with open(base + ".json", "w") as f:
            json.dump(doc, f, indent=1)
        with open(base + ".md", "w") as f:
            f.write(render_md(doc))
        log(f"wrote {base}.md and {base}.json")
        return base


def machine_info(a):
    env = dict(os.environ, LD_PRELOAD=":".join(a.ssl_preload))
    proftpd = os.path.join(a.proftpd_root, "usr/sbin/proftpd")
    return {
        **bench.machine_basics(),
        "openssl": bench.version(["openssl", "version"]),
        "python_ssl": ssl.OPENSSL_VERSION,
        "curl": bench.version(["curl", "--version"]),
        "python": sys.version.split()[0],
        # .deps/vsftpd/usr/sbin/vsftpd -> .deps/vsftpd/usr/share/doc/vsftpd
        "vsftpd": deb_version(os.path.join(os.path.dirname(os.path.dirname(a.vsftpd)),
                                           "share/doc/vsftpd/changelog.Debian.gz")),
        "proftpd": bench.version([proftpd, "-v"], env=env),
        "proftpd_deb": deb_version(os.path.join(a.proftpd_root, "usr/share/doc/proftpd-core/changelog.Debian.gz")),
        "proftpd_mod_proxy": deb_version(os.path.join(a.proftpd_root,
                                                      "usr/share/doc/proftpd-mod-proxy/changelog.Debian.gz")),
        "proftpd_mod_tls": deb_version(os.path.join(a.proftpd_tls_root,
                                                    "usr/share/doc/proftpd-mod-crypto/changelog.Debian.gz")),
        "proxy_binary": a.proxy,
        "proxy_rev": a.rev,
    }


def settings_of(a):
    return {"quick": a.quick, "runs": a.runs, "file_mib": a.file_mib,
            "proftpd_backend_tls": a.proftpd_backend_tls,
            "session_count": a.session_count, "session_clients": a.session_clients,
            "session_timeout": a.session_timeout, "idle_steps": a.idle_steps, "idle_runs": a.idle_runs}


# ------------------------------------------------------------- summarizing

def summarize(samples):
    summ = {"xfer": {}, "cpu": {}, "sessions": {}, "idle": {}}
    for op in ("retr", "stor"):
        sel = lambda s, op=op: s["figure"] == "xfer" and s["op"] == op
        summ["xfer"][op] = figure(per_run(samples, sel, lambda s: s["mib_s"]), higher_better=True)
        cpu = per_run(samples, sel, lambda s: s.get("proxy_cpu_s_per_gib"))
        summ["cpu"][op] = {t: mmm([r.get(t) for r in cpu.values()]) for t in PROXIES}
        for part in ("user", "sys"):
            v = per_run(samples, sel, lambda s, part=part: s.get(f"proxy_{part}_s_per_gib"))
            summ["cpu"][op][part] = {t: mmm([r.get(t) for r in v.values()]) for t in PROXIES}
        for who, key in (("vsftpd", "vsftpd_cpu_s_per_gib"), ("client", "client_cpu_s_per_gib")):
            v = per_run(samples, sel, lambda s, key=key: s.get(key))
            summ["cpu"][op][who] = {t: mmm([r.get(t) for r in v.values()]) for t in TARGETS}
    sel = lambda s: s["figure"] == "sessions"
    summ["sessions"] = {
        "rate": figure(per_run(samples, sel, lambda s: s["rate"]), higher_better=True),
        "p50_ms": figure(per_run(samples, sel, lambda s: s["p50_ms"]), higher_better=False),
        "errors": {t: sum(s["errors"] for s in samples if sel(s) and s["target"] == t) for t in TARGETS},
    }
    for who, key in (("proxy", "proxy_cpu_ms_per_session"), ("vsftpd", "vsftpd_cpu_ms_per_session"),
                     ("client", "client_cpu_ms_per_session")):
        v = per_run(samples, sel, lambda s, key=key: s.get(key))
        summ["sessions"][f"{who}_cpu_ms"] = {t: mmm([r.get(t) for r in v.values()]) for t in TARGETS}
    for t in PROXIES:
        ss = [s for s in samples if s["figure"] == "idle" and s["target"] == t]
        if ss:
            summ["idle"][t] = {
                "pss_kib_per_session": mmm([s["pss_kib_per_session"] for s in ss]),
                "rss_kib_per_session": mmm([s["rss_kib_per_session"] for s in ss]),
                "anon_kib_per_session": mmm([s["anon_kib_per_session"] for s in ss]),
                "pss_total_kib": mmm([s["pss_total_kib"] for s in ss]),
                "count": min(s["count"] for s in ss), "opened": min(s["opened"] for s in ss),
                "noop_ok": min(s["noop_ok"] for s in ss), "processes": max(s["processes"] for s in ss)}
    return summ


def med(m):
    return m["median"] if m else None


def verdicts(summ):
    """Issue 12's targets for ftpproxy, each with the numbers it is judged on."""
    x, c, se, idle = summ["xfer"], summ["cpu"], summ["sessions"], summ["idle"]
    out = []

    def add(name, ok, detail):
        out.append({"target": name, "met": ok, "detail": detail})

    for op in ("retr", "stor"):
        r = med(x[op]["ftpproxy"]["ratio"])
        add(f"{op.upper()} ≥ {TARGET_THROUGHPUT_RATIO} × direct FTPS", r is not None and r >= TARGET_THROUGHPUT_RATIO,
            f"median ratio {fmt(r)}")
    ahead = []
    for op in ("retr", "stor"):
        ahead.append((f"{op.upper()} MiB/s", med(x[op]["ftpproxy"]["absolute"]), med(x[op]["proftpd"]["absolute"]), True))
        ahead.append((f"CPU s/GiB {op.upper()}", med(c[op]["ftpproxy"]), med(c[op]["proftpd"]), False))
    ahead.append(("sessions/s", med(se["rate"]["ftpproxy"]["absolute"]), med(se["rate"]["proftpd"]["absolute"]), True))
    if "ftpproxy" in idle and "proftpd" in idle:
        ahead.append(("idle PSS KiB/session", med(idle["ftpproxy"]["pss_kib_per_session"]),
                      med(idle["proftpd"]["pss_kib_per_session"]), False))
    for name, mine, theirs, higher in ahead:
        ok = None if mine is None or theirs is None else (mine > theirs if higher else mine < theirs)
        add(f"ahead of mod_proxy: {name}", ok, f"ftpproxy {fmt(mine)}, mod_proxy {fmt(theirs)}")
    if "ftpproxy" in idle:
        p = med(idle["ftpproxy"]["pss_kib_per_session"])
        add(f"idle TLS session < {TARGET_IDLE_KIB} KiB (PSS)", p is not None and p < TARGET_IDLE_KIB,
            f"{fmt(p, 1)} KiB PSS, {fmt(med(idle['ftpproxy']['rss_kib_per_session']), 1)} KiB RSS")
    return out


def auto_notes(samples):
    notes = []
    xf = [s for s in samples if s["figure"] == "xfer" and s["mib_s"] is not None]
    if xf:
        by = lambda t, op, k: [s[k] for s in xf if s["target"] == t and s["op"] == op]
        notes.append("Client (curl) CPU per GiB, median: " + "; ".join(
            f"{op.upper()} " + ", ".join(f"{t} {statistics.median(by(t, op, 'client_cpu_s_per_gib')):.2f} s"
                                         for t in TARGETS if by(t, op, 'client_cpu_s_per_gib'))
            for op in ("retr", "stor")) + ". vsftpd CPU per GiB, median: " + "; ".join(
            f"{op.upper()} " + ", ".join(f"{t} {statistics.median(by(t, op, 'vsftpd_cpu_s_per_gib')):.2f} s"
                                         for t in TARGETS if by(t, op, 'vsftpd_cpu_s_per_gib'))
            for op in ("retr", "stor")) + ".")
        legs = sorted({s["proxy_legs"] for s in xf if s["target"] == "ftpproxy"})
        relay = sorted({s["proxy_relay"] for s in xf if s["target"] == "ftpproxy"})
        if legs:
            notes.append(f"Data path proof: every one of ftpproxy's {sum(s['target'] == 'ftpproxy' for s in xf)} "
                         f"transfers is in its log with exactly the file's size, relay {', '.join(relay)}, "
                         f"{'; '.join(legs)}.")
    ses = [s for s in samples if s["figure"] == "sessions"]
    if ses:
        notes.append(
            f"Sessions: every counted session made a full TLS handshake on its control connection "
            f"({sum(s['full_handshakes'] for s in ses)} of {sum(s['sessions'] for s in ses)} checked) and "
            f"resumed it on its data connection. Client CPU per session, median "
            f"{statistics.median(s['client_cpu_ms_per_session'] for s in ses):.1f} ms "
            f"(Python ftplib + OpenSSL); the machine was "
            f"{100 * min(s['machine_busy_fraction'] for s in ses):.0f}–"
            f"{100 * max(s['machine_busy_fraction'] for s in ses):.0f}% busy during the session loops "
            f"(both cores, everything on the machine).")
        errs = [s for s in ses if s["errors"]]
        if errs:
            notes.append("Session errors (not in the rate): " + "; ".join(
                f"{s['target']} round {s['run']}: {s['errors']} ({s['last_error'][:120]})" for s in errs))
    return notes


# ----------------------------------------------------------------- report

def cell_ratio(fig_t, unit):
    if not fig_t or not fig_t["ratio"]:
        return "n/a"
    r, ab = fig_t["ratio"], fig_t["absolute"]
    return f"**{r['median']:.2f}** ({r['min']:.2f}–{r['max']:.2f}) · {fmt(ab['median'])} {unit}"


def yes_no(v):
    return "n/a" if v is None else ("yes" if v else "**no**")


def render_md(doc):
    m, s, st, v = doc["machine"], doc["summary"], doc["settings"], doc["verdicts"]
    vd = {x["target"]: x for x in v}
    size = f"{st['file_mib'] // 1024} GiB" if st["file_mib"] >= 1024 and st["file_mib"] % 1024 == 0 \
        else f"{st['file_mib']} MiB"
    L = [f"# FTPS benchmark (issue 12): {m['date']} ({'quick' if st['quick'] else 'full'} run)\n",
         f"ftpproxy binary `{m['proxy_binary']}` (sha256 {m['proxy_sha256'][:16]}…, {m['proxy_version']}"
         f"{', ' + m['proxy_rev'] if m.get('proxy_rev') else ''}) with TLS on both legs, against vsftpd "
         f"directly over FTPS and ProFTPD mod_proxy with TLS on both legs; all on loopback in one "
         f"network namespace. The method is in docs/performance.md (section FTPS).\n",
         f"Command: `{doc['command']}`\n",
         "## Machine\n",
         f"* CPU: {m['cpu_model']}, `nproc` {m['nproc']} (affinity {m['affinity_cpus']}), {m['mem_gib']} GiB "
         "memory; shared with other engineers' builds",
         f"* Kernel {m['kernel']}, {m['os']}",
         f"* Load average at start {' '.join(m['loadavg_start'])}, at end {' '.join(m.get('loadavg_end', ['?']))}; "
         f"run took {m.get('duration_s', '?')} s",
         f"* {m['openssl']} (Python's ssl: {m['python_ssl']}); {m['curl'].split(' (')[0]}; Python {m['python']}",
         f"* vsftpd {m['vsftpd']}; {m['proftpd']} ({m['proftpd_deb']}), mod_proxy {m['proftpd_mod_proxy']}, "
         f"mod_tls from proftpd-mod-crypto {m['proftpd_mod_tls']}",
         f"* Settings: {st['runs']} interleaved rounds, file {size}, {st['session_count']} sessions per "
         f"round and target from {st['session_clients']} client processes, idle sessions opened in steps "
         f"{st['idle_steps']} ({st['idle_runs']} time(s) per proxy)\n",
         "## Table\n",
         "Ratios are to direct FTPS measured in the same round, then median (min–max) over the rounds; "
         "the absolute median follows the dot. Throughput: curl's time from the 150 reply to the 226 "
         "reply. \"met?\" is ftpproxy against issue 12's targets.\n",
         "| figure | direct FTPS | ftpproxy | ProFTPD mod_proxy | target (ftpproxy) | met? |",
         "| --- | --- | --- | --- | --- | --- |"]
    for op in ("retr", "stor"):
        f = s["xfer"][op]
        L.append(f"| {op.upper()} {size} | {cell_mmm(f['direct'], ' MiB/s', 0)} | "
                 f"{cell_ratio(f['ftpproxy'], 'MiB/s')} | {cell_ratio(f['proftpd'], 'MiB/s')} | "
                 f"≥ {TARGET_THROUGHPUT_RATIO}; ahead of mod_proxy | "
                 f"{yes_no(vd[f'{op.upper()} ≥ {TARGET_THROUGHPUT_RATIO} × direct FTPS']['met'])}; "
                 f"{yes_no(vd[f'ahead of mod_proxy: {op.upper()} MiB/s']['met'])} |")
    for op in ("retr", "stor"):
        c = s["cpu"][op]
        split = {t: f" · user {fmt(med(c['user'][t]))} + sys {fmt(med(c['sys'][t]))}" if c["user"][t] else ""
                 for t in PROXIES}
        L.append(f"| proxy CPU s/GiB, {op.upper()} (vsftpd's: {fmt(med(c['vsftpd']['direct']))} direct) | no proxy | "
                 f"{cell_mmm(c['ftpproxy'])}{split['ftpproxy']} | {cell_mmm(c['proftpd'])}{split['proftpd']} | "
                 f"ahead of mod_proxy | "
                 f"{yes_no(vd[f'ahead of mod_proxy: CPU s/GiB {op.upper()}']['met'])} |")
    r = s["sessions"]
    L.append(f"| sessions/s, full handshakes, {st['session_clients']} clients | "
             f"{cell_mmm(r['rate']['direct'], '/s', 1)} | {cell_ratio(r['rate']['ftpproxy'], '/s')} | "
             f"{cell_ratio(r['rate']['proftpd'], '/s')} | ahead of mod_proxy | "
             f"{yes_no(vd['ahead of mod_proxy: sessions/s']['met'])} |")
    L.append(f"| session latency p50 (ratio: lower is better) | {cell_mmm(r['p50_ms']['direct'], ' ms', 1)} | "
             f"{cell_ratio(r['p50_ms']['ftpproxy'], 'ms')} | {cell_ratio(r['p50_ms']['proftpd'], 'ms')} | | |")
    L.append(f"| CPU ms per session: proxy · vsftpd · client | — · "
             f"{fmt(med(r['vsftpd_cpu_ms']['direct']))} · {fmt(med(r['client_cpu_ms']['direct']))} | "
             f"{fmt(med(r['proxy_cpu_ms']['ftpproxy']))} · {fmt(med(r['vsftpd_cpu_ms']['ftpproxy']))} · "
             f"{fmt(med(r['client_cpu_ms']['ftpproxy']))} | "
             f"{fmt(med(r['proxy_cpu_ms']['proftpd']))} · {fmt(med(r['vsftpd_cpu_ms']['proftpd']))} · "
             f"{fmt(med(r['client_cpu_ms']['proftpd']))} | | |")
    idle = s["idle"]

    def idle_cell(t):
        if t not in idle:
            return "not run"
        i = idle[t]
        return (f"**{fmt(med(i['pss_kib_per_session']), 1)} KiB** PSS · {fmt(med(i['rss_kib_per_session']), 1)} KiB RSS "
                f"per session; PSS {med(i['pss_total_kib']) / 1024:.1f} MiB in {i['processes']} process(es); "
                f"{i['opened']}/{i['count']} opened, NOOP answered by {i['noop_ok']}")
    pss_ok = next((x["met"] for x in v if x["target"].startswith("idle TLS session")), None)
    L.append(f"| memory per idle TLS session, {st['idle_steps'][-1]} sessions | no proxy | {idle_cell('ftpproxy')} | "
             f"{idle_cell('proftpd')} | < {TARGET_IDLE_KIB} KiB; ahead of mod_proxy | {yes_no(pss_ok)}; "
             f"{yes_no(vd.get('ahead of mod_proxy: idle PSS KiB/session', {}).get('met'))} |")
    L.append("")
    L.append("## Idle memory by step\n")
    L.append("Each step's growth over the baseline (a fresh proxy after one warm-up session), per open "
             "session, from smaps_rollup summed over the proxy's processes; for ftpproxy also where the RSS "
             "lives (its one process's /proc/PID/smaps by mapping).\n")
    L.append("| proxy | sessions | PSS KiB/session | RSS KiB/session | Anonymous KiB/session | "
             "ftpproxy RSS growth: heap · anon mmap · other, KiB/session |")
    L.append("| --- | --- | --- | --- | --- | --- |")
    for smp in doc["samples"]:
        if smp["figure"] != "idle":
            continue
        b = smp["steps"][0]
        for stp in smp["steps"][1:]:
            n = max(stp["open"], 1)
            d = lambda k: (stp["smaps"].get(k, 0) - b["smaps"].get(k, 0)) / n
            maps = "—"
            if smp["target"] == "ftpproxy":
                bm, sm = b["by_mapping"], stp["by_mapping"]
                maps = (f"{(sm['heap'] - bm['heap']) / n:.1f} · {(sm['anon'] - bm['anon']) / n:.1f} · "
                        f"{sum(sm[k] - bm[k] for k in ('stack', 'file', 'other')) / n:.1f}")
            L.append(f"| {smp['target']} (round {smp['run']}) | {stp['open']} | {d('Pss'):.1f} | {d('Rss'):.1f} | "
                     f"{d('Anonymous'):.1f} | {maps} |")
    L.append("")
    L.append("## Targets (issue 12, ftpproxy)\n")
    for x in v:
        L.append(f"* {x['target']}: {yes_no(x['met'])} ({x['detail']})")
    L.append("")
    L.append("## Checks and notes (computed)\n")
    pc = doc["path_check"]
    L.append("* Path check: vsftpd saw its control peer as " + ", ".join(
        f"{t} → {pc[t]['vsftpd_peer'][0]}" for t in TARGETS) + " (expected " +
        ", ".join(pc[t]["expected"] for t in TARGETS) + "); vsftpd accepts data only from that "
        "address (pasv_promiscuous=NO), so every transfer through a proxy went through it.")
    L.append("* TLS: curl -v through each target showed " + "; ".join(
        f"{t}: {' + '.join(pc[t]['curl_tls'])}, data resumed {pc[t]['curl_data_resumed']}, "
        f"`{pc[t]['curl_auth_reply']}`" for t in TARGETS) + ". ftpproxy's log: " +
        "; ".join(pc["ftpproxy"].get("proxy_legs", [])) + ". The server legs of both proxies are TLS "
        "because vsftpd refuses anything else (force_anon_logins_ssl, force_anon_data_ssl).")
    for n in doc["auto_notes"] + doc["notes"]:
        L.append(f"* {n}")
    L.append("* ftpproxy's log over the whole run, lines by kind: " + "; ".join(
        f"{n} × `{k}`" for k, n in list(doc["ftpproxy_log"].items())[:10]))
    L.append("")
    L.append("## Raw samples\n")
    L.append("Every sample is in the .json file next to this one.\n")
    return "\n".join(L) + "\n"


# ------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="128 MiB, 2 rounds, fewer sessions")
    ap.add_argument("--runs", type=int, help="interleaved rounds (default 5; quick 2)")
    ap.add_argument("--file-mib", type=int)
    ap.add_argument("--session-count", type=int, help="sessions per round and target")
    ap.add_argument("--session-clients", type=int, help="client processes running them")
    ap.add_argument("--idle-steps", help="comma-separated session counts, e.g. 50,100,200")
    ap.add_argument("--workdir", default="/dev/shm/ftpproxy-ftps-bench")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--proxy", help="the ftp-proxy binary (copied into the work dir at start)")
    ap.add_argument("--rev", default="", help="what the binary was built from (recorded)")
    ap.add_argument("--variant", default="", help="suffix of the result files' names")
    ap.add_argument("--vsftpd", default=os.path.join(REPO, ".deps/vsftpd/usr/sbin/vsftpd"))
    ap.add_argument("--proftpd-root", default=os.path.join(REPO, ".deps/proftpd"))
    ap.add_argument("--proftpd-tls-root", default=os.path.join(REPO, ".deps/proftpd-tls"))
    ap.add_argument("--ssl-preload", nargs="+")
    ap.add_argument("--proftpd-backend-tls", choices=sorted(PROFTPD_BACKEND_PROTOCOL), default="1.2",
                    help="highest TLS version mod_proxy may use toward vsftpd (see PROFTPD_BACKEND_PROTOCOL)")
    ap.add_argument("--command", default=" ".join(sys.argv), help="the command line to record")
    ap.add_argument("--render", metavar="JSON", help="only re-render JSON's .md next to it")
    # the client processes
    ap.add_argument("--client", choices=("sessions", "idle"), help=argparse.SUPPRESS)
    ap.add_argument("--host", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cafile", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, default=20, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        return {"sessions": client_sessions, "idle": client_idle}[a.client](a)
    if a.render:
        with open(a.render) as f:
            doc = json.load(f)
        with open(a.render[:-5] + ".md", "w") as f:
            f.write(render_md(doc))
        return
    # What a flag left unset is, for a quick and for a full run.
    defaults = {"runs": (2, 5), "file_mib": (128, 1024), "session_count": (60, 400),
                "session_clients": (2, 4), "idle_steps": ("25,50,100", "50,100,200")}
    for name, (quick, full) in defaults.items():
        setattr(a, name, getattr(a, name) or (quick if a.quick else full))
    a.idle_runs = 1 if a.quick else 2
    a.idle_steps = sorted(int(x) for x in str(a.idle_steps).split(","))
    a.session_timeout = 20
    if not a.proxy or not a.ssl_preload:
        ap.error("--proxy and --ssl-preload are needed (bench/run-ftps.sh passes them)")
    os.makedirs(a.out, exist_ok=True)
    set_nofile()
    b = FtpsBench(a)
    try:
        b.run()
        base = b.write()
    finally:
        b.stop_all()
        for name in ("big.bin",) + tuple(f"up-{t}.bin" for t in TARGETS):
            try:
                os.unlink(os.path.join(b.pub, name))
            except OSError:
                pass
    print(base)


if __name__ == "__main__":
    main()
