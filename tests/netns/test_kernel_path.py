"""The kernel data path (--data-path kernel, issue 13) in reverse mode across
the namespaces: the worker relays the control connection only; each data
connection is translated by the firewall's kernel (its nftables table:
armed set, kdnat/ksnat maps) and followed in conntrack.

The firewall forwards here (ip_forward on, as the kernel path needs), but
the operator's own table drops everything forwarded except connections with
the worker's conntrack mark (`ct mark 0x00465450 accept`, the line the
generated fragment carries). So a data connection passes only if the worker
asked the kernel for exactly that one, and the premise is checked: the
client cannot reach the server directly.

Proof that no data byte passed the worker: the conntrack entry of each
transfer is a translated one (original destination the proxy's port, reply
source the server or the client) with the worker's mark and the file's
bytes; the worker's log line for it says `data path kernel` and carries
those counters, and it never logs a relay.
"""
import json
import os
import re
import subprocess

import pytest

from ftpx.binaries import PROXY_BIN
from ftpx.servers import make_server_cert
from ftpx.wait import wait_until
from topology import ADDR
from world import (DATA_MODE_IDS, DATA_MODES, HERE, PYTHON, REDIRECT, REDIRECT_WORKER, Probe, World,
                   check_round_trip, epsv, session_elements)

MARK = "0x00465450"
DATA_TIMEOUT = 3
OPERATOR = """
table inet operator {
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct mark %s accept
    }
}
""" % MARK

KERNEL_LINE = re.compile(
    r"#(\d+) data (\S+(?: \S+)*?): (\S+ \S+), (\d+) bytes to client, (\d+) bytes to server, "
    r"[\d.]+ s, data path kernel \(connection (\w+), conntrack counted (\d+) IP packets\)")


def worker(world, fam, name=None):
    a = ADDR[fam]
    return world.proxy(name or f"proxy-{fam}", "-b", a["fw_lan"], "-p", "21", "-R", a["server"],
                       "-P", "21", "--data-timeout", str(DATA_TIMEOUT), "--data-path", "kernel")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("kernel"))
    try:
        w.up(vsftpd=True)
        kernel_firewall(w)
        for fam in ("v4", "v6"):
            worker(w, fam)
        for fam in ("v4", "v6"):
            w.wait_listening(f"proxy-{fam}", "fw", ADDR[fam]["fw_lan"], 21)
        yield w
        for name in [n for n, (p, _) in w.procs.items() if n.startswith("proxy") and
                     p.poll() is None]:
            w.stop_proxy(name)
    finally:
        w.close()


def kernel_firewall(w):
    """What the kernel path needs in the firewall namespace, and the
    operator's forward chain that drops all but the worker's mark."""
    w.topo.run("fw", "sysctl", "-qw", "net.ipv4.ip_forward=1")
    w.topo.run("fw", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    w.topo.nft("fw", OPERATOR)
    # The table loads conntrack; its accounting is per namespace.
    w.topo.run("fw", "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1")


@pytest.fixture(scope="module")
def forward_world(tmp_path_factory):
    """Forward mode: port 21 to any server is diverted to one dual-stack
    worker (REDIRECT, REDIRECT_WORKER), whose data connections the kernel
    carries."""
    w = World(tmp_path_factory.mktemp("kernel-forward"))
    try:
        w.up(vsftpd=False)
        kernel_firewall(w)
        w.topo.nft("fw", REDIRECT)
        w.proxy("proxy-forward", *REDIRECT_WORKER, "--data-path", "kernel")
        w.wait_listening("proxy-forward", "fw", "::", 8021)
        yield w
        w.stop_proxy("proxy-forward")
        assert not w.worker_tables(), "the worker left its table behind"
    finally:
        w.close()


def kernel_lines(world, name):
    return KERNEL_LINE.findall(world.log(name, tail=10 ** 7))


def conntrack_entries(world):
    """The firewall's marked conntrack entries, as conntrack -L prints them."""
    out = world.topo.run("fw", "conntrack", "-L", "-m", MARK, "-o", "extended",
                         check=False).stdout
    return [line for line in out.splitlines() if "tcp" in line]


def test_premise_the_operator_forwards_nothing_unmarked(world):
    a = ADDR["v4"]
    code = ("import socket\ntry:\n socket.create_connection(('%s', 21), timeout=1, "
            "source_address=('%s', 0)); print('connected')\nexcept OSError as e: print('no')"
            % (a["server"], a["client"]))
    assert world.topo.run("client", PYTHON, "-c", code).stdout.strip() == "no"


def check_kernel_round_trip(world, name, fam, host, mode, honour, tmp_path, label):
    """check_round_trip (sha256 both ways, the server saw only the
    firewall) through the worker `name`, then the proof that the kernel
    carried both transfers: one log line each with conntrack's counts, no
    relay, and the marked conntrack entries."""
    before = len(kernel_lines(world, name))
    check_round_trip(world, fam, host, mode, honour, tmp_path, label, pasv_addr=host)
    # The download, then the upload: each one line with conntrack's counts.
    wait_until(lambda: len(kernel_lines(world, name)) >= before + 2, 10,
               "the transfers' log lines")
    lines = kernel_lines(world, name)[before:]
    (_, outcome, command, to_client, to_server, ending, packets), = \
        [line for line in lines if line[2].startswith("RETR")]
    assert (outcome, ending) == ("completed", "closed"), lines
    size = 8 * 1024 * 1024
    # IP bytes: the payload and its headers (veth aggregates segments, so
    # the packet count says little about how many headers there were).
    assert size <= int(to_client) <= size * 1.05 + 10000, lines
    (_, outcome, command, to_client, to_server, ending, packets), = \
        [line for line in lines if line[2].startswith("STOR")]
    up = 3 * 1024 * 1024 + 7
    assert (outcome, ending) == ("completed", "closed"), lines
    assert up <= int(to_server) <= up * 1.05 + 10000, lines
    log = world.log(name, tail=10 ** 7)
    assert " relay " not in log and "data path relay" not in log
    # The kernel's own record: marked entries of the translated connections.
    assert conntrack_entries(world), "no marked conntrack entry"


@pytest.mark.parametrize("fam,mode,honour", DATA_MODES, ids=DATA_MODE_IDS)
def test_every_data_mode_goes_through_the_kernel(world, fam, mode, honour, tmp_path):
    """Reverse mode: the client dials the proxy's address (227 names it)."""
    check_kernel_round_trip(world, f"proxy-{fam}", fam, ADDR[fam]["fw_lan"], mode, honour,
                            tmp_path, "kernel")
    # A translated entry: original destination the proxy, reply source the
    # server (passive) or the client (active).
    fw = re.escape(ADDR[fam]["fw_lan"])
    translated = re.compile(r"dst=%s sport=\d+ dport=\d+ .*src=(\S+) dst=" % fw)
    assert any(m and m.group(1) in (ADDR[fam]["server"], ADDR[fam]["client"])
               for m in map(translated.search, conntrack_entries(world))), \
        conntrack_entries(world)


@pytest.mark.parametrize("fam,mode,honour", DATA_MODES, ids=DATA_MODE_IDS)
def test_every_data_mode_goes_through_the_kernel_in_forward_mode(forward_world, fam, mode,
                                                                 honour, tmp_path):
    """Forward mode: the client dials the server (227 names the server); an
    active data connection reaches the client from the server's address."""
    check_kernel_round_trip(forward_world, "proxy-forward", fam, ADDR[fam]["server"], mode,
                            honour, tmp_path, "kernel-forward")


def test_the_worker_refuses_to_start_without_forwarding_or_accounting(world):
    """In the client's namespace (forwarding off): one line naming the
    setting and the fix, exit 69 (EX_UNAVAILABLE), and no table left."""
    a = ADDR["v4"]
    argv = world.topo.cmd("client", PROXY_BIN, "-d", "-b", a["client"], "-p", "2121", "-R",
                          a["server"], "-P", "21", "--data-path", "kernel")

    def start():
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        tables = world.topo.run("client", "nft", "list", "tables").stdout
        assert "ftpproxy_" not in tables, tables
        return done.returncode, done.stderr.strip().splitlines()[-1]

    code, line = start()
    assert code == 69, line
    assert line.endswith("--data-path kernel: the kernel must forward the data connections "
                         "between the sides, and net.ipv4.ip_forward is 0: set it to 1 (sysctl "
                         "-w net.ipv4.ip_forward=1) or use --data-path relay"), line
    world.topo.run("client", "sysctl", "-qw", "net.ipv4.ip_forward=1")
    try:
        world.topo.run("client", "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=0")
        code, line = start()
        assert code == 69, line
        assert line.endswith("--data-path kernel: each transfer's bytes come from conntrack's "
                             "accounting, and net.netfilter.nf_conntrack_acct is 0: set it to 1 "
                             "(sysctl -w net.netfilter.nf_conntrack_acct=1) or use --data-path "
                             "relay"), line
    finally:
        world.topo.run("client", "sysctl", "-qw", "net.ipv4.ip_forward=0")


def test_third_host_cannot_use_the_announced_port(world):
    a = ADDR["v4"]
    probe = Probe(world)
    try:
        port = epsv(probe, host="fw_lan", binary=True)
        assert session_elements(world), "no kernel elements for the EPSV"
        thief = probe(f"data {a['fw_lan']} {port} {a['thief']} 1")
        assert "error" in thief, f"a third host reached the data port: {thief}"
        assert probe(f"data {a['fw_lan']} {port} {a['client']}") == {"connected": True}
        # (A listing: the probe waits for the final reply before it reads.)
        assert probe("cmd LIST pub")["reply"].startswith("226")
        assert probe("read")["bytes"] > 0
        # The one connection was used: a second one finds nothing.
        again = probe(f"data {a['fw_lan']} {port} {a['client']} 1")
        assert "error" in again, f"a second connection to a used port: {again}"
        quit_reply = probe("cmd QUIT")
        assert quit_reply.get("reply", "").startswith("221"), (quit_reply, world.log("proxy-v4"))
    finally:
        probe.close()
    wait_until(lambda: not session_elements(world), 10, "no state after QUIT")


def test_expired_expectation_lets_nothing_in(world):
    a = ADDR["v4"]
    probe = Probe(world)
    try:
        port = epsv(probe, host="fw_lan")
        assert session_elements(world)
        wait_until(lambda: not session_elements(world), DATA_TIMEOUT + 5,
                   "the expectation to expire")
        late = probe(f"data {a['fw_lan']} {port} {a['client']}")
        assert "error" in late, f"connected after the expectation expired: {late}"
        assert "data connection not used within 3 s" in world.log("proxy-v4")
    finally:
        probe.close()


def test_client_reset_leaves_no_state(world):
    probe = Probe(world)
    try:
        epsv(probe, "v6", host="fw_lan")
        assert session_elements(world)
        assert probe("reset") == {"reset": True}
        wait_until(lambda: not session_elements(world), 10, "no state after a client RST")
    finally:
        probe.close()


TLS_CLIENT = """
import ftplib, hashlib, json, ssl, sys
host, source, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=context, timeout=15, source_address=(source, 0))
f.connect(host, port)
f.login("test", "secret")
out = {}
for prot in ("P", "C"):
    f.prot_p() if prot == "P" else f.prot_c()
    h = hashlib.sha256()
    f.retrbinary("RETR pub/big.bin", h.update)
    out[prot] = h.hexdigest()
f.quit()
print(json.dumps(out))
"""


def test_tls_data_connections_are_relayed_and_say_why(world, tmp_path):
    """The kernel cannot be a TLS endpoint: under PROT P the worker relays
    that data connection (and logs why); back in clear text (PROT C) the
    same session's next one goes through the kernel again."""
    a = ADDR["v4"]
    name = "proxy-tls"
    cert, key = make_server_cert(tmp_path, "proxy", f"IP:{a['fw_lan']}")
    world.proxy(name, "-b", a["fw_lan"], "-p", "2122", "-R", a["server"], "-P", "21",
                "--data-path", "kernel", "--tls-cert", cert, "--tls-key", key)
    world.wait_listening(name, "fw", a["fw_lan"], 2122)
    done = world.topo.run("client", PYTHON, "-c", TLS_CLIENT, a["fw_lan"], a["client"], "2122")
    assert json.loads(done.stdout) == {"P": world.sha, "C": world.sha}
    wait_until(lambda: len(kernel_lines(world, name)) == 1, 10, "the clear transfer's line")
    log = world.log(name, tail=10 ** 7)
    assert ("data path relay for this data connection: the client's data connection is TLS "
            "(PROT P)") in log
    relayed = re.findall(r"data completed: RETR pub/big.bin, (\d+) bytes to client.* relay "
                         r"read/write \(client leg TLS", log)
    assert relayed == [str(8 * 1024 * 1024)], log[-3000:]
    world.stop_proxy(name)


def test_a_long_kernel_transfer_is_not_idle(world):
    """-t 2 and a client that reads slowly for 5 s with a quiet control
    connection: the bytes the kernel moves (asked of conntrack at each idle
    check) keep the session alive, as a relayed transfer's do."""
    a = ADDR["v4"]
    name = "proxy-idle"
    world.proxy(name, "-b", a["fw_lan"], "-p", "2121", "-R", a["server"], "-P", "21",
                "--data-timeout", str(DATA_TIMEOUT), "--data-path", "kernel", "-t", "2")
    world.wait_listening(name, "fw", a["fw_lan"], 2121)
    probe = Probe(world)
    try:
        assert probe(f"open {a['fw_lan']} {a['client']} 2121")["reply"].startswith("220")
        probe("cmd USER test")
        assert probe("cmd PASS secret")["reply"].startswith("230")
        assert probe("cmd TYPE I")["reply"].startswith("200")
        port = int(probe("cmd EPSV")["reply"].split("|")[3])
        # A small fixed receive window: the server cannot get ahead into
        # buffers, so bytes cross the firewall for the whole 5 s.
        assert probe(f"data {a['fw_lan']} {port} {a['client']} 10 65536") == {"connected": True}
        assert probe("send RETR pub/big.bin") == {"sent": True}
        slow = probe("slowread 5")["bytes"]
        assert 0 < slow < 8 * 1024 * 1024, slow
        rest = probe("read")["bytes"]
        assert slow + rest == 8 * 1024 * 1024
        final = probe("reply")
        assert final.get("reply", "").startswith("226"), (final, world.log(name))
    finally:
        probe.close()
    assert "idle for 2 s" not in world.log(name)
    world.stop_proxy(name)


def test_many_short_transfers_in_parallel(world, tmp_path):
    """The benchmark's session load (bench/ftpload.c, 8 clients for 3 s, one
    4 KiB download per session, to vsftpd): data connections that end while
    their session is already done with them, in every order. A channel
    freed before its deadline coroutine first ran crashed the worker here."""
    a = ADDR["v4"]
    name = "proxy-vsftpd"
    world.proxy(name, "-b", a["fw_lan"], "-p", "2125", "-R", a["server2"], "-P", "21",
                "--data-path", "kernel")
    world.wait_listening(name, "fw", a["fw_lan"], 2125)
    small = world.server_root("vsftpd", "v4") / "pub" / "small.bin"
    small.write_bytes(os.urandom(4096))
    small.chmod(0o644)
    ftpload = tmp_path / "ftpload"
    subprocess.run(["gcc", "-O2", "-o", ftpload, HERE.parent.parent / "bench" / "ftpload.c"],
                   check=True, timeout=120)
    done = world.topo.run("client", ftpload, "sessions", "-h", a["fw_lan"], "-p", "2125", "-c",
                          "8", "-d", "3", "-W", "0.5", "-f", "pub/small.bin", "-s", "4096", "-t",
                          "8", check=False)
    assert world.procs[name][0].poll() is None, world.log(name)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["errors"] == 0 and out["done_total"] > 0, (out["last_error"],
                                                           out["errors_by_state"])
    wait_until(lambda: len([line for line in kernel_lines(world, name)
                            if line[2] == "RETR pub/small.bin"]) >= out["done_total"], 10,
               "a log line for each transfer")
    world.stop_proxy(name)


def test_zz_killed_worker_state_is_cleared_by_the_next(world):
    """Runs last: kill -9 leaves the worker's table behind; the next worker
    of the same instance removes it at start and serves again."""
    a = ADDR["v4"]
    probe = Probe(world)
    epsv(probe, host="fw_lan")
    assert session_elements(world)
    killed = world.procs["proxy-v4"][0]
    killed.kill()
    killed.wait(timeout=10)
    probe.close()
    stale = [t for t in world.worker_tables() if t.endswith(f"_{killed.pid}")]
    assert stale, "the killed worker's table should still be there"
    worker(world, "v4", "proxy-v4-next")
    world.wait_listening("proxy-v4-next", "fw", a["fw_lan"], 21)
    wait_until(lambda: not set(world.worker_tables()) & set(stale), 10,
               "the new worker to remove the stale table")
    result = world.ftplib("v4", a["fw_lan"], "EPSV", "retr", "pub/big.bin")
    assert result["sha256"] == world.sha
