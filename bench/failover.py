#!/usr/bin/python3
"""How long a client of the VRRP pair waits when fw1 fails: the time from
the failure to the first session served through the VIP by fw2.

The pair is tests/netns/cluster.py (two firewalls with ftpproxyd and real
keepalived, two pyftpdlib backends, a client that knows only the VIP; the
cluster's namespaces are created here and deleted at the end). Per path and
run: from a healthy pair (fw1 MASTER), the failure is applied to fw1 at t0;
from t0 the client opens a fresh ftplib session through the VIP every 50 ms
(connect, 220, login, a tagged command, QUIT; each bounded by 2 s, each in
its own thread so that a hung attempt does not delay the next). A run's
result is t0 -> the end of the first session the backends saw come from
fw2's address. Also recorded: t0 -> the VIP on fw2 (`ip addr`, polled every
20 ms), and the attempts that failed in between.

Paths (fw1 is the MASTER when each run starts):
  backend  fw1 cut from both backends (nft drop on its output): its health
           checks (interval 200ms, timeout 1s, fall 1) fail, ftpproxyd demotes
           the node (track file 1), keepalived goes to FAULT.
  kill     SIGKILL of fw1's ftpproxyd: nothing is written, keepalived's
           process watch notices (a vrrp_script every 1 s here: track_process
           cannot run in a network namespace, see cluster.py).
  stop     SIGTERM of fw1's ftpproxyd (planned): demotes first, then drains
           (drain_timeout 2s), takes the demotion back and exits.
  worker   SIGKILL of fw1's worker only (ftpproxyd restarts it at once):
           measured as t0 -> the first session served by either node, with
           the number of runs in which the VIP moved.
  planned  `ftpproxyctl failover` on fw1 (demote and hold, drain once the
           role changed; `failback` after the run). Its failed attempts
           should be none: clients retry their SYN, nobody refuses.

    bench/failover.py [--runs 5] [--paths backend,kill,stop,worker,planned]
                      [--out bench/results]

Needs root, keepalived, and a build (FTPPROXY_BUILD, default build/). Writes
bench/results/failover-<date>.{md,json}. Times are this machine's: never
test assertions.
"""
import argparse
import datetime
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests/netns"), str(REPO / "tests")]

import cluster as pair_setup  # noqa: E402
from cluster import Cluster, send_tag, tag_command  # noqa: E402
from ftpx.binaries import BUILD, FTPPROXYCTL  # noqa: E402
from ftpx.netns import entered  # noqa: E402
from supervisor_bench import (keepalived_version, machine_info,  # noqa: E402
                             pair_report_header, write_results)

POLL_EVERY = 0.05
ATTEMPT_TIMEOUT = 2.0
RUN_BOUND = 20.0          # a run that has not failed over by then is a failure

PATHS = {
    "backend": "fw1 cut from both backends (nft drop)",
    "kill": "SIGKILL of fw1's ftpproxyd",
    "stop": "clean stop (SIGTERM) of fw1's ftpproxyd",
    "worker": "SIGKILL of fw1's worker (ftpproxyd restarts it)",
    "planned": "planned: `ftpproxyctl failover` on fw1",
}


NOTES = [
    "How to read it:",
    "",
    "* When fw1 goes to FAULT it removes the VIP at once and sends a priority-0 advert; fw2 "
    "takes over after its skew time, (256 - 100) / 256 s = 0.61 s. Meanwhile no node holds "
    "the VIP: a client's SYN is dropped and retried after 1 s, which is why a session "
    "started in that window ends about 1 s after it started. Every path includes these "
    "0.6 s.",
    "* backend: detection is the health check: the drop makes each check wait for its "
    "1 s timeout (fall 1), then ftpproxyd writes 1 into the track file.",
    "* kill: nothing is written; keepalived's process watch is a vrrp_script run every "
    "1 s in these namespaces (track_process needs the initial network namespace, see "
    "tests/netns/cluster.py), so 0 to 1 s of detection. Measured with track_process in the "
    "initial namespace (a veth pair, the same config): FAULT within 20 ms of the SIGKILL.",
    "* stop: ftpproxyd demotes at SIGTERM, before anything else; the node has no session to "
    "drain here.",
    "* planned: `ftpproxyctl failover` demotes and holds; fw1 keeps serving until keepalived "
    "has taken the VIP away, then drains (with the handoff its sessions would go on; "
    "bench/handoff.py measures that). A client whose SYN reaches no holder retries it.",
    "* worker: ftpproxyd restarts a killed worker within ~10 ms and it serves at once "
    "(the listen socket stays open). Since 0e1343c the node stays fit meanwhile (STARTING "
    "after having served counts as serving), so the VIP does not move: the first session is "
    "served by fw1 and 'VIP on fw2' stays empty: run 1. Runs 2-5 kill the worker again "
    "within 60 s of the last crash (stable_after): for the lifecycle that is a crash loop, "
    "the restart waits in BACKOFF (1 s, then doubling), and a node in BACKOFF is not fit "
    "by design, so it is demoted and fw2 serves. Before the fix even a single crash moved "
    "the VIP away and back (4.4 s), cutting every session twice.",
]


class Poller:
    """A fresh session through the VIP every POLL_EVERY seconds from t0,
    until `want(node)` is true of a served session or RUN_BOUND passes."""

    def __init__(self, cluster, t0, want):
        self.cluster, self.t0, self.want = cluster, t0, want
        self.marks = {name: server.mark() for name, server in cluster.backends.items()}
        self.attempts = []
        self.lock = threading.Lock()
        self.hit = threading.Event()

    def _attempt(self):
        tag, start = tag_command(), time.monotonic()
        record = {"start": start - self.t0, "ok": False}
        try:
            with entered(self.cluster.ns["client"]):
                ftp = self.cluster.login(timeout=ATTEMPT_TIMEOUT)
                try:
                    send_tag(ftp, tag)
                    ftp.quit()
                finally:
                    ftp.close()
            record.update(ok=True, end=time.monotonic() - self.t0,
                          node=self.cluster.node_of(tag, self.marks))
        except Exception as e:  # noqa: BLE001 - a failed attempt is data
            record.update(error=type(e).__name__, end=time.monotonic() - self.t0)
        with self.lock:
            self.attempts.append(record)
        if record["ok"] and self.want(record["node"]):
            self.hit.set()

    def run(self):
        threads = []
        while not self.hit.is_set() and time.monotonic() - self.t0 < RUN_BOUND:
            t = threading.Thread(target=self._attempt, daemon=True)
            t.start()
            threads.append(t)
            self.hit.wait(POLL_EVERY)
        for t in threads:
            t.join(ATTEMPT_TIMEOUT + 5)
        served = [a for a in self.attempts if a["ok"] and self.want(a["node"])]
        first = min(served, key=lambda a: a["end"]) if served else None
        failed = [a for a in self.attempts if not a["ok"] and (not first or a["start"] < first["end"])]
        return first, failed, sorted(self.attempts, key=lambda a: a["start"])


def watch_vip(cluster, t0, stop):
    """t0 -> the first moment fw2 holds the VIP (None if it never did)."""
    fw2 = cluster.nodes["fw2"]
    while not stop.is_set():
        if fw2.holds_vip():
            return time.monotonic() - t0
        stop.wait(0.02)
    return None


def one_run(cluster, path):
    cluster.heal()
    fw1 = cluster.nodes["fw1"]
    assert cluster.probe() == ("backend-1", "fw1")
    worker = fw1.status()["instances"][0]["pid"]
    want = (lambda node: node is not None) if path == "worker" else (lambda node: node == "fw2")
    vip_at = {}
    stop = threading.Event()
    t0 = time.monotonic()
    poller = Poller(cluster, t0, want)
    watcher = threading.Thread(target=lambda: vip_at.update(t=watch_vip(cluster, t0, stop)),
                               daemon=True)
    watcher.start()
    if path == "backend":
        fw1.block_backends()
    elif path == "kill":
        fw1.signal_ftpproxyd(signal.SIGKILL)
    elif path == "stop":
        fw1.signal_ftpproxyd(signal.SIGTERM)
    elif path == "worker":
        subprocess.run(["kill", "-KILL", str(worker)], check=True)
    elif path == "planned":
        threading.Thread(target=subprocess.run, daemon=True, args=(
            [FTPPROXYCTL, "-s", fw1.socket, "failover", "--wait", "20"],),
            kwargs={"capture_output": True, "timeout": 60}).start()
    first, failed, attempts = poller.run()
    if path == "planned":
        subprocess.run([FTPPROXYCTL, "-s", fw1.socket, "failback"], capture_output=True,
                       timeout=30)
    if path == "worker":
        time.sleep(5)    # long enough for a VIP move (3.6 s master-down) to show
    stop.set()
    watcher.join(5)
    if path == "stop":
        fw1.ftpproxyd.p.wait(15)
    assert first is not None, f"{path}: no session served within {RUN_BOUND}s"
    return {"served_s": round(first["end"], 3), "served_by": first["node"],
            "vip_s": None if vip_at.get("t") is None else round(vip_at["t"], 3),
            "failed_attempts": len(failed),
            "failures": sorted({a["error"] for a in failed}),
            "attempts": [{k: round(v, 3) if isinstance(v, float) else v for k, v in a.items()}
                         for a in attempts]}


def stats(values):
    ms = sorted(v * 1000 for v in values)
    return {"n": len(ms), "min_ms": round(ms[0]), "median_ms": round(statistics.median(ms)),
            "max_ms": round(ms[-1])}


def render_markdown(result):
    m = result["machine"]
    lines = pair_report_header(
        "VRRP failover: failure on the master -> first session through the VIP",
        "bench/failover.py", m) + [
        "* the pair of tests/netns/cluster.py: client, fw1, fw2 and server namespaces "
        "(bridges on both sides), keepalived advert_int 1; health checks interval 200ms, "
        f"rise 1, fall 1; drain_timeout {pair_setup.DRAIN_TIMEOUT}; cluster.handoff on; "
        "everything shares the 2 cores",
        f"* tuning: {m.get('tuning', 'priorities fw1 150, fw2 100; health_check timeout 1s')}",
        f"* a fresh ftplib session through the VIP every {int(POLL_EVERY * 1000)} ms "
        f"(each bounded by {ATTEMPT_TIMEOUT:g} s)",
        "",
        "## Results",
        "",
        "| path | runs | failure -> VIP on fw2: min / median / max | "
        "failure -> first session served by fw2: min / median / max | failed attempts "
        "(median) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for path, runs in result["paths"].items():
        served = stats([r["served_s"] for r in runs])
        vips = [r["vip_s"] for r in runs if r["vip_s"] is not None]
        vip = stats(vips) if vips else None
        vip_text = (f"{vip['min_ms']} / {vip['median_ms']} / {vip['max_ms']} ms"
                    + ("" if len(vips) == len(runs) else f" ({len(vips)} of {len(runs)} runs)")
                    if vip else "never moved")
        by = "" if path != "worker" else " (any node: " + ", ".join(
            sorted({r["served_by"] for r in runs})) + ")"
        lines.append(
            f"| {PATHS[path]} | {len(runs)} | {vip_text} | {served['min_ms']} / "
            f"{served['median_ms']} / {served['max_ms']} ms{by} | "
            f"{statistics.median(r['failed_attempts'] for r in runs):g} |")
    lines += ["", "Per run (seconds): " + "; ".join(
        f"{path}: " + ", ".join(f"{r['served_s']}" for r in runs)
        for path, runs in result["paths"].items()), ""]
    lines += result.get("notes", [])
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--paths", default="backend,kill,stop,worker,planned")
    ap.add_argument("--out", default=str(REPO / "bench/results"))
    # Tuning for speed: the backup's skew time is (256 - priority) / 256 s,
    # and a dropped backend is found after the check's timeout.
    ap.add_argument("--priorities", default="150,100", help="fw1,fw2 VRRP priorities")
    ap.add_argument("--check-timeout", default="1s", help="health_check timeout")
    ap.add_argument("--variant", default="", help="appended to the result file's name")
    args = ap.parse_args()
    fw1_priority, fw2_priority = (int(p) for p in args.priorities.split(","))
    pair_setup.PRIORITY.update({"fw1": fw1_priority, "fw2": fw2_priority})
    pair_setup.HEALTH_CHECK["timeout"] = args.check_timeout
    paths = args.paths.split(",")
    assert set(paths) <= set(PATHS), f"paths: {', '.join(PATHS)}"

    machine = machine_info(BUILD)
    machine["keepalived"] = keepalived_version()
    machine["tuning"] = (f"priorities fw1 {fw1_priority}, fw2 {fw2_priority}; "
                         f"health_check timeout {args.check_timeout}")
    result = {"machine": machine, "paths": {}, "notes": NOTES}
    with tempfile.TemporaryDirectory(prefix="ftpx-failover-") as work:
        cluster = Cluster(Path(work) / "pair")
        try:
            cluster.boot()
            for path in paths:
                result["paths"][path] = []
                for n in range(args.runs):
                    run = one_run(cluster, path)
                    print(f"{path} #{n + 1}: served after {run['served_s']} s by "
                          f"{run['served_by']}, VIP on fw2 after {run['vip_s']} s, "
                          f"{run['failed_attempts']} attempts failed", flush=True)
                    result["paths"][path].append(run)
        finally:
            cluster.close()
    name = f"failover-{datetime.date.today().isoformat()}"
    write_results(Path(args.out) / (name + ("-" + args.variant if args.variant else "")), result,
                  render_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
