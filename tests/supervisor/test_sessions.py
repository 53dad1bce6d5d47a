"""ftpproxyctl sessions / kill: a download under way shows with its client,
server, user (never the password), state and bytes, which grow while the
client reads; kill ends it with a 421 and it leaves the list."""
import ftplib
import json
import socket

import pytest

from conftest import HUGE_SIZE, instance
from ftpx.wait import wait_until
from harness import CLIENT, PASSWORD, SERVER, USER, login

MIB = 1 << 20


def sessions_json(daemon, *names):
    result = daemon.ctl("sessions", *names, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def only_session(daemon):
    answer = sessions_json(daemon, "ftp01")
    (item,) = answer["instances"]
    assert item["name"] == "ftp01" and item["silent_workers"] == []
    (session,) = item["sessions"]
    return session


def read_until(conn, total, wanted):
    while total < wanted:
        chunk = conn.recv(min(256 * 1024, wanted - total))
        assert chunk, "the download ended early"
        total += len(chunk)
    return total


def test_a_download_shows_and_kill_ends_it_with_421(make_daemon, backend):
    # A file larger than every buffer between the server and the client
    # can hold: the transfer is still under way at both snapshots.
    daemon = make_daemon([instance("ftp01", backend)])
    ftp = login(daemon.port("ftp01"))
    conn = ftp.transfercmd("RETR pub/huge.bin")
    try:
        got = read_until(conn, 0, MIB)
        first = only_session(daemon)
        worker = daemon.instance_status("ftp01")["pid"]
        assert first["id"].startswith(f"{worker}.")
        assert first["client"].startswith(f"{CLIENT}:")
        assert first["server"] == f"{SERVER}:{backend.port}"
        assert first["user"] == USER
        assert first["state"] == "transfer"
        assert first["draining"] is False
        assert first["transfer"]["command"] == "RETR pub/huge.bin"
        assert first["transfer"]["bytes"] >= got
        # Bytes grow: the proxy relayed at least what the client has read.
        got = read_until(conn, got, min(first["transfer"]["bytes"] + MIB, HUGE_SIZE))
        second = only_session(daemon)
        assert second["transfer"]["bytes"] >= got > first["transfer"]["bytes"]

        shown = daemon.ctl("sessions")
        assert shown.returncode == 0, shown.stderr
        assert "ftp01: 1 session" in shown.stdout
        assert f" {USER} " in shown.stdout and "RETR pub/huge.bin" in shown.stdout
        assert PASSWORD not in shown.stdout + json.dumps(second)

        killed = daemon.ctl("kill", "ftp01", first["id"])
        assert killed.returncode == 0, killed.stderr
        assert killed.stdout.strip() == f"ftp01: session {first['id']} closed (421)"
        with pytest.raises(ftplib.error_temp, match="^421 Session closed by the administrator"):
            ftp.getresp()
    finally:
        conn.close()
        ftp.close()
    assert sessions_json(daemon, "ftp01")["instances"][0]["sessions"] == []
    assert "closed by the administrator" in daemon.log()


def file_sent(backend, name):
    events = (backend.root.parent / "events.jsonl").read_text().splitlines()
    return any(json.loads(e) == {"ev": "file-sent", "path": name} for e in events)


def test_the_tail_of_a_download_the_server_has_finished_still_shows(make_daemon, backend):
    """A server done sending (its 226 sent) can be a megabyte ahead of the
    client, in the sockets' buffers. The proxy holds the 226 until those
    bytes reach the client, and until then the session is in transfer
    (it showed as no transfer while the tail was delivered)."""
    daemon = make_daemon([instance("ftp01", backend)])
    ftp = login(daemon.port("ftp01"))
    ftp.voidcmd("TYPE I")
    # A client with a small, fixed receive buffer: the proxy's relay stays
    # behind the server, which sends the rest of the file into the buffers
    # on its side and answers 226.
    host, port = ftp.makepasv()
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    conn.settimeout(20)
    conn.connect((host, port))
    try:
        assert ftp.sendcmd("RETR pub/tail.bin")[:3] in ("125", "150")
        got = read_until(conn, 0, 64 * 1024)
        wait_until(lambda: file_sent(backend, "tail.bin"), 20, "pyftpdlib to send the whole file")
        session = only_session(daemon)
        assert session["state"] == "transfer", session
        assert session["transfer"]["command"] == "RETR pub/tail.bin"
        assert got < session["transfer"]["bytes"] <= len(backend.tail)
        chunks = [backend.tail[:0]]
        while chunk := conn.recv(256 * 1024):
            chunks.append(chunk)
        conn.close()
        assert got + sum(map(len, chunks)) == len(backend.tail)
        assert ftp.voidresp().startswith("226")
        assert only_session(daemon)["state"] == "ready"
    finally:
        conn.close()
        ftp.close()


def test_kill_refusals_name_what_is_wrong(make_daemon, backend):
    daemon = make_daemon([instance("ftp01", backend)])
    worker = daemon.instance_status("ftp01")["pid"]
    for args, error in (
            (("nosuch", "1"), "no instance named 'nosuch'"),
            (("ftp01", "99"), "ftp01: no session 99"),
            (("ftp01", f"{worker}.x"), "ftp01: no session x"),
            (("ftp01", "1.1"), "ftp01 has no worker for session 1.1 (see sessions)")):
        result = daemon.ctl("kill", *args)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.strip() == f"ftpproxyctl: {error}", args
    usage = daemon.ctl("kill", "ftp01")
    assert usage.returncode == 2
    assert "kill takes an instance name and a session" in usage.stderr
