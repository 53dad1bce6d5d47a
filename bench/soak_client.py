"""The load of bench/soak.py: N concurrent FTP sessions in one asyncio loop.

Each of N slots opens sessions one after the other until the load's deadline:
connect, USER/PASS/TYPE I, a few transfers, QUIT. Every transfer is checked:
a RETR's bytes must have the file's size and sha256; a STOR's payload is
unique to that transfer (its first bytes name it) and the file the server
stored must have the payload's size and sha256 (read from the server's root
on the same tmpfs, then deleted). Modes and directions rotate over the eight
pairs RETR/STOR x PASV/EPSV/PORT/EPRT, so each gets an equal share.

Every wait is bounded (STEP_TIMEOUT a step), every loop is bounded in count
and in time. A session ends "completed" (all its transfers verified, 221 to
QUIT) or "failed" with the step and the reason; nothing is left uncounted.
"""
import asyncio
import hashlib
import os
import random
import re
import socket
import time

MODES = ("PASV", "EPSV", "PORT", "EPRT")
OPS = ("RETR", "STOR")
PAIRS = [(op, mode) for op in OPS for mode in MODES]

STEP_TIMEOUT = 60.0          # s, any one step (connect, a reply, a transfer)
MAX_REPLY_LINES = 64         # lines of one multi-line reply
MAX_LINE = 4096              # bytes of one reply line
CHUNK = 256 * 1024           # recv/send size on data connections
HEADER = 40                  # bytes that make each STOR payload unique
MAX_SESSIONS_PER_SLOT = 100000
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h; a source address without using a port up at bind()

_227 = re.compile(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")
_229 = re.compile(r"\(\|\|\|(\d+)\|\)")


class Failure(Exception):
    """A session's end other than completed: the step and what went wrong."""

    def __init__(self, step, reason):
        super().__init__(f"{step}: {reason}")
        self.step, self.reason = step, reason


class Control:
    """The control connection: one command, one reply, both bounded."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.loop = asyncio.get_running_loop()
        self.peer = sock.getpeername()[0]

    async def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise Failure("reply", f"line over {MAX_LINE} bytes")
            chunk = await self.loop.sock_recv(self.sock, 8192)
            if not chunk:
                raise Failure("reply", f"control connection closed (pending {bytes(self.buf[:80])!r})")
            self.buf += chunk
        line, _, rest = bytes(self.buf).partition(b"\n")
        self.buf = bytearray(rest)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    async def reply(self):
        first = await self.line()
        if len(first) < 4 or not first[:3].isdigit():
            raise Failure("reply", f"malformed reply {first[:80]!r}")
        if first[3] == "-":
            for _ in range(MAX_REPLY_LINES):
                last = await self.line()
                if last.startswith(first[:3] + " "):
                    return int(first[:3]), last
            raise Failure("reply", f"multi-line reply over {MAX_REPLY_LINES} lines")
        return int(first[:3]), first

    async def command(self, text, *expect):
        verb = text.split(" ", 1)[0]
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await self.loop.sock_sendall(self.sock, text.encode() + b"\r\n")
        except TimeoutError:
            raise Failure(verb, f"command not sent within {STEP_TIMEOUT} s") from None
        return await self.expect(verb, *expect)

    async def expect(self, step, *codes):
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                code, text = await self.reply()
        except TimeoutError:
            raise Failure(step, f"no reply within {STEP_TIMEOUT} s") from None
        if code not in codes:
            raise Failure(step, f"reply {text[:160]!r}")
        return text


class Catalog:
    """The files to download (name, size, sha256) and the STOR payloads' source."""

    def __init__(self, files, pool, upload_dir, weights):
        self.files = files              # [(name, size, sha256 hex)]
        self.weights = weights
        self.pool = memoryview(pool)    # random bytes that payloads are cut from
        self.upload_dir = upload_dir


class Counters:
    def __init__(self):
        self.started = self.completed = 0
        self.failures = []               # dicts: slot, session, step, reason, seconds
        self.transfers = {f"{op} {mode}": 0 for op, mode in PAIRS}
        self.bytes = {"RETR": 0, "STOR": 0}
        self.latencies = []              # s, per verified transfer
        self.data_peers = {}             # source of active-mode data connections: count
        self.sessions_s = []             # s, per completed session


class Load:
    """One phase: `sessions` slots against host:port until `seconds` have passed."""

    def __init__(self, name, host, port, client_ip, sessions, seconds, catalog, connect_rate,
                 transfers_per_session, seed, sessions_per_slot=MAX_SESSIONS_PER_SLOT):
        self.name, self.host, self.port, self.client_ip = name, host, port, client_ip
        self.sessions, self.seconds = sessions, seconds
        self.catalog = catalog
        self.connect_gap = 1.0 / connect_rate
        self.transfers_per_session = transfers_per_session
        self.sessions_per_slot = min(sessions_per_slot, MAX_SESSIONS_PER_SLOT)
        self.rng = random.Random(seed)
        self.count = Counters()
        self.pair_counter = 0
        self.next_connect = 0.0
        self.session_ids = 0

    # -- pacing: at most connect_rate new control connections per second
    async def pace(self):
        now = time.monotonic()
        at = max(now, self.next_connect)
        self.next_connect = at + self.connect_gap
        await asyncio.sleep(at - now)

    def socket_from_client(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((self.client_ip, 0))
        return s

    async def connect(self, host, port, step):
        s = self.socket_from_client()
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await asyncio.get_running_loop().sock_connect(s, (host, port))
        except (OSError, TimeoutError) as e:
            s.close()
            raise Failure(step, f"connect to {host}:{port}: {e!r}") from None
        return s

    # -- one data connection: set up (passive: connected; active: listening)
    async def open_data(self, ctl, mode):
        if mode == "PASV":
            m = _227.search(await ctl.command("PASV", 227))
            if not m:
                raise Failure("PASV", "no address in the 227 reply")
            n = [int(x) for x in m.groups()]
            host, port = ".".join(map(str, n[:4])), n[4] * 256 + n[5]
            if host != ctl.peer:
                raise Failure("PASV", f"227 names {host}, not the control peer {ctl.peer}")
            return await self.connect(host, port, "PASV data connect"), None
        if mode == "EPSV":
            m = _229.search(await ctl.command("EPSV", 229))
            if not m:
                raise Failure("EPSV", "no port in the 229 reply")
            return await self.connect(ctl.peer, int(m.group(1)), "EPSV data connect"), None
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            ls.setblocking(False)
            ls.bind((self.client_ip, 0))
            ls.listen(1)
            port = ls.getsockname()[1]
            if mode == "PORT":
                await ctl.command(f"PORT {self.client_ip.replace('.', ',')},{port >> 8},{port & 255}", 200)
            else:
                await ctl.command(f"EPRT |1|{self.client_ip}|{port}|", 200)
        except BaseException:
            ls.close()
            raise
        return None, ls

    async def accept(self, ls, mode):
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                s, peer = await asyncio.get_running_loop().sock_accept(ls)
        except TimeoutError:
            raise Failure(f"{mode} data accept", "no data connection from the server side") from None
        s.setblocking(False)
        self.count.data_peers[peer[0]] = self.count.data_peers.get(peer[0], 0) + 1
        return s

    # -- transfers
    async def retr(self, ctl, data, ls, mode):
        name, size, want = self.rng.choices(self.catalog.files, self.catalog.weights)[0]
        await ctl.command(f"RETR pub/{name}", 150, 125)
        if ls is not None:
            data = await self.accept(ls, mode)
        loop = asyncio.get_running_loop()
        h, got = hashlib.sha256(), 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                for _ in range(size + 2):     # bounded: each round moves >= 1 byte or ends
                    n = await loop.sock_recv_into(data, buf)
                    if n == 0:
                        break
                    got += n
                    if got > size:
                        raise Failure("RETR data", f"{name}: more than its {size} bytes")
                    h.update(view[:n])
        except TimeoutError:
            raise Failure("RETR data", f"{name}: {got} of {size} bytes after {STEP_TIMEOUT} s") from None
        finally:
            data.close()
        await ctl.expect("RETR end", 226)
        if got != size or h.hexdigest() != want:
            raise Failure("RETR check", f"{name}: {got}/{size} bytes, sha256 {h.hexdigest()[:16]} "
                                        f"expected {want[:16]}")
        return size

    def payload(self, slot, seq, size):
        """Bytes unique to this transfer: a header naming it, then random bytes."""
        head = f"{self.name} slot {slot} transfer {seq} ".encode().ljust(HEADER, b".")[:HEADER]
        off = self.rng.randrange(0, len(self.catalog.pool) - size + 1) if size else 0
        if size <= HEADER:
            return [head[:size]]
        return [head, self.catalog.pool[off + HEADER:off + size]]

    async def stor(self, ctl, data, ls, mode, slot, seq):
        size = self.rng.choices(self.catalog.files, self.catalog.weights)[0][1]
        name = f"up-{self.name}-{slot}-{seq}.bin"
        parts = self.payload(slot, seq, size)
        h = hashlib.sha256()
        for p in parts:
            h.update(p)
        await ctl.command(f"STOR pub/{name}", 150, 125)
        if ls is not None:
            data = await self.accept(ls, mode)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                for p in parts:
                    await loop.sock_sendall(data, p)
        except (TimeoutError, OSError) as e:
            raise Failure("STOR data", f"{name}: sending {size} bytes: {e!r}") from None
        finally:
            data.close()
        await ctl.expect("STOR end", 226)
        path = os.path.join(self.catalog.upload_dir, name)
        stored = await loop.run_in_executor(None, sha256_and_remove, path)
        if stored != (size, h.hexdigest()):
            raise Failure("STOR check", f"{name}: server stored {stored[0]} bytes sha256 "
                                        f"{(stored[1] or '-')[:16]}, sent {size} bytes sha256 "
                                        f"{h.hexdigest()[:16]}")
        return size

    async def transfer(self, ctl, slot, seq):
        op, mode = PAIRS[self.pair_counter % len(PAIRS)]
        self.pair_counter += 1
        t0 = time.monotonic()
        data = ls = None
        try:
            data, ls = await self.open_data(ctl, mode)
            if op == "RETR":
                size = await self.retr(ctl, data, ls, mode)
            else:
                size = await self.stor(ctl, data, ls, mode, slot, seq)
        except (OSError, TimeoutError) as e:
            raise Failure(f"{op} {mode}", repr(e)) from None
        finally:
            if data is not None:
                data.close()
            if ls is not None:
                ls.close()
        self.count.transfers[f"{op} {mode}"] += 1
        self.count.bytes[op] += size
        self.count.latencies.append(time.monotonic() - t0)

    # -- one session
    async def session(self, slot, deadline):
        self.session_ids += 1
        sid = self.session_ids
        self.count.started += 1
        t0 = time.monotonic()
        sock = None
        step = "connect"
        try:
            sock = await self.connect(self.host, self.port, "connect")
            ctl = Control(sock)
            step = "greeting"
            await ctl.expect("greeting", 220)
            await ctl.command("USER anonymous", 331)
            await ctl.command("PASS soak@example.org", 230)
            await ctl.command("TYPE I", 200)
            for seq in range(self.rng.randint(*self.transfers_per_session)):
                if time.monotonic() >= deadline:
                    break
                step = "transfer"
                await self.transfer(ctl, slot, f"{sid}.{seq}")
            step = "QUIT"
            await ctl.command("QUIT", 221)
            self.count.completed += 1
            self.count.sessions_s.append(time.monotonic() - t0)
        except Failure as f:
            self.fail(slot, sid, f.step, f.reason, t0)
        except (OSError, TimeoutError) as e:
            self.fail(slot, sid, step, repr(e), t0)
        except asyncio.CancelledError:
            self.fail(slot, sid, step, "cut at the load's hard deadline", t0)
            raise
        finally:
            if sock is not None:
                sock.close()

    def fail(self, slot, sid, step, reason, t0):
        self.count.failures.append({"slot": slot, "session": sid, "step": step, "reason": reason,
                                    "seconds": round(time.monotonic() - t0, 3),
                                    "at": round(time.monotonic() - self.t_start, 3)})

    async def slot(self, slot, deadline):
        for _ in range(self.sessions_per_slot):
            await self.pace()
            if time.monotonic() >= deadline:
                return
            await self.session(slot, deadline)

    def mark_deadline(self):
        c = self.count
        self.at_deadline = {"transfers": sum(c.transfers.values()), "bytes": sum(c.bytes.values()),
                            "sessions_completed": c.completed}

    async def run(self, sampler=None, sample_every=5.0):
        """All slots until the deadline; then the sessions in flight end their
        transfer and QUIT (bounded by a grace period, then cut)."""
        self.t_start = time.monotonic()
        deadline = self.t_start + self.seconds
        self.next_connect = self.t_start
        # the rates count what was verified inside the window, not the drain after it
        self.at_deadline = None
        asyncio.get_running_loop().call_at(deadline, self.mark_deadline)
        tasks = [asyncio.create_task(self.slot(i, deadline)) for i in range(self.sessions)]
        samples = []
        grace = 2 * STEP_TIMEOUT + 30
        hard = deadline + grace
        while time.monotonic() < hard:
            pending = [t for t in tasks if not t.done()]
            if not pending:
                break
            if sampler:
                samples.append({"t": round(time.monotonic() - self.t_start, 1), **sampler()})
            await asyncio.wait(pending, timeout=min(sample_every, max(hard - time.monotonic(), 0.01)))
        if self.at_deadline is None:       # every slot ended before the deadline
            self.mark_deadline()
        self.load_seconds = min(time.monotonic(), deadline) - self.t_start
        self.end_seconds = time.monotonic() - self.t_start
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return samples


def sha256_and_remove(path):
    """(size, sha256 hex) of a stored upload, which is then deleted; (-1, None) if missing."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            size = 0
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                size += len(b)
                h.update(b)
        os.unlink(path)
    except FileNotFoundError:
        return -1, None
    return size, h.hexdigest()
