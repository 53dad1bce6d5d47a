"""TLS toward the server (issue 12): the proxy as the FTPS client of real
FTPS servers (vsftpd 3.0.3 with its TLS defaults, ProFTPD mod_tls, pure-ftpd
-Y 3, pyftpdlib's TLS handler), with clear-text and FTPS clients in front.

vsftpd and ProFTPD refuse a data connection that does not resume the control
connection's TLS session, and vsftpd refuses an upload that ends without
close_notify (426): a transfer that completes with the right sha256 on the
server's disk proves the proxy does both. Which legs were TLS, and whether
the server leg resumed, come from the proxy's transfer log line; that the
proxy (not the client) said AUTH TLS / PBSZ / PROT, from the server's log.
The servers' and the proxy's certificates are self-signed, made in their
directories: the proxy verifies the server with its certificate as CA file,
or by its pinned fingerprint."""
import ftplib
import io
import ipaddress
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from ftpx import net
from ftpx.clients import Curl, RecFTP, TlsRecFTP, assert_mode_used, run_lftp
from ftpx.digest import sha256_file, sha256_retr
from ftpx.servers import make_server_cert
from ftpx.wait import wait_until

pytestmark = pytest.mark.proxy_only

LEG = r"(clear|TLSv1\.[23] \S+ (?:resumed|new session))"
TRANSFER = re.compile(r"data completed: (.+?), \d+ bytes to client, .*? relay (\S+) "
                      rf"\(client leg {LEG}, server leg {LEG}\)$", re.M)


@pytest.fixture
def proxy_cert(tmp_path):
    """The proxy's own certificate toward FTPS clients (its listen addresses)."""
    return make_server_cert(tmp_path, "proxy",
                            f"IP:{net.ADDR['v4']['listen']},IP:{net.ADDR['v6']['listen']}")


def tls_to_server(make_route, servers, kind, fam, server_fam=None, policy="required",
                  verify="ca", client_cert=None, client_policy="required", extra=()):
    """A proxy in front of `kind` with --server-tls `policy`, the server's
    certificate checked by CA file (`verify="ca"`), by its fingerprint
    ("pin"), or against the system bundle (None); FTPS toward clients too
    (client_policy) with client_cert."""
    srv = servers.get(kind, server_fam or fam)
    args = ["--server-tls", policy]
    if verify == "ca":
        args += ["--server-tls-ca", srv.tls_cert]
    elif verify == "pin":
        args += ["--server-tls-fingerprint", srv.tls_fingerprint]
    if client_cert:
        args += ["--tls-cert", client_cert[0], "--tls-key", client_cert[1],
                 "--client-tls", client_policy]
    return make_route(kind, fam, server_fam, extra=args + list(extra))


def transfers(route):
    """(command, relay, client leg, server leg) of every transfer relayed."""
    return TRANSFER.findall(route.proxy.stderr_text())


def assert_proxy_secured_the_server(route, mark):
    """The server got AUTH TLS, PBSZ 0 and PROT P once, before the login."""
    cmds = [(c, a) for _, c, a in route.server.seen_since(mark).commands]
    verbs = [c for c, _ in cmds]
    assert ("AUTH", "TLS") in cmds and ("PBSZ", "0") in cmds and ("PROT", "P") in cmds, cmds
    assert verbs.index("PROT") < verbs.index("USER"), cmds
    assert verbs.count("AUTH") == 1, cmds


def login(f, route):
    f.connect(route.host, route.port)
    f.login(route.server.user, route.server.password)


def exercise(f, route, big, name, appe=True):
    """RETR (whole, then from an offset with REST), LIST, STOR and, where the
    server lets anonymous users append, APPE: sha256 checked each time."""
    assert sha256_retr(f, "pub/big.bin") == big.sha, "RETR: sha256 differs"
    offset = big.size // 3
    assert sha256_retr(f, "pub/big.bin", rest=offset, head=big.data[:offset]) == big.sha, \
        "REST + RETR: sha256 differs"
    listing = []
    f.retrlines("LIST pub", listing.append)
    assert any(line.endswith("big.bin") for line in listing), listing
    with open(big.path, "rb") as src:
        assert f.storbinary(f"STOR pub/{name}", src, blocksize=1 << 20).startswith("226")
    assert sha256_file(route.server.pub / name) == big.sha, "STOR: sha256 on disk differs"
    expected = ["LIST pub", f"STOR pub/{name}"]
    if appe:
        with open(big.path, "rb") as src:
            assert f.storbinary(f"APPE pub/{name}", src, blocksize=1 << 20).startswith("226")
        assert (route.server.pub / name).read_bytes() == big.data + big.data, "APPE"
        expected.append(f"APPE pub/{name}")
    return ["RETR pub/big.bin", f"RETR pub/big.bin"] + expected


# A clear-text client: only the proxy speaks TLS, to servers that demand it
# for the login and every data connection. Each data mode at least once,
# IPv4, IPv6 and mixed.
CLEAR_CLIENT = [
    ("vsftpd-tls", "PASV", "v4", "v4"), ("vsftpd-tls", "EPSV", "v6", "v6"),
    ("vsftpd-tls", "PORT", "v4", "v4"), ("vsftpd-tls", "EPRT", "v6", "v6"),
    ("proftpd-tls", "EPSV", "v4", "v4"), ("proftpd-tls", "PORT", "v4", "v4"),
    ("pure-ftpd-tls", "PASV", "v4", "v4"), ("pure-ftpd-tls", "EPRT", "v4", "v4"),
    ("pyftpdlib-tls", "EPSV", "v6", "v4"),
]


@pytest.mark.parametrize("kind, mode, fam, server_fam", CLEAR_CLIENT,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_clear_client_to_ftps_server(kind, mode, fam, server_fam, make_route, servers, big):
    route = tls_to_server(make_route, servers, kind, fam, server_fam)
    mark = route.server.mark()
    name = f"up-{kind}-{mode}-{fam}-{server_fam}.bin"
    f = RecFTP(mode, route.client_addr)
    try:
        login(f, route)
        # pure-ftpd never lets anonymous users change an existing file
        expected = exercise(f, route, big, name, appe=kind != "pure-ftpd-tls")
        f.quit()
    finally:
        f.close()
    assert_mode_used(f.transcript, mode, "ftplib")
    assert_proxy_secured_the_server(route, mark)
    legs = transfers(route)
    assert [c for c, *_ in legs] == expected, route.proxy.stderr_text()[-3000:]
    for command, relay, client_leg, server_leg in legs:
        assert relay == "read/write" and client_leg == "clear", (command, relay, client_leg)
        assert server_leg.startswith("TLSv1."), (command, server_leg)
        # the servers that demand it got the control connection's session
        if route.server.reuse_required:
            assert server_leg.endswith(" resumed"), (command, server_leg)


# FTPS on both legs: the client's TLS ends at the proxy, the proxy's own
# goes on to the server; each leg verified (the client checks the proxy's
# certificate, the proxy the server's).
BOTH_LEGS = [
    ("vsftpd-tls", "PASV", "v4", "ca"), ("vsftpd-tls", "EPRT", "v6", "pin"),
    ("proftpd-tls", "PORT", "v4", "pin"), ("proftpd-tls", "EPSV", "v6", "ca"),
]


@pytest.mark.parametrize("kind, mode, fam, verify", BOTH_LEGS,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_ftps_client_to_ftps_server(kind, mode, fam, verify, make_route, servers, big,
                                    proxy_cert):
    route = tls_to_server(make_route, servers, kind, fam, verify=verify, client_cert=proxy_cert)
    mark = route.server.mark()
    name = f"both-{kind}-{mode}-{fam}.bin"
    f = TlsRecFTP(mode, route.client_addr, proxy_cert[0])
    try:
        login(f, route)
        f.prot_p()
        expected = exercise(f, route, big, name)
        f.quit()
    finally:
        f.close()
    assert f.transcript.reply_to("AUTH") == ["234 AUTH TLS accepted."]
    assert_mode_used(f.transcript, mode, "ftplib FTP_TLS")
    assert_proxy_secured_the_server(route, mark)
    legs = transfers(route)
    assert [c for c, *_ in legs] == expected, route.proxy.stderr_text()[-3000:]
    for command, _, client_leg, server_leg in legs:
        assert client_leg.startswith("TLSv1.") and server_leg.endswith(" resumed"), \
            (command, client_leg, server_leg)
    # the client resumed its own session with the proxy (offered, not demanded)
    assert [reused for _, _, reused in f.data] == [True] * len(expected), f.data


def test_ftps_client_to_clear_server_with_auto(make_route, proxy_cert, big):
    """--server-tls auto in front of a server without TLS: clear text toward
    it, said in the log, while the client's legs stay TLS."""
    route = make_route("pyftpdlib", "v4", extra=[
        "--server-tls", "auto", "--tls-cert", proxy_cert[0], "--tls-key", proxy_cert[1]])
    f = TlsRecFTP("EPSV", route.client_addr, proxy_cert[0])
    try:
        login(f, route)
        f.prot_p()
        assert sha256_retr(f, "pub/big.bin") == big.sha
        f.quit()
    finally:
        f.close()
    text = route.proxy.stderr_text()
    assert re.search(r"the server refused AUTH TLS \(5\d\d .*\): clear text toward the server",
                     text), text[-2000:]
    [(command, _, client_leg, server_leg)] = transfers(route)
    assert command == "RETR pub/big.bin" and client_leg.startswith("TLSv1.") and \
        server_leg == "clear"


def greeting_then_end(route):
    """What a client reads from the proxy when it sends USER at once: the
    server's greeting, then the proxy's last word (the connection ends)."""
    with socket.create_connection((route.host, route.port), timeout=15) as s:
        s.sendall(b"USER anonymous\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode().splitlines()


@pytest.mark.parametrize("how, reason", [
    ("name", "certificate verify failed: hostname mismatch"),
    ("system", "certificate verify failed: self-signed certificate"),
    ("pin", "the certificate's SHA-256 fingerprint [0-9a-f:]{95} is not the one of "
            "--server-tls-fingerprint"),
])
def test_a_certificate_that_fails_its_check_is_a_421_with_the_reason(how, reason, make_route,
                                                                      servers):
    srv = servers.get("vsftpd-tls", "v4")
    extra = {"name": ["--server-tls-ca", srv.tls_cert, "--server-tls-name", "ftp.example.org"],
             "system": [],
             "pin": ["--server-tls-fingerprint", "00" * 32]}[how]
    route = make_route("vsftpd-tls", "v4", extra=["--server-tls", "auto"] + extra)
    mark = route.server.mark()
    lines = greeting_then_end(route)
    assert lines[0].startswith("220 "), lines
    assert len(lines) == 2 and re.fullmatch(
        rf"421 Service not available: TLS toward the FTP server failed: {reason}\.", lines[1]), lines
    # not one command of the client's reached the server
    assert "USER" not in [c for _, c, _ in route.server.seen_since(mark).commands]


def test_required_tls_toward_a_server_without_it_is_a_421(make_route):
    route = make_route("pyftpdlib", "v4", extra=["--server-tls", "required"])
    lines = greeting_then_end(route)
    assert lines[0].startswith("220 "), lines
    assert re.fullmatch(r"421 Service not available: the FTP server answered 5\d\d to AUTH TLS, "
                        r"and this proxy requires TLS toward it\.", lines[1]), lines


# ---------------------------------------------------------------- capture

class Capture:
    """tcpdump on the namespace's loopback for the duration of a `with`:
    every TCP payload, by direction (source, destination address).
    --immediate-mode: without it, libpcap hands packets over a block at a
    time and the block under way at SIGINT is lost (measured: the last
    upload's tail missing, with "0 packets dropped")."""

    def __init__(self, path):
        self.path = path
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-B", "65536", "-s", "0", "-w", str(self.path), "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # "listening on lo" is printed once the capture runs
        line = self.proc.stderr.readline().decode()
        assert "listening on" in line, line
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)         # what the kernel passed on is written before the stop
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=10)
        self.summary = err.decode()

    def dropped(self):
        """Packets lost: dropped by the kernel, or received by the filter and
        not written (seen once at a stop: 181 captured of 428 received). On
        lo the filter sees every packet twice (going out, coming in) and
        libpcap keeps one: 215 captured of 430 received is complete."""
        def count(what):
            found = re.search(rf"(\d+) packets? {what}", self.summary)
            return int(found.group(1)) if found else 0
        unwritten = count("received by filter") // 2 - count("captured")
        return count("dropped by kernel") + max(0, unwritten)

    def payloads(self):
        """{(src, dst): bytes} of the capture (Ethernet-framed IPv4/IPv6)."""
        data = self.path.read_bytes()
        out = {}
        pos = 24                                    # pcap global header
        while pos + 16 <= len(data):
            caplen = struct.unpack_from("<I", data, pos + 8)[0]
            frame = data[pos + 16:pos + 16 + caplen]
            pos += 16 + caplen
            ethertype = struct.unpack_from("!H", frame, 12)[0]
            ip = frame[14:]
            if ethertype == 0x0800:
                header = (ip[0] & 15) * 4
                src, dst = ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20])
            elif ethertype == 0x86DD:
                header = 40
                src, dst = ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40])
            else:
                continue
            tcp = ip[header:]
            payload = tcp[(tcp[12] >> 4) * 4:]
            key = (str(src), str(dst))
            out[key] = out.get(key, b"") + payload
        return out


def pieces_seen(stream, secret):
    """How many of 16 pieces (64 bytes each) of `secret` appear in `stream`."""
    step = len(secret) // 16
    return sum(secret[i * step:i * step + 64] in stream for i in range(16))


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_each_tls_leg_carries_no_plaintext(fam, make_route, servers, proxy_cert, tmp_path):
    """Captured on both legs: an upload from a clear client shows its bytes
    on the client leg (the capture works) and none on the server leg; from
    an FTPS client, none on either."""
    route = tls_to_server(make_route, servers, "vsftpd-tls", fam, client_cert=proxy_cert,
                          client_policy="optional")
    # A capture that lost packets proves nothing either way: tried again
    # (the machines are shared; it has not happened with -B 64 MiB here).
    for attempt in range(3):
        clear_secret, tls_secret = os.urandom(64 * 1024), os.urandom(64 * 1024)
        capture = Capture(tmp_path / f"legs-{attempt}.pcap")
        with capture:
            plain = RecFTP("EPSV", route.client_addr)
            login(plain, route)
            plain.storbinary(f"STOR pub/clear-{fam}-{attempt}.bin", io.BytesIO(clear_secret))
            plain.quit()
            tls = TlsRecFTP("EPSV", route.client_addr, proxy_cert[0])
            login(tls, route)
            tls.prot_p()
            tls.storbinary(f"STOR pub/tls-{fam}-{attempt}.bin", io.BytesIO(tls_secret))
            tls.quit()
        if capture.dropped() == 0:
            break
    else:
        pytest.fail(f"tcpdump dropped packets three times: {capture.summary}")
    assert (route.server.pub / f"clear-{fam}-{attempt}.bin").read_bytes() == clear_secret
    assert (route.server.pub / f"tls-{fam}-{attempt}.bin").read_bytes() == tls_secret
    flows = capture.payloads()
    addr = net.ADDR[fam]
    client_leg = flows.get((addr["client"], addr["listen"]), b"")
    server_leg = flows.get((addr["source"], route.server.addr), b"")
    assert len(server_leg) > 2 * len(tls_secret), f"the capture missed the server leg: {capture.summary}"
    assert pieces_seen(client_leg, clear_secret) >= 12, "the capture missed the clear leg"
    assert pieces_seen(server_leg, clear_secret) == 0, "plaintext on the server's TLS leg"
    assert pieces_seen(client_leg, tls_secret) == 0, "plaintext on the client's TLS leg"
    assert pieces_seen(server_leg, tls_secret) == 0, "plaintext on the server's TLS leg"


# ---------------------------------------------------------------- implicit FTPS

class Implicit:
    """A route whose URLs are ftps:// (implicit FTPS: TLS from the first byte)."""

    def __init__(self, route):
        self._route = route

    def __getattr__(self, name):
        return getattr(self._route, name)

    def url(self, path=""):
        return "ftps://" + self._route.url(path)[len("ftp://"):]


class ImplicitFTPS(TlsRecFTP):
    """ftplib with TLS before the greeting, and PROT P taken as the default
    (it sends no PBSZ/PROT at all): what implicit FTPS clients assume."""

    def connect(self, host, port):
        self.host, self.port = host, port
        plain = socket.create_connection((host, port), self.timeout,
                                         source_address=self.source_address)
        self.af = plain.family
        self.sock = self.context.wrap_socket(plain, server_hostname=self.tls_name or host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        self._prot_p = True
        return self.welcome


def implicit_route(make_route, servers, proxy_cert, kind="vsftpd-tls", fam="v4"):
    return tls_to_server(make_route, servers, kind, fam, client_cert=proxy_cert,
                         client_policy="optional", extra=["--tls-implicit"])


@pytest.mark.parametrize("mode, fam", [("EPSV", "v4"), ("PORT", "v4"), ("EPRT", "v6")])
def test_implicit_ftps_with_ftplib_and_no_prot_command(mode, fam, make_route, servers,
                                                       proxy_cert, big):
    route = implicit_route(make_route, servers, proxy_cert, fam=fam)
    name = f"implicit-{mode}-{fam}.bin"
    f = ImplicitFTPS(mode, route.client_addr, proxy_cert[0])
    try:
        assert f.connect(route.host, route.port).startswith("220 ")
        f.login(route.server.user, route.server.password)
        assert sha256_retr(f, "pub/big.bin") == big.sha
        with open(big.path, "rb") as src:
            assert f.storbinary(f"STOR pub/{name}", src, blocksize=1 << 20).startswith("226")
        assert sha256_file(route.server.pub / name) == big.sha
        f.quit()
    finally:
        f.close()
    assert not {"AUTH", "PBSZ", "PROT"} & {line.split()[0].upper() for line in f.transcript.sent()}
    assert_mode_used(f.transcript, mode, "ftplib implicit")
    legs = transfers(route)
    assert [c for c, *_ in legs] == ["RETR pub/big.bin", f"STOR pub/{name}"]
    assert all(c.startswith("TLSv1.") and s.endswith(" resumed") for _, _, c, s in legs), legs


def test_implicit_ftps_with_curl_and_lftp(make_route, servers, proxy_cert, big, tmp_path):
    route = implicit_route(make_route, servers, proxy_cert)
    curl = Curl(Implicit(route), "EPSV", tmp_path)
    out = tmp_path / "curl-down.bin"
    _, tr = curl("pub/big.bin", "--cacert", str(proxy_cert[0]), "-o", str(out))
    assert sha256_file(out) == big.sha
    assert "PROT P" in tr.sent() and not any(s.startswith("AUTH") for s in tr.sent()), tr.text()
    _, tr, _ = run_lftp(Implicit(route), "PASV", [
        "cd pub", f"get big.bin -o {tmp_path}/lftp-down.bin",
        f"put {big.path} -o implicit-lftp.bin"], tmp_path, name="lftp-implicit", ssl_allow=True,
        settings=[f"set ssl:ca-file {proxy_cert[0]}", "set ssl:check-hostname no",
                  "set ftps:initial-prot P"])
    assert sha256_file(tmp_path / "lftp-down.bin") == big.sha
    assert sha256_file(route.server.pub / "implicit-lftp.bin") == big.sha
    legs = transfers(route)
    assert [c for c, *_ in legs] == ["RETR big.bin", "RETR big.bin", "STOR implicit-lftp.bin"], \
        legs
    assert all(c.startswith("TLSv1.") for _, _, c, _ in legs), legs


def test_implicit_listener_closes_a_clear_text_client(make_route, servers, proxy_cert):
    """A client that speaks FTP in clear text to the implicit port gets no
    reply in clear text (there is none to give): the handshake fails and the
    connection is closed, at once."""
    route = implicit_route(make_route, servers, proxy_cert)
    mark = route.server.mark()
    with socket.create_connection((route.host, route.port), timeout=10) as s:
        s.sendall(b"USER anonymous\r\n")
        assert s.recv(4096) == b""
    wait_until(lambda: "client TLS handshake failed: wrong version number" in
               route.proxy.stderr_text(), 5, "the failed handshake in the log")
    assert route.server.seen_since(mark).commands == []


def test_rclone_explicit_ftps_both_ways(make_route, servers, proxy_cert, big, tmp_path):
    """rclone's FTP backend (Go's crypto/tls, explicit TLS, EPSV), verifying
    the proxy's certificate through SSL_CERT_FILE, to vsftpd over TLS. Its
    data connections resume its control connection's session: the proxy
    requires that of them (--client-tls-reuse required), as vsftpd of the
    proxy."""
    route = tls_to_server(make_route, servers, "vsftpd-tls", "v4", client_cert=proxy_cert,
                          extra=["--client-tls-reuse", "required"])
    s = route.server
    secret = subprocess.run(["rclone", "obscure", s.password], check=True, timeout=30,
                            capture_output=True, text=True).stdout.strip()
    remote = (f":ftp,host={route.host},port={route.port},user={s.user},pass={secret},"
              "explicit_tls=true:")
    env = dict(os.environ, SSL_CERT_FILE=str(proxy_cert[0]), RCLONE_CONFIG="/dev/null")

    def rclone(*args):
        r = subprocess.run(["rclone", "--bind", route.client_addr, "--retries", "1",
                            "--low-level-retries", "1", "--timeout", "20s", *args],
                           env=env, timeout=120, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]

    rclone("copyto", remote + "pub/big.bin", str(tmp_path / "rclone-down.bin"))
    assert sha256_file(tmp_path / "rclone-down.bin") == big.sha
    rclone("copyto", str(big.path), remote + "pub/rclone-up.bin")
    assert sha256_file(s.pub / "rclone-up.bin") == big.sha
    legs = [leg for leg in transfers(route) if leg[0].startswith(("RETR", "STOR"))]
    assert [c for c, *_ in legs] == ["RETR pub/big.bin", "STOR pub/rclone-up.bin"], legs
    assert all(c.startswith("TLSv1.") and c.endswith(" resumed") and sv.endswith(" resumed")
               for _, _, c, sv in legs), legs


def test_the_proxys_checks_hold_inside_tls(make_route, servers, proxy_cert):
    """Inside TLS on both sides the dialogue is the same: a bounce PORT, an
    over-long line and a control byte get the proxy's own replies, and none
    of them reaches the server; the session goes on."""
    route = tls_to_server(make_route, servers, "vsftpd-tls", "v4", client_cert=proxy_cert)
    mark = route.server.mark()
    f = TlsRecFTP("EPSV", route.client_addr, proxy_cert[0])
    try:
        login(f, route)
        f.prot_p()
        for line, reply in [
            ("PORT 198,18,0,99,7,208",
             "500 Illegal PORT command: the data address must be your own."),
            ("NOOP " + "x" * 1100, "500 Command line too long (limit 1024 bytes)."),
            ("NO\x01OP", "500 Command line contains control characters."),
        ]:
            with pytest.raises(ftplib.error_perm) as refused:
                f.sendcmd(line)
            assert str(refused.value) == reply
        assert f.sendcmd("NOOP").startswith("200")
        f.quit()
    finally:
        f.close()
    cmds = [c for _, c, _ in route.server.seen_since(mark).commands]
    assert "PORT" not in cmds and cmds.count("NOOP") == 1, cmds
