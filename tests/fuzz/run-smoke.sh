#!/usr/bin/env bash
# CI's short fuzzing run: builds the libFuzzer targets in build-fuzz/ (clang)
# and runs every target in turn on a fresh copy of its seed corpus, splitting
# SECONDS (default 60) between them. Exits non-zero if the build fails or a
# fuzzer finds a crash; the crashing input is left in
# build-fuzz/fuzz-artifacts/ and the fuzzer's output is printed.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
    echo "usage: $0 [total seconds > 0]" >&2
    exit 64
fi
source "$(dirname "${BASH_SOURCE[0]}")/fuzz-lib.sh"

fuzz_build_all
mapfile -t targets < <(fuzz_targets)
each=$((seconds / ${#targets[@]}))
((each > 0)) || each=1
work="$fuzz_build/fuzz-smoke"
rm -rf "$work"
mkdir -p "$work"
failed=0
for name in "${targets[@]}"; do
    status=0
    fuzz_run "$name" "$each" "$work/$name" "$work/$name.log" || status=$?
    fuzz_summary "$name" "$work/$name.log" "$work/$name" "$status"
    if [[ "$status" -ne 0 ]]; then
        tail -n 40 "$work/$name.log"
        failed=1
    fi
done
exit "$failed"
