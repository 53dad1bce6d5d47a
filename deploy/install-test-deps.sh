#!/bin/sh
# Install what the integration tests (tests/integration) need. Idempotent.
#   * Debian packages: pytest (+ pytest-timeout as a safety net), pyftpdlib,
#     python3-openssl (pyftpdlib's TLS handler: a server that offers AUTH
#     TLS, to prove the proxy's FEAT filtering), lftp, curl, iproute2
#     (ip netns), nftables, keepalived (tests/netns/test_cluster_vrrp.py
#     runs it in namespaces with its own config; the packaged service does
#     not start: its unit needs /etc/keepalived/keepalived.conf), ucarp
#     (tests/netns/test_cluster_ucarp.py runs the daemon in namespaces; the
#     package runs nothing by itself, it only hooks into ifupdown),
#     tcpdump (tests/integration/test_ftps_server.py captures each leg to
#     prove that the TLS ones carry no plaintext), rclone (its FTP backend
#     with explicit TLS is one of the FTPS clients tested), mandoc
#     (tests/docs lints the man pages with mandoc -Tlint), lintian,
#     systemd (systemd-analyze verify) and binutils (readelf) for
#     tests/package.
#   * vsftpd is NOT installed (it would start a system service and conflicts
#     with other servers): its .deb is downloaded and unpacked into
#     $REPO/.deps/vsftpd (gitignored), run from there by the tests.
#   * The same for the FTPS servers of tests/ftpx/servers.py ("proftpd-tls",
#     "pure-ftpd-tls"): proftpd-core + proftpd-mod-crypto (mod_tls.so) into
#     $REPO/.deps/proftpd-tls, pure-ftpd into $REPO/.deps/pure-ftpd. Not into
#     .deps/proftpd: bench/run.sh owns that one (core + mod_proxy) and
#     re-creates it from scratch when mod_proxy.so is missing.
#   * users ftpsecure, ftpxanon (vsftpd; also ProFTPD's and pure-ftpd's
#     anonymous user and pure-ftpd's privsep user), _ftp_proxy (the proxy
#     drops to it when started as root), and the empty root-owned dir
#     /var/lib/ftpx-empty (vsftpd's secure_chroot_dir and ftpxanon's home).
set -eu

REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
DEPS="$REPO/.deps"

if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps.sh: must run as root" >&2
    exit 1
fi

# libwrap0, libcap2, libpam0g, libssl3: shared libraries the unpacked vsftpd
# binary links against (normally pulled in by its own Depends); the others
# are those of the unpacked proftpd (core + mod_tls) and pure-ftpd.
PKGS="python3 python3-pytest python3-pytest-timeout python3-pyftpdlib python3-openssl lftp curl iproute2 nftables
      keepalived ucarp tcpdump rclone conntrack mandoc prometheus lintian systemd binutils
      openssl libwrap0 libcap2 libpam0g libssl3
      libacl1 libcrypt1 libhiredis0.14 libidn2-0 libmemcached11 libmemcachedutil2 libncursesw6
      libpcre2-8-0 libpcre2-posix3 libtinfo6 zlib1g libsodium23"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

# unpack DIR PACKAGE...: apt-get download the packages and dpkg -x them all
# into $DEPS/DIR (re-created), never installed: no service starts, no
# conflict between FTP servers.
tmp=""
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
unpack() {
    dir=$1
    shift
    mkdir -p "$DEPS"
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && apt-get download "$@" >/dev/null 2>&1); then
        apt-get update -qq
        (cd "$tmp" && apt-get download "$@" >/dev/null)
    fi
    rm -rf "${DEPS:?}/$dir"
    for deb in "$tmp"/*.deb; do
        dpkg -x "$deb" "$DEPS/$dir"
    done
    rm -rf "$tmp"
    tmp=""
}

# vsftpd, unpacked, not installed
if [ ! -x "$DEPS/vsftpd/usr/sbin/vsftpd" ]; then
    unpack vsftpd vsftpd
fi
# vsftpd -v writes its version to fd 0
"$DEPS/vsftpd/usr/sbin/vsftpd" -v 0>&1 || { echo "vsftpd from $DEPS does not run" >&2; exit 1; }

# ProFTPD with mod_tls (Debian ships mod_tls.so in proftpd-mod-crypto; the
# two must be the same version, hence unpacked together)
if [ ! -x "$DEPS/proftpd-tls/usr/sbin/proftpd" ] || [ ! -f "$DEPS/proftpd-tls/usr/lib/proftpd/mod_tls.so" ]; then
    unpack proftpd-tls proftpd-core proftpd-mod-crypto
fi
"$DEPS/proftpd-tls/usr/sbin/proftpd" -v || { echo "proftpd from $DEPS/proftpd-tls does not run" >&2; exit 1; }

# pure-ftpd (the binary alone: pure-ftpd-common holds only Debian's wrapper
# scripts and configuration, which the tests do not use)
if [ ! -x "$DEPS/pure-ftpd/usr/sbin/pure-ftpd" ]; then
    unpack pure-ftpd pure-ftpd
fi
"$DEPS/pure-ftpd/usr/sbin/pure-ftpd" --help 2>&1 | grep -q '^pure-ftpd v' ||
    { echo "pure-ftpd from $DEPS/pure-ftpd does not run" >&2; exit 1; }

# users
#   ftpsecure  vsftpd's nopriv_user, pure-ftpd's privsep user
#   ftpxanon   vsftpd's ftp_username (anonymous sessions run as it; the same
#              for ProFTPD and pure-ftpd, tests/ftpx/servers.py). vsftpd
#              chdir()s to this user's home before anon_root, so the home
#              must exist: the empty dir below.
#   _ftp_proxy the proxy drops to it when started as root
EMPTY=/var/lib/ftpx-empty
mkdir -p "$EMPTY"
chown root:root "$EMPTY"
chmod 0755 "$EMPTY"
nologin=/usr/sbin/nologin
if ! getent passwd ftpsecure >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" ftpsecure
fi
if ! getent passwd ftpxanon >/dev/null; then
    useradd --system --no-create-home --home-dir "$EMPTY" --shell "$nologin" ftpxanon
elif [ "$(getent passwd ftpxanon | cut -d: -f6)" != "$EMPTY" ]; then
    usermod --home "$EMPTY" ftpxanon
fi
if ! getent passwd _ftp_proxy >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" _ftp_proxy
fi
# vsftpd's secure_chroot_dir is the same empty, root-owned dir ($EMPTY).
# ftp-proxy chroots into /var/empty (its default --chroot) when it exists, as
# on OpenBSD; creating it here makes the tests run the worker chrooted.
mkdir -p /var/empty
chmod 755 /var/empty

echo "install-test-deps.sh: ok"
