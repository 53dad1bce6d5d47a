"""Backend health: ftpproxyd checks each backend of an instance (connect,
220, optionally a login) and sends new sessions to the first one that is up;
sessions already running stay with theirs. Real pyftpdlib backends, each
serving a file that names it, so a download proves where a session went."""
import ftplib

from ftpx.net import free_port
from harness import LISTEN, SERVER, Backend, download, login, wait_backends

# Fast checks, so that the test waits for seconds, not minutes.
FAST = {"interval": "200ms", "timeout": "2s", "rise": 1, "fall": 1}


def make_backend(workdir, name):
    root = workdir / name / "ftproot"
    (root / "pub").mkdir(parents=True, exist_ok=True)
    (root / "pub/who.txt").write_text(name + "\n")
    return Backend(root, workdir / name / "pyftpdlib.log").start()


def who(port, **kw):
    return download(port, "pub/who.txt", **kw).decode().strip()


def who_in(ftp):
    """The same question in a session that is already open."""
    chunks = []
    ftp.retrbinary("RETR pub/who.txt", chunks.append)
    return b"".join(chunks).decode().strip()


def test_new_sessions_follow_the_first_healthy_backend(make_daemon, workdir):
    first = make_backend(workdir, "backend-1")
    second = make_backend(workdir, "backend-2")
    kept = []
    try:
        a, b = f"{SERVER}:{first.port}", f"{SERVER}:{second.port}"
        daemon = make_daemon([{"name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                               "backend": [a, b], "health_check": FAST}])
        port = daemon.port("ftp01")
        item = wait_backends(daemon, "ftp01", a, ["up", "up"])
        assert item["backends"][0]["detail"].startswith("220 after ")
        assert who(port) == "backend-1"
        on_first = login(port)
        kept.append(on_first)

        first.stop()
        item = wait_backends(daemon, "ftp01", b, ["down", "up"])
        assert item["backends"][0]["reason"] == f"connect {a}: Connection refused"
        assert who(port) == "backend-2"
        on_second = login(port)
        kept.append(on_second)
        text = daemon.ctl("status").stdout
        assert text.splitlines()[1].split()[6] == b, text  # the BACKEND column
        assert f"ftp01: backend {a} down for " in text, text

        first.start()  # same port: backend 1 is back, and first in the order
        wait_backends(daemon, "ftp01", a, ["up", "up"])
        assert who(port) == "backend-1"
        # The session opened while backend 2 was chosen stays there.
        assert who_in(on_second) == "backend-2"
        assert "new sessions go to backend " + b in daemon.log()
    finally:
        for ftp in kept:
            try:
                ftp.close()
            except OSError:
                pass
        first.stop()
        second.stop()


def test_a_failing_login_check_marks_the_backend_down(make_daemon, workdir):
    server = make_backend(workdir, "backend-login")
    try:
        address = f"{SERVER}:{server.port}"
        bad = dict(FAST, user="test", password="wrong")
        good = dict(FAST, user="test", password="secret")
        daemon = make_daemon([
            {"name": "bad", "listen": f"{LISTEN}:{free_port(LISTEN)}", "backend": address,
             "health_check": bad},
            {"name": "good", "listen": f"{LISTEN}:{free_port(LISTEN)}", "backend": address,
             "health_check": good}])
        item = wait_backends(daemon, "bad", address, ["down"])
        assert item["backends"][0]["reason"].startswith("login: 530 "), item
        item = wait_backends(daemon, "good", address, ["up"])
        assert item["backends"][0]["detail"].startswith("230 after ")
        # A down backend with no other to go to: new sessions still try it
        # (and here, where only the check's password is wrong, succeed).
        assert who(daemon.port("bad")) == "backend-login"
    finally:
        server.stop()


def test_without_checks_the_first_backend_is_used_and_shown_unchecked(make_daemon, workdir):
    server = make_backend(workdir, "backend-unchecked")
    try:
        address = f"{SERVER}:{server.port}"
        daemon = make_daemon([{"name": "ftp01", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                               "backend": [address, f"{SERVER}:{free_port(SERVER)}"],
                               "health_check": "off"}])
        item = daemon.instance_status("ftp01")
        assert item["backend"] == address
        assert [b["health"] for b in item["backends"]] == ["unchecked", "unchecked"]
        assert who(daemon.port("ftp01")) == "backend-unchecked"
        assert " unchecked" not in daemon.ctl("status").stdout
    finally:
        server.stop()
