#!/bin/sh
# Every test of the project, as CI runs it: installs what it needs, builds,
# then runs unit tests, the integration suite (real servers and clients), the
# same unit tests under ASan/UBSan, and a short fuzzing smoke run of every
# fuzz target (tests/fuzz/README.md).
# Usage: sudo tests/run-all.sh        (FUZZ_SECONDS=60 in all by default)
set -eu
REPO=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$REPO"
JOBS=${JOBS:-2}

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
deploy/install-build-deps.sh
deploy/install-test-deps.sh

step "build (release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFTPPROXY_TESTS=ON >/dev/null
cmake --build build -j"$JOBS"

step "unit tests"
ctest --test-dir build --output-on-failure --no-tests=error

step "integration tests (real servers and clients, in a network namespace)"
FTP_PROXY_BIN="$REPO/build/src/proxy/ftp-proxy" tests/integration/run.sh

step "forward mode across client/firewall/server namespaces"
FTP_PROXY_BIN="$REPO/build/src/proxy/ftp-proxy" tests/netns/run.sh

step "ftpproxyd and ftpproxyctl with real workers"
FTPPROXY_BUILD="$REPO/build" tests/supervisor/run.sh

step "ASan/UBSan build and unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFTPPROXY_SANITIZE=ON -DFTPPROXY_TESTS=ON >/dev/null
cmake --build build-asan -j"$JOBS"
ctest --test-dir build-asan --output-on-failure --no-tests=error

step "integration tests against the ASan/UBSan worker"
FTP_PROXY_BIN="$REPO/build-asan/src/proxy/ftp-proxy" tests/integration/run.sh -k "ftplib or abuse or features or hardening"

step "fuzzing smoke run"
tests/fuzz/run-smoke.sh "${FUZZ_SECONDS:-60}"

step "all tests passed"
