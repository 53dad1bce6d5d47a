"""The real FTP servers of the tests: pyftpdlib and vsftpd, and FTPS servers
(vsftpd, ProFTPD, pure-ftpd, pyftpdlib with TLS) for the proxy's TLS toward
the server.

All serve a root with a directory `pub/` that holds `big.bin` (the
session's 32 MiB random file) and takes uploads. Each server records which
addresses it saw; `mark()` + `seen_since(mark)` give what it saw during one
test (tests run serially).

The TLS kinds (`TlsServer.tls` is True) each have their own certificate:
`tls_cert` (PEM, self-signed, so a client verifies with it as its own CA),
`tls_key`, `tls_fingerprint` (SHA-256 of the DER certificate, lowercase
hex), `tls_sans` (subjectAltName: the server's address and DNS:ftp.test).
tests/integration/test_tls_servers_direct.py proves what each of them
demands of a client (TLS session reuse on data connections, close_notify).
In tests/integration: `make_route("vsftpd-tls", "v4")` (a proxy in front)
or `servers.get("proftpd-tls", "v6")` (the server itself); `tls=True` with
"pyftpdlib" means "pyftpdlib-tls".
"""
import dataclasses
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
from pathlib import Path

from . import net
from .binaries import REPO
from .procs import Proc

HERE = Path(__file__).resolve().parent                 # tests/ftpx
VSFTPD_BIN = Path(os.environ.get("FTPX_VSFTPD", REPO / ".deps/vsftpd/usr/sbin/vsftpd"))
PYTHON = "/usr/bin/python3"                             # Debian's, with pyftpdlib
PROFTPD_ROOT = Path(os.environ.get("FTPX_PROFTPD_TLS", REPO / ".deps/proftpd-tls"))
PUREFTPD_BIN = Path(os.environ.get("FTPX_PUREFTPD", REPO / ".deps/pure-ftpd/usr/sbin/pure-ftpd"))
PYFTPD_SERVER = HERE / "pyftpd_server.py"
REAPER = HERE / "reaper.py"
PUREFTPD_LAUNCH = HERE / "pureftpd_launch.py"
TLS_DNS_NAME = "ftp.test"        # in every TLS server's subjectAltName

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
    tls = False              # speaks FTPS (TlsServer)
    stdin_is_log = False     # vsftpd writes its fatal errors to fd 0

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
                         stdin_is_log=self.stdin_is_log).start()
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

    def log_since(self, mark):
        """The raw text of the file seen_since() parses, from mark on: the
        exact replies and messages a test may want to show or assert."""
        return self._read_since(mark)

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
                 addr=None, port=None, tls_key=None):
        """tls_cert: TLS_FTPHandler with that certificate (and its key in the
        same file, or in tls_key)."""
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.misbehave = misbehave
        super().__init__(family, workdir, big_file, name=name, addr=addr, port=port)

    def event_path(self):
        return self.dir / "events.jsonl"

    def argv(self):
        a = [PYTHON, PYFTPD_SERVER, "--host", self.addr,
             "--port", self.port, "--root", self.root, "--events", self.event_path()]
        if self.tls_cert:
            a += ["--tls", "--certfile", self.tls_cert]
            if self.tls_key:
                a += ["--keyfile", self.tls_key]
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
    stdin_is_log = True

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
        self.conf_path.write_text("\n".join(self.conf_lines()) + "\n")
        os.chmod(self.conf_path, 0o600)

    def conf_lines(self):
        if self.family == "v4":
            listen = ["listen=YES", "listen_ipv6=NO", f"listen_address={self.addr}"]
        else:
            listen = ["listen=NO", "listen_ipv6=YES", f"listen_address6={self.addr}"]
        return listen + [
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


def make_server_cert(directory, name, sans):
    """(cert, key): a self-signed RSA 2048 certificate `<name>-cert.pem` and
    its key `<name>-key.pem` (separate PEM files, key mode 0600), valid for
    2 days, subjectAltName `sans` (e.g. "IP:127.0.0.4,DNS:ftp.test").

    Self-signed, so a client (or the proxy) verifies a server with the
    certificate itself as its CA file (openssl's defaults make it
    CA:TRUE, critical; no keyUsage, no extendedKeyUsage). RSA, not EC: vsftpd 3.0.3's default
    ssl_ciphers is ECDHE-RSA-AES256-GCM-SHA384 alone, so with TLS 1.2 it can
    use nothing but an RSA key."""
    directory = Path(directory)
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", str(key), "-out", str(cert), "-days", "2",
                        "-subj", f"/CN={name}", "-addext", f"subjectAltName={sans}"],
                       timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError(f"openssl req for {cert} (subjectAltName={sans}) failed:\n"
                           + r.stderr.decode("utf-8", "replace"))
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def cert_fingerprint(cert):
    """SHA-256 of the DER certificate in PEM file `cert`: lowercase hex, no colons."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert).read_text())
    return hashlib.sha256(der).hexdigest()


class MisbehavingPyftpd(Pyftpd):
    """pyftpdlib with pyftpd_server.py --misbehave: the hostile and broken
    answers the proxy must contain (HELP -> 227, RETR that stalls after 150)."""
    kind = "pyftpdlib-misbehaving"

    def __init__(self, family, workdir, big_file, name=None):
        super().__init__(family, workdir, big_file, name=name, misbehave=True)


# ---------------------------------------------------------------- FTPS servers

class TlsServer:
    """What every FTPS server kind has (a mixin before the server class).

    tls_cert, tls_key: its own self-signed certificate and key (PEM files in
    its directory), subjectAltName tls_sans -- by default its address and
    DNS:ftp.test; tls_fingerprint: SHA-256 of the DER certificate.

    reuse_required: a data connection that does not resume the control
    connection's TLS session is refused. tls_required: clear-text login
    and clear data connections (PROT C) are refused.
    """
    tls = True
    reuse_required = True
    tls_required = True

    def __init__(self, *args, tls_sans=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tls_sans = tls_sans or f"IP:{self.addr},DNS:{TLS_DNS_NAME}"
        self.tls_cert, self.tls_key = make_server_cert(self.dir, "server", self.tls_sans)
        self.tls_fingerprint = cert_fingerprint(self.tls_cert)


class PyftpdTls(TlsServer, Pyftpd):
    """pyftpdlib's TLS_FTPHandler (what `tls=True` has always started).

    TLS is optional (AUTH TLS offered, a clear-text session still works:
    test_features.py runs lftp through a proxy that refuses AUTH) and a data
    connection need not resume the control connection's TLS session: the
    lenient server, next to the strict ones below. Users as Pyftpd
    (`test`/`secret`, anonymous); its events show data peers too.
    """
    kind = "pyftpdlib-tls"
    reuse_required = False
    tls_required = False


class VsftpdTls(TlsServer, Vsftpd):
    """Vsftpd with FTPS: anonymous sessions must log in and move data over
    TLS (allow_anon_ssl=YES, force_anon_logins_ssl=YES,
    force_anon_data_ssl=YES; vsftpd refuses TLS to anonymous users without
    allow_anon_ssl). Everything else is vsftpd 3.0.3's TLS default, left
    unwritten on purpose (vsftpd.conf(5), the binary's strings, its
    upstream changelog, and measured: test_tls_servers_direct.py):

      require_ssl_reuse=YES    a data connection must resume the control
                               connection's TLS session, else "522 SSL
                               connection failed: session reuse required"
                               and vsftpd closes the whole session
      strict_ssl_read_eof=YES  an upload must end with the client's
                               close_notify, else "426 Failure reading
                               network stream." (the file is kept:
                               delete_failed_uploads=NO); vsftpd.conf(5)
                               still says NO, the 3.0.3pre2 changelog and
                               the binary say YES
      strict_ssl_write_shutdown=NO  vsftpd ends a download with its own
                               close_notify but does not need the client's
      ssl_ciphers=ECDHE-RSA-AES256-GCM-SHA384  (TLS 1.2: an RSA key only;
                               the TLS 1.3 suites are not restricted)
      ssl_sslv2=NO, ssl_sslv3=NO, ssl_tlsv1=YES  3.0.3 has no
                               ssl_tlsv1_1/_2/_3 switches and never turns
                               TLS 1.3 off: TLS 1.3 by default, TLS 1.2
                               when the client asks no more
      ssl_request_cert=YES     asks for a client certificate (takes none)
      implicit_ssl=NO          explicit FTPS (AUTH TLS)

    Clear text: "530 Anonymous sessions must use encryption." to a USER
    before AUTH TLS; PROT C is accepted (200) but a data connection then
    gets "522 Data connections must be encrypted.".

    debug_ssl=YES: vsftpd.log gets each TLS handshake ("SSL version:
    TLSv1.3, ..., reused"), a missing close_notify ("DATA connection
    terminated without SSL shutdown. Buggy client! ...") and OpenSSL's
    errors; with log_ftp_protocol=YES every reply is in it too ("FTP
    response: Client "...", "522 ..."": log_since()).
    """
    kind = "vsftpd-tls"

    def conf_lines(self):
        return super().conf_lines() + [
            "ssl_enable=YES",
            "allow_anon_ssl=YES",
            "force_anon_logins_ssl=YES",
            "force_anon_data_ssl=YES",
            f"rsa_cert_file={self.tls_cert}",
            f"rsa_private_key_file={self.tls_key}",
            "debug_ssl=YES",
        ]


class ProftpdTls(TlsServer, Server):
    """ProFTPD 1.3.8 (Debian's proftpd-core + proftpd-mod-crypto, unpacked in
    .deps/proftpd-tls by deploy/install-test-deps.sh) with mod_tls.so (no
    libssl preload needed, unlike mod_proxy.so): TLSEngine on, TLSRequired
    on (login and data over TLS), TLSProtocol TLSv1.2 TLSv1.3, TLSOptions
    left at its default -- which REQUIRES a data connection to resume the
    control connection's TLS session (NoSessionReuseRequired would lift
    that). Measured (test_tls_servers_direct.py):
      * no reuse: "425 Unable to build data connection: Operation not
        permitted", tls.log "client did not reuse TLS session, rejecting
        data connection"; the session goes on;
      * an upload that ends without close_notify: 226, file complete;
      * downloads end with its close_notify; the client's is not needed;
      * clear text: "550 SSL/TLS required on the control channel" to USER,
        "534 Unwilling to accept security parameters" to PROT C.

    Anonymous only (`anonymous`, any password), chrooted into the root,
    uploads, overwrites and deletes allowed in pub/ (owned by ftpxanon, the
    anonymous sessions' user). ProFTPD checks the anonymous root as that
    user before it chroots: every directory above it must be traversable
    by others (conftest's workdir sees to it). AllowForeignAddress off (the
    default): like vsftpd, it refuses a data connection from, and a
    PORT/EPRT to, another address than the control peer's. MLSD (mod_facts)
    is there.

    Foreground (-n) under reaper.py; no DelayEngine (it sleeps on purpose),
    no reverse DNS, no ident, no mod_cap (its setreuid() fails here), no
    PAM (anonymous needs none). Logs in its directory: commands.log (the
    ExtendedLog: every command with its pid, peer address and reply code:
    seen_since, log_since), tls.log (mod_tls: handshakes, the refused
    session reuse), system.log.
    """
    kind = "proftpd-tls"
    user = "anonymous"
    password = "ftpx@example.org"
    has_mlsd = True
    passive_ports = (40000, 49999)

    @property
    def conf_path(self):
        return self.dir / "proftpd.conf"

    def event_path(self):
        return self.dir / "commands.log"

    @property
    def tls_log_path(self):
        return self.dir / "tls.log"

    @property
    def system_log_path(self):
        return self.dir / "system.log"

    def prepare(self):
        binary = PROFTPD_ROOT / "usr/sbin/proftpd"
        if not (binary.exists() and (PROFTPD_ROOT / "usr/lib/proftpd/mod_tls.so").exists()):
            raise RuntimeError(f"{PROFTPD_ROOT} has no proftpd + mod_tls.so: "
                               "run deploy/install-test-deps.sh")
        # it stats the anonymous root as the anonymous user, before chroot()
        for d in self.root.parents:
            if not os.stat(d).st_mode & 0o001:
                raise RuntimeError(f"{d} is not traversable by others: ProFTPD would refuse "
                                   f"the anonymous root {self.root} (chmod o+x {d})")
        shutil.chown(self.pub, user="ftpxanon")
        self.conf_path.write_text(self.conf())
        os.chmod(self.conf_path, 0o600)

    def conf(self):
        lo, hi = self.passive_ports
        return f"""# generated by tests/ftpx/servers.py (ProftpdTls)
ServerType standalone
ServerName "ftpx"
ServerIdent on "proftpd test server ready."
DefaultServer on
DefaultAddress {self.addr}
Port {self.port}
SocketBindTight on
UseIPv6 {"on" if self.family == "v6" else "off"}
User nobody
Group nogroup
PidFile {self.dir}/proftpd.pid
ScoreboardFile {self.dir}/proftpd.scoreboard
ModulePath {PROFTPD_ROOT}/usr/lib/proftpd
MaxInstances 256
UseReverseDNS off
WtmpLog off
TransferLog {self.dir}/xferlog
SystemLog {self.system_log_path}
PassivePorts {lo} {hi}
AllowOverwrite on
AllowStoreRestart on
Umask 022
AuthOrder mod_auth_unix.c
<IfModule mod_auth_pam.c>
  AuthPAM off
</IfModule>
<IfModule mod_delay.c>
  DelayEngine off
</IfModule>
<IfModule mod_ident.c>
  IdentLookups off
</IfModule>
<IfModule mod_ctrls.c>
  ControlsEngine off
</IfModule>
<IfModule mod_cap.c>
  CapabilitiesEngine off
</IfModule>
LogFormat ftpx "%{{iso8601}} %P [%a] %s %r"
ExtendedLog {self.event_path()} ALL ftpx

LoadModule mod_tls.c
<IfModule mod_tls.c>
  TLSEngine on
  TLSRequired on
  TLSProtocol TLSv1.2 TLSv1.3
  TLSRSACertificateFile {self.tls_cert}
  TLSRSACertificateKeyFile {self.tls_key}
  TLSVerifyClient off
  TLSLog {self.tls_log_path}
</IfModule>

<Anonymous {self.root}>
  User ftpxanon
  Group ftpxanon
  UserAlias anonymous ftpxanon
  RequireValidShell off
  AnonRequirePassword off
  MaxClients none
</Anonymous>
"""

    def argv(self):
        return [PYTHON, REAPER, PROFTPD_ROOT / "usr/sbin/proftpd", "-n", "-c", self.conf_path]

    # 2026-12-01 22:30:00,123 4242 [127.0.0.1] 331 USER anonymous
    _line = re.compile(r"^\S+ \S+ (\d+) \[([^\]]+)\] (\S+) (.*)$")

    def seen_since(self, mark):
        """Commands from the ExtendedLog; a control peer per session (the
        address of a session's first logged command)."""
        ctl, cmds, sessions = [], [], set()
        for line in self._read_since(mark).splitlines():
            m = self._line.match(line)
            if not m:
                continue
            pid, peer, _code, req = m.groups()
            peer = _unmap(peer)
            verb, _, arg = req.partition(" ")
            if not verb or verb == "-":
                continue
            if pid not in sessions:
                sessions.add(pid)
                ctl.append(peer)
            cmds.append((peer, verb.upper(), arg))
        return Seen(ctl, [], cmds, data_visible=False)

    def diagnostics(self):
        out = super().diagnostics()
        for title, path in (("commands.log", self.event_path()), ("tls.log", self.tls_log_path),
                            ("system.log", self.system_log_path)):
            out += f"\n--- {title} (tail)\n" + _tail(path, 40)
        return out


class PureFtpdTls(TlsServer, Server):
    """pure-ftpd 1.0.50 (Debian's, unpacked in .deps/pure-ftpd) with FTPS,
    anonymous only (-e; `anonymous` or `ftp`, logged in at USER: 230, no
    PASS), run by pureftpd_launch.py (why: see there) in a mount namespace
    of its own.

    tls_level (pure-ftpd -Y): 3 by default, i.e. TLS REQUIRED on the control
    connection AND on every data connection, like the vsftpd and ProFTPD
    kinds: a USER in clear text gets "421 ... Please reconnect using TLS
    security mechanisms." and the connection closes; PROT C is accepted
    (200) but a data connection then gets "521 Data connection cannot be
    opened with this PROT setting.". -Y 2 would refuse the clear-text login
    but allow clear data connections. Certificate and key: -2 cert,key.

    pure-ftpd does NOT demand TLS session reuse on data connections (its
    tls.c never checks SSL_session_reused): reuse_required is False. With
    TLS 1.3 it gives the client no ticket, so a data connection is a full
    handshake anyway; with TLS 1.2 it resumes. It takes an upload that ends
    without close_notify (226) and ends downloads with its own.

    No FXP (-w/-W not given): like vsftpd, it refuses a PORT/EPRT to, and a
    passive data connection from, another address than the control peer's.
    Anonymous users may upload (and create directories: -M) but never
    overwrite, delete or rename a file (pure-ftpd's own rule; "550
    Anonymous users may not overwrite existing files"): upload to new names.

    -d -d: every command and every reply goes to its syslog, which the
    launcher writes to syslog.log (seen_since, log_since) a moment later:
    a test that needs the very last line (QUIT, say) right after the reply
    should poll for it (ftpx.wait.wait_until). -H: no reverse DNS. -1: the
    session's pid in each line.
    """
    kind = "pure-ftpd-tls"
    user = "anonymous"
    password = "ftpx@example.org"
    has_mlsd = True
    reuse_required = False
    passive_ports = (40000, 49999)

    def __init__(self, family, workdir, big_file, name=None, addr=None, port=None,
                 tls_sans=None, tls_level=3):
        self.tls_level = tls_level
        super().__init__(family, workdir, big_file, name=name, addr=addr, port=port,
                         tls_sans=tls_sans)

    def event_path(self):
        return self.dir / "syslog.log"

    def prepare(self):
        if not PUREFTPD_BIN.exists():
            raise RuntimeError(f"{PUREFTPD_BIN} missing: run deploy/install-test-deps.sh")
        shutil.chown(self.pub, user="ftpxanon")

    def argv(self):
        lo, hi = self.passive_ports
        return [PYTHON, PUREFTPD_LAUNCH, "--dir", self.dir, "--anon-root", self.root,
                "--anon-user", "ftpxanon", "--privsep-user", "ftpsecure",
                "--log", self.event_path(), "--",
                PUREFTPD_BIN, "-S", f"{self.addr},{self.port}",
                "-e", "-M", "-H", "-A", "-d", "-d", "-1",
                "-c", "256", "-C", "256", "-p", f"{lo}:{hi}",
                "-Y", str(self.tls_level), "-2", f"{self.tls_cert},{self.tls_key}"]

    # "Dec  1 22:30:00 pure-ftpd[4242]: (?@127.0.0.1) [DEBUG] Command [auth] [TLS]"
    _line = re.compile(r"\[(\d+)\]: \(([^@)]*)@([^)]+)\) \[(\w+)\] (.*)$")
    _connect = re.compile(r"^New connection from (\S+)")
    _cmd = re.compile(r"^Command \[(\w+)\] \[(.*)\]$")

    def seen_since(self, mark):
        ctl, cmds = [], []
        for line in self._read_since(mark).splitlines():
            m = self._line.search(line)
            if not m:
                continue
            _pid, _acct, host, _lvl, msg = m.groups()
            c = self._connect.match(msg)
            if c:
                ctl.append(_unmap(c.group(1)))
                continue
            c = self._cmd.match(msg)
            if c:
                cmds.append((_unmap(host), c.group(1).upper(), c.group(2)))
        return Seen(ctl, [], cmds, data_visible=False)

    def diagnostics(self):
        return super().diagnostics() + "\n--- syslog.log (tail)\n" + _tail(self.event_path(), 60)


def _tail(path, n):
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except FileNotFoundError:
        return ""


SERVER_KINDS = {"pyftpdlib": Pyftpd, "vsftpd": Vsftpd,
                "pyftpdlib-misbehaving": MisbehavingPyftpd,
                "pyftpdlib-tls": PyftpdTls, "vsftpd-tls": VsftpdTls,
                "proftpd-tls": ProftpdTls, "pure-ftpd-tls": PureFtpdTls}
