//! Records and enums mirroring the core's plain data types, with their conversions.

use ibkey_core::activation as core_activation;
use ibkey_core::gate as core_gate;

/// One user enrolled on this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Account {
    /// The portal user name.
    pub username: String,
    /// The server the user is enrolled with.
    pub server_url: String,
    /// The credential's id on the server.
    pub credential_id: String,
    /// The alias of the device key that stands for this user in the `KeyVault`.
    pub key_alias: String,
    /// When the user was enrolled, Unix seconds.
    pub enrolled_at: i64,
}

impl From<ibkey_core::Account> for Account {
    fn from(a: ibkey_core::Account) -> Self {
        Account {
            username: a.username,
            server_url: a.server_url,
            credential_id: a.credential_id,
            key_alias: a.key_alias,
            enrolled_at: a.enrolled_at,
        }
    }
}

/// A validated activation code, before anything is sent: whom it would enroll.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActivationRequest {
    /// The portal user the code enrolls.
    pub username: String,
    /// The server that issued it.
    pub server_url: String,
    /// When the code expires, Unix seconds.
    pub expires_at: i64,
    /// The last group of its session ID, safe to show and log.
    pub session_id_hint: String,
}

impl From<core_activation::ActivationRequest> for ActivationRequest {
    fn from(r: core_activation::ActivationRequest) -> Self {
        ActivationRequest {
            username: r.username,
            server_url: r.server_url,
            expires_at: r.expires_at,
            session_id_hint: r.session_id_hint,
        }
    }
}

/// How an activation ended when nothing went wrong.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ActivationResult {
    /// The user is now enrolled on this device.
    Activated {
        /// The new account.
        account: Account,
    },
    /// This very code activated this account a moment ago (the camera still sees the QR):
    /// nothing was done again.
    AlreadyActivatedWithThisCode {
        /// The account the code activated.
        account: Account,
    },
}

impl From<core_activation::ActivationOutcome> for ActivationResult {
    fn from(o: core_activation::ActivationOutcome) -> Self {
        match o {
            core_activation::ActivationOutcome::Activated { account } => {
                ActivationResult::Activated {
                    account: account.into(),
                }
            }
            core_activation::ActivationOutcome::AlreadyActivatedWithThisCode { account } => {
                ActivationResult::AlreadyActivatedWithThisCode {
                    account: account.into(),
                }
            }
        }
    }
}

/// Where a duplicate enrollment was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FoundBy {
    /// In this device's own account list, before any network call.
    Device,
    /// By the server: it already holds a credential of this device for the user.
    Server,
}

impl From<core_activation::FoundBy> for FoundBy {
    fn from(f: core_activation::FoundBy) -> Self {
        match f {
            core_activation::FoundBy::Device => FoundBy::Device,
            core_activation::FoundBy::Server => FoundBy::Server,
        }
    }
}

impl From<FoundBy> for core_activation::FoundBy {
    fn from(f: FoundBy) -> Self {
        match f {
            FoundBy::Device => core_activation::FoundBy::Device,
            FoundBy::Server => core_activation::FoundBy::Server,
        }
    }
}

/// A running delay after too many wrong PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PinLockout {
    /// When it ends, wall time in milliseconds since the Unix epoch (for display).
    pub until_unix_ms: i64,
    /// Seconds left, rounded up.
    pub remaining_secs: u64,
}

impl From<core_gate::Lockout> for PinLockout {
    fn from(l: core_gate::Lockout) -> Self {
        PinLockout {
            until_unix_ms: l.until_unix_ms,
            remaining_secs: l.remaining_secs,
        }
    }
}
