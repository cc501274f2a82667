#!/usr/bin/env bash
# Builds the ibkey-ffi library and the ibkey CLI (the reference server), generates the Kotlin
# bindings, runs the JVM test suite against the real server, and checks that the Swift bindings
# generate. Works from a fresh clone; exits non-zero on any failure.
#
#   tests/kotlin/run.sh            everything
#   SKIP_SWIFT=1 tests/kotlin/run.sh
#
# Honours CARGO_TARGET_DIR. Needs cargo, a JDK 17+ and Maven (Maven Central reachable the
# first time).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
cd "$root"

echo "==> cargo build -p ibkey-ffi --release --features test-hooks"
cargo build -p ibkey-ffi --release --features test-hooks
echo "==> cargo build -p ibkey (the reference server and portal CLI)"
cargo build -p ibkey

echo "==> Kotlin bindings"
rm -rf "$here/target" # a clean Maven build: no classes left from removed sources
uniffi/generate-bindings.sh kotlin "$here/target/generated-sources/uniffi" \
    "$target_dir/release/libibkey_ffi.so"

echo "==> mvn test"
status=0
(cd "$here" && mvn -q -B -Dstyle.color=never test \
    -Dibkey.lib.dir="$target_dir/release" \
    -Dibkey.cli="$target_dir/debug/ibkey") || status=$?

# Surefire's XML reports hold the counts; the timing test prints its figure to its output file.
echo
bash "$root/tests/surefire-summary.sh" kotlin "$here/target/surefire-reports"
grep -h "^TIMING" "$here"/target/surefire-reports/*-output.txt 2>/dev/null || true
if [ "$status" -ne 0 ]; then
    echo "error: the Kotlin test suite failed (reports in $here/target/surefire-reports)" >&2
    exit "$status"
fi

if [ -z "${SKIP_SWIFT:-}" ]; then
    echo "==> Swift bindings (generated and checked only: no Swift toolchain here)"
    uniffi/generate-bindings.sh swift "$here/target/generated-swift" \
        "$target_dir/release/libibkey_ffi.so"
fi
echo "==> Kotlin bindings tests passed"
