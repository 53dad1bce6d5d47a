#!/usr/bin/python3
"""One transfer with a real client (curl or lftp), run inside the client
namespace; prints one JSON line: the sha256 of what was transferred and the
client's protocol transcript (from curl -v / lftp's debug log), so the test
can prove which data mode was really used (curl falls back silently).

  real_client.py CLIENT MODE OP HOST PATH --source ADDR --user U --password P
                 --work DIR [--file LOCAL] [--port N] [--verify-address]

CLIENT: curl, lftp. MODE: PASV, EPSV, PORT, EPRT. OP: retr, stor (uploads
--file to PATH). --verify-address (lftp): refuse a data connection whose
peer is not the host dialled (`ftp:verify-address`), as some clients do.
The clients themselves are the loopback suite's
(tests/ftpx/clients.py); only the address they dial differs. Needs tests/
on PYTHONPATH (World.real_client sets it).
"""
import argparse
import json
from pathlib import Path

from ftpx.clients import Curl, run_lftp
from ftpx.digest import sha256, sha256_file


class _Server:
    def __init__(self, user, password):
        self.user, self.password = user, password


class _Route:
    """What ftpx.clients needs of a route: where to dial, from where, as whom."""

    def __init__(self, host, port, source, user, password):
        self.host, self.port, self.client_addr = host, port, source
        self.server = _Server(user, password)

    def url(self, path=""):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ftp://{host}:{self.port}/{path}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("client", choices=["curl", "lftp"])
    ap.add_argument("mode", choices=["PASV", "EPSV", "PORT", "EPRT"])
    ap.add_argument("op", choices=["retr", "stor"])
    ap.add_argument("host")
    ap.add_argument("path")
    ap.add_argument("--source", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--file")
    ap.add_argument("--port", type=int, default=21)
    ap.add_argument("--verify-address", action="store_true")
    a = ap.parse_args()
    settings = ["set ftp:verify-address yes"] if a.verify_address else []
    route = _Route(a.host, a.port, a.source, a.user, a.password)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    if a.client == "curl":
        curl = Curl(route, a.mode, work, timeout=60)
        if a.op == "retr":
            out, tr = curl(a.path)
            sha = sha256(out)
        else:
            _, tr = curl(a.path, "-T", a.file)
            sha = sha256_file(a.file)
    else:
        if a.op == "retr":
            local = work / "lftp-download.bin"
            _, tr, _ = run_lftp(route, a.mode, settings + [f"get {a.path} -o {local}"], work,
                                timeout=90)
            sha = sha256_file(local)
            local.unlink()
        else:
            _, tr, _ = run_lftp(route, a.mode, settings + [f"put {a.file} -o {a.path}"], work,
                                timeout=90)
            sha = sha256_file(a.file)
    print(json.dumps({"sha256": sha, "transcript": list(tr)}))


if __name__ == "__main__":
    main()
