"""sha256 of bytes, of files and of an ftplib download, as the tests
compare them (hex)."""
import hashlib


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    """The file's sha256, read in 1 MiB pieces (files of 32 MiB and more)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_retr(ftp, path, rest=None, head=b""):
    """The sha256 of head + what `RETR path` (from offset rest, if given)
    delivers over the ftplib connection ftp, read in 1 MiB pieces."""
    h = hashlib.sha256(head)
    ftp.retrbinary(f"RETR {path}", h.update, blocksize=1 << 20, rest=rest)
    return h.hexdigest()
