"""What the package's maintainer scripts ask of systemd.

No systemd runs here, and debhelper's snippets only call systemctl and
deb-systemd-invoke when /run/systemd/system exists. The spy creates that
directory (and removes it again), and puts first on PATH two commands of
those names that write down their arguments and change nothing (but
systemctl's unit-file verbs, below): the test then reads what
an install, an upgrade and a removal would have started, stopped or
restarted on a systemd machine. deb-systemd-helper, which enables the unit
with symlinks and needs no running systemd, stays the real one.
"""
import os
import shutil
import tempfile
from pathlib import Path

SPIED = ("systemctl", "deb-systemd-invoke")
# systemctl's unit-file verbs work on the file system without a running
# systemd (deb-systemd-helper uses `systemctl preset` to enable the unit on
# a first install): those run for real, after being written down.
PASS_THROUGH = {"systemctl": """for word in "$@"; do
    case $word in
    preset|enable|disable|reenable|is-enabled|mask|unmask) exec /bin/systemctl "$@" ;;
    esac
done
"""}
MARKER = Path("/run/systemd/system")


class SystemdSpy:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="systemd-spy-"))
        self.log = self.dir / "calls.log"
        self.log.touch()
        for name in SPIED:
            script = self.dir / name
            script.write_text(f'#!/bin/sh\necho "{name} $*" >> {self.log}\n' + PASS_THROUGH.get(name, ""))
            script.chmod(0o755)
        self.created = []   # what install() made, innermost last

    def install(self):
        assert not Path("/run/systemd/private").exists(), \
            "systemd runs on this machine: the spy would hide it"
        for path in (MARKER.parent, MARKER):
            if not path.exists():
                path.mkdir()
                self.created.append(path)
        return self

    def env(self):
        return dict(os.environ, PATH=f"{self.dir}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}")

    def calls(self):
        """The calls since the last calls(), one string each."""
        lines = self.log.read_text().splitlines()
        self.log.write_text("")
        return lines

    def remove(self):
        for path in reversed(self.created):
            shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)
