"""The ftp-proxy under test, and the "path" a client takes to a server.

The binary is ftpx.binaries.PROXY_BIN (FTP_PROXY_BIN, or the build tree's).
FTPX_DIRECT=1, or a missing binary, makes every path direct: clients talk to
the servers themselves, which validates the harness; proxy-only tests are
skipped then.
"""
import dataclasses
import os
import signal
from pathlib import Path

from . import net
from .binaries import PROXY_BIN
from .procs import Proc


def direct_mode():
    if os.environ.get("FTPX_DIRECT", "") not in ("", "0"):
        return True
    return not (PROXY_BIN.is_file() and os.access(PROXY_BIN, os.X_OK))


def direct_reason():
    if os.environ.get("FTPX_DIRECT", "") not in ("", "0"):
        return "FTPX_DIRECT=1: clients talk to the servers directly"
    return f"{PROXY_BIN} not built: clients talk to the servers directly"


class Proxy:
    """One ftp-proxy in reverse mode in front of `server`.

    Listens on the proxy address of client_family; connects to the server
    from the proxy source address of the server's family.
    """

    def __init__(self, server, client_family, logdir, extra=(), name=None,
                 backend=None, prefix=()):
        self.server = server
        self.client_family = client_family
        self.listen = net.ADDR[client_family]["listen"]
        self.port = net.free_port(self.listen)
        # backend: (addr, port) to use instead of the server (e.g. a dead port)
        self.backend = backend or (server.addr, server.port)
        self.source = net.ADDR[net.family_of(self.backend[0])]["source"]
        self.extra = [str(e) for e in extra]
        # a command the proxy runs under, e.g. ("prlimit", "--nofile=64:64", "--")
        self.prefix = [str(e) for e in prefix]
        self.name = name or f"proxy-{client_family}-to-{net.family_of(self.backend[0])}"
        self.log_path = Path(logdir) / f"{self.name}.stderr"
        self.proc = None
        self.exit_code = None

    def argv(self):
        return self.prefix + [PROXY_BIN, "-d", "-D", "7", "-v",
                "-R", self.backend[0], "-P", self.backend[1],
                "-b", self.listen, "-p", self.port, "-a", self.source] + self.extra

    def start(self, timeout=10.0):
        self.proc = Proc(self.name, self.argv(), self.log_path).start()
        net.wait_listening(self.listen, self.port, timeout=timeout, proc=self.proc,
                           what=f"ftp-proxy to listen on {net.hostport(self.listen, self.port)}")
        return self

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def stop(self, timeout=10.0):
        """SIGTERM; returns (exit code, exited within timeout)."""
        if self.proc is None or self.proc.p is None:
            return None, True
        rc, in_time = self.proc.stop(signal.SIGTERM, timeout=timeout)
        self.exit_code = rc
        return rc, in_time

    def stderr_text(self):
        return self.proc.log_text() if self.proc else ""

    def diagnostics(self):
        return self.proc.tail(200) if self.proc else ""


@dataclasses.dataclass
class Route:
    """Where a client connects, and what the server must see."""
    server: object
    client_family: str
    proxy: object = None          # Proxy, or None when direct

    @property
    def host(self):
        return self.proxy.listen if self.proxy else self.server.addr

    @property
    def port(self):
        return self.proxy.port if self.proxy else self.server.port

    @property
    def client_addr(self):
        return net.ADDR[self.client_family]["client"]

    @property
    def server_family(self):
        return self.server.family

    @property
    def via_proxy(self):
        return self.proxy is not None

    @property
    def seen_addr(self):
        """The address the server must see on control and data connections."""
        return self.proxy.source if self.proxy else self.client_addr

    def url(self, path=""):
        return f"ftp://{net.hostport(self.host, self.port)}/{path}"

    def describe(self):
        if self.proxy:
            return (f"client {self.client_addr} -> proxy {net.hostport(self.host, self.port)}"
                    f" (source {self.proxy.source}) -> {self.server.name} "
                    f"{net.hostport(self.server.addr, self.server.port)}")
        return (f"client {self.client_addr} -> {self.server.name} "
                f"{net.hostport(self.server.addr, self.server.port)} (direct)")
