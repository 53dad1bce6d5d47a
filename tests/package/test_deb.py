"""The Debian package, from the .deb to the purge, in order: what it holds,
the install (the user, the unit enabled and started), the service started
from the installed unit answering ftpproxyctl and carrying a download, an
upgrade (the same version again, then a newer one) during a download that
stays intact, `ftpproxyctl restart all` moving the workers to the new
programs, and the purge leaving nothing behind.

The tests run in file order and build on each other (one installed package,
one running service): a failure early makes the later ones fail too; the
first failure is the one to read.
"""
import json
import os
import pwd
import grp
import subprocess
from pathlib import Path

from ftpx.digest import sha256
from ftpx.net import free_port
from ftpx.wait import wait_until
from harness import LISTEN, SERVER, PausedDownload, download, pid_alive
from package import NOLOGIN, PACKAGE, USER, group_exists, package_status, user_exists
from unit_runner import UnitService

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = ["/usr/sbin/ftp-proxy", "/usr/sbin/ftpproxyd", "/usr/sbin/ftpproxyctl"]
PAGES = ["/usr/share/man/man8/ftp-proxy.8.gz", "/usr/share/man/man8/ftpproxyd.8.gz",
         "/usr/share/man/man8/ftpproxyctl.8.gz", "/usr/share/man/man5/ftpproxy.yaml.5.gz"]
UNIT = Path("/lib/systemd/system/ftpproxyd.service")
CONF = Path("/etc/ftpproxy/ftpproxy.yaml")
ENABLED_LINK = Path("/etc/systemd/system/multi-user.target.wants/ftpproxyd.service")
DSH_STATE = Path("/var/lib/systemd/deb-systemd-helper-enabled/ftpproxyd.service.dsh-also")
CTL = "/usr/sbin/ftpproxyctl"
INSTANCE = "pkg"


def run(*argv, timeout=60, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kw)


def deb_paths(deb):
    """{path: mode string} of the files and links in the .deb."""
    listing = run("dpkg-deb", "-c", deb)
    assert listing.returncode == 0, listing.stderr
    paths = {}
    for line in listing.stdout.splitlines():
        fields = line.split()
        path = fields[5].removeprefix(".")
        paths[path.rstrip("/") or "/"] = fields[0]
    return paths


def deb_file(deb, path):
    """The bytes of one file of the .deb."""
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    return subprocess.run(["tar", "-xO", "." + path], input=tar, capture_output=True, check=True).stdout


def assert_ok(result, what):
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}"


def ctl_status():
    result = run(CTL, "status", "--json")
    assert result.returncode in (0, 3), f"ftpproxyctl status: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def instance_status():
    return next(i for i in ctl_status()["instances"] if i["name"] == INSTANCE)


def exe_of(pid):
    return os.readlink(f"/proc/{pid}/exe")


SERVICE_VERBS = {"start", "stop", "restart", "try-restart", "reload", "reload-or-restart",
                 "try-reload-or-restart", "kill", "condrestart", "force-reload"}


def systemd_requests(calls):
    """What was asked of the running service (not daemon-reloads, not the
    unit-file changes that enable it)."""
    return [c for c in calls if SERVICE_VERBS & set(c.split()[1:])]


# ------------------------------------------------------------------ the .deb

def test_the_deb_holds_programs_pages_unit_and_conffile(deb, tmp_path):
    paths = deb_paths(deb)
    for path in PROGRAMS + PAGES + [str(UNIT), str(CONF), "/usr/share/doc/ftpproxy/copyright",
                                   "/usr/share/ftpproxy/ftpproxy.yaml.sample"]:
        assert path in paths, f"{path} is not in {deb.name}"
    assert paths[str(CONF)] == "-rw-r-----", "the file may hold a health check's password"
    conffiles = run("dpkg-deb", "-I", deb, "conffiles")
    assert conffiles.stdout.split() == [str(CONF)]
    assert deb_file(deb, str(CONF)) == (REPO / "config/ftpproxy.yaml").read_bytes()

    depends = run("dpkg-deb", "-f", deb, "Depends").stdout
    for needed in ("adduser", "libyaml-cpp", "libssl3", "libnftables", "libboost-program-options"):
        assert needed in depends, f"Depends: {depends}"

    unit = deb_file(deb, str(UNIT)).decode()
    assert "ExecStart=/usr/sbin/ftpproxyd -f /etc/ftpproxy/ftpproxy.yaml\n" in unit
    assert "@" not in unit, "a placeholder the build did not fill in"

    # Hardened: position-independent, RELRO with immediate binding.
    for program in PROGRAMS:
        copy = tmp_path / Path(program).name
        copy.write_bytes(deb_file(deb, program))
        header = run("readelf", "-h", copy).stdout
        dynamic = run("readelf", "-d", copy).stdout
        relro = run("readelf", "-l", copy).stdout
        assert "DYN (Position-Independent Executable file)" in header, f"{program} is not PIE"
        assert "(FLAGS)              BIND_NOW" in dynamic or "Flags: NOW" in dynamic, program
        assert "GNU_RELRO" in relro, program


def test_lintian_finds_no_error_and_no_warning(deb):
    # Overrides: deploy/debian/ftpproxy.lintian-overrides, each with its reason.
    result = run("lintian", "--fail-on", "error,warning", deb, timeout=300)
    assert result.returncode == 0, f"lintian:\n{result.stdout}{result.stderr}"


# ------------------------------------------------------------ install, start

def test_install_creates_the_user_and_enables_and_starts_the_service(machine, deb):
    result = machine.dpkg("-i", deb)
    assert_ok(result, "dpkg -i")
    assert package_status() == "install ok installed"

    # The workers' user: a system user with no home and no shell.
    user = pwd.getpwnam(USER)
    assert user.pw_uid < 1000 and user.pw_shell == NOLOGIN and user.pw_dir == "/nonexistent"
    assert grp.getgrgid(user.pw_gid).gr_name == USER

    # Enabled at boot (deb-systemd-helper's symlink) and started once.
    assert ENABLED_LINK.is_symlink() and ENABLED_LINK.resolve() == UNIT.resolve()
    assert systemd_requests(machine.spy.calls()) == ["deb-systemd-invoke start ftpproxyd.service"]

    stat = CONF.stat()
    assert (stat.st_uid, stat.st_gid, stat.st_mode & 0o777) == (0, 0, 0o640)
    version = run("/usr/sbin/ftpproxyd", "--version").stdout
    assert run("dpkg-query", "-W", "-f=${Version}", PACKAGE).stdout.split("+")[0] in version
    # The unit as systemd reads it: every path exists, every line parses.
    verify = run("systemd-analyze", "verify", UNIT)
    assert verify.returncode == 0 and "ftpproxyd.service" not in verify.stderr, verify.stderr


def test_the_service_starts_from_the_installed_unit_and_answers(machine, backend, workdir):
    # The administrator's edit of the conffile: one instance in front of the
    # backend; every other line stays the shipped default (worker_binary
    # among them: the build's /usr/sbin/ftp-proxy).
    port = free_port(LISTEN)
    shipped = CONF.read_text()
    assert "\ninstances: []\n" in shipped
    CONF.write_text(shipped.replace(
        "\ninstances: []\n",
        f"\ninstances:\n  - name: {INSTANCE}\n    listen: {LISTEN}:{port}\n"
        f"    backend: {SERVER}:{backend.port}\n"))

    machine.service = UnitService(UNIT, workdir / "ftpproxyd.log").start()
    item = wait_until(lambda: (lambda i: i if i["state"] == "RUNNING" and i["pid"] else None)(
        instance_status()), 20, "the instance to run")
    assert exe_of(item["pid"]) == "/usr/sbin/ftp-proxy"
    assert Path(f"/proc/{item['pid']}").stat().st_uid == pwd.getpwnam(USER).pw_uid
    wait_until(lambda: instance_status()["backends"][0]["health"] == "up", 20, "the backend to be up")

    assert sha256(download(port)) == sha256(backend.big)
    assert_ok(machine.service.reload(), "the unit's ExecReload")
    machine.port = port


# ------------------------------------------------------------------- upgrade

def repack_with_version(deb, version, workdir):
    """The same package under a newer version: dpkg runs the upgrade path
    (prerm upgrade, postinst configure with the old version) without a
    second build."""
    tree = workdir / "repack"
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    assert_ok(run("dpkg-deb", "-R", deb, tree), "dpkg-deb -R")
    control = tree / "DEBIAN/control"
    lines = [f"Version: {version}" if line.startswith("Version:") else line
             for line in control.read_text().splitlines()]
    control.write_text("\n".join(lines) + "\n")
    out = workdir / f"ftpproxy_{version}.deb"
    assert_ok(run("dpkg-deb", "--root-owner-group", "-b", tree, out), "dpkg-deb -b")
    return out


def test_an_upgrade_keeps_a_running_download_and_restart_all_moves_to_the_new_programs(
        machine, deb, backend, workdir):
    service = machine.service
    assert service is not None and service.running(), "the service of the test before is not running"
    main_pid = service.proc.pid
    old_worker = instance_status()["pid"]
    admin_conf = CONF.read_text()

    transfer = PausedDownload(machine.port, pause_at=1 << 20)
    transfer.start_and_pause()

    assert_ok(machine.dpkg("-i", deb), "dpkg -i of the same version")
    newer = repack_with_version(deb, run("dpkg-deb", "-f", deb, "Version").stdout.strip() + "+upgrade1",
                                workdir)
    assert_ok(machine.dpkg("-i", newer), "dpkg -i of a newer version")
    assert run("dpkg-query", "-W", "-f=${Version}", PACKAGE).stdout.endswith("+upgrade1")

    # Neither upgrade stopped or restarted the service, on a systemd machine
    # either: the scripts asked only for a start, which leaves a running
    # service alone.
    assert systemd_requests(machine.spy.calls()) == ["deb-systemd-invoke start ftpproxyd.service"] * 2
    assert service.running() and service.proc.pid == main_pid
    assert instance_status()["pid"] == old_worker
    # The administrator's file is kept, with no .dpkg-new beside it.
    assert CONF.read_text() == admin_conf
    assert sorted(p.name for p in CONF.parent.iterdir()) == ["ftpproxy.yaml"]
    # The worker still runs the program the upgrade replaced.
    assert exe_of(old_worker) == "/usr/sbin/ftp-proxy (deleted)"

    # The operator's swap: new workers on the new program, the old one
    # drains (its download goes on).
    assert_ok(run(CTL, "restart", "all", timeout=70), "ftpproxyctl restart all")
    new_worker = wait_until(lambda: (lambda p: p if p and p != old_worker else None)(
        instance_status()["pid"]), 20, "a new worker")
    assert exe_of(new_worker) == "/usr/sbin/ftp-proxy"
    assert pid_alive(old_worker), "the old worker did not drain: it ended with its download"
    assert sha256(download(machine.port)) == sha256(backend.big)

    assert sha256(transfer.finish()) == sha256(backend.big)
    assert transfer.reply.startswith("226"), transfer.reply
    wait_until(lambda: not pid_alive(old_worker), 30, "the old worker to exit once drained")


# --------------------------------------------------------------------- purge

def test_purge_removes_everything(machine):
    installed = [Path(p) for p in run("dpkg", "-L", PACKAGE).stdout.splitlines()]
    # Files and links, not directories (/lib is a link to one on Debian 12).
    files = [p for p in installed if not p.is_dir() and (p.is_file() or p.is_symlink())]
    assert len(files) > 10, installed

    # systemctl stop, as prerm asks of systemd (below): ftpproxyd drains and exits.
    assert machine.service.stop() == 0
    result = machine.dpkg("--purge", PACKAGE)
    assert_ok(result, "dpkg --purge")
    assert "deb-systemd-invoke stop ftpproxyd.service" in machine.spy.calls()

    assert package_status() in (None, "unknown ok not-installed")
    left = [str(p) for p in files if p.exists() or p.is_symlink()]
    assert left == [], f"left after purge: {left}"
    for path in (CONF.parent, Path("/run/ftpproxyd"), ENABLED_LINK, DSH_STATE,
                 Path("/usr/share/doc/ftpproxy"), Path("/usr/share/ftpproxy")):
        assert not path.exists() and not path.is_symlink(), f"{path} is left after purge"
    assert not user_exists() and not group_exists(), f"{USER} is left after purge"
    assert result.stderr.strip() == "", result.stderr


def test_purge_removes_generated_rules_but_keeps_and_names_the_administrators_files(machine, deb):
    try:
        assert_ok(machine.dpkg("-i", deb), "dpkg -i")
        (CONF.parent / "ftpproxy.nft").write_text("table inet ftpproxy {}\n")   # as ftpproxyd writes it
        (CONF.parent / "tls").mkdir()
        (CONF.parent / "tls/ftp.example.org.key").write_text("the administrator's key\n")
        result = machine.dpkg("--purge", PACKAGE)
        assert_ok(result, "dpkg --purge")
        assert not (CONF.parent / "ftpproxy.nft").exists()
        assert not CONF.exists()
        assert (CONF.parent / "tls/ftp.example.org.key").read_text() == "the administrator's key\n"
        assert "/etc/ftpproxy is not removed: it holds files the package did not install:\ntls" \
            in result.stderr, result.stderr
    finally:
        subprocess.run(["rm", "-rf", str(CONF.parent)], check=False)
