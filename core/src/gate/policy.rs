//! Which PINs are accepted, and how slowly they are hashed.

use super::GateError;

/// PINs so common that an attacker tries them first, beyond those the structural rules
/// (one repeated digit, a run, a repeated pattern) already refuse.
const COMMON_PINS: &[&str] = &[
    "0007", "0852", "1004", "1122", "1357", "1984", "1998", "2000", "2001", "2010", "2468", "2580",
    "5683", "7410", "112233", "111222", "123321", "147258", "159753", "789456",
];

/// The rules for new PINs and the cost of hashing them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PinPolicy {
    /// How long one PIN hash should take on this device, milliseconds; the iteration count
    /// is calibrated to it when a PIN is created. Default 150.
    #[cfg_attr(feature = "uniffi", uniffi(default = 150))]
    pub hash_target_ms: u32,
    /// The fewest PBKDF2 iterations used, however fast the device. Default 100 000.
    #[cfg_attr(feature = "uniffi", uniffi(default = 100000))]
    pub min_iterations: u32,
    /// The shortest PIN accepted, in digits. Default 4.
    #[cfg_attr(feature = "uniffi", uniffi(default = 4))]
    pub min_len: u32,
    /// The longest PIN accepted, in digits. Default 12.
    #[cfg_attr(feature = "uniffi", uniffi(default = 12))]
    pub max_len: u32,
}

impl Default for PinPolicy {
    fn default() -> Self {
        PinPolicy {
            hash_target_ms: 150,
            min_iterations: 100_000,
            min_len: 4,
            max_len: 12,
        }
    }
}

impl PinPolicy {
    /// **For tests only**: the default rules with a hash of about 1 ms and at least 1 000
    /// iterations, so tests that create and check many PINs stay quick. Never use it in an
    /// app: it makes a stolen PIN record easy to brute-force.
    pub fn fast_for_tests() -> Self {
        PinPolicy {
            hash_target_ms: 1,
            min_iterations: 1_000,
            ..PinPolicy::default()
        }
    }

    /// Whether `pin` may be chosen as a new PIN: `min_len..=max_len` digits only, not one
    /// repeated digit (1111), not a straight run up or down (1234, 4321, 7890), not a short
    /// pattern repeated (1212, 123123), and not one of the most common PINs. The error is
    /// [`GateError::PinTooWeak`] with a reason to show the user.
    ///
    /// ```
    /// use ibkey_core::gate::PinPolicy;
    ///
    /// let policy = PinPolicy::default();
    /// assert!(policy.check("2846").is_ok());
    /// assert!(policy.check("1234").is_err());
    /// ```
    pub fn check(&self, pin: &str) -> Result<(), GateError> {
        let weak = |reason: String| Err(GateError::PinTooWeak { reason });
        if !pin.bytes().all(|b| b.is_ascii_digit()) {
            return weak("A PIN can contain digits (0-9) only.".to_string());
        }
        let digits: Vec<u8> = pin.bytes().map(|b| b - b'0').collect();
        let len = digits.len();
        let (min, max) = (self.min_len as usize, self.max_len as usize);
        if len < min || len > max {
            return weak(if min == max {
                format!("A PIN must have exactly {min} digits.")
            } else {
                format!("A PIN must have {min} to {max} digits.")
            });
        }
        if len == 0 {
            return weak("A PIN must not be empty.".to_string());
        }
        if digits.iter().all(|&d| d == digits[0]) {
            return weak(
                "A PIN of one repeated digit (like 1111) is too easy to guess.".to_string(),
            );
        }
        let steps_by = |step: u8| digits.windows(2).all(|w| (w[0] + step) % 10 == w[1]);
        if steps_by(1) || steps_by(9) {
            return weak(
                "A PIN of consecutive digits (like 1234 or 4321) is too easy to guess.".to_string(),
            );
        }
        let repeats_block = (2..=len / 2).any(|block| {
            len.is_multiple_of(block) && digits.chunks(block).all(|c| c == &digits[..block])
        });
        if repeats_block {
            return weak(
                "A PIN that repeats a short pattern (like 1212 or 123123) is too easy to guess."
                    .to_string(),
            );
        }
        if COMMON_PINS.contains(&pin) {
            return weak(
                "This PIN is one of the most commonly used, so it is too easy to guess."
                    .to_string(),
            );
        }
        Ok(())
    }
}
