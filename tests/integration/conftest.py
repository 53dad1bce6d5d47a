"""Fixtures of the ftp-proxy integration tests. See README.md."""
import os

import pytest

from ftpx import net
from ftpx.digest import sha256
from ftpx.binaries import PROXY_BIN
from ftpx.proxy import Proxy, Route, direct_mode, direct_reason
from ftpx.servers import SERVER_KINDS

BIG_SIZE = 32 * 1024 * 1024
DIRECT = direct_mode()


def pytest_report_header(config):
    if DIRECT:
        return [f"ftpx: DIRECT mode ({direct_reason()})"]
    return [f"ftpx: through the proxy {PROXY_BIN}"]


def pytest_collection_modifyitems(config, items):
    if not DIRECT:
        return
    skip = pytest.mark.skip(reason="proxy-only test; " + direct_reason())
    for item in items:
        if "proxy_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _namespace_ready():
    net.assert_addresses_present()


# ---------------------------------------------------------------- diagnostics
# Each test collects callables returning (title, text); on failure they are
# attached to the report (proxy stderr, server logs, client transcripts).

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for fn in getattr(item, "ftpx_diag", []):
            try:
                title, text = fn()
            except Exception as e:                  # diagnostics must not hide the failure
                title, text = "diagnostics error", repr(e)
            if text:
                rep.sections.append((f"ftpx: {title}", text))


@pytest.fixture
def diag(request):
    lst = []
    request.node.ftpx_diag = lst
    return lst


# ---------------------------------------------------------------- data

@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ftpx")
    os.chmod(d, 0o755)
    # pytest makes the base temp dir 0700; others may traverse it (not list
    # it): ProFTPD checks its anonymous root as the anonymous user, before
    # it chroots (vsftpd and pure-ftpd chroot as root).
    base = tmp_path_factory.getbasetemp()
    os.chmod(base, os.stat(base).st_mode | 0o111)
    return d


class BigFile:
    def __init__(self, path):
        self.path = path
        self.data = path.read_bytes()
        self.size = len(self.data)
        self.sha = sha256(self.data)


@pytest.fixture(scope="session")
def big(workdir):
    p = workdir / "big.bin"
    with open(p, "wb") as f:
        f.write(os.urandom(BIG_SIZE))
    os.chmod(p, 0o644)
    return BigFile(p)


# ---------------------------------------------------------------- servers

class Servers:
    """Session-wide servers, started on first use: one per (kind, family).

    Kinds: ftpx.servers.SERVER_KINDS -- "pyftpdlib", "vsftpd",
    "pyftpdlib-misbehaving", and the FTPS servers "pyftpdlib-tls",
    "vsftpd-tls", "proftpd-tls", "pure-ftpd-tls" (each with its own
    certificate: .tls_cert, .tls_key, .tls_fingerprint).
    """

    def __init__(self, workdir, big):
        self.workdir = workdir
        self.big = big
        self.running = {}

    def get(self, kind, family, tls=False):
        """tls=True: the FTPS variant of kind ("pyftpdlib" -> "pyftpdlib-tls",
        the server `tls=True` has always meant); a "-tls" kind needs no flag."""
        if tls and not kind.endswith("-tls"):
            kind += "-tls"
        if kind not in SERVER_KINDS:
            raise ValueError(f"no server kind {kind!r} (have {', '.join(SERVER_KINDS)})")
        key = (kind, family)
        if key not in self.running:
            srv = SERVER_KINDS[kind](family, self.workdir, self.big.path)
            srv.start()
            self.running[key] = srv
        srv = self.running[key]
        assert srv.proc.alive(), f"{srv.name} died:\n{srv.diagnostics()}"
        return srv

    def stop_all(self):
        for srv in self.running.values():
            srv.stop()


@pytest.fixture(scope="session")
def servers(workdir, big):
    s = Servers(workdir, big)
    yield s
    s.stop_all()


# ---------------------------------------------------------------- proxy / route

class ProxyChecks:
    """After a proxy stops: SIGTERM -> exit 0 in time; no password in its log."""

    @staticmethod
    def stop_and_check(proxy, passwords=("secret",)):
        if proxy.proc is None or proxy.proc.p is None:
            return []               # never started: the test already failed on that
        alive_before = proxy.alive()
        rc, in_time = proxy.stop(timeout=10)
        problems = []
        if not alive_before and rc == 0:
            pass                    # the test stopped it (SIGTERM/SIGUSR1 tests) and checked
        elif not alive_before:
            problems.append(f"ftp-proxy had already exited (code {rc}) before SIGTERM")
        elif not in_time:
            problems.append("ftp-proxy did not exit within 10 s of SIGTERM (killed)")
        elif rc != 0:
            problems.append(f"ftp-proxy exited {rc} after SIGTERM (want 0)")
        text = proxy.stderr_text()
        for pw in passwords:
            if pw in text:
                problems.append(f"password {pw!r} appears in the proxy log")
        return problems


@pytest.fixture
def make_route(request, servers, workdir, diag):
    """make_route(kind, client_family, server_family=None, extra=(), ...) -> Route.

    Starts a proxy in front of the server unless in direct mode; at teardown
    the proxy gets SIGTERM and must exit 0 within 10 s, with no password in
    its stderr.
    """
    made = []
    logdir = workdir / "logs" / _safe(request.node.name)
    logdir.mkdir(parents=True, exist_ok=True)

    def make(kind, client_family, server_family=None, extra=(), tls=False, backend=None,
             force_proxy=False, name=None, prefix=()):
        server_family = server_family or client_family
        srv = servers.get(kind, server_family, tls=tls)
        diag.append(lambda s=srv: (f"{s.name} log", s.diagnostics()))
        if DIRECT and not force_proxy:
            if client_family != server_family:
                pytest.skip("mixed families need the proxy; " + direct_reason())
            return Route(srv, client_family)
        p = Proxy(srv, client_family, logdir, extra=extra, backend=backend, name=name,
                  prefix=prefix)
        made.append(p)
        diag.append(lambda p=p: (f"{p.name} stderr (tail)", p.diagnostics()))
        p.start()
        return Route(srv, client_family, p)

    make.logdir = logdir
    yield make
    problems = []
    for p in made:
        problems += ProxyChecks.stop_and_check(p)
    if problems:
        pytest.fail("; ".join(problems) + "\n--- proxy stderr (tail)\n" +
                    "\n".join(p.diagnostics() for p in made), pytrace=False)


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]


@pytest.fixture
def logdir(make_route):
    return make_route.logdir
