#!/usr/bin/python3
"""Run pure-ftpd for the tests: its anonymous root and its log where a test
wants them, nothing changed outside its own process tree.

pure-ftpd has no option for either:
  * the anonymous root is the home directory of the system user `ftp` (or
    `_ftp`), found with getpwnam(); these machines have no such user, and
    one user's home cannot be the root of every test server;
  * its log, -d's "Command [...]" lines included, goes only to syslog(3),
    i.e. the socket /dev/log, which does not exist here.

So pure-ftpd runs in a mount namespace of its own (unshare(CLONE_NEWNS),
every mount private, so nothing propagates back) in which
  * /etc/passwd is a bind mount of a copy that adds `ftp` (uid and gid of
    --anon-user, home --anon-root) and `pure-ftpd` (its privilege-separation
    user: uid and gid of --privsep-user);
  * /dev is a tmpfs with null, zero, random and urandom (bind mounts of the
    real ones) and `log`, a symlink to a datagram socket that this script
    reads, appending each message as one line to --log.
pure-ftpd opens its syslog socket at start (LOG_NDELAY), so its sessions
keep logging after they chroot into the anonymous root.

This script is also the child subreaper of reaper.py (pure-ftpd's session
processes would otherwise end as zombies of PID 1) and exits with
pure-ftpd's status.

    pureftpd_launch.py --dir D --anon-root R --anon-user U --privsep-user P
                       --log FILE -- /path/to/pure-ftpd ARGS...
"""
import argparse
import ctypes
import os
import pwd
import re
import socket
import sys
import threading

import reaper

CLONE_NEWNS = 0x00020000
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
DEV_NODES = ("null", "zero", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _mount(src, target, fstype, flags, data=None):
    _check(_libc.mount(src and os.fsencode(src), os.fsencode(target),
                       fstype and fstype.encode(), ctypes.c_ulong(flags),
                       data and data.encode()),
           f"mount {src} {target}")


def passwd_copy(path, anon_root, anon_user, privsep_user):
    """/etc/passwd without any `ftp`, `_ftp`, `pure-ftpd` line, plus ours."""
    anon = pwd.getpwnam(anon_user)
    priv = pwd.getpwnam(privsep_user)
    drop = re.compile(r"^(ftp|_ftp|pure-ftpd):")
    with open("/etc/passwd") as f:
        lines = [ln for ln in f.read().splitlines() if not drop.match(ln)]
    lines.append(f"ftp:x:{anon.pw_uid}:{anon.pw_gid}:ftpx anonymous:{anon_root}:/usr/sbin/nologin")
    lines.append(f"pure-ftpd:x:{priv.pw_uid}:{priv.pw_gid}:ftpx privsep:/nonexistent:/usr/sbin/nologin")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)


def enter_namespace(workdir, passwd, log_sock):
    """In the child, before exec: the private mounts described above."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    newdev = os.path.join(workdir, "dev")
    os.makedirs(newdev, exist_ok=True)
    _mount("ftpx-dev", newdev, "tmpfs", 0, "mode=755")
    for n in DEV_NODES:
        p = os.path.join(newdev, n)
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o666))
        _mount("/dev/" + n, p, None, MS_BIND)
    os.symlink(log_sock, os.path.join(newdev, "log"))
    _mount(newdev, "/dev", None, MS_MOVE)
    _mount(passwd, "/etc/passwd", None, MS_BIND)


_PRI = re.compile(rb"^<\d+>")


def pump_syslog(sock, log_path):
    """Append every datagram (minus its <PRI>) to log_path, a line each."""
    with open(log_path, "ab", buffering=0) as out:
        while True:
            msg = sock.recv(65536)
            msg = _PRI.sub(b"", msg).rstrip(b"\0\n")
            out.write(msg.replace(b"\n", b" ") + b"\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--anon-root", required=True)
    ap.add_argument("--anon-user", required=True)
    ap.add_argument("--privsep-user", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command

    workdir = os.path.abspath(a.dir)
    passwd = os.path.join(workdir, "passwd")
    passwd_copy(passwd, a.anon_root, a.anon_user, a.privsep_user)
    log_sock = os.path.join(workdir, "syslog.sock")
    if os.path.exists(log_sock):
        os.unlink(log_sock)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(log_sock)
    os.chmod(log_sock, 0o666)        # sessions log after dropping to the anonymous uid

    reaper.become_subreaper()
    pid = os.fork()                  # before the reader thread exists
    if pid == 0:
        try:
            sock.close()
            enter_namespace(workdir, passwd, log_sock)
            os.execv(cmd[0], cmd)
        except BaseException as e:                  # noqa: BLE001 -- report, never return
            print(f"pureftpd_launch: {e}", file=sys.stderr, flush=True)
        finally:
            os._exit(127)
    threading.Thread(target=pump_syslog, args=(sock, a.log), daemon=True).start()
    return reaper.supervise(pid)


if __name__ == "__main__":
    sys.exit(main())
