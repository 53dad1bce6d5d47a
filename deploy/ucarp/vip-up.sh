#!/bin/sh
# ucarp --upscript: this node is master for VIP $2 on interface $1.
# ucarp does not add the address itself. IPv4 only (ucarp is).
FTPPROXYCTL=${FTPPROXYCTL:-/usr/local/sbin/ftpproxyctl}
/sbin/ip address add "$2/32" dev "$1"
exec "$FTPPROXYCTL" carp-event master "$2"
