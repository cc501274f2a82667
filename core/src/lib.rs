//! ibkey-core: the logic of a mobile two-factor authenticator, written once for every
//! platform.
//!
//! A shell (Android, iOS, the desktop CLI) supplies platform services through the traits in
//! [`platform`] and drives an [`Authenticator`]: activate from a scanned QR payload or a
//! typed session ID, list and remove the enrolled users, approve or deny logins
//! ([`approval`]), show offline responses and time-based codes, and compute the code of any
//! `otpauth://` link ([`codes`]). Every failure is a typed error with a stable code and a message that says
//! what to do ([`error::ErrorCode`]).

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("ibkey_core");

pub mod accounts;
pub mod activation;
mod api;
pub mod approval;
mod authenticator;
pub mod codes;
mod device;
pub mod diagnostics;
pub mod error;
/// Entry points for the fuzz targets in `fuzz/`; not an API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
mod guarded;
pub mod lifecycle;
pub mod platform;
pub mod scan;
#[cfg(test)]
mod test_support;

pub use accounts::{Account, AccountsError};
pub use activation::{ActivationError, ActivationOutcome, ActivationRequest};
pub use approval::{
    ApprovalError, ApprovalOutcome, ChallengeSource, Decision, LoginChallenge, LoginContext,
    NumberCheck,
};
pub use authenticator::Authenticator;
pub use codes::{otp_code, CodesError, OfflineResponse, OtpCode, OtpError, OtpKind, TimeCode};
pub use device::AuthenticatorConfig;
pub use error::ErrorCode;
