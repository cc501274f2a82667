//! The slow, salted PIN hash: PBKDF2-HMAC-SHA256 with an iteration count calibrated to the
//! device, compared in constant time.

use std::num::NonZeroU32;
use std::time::Instant;

use base64::prelude::{Engine, BASE64_STANDARD};
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{GateError, PinPolicy};
use crate::platform::StoreError;

const ALGORITHM: pbkdf2::Algorithm = pbkdf2::PBKDF2_HMAC_SHA256;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
/// Iterations of the timed trial run (fewer when the policy's minimum is lower).
const TRIAL_ITERATIONS: u32 = 10_000;
/// A ceiling so a mismeasured trial cannot make a PIN take minutes to check.
const MAX_ITERATIONS: u32 = 20_000_000;

/// A PIN typed by the user, as the ASCII digits the shell handed over: wiped from memory
/// when dropped, masked in `Debug`.
pub(super) struct Pin(Zeroizing<Vec<u8>>);

impl Pin {
    pub(super) fn new(pin: Vec<u8>) -> Self {
        Pin(Zeroizing::new(pin))
    }

    /// The PIN as text for the rules; bytes that are not UTF-8 read as a character the
    /// rules refuse.
    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("\u{fffd}")
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(****)")
    }
}

/// A PIN's salted hash and its cost, as kept in the gate record.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
#[serde(try_from = "StoredPin", into = "StoredPin")]
pub(super) struct PinHash {
    salt: [u8; SALT_LEN],
    iterations: u32,
    hash: [u8; HASH_LEN],
}

impl std::fmt::Debug for PinHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinHash")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl PinHash {
    /// Hashes a new PIN with a fresh salt, calibrating the cost to `policy` on this device.
    pub(super) fn create(pin: &Pin, policy: &PinPolicy) -> Result<PinHash, GateError> {
        let mut salt = [0u8; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| StoreError::WriteFailed {
                reason: "the system random generator failed".to_string(),
            })?;
        let iterations = calibrate_iterations(policy);
        let mut hash = [0u8; HASH_LEN];
        derive(iterations, &salt, pin.as_bytes(), &mut hash);
        Ok(PinHash {
            salt,
            iterations,
            hash,
        })
    }

    /// Whether `pin` is the PIN this hash was made from (constant-time comparison).
    pub(super) fn matches(&self, pin: &[u8]) -> bool {
        let Some(iterations) = NonZeroU32::new(self.iterations) else {
            return false;
        };
        pbkdf2::verify(ALGORITHM, iterations, &self.salt, pin, &self.hash).is_ok()
    }

    /// The PBKDF2 iteration count.
    #[cfg(test)]
    pub(super) fn iterations(&self) -> u32 {
        self.iterations
    }
}

fn derive(iterations: u32, salt: &[u8], pin: &[u8], out: &mut [u8]) {
    let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(ALGORITHM, iterations, salt, pin, out);
}

/// The iteration count for one hash to take about `policy.hash_target_ms` here: a timed trial
/// run, scaled; never below `policy.min_iterations`.
pub(super) fn calibrate_iterations(policy: &PinPolicy) -> u32 {
    let trial = policy.min_iterations.clamp(1, TRIAL_ITERATIONS);
    let mut out = [0u8; HASH_LEN];
    let start = Instant::now();
    derive(trial, b"ibkey calibration salt", b"000000", &mut out);
    let elapsed_ns = start.elapsed().as_nanos().max(1);
    let scaled = u128::from(trial) * u128::from(policy.hash_target_ms) * 1_000_000 / elapsed_ns;
    let scaled = u32::try_from(scaled.min(u128::from(MAX_ITERATIONS))).unwrap_or(MAX_ITERATIONS);
    scaled.max(policy.min_iterations).max(1)
}

/// The stored form: bytes in base64.
#[derive(Serialize, Deserialize)]
struct StoredPin {
    salt: String,
    iterations: u32,
    hash: String,
}

impl From<PinHash> for StoredPin {
    fn from(pin: PinHash) -> Self {
        StoredPin {
            salt: BASE64_STANDARD.encode(pin.salt),
            iterations: pin.iterations,
            hash: BASE64_STANDARD.encode(pin.hash),
        }
    }
}

impl TryFrom<StoredPin> for PinHash {
    type Error = &'static str;

    fn try_from(stored: StoredPin) -> Result<Self, Self::Error> {
        let salt = Zeroizing::new(
            BASE64_STANDARD
                .decode(&stored.salt)
                .map_err(|_| "salt is not base64")?,
        );
        let hash = Zeroizing::new(
            BASE64_STANDARD
                .decode(&stored.hash)
                .map_err(|_| "hash is not base64")?,
        );
        if stored.iterations == 0 {
            return Err("no iterations");
        }
        Ok(PinHash {
            salt: salt[..].try_into().map_err(|_| "wrong salt length")?,
            iterations: stored.iterations,
            hash: hash[..].try_into().map_err(|_| "wrong hash length")?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use super::*;

    #[test]
    fn hash_matches_only_its_pin_and_round_trips() {
        let policy = PinPolicy::fast_for_tests();
        let hash = PinHash::create(&Pin::new("2846".into()), &policy).expect("hash");
        assert!(hash.iterations() >= policy.min_iterations);
        assert!(hash.matches(b"2846"));
        assert!(!hash.matches(b"2847"));
        assert!(!hash.matches(b""));
        let json = serde_json::to_string(&hash).expect("json");
        assert!(!json.contains("2846"));
        let back: PinHash = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, hash);
        let other = PinHash::create(&Pin::new("2846".into()), &policy).expect("hash");
        assert_ne!(other.salt, hash.salt, "fresh salt each time");
    }

    #[test]
    fn damaged_stored_hashes_are_refused() {
        for json in [
            r#"{"salt":"AAAA","iterations":1000,"hash":"AAAA"}"#,
            r#"{"salt":"!!","iterations":1000,"hash":"AAAA"}"#,
            r#"{"salt":"AAAAAAAAAAAAAAAAAAAAAA==","iterations":0,"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
        ] {
            assert!(serde_json::from_str::<PinHash>(json).is_err(), "{json}");
        }
        let ok = r#"{"salt":"AAAAAAAAAAAAAAAAAAAAAA==","iterations":5,"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#;
        assert!(serde_json::from_str::<PinHash>(ok).is_ok());
    }

    #[test]
    fn pins_and_hashes_are_masked_in_debug() {
        let pin = Pin::new("2846".into());
        assert_eq!(format!("{pin:?}"), "Pin(****)");
        let hash = PinHash::create(&pin, &PinPolicy::fast_for_tests()).expect("hash");
        let shown = format!("{hash:?}");
        assert!(shown.starts_with("PinHash { iterations: "), "{shown}");
        assert!(!shown.contains("salt") && !shown.contains("hash:"));
    }

    #[test]
    fn the_default_policy_calibrates_to_at_least_its_minimum() {
        // Only the floor is asserted: tests never assert on timing.
        let policy = PinPolicy::default();
        let iterations = calibrate_iterations(&policy);
        assert!(iterations >= policy.min_iterations);
        assert!(iterations <= MAX_ITERATIONS.max(policy.min_iterations));
    }
}
