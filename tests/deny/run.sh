#!/usr/bin/env bash
# The dependency audit: cargo-deny (pinned) checks the workspace's crates against deny.toml:
# licences (an allow-list), bans (a second version of a crate is a warning, listed below;
# wildcard versions are errors) and sources (crates.io only). Exits non-zero on any error.
#
#   tests/deny/run.sh
#
# Advisories (known vulnerabilities) are NOT checked: the RustSec advisory database is a git
# repository on GitHub, which this project's machines and CI cannot reach, and none of the
# registries they can reach (crates.io, PyPI, npm, Maven Central, Debian) carries a copy of it.
# On a machine that reaches GitHub, run `cargo deny check advisories` as well.
#
# The first run builds cargo-deny from crates.io (about 9 minutes of CPU; the same pinned
# version already installed is reused). Needs cargo and the crates.io index.
set -euo pipefail

CARGO_DENY_VERSION=0.20.2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

start=$(date +%s)
if [ "$(cargo deny --version 2>/dev/null || true)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    echo "==> cargo install --locked cargo-deny@$CARGO_DENY_VERSION"
    cargo install --locked "cargo-deny@$CARGO_DENY_VERSION"
fi
installed=$(date +%s)

report=${CARGO_TARGET_DIR:-$root/target}/cargo-deny.txt
mkdir -p "$(dirname "$report")"
echo "==> cargo deny check licenses bans sources (full report: $report)"
status=0
cargo deny --log-level warn check licenses bans sources >"$report" 2>&1 || status=$?
done_at=$(date +%s)

# The findings without their inclusion trees: errors, and the crates found in two versions.
grep -E '^(error|warning)\[' "$report" | sort | uniq || true
tail -n 1 "$report"
echo "advisories: not checked (no RustSec advisory database reachable from here; see this script)"
echo "DENY install_s=$((installed - start)) check_s=$((done_at - installed))"
if [ "$status" -ne 0 ]; then
    echo "error: cargo deny found problems (above; details in $report)" >&2
    exit "$status"
fi
