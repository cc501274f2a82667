#!/usr/bin/env bash
# The portal's browser journeys (issue 14) in headless Chromium from Debian, driven by
# playwright-core, with axe-core injected into the pages; against the real `ibkey server`
# (target/debug/ibkey, built here): activation (journeys.test.mjs), login (login.test.mjs) and
# moving IB Key to a new phone (move.test.mjs). No browser is downloaded: Chromium comes from apt.
# With --screenshots, the README's screenshots in docs/screenshots are written anew.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ "${1:-}" = "--screenshots" ]; then
    export IBKEY_SCREENSHOTS="$root/docs/screenshots"
fi

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    echo "error: $chromium is missing; install Debian's Chromium first (as root):" >&2
    echo "    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium" >&2
    exit 1
fi
for tool in node npm cargo; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool is missing (the browser tests need Node.js 20+, npm and cargo)" >&2
        exit 1
    fi
done
echo "$("$chromium" --version 2>/dev/null | head -n 1); node $(node --version)"

# Exactly the locked playwright-core and axe-core (no browser download: playwright-core has none).
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

(cd "$root" && cargo build -p ibkey --locked --quiet)

# The activation journeys, then the login and the move journeys (each file its own server and
# browser); each runs even when one before failed, and the step fails when any did.
cd "$here"
status=0
for journeys in journeys.test.mjs login.test.mjs move.test.mjs; do
    IBKEY_BIN="$root/target/debug/ibkey" CHROMIUM="$chromium" \
        timeout --kill-after=10 240 node --test-reporter=spec "$journeys" || status=1
done
exit "$status"
