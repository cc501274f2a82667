#!/usr/bin/env python3
"""Checks docs/test-vectors.json with a second implementation of the protocol, written from
PROTOCOL.md alone in Python (the `cryptography` package for ECDSA and HKDF, the standard library
for the rest), the way a bank's backend team in another language would check theirs.

    python3 protocol/tests/vectors_independent.py [docs/test-vectors.json]

Exit status 0 when every vector matches; each mismatch is printed.
"""

import base64
import hashlib
import hmac
import json
import struct
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DAMM = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
]
failures = []


def check(what, got, expected):
    if got != expected:
        failures.append(f"{what}: computed {got!r}, the vectors say {expected!r}")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value) -> str:
    """JSON as both ends write signed arrays: no spaces, non-ASCII kept as UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).digest()[:8].hex()


def check_character(group: int, data: str) -> str:
    """Luhn mod 32 over the three data values (rightmost first) and then the group number."""
    factor, total = 2, 0
    for value in [CROCKFORD.index(c) for c in reversed(data)] + [group]:
        addend = factor * value
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return CROCKFORD[(32 - total % 32) % 32]


def parse_session_id(typed: str):
    folded = []
    for c in typed:
        if c == "-" or c.isspace():
            continue
        c = {"O": "0", "I": "1", "L": "1"}.get(c.upper(), c.upper())
        if c not in CROCKFORD:
            return {"error": "invalid_character", "group": len(folded) // 4 + 1}
        folded.append(c)
    if len(folded) != 12:
        return {"error": "wrong_length", "found": len(folded)}
    for group in range(3):
        chars = folded[group * 4 : group * 4 + 4]
        if check_character(group + 1, "".join(chars[:3])) != chars[3]:
            return {"error": "mistyped", "group": group + 1}
    return {"canonical": "".join(folded)}


def damm(digits: str) -> int:
    interim = 0
    for d in digits:
        interim = DAMM[interim][int(d)]
    return interim


def truncate(mac: bytes, digits: int) -> str:
    offset = mac[-1] & 0x0F
    word = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(word % 10**digits).zfill(digits)


def verify_der(public_key: bytes, message: bytes, signature: bytes) -> bool:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def verify_token(public_key: bytes, token: str):
    """The claims of an `IBK1.<claims>.<signature>` token, or None when it does not verify."""
    signing_input, _, signature = token.rpartition(".")
    prefix, _, claims = signing_input.partition(".")
    raw = unb64(signature)
    if prefix != "IBK1" or len(raw) != 64:
        return None
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    if not verify_der(public_key, signing_input.encode(), der):
        return None
    return json.loads(unb64(claims))


def main(path: Path) -> int:
    v = json.loads(path.read_text())

    # Keys: the public keys and ids follow from the PKCS#8 test keys.
    keys = {}
    for name in ("server", "device"):
        private = serialization.load_der_private_key(unb64(v["keys"][name]["pkcs8"]), None)
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        check(f"{name} public key", b64(public), v["keys"][name]["public_key"])
        check(f"{name} key id", key_id(public), v["keys"][name]["key_id"])
        keys[name] = public

    # Session IDs.
    for entry in v["session_ids"]["check_character_of_group"]:
        check(
            f"check character of group {entry['group']}",
            entry["data"] + check_character(entry["group"], entry["data"]),
            entry["with_check"],
        )
    for entry in v["session_ids"]["parse"]:
        expected = {k: entry[k] for k in entry if k not in ("typed", "character")}
        check(f"parse {entry['typed']!r}", parse_session_id(entry["typed"]), expected)

    # Login context digest.
    ctx = v["login_context"]["context"]
    canonical = canonical_json(
        [ctx["application"], ctx["ip_address"], ctx["location"], ctx["browser"], ctx["login_time"]]
    )
    check("login context canonical JSON", canonical, v["login_context"]["canonical_json"])
    check("login context digest", b64(hashlib.sha256(canonical.encode()).digest()), v["login_context"]["digest"])

    # Tokens.
    for name, entry in v["tokens"].items():
        claims = verify_token(keys["server"], entry["token"])
        if name.endswith("must_not_verify"):
            check(f"token {name} verifies", claims is not None, False)
            continue
        check(f"token {name} claims", claims, entry["claims"] | {"kid": v["keys"]["server"]["key_id"]})
        check(f"token {name} signing input", entry["token"].rpartition(".")[0], entry["signing_input"])

    # Device signatures, over the messages as built here from PROTOCOL.md.
    challenge = v["tokens"]["login_challenge"]["claims"]
    device_kid = v["keys"]["device"]["key_id"]
    rebuilt = [
        f"ibkey-activate:v1:{v['session_ids']['parse'][0]['canonical']}:device-0001:{v['keys']['device']['public_key']}",
        "ibkey-revoke:v1:cred_01:1767226000",
        f"ibkey-already-enrolled:v1:{v['session_ids']['parse'][0]['canonical']}:cred_01:1767226000",
        canonical_json(["ibkey-pending/v1", "cred_01", 1767225710, ""]),
        canonical_json(["ibkey-push-token/v1", "cred_01", 1767225710, "fcm:token-123"]),
        canonical_json(["ibkey-status/v1", "cred_01", 1767225710, ""]),
        canonical_json(["ibkey-test-push/v1", "cred_01", 1767225710, ""]),
        canonical_json(["ibkey-recovery-begin/v1", device_kid, 1767225710, ""]),
        canonical_json(["ibkey-recovery-complete/v1", device_kid, 1767225710, canonical_json(["123456", None])]),
        canonical_json(
            ["ibkey-decision/v1", challenge["id"], challenge["non"], challenge["srv"], challenge["usr"],
             "approve", 42, v["login_context"]["digest"], 7]
        ),
    ]
    for message, entry in zip(rebuilt, v["device_signatures"]):
        check(f"message of {entry['what']}", message, entry["message"])
        check(
            f"signature of {entry['what']} verifies",
            verify_der(keys["device"], message.encode(), unb64(entry["signature"])),
            True,
        )

    # Offline codes.
    off = v["offline"]
    secret = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=off["credential_id"].encode(), info=b"ibkey-offline-secret/v1"
    ).derive(bytes.fromhex(off["x25519_shared_secret_hex"]))
    check("account secret", secret.hex(), off["account_secret_hex"])
    five = off["challenge"]["five_digits"]
    check("challenge check digit", five + str(damm(five)), off["challenge"]["with_damm_check_digit"])
    response_key = hmac.new(secret, b"ibkey-response-key/v1", hashlib.sha256).digest()
    r = off["response"]
    message = canonical_json(["ibkey-response/v1", r["username"], r["challenge"]]).encode()
    check("response", truncate(hmac.new(response_key, message, hashlib.sha256).digest(), 8), r["response"])
    time_key = hmac.new(secret, b"ibkey-time-code-key/v1", hashlib.sha256).digest()
    for entry in off["time_codes"]:
        counter = struct.pack(">Q", entry["unix_seconds"] // 30)
        code = truncate(hmac.new(time_key, counter, hashlib.sha256).digest(), 6)
        check(f"time code at {entry['unix_seconds']}", code, entry["code"])

    for failure in failures:
        print("MISMATCH", failure)
    print(f"{path}: {'all vectors match' if not failures else f'{len(failures)} mismatches'}")
    return 1 if failures else 0


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / "docs" / "test-vectors.json"
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
