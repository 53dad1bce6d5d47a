#!/usr/bin/python3
"""Run a server as a child subreaper, so its orphans get reaped.

vsftpd runs each session in a new PID namespace (isolate=YES); when a
session ends its processes are reparented to the nearest subreaper, or to
PID 1 -- and PID 1 on these machines does not reap, so every vsftpd session
would leave zombies behind. This wrapper is that subreaper: it starts the
command (fds inherited), forwards SIGTERM/SIGINT to it, reaps every child,
and exits with the command's status once it is gone (reaping stragglers for
a bounded moment).

    reaper.py COMMAND [ARGS...]

pureftpd_launch.py uses become_subreaper() and supervise() the same way.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("reaper: prctl(PR_SET_CHILD_SUBREAPER) failed", file=sys.stderr)


def supervise(pid):
    """Forward SIGTERM/SIGINT to pid, reap every child until pid is gone,
    then its stragglers for a bounded moment; pid's exit code (128+signal)."""

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    while True:
        try:
            p, st = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if p == pid:
            status = os.waitstatus_to_exitcode(st)
            break
    # the command is gone: reap what it left, for a bounded moment
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            p, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if p == 0:
            time.sleep(0.05)
    return status if status >= 0 else 128 - status


def main():
    become_subreaper()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)
    return supervise(pid)


if __name__ == "__main__":
    sys.exit(main())
