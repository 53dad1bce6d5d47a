"""This machine, as the package test uses it: dpkg with the systemd spy on
PATH, the package's state, the _ftp_proxy user, and putting everything back.
"""
import os
import pwd
import grp
import subprocess

from systemd_spy import SystemdSpy

PACKAGE = "ftpproxy"
USER = "_ftp_proxy"
NOLOGIN = "/usr/sbin/nologin"


def user_exists(name=USER):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name=USER):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def package_status():
    """dpkg's status of the package ('install ok installed', 'deinstall ok
    config-files'...), or None when dpkg does not know it."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


class Machine:
    def __init__(self, workdir):
        self.workdir = workdir
        self.spy = SystemdSpy()
        self.user_was_there = False
        self.service = None   # a UnitService the tests started, stopped before any purge

    def prepare(self):
        status = package_status()
        assert status in (None, "unknown ok not-installed"), (
            f"the package {PACKAGE} is on this machine ({status}); the test installs and purges "
            f"it: purge it first (dpkg --purge {PACKAGE})")
        # The test dependencies create _ftp_proxy for the other suites; the
        # package must create it itself, so it goes for the test's duration.
        self.user_was_there = user_exists()
        if self.user_was_there:
            busy = subprocess.run(["pgrep", "-u", USER], capture_output=True, text=True).stdout.split()
            assert not busy, f"processes of {USER} run ({busy}): the test must remove that user"
            subprocess.run(["userdel", USER], check=True)
        if group_exists():
            subprocess.run(["groupdel", USER], check=True)
        self.spy.install()

    def dpkg(self, *args, timeout=300):
        env = self.spy.env()
        env["DEBIAN_FRONTEND"] = "noninteractive"
        return subprocess.run(["dpkg", *map(str, args)], env=env, capture_output=True, text=True,
                              timeout=timeout)

    def restore(self):
        try:
            if self.service is not None:
                self.service.cleanup()
            if package_status() not in (None, "unknown ok not-installed"):
                self.dpkg("--purge", PACKAGE)
        finally:
            self.spy.remove()
            if self.user_was_there and not user_exists():
                # As deploy/install-test-deps.sh makes it.
                subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                                "--shell", NOLOGIN, USER], check=False)
