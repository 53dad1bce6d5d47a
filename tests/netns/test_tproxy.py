"""Forward mode with nftables `tproxy` instead of `redirect` (the Linux
analogue of pf's divert-to): the control connection keeps the server's
address as its destination and lands on an IP_TRANSPARENT listener
(`ftp-proxy --tproxy`), whose accepted socket's local address is the
original destination. The worker's own nftables backend handles the data
connections as in the redirect variant.

One worker per family: `-b 127.0.0.1` and `-b ::1`, port 8022, with
`tproxy ip to 127.0.0.1:8022` / `tproxy ip6 to [::1]:8022`.
"""
import re

import pytest

from topology import ADDR
from world import DATA_MODE_IDS, DATA_MODES, TPROXY, World, check_round_trip

PORT = 8022
MARK, TABLE = "1", "100"
DIVERT = f"""
table inet ftpx_tproxy {{
    chain prerouting {{
        type filter hook prerouting priority mangle; policy accept;
        iifname "lan" meta nfproto ipv4 tcp dport 21 tproxy ip to 127.0.0.1:{PORT} meta mark set {MARK} accept
        iifname "lan" meta nfproto ipv6 tcp dport 21 tproxy ip6 to [::1]:{PORT} meta mark set {MARK} accept
    }}
}}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("tproxy"))
    try:
        w.up(vsftpd=False)
        w.local_routes(MARK, TABLE)
        w.topo.nft("fw", DIVERT)
        for fam, bind in (("v4", "127.0.0.1"), ("v6", "::1")):
            w.proxy(f"proxy-{fam}", "--tproxy", "-b", bind, "-p", str(PORT),
                    "--firewall", "nftables", "--data-timeout", "5")
            w.wait_listening(f"proxy-{fam}", "fw", bind, PORT)
        yield w
        for fam in ("v4", "v6"):
            w.stop_proxy(f"proxy-{fam}")
        assert not w.worker_tables(), "a worker left its table behind"
    finally:
        w.close()


@pytest.mark.parametrize("fam,mode,honour", DATA_MODES, ids=DATA_MODE_IDS)
def test_retr_and_stor_through_tproxy(world, fam, mode, honour, tmp_path):
    server = ADDR[fam]["server"]
    # A short client timeout: a data connection that never comes fails fast.
    check_round_trip(world, fam, server, mode, honour, tmp_path, "tproxy", pasv_addr=server,
                     timeout=5)


def test_the_worker_saw_the_original_destination(world):
    """The transfers above reached the server only because the worker read
    the server's address off the accepted socket; its log says so."""
    for fam in ("v4", "v6"):
        server = ADDR[fam]["server"]
        dest = f"[{server}]:21" if fam == "v6" else f"{server}:21"
        log = world.log(f"proxy-{fam}", tail=10**7)
        sessions = re.findall(r" session from (\S+) to (\S+)$", log, re.M)
        assert sessions, log[-3000:]
        client = ADDR[fam]["client"]
        mine = [to for frm, to in sessions if frm.startswith((client + ":", f"[{client}]:"))]
        assert mine and set(mine) == {dest}, sessions


def test_a_connection_that_was_not_diverted_gets_421(world):
    """Dialling the transparent listener itself (no tproxy rule matched):
    the local address is the proxy's own, so it refuses."""
    code = ("import socket;s=socket.create_connection(('127.0.0.1',%d),timeout=5);"
            "print(s.recv(200).decode())" % PORT)
    done = world.topo.run("fw", "/usr/bin/python3", "-c", code)
    assert done.stdout.startswith("421 "), done.stdout


def test_the_documented_ruleset_with_one_worker_for_both_families(tmp_path):
    """docs/forward-proxy.md's tproxy example as written (`tproxy to :8021`
    with no address, fwmark 0x21, table 121) and a single `--tproxy -b ::`
    worker serve IPv4 and IPv6 clients."""
    w = World(tmp_path)
    try:
        w.up(vsftpd=False)
        w.local_routes("0x21", "121")
        w.topo.nft("fw", TPROXY)
        w.proxy("proxy", "--tproxy", "-b", "::", "-p", "8021", "--firewall", "nftables",
                "--data-timeout", "5")
        w.wait_listening("proxy", "fw", "::", 8021)
        for fam, mode in (("v4", "PASV"), ("v4", "EPSV"), ("v6", "EPSV")):
            result = w.ftplib(fam, ADDR[fam]["server"], mode, "retr", "pub/big.bin", timeout=5)
            assert result["sha256"] == w.sha, (fam, mode)
            (verb, reply), = result["replies"]
            assert reply[:4] == ("227 " if mode == "PASV" else "229 "), reply
        for fam in ("v4", "v6"):
            assert w.server_peers("pyftpdlib", fam) == {ADDR[fam]["fw_wan"]}
        w.stop_proxy("proxy")
        assert not w.worker_tables(), "the worker left its table behind"
    finally:
        w.close()
