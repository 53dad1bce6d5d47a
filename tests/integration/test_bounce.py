"""PORT and EPRT (no FTP bounce): the proxy opens an active data connection
only to the client's own address and to a port from 1024 up, and refuses a
malformed argument, with the exact replies of docs/ftp-proxy.md. Nothing
reaches the server, and the proxy keeps serving others: each test ends with
a clean session while the refused one is still open."""
import pytest

from ftpx.sessions import clean_session, session

pytestmark = pytest.mark.proxy_only

OWN = "500 Illegal PORT command: the data address must be your own."
LOW = "500 Illegal PORT command: ports below 1024 are refused."
BAD_PORT = "501 Malformed PORT argument."
BAD_EPRT = "501 Malformed EPRT argument."
PROTO = "522 Network protocol not supported, use (1,2)"

PORT_CASES = [
    # (id, client family, command, exact reply)
    ("PORT-other-addr", "v4", "PORT 127,0,0,9,195,80", OWN),
    ("PORT-server-addr", "v4", "PORT 127,0,0,4,195,80", OWN),
    ("EPRT-other-addr-v4", "v4", "EPRT |1|127.0.0.9|50000|", OWN),
    ("EPRT-v6-addr-from-v4-client", "v4", "EPRT |2|fd18::1|50000|", OWN),
    ("EPRT-other-addr-v6", "v6", "EPRT |2|fd18::9|50000|", OWN),
    ("EPRT-server-addr-v6", "v6", "EPRT |2|fd18::4|50000|", OWN),
    ("PORT-low-port", "v4", "PORT 127,0,0,1,0,80", LOW),
    ("PORT-port-1023", "v4", "PORT 127,0,0,1,3,255", LOW),
    ("EPRT-low-port-v4", "v4", "EPRT |1|127.0.0.1|21|", LOW),
    ("EPRT-low-port-v6", "v6", "EPRT |2|fd18::1|1023|", LOW),
    ("PORT-five-numbers", "v4", "PORT 127,0,0,1,200", BAD_PORT),
    ("PORT-byte-256", "v4", "PORT 127,0,0,1,256,1", BAD_PORT),
    ("PORT-letters", "v4", "PORT a,b,c,d,e,f", BAD_PORT),
    ("PORT-no-arg", "v4", "PORT", BAD_PORT),
    ("EPRT-missing-port", "v4", "EPRT |1|127.0.0.1|", BAD_EPRT),
    ("EPRT-bad-v4", "v4", "EPRT |1|999.0.0.1|50000|", BAD_EPRT),
    ("EPRT-v4-addr-proto-2", "v4", "EPRT |2|127.0.0.1|50000|", BAD_EPRT),
    ("EPRT-port-70000", "v4", "EPRT |1|127.0.0.1|70000|", BAD_EPRT),
    ("EPRT-no-delims", "v4", "EPRT 1,127.0.0.1,50000", BAD_EPRT),
    ("EPRT-proto-3", "v4", "EPRT |3|127.0.0.1|50000|", PROTO),
    ("EPRT-proto-3-v6", "v6", "EPRT |3|fd18::1|50000|", PROTO),
]


@pytest.mark.parametrize("cid,fam,cmd,want", [pytest.param(*c, id=c[0]) for c in PORT_CASES])
def test_port_eprt_refused(cid, fam, cmd, want, make_route, big):
    route = make_route("pyftpdlib", fam)
    mark = route.server.mark()
    with session(route) as r:
        got = r.cmd(cmd)
        assert got.lines == [want], f"{cmd!r}: got {got.lines}"
        seen = route.server.seen_since(mark)
        assert not seen.data_setup_verbs(), f"the server received {seen.data_setup_verbs()}"
        assert r.cmd("NOOP").code == 200
        clean_session(route, big)
        assert r.cmd("NOOP").code == 200
