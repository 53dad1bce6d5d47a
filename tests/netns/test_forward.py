"""Forward (transparent) mode through a real firewall namespace.

client (198.18.1.2) dials the SERVER's address (198.18.2.2:21); the
firewall namespace diverts port 21 to ftp-proxy with nftables `redirect`,
forwards nothing itself, and the worker's nftables backend lets exactly the
expected data connections reach the proxy.
"""
import subprocess
from pathlib import Path

import pytest

from ftpx.digest import sha256_file
from ftpx.servers import PYTHON
from ftpx.wait import wait_until
from topology import ADDR
from world import (DATA_MODE_IDS, DATA_MODES, DATA_TIMEOUT, REDIRECT_WORKER, Probe,
                   check_round_trip, epsv, redirect_world, session_elements)

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with redirect_world(tmp_path_factory.mktemp("fwd"), vsftpd=False) as w:
        yield w


@pytest.mark.parametrize("fam,mode,honour", DATA_MODES, ids=DATA_MODE_IDS)
def test_retr_and_stor_through_the_firewall(world, fam, mode, honour, tmp_path):
    """The file crosses intact both ways; the server only ever saw the
    firewall's outside address; the client saw the server's address, also
    as the source of an active data connection."""
    server = ADDR[fam]["server"]
    check_round_trip(world, fam, server, mode, honour, tmp_path, "up", pasv_addr=server)


def test_curl_ignoring_the_227_address(world):
    topo = world.topo
    out = world.work / "curl.bin"
    done = subprocess.run(topo.cmd("client", "curl", "-sS", "--disable-epsv", "--interface",
                                   ADDR["v4"]["client"], "-v", "-o", str(out),
                                   f"ftp://test:secret@{ADDR['v4']['server']}/pub/big.bin"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "> PASV" in done.stderr
    assert sha256_file(out) == world.sha


def test_direct_connection_to_the_proxy_is_refused(world):
    """Not diverted (dialled the proxy's own port): 421, no loop."""
    code = ("import socket;s=socket.create_connection(('%s',8021),timeout=5,"
            "source_address=('%s',0));print(s.recv(200).decode())"
            % (ADDR["v4"]["fw_lan"], ADDR["v4"]["client"]))
    done = world.topo.run("client", PYTHON, "-c", code)
    assert done.stdout.startswith("421 "), done.stdout


# ------------------------------------------------------------ negative cases

def test_third_host_is_not_let_in_and_the_client_still_is(world):
    probe = Probe(world)
    try:
        port = epsv(probe)
        a = ADDR["v4"]
        assert session_elements(world), "no expectation while a PASV is pending"
        # Short, so the expectation (DATA_TIMEOUT) is still there afterwards.
        thief = probe(f"data {a['server']} {port} {a['thief']} 1")
        assert "error" in thief, f"a third host reached the data port: {thief}"
        assert probe(f"data {a['server']} {port} {a['client']}") == {"connected": True}
        probe("cmd LIST pub")
        assert probe("read")["bytes"] > 0
        assert probe("cmd QUIT")["reply"].startswith("221")
    finally:
        probe.close()
    wait_until(lambda: not session_elements(world), 10, "no state after QUIT")


def test_expired_expectation_lets_nothing_in(world):
    probe = Probe(world)
    try:
        port = epsv(probe)
        wait_until(lambda: not session_elements(world), DATA_TIMEOUT + 5,
                   "the expectation to expire")
        a = ADDR["v4"]
        late = probe(f"data {a['server']} {port} {a['client']}")
        assert "error" in late, f"connected after the expectation expired: {late}"
    finally:
        probe.close()


def test_client_reset_leaves_no_state(world):
    probe = Probe(world)
    try:
        epsv(probe, "v6")
        assert session_elements(world)
        assert probe("reset") == {"reset": True}
        wait_until(lambda: not session_elements(world), 10, "no state after a client RST")
    finally:
        probe.close()


def test_zz_killed_worker_state_is_cleared_by_the_next(world):
    """Runs last: kill -9 leaves the worker's table behind; the next worker
    on the same port removes it at start and serves again."""
    probe = Probe(world)
    epsv(probe)
    assert session_elements(world)
    killed = world.procs["proxy"][0]
    killed.kill()
    killed.wait(timeout=10)
    probe.close()
    stale = world.worker_tables()
    assert stale, "the killed worker's table should still be there"
    # The fixture stops the last worker started: this one.
    world.proxy("proxy2", *REDIRECT_WORKER)
    wait_until(lambda: world.worker_tables() and not set(world.worker_tables()) & set(stale), 10,
               "the new worker to replace the stale table")
    assert not session_elements(world)
    result = world.ftplib("v4", ADDR["v4"]["server"], "EPSV", "retr", "pub/big.bin")
    assert result["sha256"] == world.sha
