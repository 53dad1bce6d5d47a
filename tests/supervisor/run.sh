#!/bin/sh
# ftpproxyd and ftpproxyctl tests: real ftpproxyd, real ftp-proxy workers, a
# real pyftpdlib backend, inside a fresh network namespace (tests/ftpx/in-netns.sh).
#
#   tests/supervisor/run.sh [pytest args...]        e.g. -k reload -x
#
# env: FTPPROXY_BUILD  the build tree (default build/); or each binary with
#      FTPPROXYD_BIN, FTPPROXYCTL_BIN, FTP_PROXY_BIN
#
# Every process the tests start lives in the namespace and is killed with it
# on exit. Exit code is pytest's. Needs root (ip netns, nft, setpriv).
set -eu
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
REPO=$(CDPATH= cd -- "$HERE/../.." && pwd)
cd "$REPO"
# Debian's python (pyftpdlib, pytest); not a pyenv one.
exec "$REPO/tests/ftpx/in-netns.sh" ftpproxyd-test /usr/bin/python3 -m pytest \
    -c tests/supervisor/pytest.ini --rootdir tests/supervisor tests/supervisor -v "$@"
