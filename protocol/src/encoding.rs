//! The small text encodings of the wire: unpadded base64url for binary fields, lower-case hex
//! for digests and key ids, and Crockford's base 32 for what people read and type (session
//! IDs, bundle ids, support references).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;

/// Crockford's base-32 alphabet: digits and upper-case letters without `I`, `L`, `O`, `U`.
pub const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Encodes bytes as unpadded base64url, the only binary encoding on the wire.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// The value (0–31) of an upper-case Crockford character.
pub fn crockford_value(c: u8) -> Option<u8> {
    CROCKFORD.iter().position(|&a| a == c).map(|v| v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_sha256_match_known_values() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn base64url_round_trips_and_refuses_other_alphabets() {
        let bytes = [0xfb, 0xff, 0x00, 0x10];
        assert_eq!(b64(&bytes), "-_8AEA");
        assert_eq!(unb64("-_8AEA"), Some(bytes.to_vec()));
        assert_eq!(unb64("+/8AEA"), None);
    }

    #[test]
    fn crockford_values_follow_the_alphabet() {
        assert_eq!(crockford_value(b'0'), Some(0));
        assert_eq!(crockford_value(b'Z'), Some(31));
        assert_eq!(crockford_value(b'U'), None);
        assert_eq!(crockford_value(b'a'), None);
    }
}
