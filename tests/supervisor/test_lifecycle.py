"""ftpproxyd keeps its workers alive: start, kill -9, backoff, stop/start,
drain, restart, SIGTERM. Real workers in front of a real pyftpdlib."""
import os
import signal
import socket

import pytest

from ftpx.binaries import FTPPROXYD
from ftpx.digest import sha256
from ftpx.net import free_port
from ftpx.wait import wait_until
from harness import CLIENT, LISTEN, PausedDownload, download, pid_alive


def test_starts_every_instance_and_serves(make_daemon, backend):
    daemon = make_daemon(2)
    assert "READY=1" in "".join(daemon.notify.messages)
    status = daemon.status()
    assert [i["name"] for i in status["instances"]] == ["ftp01", "ftp02"]
    for name in ("ftp01", "ftp02"):
        item = daemon.instance_status(name)
        assert item["state"] == "RUNNING" and item["pid"] > 0
        assert item["listen"] == daemon.instance(name)["listen"]
        data = download(daemon.port(name))
        assert sha256(data) == sha256(backend.big)
    # The workers answer stats over their control socketpair.
    assert daemon.instance_status("ftp01")["accepted"] >= 1


def test_killed_worker_is_back_and_a_client_that_came_meanwhile_is_served(make_daemon, backend):
    daemon = make_daemon(1)
    port = daemon.port("ftp01")
    old_pid = daemon.instance_status("ftp01")["pid"]

    # Freeze ftpproxyd so the restart cannot happen yet, kill the worker, and
    # connect while no worker exists: the connection waits in the backlog of
    # the socket ftpproxyd holds, instead of being refused.
    os.kill(daemon.proc.pid, signal.SIGSTOP)
    try:
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(old_pid), 10, "the worker to die")
        early = socket.create_connection((LISTEN, port), timeout=10, source_address=(CLIENT, 0))
    finally:
        os.kill(daemon.proc.pid, signal.SIGCONT)
    try:
        early.settimeout(20)
        banner = early.recv(1024)
        assert banner.startswith(b"220"), banner
    finally:
        early.close()

    item = daemon.instance_status("ftp01")
    assert item["pid"] != old_pid
    assert item["restarts"] == 1
    assert item["last_exit"]["reason"] == "killed by SIGKILL"
    assert sha256(download(port)) == sha256(backend.big)

    # Again, without freezing: serving at once.
    second_pid = item["pid"]
    os.kill(second_pid, signal.SIGKILL)
    assert sha256(download(port, path="pub/small.txt")) == sha256(b"hello through ftpproxyd\n")
    item = daemon.wait_states({"ftp01": "RUNNING"})["instances"][0]
    assert item["pid"] not in (old_pid, second_pid)
    assert item["restarts"] == 2


@pytest.mark.parametrize("worker, reason", [
    ("/bin/false", "exit 1"),
    ("/nonexistent/ftp-proxy", "cannot run /nonexistent/ftp-proxy: No such file or directory"),
])
def test_a_worker_that_keeps_dying_backs_off(make_daemon, worker, reason):
    daemon = make_daemon(1, start=False, worker=worker)
    daemon.start(wait_running=False)
    # At once, then 1 s later: two restarts are done within a few seconds.
    item = wait_until(lambda: (lambda i: i if i["restarts"] >= 2 else None)(
        daemon.instance_status("ftp01")), 15, "two restarts")
    assert item["state"] == "BACKOFF", item
    assert item["last_exit"]["reason"] == reason
    result = daemon.ctl("status")
    assert result.returncode == 3, result
    assert "BACKOFF" in result.stdout and reason in result.stdout
    assert "1 instance: 1 backoff" in result.stdout
    # stop ends the backoff.
    assert daemon.ctl("stop", "ftp01").returncode == 0
    assert daemon.instance_status("ftp01")["state"] == "STOPPED"


def test_a_worker_whose_backend_does_not_resolve_says_so(make_daemon):
    """The worker's exit code names the cause (68), and status says it in
    words: not the firewall's failure (69)."""
    daemon = make_daemon([{"name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                           "backend": "no-such-host.invalid"}], start=False)
    daemon.start(wait_running=False)
    item = wait_until(lambda: (lambda i: i if i["restarts"] >= 1 else None)(
        daemon.instance_status("ftp01")), 15, "a failed start")
    assert item["last_exit"]["reason"] == "exit 68 (backend name unresolvable)", item
    assert "-R: cannot resolve \"no-such-host.invalid\"" in daemon.log()


def test_stop_start_restart(make_daemon, backend):
    daemon = make_daemon(2)
    port = daemon.port("ftp01")
    pid = daemon.instance_status("ftp01")["pid"]

    result = daemon.ctl("stop", "ftp01")
    assert result.returncode == 0, result
    assert result.stdout == f"ftp01: stopping: worker {pid} closes its sessions (421) and exits\n"
    daemon.wait_states({"ftp01": "STOPPED", "ftp02": "RUNNING"})
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((LISTEN, port), timeout=5)
    assert daemon.ctl("status").returncode == 3
    assert daemon.ctl("stop", "ftp01").stdout == "ftp01: already stopped\n"

    result = daemon.ctl("start", "all")
    assert result.returncode == 0, result
    assert "ftp01: started (pid " in result.stdout
    assert "ftp02: already running" in result.stdout
    daemon.wait_states({"ftp01": "RUNNING"})
    assert sha256(download(port, path="pub/small.txt")) == sha256(b"hello through ftpproxyd\n")

    # restart: a new worker at once, the old one finishes its session.
    transfer = PausedDownload(port)
    transfer.start_and_pause()
    old = daemon.instance_status("ftp01")["pid"]
    result = daemon.ctl("restart", "ftp01")
    assert result.returncode == 0, result
    new = daemon.instance_status("ftp01")["pid"]
    assert new != old and f"new worker {new}; the old worker {old} finishes" in result.stdout
    assert [w["pid"] for w in daemon.status()["old_workers"]] == [old]
    assert sha256(transfer.finish()) == sha256(backend.big)
    wait_until(lambda: not daemon.status()["old_workers"], 15, "the old worker to exit")


def paused_download(make_daemon):
    """One instance with one download paused in the middle:
    (daemon, port, transfer, worker pid)."""
    daemon = make_daemon(1)
    port = daemon.port("ftp01")
    transfer = PausedDownload(port)
    transfer.start_and_pause()
    pid = daemon.instance_status("ftp01")["pid"]
    wait_until(lambda: daemon.instance_status("ftp01")["sessions"] == 1, 10, "1 session")
    return daemon, port, transfer, pid


def test_drain_lets_sessions_finish_and_refuses_new_ones(make_daemon, backend):
    daemon, port, transfer, pid = paused_download(make_daemon)

    result = daemon.ctl("drain", "ftp01")
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"ftp01: draining: worker {pid} accepts no new connections")
    item = daemon.instance_status("ftp01")
    assert item["state"] == "DRAINING" and item["sessions"] == 1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((LISTEN, port), timeout=5)
    assert sha256(transfer.finish()) == sha256(backend.big)
    daemon.wait_states({"ftp01": "STOPPED"})
    assert daemon.instance_status("ftp01")["last_exit"]["reason"] == "exit 0"


def test_a_drain_is_bounded_by_drain_timeout(make_daemon, backend):
    daemon = make_daemon(1, drain_timeout="1s")
    transfer = PausedDownload(daemon.port("ftp01"))
    transfer.start_and_pause()
    assert daemon.ctl("drain", "ftp01").returncode == 0
    # 1 s of drain, then SIGTERM: the session gets 421 (the worker gives a
    # client that does not read 5 s to take it), then the worker exits.
    daemon.wait_states({"ftp01": "STOPPED"}, timeout=15)
    assert "still has sessions after the drain timeout: closing them" in daemon.log()
    transfer.release()
    transfer.join(30)
    assert transfer.error is not None or len(transfer.data) < len(backend.big)


def test_sigterm_drains_then_removes_what_it_created(make_daemon, backend, workdir):
    rules = workdir / "sigterm-rules.nft"
    daemon = make_daemon([{
        "name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}",
        "public": "198.18.0.1:21", "backend": f"127.0.0.4:{backend.port}"}],
        firewall="nftables", rules_file=str(rules),
        reload_command=["/usr/sbin/nft", "-f", str(rules)])
    assert "198.18.0.1" in __import__("subprocess").run(
        ["nft", "list", "table", "inet", "ftpproxy"], capture_output=True, text=True).stdout
    port = daemon.port("ftp01")
    transfer = PausedDownload(port)
    transfer.start_and_pause()
    worker = daemon.instance_status("ftp01")["pid"]

    daemon.proc.send_signal(signal.SIGTERM)
    daemon.notify.wait_for("STOPPING=1")
    wait_until(lambda: not daemon.status()["instances"], 10, "the instances to be retired")
    assert daemon.proc.poll() is None, "ftpproxyd must wait for the session"
    assert [w["pid"] for w in daemon.status()["old_workers"]] == [worker]

    assert sha256(transfer.finish()) == sha256(backend.big)
    assert daemon.proc.wait(20) == 0
    assert not pid_alive(worker)
    assert not os.path.exists(daemon.socket)
    assert not os.path.exists(os.path.dirname(daemon.socket)), "runtime_dir it created"
    listed = __import__("subprocess").run(["nft", "list", "tables"], capture_output=True, text=True)
    assert "ftpproxy" not in listed.stdout


def test_workers_of_a_killed_supervisor_drain_and_free_their_ports(make_daemon, backend):
    """ftpproxyd killed with SIGKILL outside systemd: its workers finish the
    sessions they have, stop listening at once, and exit; a new ftpproxyd on
    the same configuration binds the same ports and serves."""
    daemon, port, transfer, worker = paused_download(make_daemon)

    daemon.proc.kill()
    daemon.proc.wait(10)

    def refused():
        try:
            socket.create_connection((LISTEN, port), timeout=2).close()
            return False
        except ConnectionRefusedError:
            return True
    wait_until(refused, 10, "the orphaned worker to close its listener")
    assert pid_alive(worker), "the worker must keep its running session"
    assert sha256(transfer.finish()) == sha256(backend.big)
    wait_until(lambda: not pid_alive(worker), 10, "the orphaned worker to exit")

    daemon.start()
    assert daemon.instance_status("ftp01")["pid"] != worker
    assert sha256(download(port)) == sha256(backend.big)


def test_second_daemon_on_the_same_socket_is_refused(make_daemon):
    daemon = make_daemon(1)
    result = __import__("subprocess").run(
        [str(FTPPROXYD), "-d", "-f", str(daemon.config_path)],
        capture_output=True, text=True, timeout=20)
    assert result.returncode == 71
    assert f"another ftpproxyd is already running on {daemon.socket}" in result.stderr
    assert daemon.ctl("status").returncode == 0
