"""Two firewalls in a VRRP pair in front of two FTP servers, each firewall
with ftpproxyd and keepalived, in network namespaces (test_cluster_vrrp.py,
bench/failover.py).

    client ns             fw1 ns                        server ns
    br0 .11.2 ----+---- lan .11.11  [ftpproxyd]  wan .12.11 ----+---- br0 .12.21 backend-1
                  |     VIP .11.1 while MASTER                  |         .12.22 backend-2
                  +---- lan .11.12  [ftpproxyd]  wan .12.12 ----+
                        fw2 ns (priority 100; fw1: 150)

(198.18.11.0/24 and 198.18.12.0/24.) Each side is a bridge, so VRRP's
multicast adverts reach the peer and the client follows the VIP by its
gratuitous ARPs. The firewalls forward nothing: a session reaches a server
only through the ftpproxyd of the node that holds the VIP. IPv4 only: one
VRRP instance shows the failover; VRRP for IPv6 would be a second one.

Both nodes run the same ftpproxy.yaml (paths aside): one reverse instance
listening on VIP:21 itself, held or not (ftpproxyd binds with IP_FREEBIND,
so net.ipv4.ip_nonlocal_bind stays 0), both backends in order, fast health
checks, `cluster: {demotion: keepalived, track_file: ...}`.

Each backend serves pub/big.bin (the same 32 MiB) and pub/name.txt (its own
name); `probe()` tells which backend and which node served a session.
Everything created is removed by close(), which the fixtures call in a
`finally`; every wait is bounded (ftpx.wait).
"""
import collections
import ftplib
import hashlib
import itertools
import json
import os
import shutil
import signal
import string
import subprocess
import threading
import time
import uuid
from pathlib import Path

from ftpx.binaries import FTPPROXYCTL, FTPPROXYD, PROXY_BIN, REPO
from ftpx.config_yaml import render_yaml
from ftpx.digest import sha256_file, sha256_retr
from ftpx.netns import entered
from ftpx.procs import Proc
from ftpx.servers import Pyftpd
from ftpx.wait import wait_until
from topology import delete_namespaces, sh

HERE = Path(__file__).resolve().parent
KEEPALIVED_TEMPLATE = HERE / "keepalived.conf.in"

VIP = "198.18.11.1"
CLIENT = "198.18.11.2"
LAN = {"fw1": "198.18.11.11", "fw2": "198.18.11.12"}
WAN = {"fw1": "198.18.12.11", "fw2": "198.18.12.12"}
BACKENDS = {"backend-1": "198.18.12.21", "backend-2": "198.18.12.22"}
PRIORITY = {"fw1": 150, "fw2": 100}
FTP_PORT = 21
USER, PASSWORD = "test", "secret"
BIG_SIZE = 32 * 1024 * 1024
HEALTH_CHECK = {"interval": "200ms", "timeout": "1s", "rise": 1, "fall": 1}
# Long enough for a download handed off during a planned failover to end
# on a loaded machine; a clean stop waits for it.
DRAIN_TIMEOUT = "10s"
BLOCK_TABLE = "ftpx_vrrp_block"

# How keepalived learns that ftpproxyd runs, as (definition, reference in
# the instance). Production uses track_process (process events from the
# kernel, at once). The kernel's proc connector exists only in the initial
# network namespace: in another one keepalived logs "Failed to set/clear
# process event listen - errno 111 - Connection refused" and keeps the
# instance in FAULT whatever runs (test_track_process_in_a_namespace). So
# the nodes here watch the same process with a script, every second (the
# shortest interval keepalived 2.2 takes), which makes the kill path up to
# a second slower than track_process would.
PROCESS_WATCH = {
    "track_process": ("vrrp_track_process ftpproxyd {\n"
                      "    process ${ftpproxyd} -d -f ${config}\n"
                      "    weight 0\n"
                      "    quorum 1\n"
                      "}",
                      "track_process {\n        ftpproxyd\n    }"),
    "script": ("vrrp_script ftpproxyd {\n"
               "    script \"${alive}\"\n"
               "    interval 1\n"
               "    timeout 1\n"
               "    fall 1\n"
               "    rise 1\n"
               "    weight 0\n"
               "}",
               "track_script {\n        ftpproxyd\n    }"),
}
# The script: is this node's ftpproxyd (its own config file) running?
# Both nodes share one PID namespace; pgrep skips zombies.
ALIVE_SCRIPT = "#!/bin/sh\nexec /usr/bin/pgrep -xf '${ftpproxyd} -d -f ${config}' > /dev/null\n"

Served = collections.namedtuple("Served", "backend node")
_SEQ = itertools.count()


def in_ns(ns, *argv):
    return ["ip", "netns", "exec", ns, *map(str, argv)]


def listening(ns, addr, port):
    out = sh(*in_ns(ns, "ss", "-ltnH")).stdout
    return any(line.split()[3] == f"{addr}:{port}" for line in out.splitlines()
               if len(line.split()) > 3)


class Node:
    """One firewall: its ftpproxyd and its keepalived."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.ns = cluster.ns[name]
        self.dir = cluster.work / name
        self.dir.mkdir()
        self.config = self.dir / "ftpproxy.yaml"
        self.socket = self.dir / "run" / "control.sock"
        self.track_file = self.dir / "vrrp-track"
        self.ftpproxyd = None
        self.keepalived = None
        self.watch = None           # the PROCESS_WATCH keepalived runs with
        self.config.write_text(render_yaml(
            {"control_socket": str(self.socket), "runtime_dir": str(self.dir / "run"),
             "worker_binary": str(PROXY_BIN), "log_level": "info",
             "drain_timeout": DRAIN_TIMEOUT},
            [{"name": "ftp01", "listen": f"{VIP}:{FTP_PORT}",
              "backend": [f"{a}:{FTP_PORT}" for a in BACKENDS.values()],
              "health_check": HEALTH_CHECK, "data_timeout": "10s"}],
            self.cluster_settings()))

    def cluster_settings(self):
        """ftpproxy.yaml's `cluster:` (ucarp.py's nodes use another)."""
        return {"demotion": "keepalived", "track_file": str(self.track_file),
                # Sessions in flight survive a move of the VIP (the worker's
                # sockets keep it; the new holder passes the old one's
                # segments on).
                "handoff": {"nodes": list(LAN.values())}}

    # ------------------------------------------------------------ ftpproxyd
    def start_ftpproxyd(self):
        self.ftpproxyd = Proc(f"ftpproxyd-{self.name}",
                              in_ns(self.ns, FTPPROXYD, "-d", "-f", self.config),
                              self.dir / "ftpproxyd.log").start()
        wait_until(self.status, 15, f"{self.name}'s ftpproxyd to answer", proc=self.ftpproxyd)

    def ftpproxyd_alive(self):
        return self.ftpproxyd is not None and self.ftpproxyd.alive()

    def signal_ftpproxyd(self, sig):
        self.ftpproxyd.p.send_signal(sig)
        if sig == signal.SIGKILL:
            self.ftpproxyd.p.wait(10)      # reaped: no zombie for the process watch

    def status(self):
        """`ftpproxyctl status --json`, or None while it does not answer."""
        done = subprocess.run([FTPPROXYCTL, "-s", self.socket, "status", "--json"],
                              capture_output=True, text=True, timeout=10)
        return json.loads(done.stdout) if done.returncode in (0, 3) and done.stdout else None

    def backend_health(self):
        status = self.status() or {"instances": []}
        return {b["address"]: b["health"] for i in status["instances"] for b in i["backends"]}

    def wait_backends(self, wanted, timeout=15):
        """wanted: {backend name: health}, as this node's checks see them."""
        want = {f"{BACKENDS[n]}:{FTP_PORT}": h for n, h in wanted.items()}
        return wait_until(lambda: all(self.backend_health().get(a) == h for a, h in want.items()),
                          timeout, f"{self.name} to see {wanted}:\n{self.ftpproxyd.tail(30)}")

    def node_status(self):
        return (self.status() or {}).get("node")

    def wait_fit(self, fit, timeout=15):
        return wait_until(lambda: (n := self.node_status()) and n["fit"] == fit and n,
                          timeout, f"{self.name} fit={fit}:\n{self.ftpproxyd.tail(30)}")

    def track_value(self):
        try:
            return self.track_file.read_text()
        except FileNotFoundError:
            return None

    # ------------------------------------------------------------ keepalived
    def start_keepalived(self, watch="script"):
        subst = {"ftpproxyd": FTPPROXYD, "config": self.config, "alive": self.dir / "alive.sh"}
        alive = self.dir / "alive.sh"
        alive.write_text(string.Template(ALIVE_SCRIPT).substitute(subst))
        os.chmod(alive, 0o755)
        # The shipped notify hook, with ftpproxyctl pointed at this node.
        ctl = self.dir / "ftpproxyctl.sh"
        ctl.write_text(f"#!/bin/sh\nexec {FTPPROXYCTL} -s {self.socket} \"$@\"\n")
        notify = self.dir / "notify.sh"
        notify.write_text(f"#!/bin/sh\nFTPPROXYCTL={ctl} exec "
                          f"{REPO / 'deploy/keepalived/ftpproxy-notify.sh'} \"$@\"\n")
        for script in (ctl, notify):
            os.chmod(script, 0o755)
        definition, reference = PROCESS_WATCH[watch]
        conf = self.dir / "keepalived.conf"
        conf.write_text(string.Template(KEEPALIVED_TEMPLATE.read_text()).substitute(
            node=self.name, priority=PRIORITY[self.name], vip=VIP, track_file=self.track_file,
            process_watch_kind=watch,
            process_watch=string.Template(definition).substitute(subst),
            process_track=reference, notify=notify))
        run = self.dir / "keepalived"
        run.mkdir(exist_ok=True)
        self.keepalived = Proc(
            f"keepalived-{self.name}",
            in_ns(self.ns, "keepalived", "--dont-fork", "--log-console", "--vrrp", "-f", conf,
                  "-p", run / "keepalived.pid", "-r", run / "vrrp.pid",
                  "-c", run / "checkers.pid"),
            self.dir / f"keepalived-{watch}.log").start()
        self.watch = watch
        return self.keepalived

    def stop_keepalived(self):
        if self.keepalived:
            self.keepalived.stop(timeout=10)

    def keepalived_log(self, since=0):
        return self.keepalived.log_text()[since:] if self.keepalived else ""

    def vrrp_states(self, since=0):
        """The VRRP instance's states in the order keepalived entered them."""
        states = []
        for line in self.keepalived_log(since).splitlines():
            low = line.lower()
            for state in ("master", "backup", "fault"):
                if f"(vi_ftp) entering {state} state" in low:
                    states.append(state.upper())
        return states

    def vrrp_state(self):
        states = self.vrrp_states()
        return states[-1] if states else None

    def holds_vip(self):
        out = sh(*in_ns(self.ns, "ip", "-4", "-o", "addr", "show", "dev", "lan")).stdout
        return f" {VIP}/" in out

    # ------------------------------------------------------------ faults
    def block_backends(self):
        """Nothing leaves this node for the servers (a cut cable or a wrong
        rule upstream): its health checks fail, the peer's do not."""
        targets = ", ".join(BACKENDS.values())
        self.cluster.nft(self.name, f"table inet {BLOCK_TABLE} {{\n"
                                    "  chain out {\n"
                                    "    type filter hook output priority 0; policy accept;\n"
                                    f"    ip daddr {{ {targets} }} drop\n"
                                    "  }\n}\n")

    def unblock_backends(self):
        sh(*in_ns(self.ns, "nft", "delete", "table", "inet", BLOCK_TABLE), check=False)

    def procs(self):
        return [p for p in (self.ftpproxyd, self.keepalived) if p is not None]


class Cluster:
    node_class = Node               # ucarp.py's cluster has its own

    def __init__(self, work, nodes=("fw1", "fw2")):
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        os.chmod(self.work, 0o755)
        tag = f"{os.getpid()}-{next(_SEQ)}"
        self.ns = {role: f"ftpx-vrrp-{role}-{tag}" for role in ("client", *nodes, "server")}
        self.created = []
        self.nodes = {}
        self.backends = {}
        self.sha = None

    # ------------------------------------------------------------ network
    def up(self):
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for side in ("client", "server"):
            sh("ip", "-n", self.ns[side], "link", "add", "br0", "type", "bridge")
            sh("ip", "-n", self.ns[side], "link", "set", "br0", "up")
        self._addr("client", "br0", CLIENT)
        for addr in BACKENDS.values():
            self._addr("server", "br0", addr)
        for name in self.ns:
            if name.startswith("fw"):
                self._port(name, "lan", "client")
                self._port(name, "wan", "server")
                self._addr(name, "lan", LAN[name])
                self._addr(name, "wan", WAN[name])
                # The firewall routes nothing by itself; the VIP is bound
                # with IP_FREEBIND, not by a sysctl.
                sh(*in_ns(self.ns[name], "sysctl", "-qw", "net.ipv4.ip_forward=0"))
                self.nodes[name] = self.node_class(self, name)
        self._files()
        return self

    def _port(self, fw, fw_if, side):
        """A veth from the firewall's fw_if to a port of side's bridge."""
        sh("ip", "link", "add", "tmpa", "netns", self.ns[fw], "type", "veth", "peer", "name",
           "tmpb", "netns", self.ns[side])
        sh("ip", "-n", self.ns[fw], "link", "set", "tmpa", "name", fw_if, "up")
        sh("ip", "-n", self.ns[side], "link", "set", "tmpb", "name", f"to-{fw}", "master", "br0",
           "up")

    def _addr(self, role, ifname, address):
        sh("ip", "-n", self.ns[role], "addr", "add", f"{address}/24", "dev", ifname)

    def nft(self, role, ruleset):
        subprocess.run(in_ns(self.ns[role], "nft", "-f", "-"), input=ruleset, text=True,
                       check=True, capture_output=True, timeout=20)

    # ------------------------------------------------------------ servers
    def _files(self):
        big = self.work / "big.bin"
        with open(big, "wb") as f:
            for _ in range(BIG_SIZE >> 20):
                f.write(os.urandom(1 << 20))
        self.sha = sha256_file(big)
        for name, addr in BACKENDS.items():
            server = Pyftpd("v4", self.work, big, name=name, addr=addr, port=FTP_PORT)
            (server.pub / "name.txt").write_text(name + "\n")
            self.backends[name] = server

    def start_backend(self, name):
        server = self.backends[name]
        server.proc = Proc(name, in_ns(self.ns["server"], *server.argv()), server.log_path).start()
        wait_until(lambda: listening(self.ns["server"], server.addr, FTP_PORT), 15,
                   f"{name} to listen", proc=server.proc)

    def stop_backend(self, name):
        self.backends[name].stop()

    def backend_running(self, name):
        server = self.backends[name]
        return server.proc is not None and server.proc.alive()

    # ------------------------------------------------------------ VRRP
    def holders(self):
        return {name for name, node in self.nodes.items() if node.holds_vip()}

    def wait_holder(self, name, timeout=15):
        wait_until(lambda: self.holders() == {name}, timeout,
                   f"the VIP on {name} only (held by {self.holders()}); states "
                   f"{ {n: node.vrrp_state() for n, node in self.nodes.items()} }")

    def start_node(self, name, watch="script"):
        """ftpproxyd first (it writes the track file), then keepalived."""
        node = self.nodes[name]
        node.start_ftpproxyd()
        node.start_keepalived(watch)
        return node

    def boot(self):
        """The whole pair: network, both backends, both nodes, fw1 MASTER."""
        self.up()
        for name in BACKENDS:
            self.start_backend(name)
        for name in self.nodes:
            self.start_node(name)
        self.heal()
        return self

    def heal(self, master="fw1"):
        """Back to the state every test starts from: both backends up, no
        block, every node's ftpproxyd and keepalived (script watch) running
        and fit, `master` holding the VIP and the others BACKUP."""
        for name in BACKENDS:
            if not self.backend_running(name):
                self.start_backend(name)
        for node in self.nodes.values():
            node.unblock_backends()
            if not node.ftpproxyd_alive():
                node.start_ftpproxyd()
            if node.keepalived is None or not node.keepalived.alive() or node.watch != "script":
                node.stop_keepalived()
                node.start_keepalived()
        for node in self.nodes.values():
            node.wait_backends({name: "up" for name in BACKENDS})
            node.wait_fit(True)
        self.wait_holder(master)
        for name, node in self.nodes.items():
            if name != master:
                wait_until(lambda: node.vrrp_state() == "BACKUP", 15, f"{name} BACKUP")

    # ------------------------------------------------------------ client
    def login(self, timeout=5):
        """A session through the VIP. Call it, and use the session, inside
        `with entered(cluster.ns["client"])`."""
        ftp = ftplib.FTP(timeout=timeout)
        ftp.connect(VIP, FTP_PORT, source_address=(CLIENT, 0))
        ftp.login(USER, PASSWORD)
        return ftp

    def download_sha(self, path="pub/big.bin", timeout=10):
        with entered(self.ns["client"]):
            ftp = self.login(timeout)
            try:
                sha = sha256_retr(ftp, path)
                ftp.quit()
            finally:
                ftp.close()
        return sha

    def probe(self, timeout=5):
        """One session through the VIP: which backend answered (pub/name.txt),
        and through which node (the address the backend saw a tagged command
        from; health checks send none)."""
        tag = tag_command()
        marks = {name: server.mark() for name, server in self.backends.items()}
        with entered(self.ns["client"]):
            ftp = self.login(timeout)
            try:
                chunks = []
                ftp.retrbinary("RETR pub/name.txt", chunks.append)
                send_tag(ftp, tag)
                ftp.quit()
            finally:
                ftp.close()
        return Served(b"".join(chunks).decode().strip(), self.node_of(tag, marks))

    def node_of(self, tag, marks=None):
        """The node through which the session that sent `tag` reached a
        backend (None when none did)."""
        peers = {peer for name, server in self.backends.items()
                 for peer, _, arg in server.seen_since((marks or {}).get(name, 0)).commands
                 if arg == tag}
        nodes = {name for name, addr in WAN.items() if addr in peers}
        assert len(nodes) <= 1, f"{tag} seen from {peers}"
        return nodes.pop() if nodes else None

    def close(self, remove_files=True):
        for node in self.nodes.values():
            # SIGTERM: keepalived's parent then reaps its VRRP child (PID 1
            # here does not reap orphans); SIGKILL after 5 s.
            if node.keepalived is not None:
                node.keepalived.stop(timeout=5)
        procs = [p for node in self.nodes.values() for p in node.procs()]
        procs += [s.proc for s in self.backends.values() if s.proc is not None]
        for proc in procs:
            if proc.alive():
                proc.p.kill()
            try:
                proc.p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        delete_namespaces(reversed(self.created))
        self.created.clear()
        if remove_files:
            shutil.rmtree(self.work, ignore_errors=True)


def tag_command():
    return f"probe-{uuid.uuid4().hex[:12]}"


def send_tag(ftp, tag):
    """SIZE of a name no backend has: the backend logs the command with its
    peer (the node's address) and answers 550."""
    try:
        ftp.sendcmd(f"SIZE {tag}")
    except ftplib.error_perm:
        pass


def require_tools(*tools):
    """pytest.fail unless the built binaries and each of `tools` are there."""
    import pytest
    for binary in (FTPPROXYD, FTPPROXYCTL, PROXY_BIN):
        if not binary.exists():
            pytest.fail(f"{binary} missing: build it or set FTPPROXY_BUILD")
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: apt-get install {tool} (deploy/install-test-deps.sh)")


def booted(cluster, request):
    """A module fixture's body (`yield from booted(...)`): cluster.boot(),
    closed at the end; its logs stay for a look when a test failed."""
    failed = request.session.testsfailed
    try:
        yield cluster.boot()
    finally:
        cluster.close(remove_files=request.session.testsfailed == failed)


class HeldDownload(threading.Thread):
    """RETR pub/big.bin through the VIP in the client namespace, held after
    `hold_at` bytes (TCP back-pressure) until release(); then it reads on
    until the end or an error. `got` bytes arrived, hashed in `sha`."""

    def __init__(self, cluster, hold_at=4 << 20):
        super().__init__(daemon=True)
        self.cluster, self.hold_at = cluster, hold_at
        self.sha = hashlib.sha256()
        self.got = 0
        self.error = None
        self.tag = tag_command()
        self.held = threading.Event()
        self._release = threading.Event()

    def run(self):
        try:
            with entered(self.cluster.ns["client"]):
                ftp = self.cluster.login(timeout=5)
                send_tag(ftp, self.tag)
                try:
                    ftp.retrbinary("RETR pub/big.bin", self._take, blocksize=1 << 16)
                finally:
                    ftp.close()
        except Exception as e:  # the cut: reported to the test
            self.error = e
        finally:
            self.held.set()

    def _take(self, chunk):
        self.sha.update(chunk)
        self.got += len(chunk)
        if self.got >= self.hold_at and not self.held.is_set():
            self.held.set()
            self._release.wait(30)

    def release(self):
        self._release.set()
        self.join(30)
        assert not self.is_alive(), "the held download did not end"


class ClientLoop(threading.Thread):
    """A fresh session through the VIP every 50 ms (bounded: at most
    `limit` sessions), each recorded with when it started and how it ended."""

    def __init__(self, cluster, limit=400):
        super().__init__(daemon=True)
        self.cluster, self.limit = cluster, limit
        self.results = []           # (started, served or exception)
        self._halt = threading.Event()

    def run(self):
        for _ in range(self.limit):
            if self._halt.is_set():
                return
            started = time.monotonic()
            try:
                outcome = self.cluster.probe(timeout=5)
            except Exception as e:  # recorded; the test decides
                outcome = e
            self.results.append((started, outcome))
            self._halt.wait(0.05)

    def finish(self):
        self._halt.set()
        self.join(20)
        assert not self.is_alive()
        return self.results
