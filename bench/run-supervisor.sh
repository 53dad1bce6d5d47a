#!/bin/sh
# The benchmark of issue 4: ftpproxyd's restart latency (kill -9 -> serving
# again) and reload time with 12 instances. Writes
# bench/results/<date>-supervisor.{md,json} with the machine description.
#
#   bench/run-supervisor.sh [--rounds N] [--runs N]
#
# env: FTPPROXY_BUILD  the build tree with ftpproxyd, ftpproxyctl and
#      ftp-proxy (default build/). Runs in a fresh network namespace; needs
#      root (ip netns, nft).
set -eu
REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
exec "$REPO/tests/ftpx/in-netns.sh" ftpproxyd-bench \
    /usr/bin/python3 "$REPO/bench/supervisor_bench.py" "$@"
