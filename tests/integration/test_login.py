"""Before and at login: FTPS commands get 502 (the proxy does not carry TLS
yet), -A lets only anonymous logins through, and no password, right or
wrong, ever appears in the proxy's log."""
import pytest

from ftpx.ftpraw import open_passive
from ftpx.sessions import retr_big_through, session

pytestmark = pytest.mark.proxy_only


@pytest.mark.parametrize("cmd", ["AUTH TLS", "AUTH SSL", "PBSZ 0", "PROT P", "CCC", "ADAT x", "MIC x"])
def test_tls_commands_refused(cmd, make_route):
    route = make_route("pyftpdlib", "v4", tls=True)     # a server that would accept them
    verb = cmd.split()[0]
    with session(route, login=False) as r:
        got = r.cmd(cmd)
        assert got.lines == [f"502 {verb} is not supported by this proxy (FTPS is not carried yet)."]
        r.login(route.server.user, route.server.password)
        assert r.cmd("NOOP").code == 200


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
