#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds (default 60) and fails if any
# target finds a crash, a hang (a single input running over 30 s) or runs
# out of memory (2 GB). Installs cargo-fuzz when it is missing.
#
# Usage: fuzz/run-all.sh [SECONDS]
#
# The committed seeds in fuzz/corpus/TARGET are read only; what the fuzzer
# learns goes to fuzz/target/corpus/TARGET (ignored by git) and is reused by
# the next run on the same machine. A crashing input is written to
# fuzz/artifacts/TARGET/ and named in the output; turn it into a test in
# tests/fuzz_regressions.rs (see fuzz/README.md).
set -euo pipefail

SECONDS_EACH=${1:-60}
CARGO_FUZZ_VERSION=0.13.2
cd "$(dirname "$0")/.."

case "$SECONDS_EACH" in
    '' | *[!0-9]*) echo "usage: fuzz/run-all.sh [SECONDS]" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run-all: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); the stable
# toolchain accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1

started=$(date +%s)
echo "run-all: building the fuzz targets"
cargo fuzz build
built=$(date +%s)

mapfile -t TARGETS < <(cargo fuzz list)
failed=()
mkdir -p fuzz/target/logs
for t in "${TARGETS[@]}"; do
    work="fuzz/target/corpus/$t"
    log="fuzz/target/logs/$t.log"
    mkdir -p "$work"
    echo "run-all: $t for ${SECONDS_EACH}s"
    if cargo fuzz run "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        echo "run-all: $t ok, ${runs:-?} executions"
    else
        echo "run-all: $t FAILED; last lines of $log:"
        tail -n 40 "$log"
        failed+=("$t")
    fi
done

ended=$(date +%s)
echo "run-all: build $((built - started))s, fuzzing $((ended - built))s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "run-all: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "run-all: all ${#TARGETS[@]} targets ran ${SECONDS_EACH}s without a crash"
