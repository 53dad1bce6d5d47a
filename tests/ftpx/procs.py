"""Child processes with their output in a file, stopped within a bound."""
import signal
import subprocess


class Proc:
    """A long-running child (server or proxy).

    stdout and stderr go to `log_path`. vsftpd writes its fatal errors
    ("500 OOPS: ...") to fd 0, so with stdin_is_log the log file is its
    stdin as well.
    """

    def __init__(self, name, argv, log_path, stdin_is_log=False, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.stdin_is_log = stdin_is_log
        self.env = env
        self.p = None

    def start(self):
        log = open(self.log_path, "ab")
        try:
            with open(self.log_path, "ab") as hdr:
                hdr.write(("$ " + " ".join(self.argv) + "\n").encode())
            self.p = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT,
                stdin=log if self.stdin_is_log else subprocess.DEVNULL,
                env=self.env, start_new_session=True)
        finally:
            log.close()
        return self

    @property
    def pid(self):
        return self.p.pid

    def poll(self):
        return self.p.poll() if self.p else None

    @property
    def returncode(self):
        return self.p.returncode if self.p else None

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send sig, wait up to timeout; SIGKILL after that.

        Returns (returncode, stopped_in_time).
        """
        if self.p is None:
            return None, True
        if self.p.poll() is not None:
            return self.p.returncode, True
        try:
            self.p.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            rc = self.p.wait(timeout=timeout)
            return rc, True
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait(timeout=10), False

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def tail(self, n=120):
        lines = self.log_text().splitlines()
        return "\n".join(lines[-n:])


def run(argv, timeout, **kw):
    """subprocess.run with a bound; a hang becomes a clear failure."""
    try:
        return subprocess.run([str(a) for a in argv], timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"command timed out after {timeout}s: {' '.join(map(str, argv))}") from e
