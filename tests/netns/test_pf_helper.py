"""Forward mode with the pf backend: a session whose rule change is slow
does not hold back the worker's other sessions.

There is no pf on Linux, so pfctl is a stand-in (FTPPROXY_PFCTL) that
records what it is given; the worker runs as root and drops privileges, so
its pfctl runs go through the privileged helper, as on OpenBSD. The first
rule load blocks until the test releases it: meanwhile a second client must
log in and get its NOOP answered. No clock decides the outcome: the release
comes only after the second client's answer, and the first client's reply
must not have come before it.
"""
import json
import subprocess
from pathlib import Path

import pytest

from ftpx.binaries import PROXY_BIN
from ftpx.servers import PYTHON
from topology import ADDR
from world import REDIRECT, World, comma_addr

# The first `-f -` load waits for the file `release` (at most 30 s).
STAND_IN = r"""#!/bin/sh
dir=$(dirname "$0")
{ printf 'argv:'; for a in "$@"; do printf ' %s' "$a"; done; printf '\n'; } >> "$dir/pfctl.log"
case " $* " in
*" -f - "*)
    cat > /dev/null
    if mv "$dir/hold" "$dir/held" 2>/dev/null; then
        i=0
        while [ ! -e "$dir/release" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
        echo "released $2" >> "$dir/pfctl.log"
    fi ;;
esac
exit 0
"""

# Run in the client namespace: A asks for PASV (held in pfctl), B logs in
# and NOOPs once the hold has begun, then the hold is released.
CLIENTS = r"""
import ftplib, json, os, select, sys, time
server, work = sys.argv[1], sys.argv[2]
a = ftplib.FTP()
a.connect(server, 21, timeout=60)
a.login("test", "secret")
a.putcmd("PASV")
deadline = time.monotonic() + 20
while not os.path.exists(os.path.join(work, "held")) and time.monotonic() < deadline:
    time.sleep(0.02)
held = os.path.exists(os.path.join(work, "held"))
b = ftplib.FTP()
b.connect(server, 21, timeout=60)
b.login("test", "secret")
noop = b.voidcmd("NOOP")
early = bool(select.select([a.sock], [], [], 0)[0])
open(os.path.join(work, "release"), "w").close()
try:
    pasv = a.getresp()
except ftplib.Error as e:
    pasv = str(e)
for c in (a, b):
    try:
        c.quit()
    except (ftplib.Error, OSError):
        pass
print(json.dumps({"held": held, "noop": noop, "a_answered_early": early, "pasv": pasv}))
"""


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    try:
        w.up(vsftpd=False)
        w.topo.nft("fw", REDIRECT)
        yield w
    finally:
        w.close()


def test_a_slow_pfctl_run_does_not_stall_other_sessions(world):
    work = Path(world.work)
    pfctl = work / "pfctl"
    pfctl.write_text(STAND_IN)
    pfctl.chmod(0o755)
    (work / "hold").write_text("")
    world.spawn("proxy", "fw", ["env", f"FTPPROXY_PFCTL={pfctl}", PROXY_BIN,
                                "-d", "-D7", "-v", "-b", "::", "-p", "8021", "--firewall", "pf"])
    world.wait_listening("proxy", "fw", "::", 8021)

    done = subprocess.run(world.topo.cmd("client", PYTHON, "-c", CLIENTS,
                                         ADDR["v4"]["server"], str(work)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + "\n" + world.log("proxy")
    result = json.loads(done.stdout)
    assert result["held"], "the stand-in pfctl never began the held load:\n" + world.log("proxy")
    assert result["noop"].startswith("200"), result
    assert not result["a_answered_early"], (
        "the held session was answered before its rule load was released:\n"
        + world.log("proxy"))
    assert result["pasv"].startswith("227 Entering Passive Mode (" +
                                     comma_addr(ADDR["v4"]["server"])), result

    world.stop_proxy("proxy")
    log = (work / "pfctl.log").read_text()
    loads = [line.split()[2] for line in log.splitlines() if line.endswith(" -f -")]
    assert len(loads) == 1 and loads[0].startswith("ftp-proxy/"), log
    assert f"released {loads[0]}" in log, log
    # The session's end (or the worker's exit) empties what it loaded.
    assert f"argv: -a {loads[0]} -F rules" in log, log

