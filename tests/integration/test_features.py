"""Proxy features beyond the matrix: --passive-to-server, --relay,
pipelining, multi-line replies, FEAT filtering of TLS, ABOR."""
import re
import shutil
import socket
import subprocess
import sys

import pytest

from ftpx import net
from ftpx.checks import assert_server_saw, expected_server_verbs
from ftpx.clients import assert_mode_used, ftplib_connect, run_lftp
from ftpx.ftpraw import Raw, parse_227, parse_229, recv_all
from ftpx.digest import sha256_file, sha256_retr
from ftpx.scenario import RUNNERS

TLS_VERBS = ("AUTH", "PBSZ", "PROT", "CCC", "ADAT", "CONF", "ENC", "MIC")


def raw_route(route, timeout=10.0):
    r = Raw(route.host, route.port, route.client_addr, timeout=timeout)
    r.banner()
    return r


# ------------------------------------------------------------ --passive-to-server

def pts_cases():
    for server in ("pyftpdlib", "vsftpd"):
        for client, mode, cfam, sfam, fid in (
                ("ftplib", "PORT", "v4", "v4", "v4"),
                ("ftplib", "EPRT", "v6", "v6", "v6"),
                ("curl", "PORT", "v4", "v4", "v4"),
                ("lftp", "PORT", "v4", "v4", "v4"),
                ("ftplib", "EPRT", "v6", "v4", "v6-to-v4"),
                ("ftplib", "PORT", "v4", "v6", "v4-to-v6")):
            yield pytest.param(server, client, mode, cfam, sfam,
                               id=f"{server}-{client}-{mode}-{fid}")


@pytest.mark.proxy_only
@pytest.mark.parametrize("server,client,mode,cfam,sfam", list(pts_cases()))
def test_passive_to_server(server, client, mode, cfam, sfam, make_route, big, logdir, diag):
    """An active-mode client works while the server only ever sees PASV/EPSV."""
    route = make_route(server, cfam, sfam, extra=["--passive-to-server"])
    srv = route.server
    mark = srv.mark()

    def check_stored(res):
        for name, want in res.stored:
            assert sha256_file(srv.pub / name) == want, f"{name}: sha256 on the server differs"

    res = RUNNERS[client](route, mode, big, logdir, f"pts-{client}-{mode}-{cfam}{sfam}",
                          check_stored)
    diag.append(lambda: ("client transcript", res.transcript_text()))
    assert res.retr_sha == big.sha and res.resume_sha == big.sha
    for tr in res.transcripts:
        if tr.data_setup():
            assert_mode_used(tr, mode, client)
            if mode == "PORT":
                assert set(tr.reply_to("PORT")) == {"200 PORT command successful."}
    seen = srv.seen_since(mark)
    assert_server_saw(route, seen, expected_server_verbs(route, mode, passive_to_server=True))
    assert not {"PORT", "EPRT"} & set(seen.data_setup_verbs())


# ------------------------------------------------------------ --relay

RELAY_LINE = re.compile(r"data completed: (RETR|STOR|APPE|LIST|NLST|MLSD)\b.*"
                        r", (\d+) bytes to client, (\d+) bytes to server, [\d.]+ s, relay (\S+)")


@pytest.mark.proxy_only
@pytest.mark.parametrize("relay", ["splice", "copy"])
@pytest.mark.parametrize("server,mode,cfam,sfam", [
    ("pyftpdlib", "EPSV", "v4", "v4"), ("vsftpd", "PORT", "v4", "v4"),
    ("vsftpd", "EPRT", "v6", "v6"), ("pyftpdlib", "EPSV", "v6", "v4")])
def test_relay_kinds(relay, server, mode, cfam, sfam, make_route, big, logdir, diag):
    """Both relays (splice through a pipe, and the read/write loop that is the
    fallback) move every byte both ways, and the log names the one used."""
    # A small pipe makes the splice relay go round its loop many times.
    extra = ["--relay", relay] + (["--relay-pipe-size", "16384"] if relay == "splice" else [])
    route = make_route(server, cfam, sfam, extra=extra)
    srv = route.server

    def check_stored(res):
        for name, want in res.stored:
            assert sha256_file(srv.pub / name) == want, f"{name}: sha256 on the server differs"

    res = RUNNERS["ftplib"](route, mode, big, logdir, f"relay-{relay}-{mode}-{cfam}{sfam}",
                            check_stored)
    diag.append(lambda: ("client transcript", res.transcript_text()))
    assert res.retr_sha == big.sha and res.resume_sha == big.sha
    lines = RELAY_LINE.findall(route.proxy.stderr_text())
    assert any(verb == "RETR" and int(to_client) == big.size
               for verb, to_client, _, _ in lines), f"no whole RETR in the log: {lines}"
    assert any(verb == "STOR" and int(to_server) == big.size
               for verb, _, to_server, _ in lines), f"no whole STOR in the log: {lines}"
    assert {kind for *_, kind in lines} == {"read/write" if relay == "copy" else "splice"}, lines


PIPE_HOG = r"""
import fcntl, os, sys
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
pipes, size = [], 1 << 20
# Fill the user's budget to the brim: big pipes first, then smaller ones.
while size >= 4096 and len(pipes) < 400:
    r, w = os.pipe()
    pipes.append((r, w))
    if fcntl.fcntl(w, F_GETPIPE_SZ) < 65536:
        break                      # over the soft limit: new pipes get two pages
    try:
        fcntl.fcntl(w, F_SETPIPE_SZ, size)
    except PermissionError:
        size //= 2
r, w = os.pipe()
print(len(pipes), fcntl.fcntl(w, F_GETPIPE_SZ), flush=True)
sys.stdin.read()                   # hold them until the test lets go
"""


@pytest.mark.proxy_only
def test_relay_without_pipe_budget(make_route, big, logdir, diag):
    """When the worker's user has no pipe budget left (fs.pipe-user-pages-soft),
    the kernel gives two-page pipes: the relay says so once and moves the data
    with read/write instead, and every byte still arrives."""
    route = make_route("pyftpdlib", "v4", "v4")
    user = "_ftp_proxy"  # the worker drops to it (ftp-proxy --user default)
    hog = subprocess.Popen([sys.executable, "-c", PIPE_HOG], user=user, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        held, new_pipe = map(int, hog.stdout.readline().split())
        assert new_pipe < 65536, \
            f"the pipe budget of {user} is not used up ({held} pipes held, a new one has {new_pipe} bytes)"

        def check_stored(res):
            for name, want in res.stored:
                assert sha256_file(route.server.pub / name) == want, f"{name}: sha256 differs"

        res = RUNNERS["ftplib"](route, "EPSV", big, logdir, "relay-no-budget", check_stored)
        diag.append(lambda: ("client transcript", res.transcript_text()))
        assert res.retr_sha == big.sha and res.resume_sha == big.sha
    finally:
        hog.stdin.close()
        hog.wait(timeout=10)
    text = route.proxy.stderr_text()
    lines = RELAY_LINE.findall(text)
    assert any(verb == "RETR" and int(to_client) == big.size for verb, to_client, _, _ in lines)
    assert {kind for *_, kind in lines} == {"read/write"}, lines
    warnings = [line for line in text.splitlines()
                if " warning: relay pipe has " in line and "fs.pipe-user-pages-soft" in line]
    assert len(warnings) == 1, f"one small-pipe warning per worker, not {warnings}"


# ------------------------------------------------------------ long reply lines

@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
def test_long_reply_lines_whole(server, make_route):
    """Reply lines longer than the proxy's initial reply buffer (1 KiB; it
    grows toward the 8 KiB limit) arrive byte for byte: PWD inside a deep
    directory, compared with the server's own answer."""
    route = make_route(server, "v4")
    srv = route.server
    parts = [f"{i:02d}" + "d" * 198 for i in range(14)]   # 14 x 200 bytes: about 2.8 KiB
    deep = srv.pub.joinpath(*parts)
    deep.mkdir(parents=True, exist_ok=True)
    try:
        # One component per CWD: a command line is limited (1024 bytes).
        with Raw(srv.addr, srv.port, net.ADDR["v4"]["client"]) as d:   # the server itself
            d.banner()
            d.login(srv.user, srv.password)
            assert all(d.cmd("CWD " + p).code == 250 for p in ["pub"] + parts)
            want = d.cmd("PWD")
        assert want.code == 257 and len(want.lines[0]) > 2048, want.lines
        with raw_route(route) as r:
            r.login(srv.user, srv.password)
            assert all(r.cmd("CWD " + p).code == 250 for p in ["pub"] + parts)
            got = r.cmd("PWD")
            assert got.lines == want.lines
            assert r.cmd("NOOP").code == 200
    finally:
        shutil.rmtree(srv.pub / parts[0], ignore_errors=True)



# ------------------------------------------------------------ half-close

@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
@pytest.mark.parametrize("quit", [True, False], ids=["with-quit", "without-quit"])
def test_client_half_close_gets_every_reply(server, quit, make_route):
    """A script that sends its commands and half-closes at once (printf ... |
    nc -N) still receives every reply, in order, then the end of stream."""
    route = make_route(server, "v4")
    srv = route.server
    commands = f"USER {srv.user}\r\nPASS {srv.password}\r\nPWD\r\nTYPE I\r\n"
    if quit:
        commands += "QUIT\r\n"
    sock = net.connect(route.host, route.port, source=route.client_addr)
    try:
        sock.sendall(commands.encode())
        sock.shutdown(socket.SHUT_WR)
        text = recv_all(sock, timeout=15).decode(errors="replace")
    finally:
        sock.close()
    codes = [line[:3] for line in text.split("\r\n") if line[:3].isdigit() and line[3:4] == " "]
    want = ["220", "331", "230", "257", "200"] + (["221"] if quit else [])
    assert codes == want, text


# ------------------------------------------------------------ pipelining

@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_pipelined_pasv_list(server, fam, make_route):
    """'PASV\\r\\nLIST pub\\r\\n' (EPSV on IPv6) in ONE send: replies in
    order, the listing is right."""
    route = make_route(server, fam)
    with raw_route(route) as r:
        r.login(route.server.user, route.server.password)
        verb = "PASV" if fam == "v4" else "EPSV"
        r.send(f"{verb}\r\nLIST pub\r\n")
        first = r.reply()
        if fam == "v4":
            assert first.code == 227, first.lines
            host, port = parse_227(first.last)
        else:
            assert first.code == 229, first.lines
            host, port = route.host, parse_229(first.last)
        d = net.connect(host, port, source=route.client_addr)
        listing = recv_all(d).decode(errors="replace")
        d.close()
        second, third = r.reply(), r.reply()
        assert second.code in (125, 150), second.lines
        assert third.code == 226, third.lines
        assert "big.bin" in listing, listing
        # and a burst of plain commands
        r.send("NOOP\r\nNOOP\r\nPWD\r\nSYST\r\n")
        codes = [r.reply().code for _ in range(4)]
        assert codes == [200, 200, 257, 215]


# ------------------------------------------------------------ multi-line replies

@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
@pytest.mark.parametrize("cmd", ["FEAT", "HELP"])
def test_multiline_reply_whole(server, cmd, make_route):
    """FEAT/HELP arrive whole: the same lines as the server's own reply
    (FEAT minus the TLS lines the proxy removes)."""
    route = make_route(server, "v4")
    srv = route.server
    with Raw(srv.addr, srv.port, net.ADDR["v4"]["client"]) as d:   # the server itself
        d.banner()
        d.login(srv.user, srv.password)
        want = d.cmd(cmd)
    with raw_route(route) as r:
        r.login(srv.user, srv.password)
        got = r.cmd(cmd)
        assert got.code == want.code
        assert len(want.lines) > 2, f"{cmd} is not multi-line on {server}: {want.lines}"
        if cmd == "FEAT":
            keep = [l for l in want.lines if l.split()[0].upper() not in TLS_VERBS]
            assert got.lines == keep
        else:
            assert got.lines == want.lines
        assert r.cmd("NOOP").code == 200


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_feat_hides_tls(fam, make_route):
    """A server that offers AUTH TLS (pyftpdlib TLS_FTPHandler): FEAT
    through the proxy lists none of AUTH/PBSZ/PROT, and AUTH TLS gets 502."""
    route = make_route("pyftpdlib", fam, tls=True)
    srv = route.server
    with Raw(srv.addr, srv.port, net.ADDR[fam]["client"]) as d:
        d.banner()
        direct = d.cmd("FEAT")
    offered = {l.split()[0].upper() for l in direct.lines[1:-1]}
    assert {"AUTH", "PBSZ", "PROT"} <= offered, f"premise: the TLS server offers AUTH: {direct.lines}"
    if not route.via_proxy:
        pytest.skip("premise checked (the server offers AUTH TLS); filtering is the proxy's")
    with raw_route(route) as r:
        feat = r.cmd("FEAT")
        assert feat.code == 211
        listed = {l.split()[0].upper() for l in feat.lines[1:-1]}
        assert not listed & set(TLS_VERBS), f"FEAT through the proxy: {feat.lines}"
        assert listed == offered - set(TLS_VERBS)
        a = r.cmd("AUTH TLS")
        assert a.last == "502 AUTH is not supported by this proxy (FTPS is not carried yet)."
        r.login(srv.user, srv.password)
        assert r.cmd("NOOP").code == 200


@pytest.mark.proxy_only
def test_lftp_default_settings_through_proxy(make_route, logdir):
    """lftp with its defaults (ftp:ssl-allow yes) in front of a server that
    offers AUTH TLS: FEAT through the proxy does not offer it; lftp sends
    AUTH TLS anyway (measured: lftp 4.9.2 tries it for any non-anonymous
    login), gets the proxy's 502, and goes on in plain FTP."""
    route = make_route("pyftpdlib", "v4", tls=True)
    out, tr, _ = run_lftp(route, "EPSV", ["cd pub", f"ls > {logdir}/tls-list.txt"], logdir,
                          name="lftp-tls", ssl_allow=True)
    feat = [l for l in tr.replies() if l.startswith(" ")]
    assert feat and not [l for l in feat if l.split()[0].upper() in TLS_VERBS], feat
    if "AUTH" in tr.sent_verbs():
        assert tr.reply_to("AUTH") == [
            "502 AUTH is not supported by this proxy (FTPS is not carried yet)."]
    assert "big.bin" in (logdir / "tls-list.txt").read_text()


# ------------------------------------------------------------ ABOR

ABOR_OK = ([426, 226], [426, 225], [225], [226, 225], [226, 226])


@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
@pytest.mark.parametrize("style", ["close-then-abor", "abor-urgent-while-open"])
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_abor_during_retr(server, style, fam, make_route, big):
    """ABOR in the middle of a 32 MiB RETR: the replies are right, and the
    session still works (NOOP 200, a new RETR with the right sha256).

    close-then-abor: the client closes the data connection, then sends ABOR.
    abor-urgent-while-open: ftplib.abort() style, ABOR sent with MSG_OOB
    (its last byte is TCP urgent data: a relay without SO_OOBINLINE loses
    it) while the data connection stays open and is read to its end.
    """
    route = make_route(server, fam)
    f = ftplib_connect(route, "EPSV")
    try:
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR pub/big.bin")
        got = 0
        while got < 1 << 20:
            chunk = conn.recv(1 << 16)
            assert chunk, "data ended early"
            got += len(chunk)
        if style == "close-then-abor":
            conn.close()
            f.sock.sendall(b"ABOR\r\nNOOP\r\n")
        else:
            f.sock.sendall(b"ABOR\r\n", socket.MSG_OOB)
            # keep reading: the server either aborts (closes the data
            # connection) or -- vsftpd does not read the control connection
            # during a transfer -- finishes it; both end in EOF
            recv_all(conn, timeout=60)
            conn.close()
            f.sock.sendall(b"NOOP\r\n")
        codes = []
        while True:
            resp = f.getmultiline()
            code = int(resp[:3])
            if code == 200 and codes and codes[-1] in (225, 226):
                break
            codes.append(code)
            assert len(codes) <= 3, f"unexpected replies after ABOR: {codes} ({resp})"
        assert codes in ABOR_OK, f"replies to ABOR: {codes}"
        print(f"ABOR replies: {codes}")
        assert f.voidcmd("NOOP").startswith("200")
        assert sha256_retr(f, "pub/big.bin") == big.sha
        f.quit()
    finally:
        f.close()


# ------------------------------------------------------------ -r (data from port 20)

@pytest.mark.proxy_only
@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
def test_active_data_from_port_20(server, make_route):
    """With -r, the proxy's active-mode data connection to the client comes
    from port 20 of the address the client reached, although the worker
    runs as an unprivileged user (it keeps only CAP_NET_BIND_SERVICE)."""
    route = make_route(server, "v4", extra=["-r"])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((route.client_addr, 0))
    listener.listen(1)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    with raw_route(route) as r:
        r.login(route.server.user, route.server.password)
        h = route.client_addr.replace(".", ",")
        r.expect(f"PORT {h},{port >> 8},{port & 255}", 200)
        r.send("LIST pub\r\n")
        data, peer = listener.accept()
        listing = recv_all(data).decode(errors="replace")
        data.close()
        assert peer == (route.host, 20), f"data connection came from {peer}"
        assert r.reply().code in (125, 150)
        assert r.reply().code == 226
        assert "big.bin" in listing, listing
    listener.close()
