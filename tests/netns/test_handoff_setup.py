"""What ftpproxyd sets up for the session handoff on one node, and when: the
plan waits for the node's own address (retried, status says why), a killed
run's rules are removed by the next run even when the handoff is then off,
and a clean stop leaves nothing. (What the rules do to packets:
test_cluster_vrrp.py, with two nodes and keepalived.)

One namespace with a veth; 198.18.13.0/24 only; removed in a `finally`."""
import json
import os
import signal
import subprocess

import pytest

from ftpx.binaries import FTPPROXYCTL, FTPPROXYD, PROXY_BIN
from ftpx.config_yaml import render_yaml
from ftpx.procs import Proc
from ftpx.wait import wait_until
from topology import delete_namespaces, sh

VIP, SELF, PEER = "198.18.13.1", "198.18.13.11", "198.18.13.12"


@pytest.fixture
def node(tmp_path):
    ns = f"ftpx-handoff-{os.getpid()}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "add", "lan", "type", "veth", "peer", "name", "lan-peer")
        for link in ("lan", "lan-peer"):
            sh("ip", "-n", ns, "link", "set", link, "up")
        yield ns
    finally:
        delete_namespaces([ns])


def write_config(path, run, handoff):
    cluster = {"handoff": {"nodes": [SELF, PEER]}} if handoff else None
    path.write_text(render_yaml(
        {"control_socket": str(run / "control.sock"), "runtime_dir": str(run),
         "worker_binary": str(PROXY_BIN)},
        [{"name": "ftp01", "listen": f"{VIP}:21", "backend": "198.18.13.21:21"}], cluster))


def start(ns, config, tmp_path, name):
    return Proc(name, ["ip", "netns", "exec", ns, FTPPROXYD, "-d", "-f", config],
                tmp_path / f"{name}.log").start()


def handoff_status(run):
    done = subprocess.run([FTPPROXYCTL, "-s", run / "control.sock", "status", "--json"],
                          capture_output=True, text=True, timeout=10)
    return json.loads(done.stdout)["node"]["handoff"] if done.stdout else "no answer"


def leftovers(ns):
    tables = sh("ip", "netns", "exec", ns, "nft", "list", "tables").stdout
    rules = sh("ip", "netns", "exec", ns, "ip", "rule").stdout
    routes = sh("ip", "netns", "exec", ns, "ip", "route", "show", "table", "4650",
                check=False).stdout
    return ([line for line in tables.splitlines() if "ftpproxy_handoff" in line] +
            [line for line in rules.splitlines() if "0x46500001" in line] +
            routes.splitlines())


def test_plan_waits_for_the_address_and_a_killed_run_is_cleaned_up(node, tmp_path):
    run = tmp_path / "run"
    config = tmp_path / "ftpproxy.yaml"
    write_config(config, run, handoff=True)
    first = start(node, config, tmp_path, "first")
    try:
        # No address of the node's is in `nodes` yet: not in place, and why.
        status = wait_until(lambda: (h := handoff_status(run)) not in ("no answer", None)
                            and h["error"] and h, 15, "the handoff's status", proc=first)
        assert status["installed"] is False
        assert status["error"] == (f"none of cluster.handoff.nodes ({SELF}, {PEER}) is an "
                                   "address of this node")
        assert leftovers(node) == []
        text = subprocess.run([FTPPROXYCTL, "-s", run / "control.sock", "status"],
                              capture_output=True, text=True, timeout=10).stdout
        assert f"handoff: NOT IN PLACE: none of cluster.handoff.nodes ({SELF}, {PEER})" in text

        # The LAN address comes up: the next try (every 5 s) installs it.
        sh("ip", "-n", node, "addr", "add", f"{SELF}/24", "dev", "lan")
        status = wait_until(lambda: (h := handoff_status(run))["installed"] and h, 15,
                            "the handoff in place", proc=first)
        assert status["routes"] == [{"vip": VIP, "peer": PEER, "interface": "lan"}]
        assert status["self"] == [SELF] and status["error"] is None
        assert len(leftovers(node)) == 3, leftovers(node)  # the ip table, the rule, the route
        first.p.send_signal(signal.SIGKILL)
        first.p.wait(10)
    finally:
        first.stop(timeout=10)
    assert leftovers(node) != []  # a killed run cannot clean up

    # The next run, with the handoff off, removes what the killed one left.
    write_config(config, run, handoff=False)
    second = start(node, config, tmp_path, "second")
    try:
        wait_until(lambda: leftovers(node) == [], 15, "the leftovers removed", proc=second)
        assert "removed the rules an earlier run left" in second.log_text()
        assert handoff_status(run) is None
    finally:
        second.stop(timeout=10)


def test_a_clean_stop_leaves_nothing(node, tmp_path):
    run = tmp_path / "run"
    config = tmp_path / "ftpproxy.yaml"
    write_config(config, run, handoff=True)
    sh("ip", "-n", node, "addr", "add", f"{SELF}/24", "dev", "lan")
    daemon = start(node, config, tmp_path, "daemon")
    try:
        wait_until(lambda: (h := handoff_status(run)) not in ("no answer", None)
                   and h["installed"], 15, "the handoff in place", proc=daemon)
        assert leftovers(node) != []
        daemon.p.send_signal(signal.SIGTERM)
        assert daemon.p.wait(20) == 0
    finally:
        daemon.stop(timeout=10)
    assert leftovers(node) == []
    assert "handoff: rules removed" in daemon.log_text()
