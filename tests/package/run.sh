#!/bin/sh
# The Debian package (deploy/debian): it builds, installs on this machine,
# its service starts from the installed unit and answers ftpproxyctl, an
# upgrade keeps a running download intact, purge removes everything.
#
#   tests/package/run.sh [pytest args...]
#
# env: FTPPROXY_DEB  the .deb to test (default: build it, deploy/build-deb.sh)
#
# Installs and purges the package `ftpproxy` on this machine (it refuses to
# start if the package is already installed), so it needs root; the service
# and its clients run in a network namespace of their own. Exit code is
# pytest's.
set -eu
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
REPO=$(CDPATH= cd -- "$HERE/../.." && pwd)
cd "$REPO"
exec "$REPO/tests/ftpx/in-netns.sh" ftpproxy-deb /usr/bin/python3 -m pytest \
    -c tests/package/pytest.ini --rootdir tests/package tests/package -v "$@"
