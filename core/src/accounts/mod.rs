//! The users enrolled on this device, the device's own record (its id, the pinned server
//! key, the last code it activated, its clock's offset from the server's) and each user's
//! approval record (`state.rs`), kept through the platform's
//! [`SecureStore`](crate::platform::SecureStore).
//!
//! A damaged record is reported as [`StoreError::Corrupt`] and never replaced by an empty
//! one: no write happens until it can be read again, so no enrolled user is lost silently.

mod book;
mod removal;
mod state;

use serde::{Deserialize, Serialize};

pub use book::AccountBook;
pub(crate) use removal::RevokeFailure;

use crate::error::{export_error_code, ErrorCode};
use crate::gate::GateError;
use crate::platform::{KeyError, StoreError};

/// One user enrolled on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Account {
    /// The portal user name.
    pub username: String,
    /// The server the user is enrolled with.
    pub server_url: String,
    /// The credential's id on the server.
    pub credential_id: String,
    /// The alias of the device key that stands for this user in the [`crate::platform::KeyVault`].
    pub key_alias: String,
    /// When the user was enrolled, Unix seconds.
    pub enrolled_at: i64,
}

/// Why an account operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum AccountsError {
    /// No enrolled user has this name.
    #[error(
        "{username} is not enrolled on this device. See the list of users for the names that are."
    )]
    NotFound {
        /// The name asked for.
        username: String,
    },
    /// The server could not be reached; nothing was removed.
    #[error("The server could not be reached ({reason}); nothing was changed. Check the connection and try again.")]
    ServerUnreachable {
        /// What the network layer said.
        reason: String,
    },
    /// The server refused or answered something unexpected; nothing was removed.
    #[error("The server did not accept the request ({detail}); nothing was changed. Try again later; if it persists, contact support.")]
    ServerReply {
        /// What was wrong with the reply.
        detail: String,
    },
    /// The user's device key could not be used.
    #[error("This user's key on the device cannot be used ({error}). Remove the device in the portal and activate again.")]
    DeviceKey {
        /// What the key vault reported.
        error: KeyError,
    },
    /// The user did not verify.
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

export_error_code!(AccountsError);

impl ErrorCode for AccountsError {
    fn code(&self) -> &'static str {
        match self {
            AccountsError::NotFound { .. } => "ACC_NOT_FOUND",
            AccountsError::ServerUnreachable { .. } => "ACC_SERVER_UNREACHABLE",
            AccountsError::ServerReply { .. } => "ACC_SERVER_REPLY",
            AccountsError::DeviceKey { .. } => "ACC_DEVICE_KEY",
            AccountsError::Verification { error } => error.code(),
            AccountsError::Store { error } => error.code(),
        }
    }
}
