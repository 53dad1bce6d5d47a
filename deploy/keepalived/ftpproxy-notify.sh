#!/bin/sh
# keepalived notify hook: tells ftpproxyd the role keepalived gave this node.
#   vrrp_instance ... { notify /usr/local/share/ftpproxy/keepalived/ftpproxy-notify.sh }
# keepalived calls it as: TYPE NAME STATE [PRIORITY]  (e.g. INSTANCE ftp_vip MASTER 150)
# The role shows in `ftpproxyctl status`; `ftpproxyctl failover` waits for it.
FTPPROXYCTL=${FTPPROXYCTL:-/usr/local/sbin/ftpproxyctl}
case "$3" in
    MASTER) role=master ;;
    BACKUP|STOP) role=backup ;;
    FAULT) role=fault ;;
    *) exit 0 ;;
esac
exec "$FTPPROXYCTL" carp-event "$role" "$2"
