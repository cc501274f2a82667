#!/usr/bin/env bash
# schemathesis against a live reference server on loopback: every operation of the published
# OpenAPI document (GET /openapi.json) gets up to MAX_EXAMPLES generated requests (valid and
# invalid ones), and every reply must be no 5xx, a documented status, of the documented content
# type, with documented headers and a body matching its schema.
#
#   tests/openapi/run.sh                 # 50 examples per operation, fixed seed
#   MAX_EXAMPLES=500 SEED=random tests/openapi/run.sh
#
# schemathesis (PyPI, pinned below) is installed once into a venv under target/ (not committed).
# The server runs from a temporary data directory, listens on 127.0.0.1 only, and is stopped
# at the end, failed or not. Exit status: schemathesis's (0 when every check passed).
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
# hypothesis pinned with it: a newer one can break its JSON-schema strategies.
HYPOTHESIS_VERSION=6.170.17
MAX_EXAMPLES=${MAX_EXAMPLES:-50}
SEED=${SEED:-17}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$ROOT/target/openapi-venv"
started=$(date +%s)

if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
fi

cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p ibkey

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port, then the server on it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$ROOT/target/debug/ibkey" --data-dir "$work/home" server --listen "127.0.0.1:$port" \
    --challenge-lifetime 600 \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl --silent --fail "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "the server did not start" >&2; exit 1; }
    sleep 0.1
done

# Data for the generated requests to reach past the token checks (tests/openapi/schemathesis.toml):
# a signed-in portal user, alice, with this desktop device activated (the CLI, as a phone
# would), one of her logins waiting for approval, and the support token.
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)[\"$1\"])"; }
sign_in='{"username": "alice", "password": "ibkey-demo"}'
IBKEY_PORTAL_TOKEN=$(curl --silent --fail "$base/v1/portal/sign-in" \
    -H 'Content-Type: application/json' -d "$sign_in" | json_field portal_token)
session_id=$(curl --silent --fail -X POST "$base/v1/portal/activation-tickets" \
    -H "Authorization: Bearer $IBKEY_PORTAL_TOKEN" | json_field session_id)
printf '246813\n246813\n246813\n' | "$ROOT/target/debug/ibkey" --data-dir "$work/home" \
    --server "$base" activate --session-id "$session_id" --pin-stdin >/dev/null
login=$(curl --silent --fail "$base/v1/logins" -H 'Content-Type: application/json' -d "$sign_in")
IBKEY_LOGIN_ID=$(echo "$login" | json_field login_id)
IBKEY_LOGIN_SECRET=$(echo "$login" | json_field login_secret)
# On loopback the reference server keeps the demo password and support token.
IBKEY_SUPPORT_TOKEN=ibkey-support
export IBKEY_PORTAL_TOKEN IBKEY_LOGIN_ID IBKEY_LOGIN_SECRET IBKEY_SUPPORT_TOKEN

seed_args=(--seed "$SEED")
[ "$SEED" = random ] && seed_args=()
status=0
"$VENV/bin/schemathesis" --config-file "$ROOT/tests/openapi/schemathesis.toml" \
    run "$base/openapi.json" --no-color \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" "${seed_args[@]}" \
    --workers 1 --request-timeout 40 \
    --report junit --report-dir "$ROOT/target/openapi-report" || status=$?

if grep -q "panicked" "$work/server.log"; then
    grep -B2 -A8 "panicked" "$work/server.log" >&2
    status=1
fi
echo "tests/openapi/run.sh: ${MAX_EXAMPLES} examples per operation, $(( $(date +%s) - started )) s, exit $status"
exit "$status"
