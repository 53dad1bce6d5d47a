#!/usr/bin/python3
"""An FTP client driven line by line on stdin, for the negative tests: the
test decides when each step happens (e.g. after it has seen the firewall
state change), so nothing waits on a fixed sleep. One JSON line per step.

  open HOST SOURCE [PORT]   control connection (port 21), prints the banner
  cmd LINE                  send a command, print the (final) reply
  send LINE                 send a command, read nothing
  reply                     print the next final reply
  data HOST PORT SOURCE [T [RCVBUF]]
                            connect a data connection (T s timeout, default
                            3; RCVBUF: a fixed receive buffer, no autotuning)
  read                      read the data connection to its end
  slowread S                read 16 KiB every 50 ms for S seconds (a slow
                            client), print the bytes read
  reset                     drop the control connection with an RST
"""
import json
import socket
import struct
import sys
import time

ctl = None
rfile = None
data = None


def reply():
    line = rfile.readline().decode(errors="replace").rstrip("\r\n")
    code = line[:3]
    text = [line]
    if len(line) > 3 and line[3] == "-":
        while True:
            line = rfile.readline().decode(errors="replace").rstrip("\r\n")
            text.append(line)
            if line.startswith(code + " "):
                break
    return text[-1]


def main():
    global ctl, rfile, data
    for raw in sys.stdin:
        words = raw.split()
        if not words:
            continue
        try:
            if words[0] == "open":
                port = int(words[3]) if len(words) > 3 else 21
                ctl = socket.create_connection((words[1], port), timeout=10,
                                               source_address=(words[2], 0))
                rfile = ctl.makefile("rb")
                out = {"reply": reply()}
            elif words[0] == "cmd":
                ctl.sendall(raw[4:].rstrip("\n").encode() + b"\r\n")
                r = reply()
                while r[:1] == "1":  # preliminary: the final one follows
                    r = reply()
                out = {"reply": r}
            elif words[0] == "send":
                ctl.sendall(raw[5:].rstrip("\n").encode() + b"\r\n")
                out = {"sent": True}
            elif words[0] == "reply":
                r = reply()
                while r[:1] == "1":
                    r = reply()
                out = {"reply": r}
            elif words[0] == "data":
                timeout = float(words[4]) if len(words) > 4 else 3.0
                family = socket.AF_INET6 if ":" in words[1] else socket.AF_INET
                data = socket.socket(family, socket.SOCK_STREAM)
                data.settimeout(timeout)
                if len(words) > 5:
                    data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(words[5]))
                data.bind((words[3], 0))
                try:
                    data.connect((words[1], int(words[2])))
                except OSError:
                    data.close()
                    raise
                out = {"connected": True}
            elif words[0] == "slowread":
                n = 0
                end = time.monotonic() + float(words[1])
                while time.monotonic() < end:
                    chunk = data.recv(16384)
                    if not chunk:
                        break
                    n += len(chunk)
                    time.sleep(0.05)
                out = {"bytes": n}
            elif words[0] == "read":
                n = 0
                while chunk := data.recv(65536):
                    n += len(chunk)
                data.close()
                out = {"bytes": n}
            elif words[0] == "reset":
                ctl.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                ctl.close()
                out = {"reset": True}
            else:
                out = {"error": "unknown step"}
        except OSError as e:
            out = {"error": type(e).__name__, "message": str(e)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
