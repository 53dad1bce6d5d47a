#!/bin/sh
# Run the integration tests inside a fresh network namespace.
#
#   tests/integration/run.sh [pytest args...]      e.g. -k vsftpd -x
#   tests/integration/run.sh tests/integration/test_bounce.py
#
# env: FTP_PROXY_BIN  the proxy binary (default $FTPPROXY_BUILD, or build/, + src/proxy/ftp-proxy)
#      FTPX_DIRECT=1  talk to the servers directly (validates the harness)
#      FTPX_ARTIFACTS dir for the logs (kept); default /tmp/ftpx-it-PID,
#                     removed after a run that passed
#
# The namespace has only `lo`, with 127.0.0.0/8 and fd18::1..5/128; every
# process the tests start lives in it, and it is deleted on exit. Exit code
# is pytest's. Needs root (ip netns) and deploy/install-test-deps.sh.
set -eu

HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
REPO=$(CDPATH= cd -- "$HERE/../.." && pwd)
PY=/usr/bin/python3   # Debian's python (pyftpdlib, pytest); not a pyenv one

cd "$REPO"
# default target: the whole suite, unless a tests/integration path is given
target=tests/integration
for a in "$@"; do
    case $a in tests/integration*) target= ;; esac
done
# logs of servers, proxies and clients: kept when something failed
ART=${FTPX_ARTIFACTS:-/tmp/ftpx-it-$$}
# In the namespace (tests/ftpx/in-netns.sh): fd18::1..5 on lo, then pytest.
exec "$REPO/tests/ftpx/in-netns.sh" ftpx-it sh -c '
    set -eu
    art=$1
    shift
    for i in 1 2 3 4 5; do
        ip -6 addr add "fd18::$i/128" dev lo nodad
    done
    set +e
    "$@"
    rc=$?
    set -e
    if [ "$rc" = 0 ] && [ -z "${FTPX_ARTIFACTS:-}" ]; then
        rm -rf "$art"
    else
        echo "run.sh: logs kept in $art" >&2
    fi
    exit $rc' run.sh "$ART" "$PY" -m pytest $target -v --basetemp="$ART" "$@"
