#!/usr/bin/env python3
"""Camera frames of a QR code on a monitor, generated deterministically, for the scanner bench.

    monitor_frames.py --out DIR [--seed N] [--frames 200] [--empty 50] [--sequences 45]
                      [--sequence-length 24] [--jobs 1]

A portal-like page (an activation ticket's, a login page's or a session ID's QR code, error
correction level M as the portal draws them, 320 CSS pixels wide, at a device pixel ratio of
1 to 2) is shown on a simulated LCD: every monitor pixel is three vertical stripes, red, green
and blue, above a dark row of the black matrix. A simulated phone camera looks at it:

- a pinhole camera (65-75 degree field of view) tilted up to 35 degrees off the screen's
  normal, turned in-plane, at a distance where one module spans 1.5-8 camera pixels;
- the optics: lens blur and defocus, applied where the light is still continuous (on the
  monitor's sub-pixels, before sampling), so the sensor's sampling of the sub-pixel grid
  aliases into moire exactly where a sharp lens lets it through; then motion blur;
- glare (a reflected gradient and a soft highlight), exposure with clipping;
- an RGGB Bayer sensor with shot and read noise, bilinear demosaicing, a gamma curve, the
  phone's denoising and sharpening, JPEG at quality 70-95;
- the frame as the scanner gets it: the JPEG's luma (Y) plane, saved as an 8-bit grey PNG.

Sets (one folder each, under DIR): `monitor-720p` and `monitor-1080p` (one code a frame),
`monitor-empty` (the same pages without a code, 1080p and 720p), and `sequences/sNN`
(hand-held streams of consecutive frames: a slow approach from far, hand shake, focus
hunting, a glare sweep; every parameter moves smoothly from frame to frame).
`DIR/manifest.json` lists every frame: set, id, path (from DIR), the expected text (null without a
code), the sequence and frame number for sequences, and the parameters drawn.

Deterministic: each frame draws from its own generator seeded by (seed, set, index), and
OpenCV runs single-threaded, so one seed gives byte-identical frames, whatever --jobs.
"""

import argparse
import base64
import json
import math
import multiprocessing
import os
import sys

import cv2
import numpy as np
import segno

# The portal's QR image: 320 CSS pixels wide (server/src/pages/html.rs), level M.
QR_CSS_PX = 320
# The page as the browser lays it out, in CSS pixels.
PAGE_CSS = (1920, 1080)
# Device pixel ratios: 1 is a plain full-HD monitor, 2 a 4K one at 200 %.
DPRS = (1.0, 1.25, 1.5, 2.0)
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}
SETS = ("monitor-720p", "monitor-1080p", "monitor-empty", "sequences")
SEQUENCE_KINDS = ("approach", "shake", "focus", "glare")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
WORDS = ("account", "activate", "your", "phone", "scan", "the", "code", "with", "IB", "Key",
         "session", "expires", "in", "minutes", "portal", "security", "device", "open", "app",
         "choose", "login", "help", "settings", "statements", "trade", "orders", "client")
USERS = ("alice.example", "bob.mueller", "c.dupont", "dmitri.k", "eva.lindqvist", "f.rossi")
PLACES = ("Zurich, Switzerland", "London, United Kingdom", "Greenwich, United States",
          "Sydney, Australia", "Hong Kong")
BROWSERS = ("Chrome on Windows", "Safari on macOS", "Firefox on Linux", "Edge on Windows")


# ---------------------------------------------------------------------------------------------
# Payloads


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def session_id(rng):
    """12 Crockford base-32 characters, like the portal's session IDs."""
    return "".join(CROCKFORD[i] for i in rng.integers(0, 32, 12))


def token(rng, claims):
    """`IBK1.<claims>.<signature>`: base64url JSON and a 64-byte ECDSA signature's size."""
    return "IBK1." + b64(json.dumps(claims, separators=(",", ":")).encode()) + "." + \
        b64(rng.bytes(64))


def payload(rng):
    """(kind, text): an activation ticket, a login page's challenge, or a bare session ID."""
    srv = "https://portal.%s.example" % ("".join(rng.choice(list("abcdefghijklmnop"), 6)))
    iat = 1767225600 + int(rng.integers(0, 10_000_000))
    kind = rng.choice(["activation", "login", "session"], p=[0.55, 0.3, 0.15])
    if kind == "activation":
        claims = {"typ": "activation", "srv": srv, "kid": rng.bytes(8).hex(),
                  "sid": session_id(rng), "usr": str(rng.choice(USERS)), "iat": iat,
                  "exp": iat + 600}
        return "activation", token(rng, claims)
    if kind == "login":
        ip = "203.0.113.%d" % rng.integers(1, 255)
        claims = {"typ": "login", "srv": srv, "kid": rng.bytes(8).hex(), "id": b64(rng.bytes(12)),
                  "non": b64(rng.bytes(16)), "usr": str(rng.choice(USERS)),
                  "ctx": {"application": "Client Portal", "ip_address": ip,
                          "location": str(rng.choice(PLACES)),
                          "browser": str(rng.choice(BROWSERS)), "login_time": iat - 3},
                  "iat": iat, "exp": iat + 120}
        return "login", token(rng, claims)
    sid = session_id(rng)
    return "session", "-".join(sid[i:i + 4] for i in (0, 4, 8))


def qr_modules(text):
    """The code's modules (True dark) with the four-module quiet zone, level M."""
    code = segno.make(text, error="m", boost_error=False, micro=False)
    return np.array([[bool(v) for v in row] for row in code.matrix_iter(border=4)])


# ---------------------------------------------------------------------------------------------
# The page on the monitor


def put_words(page, rng, x, y, width, scale, dpr, colour):
    """A line of words in a Hershey font, `scale` in CSS pixels of cap height."""
    font_scale = scale * dpr / 22.0
    thickness = max(1, int(round(dpr)))
    pos = x
    while True:
        word = str(rng.choice(WORDS))
        (tw, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        if pos + tw > x + width:
            break
        cv2.putText(page, word, (int(pos), int(y)), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour,
                    thickness, cv2.LINE_AA)
        pos += tw + 8 * font_scale * 2


def render_page(rng, modules, dpr, sid_text):
    """The portal page in monitor pixels (RGB, sRGB values); the code's centre and module size
    in monitor pixels (None without a code)."""
    w, h = int(PAGE_CSS[0] * dpr), int(PAGE_CSS[1] * dpr)
    d = lambda v: int(round(v * dpr))
    background = tuple(int(v) for v in rng.integers(236, 256, 3))
    page = np.empty((h, w, 3), np.uint8)
    page[:] = background
    # Browser chrome and the portal's header.
    page[:d(74)] = (222, 225, 230)
    put_words(page, rng, d(120), d(48), d(700), 14, dpr, (60, 60, 60))
    header = tuple(int(v) for v in rng.integers(20, 90, 3))
    page[d(74):d(140)] = header
    put_words(page, rng, d(60), d(118), d(900), 20, dpr, (235, 235, 235))
    # Content column: heading, paragraphs, a button.
    left = d(rng.integers(80, 260))
    put_words(page, rng, left, d(210), d(600), 30, dpr, (25, 25, 25))
    y = 270
    for _ in range(int(rng.integers(5, 12))):
        put_words(page, rng, left, d(y), d(rng.integers(380, 620)), 15, dpr, (50, 50, 50))
        y += 30
    button = tuple(int(v) for v in rng.integers(0, 160, 3))
    cv2.rectangle(page, (left, d(y + 20)), (left + d(180), d(y + 64)), button, -1)
    put_words(page, rng, left + d(24), d(y + 50), d(150), 16, dpr, (255, 255, 255))
    # The code's place, right of the text, with the session ID under it.
    side = d(QR_CSS_PX)
    x0, y0 = d(rng.integers(900, 1300)), d(rng.integers(200, 330))
    centre = module = None
    if modules is not None:
        img = np.where(modules, 0, 255).astype(np.uint8)
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_NEAREST)  # crisp edges
        page[y0:y0 + side, x0:x0 + side] = img[:, :, None]
        centre = (x0 + side / 2, y0 + side / 2)
        module = side / modules.shape[0]
    else:
        # A page without a code: a table of figures where the code would be.
        for row in range(9):
            yy = y0 + d(row * 36)
            cv2.line(page, (x0, yy), (x0 + side, yy), (200, 200, 200), max(1, d(1)))
            put_words(page, rng, x0 + d(8), yy + d(26), side - d(16), 14, dpr, (40, 40, 40))
    cv2.putText(page, sid_text, (x0 + d(40), y0 + side + d(44)), cv2.FONT_HERSHEY_SIMPLEX,
                26 * dpr / 22.0, (20, 20, 20), max(1, d(2)), cv2.LINE_AA)
    put_words(page, rng, x0, y0 + side + d(90), side, 14, dpr, (80, 80, 80))
    return page, centre, module


# ---------------------------------------------------------------------------------------------
# The camera


def rotation(yaw, pitch, roll):
    """World-to-camera rotation for a camera turned by these angles (radians)."""
    cy, sy, cp, sp, cr, sr = (math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch),
                              math.cos(roll), math.sin(roll))
    ry = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    rz = np.array([[cr, sr, 0], [-sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def monitor_to_camera(p, size, target):
    """The homography from monitor pixels to camera pixels, for pose parameters `p`, so that
    the monitor point `target` lands at the frame point (centre + offset) at the distance
    where one monitor pixel at `target` spans `p['scale']` camera pixels."""
    w, h = size
    f = (w / 2) / math.tan(math.radians(p["hfov"]) / 2)
    k = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    r = rotation(math.radians(p["yaw"]), math.radians(p["pitch"]), math.radians(p["roll"]))
    depth = f / p["scale"]
    pixel = np.array([w / 2 + p["dx"] * w, h / 2 + p["dy"] * h, 1.0])
    ray = np.linalg.solve(k, pixel)
    q_cam = ray * depth  # the target, in camera coordinates
    q_world = np.array([target[0], target[1], 0.0])
    centre = q_world - r.T @ q_cam
    t = -r @ centre
    hom = k @ np.column_stack([r[:, 0], r[:, 1], t])
    return hom / hom[2, 2]


# sRGB values to linear light (a 2.2 power), by table.
TO_LINEAR = ((np.arange(256, dtype=np.float32) / 255.0) ** 2.2).astype(np.float32)
# Each sub-pixel's share of the light: three stripes over a dimmer row of the black matrix.
STRIPE_ROWS = (1.0, 1.0, 0.6)


def lcd_linear(page, region, subpixels):
    """The monitor's light over `region` (x0, y0, x1, y1 in monitor pixels), linear, float32:
    with `subpixels`, each monitor pixel as 3x3 samples (R, G, B stripes over a dark row of
    the black matrix); otherwise one sample a pixel, the stripes' average."""
    x0, y0, x1, y1 = region
    lin = TO_LINEAR[page[y0:y1, x0:x1]]
    if not subpixels:
        return lin * (sum(STRIPE_ROWS) / 9.0)
    h, w = lin.shape[:2]
    big = np.zeros((3 * h, 3 * w, 3), np.float32)
    for row, share in enumerate(STRIPE_ROWS):
        for c in range(3):
            big[row::3, c::3, c] = lin[:, :, c] * share
    return big


def camera_frame(page, hom, size, p, noise_rng):
    """What the phone camera delivers for the page under homography `hom` (monitor to
    camera pixels): the luma of the JPEG, uint8."""
    w, h = size
    # Monitor pixels per camera pixel around the frame centre sets how finely to sample.
    inv = np.linalg.inv(hom)
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], float) @ inv.T
    corners = corners[:, :2] / corners[:, 2:]
    ph, pw = page.shape[:2]
    psf = math.hypot(p["lens"], p["defocus"])  # optical blur, camera pixels (sigma)
    pad = 4
    x0 = int(max(0, math.floor(corners[:, 0].min()) - pad))
    y0 = int(max(0, math.floor(corners[:, 1].min()) - pad))
    x1 = int(min(pw, math.ceil(corners[:, 0].max()) + pad))
    y1 = int(min(ph, math.ceil(corners[:, 1].max()) + pad))
    bezel = np.float32(p["bezel"])
    if x1 - x0 < 2 or y1 - y0 < 2:
        light = np.full((h, w, 3), bezel, np.float32)
    else:
        # The sub-pixel stripes matter only where a monitor pixel spans most of a camera pixel
        # (finer, the optics average them away before the sensor samples).
        subpixels = p["scale"] >= 0.8
        n = 3 if subpixels else 1
        src = lcd_linear(page, (x0, y0, x1, y1), subpixels)
        per_cam = n / p["scale"]  # source samples per camera pixel
        q = max(1, int(per_cam / 1.5))
        if q > 1:
            src = cv2.resize(src, (src.shape[1] // q, src.shape[0] // q),
                             interpolation=cv2.INTER_AREA)
        sigma = psf * per_cam / q
        if sigma > 0.3:
            src = cv2.GaussianBlur(src, (0, 0), sigma)
        # Source sample (i, j) sits at monitor pixel (x0 + (j + 0.5) q / n - 0.5, ...).
        a = q / n
        to_mon = np.array([[a, 0, x0 + a / 2 - 0.5], [0, a, y0 + a / 2 - 0.5], [0, 0, 1]])
        light = cv2.warpPerspective(src, hom @ to_mon, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=(float(bezel),) * 3)
    if p["motion"] > 0.5:
        length = p["motion"]
        ksize = int(math.ceil(length)) | 1
        kernel = np.zeros((ksize * 2 + 1, ksize * 2 + 1), np.float32)
        c = ksize
        dx, dy = math.cos(math.radians(p["motion_angle"])), math.sin(math.radians(p["motion_angle"]))
        cv2.line(kernel, (int(round(c - dx * length / 2)), int(round(c - dy * length / 2))),
                 (int(round(c + dx * length / 2)), int(round(c + dy * length / 2))), 1.0, 1,
                 cv2.LINE_AA)
        light = cv2.filter2D(light, -1, kernel / kernel.sum())
    # Glare: a reflected gradient across the frame and a soft highlight.
    xs = (np.arange(w, dtype=np.float32) + 0.5) / w
    ys = (np.arange(h, dtype=np.float32) + 0.5) / h
    g = p["glare"]
    gx = 0.5 * g * math.cos(p["glare_dir"]) * (xs - 0.5)
    gy = 0.5 * g * math.sin(p["glare_dir"]) * (ys - 0.5) + 0.5 * g
    spread = 2 * p["hr"] ** 2
    hx = np.exp(-((xs - p["hx"]) ** 2) / spread)
    hy = p["highlight"] * np.exp(-(((ys - p["hy"]) * h / w) ** 2) / spread)
    glare = (gy[:, None] + gx[None, :]) + hy[:, None] * hx[None, :]
    light *= np.float32(p["exposure"])
    light += glare[:, :, None] * np.array(p["glare_tint"], np.float32)
    # The Bayer sensor: RGGB, one colour a photosite; shot and read noise; clipping.
    raw = np.empty((h, w), np.float32)
    raw[0::2, 0::2] = light[0::2, 0::2, 0]
    raw[0::2, 1::2] = light[0::2, 1::2, 1]
    raw[1::2, 0::2] = light[1::2, 0::2, 1]
    raw[1::2, 1::2] = light[1::2, 1::2, 2]
    sd = np.sqrt(np.float32(p["shot"] ** 2) * np.clip(raw, 0, None) + np.float32(p["read"] ** 2))
    raw += noise_rng.standard_normal((h, w), dtype=np.float32) * sd
    raw16 = (np.clip(raw, 0, 1) * 65535).astype(np.uint16)
    rgb = cv2.cvtColor(raw16, cv2.COLOR_BayerBG2RGB)
    # The phone's processing, on the luma (what the scanner sees of a JPEG is its Y plane, and
    # chroma does not change it): tone curve, Y = BT.601 weights, denoise, sharpen, JPEG.
    curve = (np.arange(65536, dtype=np.float32) / 65535) ** np.float32(1.0 / p["gamma"]) * 255
    y = curve[rgb[:, :, 0]] * np.float32(0.299)
    y += curve[rgb[:, :, 1]] * np.float32(0.587)
    y += curve[rgb[:, :, 2]] * np.float32(0.114)
    if p["denoise"] > 0.3:
        y = cv2.GaussianBlur(y, (0, 0), p["denoise"])
    y += np.float32(p["sharpen"]) * (y - cv2.GaussianBlur(y, (0, 0), 1.0))
    luma = np.clip(y + 0.5, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", luma, [cv2.IMWRITE_JPEG_QUALITY, int(p["jpeg"])])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)


# ---------------------------------------------------------------------------------------------
# Parameters


def still_params(rng, size, modules_across):
    """The camera and scene parameters of one frame, drawn independently."""
    w, h = size
    tilt = rng.uniform(0, 35)
    direction = rng.uniform(0, 2 * math.pi)
    # Module size in camera pixels, 1.5-8, more often small; the code must fit the frame.
    module = math.exp(rng.uniform(math.log(1.5), math.log(8)))
    module = min(module, 0.85 * h / modules_across) if modules_across else module
    return {
        "hfov": rng.uniform(65, 75),
        "yaw": tilt * math.cos(direction),
        "pitch": tilt * math.sin(direction),
        "roll": rng.uniform(-25, 25),
        "module": module,
        "dx": rng.uniform(-0.12, 0.12),
        "dy": rng.uniform(-0.12, 0.12),
        "lens": rng.uniform(0.3, 0.6),
        "defocus": float(rng.choice([0.0, rng.uniform(0, 1.0), rng.uniform(1.0, 2.5)],
                                    p=[0.35, 0.45, 0.2])),
        "motion": float(rng.choice([0.0, rng.uniform(0.5, 3), rng.uniform(3, 8)],
                                   p=[0.5, 0.35, 0.15])),
        "motion_angle": rng.uniform(0, 180),
        "glare": rng.uniform(0, 0.35),
        "glare_dir": rng.uniform(0, 2 * math.pi),
        "glare_tint": [float(v) for v in rng.uniform(0.85, 1.0, 3)],
        "highlight": float(rng.choice([0.0, rng.uniform(0.1, 0.6)], p=[0.6, 0.4])),
        "hx": rng.uniform(0, 1), "hy": rng.uniform(0, 1), "hr": rng.uniform(0.08, 0.3),
        "exposure": rng.uniform(0.6, 1.15),
        "bezel": rng.uniform(0.005, 0.05),
        "shot": rng.uniform(0.01, 0.04),
        "read": rng.uniform(0.002, 0.012),
        "denoise": float(rng.choice([0.0, rng.uniform(0.4, 0.9)])),
        "sharpen": rng.uniform(0.2, 1.2),
        "gamma": rng.uniform(1.8, 2.4),
        "jpeg": int(rng.integers(70, 96)),
    }


def smooth(rng, n, amplitude, cycles=(0.5, 3.0)):
    """n values of a smooth wobble: two sinusoids with random frequencies and phases."""
    t = np.arange(n, dtype=float)
    out = np.zeros(n)
    for _ in range(2):
        period = n / rng.uniform(*cycles)
        out += np.sin(2 * math.pi * t / period + rng.uniform(0, 2 * math.pi))
    return amplitude * out / 2


def sequence_params(rng, size, modules_across, kind, n):
    """Per-frame parameters of a hand-held sequence of `kind`, varying smoothly."""
    base = still_params(rng, size, modules_across)
    base["motion"] = 0.0
    fit = 0.85 * size[1] / modules_across
    frames = [dict(base) for _ in range(n)]
    shake = 0.3 if kind != "shake" else 1.0
    wob = {key: smooth(rng, n, amp * shake) for key, amp in
           (("yaw", 3.0), ("pitch", 3.0), ("roll", 2.0), ("dx", 0.02), ("dy", 0.02))}
    t = np.linspace(0, 1, n)
    if kind == "approach":
        far, near = rng.uniform(0.7, 1.3), min(fit, rng.uniform(3, 6))
        modules = np.exp(np.log(far) + (np.log(near) - np.log(far)) * t)
    else:
        modules = np.full(n, base["module"]) * np.exp(smooth(rng, n, 0.08))
    for i, f in enumerate(frames):
        for key, series in wob.items():
            f[key] = base[key] + float(series[i])
        f["module"] = float(min(modules[i], fit))
        if i:
            # Motion blur from how far the code moved since the last frame.
            dx = (f["dx"] - frames[i - 1]["dx"]) * size[0] + (f["yaw"] - frames[i - 1]["yaw"]) * 20
            dy = (f["dy"] - frames[i - 1]["dy"]) * size[1] + (f["pitch"] - frames[i - 1]["pitch"]) * 20
            f["motion"] = float(math.hypot(dx, dy)) * (0.5 if kind == "shake" else 0.25)
            f["motion_angle"] = math.degrees(math.atan2(dy, dx)) % 180
    if kind == "focus":
        # Focus hunting: far out of focus, overshooting, settling (or not quite).
        settle = rng.uniform(0.4, 1.0)
        for i, f in enumerate(frames):
            f["defocus"] = float(abs(3.5 * math.cos(2.2 * math.pi * t[i])) *
                                 (1 - settle * t[i]) + 0.2)
    if kind == "glare":
        # A highlight sweeping across the frame, over the code.
        y = rng.uniform(0.3, 0.7)
        for i, f in enumerate(frames):
            f.update(highlight=rng.uniform(0.5, 0.8) if i == 0 else frames[0]["highlight"],
                     hx=-0.2 + 1.4 * t[i], hy=y, hr=0.12)
    return frames


# ---------------------------------------------------------------------------------------------
# Jobs


def scene(rng, size, with_code):
    """The page (and its payload) a frame or sequence looks at."""
    kind, text = payload(rng)
    modules = qr_modules(text) if with_code else None
    dpr = float(rng.choice(DPRS))
    sid = session_id(rng)
    page, centre, module = render_page(rng, modules, dpr, "-".join(sid[i:i + 4] for i in (0, 4, 8)))
    if centre is None:
        # No code: aim where it would be, as if it were there.
        centre = (page.shape[1] * 0.6, page.shape[0] * 0.4)
        module = QR_CSS_PX * dpr / 77
    return {"kind": kind if with_code else None, "text": text if with_code else None,
            "dpr": dpr, "page": page, "centre": centre, "module_mon": module,
            "modules": 0 if modules is None else modules.shape[0]}


def render(size, sc, p, noise_rng):
    p = dict(p, scale=p["module"] / sc["module_mon"])
    hom = monitor_to_camera(p, size, sc["centre"])
    return camera_frame(sc["page"], hom, size, p, noise_rng)


def clean(p):
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in p.items()}


def still_job(args):
    seed, set_index, index, res, with_code, path = args
    rng = np.random.default_rng([seed, set_index, index])
    size = RESOLUTIONS[res]
    sc = scene(rng, size, with_code)
    p = still_params(rng, size, sc["modules"])
    frame = render(size, sc, p, np.random.default_rng([seed, set_index, index, 1]))
    cv2.imwrite(path, frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return {"text": sc["text"], "kind": sc["kind"], "resolution": res, "dpr": sc["dpr"],
            "modules": sc["modules"], "params": clean(p)}


def sequence_job(args):
    seed, seq, length, out_dir = args
    folder = os.path.join(out_dir, "sequences", f"s{seq:02d}")
    rng = np.random.default_rng([seed, 3, seq])
    kind = SEQUENCE_KINDS[seq % len(SEQUENCE_KINDS)]
    res = "720p" if seq % 2 else "1080p"
    size = RESOLUTIONS[res]
    sc = scene(rng, size, True)
    frames = sequence_params(rng, size, sc["modules"], kind, length)
    os.makedirs(folder, exist_ok=True)
    out = []
    for i, p in enumerate(frames):
        path = os.path.join(folder, f"f{i:02d}.png")
        frame = render(size, sc, p, np.random.default_rng([seed, 3, seq, i]))
        cv2.imwrite(path, frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        out.append({"path": os.path.relpath(path, out_dir), "params": clean(p)})
    return {"text": sc["text"], "kind": sc["kind"], "motion": kind, "resolution": res,
            "dpr": sc["dpr"], "modules": sc["modules"], "frames": out}


def init_worker():
    cv2.setNumThreads(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder to write the sets into")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--frames", type=int, default=200, help="frames in each monitor set")
    parser.add_argument("--empty", type=int, default=50, help="frames without a code")
    parser.add_argument("--sequences", type=int, default=45)
    parser.add_argument("--sequence-length", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    args = parser.parse_args()
    init_worker()

    still = []
    for set_index, (name, count) in enumerate([("monitor-720p", args.frames),
                                                ("monitor-1080p", args.frames),
                                                ("monitor-empty", args.empty)]):
        folder = os.path.join(args.out, name)
        os.makedirs(folder, exist_ok=True)
        for i in range(count):
            res = name.split("-")[1] if name != "monitor-empty" else ("1080p" if i % 2 else "720p")
            still.append((name, f"{name}/{i:04d}",
                          (args.seed, set_index, i, res, name != "monitor-empty",
                           os.path.join(folder, f"{i:04d}.png"))))
    seqs = [(s, (args.seed, s, args.sequence_length, args.out)) for s in range(args.sequences)]

    with multiprocessing.Pool(args.jobs, initializer=init_worker) as pool:
        still_out = pool.map(still_job, [job for _, _, job in still], chunksize=4)
        seq_out = pool.map(sequence_job, [job for _, job in seqs], chunksize=1)

    manifest = {"seed": args.seed, "frames": [], "sequences": []}
    for (name, frame_id, job), info in zip(still, still_out):
        manifest["frames"].append(dict(set=name, id=frame_id,
                                       path=os.path.relpath(job[-1], args.out), **info))
    for (s, _), info in zip(seqs, seq_out):
        manifest["sequences"].append(dict(id=f"sequences/s{s:02d}", **info))
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    n = len(still_out) + sum(len(s["frames"]) for s in seq_out)
    print(f"{n} frames in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
