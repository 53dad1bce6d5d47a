#!/usr/bin/python3
"""A real pyftpdlib FTP server for the tests (integration, netns, supervisor).

Users: `test`/`secret` and anonymous, both with full permissions on --root.
Every control connection, every command, and every data connection (passive
accept and active connect) is appended as one JSON object per line to
--events, so a test can assert which address the server saw:

  {"ev": "control", "peer": [ip, port], "local": [ip, port]}
  {"ev": "cmd", "peer": ip, "cmd": "PASV", "arg": ""}        (PASS arg masked)
  {"ev": "data-passive", "peer": [ip, port], "ctl_peer": ip, "accepted": bool}
  {"ev": "data-active", "target": [ip, port], "source": ip, "ctl_peer": ip}
  {"ev": "file-sent", "path": basename}   (a RETR's last byte went to its socket)

With --tls the handler is pyftpdlib's TLS_FTPHandler (needs python3-openssl),
so that FEAT offers AUTH TLS / PBSZ / PROT (used to test FEAT filtering),
with --certfile (and --keyfile, when the key is not in the same file). TLS
stays optional (tls_control_required and tls_data_required are False, the
defaults) and data connections need not resume the control connection's TLS
session: a server that takes what the others refuse.

With --misbehave the server acts as broken or hostile servers do in the
field (the proxy must contain each of them; tests/integration/test_hardening.py):
  HELP        -> "227 Entering Passive Mode (10,1,2,3,4,5)." (leaks an address
                 in answer to something that is not PASV); HELP EPSV -> a 229
  RETR of a file named `stall-after-150` -> "150 ..." and then nothing, ever:
                 the data connection is left open and never read or closed
"""
import os
import argparse
import json
import logging
import sys
import threading

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import ActiveDTP, FTPHandler, PassiveDTP
from pyftpdlib.servers import FTPServer

_lock = threading.Lock()
_events = None


def emit(**kw):
    line = json.dumps(kw, sort_keys=True)
    with _lock:
        _events.write(line + "\n")
        _events.flush()


class LoggingPassiveDTP(PassiveDTP):
    def handle_accepted(self, sock, addr):
        ctl = self.cmd_channel.remote_ip
        emit(ev="data-passive", peer=[addr[0], addr[1]], ctl_peer=ctl,
             accepted=(addr[0] == ctl))
        return super().handle_accepted(sock, addr)


class LoggingActiveDTP(ActiveDTP):
    def __init__(self, ip, port, cmd_channel):
        emit(ev="data-active", target=[ip, port],
             source=cmd_channel.socket.getsockname()[0],
             ctl_peer=cmd_channel.remote_ip)
        super().__init__(ip, port, cmd_channel)


class EventsMixin:
    passive_dtp = LoggingPassiveDTP
    active_dtp = LoggingActiveDTP

    def on_connect(self):
        local = self.socket.getsockname()
        emit(ev="control", peer=[self.remote_ip, self.remote_port],
             local=[local[0], local[1]])

    def on_file_sent(self, file):
        emit(ev="file-sent", path=os.path.basename(file))

    def pre_process_command(self, line, cmd, arg):
        emit(ev="cmd", peer=self.remote_ip, cmd=cmd,
             arg=("****" if cmd == "PASS" else arg))
        return super().pre_process_command(line, cmd, arg)


_stalled = []     # data sockets of stalled RETRs: kept open for ever


class MisbehaveMixin:
    def ftp_HELP(self, line):
        if line.upper() == "EPSV":
            self.respond("229 Entering Extended Passive Mode (|||4242|)")
        else:
            self.respond("227 Entering Passive Mode (10,1,2,3,4,5).")

    def ftp_RETR(self, file):
        if os.path.basename(file) == "stall-after-150":
            self.respond("150 File status okay. About to open data connection.")
            if self.data_channel is not None:
                # out of the event loop: nobody reads, sends or closes it
                _stalled.append(self.data_channel.socket)
                self.data_channel.del_channel()
                self.data_channel = None
            return
        return super().ftp_RETR(file)


class Handler(EventsMixin, FTPHandler):
    pass


class MisbehavingHandler(MisbehaveMixin, EventsMixin, FTPHandler):
    pass


def main():
    global _events
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--certfile")
    ap.add_argument("--keyfile")        # default: the key is in --certfile
    ap.add_argument("--misbehave", action="store_true")
    args = ap.parse_args()

    _events = open(args.events, "a", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")

    auth = DummyAuthorizer()
    perm = "elradfmwMT"
    auth.add_user("test", "secret", args.root, perm=perm)
    auth.add_anonymous(args.root, perm=perm)

    if args.tls:
        from pyftpdlib.handlers import TLS_FTPHandler

        class TLSHandler(EventsMixin, TLS_FTPHandler):
            certfile = args.certfile
            keyfile = args.keyfile
        handler = TLSHandler
    elif args.misbehave:
        handler = MisbehavingHandler
    else:
        handler = Handler
    handler.authorizer = auth
    handler.banner = "pyftpdlib test server ready."
    handler.auth_failed_timeout = 0.2     # default 3 s after a wrong password
    # defaults kept on purpose: permit_foreign_addresses = False (a data
    # connection from another address than the control peer is refused),
    # permit_privileged_ports = False.
    server = FTPServer((args.host, args.port), handler)
    server.max_cons = 256
    print("READY", flush=True)
    try:
        server.serve_forever(handle_exit=True)
    finally:
        server.close_all()


if __name__ == "__main__":
    sys.exit(main())
