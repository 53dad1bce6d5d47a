"""Line discipline: a command line that is too long, holds control
characters or has no valid verb gets the exact reply of docs/ftp-proxy.md
and never reaches the server; the session goes on, and the proxy keeps
serving others (a clean session while the refused one is still open)."""
import pytest

from ftpx.sessions import clean_session, session

pytestmark = pytest.mark.proxy_only

LONG = "500 Command line too long (limit 1024 bytes)."
CTRL = "500 Command line contains control characters."
VERB = "500 Syntax error, command unrecognized."

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
