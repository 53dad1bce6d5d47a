"""ftpproxyctl: status table and JSON, exit codes, errors a newcomer
understands, the control socket's permissions, check."""
import hashlib
import json
import os
import stat
import subprocess

import signal

from ftpx.binaries import FTPPROXYCTL
from ftpx.net import free_port
from ftpx.wait import wait_until
from harness import LISTEN, SERVER, stop_process


def ctl(*args):
    return subprocess.run([str(FTPPROXYCTL), *map(str, args)], capture_output=True, text=True,
                          timeout=30)


def test_status_table_and_json(make_daemon):
    daemon = make_daemon(2)
    result = daemon.ctl("status")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "PID", "UPTIME", "LISTEN", "PUBLIC", "BACKEND",
                                "SESSIONS", "RESTARTS", "LAST-EXIT"]
    assert [l.split()[:2] for l in lines[1:3]] == [["ftp01", "RUNNING"], ["ftp02", "RUNNING"]]
    assert lines[3].startswith(f"config: {daemon.config_path}, sha256 ")
    assert lines[4] == "2 instances: 2 running; firewall: none"
    assert len(lines) == 5

    answer = json.loads(daemon.ctl("status", "--json").stdout)
    item = answer["instances"][0]
    assert set(item) >= {"name", "state", "pid", "uptime", "listen", "public", "backend",
                         "sessions", "restarts", "last_exit"}
    assert item["sessions"] == 0 and item["public"] is None
    assert answer["supervisor"]["config"] == str(daemon.config_path)

    one = daemon.ctl("status", "ftp02")
    assert one.returncode == 0 and len(one.stdout.splitlines()) == 4
    unknown = daemon.ctl("status", "nope")
    assert unknown.returncode == 1
    assert unknown.stderr == "ftpproxyctl: no instance named 'nope' (configured: ftp01, ftp02)\n"
    assert daemon.ctl("restart", "nope").returncode == 1


def test_exit_codes_and_usage(make_daemon):
    daemon = make_daemon(1)
    assert daemon.ctl("stop", "all").returncode == 0
    daemon.wait_states({"ftp01": "STOPPED"})
    assert daemon.ctl("status").returncode == 3
    usage = daemon.ctl("frobnicate")
    assert usage.returncode == 2 and "unknown command \"frobnicate\"" in usage.stderr
    assert "usage: ftpproxyctl" in usage.stderr


def test_unreachable_supervisor(workdir):
    result = ctl("-s", workdir / "no-such.sock", "status")
    assert result.returncode == 4
    assert "ftpproxyd is not running: there is no control socket" in result.stderr
    # A socket left over by a killed ftpproxyd.
    import socket
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(workdir / "stale.sock"))
    stale.close()
    result = ctl("-s", workdir / "stale.sock", "reload")
    assert result.returncode == 4 and "nothing answers" in result.stderr


def test_socket_is_roots_alone_unless_a_group_is_configured(make_daemon):
    daemon = make_daemon(1)
    info = os.stat(daemon.socket)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0
    denied = daemon.ctl("status", user="nobody")
    assert denied.returncode == 4
    assert "permission denied on " + daemon.socket in denied.stderr
    assert "Try again with sudo" in denied.stderr

    # control_group: applied on reload too.
    daemon.global_settings["control_group"] = "nogroup"
    daemon.write_config()
    assert daemon.ctl("reload").returncode == 0
    info = os.stat(daemon.socket)
    assert stat.S_IMODE(info.st_mode) == 0o660 and info.st_gid == 65534
    allowed = daemon.ctl("status", user="nobody")
    assert allowed.returncode == 0, allowed


def test_check(make_daemon, workdir):
    daemon = make_daemon(2)
    good = ctl("check", daemon.config_path)
    assert good.returncode == 0
    digest = hashlib.sha256(daemon.config_path.read_bytes()).hexdigest()
    assert good.stdout == (f"{daemon.config_path}: OK, 2 instance(s): ftp01, ftp02\n"
                           f"{daemon.config_path}: sha256 {digest}\n")
    # Without a file: the one the running ftpproxyd was started with.
    assert daemon.ctl("check").stdout == good.stdout

    bad = workdir / "bad.yaml"
    bad.write_text("global:\n  firewall: wall\ninstances:\n  - name: x\n    lsiten: 1.2.3.4:21\n")
    result = ctl("check", bad)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{bad}:2:13: 'firewall': \"wall\" is not one of nftables, pf or none"
    assert f"{bad}:5:5: unknown key 'lsiten' (did you mean 'listen'?)" in lines
    assert "ftpproxyd would refuse this file" in result.stdout


def test_rules_without_a_firewall(make_daemon):
    daemon = make_daemon(1)
    result = daemon.ctl("rules")
    assert result.returncode == 1
    assert "firewall: none, so no rules are written" in result.stderr
    nft = daemon.ctl("rules", "nft")
    assert nft.returncode == 0 and "table inet ftpproxy {" in nft.stdout


def control_requests(path, lines):
    """Sends each line over one connection to the control socket; the
    answers, parsed."""
    import socket
    answers = []
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(15)
        s.connect(path)
        reader = s.makefile("rb")
        for line in lines:
            s.sendall(line.encode() + b"\n")
            answers.append(json.loads(reader.readline()))
    return answers


def test_requests_with_wrong_types_are_refused_in_our_words(make_daemon):
    daemon = make_daemon(1)
    commands = ("status, start, stop, restart, drain, reload, rules, info, carp-event, failover, "
                "failback, sessions or kill")
    cases = {
        '{"command": 5}':
            f'"command" must be a string ({commands}), not a number',
        '{"names": ["ftp01"]}': f'"command" is missing: one of {commands}',
        '{"command": "stop", "names": "ftp01"}':
            '"names" must be a list of strings (instance names or "all"), not a string',
        '{"command": "status", "names": ["ftp01", 7]}':
            '"names" must be a list of strings: item 2 is a number',
        '{"command": "restart", "names": null}':
            '"names" must be a list of strings (instance names or "all"), not null',
        '{"command": "rules", "syntax": ["pf"]}':
            '"syntax" must be a string ("pf" or "nft"), not an array',
        '{"command": "status", "nmaes": ["ftp01"]}':
            ('unknown field "nmaes" (a request has "command", and "names", "syntax", "role", '
             '"subject", "wait" or "session")'),
    }
    answers = control_requests(daemon.socket, [*cases, '{"command": "status"}'])
    for (request, message), answer in zip(cases.items(), answers):
        assert answer == {"ok": False, "error": "bad request: " + message}, request
    # Nothing was done, and the connection still serves.
    assert answers[-1]["ok"] is True
    assert answers[-1]["instances"][0]["state"] == "RUNNING"
    # What a request quotes back never splits the line or reaches a terminal
    # raw: control bytes are escaped (found by tests/fuzz/control_request).
    quoted = control_requests(daemon.socket, [r'{"command": "sta\ntus\u001b[2J"}'])
    assert quoted == [{"ok": False, "error": "unknown command 'sta\\ntus\\x1b[2J'"}]


def test_a_worker_that_does_not_answer_shows_unresponsive(make_daemon):
    """SIGSTOP: the worker is alive but serves nobody. status says so
    (table, summary, --json, exit 3) until it answers again (SIGCONT)."""
    daemon = make_daemon(2)
    pid = daemon.instance_status("ftp01")["pid"]
    try:
        stop_process(pid)
        result = daemon.ctl("status")
        assert result.returncode == 3, result
        lines = result.stdout.splitlines()
        row = lines[1].split()
        assert row[:3] == ["ftp01", "UNRESPONSIVE", str(pid)]
        assert row[7] == "-", "no session count from a worker that does not answer"
        assert lines[2].split()[:2] == ["ftp02", "RUNNING"]
        assert lines[-1] == "2 instances: 1 running, 1 unresponsive; firewall: none"
        items = {i["name"]: i for i in daemon.status()["instances"]}
        assert (items["ftp01"]["state"], items["ftp01"]["pid"], items["ftp01"]["responding"],
                items["ftp01"]["sessions"]) == ("UNRESPONSIVE", pid, False, None)
        assert (items["ftp02"]["state"], items["ftp02"]["responding"]) == ("RUNNING", True)
    finally:
        os.kill(pid, signal.SIGCONT)
    # It answers again over the same channel, and is itself again.
    item = wait_until(lambda: (lambda i: i if i["state"] == "RUNNING" else None)(
        daemon.instance_status("ftp01")), 10, "ftp01 to answer again")
    assert (item["pid"], item["responding"], item["sessions"]) == (pid, True, 0)
    assert daemon.ctl("status").returncode == 0


def test_status_answers_with_many_workers_that_do_not_answer(make_daemon, backend):
    """Workers are asked all at once: 32 stuck workers cost status one 0.5 s
    wait, not 32 of them (16 s, beyond ftpproxyctl's 15 s: exit 4)."""
    ports = set()
    while len(ports) < 32:  # free_port() may give the same port twice
        ports.add(free_port(LISTEN))
    daemon = make_daemon([{"name": f"ftp{i + 1:02d}", "listen": f"{LISTEN}:{port}",
                           "backend": f"{SERVER}:{backend.port}"}
                          for i, port in enumerate(sorted(ports))])
    pids = [i["pid"] for i in daemon.status()["instances"]]
    try:
        for pid in pids:
            stop_process(pid)
        result = daemon.ctl("status")
        assert result.returncode == 3, result
        assert result.stdout.splitlines()[-1] == "32 instances: 32 unresponsive; firewall: none"
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
