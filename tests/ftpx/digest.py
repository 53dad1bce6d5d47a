"""sha256 of bytes and of files, as the tests compare them (hex)."""
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
