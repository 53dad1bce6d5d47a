"""Forward mode with real clients (curl, lftp) and two real servers
(pyftpdlib, vsftpd) across the namespaces.

The client dials the SERVER's address; the firewall redirects port 21 to
the worker and forwards nothing. Each case downloads and uploads a file
(sha256 on both ends), proves from the client's own transcript (curl -v,
lftp's debug log) that exactly the asked-for data mode was used with its
success reply (curl falls back silently otherwise), and that the server saw
only the firewall's outside address. vsftpd refuses a data connection from
any address but its control peer's, so its transfers also prove the data
went through the worker.
"""
import os

import pytest

from ftpx.clients import CLIENT_MODES, assert_mode_used
from ftpx.digest import sha256_file
from topology import ADDR
from world import SERVER_ADDR, comma_addr, redirect_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with redirect_world(tmp_path_factory.mktemp("clients"), vsftpd=True) as w:
        yield w


CASES = [(client, kind, fam, mode)
         for kind in ("pyftpdlib", "vsftpd")
         for client in ("curl", "lftp")
         for fam in ("v4", "v6")
         for mode in CLIENT_MODES[client][fam]]


@pytest.mark.parametrize("client,kind,fam,mode", CASES,
                         ids=["-".join(c) for c in CASES])
def test_real_client_through_the_firewall(world, client, kind, fam, mode, tmp_path):
    server = ADDR[fam][SERVER_ADDR[kind]]
    who = f"{client} {mode} {fam} -> {kind}"
    got = world.real_client(client, fam, kind, server, mode, "retr", "pub/big.bin", tmp_path)
    assert got["sha256"] == world.sha, who
    tr = got["transcript"]
    assert_mode_used(tr, mode, who)
    assert [r[:4] for r in tr.reply_to("RETR")] == ["226 "], tr.text()
    if mode == "PASV":
        # The worker answers with the server's address: the client (lftp
        # honours the 227, curl ignores it) dials the server.
        (_, reply), = tr.data_setup()
        assert comma_addr(server) in reply, reply

    upload = tmp_path / "up.bin"
    upload.write_bytes(os.urandom(2 * 1024 * 1024 + 13))
    name = f"up-{client}-{fam}-{mode}.bin"
    got = world.real_client(client, fam, kind, server, mode, "stor", f"pub/{name}",
                            tmp_path / "stor", upload=upload)
    tr = got["transcript"]
    assert_mode_used(tr, mode, who + " (upload)")
    assert [r[:4] for r in tr.reply_to("STOR")] == ["226 "], tr.text()
    stored = world.server_root(kind, fam) / "pub" / name
    assert sha256_file(stored) == got["sha256"] == sha256_file(upload)
    assert world.server_peers(kind, fam) == {ADDR[fam]["fw_wan"]}
