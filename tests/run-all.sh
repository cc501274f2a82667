#!/usr/bin/env bash
# Runs every check and test of the project, as CI does: formatting, lints, the Rust unit,
# doc and end-to-end tests (real server on loopback, real SQLite, real crypto).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, doc and end-to-end tests)"
cargo test --workspace --locked

printf '\nAll checks and tests passed.\n'
