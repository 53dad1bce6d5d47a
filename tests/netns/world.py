"""What the namespace tests share: the topology with its servers (pyftpdlib
on the server's address, vsftpd on a second one), workers in the firewall
namespace, and the clients (ftplib, curl, lftp) run in the client namespace.

Everything a World starts or creates is removed by close(), which the
fixtures call in a `finally`.
"""
import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from ftpx.binaries import PROXY_BIN
from ftpx.clients import Transcript
from ftpx.digest import sha256_file
from ftpx.servers import PYFTPD_SERVER, PYTHON, VSFTPD_BIN, Vsftpd
from ftpx.wait import wait_until
from topology import ADDR, Topology

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent                 # where the package ftpx is (real_client.py needs it)
DATA_TIMEOUT = 5

USERS = {"pyftpdlib": ("test", "secret"), "vsftpd": (Vsftpd.user, Vsftpd.password)}
SERVER_ADDR = {"pyftpdlib": "server", "vsftpd": "server2"}   # role in topology.ADDR


# docs/forward-proxy.md's `redirect` divert: port 21 from the LAN to the
# worker's port 8021 on the LAN address.
REDIRECT = """
table inet ftpx_divert {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "lan" tcp dport 21 redirect to :8021
    }
}
"""

# docs/forward-proxy.md's `tproxy` divert without an address (one `--tproxy
# -b ::` worker on port 8021 takes both families), with World.local_routes
# for its mark 0x21 and table 121.
TPROXY = """
table inet ftp_divert {
    chain prerouting {
        type filter hook prerouting priority mangle; policy accept;
        iifname "lan" tcp dport 21 tproxy to :8021 meta mark set 0x21 accept
    }
}
"""


# The worker of the `redirect` divert: all addresses, port 8021, its own
# nftables backend.
REDIRECT_WORKER = ["-b", "::", "-p", "8021", "--firewall", "nftables",
                   "--data-timeout", str(DATA_TIMEOUT)]


@contextlib.contextmanager
def redirect_world(work, vsftpd):
    """A World in forward mode with the `redirect` divert (REDIRECT) and its
    worker "proxy" (REDIRECT_WORKER) listening. At the end the current worker
    -- the last one started: a test may replace it -- must exit 0 and leave
    no table behind."""
    w = World(work)
    try:
        w.up(vsftpd=vsftpd)
        w.topo.nft("fw", REDIRECT)
        w.proxy("proxy", *REDIRECT_WORKER)
        w.wait_listening("proxy", "fw", "::", 8021)
        yield w
        w.stop_proxy([name for name in w.procs if name.startswith("proxy")][-1])
        assert not w.worker_tables(), "the worker left its table behind"
    finally:
        w.close()


def comma_addr(addr):
    """198.18.2.2 -> '198,18,2,2,' as it appears in a 227 reply."""
    return addr.replace(".", ",") + ","


# Every data mode the proxy carries with ftplib: PORT cannot carry an IPv6
# address and PASV cannot answer one, and only a 227 carries an address, so
# only PASV has a client that honours it. Use as
# @pytest.mark.parametrize("fam,mode,honour", DATA_MODES, ids=DATA_MODE_IDS).
DATA_MODES = [("v4", "PASV", True), ("v4", "PASV", False), ("v4", "EPSV", False),
              ("v4", "PORT", False), ("v4", "EPRT", False), ("v6", "EPSV", False),
              ("v6", "EPRT", False)]
DATA_MODE_IDS = [f"{m}-{f}" + ("-honours-227" if h else "") for f, m, h in DATA_MODES]


def assert_data_from(result, host):
    """An active-mode (PORT/EPRT) data connection reached the client from the
    host it dialled, as clients that check it require (the server in forward
    mode, the proxy in reverse mode); passive modes record nothing."""
    if "data_peers" in result:
        peers = {peer for peer, _ in result["data_peers"]}
        assert peers == {host}, f"data connection from {peers}, the client dialled {host}"


def check_round_trip(world, fam, host, mode, honour, tmp_path, label, pasv_addr, **ftplib_kw):
    """ftplib to HOST: RETR of the big file and STOR of 3 MiB + 7 bytes, each
    checked by sha256; the mode's reply code; a 227 naming pasv_addr; an
    active data connection coming from HOST; and pyftpdlib saw only the
    firewall's WAN address."""
    result = world.ftplib(fam, host, mode, "retr", "pub/big.bin", honour=honour, **ftplib_kw)
    assert result["sha256"] == world.sha
    assert_data_from(result, host)
    (verb, reply), = result["replies"]
    assert verb == mode and reply[:4] == {"PASV": "227 ", "EPSV": "229 "}.get(mode, "200 "), reply
    if mode == "PASV":
        assert comma_addr(pasv_addr) in reply, reply
    upload = tmp_path / "up.bin"
    upload.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    name = f"pub/{label}-{fam}-{mode}-{honour}.bin"
    result = world.ftplib(fam, host, mode, "stor", name, upload=upload, **ftplib_kw)
    assert sha256_file(world.root / name) == result["sha256"] == sha256_file(upload)
    assert_data_from(result, host)
    assert world.server_peers("pyftpdlib", fam) == {ADDR[fam]["fw_wan"]}


class World:
    def __init__(self, work):
        self.work = Path(work)
        os.chmod(self.work, 0o755)
        self.topo = Topology()
        self.procs = {}          # name -> (Popen, log path)
        self.vsftpd = {}

    # ------------------------------------------------------------ processes
    def spawn(self, name, role, argv, stdin_is_log=False):
        log_path = self.work / f"{name}.log"
        log = open(log_path, "ab")
        try:
            p = subprocess.Popen(self.topo.cmd(role, *map(str, argv)), stdout=log,
                                 stderr=subprocess.STDOUT,
                                 stdin=log if stdin_is_log else subprocess.DEVNULL)
        finally:
            log.close()
        self.procs[name] = (p, log_path)
        return p

    def log(self, name, tail=4000):
        return self.procs[name][1].read_text(errors="replace")[-tail:]

    def listening(self, role, addr, port):
        """addr:port (or a wildcard) has a listener in role's namespace."""
        want = {f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}", f"*:{port}",
                f"0.0.0.0:{port}", f"[::]:{port}"}
        out = self.topo.run(role, "ss", "-ltnH").stdout
        return any(line.split()[3] in want for line in out.splitlines() if len(line.split()) > 3)

    def wait_listening(self, name, role, addr, port):
        p = self.procs[name][0]
        wait_until(lambda: self.listening(role, addr, port) or p.poll() is not None, 15,
                   f"{name} on {addr}:{port}")
        assert p.poll() is None, f"{name} exited {p.returncode}:\n{self.log(name)}"

    def proxy(self, name, *args):
        """Start a worker in the firewall namespace (foreground, debug log)."""
        return self.spawn(name, "fw", [PROXY_BIN, "-d", "-D7", "-v", *args])

    def stop_proxy(self, name):
        """SIGTERM: the worker must exit 0 (and remove its nftables table)."""
        p = self.procs[name][0]
        p.terminate()
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
            raise AssertionError(f"{name} did not exit within 10 s of SIGTERM:\n"
                                 f"{self.log(name)}") from None
        assert rc == 0, f"{name} exited {rc}:\n{self.log(name)}"

    def local_routes(self, mark, table):
        """tproxy's policy routing in the firewall: packets marked `mark` are
        delivered locally, whatever their destination."""
        for v, everything in (("-4", "0.0.0.0/0"), ("-6", "::/0")):
            self.topo.run("fw", "ip", v, "rule", "add", "fwmark", mark, "lookup", table)
            self.topo.run("fw", "ip", v, "route", "add", "local", everything, "dev", "lo",
                          "table", table)

    def worker_tables(self):
        out = self.topo.run("fw", "nft", "list", "tables").stdout
        return sorted(line.split()[-1] for line in out.splitlines() if "ftpproxy_" in line)

    # ------------------------------------------------------------ servers
    def up(self, vsftpd=True):
        self.topo.up()
        self.root = self.work / "root"
        (self.root / "pub").mkdir(parents=True)
        os.chmod(self.root, 0o755)
        big = self.root / "pub" / "big.bin"
        big.write_bytes(os.urandom(8 * 1024 * 1024))
        os.chmod(big, 0o644)
        self.sha = sha256_file(big)
        for fam in ("v4", "v6"):
            self.spawn(f"pyftpd-{fam}", "server",
                       [PYTHON, PYFTPD_SERVER, "--host", ADDR[fam]["server"], "--port", "21",
                        "--root", self.root, "--events", self.work / f"events-{fam}.jsonl"])
        if vsftpd:
            assert VSFTPD_BIN.exists(), f"{VSFTPD_BIN} missing: run deploy/install-test-deps.sh"
            for fam in ("v4", "v6"):
                # The loopback suite's vsftpd (its config, its log parsing),
                # on port 21 of the second server address.
                v = Vsftpd(fam, self.work, big, addr=ADDR[fam]["server2"], port=21)
                v.prepare()
                self.spawn(v.name, "server", v.argv(), stdin_is_log=True)
                self.vsftpd[fam] = v
        for fam in ("v4", "v6"):
            self.wait_listening(f"pyftpd-{fam}", "server", ADDR[fam]["server"], 21)
            if vsftpd:
                self.wait_listening(f"vsftpd-{fam}", "server", ADDR[fam]["server2"], 21)
        return self

    def server_root(self, kind, fam):
        return self.root if kind == "pyftpdlib" else self.vsftpd[fam].root

    def server_peers(self, kind, fam):
        """Every address that reached the server (control and data)."""
        if kind == "vsftpd":
            # vsftpd logs control peers only; it refuses (pasv_promiscuous=NO,
            # port_promiscuous=NO) any data peer but the control peer.
            return set(self.vsftpd[fam].seen_since(0).control_peers)
        path = self.work / f"events-{fam}.jsonl"
        events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return {e["peer"][0] if isinstance(e["peer"], list) else e["peer"]
                for e in events if "peer" in e}

    def close(self):
        for name, (p, _) in self.procs.items():
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        self.topo.close()
        # The files (8 MiB and every upload); failures carry their logs in
        # the assertion messages.
        shutil.rmtree(self.work, ignore_errors=True)

    # ------------------------------------------------------------ clients
    def ftplib(self, fam, host, mode, op, path, honour=False, upload=None, timeout=15):
        args = [PYTHON, HERE / "ftp_client.py", host, mode, op, path,
                "--source", ADDR[fam]["client"], "--timeout", timeout]
        if honour:
            args.append("--honour-227")
        if upload:
            args += ["--file", upload]
        done = subprocess.run(self.topo.cmd("client", *map(str, args)), capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr + "\n" + self._proxy_logs()
        return json.loads(done.stdout)

    def real_client(self, client, fam, kind, host, mode, op, path, workdir, upload=None,
                    port=21, verify_address=False):
        user, password = USERS[kind]
        args = [PYTHON, HERE / "real_client.py", client, mode, op, host, path,
                "--source", ADDR[fam]["client"], "--user", user, "--password", password,
                "--work", workdir, "--port", port]
        if upload:
            args += ["--file", upload]
        if verify_address:
            args.append("--verify-address")
        # The script imports ftpx: tests/ on its path too.
        done = subprocess.run(self.topo.cmd("client", *map(str, args)), capture_output=True,
                              text=True, timeout=150,
                              env=dict(os.environ, PYTHONPATH=str(TESTS)))
        assert done.returncode == 0, done.stderr[-6000:] + "\n" + self._proxy_logs()
        out = json.loads(done.stdout)
        out["transcript"] = Transcript(tuple(x) for x in out["transcript"])
        return out

    def _proxy_logs(self):
        return "\n".join(f"--- {n}\n{self.log(n, 2500)}" for n in self.procs
                         if n.startswith("proxy"))


# ------------------------------------------------------------ negative cases

class Probe:
    def __init__(self, world):
        self.p = subprocess.Popen(world.topo.cmd("client", PYTHON, str(HERE / "probe.py")),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __call__(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def session_elements(world):
    """Per-session elements in the worker's own nftables table(s)."""
    out = world.topo.run("fw", "nft", "-j", "list", "ruleset").stdout
    elements = []
    for item in json.loads(out)["nftables"]:
        for kind in ("map", "set"):
            obj = item.get(kind)
            if obj and obj["table"].startswith("ftpproxy_") and obj.get("elem"):
                elements += obj["elem"]
    return elements


def epsv(probe, fam="v4", host="server", binary=False):
    """Logs the probe in at ADDR[fam][host] and sends EPSV: the port."""
    a = ADDR[fam]
    assert probe(f"open {a[host]} {a['client']}")["reply"].startswith("220")
    assert probe("cmd USER test")["reply"].startswith("331")
    assert probe("cmd PASS secret")["reply"].startswith("230")
    if binary:
        assert probe("cmd TYPE I")["reply"].startswith("200")
    r = probe("cmd EPSV")["reply"]
    assert r.startswith("229"), r
    return int(r.split("|")[3])
