"""The node's fitness and its demotion (the cluster layer's input): a node
is fit when every instance runs with a backend that is up; until then, and
whenever that stops being true, ftpproxyd demotes it (here: keepalived's
track file, and the command pair with a recording script); a clean stop
takes the demotion back. The VRRP end to end (keepalived moving the VIP)
is in tests/netns."""
import json
import os
import signal
import subprocess

import harness
from ftpx.binaries import REPO
from ftpx.digest import sha256
from ftpx.net import free_port
from ftpx.wait import wait_until
from harness import LISTEN, SERVER, Backend, PausedDownload, download

FAST = {"interval": "200ms", "timeout": "2s", "rise": 1, "fall": 1}
RECORDER = "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/calls.log\"\n"


def read(path):
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def wait_node(daemon, fit, timeout=20):
    def check():
        node = daemon.status()["node"]
        return node if node["fit"] == fit and node["error"] is None else None
    return wait_until(check, timeout, f"node fit={fit} (log:\n{daemon.log()[-2000:]})")


def track_daemon(make_daemon, workdir, name, **extra):
    """One forward instance (no backend to check), demoted through a
    keepalived track file; returns (daemon, track file path), not started."""
    track = workdir / f"{name}-track"
    daemon = make_daemon([{"name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                           "mode": "forward"}], start=False, **extra)
    daemon.cluster = {"demotion": "keepalived", "track_file": str(track)}
    return daemon, track


def test_keepalived_track_file_follows_the_backends(make_daemon, workdir):
    root = workdir / "cluster-backend" / "ftproot"
    root.mkdir(parents=True, exist_ok=True)
    backend = Backend(root, workdir / "cluster-backend" / "pyftpdlib.log")  # not started yet
    track = workdir / "vrrp-track"
    try:
        daemon = make_daemon([{"name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                               "backend": f"{SERVER}:{backend.port}", "health_check": FAST}],
                             start=False)
        daemon.cluster = {"demotion": "keepalived", "track_file": str(track)}
        daemon.start()

        # Ready-gating: the worker runs, but its only backend is down.
        node = wait_node(daemon, False)
        assert node["reason"] == "ftp01 has no healthy backend"
        assert node["demotion"] == "keepalived" and node["demoted"] is True
        assert read(track) == "1\n"
        status = daemon.ctl("status")
        summary = status.stdout.splitlines()[-1]
        assert "; node: NOT FIT (ftp01 has no healthy backend), demoted (keepalived) " in summary
        # Every instance runs, yet the node cannot serve: not "all well".
        assert status.returncode == 3, status
        assert daemon.ctl("status", "ftp01").returncode == 0  # its state alone

        backend.start()
        node = wait_node(daemon, True)
        assert node["demoted"] is False and node["reason"] is None
        assert read(track) == "0\n"
        status = daemon.ctl("status")
        assert "; node: fit, not demoted (keepalived) " in status.stdout
        assert status.returncode == 0, status

        backend.stop()
        wait_node(daemon, False)
        assert read(track) == "1\n"
        backend.start()
        wait_node(daemon, True)

        # A clean stop demotes while the sessions drain, then takes it back.
        assert daemon.stop() == 0
        assert read(track) == "0\n"
        assert not (daemon.dir / "run" / "demotion.json").exists()
        log = daemon.log()
        assert "node demoted: ftpproxyd is stopping" in log
        assert log.rindex("node promoted") > log.rindex("node demoted: ftpproxyd is stopping")
    finally:
        backend.stop()


def test_command_pair_demotes_when_an_instance_stops_and_not_twice_after_a_kill(
        make_daemon, workdir):
    script = workdir / "carp-stand-in"
    script.write_text(RECORDER)
    os.chmod(script, 0o755)
    calls = workdir / "calls.log"
    daemon = make_daemon([{"name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                           "mode": "forward"}], start=False)
    daemon.cluster = {"demotion": "command", "demote_command": [str(script), "down"],
                      "promote_command": [str(script), "up"]}
    daemon.start()
    wait_node(daemon, True)
    assert read(calls) == "down\nup\n"  # demoted at start until RUNNING

    assert daemon.ctl("stop", "ftp01").returncode == 0
    wait_until(lambda: daemon.status()["node"]["reason"] == "ftp01 is STOPPED", 20,
               "the reason to follow the instance to STOPPED")
    assert read(calls) == "down\nup\ndown\n"
    books = json.loads((daemon.dir / "run" / "demotion.json").read_text())
    assert books == {"undo": {"argv": [str(script), "up"]}}

    # Killed while demoted: the next ftpproxyd does not demote again (CARP
    # counters add up); it takes the old demotion back once fit.
    daemon.proc.kill()
    daemon.proc.wait(10)
    for pid in daemon.worker_pids_from_proc():
        os.kill(pid, 9)
    daemon.start()
    wait_node(daemon, True)
    assert read(calls) == "down\nup\ndown\nup\n"
    assert "demotion left by an earlier run" in daemon.log()


def carp_daemon(make_daemon, workdir, backend, name):
    """One reverse instance on the shared backend, demoted through the
    recording command pair; returns (daemon, calls.log path)."""
    (workdir / name).mkdir(exist_ok=True)  # calls.log next to the script: one per test
    script = workdir / name / "carp"
    script.write_text(RECORDER)
    os.chmod(script, 0o755)
    daemon = make_daemon([{"name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                           "backend": f"{SERVER}:{backend.port}", "health_check": FAST}],
                         start=False)
    daemon.cluster = {"demotion": "command", "demote_command": [str(script), "down"],
                      "promote_command": [str(script), "up"]}
    daemon.start()
    wait_node(daemon, True)
    return daemon, workdir / name / "calls.log"


def test_planned_failover_serves_everyone_until_the_addresses_leave_then_drains(
        make_daemon, workdir, backend):
    daemon, calls = carp_daemon(make_daemon, workdir, backend, "failover")
    port = daemon.port("ftp01")
    result = daemon.ctl("carp-event", "MASTER")  # as keepalived's notify passes it
    assert (result.returncode, result.stdout) == (0, "node: master (was unknown)\n")
    assert "cluster: node is now MASTER (was unknown)" in daemon.log()
    running = PausedDownload(port)
    running.start_and_pause()

    failover = subprocess.Popen(
        [str(harness.FTPPROXYCTL), "-s", daemon.socket, "failover", "--wait", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (read(calls) or "").endswith("down\n"), 20, "the demotion")
        # Still the master: clients arriving now are served here.
        assert download(port, "pub/small.txt") == b"hello through ftpproxyd\n"
        node = daemon.status()["node"]
        assert node["failover"] is not None and node["demoted"] is True
        assert daemon.ctl("carp-event", "backup").returncode == 0
        out, err = failover.communicate(timeout=30)
    finally:
        if failover.poll() is None:
            failover.kill()
    assert failover.returncode == 0, err
    assert out.startswith("demoted (command); role backup after "), out
    assert out.endswith("; 1 instance(s) drain their sessions (at most 60 s); "
                        "`ftpproxyctl failback` serves again\n"), out

    item = daemon.instance_status("ftp01")
    assert item["state"] == "DRAINING" and 0 < item["drain_deadline_in"] <= 60
    assert "(draining: at most " in daemon.ctl("status").stdout
    assert sha256(running.finish()) == sha256(backend.big)  # the running transfer is intact
    daemon.wait_states({"ftp01": "STOPPED"})

    result = daemon.ctl("failback")
    assert result.returncode == 0, result
    assert result.stdout == ("failover undone: 1 instance(s) started; the node is promoted once "
                             "fit\n")
    wait_node(daemon, True)
    wait_until(lambda: read(calls) == "down\nup\ndown\nup\n", 20, "the promotion")
    assert download(port, "pub/small.txt") == b"hello through ftpproxyd\n"


def test_failover_that_cannot_move_the_addresses_keeps_serving(make_daemon, workdir, backend):
    daemon, calls = carp_daemon(make_daemon, workdir, backend, "stuck")
    daemon.ctl("carp-event", "master", "198.18.0.1")
    result = daemon.ctl("failover", "--wait", "1")
    assert result.returncode == 1
    assert result.stderr == ("ftpproxyctl: this node is still master after 1 s: it stays demoted "
                             "and keeps serving; check the peer, or undo with `ftpproxyctl "
                             "failback`\n")
    assert daemon.instance_status("ftp01")["state"] == "RUNNING"
    assert download(daemon.port("ftp01"), "pub/small.txt") == b"hello through ftpproxyd\n"
    assert daemon.status()["node"]["roles"]["198.18.0.1"]["role"] == "master"
    assert daemon.ctl("failback").returncode == 0
    wait_until(lambda: read(calls) == "down\nup\ndown\nup\n", 20, "the promotion")

    bad = daemon.ctl("carp-event", "primary")
    assert bad.returncode == 2 and "carp-event takes a role" in bad.stderr


def test_failover_without_a_demotion_method_is_refused(make_daemon):
    daemon = make_daemon(1)
    result = daemon.ctl("failover")
    assert result.returncode == 1
    assert result.stderr == ("ftpproxyctl: cluster.demotion is none: nothing would tell the "
                             "cluster layer to move the addresses (see docs/carp-failover.md)\n")
    assert daemon.ctl("failback").stderr == ("ftpproxyctl: no failover to undo (see `ftpproxyctl "
                                             "failover`)\n")


def test_the_deploy_hooks_report_roles(make_daemon, workdir):
    """deploy/keepalived/ftpproxy-notify.sh and deploy/ucarp/vip-up.sh,
    vip-down.sh as keepalived and ucarp call them; the ucarp ones also add
    and remove the VIP (here on lo, in the suite's own namespace)."""
    daemon = make_daemon(1)
    ctl = workdir / "ftpproxyctl-here"
    ctl.write_text(f"#!/bin/sh\nexec {harness.FTPPROXYCTL} -s {daemon.socket} \"$@\"\n")
    os.chmod(ctl, 0o755)
    env = dict(os.environ, FTPPROXYCTL=str(ctl))
    deploy = REPO / "deploy"

    def hook(script, *args):
        result = subprocess.run([str(deploy / script), *args], env=env, capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0, result
        return result.stdout

    def roles():
        return {k: v["role"] for k, v in daemon.status()["node"]["roles"].items()}

    assert hook("keepalived/ftpproxy-notify.sh", "INSTANCE", "ftp_vip", "MASTER", "150") == \
        "ftp_vip: master (was unknown)\n"
    assert hook("keepalived/ftpproxy-notify.sh", "INSTANCE", "ftp_vip", "FAULT", "150") == \
        "ftp_vip: fault (was master)\n"
    assert hook("keepalived/ftpproxy-notify.sh", "GROUP", "ftp_group", "MASTER") == \
        "ftp_group: master (was unknown)\n"
    assert roles() == {"ftp_vip": "fault", "ftp_group": "master"}
    assert daemon.status()["node"]["role"] == "mixed"

    vip = "198.18.88.1"
    try:
        assert hook("ucarp/vip-up.sh", "lo", vip) == f"{vip}: master (was unknown)\n"
        assert f"inet {vip}/32" in subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"],
                                                  capture_output=True, text=True).stdout
        assert hook("ucarp/vip-down.sh", "lo", vip) == f"{vip}: backup (was master)\n"
        assert f"inet {vip}/32" not in subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"],
                                                      capture_output=True, text=True).stdout
    finally:
        subprocess.run(["ip", "addr", "del", f"{vip}/32", "dev", "lo"], capture_output=True)
    assert roles()[vip] == "backup"

    # The roles kept are bounded: a hook gone wrong cannot grow them forever.
    for i in range(64 - len(roles())):
        assert daemon.ctl("carp-event", "backup", f"vip{i}").returncode == 0
    refused = daemon.ctl("carp-event", "backup", "one-too-many")
    assert refused.returncode == 1
    assert refused.stderr == ("ftpproxyctl: carp-event: already 64 VIPs or instances reported; "
                              "'one-too-many' is not kept\n")
    assert daemon.ctl("carp-event", "master", vip).returncode == 0  # known ones still change


def test_a_worker_that_stops_answering_makes_the_node_unfit(make_daemon, workdir):
    daemon, track = track_daemon(make_daemon, workdir, "liveness")
    daemon.start()
    wait_node(daemon, True)
    assert read(track) == "0\n"
    pid = daemon.instance_status("ftp01")["pid"]
    harness.stop_process(pid)  # SIGSTOP: the process is there, it serves nobody
    try:
        node = wait_node(daemon, False)
        assert node["reason"] == "ftp01's worker does not answer (UNRESPONSIVE)"
        assert read(track) == "1\n"
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_node(daemon, True)
    assert read(track) == "0\n"
    assert daemon.instance_status("ftp01")["pid"] == pid  # nothing was restarted
    assert f"worker {pid} does not answer its control socket" in daemon.log()


def test_a_worker_crash_restarted_at_once_does_not_demote(make_daemon, workdir):
    """The listening socket stays open across the restart (connections wait
    in its backlog): demoting for that second would move the VIP away and
    back, cutting every session twice (found with keepalived in tests/netns)."""
    daemon, track = track_daemon(make_daemon, workdir, "crash")
    daemon.start()
    wait_node(daemon, True)
    demotions = daemon.log().count("node demoted")
    pid = daemon.instance_status("ftp01")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: daemon.instance_status("ftp01")["pid"] not in (None, pid), 20,
               "a new worker")
    daemon.wait_states({"ftp01": "RUNNING"})
    assert read(track) == "0\n"
    assert daemon.log().count("node demoted") == demotions
    assert "node is not fit" not in daemon.log().split(f"worker {pid} died")[1]


def test_a_restart_after_a_backoff_must_prove_itself(make_daemon, workdir):
    """A worker that served, then dies twice in a row: the restart after the
    BACKOFF delay is STARTING, and the node stays unfit until that worker is
    RUNNING again (before, it counted as serving at once, and a crash loop
    made the node fit for a moment at every restart: the VIP could flap)."""
    daemon, track = track_daemon(make_daemon, workdir, "backoff")
    daemon.start()
    wait_node(daemon, True)
    first = daemon.instance_status("ftp01")["pid"]
    os.kill(first, signal.SIGKILL)
    second = wait_until(lambda: (lambda p: p if p not in (None, first) else None)(
        daemon.instance_status("ftp01")["pid"]), 20, "the restart at once")
    os.kill(second, signal.SIGKILL)
    daemon.wait_states({"ftp01": "BACKOFF"})
    third = wait_until(lambda: (lambda i: i if i["state"] == "STARTING" and i["pid"] not in
                                (None, first, second) else None)(
        daemon.instance_status("ftp01")), 20, "the restart after the delay")
    node = daemon.status()["node"]
    assert node["fit"] is False and node["reason"] == "ftp01 is STARTING", node
    assert read(track) == "1\n"
    daemon.wait_states({"ftp01": "RUNNING"})
    wait_node(daemon, True)
    assert daemon.instance_status("ftp01")["pid"] == third["pid"]
    assert read(track) == "0\n"


def test_a_worker_that_keeps_dying_demotes_the_node(make_daemon, workdir):
    """The path to FATAL (ten failures, minutes of growing delays) goes
    through BACKOFF from the second failure on, and the node is not fit
    from there: demoted long before FATAL (judge_node treats both alike)."""
    dying = workdir / "dying-worker"
    dying.write_text("#!/bin/sh\nexit 1\n")
    os.chmod(dying, 0o755)
    daemon, track = track_daemon(make_daemon, workdir, "dying", worker=dying)
    daemon.start(wait_running=False)
    daemon.wait_states({"ftp01": "BACKOFF"})
    node = daemon.status()["node"]
    assert node["fit"] is False and node["reason"] == "ftp01 is BACKOFF", node
    assert read(track) == "1\n"
