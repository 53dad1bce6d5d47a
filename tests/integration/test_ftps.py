"""Explicit FTPS on the client's side of the reverse proxy (issue 12, first
slice): real FTPS clients (Python ftplib.FTP_TLS, curl --ssl-reqd) through
the proxy to a clear-text pyftpdlib. The proxy answers AUTH/PBSZ/PROT itself
(the server never sees them), the client's data leg is TLS under PROT P, in
each data mode, with sha256 both ways; the mode used is proven from the
client's transcript and the TLS legs from the proxy's transfer log lines.
The certificate is made here, in the test's temporary directory."""
import ftplib
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

from ftpx import net
from ftpx.binaries import PROXY_BIN
from ftpx.clients import PASSIVE, Curl, RecFTP, assert_mode_used, run_lftp
from ftpx.digest import sha256_file, sha256_retr
from ftpx.ftpraw import read_until_end
from ftpx.servers import Pyftpd
from ftpx.sessions import session
from ftpx.wait import wait_until

pytestmark = pytest.mark.proxy_only

SECURITY_VERBS = {"AUTH", "PBSZ", "PROT", "CCC"}
TLS_LEG = re.compile(r"data completed: (\S+ \S+), .* relay read/write \(client leg (TLSv1\.[23]) \S+ "
                     r"(?:resumed|new session), server leg clear\)")
# How each client leg began, in the transfer log lines.
CLIENT_LEG_RESUMED = re.compile(r"\(client leg TLSv1\.[23] \S+ (resumed another connection's session|"
                                r"resumed|new session), server leg")


def make_cert(directory, name="proxy"):
    """Self-signed certificate and key (separate PEM files) valid for the
    proxy's listen addresses."""
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=ftpx-proxy",
                    "-addext", "subjectAltName=IP:127.0.0.2,IP:fd18::2"],
                   check=True, timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


@pytest.fixture
def cert(tmp_path):
    return make_cert(tmp_path)


def tls_route(make_route, cert, fam="v4", mode="optional", extra=(), server_fam=None):
    return make_route("pyftpdlib", fam, server_fam,
                      extra=["--tls-cert", cert[0], "--tls-key", cert[1], "--client-tls", mode]
                      + list(extra))


class RecFTPS(ftplib.FTP_TLS, RecFTP):
    """ftplib.FTP_TLS with RecFTP's transcript and exact data mode; the
    proxy's certificate is verified (CA = the self-signed cert, IP SAN)."""

    def __init__(self, mode, source, cafile, timeout=20):
        # FTP_TLS.__init__'s own part; RecFTP's then (its super() is FTP).
        self.context = ssl.create_default_context(cafile=str(cafile))
        self._prot_p = False
        self.keyfile = self.certfile = None
        RecFTP.__init__(self, mode=mode, source=source, timeout=timeout)


class ReusingFTPS(RecFTPS):
    """Data connections resume the control connection's TLS session (its
    newest), as vsftpd and ProFTPD demand of their clients (ftplib does not
    by itself). data_session(self) picks another session instead (None: a
    full handshake; Python resumes a session only with the SSLContext that
    made it: data_context). tls "1.2" caps the version, "1.2-id" also
    refuses tickets, so that sessions resume by ID from the proxy's cache."""

    def __init__(self, *args, data_session=lambda f: f.sock.session, tls="1.3", **kwargs):
        super().__init__(*args, **kwargs)
        if tls != "1.3":
            self.context.maximum_version = ssl.TLSVersion.TLSv1_2
        if tls == "1.2-id":
            self.context.options |= ssl.OP_NO_TICKET
        self.data_session = data_session
        self.data_context = None
        self.reused = []

    def ntransfercmd(self, cmd, rest=None):
        conn, size = RecFTP.ntransfercmd(self, cmd, rest)      # still clear text
        conn = (self.data_context or self.context).wrap_socket(
            conn, server_hostname=self.host, session=self.data_session(self))
        self.reused.append(conn.session_reused)
        return conn, size


def ftps_connect(route, mode, cert, kind=None):
    f = (kind or RecFTPS)(mode, route.client_addr, cert[0])
    f.connect(route.host, route.port)
    f.login(route.server.user, route.server.password)   # AUTH TLS first (FTP_TLS)
    assert isinstance(f.sock, ssl.SSLSocket)
    f.prot_p()
    return f


def tls_transfers(route):
    """(command, TLS version) of every transfer the proxy relayed with a TLS
    client leg."""
    return TLS_LEG.findall(route.proxy.stderr_text())


def assert_server_saw_no_security_command(route, mark):
    seen = {c for _, c, _ in route.server.seen_since(mark).commands}
    assert not seen & SECURITY_VERBS, f"the server saw {sorted(seen & SECURITY_VERBS)}"


@pytest.mark.parametrize("mode, fam, server_fam, extra", [
    ("PASV", "v4", "v4", ()), ("EPSV", "v4", "v4", ()), ("PORT", "v4", "v4", ()),
    ("EPRT", "v4", "v4", ()), ("EPSV", "v6", "v6", ()), ("EPRT", "v6", "v6", ()),
    ("EPSV", "v6", "v4", ()), ("PORT", "v4", "v4", ("--passive-to-server",)),
], ids=lambda v: "-".join(v) if isinstance(v, tuple) and v else (v or "plain"))
def test_ftplib_ftps_retr_stor(mode, fam, server_fam, extra, make_route, cert, big):
    route = tls_route(make_route, cert, fam, extra=extra, server_fam=server_fam)
    mark = route.server.mark()
    name = f"up-{mode}-{fam}-{server_fam}{'-p2s' if extra else ''}.bin"
    f = ftps_connect(route, mode, cert)
    try:
        assert sha256_retr(f, "pub/big.bin") == big.sha, "RETR over TLS: sha256 differs"
        with open(big.path, "rb") as src:
            reply = f.storbinary(f"STOR pub/{name}", src, blocksize=1 << 20)
        assert reply.startswith("226"), reply
        assert sha256_file(route.server.pub / name) == big.sha, \
            "STOR over TLS: sha256 on the server's disk differs"
        f.quit()
    finally:
        f.close()
    tr = f.transcript
    assert tr.reply_to("AUTH") == ["234 AUTH TLS accepted."]
    assert tr.reply_to("PBSZ") == ["200 PBSZ 0 accepted."]
    assert tr.reply_to("PROT") == ["200 PROT P: data connections are protected."]
    assert_mode_used(tr, mode, "ftplib FTP_TLS")
    if mode not in PASSIVE:
        assert set(f.active_peers) == {route.host}
    assert_server_saw_no_security_command(route, mark)
    legs = tls_transfers(route)
    assert [c for c, _ in legs] == ["RETR pub/big.bin", f"STOR pub/{name}"], \
        route.proxy.stderr_text()[-3000:]


# Passive modes only: curl 7.88.1 cannot do FTPS in active mode at all
# (measured directly against pyftpdlib's TLS handler, no proxy: after
# accepting the data connection it fails "sa_addr inet_ntop() failed with
# errno 97" and times out). ftplib covers PORT/EPRT above.
# curl resumes its control connection's session on every data connection:
# under --client-tls-reuse required too.
@pytest.mark.parametrize("mode, reuse", [("PASV", "optional"), ("EPSV", "required")])
def test_curl_ssl_reqd_retr_stor(mode, reuse, make_route, cert, big, tmp_path):
    route = tls_route(make_route, cert, extra=["--client-tls-reuse", reuse])
    mark = route.server.mark()
    curl = Curl(route, mode, tmp_path)
    tls_args = ["--ssl-reqd", "--cacert", str(cert[0])]
    out = tmp_path / "down.bin"
    _, down = curl("pub/big.bin", *tls_args, "-o", str(out))
    assert sha256_file(out) == big.sha, "curl RETR over TLS: sha256 differs"
    _, up = curl(f"pub/curl-{mode}.bin", *tls_args, "-T", str(big.path))
    assert sha256_file(route.server.pub / f"curl-{mode}.bin") == big.sha, \
        "curl STOR over TLS: sha256 on the server's disk differs"
    for tr in (down, up):
        # curl falls back silently: its own transcript says what it did
        # (curl asks AUTH SSL first, then AUTH TLS if refused)
        assert tr.reply_to("AUTH") == ["234 AUTH SSL accepted."], tr.text()
        assert "PROT P" in tr.sent(), tr.text()
        assert tr.reply_to("PROT") == ["200 PROT P: data connections are protected."]
        assert_mode_used(tr, mode, "curl --ssl-reqd")
    assert_server_saw_no_security_command(route, mark)
    # curl changes to pub/ first
    assert [c for c, _ in tls_transfers(route)] == ["RETR big.bin", f"STOR curl-{mode}.bin"]
    assert CLIENT_LEG_RESUMED.findall(route.proxy.stderr_text()) == ["resumed", "resumed"]


@pytest.mark.parametrize("mode", ["PASV", "EPSV", "PORT"])
def test_lftp_ftps_get_put(mode, make_route, cert, big, tmp_path):
    """lftp (GnuTLS) forced to TLS on control and data, the proxy's
    certificate verified (ssl:check-hostname off). It resumes its control
    connection's session on every data connection: EPSV runs under
    --client-tls-reuse required."""
    reuse = "required" if mode == "EPSV" else "optional"
    route = tls_route(make_route, cert, extra=["--client-tls-reuse", reuse])
    mark = route.server.mark()
    name = f"lftp-{mode}.bin"
    tls = ["set ftp:ssl-force yes", "set ftp:ssl-protect-data yes",
           f"set ssl:ca-file {cert[0]}", "set ssl:check-hostname no"]
    _, tr, _ = run_lftp(route, mode, [
        "cd pub", f"get big.bin -o {tmp_path}/lftp-down.bin", f"put {big.path} -o {name}"],
        tmp_path, name=f"lftp-tls-{mode}", ssl_allow=True, settings=tls)
    assert sha256_file(tmp_path / "lftp-down.bin") == big.sha, "lftp RETR over TLS"
    assert sha256_file(route.server.pub / name) == big.sha, "lftp STOR over TLS"
    assert tr.reply_to("AUTH") == ["234 AUTH TLS accepted."], tr.text()
    assert tr.reply_to("PROT") == ["200 PROT P: data connections are protected."], tr.text()
    assert_mode_used(tr, mode, "lftp")
    assert_server_saw_no_security_command(route, mark)
    assert [c for c, _ in tls_transfers(route)] == ["RETR big.bin", f"STOR {name}"]
    assert CLIENT_LEG_RESUMED.findall(route.proxy.stderr_text()) == ["resumed", "resumed"]


def test_feat_offers_tls_only_with_a_certificate(make_route, cert):
    plain = make_route("pyftpdlib", "v4", name="proxy-no-cert")
    with session(plain, login=False) as r:
        listed = {l.split()[0].upper() for l in r.cmd("FEAT").lines[1:-1]}
        assert not listed & SECURITY_VERBS
    route = tls_route(make_route, cert)
    with session(route, login=False) as r:
        feat = r.cmd("FEAT")
        assert feat.code == 211
        for line in (" AUTH TLS", " PBSZ", " PROT"):
            assert feat.lines.count(line) == 1, feat.lines


def test_required_refuses_login_before_auth(make_route, cert):
    route = tls_route(make_route, cert, mode="required")
    mark = route.server.mark()
    with session(route, login=False) as r:
        assert r.cmd("USER test").lines == [
            "530 This proxy requires TLS: send AUTH TLS before USER."]
        assert r.cmd("PASS secret").lines == [
            "530 This proxy requires TLS: send AUTH TLS before PASS."]
        assert r.cmd("NOOP").code == 200
    assert not {"USER", "PASS"} & {c for _, c, _ in route.server.seen_since(mark).commands}


def test_required_refuses_clear_data(make_route, cert):
    route = tls_route(make_route, cert, mode="required")
    f = RecFTPS("EPSV", route.client_addr, cert[0])
    f.connect(route.host, route.port)
    try:
        f.login(route.server.user, route.server.password)
        with pytest.raises(ftplib.error_perm) as refused:
            f.retrbinary("RETR pub/big.bin", lambda _: None)
        assert str(refused.value) == "521 Data connections must be protected: send PROT P first."
        f.prot_p()
        assert f.sendcmd("NOOP").startswith("200")
    finally:
        f.close()


def test_ccc_refused(make_route, cert):
    route = tls_route(make_route, cert)
    f = ftps_connect(route, "EPSV", cert)
    try:
        with pytest.raises(ftplib.error_perm) as refused:
            f.sendcmd("CCC")
        assert str(refused.value) == \
            "534 CCC refused: this proxy keeps the control connection encrypted."
        assert f.sendcmd("NOOP").startswith("200")     # still over TLS
        f.quit()
    finally:
        f.close()


def test_auth_without_handshake_is_timed_out(make_route, cert):
    route = tls_route(make_route, cert, extra=["--tls-timeout", "2"])
    with session(route, login=False) as r:
        assert r.cmd("AUTH TLS").lines == ["234 AUTH TLS accepted."]
        start = time.monotonic()
        assert r.wait_closed(timeout=10), "the proxy kept a client that never shook hands"
        assert 1.5 <= time.monotonic() - start < 6
        assert r.buf == b"", f"clear text after the 234: {r.buf!r}"
    assert "client sent AUTH TLS but no TLS handshake within 2 s" in route.proxy.stderr_text()
    with session(route) as r:        # others still served
        assert r.cmd("NOOP").code == 200


def test_clear_text_behind_auth_ends_the_session(make_route, cert):
    """STARTTLS command injection: commands behind AUTH in the same segment
    are not taken for protected ones."""
    route = tls_route(make_route, cert)
    mark = route.server.mark()
    with session(route, login=False) as r:
        r.send("AUTH TLS\r\nUSER test\r\n")
        assert r.reply().lines == ["234 AUTH TLS accepted."]
        assert r.wait_closed(timeout=10)
    assert "USER" not in {c for _, c, _ in route.server.seen_since(mark).commands}
    assert "clear text after AUTH TLS" in route.proxy.stderr_text()


@pytest.mark.parametrize("flags, message", [
    (["--tls-cert", "/nonexistent/cert.pem"],
     "--tls-cert /nonexistent/cert.pem: No such file or directory"),
    (["--tls-cert", "{cert}", "--tls-key", "{other_key}"],
     "--tls-key {other_key} does not match the certificate in --tls-cert {cert}"),
    (["--tls-cert", "{key}", "--tls-key", "{key}"],
     "--tls-cert {key}: no usable PEM certificate"),
    (["--client-tls", "required"], "--client-tls required: needs a certificate (--tls-cert)"),
    (["--tls-cert", "{cert}", "--tls-key", "{key}", "--client-tls", "maybe"],
     '--client-tls: "maybe" is not one of off, optional, required'),
])
def test_tls_start_errors(flags, message, cert, tmp_path):
    _, other_key = make_cert(tmp_path, "other")
    names = {"cert": cert[0], "key": cert[1], "other_key": other_key}
    argv = [str(PROXY_BIN), "-d", "-R", "127.0.0.4", "-b", "127.0.0.2",
            "-p", str(net.free_port("127.0.0.2"))] + [a.format(**names) for a in flags]
    r = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    err = r.stderr.decode()
    assert r.returncode == 64, f"exit {r.returncode}: {err}"
    assert message.format(**names) in err.splitlines()[0], err


def test_prot_c_data_stays_clear_and_spliced(make_route, cert, big):
    """A TLS control connection with PROT C: the data leg is clear text, so
    the zero-copy relay still serves it."""
    route = tls_route(make_route, cert)
    f = ftps_connect(route, "EPSV", cert)
    try:
        f.prot_c()
        assert sha256_retr(f, "pub/big.bin") == big.sha
        f.quit()
    finally:
        f.close()
    assert re.search(r"data completed: RETR pub/big\.bin, .* relay splice \(client leg clear, "
                     r"server leg clear\)", route.proxy.stderr_text())


def test_tls_upload_cut_without_close_notify_fails_on_the_server(make_route, cert, big):
    """A TLS upload that ends without close_notify may be a cut one
    (truncation attack, vsftpd's strict_ssl_read_eof): the clear-text server
    gets a reset, not an end of file, and fails the upload (vsftpd: 426)."""
    route = make_route("vsftpd", "v4", extra=["--tls-cert", cert[0], "--tls-key", cert[1]])
    name = f"cut-tls-upload-{time.monotonic_ns()}.bin"
    f = ftps_connect(route, "EPSV", cert)
    try:
        f.voidcmd("TYPE I")
        conn = f.transfercmd(f"STOR pub/{name}")
        assert isinstance(conn, ssl.SSLSocket)
        conn.sendall(big.data[: 8 * 1024 * 1024])
        # No unwrap(): a TCP FIN without close_notify. (A close() here would
        # be a reset: the TLS 1.3 session tickets are still unread.)
        conn.shutdown(socket.SHUT_WR)
        with pytest.raises(ftplib.error_temp) as failed:
            f.voidresp()
        conn.close()
        assert str(failed.value).startswith("426"), failed.value
        assert f.sendcmd("NOOP").startswith("200")
    finally:
        f.close()
    assert re.search(rf"data client TLS leg ended without close_notify: STOR pub/{re.escape(name)}",
                     route.proxy.stderr_text())


def test_data_connection_without_handshake_is_closed(make_route, cert, big):
    """PROT P, then a data connection on which the client never shakes
    hands: --data-timeout closes it, the transfer fails (the client's leg
    gets a reset, the server's command fails), the session goes on."""
    route = tls_route(make_route, cert, extra=["--data-timeout", "2"])
    f = ftps_connect(route, "PASV", cert)
    try:
        f.voidcmd("TYPE I")
        host, port = f.makepasv()
        d = net.connect(host, port, source=route.client_addr)
        f.putcmd("RETR pub/big.bin")
        assert f.getresp()[:3] in ("125", "150")
        start = time.monotonic()
        with pytest.raises((ftplib.error_temp, ftplib.error_perm)):
            f.voidresp()
        assert time.monotonic() - start < 10
        d.settimeout(5)
        got = b""
        try:
            while chunk := d.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
        assert big.data[:64] not in got, "plain file data on a PROT P data connection"
        d.close()
        assert sha256_retr(f, "pub/big.bin") == big.sha   # the session goes on
        f.quit()
    finally:
        f.close()
    text = route.proxy.stderr_text()
    assert "data connection not used within 2 s, closed" in text


def test_server_killed_mid_tls_download_is_a_reset(make_route, cert, workdir, big):
    """The clear-text server dies mid-RETR (a plain FIN from its kernel):
    the client's TLS leg must end with a reset, never with close_notify (a
    clean end of file for the client). Python's ssl (3.11, OpenSSL 3)
    reports a TCP reset after data as SSLEOFError, like a FIN without
    close_notify (measured with a bare ssl server and SO_LINGER 0), so the
    reset itself is proven by the proxy's log: the abort path, which resets."""
    victim = Pyftpd("v4", workdir, big.path, name="pyftpdlib-tls-victim-v4").start()
    try:
        route = make_route("pyftpdlib", "v4", backend=(victim.addr, victim.port),
                           extra=["--tls-cert", cert[0], "--tls-key", cert[1]])
        f = ftps_connect(route, "PASV", cert)
        f.voidcmd("TYPE I")
        host, port = f.makepasv()
        raw = net.connect(host, port, source=route.client_addr)
        f.putcmd("RETR pub/big.bin")
        assert f.getresp()[:3] in ("125", "150")
        # suppress_ragged_eofs=False: a FIN without close_notify is an error
        # here, and only close_notify reads as the end of the file.
        d = f.context.wrap_socket(raw, server_hostname=host, suppress_ragged_eofs=False)
        got = d.recv(1 << 20)
        assert got, "no data before the kill"
        victim.proc.p.send_signal(signal.SIGKILL)
        victim.proc.p.wait(10)
        received, ending = read_until_end(d, len(got), endings=(
            (ConnectionResetError, "reset"), (ssl.SSLEOFError, "FIN without close_notify")))
        d.close()
        f.close()
        assert ending in ("reset", "FIN without close_notify"), \
            f"{received} of {big.size} bytes, then a {ending}"
        assert received < big.size
        # The transfer's log line comes when its relay winds down, which may
        # be after the client saw the reset (measured under ASan in CI).
        wait_until(lambda: "data aborted by the session: RETR pub/big.bin" in
                   route.proxy.stderr_text(), 10, "the aborted transfer in the log")
        assert "data completed: RETR pub/big.bin" not in route.proxy.stderr_text()
    finally:
        victim.stop()


def test_data_connections_can_resume_the_control_session(make_route, cert, big):
    """TLS session reuse is offered to clients: a data connection that
    presents the control connection's session is resumed (TLS 1.3 ticket)."""
    route = tls_route(make_route, cert)
    f = ftps_connect(route, "EPSV", cert, kind=ReusingFTPS)
    try:
        assert sha256_retr(f, "pub/big.bin") == big.sha
        f.retrlines("LIST pub", lambda _: None)
        f.quit()
    finally:
        f.close()
    assert f.reused == [True, True], f.reused
    assert CLIENT_LEG_RESUMED.findall(route.proxy.stderr_text()) == ["resumed", "resumed"]


def refused_upload(f, name):
    """STOR on a data connection the proxy refuses after its handshake: the
    client's failure reply (the server's code, the proxy's reason)."""
    conn, _ = f.ntransfercmd(f"STOR {name}")
    try:
        conn.sendall(b"x" * 65536)
        conn.unwrap()
    except OSError:
        pass            # the proxy closed it (reset, or TLS EOF)
    finally:
        conn.close()
    with pytest.raises(ftplib.error_temp) as refused:
        f.voidresp()
    return str(refused.value)


@pytest.mark.parametrize("tls", ["1.3", "1.2", "1.2-id"])
def test_reuse_required_serves_only_the_control_connections_own_session(tls, make_route, cert,
                                                                         big):
    """--client-tls-reuse required (vsftpd's require_ssl_reuse, for the
    proxy's clients): a data connection must resume its own control
    connection's session, by TLS 1.3 ticket, TLS 1.2 ticket or TLS 1.2
    session ID. A full handshake, or another client's session, is refused
    with the reason in the failure reply, and the server gets no byte; the
    control connection goes on."""
    route = tls_route(make_route, cert, extra=["--client-tls-reuse", "required"])

    def client(**kwargs):
        return ftps_connect(route, "EPSV", cert,
                            kind=lambda *a: ReusingFTPS(*a, tls=tls, **kwargs))

    owner = client()
    fresh = client(data_session=lambda f: None)
    thief = client(data_session=lambda f: owner.sock.session)
    thief.data_context = owner.context
    try:
        assert owner.sock.version() == ("TLSv1.3" if tls == "1.3" else "TLSv1.2")
        assert sha256_retr(owner, "pub/big.bin") == big.sha
        reply = "426 Data connection refused: it {}, and this proxy requires TLS session reuse."
        assert refused_upload(fresh, "pub/fresh.bin") == reply.format(
            "did not resume the control connection's TLS session")
        assert refused_upload(thief, "pub/thief.bin") == reply.format(
            "resumed the TLS session of another control connection")
        for name in ("fresh.bin", "thief.bin"):
            assert (route.server.pub / name).stat().st_size == 0, name
        # The refused clients' control connections go on; with their own
        # sessions they are served.
        for f in (fresh, thief):
            f.data_session, f.data_context = (lambda f: f.sock.session), None
            assert sha256_retr(f, "pub/big.bin") == big.sha
        owner.quit()
    finally:
        for f in (owner, fresh, thief):
            f.close()
    assert (owner.reused, fresh.reused, thief.reused) == ([True], [False, True], [True, True])
    log = route.proxy.stderr_text()
    assert CLIENT_LEG_RESUMED.findall(log) == ["resumed"] * 3, log
    for why in ("did not resume the control connection's TLS session",
                "resumed the TLS session of another control connection"):
        assert f"client data connection refused: it {why} (--client-tls-reuse required)" in log
