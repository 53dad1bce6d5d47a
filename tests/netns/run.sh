#!/bin/sh
# Forward (redirect, tproxy) and reverse mode across three network namespaces
# (client -- firewall -- server) that the tests create and always delete,
# with ftplib, curl and lftp against pyftpdlib and vsftpd (.deps/vsftpd);
# and a VRRP pair (test_cluster_vrrp.py, topology in cluster.py): two
# firewalls with ftpproxyd and keepalived in front of two servers; the same
# pair with ucarp instead (test_cluster_ucarp.py, ucarp.py).
# Needs root (and keepalived, ucarp: deploy/install-test-deps.sh).
#   tests/netns/run.sh [pytest args...]
# env: FTPPROXY_BUILD  the build tree (default build/); or each binary:
#      FTP_PROXY_BIN (the worker), FTPPROXYD_BIN, FTPPROXYCTL_BIN (tests/ftpx/binaries.py)
set -eu
HERE=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
cd "$HERE"
exec /usr/bin/python3 -m pytest -p no:cacheprovider -v "$@" .
