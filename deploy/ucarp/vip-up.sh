#!/bin/sh
# ucarp --upscript: this node is master for VIP $2 on interface $1.
# ucarp does not add the address itself. IPv4 only (ucarp is).
# ucarp cannot watch ftpproxyd. When ftpproxyd does not answer (ftpproxyctl
# exit 4: not running, e.g. ucarp was started by the last step of its clean
# stop), nothing here would serve the VIP: do not take it, and stop ucarp
# (this script's parent; with --shutdown it runs vip-down.sh on the way out)
# so that the peer takes over.
FTPPROXYCTL=${FTPPROXYCTL:-/usr/local/sbin/ftpproxyctl}
"$FTPPROXYCTL" carp-event master "$2"
reported=$?
if [ "$reported" = 4 ]; then
    if [ "$(cat "/proc/$PPID/comm" 2>/dev/null)" = ucarp ]; then
        echo "vip-up.sh: ftpproxyd does not answer: not taking $2, stopping ucarp (pid $PPID)" >&2
        kill -TERM "$PPID"
    fi
    exit 1
fi
/sbin/ip address add "$2/32" dev "$1"
