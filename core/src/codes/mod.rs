//! Codes that work without a network: the user turns the 6-digit challenge shown on the login
//! page into an 8-digit response, or reads a time-based code, on the phone; the login page
//! takes either instead of an approval. Both come from a secret the device and the server
//! agreed on at activation (X25519, see [`ibkey_protocol::offline`]) and kept in the account's
//! record; neither needs the server, and both are shown only after the PIN or biometrics.
//!
//! Time-based codes run on the device clock corrected by the offset learned from the server's
//! signed replies, so a phone whose clock is minutes or days off still shows the right code
//! ([`crate::Authenticator::clock_offset_secs`] tells the app how far off it is).
//!
//! Beside these, [`otp_code`] computes the code of any `otpauth://` link (TOTP or HOTP), the
//! general utility authenticator apps have. The flows are in `flow.rs`, behind
//! [`crate::Authenticator`]'s methods.

mod flow;
mod otpauth;
#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests;

use std::fmt;

use ibkey_protocol::offline::ChallengeError;

use crate::error::{export_error_code, ErrorCode};
use crate::gate::GateError;
use crate::platform::StoreError;

pub use otpauth::{otp_code, OtpCode, OtpError, OtpKind};

/// A learned clock offset beyond this (either way) means the phone's clock is far off; codes
/// still use the corrected time, and the app may tell the user.
pub const CLOCK_FAR_OFF_SECS: i64 = 10 * 60;

/// The response to a login page's challenge, to type on the login page.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OfflineResponse {
    /// The user the response is for.
    pub username: String,
    /// Eight digits.
    pub response: String,
}

/// Shows the user, not the response.
impl fmt::Debug for OfflineResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfflineResponse")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A user's current time-based code, to type on the login page.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TimeCode {
    /// The user the code is for.
    pub username: String,
    /// Six digits.
    pub code: String,
    /// Seconds until the next code (1 to `period`), on the corrected clock.
    pub seconds_left: u32,
    /// Seconds each code lasts.
    pub period: u32,
}

/// Shows everything but the code.
impl fmt::Debug for TimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeCode")
            .field("username", &self.username)
            .field("seconds_left", &self.seconds_left)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

/// Why a response or a time-based code could not be shown. Each variant has its own code
/// ([`ErrorCode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum CodesError {
    /// The user is not enrolled on this device.
    #[error("{username} is not enrolled on this device, so it has no codes here. Use the device where {username} is activated, or activate {username} on this device first.")]
    UnknownAccount {
        /// The user asked for.
        username: String,
    },
    /// The account was activated without offline codes (by an older server or app version).
    #[error("{username} was activated on this device before offline codes existed, so this device has none for {username}. Approve the login from its notification instead, or remove {username} from this device and activate again to get offline codes.")]
    Unavailable {
        /// The account.
        username: String,
    },
    /// The challenge's check digit does not match: a digit was mistyped or two were swapped.
    #[error("This challenge has a typo: a digit is wrong or two digits are swapped. Check the six digits against the login page and type them again.")]
    ChallengeMistyped,
    /// The challenge typed does not have six digits.
    #[error("A challenge has 6 digits, but {found} were typed. Check the challenge on the login page and type all six digits.")]
    ChallengeWrongLength {
        /// Digits typed.
        found: u32,
    },
    /// The challenge typed holds something other than digits.
    #[error("A challenge has only digits. Check the challenge on the login page and type its six digits.")]
    ChallengeNotDigits,
    /// The user did not verify (PIN, biometrics, cancel, lockout).
    #[error(transparent)]
    Verification {
        /// Why.
        #[from]
        error: GateError,
    },
    /// The store could not be read or written.
    #[error(transparent)]
    Store {
        /// Why.
        #[from]
        error: StoreError,
    },
}

impl From<ChallengeError> for CodesError {
    fn from(error: ChallengeError) -> Self {
        match error {
            ChallengeError::WrongLength { found, .. } => CodesError::ChallengeWrongLength { found },
            ChallengeError::NotDigits => CodesError::ChallengeNotDigits,
            ChallengeError::Mistyped => CodesError::ChallengeMistyped,
        }
    }
}

export_error_code!(CodesError);

impl ErrorCode for CodesError {
    fn code(&self) -> &'static str {
        match self {
            CodesError::UnknownAccount { .. } => "COD_UNKNOWN_ACCOUNT",
            CodesError::Unavailable { .. } => "COD_UNAVAILABLE",
            CodesError::ChallengeMistyped => "COD_CHALLENGE_MISTYPED",
            CodesError::ChallengeWrongLength { .. } => "COD_CHALLENGE_WRONG_LENGTH",
            CodesError::ChallengeNotDigits => "COD_CHALLENGE_NOT_DIGITS",
            CodesError::Verification { error } => error.code(),
            CodesError::Store { error } => error.code(),
        }
    }
}
