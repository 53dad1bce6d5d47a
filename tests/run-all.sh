#!/bin/sh
# Every test of the project, as CI runs it: installs what it needs, builds,
# then runs the integration suites (real servers and clients) against the
# release programs, the unit tests and part of the suites under ASan/UBSan,
# and a short fuzzing smoke run of every fuzz target (tests/fuzz/README.md).
# Usage: sudo tests/run-all.sh        (FUZZ_SECONDS=30 in all by default)
set -eu
REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$REPO"
JOBS=${JOBS:-2}

# Each stage's start and the seconds since the run began: where CI's time
# goes (it must stay under 30 minutes).
START=$(date +%s)
step() { printf '\n=== %s  [%s, +%ss]\n' "$*" "$(date +%H:%M:%S)" "$(($(date +%s) - START))"; }

# The sanitizer and fuzzer builds start in the background, on one core at
# the lowest priority, while the stages before the ones that need them test:
# those stages mostly wait (servers, timers, VRRP), and on the 2-core CI
# machine the builds took a third of the run in the foreground. When its
# stage comes, a build that has not finished is stopped (its whole process
# group: cmake, make, compilers; make deletes what it was writing) and
# finished in the foreground on both cores, which also reports any error.
BACKGROUND_GROUPS=""
BUILD_LOGS=$(mktemp -d)
stop_background() {
    for group in $BACKGROUND_GROUPS; do kill -TERM "-$group" 2>/dev/null || true; done
    rm -rf "$BUILD_LOGS"
}
trap stop_background EXIT
# background_build LOG COMMAND...: its process group in LAST_GROUP (setsid:
# a background job of this script leads no group, so setsid does not fork).
background_build() {
    log=$1
    shift
    setsid nice -n 19 "$@" >"$log" 2>&1 &
    BACKGROUND_GROUPS="$BACKGROUND_GROUPS $!"
    LAST_GROUP=$!
}
# (`kill -TERM -GROUP`, not `kill -TERM -- -GROUP`: dash's kill takes no
# `--`; with it nothing was stopped, and the stage waited for the niced
# one-core build: 15 minutes of a CI run.)
take_over_build() {
    kill -TERM "-$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

step "dependencies"
deploy/install-build-deps.sh
deploy/install-test-deps.sh

step "build: the Debian package (the three programs, release, hardened, -Werror)"
# The release programs CI tests are the package's: deploy/build-deb.sh runs
# dpkg-buildpackage (Debian's hardening flags on top of ours) and keeps its
# build tree, whose programs the release stages below run; tests/package
# then installs the .deb itself. Only the programs are built there: the
# unit tests run once, in the ASan/UBSan build (compiling them twice took a
# third of this stage, and on this 2-core machine the whole run must stay
# under 30 minutes). -g0 (dpkg-buildflags' DEB_CXXFLAGS_APPEND, this run
# only: the package as shipped keeps -g for its -dbgsym): a quarter less
# compile time per file; stack traces come from the ASan build, which keeps -g.
if ! DEB_CXXFLAGS_APPEND=-g0 deploy/build-deb.sh "$REPO/build-deb" >"$BUILD_LOGS/deb" 2>&1; then
    grep -E "error|Error" "$BUILD_LOGS/deb" | head -40
    tail -60 "$BUILD_LOGS/deb"
    echo "run-all.sh: the package build failed" >&2
    exit 1
fi
DEB=$(tail -n 1 "$BUILD_LOGS/deb")
# build-deb/ftpproxy_VERSION_ARCH.deb -> build-deb/ftpproxy-VERSION/_build
DEB_VERSION=$(basename "$DEB" | cut -d_ -f2)
RELEASE="$REPO/build-deb/ftpproxy-$DEB_VERSION/_build"
echo "package: $DEB; release programs: $RELEASE/src"

# A unity build, as the package's: about half the compile time from scratch
# (CMakeLists.txt says why).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFTPPROXY_SANITIZE=ON -DFTPPROXY_TESTS=ON \
    -DCMAKE_UNITY_BUILD=ON >/dev/null
background_build "$BUILD_LOGS/asan" cmake --build build-asan -j1
ASAN_BUILD=$LAST_GROUP

# The integration files that run against the ASan/UBSan worker (below): the
# worker's sessions, data channels and TLS under the sanitizers: the
# hardening, limits, signals and port-theft files and FTPS on both sides
# toward real servers. They run there only; the rest (the interop matrix,
# the proxy's own replies, which the ASan unit tests and the fuzzers also
# cover) here, against the release worker: each file once, for CI time
# (tests/integration/README.md).
ASAN_K="hardening or test_limits.py or test_signals_and_usage.py or test_port_theft.py"
ASAN_K="$ASAN_K or test_ftps.py or test_ftps_server.py"

step "integration tests (real servers and clients, in a network namespace)"
FTPPROXY_BUILD="$RELEASE" FTP_PROXY_BIN="$RELEASE/src/proxy/ftp-proxy" tests/integration/run.sh -k "not ($ASAN_K)"

step "forward mode across client/firewall/server namespaces"
FTPPROXY_BUILD="$RELEASE" tests/netns/run.sh

step "man pages (mandoc -Tlint, flags agree with --help)"
FTPPROXY_BUILD="$RELEASE" tests/docs/run.sh

step "the Debian package: install, the service from its unit, upgrade during a download, purge"
FTPPROXY_DEB="$DEB" tests/package/run.sh

step "ASan/UBSan build and the unit tests"
take_over_build "$ASAN_BUILD"
cmake --build build-asan -j"$JOBS"
background_build "$BUILD_LOGS/fuzz" env JOBS=1 tests/fuzz/build.sh
FUZZ_BUILD=$LAST_GROUP
ctest --test-dir build-asan --output-on-failure --no-tests=error

step "integration tests against the ASan/UBSan worker (the files named in ASAN_K)"
FTP_PROXY_BIN="$REPO/build-asan/src/proxy/ftp-proxy" tests/integration/run.sh -k "$ASAN_K"

step "ftpproxyd and ftpproxyctl with real workers, under ASan/UBSan"
# The supervisor's callbacks and coroutines (backend checks, demotion,
# liveness watch, failover, metrics scrapes) outlive requests and runners:
# the whole suite runs with the sanitizers, workers included (about 100 s),
# and only so (running it against the release build too cost CI time the
# 30 minutes do not have on a 2-core machine).
FTPPROXY_BUILD="$REPO/build-asan" tests/supervisor/run.sh

step "fuzzing smoke run"
take_over_build "$FUZZ_BUILD"   # run-smoke.sh builds the rest, on both cores
tests/fuzz/run-smoke.sh "${FUZZ_SECONDS:-30}"

step "all tests passed"
