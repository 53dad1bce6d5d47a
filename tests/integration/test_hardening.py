"""Hardening (issue 9): one bad peer must never cost the other sessions of a
worker anything. Each test plays a hostile client or a broken server, checks
the exact outcome, and ends with a clean session through the same proxy.

Every loop is bounded in count and time; nothing asserts on speed."""
import os
import re
import select
import signal
import socket
import struct

import pytest

from ftpx import net
from ftpx.ftpraw import Raw, open_passive, read_until_end
from ftpx.servers import Pyftpd
from ftpx.sessions import clean_session, retr_big_through, session
from ftpx.wait import wait_until


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def flood_without_reading(sock, line, cap_bytes, stall_rounds=4, stall_s=0.5):
    """Writes `line` over and over without reading a byte, until the peer
    stops taking bytes (stall_rounds waits of stall_s in a row) or cap_bytes
    went out. Returns the bytes sent."""
    chunk = line * max(1, 65536 // len(line))
    sock.setblocking(False)
    sent, stalled = 0, 0
    while sent < cap_bytes and stalled < stall_rounds:
        _, writable, _ = select.select([], [sock], [], stall_s)
        if not writable:
            stalled += 1
            continue
        try:
            n = sock.send(chunk)
        except BlockingIOError:
            n = 0
        if n:
            sent += n
            stalled = 0
    sock.setblocking(True)
    return sent


# ------------------------------------------------ 1. a client that never reads

FLOOD_CAP = 128 * 1024 * 1024


@pytest.mark.proxy_only
@pytest.mark.parametrize("line", ["NOOP", "AUTH TLS"])
def test_client_that_never_reads_is_not_read_either(line, make_route, big):
    """Forwarded (NOOP) or refused by the proxy itself (AUTH TLS): once the
    replies due fill their bounds the proxy stops reading that client, its
    memory stays near the idle baseline, and other sessions are served."""
    # Under ASan freed memory sits in a quarantine (256 MB) and counts in
    # RSS; a small one keeps RSS about live memory (ignored by other builds).
    route = make_route("pyftpdlib", "v4", prefix=("env", "ASAN_OPTIONS=quarantine_size_mb=1"))
    pid = route.proxy.proc.p.pid
    clean_session(route, big)                     # warm: buffers, allocator
    baseline = rss_kib(pid)
    r = session(route)
    try:
        sent = flood_without_reading(r.sock, f"{line}\r\n".encode(), FLOOD_CAP)
        grown = rss_kib(pid) - baseline
        print(f"flood of {line}: {sent} bytes taken, RSS {baseline} KiB + {grown} KiB")
        # What the kernel buffers on both sides of the two connections is
        # all a flood may get in; the proxy itself holds at most 64 KiB.
        assert sent < 48 * 1024 * 1024, f"the proxy kept reading: {sent} bytes taken"
        assert grown < 16 * 1024, f"worker RSS grew by {grown} KiB during the flood"
        clean_session(route, big)                 # meanwhile, others are served
    finally:
        r.close()
    wait_until(lambda: rss_kib(pid) - baseline < 8 * 1024, 10,
               "the worker's memory to return to its idle baseline")


@pytest.mark.proxy_only
def test_a_pipelining_client_that_reads_is_served_past_the_bound(make_route):
    """200 NOOPs in one write, well past the 64 replies the proxy lets be
    due: as the client reads, the proxy reads on, and every NOOP is
    answered in order. (Replies the server loop relayed did not wake the
    client loop waiting for room: such a client stalled at 64 until -t.)"""
    route = make_route("pyftpdlib", "v4")
    with session(route) as r:
        r.send("NOOP\r\n" * 200)
        codes = [r.reply(timeout=10).code for _ in range(200)]
        assert codes == [200] * 200
        assert r.cmd("NOOP").code == 200


# ------------------------------------------------ 2. -t counts data connections

@pytest.mark.proxy_only
def test_idle_timeout_fires_with_a_silent_upload_open(make_route, big):
    """PASV, connect, STOR, then nothing: the session is idle (no byte moves
    on any connection), so -t ends it; the server's data connection is reset,
    not ended as if the upload were complete."""
    route = make_route("pyftpdlib", "v4", extra=["-t", "2"])
    with session(route) as r:
        r.cmd("TYPE I")
        _, host, port = open_passive(r, "v4", route.host)
        d = net.connect(host, port, source=route.client_addr)
        try:
            r.send("STOR pub/silent-upload.bin\r\n")
            assert r.reply().code in (125, 150)
            got = r.reply(timeout=15)
            assert got.lines == ["421 Idle timeout (2 seconds), closing control connection."]
            assert r.wait_closed(5)
        finally:
            d.close()
    assert re.search(r"data aborted by the session: STOR pub/silent-upload\.bin",
                     route.proxy.stderr_text())
    clean_session(route, big)


@pytest.mark.proxy_only
def test_session_with_a_stalled_retr_is_reaped(make_route, big):
    """The server answers RETR with 150 and never sends; the client gives up
    and closes both sockets. With -m 1 the slot must come back after -t."""
    route = make_route("pyftpdlib-misbehaving", "v4", extra=["-t", "2", "-m", "1"])
    r = session(route)
    r.cmd("TYPE I")
    mark = route.server.mark()
    _, host, port = open_passive(r, "v4", route.host)
    d = net.connect(host, port, source=route.client_addr)
    # the proxy's data connection to the server exists before the RETR, so
    # the server can hold it open and silent
    wait_until(lambda: route.server.seen_since(mark).data_peers, 10,
               "the server to accept the proxy's data connection")
    r.send("RETR pub/stall-after-150\r\n")
    assert r.reply().code == 150
    d.close()
    r.close()

    def slot_back():
        with Raw(route.host, route.port, route.client_addr) as c:
            got = c.reply()
            if got.code == 220:
                c.login(route.server.user, route.server.password)
                assert c.cmd("NOOP").code == 200
                return True
            assert got.lines == ["421 Too many sessions (limit 1), try again later."]
            return False

    wait_until(slot_back, 20, "the stalled session to be reaped", interval=0.2)
    assert "idle for 2 s, closing" in route.proxy.stderr_text()


@pytest.mark.proxy_only
@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_server_that_never_greets(fam, make_route):
    """A backend that accepts connections (the kernel's backlog) and never
    sends its 220: --server-timeout bounds the wait, the client gets a 421."""
    addr = net.ADDR[fam]["server"]
    mute = socket.socket(socket.AF_INET if fam == "v4" else socket.AF_INET6)
    mute.bind((addr, 0))
    mute.listen(16)                                 # never accepted, never greets
    try:
        port = mute.getsockname()[1]
        route = make_route("pyftpdlib", fam, backend=(addr, port),
                           extra=["--server-timeout", "2"])
        for _ in range(2):
            with Raw(route.host, route.port, route.client_addr) as r:
                got = r.reply(timeout=15)
                assert got.lines == [
                    f"421 Service not available: FTP server {net.hostport(addr, port)} "
                    "sent no greeting within 2 seconds."]
                assert r.wait_closed(5)
        assert route.proxy.alive()
    finally:
        mute.close()


# ------------------------------------------------ 3. resets stay resets

def reset_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


UPLOAD_PART = 8 * 1024 * 1024


@pytest.mark.parametrize("fam", ["v4", "v6"])
def test_client_reset_during_upload_fails_the_upload(fam, make_route, big):
    """A client that resets its data connection mid-STOR: the server must
    learn it as a reset and fail the upload (vsftpd: 426, FAIL UPLOAD),
    exactly as without the proxy, never store a truncated file with 226.
    (pyftpdlib answers 226 to a reset even without a proxy: it cannot tell.)"""
    route = make_route("vsftpd", fam)
    name = f"reset-upload-{os.getpid()}.bin"
    with session(route) as r:
        r.cmd("TYPE I")
        _, host, port = open_passive(r, fam, route.host)
        d = net.connect(host, port, source=route.client_addr)
        r.send(f"STOR pub/{name}\r\n")
        assert r.reply().code in (125, 150)
        d.sendall(os.urandom(UPLOAD_PART))
        reset_close(d)
        got = r.reply(timeout=30)
        assert got.code == 426, f"the server took the cut upload as {got.lines}"
        assert r.cmd("NOOP").code == 200
    if route.via_proxy:
        assert re.search(rf"data reset by client: STOR pub/{re.escape(name)}",
                         route.proxy.stderr_text())
    clean_session(route, big)


@pytest.mark.proxy_only
def test_server_killed_mid_download_is_no_complete_file(make_route, workdir, big):
    """The server dies mid-RETR: its kernel ends the data connection with a
    plain FIN. The client must see a reset there (no clean end of file), and
    the proxy must not log the transfer as completed."""
    victim = Pyftpd("v4", workdir, big.path, name="pyftpdlib-victim-v4").start()
    try:
        route = make_route("pyftpdlib", "v4", backend=(victim.addr, victim.port))
        r = session(route)
        r.cmd("TYPE I")
        _, host, port = open_passive(r, "v4", route.host)
        d = net.connect(host, port, source=route.client_addr)
        r.send("RETR pub/big.bin\r\n")
        assert r.reply().code in (125, 150)
        got = d.recv(1 << 20)
        assert got, "no data before the kill"
        victim.proc.p.send_signal(signal.SIGKILL)
        victim.proc.p.wait(10)
        received, ending = read_until_end(d, len(got))
        d.close()
        assert ending == "reset", f"{received} of {big.size} bytes, then a {ending}"
        assert received < big.size
        # no 226 on the control connection: a 421 or the end
        rest = b""
        r.sock.settimeout(10)
        try:
            while chunk := r.sock.recv(4096):
                rest += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        r.close()
        assert b"226" not in rest, rest
        log = route.proxy.stderr_text()
        assert "data completed: RETR pub/big.bin" not in log
        assert "data aborted by the session: RETR pub/big.bin" in log
    finally:
        victim.stop()
    clean_session(make_route("pyftpdlib", "v4", name="proxy-after-kill"), big)


# ------------------------------------------------ 6. unsolicited passive replies

@pytest.mark.proxy_only
@pytest.mark.parametrize("help_arg,code", [("", 227), (" EPSV", 229)])
def test_unsolicited_passive_reply_is_withheld(help_arg, code, make_route, big):
    """A server answers HELP with a 227/229 naming its own address: that
    reply answers no PASV/EPSV of ours and never reaches the client as is."""
    route = make_route("pyftpdlib-misbehaving", "v4")
    with session(route) as r:
        got = r.cmd("HELP" + help_arg)
        assert got.lines == [
            f"{code} Passive reply withheld by the proxy (no PASV/EPSV was sent)."]
        assert "10,1,2,3,4,5" not in got.text and "4242" not in got.text
        # the session goes on, and a real PASV still works
        r.cmd("TYPE I")
        _, host, port = open_passive(r, "v4", route.host)
        assert host == route.host
        retr_big_through(r, route, host, port, big)
    assert "answers no PASV/EPSV of ours: withheld" in route.proxy.stderr_text()


# ------------------------------------------------ 5. refusals cannot flood the log

@pytest.mark.proxy_only
def test_repeated_refusals_are_logged_within_a_budget(make_route, big):
    route = make_route("pyftpdlib", "v4")
    n = 2000
    with session(route) as r:
        r.send("AUTH TLS\r\n" * n)
        for _ in range(n):
            assert r.reply().lines == [
                "502 AUTH is not supported by this proxy (FTPS is not carried yet)."]
        assert r.cmd("NOOP").code == 200
        r.cmd("QUIT")
    wait_until(lambda: "session ended" in route.proxy.stderr_text(), 10,
               "the session's end in the log")
    log = route.proxy.stderr_text()
    logged = log.count("AUTH refused: FTPS is not carried")
    assert 1 <= logged <= 20, f"{logged} lines for {n} refusals"
    # every refusal is either a line or counted in one: "(N similar lines not
    # logged before this one)" or, at the end, "(N lines about refused input
    # not logged)"
    left_out = sum(int(k) for k in re.findall(r"\((\d+) similar lines? not logged", log))
    m = re.search(r"session ended: .*\((\d+) lines? about refused input not logged\)", log)
    assert m, "the session's end does not count the lines left out"
    assert logged + left_out + int(m.group(1)) == n
    clean_session(route, big)
