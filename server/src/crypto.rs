//! The server's small cryptographic helpers, in one place: SHA-256 of secrets (portal and
//! support tokens, the portal password, login secrets) and their constant-time comparison
//! (also of offline responses and codes),
//! random tokens, ids, numbers and support references, and the check of a device's P-256
//! signature.

use std::ops::RangeInclusive;

use ibkey_protocol::encoding::{b64, CROCKFORD};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

use crate::error::ApiError;

/// SHA-256 of some bytes (how tokens and passwords are kept: never in the clear).
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Whether the SHA-256 of `secret` is `expected`, compared in time that does not depend on
/// where they differ.
pub(crate) fn secret_matches(secret: &str, expected: &[u8; 32]) -> bool {
    digests_equal(&sha256(secret.as_bytes()), expected)
}

/// Compares two digests in time that does not depend on where they differ.
fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bytes_equal(a, b)
}

/// Whether two byte strings are equal, compared in time that does not depend on where they
/// differ (only on their lengths, which are not secret): offline responses and codes.
pub(crate) fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fills `bytes` from the system's random generator.
fn fill(rng: &SystemRandom, bytes: &mut [u8]) -> Result<(), ApiError> {
    rng.fill(bytes)
        .map_err(|_| ApiError::internal("random generator", &"fill failed"))
}

/// `n` random bytes as base64url (portal tokens, credential ids).
pub(crate) fn random_b64(rng: &SystemRandom, n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    fill(rng, &mut bytes)?;
    Ok(b64(&bytes))
}

/// `n` uniformly random decimal digits (the one-time codes sent out of band).
pub(crate) fn random_digits(rng: &SystemRandom, n: usize) -> Result<String, ApiError> {
    let mut digits = String::with_capacity(n);
    while digits.len() < n {
        let mut bytes = [0u8; 16];
        fill(rng, &mut bytes)?;
        // Bytes at or above 250 would favour the low digits: skip them.
        for b in bytes
            .into_iter()
            .filter(|b| *b < 250)
            .take(n - digits.len())
        {
            digits.push(char::from(b'0' + b % 10));
        }
    }
    Ok(digits)
}

/// A uniformly random number in `range` (the login page's number to match).
pub(crate) fn random_in(rng: &SystemRandom, range: RangeInclusive<u8>) -> Result<u8, ApiError> {
    let start = *range.start();
    let span = u16::from(range.end().saturating_sub(start)) + 1;
    // Bytes at or above the largest multiple of `span` would favour the low numbers: skip them.
    let limit = 256 - 256 % span;
    loop {
        let mut bytes = [0u8; 16];
        fill(rng, &mut bytes)?;
        if let Some(b) = bytes.into_iter().map(u16::from).find(|b| *b < limit) {
            return Ok(start.saturating_add(u8::try_from(b % span).unwrap_or(0)));
        }
    }
}

/// A support reference: `DIAG-` and 6 random Crockford base-32 characters (30 bits).
pub(crate) fn new_reference(rng: &SystemRandom) -> Result<String, ApiError> {
    let mut random = [0u8; 6];
    fill(rng, &mut random)?;
    let mut reference = String::from("DIAG-");
    for b in random {
        reference.push(char::from(CROCKFORD[usize::from(b & 31)]));
    }
    Ok(reference)
}

/// Whether `signature` (ASN.1 DER ECDSA P-256 with SHA-256) over `message` verifies with
/// `public_key` (SEC1 uncompressed), as devices sign.
pub(crate) fn device_signature_ok(public_key: &[u8], message: &str, signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message.as_bytes(), signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_comparison() {
        assert!(digests_equal(&sha256(b"x"), &sha256(b"x")));
        assert!(!digests_equal(&sha256(b"x"), &sha256(b"y")));
        assert!(secret_matches("x", &sha256(b"x")));
        assert!(!secret_matches("y", &sha256(b"x")));
        assert!(bytes_equal(b"12345678", b"12345678"));
        assert!(!bytes_equal(b"12345678", b"12345679"));
        assert!(!bytes_equal(b"1234567", b"12345678"));
        assert!(bytes_equal(b"", b""));
    }

    #[test]
    fn random_numbers_cover_the_range_and_stay_in_it() {
        let rng = SystemRandom::new();
        let mut seen = [false; 100];
        for _ in 0..5_000 {
            let n = random_in(&rng, 10..=99).expect("random");
            assert!((10..=99).contains(&n), "{n}");
            seen[usize::from(n)] = true;
        }
        assert!(seen[10..=99].iter().all(|s| *s), "every number comes up");
        assert_eq!(random_in(&rng, 7..=7).expect("random"), 7);
        assert!(random_in(&rng, 0..=255).is_ok());
    }

    #[test]
    fn random_digits_are_digits_of_the_length_asked_and_cover_all_ten() {
        let rng = SystemRandom::new();
        let mut seen = [false; 10];
        for _ in 0..200 {
            let code = random_digits(&rng, 6).expect("random");
            assert_eq!(code.len(), 6);
            for c in code.bytes() {
                assert!(c.is_ascii_digit(), "{code}");
                seen[usize::from(c - b'0')] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn references_are_diag_and_six_crockford_characters() {
        let reference = new_reference(&SystemRandom::new()).expect("reference");
        let code = reference.strip_prefix("DIAG-").expect("prefix");
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|c| CROCKFORD.contains(&c)), "{reference}");
    }
}
