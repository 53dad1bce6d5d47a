"""Limits: -m (sessions), -t (idle), --data-timeout (an unused data port),
running out of descriptors at accept (under prlimit), and a backend that
cannot be reached. Each one gets the exact reply of docs/ftp-proxy.md, and
the proxy keeps serving afterwards."""
import os
import re
import time

import pytest

from ftpx import net
from ftpx.ftpraw import Raw, open_passive
from ftpx.sessions import clean_session, retr_big_through, session
from ftpx.wait import wait_until

pytestmark = pytest.mark.proxy_only


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
        def free_slot():
            d = Raw(route.host, route.port, route.client_addr)
            rep = d.reply()
            if rep.code == 220:
                return d
            d.close()
            assert rep.code == 421, f"no free slot: {rep.lines}"
            return None

        d = wait_until(free_slot, 5, "a free slot", interval=0.05)
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
        wait_until(lambda: not net.is_listening(host, port), 10,
                   "the proxy to close its unused data listener")
        took = time.monotonic() - t0
        assert took >= 1.5, f"closed after {took:.1f}s, before the 2 s data timeout"
        assert net.connect_refused(host, port, source=route.client_addr)
        assert r.cmd("NOOP").code == 200
        # a new transfer in the same session works
        r.cmd("TYPE I")
        _, host, port = open_passive(r, fam, route.host)
        retr_big_through(r, route, host, port, big)


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


def open_files_limit(pid):
    """(soft, hard) of the process's 'Max open files' in /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError(f"no 'Max open files' in /proc/{pid}/limits")


@pytest.mark.parametrize("soft,hard", [(256, 4096), (256, 512)])
def test_the_descriptor_limit_rises_to_what_the_sessions_need(make_route, soft, hard):
    """-m 100 needs 100 x 9 + 64 = 964 descriptors: the worker raises its
    soft limit to that within the hard limit, which it never raises (even as
    root), and says how many sessions fit when the hard limit is lower."""
    route = make_route("pyftpdlib", "v4", extra=["-m", "100"], name=f"proxy-nofile-{soft}-{hard}",
                       prefix=("prlimit", f"--nofile={soft}:{hard}", "--"))
    wanted = min(964, hard)
    assert open_files_limit(route.proxy.proc.pid) == (wanted, hard)
    log = route.proxy.stderr_text()
    assert f"descriptor limit raised from {soft} to {wanted} for -m 100" in log, log
    warning = ("-m 100 sessions may hold 964 descriptors, but the limit (RLIMIT_NOFILE) is 512: "
               "about 49 sessions fit before accepts fail with EMFILE")
    assert (warning in log) == (hard < 964), log
    with session(route) as s:
        assert s.cmd("NOOP").code == 200
