"""Sessions the integration tests open by hand through a Route: a raw
control connection (exact bytes out, exact replies in), a RETR of the big
file over a passive port, and the clean session every abuse and hardening
test ends with (the proxy still serves others)."""
from . import net
from .clients import ftplib_connect
from .digest import sha256, sha256_retr
from .ftpraw import Raw, recv_all


def session(route, login=True):
    r = Raw(route.host, route.port, route.client_addr)
    r.banner()
    if login:
        r.login(route.server.user, route.server.password)
    return r


def clean_session(route, big):
    """A well-behaved client: login, EPSV, RETR 32 MiB with the right sha256."""
    f = ftplib_connect(route, "EPSV")
    try:
        assert sha256_retr(f, "pub/big.bin") == big.sha, "clean session after abuse: sha256 differs"
        f.quit()
    finally:
        f.close()


def retr_big_through(r, route, host, port, big):
    """RETR of the big file over the passive port host:port of session r:
    the replies in order and the sha256 of what arrived."""
    d = net.connect(host, port, source=route.client_addr)
    r.send("RETR pub/big.bin\r\n")
    assert r.reply().code in (125, 150)
    data = recv_all(d)
    d.close()
    assert r.reply().code == 226
    assert sha256(data) == big.sha
