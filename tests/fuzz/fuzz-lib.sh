# Shared by run-smoke.sh and run-long.sh (sourced, not run): the build, the
# list of targets and one run of one target.
#
# Each target NAME_fuzz has its seed corpus in corpus/NAME/ and uses the
# dictionary named after the first word of NAME (ftp.dict, config.dict, ...)
# when there is one. The fuzzer works on a copy of the seeds in
# build-fuzz/fuzz-corpus/NAME/, which grows from run to run; a crashing
# input is left in build-fuzz/fuzz-artifacts/.

fuzz_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fuzz_dir="$fuzz_root/tests/fuzz"
fuzz_build="$fuzz_root/build-fuzz"
fuzz_artifacts="$fuzz_build/fuzz-artifacts"

# Every target, from the sources: NAME for each NAME_fuzz.cpp.
fuzz_targets() {
    local source
    for source in "$fuzz_dir"/*_fuzz.cpp; do
        source="${source##*/}"
        echo "${source%_fuzz.cpp}"
    done
}

# Line tables only: enough for the sanitizers' and libFuzzer's stack traces
# (file:line), 14 % less compile time per file than full debug info.
fuzz_build_all() {
    CC=clang CXX=clang++ cmake -S "$fuzz_root" -B "$fuzz_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
        -DFTPPROXY_FUZZ=ON -DFTPPROXY_TESTS=OFF >/dev/null
    cmake --build "$fuzz_build" -j"${JOBS:-2}" --target fuzz_targets
}

# fuzz_run NAME SECONDS CORPUS LOG: runs NAME_fuzz for SECONDS on CORPUS
# (created from the seeds if missing), output in LOG. Returns the fuzzer's
# exit status (0: no crash).
fuzz_run() {
    local name="$1" seconds="$2" corpus="$3" log="$4"
    local dict="$fuzz_dir/${name%%_*}.dict"
    local options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$fuzz_artifacts/$name-")
    [[ -f "$dict" ]] && options+=(-dict="$dict")
    if [[ ! -d "$corpus" ]]; then
        mkdir -p "$corpus"
        cp "$fuzz_dir/corpus/$name/"* "$corpus/"
    fi
    mkdir -p "$fuzz_artifacts"
    "$fuzz_build/tests/fuzz/${name}_fuzz" "${options[@]}" "$corpus" >"$log" 2>&1
}

# fuzz_summary NAME LOG CORPUS STATUS: one line with what the run did.
fuzz_summary() {
    local name="$1" log="$2" corpus="$3" status="$4"
    local runs rate cov ft crashes
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    # libFuzzer stops at the first crash, timeout or out-of-memory input and
    # saves it ("Test unit written to ...").
    crashes=$(grep -c 'Test unit written to' "$log" || true)
    if [[ "$status" -ne 0 && "$crashes" -eq 0 ]]; then crashes=1; fi
    printf '%-16s execs=%s exec/s=%s cov=%s ft=%s corpus=%s crashes=%s exit=%s\n' \
        "$name" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
        "$(find "$corpus" -type f | wc -l)" "$crashes" "$status"
}
