"""The interop scenario, once per client: what each client does to a server.

Every step checks content, not just exit codes:
  login; LIST (names big.bin); MLSD (pyftpdlib only); RETR of the 32 MiB
  file (sha256); SIZE (213 33554432); REST resume from 16 MiB (sha256 of
  the whole); STOR of the 32 MiB file (sha256 on the server's disk); APPE
  (ftplib, curl: 1 MiB + 1 MiB, the server file is the first 2 MiB); DELE
  (the files are gone from the server's disk).

Each run_* returns a Result; `check_stored(result)` is called after the
uploads and before DELE, so the test can read the server's disk.
"""
import dataclasses
import io
import re
from pathlib import Path

from .clients import Curl, ftplib_connect, run_lftp
from .digest import sha256, sha256_file, sha256_retr

HALF = 16 * 1024 * 1024
APPE_PART = 1024 * 1024


@dataclasses.dataclass
class Result:
    listing: str = ""
    mlsd: list = None                 # [names] or None when not done
    retr_sha: str = ""
    size_reply: str = ""
    resume_sha: str = ""
    rest_replies: list = dataclasses.field(default_factory=list)
    appe_replies: list = dataclasses.field(default_factory=list)
    stored: list = dataclasses.field(default_factory=list)     # (name, expected sha)
    dele_replies: list = dataclasses.field(default_factory=list)
    transcripts: list = dataclasses.field(default_factory=list)
    pasv_hosts: list = dataclasses.field(default_factory=list)  # where a 227 sent the client
    active_peers: list = dataclasses.field(default_factory=list)
    client_log: str = ""

    def transcript_text(self):
        return "\n----\n".join(t.text() for t in self.transcripts)


# ------------------------------------------------------------------ ftplib

def run_ftplib(route, mode, big, work, tag, check_stored):
    res = Result()
    f = ftplib_connect(route, mode)
    res.transcripts.append(f.transcript)
    try:
        lines = []
        f.retrlines("LIST pub", lines.append)
        res.listing = "\n".join(lines)
        if route.server.has_mlsd:
            res.mlsd = [name for name, _ in f.mlsd("pub", facts=["type", "size"])]
        res.retr_sha = sha256_retr(f, "pub/big.bin")
        res.size_reply = f.sendcmd("SIZE pub/big.bin")
        res.resume_sha = sha256_retr(f, "pub/big.bin", rest=HALF, head=big.data[:HALF])
        res.rest_replies = f.transcript.reply_to("REST")
        up = f"up-{tag}.bin"
        with open(big.path, "rb") as src:
            f.storbinary(f"STOR pub/{up}", src, blocksize=1 << 20)
        res.stored.append((up, big.sha))
        ap = f"ap-{tag}.bin"
        f.storbinary(f"STOR pub/{ap}", io.BytesIO(big.data[:APPE_PART]))
        f.storbinary(f"APPE pub/{ap}", io.BytesIO(big.data[APPE_PART:2 * APPE_PART]))
        res.appe_replies = f.transcript.reply_to("APPE")
        res.stored.append((ap, sha256(big.data[:2 * APPE_PART])))
        check_stored(res)
        for name, _ in res.stored:
            res.dele_replies.append(f.delete(f"pub/{name}"))
        f.quit()
    finally:
        f.close()
    res.pasv_hosts = [h for h, _ in f.pasv_targets] if mode == "PASV" else []
    res.active_peers = list(f.active_peers)
    return res


# ------------------------------------------------------------------ curl

def run_curl(route, mode, big, work, tag, check_stored):
    res = Result()
    work = Path(work)
    c = Curl(route, mode, work)
    res.transcripts = c.transcripts
    out, _ = c("pub/")
    res.listing = out.decode(errors="replace")
    if route.server.has_mlsd:
        out, _ = c("pub/", "-X", "MLSD")
        res.mlsd = [l.partition(" ")[2] for l in out.decode(errors="replace").splitlines() if l]
    retr = work / "retr.bin"
    c("pub/big.bin", "-o", retr)
    res.retr_sha = sha256_file(retr)
    _, tr = c("pub/big.bin", "-I")                 # curl -I sends SIZE (and MDTM)
    res.size_reply = (tr.reply_to("SIZE") or [""])[0]
    part = work / "resume.bin"
    part.write_bytes(big.data[:HALF])
    _, tr = c("pub/big.bin", "-C", "-", "-o", part)
    res.rest_replies = tr.reply_to("REST")
    res.resume_sha = sha256_file(part)
    up = f"up-{tag}.bin"
    c(f"pub/{up}", "-T", big.path)
    res.stored.append((up, big.sha))
    ap = f"ap-{tag}.bin"
    p1, p2 = work / "ap1.bin", work / "ap2.bin"
    p1.write_bytes(big.data[:APPE_PART])
    p2.write_bytes(big.data[APPE_PART:2 * APPE_PART])
    c(f"pub/{ap}", "-T", p1)
    _, tr = c(f"pub/{ap}", "-T", p2, "--append")
    res.appe_replies = tr.reply_to("APPE")
    res.stored.append((ap, sha256(big.data[:2 * APPE_PART])))
    check_stored(res)
    for name, _ in res.stored:
        _, tr = c("", "-Q", f"DELE pub/{name}", "-I")   # -I: no transfer, only the quote
        res.dele_replies += tr.reply_to("DELE")
    return res


# ------------------------------------------------------------------ lftp

def run_lftp_scenario(route, mode, big, work, tag, check_stored):
    """lftp never sends APPE (NOTES.md): no APPE step."""
    res = Result()
    work = Path(work)
    (work / "resume.bin").write_bytes(big.data[:HALF])
    up = f"up-{tag}.bin"
    cmds = ["cd pub", f"ls > {work}/list.txt"]
    if route.server.has_mlsd:
        cmds.append(f"cls -1 > {work}/mlsd.txt")
    cmds += [
        f"get big.bin -o {work}/retr.bin",
        f"quote SIZE big.bin > {work}/size.txt",
        f"get -c big.bin -o {work}/resume.bin",
        f"put {big.path} -o {up}",
    ]
    out, tr, dbg = run_lftp(route, mode, cmds, work, name=f"lftp-{tag}")
    res.transcripts.append(tr)
    res.client_log = dbg
    res.listing = (work / "list.txt").read_text(errors="replace")
    if route.server.has_mlsd:
        res.mlsd = [n.strip() for n in (work / "mlsd.txt").read_text().splitlines() if n.strip()]
    res.retr_sha = sha256_file(work / "retr.bin")
    res.size_reply = (work / "size.txt").read_text().strip()
    res.resume_sha = sha256_file(work / "resume.bin")
    res.rest_replies = tr.reply_to("REST")
    res.stored.append((up, big.sha))
    res.pasv_hosts = _lftp_pasv_hosts(dbg)
    check_stored(res)
    out, tr2, dbg2 = run_lftp(route, mode, ["cd pub"] + [f"rm {n}" for n, _ in res.stored],
                              work, name=f"lftp-dele-{tag}")
    res.transcripts.append(tr2)
    res.dele_replies = tr2.reply_to("DELE")
    return res


def _lftp_pasv_hosts(dbg):
    # lftp's debug log: "---- Connecting data socket to (127.0.0.2) port 41234"
    return re.findall(r"Connecting data socket to \(([^)]+)\) port", dbg)


RUNNERS = {"ftplib": run_ftplib, "curl": run_curl, "lftp": run_lftp_scenario}
