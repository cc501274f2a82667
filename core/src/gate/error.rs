//! What can go wrong while verifying the user, with messages that say what to do.

use crate::error::{export_error_code, ErrorCode};
use crate::platform::StoreError;

use super::PinLockout;

/// Why the user could not be verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum GateError {
    /// The new PIN breaks a rule; `reason` says which, in words a user understands.
    #[error("{reason} Please choose a different PIN.")]
    PinTooWeak {
        /// Which rule the PIN breaks.
        reason: String,
    },
    /// The PIN did not match.
    #[error("Wrong PIN. {} left before a delay.", tries(*.tries_before_delay))]
    WrongPin {
        /// How many more wrong PINs can be entered before the PIN pad is locked for a while.
        tries_before_delay: u32,
    },
    /// Too many wrong PINs: no PIN is accepted (or even compared) until the delay is over.
    #[error("Too many wrong PINs. Try again in {}.", human_duration(*.remaining_secs))]
    LockedOut {
        /// When the delay ends, wall time in milliseconds since the Unix epoch (for display;
        /// the delay itself runs on the device's boot clock).
        until_unix_ms: i64,
        /// Seconds left, rounded up.
        remaining_secs: u64,
    },
    /// A PIN was checked but none has been chosen on this device yet.
    #[error("No app PIN is set on this device yet. Activate an account first; you choose your PIN then.")]
    PinNotSet,
    /// The user backed out of the PIN pad or the biometric prompt.
    #[error("Verification was cancelled, so nothing was done. Start again when you are ready.")]
    Cancelled,
    /// The fingerprint or face was not recognised.
    #[error(
        "Your fingerprint or face was not recognised. Try again, or use the phone's passcode."
    )]
    BiometricNotRecognised,
    /// The phone has no biometrics or passcode set up (or no hardware for them).
    #[error("This phone has no fingerprint, face or passcode set up. Set one up in the phone's settings, then try again.")]
    BiometricUnavailable,
    /// The platform locked biometrics after too many failures.
    #[error("Fingerprint and face unlock are locked after too many attempts. Unlock the phone with its passcode, then try again.")]
    BiometricLockedOut,
    /// The phone's biometrics changed, which invalidated the device keys.
    #[error("The fingerprints or faces registered on this phone changed. For your security, the accounts on this device must be activated again.")]
    KeysInvalidated,
    /// [`MAX_WRONG_PINS`](super::MAX_WRONG_PINS) wrong PINs in a row: the accounts on this
    /// device are disabled for good.
    #[error("Too many wrong PINs were entered in a row, so the accounts on this phone are disabled for your security. Reset IB Key on this phone and activate your accounts again.")]
    AttemptsExhausted,
    /// The PIN record could not be read or saved.
    #[error(transparent)]
    Store {
        /// Why.
        #[from]
        error: StoreError,
    },
}

export_error_code!(GateError);

impl ErrorCode for GateError {
    fn code(&self) -> &'static str {
        match self {
            GateError::PinTooWeak { .. } => "GATE_PIN_TOO_WEAK",
            GateError::WrongPin { .. } => "GATE_PIN_WRONG",
            GateError::LockedOut { .. } => "GATE_LOCKED_OUT",
            GateError::PinNotSet => "GATE_PIN_NOT_SET",
            GateError::Cancelled => "GATE_CANCELLED",
            GateError::BiometricNotRecognised => "GATE_BIOMETRIC_NOT_RECOGNISED",
            GateError::BiometricUnavailable => "GATE_BIOMETRIC_UNAVAILABLE",
            GateError::BiometricLockedOut => "GATE_BIOMETRIC_LOCKED_OUT",
            GateError::KeysInvalidated => "GATE_KEYS_INVALIDATED",
            GateError::AttemptsExhausted => "GATE_ATTEMPTS_EXHAUSTED",
            GateError::Store { error } => error.code(),
        }
    }
}

impl From<PinLockout> for GateError {
    fn from(lockout: PinLockout) -> Self {
        GateError::LockedOut {
            until_unix_ms: lockout.until_unix_ms,
            remaining_secs: lockout.remaining_secs,
        }
    }
}

/// "1 try" / "3 tries".
fn tries(n: u32) -> String {
    if n == 1 {
        "1 try".to_string()
    } else {
        format!("{n} tries")
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// A duration as a person says it: "30 seconds", "5 minutes", "1 hour and 5 minutes".
/// Seconds are shown under a minute; above that, whole minutes rounded up.
pub(crate) fn human_duration(secs: u64) -> String {
    if secs < 60 {
        return plural(secs, "second");
    }
    let minutes = secs.div_ceil(60);
    if minutes < 60 {
        return plural(minutes, "minute");
    }
    let (hours, minutes) = (minutes / 60, minutes % 60);
    if minutes == 0 {
        plural(hours, "hour")
    } else {
        format!(
            "{} and {}",
            plural(hours, "hour"),
            plural(minutes, "minute")
        )
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(30), "30 seconds");
        assert_eq!(human_duration(60), "1 minute");
        assert_eq!(human_duration(61), "2 minutes");
        assert_eq!(human_duration(300), "5 minutes");
        assert_eq!(human_duration(3600), "1 hour");
        assert_eq!(human_duration(3601), "1 hour and 1 minute");
        assert_eq!(human_duration(4 * 3600), "4 hours");
        assert_eq!(human_duration(4 * 3600 - 1), "4 hours");
        assert_eq!(human_duration(3 * 3600 + 1799), "3 hours and 30 minutes");
    }

    #[test]
    fn messages_and_codes() {
        let locked = GateError::LockedOut {
            until_unix_ms: 0,
            remaining_secs: 300,
        };
        assert_eq!(
            locked.to_string(),
            "Too many wrong PINs. Try again in 5 minutes."
        );
        assert_eq!(locked.code(), "GATE_LOCKED_OUT");
        assert_eq!(
            GateError::WrongPin {
                tries_before_delay: 3
            }
            .to_string(),
            "Wrong PIN. 3 tries left before a delay."
        );
        assert_eq!(
            GateError::WrongPin {
                tries_before_delay: 1
            }
            .to_string(),
            "Wrong PIN. 1 try left before a delay."
        );
        let store = GateError::from(StoreError::Corrupt { key: "gate".into() });
        assert_eq!(store.code(), "STORE_CORRUPT");
        assert_eq!(
            store.to_string(),
            StoreError::Corrupt { key: "gate".into() }.to_string()
        );
        let all = [
            (
                GateError::PinTooWeak { reason: "r".into() },
                "GATE_PIN_TOO_WEAK",
            ),
            (
                GateError::WrongPin {
                    tries_before_delay: 2,
                },
                "GATE_PIN_WRONG",
            ),
            (GateError::PinNotSet, "GATE_PIN_NOT_SET"),
            (GateError::Cancelled, "GATE_CANCELLED"),
            (
                GateError::BiometricNotRecognised,
                "GATE_BIOMETRIC_NOT_RECOGNISED",
            ),
            (
                GateError::BiometricUnavailable,
                "GATE_BIOMETRIC_UNAVAILABLE",
            ),
            (GateError::BiometricLockedOut, "GATE_BIOMETRIC_LOCKED_OUT"),
            (GateError::KeysInvalidated, "GATE_KEYS_INVALIDATED"),
        ];
        for (e, code) in all {
            assert_eq!(e.code(), code);
            assert!(!e
                .to_string()
                .to_lowercase()
                .contains("an error has occurred"));
            assert!(e.to_string().ends_with('.'), "{e}");
        }
    }
}
