"""The three FTP clients: Python ftplib (in process), curl and lftp.

Each client records its protocol transcript, a list of ('>', command) and
('<', reply line), so a test can prove which data mode was really used
(curl falls back silently, see NOTES.md) and what the replies were.
"""
import ftplib
import re
import socket
import ssl
import subprocess
from pathlib import Path

from . import net
from .procs import run

MODES = ("PASV", "EPSV", "PORT", "EPRT")
PASSIVE = ("PASV", "EPSV")
MODE_REPLY = {"PASV": "227", "EPSV": "229", "PORT": "200", "EPRT": "200"}

# What each client can be made to send, per client address family.
#   curl on IPv6 turns PASV into EPSV and PORT into EPRT by itself;
#   lftp sends PORT on IPv4 and EPRT on IPv6, never the other way round;
#   ftplib can send anything, but PORT cannot carry an IPv6 address, and
#   PASV over IPv6 is the "expect 425" case (test_pasv_over_ipv6_refused).
CLIENT_MODES = {
    "ftplib": {"v4": MODES, "v6": ("EPSV", "EPRT")},
    "curl": {"v4": MODES, "v6": ("EPSV", "EPRT")},
    "lftp": {"v4": ("PASV", "EPSV", "PORT"), "v6": ("EPSV", "EPRT")},
}
CLIENTS = tuple(CLIENT_MODES)


class Transcript(list):
    def sent(self):
        return [l for d, l in self if d == ">"]

    def replies(self):
        return [l for d, l in self if d == "<"]

    def sent_verbs(self):
        return [l.split(" ", 1)[0].upper() for l in self.sent()]

    def data_setup(self):
        """[(verb, first reply line)] for every PASV/EPSV/PORT/EPRT sent."""
        out = []
        items = list(self)
        for i, (d, l) in enumerate(items):
            if d != ">":
                continue
            verb = l.split(" ", 1)[0].upper()
            if verb not in MODES:
                continue
            reply = next((r for dd, r in items[i + 1:] if dd == "<" and re.match(r"^\d{3}[ -]", r)), None)
            out.append((verb, reply))
        return out

    def reply_to(self, verb):
        """Completion reply (first non-1xx) to every command starting with verb."""
        out = []
        items = list(self)
        for i, (d, l) in enumerate(items):
            if d == ">" and l.upper().startswith(verb.upper()):
                for dd, r in items[i + 1:]:
                    if dd == "<" and re.match(r"^[2-5]\d\d ", r):
                        out.append(r)
                        break
        return out

    def text(self):
        return "\n".join(f"{d} {l}" for d, l in self)


def assert_mode_used(tr, mode, who):
    """Every data connection was set up with `mode`, and the reply said yes."""
    ds = tr.data_setup()
    assert ds, f"{who}: no PASV/EPSV/PORT/EPRT sent at all\n{tr.text()}"
    verbs = {v for v, _ in ds}
    assert verbs == {mode}, (f"{who}: expected only {mode}, client sent {sorted(verbs)} "
                             f"(silent fallback?)\n{tr.text()}")
    bad = [(v, r) for v, r in ds if not (r and r.startswith(MODE_REPLY[mode]))]
    assert not bad, f"{who}: {mode} not accepted: {bad}\n{tr.text()}"


# --------------------------------------------------------------------------
# ftplib

class RecFTP(ftplib.FTP):
    """ftplib.FTP that records its transcript and uses exactly `mode`.

    trust_server_pasv_ipv4_address=True: Python's ftplib IGNORES the address
    of a 227 reply by default since 3.6.14/3.7 (like curl). Set to True it
    connects where the 227 says, i.e. it honours the proxy's rewrite.
    """

    def __init__(self, mode="EPSV", source=None, timeout=20):
        super().__init__(timeout=timeout, source_address=(source, 0) if source else None)
        self.mode = mode
        self.trust_server_pasv_ipv4_address = True
        self.transcript = Transcript()
        self.pasv_targets = []       # where we connected in passive mode
        self.active_peers = []       # who connected to us in active mode
        self.set_pasv(mode in PASSIVE)

    def putline(self, line):
        shown = "PASS ****" if line.upper().startswith("PASS ") else line
        self.transcript.append((">", shown))
        super().putline(line)

    def getline(self):
        line = super().getline()
        self.transcript.append(("<", line))
        return line

    def makepasv(self):
        if self.mode == "PASV":
            host, port = ftplib.parse227(self.sendcmd("PASV"))
        else:
            host, port = ftplib.parse229(self.sendcmd("EPSV"), self.sock.getpeername())
        self.pasv_targets.append((host, port))
        return host, port

    def makeport(self):
        local = self.sock.getsockname()[0]
        sock = socket.socket(self.af, socket.SOCK_STREAM)
        sock.bind((local, 0))
        sock.listen(1)
        sock.settimeout(self.timeout)
        port = sock.getsockname()[1]
        if self.mode == "PORT":
            self.sendport(local, port)
        else:
            self.sendeprt(local, port)
        return sock

    def ntransfercmd(self, cmd, rest=None):
        # As ftplib's, plus recording the active-mode peer.
        if self.passiveserver:
            return super().ntransfercmd(cmd, rest)
        size = None
        with self.makeport() as sock:
            if rest is not None:
                self.sendcmd("REST %s" % rest)
            resp = self.sendcmd(cmd)
            if resp[0] == "2":
                resp = self.getresp()
            if resp[0] != "1":
                raise ftplib.error_reply(resp)
            conn, peer = sock.accept()
            conn.settimeout(self.timeout)
            self.active_peers.append(peer[0])
        if resp[:3] == "150":
            size = ftplib.parse150(resp)
        return conn, size


def ftplib_connect(route, mode="EPSV", login=True, timeout=20):
    f = RecFTP(mode=mode, source=route.client_addr, timeout=timeout)
    f.connect(route.host, route.port)
    if login:
        f.login(route.server.user, route.server.password)
    return f


class TlsRecFTP(ftplib.FTP_TLS, RecFTP):
    """ftplib.FTP_TLS with RecFTP's transcript and exact data mode, for FTPS
    servers (servers.TlsServer kinds, or the proxy's client side).

    The server's certificate is verified: cafile is its self-signed
    certificate, and the name checked is tls_name, by default the address
    connected to (an IP subjectAltName; "ftp.test" is in every TLS kind's).

    reuse -- how each data connection's TLS handshake is made (Python
    3.11's ftplib.FTP_TLS never resumes a session by itself):
      "control"  resumes the control connection's session as it is now
                 (self.sock.session: with TLS 1.3, the newest ticket the
                 control connection received); vsftpd and ProFTPD demand a
                 resumption
      "first"    resumes, every time, the one session object taken at the
                 first data connection (the same TLS 1.3 ticket again)
      None       a full handshake: what vsftpd and ProFTPD refuse
    suppress_ragged_eofs -- False: a data connection that ends without the
    server's close_notify raises ssl.SSLEOFError instead of reading as EOF.
    data -- (command, TLS version, session_reused) per data connection.
    """
    suppress_ragged_eofs = True

    def __init__(self, mode, source, cafile, tls_name=None, reuse="control", timeout=20):
        # FTP_TLS.__init__'s own part; RecFTP's then (its super() is FTP).
        self.context = ssl.create_default_context(cafile=str(cafile))
        self._prot_p = False
        self.keyfile = self.certfile = None
        self.tls_name = tls_name
        self.reuse = reuse
        self.first_session = None
        self.data = []
        RecFTP.__init__(self, mode=mode, source=source, timeout=timeout)

    def auth(self):
        """FTP_TLS.auth, verifying tls_name instead of the host."""
        resp = self.voidcmd("AUTH TLS")
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.tls_name or self.host)
        self.file = self.sock.makefile(mode="r", encoding=self.encoding)
        return resp

    def data_session(self):
        if self.reuse == "control":
            return self.sock.session
        if self.reuse == "first":
            if self.first_session is None:
                self.first_session = self.sock.session
            return self.first_session
        return None

    def ntransfercmd(self, cmd, rest=None):
        conn, size = RecFTP.ntransfercmd(self, cmd, rest)      # still clear text
        if self._prot_p:
            try:
                conn = self.context.wrap_socket(conn, server_hostname=self.tls_name or self.host,
                                                session=self.data_session(),
                                                suppress_ragged_eofs=self.suppress_ragged_eofs)
            except BaseException:
                conn.close()
                raise
            self.data.append((cmd, conn.version(), conn.session_reused))
        return conn, size


# --------------------------------------------------------------------------
# curl

def curl_mode_args(mode):
    return {"PASV": ["--disable-epsv"],
            "EPSV": ["--epsv"],
            "PORT": ["--ftp-port", "-", "--disable-eprt"],
            "EPRT": ["--ftp-port", "-", "--eprt"]}[mode]


class Curl:
    """Runs curl once per operation; -v output parsed into a transcript.

    --ftp-skip-pasv-ip is curl's default: it ignores the 227 address.
    """

    def __init__(self, route, mode, workdir, timeout=60):
        self.route = route
        self.mode = mode
        self.workdir = Path(workdir)
        self.timeout = timeout
        self.n = 0
        self.transcripts = []

    def __call__(self, url_path, *args, expect_rc=0):
        self.n += 1
        errf = self.workdir / f"curl-{self.n}.stderr"
        s = self.route.server
        argv = ["curl", "-sS", "-v", "--interface", self.route.client_addr,
                "--connect-timeout", "10", "--max-time", str(self.timeout),
                "-u", f"{s.user}:{s.password}"] + curl_mode_args(self.mode) + \
               list(args) + [self.route.url(url_path)]
        with open(errf, "wb") as err:
            r = run(argv, timeout=self.timeout + 15, stdout=subprocess.PIPE, stderr=err)
        text = errf.read_bytes().decode("utf-8", "replace")
        tr = Transcript()
        for line in text.splitlines():
            if line.startswith("> "):
                l = line[2:]
                tr.append((">", "PASS ****" if l.upper().startswith("PASS ") else l))
            elif line.startswith("< "):
                tr.append(("<", line[2:]))
        self.transcripts.append(tr)
        assert r.returncode == expect_rc, (f"curl exit {r.returncode} (wanted {expect_rc}): "
                                           f"{' '.join(argv)}\n{text[-4000:]}")
        return r.stdout, tr


# --------------------------------------------------------------------------
# lftp

LFTP_BASE = [
    "set cmd:fail-exit yes",
    "set net:max-retries 1",            # never retry forever (its default)
    "set net:persist-retries 0",
    "set net:timeout 20",
    "set net:reconnect-interval-base 1",
    "set xfer:clobber on",
    "set ftp:ignore-pasv-address no",   # honour the 227 address
    "set ftp:fix-pasv-address no",
]


def lftp_mode_settings(mode):
    return {"PASV": ["set ftp:passive-mode on", "set ftp:prefer-epsv no"],
            "EPSV": ["set ftp:passive-mode on", "set ftp:prefer-epsv yes"],
            "PORT": ["set ftp:passive-mode off"],
            "EPRT": ["set ftp:passive-mode off"]}[mode]


def run_lftp(route, mode, commands, workdir, name="lftp", ssl_allow=False, timeout=120,
             expect_rc=0, settings=()):
    """One lftp session running `commands`; returns (stdout, transcript, debug log).
    settings: more `set` lines, before `open` (lftp may connect at `open`)."""
    workdir = Path(workdir)
    log = workdir / f"{name}.debug"
    fam = net.family_of(route.client_addr)
    s = route.server
    script = LFTP_BASE + lftp_mode_settings(mode) + [
        f"set ftp:ssl-allow {'yes' if ssl_allow else 'no'}",
        f"set net:socket-bind-ipv{4 if fam == 'v4' else 6} {route.client_addr}",
        f"debug -o {log} -t 9",
    ] + list(settings) + [
        f"open -u {s.user},{s.password} {route.url()}",
    ] + list(commands)
    r = run(["lftp", "-c", "; ".join(script)], timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dbg = log.read_text(errors="replace") if log.exists() else ""
    tr = Transcript()
    for line in dbg.splitlines():
        m = re.match(r"^(?:\S+ \S+ )?(--->|<---) (.*)$", line)
        if not m:
            continue
        d, l = m.groups()
        if d == "--->":
            tr.append((">", "PASS ****" if l.upper().startswith("PASS ") else l))
        else:
            tr.append(("<", l))
    assert r.returncode == expect_rc, (
        f"lftp exit {r.returncode}: {r.stderr.decode(errors='replace')[-2000:]}\n"
        f"--- transcript\n{tr.text()[-6000:]}")
    return r.stdout.decode(errors="replace"), tr, dbg
