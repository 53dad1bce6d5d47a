"""Port theft: a connection to the proxy's passive data port from another
address than the client's is closed without a byte of data, and the real
client still gets the whole file."""
import pytest

from ftpx import net
from ftpx.digest import sha256
from ftpx.ftpraw import open_passive, recv_all
from ftpx.sessions import clean_session, retr_big_through, session

pytestmark = pytest.mark.proxy_only


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_port_theft_closed(fam, make_route, big):
    """After PASV/EPSV, a connection to the proxy's data port from another
    address is closed without data; the real client still gets the file."""
    route = make_route("pyftpdlib", fam)
    with session(route) as r:
        r.cmd("TYPE I")
        _, host, port = open_passive(r, fam, route.host)
        assert host == route.host
        thief = net.connect(host, port, source=net.ADDR[fam]["thief"])
        try:
            stolen = recv_all(thief, timeout=5)
        except (ConnectionResetError, BrokenPipeError):
            stolen = b""
        thief.close()
        assert stolen == b"", "the thief received data"
        # still the client's turn: the listener waited for it
        retr_big_through(r, route, host, port, big)
        clean_session(route, big)


def test_port_theft_thief_first_then_retr(make_route, big):
    """The thief connects, then RETR is sent before the client connects:
    no byte of the file goes to the thief."""
    route = make_route("pyftpdlib", "v4")
    with session(route) as r:
        r.cmd("TYPE I")
        _, host, port = open_passive(r, "v4", route.host)
        thief = net.connect(host, port, source=net.ADDR["v4"]["thief"])
        r.send("RETR pub/big.bin\r\n")
        d = net.connect(host, port, source=route.client_addr)
        assert r.reply().code in (125, 150)
        data = recv_all(d)
        d.close()
        assert r.reply().code == 226
        try:
            stolen = recv_all(thief, timeout=5)
        except (ConnectionResetError, BrokenPipeError):
            stolen = b""
        thief.close()
        assert stolen == b""
        assert sha256(data) == big.sha
