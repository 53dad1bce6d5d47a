#!/usr/bin/env bash
# Long fuzzing runs: builds the targets, then runs each (or the NAMEs given)
# for SECONDS (default 600) in turn, one fuzzer process at a time, on its
# persistent corpus build-fuzz/fuzz-corpus/NAME (seeded from corpus/NAME,
# kept between runs). Prints one summary line per target and appends it, with
# date, machine and commit, to RESULTS (default build-fuzz/fuzz-results.txt).
# Run it at low priority on a shared machine:
#   nice -n 19 tests/fuzz/run-long.sh 1800 ftp_command config
# Exits non-zero when a fuzzer found a crash (input in build-fuzz/fuzz-artifacts/).
set -euo pipefail

seconds="${1:-600}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
    echo "usage: $0 [seconds per target > 0] [target...]" >&2
    exit 64
fi
shift || true
source "$(dirname "${BASH_SOURCE[0]}")/fuzz-lib.sh"
results="${RESULTS:-$fuzz_build/fuzz-results.txt}"

fuzz_build_all
if [[ $# -gt 0 ]]; then targets=("$@"); else mapfile -t targets < <(fuzz_targets); fi
commit="$(git -C "$fuzz_root" rev-parse --short HEAD)$(git -C "$fuzz_root" diff --quiet HEAD -- src tests/fuzz || echo +dirty)"
logs="$fuzz_build/fuzz-logs"
mkdir -p "$logs"
failed=0
for name in "${targets[@]}"; do
    [[ -f "$fuzz_dir/${name}_fuzz.cpp" ]] || { echo "no target $name" >&2; exit 64; }
    started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    log="$logs/$name-$(date -u +%Y%m%dT%H%M%S).log"
    status=0
    fuzz_run "$name" "$seconds" "$fuzz_build/fuzz-corpus/$name" "$log" || status=$?
    line="$started $(hostname) $commit ${seconds}s $(fuzz_summary "$name" "$log" "$fuzz_build/fuzz-corpus/$name" "$status")"
    echo "$line"
    echo "$line" >>"$results"
    [[ "$status" -eq 0 ]] || failed=1
done
exit "$failed"
