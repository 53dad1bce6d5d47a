"""The node's fitness and its demotion (the cluster layer's input): a node
is fit when every instance runs with a backend that is up; until then, and
whenever that stops being true, ftpproxyd demotes it (here: keepalived's
track file, and the command pair with a recording script); a clean stop
takes the demotion back. The VRRP end to end (keepalived moving the VIP)
is in tests/netns."""
import json
import os

from ftpx.net import free_port
from ftpx.wait import wait_until
from harness import LISTEN, SERVER, Backend

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
        summary = daemon.ctl("status").stdout.splitlines()[-1]
        assert "; node: NOT FIT (ftp01 has no healthy backend), demoted (keepalived) " in summary

        backend.start()
        node = wait_node(daemon, True)
        assert node["demoted"] is False and node["reason"] is None
        assert read(track) == "0\n"
        assert "; node: fit, not demoted (keepalived) " in daemon.ctl("status").stdout

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
