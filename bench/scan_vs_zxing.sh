#!/usr/bin/env bash
# ibkey's QR scanner against zxing-cpp (PyPI `zxing-cpp`), in one run on the same images:
# decode rate on ../shared/qr-corpus at four rotations, and time per synthetic camera frame.
#
#   bench/scan_vs_zxing.sh [--frames N] [--repeats R] [--json FILE]
#
# QR_CORPUS overrides the corpus folder (default: ../shared/qr-corpus beside the repo).
# Installs zxing-cpp, numpy and Pillow into a venv under the cargo target folder.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${QR_CORPUS:-$root/../shared/qr-corpus}
target=${CARGO_TARGET_DIR:-$root/target}
work=$target/scan-bench
venv=$work/venv

if [ ! -d "$corpus" ]; then
  echo "QR corpus not found at $corpus (set QR_CORPUS)" >&2
  exit 2
fi

mkdir -p "$work"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "zxing-cpp==3.1.1" numpy pillow

cd "$root"
driver=$(cargo bench -p ibkey-core --bench scan_driver --no-run --message-format=json 2>/dev/null |
  "$venv/bin/python" -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "scan_driver" and msg.get("executable"):
        print(msg["executable"])
')
if [ -z "$driver" ]; then
  echo "could not build the scan_driver bench" >&2
  exit 2
fi

exec "$venv/bin/python" "$root/bench/scan_vs_zxing.py" \
  --corpus "$corpus" --work "$work" --driver "$driver" "$@"
