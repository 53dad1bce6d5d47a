"""No connection is lost while workers change hands (issue 9, finding 4).

Clients connect in a loop while the instance is restarted or reloaded over
and over; every connection must get the server's 220. A connection a worker
has taken off the listening socket is its to serve, drain or not: only the
listener stops. Nothing here is timed: the clients count outcomes, every
loop is bounded in count and in time.
"""
import os
import signal
import socket
import struct
import threading
import time
from collections import Counter

from ftpx.wait import wait_until
from harness import CLIENT, LISTEN, pid_alive, stop_process

BANNER = "220"


def first_reply(port, timeout=20):
    """Connects, reads the first reply line, closes with a reset (so that
    tens of thousands of connections leave no TIME_WAIT behind). Returns the
    outcome: "220", another reply's first line, or what went wrong."""
    try:
        s = socket.create_connection((LISTEN, port), timeout=timeout, source_address=(CLIENT, 0))
    except OSError as e:
        return f"connect: {e.strerror or e}"
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        data = b""
        while b"\n" not in data and len(data) < 1024:
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return f"no reply within {timeout} s"
    except OSError as e:
        return f"closed without a banner ({e.strerror or e})"
    finally:
        s.close()
    if not data:
        return "closed without a banner"
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return BANNER if line.startswith(BANNER + " ") or line.startswith(BANNER + "-") else line


class ConnectingClients:
    """`count` threads, each connecting to `port` in a loop until stop(), at
    most `max_each` connections and `max_seconds` each; outcomes tallied."""

    def __init__(self, port, count=8, max_each=20000, max_seconds=120):
        self.port, self.max_each, self.max_seconds = port, max_each, max_seconds
        self.outcomes = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def _run(self):
        deadline = time.monotonic() + self.max_seconds
        for _ in range(self.max_each):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            outcome = first_reply(self.port)
            with self._lock:
                self.outcomes[outcome] += 1

    def start(self):
        for t in self.threads:
            t.start()
        # Every client is in its loop before the test changes anything.
        wait_until(lambda: sum(self.outcomes.values()) >= 4 * len(self.threads), 30,
                   "the clients' first connections")
        return self

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads), "a client did not finish"
        return self.outcomes


def assert_every_connection_served(outcomes):
    total = sum(outcomes.values())
    failed = {k: v for k, v in outcomes.items() if k != BANNER}
    assert not failed, f"{sum(failed.values())} of {total} connections not served: {failed}"
    assert total > 0


def change_while_clients_connect(daemon, change, times):
    """change(i) for i in range(times) while clients connect to ftp01; then
    every connection must have had its 220, and every old worker ends (none
    has a session left to wait for)."""
    clients = ConnectingClients(daemon.port("ftp01")).start()
    try:
        for i in range(times):
            change(i)
    finally:
        outcomes = clients.stop()
    assert_every_connection_served(outcomes)
    wait_until(lambda: not daemon.status()["old_workers"], 30, "the old workers to exit")


def test_no_connection_is_lost_while_restarts_follow_each_other(make_daemon):
    daemon = make_daemon(1)

    def restart(_):
        result = daemon.ctl("restart", "ftp01")
        assert result.returncode == 0, result
    change_while_clients_connect(daemon, restart, 70)


def test_no_connection_is_lost_while_reloads_change_the_instance(make_daemon):
    daemon = make_daemon(1)

    def reload(i):
        daemon.instance("ftp01")["idle_timeout"] = "1h" if i % 2 == 0 else "2h"
        daemon.write_config()
        result = daemon.ctl("reload")
        assert result.returncode == 0, result
        assert "  changed:   ftp01 (new workers" in result.stdout, result.stdout
    change_while_clients_connect(daemon, reload, 30)


def first_lines_after_waking(daemon, command):
    """Freezes ftp01's worker, connects two clients, runs `ftpproxyctl
    COMMAND ftp01`, lets the worker go on: it wakes to both connections and
    the request at once, takes the first connection, and the second is
    already accepted when it reads the request. Returns each client's first
    reply line; the instance must end STOPPED, its worker gone."""
    port = daemon.port("ftp01")
    pid = daemon.instance_status("ftp01")["pid"]
    try:
        stop_process(pid)
        early = [socket.create_connection((LISTEN, port), timeout=10, source_address=(CLIENT, 0))
                 for _ in range(2)]
        result = daemon.ctl(command, "ftp01")
        assert result.returncode == 0, result
    finally:
        os.kill(pid, signal.SIGCONT)
    lines = []
    for s in early:
        s.settimeout(20)
        try:
            lines.append(s.makefile("rb").readline().decode(errors="replace"))
        except OSError as e:
            lines.append(repr(e))
        finally:
            s.close()
    daemon.wait_states({"ftp01": "STOPPED"})
    assert not pid_alive(pid)
    return lines


def test_connections_a_draining_worker_took_are_served(make_daemon):
    """Deterministic form of the race: both connections get their 220, the
    worker exits after them."""
    lines = first_lines_after_waking(make_daemon(1), "drain")
    assert [line[:4] for line in lines] == ["220 ", "220 "], lines

