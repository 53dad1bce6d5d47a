#!/usr/bin/env python3
"""Where the time goes: perf profiles of the benchmark's workloads.

Run by `bench/run.sh --profile` (inside the benchmark's own network
namespace, with the same vsftpd, ftp-proxy and load generator as the
benchmark). For each workload it runs the work once direct and once through
ftpproxy under `perf record -a -g` (the whole machine: on loopback the
receiving side's TCP work runs in the sender's context, so a profile of the
proxy alone would hide where its cost lands), then writes:

* CPU seconds per process (from /proc: ftp-proxy, vsftpd, the load
  generator) for the same work direct and through the proxy;
* the top symbols of ftp-proxy's own samples, kernel and user;
* the share of ftp-proxy's samples in user space;
* for the control path, system calls per NOOP round trip (strace -c).

Results go to bench/results/<date>-<rev>-profile.md. Figures from one run on
a shared machine: read them as proportions, not as speeds.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the benchmark's daemons and load generator)

CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    return bench.cpu_ticks(pid) / CLK if pid else 0.0


def perf_top(data, comm, limit=18):
    """Top symbols of one command's samples in a perf.data file."""
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                        "--comms", comm, "--sort", "sym", "--percentage", "relative",
                        "--percent-limit", "0.3", "-g", "none"],
                       capture_output=True, text=True)
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+\[([k.])\]\s+(.+)", line)
        if m:
            rows.append((float(m.group(1)), "kernel" if m.group(2) == "k" else "user",
                         m.group(3).strip()))
    return rows[:limit]


def perf_comm_shares(data):
    """Share of the busy samples per command (the whole machine, idle left out)."""
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                        "--sort", "comm", "-g", "none"], capture_output=True, text=True)
    shares = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)", line)
        if m:
            shares[m.group(2)] = float(m.group(1))
    shares.pop("swapper", None)
    busy = sum(shares.values()) or 1.0
    return {k: 100.0 * v / busy for k, v in shares.items()}


def user_share(data, comm):
    """Percent of one command's samples in user space ([.] symbols)."""
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                        "--comms", comm, "--sort", "sym", "--percentage", "relative",
                        "-g", "none"], capture_output=True, text=True)
    return sum(float(m.group(1)) for m in re.finditer(r"^\s+([\d.]+)%\s+\[\.\]", r.stdout, re.M))


class Profiler:
    def __init__(self, a):
        self.a = a
        self.b = bench.Bench(a)
        self.out = []
        self.perf_dir = os.path.join(a.workdir, "perf")

    def record(self, name, argv_fn):
        """Runs argv_fn() under perf record -a -g; returns (result, perf file, cpu by process)."""
        data = os.path.join(self.perf_dir, f"{name}.data")
        proxy = self.b.daemons["ftpproxy"].pid
        vs = self.b.daemons["vsftpd"].pid
        perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "2000", "-o", data, "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        c0 = {"ftp-proxy": cpu_s(proxy), "vsftpd": cpu_s(vs)}
        result = argv_fn()
        self.b.settle()
        c1 = {"ftp-proxy": cpu_s(proxy), "vsftpd": cpu_s(vs)}
        perf.send_signal(2)
        perf.wait(timeout=120)
        cpu = {k: c1[k] - c0[k] for k in c0}
        return result, data, cpu

    def section(self, title, lines):
        self.out.append(f"## {title}\n")
        self.out.extend(lines)
        self.out.append("")

    def profile_retr(self):
        lines = ["| | seconds | ftp-proxy CPU s | vsftpd CPU s | load generator CPU s |",
                 "| --- | --- | --- | --- | --- |"]
        tops = {}
        for target in ("direct", "ftpproxy"):
            # Four transfers per profile: enough samples at 2 kHz.
            r, data, cpu = self.record(
                f"retr-{target}",
                lambda t=target: [self.b.ftpload("xfer", t, "-o", "retr", "-m", "epsv",
                                                 "-f", "pub/big.bin", "-l", self.b.big)
                                  for _ in range(4)])
            r = {"seconds": sum(x["seconds"] for x in r), "client_cpu": sum(x["client_cpu"] for x in r)}
            lines.append(f"| 4 × RETR {self.a.file_mib} MiB EPSV, {bench.LABEL[target]} | "
                         f"{r['seconds']:.3f} | {cpu['ftp-proxy']:.2f} | {cpu['vsftpd']:.2f} | "
                         f"{r['client_cpu']:.2f} |")
            tops[target] = (data, perf_comm_shares(data))
        lines.append("")
        lines.append("Share of the busy samples by command (whole machine, both cores, idle "
                     "left out), direct → through ftpproxy:")
        lines.append("")
        names = sorted(set(tops["direct"][1]) | set(tops["ftpproxy"][1]),
                       key=lambda n: -tops["ftpproxy"][1].get(n, 0))
        for n in names[:8]:
            lines.append(f"* `{n}`: {tops['direct'][1].get(n, 0):.1f}% → "
                         f"{tops['ftpproxy'][1].get(n, 0):.1f}%")
        lines.append("")
        rows = perf_top(tops["ftpproxy"][0], "ftp-proxy")
        lines.append(f"ftp-proxy's own samples: {user_share(tops['ftpproxy'][0], 'ftp-proxy'):.1f}% "
                     "in user space. "
                     "Top symbols:")
        lines.append("")
        lines.append("| % of ftp-proxy | where | symbol |")
        lines.append("| --- | --- | --- |")
        for p, where, sym in rows[:18]:
            lines.append(f"| {p:.1f} | {where} | `{sym}` |")
        self.section("RETR through the splice relay", lines)

    def profile_sessions(self):
        conc = 32
        lines = []
        for target in ("direct", "ftpproxy"):
            r, data, cpu = self.record(
                f"sessions-{target}",
                lambda t=target: self.b.ftpload("sessions", t, "-c", conc, "-d",
                                                self.a.session_seconds, "-W", 0.5,
                                                "-f", "pub/small.bin", "-s", 4096, "-t", 8))
            done = max(r["done_total"], 1)
            lines.append(f"* {bench.LABEL[target]}: {r['rate']:.0f} sessions/s at {conc} clients; "
                         f"per session: ftp-proxy {1000 * cpu['ftp-proxy'] / done:.2f} ms CPU, "
                         f"vsftpd {1000 * cpu['vsftpd'] / done:.2f} ms, load generator "
                         f"{1000 * r['client_cpu_total'] / done:.2f} ms")
            if target == "ftpproxy":
                rows = perf_top(data, "ftp-proxy", limit=25)
                lines.append("")
                lines.append(f"ftp-proxy's own samples: {user_share(data, 'ftp-proxy'):.1f}% "
                             "in user space. "
                             "Top symbols:")
                lines.append("")
                lines.append("| % of ftp-proxy | where | symbol |")
                lines.append("| --- | --- | --- |")
                for p, where, sym in rows[:25]:
                    lines.append(f"| {p:.1f} | {where} | `{sym}` |")
        r, rows = self.strace_counts(
            lambda: self.b.ftpload("sessions", "ftpproxy", "-c", 8, "-d", 2.0, "-W", 0.2,
                                   "-f", "pub/small.bin", "-s", 4096, "-t", 8),
            lambda res: res["done_total"])
        lines.append("")
        lines.append(f"strace -c of ftp-proxy over {r['done_total']} sessions (8 clients):")
        lines.append("")
        lines.append("| calls per session | of which failed | syscall |")
        lines.append("| --- | --- | --- |")
        for calls, errors, name in rows:
            lines.append(f"| {calls:.2f} | {errors:.2f} | `{name}` |")
        lines.append(f"| {sum(c for c, _, _ in rows):.1f} | | total |")
        self.section(f"Sessions (login, SIZE, EPSV, RETR 4 KiB, QUIT), {conc} clients", lines)

    def strace_counts(self, work, per):
        """Runs work() with strace -c on ftp-proxy; rows (calls per unit, errors per unit, name)."""
        proxy = self.b.daemons["ftpproxy"].pid
        trace = os.path.join(self.perf_dir, "strace.txt")
        st = subprocess.Popen(["strace", "-c", "-f", "-o", trace, "-p", str(proxy)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        result = work()
        self.b.settle()
        st.send_signal(2)
        st.wait(timeout=60)
        units = max(per(result), 1)
        rows = []
        with open(trace) as f:
            for line in f:
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d+\s+)?(\w+)$", line)
                if m and m.group(3) != "total":
                    errors = int(m.group(2)) if m.group(2) else 0
                    rows.append((int(m.group(1)) / units, errors / units, m.group(3)))
        return result, [r for r in rows if r[0] >= 0.01]

    def profile_noop(self):
        count = 5000
        # ftpload sends count/10 + 10 untimed warm-up NOOPs first: they count too.
        r, rows = self.strace_counts(lambda: self.b.ftpload("noop", "ftpproxy", "-n", count),
                                     lambda res: res["count"] + res["count"] // 10 + 10)
        lines = [f"strace -c of ftp-proxy during {count} NOOP round trips (one session; "
                 f"strace itself slows every call, so the p50 here, {r['p50_us']:.0f} µs, is "
                 "not the benchmark's):", "",
                 "| calls per NOOP | of which failed | syscall |", "| --- | --- | --- |"]
        for calls, errors, name in rows:
            lines.append(f"| {calls:.2f} | {errors:.2f} | `{name}` |")
        direct = self.b.ftpload("noop", "direct", "-n", count)
        proxied = self.b.ftpload("noop", "ftpproxy", "-n", count)
        lines.append("")
        lines.append(f"Without strace: NOOP p50 direct {direct['p50_us']:.1f} µs, through "
                     f"ftpproxy {proxied['p50_us']:.1f} µs.")
        self.section("NOOP round trip", lines)

    def run(self):
        a = self.a
        machine = bench.machine_info(a)
        os.makedirs(self.perf_dir, exist_ok=True)
        self.b.prepare_files()
        os.makedirs(self.perf_dir, exist_ok=True)
        self.b.start_vsftpd()
        self.b.start_ftpproxy()
        try:
            self.profile_retr()
            self.profile_sessions()
            self.profile_noop()
        finally:
            self.b.stop_all()
        head = [f"# Profile: {machine['date']}", "",
                f"ftpproxy `{machine['proxy_rev']}` ({machine['proxy_build']})"
                + (f", run with `{a.proxy_args}`" if a.proxy_args else "")
                + f". Made by `bench/run.sh --profile`; {machine['cpu_model']}, "
                f"{machine['nproc']} CPUs, kernel {machine['kernel']}, load average at start "
                f"{' '.join(machine['loadavg_start'])}.", "",
                "perf samples with `cpu-clock` (this VM exposes no hardware counters), so time "
                "spent with interrupts disabled (wake-ups, softirq work) is charged to the "
                "place where they are enabled again: `_raw_spin_unlock_irqrestore` and "
                "`handle_softirqs` stand for that work, not for lock contention.", ""]
        stamp = machine["date"][:10]
        path = os.path.join(a.out, f"{stamp}-{a.rev}-profile.md")
        with open(path, "w") as f:
            f.write("\n".join(head + self.out) + "\n")
        bench.log(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--workdir", "--out", "--proxy", "--ftpload", "--vsftpd", "--vsftpd-version",
                 "--proftpd-root", "--mod-proxy-version", "--rev", "--rev-full", "--build-desc",
                 "--variant"):
        ap.add_argument(flag, default="?")
    ap.add_argument("--proxy-args", default="")
    ap.add_argument("--ssl-preload", nargs="+")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs")
    a = ap.parse_args()
    a.workdir = "/dev/shm/ftpproxy-profile"
    a.file_mib = 256 if a.quick else 1024
    a.session_seconds = 3.0
    Profiler(a).run()


if __name__ == "__main__":
    main()
