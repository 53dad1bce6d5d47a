#!/usr/bin/python3
"""Benchmark of issue 4: how fast ftpproxyd gets a killed worker serving
again, and how long a reload of 12 instances takes. Run through
bench/run-supervisor.sh (network namespace, real nft).

Restart latency: kill -9 of a worker, then at once a client connects and
waits for the server's 220 banner through the proxy. The connection waits in
the backlog of the socket ftpproxyd holds; the time to the banner is what a
client sees. Each kill is an instance's first failure in a row (restarted at
once, no backoff): the 12 instances are killed round-robin, and `ftpproxyctl
restart all` resets the backoff between rounds. The same connect+banner
through a running worker is measured as the baseline.

Reload: `ftpproxyctl reload` wall time (ctl start-up, parse, diff, spawn,
rules written, `nft -f` run, answer), with nothing changed and with all 12
instances changed; for the latter also until each of the 12 ports has served
a banner.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The supervisor tests' harness, and the package it uses (tests/ftpx).
sys.path[:0] = [str(REPO / "tests/supervisor"), str(REPO / "tests")]

from ftpx.binaries import BUILD  # noqa: E402
from ftpx.net import free_port  # noqa: E402
from ftpx.wait import wait_until  # noqa: E402
from harness import CLIENT, LISTEN, SERVER, Backend, Daemon  # noqa: E402

INSTANCES = 12


def banner_after(port, t0, timeout=30.0):
    """Seconds from t0 until a client connecting now gets the 220 banner."""
    s = socket.create_connection((LISTEN, port), timeout=timeout, source_address=(CLIENT, 0))
    try:
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(512)
            if not chunk:
                raise AssertionError(f"connection to {port} closed before the banner")
            data += chunk
        assert data.startswith(b"220"), data
        return time.monotonic() - t0
    finally:
        s.close()


def summary(samples):
    ms = sorted(x * 1000 for x in samples)
    return {"n": len(ms), "min_ms": round(ms[0], 2), "median_ms": round(statistics.median(ms), 2),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2), "max_ms": round(ms[-1], 2)}


def restart_latency(daemon, rounds):
    ports = {i["name"]: daemon.port(i["name"]) for i in daemon.instances}
    baseline, latency = [], []
    for _ in range(rounds):
        status = daemon.wait_states({n: "RUNNING" for n in ports})
        pids = {i["name"]: i["pid"] for i in status["instances"]}
        for name, port in ports.items():
            baseline.append(banner_after(port, time.monotonic()))
            t0 = time.monotonic()
            os.kill(pids[name], signal.SIGKILL)
            latency.append(banner_after(port, t0))
        result = daemon.ctl("restart", "all")
        assert result.returncode == 0, result
        wait_until(lambda: not daemon.status()["old_workers"], 20, "old workers to exit")
    return baseline, latency


def reload_times(daemon, runs):
    ports = [daemon.port(i["name"]) for i in daemon.instances]
    unchanged, changed, serving = [], [], []
    for _ in range(runs):
        t0 = time.monotonic()
        result = daemon.ctl("reload")
        unchanged.append(time.monotonic() - t0)
        assert result.returncode == 0 and "changed:   none" in result.stdout, result
    for run in range(runs):
        for instance in daemon.instances:
            instance["max_sessions"] = 100 + (run + 1) % 2
        daemon.write_config()
        t0 = time.monotonic()
        result = daemon.ctl("reload")
        changed.append(time.monotonic() - t0)
        assert result.returncode == 0 and "unchanged: none" in result.stdout, result
        serving.append(max(banner_after(port, t0) for port in ports))
        wait_until(lambda: not daemon.status()["old_workers"], 20, "old workers to exit")
    return unchanged, changed, serving


def machine_info(build):
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                      if l.startswith("model name")), "?")
    mem_kib = int(open("/proc/meminfo").readline().split()[1])

    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except Exception as e:  # noqa: BLE001 - informative only
            return f"? ({e})"

    rev = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "src"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu_model": cpu_model,
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "os": first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "mem_gib": round(mem_kib / (1 << 20), 1),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "compiler": first_line(["c++", "--version"]),
        "nft": first_line(["nft", "--version"]),
        "build": str(build),
        "build_type": next((l.split("=", 1)[1].strip() for l in
                            open(Path(build) / "CMakeCache.txt") if
                            l.startswith("CMAKE_BUILD_TYPE:")), "?"),
        "rev": rev + ("-wip" if dirty else ""),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def write_results(stem, result, markdown):
    """STEM.json (raw) and STEM.md (the report), and the report on stdout."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown)
    print(markdown)


def pair_report_header(title, script, m):
    """The first lines of a VRRP-pair report: title, where the raw numbers
    are, and the machine (with keepalived's version)."""
    return [
        f"# {title} ({m['date']}, {m['rev']})",
        "",
        f"Produced by `{script}`; raw numbers in the .json next to this file.",
        "",
        "## Machine",
        "",
        f"* CPU: {m['cpu_model']}, {m['nproc']} cores ({m['affinity_cpus']} usable), "
        f"{m['mem_gib']} GiB; load at start {' '.join(m['loadavg_start'])}",
        f"* {m['os']}, kernel {m['kernel']}; {m['compiler']}; {m['nft']}; {m['keepalived']}",
        f"* build: {m['build']} ({m['build_type']})",
    ]


def keepalived_version():
    return subprocess.run(["keepalived", "--version"], capture_output=True,
                          text=True).stderr.splitlines()[0].strip()


def render_markdown(result):
    m = result["machine"]
    lines = [
        f"# ftpproxyd restart latency and reload time ({m['date']}, {m['rev']})",
        "",
        "Produced by `bench/run-supervisor.sh`; raw numbers in the .json next to this file.",
        "",
        "## Machine",
        "",
        f"* CPU: {m['cpu_model']}, {m['nproc']} cores ({m['affinity_cpus']} usable), "
        f"{m['mem_gib']} GiB; load at start {' '.join(m['loadavg_start'])}",
        f"* {m['os']}, kernel {m['kernel']}; {m['compiler']}; {m['nft']}",
        f"* build: {m['build']} ({m['build_type']})",
        "* everything (pyftpdlib backend, ftpproxyd, 12 workers, clients, nft) on the "
        "loopback of one network namespace, sharing the 2 cores",
        "",
        "## Results",
        "",
        "| measurement | n | min | median | p90 | max |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, title in (
            ("banner_running", "connect -> 220 banner, worker running (baseline)"),
            ("restart_latency", "kill -9 of a worker -> 220 banner through its successor"),
            ("reload_unchanged", "`ftpproxyctl reload`, 12 instances, nothing changed"),
            ("reload_all_changed", "`ftpproxyctl reload`, all 12 changed (12 new workers)"),
            ("reload_all_serving", "reload, all 12 changed -> every port served a banner")):
        s = result[key]
        lines.append(f"| {title} | {s['n']} | {s['min_ms']} ms | {s['median_ms']} ms | "
                     f"{s['p90_ms']} ms | {s['max_ms']} ms |")
    lines += [
        "",
        "No client was refused during any restart or reload: the listening sockets",
        "belong to ftpproxyd, so connections wait in the backlog (a refused connect",
        "would have failed the run).",
        "",
        "Reload times include starting ftpproxyctl, reading and checking the YAML,",
        "writing the nftables file and running `nft -f` on it (firewall: nftables).",
        "A second kill of the same worker within 60 s is restarted after the 1 s",
        "backoff by design; it is not measured here.",
    ]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5, help="kill rounds over the 12 instances")
    ap.add_argument("--runs", type=int, default=10, help="reloads of each kind")
    ap.add_argument("--out", default=str(REPO / "bench/results"))
    args = ap.parse_args()

    work = Path(f"/tmp/ftpproxyd-bench-{os.getpid()}")
    (work / "root/pub").mkdir(parents=True)
    os.chmod(work, 0o755)
    backend = Backend(work / "root", work / "pyftpdlib.log").start()
    rules = work / "rules.nft"
    instances = [{"name": f"ftp{i + 1:02d}", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                  "public": f"198.18.0.{i + 1}:21", "backend": f"{SERVER}:{backend.port}"}
                 for i in range(INSTANCES)]
    daemon = Daemon(work / "d", backend, instances,
                    {"firewall": "nftables", "rules_file": str(rules),
                     "reload_command": ["/usr/sbin/nft", "-f", str(rules)], "log_level": "notice"})
    result = {"machine": machine_info(BUILD)}
    try:
        daemon.start()
        baseline, latency = restart_latency(daemon, args.rounds)
        unchanged, changed, serving = reload_times(daemon, args.runs)
        assert daemon.stop() == 0
    except BaseException:
        print(f"failed; ftpproxyd's log: {daemon.log_path}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        daemon.cleanup()
        backend.stop()
    result.update({"banner_running": summary(baseline), "restart_latency": summary(latency),
                   "reload_unchanged": summary(unchanged), "reload_all_changed": summary(changed),
                   "reload_all_serving": summary(serving),
                   "raw_ms": {"restart_latency": [round(x * 1000, 3) for x in latency],
                              "reload_all_changed": [round(x * 1000, 3) for x in changed]}})
    write_results(Path(args.out) / f"{datetime.date.today().isoformat()}-supervisor", result,
                  render_markdown(result))


if __name__ == "__main__":
    main()
