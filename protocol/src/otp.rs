//! HOTP and TOTP (RFC 4226, RFC 6238) over ring's HMAC: the one HMAC implementation the
//! project ships, used for the offline codes ([`crate::offline`]) and the codes of
//! `otpauth://` links on the device.

use ring::hmac;

/// The HMAC hash of a one-time password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpAlgorithm {
    /// HMAC-SHA1 (the default of `otpauth://` links and of RFC 4226).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl OtpAlgorithm {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            OtpAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            OtpAlgorithm::Sha256 => hmac::HMAC_SHA256,
            OtpAlgorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// The last `digits` decimal digits (1 to 9) of the 31-bit number RFC 4226 §5.3 picks out
/// of `mac` ("dynamic truncation"), zero-padded.
pub fn truncate(mac: &[u8], digits: u32) -> String {
    let digits = digits.clamp(1, 9);
    let offset = mac.last().map_or(0, |b| usize::from(b & 0x0f));
    let word = mac
        .get(offset..offset + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_be_bytes)
        & 0x7fff_ffff;
    let value = word % 10u32.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// The HOTP code of `secret` at `counter` (RFC 4226), `digits` long (1 to 9).
///
/// ```
/// use ibkey_protocol::otp::{hotp, OtpAlgorithm};
///
/// // RFC 4226, appendix D.
/// assert_eq!(hotp(OtpAlgorithm::Sha1, b"12345678901234567890", 0, 6), "755224");
/// ```
pub fn hotp(algorithm: OtpAlgorithm, secret: &[u8], counter: u64, digits: u32) -> String {
    let key = hmac::Key::new(algorithm.hmac(), secret);
    truncate(hmac::sign(&key, &counter.to_be_bytes()).as_ref(), digits)
}

/// The TOTP code of `secret` at `unix_secs` with steps of `step_secs` (RFC 6238); a step of
/// 0 counts as 1.
pub fn totp(
    algorithm: OtpAlgorithm,
    secret: &[u8],
    unix_secs: u64,
    step_secs: u64,
    digits: u32,
) -> String {
    hotp(algorithm, secret, unix_secs / step_secs.max(1), digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4226_and_6238_vectors() {
        let sha1 = b"12345678901234567890";
        let codes: Vec<String> = (0..10)
            .map(|c| hotp(OtpAlgorithm::Sha1, sha1, c, 6))
            .collect();
        assert_eq!(
            codes,
            [
                "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
                "399871", "520489"
            ]
        );
        let sha256 = b"12345678901234567890123456789012";
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234";
        for (time, one, two, five) in [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ] {
            assert_eq!(totp(OtpAlgorithm::Sha1, sha1, time, 30, 8), one);
            assert_eq!(totp(OtpAlgorithm::Sha256, sha256, time, 30, 8), two);
            assert_eq!(totp(OtpAlgorithm::Sha512, sha512, time, 30, 8), five);
        }
    }

    #[test]
    fn truncation_never_panics() {
        assert_eq!(truncate(&[], 6), "000000");
        assert_eq!(truncate(&[0xff; 3], 6), "000000");
        assert_eq!(truncate(&[0xff; 20], 12).len(), 9);
        assert_eq!(totp(OtpAlgorithm::Sha1, b"k", 100, 0, 6).len(), 6);
    }
}
