"""The cluster's two small needs: a backup node listens on a VIP it does not
hold yet (free bind), so a takeover needs no restart; and every node shows
the digest of the file it runs, which `check --compare` compares.

The VIP is added to and removed from `lo` of the test's own namespace
(run.sh), in 198.18.0.0/15 only."""
import hashlib
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


def test_config_digest_in_status_and_check_compare(make_daemon, workdir):
    daemon = make_daemon(1)

    def running_digest():
        return daemon.status()["supervisor"]["config_digest"]

    first = running_digest()
    assert first == hashlib.sha256(daemon.config_path.read_bytes()).hexdigest()
    text = daemon.ctl("status").stdout.splitlines()
    assert text[-2] == f"config: {daemon.config_path}, sha256 {first}", text

    same = daemon.ctl("check", "--compare", first)  # the running file, as ftpproxyd names it
    assert same.returncode == 0, same
    assert f"{daemon.config_path}: same as the given digest (sha256 {first})" in same.stdout

    daemon.global_settings["drain_timeout"] = "61s"
    daemon.write_config()
    assert daemon.ctl("reload").returncode == 0
    second = running_digest()
    assert second != first
    assert second == hashlib.sha256(daemon.config_path.read_bytes()).hexdigest()

    stale = daemon.ctl("check", daemon.config_path, "--compare", first)
    assert stale.returncode == 1, stale
    assert (f"{daemon.config_path}: NOT the same as the given digest: sha256 {second} here, "
            f"{first} there") in stale.stdout

    peer = workdir / "peer-ftpproxy.yaml"
    peer.write_bytes(daemon.config_path.read_bytes() + b"# edited on the other node\n")
    other = daemon.ctl("check", daemon.config_path, "--compare", peer)
    assert other.returncode == 1, other
    assert (f"NOT the same as {peer}: sha256 {second} here, "
            f"{hashlib.sha256(peer.read_bytes()).hexdigest()} there") in other.stdout
    peer.write_bytes(daemon.config_path.read_bytes())
    assert daemon.ctl("check", daemon.config_path, "--compare", peer).returncode == 0
