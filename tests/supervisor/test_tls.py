"""FTPS configured in ftpproxy.yaml (`tls:`): the worker ftpproxyd starts
serves explicit FTPS with the configured certificate, a certificate renewed
in place under the same file name is picked up by `ftpproxyctl reload` (new
sessions see the new certificate, a session opened before goes on with the
old worker), and a key that does not match is refused before anything
changes. Health checks of a TLS backend speak TLS as the worker does."""
import ftplib
import hashlib
import os
import re
import ssl

from ftpx.digest import sha256
from ftpx.net import free_port
from ftpx.servers import VsftpdTls, cert_fingerprint, make_server_cert
from ftpx.wait import wait_until
from harness import CLIENT, LISTEN, PASSWORD, SERVER, USER, download, wait_backends


def ftps_login(port, cafile, timeout=20):
    """ftplib FTP_TLS through the proxy: AUTH TLS (the proxy's certificate
    verified against `cafile`, IP SAN 127.0.0.2), login, PROT P."""
    ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=str(cafile)),
                         timeout=timeout)
    ftp.connect(LISTEN, port, source_address=(CLIENT, 0))
    ftp.login(USER, PASSWORD)
    assert isinstance(ftp.sock, ssl.SSLSocket)
    ftp.prot_p()
    return ftp


def peer_fingerprint(ftp):
    return hashlib.sha256(ftp.sock.getpeercert(binary_form=True)).hexdigest()


def retr(ftp, path):
    chunks = []
    ftp.retrbinary("RETR " + path, chunks.append)
    return b"".join(chunks)


def renew(directory, cert, key):
    """A new certificate and key, moved over the old files (rename, as a
    renewal tool does it): same names, new contents."""
    staging = directory / "renewed"
    staging.mkdir(exist_ok=True)
    new_cert, new_key = make_server_cert(staging, "proxy", f"IP:{LISTEN}")
    os.replace(new_key, key)
    os.replace(new_cert, cert)


def tls_daemon(make_daemon, backend):
    daemon = make_daemon([{"name": "ftps", "listen": f"{LISTEN}:{free_port(LISTEN)}",
                           "backend": f"{SERVER}:{backend.port}"}], start=False)
    cert, key = make_server_cert(daemon.dir, "proxy", f"IP:{LISTEN}")
    daemon.instance("ftps")["tls"] = {"certificate": str(cert), "key": str(key),
                                      "client": "required"}
    daemon.start()
    return daemon, cert, key


def test_a_renewed_certificate_reaches_new_sessions_while_old_ones_go_on(make_daemon, backend):
    daemon, cert, key = tls_daemon(make_daemon, backend)
    port = daemon.port("ftps")
    old_fingerprint = cert_fingerprint(cert)

    # client: required: no login in clear text.
    plain = ftplib.FTP(timeout=20)
    plain.connect(LISTEN, port, source_address=(CLIENT, 0))
    try:
        plain.login(USER, PASSWORD)
        raise AssertionError("a clear-text login was accepted with client: required")
    except ftplib.error_perm as e:
        assert str(e).startswith("530"), e
    finally:
        plain.close()

    before = ftps_login(port, cert)
    assert peer_fingerprint(before) == old_fingerprint
    assert sha256(retr(before, "pub/big.bin")) == sha256(backend.big)
    old_pid = daemon.instance_status("ftps")["pid"]

    renew(daemon.dir, cert, key)
    assert cert_fingerprint(cert) != old_fingerprint
    result = daemon.ctl("reload")
    assert result.returncode == 0, result
    assert "  changed:   ftps (new workers" in result.stdout, result.stdout
    status = daemon.wait_states({"ftps": "RUNNING"})
    assert next(i for i in status["instances"] if i["name"] == "ftps")["pid"] != old_pid
    assert [(w["name"], w["pid"], w["sessions"]) for w in status["old_workers"]] == [
        ("ftps", old_pid, 1)]

    after = ftps_login(port, cert)
    assert peer_fingerprint(after) == cert_fingerprint(cert)
    assert sha256(retr(after, "pub/small.txt")) == sha256(b"hello through ftpproxyd\n")
    after.quit()

    # The session from before the reload: still there, on the old worker
    # and its old certificate, data connections included.
    before.voidcmd("NOOP")
    assert peer_fingerprint(before) == old_fingerprint
    assert retr(before, "pub/small.txt") == b"hello through ftpproxyd\n"
    before.quit()
    wait_until(lambda: not daemon.status()["old_workers"], 15, f"worker {old_pid} to exit")


def test_a_key_that_does_not_match_is_refused_and_nothing_changes(make_daemon, backend):
    daemon, cert, key = tls_daemon(make_daemon, backend)
    pid = daemon.instance_status("ftps")["pid"]
    other = daemon.dir / "other"
    other.mkdir()
    _, other_key = make_server_cert(other, "other", f"IP:{LISTEN}")
    key.write_bytes(other_key.read_bytes())
    text = daemon.config_path.read_text()
    line = next(n for n, l in enumerate(text.splitlines(), 1) if "tls:" in l)
    column = text.splitlines()[line - 1].index(f'"{key}"') + 1  # at the quote

    result = daemon.ctl("reload")
    assert result.returncode == 1, result
    assert (f"{daemon.config_path}:{line}:{column}: 'tls.key': {key} does not match the "
            f"certificate in 'tls.certificate' {cert}") in result.stdout, result.stdout
    assert daemon.instance_status("ftps")["pid"] == pid
    with ftps_login(daemon.port("ftps"), cert) as ftp:
        assert peer_fingerprint(ftp) == cert_fingerprint(cert)


def test_health_checks_log_in_inside_tls_to_a_tls_backend(make_daemon, workdir, backend):
    """'tls.server: required' and a login check, toward vsftpd, which refuses
    a clear-text login: the check logs in inside TLS, the certificate checked
    as the worker checks it, and new sessions go there. The same check with a
    name the certificate does not carry, or without TLS, marks the backend
    down with the reason (no password goes out in clear text to it then)."""
    server = VsftpdTls("v4", workdir / "health-tls", backend.root / "pub/big.bin", addr=SERVER)
    server.start()
    try:
        address = f"{SERVER}:{server.port}"
        check = {"interval": "200ms", "timeout": "2s", "rise": 1, "fall": 1,
                 "user": server.user, "password": server.password}
        tls = {"server": "required", "server_ca": str(server.tls_cert)}

        def instance(name, **extra):
            return {"name": name, "listen": f"{LISTEN}:{free_port(LISTEN)}", "backend": address,
                    "health_check": check, **extra}

        daemon = make_daemon([instance("checked", tls=tls),
                              instance("misnamed", tls=dict(tls, server_name="other.test")),
                              instance("clear")])
        item = wait_backends(daemon, "checked", address, ["up"])
        detail = item["backends"][0]["detail"]
        assert re.fullmatch(r"230 over TLSv1\.3 TLS_\S+ after \d+ ms", detail), detail
        item = wait_backends(daemon, "misnamed", address, ["down"])
        assert item["backends"][0]["reason"] == \
            "TLS handshake: certificate verify failed: hostname mismatch", item
        item = wait_backends(daemon, "clear", address, ["down"])
        assert item["backends"][0]["reason"] == \
            "login: 530 Anonymous sessions must use encryption.", item
        # A clear-text client through the checked instance: TLS toward vsftpd.
        data = download(daemon.port("checked"), user=server.user, password=server.password)
        assert sha256(data) == sha256(backend.big)
    finally:
        server.stop()
