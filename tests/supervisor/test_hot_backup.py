"""A backup node listens on a VIP it does not hold yet (free bind), so a
takeover needs no restart.

The VIP is added to and removed from `lo` of the test's own namespace
(run.sh), in 198.18.0.0/15 only."""
import socket
import subprocess

import pytest

from ftpx.clients import RecFTP
from ftpx.digest import sha256, sha256_retr
from ftpx.net import free_port
from harness import CLIENT, PASSWORD, SERVER, USER

VIP = "198.18.77.1"


def vip(action):
    return subprocess.run(["ip", "addr", action, f"{VIP}/32", "dev", "lo"], capture_output=True,
                          text=True, timeout=10)


@pytest.fixture
def vip_absent():
    """The VIP is not on this host; it is removed again whatever happens."""
    vip("del")
    yield
    vip("del")


def test_listens_on_a_vip_before_holding_it(make_daemon, backend, vip_absent):
    port = free_port(CLIENT)
    daemon = make_daemon([{"name": "vip01", "listen": f"{VIP}:{port}",
                           "backend": f"{SERVER}:{backend.port}"}])
    item = daemon.instance_status("vip01")
    assert (item["state"], item["restarts"], item["last_exit"]) == ("RUNNING", 0, None), item
    with pytest.raises(OSError):  # not held: nobody can reach it yet
        socket.create_connection((VIP, port), timeout=2, source_address=(CLIENT, 0)).close()

    added = vip("add")  # the takeover: same worker, same socket
    assert added.returncode == 0, added.stderr
    ftp = RecFTP(mode="PASV", source=CLIENT)  # goes where the 227 says
    ftp.connect(VIP, port)
    ftp.login(USER, PASSWORD)
    chunks = []
    ftp.retrbinary("RETR pub/small.txt", chunks.append)
    assert b"".join(chunks) == b"hello through ftpproxyd\n"
    assert ftp.pasv_targets[0][0] == VIP, "the proxy's data listener is on the VIP"
    ftp.mode = "EPSV"
    assert sha256_retr(ftp, "pub/big.bin") == sha256(backend.big)
    ftp.quit()
    after = daemon.instance_status("vip01")
    assert (after["state"], after["pid"], after["restarts"]) == ("RUNNING", item["pid"], 0)

