#!/usr/bin/python3
"""One FTP transfer with Python's ftplib, in the mode asked for; prints a
JSON line with the sha256 of what was transferred and every reply to the
data-setup command. Run inside the client namespace.

  ftp_client.py HOST MODE OP PATH --source ADDR [--honour-227] [--file LOCAL]
                [--timeout S]

MODE: PASV, EPSV, PORT, EPRT. OP: retr (sha of the download) or stor
(uploads --file to PATH). In PORT/EPRT mode the JSON also names the peer
of every data connection the client accepted ("data_peers": [[ADDR, PORT]]),
so a test can check where an active data connection really came from.
"""
import argparse
import ftplib
import hashlib
import json
import socket


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("mode", choices=["PASV", "EPSV", "PORT", "EPRT"])
    ap.add_argument("op", choices=["retr", "stor"])
    ap.add_argument("path")
    ap.add_argument("--source", required=True)
    ap.add_argument("--honour-227", action="store_true")
    ap.add_argument("--file")
    ap.add_argument("--timeout", type=float, default=15.0)
    a = ap.parse_args()

    ftp = ftplib.FTP(timeout=a.timeout, source_address=(a.source, 0))
    ftp.trust_server_pasv_ipv4_address = a.honour_227
    ftp.connect(a.host, 21)
    ftp.login("test", "secret")
    replies = []
    peers = []

    def recording(orig):
        def send(cmd):
            resp = None
            try:
                resp = orig(cmd)
            except ftplib.Error as e:   # voidcmd raises on a non-2xx reply
                resp = str(e)
                raise
            finally:
                if cmd.split(" ")[0] in ("PASV", "EPSV", "PORT", "EPRT"):
                    replies.append([cmd.split(" ")[0], resp])
            return resp
        return send

    # ftplib sends PASV/EPSV with sendcmd, PORT/EPRT with voidcmd.
    ftp.sendcmd = recording(ftp.sendcmd)
    ftp.voidcmd = recording(ftp.voidcmd)
    if a.mode in ("PASV", "EPSV"):
        ftp.set_pasv(True)
        # ftplib picks PASV or EPSV by the address family it believes in.
        ftp.af = socket.AF_INET6 if a.mode == "EPSV" else socket.AF_INET
    else:
        ftp.set_pasv(False)
        ftp.makeport = lambda: _listen(ftp, a.mode, a.source, a.timeout, peers)
    digest = hashlib.sha256()
    if a.op == "retr":
        ftp.retrbinary(f"RETR {a.path}", digest.update, blocksize=65536)
    else:
        with open(a.file, "rb") as f:
            ftp.storbinary(f"STOR {a.path}", f, blocksize=65536)
        with open(a.file, "rb") as f:
            digest.update(f.read())
    ftp.quit()
    out = {"sha256": digest.hexdigest(), "replies": replies}
    if a.mode in ("PORT", "EPRT"):
        out["data_peers"] = peers
    print(json.dumps(out))


class _RecordingSocket(socket.socket):
    """A listening socket that notes the peer of each connection it accepts
    (ftplib's ntransfercmd drops it)."""

    def accept(self):
        conn, addr = super().accept()
        self.peers.append([addr[0], addr[1]])
        return conn, addr


def _listen(ftp, mode, source, timeout, peers):
    """ftplib's makeport, with the verb chosen by the test (ftplib picks it by
    the family) and the accepted peers recorded."""
    v6 = ":" in source
    sock = _RecordingSocket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    sock.peers = peers
    sock.bind((source, 0))
    sock.listen(1)
    sock.settimeout(timeout)   # bounded accept, as ftplib's own makeport
    port = sock.getsockname()[1]
    if mode == "PORT":
        ftp.sendport(source, port)
    else:
        ftp.sendcmd(f"EPRT |{2 if v6 else 1}|{source}|{port}|")
    return sock


if __name__ == "__main__":
    main()
