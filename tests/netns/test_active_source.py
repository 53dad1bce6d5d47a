"""Active mode (PORT/EPRT) in forward mode, for every divert form and
listener address docs/forward-proxy.md allows, as documented:

* `redirect` to a worker on the firewall's LAN address (`-b 198.18.1.1`);
* `dnat ip to 127.0.0.1:8021` to a worker on its defaults (`-b 127.0.0.1
  -p 8021`, as OpenBSD's), with route_localnet; IPv4 only;
* `tproxy to :8021` to one `--tproxy -b ::` worker for both families;
* `redirect` to `-b ::` with `-r` (the data connection's source port is 20)
  and with `--passive-to-server` (the worker connects to both sides);
* `redirect` to `-b 198.18.1.1` on a firewall that routes;
* `dnat` with `--firewall none` (no translation: the firewall's address).

(`redirect` to `-b ::` alone is test_forward.py and test_real_clients.py;
tproxy to 127.0.0.1 / ::1 is test_tproxy.py.)

The client dials the SERVER. Its active data connection must come from the
server's address too, not the firewall's, or clients that check it (lftp
with ftp:verify-address, and others) refuse it: ftplib records the peer its
listening socket accepted, and lftp with ftp:verify-address must succeed.
"""
import os

import pytest

from ftpx.clients import assert_mode_used
from ftpx.digest import sha256_file
from ftpx.wait import wait_until
from topology import ADDR
from world import (DATA_MODES, REDIRECT, TPROXY, World, assert_data_from, check_round_trip,
                   comma_addr)

# docs/forward-proxy.md, "dnat" (IPv4 only: Linux cannot dnat to ::1).
DNAT = """
table inet ftp_divert {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "lan" meta nfproto ipv4 tcp dport 21 dnat ip to 127.0.0.1:8021
    }
}
"""

ANY = ["-b", "::", "-p", "8021"]
# form: (ruleset, worker arguments, the address it listens on, families)
FORMS = {
    "redirect-lan": (REDIRECT, ["-b", ADDR["v4"]["fw_lan"], "-p", "8021"], ADDR["v4"]["fw_lan"],
                     ("v4",)),
    "dnat-loopback": (DNAT, [], "127.0.0.1", ("v4",)),
    "tproxy-any": (TPROXY, ["--tproxy", *ANY], "::", ("v4", "v6")),
    "redirect-any-port20": (REDIRECT, [*ANY, "-r"], "::", ("v4", "v6")),
    "redirect-any-passive-to-server": (REDIRECT, [*ANY, "--passive-to-server"], "::",
                                       ("v4", "v6")),
    # A firewall that routes (as most do; the others here forward nothing):
    # the client's replies to the translated connection are un-NATed before
    # the routing decision, so they still reach the worker, not the server.
    "redirect-lan-routing": (REDIRECT, ["-b", ADDR["v4"]["fw_lan"], "-p", "8021"],
                             ADDR["v4"]["fw_lan"], ("v4",)),
    # Rules kept by hand: no expectations, no source NAT (its own test).
    "dnat-loopback-no-firewall": (DNAT, ["--firewall", "none"], "127.0.0.1", ("v4",)),
}


def cases(combos):
    """(form, *combo) for each form and each combo whose first item, the
    family, the form serves; ids "form-combo"."""
    out = [(form, *combo) for form in sorted(FORMS) for combo in combos
           if combo[0] in FORMS[form][3] and "--firewall" not in FORMS[form][1]]
    return out, ["-".join(str(x) for x in case) for case in out]


ROUND_TRIPS = cases(DATA_MODES)
ACTIVE = cases([("v4", "PORT"), ("v4", "EPRT"), ("v6", "EPRT")])
LFTP = cases([("v4", "PORT"), ("v6", "EPRT")])     # lftp's own choice per family
CURL = cases([("v4", "PORT"), ("v4", "EPRT")])


def start(w, form):
    """The namespaces, the servers, the form's divert rules and its worker."""
    ruleset, args, bind, _ = FORMS[form]
    w.form = form
    w.up(vsftpd=False)
    if ruleset is DNAT:
        w.topo.run("fw", "sysctl", "-qw", "net.ipv4.conf.lan.route_localnet=1")
    if ruleset is TPROXY:
        w.local_routes("0x21", "121")
    if form.endswith("-routing"):
        w.topo.run("fw", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        w.topo.run("fw", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    w.topo.nft("fw", ruleset)
    firewall = [] if "--firewall" in args else ["--firewall", "nftables"]
    w.proxy("proxy", *args, *firewall, "--data-timeout", "5")
    w.wait_listening("proxy", "fw", bind, 8021)


def finish(w):
    """Every session has ended: none of its elements (expectations or source
    NAT) outlives it; then the worker exits 0 and removes its table."""
    wait_until(lambda: "comment \"#" not in w.topo.run("fw", "nft", "list", "ruleset").stdout,
               10, f"{w.form}: the sessions' elements to go")
    w.stop_proxy("proxy")
    assert not w.worker_tables(), f"{w.form}: the worker left its table behind"


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """One World per form, made on first use and shared by the form's cases
    (pytest cannot group tests by an indirect parameter across functions)."""
    made = {}

    def get(form):
        if form not in made:
            made[form] = World(tmp_path_factory.mktemp(form))   # closed below in any case
            start(made[form], form)
        return made[form]
    try:
        yield get
        for w in made.values():
            finish(w)
    finally:
        for w in made.values():
            w.close()


@pytest.fixture
def world(request, worlds):
    return worlds(request.param)


@pytest.mark.parametrize("world,fam,mode,honour", ROUND_TRIPS[0], ids=ROUND_TRIPS[1],
                         indirect=["world"])
def test_ftplib_round_trip(world, fam, mode, honour, tmp_path):
    """Every data mode both ways (sha256); an active data connection comes
    from the server's address (check_round_trip)."""
    server = ADDR[fam]["server"]
    check_round_trip(world, fam, server, mode, honour, tmp_path, world.form, pasv_addr=server,
                     timeout=5)


@pytest.mark.parametrize("world,fam,mode", ACTIVE[0], ids=ACTIVE[1], indirect=["world"])
def test_the_source_port(world, fam, mode):
    """The client's listening socket sees SERVER:port; with -r the port is
    20, as from an FTP server's own active mode."""
    server = ADDR[fam]["server"]
    result = world.ftplib(fam, server, mode, "retr", "pub/big.bin", timeout=5)
    assert result["sha256"] == world.sha
    (peer, port), = result["data_peers"]
    assert peer == server, result
    assert (port == 20) == ("-r" in FORMS[world.form][1]), result


@pytest.mark.parametrize("world,fam,mode", LFTP[0], ids=LFTP[1], indirect=["world"])
def test_lftp_verifying_the_data_peer(world, fam, mode, tmp_path):
    """lftp with ftp:verify-address refuses a data connection from anyone but
    the host it dialled."""
    server = ADDR[fam]["server"]
    who = f"lftp {mode} {fam} {world.form}"
    got = world.real_client("lftp", fam, "pyftpdlib", server, mode, "retr", "pub/big.bin",
                            tmp_path, verify_address=True)
    assert got["sha256"] == world.sha, who
    assert_mode_used(got["transcript"], mode, who)
    assert [r[:4] for r in got["transcript"].reply_to("RETR")] == ["226 "], got["transcript"]
    upload = tmp_path / "up.bin"
    upload.write_bytes(os.urandom(1024 * 1024 + 3))
    name = f"pub/lftp-{world.form}-{fam}.bin"
    got = world.real_client("lftp", fam, "pyftpdlib", server, mode, "stor", name,
                            tmp_path / "stor", upload=upload, verify_address=True)
    assert_mode_used(got["transcript"], mode, who + " (upload)")
    assert sha256_file(world.root / name) == got["sha256"] == sha256_file(upload)


@pytest.mark.parametrize("world,fam,mode", CURL[0], ids=CURL[1], indirect=["world"])
def test_curl_active(world, fam, mode, tmp_path):
    """curl in active mode (it checks no peer; the transfer must simply work,
    which it did not with the worker on 127.0.0.1)."""
    server = ADDR[fam]["server"]
    got = world.real_client("curl", fam, "pyftpdlib", server, mode, "retr", "pub/big.bin",
                            tmp_path)
    assert got["sha256"] == world.sha
    assert_mode_used(got["transcript"], mode, f"curl {mode} {world.form}")


@pytest.mark.parametrize("world,mode,honour", [("dnat-loopback-no-firewall", "PASV", True),
                                               ("dnat-loopback-no-firewall", "PORT", False),
                                               ("dnat-loopback-no-firewall", "EPRT", False)],
                         ids=["PASV-honours-227", "PORT", "EPRT"], indirect=["world"])
def test_without_firewall_state_the_firewalls_own_address(world, mode, honour):
    """--firewall none (a firewall managed by hand) behind dnat to 127.0.0.1:
    the 227 names the firewall's LAN address, not 127.0.0.1, so a client that
    honours it connects; active data comes from that address (nothing
    translates it to the server's)."""
    lan = ADDR["v4"]["fw_lan"]
    result = world.ftplib("v4", ADDR["v4"]["server"], mode, "retr", "pub/big.bin",
                          honour=honour, timeout=5)
    assert result["sha256"] == world.sha
    (verb, reply), = result["replies"]
    assert reply[:4] == ("227 " if mode == "PASV" else "200 "), reply
    if mode == "PASV":
        assert comma_addr(lan) in reply, reply
    assert_data_from(result, lan)
