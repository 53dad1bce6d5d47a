"""The real FTP servers of the tests: pyftpdlib and vsftpd.

Both serve a root with a directory `pub/` that holds `big.bin` (the
session's 32 MiB random file) and takes uploads. Each server records which
addresses it saw; `mark()` + `seen_since(mark)` give what it saw during one
test (tests run serially).
"""
import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from . import net
from .binaries import REPO
from .procs import Proc

HERE = Path(__file__).resolve().parent                 # tests/ftpx
VSFTPD_BIN = Path(os.environ.get("FTPX_VSFTPD", REPO / ".deps/vsftpd/usr/sbin/vsftpd"))
PYTHON = "/usr/bin/python3"                             # Debian's, with pyftpdlib
PYFTPD_SERVER = HERE / "pyftpd_server.py"
REAPER = HERE / "reaper.py"

DATA_CMDS = ("PASV", "EPSV", "PORT", "EPRT")


@dataclasses.dataclass
class Seen:
    control_peers: list          # IPs that opened a control connection
    data_peers: list             # IPs of data connections (pyftpdlib only)
    commands: list               # (peer ip, VERB, arg)
    data_visible: bool           # whether data_peers is observable

    def data_setup_verbs(self):
        return [c for _, c, _ in self.commands if c in DATA_CMDS]

    def command_peers(self):
        return sorted({p for p, _, _ in self.commands})


class Server:
    kind = None
    user = None
    password = None
    has_mlsd = False

    def __init__(self, family, workdir, big_file, name=None, addr=None, port=None):
        """addr, port: where to listen instead of the family's server address
        and a free port (tests/netns: port 21 of its second server address)."""
        self.family = family
        self.addr = addr or net.ADDR[family]["server"]
        self.port = port or net.free_port(self.addr)
        self.name = name or f"{self.kind}-{family}"
        self.dir = Path(workdir) / self.name
        self.root = self.dir / "root"
        self.pub = self.root / "pub"
        self.big = self.pub / "big.bin"
        self.dir.mkdir(parents=True)
        self.root.mkdir()
        self.pub.mkdir()
        for d in (self.dir, self.root, self.pub):
            os.chmod(d, 0o755)
        if _same_fs(big_file, self.pub):
            os.link(big_file, self.big)
        else:
            shutil.copyfile(big_file, self.big)
        os.chmod(self.big, 0o644)
        self.proc = None

    # --- to override
    def argv(self):
        raise NotImplementedError

    def seen_since(self, mark):
        raise NotImplementedError

    def event_path(self):
        raise NotImplementedError

    # ---
    @property
    def log_path(self):
        return self.dir / "server.log"

    def start(self):
        self.prepare()
        self.proc = Proc(self.name, self.argv(), self.log_path,
                         stdin_is_log=(self.kind == "vsftpd")).start()
        net.wait_listening(self.addr, self.port, timeout=15, proc=self.proc,
                           what=f"{self.name} to listen on {net.hostport(self.addr, self.port)}")
        return self

    def prepare(self):
        pass

    def stop(self):
        if self.proc:
            self.proc.stop()

    def mark(self):
        try:
            return os.path.getsize(self.event_path())
        except FileNotFoundError:
            return 0

    def _read_since(self, mark):
        try:
            with open(self.event_path(), "rb") as f:
                f.seek(mark)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def diagnostics(self):
        return self.proc.tail(80) if self.proc else ""


def _same_fs(a, b):
    return os.stat(a).st_dev == os.stat(b).st_dev


class Pyftpd(Server):
    kind = "pyftpdlib"
    user = "test"
    password = "secret"
    has_mlsd = True

    def __init__(self, family, workdir, big_file, tls_cert=None, name=None, misbehave=False,
                 addr=None, port=None):
        self.tls_cert = tls_cert
        self.misbehave = misbehave
        super().__init__(family, workdir, big_file, name=name, addr=addr, port=port)

    def event_path(self):
        return self.dir / "events.jsonl"

    def argv(self):
        a = [PYTHON, PYFTPD_SERVER, "--host", self.addr,
             "--port", self.port, "--root", self.root, "--events", self.event_path()]
        if self.tls_cert:
            a += ["--tls", "--certfile", self.tls_cert]
        if self.misbehave:
            a += ["--misbehave"]
        return a

    def seen_since(self, mark):
        ctl, data, cmds = [], [], []
        for line in self._read_since(mark).splitlines():
            if not line.strip():
                continue
            ev = json.loads(line)
            if ev["ev"] == "control":
                ctl.append(ev["peer"][0])
            elif ev["ev"] == "cmd":
                cmds.append((ev["peer"], ev["cmd"], ev["arg"]))
            elif ev["ev"] == "data-passive":
                data.append(ev["peer"][0])
            elif ev["ev"] == "data-active":
                data.append(ev["target"][0])
        return Seen(ctl, data, cmds, data_visible=True)


class Vsftpd(Server):
    """vsftpd 3.0.3 from .deps (unpacked, not installed), anonymous only.

    pasv_promiscuous=NO / port_promiscuous=NO (the defaults, written out):
    vsftpd itself refuses a data connection from, or a PORT/EPRT to, any
    address but its control peer's, so a transfer that works through the
    proxy proves the data went through the proxy's source address.
    """
    kind = "vsftpd"
    user = "anonymous"
    password = "ftpx@example.org"
    has_mlsd = False

    def event_path(self):
        return self.dir / "vsftpd.log"

    @property
    def conf_path(self):
        return self.dir / "vsftpd.conf"

    def prepare(self):
        if not VSFTPD_BIN.exists():
            raise RuntimeError(f"{VSFTPD_BIN} missing: run deploy/install-test-deps.sh")
        # anonymous sessions run as ftpxanon: the upload dir must be its
        # own; the chroot root must not be writable (vsftpd refuses that).
        shutil.chown(self.pub, user="ftpxanon")
        if self.family == "v4":
            listen = ["listen=YES", "listen_ipv6=NO", f"listen_address={self.addr}"]
        else:
            listen = ["listen=NO", "listen_ipv6=YES", f"listen_address6={self.addr}"]
        conf = listen + [
            f"listen_port={self.port}",
            "background=NO",
            "ftpd_banner=vsftpd test server ready.",
            "anonymous_enable=YES",
            "local_enable=NO",
            "no_anon_password=NO",
            "write_enable=YES",
            "anon_upload_enable=YES",
            "anon_mkdir_write_enable=YES",
            "anon_other_write_enable=YES",      # DELE, APPE, REST+STOR
            "anon_world_readable_only=NO",
            "anon_umask=022",
            f"anon_root={self.root}",
            "ftp_username=ftpxanon",
            "nopriv_user=ftpsecure",
            "secure_chroot_dir=/var/lib/ftpx-empty",
            "pasv_enable=YES",
            "port_enable=YES",
            "pasv_promiscuous=NO",
            "port_promiscuous=NO",
            "connect_from_port_20=NO",
            "seccomp_sandbox=NO",
            "isolate_network=NO",
            "max_clients=0",
            "max_per_ip=0",
            "xferlog_enable=YES",
            "xferlog_std_format=NO",
            "log_ftp_protocol=YES",
            f"vsftpd_log_file={self.event_path()}",
            "dual_log_enable=NO",
            "syslog_enable=NO",
            "use_localtime=NO",
        ]
        self.conf_path.write_text("\n".join(conf) + "\n")
        os.chmod(self.conf_path, 0o600)

    def argv(self):
        # under a subreaper: vsftpd's per-session processes would otherwise
        # end as zombies of PID 1, which does not reap on these machines
        return [PYTHON, REAPER, VSFTPD_BIN, self.conf_path]

    _connect = re.compile(r'\] CONNECT: Client "([^"]+)"')
    _cmd = re.compile(r'\] FTP command: Client "([^"]+)", "(.*)"$')

    def seen_since(self, mark):
        ctl, cmds = [], []
        for line in self._read_since(mark).splitlines():
            m = self._connect.search(line)
            if m:
                ctl.append(_unmap(m.group(1)))
                continue
            m = self._cmd.search(line)
            if m:
                verb, _, arg = m.group(2).partition(" ")
                cmds.append((_unmap(m.group(1)), verb.upper(), arg))
        return Seen(ctl, [], cmds, data_visible=False)

    def diagnostics(self):
        out = super().diagnostics()
        try:
            with open(self.event_path(), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            out += "\n--- vsftpd.log (tail)\n" + "\n".join(lines[-60:])
        except FileNotFoundError:
            pass
        return out


def _unmap(ip):
    return ip[7:] if ip.startswith("::ffff:") and "." in ip else ip


def make_cert(path):
    """A self-signed cert+key (PEM, one file) for pyftpdlib's TLS handler."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(path), "-out", str(path), "-days", "2",
                    "-subj", "/CN=ftpx-test"], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


class MisbehavingPyftpd(Pyftpd):
    """pyftpdlib with pyftpd_server.py --misbehave: the hostile and broken
    answers the proxy must contain (HELP -> 227, RETR that stalls after 150)."""
    kind = "pyftpdlib-misbehaving"

    def __init__(self, family, workdir, big_file, name=None):
        super().__init__(family, workdir, big_file, name=name, misbehave=True)


SERVER_KINDS = {"pyftpdlib": Pyftpd, "vsftpd": Vsftpd,
                "pyftpdlib-misbehaving": MisbehavingPyftpd}

