"""Reverse mode (-R) across the namespaces: the worker listens on the
firewall's LAN address, the client dials the FIREWALL's address, nothing is
diverted and nothing is forwarded. On loopback a data connection that
skipped the proxy would still arrive; here it cannot (the client has no
route that the firewall forwards), so every transfer below went through the
worker. One worker per family (-R takes one address).
"""
import os

import pytest

from ftpx.clients import assert_mode_used
from ftpx.digest import sha256_file
from topology import ADDR
from world import DATA_MODE_IDS, DATA_MODES, World, check_round_trip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("reverse"))
    try:
        w.up(vsftpd=True)
        for fam in ("v4", "v6"):
            w.proxy(f"proxy-{fam}", "-b", ADDR[fam]["fw_lan"], "-p", "21",
                    "-R", ADDR[fam]["server"], "-P", "21", "--data-timeout", "5")
            w.proxy(f"proxy-vsftpd-{fam}", "-b", ADDR[fam]["fw_lan"], "-p", "2121",
                    "-R", ADDR[fam]["server2"], "-P", "21", "--data-timeout", "5")
        for fam in ("v4", "v6"):
            w.wait_listening(f"proxy-{fam}", "fw", ADDR[fam]["fw_lan"], 21)
            w.wait_listening(f"proxy-vsftpd-{fam}", "fw", ADDR[fam]["fw_lan"], 2121)
        # The premise: the firewall really forwards nothing.
        assert w.topo.run("fw", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"
        yield w
        for name in [n for n in w.procs if n.startswith("proxy")]:
            w.stop_proxy(name)
    finally:
        w.close()


@pytest.mark.parametrize("fam,mode,honour", DATA_MODES, ids=DATA_MODE_IDS)
def test_retr_and_stor_in_reverse_mode(world, fam, mode, honour, tmp_path):
    # Reverse mode announces the proxy's own (LAN) address in a 227.
    fw = ADDR[fam]["fw_lan"]
    check_round_trip(world, fam, fw, mode, honour, tmp_path, "reverse", pasv_addr=fw)


# curl against vsftpd through the reverse worker on port 2121: a real client,
# its mode proven from its -v output, and a server that refuses data
# connections from anyone but its control peer (the firewall's WAN address).
CURL_CASES = [("v4", m) for m in ("PASV", "EPSV", "PORT", "EPRT")] + \
             [("v6", m) for m in ("EPSV", "EPRT")]


@pytest.mark.parametrize("fam,mode", CURL_CASES, ids=[f"{m}-{f}" for f, m in CURL_CASES])
def test_curl_to_vsftpd_in_reverse_mode(world, fam, mode, tmp_path):
    fw = ADDR[fam]["fw_lan"]
    got = world.real_client("curl", fam, "vsftpd", fw, mode, "retr", "pub/big.bin", tmp_path,
                            port=2121)
    assert got["sha256"] == world.sha
    tr = got["transcript"]
    assert_mode_used(tr, mode, f"curl {mode} {fam} reverse")
    assert [r[:4] for r in tr.reply_to("RETR")] == ["226 "], tr.text()
    upload = tmp_path / "up.bin"
    upload.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    name = f"reverse-curl-{fam}-{mode}.bin"
    got = world.real_client("curl", fam, "vsftpd", fw, mode, "stor", f"pub/{name}",
                            tmp_path / "stor", upload=upload, port=2121)
    assert_mode_used(got["transcript"], mode, f"curl {mode} {fam} reverse (upload)")
    assert [r[:4] for r in got["transcript"].reply_to("STOR")] == ["226 "]
    assert sha256_file(world.server_root("vsftpd", fam) / "pub" / name) == sha256_file(upload)
    assert world.server_peers("vsftpd", fam) == {ADDR[fam]["fw_wan"]}
