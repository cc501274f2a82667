#!/usr/bin/env bash
# Fuzzes every target in fuzz/fuzz_targets for SECONDS_PER_TARGET seconds each (default 600),
# one after the other, on stable Rust (see fuzz/README.md), and prints per target: executions,
# executions per second, corpus size and crashes. Exits non-zero when any target crashed
# (a panic, an overflow, a hang past the timeout, memory past the limit); the inputs that did
# are in fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh            # the long run: 10 minutes a target
#   FUZZ_PROFILE=dev bash fuzz/run.sh 10   # what CI runs
#   bash fuzz/run.sh 60 push    # some targets only
set -euo pipefail

SECONDS_PER_TARGET="${1:-600}"
shift || true
CARGO_FUZZ_VERSION="0.13.1"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [[ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# Stable Rust: no sanitizer (every flag cargo-fuzz passes is then a stable -C flag: libFuzzer's
# coverage through LLVM's sancov pass), release code with debug assertions and overflow checks.
build_flags=(--sanitizer none --debug-assertions)
# FUZZ_PROFILE=dev (what CI uses for its short runs): the targets unoptimised, built in a
# fraction of the time (cargo-fuzz compiles every dependency instrumented, in one codegen unit
# when optimised), at fewer executions a second.
# An input taking longer than this is a hang (unoptimised code is about 20 times slower).
hang_seconds=10
if [[ "${FUZZ_PROFILE:-release}" == dev ]]; then
    build_flags+=(--dev)
    hang_seconds=120
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${#targets[@]} targets"
start=$(date +%s)
cargo fuzz build "${build_flags[@]}"
echo "   built in $(( $(date +%s) - start )) s"

# New inputs go to a working corpus under target/ (git-ignored); the committed seeds in
# corpus/<target> are read, never written.
work="$here/target/corpus-work"
logs="$here/target/fuzz-logs"
mkdir -p "$work" "$logs"

failed=()
printf '%-14s %12s %9s %8s %8s\n' target executions exec/s corpus crashes > "$logs/summary.txt"
for target in "${targets[@]}"; do
    mkdir -p "$work/$target" "$here/artifacts/$target" "$here/corpus/$target"
    before=$(find "$here/artifacts/$target" -type f \( -name "crash-*" -o -name "timeout-*" -o -name "oom-*" -o -name "leak-*" \) | wc -l)
    echo "== $target: ${SECONDS_PER_TARGET} s"
    status=0
    # -timeout: one input taking that long is a hang. -rss_limit_mb: more is unbounded allocation.
    # -max_len: frames and bundles need room; others stay small anyway.
    cargo fuzz run "${build_flags[@]}" "$target" "$work/$target" "$here/corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout="$hang_seconds" -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$here/artifacts/$target/" \
        > "$logs/$target.log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$target.log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$logs/$target.log" | grep -o '[0-9]*$' || echo 0)
    corpus=$(grep -o 'corp: [0-9]*' "$logs/$target.log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    # libFuzzer also saves "slow-unit-*" inputs (slow, not failing): only failures count.
    crashes=$(( $(find "$here/artifacts/$target" -type f \( -name "crash-*" -o -name "timeout-*" -o -name "oom-*" -o -name "leak-*" \) | wc -l) - before ))
    if [[ $status -ne 0 || $crashes -gt 0 ]]; then
        failed+=("$target")
        echo "   CRASHED (exit $status); the end of its log:"
        grep -v '^#' "$logs/$target.log" | tail -25 | sed 's/^/   | /'
        [[ $crashes -gt 0 ]] || crashes=1
    fi
    printf '%-14s %12s %9s %8s %8s\n' "$target" "${execs:-0}" "${rate:-0}" "${corpus:-0}" "$crashes" \
        | tee -a "$logs/summary.txt"
done

echo
cat "$logs/summary.txt"
echo "   total $(( $(date +%s) - start )) s; logs in $logs"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/<target>/; reproduce with" \
        "cargo fuzz run --sanitizer none <target> <input>)"
    exit 1
fi
