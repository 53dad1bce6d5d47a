#!/usr/bin/env bash
# Builds every fuzz target into build-fuzz/ (clang), as run-smoke.sh does
# first: tests/run-all.sh starts it early, in the background, so that the
# smoke run later finds it built.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/fuzz-lib.sh"
fuzz_build_all
