"""Forward (transparent) mode through a real firewall namespace.

client (198.18.1.2) dials the SERVER's address (198.18.2.2:21); the
firewall namespace diverts port 21 to ftp-proxy with nftables `redirect`,
forwards nothing itself, and the worker's nftables backend lets exactly the
expected data connections reach the proxy.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from ftpx.digest import sha256_file
from ftpx.servers import PYFTPD_SERVER
from ftpx.wait import wait_until
from topology import ADDR, Topology
from world import DATA_MODE_IDS, DATA_MODES, PROXY, REDIRECT, assert_data_from

HERE = Path(__file__).resolve().parent
DATA_TIMEOUT = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("fwd")
    topo = Topology()
    procs = []
    try:
        topo.up()
        root = work / "root"
        (root / "pub").mkdir(parents=True)
        os.chmod(root, 0o755)
        big = root / "pub" / "big.bin"
        big.write_bytes(os.urandom(8 * 1024 * 1024))
        sha = sha256_file(big)
        for fam in ("v4", "v6"):
            events = work / f"events-{fam}.jsonl"
            log = open(work / f"server-{fam}.log", "w")
            procs.append(subprocess.Popen(
                topo.cmd("server", "/usr/bin/python3", str(PYFTPD_SERVER), "--host",
                         ADDR[fam]["server"], "--port", "21", "--root", str(root),
                         "--events", str(events)), stdout=log, stderr=log))
        topo.nft("fw", REDIRECT)
        proxy_log = work / "proxy.log"
        proxy = subprocess.Popen(
            topo.cmd("fw", PROXY, "-d", "-D7", "-v", "-b", "::", "-p", "8021",
                     "--firewall", "nftables", "--data-timeout", str(DATA_TIMEOUT)),
            stdout=open(proxy_log, "w"), stderr=subprocess.STDOUT)
        procs.append(proxy)
        listening = lambda role, port: f":{port} " in topo.run(role, "ss", "-ltnH").stdout
        wait_until(lambda: listening("fw", 8021) or proxy.poll() is not None, 10, "the proxy")
        assert proxy.poll() is None, proxy_log.read_text()
        wait_until(lambda: listening("server", 21), 10, "the servers")
        state = {"topo": topo, "work": work, "root": root, "sha": sha, "proxy": proxy,
                 "proxy_log": proxy_log}
        yield state
        # A test may have replaced the worker; the current one must stop cleanly
        # and remove its table.
        procs.append(state["proxy"])
        state["proxy"].terminate()
        assert state["proxy"].wait(timeout=10) == 0, state["proxy_log"].read_text()
        assert not [t for t in topo.run("fw", "nft", "list", "tables").stdout.splitlines()
                    if "ftpproxy_" in t], "the worker left its table behind"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        topo.close()


def server_events(world, fam):
    path = world["work"] / f"events-{fam}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def ftplib_run(world, fam, mode, op, path, honour=False, upload=None):
    topo = world["topo"]
    args = ["/usr/bin/python3", str(HERE / "ftp_client.py"), ADDR[fam]["server"], mode, op, path,
            "--source", ADDR[fam]["client"]]
    if honour:
        args.append("--honour-227")
    if upload:
        args += ["--file", str(upload)]
    done = subprocess.run(topo.cmd("client", *args), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + "\n" + world["proxy_log"].read_text()[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("fam,mode,honour", DATA_MODES, ids=DATA_MODE_IDS)
def test_retr_and_stor_through_the_firewall(world, fam, mode, honour, tmp_path):
    """The file crosses intact both ways; the server only ever saw the
    firewall's outside address; the client saw the server's address, also
    as the source of an active data connection."""
    server = ADDR[fam]["server"]
    result = ftplib_run(world, fam, mode, "retr", "pub/big.bin", honour=honour)
    assert result["sha256"] == world["sha"]
    assert_data_from(result, server)
    if mode == "PASV":
        (verb, reply), = result["replies"]
        assert reply.startswith("227 ") and "198,18,2,2," in reply, reply
    upload = tmp_path / "up.bin"
    upload.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    name = f"pub/up-{fam}-{mode}-{honour}.bin"
    result = ftplib_run(world, fam, mode, "stor", name, upload=upload)
    stored = world["root"] / name
    assert sha256_file(stored) == result["sha256"]
    assert_data_from(result, server)
    peers = {e["peer"][0] if isinstance(e["peer"], list) else e["peer"]
             for e in server_events(world, fam) if "peer" in e}
    assert peers == {ADDR[fam]["fw_wan"]}, peers


def test_curl_ignoring_the_227_address(world):
    topo = world["topo"]
    out = world["work"] / "curl.bin"
    done = subprocess.run(topo.cmd("client", "curl", "-sS", "--disable-epsv", "--interface",
                                   ADDR["v4"]["client"], "-v", "-o", str(out),
                                   f"ftp://test:secret@{ADDR['v4']['server']}/pub/big.bin"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "> PASV" in done.stderr
    assert sha256_file(out) == world["sha"]


def test_direct_connection_to_the_proxy_is_refused(world):
    """Not diverted (dialled the proxy's own port): 421, no loop."""
    topo = world["topo"]
    code = ("import socket;s=socket.create_connection(('%s',8021),timeout=5,"
            "source_address=('%s',0));print(s.recv(200).decode())"
            % (ADDR["v4"]["fw_lan"], ADDR["v4"]["client"]))
    done = topo.run("client", "/usr/bin/python3", "-c", code)
    assert done.stdout.startswith("421 "), done.stdout


# ------------------------------------------------------------ negative cases

class Probe:
    def __init__(self, world):
        self.p = subprocess.Popen(world["topo"].cmd("client", "/usr/bin/python3",
                                                    str(HERE / "probe.py")),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __call__(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def session_elements(world):
    """Per-session elements in the worker's own nftables table(s)."""
    out = world["topo"].run("fw", "nft", "-j", "list", "ruleset").stdout
    elements = []
    for item in json.loads(out)["nftables"]:
        for kind in ("map", "set"):
            obj = item.get(kind)
            if obj and obj["table"].startswith("ftpproxy_") and obj.get("elem"):
                elements += obj["elem"]
    return elements


def worker_tables(world):
    out = world["topo"].run("fw", "nft", "list", "tables").stdout
    return sorted(line.split()[-1] for line in out.splitlines() if "ftpproxy_" in line)


def pasv(probe, fam="v4"):
    a = ADDR[fam]
    assert probe(f"open {a['server']} {a['client']}")["reply"].startswith("220")
    assert probe("cmd USER test")["reply"].startswith("331")
    assert probe("cmd PASS secret")["reply"].startswith("230")
    r = probe("cmd EPSV")["reply"]
    assert r.startswith("229"), r
    return int(r.split("|")[3])


def test_third_host_is_not_let_in_and_the_client_still_is(world):
    probe = Probe(world)
    try:
        port = pasv(probe)
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
        port = pasv(probe)
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
        pasv(probe, "v6")
        assert session_elements(world)
        assert probe("reset") == {"reset": True}
        wait_until(lambda: not session_elements(world), 10, "no state after a client RST")
    finally:
        probe.close()


def test_zz_killed_worker_state_is_cleared_by_the_next(world):
    """Runs last: kill -9 leaves the worker's table behind; the next worker
    on the same port removes it at start and serves again."""
    topo = world["topo"]
    probe = Probe(world)
    pasv(probe)
    assert session_elements(world)
    world["proxy"].kill()
    world["proxy"].wait(timeout=10)
    probe.close()
    stale = worker_tables(world)
    assert stale, "the killed worker's table should still be there"
    log = world["work"] / "proxy2.log"
    world["proxy"] = subprocess.Popen(
        topo.cmd("fw", PROXY, "-d", "-D7", "-v", "-b", "::", "-p", "8021",
                 "--firewall", "nftables", "--data-timeout", str(DATA_TIMEOUT)),
        stdout=open(log, "w"), stderr=subprocess.STDOUT)
    world["proxy_log"] = log
    wait_until(lambda: worker_tables(world) and not set(worker_tables(world)) & set(stale), 10,
               "the new worker to replace the stale table")
    assert not session_elements(world)
    result = ftplib_run(world, "v4", "EPSV", "retr", "pub/big.bin")
    assert result["sha256"] == world["sha"]
