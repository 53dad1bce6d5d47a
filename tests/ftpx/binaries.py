"""Where the programs under test are: the build tree and its binaries.

FTPPROXY_BUILD names the build tree (default build/ at the top of the
repository); each binary can be named on its own instead: FTP_PROXY_BIN (the
worker), FTPPROXYD_BIN, FTPPROXYCTL_BIN.
"""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("FTPPROXY_BUILD", REPO / "build"))
PROXY_BIN = Path(os.environ.get("FTP_PROXY_BIN", BUILD / "src/proxy/ftp-proxy"))
FTPPROXYD = Path(os.environ.get("FTPPROXYD_BIN", BUILD / "src/supervisor/ftpproxyd"))
FTPPROXYCTL = Path(os.environ.get("FTPPROXYCTL_BIN", BUILD / "src/ctl/ftpproxyctl"))
