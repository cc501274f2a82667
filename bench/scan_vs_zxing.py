#!/usr/bin/env python3
"""ibkey's QR scanner against zxing-cpp, in one run, on the same luma images.

Called by bench/scan_vs_zxing.sh, which builds the Rust driver and installs zxing-cpp.

1. Decode rate: every photo of the corpus's zxing-qrcode-* folders, turned by 0/90/180/270
   degrees, against the expected text beside it; and the no-qr-* photos, where nothing may
   decode.
2. Time per frame: synthetic camera frames (1920x1080 and 1280x720) of a portal page showing
   an activation code, seen at an angle, blurred and noisy; and empty 1080p frames.
3. Monitor frames (bench/monitor_frames.py's sets, when --monitor names them): per set and
   rotation (0 and 90 degrees), frames read by each decoder, wrong texts, codes read where
   there is none, and the median time per frame, then the tail of the time per frame (mean,
   90th percentile, slowest); for the hand-held sequences, the frame of the first correct
   read (each frame decoded alone), its median and 90th percentile, the sequences never
   read, the frames read and the time per frame. With --mobile-driver, our scanner built as
   the mobile library is (no rqrr) gets a column of its own.

Every image is converted once to an 8-bit grey PGM; both decoders read those same pixels.
Timing covers the decode call only (no process start, no file reading). The machine may be
shared: the timed sets run twice, alternating which decoder goes first, and the medians are
over all runs.

Exit status 1 when a quality bar is missed (the table says which), 0 otherwise.
"""

import argparse
import base64
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import zxingcpp
from PIL import Image, ImageFilter

ROTATIONS = {0: None, 90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
             270: Image.Transpose.ROTATE_270}
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def save_pgm(path, array):
    height, width = array.shape
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (width, height))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def load_pgm(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


# ---------------------------------------------------------------------------------------------
# Inputs


def corpus_inputs(corpus, work):
    """(id, folder, rotation, pgm path, expected text or None) for every corpus photo."""
    items = []
    folders = sorted(d for d in os.listdir(corpus)
                     if d.startswith(("zxing-qrcode-", "no-qr-"))
                     and os.path.isdir(os.path.join(corpus, d)))
    if not folders:
        sys.exit(f"no zxing-qrcode-* or no-qr-* folders in {corpus}")
    for folder in folders:
        src_dir = os.path.join(corpus, folder)
        out_dir = os.path.join(work, "corpus", folder)
        os.makedirs(out_dir, exist_ok=True)
        for name in sorted(os.listdir(src_dir)):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in IMAGE_EXTS:
                continue
            expected = None
            if folder.startswith("zxing-qrcode-"):
                txt = os.path.join(src_dir, stem + ".txt")
                if not os.path.exists(txt):
                    continue
                with open(txt, "rb") as f:
                    expected = f.read().decode("utf-8")
            base = None
            for rotation, transpose in ROTATIONS.items():
                path = os.path.join(out_dir, f"{stem}{ext.replace('.', '_')}_r{rotation}.pgm")
                if not os.path.exists(path):
                    if base is None:
                        with Image.open(os.path.join(src_dir, name)) as im:
                            base = im.convert("L")
                    image = base if transpose is None else base.transpose(transpose)
                    save_pgm(path, np.asarray(image))
                items.append((f"{folder}/{name}@{rotation}", folder, rotation, path, expected))
    return items


def activation_payload(rng):
    """A payload shaped like the portal's: IBK1.<base64url claims>.<base64url signature>."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    claims = {
        "typ": "activation", "srv": "https://portal.example.com",
        "kid": b64(rng.bytes(12)), "sid": "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 12)),
        "usr": "alice.example", "iat": 1767225600, "exp": 1767225900,
    }
    return "IBK1." + b64(json.dumps(claims, separators=(",", ":")).encode()) + "." + b64(rng.bytes(64))


def homography(src, dst):
    """Coefficients mapping points of dst to src (what PIL's PERSPECTIVE transform wants)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float))


def portal_page(rng, code, with_code):
    """A portal-like page (1600x1000): header bar, text lines, the code with its session ID."""
    page = np.full((1000, 1600), 238, np.uint8)
    page[:70] = 72
    for _ in range(4):  # header menu items
        x = int(rng.integers(40, 1400))
        page[28:42, x:x + int(rng.integers(60, 140))] = 220

    def text_line(x, y, width, height=12):
        pos = x
        while pos < x + width:
            word = int(rng.integers(18, 90))
            page[y:y + height, pos:min(pos + word, x + width)] = int(rng.integers(40, 90))
            pos += word + int(rng.integers(8, 14))

    for i in range(14):
        text_line(60, 120 + i * 34, int(rng.integers(350, 560)))
    side = 420
    x0, y0 = 900, 180
    if with_code:
        img = Image.fromarray(code).resize((side, side), Image.Resampling.NEAREST)
        page[y0:y0 + side, x0:x0 + side] = np.asarray(img)
    else:
        page[y0:y0 + side, x0:x0 + side] = 238
    text_line(x0 + 60, y0 + side + 30, 300, 20)  # the session ID under the code
    text_line(x0, y0 + side + 80, 420)
    return page, (x0 + side / 2, y0 + side / 2), side


def camera_frame(rng, code, size, with_code):
    """A camera-like luma frame of size (w, h) looking at the portal page on a monitor."""
    w, h = size
    page, (cx, cy), side = portal_page(rng, code, with_code)
    # The code spans 30-45 % of the frame height, near the centre, turned a little.
    scale = rng.uniform(0.30, 0.45) * h / side
    angle = np.radians(rng.uniform(-12, 12))
    centre = np.array([w / 2 + rng.uniform(-0.1, 0.1) * w, h / 2 + rng.uniform(-0.1, 0.1) * h])
    ph, pw = page.shape
    corners = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], float)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (corners - [cx, cy]) @ rot.T * scale + centre
    dst += rng.uniform(-0.05, 0.05, dst.shape) * h  # perspective: corners moved independently
    coeffs = homography(corners, dst)
    bezel = int(rng.integers(20, 50))
    frame = Image.fromarray(page).transform((w, h), Image.Transform.PERSPECTIVE, tuple(coeffs),
                                            Image.Resampling.BICUBIC, fillcolor=bezel)
    frame = frame.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.4) * h / 1080))
    a = np.asarray(frame, np.float32)
    # A monitor seen by a camera: less contrast, uneven light, sensor noise.
    a = 30 + a * rng.uniform(0.65, 0.8)
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
    a *= 1.0 - rng.uniform(0.2, 0.4) * r2 + rng.uniform(-0.08, 0.08) * (xx / w - 0.5)
    a += rng.normal(0, rng.uniform(2.5, 5.0), a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


def synthetic_inputs(work, driver, count):
    """(set name, [(id, pgm path)], payload) for the timed sets."""
    rng = np.random.default_rng(20260806)
    payload = activation_payload(rng)
    pgm = subprocess.run([driver, "render", payload], check=True, capture_output=True).stdout
    code_path = os.path.join(work, "code.pgm")
    with open(code_path, "wb") as f:
        f.write(pgm)
    code = load_pgm(code_path)
    out_dir = os.path.join(work, "frames")
    os.makedirs(out_dir, exist_ok=True)
    sets = []
    for name, size, with_code in [("1080p frame with code", (1920, 1080), True),
                                  ("720p frame with code", (1280, 720), True),
                                  ("1080p empty frame", (1920, 1080), False)]:
        items = []
        for i in range(count):
            path = os.path.join(out_dir, f"{size[1]}p_{'code' if with_code else 'empty'}_{i}.pgm")
            save_pgm(path, camera_frame(rng, code, size, with_code))
            items.append((f"{name}#{i}", path))
        sets.append((name, items, payload if with_code else None))
    return sets


# ---------------------------------------------------------------------------------------------
# Decoders


def run_ours(driver, work, items, repeats, mode="decode"):
    """{id: ([texts read], [microseconds])} from the Rust driver; an item is (id, path) or
    (id, path, quarter turns counter-clockwise). mode "stream" reads items as camera streams
    (ids SEQ/FRAME, in order), each through one scanner that remembers its frames."""
    manifest = os.path.join(work, "manifest.tsv")
    with open(manifest, "w") as f:
        for item in items:
            f.write("\t".join(str(v) for v in item) + "\n")
    command = [driver, mode, manifest] + ([str(repeats)] if mode == "decode" else [])
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    results = {}
    for line in out.splitlines():
        record = json.loads(line)
        results[record["id"]] = (record["texts"], record["us"])
    return results


def run_zxing(items, repeats):
    """{id: ([texts read], [microseconds])} from zxing-cpp, QR codes only, default options;
    items as for run_ours."""
    results = {}
    for item_id, path, *turns in items:
        pixels = load_pgm(path)
        if turns and turns[0]:
            pixels = np.ascontiguousarray(np.rot90(pixels, turns[0]))
        texts, times = [], []
        for _ in range(max(repeats, 1)):
            start = time.perf_counter()
            found = zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode)
            times.append((time.perf_counter() - start) * 1e6)
            texts = [barcode.text for barcode in found]
        results[item_id] = (texts, times)
    return results


# ---------------------------------------------------------------------------------------------
# Monitor frames

MONITOR_SETS = ("monitor-720p", "monitor-1080p", "monitor-empty")


def percentile(values, q):
    """The q-th percentile (nearest rank) of values, which may hold math.inf."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(np.ceil(q / 100 * len(ordered))) - 1))]


def monitor_bench(args, decoders, streamers, failures, raw):
    """Decode rates on the monitor sets and first reads on the sequences, for each decoder
    (name, run function taking items); the streamers (same shape) read the sequences only, as
    camera streams."""
    with open(os.path.join(args.monitor, "manifest.json")) as f:
        manifest = json.load(f)
    names = [name for name, _ in decoders]
    path = lambda p: os.path.join(args.monitor, p)
    print("\nMonitor frames (bench/monitor_frames.py, seed %d): frames whose text was read;"
          "\nin brackets, frames with a wrong text (monitor-empty: frames with any code read);"
          "\nmedian ms per frame" % manifest["seed"])
    print(f"{'set':<16} {'rot':>4} {'frames':>6} " +
          " ".join(f"{n:>10} {'ms':>6}" for n in names))
    raw["monitor"] = {}
    # (set, rotation) -> decoder -> each frame's mean time over its runs, in ms
    tails = {}
    for set_name in MONITOR_SETS:
        frames = [f for f in manifest["frames"] if f["set"] == set_name]
        if not frames:
            continue
        expected = {f["id"]: f["text"] for f in frames}
        for rotation in (0, 90):
            items = [(f"{f['id']}@{rotation}", path(f["path"]), rotation // 90) for f in frames]
            cells, counts = [], {}
            for name, run in decoders:
                res = run(items)
                raw["monitor"][f"{set_name}@{rotation}/{name}"] = res
                good = wrong = 0
                for (item_id, _, _), f in zip(items, frames):
                    texts = res[item_id][0]
                    want = expected[f["id"]]
                    good += want is not None and want in texts
                    wrong += any(t != want for t in texts)
                ms = statistics.median(t for _, ts in res.values() for t in ts) / 1000
                tails.setdefault((set_name, rotation), {})[name] = [
                    statistics.mean(ts) / 1000 for _, ts in res.values()]
                counts[name] = (good, wrong)
                cell = f"{wrong} read" if set_name == "monitor-empty" else \
                    f"{good}" + (f" [{wrong}]" if wrong else "")
                cells.append(f"{cell:>10} {ms:>6.1f}")
            print(f"{set_name:<16} {rotation:>4} {len(frames):>6} " + " ".join(cells))
            zg = counts["zxing-cpp"][0]
            for name in names:
                if name == "zxing-cpp":
                    continue
                good, wrong = counts[name]
                if wrong:
                    failures.append(f"{set_name} @{rotation}: {name} read {wrong} wrong or "
                                    "phantom code(s)")
                if good < zg:
                    failures.append(f"{set_name} @{rotation}: {name} {good} < zxing-cpp {zg}")

    print("\nThe tail of the time per frame, ms: mean / 90th percentile / slowest frame (a frame "
          "showing finders\nthat no look reads runs every look)")
    print(f"{'set':<16} {'rot':>4} " + " ".join(f"{n:>20}" for n in names))
    for (set_name, rotation), per_decoder in tails.items():
        cells = []
        for name in names:
            times = per_decoder[name]
            cell = (f"{statistics.mean(times):.1f} / {percentile(times, 90):.1f} / "
                    f"{max(times):.0f}")
            cells.append(f"{cell:>20}")
        print(f"{set_name:<16} {rotation:>4} " + " ".join(cells))

    sequences = manifest["sequences"]
    if not sequences:
        return
    length = max(len(s["frames"]) for s in sequences)
    print(f"\nSequences: {len(sequences)} hand-held streams of {length} frames, each frame "
          "decoded alone (*-stream: read as a camera stream, each frame with what the frames "
          "before it showed);\nframe (1-based) of the first correct read: median, 90th "
          "percentile, never read; wrong texts; frames read; ms per frame: median, and mean / "
          "90th percentile / slowest")
    print(f"{'decoder':<20} {'median':>7} {'p90':>7} {'never':>6} {'wrong':>6} {'read':>6} "
          f"{'ms':>6} {'tail':>20}")
    items = [(f"{s['id']}/{i:02d}", path(fr["path"]), 0)
             for s in sequences for i, fr in enumerate(s["frames"])]
    first = {}
    for name, run in decoders + streamers:
        res = run(items)
        raw["monitor"][f"sequences/{name}"] = res
        reads, wrong, frames_read = [], 0, 0
        for s in sequences:
            at = math.inf
            for i in range(len(s["frames"])):
                texts = res[f"{s['id']}/{i:02d}"][0]
                wrong += any(t != s["text"] for t in texts)
                frames_read += s["text"] in texts
                if s["text"] in texts and at == math.inf:
                    at = i + 1
            reads.append(at)
        first[name] = reads
        times = [statistics.mean(ts) / 1000 for _, ts in res.values()]
        tail = f"{statistics.mean(times):.1f} / {percentile(times, 90):.1f} / {max(times):.0f}"
        show = lambda v: "never" if v == math.inf else f"{v:g}"
        never = sum(r == math.inf for r in reads)
        print(f"{name:<20} {show(statistics.median(reads)):>7} {show(percentile(reads, 90)):>7} "
              f"{never:>6} {wrong:>6} {frames_read:>6} {statistics.median(times):>6.1f} "
              f"{tail:>20}")
        if wrong and name != "zxing-cpp":
            failures.append(f"sequences: {name} read {wrong} wrong text(s)")
    by_kind = {}
    for s, *reads in zip(sequences, *first.values()):
        by_kind.setdefault(s["motion"], []).append(reads)
    print("by kind, median first read: " + "; ".join(
        f"{kind} ({len(rows)}): " + ", ".join(
            f"{name} {statistics.median(r[k] for r in rows):g}" for k, name in enumerate(first))
        for kind, rows in sorted(by_kind.items())))
    # The hardest third: of the sequences some decoder reads at all (the others hold no
    # readable frame and tell no decoder from another), the third zxing-cpp reads latest
    # (never counts as latest).
    zx_reads = first["zxing-cpp"]
    readable = [i for i in range(len(sequences))
                if any(reads[i] != math.inf for reads in first.values())]
    hardest = sorted(readable, key=lambda i: (zx_reads[i], i))[-max(1, len(readable) // 3):]
    show = lambda v: "never" if v == math.inf else f"{v:g}"
    hard = {name: statistics.median(reads[i] for i in hardest) for name, reads in first.items()}
    print(f"{len(sequences) - len(readable)} sequences read by no decoder; hardest third of the "
          f"other {len(readable)} ({len(hardest)}, zxing-cpp's latest first reads), median "
          "first read: " + ", ".join(f"{name} {show(v)}" for name, v in hard.items()))
    raw["monitor"]["sequences/first-read"] = {
        name: [None if r == math.inf else r for r in reads] for name, reads in first.items()}
    zx = statistics.median(zx_reads)
    for name, reads in first.items():
        if name != "zxing-cpp" and statistics.median(reads) > zx:
            failures.append(f"sequences: {name} median first read {statistics.median(reads):g} "
                            f"> zxing-cpp {zx:g}")
    for name, _ in streamers:
        if not hard[name] < hard["zxing-cpp"]:
            failures.append(f"sequences, hardest third: {name} median first read "
                            f"{show(hard[name])}, not before zxing-cpp's {show(hard['zxing-cpp'])}")


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, help="the qr-corpus folder")
    parser.add_argument("--work", required=True, help="folder for the converted images")
    parser.add_argument("--driver", required=True, help="the scan_driver bench executable")
    parser.add_argument("--frames", type=int, default=12, help="synthetic frames a set")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs a frame, a pass")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--monitor", help="bench/monitor_frames.py's output folder")
    parser.add_argument("--mobile-driver", help="scan_driver built without default features")
    parser.add_argument("--only-monitor", action="store_true",
                        help="skip the corpus and the timed synthetic frames")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)

    failures = []
    raw = {}
    if not args.only_monitor:
        corpus_and_frames(args, failures, raw)
    if args.monitor:
        decoders = [("ibkey", lambda items: run_ours(args.driver, args.work, items, 1))]
        if args.mobile_driver:
            decoders.append(("ibkey-mobile",
                             lambda items: run_ours(args.mobile_driver, args.work, items, 1)))
        decoders.append(("zxing-cpp", lambda items: run_zxing(items, 1)))
        streamers = [("ibkey-stream",
                      lambda items: run_ours(args.driver, args.work, items, 1, "stream"))]
        if args.mobile_driver:
            streamers.append(("ibkey-mobile-stream", lambda items: run_ours(
                args.mobile_driver, args.work, items, 1, "stream")))
        monitor_bench(args, decoders, streamers, failures, raw)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f)
    print()
    if failures:
        print("MISSED:")
        for line in failures:
            print(f"  - {line}")
        return 1
    print("All bars met: decode rate >= zxing-cpp in every folder, set and rotation, no wrong "
          "text, nothing read without a code, frames no slower.")
    return 0


def corpus_and_frames(args, failures, raw):
    """The shared corpus's decode rates and the synthetic frames' times."""
    corpus = corpus_inputs(args.corpus, args.work)
    pairs = [(i, p) for i, _, _, p, _ in corpus]
    ours = run_ours(args.driver, args.work, pairs, 1)
    theirs = run_zxing(pairs, 1)

    from importlib.metadata import version
    print(f"zxing-cpp {version('zxing-cpp')} (QR only, default options) "
          f"vs ibkey scan, same 8-bit grey pixels\n")
    print("Decode rate: images where the expected text was among the codes read; in brackets,\n"
          "images where codes were read but not the expected one (no-qr: images with any code)")
    print(f"{'folder':<16} {'rot':>4} {'images':>6} {'ibkey':>8} {'zxing-cpp':>10}")
    folders = sorted({f for _, f, _, _, _ in corpus})
    totals = {"ibkey": [0, 0], "zxing": [0, 0], "n": 0}
    for folder in folders:
        for rotation in ROTATIONS:
            rows = [c for c in corpus if c[1] == folder and c[2] == rotation]
            if not rows:
                continue
            counts = {}
            for name, results in (("ibkey", ours), ("zxing", theirs)):
                good = wrong = 0
                for item_id, _, _, _, expected in rows:
                    texts = results[item_id][0]
                    if not texts:
                        continue
                    if expected is not None and expected in texts:
                        good += 1
                    else:
                        wrong += 1
                counts[name] = (good, wrong)
            (og, ow), (zg, zw) = counts["ibkey"], counts["zxing"]
            if folder.startswith("no-qr"):
                cell = lambda g, w: f"{w} read"
                if ow:
                    failures.append(f"{folder} @{rotation}: ibkey read {ow} image(s) with no code")
            else:
                cell = lambda g, w: f"{g}" + (f" [{w}]" if w else "")
                totals["n"] += len(rows)
                for name, (g, w) in counts.items():
                    totals[name][0] += g
                    totals[name][1] += w
                if ow:
                    failures.append(f"{folder} @{rotation}: ibkey read {ow} wrong text(s)")
                if og < zg:
                    failures.append(f"{folder} @{rotation}: ibkey {og} < zxing-cpp {zg}")
            print(f"{folder:<16} {rotation:>4} {len(rows):>6} {cell(og, ow):>8} {cell(zg, zw):>10}")
    print(f"{'all zxing-qrcode':<16} {'':>4} {totals['n']:>6} {totals['ibkey'][0]:>8} "
          f"{totals['zxing'][0]:>10}")
    corpus_times = {name: statistics.median(t for _, (_, ts) in res.items() for t in ts)
                    for name, res in (("ibkey", ours), ("zxing", theirs))}
    print(f"median time per corpus image: ibkey {corpus_times['ibkey'] / 1000:.2f} ms, "
          f"zxing-cpp {corpus_times['zxing'] / 1000:.2f} ms")

    print("\nTime per camera frame: median over frames x runs (two passes, order alternated)")
    print(f"{'set':<24} {'frames':>6} {'ibkey read':>10} {'ibkey ms':>9} "
          f"{'zxing read':>10} {'zxing ms':>9}")
    raw.update(corpus={"ibkey": ours, "zxing": theirs}, frames={})
    for name, items, payload in synthetic_inputs(args.work, args.driver, args.frames):
        times = {"ibkey": [], "zxing": []}
        reads = {}
        for first in ("ibkey", "zxing"):
            order = [first, "zxing" if first == "ibkey" else "ibkey"]
            for who in order:
                res = (run_ours(args.driver, args.work, items, args.repeats) if who == "ibkey"
                       else run_zxing(items, args.repeats))
                times[who] += [t for _, (_, ts) in res.items() for t in ts]
                reads[who] = res
        counts = {}
        for who, res in reads.items():
            counts[who] = sum(1 for texts, _ in res.values() if payload in texts) if payload else \
                sum(1 for texts, _ in res.values() if texts)
            if payload is not None and any(t != payload for texts, _ in res.values() for t in texts):
                failures.append(f"{name}: {who} read a wrong text")
        med = {who: statistics.median(ts) / 1000 for who, ts in times.items()}
        print(f"{name:<24} {len(items):>6} {counts['ibkey']:>10} {med['ibkey']:>9.2f} "
              f"{counts['zxing']:>10} {med['zxing']:>9.2f}")
        if payload is None and counts["ibkey"]:
            failures.append(f"{name}: ibkey read a code in an empty frame")
        if payload is not None and counts["ibkey"] < counts["zxing"]:
            failures.append(f"{name}: ibkey read {counts['ibkey']} < zxing-cpp {counts['zxing']}")
        if med["ibkey"] > med["zxing"]:
            failures.append(f"{name}: ibkey {med['ibkey']:.2f} ms > zxing-cpp {med['zxing']:.2f} ms")
        raw["frames"][name] = {who: {k: v for k, v in r.items()} for who, r in reads.items()}


if __name__ == "__main__":
    sys.exit(main())
