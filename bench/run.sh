#!/bin/sh
# The benchmark of issue 5: ftpproxy against no proxy (vsftpd directly) and
# ProFTPD mod_proxy (reverse mode), interleaved, ratios to direct.
#
#   bench/run.sh [--quick] [--runs N] [--rev GITREV | --proxy PATH]
#
#   --quick      smoke check: 2 runs, 256 MiB file, 2 s session windows,
#                300 idle sessions (a few minutes)
#   --runs N     interleaved runs (default 5; quick 2)
#   --rev REV    benchmark the committed revision REV (git archive, built in
#                build-bench/rev-REV) instead of the working tree
#   --proxy PATH benchmark this ftp-proxy binary (not built here)
#   --proxy-args "FLAGS"  more flags for ftp-proxy, e.g. "--relay copy" for
#                the read/write relay; recorded in the results
#   --variant NAME  suffix of the result files (<date>-<rev>-NAME[-quick])
#   --profile    instead of the benchmark, perf profiles of its workloads
#                (bench/profile.py: RETR, sessions, NOOP; direct and through
#                ftpproxy) into bench/results/<date>-<rev>-profile.md
#   --kernel-path  instead, issue 13's benchmark (bench/kernel_path.py): a
#                routed topology in network namespaces, plain forwarding
#                against the relay, the kernel data path and mod_proxy, into
#                bench/results/<date>-<rev>-kernel-path[-quick].{md,json}
#
# Needs root (users, apt, network namespace). Installs what it needs: the
# test dependencies (deploy/install-test-deps.sh: vsftpd unpacked into
# .deps/vsftpd, its users), ProFTPD + mod_proxy unpacked (never installed)
# into .deps/proftpd and the libraries they link against. Writes
# bench/results/<date>-<rev>[-quick].{md,json}; <rev> is the short git
# revision, or "wip" when src/ or the build files differ from it.
# Everything runs in a new network namespace (unshare --net): nothing else
# on the machine shares its loopback addresses and ports.
set -eu

REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
DEPS="$REPO/.deps"
BUILD="$REPO/build-bench"
QUICK=""
RUNS=""
REV=""
PROXY=""
PROXY_ARGS=""
VARIANT=""
SCRIPT=bench.py

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=--quick ;;
        --runs) RUNS="$2"; shift ;;
        --rev) REV="$2"; shift ;;
        --proxy) PROXY="$2"; shift ;;
        --proxy-args) PROXY_ARGS="$2"; shift ;;
        --variant) VARIANT="$2"; shift ;;
        --profile) SCRIPT=profile.py ;;
        --kernel-path) SCRIPT=kernel_path.py ;;
        -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 64 ;;
    esac
    shift
done

if [ "$(id -u)" != 0 ]; then
    echo "run.sh: must run as root" >&2
    exit 1
fi

say() { echo "[run.sh] $*"; }

# ---- dependencies
say "test dependencies (vsftpd, users)"
sh "$REPO/deploy/install-test-deps.sh" >/dev/null

# libraries of the unpacked proftpd + mod_proxy, the compilers, perf tools
PKGS="libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libsodium23 libsqlite3-0
      libssl3 libacl1 libcap2 libpam0g iproute2 util-linux gcc g++ cmake make"
if [ "$SCRIPT" = profile.py ]; then PKGS="$PKGS linux-perf strace"; fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "apt-get install$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -f "$DEPS/proftpd/usr/lib/proftpd/mod_proxy.so" ]; then
    say "ProFTPD + mod_proxy: apt-get download, dpkg -x into $DEPS/proftpd"
    tmp=$(mktemp -d)
    (cd "$tmp" && { apt-get download proftpd-core proftpd-mod-proxy >/dev/null 2>&1 ||
                    { apt-get update -qq && apt-get download proftpd-core proftpd-mod-proxy >/dev/null; }; })
    rm -rf "$DEPS/proftpd"
    mkdir -p "$DEPS/proftpd"
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$DEPS/proftpd"; done
    rm -rf "$tmp"
fi
SSL=$(ldconfig -p | awk '/libssl\.so\.3 /{print $NF; exit}')
CRYPTO=$(ldconfig -p | awk '/libcrypto\.so\.3 /{print $NF; exit}')

pkgver() { zcat "$1" 2>/dev/null | head -1 | sed 's/^[^(]*(\([^)]*\)).*/\1/'; }
VSFTPD_VERSION=$(pkgver "$DEPS/vsftpd/usr/share/doc/vsftpd/changelog.Debian.gz")
MOD_PROXY_VERSION=$(pkgver "$DEPS/proftpd/usr/share/doc/proftpd-mod-proxy/changelog.Debian.gz")

# ---- the proxy
# Release = -O3 (CMakeLists.txt turns off g++ 12's false -Wrestrict).
CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=Release -DFTPPROXY_TESTS=OFF"
if [ -n "$PROXY" ]; then
    LABEL=$(basename "$PROXY")
    REV_FULL="binary $PROXY"
    BUILD_DESC="given binary"
elif [ -n "$REV" ]; then
    REV_FULL=$(git -C "$REPO" rev-parse "$REV")
    LABEL=$(git -C "$REPO" rev-parse --short "$REV")
    SRC="$BUILD/rev-$LABEL/src"
    if [ ! -d "$SRC" ]; then
        mkdir -p "$SRC"
        git -C "$REPO" archive "$REV_FULL" | tar -x -C "$SRC"
    fi
    say "building ftp-proxy at $LABEL (Release) in $BUILD/rev-$LABEL"
    # shellcheck disable=SC2086
    cmake -S "$SRC" -B "$BUILD/rev-$LABEL/build" $CMAKE_FLAGS >/dev/null
    cmake --build "$BUILD/rev-$LABEL/build" -j2 --target ftp-proxy >/dev/null
    PROXY="$BUILD/rev-$LABEL/build/src/proxy/ftp-proxy"
    BUILD_DESC="Release (-O3), built from git archive $LABEL"
else
    LABEL=$(git -C "$REPO" rev-parse --short HEAD)
    REV_FULL=$(git -C "$REPO" rev-parse HEAD)
    if [ -n "$(git -C "$REPO" status --porcelain -- src CMakeLists.txt cmake 2>/dev/null)" ]; then
        LABEL=wip
        REV_FULL="$REV_FULL + uncommitted changes"
    fi
    say "building ftp-proxy from the working tree (Release) in $BUILD"
    # shellcheck disable=SC2086
    cmake -S "$REPO" -B "$BUILD" $CMAKE_FLAGS >/dev/null
    cmake --build "$BUILD" -j2 --target ftp-proxy >/dev/null
    PROXY="$BUILD/src/proxy/ftp-proxy"
    BUILD_DESC="Release (-O3), working tree"
fi

# ---- the load generator
mkdir -p "$BUILD"
gcc -O2 -Wall -Wextra -o "$BUILD/ftpload" "$REPO/bench/ftpload.c"

# ---- run, in a network namespace of its own
say "running the benchmark (ftp-proxy $PROXY, label $LABEL)"
ulimit -n 20000
set -- /usr/bin/python3 "$REPO/bench/$SCRIPT" $QUICK ${RUNS:+--runs "$RUNS"} \
    --out "$REPO/bench/results" --proxy "$PROXY" --ftpload "$BUILD/ftpload" \
    --vsftpd "$DEPS/vsftpd/usr/sbin/vsftpd" --vsftpd-version "$VSFTPD_VERSION" \
    --proftpd-root "$DEPS/proftpd" --mod-proxy-version "$MOD_PROXY_VERSION" \
    --ssl-preload "$SSL" "$CRYPTO" \
    --rev "$LABEL" --rev-full "$REV_FULL" --build-desc "$BUILD_DESC" \
    --proxy-args "$PROXY_ARGS" --variant "$VARIANT"
# kernel_path.py makes (and deletes) network namespaces of its own; the
# others run in a new one.
if [ "$SCRIPT" = kernel_path.py ]; then exec "$@"; fi
exec unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh "$@"
