//! Login approval: a login challenge reaches the device (a push, a pull when the app opens, or
//! the login page's QR code), the user checks who is logging in from where, matches the number
//! shown on the login page, and approves (with the PIN or biometrics) or denies; the device
//! signs the decision with the account's key and a counter that only goes up.
//!
//! Every challenge is a token signed by the server's pinned key; the device checks it each time
//! it is used (the app only passes the [`LoginChallenge`] back), along with its server, its
//! expiry (on the device clock corrected by the offset learned from the server's signed
//! replies), and the account it is for. The device remembers per account the challenges it
//! answered (a replay is recognised), the wrong number picks (three refuse the login), and the
//! counter, saved before each signature. The flows themselves are in `flow.rs`, behind
//! [`crate::Authenticator`]'s methods.

mod flow;
mod numbers;
mod push;
mod token;

use std::fmt;

pub use ibkey_protocol::approval::{Decision, LoginContext};

use ibkey_protocol::activation::{codes as activation_codes, TokenError};
use ibkey_protocol::approval::codes;
use ibkey_protocol::server_key::KeyChainError;

use crate::activation::ServerTokenError;
use crate::api::ApiError;
use crate::error::{export_error_code, ErrorCode};
use crate::gate::GateError;
use crate::lifecycle::MoveNotice;
use crate::platform::{KeyError, StoreError};

/// How many wrong number picks refuse a login.
pub const MAX_WRONG_PICKS: u8 = 3;

/// How a challenge reached the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ChallengeSource {
    /// A push notification.
    Push,
    /// Pulled from the server when the app opened.
    Pull,
    /// Scanned from the login page's QR code.
    QrCode,
}

/// A login waiting for this device's user.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct LoginChallenge {
    /// The challenge's id.
    pub challenge_id: String,
    /// The user logging in.
    pub username: String,
    /// The server the login is for.
    pub server_url: String,
    /// What the user is shown about the login: application, address, place, browser, time.
    pub context: LoginContext,
    /// When the challenge expires, Unix seconds (server clock).
    pub expires_at: i64,
    /// Seconds left when the challenge was read, on the device clock corrected by the offset
    /// learned from the server (0 when already past).
    pub seconds_left: i64,
    /// Three distinct numbers to pick from, one of them shown on the login page, in an order
    /// fixed for the challenge; empty for a QR code (scanning the page is the match).
    pub number_choices: Vec<u8>,
    /// How the challenge reached the device.
    pub source: ChallengeSource,
    /// The signed challenge, opaque: pass the record back unchanged to answer it.
    pub token: String,
}

/// Shows everything but the signed token.
impl fmt::Debug for LoginChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginChallenge")
            .field("challenge_id", &self.challenge_id)
            .field("username", &self.username)
            .field("server_url", &self.server_url)
            .field("context", &self.context)
            .field("expires_at", &self.expires_at)
            .field("seconds_left", &self.seconds_left)
            .field("number_choices", &self.number_choices)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What happened to a decision the server took.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ApprovalOutcome {
    /// The challenge answered.
    pub challenge_id: String,
    /// The user whose login it was.
    pub username: String,
    /// What was decided.
    pub decision: Decision,
    /// When the server took the decision, Unix seconds (server clock, from its receipt).
    pub decided_at: i64,
}

/// The result of checking a number the user picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum NumberCheck {
    /// It is the number on the login page (or the challenge has none to match).
    Match,
    /// It is not; the user may pick again.
    Wrong {
        /// Picks left before the login is refused.
        attempts_left: u32,
    },
}

/// Why a login challenge could not be read or answered. Each variant has its own code
/// ([`ErrorCode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum ApprovalError {
    /// The notification or QR code is not a login request.
    #[error("This is not a login request. Open the login request from its notification, or scan the QR code shown on the login page.")]
    NotALoginCode,
    /// The challenge names a server other than the one this app works with.
    #[error("This login request is for another service ({found}), not {expected}, so it cannot be answered here. Do not approve it unless you started that login in that service's app.")]
    WrongServer {
        /// The server this app works with.
        expected: String,
        /// The server the challenge names.
        found: String,
    },
    /// The challenge's signature does not verify with the pinned server key (forged or
    /// changed on the way).
    #[error("This login request is not signed by your server: do not approve it. If you did not start a login, someone may be trying to trick you; if this keeps happening, contact support.")]
    ForgedChallenge,
    /// The server presents a signing key that the key this device trusts did not endorse:
    /// nothing it sent was used.
    #[error("The server answered with a key your app does not trust, so nothing it sent was used: someone may be intercepting the connection. Do not approve logins over this network; try another one, and if this persists, contact support.")]
    ServerKeyMismatch,
    /// The app is configured with no server key (nor a usable one), none is pinned, and
    /// trust on first use is off: nothing the server sends can be checked.
    #[error("This app is not configured with its server's key, so it cannot check that login requests come from the real server, and nothing was done. Contact the app's publisher.")]
    ServerKeyNotConfigured,
    /// The challenge expired.
    #[error("This login request has expired. Ask for a new login on the page.")]
    ChallengeExpired,
    /// The challenge looks expired or not yet issued only because the phone's clock is far
    /// off, or the server refused this phone's request for its time (`clock_skew`).
    #[error("This phone's clock is {}, so login requests cannot be checked. Set the phone's date and time to automatic, then try again.", clock_skew(*offset_secs))]
    ClockWrong {
        /// How far the phone's clock is off from the server's, seconds (positive: ahead);
        /// 0 when the server refused the phone's time without saying by how much.
        offset_secs: i64,
    },
    /// The login is for a user not enrolled on this device.
    #[error("{username} is not enrolled on this device, so this login cannot be approved here. Approve it on the device where {username} is activated, or activate {username} on this device first.")]
    UnknownAccount {
        /// The user logging in.
        username: String,
    },
    /// No user is enrolled on this device (a test notification needs one to be sent to).
    #[error("No user is enrolled on this phone yet. Activate IB Key from the portal first.")]
    NoAccounts,
    /// The challenge was sent to another device of the user.
    #[error("This login request was sent to another device. Answer it on the device that got the notification, or scan the QR code on the login page.")]
    OtherDevice,
    /// This device already answered the challenge (a replay).
    #[error("You already answered this login request on this device. If the login page is still waiting, ask for a new login there.")]
    AlreadyAnswered,
    /// The challenge has a number to match and none was picked.
    #[error("Pick the number shown on the login page to approve this login.")]
    NumberRequired,
    /// The picked number is not the one on the login page.
    #[error("The number on your screen did not match: if you are not logging in, choose 'This wasn't me'. {}", attempts(*attempts_left))]
    WrongNumber {
        /// Picks left before the login is refused.
        attempts_left: u32,
    },
    /// The number was picked wrong three times: the login was refused (and the server told).
    #[error("The wrong number was picked three times, so this login was refused. If you are logging in, start again on the login page; if you are not, nothing more is needed.")]
    NumberMismatchRefused,
    /// The server says the challenge was already answered, maybe from another device.
    #[error("This login request was already answered, perhaps on another device. If the login page is still waiting, ask for a new login there.")]
    ChallengeUsed,
    /// The server saw a counter that did not go up: this device's keys may have been copied.
    #[error("This device's keys may have been copied to another device, so the login was refused and {username}'s key on this device is blocked. Remove IB Key for {username} from this device and activate again; if you did not restore this phone from a backup, contact support.")]
    PossiblyCloned {
        /// The account whose key is blocked.
        username: String,
    },
    /// The server mutes login notifications after a "this wasn't me" report.
    #[error("This login request came before a 'This wasn't me' report, so it cannot be approved. {server_message}")]
    PushesMuted {
        /// What the server said (not `message`: Kotlin exceptions have one already).
        server_message: String,
    },
    /// The server no longer knows this account's credential.
    #[error("{username} is no longer active on this device (it was removed in the portal or by support). Remove {username} from this app, then activate again if you still need it.")]
    Revoked {
        /// The account.
        username: String,
    },
    /// The user moved IB Key to another phone: this phone forgot the account.
    #[error("{}", .notice.message)]
    Moved {
        /// When and where it went.
        notice: MoveNotice,
    },
    /// No connection to the server.
    #[error("The server could not be reached ({reason}), so the login was not answered. Check the phone's connection and try again before the request expires.")]
    ServerUnreachable {
        /// What the network layer said.
        reason: String,
    },
    /// The server's reply made no sense, or its receipt did not check out.
    #[error("The server's reply could not be understood ({detail}). Check whether the login page went on; if not, try again, and if this persists, contact support.")]
    ServerReply {
        /// What was wrong with it.
        detail: String,
    },
    /// The account's device key could not be used.
    #[error("This account's key on the phone cannot be used ({error}). Remove the account from this device and activate it again.")]
    DeviceKey {
        /// What the key vault reported.
        error: KeyError,
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

/// "about 2 minutes ahead", "about 1 hour behind"; "wrong" when by how much is not known.
fn clock_skew(offset_secs: i64) -> String {
    if offset_secs == 0 {
        return "wrong".to_string();
    }
    let direction = if offset_secs >= 0 { "ahead" } else { "behind" };
    let secs = offset_secs.unsigned_abs();
    let (n, unit) = if secs >= 2 * 3600 {
        (secs / 3600, "hours")
    } else if secs >= 3600 {
        (1, "hour")
    } else if secs >= 120 {
        (secs / 60, "minutes")
    } else {
        (secs.max(2), "seconds")
    };
    format!("about {n} {unit} {direction}")
}

fn attempts(left: u32) -> String {
    match left {
        0 => "No tries left.".to_string(),
        1 => "1 try left.".to_string(),
        n => format!("{n} tries left."),
    }
}

impl ApprovalError {
    /// What a server-client error means for a decision or request of `username`'s account.
    pub(crate) fn from_api(error: ApiError, username: &str) -> ApprovalError {
        match error {
            ApiError::Unreachable { reason } => ApprovalError::ServerUnreachable { reason },
            ApiError::InsecureUrl { url } => ApprovalError::ServerReply {
                detail: format!("the server address {url} is not secure"),
            },
            ApiError::BadReply { detail } => ApprovalError::ServerReply { detail },
            ApiError::Refused { code, message, .. } => match code.as_str() {
                codes::CHALLENGE_USED => ApprovalError::ChallengeUsed,
                // An unknown challenge is one the server no longer keeps: long expired.
                codes::CHALLENGE_EXPIRED | codes::CHALLENGE_UNKNOWN => {
                    ApprovalError::ChallengeExpired
                }
                codes::POSSIBLY_CLONED => ApprovalError::PossiblyCloned {
                    username: username.to_string(),
                },
                codes::PUSHES_MUTED => ApprovalError::PushesMuted {
                    server_message: message,
                },
                activation_codes::CREDENTIAL_UNKNOWN => ApprovalError::Revoked {
                    username: username.to_string(),
                },
                // The server does not say by how much; the phone's clock is the cause.
                codes::CLOCK_SKEW => ApprovalError::ClockWrong { offset_secs: 0 },
                _ => ApprovalError::ServerReply {
                    detail: format!("{code}: {message}"),
                },
            },
        }
    }
}

impl ApprovalError {
    /// What a server token that could not be checked means for a login; `token` says what a
    /// token that does not verify or read means where it was met.
    pub(crate) fn from_server_token(
        error: ServerTokenError,
        token: impl FnOnce(TokenError) -> ApprovalError,
    ) -> ApprovalError {
        match error {
            ServerTokenError::NotConfigured => ApprovalError::ServerKeyNotConfigured,
            ServerTokenError::Untrusted(KeyChainError::NotEndorsed) => {
                ApprovalError::ServerKeyMismatch
            }
            ServerTokenError::Untrusted(e @ KeyChainError::Malformed) => {
                ApprovalError::ServerReply {
                    detail: e.to_string(),
                }
            }
            ServerTokenError::Token(e) => token(e),
            ServerTokenError::Api(e) => ApprovalError::from_api(e, ""),
            ServerTokenError::Store(error) => ApprovalError::Store { error },
        }
    }
}

export_error_code!(ApprovalError);

impl ErrorCode for ApprovalError {
    fn code(&self) -> &'static str {
        use ApprovalError::*;
        match self {
            NotALoginCode => "APR_NOT_A_LOGIN_CODE",
            WrongServer { .. } => "APR_WRONG_SERVER",
            ForgedChallenge => "APR_FORGED_CHALLENGE",
            ServerKeyMismatch => "APR_SERVER_KEY_MISMATCH",
            ServerKeyNotConfigured => "APR_SERVER_KEY_NOT_CONFIGURED",
            ChallengeExpired => "APR_CHALLENGE_EXPIRED",
            ClockWrong { .. } => "APR_CLOCK_WRONG",
            UnknownAccount { .. } => "APR_UNKNOWN_ACCOUNT",
            NoAccounts => "APR_NO_ACCOUNTS",
            OtherDevice => "APR_OTHER_DEVICE",
            AlreadyAnswered => "APR_ALREADY_ANSWERED",
            NumberRequired => "APR_NUMBER_REQUIRED",
            WrongNumber { .. } => "APR_WRONG_NUMBER",
            NumberMismatchRefused => "APR_NUMBER_MISMATCH_REFUSED",
            ChallengeUsed => "APR_CHALLENGE_USED",
            PossiblyCloned { .. } => "APR_POSSIBLY_CLONED",
            PushesMuted { .. } => "APR_PUSHES_MUTED",
            Revoked { .. } => "APR_REVOKED",
            Moved { .. } => "APR_ACCOUNT_MOVED",
            ServerUnreachable { .. } => "APR_SERVER_UNREACHABLE",
            ServerReply { .. } => "APR_SERVER_REPLY",
            DeviceKey { .. } => "APR_DEVICE_KEY",
            Verification { error } => error.code(),
            Store { error } => error.code(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests;
