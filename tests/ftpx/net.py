"""Addresses, free ports and bounded waits on sockets (ftpx.wait).

Address plan (all on `lo` of the test's own network namespace, see run.sh):

  role              IPv4         IPv6
  client            127.0.0.1    fd18::1
  proxy listen (-b) 127.0.0.2    fd18::2
  proxy source (-a) 127.0.0.3    fd18::3
  FTP servers       127.0.0.4    fd18::4
  "thief" (abuse)   127.0.0.5    fd18::5

Every address is different, so whoever sees a peer address can tell who
connected: a server that sees 127.0.0.3 was reached through the proxy, one
that sees 127.0.0.1 was reached by the client directly.
"""
import errno
import socket

from .wait import wait_until

ADDR = {
    "v4": {"client": "127.0.0.1", "listen": "127.0.0.2", "source": "127.0.0.3",
           "server": "127.0.0.4", "thief": "127.0.0.5"},
    "v6": {"client": "fd18::1", "listen": "fd18::2", "source": "fd18::3",
           "server": "fd18::4", "thief": "fd18::5"},
}

AF = {"v4": socket.AF_INET, "v6": socket.AF_INET6}


def family_of(addr):
    return "v6" if ":" in addr else "v4"


def hostport(addr, port):
    """'127.0.0.1:21' / '[fd18::1]:21' (URLs, log messages)."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


_handed_out = set()      # ports free_port() gave this process, never twice


def free_port(addr):
    """A port that is free on addr right now (bind port 0, read, close).

    The kernel may hand the same ephemeral port out again once it is closed,
    so two calls before either port is in use could collide (seen: a test
    with 32 workers got a port twice). A port is given out once per process."""
    for _ in range(64):
        s = socket.socket(AF[family_of(addr)], socket.SOCK_STREAM)
        try:
            s.bind((addr, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise AssertionError(f"no fresh free port on {addr} in 64 tries")


def is_listening(addr, port):
    """True when a TCP socket LISTENs on addr:port in this namespace.

    Reads /proc/net/tcp{,6} instead of connecting, so checking readiness does
    not open a session on the thing being checked.
    """
    fam = family_of(addr)
    path = "/proc/net/tcp6" if fam == "v6" else "/proc/net/tcp"
    with open(path) as f:
        next(f)
        for line in f:
            parts = line.split()
            local, state = parts[1], parts[3]
            if state != "0A":
                continue
            hexaddr, hexport = local.split(":")
            if int(hexport, 16) != port:
                continue
            raw = bytes.fromhex(hexaddr)
            if fam == "v4":
                got = socket.inet_ntop(socket.AF_INET, raw[::-1])
                if got in (addr, "0.0.0.0"):
                    return True
            else:
                packed = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                got = socket.inet_ntop(socket.AF_INET6, packed)
                want = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, addr))
                if got in (want, "::"):
                    return True
    return False


def wait_listening(addr, port, timeout=10.0, proc=None, what=None):
    wait_until(lambda: is_listening(addr, port), timeout,
               what or f"a listener on {hostport(addr, port)}", proc=proc)


def connect(addr, port, source=None, timeout=10.0):
    """TCP connect from `source` (bound explicitly) to addr:port."""
    s = socket.socket(AF[family_of(addr)], socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((addr, port))
    return s


def connect_refused(addr, port, source=None, timeout=5.0):
    """True when a connect to addr:port is refused (nothing listens)."""
    try:
        s = connect(addr, port, source=source, timeout=timeout)
    except ConnectionRefusedError:
        return True
    except OSError as e:
        if e.errno == errno.ECONNREFUSED:
            return True
        raise
    s.close()
    return False


def assert_addresses_present():
    """Fail early and clearly when run outside run.sh's namespace."""
    missing = []
    for fam in ADDR.values():
        for role, a in fam.items():
            s = socket.socket(AF[family_of(a)], socket.SOCK_STREAM)
            try:
                s.bind((a, 0))
            except OSError:
                missing.append(f"{role}={a}")
            finally:
                s.close()
    if missing:
        raise RuntimeError(
            "test addresses not configured (" + ", ".join(missing) + "): run the "
            "suite through tests/integration/run.sh, which creates a network "
            "namespace with them")
