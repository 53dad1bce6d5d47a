"""Abuse and limits: the exact replies of docs/ftp-proxy.md, and the proxy
keeps serving others afterwards (every test ends with a clean session
through the same proxy while the abusive one is still open)."""
import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from ftpx import net
from ftpx.clients import ftplib_connect
from ftpx.ftpraw import Raw, open_passive, recv_all
from ftpx.proxy import PROXY_BIN

pytestmark = pytest.mark.proxy_only

OWN = "500 Illegal PORT command: the data address must be your own."
LOW = "500 Illegal PORT command: ports below 1024 are refused."
BAD_PORT = "501 Malformed PORT argument."
BAD_EPRT = "501 Malformed EPRT argument."
PROTO = "522 Network protocol not supported, use (1,2)"
LONG = "500 Command line too long (limit 1024 bytes)."
CTRL = "500 Command line contains control characters."
VERB = "500 Syntax error, command unrecognized."


def session(route, login=True):
    r = Raw(route.host, route.port, route.client_addr)
    r.banner()
    if login:
        r.login(route.server.user, route.server.password)
    return r


def clean_session(route, big):
    """A well-behaved client: login, EPSV, RETR 32 MiB with the right sha256."""
    f = ftplib_connect(route, "EPSV")
    try:
        h = hashlib.sha256()
        f.retrbinary("RETR pub/big.bin", h.update, blocksize=1 << 20)
        assert h.hexdigest() == big.sha, "clean session after abuse: sha256 differs"
        f.quit()
    finally:
        f.close()


def retr_big_through(r, route, host, port, big):
    """RETR of the big file over the passive port host:port of session r:
    the replies in order and the sha256 of what arrived."""
    d = net.connect(host, port, source=route.client_addr)
    r.send("RETR pub/big.bin\r\n")
    assert r.reply().code in (125, 150)
    data = recv_all(d)
    d.close()
    assert r.reply().code == 226
    assert hashlib.sha256(data).hexdigest() == big.sha


# ------------------------------------------------------------ PORT / EPRT

PORT_CASES = [
    # (id, client family, command, exact reply)
    ("PORT-other-addr", "v4", "PORT 127,0,0,9,195,80", OWN),
    ("PORT-server-addr", "v4", "PORT 127,0,0,4,195,80", OWN),
    ("EPRT-other-addr-v4", "v4", "EPRT |1|127.0.0.9|50000|", OWN),
    ("EPRT-v6-addr-from-v4-client", "v4", "EPRT |2|fd18::1|50000|", OWN),
    ("EPRT-other-addr-v6", "v6", "EPRT |2|fd18::9|50000|", OWN),
    ("EPRT-server-addr-v6", "v6", "EPRT |2|fd18::4|50000|", OWN),
    ("PORT-low-port", "v4", "PORT 127,0,0,1,0,80", LOW),
    ("PORT-port-1023", "v4", "PORT 127,0,0,1,3,255", LOW),
    ("EPRT-low-port-v4", "v4", "EPRT |1|127.0.0.1|21|", LOW),
    ("EPRT-low-port-v6", "v6", "EPRT |2|fd18::1|1023|", LOW),
    ("PORT-five-numbers", "v4", "PORT 127,0,0,1,200", BAD_PORT),
    ("PORT-byte-256", "v4", "PORT 127,0,0,1,256,1", BAD_PORT),
    ("PORT-letters", "v4", "PORT a,b,c,d,e,f", BAD_PORT),
    ("PORT-no-arg", "v4", "PORT", BAD_PORT),
    ("EPRT-missing-port", "v4", "EPRT |1|127.0.0.1|", BAD_EPRT),
    ("EPRT-bad-v4", "v4", "EPRT |1|999.0.0.1|50000|", BAD_EPRT),
    ("EPRT-v4-addr-proto-2", "v4", "EPRT |2|127.0.0.1|50000|", BAD_EPRT),
    ("EPRT-port-70000", "v4", "EPRT |1|127.0.0.1|70000|", BAD_EPRT),
    ("EPRT-no-delims", "v4", "EPRT 1,127.0.0.1,50000", BAD_EPRT),
    ("EPRT-proto-3", "v4", "EPRT |3|127.0.0.1|50000|", PROTO),
    ("EPRT-proto-3-v6", "v6", "EPRT |3|fd18::1|50000|", PROTO),
]


@pytest.mark.parametrize("cid,fam,cmd,want", [pytest.param(*c, id=c[0]) for c in PORT_CASES])
def test_port_eprt_refused(cid, fam, cmd, want, make_route, big):
    route = make_route("pyftpdlib", fam)
    mark = route.server.mark()
    with session(route) as r:
        got = r.cmd(cmd)
        assert got.lines == [want], f"{cmd!r}: got {got.lines}"
        seen = route.server.seen_since(mark)
        assert not seen.data_setup_verbs(), f"the server received {seen.data_setup_verbs()}"
        assert r.cmd("NOOP").code == 200
        clean_session(route, big)
        assert r.cmd("NOOP").code == 200


# ------------------------------------------------------------ line discipline

LINE_CASES = [
    ("too-long-1025", b"NOOP " + b"x" * (1025 - 7) + b"\r\n", LONG),
    ("too-long-4k", b"STAT " + b"y" * 4096 + b"\r\n", LONG),
    ("nul", b"NOOP\x00junk\r\n", CTRL),
    ("nul-in-arg", b"CWD pub\x00/../etc\r\n", CTRL),
    ("ctrl-0x01", b"NO\x01OP\r\n", CTRL),
    ("escape", b"LIST \x1b[2J\r\n", CTRL),
    ("verb-1-letter", b"X\r\n", VERB),
    ("verb-5-letters", b"NOOPS\r\n", VERB),
    ("verb-digits", b"N00P\r\n", VERB),
]


@pytest.mark.parametrize("cid,line,want", [pytest.param(*c, id=c[0]) for c in LINE_CASES])
def test_bad_lines(cid, line, want, make_route, big):
    route = make_route("pyftpdlib", "v4")
    with session(route) as r:
        r.send(line)
        got = r.reply()
        assert got.lines == [want], f"{line[:40]!r}...: got {got.lines}"
        assert r.cmd("NOOP").code == 200, "the session must go on after a refused line"
        clean_session(route, big)
        assert r.cmd("NOOP").code == 200


def test_line_of_exactly_1024_bytes_passes(make_route):
    """1024 bytes including CRLF is within the limit: it reaches the server."""
    route = make_route("pyftpdlib", "v4")
    mark = route.server.mark()
    with session(route) as r:
        arg = "z" * (1024 - len("SITE ") - 2)
        got = r.cmd("SITE " + arg)
        assert got.last != LONG and len(("SITE " + arg + "\r\n").encode()) == 1024
        assert any(c == "SITE" for _, c, _ in route.server.seen_since(mark).commands)
        assert r.cmd("NOOP").code == 200


def test_long_line_split_across_sends(make_route):
    """A too-long line that arrives in pieces is refused the same way."""
    route = make_route("pyftpdlib", "v4")
    with session(route) as r:
        r.send(b"NOOP " + b"a" * 600)
        r.send(b"b" * 600)
        r.send(b"\r\n")
        assert r.reply().last == LONG
        assert r.cmd("NOOP").code == 200


@pytest.mark.parametrize("cmd", ["AUTH TLS", "AUTH SSL", "PBSZ 0", "PROT P", "CCC", "ADAT x", "MIC x"])
def test_tls_commands_refused(cmd, make_route):
    route = make_route("pyftpdlib", "v4", tls=True)     # a server that would accept them
    verb = cmd.split()[0]
    with session(route, login=False) as r:
        got = r.cmd(cmd)
        assert got.lines == [f"502 {verb} is not supported by this proxy (FTPS is not carried yet)."]
        r.login(route.server.user, route.server.password)
        assert r.cmd("NOOP").code == 200


# ------------------------------------------------------------ -A

def test_anonymous_only(make_route, big):
    route = make_route("pyftpdlib", "v4", extra=["-A"])
    mark = route.server.mark()
    with session(route, login=False) as r:
        got = r.cmd("USER test")
        assert got.lines == ["530 Only anonymous logins are allowed through this proxy."]
        assert not any(c == "USER" and a == "test" for _, c, a in route.server.seen_since(mark).commands), \
            "USER test reached the server"
        # USER ftp is anonymous too: the proxy lets it through (pyftpdlib
        # itself only knows "anonymous", so the server's answer decides)
        with session(route, login=False) as a:
            m2 = route.server.mark()
            got = a.cmd("USER ftp")
            assert got.last != "530 Only anonymous logins are allowed through this proxy."
            assert ("USER", "ftp") in [(c, x) for _, c, x in route.server.seen_since(m2).commands]
        with session(route, login=False) as a:
            got = a.cmd("USER anonymous")
            assert got.code == 331, got.lines
            assert a.cmd("PASS guest@example.org").code == 230
            assert a.cmd("TYPE I").code == 200
            _, host, port = open_passive(a, "v4", route.host)
            retr_big_through(a, route, host, port, big)
        assert r.cmd("USER anonymous").code == 331, "the refused session goes on"


# ------------------------------------------------------------ port theft

@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_port_theft_closed(fam, make_route, big):
    """After PASV/EPSV, a connection to the proxy's data port from another
    address is closed without data; the real client still gets the file."""
    route = make_route("pyftpdlib", fam)
    with session(route) as r:
        r.cmd("TYPE I")
        _, host, port = open_passive(r, fam, route.host)
        assert host == route.host
        thief = net.connect(host, port, source=net.ADDR[fam]["thief"])
        try:
            stolen = recv_all(thief, timeout=5)
        except (ConnectionResetError, BrokenPipeError):
            stolen = b""
        thief.close()
        assert stolen == b"", "the thief received data"
        # still the client's turn: the listener waited for it
        retr_big_through(r, route, host, port, big)
        clean_session(route, big)


def test_port_theft_thief_first_then_retr(make_route, big):
    """The thief connects, then RETR is sent before the client connects:
    no byte of the file goes to the thief."""
    route = make_route("pyftpdlib", "v4")
    with session(route) as r:
        r.cmd("TYPE I")
        _, host, port = open_passive(r, "v4", route.host)
        thief = net.connect(host, port, source=net.ADDR["v4"]["thief"])
        r.send("RETR pub/big.bin\r\n")
        d = net.connect(host, port, source=route.client_addr)
        assert r.reply().code in (125, 150)
        data = recv_all(d)
        d.close()
        assert r.reply().code == 226
        try:
            stolen = recv_all(thief, timeout=5)
        except (ConnectionResetError, BrokenPipeError):
            stolen = b""
        thief.close()
        assert stolen == b""
        assert hashlib.sha256(data).hexdigest() == big.sha


# ------------------------------------------------------------ limits

def test_session_limit(make_route, big):
    route = make_route("pyftpdlib", "v4", extra=["-m", "2"])
    a, b = session(route), session(route)
    try:
        c = Raw(route.host, route.port, route.client_addr)
        first = c.reply()
        assert first.lines == ["421 Too many sessions (limit 2), try again later."]
        assert c.wait_closed(5), "the 421'd connection was not closed"
        c.close()
        assert a.cmd("NOOP").code == 200 and b.cmd("NOOP").code == 200
        b.cmd("QUIT")
        b.close()
        # a slot is free again once the proxy has seen b go: bounded poll
        deadline = time.monotonic() + 5
        while True:
            d = Raw(route.host, route.port, route.client_addr)
            rep = d.reply()
            if rep.code == 220:
                break
            d.close()
            assert rep.code == 421 and time.monotonic() < deadline, f"no free slot: {rep.lines}"
            time.sleep(0.05)
        d.login(route.server.user, route.server.password)
        assert d.cmd("NOOP").code == 200
        d.close()
        assert a.cmd("NOOP").code == 200
    finally:
        a.close()
        b.close()


def test_idle_timeout(make_route, big):
    route = make_route("pyftpdlib", "v4", extra=["-t", "2"])
    # an active session is not idle: NOOP every 0.5 s for 3 s keeps it
    with session(route) as busy:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.0:
            assert busy.cmd("NOOP").code == 200
            time.sleep(0.5)                                  # pacing, not synchronisation
        assert busy.cmd("NOOP").code == 200
    with session(route) as r:
        t0 = time.monotonic()
        got = r.reply(timeout=10)
        took = time.monotonic() - t0
        assert got.lines == ["421 Idle timeout (2 seconds), closing control connection."]
        assert 1.5 <= took <= 8, f"idle 421 after {took:.1f}s"
        assert r.wait_closed(5)
    clean_session(route, big)


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_backend_down(fam, make_route):
    dead_addr = net.ADDR[fam]["server"]
    dead_port = net.free_port(dead_addr)
    route = make_route("pyftpdlib", fam, backend=(dead_addr, dead_port))
    for _ in range(2):                                  # and again: the proxy lives on
        with Raw(route.host, route.port, route.client_addr) as r:
            got = r.reply()
            assert len(got.lines) == 1
            line = got.last
            assert re.fullmatch(
                r"421 Service not available: cannot reach FTP server "
                + r"\[?" + re.escape(dead_addr) + r"\]?:" + str(dead_port) + r": .+\.", line), line
            assert "cannot reach" in line
            assert r.wait_closed(5)
    assert route.proxy.alive()


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_data_timeout(fam, make_route, big):
    """--data-timeout 2: a negotiated data port that nobody uses is closed;
    the session goes on."""
    route = make_route("pyftpdlib", fam, extra=["--data-timeout", "2"])
    with session(route) as r:
        t0 = time.monotonic()
        _, host, port = open_passive(r, fam, route.host)
        assert net.is_listening(host, port), "the proxy does not listen on its announced port"
        net.wait_until(lambda: not net.is_listening(host, port), 10,
                       "the proxy to close its unused data listener")
        took = time.monotonic() - t0
        assert took >= 1.5, f"closed after {took:.1f}s, before the 2 s data timeout"
        assert net.connect_refused(host, port, source=route.client_addr)
        assert r.cmd("NOOP").code == 200
        # a new transfer in the same session works
        r.cmd("TYPE I")
        _, host, port = open_passive(r, fam, route.host)
        retr_big_through(r, route, host, port, big)


# ------------------------------------------------------------ logs, signals, usage

def test_passwords_not_logged(make_route):
    route = make_route("pyftpdlib", "v4")
    with session(route, login=False) as r:
        r.cmd("USER test")
        assert r.cmd("PASS wrong-Pa55word-1").code == 530
        r.login("test", "secret")
        assert r.cmd("NOOP").code == 200
    with session(route, login=False) as r:
        r.login("anonymous", "anon-Pa55word-2@example.org")
    route_v = make_route("vsftpd", "v4", name="proxy-vsftpd")
    with session(route_v, login=False) as r:
        r.login("anonymous", "anon-Pa55word-3@example.org")
    text = route.proxy.stderr_text() + route_v.proxy.stderr_text()
    assert "PASS" in text, "the proxy with -v -D 7 should log commands (PASS masked)"
    for pw in ("secret", "wrong-Pa55word-1", "anon-Pa55word-2", "anon-Pa55word-3"):
        assert pw not in text, f"{pw!r} in the proxy log"


def test_sigterm_closes_sessions(make_route):
    route = make_route("pyftpdlib", "v4")
    r = session(route)
    try:
        assert r.cmd("NOOP").code == 200
        route.proxy.proc.p.send_signal(signal.SIGTERM)
        got = r.reply(timeout=10)
        assert got.lines == ["421 Proxy shutting down."]
        assert r.wait_closed(5)
        rc = route.proxy.proc.p.wait(timeout=10)
        assert rc == 0
    finally:
        r.close()
    assert net.connect_refused(route.host, route.port)


def test_sigusr1_drains(make_route, big):
    route = make_route("pyftpdlib", "v4")
    r = session(route)
    try:
        route.proxy.proc.p.send_signal(signal.SIGUSR1)
        net.wait_until(lambda: not net.is_listening(route.host, route.port), 5,
                       "the draining proxy to stop listening")
        assert route.proxy.alive(), "the proxy exited with a session still open"
        r.cmd("TYPE I")
        _, host, port = open_passive(r, "v4", route.host)
        retr_big_through(r, route, host, port, big)
        r.cmd("QUIT")
        rc = route.proxy.proc.p.wait(timeout=10)
        assert rc == 0
    finally:
        r.close()


@pytest.mark.parametrize("args,flag", [
    pytest.param(["-p", "80x"], '-p: "80x" is not a port (1..65535)', id="p-80x"),
    pytest.param(["-p", "0"], "-p", id="p-0"),
    pytest.param(["-m", "0"], "-m", id="m-0"),
    pytest.param(["-m", "20001"], "-m", id="m-20001"),
    pytest.param(["-D", "9"], "-D", id="D-9"),
    pytest.param(["--no-such-option"], "no-such-option", id="unknown-option"),
])
def test_usage_errors(args, flag):
    r = subprocess.run([str(PROXY_BIN), "-d", "-R", "127.0.0.4"] + args, capture_output=True,
                       timeout=10, stdin=subprocess.DEVNULL)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 64, f"exit {r.returncode}: {err}"
    first = err.splitlines()[0] if err else ""
    assert first.startswith("ftp-proxy: ") and flag in first, err
    assert "usage" in err.lower()


@pytest.mark.parametrize("args,env,code,message", [
    pytest.param(["-R", "no-such-host.invalid"], {}, 68,
                 '-R: cannot resolve "no-such-host.invalid"', id="backend-unresolvable"),
    pytest.param(["--firewall", "pf"], {"FTPPROXY_PFCTL": "/nonexistent/pfctl"}, 69,
                 "--firewall pf: /nonexistent/pfctl is not an executable",
                 id="firewall-unavailable"),
])
def test_start_failures_have_their_own_exit_codes(args, env, code, message):
    """ftpproxyd explains a worker's exit by its code alone (LAST-EXIT), so
    each cause has its own (docs/ftp-proxy.md, Exit codes)."""
    port = net.free_port("127.0.0.1")
    r = subprocess.run([str(PROXY_BIN), "-d", "-b", "127.0.0.1", "-p", str(port)] + args,
                       capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, **env))
    err = r.stderr.decode(errors="replace")
    assert r.returncode == code, f"exit {r.returncode}: {err}"
    assert err.startswith("ftp-proxy: " + message), err


# ------------------------------------------------------------ EPSV arguments

EPSV_CASES = [
    ("EPSV-2-on-v4", "v4", "EPSV 2", "522 Network protocol not supported, use (1)"),
    ("EPSV-1-on-v6", "v6", "EPSV 1", "522 Network protocol not supported, use (2)"),
    ("EPSV-3", "v4", "EPSV 3", "522 Network protocol not supported, use (1)"),
    ("EPSV-junk", "v4", "EPSV foo", "501 Malformed EPSV argument."),
]


@pytest.mark.parametrize("cid,fam,cmd,want", [pytest.param(*c, id=c[0]) for c in EPSV_CASES])
def test_epsv_argument_refused(cid, fam, cmd, want, make_route):
    route = make_route("pyftpdlib", fam)
    mark = route.server.mark()
    with session(route) as r:
        assert r.cmd(cmd).lines == [want]
        assert not route.server.seen_since(mark).data_setup_verbs()
        assert r.cmd("NOOP").code == 200


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fill_descriptors(route):
    """Opens logged-in sessions (two descriptors each: client and server)
    until the worker accepts no more. Returns them, or None when the worker
    was left with exactly one descriptor (accepted, but no server socket:
    421): the caller then tries a limit of the other parity."""
    held = []
    for _ in range(200):
        r = Raw(route.host, route.port, route.client_addr, timeout=2.0)
        try:
            first = r.reply()
        except Exception:
            r.close()   # not accepted within 2 s: out of descriptors
            return held
        if first.code != 220:
            r.close()
            for h in held:
                h.close()
            assert first.code == 421 and "Too many open files" in first.last, first.lines
            return None
        r.login(route.server.user, route.server.password)
        held.append(r)
    pytest.fail("the worker never ran out of descriptors")


@pytest.mark.proxy_only
def test_accept_survives_emfile_without_spinning(make_route):
    """Out of descriptors, the accept loop waits and retries instead of
    spinning on the still-readable listener, says why in the log once, and
    serves clients again once descriptors are free."""
    for limit in (64, 65):   # one of the two leaves no descriptor at all
        route = make_route("pyftpdlib", "v4", name=f"proxy-nofile-{limit}",
                           prefix=("prlimit", f"--nofile={limit}:{limit}", "--"))
        held = fill_descriptors(route)
        if held is not None:
            break
    else:
        pytest.fail("neither descriptor limit left the worker with none free")
    pid = route.proxy.proc.pid
    try:
        waiting = net.connect(route.host, route.port, source=route.client_addr)
        try:
            cpu0 = cpu_seconds(pid)
            time.sleep(2.0)
            used = cpu_seconds(pid) - cpu0
            # A spinning loop burns a whole core (about 2 s here); retrying
            # every 100 ms costs a few milliseconds.
            assert used < 0.5, f"the worker used {used:.2f} s of CPU in 2 s at EMFILE"
            log = route.proxy.stderr_text()
            # Said once, not ten times a second (the next one after 10 s).
            assert log.count("accept failed: Too many open files") == 1, log
            for _ in range(2):
                quitting = held.pop()
                quitting.send("QUIT\r\n")
                assert quitting.reply().code == 221
                assert quitting.wait_closed(), "the proxy did not close the QUIT session"
                quitting.close()
            # The waiting client is answered: served, or, if a retry took it
            # while only one descriptor was free, told why. Never left hanging.
            waiting.settimeout(10)
            first = waiting.recv(1024)
            assert first.startswith(b"220") or (
                first.startswith(b"421") and b"Too many open files" in first), first
            # With descriptors free, a new client is served.
            with session(route, login=False) as fresh:
                assert fresh.cmd("NOOP").code == 200
            assert re.search(r"accepting again after \d+ failed accepts",
                             route.proxy.stderr_text())
        finally:
            waiting.close()
    finally:
        for r in held:
            r.close()


@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
def test_rein_resets_epsv_all_only_when_accepted(server, make_route):
    """REIN resets all parameters (RFC 959), and EPSV ALL is one the proxy
    keeps: after a REIN the server accepted, PASV works again; after one it
    refused (vsftpd: 502), EPSV ALL still holds."""
    route = make_route(server, "v4")
    with session(route) as r:
        assert r.cmd("EPSV ALL").lines == ["200 EPSV ALL accepted."]
        assert r.cmd("PASV").lines == ["503 Only EPSV is allowed after EPSV ALL."]
        rein = r.cmd("REIN")
        if server == "pyftpdlib":
            assert rein.lines == ["230 Ready for new user."]
            r.login(route.server.user, route.server.password)
            assert r.cmd("PASV").code == 227
        else:
            assert rein.code == 502, rein.lines
            assert r.cmd("PASV").lines == ["503 Only EPSV is allowed after EPSV ALL."]
        assert r.cmd("NOOP").code == 200


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_epsv_all_allows_only_epsv(fam, make_route):
    """After EPSV ALL (answered by the proxy) PORT/EPRT/PASV get 503 and
    never reach the server; EPSV and its transfer still work."""
    route = make_route("pyftpdlib", fam)
    mark = route.server.mark()
    with session(route) as r:
        assert r.cmd("EPSV ALL").lines == ["200 EPSV ALL accepted."]
        h = route.client_addr.replace(".", ",")
        refused = ["EPRT |2|fd18::1|50000|"] if fam == "v6" else [f"PORT {h},195,80", "PASV"]
        for cmd in refused:
            assert r.cmd(cmd).lines == ["503 Only EPSV is allowed after EPSV ALL."], cmd
        assert not route.server.seen_since(mark).data_setup_verbs()
        reply = r.cmd("EPSV")
        assert reply.code == 229, reply.lines
        port = int(reply.last.split("|")[3])
        d = net.connect(route.host, port, source=route.client_addr)
        r.send("LIST pub\r\n")
        listing = recv_all(d).decode(errors="replace")
        d.close()
        assert r.reply().code in (125, 150)
        assert r.reply().code == 226
        assert "big.bin" in listing
