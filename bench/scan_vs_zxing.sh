#!/usr/bin/env bash
# ibkey's QR scanner against zxing-cpp (PyPI `zxing-cpp`), in one run on the same images:
# decode rate on ../shared/qr-corpus at four rotations, time per synthetic camera frame, and
# decode rate, first reads and time on the monitor frames of bench/monitor_frames.py.
#
#   bench/scan_vs_zxing.sh [--frames N] [--repeats R] [--json FILE] [--only-monitor]
#
# QR_CORPUS overrides the corpus folder (default: ../shared/qr-corpus beside the repo).
# Installs zxing-cpp, numpy, Pillow, OpenCV and segno into a venv under the cargo target
# folder, and generates the monitor frames there on the first run (a few minutes).
# Our scanner runs twice: as built by default, and as the mobile library is (no rqrr).
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
"$venv/bin/pip" install --quiet --disable-pip-version-check "zxing-cpp==3.1.1" "numpy==2.4.6" \
  "pillow==13.0.0" "opencv-python-headless==5.0.0.93" "segno==1.6.6"

monitor=$work/monitor
if [ ! -f "$monitor/manifest.json" ]; then
  echo "generating the monitor frames into $monitor (a few minutes)" >&2
  nice -n 10 "$venv/bin/python" "$root/bench/monitor_frames.py" --out "$monitor" --jobs 2
fi

cd "$root"
# The scan_driver bench executable, built with the cargo features given.
build_driver() {
  cargo bench -p ibkey-core --bench scan_driver --no-run --message-format=json "$@" 2>/dev/null |
    "$venv/bin/python" -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "scan_driver" and msg.get("executable"):
        print(msg["executable"])
'
}
driver=$(build_driver)
# The mobile library's scanner: ibkey-ffi takes ibkey-core without default features.
mobile_driver=$(build_driver --no-default-features)
if [ -z "$driver" ] || [ -z "$mobile_driver" ]; then
  echo "could not build the scan_driver bench" >&2
  exit 2
fi

exec "$venv/bin/python" "$root/bench/scan_vs_zxing.py" \
  --corpus "$corpus" --work "$work" --driver "$driver" --mobile-driver "$mobile_driver" \
  --monitor "$monitor" "$@"
