#!/bin/sh
# The man pages (docs/man): clean under mandoc -Tlint, their options and
# commands the same as the programs' --help, ftpproxy.yaml(5)'s keys the
# same as docs/configuration.md's, the shipped config's and the loader's.
#
#   tests/docs/run.sh [pytest args...]      e.g. -k lint (needs no build)
#
# env: FTPPROXY_BUILD  the build tree (default build/); or each binary with
#      FTP_PROXY_BIN, FTPPROXYD_BIN, FTPPROXYCTL_BIN
#
# Needs mandoc (deploy/install-test-deps.sh); no root, no network namespace.
# Exit code is pytest's.
set -eu
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
REPO=$(CDPATH= cd -- "$HERE/../.." && pwd)
cd "$REPO"
# Debian's python (pytest); not a pyenv one.
exec /usr/bin/python3 -m pytest -c tests/docs/pytest.ini --rootdir tests/docs tests/docs -v "$@"
