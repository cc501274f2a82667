#!/usr/bin/env bash
# Runs every check and test of the project, as CI does: formatting, lints, the Rust unit,
# doc and end-to-end tests (real server on loopback, real SQLite, real crypto), the portal's
# journeys in headless Chromium (tests/browser), then the generated Kotlin bindings tested on
# the JVM through JNA, the Android shell compiled against the real Android API with its
# adapters run under Robolectric, and the Swift bindings generated. On the way: the protocol's
# test vectors checked by an independent Python implementation, schemathesis against the
# published OpenAPI document, cargo deny, and every fuzz target for a few seconds.
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

step "protocol test vectors checked by a second implementation, in Python (docs/test-vectors.json)"
vectors_venv=${CARGO_TARGET_DIR:-target}/vectors-venv
if [ ! -x "$vectors_venv/bin/python" ]; then
    python3 -m venv "$vectors_venv"
fi
"$vectors_venv/bin/pip" install --quiet --disable-pip-version-check "cryptography==48.0.0"
"$vectors_venv/bin/python" protocol/tests/vectors_independent.py

step "the device API against its OpenAPI document: schemathesis on a live server (tests/openapi)"
bash tests/openapi/run.sh

step "dependency audit: cargo deny (licences, duplicates, sources; advisories need GitHub)"
bash tests/deny/run.sh

step "fuzz targets, 10 s each, unoptimised (the long run: bash fuzz/run.sh)"
FUZZ_PROFILE=dev bash fuzz/run.sh 10

step "browser journeys in headless Chromium (portal sign-in and activation, QR read from screenshots, axe-core)"
bash tests/browser/run.sh

step "Kotlin bindings on the JVM (and Swift bindings generated)"
bash tests/kotlin/run.sh

step "Android shell compiled against the Android 14 API and AndroidX; its adapters under Robolectric"
bash tests/android/run.sh

printf '\nAll checks and tests passed.\n'
