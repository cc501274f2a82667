#!/usr/bin/env bash
# Load on the reference server, over loopback: starts `ibkey server` (release build) on a free
# loopback port with a temporary data folder, runs the load generator (tests/src/bin/load.rs)
# as a second process, stops the server, and prints the figures. Everything stops by itself:
# the generator has a count and a time limit, the server is stopped when it ends.
#
#   bench/load.sh                                  # 64 phones, 2000 logins, 16 in flight, 60 s
#   bench/load.sh --phones 32 --logins 500 --concurrency 8 --max-seconds 30
#
# Options are passed to the generator (see its --help text in load.rs). Exit status: the
# generator's (1 when any activation or login failed).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p ibkey --bin ibkey -p ibkey-e2e --bin load
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
url="http://127.0.0.1:$port"
"$target/release/ibkey" --data-dir "$data" server --listen "127.0.0.1:$port" >"$data/server.log" 2>&1 &
server=$!
stop() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$data"
}
trap stop EXIT

for _ in $(seq 1 100); do
    if [ -s "$data/server/server-key.pub" ] && curl -fs -o /dev/null "$url/"; then
        break
    fi
    sleep 0.1
done
key=$(cat "$data/server/server-key.pub")

status=0
"$target/release/load" --server "$url" --server-key "$key" "$@" || status=$?
echo "server: ibkey server (release) on $url, SQLite in a temporary folder"
exit "$status"
