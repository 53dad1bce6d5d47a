#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz/ (clang) and runs ftp_parsers_fuzz
# for N seconds (default 30) on a copy of the seed corpus. Exits non-zero if
# the build fails or the fuzzer finds a crash; the crashing input is left in
# build-fuzz/fuzz-artifacts/.
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
    echo "usage: $0 [seconds > 0]" >&2
    exit 64
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build-fuzz"
corpus="$root/tests/fuzz/corpus-run"  # the fuzzer adds inputs here; git-ignored
artifacts="$build/fuzz-artifacts"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFTPPROXY_FUZZ=ON -DFTPPROXY_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target ftp_parsers_fuzz

rm -rf "$corpus"
cp -r "$root/tests/fuzz/corpus" "$corpus"
mkdir -p "$artifacts"

"$build/tests/fuzz/ftp_parsers_fuzz" \
    -max_total_time="$seconds" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 \
    -dict="$root/tests/fuzz/ftp.dict" \
    -artifact_prefix="$artifacts/" \
    "$corpus"
