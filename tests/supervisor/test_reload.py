"""Reload (ftpproxyctl reload, SIGHUP): unchanged instances go on, changed
ones get a new worker while the old one drains, a bad file changes nothing,
and the firewall rules follow."""
import ftplib
import os
import signal
import subprocess

import pytest

from ftpx.digest import sha256
from ftpx.net import free_port
from ftpx.wait import wait_until
from harness import LISTEN, PausedDownload, download, login


def test_transfers_survive_a_reload_and_the_changed_instance_has_new_settings(
        make_daemon, backend):
    daemon = make_daemon(2)
    before = {i["name"]: i["pid"] for i in daemon.status()["instances"]}
    unchanged = PausedDownload(daemon.port("ftp01"))
    changed = PausedDownload(daemon.port("ftp02"))
    unchanged.start_and_pause()
    changed.start_and_pause()

    # ftp02: only anonymous logins from now on.
    daemon.instance("ftp02")["anonymous_only"] = True
    daemon.write_config()
    result = daemon.ctl("reload")
    assert result.returncode == 0, result
    assert "  changed:   ftp02 (new workers" in result.stdout
    assert "  unchanged: ftp01\n" in result.stdout
    daemon.notify.wait_for("RELOADING=1")

    status = daemon.status()
    after = {i["name"]: i["pid"] for i in status["instances"]}
    assert after["ftp01"] == before["ftp01"], "an unchanged instance is not touched"
    assert after["ftp02"] != before["ftp02"]
    assert [(w["name"], w["pid"], w["sessions"]) for w in status["old_workers"]] == [
        ("ftp02", before["ftp02"], 1)]
    assert "1 old worker draining (1 session)" in daemon.ctl("status").stdout

    # Both transfers, begun before the reload, end complete and intact.
    assert sha256(unchanged.finish()) == sha256(backend.big)
    assert sha256(changed.finish()) == sha256(backend.big)
    wait_until(lambda: not daemon.status()["old_workers"], 15, "the old ftp02 worker to exit")

    # The new settings hold on ftp02 only.
    with pytest.raises(ftplib.error_perm, match="530"):
        login(daemon.port("ftp02"))
    assert download(daemon.port("ftp02"), path="pub/small.txt", user="anonymous",
                    password="a@b.c") == b"hello through ftpproxyd\n"
    assert download(daemon.port("ftp01"), path="pub/small.txt") == b"hello through ftpproxyd\n"


def test_bad_yaml_keeps_the_old_configuration_and_names_file_line_column(make_daemon):
    daemon = make_daemon(2)
    before = {i["name"]: i["pid"] for i in daemon.status()["instances"]}
    good = daemon.config_path.read_text()
    bad = good.replace("    backend:", "    bakend:", 1)
    assert bad != good
    daemon.write_config(bad)
    line = bad.splitlines().index(next(l for l in bad.splitlines() if "bakend" in l)) + 1

    result = daemon.ctl("reload")
    assert result.returncode == 1
    where = f"{daemon.config_path}:{line}:5:"
    assert f"{where} unknown key 'bakend' (did you mean 'backend'?)" in result.stdout, result
    assert "ftpproxyd keeps running the previous configuration" in result.stderr

    status = daemon.status()
    assert {i["name"]: i["pid"] for i in status["instances"]} == before
    assert all(i["state"] == "RUNNING" for i in status["instances"])
    assert not status["supervisor"]["last_reload"]["ok"]
    assert "last reload (" in daemon.ctl("status").stdout

    # The same through SIGHUP: the error is in the log.
    os.kill(daemon.proc.pid, signal.SIGHUP)
    wait_until(lambda: daemon.log().count(f"reload: {where}") >= 2, 10, "the error in the log")
    assert {i["name"]: i["pid"] for i in daemon.status()["instances"]} == before

    # Fixed, it applies (nothing changed).
    daemon.write_config(good)
    result = daemon.ctl("reload")
    assert result.returncode == 0 and "unchanged: ftp01, ftp02" in result.stdout, result


def test_added_and_removed_instances(make_daemon, backend):
    daemon = make_daemon(2)
    removed_port = daemon.port("ftp02")
    removed_pid = daemon.instance_status("ftp02")["pid"]
    daemon.instances[1] = {"name": "ftp03", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                           "backend": f"127.0.0.4:{backend.port}"}
    daemon.write_config()
    result = daemon.ctl("reload")
    assert result.returncode == 0, result
    assert "  added:     ftp03\n" in result.stdout
    assert "  removed:   ftp02 (their workers" in result.stdout
    daemon.wait_states({"ftp01": "RUNNING", "ftp03": "RUNNING"})
    assert [i["name"] for i in daemon.status()["instances"]] == ["ftp01", "ftp03"]
    wait_until(lambda: not daemon.status()["old_workers"], 15, f"worker {removed_pid} to exit")
    with pytest.raises(ConnectionRefusedError):
        __import__("socket").create_connection((LISTEN, removed_port), timeout=5)
    assert download(daemon.port("ftp03"), path="pub/small.txt") == b"hello through ftpproxyd\n"


def test_a_reload_that_adds_an_instance_on_a_busy_port_says_so_and_exits_1(
        make_daemon, backend):
    """The rest of the reload applies (ftp01 changed); ftp02 cannot bind its
    port: ftpproxyctl reload names it, its address and the error, and
    exits 1. ftpproxyd keeps trying, and serves once the port is free."""
    import socket
    daemon = make_daemon(1)
    old_pid = daemon.instance_status("ftp01")["pid"]
    port = free_port(LISTEN)
    busy = socket.socket()
    try:
        busy.bind((LISTEN, port))
        busy.listen()
        daemon.instances.append({"name": "ftp02", "listen": f"{LISTEN}:{port}",
                                 "backend": f"127.0.0.4:{backend.port}"})
        daemon.instance("ftp01")["idle_timeout"] = "2h"
        daemon.write_config()
        result = daemon.ctl("reload")
        assert result.returncode == 1, result
        assert "  added:     ftp02\n" in result.stdout
        assert "  changed:   ftp01 (new workers" in result.stdout
        error = (f"configuration applied, but ftp02 could not start: cannot listen on "
                 f"{LISTEN}:{port}: bind: Address already in use (now BACKOFF)")
        assert result.stderr == f"ftpproxyctl: {error}\n"
        status = daemon.status()
        states = {i["name"]: (i["state"], i["pid"]) for i in status["instances"]}
        assert states["ftp01"][0] in ("STARTING", "RUNNING") and states["ftp01"][1] != old_pid
        assert states["ftp02"] == ("BACKOFF", None)
        assert status["supervisor"]["last_reload"]["error"] == error
    finally:
        busy.close()
    daemon.wait_states({"ftp01": "RUNNING", "ftp02": "RUNNING"})
    assert download(port, path="pub/small.txt") == b"hello through ftpproxyd\n"
    assert download(daemon.port("ftp01"), path="pub/small.txt") == b"hello through ftpproxyd\n"


def test_a_port_moving_between_instances_keeps_its_socket(make_daemon, backend):
    """ftp02 is removed and ftp03 takes its port in the same reload: the
    socket is handed over, not closed and bound again."""
    daemon = make_daemon(2)
    port = daemon.port("ftp02")
    daemon.instances[1] = {"name": "ftp03", "listen": f"{LISTEN}:{port}",
                           "backend": f"127.0.0.4:{backend.port}"}
    daemon.write_config()
    assert daemon.ctl("reload").returncode == 0
    item = daemon.wait_states({"ftp03": "RUNNING"})["instances"][1]
    assert item["restarts"] == 0 and item["last_exit"] is None, item
    assert download(port, path="pub/small.txt") == b"hello through ftpproxyd\n"


def test_firewall_rules_follow_the_configuration(make_daemon, backend, workdir):
    rules = workdir / "reload-rules.nft"
    daemon = make_daemon(
        [{"name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}", "public": "198.18.0.1:21",
          "backend": f"127.0.0.4:{backend.port}"}],
        firewall="nftables", rules_file=str(rules),
        reload_command=["/usr/sbin/nft", "-f", str(rules)])
    result = daemon.ctl("rules")
    assert result.returncode == 0 and result.stdout == rules.read_text()
    assert "ip daddr 198.18.0.1 tcp dport 21 dnat ip to" in result.stdout
    assert "anchor \"ftp-proxy/*\"" in daemon.ctl("rules", "pf").stdout

    daemon.instance("ftp01")["public"] = "198.18.0.7:2121"
    daemon.write_config()
    result = daemon.ctl("reload")
    assert result.returncode == 0, result
    assert "changed:   ftp01" in result.stdout
    live = subprocess.run(["nft", "list", "table", "inet", "ftpproxy"], capture_output=True,
                          text=True, timeout=10).stdout
    assert "198.18.0.7" in live and "198.18.0.1" not in live

    # A failing reload command is reported, and shown in status.
    daemon.global_settings["reload_command"] = ["/bin/false"]
    daemon.write_config()
    result = daemon.ctl("reload")
    assert result.returncode == 1
    assert "firewall rules were not loaded" in result.stderr
    assert "`/bin/false` failed (exit 1)" in result.stderr
    assert "firewall: nftables FAILED: wrote" in daemon.ctl("status").stdout
