"""Helpers of the ftpproxyd tests: a real pyftpdlib backend, ftpproxyd with
real ftp-proxy workers, ftpproxyctl, FTP clients, and bounded waits.

Every wait has a deadline; nothing sleeps to synchronise (the only sleeps
are the poll interval of wait_until, tests/ftpx/wait.py). Where the binaries
are, addresses, ports, waits and sha256 are the shared ones (tests/ftpx).
"""
import ftplib
import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from ftpx.binaries import FTPPROXYCTL, FTPPROXYD, PROXY_BIN
from ftpx.config_yaml import render_yaml
from ftpx.net import free_port, wait_listening
from ftpx.procs import Proc
from ftpx.servers import PYFTPD_SERVER, PYTHON
from ftpx.wait import wait_until

CLIENT = "127.0.0.1"      # address plan of tests/integration/README.md
LISTEN = "127.0.0.2"
SERVER = "127.0.0.4"
USER, PASSWORD = "test", "secret"


def process_state(pid):
    """R, S, T (stopped), Z ... as /proc/PID/stat says; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    return process_state(pid) not in (None, "Z")


def stop_process(pid):
    """SIGSTOP, and wait until the kernel has stopped it (the signal is
    asynchronous)."""
    os.kill(pid, signal.SIGSTOP)
    wait_until(lambda: process_state(pid) == "T", 10, f"process {pid} to stop")


# ---------------------------------------------------------------- backend

class Backend:
    """pyftpdlib on SERVER, serving `root` (pub/big.bin and friends)."""

    def __init__(self, root, log_path):
        self.root = Path(root)
        self.port = free_port(SERVER)
        self.log_path = log_path
        self.proc = None

    def start(self):
        self.proc = Proc("pyftpdlib", [PYTHON, PYFTPD_SERVER, "--host", SERVER, "--port", self.port,
                                       "--root", self.root,
                                       "--events", self.root.parent / "events.jsonl"],
                         self.log_path).start()
        wait_listening(SERVER, self.port, timeout=15, proc=self.proc, what="pyftpdlib to listen")
        return self

    def stop(self):
        if self.proc:
            self.proc.stop(timeout=10)

    @classmethod
    def serving_big_file(cls, workdir, size):
        """Started on workdir/ftproot with pub/big.bin, `size` random bytes
        (kept as .big for the tests' sha256); the caller may add files."""
        root = Path(workdir) / "ftproot"
        (root / "pub").mkdir(parents=True, exist_ok=True)
        data = os.urandom(size)
        (root / "pub/big.bin").write_bytes(data)
        server = cls(root, Path(workdir) / "pyftpdlib.log").start()
        server.big = data
        return server


# ---------------------------------------------------------------- clients

def login(port, user=USER, password=PASSWORD, timeout=20):
    ftp = ftplib.FTP(timeout=timeout)
    ftp.connect(LISTEN, port, source_address=(CLIENT, 0))
    ftp.login(user, password)
    return ftp


def wait_backends(daemon, name, chosen, health, timeout=20):
    """Waits until instance `name` sends new sessions to `chosen` and its
    backends' health reads `health` (a list, in the configured order)."""
    def check():
        item = daemon.instance_status(name)
        seen = [b["health"] for b in item["backends"]]
        return item if item["backend"] == chosen and seen == health else None
    return wait_until(check, timeout, f"{name}: backend {chosen}, health {health} "
                                      f"(log:\n{daemon.log()[-2000:]})")


def download(port, path="pub/big.bin", **kw):
    ftp = login(port, **kw)
    chunks = []
    ftp.retrbinary("RETR " + path, chunks.append)
    ftp.quit()
    return b"".join(chunks)


class PausedDownload(threading.Thread):
    """A download through the proxy that stops reading after `pause_at`
    bytes until release() (bounded), so that it spans whatever the test does
    meanwhile (reload, drain, SIGTERM). TCP back-pressure holds the transfer.
    """

    def __init__(self, port, path="pub/big.bin", pause_at=1 << 20, **login_kw):
        super().__init__(daemon=True)
        self.port, self.path, self.pause_at, self.login_kw = port, path, pause_at, login_kw
        self.paused = threading.Event()
        self._release = threading.Event()
        self.data = None
        self.error = None
        self.reply = None

    def run(self):
        try:
            ftp = login(self.port, **self.login_kw)
            chunks = []
            got = 0

            def take(chunk):
                nonlocal got
                chunks.append(chunk)
                got += len(chunk)
                if got >= self.pause_at and not self._release.is_set():
                    self.paused.set()
                    self._release.wait(60)

            self.reply = ftp.retrbinary("RETR " + self.path, take)
            ftp.quit()
            self.data = b"".join(chunks)
        except Exception as e:            # reported by finish()
            self.error = e
            self.paused.set()

    def start_and_pause(self, timeout=20):
        self.start()
        assert self.paused.wait(timeout), "the download did not start"
        assert self.error is None, f"download failed: {self.error!r}"

    def release(self):
        self._release.set()

    def finish(self, timeout=60):
        self.release()
        self.join(timeout)
        assert not self.is_alive(), "the download did not finish"
        assert self.error is None, f"download failed: {self.error!r}"
        return self.data


# ---------------------------------------------------------------- ftpproxyd

class NotifySocket:
    """An abstract datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self):
        self.name = f"@ftpproxyd-test-{os.getpid()}-{time.monotonic_ns()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.messages = []

    def wait_for(self, text, timeout=15, proc=None):
        deadline = time.monotonic() + timeout
        while not any(text in m for m in self.messages):
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"ftpproxyd exited ({proc.returncode}) before {text!r}")
            left = min(deadline - time.monotonic(), 0.5)
            if deadline - time.monotonic() <= 0:
                raise AssertionError(f"no {text!r} on NOTIFY_SOCKET; got {self.messages}")
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return self.messages

    def close(self):
        self.sock.close()


class Daemon:
    """ftpproxyd -d on a configuration written by the test."""

    def __init__(self, workdir, backend, instances, global_extra=None, worker=PROXY_BIN):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.backend = backend
        self.socket = str(self.dir / "run/control.sock")
        self.config_path = self.dir / "ftpproxy.yaml"
        self.log_path = self.dir / "ftpproxyd.log"
        self.global_settings = {
            "control_socket": self.socket,
            "runtime_dir": str(self.dir / "run"),
            "worker_binary": str(worker),
            "log_level": "info",
            "drain_timeout": "60s",
        }
        self.global_settings.update(global_extra or {})
        self.instances = instances
        self.cluster = None  # the 'cluster' section, a dict, when a test sets one
        self.notify = NotifySocket()
        self.proc = None
        self.seen_pids = set()

    # --- configuration
    def write_config(self, text=None):
        if text is None:
            text = render_yaml(self.global_settings, self.instances, self.cluster)
        self.config_path.write_text(text)

    def instance(self, name):
        return next(i for i in self.instances if i["name"] == name)

    def port(self, name):
        return int(self.instance(name)["listen"].rsplit(":", 1)[1])

    # --- process
    def start(self, wait_running=True):
        self.write_config()
        self.notify.messages.clear()  # a READY=1 of an earlier process is not this one's
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.name)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [FTPPROXYD, "-d", "-f", self.config_path], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.notify.wait_for("READY=1", proc=self.proc)
        if wait_running:
            self.wait_states({i["name"]: "RUNNING" for i in self.instances})
        return self

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code. SIGKILL (and a failure) after timeout."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"ftpproxyd did not exit within {timeout}s of SIGTERM")

    def cleanup(self):
        """Whatever happened: no ftpproxyd and no worker of it left."""
        try:
            if self.proc and self.proc.poll() is None:
                self.stop(timeout=10)
        except AssertionError:
            pass  # killed by stop()
        finally:
            for pid in self.seen_pids | set(self.worker_pids_from_proc()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.notify.close()

    def worker_pids_from_proc(self):
        """ftp-proxy processes started from this daemon's ports."""
        ports = {str(self.port(i["name"])) for i in self.instances}
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            args = [a.decode(errors="replace") for a in argv]
            if args and args[0] == str(PROXY_BIN) and "-p" in args:
                if args[args.index("-p") + 1] in ports:
                    pids.append(int(entry.name))
        return pids

    # --- ftpproxyctl
    def ctl(self, *args, timeout=70, user=None):
        argv = [str(FTPPROXYCTL), "-s", self.socket, *map(str, args)]
        if user:
            gid = pwd.getpwnam(user).pw_gid
            argv = ["setpriv", f"--reuid={user}", f"--regid={gid}", "--init-groups", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def status(self):
        result = self.ctl("status", "--json")
        assert result.returncode in (0, 3), f"status failed: {result.stderr}"
        answer = json.loads(result.stdout)
        for item in answer["instances"]:
            if item["pid"]:
                self.seen_pids.add(item["pid"])
        for item in answer["old_workers"]:
            self.seen_pids.add(item["pid"])
        return answer

    def instance_status(self, name):
        return next(i for i in self.status()["instances"] if i["name"] == name)

    def wait_states(self, wanted, timeout=20):
        """wanted: {name: STATE}; returns the status when all match."""
        def check():
            status = self.status()
            states = {i["name"]: i["state"] for i in status["instances"]}
            return status if all(states.get(n) == s for n, s in wanted.items()) else None
        return wait_until(check, timeout, f"states {wanted} (log:\n{self.log()[-3000:]})")

