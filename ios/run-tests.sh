#!/usr/bin/env bash
# Runs the IbKey XCTest suite against the real reference server:
#
#   ios/run-tests.sh                 swift test (macOS), after
#                                    IBKEY_FEATURES=test-hooks ios/build-xcframework.sh
#   ios/run-tests.sh COMMAND...      any other test command, such as xcodebuild for a simulator
#
# Starts two reference servers on free loopback ports with temporary data folders (one with
# 2-second tickets, for the expired-code test), exports IBKEY_TEST_SERVER and
# IBKEY_TEST_SERVER_SHORT_TICKETS (and their TEST_RUNNER_ twins, which xcodebuild passes into a
# simulator), runs the command from ios/, and stops the servers.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}

command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found; install Rust (https://rustup.rs)" >&2; exit 1; }
if [ $# -eq 0 ]; then
    command -v swift >/dev/null 2>&1 || { echo "error: swift not found; install Xcode" >&2; exit 1; }
    set -- swift test
fi

cargo build --manifest-path "$root/Cargo.toml" -p ibkey
cli="$target_dir/debug/ibkey"

work=$(mktemp -d)
pids=""
cleanup() {
    for pid in $pids; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Starts a server named $1 with the extra arguments that follow (in this shell, so that
# cleanup knows its process).
launch() {
    local name=$1
    shift
    "$cli" server --listen 127.0.0.1:0 --data-dir "$work/$name" "$@" >"$work/$name.log" 2>&1 &
    pids="$pids $!"
}

# Prints the URL of server $1 once it answers /healthz.
url_of() {
    local log="$work/$1.log"
    local url=""
    for _ in $(seq 1 300); do
        url=$(sed -n 's/^ibkey server listening on \(http:[^ ]*\).*/\1/p' "$log")
        if [ -n "$url" ] && curl -fsS "$url/healthz" >/dev/null 2>&1; then
            echo "$url"
            return 0
        fi
        sleep 0.1
    done
    echo "error: the $1 server did not start:" >&2
    cat "$log" >&2
    return 1
}

launch main
launch short --ticket-lifetime 2
IBKEY_TEST_SERVER=$(url_of main)
IBKEY_TEST_SERVER_SHORT_TICKETS=$(url_of short)
export IBKEY_TEST_SERVER IBKEY_TEST_SERVER_SHORT_TICKETS
export TEST_RUNNER_IBKEY_TEST_SERVER=$IBKEY_TEST_SERVER
export TEST_RUNNER_IBKEY_TEST_SERVER_SHORT_TICKETS=$IBKEY_TEST_SERVER_SHORT_TICKETS
# Each server's key, as an app ships it (the servers publish it in their data folders).
IBKEY_TEST_SERVER_KEY=$(cat "$work/main/server/server-key.pub")
IBKEY_TEST_SERVER_KEY_SHORT_TICKETS=$(cat "$work/short/server/server-key.pub")
export IBKEY_TEST_SERVER_KEY IBKEY_TEST_SERVER_KEY_SHORT_TICKETS
export TEST_RUNNER_IBKEY_TEST_SERVER_KEY=$IBKEY_TEST_SERVER_KEY
export TEST_RUNNER_IBKEY_TEST_SERVER_KEY_SHORT_TICKETS=$IBKEY_TEST_SERVER_KEY_SHORT_TICKETS
echo "reference servers: $IBKEY_TEST_SERVER and $IBKEY_TEST_SERVER_SHORT_TICKETS (2-second tickets)"

cd "$here"
"$@"
