"""Three hosts in network namespaces: client -- firewall -- server.

The firewall forwards nothing (ip_forward off): a data connection reaches
the other side only through the proxy, so a proxy that lets a connection
skip it fails here instead of passing on loopback. Addresses come only from
198.18.0.0/15 and fd18::/16. Everything created is deleted by close(), also
after a failure (the fixture calls it in a finally).
"""
import itertools
import os
import subprocess

LAN4, LAN6 = "198.18.1.", "fd18:1::"
WAN4, WAN6 = "198.18.2.", "fd18:2::"

ADDR = {
    "v4": {"client": LAN4 + "2", "thief": LAN4 + "3", "fw_lan": LAN4 + "1",
           "fw_wan": WAN4 + "1", "server": WAN4 + "2", "server2": WAN4 + "3"},
    "v6": {"client": LAN6 + "2", "thief": LAN6 + "3", "fw_lan": LAN6 + "1",
           "fw_wan": WAN6 + "1", "server": WAN6 + "2", "server2": WAN6 + "3"},
}


_SEQ = itertools.count()


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=20)


class Topology:
    def __init__(self):
        # pid + a counter: a test may build its own topology while a
        # module's is up.
        tag = f"{os.getpid()}-{next(_SEQ)}"
        self.ns = {role: f"ftpx-{role}-{tag}" for role in ("client", "fw", "server")}
        self.created = []

    def run(self, role, *args, check=True):
        return sh("ip", "netns", "exec", self.ns[role], *args, check=check)

    def cmd(self, role, *args):
        """argv prefix that runs a program inside the role's namespace."""
        return ["ip", "netns", "exec", self.ns[role], *args]

    def up(self):
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self._link("client", "eth0", "fw", "lan")
        self._link("server", "eth0", "fw", "wan")
        for fam, plen in (("v4", 24), ("v6", 64)):
            a = ADDR[fam]
            extra = ["nodad"] if fam == "v6" else []
            self._addr("client", "eth0", a["client"], plen, extra)
            self._addr("client", "eth0", a["thief"], plen, extra)
            self._addr("fw", "lan", a["fw_lan"], plen, extra)
            self._addr("fw", "wan", a["fw_wan"], plen, extra)
            self._addr("server", "eth0", a["server"], plen, extra)
            self._addr("server", "eth0", a["server2"], plen, extra)   # a second server
            self.run("client", "ip", "-6" if fam == "v6" else "-4", "route", "add", "default",
                     "via", a["fw_lan"])
            self.run("server", "ip", "-6" if fam == "v6" else "-4", "route", "add", "default",
                     "via", a["fw_wan"])
        # The firewall routes nothing by itself.
        self.run("fw", "sysctl", "-qw", "net.ipv4.ip_forward=0")
        self.run("fw", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")
        return self

    def _link(self, a, a_if, b, b_if):
        sh("ip", "link", "add", "tmpa", "netns", self.ns[a], "type", "veth", "peer", "name",
           "tmpb", "netns", self.ns[b])
        sh("ip", "-n", self.ns[a], "link", "set", "tmpa", "name", a_if, "up")
        sh("ip", "-n", self.ns[b], "link", "set", "tmpb", "name", b_if, "up")

    def _addr(self, role, ifname, address, plen, extra):
        sh("ip", "-n", self.ns[role], "addr", "add", f"{address}/{plen}", "dev", ifname, *extra)

    def nft(self, role, ruleset):
        subprocess.run(self.cmd(role, "nft", "-f", "-"), input=ruleset, text=True, check=True,
                       capture_output=True, timeout=20)

    def close(self):
        delete_namespaces(reversed(self.created))
        self.created.clear()


def delete_namespaces(names):
    """Kill every process left in each namespace, then delete it (with its
    links: a veth goes with either end, a bridge with its namespace)."""
    for ns in names:
        for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", ns, check=False)
