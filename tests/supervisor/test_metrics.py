"""ftpproxyd's /metrics (global.metrics_listen): the page passes promtool,
its counters move by exactly what the test did (sessions, a refusal at the
session limit, logins ok and failed, a bounce, a PASV download with its
bytes, a worker killed and restarted without the counters going back), a
stopped worker does not hold a scrape up, a real Prometheus server scrapes
it, and an address that cannot be had is refused at start and on reload."""
import ftplib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import instance
from ftpx.net import free_port
from ftpx.procs import Proc
from ftpx.wait import wait_until
from harness import CLIENT, LISTEN, PASSWORD, USER, PausedDownload, login

SMALL = b"hello through ftpproxyd\n"  # pub/small.txt of the backend fixture
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(address, timeout=5):
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=timeout) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return answer.read().decode()


def samples(page):
    """{'name{labels}': value} of every sample line."""
    found = {}
    for line in page.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        found[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return found


def promtool_check(page):
    result = subprocess.run(["promtool", "check", "metrics"], input=page, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.strip() == "" \
        and result.stderr.strip() == "", f"promtool: {result.stdout}{result.stderr}"


def metrics_daemon(make_daemon, backend, **extra):
    address = f"{LISTEN}:{free_port(LISTEN)}"
    daemon = make_daemon([instance("ftp01", backend, max_sessions=1, **extra)],
                         metrics_listen=address)
    return daemon, address


def counted(address):
    return samples(scrape(address))


def delta(after, before, key):
    return after.get(key, 0) - before.get(key, 0)


def test_counters_move_by_exactly_what_happened(make_daemon, backend):
    daemon, address = metrics_daemon(make_daemon, backend)
    port = daemon.port("ftp01")
    page = scrape(address)
    promtool_check(page)
    before = samples(page)
    i = '{proxy="ftp01"'

    # One download in PASV (ftplib's mode over IPv4), a login each.
    ftp = login(port)
    chunks = []
    ftp.retrbinary("RETR pub/small.txt", chunks.append)
    assert b"".join(chunks) == SMALL
    # A bounce: PORT to another host than the client.
    with pytest.raises(ftplib.error_perm, match="^500 Illegal PORT"):
        ftp.sendcmd("PORT 198,18,0,9,195,80")
    # The session limit (max_sessions: 1) while this one is open: 421.
    with socket.create_connection((LISTEN, port), timeout=10,
                                  source_address=(CLIENT, 0)) as second:
        second.settimeout(10)
        assert second.recv(200).startswith(b"421 Too many sessions")
    ftp.quit()
    # A wrong password: the server's 530.
    with pytest.raises(ftplib.error_perm, match="^530"):
        login(port, password="wrong")

    def moved():
        after = counted(address)
        wanted = {
            f"ftpproxy_sessions_total{i}}}": 2,
            f'ftpproxy_sessions_refused_total{i},reason="limit"}}': 1,
            f'ftpproxy_logins_total{i},result="ok"}}': 1,
            f'ftpproxy_logins_total{i},result="failed"}}': 1,
            f'ftpproxy_commands_refused_total{i},reason="bounce"}}': 1,
            f'ftpproxy_data_connections_total{i},mode="pasv"}}': 1,
            f'ftpproxy_data_connections_total{i},mode="port"}}': 0,
            f'ftpproxy_data_bytes_total{i},direction="to_client"}}': len(SMALL),
            f'ftpproxy_data_bytes_total{i},direction="to_server"}}': 0,
            f"ftpproxy_transfer_duration_seconds_count{i}}}": 1,
            f"ftpproxy_backend_connect_duration_seconds_count{i}}}": 2,
        }
        got = {key: delta(after, before, key) for key in wanted}
        return after if got == wanted else None

    # The data channel's end is counted when the worker finishes it, and
    # the second session's end a moment after the 530: bounded wait.
    after = wait_until(moved, 10, "the counters to move by exactly the session's work")
    assert after[f"ftpproxy_sessions_active{i}}}"] == 0
    assert after[f'ftpproxy_instance_state{i},state="RUNNING"}}'] == 1
    assert after[f"ftpproxy_workers{i}}}"] == 1
    assert after['ftpproxy_reloads_total{result="ok"}'] == 0

    # A worker killed: restarted, and nothing it counted goes back (its
    # last answer, at most a liveness interval old, is kept).
    time.sleep(1.5)  # one liveness query after the work above
    old_pid = daemon.instance_status("ftp01")["pid"]
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: (s := daemon.instance_status("ftp01"))["state"] == "RUNNING"
               and s["pid"] != old_pid, 20, "the worker to be restarted")
    restarted = counted(address)
    assert delta(restarted, after, f"ftpproxy_worker_restarts_total{i}}}") == 1
    for key in (f"ftpproxy_sessions_total{i}}}", f'ftpproxy_logins_total{i},result="ok"}}',
                f'ftpproxy_data_bytes_total{i},direction="to_client"}}',
                f"ftpproxy_transfer_duration_seconds_count{i}}}"):
        assert restarted[key] == after[key], key
    # And the new worker's counts add to them.
    ftp = login(port)
    ftp.quit()
    wait_until(lambda: delta(counted(address), restarted, f"ftpproxy_sessions_total{i}}}") == 1,
               10, "the new worker's session to be added")
    promtool_check(scrape(address))


def test_a_stopped_worker_does_not_hold_the_scrape(make_daemon, backend):
    daemon, address = metrics_daemon(make_daemon, backend)
    counted(address)  # its counts known
    pid = daemon.instance_status("ftp01")["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        page = scrape(address, timeout=5)
        took = time.monotonic() - started
        found = samples(page)
        assert found['ftpproxy_workers_silent{proxy="ftp01"}'] == 1
        assert 'ftpproxy_sessions_total{proxy="ftp01"}' in found
        # The scrape waited for the worker at most its bound (0.5 s), not
        # the client's 5 s: generous against a loaded machine.
        assert took < 4, took
    finally:
        os.kill(pid, signal.SIGCONT)


def test_requests_other_than_get_metrics(make_daemon, backend):
    _, address = metrics_daemon(make_daemon, backend)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://{address}/", timeout=5)
    assert missing.value.code == 404
    request = urllib.request.Request(f"http://{address}/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as posted:
        urllib.request.urlopen(request, timeout=5)
    assert posted.value.code == 405
    # Garbage instead of HTTP: the connection closes, the endpoint goes on.
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        raw.settimeout(5)
        assert raw.recv(100) == b""  # closed without an answer
    assert "ftpproxy_build_info" in scrape(address)


def test_an_address_it_cannot_have_is_refused(make_daemon, backend, workdir):
    taken = socket.socket()
    taken.bind((LISTEN, 0))
    taken.listen(1)
    busy = f"{LISTEN}:{taken.getsockname()[1]}"
    try:
        daemon = make_daemon([instance("ftp01", backend)], start=False, metrics_listen=busy)
        daemon.write_config()
        result = subprocess.run([str(daemon_binary()), "-d", "-f", str(daemon.config_path)],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0
        assert f"metrics_listen {busy}: bind: Address already in use" in result.stderr, \
            result.stderr
        # Running: a reload to a taken address is reported, the old one stays.
        daemon, address = metrics_daemon(make_daemon, backend)
        daemon.global_settings["metrics_listen"] = busy
        daemon.write_config()
        result = daemon.ctl("reload")
        assert result.returncode != 0, result.stdout
        assert f"metrics_listen {busy}: bind: Address already in use" in \
            result.stdout + result.stderr
        assert "ftpproxy_build_info" in scrape(address)
        assert samples(scrape(address))['ftpproxy_reloads_total{result="failed"}'] == 1
    finally:
        taken.close()


def daemon_binary():
    from ftpx.binaries import FTPPROXYD
    return FTPPROXYD


def test_prometheus_scrapes_the_session_count(make_daemon, backend, workdir):
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus missing: deploy/install-test-deps.sh installs it"
    daemon, address = metrics_daemon(make_daemon, backend)
    home = workdir / "prometheus"
    home.mkdir(exist_ok=True)
    (home / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: ftpproxy\n    static_configs: [{{targets: ['{address}']}}]\n")
    web = f"{LISTEN}:{free_port(LISTEN)}"
    held = PausedDownload(daemon.port("ftp01"))
    with open(home / "prometheus.log", "wb") as log:
        server = subprocess.Popen(
            [prometheus, f"--config.file={home / 'prometheus.yml'}",
             f"--storage.tsdb.path={home / 'data'}", f"--web.listen-address={web}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        held.start_and_pause()

        def query():
            url = f"http://{web}/api/v1/query?" + urllib.parse.urlencode(
                {"query": 'ftpproxy_sessions_active{proxy="ftp01"}'})
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    result = json.load(answer)["data"]["result"]
            except (OSError, ValueError, KeyError):
                return None
            values = [r["value"][1] for r in result if r["metric"].get("job") == "ftpproxy"]
            return values if values == ["1"] else None

        wait_until(query, 60, "Prometheus to scrape one active session "
                   f"({(home / 'prometheus.log').read_text(errors='replace')[-1500:]})")
        assert held.finish() == backend.big
    finally:
        held.release()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
