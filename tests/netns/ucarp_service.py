#!/usr/bin/python3
"""One ucarp "service" of a firewall in tests/netns/ucarp.py: what
`systemctl start|stop ucarp@vip1` is in production (docs/carp-failover.md),
without systemd. ftpproxyd's demote_command and promote_command call it.

    ucarp_service.py serve SOCKET -- UCARP [ARGS...]
        runs in the node's namespace; ucarp is not started until asked.
        ucarp's output goes to this process's (the test's log file).
    ucarp_service.py ctl SOCKET start|stop|kill|status
        start: ucarp runs (already running: nothing); prints `running PID`
        stop:  SIGTERM, and waits until ucarp exited (with --shutdown it
               runs its down script first), as `systemctl stop` does;
               SIGKILL after 10 s. Prints `stopped STATUS`
        kill:  SIGKILL, and reaps it (no down script: a crash)
        status: `running PID` or `stopped STATUS`
        The one-line answer goes to stdout; exit 1 if the service does not
        answer within 20 s.

The service reaps ucarp (PID 1 on these machines does not reap orphans),
and ucarp gets SIGTERM if the service dies (PR_SET_PDEATHSIG). On SIGTERM
the service stops ucarp (as `stop`) and exits.
"""
import ctypes
import os
import signal
import socket
import subprocess
import sys

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 10
CTL_TIMEOUT = 20


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Service:
    def __init__(self, argv):
        self.argv = argv
        self.proc = None
        self.last = "never started"

    def state(self):
        if self.proc is not None and self.proc.poll() is not None:
            self.last = f"exit {self.proc.returncode}"
            self.proc = None
        return f"running {self.proc.pid}" if self.proc else f"stopped {self.last}"

    def start(self):
        if self.state().startswith("stopped"):
            print(f"ucarp_service: start {' '.join(self.argv)}", flush=True)
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)
        return self.state()

    def stop(self, sig=signal.SIGTERM):
        if self.state().startswith("running"):
            print(f"ucarp_service: signal {sig.name} to {self.proc.pid}", flush=True)
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        return self.state()


def serve(path, argv):
    service = Service(argv)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    server.bind(path)
    server.listen(8)
    server.settimeout(0.5)      # SIGTERM is noticed between connections
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    actions = {"start": service.start, "stop": service.stop, "status": service.state,
               "kill": lambda: service.stop(signal.SIGKILL)}
    print("ucarp_service: ready", flush=True)
    while not stopping:
        try:
            conn, _ = server.accept()
        except (socket.timeout, InterruptedError):
            service.state()     # reaps a ucarp that exited by itself
            continue
        with conn:
            conn.settimeout(5)
            try:
                word = conn.recv(64).decode().strip()
                action = actions.get(word)
                answer = action() if action else f"unknown command {word!r}"
                print(f"ucarp_service: {word}: {answer}", flush=True)
                conn.sendall(answer.encode() + b"\n")
            except OSError as e:
                print(f"ucarp_service: {e}", flush=True)
    print(f"ucarp_service: exiting, {service.stop()}", flush=True)
    server.close()
    os.unlink(path)


def ctl(path, word):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(CTL_TIMEOUT)
        try:
            conn.connect(path)
            conn.sendall(word.encode() + b"\n")
            answer = conn.recv(256).decode().strip()
        except OSError as e:
            print(f"ucarp_service: {path}: {e}", file=sys.stderr)
            return 1
    print(answer)
    return 0 if answer.startswith(("running", "stopped")) else 1


def main(args):
    if len(args) >= 4 and args[0] == "serve" and args[2] == "--":
        serve(args[1], args[3:])
        return 0
    if len(args) == 3 and args[0] == "ctl":
        return ctl(args[1], args[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
