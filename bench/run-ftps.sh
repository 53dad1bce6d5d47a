#!/bin/sh
# The FTPS benchmark of issue 12: ftpproxy with TLS on both legs against
# direct FTPS (vsftpd) and ProFTPD mod_proxy with TLS on both legs,
# interleaved, ratios to direct. bench/ftps.py does the work; this wrapper
# checks what it needs and runs it in a network namespace of its own.
#
#   bench/run-ftps.sh [--quick] [--runs N] [--proxy PATH] [--rev TEXT] [--variant NAME]
#
#   --quick       try-out: 2 rounds, 128 MiB file, 60 sessions per round,
#                 idle sessions 25/50/100 (about 75 s; a full run about 10 min)
#   --runs N      interleaved rounds (default 5; quick 2)
#   --proxy PATH  the ftp-proxy binary (default build/src/proxy/ftp-proxy);
#                 copied into the work dir at start, so a rebuild under a
#                 running benchmark does not matter
#   --rev TEXT    what that binary was built from, for the results file
#                 (default: "build/ of `git describe --dirty`" for the
#                 default binary, "given binary" with --proxy)
#   --variant NAME  suffix of the result files (ftps-<date>-NAME[-quick])
#   more flags after -- go to bench/ftps.py (e.g. -- --file-mib 512)
#
# Needs root, and what bench/run.sh and the tests install (it installs
# nothing itself): vsftpd unpacked in .deps/vsftpd, ProFTPD + mod_proxy in
# .deps/proftpd, ProFTPD + mod_tls (proftpd-mod-crypto) in .deps/proftpd-tls
# (deploy/install-test-deps.sh), its users, curl and openssl. Writes
# bench/results/ftps-<date>[-NAME][-quick].{md,json}. Nothing is built.
set -eu

REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
DEPS="$REPO/.deps"
QUICK=""
RUNS=""
PROXY=""
REV=""
VARIANT=""
COMMAND=bench/run-ftps.sh               # recorded in the results, quoted
for arg in "$@"; do
    case "$arg" in
        *[!A-Za-z0-9_./=:,+-]*) COMMAND="$COMMAND '$arg'" ;;
        *) COMMAND="$COMMAND $arg" ;;
    esac
done

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=--quick ;;
        --runs) RUNS="$2"; shift ;;
        --proxy) PROXY="$2"; shift ;;
        --rev) REV="$2"; shift ;;
        --variant) VARIANT="$2"; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "run-ftps.sh: unknown argument $1" >&2; exit 64 ;;
    esac
    shift
done

if [ "$(id -u)" != 0 ]; then
    echo "run-ftps.sh: must run as root" >&2
    exit 1
fi

if [ -z "$PROXY" ]; then
    PROXY="$REPO/build/src/proxy/ftp-proxy"
    [ -n "$REV" ] || REV="build/ of $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?') at start"
fi
[ -n "$REV" ] || REV="given binary, not built here"

missing=""
for f in "$PROXY" "$DEPS/vsftpd/usr/sbin/vsftpd" "$DEPS/proftpd/usr/sbin/proftpd" \
         "$DEPS/proftpd/usr/lib/proftpd/mod_proxy.so" "$DEPS/proftpd-tls/usr/lib/proftpd/mod_tls.so"; do
    [ -e "$f" ] || missing="$missing $f"
done
for c in curl openssl unshare ip; do
    command -v "$c" >/dev/null || missing="$missing $c"
done
id ftpxanon >/dev/null 2>&1 || missing="$missing user:ftpxanon"
if [ -n "$missing" ]; then
    echo "run-ftps.sh: missing:$missing (bench/run.sh, deploy/install-test-deps.sh install them)" >&2
    exit 1
fi
SSL=$(ldconfig -p | awk '/libssl\.so\.3 /{print $NF; exit}')
CRYPTO=$(ldconfig -p | awk '/libcrypto\.so\.3 /{print $NF; exit}')


ulimit -n 20000
exec unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh \
    /usr/bin/python3 "$REPO/bench/ftps.py" $QUICK ${RUNS:+--runs "$RUNS"} \
    --proxy "$PROXY" --rev "$REV" --variant "$VARIANT" --ssl-preload "$SSL" "$CRYPTO" \
    --command "$COMMAND" \
    "$@"
