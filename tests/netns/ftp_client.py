#!/usr/bin/python3
"""One FTP transfer with Python's ftplib, in the mode asked for; prints a
JSON line with the sha256 of what was transferred and every reply to the
data-setup command. Run inside the client namespace.

  ftp_client.py HOST MODE OP PATH --source ADDR [--honour-227] [--file LOCAL]
                [--timeout S]

MODE: PASV, EPSV, PORT, EPRT. OP: retr (sha of the download) or stor
(uploads --file to PATH).
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
        if a.mode == "EPRT" and ":" not in a.host:
            ftp.makeport = lambda: _eprt(ftp, a.source, a.timeout)
    digest = hashlib.sha256()
    if a.op == "retr":
        ftp.retrbinary(f"RETR {a.path}", digest.update, blocksize=65536)
    else:
        with open(a.file, "rb") as f:
            ftp.storbinary(f"STOR {a.path}", f, blocksize=65536)
        with open(a.file, "rb") as f:
            digest.update(f.read())
    ftp.quit()
    print(json.dumps({"sha256": digest.hexdigest(), "replies": replies}))


def _eprt(ftp, source, timeout):
    sock = socket.create_server((source, 0))
    sock.settimeout(timeout)   # bounded accept, as ftplib's own makeport
    port = sock.getsockname()[1]
    ftp.sendcmd(f"EPRT |1|{source}|{port}|")
    return sock


if __name__ == "__main__":
    main()
