#!/bin/sh
# Forward (redirect, tproxy) and reverse mode across three network namespaces
# (client -- firewall -- server) that the tests create and always delete,
# with ftplib, curl and lftp against pyftpdlib and vsftpd (.deps/vsftpd).
# Needs root.
#   tests/netns/run.sh [pytest args...]
# env: FTP_PROXY_BIN  the worker (default $FTPPROXY_BUILD, or build/, + src/proxy/ftp-proxy)
set -eu
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
cd "$HERE"
exec /usr/bin/python3 -m pytest -p no:cacheprovider -v "$@" .
