"""Fixtures of the ftpproxyd / ftpproxyctl tests. See README.md."""
import os
import shutil
from pathlib import Path

import pytest

from ftpx.binaries import FTPPROXYCTL, FTPPROXYD, PROXY_BIN
from ftpx.net import free_port
from harness import LISTEN, SERVER, Backend, Daemon

BIG_SIZE = 16 * 1024 * 1024
TAIL_SIZE = 4 * 1024 * 1024   # test_sessions.py: what the server can send ahead of a slow client
HUGE_SIZE = 256 * 1024 * 1024  # sparse: more than any buffers between server and client hold


@pytest.fixture(scope="session", autouse=True)
def _binaries_present():
    for binary in (FTPPROXYD, FTPPROXYCTL, PROXY_BIN):
        if not binary.exists():
            pytest.exit(f"{binary} missing: build it (cmake --build build) or set "
                        f"FTPPROXY_BUILD / FTPPROXYD_BIN / FTPPROXYCTL_BIN / FTP_PROXY_BIN", 2)
    s = __import__("socket").socket()
    try:
        s.bind((LISTEN, 0))
    except OSError:
        pytest.exit(f"{LISTEN} is not configured: run the tests through tests/supervisor/run.sh", 2)
    finally:
        s.close()


@pytest.fixture(scope="session")
def workdir(request):
    # Under /tmp with 0755 all the way, so that an unprivileged user can reach
    # the control socket in the permission tests.
    base = Path(os.environ.get("FTPPROXYD_TEST_DIR", "/tmp")) / f"ftpproxyd-tests-{os.getpid()}"
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    yield base
    if request.session.testsfailed == 0:
        shutil.rmtree(base, ignore_errors=True)  # kept for a look when something failed


@pytest.fixture(scope="session")
def backend(workdir):
    server = Backend.serving_big_file(workdir, BIG_SIZE)
    pub = server.root / "pub"
    (pub / "small.txt").write_bytes(b"hello through ftpproxyd\n")
    server.tail = os.urandom(TAIL_SIZE)
    (pub / "tail.bin").write_bytes(server.tail)
    with open(pub / "huge.bin", "wb") as f:
        f.truncate(HUGE_SIZE)
    yield server
    server.stop()


@pytest.fixture
def make_daemon(request, workdir, backend):
    """make_daemon(n_instances or [instance dicts], **global) -> a started Daemon;
    stopped and cleaned up after the test, whatever happened."""
    daemons = []

    def make(instances=2, start=True, worker=PROXY_BIN, **global_extra):
        if isinstance(instances, int):
            instances = [instance(f"ftp{i + 1:02d}", backend) for i in range(instances)]
        # Short: the control socket's path must stay under 104 bytes.
        name = request.node.name.replace("test_", "").replace("[", "-").replace("]", "")[:24]
        daemon = Daemon(workdir / f"{name}-{len(daemons)}", backend, instances,
                        global_extra, worker=worker)
        daemons.append(daemon)
        if start:
            daemon.start()
        return daemon

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for daemon in daemons:
        daemon.cleanup()
        if failed:
            print(f"\n--- ftpproxyd log ({daemon.log_path}) ---\n{daemon.log()[-6000:]}")


def instance(name, backend, **extra):
    item = {"name": name, "listen": f"{LISTEN}:{free_port(LISTEN)}",
            "backend": f"{SERVER}:{backend.port}"}
    item.update(extra)
    return item


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
