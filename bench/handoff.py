#!/usr/bin/python3
"""A planned failover with a download in flight, on the VRRP pair of
tests/netns/cluster.py with `cluster.handoff` on: what the session handoff
costs and what clients see.

Per run, from a healthy pair (fw1 MASTER):
  direct    a RETR of pub/big.bin through the VIP (fw1) is held after 8 MiB
            (TCP back-pressure), then released: the rest is read at full
            speed through fw1. Throughput of the rest: the baseline.
  handoff   the same download is held; `ftpproxyctl failover` moves the VIP
            to fw2; once fw2 holds it the download is released: the rest
            travels client -> fw2 (dup) -> fw1's worker -> client. Its
            throughput, with the ratio to `direct` measured in the same run,
            and its sha256. Meanwhile a fresh session starts every 50 ms
            (from the failover command until 2 s after the VIP moved): how
            many were refused, reset or failed otherwise, and the time from
            the command to the first session fw2 served. `failback` after.

    bench/handoff.py [--runs 5] [--size-mib 256] [--out bench/results]

Needs root, keepalived, and a build (FTPPROXY_BUILD, default build/). Writes
bench/results/handoff-<date>.{md,json}. Times are this machine's: never test
assertions.
"""
import argparse
import datetime
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests/netns"), str(REPO / "tests")]

import cluster as pair_setup  # noqa: E402
from cluster import ClientLoop, Cluster, HeldDownload  # noqa: E402
from ftpx.binaries import BUILD, FTPPROXYCTL  # noqa: E402
from ftpx.wait import wait_until  # noqa: E402
from supervisor_bench import (keepalived_version, machine_info,  # noqa: E402
                             pair_report_header, write_results)

HOLD_AT = 8 << 20
AFTER_MOVE = 2.0          # the client loop runs on this long after the VIP moved


def rest_rate(held, released_at):
    """MiB/s of what arrived after the release."""
    held.join(120)
    assert not held.is_alive(), "the download did not end"
    seconds = held.ended_at - released_at
    return (held.got - held.at_release) / (1 << 20) / seconds, seconds


class TimedDownload(HeldDownload):
    """HeldDownload that notes when it ended and how much it had at release."""

    def run(self):
        super().run()
        self.ended_at = time.monotonic()

    def release_now(self):
        self.at_release = self.got
        released_at = time.monotonic()
        self._release.set()
        return released_at


def direct_run(cluster):
    held = TimedDownload(cluster, hold_at=HOLD_AT)
    held.start()
    assert held.held.wait(15) and held.error is None, held.error
    time.sleep(0.5)                       # the client's buffers fill, as in the handoff run
    rate, seconds = rest_rate(held, held.release_now())
    assert held.error is None and held.sha.hexdigest() == cluster.sha, held.error
    return {"rate_mib_s": round(rate, 1), "seconds": round(seconds, 3)}


def handoff_run(cluster):
    fw1 = cluster.nodes["fw1"]
    wait_until(lambda: fw1.node_status()["role"] == "master", 15, "fw1 master")
    held = TimedDownload(cluster, hold_at=HOLD_AT)
    held.start()
    assert held.held.wait(15) and held.error is None, held.error
    loop = ClientLoop(cluster)
    t0 = time.monotonic()
    loop.start()
    done = subprocess.run([FTPPROXYCTL, "-s", fw1.socket, "failover", "--wait", "20"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    cluster.wait_holder("fw2", timeout=15)
    moved = time.monotonic() - t0
    released_at = held.release_now()
    time.sleep(AFTER_MOVE)
    results = loop.finish()
    rate, seconds = rest_rate(held, released_at)
    intact = held.error is None and held.sha.hexdigest() == cluster.sha
    subprocess.run([FTPPROXYCTL, "-s", fw1.socket, "failback"], capture_output=True, timeout=30)
    served = [(t - t0, r) for t, r in results if not isinstance(r, Exception)]
    by_fw2 = [t for t, r in served if r.node == "fw2"]
    errors = [type(r).__name__ for _, r in results if isinstance(r, Exception)]
    return {"rate_mib_s": round(rate, 1), "seconds": round(seconds, 3), "intact": intact,
            "error": None if held.error is None else repr(held.error),
            "vip_moved_s": round(moved, 3),
            "first_fw2_session_s": round(min(by_fw2), 3) if by_fw2 else None,
            "sessions": len(results), "refused": errors.count("ConnectionRefusedError"),
            "reset": errors.count("ConnectionResetError"),
            "other_errors": sorted(set(errors) - {"ConnectionRefusedError",
                                                  "ConnectionResetError"})}


def render_markdown(result):
    m = result["machine"]
    runs = result["runs"]
    direct = [r["direct"]["rate_mib_s"] for r in runs]
    handed = [r["handoff"]["rate_mib_s"] for r in runs]
    ratios = [h / d for h, d in zip(handed, direct)]
    lines = pair_report_header("Session handoff: a download across a planned failover",
                               "bench/handoff.py", m) + [
        "* the pair of tests/netns/cluster.py (client, fw1, fw2, server namespaces; veths "
        "and bridges; keepalived advert_int 1, priorities 150/100), `cluster.handoff` on; "
        f"a {result['size_mib']} MiB file from pyftpdlib; everything shares the 2 cores",
        "",
        "## Results",
        "",
        f"Medians of {len(runs)} runs; throughput of what was read after the release "
        f"({result['size_mib'] - HOLD_AT // (1 << 20)} MiB).",
        "",
        "| | MiB/s | ratio to direct (same run) |",
        "| --- | --- | --- |",
        f"| direct through fw1 (no move) | {statistics.median(direct):.1f} | 1.00 |",
        f"| handed off: client -> fw2 -> fw1 after the VIP moved | "
        f"{statistics.median(handed):.1f} | {statistics.median(ratios):.2f} |",
        "",
        f"* Downloads intact (sha256 of the whole file): "
        f"{sum(r['handoff']['intact'] for r in runs)} of {len(runs)}.",
        f"* `failover` -> VIP on fw2: median "
        f"{statistics.median(r['handoff']['vip_moved_s'] for r in runs):.2f} s. The first "
        f"session fw2 served had started a median "
        f"{statistics.median(r['handoff']['first_fw2_session_s'] or 0 for r in runs):.2f} s "
        f"after `failover`: fw1 had already left the VIP, so its SYN was retried until "
        f"fw2 held it.",
        f"* Sessions started every 50 ms from `failover` until {AFTER_MOVE:g} s after the "
        f"move: {sum(r['handoff']['sessions'] for r in runs)} in all; refused "
        f"{sum(r['handoff']['refused'] for r in runs)}, reset "
        f"{sum(r['handoff']['reset'] for r in runs)}, other failures "
        f"{sorted({e for r in runs for e in r['handoff']['other_errors']}) or 'none'}.",
        "",
        "Per run (MiB/s, direct / handed off): " + "; ".join(
            f"{d} / {h}" for d, h in zip(direct, handed)),
        "",
    ]
    lines += result["notes"]
    return "\n".join(lines) + "\n"


NOTES = [
    "How to read it:",
    "",
    "* After the move each segment from the client crosses one more veth and the bridge "
    "(fw2's nftables `dup` to fw1's MAC, the original dropped); fw1's replies go straight to "
    "the client. Only the client's direction (ACKs, for a download) takes the detour.",
    "* During the move no node holds the VIP for fw2's skew time (~0.6 s): a SYN in that "
    "window is retried by the client after 1 s and then served by fw2.",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--out", default=str(REPO / "bench/results"))
    args = ap.parse_args()
    pair_setup.BIG_SIZE = args.size_mib << 20
    machine = machine_info(BUILD)
    machine["keepalived"] = keepalived_version()
    result = {"machine": machine, "size_mib": args.size_mib, "runs": [], "notes": NOTES}
    with tempfile.TemporaryDirectory(prefix="ftpx-handoff-") as work:
        cluster = Cluster(Path(work) / "pair")
        try:
            cluster.boot()
            for i in range(args.runs):
                cluster.heal()
                run = {"direct": direct_run(cluster)}
                cluster.heal()
                run["handoff"] = handoff_run(cluster)
                result["runs"].append(run)
                print(f"run {i + 1}: {run}", flush=True)
        finally:
            cluster.close()
    write_results(Path(args.out) / f"handoff-{datetime.date.today().isoformat()}", result,
                  render_markdown(result))


if __name__ == "__main__":
    main()
