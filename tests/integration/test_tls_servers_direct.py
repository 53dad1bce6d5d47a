"""The harness's FTPS servers, checked with a DIRECT client (no proxy).

The proxy's TLS toward the server is tested against these servers
(tests/ftpx/servers.py: "pyftpdlib-tls", "vsftpd-tls", "proftpd-tls",
"pure-ftpd-tls"); a server that silently took what it should refuse would
let a broken proxy pass. So each is checked here with Python's
ftplib.FTP_TLS (ftpx.clients.TlsRecFTP), verifying the server's
certificate: login, PROT P, LIST, RETR and STOR with sha256, in every data
mode, IPv4 and IPv6; and what each demands of a client.

Measured on Debian 12 (OpenSSL 3.0, Python 3.11) and asserted below:

| | vsftpd-tls | proftpd-tls | pure-ftpd-tls | pyftpdlib-tls |
| --- | --- | --- | --- | --- |
| data connection without TLS session reuse | refused: 522 SSL connection failed: session reuse required, then the whole session is closed | refused: 425 Unable to build data connection: Operation not permitted (tls.log: client did not reuse TLS session, rejecting data connection); the session goes on | accepted | accepted |
| the SAME session (TLS 1.3 ticket) resumed on 3 data connections | resumed 3 times | resumed 3 times | never resumed with TLS 1.3 (no ticket), resumed with TLS 1.2; accepted either way | resumed 3 times |
| close_notify at the end of a download | sent | sent | sent | sent |
| download ended by the client without close_notify | 226 | 226 | 226 | 226 |
| upload ended without close_notify (FIN only) | 426 Failure reading network stream. (file kept whole: delete_failed_uploads=NO) | 226 | 226 | no reply at all (waits) |
| clear-text login | 530 Anonymous sessions must use encryption. | 550 SSL/TLS required on the control channel | 421 (and disconnects) | accepted (TLS optional) |
| clear data connection (PROT C) | PROT C: 200, then 522 Data connections must be encrypted. | PROT C: 534 Unwilling to accept security parameters | PROT C: 200, then 521 Data connection cannot be opened with this PROT setting. | allowed |

Python 3.11's ftplib.FTP_TLS itself never resumes the control
connection's session on a data connection (ntransfercmd wraps without
session=): against vsftpd and ProFTPD it fails; TlsRecFTP does resume.

All cheap: session-scoped servers, a 256 KiB file, client timeouts of 10 s
(the one deliberate wait: pyftpdlib's silence after an upload without
close_notify, 2 s).
"""
import ftplib
import hashlib
import io
import ipaddress
import os
import socket
import ssl
import time

import pytest

from ftpx import net
from ftpx.clients import PASSIVE, TlsRecFTP, assert_mode_used

pytestmark = pytest.mark.harness

KINDS = ("pyftpdlib-tls", "vsftpd-tls", "proftpd-tls", "pure-ftpd-tls")
MODES = {"v4": ("PASV", "EPSV", "PORT", "EPRT"), "v6": ("EPSV", "EPRT")}
SMALL = os.urandom(256 * 1024)
SMALL_SHA = hashlib.sha256(SMALL).hexdigest()

# What each server answers; the facts of the docstring's table.
NO_REUSE_REFUSAL = {
    "vsftpd-tls": "522 SSL connection failed: session reuse required",
    "proftpd-tls": "425 Unable to build data connection: Operation not permitted",
}
UPLOAD_WITHOUT_CLOSE_NOTIFY = {
    "vsftpd-tls": "426 Failure reading network stream.",
    "proftpd-tls": "226 Transfer complete",
    "pure-ftpd-tls": "226",
    "pyftpdlib-tls": None,                  # no reply
}
CLEAR_LOGIN = {
    "vsftpd-tls": "530 Anonymous sessions must use encryption.",
    "proftpd-tls": "550 SSL/TLS required on the control channel",
    "pure-ftpd-tls": "421 Please reconnect using TLS security mechanisms.",
}
CLEAR_DATA = {      # (reply to PROT C, reply to the LIST after it)
    "vsftpd-tls": ("200 PROT now Clear.", "522 Data connections must be encrypted."),
    "proftpd-tls": ("534 Unwilling to accept security parameters", None),
    "pure-ftpd-tls": ('200 Data protection level set to "clear"',
                      "521 Data connection cannot be opened with this PROT setting."),
}


def cases():
    for kind in KINDS:
        for fam, modes in MODES.items():
            for mode in modes:
                yield kind, fam, mode


@pytest.fixture
def tls_server(servers, diag):
    """tls_server(kind, family): the session's server, with pub/small.bin."""
    def get(kind, fam="v4"):
        srv = servers.get(kind, fam)
        diag.append(lambda s=srv: (f"{s.name} log", s.diagnostics()))
        small = srv.pub / "small.bin"
        if not small.exists():
            small.write_bytes(SMALL)
            os.chmod(small, 0o644)
        return srv
    return get


def client(srv, mode=None, reuse="control", tls_name=None, login=True, timeout=10):
    """A TlsRecFTP to srv from the client address, logged in, PROT P; in
    `mode` (default: PASV on IPv4, EPSV on IPv6)."""
    mode = mode or ("PASV" if srv.family == "v4" else "EPSV")
    f = TlsRecFTP(mode, net.ADDR[srv.family]["client"], srv.tls_cert, tls_name=tls_name,
                  reuse=reuse, timeout=timeout)
    f.connect(srv.addr, srv.port)
    if login:
        f.login(srv.user, srv.password)        # AUTH TLS first (FTP_TLS)
        f.prot_p()                             # PBSZ 0, PROT P
    return f


def reply_of(excinfo):
    return str(excinfo.value).strip()


# ---------------------------------------------------------------- transfers

@pytest.mark.parametrize("kind, fam, mode", list(cases()), ids=lambda v: v)
def test_transfers(kind, fam, mode, tls_server):
    """LIST, RETR (sha256), STOR (sha256 on the server's disk) under PROT P,
    with the certificate verified (IP subjectAltName), in exactly `mode`;
    the server saw AUTH TLS, PBSZ 0, PROT P and `mode` from the client."""
    srv = tls_server(kind, fam)
    mark = srv.mark()
    name = f"up-{mode}-{fam}.bin"
    f = client(srv, mode)
    try:
        listing = []
        f.retrlines("LIST pub", listing.append)
        assert any(line.endswith(" small.bin") for line in listing), listing
        h = hashlib.sha256()
        f.retrbinary("RETR pub/small.bin", h.update)
        assert h.hexdigest() == SMALL_SHA, "RETR over TLS: sha256 differs"
        reply = f.storbinary(f"STOR pub/{name}", io.BytesIO(SMALL))
        assert reply.startswith("226"), reply
        assert hashlib.sha256((srv.pub / name).read_bytes()).hexdigest() == SMALL_SHA, \
            "STOR over TLS: sha256 on the server's disk differs"
        f.quit()
    finally:
        f.close()
    assert_mode_used(f.transcript, mode, "ftplib FTP_TLS")
    assert [c for c, _, _ in f.data] == ["LIST pub", "RETR pub/small.bin", f"STOR pub/{name}"]
    assert all(v in ("TLSv1.2", "TLSv1.3") for _, v, _ in f.data), f.data
    if srv.reuse_required:
        assert all(r for _, _, r in f.data), f"a data connection was not resumed: {f.data}"
    if mode not in PASSIVE:
        assert set(f.active_peers) == {srv.addr}, f.active_peers
    client_addr = net.ADDR[fam]["client"]
    seen = srv.seen_since(mark)
    assert seen.control_peers == [client_addr]
    assert set(seen.command_peers()) == {client_addr}
    sec = [(c, a) for _, c, a in seen.commands if c in ("AUTH", "PBSZ", "PROT")]
    assert sec == [("AUTH", "TLS"), ("PBSZ", "0"), ("PROT", "P")], seen.commands
    assert set(seen.data_setup_verbs()) == {mode}, seen.commands


# ---------------------------------------------------------------- certificate

@pytest.mark.parametrize("fam", ["v4", "v6"])
@pytest.mark.parametrize("kind", KINDS)
def test_certificate(kind, fam, tls_server):
    """The server presents tls_cert: its fingerprint, its subjectAltName
    (the address and DNS:ftp.test, either verifies); another name fails."""
    srv = tls_server(kind, fam)
    f = client(srv, tls_name="ftp.test")
    try:
        der = f.sock.getpeercert(binary_form=True)
        assert hashlib.sha256(der).hexdigest() == srv.tls_fingerprint
        assert len(srv.tls_fingerprint) == 64 and srv.tls_fingerprint == srv.tls_fingerprint.lower()
        sans = f.sock.getpeercert()["subjectAltName"]
        ips = {ipaddress.ip_address(v.strip()) for k, v in sans if k == "IP Address"}
        assert ips == {ipaddress.ip_address(srv.addr)}
        assert ("DNS", "ftp.test") in sans
        f.retrlines("LIST pub", lambda _: None)
        f.quit()
    finally:
        f.close()
    f = client(srv, tls_name="not-ftp.test", login=False)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            f.auth()
    finally:
        f.close()


# ---------------------------------------------------------------- session reuse

@pytest.mark.parametrize("kind", KINDS)
def test_data_connection_without_session_reuse(kind, tls_server):
    """A data connection with a full TLS handshake (no session= given, as
    Python's own FTP_TLS does): vsftpd and ProFTPD refuse it."""
    srv = tls_server(kind)
    mark = srv.mark()
    tls_log_mark = _size(getattr(srv, "tls_log_path", None))
    f = client(srv, reuse=None)
    try:
        if not srv.reuse_required:
            f.retrlines("LIST pub", lambda _: None)
            assert f.data == [("LIST pub", f.data[0][1], False)]
            f.quit()
            return
        with pytest.raises(ftplib.Error) as e:
            f.retrlines("LIST pub", lambda _: None)
        assert reply_of(e) == NO_REUSE_REFUSAL[kind]
        assert f.data[0][2] is False
        if kind == "vsftpd-tls":
            log = srv.log_since(mark)
            assert f'"{NO_REUSE_REFUSAL[kind]}"' in log     # FTP response: Client ..., "522 ..."
            # ... and vsftpd ends the whole session
            with pytest.raises((EOFError, OSError)):
                f.sendcmd("NOOP")
        else:
            log = _read_from(srv.tls_log_path, tls_log_mark)
            assert "client did not reuse TLS session, rejecting data connection" in log, log
            assert " 425 LIST pub" in srv.log_since(mark)      # its commands.log: the reply code
            # ... and the session goes on: a resumed data connection works
            f.reuse = "control"
            f.retrlines("LIST pub", lambda _: None)
            assert f.data[-1][2] is True
            f.quit()
    finally:
        f.close()


@pytest.mark.parametrize("tls", ["TLSv1.3", "TLSv1.2"])
@pytest.mark.parametrize("kind", KINDS)
def test_same_session_on_three_data_connections(kind, tls, tls_server):
    """The one session object (with TLS 1.3: the one ticket) the control
    connection had at the first data connection, resumed three times: every
    server takes it; pure-ftpd gives no TLS 1.3 ticket, so there it is a full
    handshake each time (which it accepts)."""
    srv = tls_server(kind)
    f = client(srv, reuse="first", login=False)
    f.context.minimum_version = f.context.maximum_version = ssl.TLSVersion[tls.replace(".", "_")]
    f.login(srv.user, srv.password)
    f.prot_p()
    try:
        for _ in range(3):
            f.retrlines("LIST pub", lambda _: None)
        assert f.sock.session == f.first_session
        f.quit()
    finally:
        f.close()
    resumed = not (kind == "pure-ftpd-tls" and tls == "TLSv1.3")
    assert f.data == [("LIST pub", tls, resumed)] * 3


# ---------------------------------------------------------------- close_notify

@pytest.mark.parametrize("kind", KINDS)
def test_download_ends_with_close_notify(kind, tls_server):
    """Every server ends a download with close_notify (a ragged EOF would
    raise SSLEOFError here)."""
    srv = tls_server(kind)
    f = client(srv)
    f.suppress_ragged_eofs = False
    try:
        f.voidcmd("TYPE I")
        d = f.transfercmd("RETR pub/small.bin")
        got = bytearray()
        while chunk := d.recv(65536):          # b"" only after the server's close_notify
            got += chunk
        d.unwrap()
        d.close()
        assert f.voidresp().startswith("226")
        assert hashlib.sha256(got).hexdigest() == SMALL_SHA
        f.quit()
    finally:
        f.close()


@pytest.mark.parametrize("kind", KINDS)
def test_download_closed_by_client_without_close_notify(kind, tls_server):
    """None demands the client's close_notify after a download (vsftpd:
    strict_ssl_write_shutdown=NO)."""
    srv = tls_server(kind)
    f = client(srv)
    try:
        f.voidcmd("TYPE I")
        d = f.transfercmd("RETR pub/small.bin")
        while d.recv(65536):
            pass
        _close_without_close_notify(d)
        assert f.voidresp().startswith("226")
        f.quit()
    finally:
        f.close()


@pytest.mark.parametrize("kind", KINDS)
def test_upload_without_close_notify(kind, tls_server):
    """An upload that ends with a FIN and no close_notify: vsftpd fails it
    (strict_ssl_read_eof=YES), ProFTPD and pure-ftpd take it, pyftpdlib
    never answers."""
    srv = tls_server(kind)
    name = f"up-no-close-notify-{time.monotonic_ns()}.bin"
    want = UPLOAD_WITHOUT_CLOSE_NOTIFY[kind]
    f = client(srv)
    try:
        f.voidcmd("TYPE I")
        d = f.transfercmd(f"STOR pub/{name}")
        d.sendall(SMALL)
        _close_without_close_notify(d)
        if want is None:
            f.sock.settimeout(1)
            with pytest.raises(TimeoutError):
                f.getresp()
            return
        try:
            reply = f.getresp()
        except ftplib.Error as e:                  # 4xx raises
            reply = str(e)
        assert reply.startswith(want), reply
        # all of it arrived, and each server keeps the file
        assert hashlib.sha256((srv.pub / name).read_bytes()).hexdigest() == SMALL_SHA
        f.quit()
    finally:
        f.close()


def _close_without_close_notify(tls_sock, linger=1.0):
    """FIN after the last byte, never a close_notify: the TLS layer is
    dropped (detach), the TCP connection shut down for writing and what the
    server still sends (tickets, its own close_notify) read until it
    closes (or for `linger` seconds), so the close is clean (FIN, not RST)."""
    raw = socket.socket(fileno=tls_sock.detach())
    raw.settimeout(linger)
    try:
        raw.shutdown(socket.SHUT_WR)
        while raw.recv(65536):
            pass
    except OSError:
        pass                 # pyftpdlib: never closes (the test waits for its reply)
    finally:
        raw.close()


# ---------------------------------------------------------------- clear text

@pytest.mark.parametrize("kind", KINDS)
def test_clear_text(kind, tls_server):
    """vsftpd, ProFTPD and pure-ftpd refuse a clear-text login and clear
    data connections; pyftpdlib's TLS is optional (`tls=True` callers log
    in in clear text through a proxy that refuses AUTH)."""
    srv = tls_server(kind)
    f = client(srv, login=False)
    try:
        if not srv.tls_required:
            assert f.sendcmd(f"USER {srv.user}").startswith("331")
            assert f.sendcmd(f"PASS {srv.password}").startswith("230")
            f.retrlines("LIST pub", lambda _: None)
            f.quit()
            return
        with pytest.raises(ftplib.Error) as e:
            f.sendcmd(f"USER {srv.user}")
        assert reply_of(e).splitlines()[-1] == CLEAR_LOGIN[kind]
    finally:
        f.close()
    prot_c, list_reply = CLEAR_DATA[kind]
    f = client(srv)
    try:
        try:
            reply = f.prot_c()                     # clear data from now on, when 2xx
        except ftplib.Error as e:
            reply = str(e)
        assert reply == prot_c
        if list_reply:
            with pytest.raises(ftplib.Error) as e:
                f.retrlines("LIST pub", lambda _: None)
            assert reply_of(e) == list_reply
        f.quit()
    finally:
        f.close()


# ---------------------------------------------------------------- helpers

def _size(path):
    try:
        return os.path.getsize(path) if path else 0
    except FileNotFoundError:
        return 0


def _read_from(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")
