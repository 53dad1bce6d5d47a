"""Fixtures of the package test: the .deb, this machine made ready for it
(and put back afterwards, whatever happened), the backend."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import Backend
from package import Machine

REPO = Path(__file__).resolve().parents[2]
BIG_SIZE = 16 * 1024 * 1024


@pytest.fixture(scope="session")
def deb():
    """FTPPROXY_DEB, or the package built from this tree (about as long as a
    release build)."""
    if os.environ.get("FTPPROXY_DEB"):
        path = Path(os.environ["FTPPROXY_DEB"])
        assert path.is_file(), f"FTPPROXY_DEB={path}: no such file"
        return path
    out = subprocess.run([REPO / "deploy/build-deb.sh", REPO / "build-deb"], capture_output=True,
                         text=True, timeout=3600)
    assert out.returncode == 0, f"deploy/build-deb.sh failed:\n{out.stdout[-4000:]}{out.stderr[-4000:]}"
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def workdir(request):
    base = Path("/tmp") / f"ftpproxy-deb-tests-{os.getpid()}"
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    yield base
    if request.session.testsfailed == 0:
        shutil.rmtree(base, ignore_errors=True)  # kept for a look when something failed


@pytest.fixture(scope="session")
def machine(workdir):
    machine = Machine(workdir)
    machine.prepare()
    try:
        yield machine
    finally:
        machine.restore()


@pytest.fixture(scope="session")
def backend(workdir):
    server = Backend.serving_big_file(workdir, BIG_SIZE)
    yield server
    server.stop()
