#!/bin/sh
# Runs a command in a fresh network namespace that has only `lo`
# (127.0.0.0/8), and deletes it afterwards with every process left in it.
# Used by tests/integration/run.sh, tests/supervisor/run.sh and
# bench/run-supervisor.sh. Needs root.
#
#   tests/ftpx/in-netns.sh NAME-PREFIX COMMAND [ARGS...]
set -eu
NS="$1-$$"
shift

cleanup() {
    for pid in $(ip netns pids "$NS" 2>/dev/null); do
        kill -9 "$pid" 2>/dev/null || true
    done
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
set +e
ip netns exec "$NS" "$@"
rc=$?
set -e
exit $rc
