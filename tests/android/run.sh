#!/usr/bin/env bash
# Compiles the Android shell (android/ibkey and android/sample) against the real Android 14
# framework classes and AndroidX, and runs the Robolectric tests of its adapters, on the JVM:
# no Android SDK, no Gradle. Exits non-zero on a compile error or a failed test.
#
#   tests/android/run.sh [LIB_DIR [CLI [BINDINGS_DIR]]]
#
#   LIB_DIR       folder of libibkey_ffi.so built with --features test-hooks   (env IBKEY_LIB_DIR;
#                 default $CARGO_TARGET_DIR or target/, then release/)
#   CLI           the ibkey CLI, which starts the reference server            (env IBKEY_CLI;
#                 default target/debug/ibkey)
#   BINDINGS_DIR  the Kotlin bindings from uniffi/generate-bindings.sh         (env IBKEY_BINDINGS_DIR;
#                 default tests/kotlin/target/generated-sources/uniffi)
#
# IBKEY_ANDROID_DIR checks another copy of the shell (default: android/ of this checkout).
#
# The defaults are what tests/kotlin/run.sh leaves behind, so after it this script builds
# nothing with cargo. A missing default library or CLI is built, and bindings missing from
# BINDINGS_DIR are generated into tests/android/target/generated-sources/uniffi.
# Needs a JDK 17+ and Maven (Maven Central reachable the first time; Robolectric itself runs
# offline from the jars Maven fetched).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
lib_dir=${1:-${IBKEY_LIB_DIR:-$target_dir/release}}
cli=${2:-${IBKEY_CLI:-$target_dir/debug/ibkey}}
bindings_dir=${3:-${IBKEY_BINDINGS_DIR:-$root/tests/kotlin/target/generated-sources/uniffi}}
started=$(date +%s)
cd "$root"

if [ ! -f "$lib_dir/libibkey_ffi.so" ]; then
    if [ "$lib_dir" != "$target_dir/release" ]; then
        echo "error: no libibkey_ffi.so in $lib_dir" >&2
        exit 1
    fi
    echo "==> cargo build -p ibkey-ffi --release --features test-hooks"
    cargo build -p ibkey-ffi --release --features test-hooks
fi
if [ ! -x "$cli" ]; then
    if [ "$cli" != "$target_dir/debug/ibkey" ]; then
        echo "error: no ibkey CLI at $cli" >&2
        exit 1
    fi
    echo "==> cargo build -p ibkey (the reference server)"
    cargo build -p ibkey
fi
if [ -z "$(find "$bindings_dir" -name '*.kt' 2>/dev/null | head -n 1)" ]; then
    bindings_dir=$here/target/generated-sources/uniffi
    echo "==> Kotlin bindings into $bindings_dir"
    uniffi/generate-bindings.sh kotlin "$bindings_dir" "$lib_dir/libibkey_ffi.so"
fi

echo "==> mvn test (Android shell compiled against android-all $(
    sed -n 's:.*<android.all.version>\(.*\)</android.all.version>.*:\1:p' "$here/pom.xml"
) and AndroidX; Robolectric tests)"
# A clean compile (no classes left from removed sources); the copied .aar and Robolectric jars stay.
rm -rf "$here/target/classes" "$here/target/test-classes" "$here/target/surefire-reports"
status=0
(cd "$here" && mvn -q -B -Dstyle.color=never test \
    -Dibkey.lib.dir="$lib_dir" \
    -Dibkey.cli="$cli" \
    -Dibkey.bindings.dir="$bindings_dir" \
    -Dibkey.android.dir="${IBKEY_ANDROID_DIR:-$root/android}") || status=$?

echo
bash "$root/tests/surefire-summary.sh" android "$here/target/surefire-reports"
echo "android check took $(($(date +%s) - started)) s"
if [ "$status" -ne 0 ]; then
    echo "error: the Android compile check or its Robolectric tests failed (reports in $here/target/surefire-reports)" >&2
    exit "$status"
fi
echo "==> Android shell compiled and its Robolectric tests passed"
