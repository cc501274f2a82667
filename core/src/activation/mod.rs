//! Activation: turning a scanned QR payload or a typed session ID into an enrolled account.
//!
//! Everything that can be checked on the device is checked before any network call: the
//! payload's form, signature and server, its expiry, the session ID's check characters, and
//! whether the user is already enrolled here. The flow itself (`flow.rs`, behind
//! [`crate::Authenticator`]'s `activate_*` methods) then verifies the user, makes the device
//! key, registers it and stores the account.

mod flow;
mod report;
mod server_key;

pub(crate) use flow::agreed_codes_secret;
pub(crate) use server_key::ServerTokenError;

pub use ibkey_protocol::session_id::{SessionId, SessionIdError};

use ibkey_protocol::activation::{codes, TokenError};
use ibkey_protocol::server_key::KeyChainError;

use crate::api::ApiError;
use crate::error::{export_error_code, ErrorCode};
use crate::gate::GateError;
use crate::platform::{KeyError, StoreError};
use crate::Account;

/// A validated activation code, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ActivationRequest {
    /// The portal user the code enrolls.
    pub username: String,
    /// The server that issued it.
    pub server_url: String,
    /// When the code expires, Unix seconds.
    pub expires_at: i64,
    /// The last group of its session ID, safe to show and log.
    pub session_id_hint: String,
    /// For a code that moves IB Key to this phone: the names of the user's devices that stop
    /// working once it is used (the app says so before the user confirms). Empty for a plain
    /// activation.
    pub replaces: Vec<String>,
}

/// How an activation ended when nothing went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ActivationOutcome {
    /// The user is now enrolled on this device.
    Activated {
        /// The new account.
        account: Account,
    },
    /// The user moved IB Key to this device: the account is enrolled here, and the devices
    /// it replaces no longer approve the user's logins.
    Moved {
        /// The new account.
        account: Account,
        /// The names of the devices it replaced.
        replaced: Vec<String>,
    },
    /// This very code activated this account a moment ago (the camera still sees the QR):
    /// nothing was done again.
    AlreadyActivatedWithThisCode {
        /// The account the code activated.
        account: Account,
    },
}

/// Where a duplicate enrollment was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum FoundBy {
    /// In this device's own account list, before any network call.
    Device,
    /// By the server: it already holds a credential of this device for the user.
    Server,
}

/// Why an activation did not happen. Each variant has its own code ([`ErrorCode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum ActivationError {
    /// The user is already enrolled on this device: nothing to do.
    #[error("{} is already enrolled on this device{}. There is nothing to do: you can already approve logins for {0}.", username, match found_by { FoundBy::Device => "", FoundBy::Server => " according to the server (if the app was reinstalled or its data cleared, remove the old device in the portal, then activate again)" })]
    AlreadyEnrolled {
        /// The user.
        username: String,
        /// Where the duplicate was found.
        found_by: FoundBy,
    },
    /// The code was already used to activate a device.
    #[error("This activation code was already used. Log out of the portal and back in to get a fresh QR code and session ID, then try again.")]
    CodeUsed,
    /// The code expired.
    #[error("This activation code has expired. Log out of the portal and back in to get a fresh QR code and session ID, then try again.")]
    CodeExpired,
    /// The server knows no code with this session ID.
    #[error("No activation is waiting for this session ID. Check it against the portal; if it matches, log out of the portal and back in for a fresh one.")]
    CodeUnknown,
    /// The typed session ID has too few or too many characters (caught on the device).
    #[error("{}", SessionIdError::WrongLength { found: *found, expected: *expected })]
    SessionIdWrongLength {
        /// Characters found.
        found: u32,
        /// Characters expected.
        expected: u32,
    },
    /// The typed session ID holds a character that never appears in one (caught on the
    /// device).
    #[error("{}", SessionIdError::InvalidCharacter { group: *group, character: character.clone() })]
    SessionIdInvalidCharacter {
        /// The group (1-based) holding the character.
        group: u32,
        /// The character as typed.
        character: String,
    },
    /// A group of the typed session ID fails its check character: a typo (caught on the
    /// device).
    #[error("{}", SessionIdError::Mistyped { group: *group })]
    SessionIdMistyped {
        /// The group (1-based) that looks wrong.
        group: u32,
    },
    /// Too many wrong session IDs were tried; the server asks to wait.
    #[error("Too many wrong session IDs were tried. Wait {retry_after_secs} seconds, then type the session ID again carefully.")]
    TooManyAttempts {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The scanned QR code is not an activation code.
    #[error("This QR code is not an activation code. Scan the QR code shown on the portal's activation page.")]
    NotAnActivationCode,
    /// The code names a server other than the one this app works with.
    #[error("This activation code is for another service ({found}), not {expected}. Scan the code from your provider's portal.")]
    WrongServer {
        /// The server this app works with.
        expected: String,
        /// The server the code names.
        found: String,
    },
    /// The code is not signed by the server's pinned key, or the server presents a key the
    /// trusted one did not endorse: forged, or someone is intercepting the connection.
    #[error("This activation code was not signed by your provider's server, so it was not used. Scan the code from your provider's portal; if this persists, contact support.")]
    ServerKeyMismatch,
    /// The app is configured with no server key (nor a usable one), none is pinned, and
    /// trust on first use is off: nothing the server sends can be checked.
    #[error("This app is not configured with its server's key, so it cannot check that it is talking to the real server, and nothing was done. Contact the app's publisher.")]
    ServerKeyNotConfigured,
    /// The server's address is plain HTTP to another machine.
    #[error("The server address {url} is not secure (plain HTTP is only allowed to this device itself). Use an https:// address.")]
    InsecureServer {
        /// The address.
        url: String,
    },
    /// No connection to the server.
    #[error("The server could not be reached ({reason}). Check the phone's connection and try again; the code stays valid until it expires.")]
    ServerUnreachable {
        /// What the network layer said.
        reason: String,
    },
    /// The server's reply made no sense; nothing was enrolled.
    #[error("The server's reply could not be understood ({detail}); nothing was enrolled. Try again later; if it persists, contact support.")]
    ServerReply {
        /// What was wrong with it.
        detail: String,
    },
    /// The device key could not be made or used.
    #[error("The phone's key store could not make a key for this account ({error}). Restart the phone and try again.")]
    DeviceKey {
        /// What the key vault reported.
        error: KeyError,
    },
    /// The server enrolled the device but the phone could not save the account: the
    /// enrollment was undone (credential revoked, key deleted), so nothing is enrolled.
    #[error("The phone could not save the new account, so the enrollment was undone and nothing was enrolled. Get a fresh code from the portal and try again. ({error})")]
    NotSaved {
        /// Why saving failed.
        error: StoreError,
    },
    /// The server enrolled the device, the phone could not save the account and could not
    /// tell the server to undo it (the network dropped): nothing is enrolled on the phone,
    /// but the portal lists the device until it is removed there.
    #[error("The phone could not save the new account, so nothing was enrolled on this phone, and the server could not be told to undo the enrollment ({reason}): the portal may list this device until you remove it there. Remove it in the portal, then activate again with a fresh code. ({error})")]
    NotSavedServerKeepsDevice {
        /// Why saving failed.
        error: StoreError,
        /// Why the server was not told (network or server error).
        reason: String,
    },
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

impl From<SessionIdError> for ActivationError {
    fn from(e: SessionIdError) -> Self {
        match e {
            SessionIdError::WrongLength { found, expected } => {
                ActivationError::SessionIdWrongLength { found, expected }
            }
            SessionIdError::InvalidCharacter { group, character } => {
                ActivationError::SessionIdInvalidCharacter { group, character }
            }
            SessionIdError::Mistyped { group } => ActivationError::SessionIdMistyped { group },
        }
    }
}

impl ActivationError {
    /// What a server-client error means for the user who tried to activate `username`.
    pub(crate) fn from_api(error: ApiError, username: &str) -> ActivationError {
        match error {
            ApiError::Unreachable { reason } => ActivationError::ServerUnreachable { reason },
            ApiError::InsecureUrl { url } => ActivationError::InsecureServer { url },
            ApiError::BadReply { detail } => ActivationError::ServerReply { detail },
            ApiError::Refused {
                code,
                message,
                retry_after,
                ..
            } => match code.as_str() {
                codes::CODE_USED => ActivationError::CodeUsed,
                codes::CODE_EXPIRED => ActivationError::CodeExpired,
                codes::CODE_UNKNOWN => ActivationError::CodeUnknown,
                codes::ALREADY_ENROLLED => ActivationError::AlreadyEnrolled {
                    username: username.to_string(),
                    found_by: FoundBy::Server,
                },
                codes::TOO_MANY_ATTEMPTS => ActivationError::TooManyAttempts {
                    retry_after_secs: retry_after.unwrap_or(60),
                },
                _ => ActivationError::ServerReply {
                    detail: format!("{code}: {message}"),
                },
            },
        }
    }
}

impl ActivationError {
    /// What a server token that could not be checked means for an activation; `token` says
    /// what a token that does not verify or read means where it was met.
    pub(crate) fn from_server_token(
        error: ServerTokenError,
        token: impl FnOnce(TokenError) -> ActivationError,
    ) -> ActivationError {
        match error {
            ServerTokenError::NotConfigured => ActivationError::ServerKeyNotConfigured,
            ServerTokenError::Untrusted(KeyChainError::NotEndorsed) => {
                ActivationError::ServerKeyMismatch
            }
            ServerTokenError::Untrusted(e @ KeyChainError::Malformed) => {
                ActivationError::ServerReply {
                    detail: e.to_string(),
                }
            }
            ServerTokenError::Token(e) => token(e),
            ServerTokenError::Api(e) => ActivationError::from_api(e, ""),
            ServerTokenError::Store(error) => ActivationError::Store { error },
        }
    }
}

export_error_code!(ActivationError);

impl ErrorCode for ActivationError {
    fn code(&self) -> &'static str {
        use ActivationError::*;
        match self {
            AlreadyEnrolled { .. } => "ACT_ALREADY_ENROLLED",
            CodeUsed => "ACT_CODE_USED",
            CodeExpired => "ACT_CODE_EXPIRED",
            CodeUnknown => "ACT_CODE_UNKNOWN",
            SessionIdWrongLength { .. } => "ACT_SESSION_ID_LENGTH",
            SessionIdInvalidCharacter { .. } => "ACT_SESSION_ID_CHARACTER",
            SessionIdMistyped { .. } => "ACT_SESSION_ID_MISTYPED",
            TooManyAttempts { .. } => "ACT_TOO_MANY_ATTEMPTS",
            NotAnActivationCode => "ACT_NOT_AN_ACTIVATION_CODE",
            WrongServer { .. } => "ACT_WRONG_SERVER",
            ServerKeyMismatch => "ACT_SERVER_KEY_MISMATCH",
            ServerKeyNotConfigured => "ACT_SERVER_KEY_NOT_CONFIGURED",
            InsecureServer { .. } => "ACT_INSECURE_SERVER",
            ServerUnreachable { .. } => "ACT_SERVER_UNREACHABLE",
            ServerReply { .. } => "ACT_SERVER_REPLY",
            DeviceKey { .. } => "ACT_DEVICE_KEY",
            NotSaved { .. } => "ACT_NOT_SAVED",
            NotSavedServerKeepsDevice { .. } => "ACT_NOT_SAVED_SERVER_KEEPS_DEVICE",
            Verification { error } => error.code(),
            Store { error } => error.code(),
        }
    }
}
