#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (run from anywhere; overwrites them).

The seeds are what the core meets in real use: the QR payloads and server replies below were
captured from the reference server (`ibkey server` on loopback, `ibkey ticket`, `ibkey login
--qr-out`, `ibkey scan`, the device API with curl, `ibkey diagnostics upload` with the server
down: fuzz/seeds-src/), and the replies the flows read after a signature are the same wire types
written as `@@<claims>@@`, which the fuzz harness signs with the key the phone trusts
(`$KID` becoming that key's id; see fuzz/src/lib.rs). Times sit around the harness's clock
(2 Dec 2026 10:00 UTC).
"""

import base64
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
NOW = 1_796_205_600
SERVER = "http://127.0.0.1:8780"
# What separates the parts of an input (fuzz/src/lib.rs: SEPARATOR).
SEP = b"\xfe\xfd"


TOKENS_IN_JSON = []


def js(value) -> bytes:
    """JSON of `value`, the tokens it holds (from `token`) written as `@@claims@@`."""
    text = json.dumps(value, separators=(",", ":"))
    for i, claims in enumerate(TOKENS_IN_JSON):
        text = text.replace(f"@TOKEN{i}@", "@@" + json.dumps(claims, separators=(",", ":")) + "@@")
    return text.encode()


def token(claims) -> str:
    """A signed token inside a JSON value given to `js`."""
    TOKENS_IN_JSON.append(claims)
    return f"@TOKEN{len(TOKENS_IN_JSON) - 1}@"


def signed(claims) -> bytes:
    """A signed token standing alone."""
    return b"@@" + js(claims) + b"@@"


def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def captured():
    lines = (HERE / "seeds-src" / "captured.txt").read_text().split("\n")
    tokens = [l.split(": ", 1)[1].strip() for l in lines if l.endswith(".png: ") is False and ": IBK1." in l]
    replies = [l for l in lines if l.startswith("{")]
    return tokens, replies


def claims_of(token: str):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


TOKENS, REPLIES = captured()
TICKET = claims_of(TOKENS[0])
LOGIN_QR = claims_of(TOKENS[1])
# The captured claims, moved to the harness's server, key and clock.
TICKET.update(srv=SERVER, kid="$KID", iat=NOW - 30, exp=NOW + 270)
LOGIN_QR.update(srv=SERVER, kid="$KID", iat=NOW - 10, exp=NOW + 110)
CHALLENGE = dict(LOGIN_QR, cid="cred-alice", num=42, id="ch-push-1")
STALE = dict(CHALLENGE, id="ch-stale", iat=NOW - 400, exp=NOW - 280)
TIME = {"typ": "time", "cid": "cred-alice", "req": NOW, "now": NOW + 3, "kid": "$KID"}
RECEIPT = {"typ": "enrollment", "cid": "cred-alice", "usr": "alice", "dev": "dev-1",
           "pkid": "0011223344556677", "iat": NOW, "kid": "$KID"}
DECISION = {"typ": "decision", "id": "ch-push-1", "cid": "cred-alice", "dec": "approve",
            "ctr": 6, "iat": NOW, "kid": "$KID"}
MOVED = {"typ": "moved", "cid": "cred-alice", "usr": "alice", "to": "Pixel 9", "at": NOW - 60,
         "kid": "$KID"}


def err(code: str, message: str, **more) -> bytes:
    return js({"error": dict(code=code, message=message, **more)})


def reply(status_index: int, body: bytes) -> bytes:
    """One reply part: the status (an index into the harness's table, as a digit: readable) and the body."""
    return bytes([ord("0") + status_index]) + body


OK, NO_CONTENT, BAD, GONE, TOO_MANY, SERVER_ERROR, NOT_FOUND, CONFLICT = 0, 3, 4, 8, 9, 10, 6, 7


def session_id():
    for i, text in enumerate([
        "K7QP-3MZX-9TWD", "k7qp3mzx9twd", "K7QP 3MZX 9TWO", "K7QP-3MZX-9TWE", "424D-PDDA-Z22R",
        "424dpddaz22r", "", "K7QP-3MZX", "K7QP-3MZX-9TWD-AAAA", "392 856", "39285-6", "3928566",
        "K7QP\u20133MZX\u20149TWD", "ＫＸ７Ｑ",
    ]):
        write("session_id", f"typed-{i}", text.encode())


def qr_payload():
    write("qr_payload", "captured-activation", TOKENS[0].encode())
    write("qr_payload", "captured-login", TOKENS[1].encode())
    write("qr_payload", "signed-activation", signed(TICKET))
    write("qr_payload", "signed-move", signed(dict(TICKET, mov=["Pixel 7", "ibkey desktop"])))
    write("qr_payload", "signed-expired", signed(dict(TICKET, iat=NOW - 900, exp=NOW - 600)))
    write("qr_payload", "signed-login", signed(LOGIN_QR))
    write("qr_payload", "signed-login-stale-with-time",
          signed(dict(LOGIN_QR, iat=NOW - 400, exp=NOW - 280)) + SEP
          + reply(OK, js({"challenges": [], "time": token(TIME)})))
    other_key = dict(TICKET, kid="ffffffffffffffff")
    write("qr_payload", "signed-other-key", signed(other_key) + SEP + reply(OK, REPLIES[2].encode()))
    write("qr_payload", "foreign", b"https://example.com/?q=1")
    write("qr_payload", "otpauth", b"otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP")


def push():
    write("push", "fcm-json", js({"type": "ibkey.login", "challenge": token(CHALLENGE)}))
    write("push", "bare-token", signed(CHALLENGE))
    write("push", "quoted-token", b'"' + signed(CHALLENGE) + b'"\n')
    write("push", "test-notification", js({"type": "ibkey.test", "id": "t-1", "sent_at_ms": NOW * 1000}))
    write("push", "stale-then-pull", signed(STALE) + SEP
          + reply(OK, js({"challenges": [token(STALE)], "time": token(dict(TIME, now=NOW - 300))})))
    write("push", "moved-on-pull", signed(STALE) + SEP + reply(GONE, err("credential_moved", "moved", moved=token(MOVED))))
    write("push", "captured-login", TOKENS[1].encode())


def server_reply():
    def seed(name, op, replies, first=b""):
        write("server_reply", name, bytes([ord("0") + op]) + first + b"".join(SEP + r for r in replies))

    lookup = js({"ticket": token(TICKET)})
    complete = js({"receipt": token(RECEIPT), "agreement_key": base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()})
    seed("activate-ok", 0, [reply(OK, lookup), reply(OK, complete)])
    seed("activate-captured-lookup", 0, [reply(OK, REPLIES[0].encode())])
    seed("activate-unknown", 0, [reply(NOT_FOUND, REPLIES[1].encode())])
    seed("activate-used", 0, [reply(OK, lookup), reply(CONFLICT, err("code_used", "used"))])
    seed("activate-throttled", 0, [reply(TOO_MANY, err("too_many_attempts", "wait", retry_after=60))])
    seed("activate-html-500", 0, [reply(SERVER_ERROR, b"<html>oops</html>")])
    seed("activate-server-key", 0, [reply(OK, js({"ticket": token(dict(TICKET, kid="0123456789abcdef"))})), reply(OK, REPLIES[2].encode())])
    pending = js({"challenges": [token(CHALLENGE), token(STALE)], "time": token(TIME)})
    seed("pending", 1, [reply(OK, pending)])
    seed("pending-empty", 1, [reply(OK, js({"challenges": [], "time": token(TIME)}))])
    seed("pending-moved", 1, [reply(GONE, err("credential_moved", "moved", moved=token(MOVED)))])
    seed("pending-cloned", 1, [reply(CONFLICT, err("possibly_cloned", "cloned"))])
    push = signed(CHALLENGE)
    decided = js({"receipt": token(DECISION)})
    seed("approve", 2, [reply(OK, decided)], push)
    seed("approve-used", 2, [reply(CONFLICT, err("challenge_used", "used"))], push)
    seed("approve-moved", 2, [reply(GONE, err("credential_moved", "moved", moved=token(MOVED)))], push)
    seed("deny", 3, [reply(OK, js({"receipt": token(dict(DECISION, dec="deny"))}))], push)
    seed("fraud", 4, [reply(OK, js({"receipt": token(dict(DECISION, dec="report_fraud"))}))], push)
    seed("remove", 5, [reply(NO_CONTENT, b"")])
    seed("remove-unknown", 5, [reply(NOT_FOUND, err("credential_unknown", "gone"))])
    seed("push-token", 6, [reply(NO_CONTENT, b"")])
    status = js({"push_token": {"platform": "fcm", "token_sha256": "ab" * 32, "registered_at": NOW - 100},
                 "pushes_enabled": True, "muted_until": None, "last_challenge_at": NOW - 50,
                 "last_push_sent_at": NOW - 50, "last_push_error": None, "time": token(TIME)})
    seed("doctor", 7, [reply(OK, status)])
    seed("test-push", 8, [reply(OK, js({"id": "t-1", "sent_at_ms": NOW * 1000}))])
    candidates = js({"candidates": [
        {"status": "recoverable", "key_id": "k1", "username": "alice", "device_name": "Pixel 7",
         "enrolled_at": NOW - 999, "sent_to": "a***@example.com", "expires_at": NOW + 600},
        {"status": "revoked", "key_id": "k2", "username": "bob", "revoked_at": NOW - 5},
        {"status": "moved", "key_id": "k3", "moved": token(MOVED)},
        {"status": "unknown", "key_id": "k4"}]})
    seed("recover-four-answers", 9, [reply(OK, candidates)])
    one = js({"candidates": [{"status": "recoverable", "key_id": "k1", "username": "alice",
                              "device_name": "Pixel 7", "enrolled_at": NOW - 999,
                              "sent_to": "a***@example.com", "expires_at": NOW + 600}]})
    seed("recover", 9, [reply(OK, one), reply(OK, js({"receipt": token(dict(RECEIPT, ctr=17))}))])


def otpauth():
    uris = [
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
        "otpauth://hotp/Bank:bob?secret=GEZDGNBVGY3TQOJQ&counter=7&digits=8&algorithm=SHA256",
        "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA512&digits=8&period=60",
        "otpauth://totp/%E2%9C%93?secret=jbswy3dpehpk3pxp&period=1",
        "otpauth://totp/x?secret=&period=0",
    ]
    for i, uri in enumerate(uris):
        write("otpauth", f"uri-{i}", struct.pack("<q", NOW + i * 977) + uri.encode())


def store_record():
    def guarded(generation, record) -> bytes:
        return b"IBG1" + struct.pack(">Q", generation) + js(record)

    accounts = js({"version": 1, "accounts": [{"username": "alice", "server_url": SERVER,
                   "credential_id": "cred-alice", "key_alias": "key-alice", "enrolled_at": NOW - 86400}]})
    device = guarded(2, {"device_id": "dev-1", "server_key": "BMYTyf-tL6EJCKFJEGReAKKpzEwIw0Z9-JU3dHA_TT64mpprAj-Jdvu1bVdQJVU39IwidsdqjSV0JxIj47qL5ds",
                         "last_activated_code": None, "clock_offset_secs": 3})
    approval = guarded(3, {"version": 1, "counter": 5, "answered": ["seed-challenge"],
                           "wrong_picks": [["ch-1", 2]], "codes": {"secret": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"}})
    manifest = js({"generation": 3, "records": {"device": 2, "approval.cred-alice": 3}, "pending": None})
    gate = js({"pin": None, "failed_attempts": 4, "last_failure": {"wall_ms": NOW * 1000, "uptime_ms": 999_000}})
    notices = js([{"username": "bob", "to_device": "Pixel 9", "moved_at": NOW - 99, "message": "moved"}])

    def store(name, generation, records):
        data = struct.pack("<H", generation) + SEP.join(bytes([ord("a") + k]) + v for k, v in records)
        write("store_record", name, data)

    full = [(0, accounts), (1, device), (2, approval), (3, gate), (4, manifest), (5, notices)]
    store("consistent", 3, full)
    store("interrupted-write", 3, full[:4] + [(4, js({"generation": 4, "records": {"device": 2, "approval.cred-alice": 4},
                                                       "pending": {"key": "approval.cred-alice", "previous": 3}}))])
    store("rolled-back", 7, full)
    store("legacy-unguarded", 0, [(0, accounts), (1, js({"device_id": "dev-1"})), (2, js({"counter": 2}))])
    store("truncated", 3, [(0, accounts[:20]), (1, device[:9]), (2, approval), (4, manifest)])


def bundle_verify():
    # Two bundles `ibkey diagnostics upload` left in its outbox (the server was down): the
    # plain one, and one with the extended log, the network trace and a screenshot.
    for name in ["bundle-plain.zip", "bundle-extended-screenshot.zip"]:
        write("bundle_verify", name, (HERE / "seeds-src" / name).read_bytes())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        # A fixed date, so that the seed is the same at each run.
        for name, data in [("manifest.json", b"{}"), ("bomb.txt", b"\0" * 2_000_000)]:
            z.writestr(zipfile.ZipInfo(name, (2026, 12, 2, 10, 0, 0)), data, zipfile.ZIP_DEFLATED)
    write("bundle_verify", "deflate-bomb", buf.getvalue())
    write("bundle_verify", "empty", b"")


def png_luma(path: Path):
    """Width, height and 8-bit luma rows of a grayscale or RGB(A) 8-bit PNG (no interlace)."""
    data = path.read_bytes()
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            chunks["ihdr"] = body
        elif kind == b"IDAT":
            idat += body
    width, height, depth, color = struct.unpack(">IIBB", chunks["ihdr"][:10])
    assert depth == 8, "8-bit PNG expected"
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev, at = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, ul = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else ul
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line[::channels]))
        prev = line
    return width, height, rows


def scan():
    for name in ["activation-qr.png", "login-qr.png"]:
        png = (HERE / "seeds-src" / name).read_bytes()
        write("scan_image", name, png)
        width, height, rows = png_luma(HERE / "seeds-src" / name)
        # The frame at the PNG's own size when small, else every second pixel of every second
        # row (still readable: modules are several pixels wide), with a stride of width + 3.
        step = 1 if width * height <= 60_000 else 2
        rows = [r[::step] for r in rows[::step]]
        w, h = len(rows[0]), len(rows)
        pad = b"\x80\x80\x80"
        write("scan_frame", f"{name}.frame", struct.pack("<III", w, h, w + 3) + b"".join(r + pad for r in rows))
    write("scan_frame", "tiny", struct.pack("<III", 2, 2, 2) + b"\0\xff\xff\0")
    write("scan_frame", "huge-claimed", struct.pack("<III", 16384, 16384, 16384) + b"\0" * 64)


if __name__ == "__main__":
    session_id()
    qr_payload()
    push()
    server_reply()
    otpauth()
    store_record()
    bundle_verify()
    scan()
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"seeds written under {CORPUS}: {total} bytes")
