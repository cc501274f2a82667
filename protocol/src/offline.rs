//! Codes that work without a network, and what device and server must compute alike for them.
//!
//! At activation the device and the server each make a one-time X25519 key and exchange the
//! public halves (`agreement_key` of [`crate::activation::CompleteRequest`] and
//! [`crate::activation::CompleteResponse`]); both derive the same per-account secret from the
//! shared value with HKDF-SHA256 ([`derive_account_secret`]). The secret never crosses the
//! wire. From it:
//!
//! - **challenge/response**: the login page shows a 6-digit challenge (5 random digits and a
//!   Damm check digit, so most typing mistakes are caught on the phone); the phone answers an
//!   8-digit [`response`], an HMAC-SHA256 of the user and the challenge, truncated as HOTP does;
//! - **time-based codes**: RFC 6238 with SHA-256, 6 digits, 30-second steps ([`time_code`]),
//!   keyed with a sub-key of the secret ([`crate::otp::totp`]).

use std::fmt;

use crate::otp::{self, OtpAlgorithm};
use ring::{hkdf, hmac};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The key agreement both ends use at activation.
pub static AGREEMENT: &ring::agreement::Algorithm = &ring::agreement::X25519;
/// Digits of a login page's challenge, check digit included.
pub const CHALLENGE_DIGITS: usize = 6;
/// Digits of the phone's response.
pub const RESPONSE_DIGITS: usize = 8;
/// Digits of a time-based code.
pub const TIME_CODE_DIGITS: u8 = 6;
/// Seconds a time-based code lasts.
pub const TIME_CODE_PERIOD: u64 = 30;
/// Length of the per-account secret, bytes.
pub const SECRET_LEN: usize = 32;

/// HKDF `info` of the per-account secret.
const SECRET_INFO: &[u8] = b"ibkey-offline-secret/v1";
/// HMAC label of the response key.
const RESPONSE_LABEL: &[u8] = b"ibkey-response-key/v1";
/// HMAC label of the time-code key.
const TIME_CODE_LABEL: &[u8] = b"ibkey-time-code-key/v1";

/// The per-account secret from the X25519 shared value, bound to the credential:
/// HKDF-SHA256 with the credential id as salt and `SECRET_INFO`
/// (`ibkey-offline-secret/v1`) as info.
pub fn derive_account_secret(shared: &[u8], credential_id: &str) -> Zeroizing<[u8; SECRET_LEN]> {
    let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, credential_id.as_bytes()).extract(shared);
    // HKDF-SHA256 can always fill 32 bytes; the zeroes stay only if ring refused, which it
    // does for lengths above 255 hash lengths alone.
    if let Ok(okm) = prk.expand(&[SECRET_INFO], hkdf::HKDF_SHA256) {
        let _ = okm.fill(secret.as_mut());
    }
    secret
}

/// A sub-key of the account secret for one use.
fn sub_key(secret: &[u8], label: &[u8]) -> Zeroizing<Vec<u8>> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    Zeroizing::new(hmac::sign(&key, label).as_ref().to_vec())
}

/// Why a typed challenge was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Not six digits.
    #[error("a challenge has {expected} digits; {found} were typed")]
    WrongLength {
        /// Digits expected.
        expected: u32,
        /// Digits found.
        found: u32,
    },
    /// Something other than digits, spaces and dashes.
    #[error("a challenge has only digits")]
    NotDigits,
    /// The check digit does not match: a digit was mistyped or two were swapped.
    #[error("the challenge's check digit does not match")]
    Mistyped,
}

/// A new challenge for the login page: 5 random digits and their Damm check digit.
pub fn new_challenge(
    rng: &dyn ring::rand::SecureRandom,
) -> Result<String, ring::error::Unspecified> {
    let mut digits = String::with_capacity(CHALLENGE_DIGITS);
    while digits.len() < CHALLENGE_DIGITS - 1 {
        let mut byte = [0u8; 1];
        rng.fill(&mut byte)?;
        // 250 is the largest multiple of 10 a byte holds: no digit is likelier than another.
        if byte[0] < 250 {
            digits.push(char::from(b'0' + byte[0] % 10));
        }
    }
    let check = damm_check_digit(&digits);
    digits.push(check);
    Ok(digits)
}

/// The challenge as typed, read: spaces and dashes ignored, six digits, the check digit right.
/// Gives the six digits.
pub fn parse_challenge(typed: &str) -> Result<String, ChallengeError> {
    let mut digits = String::with_capacity(CHALLENGE_DIGITS);
    for c in typed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '\u{a0}' => {}
            _ => return Err(ChallengeError::NotDigits),
        }
    }
    if digits.len() != CHALLENGE_DIGITS {
        return Err(ChallengeError::WrongLength {
            expected: CHALLENGE_DIGITS as u32,
            found: u32::try_from(digits.len()).unwrap_or(u32::MAX),
        });
    }
    if damm_check_digit(&digits) != '0' {
        return Err(ChallengeError::Mistyped);
    }
    Ok(digits)
}

/// The challenge as the page shows it: `123 456`.
pub fn grouped_challenge(challenge: &str) -> String {
    match (challenge.get(..3), challenge.get(3..)) {
        (Some(head), Some(tail)) => format!("{head} {tail}"),
        _ => challenge.to_string(),
    }
}

/// The Damm check digit of `digits` (ASCII digits; a string ending in its own check digit
/// gives `'0'`). Catches every single-digit error and every swap of neighbours.
fn damm_check_digit(digits: &str) -> char {
    const TABLE: [[u8; 10]; 10] = [
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
    ];
    let interim = digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u8, |interim, d| {
            TABLE[usize::from(interim)][usize::from(d - b'0')]
        });
    char::from(b'0' + interim)
}

/// The phone's 8-digit response to `challenge` (six digits, as [`parse_challenge`] gives it)
/// for `username`: HMAC-SHA256 with the response key over the JSON array
/// `["ibkey-response/v1", username, challenge]`, dynamically truncated (RFC 4226 §5.3).
pub fn response(secret: &[u8], username: &str, challenge: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &sub_key(secret, RESPONSE_LABEL));
    let message =
        serde_json::to_vec(&("ibkey-response/v1", username, challenge)).unwrap_or_default();
    otp::truncate(hmac::sign(&key, &message).as_ref(), RESPONSE_DIGITS as u32)
}

/// The account's time-based code at `unix_secs` (RFC 6238: SHA-256, 6 digits, 30 s), keyed
/// with the time-code key of the account secret.
pub fn time_code(secret: &[u8], unix_secs: u64) -> String {
    otp::totp(
        OtpAlgorithm::Sha256,
        &sub_key(secret, TIME_CODE_LABEL),
        unix_secs,
        TIME_CODE_PERIOD,
        u32::from(TIME_CODE_DIGITS),
    )
}

/// `POST /v1/logins/{id}/offline` (bearer login secret): the login page's challenge.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineChallenge {
    /// Six digits, grouped for reading (`123 456`).
    pub challenge: String,
    /// When it expires, Unix seconds.
    pub expires_at: i64,
}

/// `POST /v1/logins/{id}/response` (bearer login secret): what the user typed from the phone.
/// The reply is the login's status.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineResponse {
    /// The phone's 8-digit response (spaces ignored).
    pub response: String,
}

/// `POST /v1/logins/{id}/code` (bearer login secret): a time-based code typed from the phone.
/// The reply is the login's status.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeCodeRequest {
    /// The 6-digit code.
    pub code: String,
}

/// Error codes of the offline endpoints (beside the approval and activation codes).
pub mod codes {
    /// The response or code does not match.
    pub const RESPONSE_WRONG: &str = "response_wrong";
    /// The response or code was already used.
    pub const RESPONSE_USED: &str = "response_used";
    /// No device of the user has offline codes (activated before they existed).
    pub const OFFLINE_UNAVAILABLE: &str = "offline_unavailable";
}

impl fmt::Debug for OfflineChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfflineChallenge")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OfflineResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfflineResponse").finish_non_exhaustive()
    }
}

impl fmt::Debug for TimeCodeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeCodeRequest").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey};
    use ring::rand::SystemRandom;

    #[test]
    fn both_ends_derive_the_same_secret_without_sending_it() {
        let rng = SystemRandom::new();
        let device = EphemeralPrivateKey::generate(AGREEMENT, &rng).expect("key");
        let server = EphemeralPrivateKey::generate(AGREEMENT, &rng).expect("key");
        let device_public = device.compute_public_key().expect("public");
        let server_public = server.compute_public_key().expect("public");
        let on_device = agree_ephemeral(
            device,
            &UnparsedPublicKey::new(AGREEMENT, server_public.as_ref()),
            |shared| derive_account_secret(shared, "cred-1"),
        )
        .expect("agree");
        let on_server = agree_ephemeral(
            server,
            &UnparsedPublicKey::new(AGREEMENT, device_public.as_ref()),
            |shared| derive_account_secret(shared, "cred-1"),
        )
        .expect("agree");
        assert_eq!(*on_device, *on_server);
        assert_ne!(*on_device, [0u8; SECRET_LEN]);
        assert_ne!(
            *derive_account_secret(b"shared", "cred-1"),
            *derive_account_secret(b"shared", "cred-2")
        );
    }

    #[test]
    fn challenges_carry_a_check_digit_that_catches_typos() {
        let rng = SystemRandom::new();
        for _ in 0..200 {
            let challenge = new_challenge(&rng).expect("random");
            assert_eq!(parse_challenge(&challenge), Ok(challenge.clone()));
            assert_eq!(
                parse_challenge(&grouped_challenge(&challenge)),
                Ok(challenge.clone())
            );
            let bytes = challenge.as_bytes();
            for i in 0..CHALLENGE_DIGITS {
                let mut typo = bytes.to_vec();
                typo[i] = b'0' + (typo[i] - b'0' + 1) % 10;
                let typo = String::from_utf8(typo).expect("ascii");
                assert_eq!(parse_challenge(&typo), Err(ChallengeError::Mistyped));
                if i + 1 < CHALLENGE_DIGITS && bytes[i] != bytes[i + 1] {
                    let mut swapped = bytes.to_vec();
                    swapped.swap(i, i + 1);
                    let swapped = String::from_utf8(swapped).expect("ascii");
                    assert_eq!(parse_challenge(&swapped), Err(ChallengeError::Mistyped));
                }
            }
        }
        assert_eq!(
            parse_challenge("12345"),
            Err(ChallengeError::WrongLength {
                expected: 6,
                found: 5
            })
        );
        assert_eq!(parse_challenge("12a456"), Err(ChallengeError::NotDigits));
    }

    #[test]
    fn responses_and_codes_depend_on_everything_they_bind() {
        let secret = [7u8; SECRET_LEN];
        let r = response(&secret, "alice", "123455");
        assert_eq!(r.len(), RESPONSE_DIGITS);
        assert!(r.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(r, response(&secret, "alice", "123455"));
        assert_ne!(r, response(&secret, "bob", "123455"));
        assert_ne!(r, response(&secret, "alice", "123462"));
        assert_ne!(r, response(&[8u8; SECRET_LEN], "alice", "123455"));
        // 1,800,000,000 starts a 30-second step.
        let step_start = 1_800_000_000;
        let code = time_code(&secret, step_start);
        assert_eq!(code.len(), usize::from(TIME_CODE_DIGITS));
        assert_eq!(code, time_code(&secret, step_start + 29));
        assert_ne!(code, time_code(&secret, step_start + 30));
        // Past 2038 and near the end of u64 time: a code, no panic.
        assert_eq!(time_code(&secret, 4_102_444_800).len(), 6);
        assert_eq!(time_code(&secret, u64::MAX).len(), 6);
    }
}
