"""Run Python code inside a network namespace, one thread at a time.

`with entered("NAME"):` moves the calling thread (only that thread: setns(2)
with CLONE_NEWNET) into /run/netns/NAME for the body and back afterwards.
Sockets keep the namespace they were created in, so everything a client
does (ftplib opens its data connections as it goes) belongs inside the
body. This replaces an `ip netns exec python3 ...` per session where the
cost of starting a process would blur a measurement (bench/failover.py
polls every 50 ms) or where a test must hold a transfer half way.
"""
import contextlib
import ctypes
import os

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def entered(name):
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)
