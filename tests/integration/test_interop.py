"""Interop matrix: server x client x data mode x address family.

Ids read like the matrix: `vsftpd-lftp-EPSV-v6`, `pyftpdlib-curl-PORT-v4-to-v6`
(client on IPv4 in front of an IPv6 server: the proxy translates).
"""
import pytest

from ftpx.checks import assert_server_saw, expected_server_verbs
from ftpx.clients import CLIENT_MODES, PASSIVE, assert_mode_used
from ftpx.digest import sha256_file
from ftpx.scenario import RUNNERS

SERVERS = ("pyftpdlib", "vsftpd")
# (client family, server family, id suffix)
FAMILIES = (("v4", "v4", "v4"), ("v6", "v6", "v6"),
            ("v6", "v4", "v6-to-v4"), ("v4", "v6", "v4-to-v6"))


def matrix():
    for server in SERVERS:
        for client, modes_by_family in CLIENT_MODES.items():
            for cfam, sfam, fid in FAMILIES:
                for mode in modes_by_family[cfam]:
                    yield pytest.param(server, client, mode, cfam, sfam,
                                       id=f"{server}-{client}-{mode}-{fid}")


@pytest.mark.parametrize("server,client,mode,cfam,sfam", list(matrix()))
def test_interop(server, client, mode, cfam, sfam, make_route, big, logdir, diag):
    route = make_route(server, cfam, sfam)
    srv = route.server
    tag = f"{client}-{mode}-{cfam}{sfam}"
    mark = srv.mark()
    holder = {}
    diag.append(lambda: ("client transcript", holder["res"].transcript_text() if "res" in holder else ""))
    diag.append(lambda: ("route", route.describe()))

    def check_stored(res):
        holder["res"] = res
        for name, want in res.stored:
            p = srv.pub / name
            assert p.exists(), f"{name} not on the server's disk"
            assert sha256_file(p) == want, f"{name}: sha256 on the server differs"

    res = RUNNERS[client](route, mode, big, logdir, tag, check_stored)
    holder["res"] = res

    # content
    assert "big.bin" in res.listing, f"LIST does not name big.bin:\n{res.listing}"
    if srv.has_mlsd:
        assert "big.bin" in res.mlsd, f"MLSD does not name big.bin: {res.mlsd}"
    assert res.retr_sha == big.sha, "RETR: sha256 differs"
    assert res.size_reply == f"213 {big.size}", f"SIZE: {res.size_reply!r}"
    assert res.rest_replies and all(r.startswith("350") for r in res.rest_replies), \
        f"REST: {res.rest_replies}"
    assert res.resume_sha == big.sha, "REST resume: sha256 of the whole differs"
    if client != "lftp":
        assert res.appe_replies and res.appe_replies[0].startswith("226"), f"APPE: {res.appe_replies}"
    assert len(res.dele_replies) == len(res.stored) and \
        all(r.startswith("250") for r in res.dele_replies), f"DELE: {res.dele_replies}"
    for name, _ in res.stored:
        assert not (srv.pub / name).exists(), f"{name} still on the server after DELE"

    # the mode really used, on the client's side
    for i, tr in enumerate(res.transcripts):
        if tr.data_setup():
            assert_mode_used(tr, mode, f"{client} session {i}")
    if mode == "PASV" and client in ("ftplib", "lftp"):
        # these clients honour the 227 address: it must be where the client
        # is allowed to go (the proxy's listen address when proxied)
        assert res.pasv_hosts, "no passive data connection recorded"
        assert set(res.pasv_hosts) == {route.host}, \
            f"227 sent the client to {sorted(set(res.pasv_hosts))}, want {route.host}"
    if client == "ftplib" and mode not in PASSIVE:
        assert res.active_peers and set(res.active_peers) == {route.host}, \
            f"active data connections came from {res.active_peers}, want {route.host}"

    # what the server saw
    seen = srv.seen_since(mark)
    assert_server_saw(route, seen, expected_server_verbs(route, mode))


def pasv_v6_cases():
    for server in SERVERS:
        for sfam, fid in (("v6", "v6"), ("v4", "v6-to-v4")):
            yield pytest.param(server, sfam, id=f"{server}-ftplib-PASV-{fid}")


@pytest.mark.proxy_only
@pytest.mark.parametrize("server,sfam", list(pasv_v6_cases()))
def test_pasv_over_ipv6_refused(server, sfam, make_route):
    """227 cannot carry an IPv6 address: the proxy answers 425, and EPSV
    still works in the same session."""
    import ftplib
    from ftpx.clients import ftplib_connect
    route = make_route(server, "v6", sfam)
    f = ftplib_connect(route, "PASV")
    try:
        with pytest.raises(ftplib.error_temp) as ei:
            f.sendcmd("PASV")
        assert str(ei.value) == "425 PASV cannot describe an IPv6 address; use EPSV."
        f.mode = "EPSV"
        lines = []
        f.retrlines("LIST pub", lines.append)
        assert any("big.bin" in l for l in lines)
        f.quit()
    finally:
        f.close()
