"""The pair of cluster.py with ucarp instead of keepalived
(test_cluster_ucarp.py): same namespaces, addresses, backends and probes.

Each firewall runs the real ucarp daemon (Debian package ucarp, 1.5.2) on
its LAN side for the VIP, with the shipped deploy/ucarp/vip-up.sh and
vip-down.sh as --upscript/--downscript (wrapped so that ftpproxyctl names
this node's control socket), --shutdown (the down script runs when ucarp is
stopped) and --preempt (fw1, advskew 0, takes the VIP back from fw2,
advskew 100, when it can).

ucarp has no demotion counter and no track file, so ftpproxyd demotes with
the command method, as docs/carp-failover.md says: demote_command stops
ucarp, promote_command starts it. In production that is
`systemctl stop|start ucarp@vip1`; here each node has a small service
manager that does what systemctl does (ucarp_service.py): stop waits until
ucarp has exited, after its down script. So ftpproxyd, not the test, starts
ucarp: at boot it demotes (stop: nothing runs yet) until it is fit, then
promotes (start).
"""
import os
import re
import subprocess

from cluster import BACKENDS, LAN, VIP, Cluster, Node, in_ns
from ftpx.binaries import FTPPROXYCTL, REPO
from ftpx.procs import Proc
from ftpx.servers import PYTHON
from ftpx.wait import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = os.path.join(HERE, "ucarp_service.py")
ADVSKEW = {"fw1": 0, "fw2": 100}     # lower is preferred
VHID = 18
ADVBASE = 1                          # seconds between adverts (ucarp's shortest)

_STATE = re.compile(r"Switching to state: (MASTER|BACKUP)")


class UcarpNode(Node):
    """One firewall: its ftpproxyd and its ucarp (under ucarp_service.py)."""

    def __init__(self, cluster, name):
        self.service_socket = cluster.work / name / "ucarp.sock"
        super().__init__(cluster, name)
        self.service = None
        self.ucarp_log = self.dir / "ucarp.log"

    def cluster_settings(self):
        ctl = [PYTHON, SERVICE, "ctl", str(self.service_socket)]
        return {"demotion": "command", "demote_command": ctl + ["stop"],
                "promote_command": ctl + ["start"]}

    # ------------------------------------------------------------ ucarp
    def start_service(self):
        """The service manager, with ucarp not running (ftpproxyd starts it)."""
        ctl = self.dir / "ftpproxyctl.sh"
        ctl.write_text(f"#!/bin/sh\nexec {FTPPROXYCTL} -s {self.socket} \"$@\"\n")
        hooks = {}
        for kind in ("up", "down"):
            hooks[kind] = self.dir / f"vip-{kind}.sh"
            hooks[kind].write_text(f"#!/bin/sh\nFTPPROXYCTL={ctl} exec "
                                   f"{REPO / 'deploy/ucarp'}/vip-{kind}.sh \"$@\"\n")
        for script in (ctl, *hooks.values()):
            os.chmod(script, 0o755)
        ucarp = ["ucarp", "--interface=lan", f"--srcip={LAN[self.name]}", f"--vhid={VHID}",
                 "--pass=ftpx", f"--addr={VIP}", f"--advbase={ADVBASE}",
                 f"--advskew={ADVSKEW[self.name]}", "--preempt", "--shutdown",
                 f"--upscript={hooks['up']}", f"--downscript={hooks['down']}"]
        self.service = Proc(f"ucarp-{self.name}",
                            in_ns(self.ns, PYTHON, SERVICE, "serve", self.service_socket, "--",
                                  *ucarp),
                            self.ucarp_log).start()
        wait_until(lambda: self.service_socket.exists(), 10, f"{self.name}'s ucarp service",
                   proc=self.service)

    def ucarp(self, word):
        """start, stop, kill or status, as an admin's `systemctl` would:
        'running PID' or 'stopped STATUS'."""
        done = subprocess.run([PYTHON, SERVICE, "ctl", self.service_socket, word],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done
        return done.stdout.strip()

    def ucarp_running(self):
        return self.ucarp("status").startswith("running")

    def ucarp_pid(self):
        state = self.ucarp("status")
        assert state.startswith("running"), state
        return int(state.split()[1])

    def log_text(self):
        return self.service.log_text() if self.service else ""

    def ucarp_states(self, since=0):
        """ucarp's states in the order it entered them (the log from `since`)."""
        return _STATE.findall(self.log_text()[since:])

    def vrrp_state(self):
        states = self.ucarp_states()
        return states[-1] if states else None

    def role(self, status=None):
        """The role ftpproxyd was told for the VIP (vip-up.sh, vip-down.sh)."""
        node = (status or self.status() or {}).get("node") or {}
        return (node.get("roles", {}).get(VIP) or {}).get("role")

    def procs(self):
        return [p for p in (self.ftpproxyd, self.service) if p is not None]


class UcarpCluster(Cluster):
    node_class = UcarpNode

    def start_node(self, name):
        """The service manager first (it owns ucarp), then ftpproxyd, which
        starts ucarp once it is fit."""
        node = self.nodes[name]
        node.start_service()
        node.start_ftpproxyd()
        return node

    def heal(self, master="fw1"):
        """Back to where every test starts: both backends up, no block, every
        node's ftpproxyd fit and promoted (so its ucarp runs), `master`
        holding the VIP and reported master, the others backup."""
        for name in BACKENDS:
            if not self.backend_running(name):
                self.start_backend(name)
        for node in self.nodes.values():
            node.unblock_backends()
            if node.service is None or not node.service.alive():
                node.start_service()
            if not node.ftpproxyd_alive():
                node.start_ftpproxyd()
        for node in self.nodes.values():
            node.wait_backends({name: "up" for name in BACKENDS})
            wait_until(lambda: (n := node.node_status()) and n["fit"] and not n["demoted"], 15,
                       f"{node.name} fit and promoted:\n{node.ftpproxyd.tail(20)}")
            # A test may have stopped or killed ucarp behind ftpproxyd's back:
            # the admin starts it again (a fresh ucarp starts as BACKUP and
            # its down script removes a VIP a killed one left).
            node.ucarp("start")
        self.wait_holder(master, timeout=20)
        for name, node in self.nodes.items():
            want = "master" if name == master else "backup"
            wait_until(lambda: node.role() == want, 15,
                       f"{name} reported {want} (is {node.role()}):\n{node.log_text()[-1500:]}")

    def close(self, remove_files=True):
        # Each service stops its ucarp (the down script runs) and reaps it.
        for node in self.nodes.values():
            if node.service is not None:
                node.service.stop(timeout=15)
        super().close(remove_files)

