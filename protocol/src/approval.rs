//! Login approval on the wire: the signed login challenge a device receives (by push, by
//! pulling, or from a QR code on the login page), the decision it signs, the receipts, and the
//! login page's endpoints.
//!
//! A login (password accepted) gets one challenge per enrolled device of the user, each an
//! `IBK1.` token (see [`crate::activation`]) of type [`CHALLENGE_TYPE`], and, on request, one
//! more without a device for the login page's QR code. The device answers with a
//! [`DecideRequest`] signed by the account's device key over [`decision_message`]: everything
//! the user saw, and a per-credential counter that only goes up. The server answers a signed
//! [`DecisionReceiptClaims`].

use std::fmt;

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::activation::TokenClaims;
use crate::encoding::b64;

/// Token type of a login challenge.
pub const CHALLENGE_TYPE: &str = "login";
/// Token type of the receipt for a decision.
pub const DECISION_RECEIPT_TYPE: &str = "decision";
/// Token type of the server's signed clock reading.
pub const TIME_TYPE: &str = "time";
/// The `type` of a push message carrying a login challenge.
pub const PUSH_LOGIN_KIND: &str = "ibkey.login";
/// How long a login challenge is good for unless the server is configured otherwise.
pub const DEFAULT_CHALLENGE_SECONDS: i64 = 120;
/// How long a "this wasn't me" report mutes pushes for the user, by default.
pub const DEFAULT_FRAUD_MUTE_SECONDS: i64 = 20 * 60;
/// The numbers a login page shows for matching: two digits, never starting with 0.
pub const NUMBER_RANGE: std::ops::RangeInclusive<u8> = 10..=99;

/// What the user is shown about a login, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct LoginContext {
    /// The application being logged in to ("Client Portal").
    pub application: String,
    /// The IP address the login came from.
    pub ip_address: String,
    /// Where that address is, roughly ("Zurich, Switzerland"; "this computer" for loopback).
    pub location: String,
    /// The browser and system, from its user agent ("Chrome on Windows").
    pub browser: String,
    /// When the password was accepted, Unix seconds.
    pub login_time: i64,
}

impl LoginContext {
    /// The digest both ends compute over the context the user was shown: SHA-256, base64url,
    /// of the JSON array `[application, ip_address, location, browser, login_time]`.
    pub fn digest(&self) -> String {
        let canonical = serde_json::to_vec(&(
            &self.application,
            &self.ip_address,
            &self.location,
            &self.browser,
            self.login_time,
        ))
        .unwrap_or_default();
        b64(digest::digest(&digest::SHA256, &canonical).as_ref())
    }
}

/// What a login challenge says.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeClaims {
    /// Always [`CHALLENGE_TYPE`].
    pub typ: String,
    /// The server's base URL.
    pub srv: String,
    /// The server key's id.
    pub kid: String,
    /// The challenge's id.
    pub id: String,
    /// 128 random bits, base64url: what makes each decision's signature unique.
    pub non: String,
    /// The user logging in.
    pub usr: String,
    /// The credential (one device's account) the challenge was sent to; `None` for the login
    /// page's QR code, which any device of the user may answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// The number the login page shows, which the user must match; `None` for a QR code
    /// (scanning the page is the match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num: Option<u8>,
    /// The login's context.
    pub ctx: LoginContext,
    /// Issued at, Unix seconds (server clock).
    pub iat: i64,
    /// Expires at, Unix seconds (server clock).
    pub exp: i64,
}

impl TokenClaims for ChallengeClaims {
    const TYPE: &'static str = CHALLENGE_TYPE;
    fn token_type(&self) -> &str {
        &self.typ
    }
}

/// What the user decided about a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Decision {
    /// It was me: let the login through.
    Approve,
    /// Not now: refuse the login.
    Deny,
    /// This wasn't me: refuse the login, report it, mute pushes for a while.
    ReportFraud,
    /// The number was picked wrong three times: refuse the login.
    WrongNumber,
}

impl Decision {
    /// The decision's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
            Decision::ReportFraud => "report_fraud",
            Decision::WrongNumber => "wrong_number",
        }
    }
}

/// The message a device signs for a decision: the JSON array `["ibkey-decision/v1",
/// challenge id, nonce, server URL, user, decision, number or null, context digest, counter]`.
#[allow(clippy::too_many_arguments)]
pub fn decision_message(
    challenge_id: &str,
    nonce: &str,
    server_url: &str,
    username: &str,
    decision: Decision,
    number: Option<u8>,
    context_digest: &str,
    counter: u64,
) -> String {
    serde_json::to_string(&(
        "ibkey-decision/v1",
        challenge_id,
        nonce,
        server_url,
        username,
        decision.as_str(),
        number,
        context_digest,
        counter,
    ))
    .unwrap_or_default()
}

/// The message a device signs for a request about one of its credentials (pulling
/// challenges, registering a push token): the JSON array `[purpose, credential id, issued at,
/// detail]`.
pub fn device_request_message(
    purpose: &str,
    credential_id: &str,
    issued_at: i64,
    detail: &str,
) -> String {
    serde_json::to_string(&(purpose, credential_id, issued_at, detail)).unwrap_or_default()
}

/// [`device_request_message`] purpose of a [`PendingRequest`].
pub const PENDING_PURPOSE: &str = "ibkey-pending/v1";
/// [`device_request_message`] purpose of a [`PushTokenRequest`].
pub const PUSH_TOKEN_PURPOSE: &str = "ibkey-push-token/v1";

/// `POST /v1/challenges/decide`: the user's decision about a challenge.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecideRequest {
    /// The challenge answered.
    pub challenge_id: String,
    /// The credential answering (the account on this device).
    pub credential_id: String,
    /// What the user decided.
    pub decision: Decision,
    /// The number the user matched (`None` for a QR challenge or a refusal without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u8>,
    /// [`LoginContext::digest`] of the context the user was shown.
    pub context_digest: String,
    /// The credential's counter, one more than at its last decision at least.
    pub counter: u64,
    /// ASN.1 DER ECDSA signature over [`decision_message`] by the credential's key, base64url.
    pub signature: String,
}

/// Reply to [`DecideRequest`].
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecideResponse {
    /// Signed [`DecisionReceiptClaims`].
    pub receipt: String,
}

/// What a decision receipt says: the server took this decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionReceiptClaims {
    /// Always [`DECISION_RECEIPT_TYPE`].
    pub typ: String,
    /// The challenge decided.
    pub id: String,
    /// The credential that decided.
    pub cid: String,
    /// The decision taken.
    pub dec: Decision,
    /// The counter the server now holds for the credential.
    pub ctr: u64,
    /// Issued at, Unix seconds (server clock).
    pub iat: i64,
}

impl TokenClaims for DecisionReceiptClaims {
    const TYPE: &'static str = DECISION_RECEIPT_TYPE;
    fn token_type(&self) -> &str {
        &self.typ
    }
}

/// The server's clock, signed: how a device learns how far off its own clock is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeClaims {
    /// Always [`TIME_TYPE`].
    pub typ: String,
    /// The credential that asked (so a reading cannot be replayed to another device).
    pub cid: String,
    /// The request's `issued_at`, echoed (so an old reading cannot be replayed later).
    pub req: i64,
    /// The server's time, Unix seconds.
    pub now: i64,
}

impl TokenClaims for TimeClaims {
    const TYPE: &'static str = TIME_TYPE;
    fn token_type(&self) -> &str {
        &self.typ
    }
}

/// `POST /v1/challenges/pending`: the open challenges for one credential, pulled by the app
/// when it opens (so a lost notification never blocks a login).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingRequest {
    /// The credential asking.
    pub credential_id: String,
    /// Device time of the request, Unix seconds.
    pub issued_at: i64,
    /// Signature over [`device_request_message`] (`PENDING_PURPOSE`, detail empty), base64url.
    pub signature: String,
}

/// Reply to [`PendingRequest`].
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingResponse {
    /// Signed login challenges for the credential, oldest first.
    pub challenges: Vec<String>,
    /// Signed [`TimeClaims`].
    pub time: String,
}

/// `POST /v1/devices/push-token`: where to send this credential's login notifications.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushTokenRequest {
    /// The credential.
    pub credential_id: String,
    /// `fcm`, `apns` or `webhook`.
    pub platform: String,
    /// The platform's push token for this app install.
    pub token: String,
    /// Device time of the request, Unix seconds.
    pub issued_at: i64,
    /// Signature over [`device_request_message`] (`PUSH_TOKEN_PURPOSE`, detail
    /// `"<platform>:<token>"`), base64url.
    pub signature: String,
}

/// The data of a login notification (an FCM data message, an APNs payload's custom key).
#[derive(Clone, Serialize, Deserialize)]
pub struct PushPayload {
    /// Always [`PUSH_LOGIN_KIND`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The signed login challenge.
    pub challenge: String,
}

/// `POST /v1/logins`: the login page, after the user typed a password.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// The user.
    pub username: String,
    /// The portal password.
    pub password: String,
    /// The application being logged in to; "Client Portal" when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
}

/// Reply to [`LoginRequest`]: the login waits for a device.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginStarted {
    /// The login's id.
    pub login_id: String,
    /// Bearer secret for the login's status and QR code (only the login page holds it).
    pub login_secret: String,
    /// The number to show for matching.
    pub number: u8,
    /// When the login's challenges expire, Unix seconds.
    pub expires_at: i64,
    /// How many devices were sent a notification (0 while pushes are muted).
    pub devices_notified: u32,
    /// While pushes are muted after a "this wasn't me" report: until when, Unix seconds. The
    /// login can still go through by QR code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushes_muted_until: Option<i64>,
}

/// Reply to `POST /v1/logins/{id}/qr` (bearer login secret): the login page's QR code.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginQrResponse {
    /// The text the QR code holds: a signed login challenge without a device.
    pub qr_payload: String,
    /// When it expires, Unix seconds.
    pub expires_at: i64,
}

/// Where a login stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LoginState {
    /// Waiting for a device.
    Pending,
    /// A device approved: the login went through.
    Approved,
    /// A device denied it.
    Denied,
    /// A device denied it and reported it as fraud.
    ReportedFraud,
    /// The number was picked wrong three times on the device.
    WrongNumber,
    /// A device answered with a counter that did not go up: the device's keys may have been
    /// copied; the login is refused and the credential blocked.
    PossiblyCloned,
    /// No device answered in time.
    Expired,
}

/// Reply to `GET /v1/logins/{id}` (bearer login secret; `?wait=N` waits up to N seconds for
/// a change from `pending`).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginStatus {
    /// Where the login stands.
    pub state: LoginState,
    /// What to tell the user, in English.
    pub message: String,
    /// The device that decided, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// When it was decided, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    /// On approval: the portal session token the login gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_token: Option<String>,
}

/// Error codes of the approval endpoints (beside those in [`crate::activation::codes`]).
pub mod codes {
    /// No challenge has this id (or it belongs to another user or device).
    pub const CHALLENGE_UNKNOWN: &str = "challenge_unknown";
    /// The challenge expired before the decision arrived.
    pub const CHALLENGE_EXPIRED: &str = "challenge_expired";
    /// The challenge was already answered (a replayed decision).
    pub const CHALLENGE_USED: &str = "challenge_used";
    /// The credential's counter did not go up: refused, the credential blocked.
    pub const POSSIBLY_CLONED: &str = "possibly_cloned";
    /// Pushes for the user are muted after a fraud report.
    pub const PUSHES_MUTED: &str = "pushes_muted";
    /// The decision's context digest is not the challenge's.
    pub const CONTEXT_MISMATCH: &str = "context_mismatch";
    /// The approval's number is not the login page's.
    pub const NUMBER_MISMATCH: &str = "number_mismatch";
    /// No login has this id, or the secret is wrong.
    pub const LOGIN_UNKNOWN: &str = "login_unknown";
    /// The user has no device that can approve a login.
    pub const NO_DEVICES: &str = "no_devices";
    /// A signed device request (pull, push token) whose `issued_at` is too far from the
    /// server's clock: the phone's clock is wrong, not the request.
    pub const CLOCK_SKEW: &str = "clock_skew";
}

// The types that carry secrets (nonces, signatures, counters, login secrets, tokens) print
// only what is safe to log.

impl fmt::Debug for ChallengeClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallengeClaims")
            .field("id", &self.id)
            .field("usr", &self.usr)
            .field("cid", &self.cid)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DecideRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecideRequest")
            .field("challenge_id", &self.challenge_id)
            .field("credential_id", &self.credential_id)
            .field("decision", &self.decision)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DecideResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecideResponse").finish_non_exhaustive()
    }
}

impl fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRequest")
            .field("credential_id", &self.credential_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PendingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingResponse")
            .field("challenges", &self.challenges.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PushTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushTokenRequest")
            .field("credential_id", &self.credential_id)
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PushPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushPayload")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("application", &self.application)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LoginStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginStarted")
            .field("login_id", &self.login_id)
            .field("expires_at", &self.expires_at)
            .field("devices_notified", &self.devices_notified)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LoginQrResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginQrResponse")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LoginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginStatus")
            .field("state", &self.state)
            .field("device_name", &self.device_name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> LoginContext {
        LoginContext {
            application: "Client Portal".into(),
            ip_address: "127.0.0.1".into(),
            location: "this computer".into(),
            browser: "Chrome on Linux".into(),
            login_time: 1_790_000_000,
        }
    }

    #[test]
    fn the_context_digest_changes_with_every_field() {
        let base = context().digest();
        assert_eq!(base, context().digest());
        let changed = [
            LoginContext {
                application: "Trader Workstation".into(),
                ..context()
            },
            LoginContext {
                ip_address: "10.0.0.1".into(),
                ..context()
            },
            LoginContext {
                location: "elsewhere".into(),
                ..context()
            },
            LoginContext {
                browser: "Firefox on Windows".into(),
                ..context()
            },
            LoginContext {
                login_time: 1,
                ..context()
            },
        ];
        for other in changed {
            assert_ne!(other.digest(), base, "{other:?}");
        }
    }

    #[test]
    fn the_decision_message_binds_every_field_without_ambiguity() {
        let base = decision_message(
            "c",
            "n",
            "http://h:1",
            "u",
            Decision::Approve,
            Some(42),
            "d",
            7,
        );
        assert_eq!(
            base,
            r#"["ibkey-decision/v1","c","n","http://h:1","u","approve",42,"d",7]"#
        );
        let others = [
            decision_message(
                "c",
                "n",
                "http://h:1",
                "u",
                Decision::Deny,
                Some(42),
                "d",
                7,
            ),
            decision_message("c", "n", "http://h:1", "u", Decision::Approve, None, "d", 7),
            decision_message(
                "c",
                "n",
                "http://h:1",
                "u",
                Decision::Approve,
                Some(42),
                "d",
                8,
            ),
            decision_message(
                "c:n",
                "",
                "http://h:1",
                "u",
                Decision::Approve,
                Some(42),
                "d",
                7,
            ),
        ];
        for other in others {
            assert_ne!(other, base);
        }
    }

    #[test]
    fn debug_prints_hide_nonces_signatures_and_secrets() {
        let claims = ChallengeClaims {
            typ: CHALLENGE_TYPE.into(),
            srv: "http://127.0.0.1:1".into(),
            kid: "kid".into(),
            id: "challenge-1".into(),
            non: "NONCE".into(),
            usr: "alice".into(),
            cid: Some("cred".into()),
            num: Some(42),
            ctx: context(),
            iat: 1,
            exp: 2,
        };
        let decide = DecideRequest {
            challenge_id: "challenge-1".into(),
            credential_id: "cred".into(),
            decision: Decision::Approve,
            number: Some(42),
            context_digest: "DIGEST".into(),
            counter: 987_654,
            signature: "SIGNATURE".into(),
        };
        let started = LoginStarted {
            login_id: "login-1".into(),
            login_secret: "LOGINSECRET".into(),
            number: 42,
            expires_at: 2,
            devices_notified: 1,
            pushes_muted_until: None,
        };
        let status = LoginStatus {
            state: LoginState::Approved,
            message: String::new(),
            device_name: None,
            decided_at: None,
            portal_token: Some("PORTALTOKEN".into()),
        };
        let shown = format!("{claims:?} {decide:?} {started:?} {status:?}");
        for secret in ["NONCE", "SIGNATURE", "987654", "LOGINSECRET", "PORTALTOKEN"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("challenge-1") && shown.contains("alice"),
            "{shown}"
        );
    }
}
