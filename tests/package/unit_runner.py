"""Runs a systemd service as the installed unit file says, where no systemd
runs (this container, CI): the test cannot `systemctl start`, so it does
what systemd would for the unit's lines that matter to ftpproxyd.

ExecStartPre= must exit 0; RuntimeDirectory= is created with its mode;
ExecStart= runs with NOTIFY_SOCKET, and the start counts only once the
service has sent READY=1 (Type=notify); ExecReload= is the reload command;
stopping is SIGTERM to the main process alone (KillMode=mixed), which must
exit within TimeoutStopSec=. Any other directive the unit uses is named, so
that a new one cannot go unnoticed.
"""
import os
import shlex
import signal
import subprocess
from pathlib import Path

from harness import NotifySocket

# Directives whose effect the runner reproduces, or that only constrain a
# real systemd (sandboxing, ordering, limits): listed so that a directive
# added to the unit later is looked at here.
HANDLED = {"ExecStartPre", "ExecStart", "ExecReload", "RuntimeDirectory", "RuntimeDirectoryMode",
           "Type", "NotifyAccess", "KillMode", "TimeoutStopSec"}
CONSTRAINTS_ONLY = {"Description", "Documentation", "After", "Wants", "WantedBy", "Restart",
                    "RestartSec", "NoNewPrivileges", "ProtectHome", "PrivateTmp", "ProtectSystem",
                    "ReadWritePaths", "LimitNOFILE"}


def parse_unit(path):
    """{directive: [values]} of a unit file (comments and sections dropped)."""
    directives = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        directives.setdefault(key.strip(), []).append(value.strip())
    return directives


class UnitService:
    def __init__(self, unit_path, log_path):
        self.unit = parse_unit(unit_path)
        unknown = set(self.unit) - HANDLED - CONSTRAINTS_ONLY
        assert not unknown, f"{unit_path}: the test does not know {sorted(unknown)}"
        assert self.unit["Type"] == ["notify"], self.unit["Type"]
        assert self.unit["KillMode"] == ["mixed"], self.unit["KillMode"]
        self.log_path = log_path
        self.notify = NotifySocket()
        self.proc = None
        self.runtime_dir = None

    def _argv(self, key):
        (line,) = self.unit[key]
        return shlex.split(line)

    def start(self, timeout=30):
        pre = subprocess.run(self._argv("ExecStartPre"), capture_output=True, text=True, timeout=60)
        assert pre.returncode == 0, f"ExecStartPre failed ({pre.returncode}): {pre.stdout}{pre.stderr}"
        for name in self.unit.get("RuntimeDirectory", []):
            self.runtime_dir = Path("/run") / name
            self.runtime_dir.mkdir(exist_ok=True)
            os.chmod(self.runtime_dir, int(self.unit.get("RuntimeDirectoryMode", ["0755"])[0], 8))
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.name)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self._argv("ExecStart"), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.notify.wait_for("READY=1", timeout=timeout, proc=self.proc)
        return self

    def reload(self):
        return subprocess.run(self._argv("ExecReload"), capture_output=True, text=True, timeout=60)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM to the main process, as KillMode=mixed does; returns its exit
        code. Past TimeoutStopSec (bounded here at 60 s: the test's sessions
        are over by then), SIGKILL and a failure."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        timeout = min(60, int(self.unit["TimeoutStopSec"][0]))
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise AssertionError(f"ftpproxyd did not exit within {timeout}s of SIGTERM")

    def cleanup(self):
        try:
            if self.running():
                self.stop()
        except AssertionError:
            pass
        finally:
            if self.runtime_dir is not None:
                subprocess.run(["rm", "-rf", str(self.runtime_dir)], check=False)
            self.notify.close()
