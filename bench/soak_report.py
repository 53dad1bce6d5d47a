"""Figures, verdict and result files of bench/soak.py."""
import argparse
import datetime
import json
import os
import statistics
import subprocess

import bench
import soak_client

MIB = 1 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")
# processes whose descriptors and memory decide the verdict; the others are shown
JUDGED = ("ftp-proxy", "vsftpd")
SERVER_CHOICE = (
    "vsftpd 3.0.3 (Debian's, unpacked into .deps/vsftpd) is the server of both phases. It "
    "is C and runs every session in processes of its own, so 1 000 sessions spread over "
    "both cores and it has no session limit (`max_clients=0`, `max_per_ip=0`). pyftpdlib "
    "was not used: it is one single-threaded Python process with `max_cons` 512 by default, "
    "and it drops sessions under parallel load even with no proxy (docs: NOTES), so it would "
    "be the bottleneck and the failure; several pyftpdlib processes would need several "
    "backends, and one worker has one `-R`. vsftpd's listen queue is 32: new control "
    "connections are paced (`--connect-rate`), and sessions are long (`--transfers` per "
    "session) so that the steady turnover stays under that pace. It runs under "
    "tests/ftpx/reaper.py, a subreaper, because PID 1 here does not reap "
    "vsftpd's session processes.")


def proxy_phases(rounds):
    """Names of the phases through the proxy: ftpproxy, ftpproxy-2, ..."""
    return ["ftpproxy"] + [f"ftpproxy-{i}" for i in range(2, rounds + 1)]


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(p / 100 * len(v) + 0.999999) - 1))]


def phase_result(load, samples, cpu0, cpu1, busy, settle_s):
    c = load.count
    secs = load.load_seconds
    at = load.at_deadline
    ramp = load.sessions / (1.0 / load.connect_gap) + 5
    steady = [s["open_sessions"] for s in samples if ramp <= s["t"] <= secs]
    verified = sum(c.transfers.values())
    cpu = {k: (cpu1[k] - cpu0[k]) / (1 if k == "client" else CLK_TCK)
           for k in cpu0 if cpu0[k] is not None}
    return {
        "seconds": round(secs, 1), "drain_seconds": round(load.end_seconds - secs, 1),
        "sessions": {"slots": load.sessions, "started": c.started, "completed": c.completed,
                     "failed": len(c.failures),
                     "uncounted": c.started - c.completed - len(c.failures),
                     "seconds_p50": pct(c.sessions_s, 50)},
        "open_sessions_after_ramp": ({"min": min(steady), "median": statistics.median(steady),
                                      "max": max(steady), "samples": len(steady)} if steady else None),
        "transfers": {"verified": verified, "by_kind": dict(c.transfers),
                      "bytes": dict(c.bytes), "latency_p50_ms": 1000 * (pct(c.latencies, 50) or 0),
                      "latency_p99_ms": 1000 * (pct(c.latencies, 99) or 0),
                      "latency_max_ms": 1000 * max(c.latencies, default=0)},
        "rates": {"transfers_per_s": at["transfers"] / secs, "mib_per_s": at["bytes"] / MIB / secs,
                  "sessions_per_s": at["sessions_completed"] / secs,
                  "counted_until_deadline": at},
        "active_data_peers": c.data_peers,
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
        "cpu_ms_per_transfer": {k: round(1000 * v / max(verified, 1), 3) for k, v in cpu.items()},
        "machine_busy_fraction": round(busy, 3),
        "settle_seconds": settle_s,
        "failures": c.failures,
        "samples": samples,
    }


def proxy_log_check(path, offset, load):
    """The worker's own account of the phase: one 'data completed' line per
    verified transfer with the same bytes, one start and one end per session."""
    ops = {"RETR": [0, 0], "STOR": [0, 0]}
    other, started, ended = {}, 0, 0
    with open(path, "rb") as f:
        f.seek(offset)
        for raw in f:
            line = raw.decode("utf-8", "replace")
            m = bench.RELAY_RE.search(line)
            if m:
                if m.group(1) == "completed":
                    ops[m.group(2)][0] += 1
                    ops[m.group(2)][1] += int(m.group(3) if m.group(2) == "RETR" else m.group(4))
                else:
                    other[m.group(1)] = other.get(m.group(1), 0) + 1
            elif " session from " in line:
                started += 1
            elif " session ended: " in line:
                ended += 1
    c = load.count
    client = {op: [sum(n for k, n in c.transfers.items() if k.startswith(op)), c.bytes[op]]
              for op in ops}
    ok = ops == client and not other and started == ended == c.started - connect_failures(c)
    return {"ok": ok, "proxy_completed": ops, "client_verified": client,
            "proxy_other_data_ends": other, "sessions_logged_started": started,
            "sessions_logged_ended": ended, "client_sessions_connected": c.started - connect_failures(c)}


def connect_failures(c):
    return sum(1 for f in c.failures if f["step"] == "connect")


def revision(repo, proxy):
    def git(*args):
        r = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, timeout=30)
        return r.stdout.strip()
    short, full = git("rev-parse", "--short", "HEAD"), git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "src", "CMakeLists.txt", "cmake")
    build_type = "?"
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(proxy))), "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache) as f:
            build_type = next((l.split("=", 1)[1].strip() for l in f
                               if l.startswith("CMAKE_BUILD_TYPE:")), "?")
    return {"rev": "wip" if dirty else short, "rev_full": full + (" + uncommitted changes" if dirty else ""),
            "proxy_binary": proxy, "proxy_build_type": build_type,
            "proxy_binary_mtime": datetime.datetime.fromtimestamp(os.path.getmtime(proxy)).isoformat(
                timespec="seconds"),
            "proxy_version": bench.version([proxy, "--version"])}


def brief(snap):
    return "; ".join(f"{k} {v['fds']} fds, Rss {v['rss_kib']} KiB, Pss {v['pss_kib']} KiB"
                     for k, v in snap.items() if v and "fds" in v) + \
        f"; vsftpd session processes {snap['vsftpd sessions']['processes']}"


def baseline_check(snapshots, a):
    before, after = snapshots["before"], snapshots[list(snapshots)[-1]]
    rows, ok = [], True
    for role, b in before.items():
        if "fds" not in (b or {}):
            continue
        aft = after.get(role) or {}
        row = {"process": role, "judged": role in JUDGED, "before": b, "after": aft,
               "all": {when: snap.get(role) for when, snap in snapshots.items()}}
        row["delta"] = {k: aft.get(k, 0) - b[k] for k in ("fds", "rss_kib", "pss_kib", "pss_anon_kib")}
        row["ok"] = (bool(aft) and row["delta"]["fds"] <= a.fd_tolerance
                     and row["delta"]["rss_kib"] <= a.mem_tolerance_kib
                     and row["delta"]["pss_anon_kib"] <= a.mem_tolerance_kib)
        ok = ok and (row["ok"] or not row["judged"])
        rows.append(row)
    procs = (before["vsftpd sessions"]["processes"], after["vsftpd sessions"]["processes"])
    ok = ok and procs[1] == procs[0]
    return {"ok": ok, "rows": rows, "vsftpd_session_processes": procs, "compared": list(snapshots)[-1],
            "fd_tolerance": a.fd_tolerance, "mem_tolerance_kib": a.mem_tolerance_kib}


def document(s, a):
    phases = s.phases
    ratio = {}
    for name in proxy_phases(a.rounds):
        if "direct" in phases and name in phases:
            d, p = phases["direct"]["rates"], phases[name]["rates"]
            ratio[name] = {k: (p[k] / d[k] if d[k] else None)
                           for k in ("transfers_per_s", "mib_per_s", "sessions_per_s")}
    doc = {"machine": s.machine,
           "settings": {"sessions": a.sessions, "minutes": a.minutes, "direct_minutes": a.direct_minutes,
                        "rounds": a.rounds,
                        "connect_rate": a.connect_rate, "transfers_per_session": a.transfers_range,
                        "files": [[n, size] for n, size, _ in s.catalog.files],
                        "file_weights": s.catalog.weights, "proxy_args": a.proxy_args,
                        "seed": a.seed, "step_timeout_s": soak_client.STEP_TIMEOUT},
           "server_choice": SERVER_CHOICE, "path_check": s.path, "snapshots": s.snapshots,
           "baseline_check": baseline_check(s.snapshots, a), "worker_heap": s.heap, "phases": phases,
           "ratio_to_direct": ratio,
           "proxy_log_kinds": bench.log_summary(s.daemons["ftp-proxy"].log_path)}
    doc["verdict"] = verdict(doc)
    return doc


def verdict(doc):
    """PASS or FAIL, and each reason, from the document's figures alone."""
    phases, base = doc["phases"], doc["baseline_check"]
    problems = []
    for name, ph in phases.items():
        if ph["sessions"]["failed"] or ph["sessions"]["uncounted"]:
            problems.append(f"{name}: {ph['sessions']['failed']} sessions failed, "
                            f"{ph['sessions']['uncounted']} uncounted")
    for r in base["rows"]:
        if r["judged"] and not r["ok"]:
            d = r["delta"]
            problems.append(f"{r['process']} not back to its baseline ({d['fds']:+d} fds, Rss "
                            f"{d['rss_kib']:+d} KiB, Pss {d['pss_kib']:+d} KiB of which anonymous "
                            f"{d['pss_anon_kib']:+d} KiB; allowed "
                            f"{base['fd_tolerance']} fds, {base['mem_tolerance_kib']} KiB)")
    procs = base["vsftpd_session_processes"]
    if procs[1] != procs[0]:
        problems.append(f"vsftpd session processes {procs[0]} before, {procs[1]} after")
    proxied = [ph for ph in phases.values() if "proxy_log" in ph]
    if not all(ph["proxy_log"]["ok"] for ph in proxied):
        problems.append("the worker's log does not account for every transfer and session")
    line = ("PASS: " if not problems else "FAIL: ") + (
        "; ".join(problems) if problems else
        f"{sum(p['sessions']['completed'] for p in proxied)} sessions and "
        f"{sum(p['transfers']['verified'] for p in proxied)} transfers through the proxy verified, "
        "0 failures; descriptors and memory back to baseline")
    return {"ok": not problems, "problems": problems, "line": line}


def render(json_path, notes=()):
    """Re-renders the .md next to a result's .json (verdict recomputed); notes
    given replace the document's analysis notes."""
    with open(json_path) as f:
        doc = json.load(f)
    if notes:
        doc["notes"] = list(notes)
    b = doc["baseline_check"]
    doc["baseline_check"] = baseline_check(doc["snapshots"], argparse.Namespace(
        fd_tolerance=b["fd_tolerance"], mem_tolerance_kib=b["mem_tolerance_kib"]))
    doc["verdict"] = verdict(doc)
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=1)
    with open(json_path[:-5] + ".md", "w") as f:
        f.write(render_md(doc))


def write(doc, a):
    stamp = datetime.date.today().isoformat()
    variant = f"-{a.variant}" if a.variant else ""
    base = os.path.join(a.out, f"{stamp}-{doc['machine']['rev']}-soak{variant}")
    os.makedirs(a.out, exist_ok=True)
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(render_md(doc))
    return base


# ------------------------------------------------------------------ markdown

def n(v, digits=1):
    if v is None:
        return "—"
    if isinstance(v, int):
        return f"{v:,}".replace(",", " ")
    return f"{v:.{digits}f}"


def render_md(doc):
    m, st, ph = doc["machine"], doc["settings"], doc["phases"]
    names = list(ph)
    rounds = st.get("rounds", 1)
    L = [f"# Soak: {st['sessions']} concurrent sessions, {n(st['minutes'])} min"
         f"{f' × {rounds} rounds' if rounds > 1 else ''} through one worker ({m['date'][:10]})\n",
         f"**{doc['verdict']['line']}**\n",
         f"ftpproxy `{m['rev_full']}` ({m['proxy_build_type']}, {m['proxy_version']}), made by "
         f"`bench/soak.py --minutes {st['minutes']:g} --sessions {st['sessions']}"
         f"{' --rounds ' + str(st['rounds']) if st['rounds'] > 1 else ''}`; the method is in "
         "docs/performance.md (Soak).\n",
         "## Machine\n",
         f"* CPU: {m['cpu_model']}, `nproc` {m['nproc']}, {m['mem_gib']} GiB; shared with other "
         f"engineers' builds. Load average {' '.join(m['loadavg_start'])} at start, "
         f"{' '.join(m.get('loadavg_end', ['?']))} at end; the run took {m.get('duration_s', '?')} s",
         f"* Kernel {m['kernel']}, {m['os']}; {m['compiler']}",
         "* sysctl (host; the namespace sets ip_local_port_range 10000 65000): " +
         ", ".join(f"{k}={v}" for k, v in m["sysctl"].items()) + f"; open files {m['nofile_limit']}\n",
         "## Set-up\n",
         doc["server_choice"] + "\n",
         f"Load: {st['sessions']} slots, each opening sessions one after the other (at most "
         f"{st['connect_rate']:g} new control connections per second in all); a session logs in "
         f"anonymously, makes {st['transfers_per_session'][0]}–{st['transfers_per_session'][1]} "
         "transfers and QUITs. Transfers rotate over RETR/STOR × PASV/EPSV/PORT/EPRT; sizes "
         f"{', '.join(str(s) for _, s in st['files'])} bytes (weights {st['file_weights']}). Every "
         "RETR is checked by size and sha256 against the file; every STOR sends a payload unique to "
         "it and the file vsftpd stored is checked by size and sha256, then deleted. A step waits "
         f"{st['step_timeout_s']:g} s at most. Path: vsftpd saw "
         f"{doc['path_check']['vsftpd_peer_through_proxy'][0]} (the proxy's source address) as its "
         "peer, and with pasv_promiscuous=NO/port_promiscuous=NO it takes data connections "
         "only from, and PORT/EPRT only to, that address.\n",
         "## Load and rates\n",
         "Rates count what was verified inside the load window (the drain after it is not counted); "
         "ratio = ftpproxy / direct, measured in the same run (the first round through the proxy; "
         "every round's is in the .json).\n",
         "| figure | " + " | ".join(names) + " | ratio |", "|---" * (len(names) + 2) + "|"]
    ratio = (doc["ratio_to_direct"] or {}).get("ftpproxy", {})

    def row(title, f, key=None, digits=1):
        cells = [f(ph[p]) for p in names]
        r = f"{ratio[key]:.2f}" if key and ratio.get(key) else ""
        L.append(f"| {title} | " + " | ".join(cells) + f" | {r} |")
    row("load window, s (drain after it)", lambda p: f"{n(p['seconds'])} ({n(p['drain_seconds'])})")
    row("sessions started / completed / failed", lambda p: " / ".join(
        n(p["sessions"][k]) for k in ("started", "completed", "failed")))
    row("sessions open after the ramp, min / median / max", lambda p: " / ".join(
        n(p["open_sessions_after_ramp"][k], 0) for k in ("min", "median", "max"))
        if p["open_sessions_after_ramp"] else "—")
    row("transfers verified (all kinds)", lambda p: n(p["transfers"]["verified"]))
    row("bytes verified RETR / STOR, MiB", lambda p: " / ".join(
        n(p["transfers"]["bytes"][k] / MIB, 0) for k in ("RETR", "STOR")))
    row("**transfers/s**", lambda p: f"**{n(p['rates']['transfers_per_s'])}**", "transfers_per_s")
    row("**MiB/s verified**", lambda p: f"**{n(p['rates']['mib_per_s'])}**", "mib_per_s")
    row("sessions completed/s", lambda p: n(p["rates"]["sessions_per_s"], 2), "sessions_per_s")
    row("transfer time p50 / p99 / max, ms", lambda p: " / ".join(
        n(p["transfers"][k], 0) for k in ("latency_p50_ms", "latency_p99_ms", "latency_max_ms")))
    row("CPU s: load generator / ftp-proxy / vsftpd", lambda p: " / ".join(
        n(p["cpu_s"].get(k)) for k in ("client", "proxy", "vsftpd")))
    row("CPU ms per transfer: ftp-proxy", lambda p: n(p["cpu_ms_per_transfer"].get("proxy"), 3))
    row("machine busy (both cores, everyone's)", lambda p: f"{100 * p['machine_busy_fraction']:.0f}%")
    kinds = list(ph[names[-1]]["transfers"]["by_kind"])
    L.append("")
    L.append("Transfers verified by kind: " + "; ".join(
        f"{p}: " + ", ".join(f"{k} {ph[p]['transfers']['by_kind'][k]}" for k in kinds) for p in names) + ".\n")
    L += render_baseline(doc["baseline_check"])
    L += render_heap(doc.get("worker_heap") or {})
    L += render_failures(ph)
    if doc.get("notes"):
        L += ["## Analysis\n"] + [f"* {x}" for x in doc["notes"]] + [""]
    L += ["## The worker's log against the client's count\n"] if any("proxy_log" in p for p in ph.values()) else []
    for name, p in ph.items():
        pl = p.get("proxy_log")
        if not pl:
            continue
        L.append(f"{name}: {'agrees' if pl['ok'] else '**does not agree**'}: 'data completed' lines RETR "
                 f"{pl['proxy_completed']['RETR'][0]} ({pl['proxy_completed']['RETR'][1]} bytes to the "
                 f"client), STOR {pl['proxy_completed']['STOR'][0]} ({pl['proxy_completed']['STOR'][1]} "
                 f"bytes to the server); the client verified RETR {pl['client_verified']['RETR'][0]} "
                 f"({pl['client_verified']['RETR'][1]} bytes), STOR {pl['client_verified']['STOR'][0]} "
                 f"({pl['client_verified']['STOR'][1]} bytes). Sessions logged started "
                 f"{pl['sessions_logged_started']}, ended {pl['sessions_logged_ended']}, connected by "
                 f"the client {pl['client_sessions_connected']}. Other data ends: "
                 f"{pl['proxy_other_data_ends'] or 'none'}.\n")
    L.append("The worker's log over the whole run, lines by kind: " + "; ".join(
        f"{c} × `{k}`" for k, c in list(doc["proxy_log_kinds"].items())[:10]) + "\n")
    L += render_timeline(ph)
    return "\n".join(L) + "\n"


def render_baseline(b):
    L = ["## Descriptors and memory: before the load and after it\n",
         "Taken after the path check (one session of each transfer kind through each target) "
         "and after each phase, once vsftpd had no session process left and the worker's "
         f"descriptors had stopped changing for 2 s. Judged: {', '.join(JUDGED)}; allowed growth "
         f"{b['fd_tolerance']} descriptors and {b['mem_tolerance_kib']} KiB of Rss and of the "
         "anonymous part of Pss. Pss as a whole is shown, not judged: its share of the shared "
         "libraries' pages moves with whatever else maps them on the machine (vsftpd's session "
         "processes, other engineers' programs), by more than a MiB between two readings a "
         "second apart with no load. "
         f"vsftpd session processes: {b['vsftpd_session_processes'][0]} before, "
         f"{b['vsftpd_session_processes'][1]} after.\n",
         "Each cell: " + " → ".join(b["rows"][0]["all"]) + f"; the change is {b['compared']} "
         "against before.\n",
         "| process | fds | Rss KiB | Pss KiB | Pss anonymous KiB | change (fds, Rss, Pss, Pss anon.) | back? |",
         "|---|---|---|---|---|---|---|"]
    for r in b["rows"]:
        def seq(k, r=r):
            return " → ".join(str((x or {}).get(k, "—")) for x in r["all"].values())
        d = r["delta"]
        verdict = ("yes" if r["ok"] else "**no**") if r["judged"] else ("(shown) yes" if r["ok"] else "(shown) no")
        L.append(f"| {r['process']} | {seq('fds')} | {seq('rss_kib')} | {seq('pss_kib')} | "
                 f"{seq('pss_anon_kib')} | {d['fds']:+d}, {d['rss_kib']:+d}, {d['pss_kib']:+d}, "
                 f"{d['pss_anon_kib']:+d} | {verdict} |")
    L.append("")
    return L


def render_heap(heap):
    if not heap:
        return []
    bad = [f"{w}: {p['error']}" for w, p in heap.items() if "error" in p]
    if bad:
        return [f"Worker's heap: not probed ({'; '.join(bad)}).\n"]
    L = ["### The worker's heap (glibc's malloc_stats() through gdb, after each snapshot)\n",
         "| | " + " | ".join(heap) + " |", "|---" * (len(heap) + 1) + "|"]

    def cells(f):
        return " | ".join(f(p) for p in heap.values())
    L.append("| heap in use by the program, KiB | " + cells(lambda p: str(p["heap"]["in_use_kib"])) + " |")
    L.append("| heap taken from the system, KiB | " + cells(lambda p: str(p["heap"]["system_kib"])) + " |")
    L.append("| Boost.Asio's descriptor_state pool: live / free (bytes each) | " + cells(
        lambda p: (f"{p['asio_descriptor_pool']['live']} / {p['asio_descriptor_pool']['free']} "
                   f"({p['asio_descriptor_pool']['sizeof']})") if "asio_descriptor_pool" in p else "—") + " |")
    L.append("| Rss of [heap] / anonymous / files, KiB | " + cells(lambda p: " / ".join(
        str(p["rss_kib_by_mapping"].get(k, 0)) for k in ("[heap]", "anonymous", "file"))) + " |")
    L.append("| after malloc_trim(0): heap taken, Rss of [heap], Rss / Pss, KiB | " + cells(
        lambda p: (f"{p['heap_after_trim']['system_kib']}, {p['rss_kib_by_mapping_after_trim'].get('[heap]', 0)}, "
                   f"{p['rss_kib_after_trim']} / {p['pss_kib_after_trim']}") if "heap_after_trim" in p else "") + " |")
    L.append("")
    L.append("In use is what the worker still holds (a leak grows it round after round); taken from "
             "the system minus in use is free memory glibc keeps in its heap; malloc_trim(0) (only "
             "at the baseline and after the last round) hands whole free pages back, so Rss after it "
             "shows how much of the growth was the allocator's. Boost.Asio's epoll_reactor keeps "
             "the state of every closed socket on a free list for reuse (bench/gdb_asio_pool.py "
             "counts it): after a load it holds one per socket of the busiest moment.\n")
    return L


def render_failures(ph):
    L = ["## Failures\n"]
    for p, r in ph.items():
        fl = r["failures"]
        if not fl:
            L.append(f"* {p}: none ({r['sessions']['completed']} of {r['sessions']['started']} sessions completed).")
            continue
        L.append(f"* {p}: {len(fl)} failed session(s):")
        for f in fl[:50]:
            L.append(f"  * slot {f['slot']} session {f['session']} at {f['at']} s, step {f['step']}: {f['reason']}")
        if len(fl) > 50:
            L.append(f"  * … {len(fl) - 50} more in the .json file")
    L.append("")
    return L


def render_timeline(ph):
    L = ["## Timeline (every ~30 s)\n",
         "| phase | t s | sessions open | transfers | failures | ftp-proxy fds | ftp-proxy Rss KiB | vsftpd processes |",
         "|---|---|---|---|---|---|---|---|"]
    for p, r in ph.items():
        last = -30
        for s in r["samples"]:
            if s["t"] - last >= 30:
                last = s["t"]
                L.append(f"| {p} | {s['t']:.0f} | {s['open_sessions']} | {s['transfers']} | {s['failures']} | "
                         f"{s['proxy_fds']} | {s['proxy_rss_kib']} | {s['vsftpd_processes']} |")
    L.append("")
    return L
