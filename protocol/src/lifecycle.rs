//! A phone's life after activation on the wire: moving IB Key to a new phone, recovering the
//! accounts after a reinstall, and what the notification doctor asks the server.
//!
//! - **Move.** The user, signed in to the portal on the new phone's behalf, asks to move
//!   ([`MoveStartResponse`]); the server sends a one-time code out of band (SMS, e-mail: its
//!   `Notifier`), and the code typed back ([`MoveConfirmRequest`]) gets an activation ticket
//!   whose `mov` names the devices it replaces. Completing it revokes every other credential
//!   of the user at once; a replaced credential's later requests are refused with
//!   [`codes::CREDENTIAL_MOVED`] and a signed [`MovedClaims`] the old phone checks before it
//!   forgets the account.
//! - **Recovery.** A phone that lost its files but kept its device keys proves it holds
//!   them ([`RecoveryBeginRequest`]); the server answers, key by key, whether the account can
//!   be restored and sends the user a one-time code out of band; the code typed on the phone
//!   ([`RecoveryCompleteRequest`]) gets a new signed enrollment receipt for the same
//!   credential, its last approval counter and a fresh offline-code secret.
//! - **Doctor.** [`DeviceStatusRequest`] returns what the server knows about a credential's
//!   notifications; [`TestPushRequest`] sends a test notification ([`TestPushPayload`]).
//!
//! Each device request is signed like the others, over
//! [`crate::approval::device_request_message`] with the purpose constants below.

use serde::{Deserialize, Serialize};

use crate::activation::TokenClaims;

/// Token type of [`MovedClaims`].
pub const MOVED_TYPE: &str = "moved";
/// Push payload `type` of a test notification.
pub const PUSH_TEST_KIND: &str = "ibkey.test";
/// [`crate::approval::device_request_message`] purpose of a [`KeyProof`] (the detail is
/// empty; the "credential id" is the key's [`crate::activation::key_id`]).
pub const RECOVERY_BEGIN_PURPOSE: &str = "ibkey-recovery-begin/v1";
/// Purpose of a [`RecoveryCompleteRequest`] (detail: [`recovery_complete_detail`]).
pub const RECOVERY_COMPLETE_PURPOSE: &str = "ibkey-recovery-complete/v1";
/// Purpose of a [`DeviceStatusRequest`] (detail empty).
pub const STATUS_PURPOSE: &str = "ibkey-status/v1";
/// Purpose of a [`TestPushRequest`] (detail empty).
pub const TEST_PUSH_PURPOSE: &str = "ibkey-test-push/v1";
/// How long a move or recovery code sent out of band stays valid, seconds.
pub const OUT_OF_BAND_CODE_SECONDS: i64 = 10 * 60;

/// Reply to `POST /v1/portal/move` (bearer portal token, empty body): a one-time code was
/// sent to the user out of band.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MoveStartResponse {
    /// Where the code went, masked for display (`a•••@example.com`, `+41 •• ••• •• 67`).
    pub sent_to: String,
    /// When the code expires, Unix seconds.
    pub expires_at: i64,
    /// The names of the devices the move replaces.
    pub replaces: Vec<String>,
}

/// `POST /v1/portal/move/confirm` (bearer portal token): the code sent out of band, typed
/// back. Answered with an [`crate::activation::TicketResponse`] of a move ticket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MoveConfirmRequest {
    /// The code as typed (digits; spaces ignored).
    pub code: String,
}

/// What the server signs for a credential replaced by a move, so the old phone can tell its
/// user when and where IB Key went — and cannot be made to forget an account by anyone but
/// the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedClaims {
    /// Always [`MOVED_TYPE`].
    pub typ: String,
    /// The replaced credential.
    pub cid: String,
    /// Its user.
    pub usr: String,
    /// The name of the device the user moved to.
    pub to: String,
    /// When the move happened, Unix seconds.
    pub at: i64,
}

impl TokenClaims for MovedClaims {
    const TYPE: &'static str = MOVED_TYPE;
    fn token_type(&self) -> &str {
        &self.typ
    }
}

/// A device key's proof of possession, for recovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyProof {
    /// SEC1 uncompressed P-256 public key, base64url.
    pub public_key: String,
    /// Device time of the request, Unix seconds.
    pub issued_at: i64,
    /// Signature over [`crate::approval::device_request_message`] ([`RECOVERY_BEGIN_PURPOSE`],
    /// the key's id, `issued_at`, empty detail), ASN.1 DER, base64url.
    pub signature: String,
}

/// `POST /v1/recovery/begin`: the device keys a phone still holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryBeginRequest {
    /// One proof per key (at most 32).
    pub keys: Vec<KeyProof>,
}

/// What the server says about one key of a [`RecoveryBeginRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RecoveryCandidate {
    /// The key's credential is active: a code was sent to its user.
    Recoverable {
        /// The key's [`crate::activation::key_id`].
        key_id: String,
        /// The user.
        username: String,
        /// The name the device was activated with.
        device_name: String,
        /// When the user was enrolled, Unix seconds.
        enrolled_at: i64,
        /// Where the code went, masked.
        sent_to: String,
        /// When the code expires, Unix seconds.
        expires_at: i64,
    },
    /// The credential was removed (by the user, in the portal, or after a reset).
    Revoked {
        /// The key's id.
        key_id: String,
        /// The user.
        username: String,
        /// When, Unix seconds.
        revoked_at: i64,
    },
    /// The credential was replaced by a move to another phone.
    Moved {
        /// The key's id.
        key_id: String,
        /// Signed [`MovedClaims`].
        moved: String,
    },
    /// The server knows no credential with this key (or its signature did not verify).
    Unknown {
        /// The key's id.
        key_id: String,
    },
}

/// Reply to [`RecoveryBeginRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryBeginResponse {
    /// One entry per key, in the request's order.
    pub candidates: Vec<RecoveryCandidate>,
}

/// The [`crate::approval::device_request_message`] detail of a
/// [`RecoveryCompleteRequest`]: the JSON array `[code, agreement key or null]`.
pub fn recovery_complete_detail(code: &str, agreement_key: Option<&str>) -> String {
    serde_json::to_string(&(code, agreement_key)).unwrap_or_default()
}

/// `POST /v1/recovery/complete`: restore one account with the code its user received.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCompleteRequest {
    /// SEC1 uncompressed P-256 public key of the account's device key, base64url.
    pub public_key: String,
    /// The code as typed (digits; spaces ignored).
    pub code: String,
    /// A new one-time X25519 public key (base64url) for a fresh offline-code secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_key: Option<String>,
    /// Device time of the request, Unix seconds.
    pub issued_at: i64,
    /// Signature over [`crate::approval::device_request_message`]
    /// ([`RECOVERY_COMPLETE_PURPOSE`], the key's id, `issued_at`,
    /// [`recovery_complete_detail`]), base64url.
    pub signature: String,
}

/// Reply to [`RecoveryCompleteRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCompleteResponse {
    /// A new signed enrollment receipt ([`crate::activation::ReceiptClaims`]) for the same
    /// credential, carrying `ctr`: the last approval counter the server accepted, from which
    /// the device goes on.
    pub receipt: String,
    /// The server's one-time X25519 public key answering `agreement_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_key: Option<String>,
}

/// `POST /v1/devices/status`: what the server knows about one credential's notifications.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceStatusRequest {
    /// The credential asking.
    pub credential_id: String,
    /// Device time of the request, Unix seconds.
    pub issued_at: i64,
    /// Signature over [`crate::approval::device_request_message`] ([`STATUS_PURPOSE`]).
    pub signature: String,
}

/// The push token the server holds for a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushTokenStatus {
    /// `fcm`, `apns` or `webhook`.
    pub platform: String,
    /// SHA-256 of the token, hex (the token itself is not echoed).
    pub token_sha256: String,
    /// When it was registered, Unix seconds.
    pub registered_at: i64,
}

/// Reply to [`DeviceStatusRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceStatusResponse {
    /// The push token registered for the credential, if any.
    pub push_token: Option<PushTokenStatus>,
    /// Whether the user has login notifications turned on in the portal.
    pub pushes_enabled: bool,
    /// Until when the user's notifications are muted by a fraud report, Unix seconds.
    pub muted_until: Option<i64>,
    /// When the last login challenge for this credential was made, Unix seconds.
    pub last_challenge_at: Option<i64>,
    /// When a notification (login or test) was last handed to the push service for this
    /// credential, Unix seconds.
    pub last_push_sent_at: Option<i64>,
    /// The push service's error for the last notification, if it refused it.
    pub last_push_error: Option<String>,
    /// Signed [`crate::approval::TimeClaims`].
    pub time: String,
}

/// `POST /v1/devices/test-push`: send this credential a test notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestPushRequest {
    /// The credential asking.
    pub credential_id: String,
    /// Device time of the request, Unix seconds.
    pub issued_at: i64,
    /// Signature over [`crate::approval::device_request_message`] ([`TEST_PUSH_PURPOSE`]).
    pub signature: String,
}

/// Reply to [`TestPushRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestPushResponse {
    /// The test notification's id (also in its payload).
    pub id: String,
    /// When the server handed it to the push service, Unix milliseconds.
    pub sent_at_ms: i64,
}

/// The data of a test notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestPushPayload {
    /// Always [`PUSH_TEST_KIND`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The id [`TestPushResponse`] returned.
    pub id: String,
    /// When the server sent it, Unix milliseconds.
    pub sent_at_ms: i64,
}

/// `POST /v1/portal/push-approvals` (bearer portal token): turn the user's login
/// notifications on or off. Answered 204.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushApprovalsRequest {
    /// Whether logins notify the user's phones.
    pub enabled: bool,
}

/// Error codes of these endpoints (besides those in [`crate::activation::codes`]).
pub mod codes {
    /// The credential was replaced by a move; the error carries a signed
    /// [`super::MovedClaims`] in `moved`.
    pub const CREDENTIAL_MOVED: &str = "credential_moved";
    /// The user has no active device to move from: activate instead.
    pub const NOTHING_TO_MOVE: &str = "nothing_to_move";
    /// No code was sent for this (move or recovery), or it is not the one sent.
    pub const OOB_CODE_WRONG: &str = "oob_code_wrong";
    /// The code sent out of band expired.
    pub const OOB_CODE_EXPIRED: &str = "oob_code_expired";
    /// The code sent out of band was already used.
    pub const OOB_CODE_USED: &str = "oob_code_used";
    /// The key's credential cannot be recovered (revoked, moved or unknown).
    pub const NOT_RECOVERABLE: &str = "not_recoverable";
}
