"""EPSV: arguments the proxy refuses (another protocol, junk), EPSV ALL (then
only EPSV is allowed, and nothing else reaches the server), and REIN, which
ends EPSV ALL only when the server accepted it."""
import pytest

from ftpx import net
from ftpx.ftpraw import recv_all
from ftpx.sessions import session

pytestmark = pytest.mark.proxy_only

EPSV_CASES = [
    ("EPSV-2-on-v4", "v4", "EPSV 2", "522 Network protocol not supported, use (1)"),
    ("EPSV-1-on-v6", "v6", "EPSV 1", "522 Network protocol not supported, use (2)"),
    ("EPSV-3", "v4", "EPSV 3", "522 Network protocol not supported, use (1)"),
    ("EPSV-junk", "v4", "EPSV foo", "501 Malformed EPSV argument."),
]


@pytest.mark.parametrize("cid,fam,cmd,want", [pytest.param(*c, id=c[0]) for c in EPSV_CASES])
def test_epsv_argument_refused(cid, fam, cmd, want, make_route):
    route = make_route("pyftpdlib", fam)
    mark = route.server.mark()
    with session(route) as r:
        assert r.cmd(cmd).lines == [want]
        assert not route.server.seen_since(mark).data_setup_verbs()
        assert r.cmd("NOOP").code == 200


@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
def test_rein_resets_epsv_all_only_when_accepted(server, make_route):
    """REIN resets all parameters (RFC 959), and EPSV ALL is one the proxy
    keeps: after a REIN the server accepted, PASV works again; after one it
    refused (vsftpd: 502), EPSV ALL still holds."""
    route = make_route(server, "v4")
    with session(route) as r:
        assert r.cmd("EPSV ALL").lines == ["200 EPSV ALL accepted."]
        assert r.cmd("PASV").lines == ["503 Only EPSV is allowed after EPSV ALL."]
        rein = r.cmd("REIN")
        if server == "pyftpdlib":
            assert rein.lines == ["230 Ready for new user."]
            r.login(route.server.user, route.server.password)
            assert r.cmd("PASV").code == 227
        else:
            assert rein.code == 502, rein.lines
            assert r.cmd("PASV").lines == ["503 Only EPSV is allowed after EPSV ALL."]
        assert r.cmd("NOOP").code == 200


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_epsv_all_allows_only_epsv(fam, make_route):
    """After EPSV ALL (answered by the proxy) PORT/EPRT/PASV get 503 and
    never reach the server; EPSV and its transfer still work."""
    route = make_route("pyftpdlib", fam)
    mark = route.server.mark()
    with session(route) as r:
        assert r.cmd("EPSV ALL").lines == ["200 EPSV ALL accepted."]
        h = route.client_addr.replace(".", ",")
        refused = ["EPRT |2|fd18::1|50000|"] if fam == "v6" else [f"PORT {h},195,80", "PASV"]
        for cmd in refused:
            assert r.cmd(cmd).lines == ["503 Only EPSV is allowed after EPSV ALL."], cmd
        assert not route.server.seen_since(mark).data_setup_verbs()
        reply = r.cmd("EPSV")
        assert reply.code == 229, reply.lines
        port = int(reply.last.split("|")[3])
        d = net.connect(route.host, port, source=route.client_addr)
        r.send("LIST pub\r\n")
        listing = recv_all(d).decode(errors="replace")
        d.close()
        assert r.reply().code in (125, 150)
        assert r.reply().code == 226
        assert "big.bin" in listing
