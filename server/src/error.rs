//! Errors: [`ServerError`] when the server cannot start, [`ApiError`] for a request the
//! server refuses (always sent as a `protocol::ErrorResponse`).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ibkey_protocol::activation::{codes, ErrorBody, ErrorResponse};
use ibkey_protocol::approval::codes as approval_codes;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another program already listens on the address.
    #[error("Cannot listen on {addr}: the port is already in use (is another ibkey server running?). Stop the other program, or choose another address with --listen, for example --listen 127.0.0.1:0 for any free port.")]
    AddressInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address cannot be listened on for another reason.
    #[error("Cannot listen on {addr}: {source}. Choose another address with --listen.")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The data directory cannot be created or written.
    #[error("The data directory {path} cannot be written: {source}. Choose a directory you can write to (--data-dir), or fix its permissions.")]
    DataDirNotWritable {
        /// The data directory.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The server key file exists but cannot be read.
    #[error("The server key file {path} cannot be read: {source}. Fix its permissions (it should be readable only by the server's user).")]
    KeyFileUnreadable {
        /// The key file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The server key file is not a P-256 PKCS#8 key.
    #[error("The server key file {path} is corrupt (not a P-256 PKCS#8 key). Restore it from a backup. If you delete it instead, a new key is made and every enrolled device must be activated again.")]
    KeyFileCorrupt {
        /// The key file.
        path: PathBuf,
    },
    /// The file of earlier server keys and their endorsements is not what the server wrote.
    #[error("The server key history {path} is corrupt. Restore it from a backup: without it, devices that pinned an earlier server key cannot follow to the current one and must be activated again.")]
    KeyHistoryCorrupt {
        /// The history file.
        path: PathBuf,
    },
    /// A per-installation secret file (portal password, support token) cannot be read or is
    /// empty.
    #[error("The secret file {path} cannot be used: {message}. Fix its permissions (it should be readable only by the server's user), or delete it to have a new secret made at the next start.")]
    SecretFile {
        /// The secret file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The database cannot be opened, is corrupt, or failed.
    #[error("The database {path} cannot be used: {message}. If the file is damaged, restore it from a backup or move it aside to start with an empty one (enrolled devices must then be activated again).")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The system's random number generator or key generation failed.
    #[error("The system random number generator failed; the server cannot make keys or codes.")]
    Random,
}

/// A refused request: HTTP status, one of the `protocol::codes`, a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the reply.
    pub status: StatusCode,
    /// One of `protocol::codes`.
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
    /// Seconds to wait, for `too_many_attempts`.
    pub retry_after: Option<u64>,
    /// For `credential_moved`: the signed `ibkey_protocol::lifecycle::MovedClaims`.
    pub moved: Option<String>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            moved: None,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }

    /// 400 `bad_signature`.
    pub fn bad_signature(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::BAD_SIGNATURE, message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
    }

    /// 404 `code_unknown`.
    pub fn code_unknown() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::CODE_UNKNOWN,
            "No activation code matches this session ID. Check it against the portal and type it again, or scan the QR code instead.",
        )
    }

    /// 410 `code_used`.
    pub fn code_used() -> Self {
        Self::new(
            StatusCode::GONE,
            codes::CODE_USED,
            "This QR code / session ID was already used to activate a device. Log out of the portal and log in again to get a new one.",
        )
    }

    /// 410 `code_expired`.
    pub fn code_expired() -> Self {
        Self::new(
            StatusCode::GONE,
            codes::CODE_EXPIRED,
            "This QR code / session ID has expired. Log out of the portal and log in again to get a new one, then activate within a few minutes.",
        )
    }

    /// This error, telling the client to wait `seconds` before trying again.
    pub fn retry_after(self, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..self
        }
    }

    /// 429 `too_many_attempts`.
    pub fn too_many_attempts(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_ATTEMPTS,
            format!("Too many wrong session IDs were tried. Wait {retry_after} seconds, then type the session ID again, or scan the QR code instead."),
        )
        .retry_after(retry_after)
    }

    /// 429 `too_many_attempts` for portal and login-page sign-in: too many wrong passwords
    /// from this address or for this user.
    pub fn too_many_sign_ins(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::TOO_MANY_ATTEMPTS,
            format!("Too many wrong passwords were tried from this address or for this user. Wait {retry_after} seconds, then sign in again."),
        )
        .retry_after(retry_after)
    }

    /// 400 `clock_skew`: a signed device request's `issued_at` is more than
    /// `max_skew_seconds` (a whole number of minutes) off the server's clock.
    pub fn clock_skew(max_skew_seconds: u64) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            approval_codes::CLOCK_SKEW,
            clock_skew_message(max_skew_seconds),
        )
    }

    /// 404 `credential_unknown`.
    pub fn credential_unknown() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::CREDENTIAL_UNKNOWN,
            "The server has no active credential with this id: it was already removed, or never existed. Activate the device again if you still need it.",
        )
    }

    /// 404 `login_unknown` (also for a wrong login secret, so the two cannot be told apart).
    pub fn login_unknown() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            approval_codes::LOGIN_UNKNOWN,
            "No login with this id, or the login secret does not match. Start the login again on the login page.",
        )
    }

    /// 404 `challenge_unknown`.
    pub fn challenge_unknown() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            approval_codes::CHALLENGE_UNKNOWN,
            "No login challenge with this id waits for this device: it was never sent to it, or it belongs to another user. Pull the pending logins again, or start the login again.",
        )
    }

    /// 500 `internal`; the cause is logged, not sent.
    pub fn internal(what: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "{what} failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "The server failed and changed nothing. Try again in a moment; if it keeps failing, contact support.",
        )
    }
}

/// What to tell a device whose clock is more than `max_skew_seconds` off the server's.
pub(crate) fn clock_skew_message(max_skew_seconds: u64) -> String {
    format!(
        "The device clock is off by more than {} minutes from the server's. Set the phone's date and time to automatic, then try again.",
        max_skew_seconds / 60
    )
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        Self::internal("database", &error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            error: ErrorBody {
                code: self.code.to_string(),
                message: self.message,
                retry_after: self.retry_after,
                moved: self.moved,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
