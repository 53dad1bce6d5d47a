"""A raw FTP control connection: exact bytes out, exact reply lines in."""
import re
import socket
import time

from . import net

_FINAL = re.compile(rb"^(\d{3}) ")
_FIRST_MULTI = re.compile(rb"^(\d{3})-")


class Reply:
    def __init__(self, lines):
        self.lines = lines                     # decoded, without CRLF
        self.code = int(lines[-1][:3])

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def last(self):
        return self.lines[-1]

    def __repr__(self):
        return f"Reply({self.lines!r})"


class Raw:
    def __init__(self, host, port, source, timeout=10.0):
        self.sock = net.connect(host, port, source=source, timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.log = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.log.append((">", data))
        self.sock.sendall(data)

    def _line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no complete reply line within the bound; have {self.buf!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise AssertionError(f"no reply within the bound; have {self.buf!r}") from None
            if not chunk:
                raise EOFError(f"connection closed; pending {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        line = line.rstrip(b"\r")
        self.log.append(("<", line))
        return line

    def reply(self, timeout=None):
        """One complete reply (multi-line replies read to their last line)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        first = self._line(deadline)
        lines = [first]
        m = _FIRST_MULTI.match(first)
        if m:
            code = m.group(1)
            while True:
                l = self._line(deadline)
                lines.append(l)
                if l.startswith(code + b" "):
                    break
        elif not _FINAL.match(first):
            raise AssertionError(f"not an FTP reply line: {first!r}")
        return Reply([l.decode("utf-8", "replace") for l in lines])

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def expect(self, line, code, timeout=None):
        r = self.cmd(line, timeout)
        assert r.code == code, f"{line!r}: expected {code}, got {r.lines}"
        return r

    def banner(self):
        r = self.reply()
        assert r.code == 220, f"banner: {r.lines}"
        return r

    def login(self, user, password):
        r = self.cmd(f"USER {user}")
        if r.code == 331:
            r = self.cmd(f"PASS {password}")
        assert r.code == 230, f"login as {user}: {r.lines}"
        return r

    def wait_closed(self, timeout=10.0):
        """True when the peer closes (EOF or reset) within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.buf += chunk


def parse_227(text):
    m = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", text)
    assert m, f"cannot parse 227: {text!r}"
    n = [int(x) for x in m.groups()]
    return ".".join(map(str, n[:4])), n[4] * 256 + n[5]


def parse_229(text):
    m = re.search(r"\(\|\|\|(\d+)\|\)", text)
    assert m, f"cannot parse 229: {text!r}"
    return int(m.group(1))


def open_passive(raw, family, host):
    """PASV (v4) / EPSV (v6) on raw; returns (reply, data address, port)."""
    if family == "v4":
        r = raw.expect("PASV", 227)
        a, p = parse_227(r.last)
        return r, a, p
    r = raw.expect("EPSV", 229)
    return r, host, parse_229(r.last)


def read_until_end(sock, received=0, timeout=15.0, endings=((ConnectionResetError, "reset"),)):
    """Reads sock until it ends; returns (bytes received, how it ended):
    "clean end of file", or the name `endings` gives the exception that
    ended it. `received`: bytes already read before."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return received, "clean end of file"
            received += len(chunk)
    except tuple(kind for kind, _ in endings) as error:
        return received, next(name for kind, name in endings if isinstance(error, kind))


def recv_all(sock, timeout=30.0, limit=1 << 30):
    """Read a data connection to EOF within a bound."""
    deadline = time.monotonic() + timeout
    parts, n = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"data connection not finished within {timeout}s ({n} bytes)")
        sock.settimeout(left)
        chunk = sock.recv(1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        n += len(chunk)
        if n > limit:
            raise AssertionError("data connection exceeds limit")
