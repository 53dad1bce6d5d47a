"""The worker as a process: SIGTERM closes the sessions with 421 and exits 0,
SIGUSR1 stops listening and lets the open sessions finish, and a bad
command line exits 64 with one clear line and the usage."""
import os
import signal
import subprocess

import pytest

from ftpx import net
from ftpx.ftpraw import open_passive
from ftpx.binaries import PROXY_BIN
from ftpx.sessions import retr_big_through, session
from ftpx.wait import wait_until

pytestmark = pytest.mark.proxy_only


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
        wait_until(lambda: not net.is_listening(route.host, route.port), 5,
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
