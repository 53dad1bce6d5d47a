#!/bin/sh
# ucarp --downscript: this node is backup for VIP $2 on interface $1
# (also run at ucarp's exit with --shutdown, when it was master).
FTPPROXYCTL=${FTPPROXYCTL:-/usr/local/sbin/ftpproxyctl}
/sbin/ip address del "$2/32" dev "$1" 2>/dev/null
exec "$FTPPROXYCTL" carp-event backup "$2"
