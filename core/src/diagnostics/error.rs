//! [`DiagnosticsError`]: what can go wrong while logging, building or sending a bundle.

use crate::error::{export_error_code, ErrorCode};

/// Why a diagnostics request could not be done. A server that cannot be reached is not an
/// error: the bundle waits in the outbox ([`super::SendOutcome::Queued`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum DiagnosticsError {
    /// A screenshot is bigger than the limit.
    #[error("The screenshot '{name}' is {size} bytes, more than the {limit} bytes allowed. Take a smaller screenshot (or crop it) and attach it again.")]
    ScreenshotTooLarge {
        /// The screenshot's name.
        name: String,
        /// Its size, bytes.
        size: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// A screenshot is not a PNG or JPEG file.
    #[error("The file '{name}' is not a PNG or JPEG screenshot. Attach a screenshot taken on the phone.")]
    ScreenshotNotAnImage {
        /// The file's name.
        name: String,
    },
    /// A screenshot looks like a PNG or JPEG but cannot be decoded: damaged or cut short.
    #[error("The screenshot '{name}' is damaged and cannot be opened ({reason}). Take the screenshot again and attach the new one.")]
    ScreenshotCorrupt {
        /// The screenshot's name.
        name: String,
        /// What the image decoder said.
        reason: String,
    },
    /// More screenshots than a bundle may hold.
    #[error("{count} screenshots were attached; a bundle holds at most {limit}. Remove some and try again.")]
    TooManyScreenshots {
        /// Screenshots attached.
        count: u32,
        /// The limit.
        limit: u32,
    },
    /// The comment is too long.
    #[error(
        "The comment has {length} characters; at most {limit} are sent. Shorten it and try again."
    )]
    CommentTooLong {
        /// Its length, characters.
        length: u32,
        /// The limit.
        limit: u32,
    },
    /// The username given for the bundle cannot be a username.
    #[error("The username must be 1 to 128 characters without line breaks or control characters. Correct it, or leave it out.")]
    UsernameInvalid,
    /// The bundle would be bigger than the limit.
    #[error("The diagnostics bundle would be {size} bytes, more than the {limit} bytes that can be sent. Include fewer days of logs or fewer screenshots.")]
    BundleTooLarge {
        /// The bundle's size, bytes.
        size: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// The server refused the bundle for good (too large for it, malformed, conflicting);
    /// it was removed from the outbox.
    #[error("The support server refused the diagnostics bundle {bundle_id} ({code}: {server_message}). It was removed from this phone; make a new one, and contact support if this happens again.")]
    ServerRefused {
        /// The bundle.
        bundle_id: String,
        /// The server's error code.
        code: String,
        /// The server's message (not `message`: Kotlin exceptions have one already).
        server_message: String,
    },
    /// The server address is plain HTTP to another machine.
    #[error("The support server address {url} is not secure (plain HTTP is only allowed to this device itself). Use an https:// address.")]
    InsecureServer {
        /// The address.
        url: String,
    },
    /// The diagnostics folder could not be read or written.
    #[error("The app could not use its diagnostics folder ({reason}). Free some storage space and try again.")]
    Storage {
        /// What the file system said.
        reason: String,
    },
    /// The bundle could not be saved for later and could not be sent now either.
    #[error("The diagnostics bundle could not be sent ({send_reason}) nor kept to send later ({save_reason}). Free some storage space, check the connection and try again.")]
    NotSaved {
        /// Why it was not sent.
        send_reason: String,
        /// Why it was not saved.
        save_reason: String,
    },
    /// No bundle with this id waits in the outbox: it went, or the id is not one the outbox
    /// makes (such ids, paths among them, are refused before any file is touched).
    #[error("No diagnostics bundle {bundle_id:?} waits to be sent: it was already sent or removed, or this is not an id from the outbox list. Take the id from the outbox list.")]
    UnknownBundle {
        /// The id asked for.
        bundle_id: String,
    },
    /// The process already has a global log subscriber, so this one cannot be installed.
    #[error("Logging is already set up in this app; diagnostics logging was not installed a second time.")]
    LoggerAlreadyInstalled,
}

export_error_code!(DiagnosticsError);

impl ErrorCode for DiagnosticsError {
    fn code(&self) -> &'static str {
        use DiagnosticsError::*;
        match self {
            ScreenshotTooLarge { .. } => "DIAG_SCREENSHOT_TOO_LARGE",
            ScreenshotNotAnImage { .. } => "DIAG_SCREENSHOT_NOT_AN_IMAGE",
            ScreenshotCorrupt { .. } => "DIAG_SCREENSHOT_CORRUPT",
            TooManyScreenshots { .. } => "DIAG_TOO_MANY_SCREENSHOTS",
            CommentTooLong { .. } => "DIAG_COMMENT_TOO_LONG",
            UsernameInvalid => "DIAG_USERNAME_INVALID",
            BundleTooLarge { .. } => "DIAG_BUNDLE_TOO_LARGE",
            ServerRefused { .. } => "DIAG_SERVER_REFUSED",
            InsecureServer { .. } => "DIAG_INSECURE_SERVER",
            Storage { .. } => "DIAG_STORAGE",
            NotSaved { .. } => "DIAG_NOT_SAVED",
            UnknownBundle { .. } => "DIAG_UNKNOWN_BUNDLE",
            LoggerAlreadyInstalled => "DIAG_LOGGER_ALREADY_INSTALLED",
        }
    }
}

impl DiagnosticsError {
    /// A storage error from an I/O error and what was being done.
    pub(crate) fn storage(what: &str, error: &std::io::Error) -> Self {
        DiagnosticsError::Storage {
            reason: format!("{what}: {error}"),
        }
    }
}
