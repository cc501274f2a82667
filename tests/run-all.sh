#!/usr/bin/env bash
# Runs every check and test of the project, as CI does: formatting, lints, the Rust unit,
# doc and end-to-end tests (real server on loopback, real SQLite, real crypto), the portal's
# journeys in headless Chromium (tests/browser), then the generated Kotlin bindings tested on
# the JVM through JNA, the Android shell compiled against the real Android API with its
# adapters run under Robolectric, and the Swift bindings generated.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "no import cycles between the modules of any crate"
python3 tests/check-module-cycles.py protocol/src core/src uniffi/src server/src cli/src tests/src

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy for the mobile feature set (no JPEG, no rqrr; with and without uniffi)"
cargo clippy -p ibkey-core --no-default-features --all-targets --locked -- -D warnings
cargo clippy -p ibkey-core --no-default-features --features uniffi --all-targets --locked -- -D warnings

step "cargo test (unit, doc and end-to-end tests)"
cargo test --workspace --locked

step "cargo test of the core's unit tests with the mobile feature set (no JPEG decoder, no rqrr)"
cargo test -p ibkey-core --no-default-features --lib --locked

step "browser journeys in headless Chromium (portal sign-in and activation, QR read from screenshots, axe-core)"
bash tests/browser/run.sh

step "Kotlin bindings on the JVM (and Swift bindings generated)"
bash tests/kotlin/run.sh

step "Android shell compiled against the Android 14 API and AndroidX; its adapters under Robolectric"
bash tests/android/run.sh

printf '\nAll checks and tests passed.\n'
