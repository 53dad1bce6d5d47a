#!/usr/bin/python3
"""The benchmark of issue 13: the kernel data path against plain kernel
forwarding, the relay and ProFTPD mod_proxy, on a routed topology.

Started by bench/run.sh --kernel-path. Three network namespaces, made here
and deleted at the end (also after a failure):

    client 198.18.40.2 -- 198.18.40.1 [firewall] 198.18.41.1 -- 198.18.41.2 server

The firewall forwards (ip_forward=1, conntrack accounting on) through an
operator's forward chain as a real one looks: established packets first,
then the worker's conntrack mark, then the client<->server traffic of the
"forwarding" target. vsftpd (sendfile) serves on the server; the targets:

    forwarding   the client talks to vsftpd itself, routed by the firewall:
                 the limit (no proxy at all)
    relay        ftp-proxy -R on 198.18.40.1:2122, --data-path relay (splice)
    kernel       ftp-proxy -R on 198.18.40.1:2123, --data-path kernel
    proftpd      ProFTPD mod_proxy, reverse, on 198.18.40.1:2124

Every figure runs interleaved (each target once per run, N runs), and each
ratio is to forwarding in the same run. CPU per GiB: the proxy process's,
and the whole machine's (/proc/stat: client, firewall, server and kernel
softirqs all share the 2 cores). Writes bench/results/<date>-<rev>-kernel-path
[-quick].{md,json}.
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as base  # noqa: E402  (the shared helpers of bench/run.sh)

NS = {"client": "ftpxk-client", "fw": "ftpxk-fw", "server": "ftpxk-server"}
CLIENT, FW_LAN, FW_WAN, SERVER = "198.18.40.2", "198.18.40.1", "198.18.41.1", "198.18.41.2"
MARK = "0x00465450"
TARGETS = ["forwarding", "relay", "kernel", "proftpd"]
ENDPOINT = {"forwarding": (SERVER, 2121), "relay": (FW_LAN, 2122), "kernel": (FW_LAN, 2123),
            "proftpd": (FW_LAN, 2124)}
LABEL = {"forwarding": "plain forwarding (no proxy)", "relay": "ftpproxy relay",
         "kernel": "ftpproxy kernel path", "proftpd": "ProFTPD mod_proxy"}
OPERATOR = f"""
table inet operator {{
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ct mark {MARK} accept
        ip saddr {CLIENT} ip daddr {SERVER} accept
        ip saddr {SERVER} ip daddr {CLIENT} accept
    }}
}}
"""
GIB = base.GIB
MIB = base.MIB
log = base.log


def sh(*args, check=True):
    return subprocess.run([str(a) for a in args], check=check, capture_output=True, text=True,
                          timeout=60)


def in_ns(role, *argv):
    return ["ip", "netns", "exec", NS[role], *map(str, argv)]


def delete_namespaces():
    for ns in NS.values():
        for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", ns, check=False)


def make_topology():
    delete_namespaces()
    for ns in NS.values():
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    for a, b, a_if, b_if in (("client", "fw", "eth0", "lan"), ("server", "fw", "eth0", "wan")):
        sh("ip", "link", "add", "kbtmpa", "netns", NS[a], "type", "veth", "peer", "name",
           "kbtmpb", "netns", NS[b])
        sh("ip", "-n", NS[a], "link", "set", "kbtmpa", "name", a_if, "up")
        sh("ip", "-n", NS[b], "link", "set", "kbtmpb", "name", b_if, "up")
    for role, ifname, addr in (("client", "eth0", CLIENT), ("fw", "lan", FW_LAN),
                               ("fw", "wan", FW_WAN), ("server", "eth0", SERVER)):
        sh("ip", "-n", NS[role], "addr", "add", f"{addr}/24", "dev", ifname)
    sh("ip", "-n", NS["client"], "route", "add", "default", "via", FW_LAN)
    sh("ip", "-n", NS["server"], "route", "add", "default", "via", FW_WAN)
    sh(*in_ns("fw", "sysctl", "-qw", "net.ipv4.ip_forward=1"))
    subprocess.run(in_ns("fw", "nft", "-f", "-"), input=OPERATOR, text=True, check=True,
                   capture_output=True, timeout=20)
    sh(*in_ns("fw", "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1"))


def wait_listening(target, proc):
    host, port = ENDPOINT[target]
    code = ("import socket,sys,time\nend=time.time()+20\nwhile time.time()<end:\n"
            f" try:\n  s=socket.create_connection(('{host}',{port}),timeout=1);s.recv(100);"
            "sys.exit(0)\n except OSError: time.sleep(0.1)\nsys.exit(1)")
    if subprocess.run(in_ns("client", sys.executable, "-c", code), timeout=30).returncode != 0:
        raise RuntimeError(f"{target}: nothing answers on {host}:{port} (exit {proc.poll()})")


class KernelBench:
    def __init__(self, a):
        self.a = a
        self.work = a.workdir
        self.logdir = os.path.join(self.work, "logs")
        self.root = os.path.join(self.work, "root")
        self.pub = os.path.join(self.root, "pub")
        self.daemons = {}
        self.samples = []
        self.notes = []

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
        self.big = os.path.join(self.pub, "big.bin")
        log(f"writing {self.a.file_mib} MiB of random data to {self.big} (tmpfs)")
        with open("/dev/urandom", "rb") as src, open(self.big, "wb") as dst:
            left = self.a.file_mib * MIB
            while left:
                chunk = src.read(min(left, 16 * MIB))
                dst.write(chunk)
                left -= len(chunk)
        with open(os.path.join(self.pub, "small.bin"), "wb") as f:
            f.write(os.urandom(4096))
        for n in ("big.bin", "small.bin"):
            os.chmod(os.path.join(self.pub, n), 0o644)

    def daemon(self, name, role, argv, env=None):
        d = base.Daemon(name, in_ns(role, *argv), self.logdir, env=env, cwd=self.work).start()
        self.daemons[name] = d
        return d

    def start(self):
        # bench.py's configuration writers, pointed at this topology
        base.ADDR.update({"vsftpd": SERVER, "proftpd": FW_LAN, "proftpd_src": FW_WAN})
        base.PORT.update({"vsftpd": 2121, "proftpd": 2124})
        conf = os.path.join(self.work, "vsftpd.conf")
        with open(conf, "w") as f:
            f.write(base.vsftpd_conf(self.work, self.root))
        os.chmod(conf, 0o600)
        d = self.daemon("vsftpd", "server", [self.a.vsftpd, conf])
        wait_listening("forwarding", d.proc)
        for target, extra in (("relay", []), ("kernel", ["--data-path", "kernel"])):
            _, port = ENDPOINT[target]
            d = self.daemon(target, "fw", [self.a.proxy, "-d", "-R", SERVER, "-P", 2121, "-b",
                                           FW_LAN, "-p", port, "-m", base.NOFILE, *extra])
            wait_listening(target, d.proc)
        conf = os.path.join(self.work, "proftpd.conf")
        with open(conf, "w") as f:
            f.write(base.proftpd_conf(self.work,
                                      os.path.join(self.a.proftpd_root, "usr/lib/proftpd")))
        env = dict(os.environ, LD_PRELOAD=":".join(self.a.ssl_preload))
        d = self.daemon("proftpd", "fw",
                        [os.path.join(self.a.proftpd_root, "usr/sbin/proftpd"), "-n", "-c",
                         conf], env=env)
        wait_listening("proftpd", d.proc)

    def stop_all(self):
        for d in self.daemons.values():
            d.stop()

    # -- the load generator, in the client's namespace
    def ftpload(self, mode, target, *args, timeout=900):
        host, port = ENDPOINT[target]
        r = subprocess.run(in_ns("client", self.a.ftpload, mode, "-h", host, "-p", port, *args),
                           capture_output=True, text=True, timeout=timeout,
                           preexec_fn=base.set_nofile)
        if r.returncode != 0:
            raise RuntimeError(f"ftpload {mode} {target}: {r.stderr.strip()}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def proxy_pid(self, target):
        return self.daemons[target].pid if target != "forwarding" else None

    def settle(self):
        """A pause between figures; every daemon must still be running."""
        time.sleep(0.3)
        for name, d in self.daemons.items():
            if d.proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({d.proc.returncode}):\n" +
                                   "\n".join(base.tail(d.log_path, 30)))

    # -- figures
    def xfer(self, run, target, op, mode):
        pid = self.proxy_pid(target)
        c0 = base.cpu_ticks(pid) if pid else None
        m0 = base.system_cpu()
        log0 = os.path.getsize(self.daemons[target].log_path) if target in ("relay", "kernel") \
            else 0
        remote = "pub/big.bin" if op == "retr" else f"pub/up-{target}.bin"
        r = self.ftpload("xfer", target, "-o", op, "-m", mode, "-f", remote, "-l", self.big)
        m1 = base.system_cpu()
        self.settle()
        c1 = base.cpu_ticks(pid) if pid else None
        if op == "stor":
            os.unlink(os.path.join(self.pub, f"up-{target}.bin"))
        gib = r["bytes"] / GIB
        s = {"figure": "xfer", "run": run, "target": target, "op": op, "mode": mode,
             "bytes": r["bytes"], "seconds": r["seconds"], "mib_s": r["bytes"] / MIB / r["seconds"],
             "mode_reply": r["mode_reply"], "final_reply": r["final_reply"],
             "machine_cpu_s_per_gib": ((m1[0] - m0[0]) - (m1[1] - m0[1])) / base.CLK_TCK / gib}
        if pid:
            s["proxy_cpu_s_per_gib"] = (c1 - c0) / base.CLK_TCK / gib
        if target in ("relay", "kernel"):
            s["proxy_log"] = self.proof(target, log0, op, r["bytes"])
        self.samples.append(s)
        return s

    def proof(self, target, since, op, size):
        """The worker's log line for the transfer: the relay moved exactly
        the file; the kernel path names itself and conntrack counted the file
        plus headers."""
        end = time.time() + 5
        while time.time() < end:
            with open(self.daemons[target].log_path, "rb") as f:
                f.seek(since)
                lines = f.read().decode("utf-8", "replace").splitlines()
            done = [ln for ln in lines if " data completed: " in ln]
            if done:
                line = done[-1]
                words = line.split(", ")
                to_client = int(words[1].split()[0])
                to_server = int(words[2].split()[0])
                moved = to_client if op == "retr" else to_server
                if target == "relay" and (" relay splice" not in line or moved != size):
                    raise RuntimeError(f"relay: not {size} bytes spliced: {line}")
                if target == "kernel" and ("data path kernel" not in line or
                                           not size <= moved <= size * 1.06):
                    raise RuntimeError(f"kernel: not the kernel path's {size} bytes: {line}")
                return line.split(" data completed: ", 1)[1]
            time.sleep(0.05)
        raise RuntimeError(f"{target}: no transfer line in its log")

    def sessions(self, run, target, conc):
        pid = self.proxy_pid(target)
        c0 = base.cpu_ticks(pid) if pid else None
        m0 = base.system_cpu()
        r = self.ftpload("sessions", target, "-c", conc, "-d", self.a.session_seconds, "-W",
                         self.a.session_warmup, "-f", "pub/small.bin", "-s", 4096, "-t",
                         self.a.session_timeout)
        m1 = base.system_cpu()
        self.settle()
        c1 = base.cpu_ticks(pid) if pid else None
        done = max(r["done_total"], 1)
        s = {"figure": "sessions", "run": run, "target": target, "conc": conc, "rate": r["rate"],
             "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "errors": r["errors"],
             "errors_by_state": r["errors_by_state"], "last_error": r["last_error"],
             "machine_busy_fraction": base.busy_fraction(m0, m1)}
        if pid:
            s["proxy_cpu_per_session_ms"] = 1000 * (c1 - c0) / base.CLK_TCK / done
        self.samples.append(s)
        return s

    def run(self):
        self.prepare_files()
        make_topology()
        self.start()
        for target in TARGETS:  # every target works in both modes before timing anything
            for mode in ("epsv", "port"):
                self.ftpload("xfer", target, "-o", "retr", "-m", mode, "-f", "pub/small.bin")
        for run in range(1, self.a.runs + 1):
            for op in ("retr", "stor"):
                for mode in ("epsv", "port"):
                    for target in TARGETS:
                        s = self.xfer(run, target, op, mode)
                        log(f"run {run} {op} {mode} {target}: {s['mib_s']:.0f} MiB/s, proxy "
                            f"{s.get('proxy_cpu_s_per_gib', 0):.3f} s/GiB, machine "
                            f"{s['machine_cpu_s_per_gib']:.2f} s/GiB")
            for conc in self.a.concurrency:
                for target in TARGETS:
                    s = self.sessions(run, target, conc)
                    log(f"run {run} sessions c={conc} {target}: {s['rate']:.0f}/s, "
                        f"{s['errors']} errors" +
                        (f" (last: {s['last_error']})" if s["errors"] else ""))

    # -- results
    def summary(self):
        out = {"xfer": {}, "sessions": {}}
        for op in ("retr", "stor"):
            for mode in ("epsv", "port"):
                key = f"{op}-{mode}"
                rows = {}
                for t in TARGETS:
                    mine = [s for s in self.samples if s["figure"] == "xfer" and
                            (s["op"], s["mode"], s["target"]) == (op, mode, t)]
                    ratios = []
                    for s in mine:
                        ref = [r for r in self.samples if r["figure"] == "xfer" and
                               (r["op"], r["mode"], r["run"], r["target"]) ==
                               (op, mode, s["run"], "forwarding")]
                        ratios.append(s["mib_s"] / ref[0]["mib_s"])
                    rows[t] = {"mib_s": base.mmm([s["mib_s"] for s in mine]),
                               "ratio": base.mmm(ratios),
                               "proxy_cpu_s_per_gib": base.mmm(
                                   [s.get("proxy_cpu_s_per_gib") for s in mine]),
                               "machine_cpu_s_per_gib": base.mmm(
                                   [s["machine_cpu_s_per_gib"] for s in mine])}
                out["xfer"][key] = rows
        for conc in self.a.concurrency:
            rows = {}
            for t in TARGETS:
                mine = [s for s in self.samples if s["figure"] == "sessions" and
                        (s["conc"], s["target"]) == (conc, t)]
                rows[t] = {"rate": base.mmm([s["rate"] for s in mine]),
                           "errors": sum(s["errors"] for s in mine),
                           "proxy_cpu_per_session_ms": base.mmm(
                               [s.get("proxy_cpu_per_session_ms") for s in mine])}
            out["sessions"][str(conc)] = rows
        return out

    def write(self):
        summ = self.summary()
        doc = {"benchmark": "kernel data path (issue 13)", "machine": {
            **base.machine_basics(), "vsftpd": self.a.vsftpd_version,
            "proftpd_mod_proxy": self.a.mod_proxy_version, "proxy_binary": self.a.proxy,
            "proxy_rev": self.a.rev_full, "proxy_build": self.a.build_desc},
            "settings": {"quick": self.a.quick, "runs": self.a.runs, "file_mib": self.a.file_mib,
                         "concurrency": self.a.concurrency,
                         "session_seconds": self.a.session_seconds},
            "summary": summ, "samples": self.samples, "notes": self.notes}
        name = f"{datetime.date.today().isoformat()}-{self.a.rev}-kernel-path" + \
            (f"-{self.a.variant}" if self.a.variant else "") + ("-quick" if self.a.quick else "")
        path = os.path.join(self.a.out, name)
        with open(path + ".json", "w") as f:
            json.dump(doc, f, indent=1)
        with open(path + ".md", "w") as f:
            f.write(render(doc))
        return path


def cell(m, digits=0, unit=""):
    if not m:
        return "–"
    f = f"{{:.{digits}f}}"
    return f"{f.format(m['median'])}{unit} ({f.format(m['min'])}–{f.format(m['max'])})"


def render(doc):
    s, m = doc["summary"], doc["machine"]
    st = doc["settings"]
    out = [f"# Kernel data path benchmark (issue 13), {m['date'][:10]}", "",
           f"ftp-proxy {m['proxy_rev']} ({m['proxy_build']}); vsftpd {m['vsftpd']}; ProFTPD "
           f"mod_proxy {m['proftpd_mod_proxy']}.",
           f"Machine: {m['cpu_model']}, {m['nproc']} CPUs, kernel {m['kernel']}, {m['os']}.",
           f"{st['runs']} interleaved runs, {st['file_mib']} MiB file, sessions measured "
           f"{st['session_seconds']} s per concurrency. Medians (min–max over the runs); each "
           "ratio is to plain forwarding in the same run.", "",
           "Routed topology in three network namespaces (client -- firewall -- server, veth); "
           "the firewall's forward chain: established, the worker's ct mark, client<->server. "
           "All of it shares the machine's 2 cores: the machine CPU column is the whole "
           "machine's (client, proxy, server and the kernel's forwarding).", "",
           "## Transfers", "",
           "| transfer | target | MiB/s | ratio to forwarding | proxy CPU s/GiB | machine CPU "
           "s/GiB |", "| --- | --- | --- | --- | --- | --- |"]
    for key, rows in s["xfer"].items():
        for t in TARGETS:
            r = rows[t]
            out.append(f"| {key.upper().replace('-', ' ')} | {LABEL[t]} | {cell(r['mib_s'])} | "
                       f"{cell(r['ratio'], 2)} | {cell(r['proxy_cpu_s_per_gib'], 3)} | "
                       f"{cell(r['machine_cpu_s_per_gib'], 2)} |")
    out += ["", "## Sessions per second (connect, login, EPSV, RETR of 4 KiB, QUIT)", "",
            "| clients | target | sessions/s | errors | proxy CPU ms/session |",
            "| --- | --- | --- | --- | --- |"]
    for conc, rows in s["sessions"].items():
        for t in TARGETS:
            r = rows[t]
            out.append(f"| {conc} | {LABEL[t]} | {cell(r['rate'])} | {r['errors']} | "
                       f"{cell(r['proxy_cpu_per_session_ms'], 3)} |")
    out += ["", "## Proof of the path", "",
            "Every relay transfer's log line shows the file's exact size spliced; every kernel "
            "transfer's line says `data path kernel` with conntrack's IP byte count (the file "
            "plus headers). The benchmark stops on any other.", ""]
    for n in doc["notes"]:
        out.append(f"* {n}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--workdir", default="/dev/shm/ftpproxy-bench-kernel")
    ap.add_argument("--out")
    ap.add_argument("--proxy")
    ap.add_argument("--proxy-args", default="")
    ap.add_argument("--variant", default="")
    ap.add_argument("--ftpload")
    ap.add_argument("--vsftpd")
    ap.add_argument("--vsftpd-version", default="?")
    ap.add_argument("--proftpd-root")
    ap.add_argument("--mod-proxy-version", default="?")
    ap.add_argument("--ssl-preload", nargs="+")
    ap.add_argument("--rev", default="wip")
    ap.add_argument("--rev-full", default="?")
    ap.add_argument("--build-desc", default="?")
    a = ap.parse_args()
    if a.quick:
        a.runs = a.runs or 1
        a.file_mib, a.session_seconds, a.session_warmup, a.session_timeout = 256, 2.0, 0.5, 8
    else:
        a.runs = a.runs or 3
        a.file_mib, a.session_seconds, a.session_warmup, a.session_timeout = 1024, 4.0, 1.0, 8
    a.concurrency = [8, 32, 128]
    os.makedirs(a.out, exist_ok=True)
    base.set_nofile()
    b = KernelBench(a)
    try:
        b.run()
        path = b.write()
    finally:
        b.stop_all()
        delete_namespaces()
        # the logs stay in the work dir; the big file (RAM, on tmpfs) goes
        shutil.rmtree(b.root, ignore_errors=True)
    print(path)


if __name__ == "__main__":
    main()
