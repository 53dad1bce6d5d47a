"""Assertions on what a server saw."""
from .clients import PASSIVE


def expected_server_verbs(route, mode, passive_to_server=False):
    """What the server must receive (docs/ftp-proxy.md, "Data connections")."""
    if not route.via_proxy:
        return {mode}
    if mode in PASSIVE or passive_to_server:
        return {"PASV"} if route.server_family == "v4" else {"EPSV"}
    return {"PORT"} if route.server_family == "v4" else {"EPRT"}


def assert_server_saw(route, seen, verbs):
    """The server saw only route.seen_addr (the proxy's -a address when
    proxied), on control and -- where it can tell -- data connections."""
    want = route.seen_addr
    assert seen.control_peers, "the server saw no control connection"
    assert set(seen.control_peers) == {want}, \
        f"server saw control connections from {sorted(set(seen.control_peers))}, want {want}"
    assert set(seen.command_peers()) == {want}
    if seen.data_visible:
        assert seen.data_peers, "the server saw no data connection"
        assert set(seen.data_peers) == {want}, \
            f"server saw data connections with {sorted(set(seen.data_peers))}, want {want}"
    got = set(seen.data_setup_verbs())
    assert got == verbs, f"server received data commands {sorted(got)}, want {sorted(verbs)}"
