//! The errors a shell sees, one enum per area as in the core: [`ActivationError`],
//! [`AccountsError`], [`GateError`], [`StoreError`], [`ScanError`], [`DiagnosticsError`], and
//! the errors the shell's own implementations return ([`KeyError`], [`TransportError`],
//! [`VerifierError`], [`LogSinkError`], [`UploadCallbackError`]).
//!
//! Each core variant has its own variant here, so Kotlin gets one exception class per variant
//! (`ActivationException.CodeUsed`, …) and Swift one enum case. The human message is the
//! core's own `Display` text: every enum here formats by converting back to the core's error,
//! so no message and no code is written twice. Errors the core nests (a PIN lockout during an
//! activation) stay nested: `ActivationError::Verification { error: GateError::LockedOut }`;
//! `code()` and the message are the inner error's, as in the core.
//!
//! The errors a foreign implementation returns convert from
//! [`uniffi::UnexpectedUniFFICallbackError`], so an unexpected Kotlin/Swift exception becomes a
//! Rust error instead of a panic.

use std::fmt;

use ibkey_core::activation::{self as core_activation, SessionIdError};
use ibkey_core::diagnostics as core_diagnostics;
use ibkey_core::gate as core_gate;
use ibkey_core::platform as core_platform;
use ibkey_core::scan as core_scan;
use ibkey_core::ErrorCode;

use crate::types::FoundBy;

/// Implements `Display` (the core's message) and `std::error::Error` for an FFI error that
/// converts back into the core error `$core`.
macro_rules! display_as_core {
    ($ffi:ty => $core:ty) => {
        impl fmt::Display for $ffi {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&<$core>::from(self.clone()), f)
            }
        }

        impl std::error::Error for $ffi {}
    };
}

/// Why an activation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum ActivationError {
    /// The user is already enrolled on this device: nothing to do.
    AlreadyEnrolled {
        /// The user.
        username: String,
        /// Where the duplicate was found: on the device or by the server.
        found_by: FoundBy,
    },
    /// The code was already used to activate a device.
    CodeUsed,
    /// The code expired.
    CodeExpired,
    /// The server knows no code with this session ID.
    CodeUnknown,
    /// The typed session ID has too few or too many characters (caught on the device).
    SessionIdWrongLength {
        /// Characters found.
        found: u32,
        /// Characters expected.
        expected: u32,
    },
    /// The typed session ID holds a character that never appears in one (caught on the device).
    SessionIdInvalidCharacter {
        /// The group (1-based) holding the character.
        group: u32,
        /// The character as typed.
        character: String,
    },
    /// A group of the typed session ID fails its check character: a typo (caught on the
    /// device).
    SessionIdMistyped {
        /// The group (1-based) that looks wrong.
        group: u32,
    },
    /// Too many wrong session IDs were tried; the server asks to wait.
    TooManyAttempts {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The scanned QR code is not an activation code.
    NotAnActivationCode,
    /// The code names a server other than the one this app works with.
    WrongServer {
        /// The server this app works with.
        expected: String,
        /// The server the code names.
        found: String,
    },
    /// The code is not signed by the server's pinned key.
    ServerKeyMismatch,
    /// The server's address is plain HTTP to another machine.
    InsecureServer {
        /// The address.
        url: String,
    },
    /// No connection to the server.
    ServerUnreachable {
        /// What the network layer said.
        reason: String,
    },
    /// The server's reply made no sense; nothing was enrolled.
    ServerReply {
        /// What was wrong with it.
        detail: String,
    },
    /// The device key could not be made or used.
    DeviceKey {
        /// What the key vault reported.
        error: KeyError,
    },
    /// The user did not verify (PIN, biometrics, cancel, lockout).
    Verification {
        /// Why.
        error: GateError,
    },
    /// The store could not be read or written.
    Store {
        /// Why.
        error: StoreError,
    },
}

#[uniffi::export]
impl ActivationError {
    /// The stable code of this error, such as `ACT_CODE_USED`, for support and analytics.
    pub fn code(&self) -> String {
        core_activation::ActivationError::from(self.clone())
            .code()
            .to_string()
    }
}

display_as_core!(ActivationError => core_activation::ActivationError);

impl From<core_activation::ActivationError> for ActivationError {
    fn from(e: core_activation::ActivationError) -> Self {
        use core_activation::ActivationError as C;
        match e {
            C::AlreadyEnrolled { username, found_by } => ActivationError::AlreadyEnrolled {
                username,
                found_by: found_by.into(),
            },
            C::CodeUsed => ActivationError::CodeUsed,
            C::CodeExpired => ActivationError::CodeExpired,
            C::CodeUnknown => ActivationError::CodeUnknown,
            C::SessionIdMistyped(SessionIdError::WrongLength { found, expected }) => {
                ActivationError::SessionIdWrongLength { found, expected }
            }
            C::SessionIdMistyped(SessionIdError::InvalidCharacter { group, character }) => {
                ActivationError::SessionIdInvalidCharacter { group, character }
            }
            C::SessionIdMistyped(SessionIdError::Mistyped { group }) => {
                ActivationError::SessionIdMistyped { group }
            }
            C::TooManyAttempts { retry_after_secs } => {
                ActivationError::TooManyAttempts { retry_after_secs }
            }
            C::NotAnActivationCode => ActivationError::NotAnActivationCode,
            C::WrongServer { expected, found } => ActivationError::WrongServer { expected, found },
            C::ServerKeyMismatch => ActivationError::ServerKeyMismatch,
            C::InsecureServer { url } => ActivationError::InsecureServer { url },
            C::ServerUnreachable { reason } => ActivationError::ServerUnreachable { reason },
            C::ServerReply { detail } => ActivationError::ServerReply { detail },
            C::DeviceKey(e) => ActivationError::DeviceKey { error: e.into() },
            C::Verification(e) => ActivationError::Verification { error: e.into() },
            C::Store(e) => ActivationError::Store { error: e.into() },
        }
    }
}

impl From<ActivationError> for core_activation::ActivationError {
    fn from(e: ActivationError) -> Self {
        use core_activation::ActivationError as C;
        match e {
            ActivationError::AlreadyEnrolled { username, found_by } => C::AlreadyEnrolled {
                username,
                found_by: found_by.into(),
            },
            ActivationError::CodeUsed => C::CodeUsed,
            ActivationError::CodeExpired => C::CodeExpired,
            ActivationError::CodeUnknown => C::CodeUnknown,
            ActivationError::SessionIdWrongLength { found, expected } => {
                C::SessionIdMistyped(SessionIdError::WrongLength { found, expected })
            }
            ActivationError::SessionIdInvalidCharacter { group, character } => {
                C::SessionIdMistyped(SessionIdError::InvalidCharacter { group, character })
            }
            ActivationError::SessionIdMistyped { group } => {
                C::SessionIdMistyped(SessionIdError::Mistyped { group })
            }
            ActivationError::TooManyAttempts { retry_after_secs } => {
                C::TooManyAttempts { retry_after_secs }
            }
            ActivationError::NotAnActivationCode => C::NotAnActivationCode,
            ActivationError::WrongServer { expected, found } => C::WrongServer { expected, found },
            ActivationError::ServerKeyMismatch => C::ServerKeyMismatch,
            ActivationError::InsecureServer { url } => C::InsecureServer { url },
            ActivationError::ServerUnreachable { reason } => C::ServerUnreachable { reason },
            ActivationError::ServerReply { detail } => C::ServerReply { detail },
            ActivationError::DeviceKey { error } => C::DeviceKey(error.into()),
            ActivationError::Verification { error } => C::Verification(error.into()),
            ActivationError::Store { error } => C::Store(error.into()),
        }
    }
}

/// Why an account operation failed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum AccountsError {
    /// No enrolled user has this name.
    NotFound {
        /// The name asked for.
        username: String,
    },
    /// The server could not be reached; nothing was removed.
    ServerUnreachable {
        /// What the network layer said.
        reason: String,
    },
    /// The server refused or answered something unexpected; nothing was removed.
    ServerReply {
        /// What was wrong with the reply.
        detail: String,
    },
    /// The user's device key could not be used.
    DeviceKey {
        /// What the key vault reported.
        error: KeyError,
    },
    /// The user did not verify.
    Verification {
        /// Why.
        error: GateError,
    },
    /// The store could not be read or written.
    Store {
        /// Why.
        error: StoreError,
    },
}

#[uniffi::export]
impl AccountsError {
    /// The stable code of this error, such as `ACC_NOT_FOUND`.
    pub fn code(&self) -> String {
        ibkey_core::AccountsError::from(self.clone())
            .code()
            .to_string()
    }
}

display_as_core!(AccountsError => ibkey_core::AccountsError);

impl From<ibkey_core::AccountsError> for AccountsError {
    fn from(e: ibkey_core::AccountsError) -> Self {
        use ibkey_core::AccountsError as C;
        match e {
            C::NotFound { username } => AccountsError::NotFound { username },
            C::ServerUnreachable { reason } => AccountsError::ServerUnreachable { reason },
            C::ServerReply { detail } => AccountsError::ServerReply { detail },
            C::DeviceKey(e) => AccountsError::DeviceKey { error: e.into() },
            C::Verification(e) => AccountsError::Verification { error: e.into() },
            C::Store(e) => AccountsError::Store { error: e.into() },
        }
    }
}

impl From<AccountsError> for ibkey_core::AccountsError {
    fn from(e: AccountsError) -> Self {
        use ibkey_core::AccountsError as C;
        match e {
            AccountsError::NotFound { username } => C::NotFound { username },
            AccountsError::ServerUnreachable { reason } => C::ServerUnreachable { reason },
            AccountsError::ServerReply { detail } => C::ServerReply { detail },
            AccountsError::DeviceKey { error } => C::DeviceKey(error.into()),
            AccountsError::Verification { error } => C::Verification(error.into()),
            AccountsError::Store { error } => C::Store(error.into()),
        }
    }
}

/// Why the user could not be verified (PIN or biometrics).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum GateError {
    /// The new PIN breaks a rule; `reason` says which, in words a user understands.
    PinTooWeak {
        /// Which rule the PIN breaks.
        reason: String,
    },
    /// The PIN did not match.
    WrongPin {
        /// How many more wrong PINs can be entered before the PIN pad is locked for a while.
        tries_before_delay: u32,
    },
    /// Too many wrong PINs: no PIN is accepted until the delay is over.
    LockedOut {
        /// When the delay ends, wall time in milliseconds since the Unix epoch (for display).
        until_unix_ms: i64,
        /// Seconds left, rounded up.
        remaining_secs: u64,
    },
    /// A PIN was checked but none has been chosen on this device yet.
    PinNotSet,
    /// The user backed out of the PIN pad or the biometric prompt.
    Cancelled,
    /// The fingerprint or face was not recognised.
    BiometricNotRecognised,
    /// The phone has no biometrics or passcode set up (or no hardware for them).
    BiometricUnavailable,
    /// The platform locked biometrics after too many failures.
    BiometricLockedOut,
    /// The phone's biometrics changed, which invalidated the device keys.
    KeysInvalidated,
    /// The PIN record could not be read or saved.
    Store {
        /// Why.
        error: StoreError,
    },
}

#[uniffi::export]
impl GateError {
    /// The stable code of this error, such as `GATE_LOCKED_OUT`.
    pub fn code(&self) -> String {
        core_gate::GateError::from(self.clone()).code().to_string()
    }
}

display_as_core!(GateError => core_gate::GateError);

impl From<core_gate::GateError> for GateError {
    fn from(e: core_gate::GateError) -> Self {
        use core_gate::GateError as C;
        match e {
            C::PinTooWeak { reason } => GateError::PinTooWeak { reason },
            C::WrongPin { tries_before_delay } => GateError::WrongPin { tries_before_delay },
            C::LockedOut {
                until_unix_ms,
                remaining_secs,
            } => GateError::LockedOut {
                until_unix_ms,
                remaining_secs,
            },
            C::PinNotSet => GateError::PinNotSet,
            C::Cancelled => GateError::Cancelled,
            C::BiometricNotRecognised => GateError::BiometricNotRecognised,
            C::BiometricUnavailable => GateError::BiometricUnavailable,
            C::BiometricLockedOut => GateError::BiometricLockedOut,
            C::KeysInvalidated => GateError::KeysInvalidated,
            C::Store(e) => GateError::Store { error: e.into() },
        }
    }
}

impl From<GateError> for core_gate::GateError {
    fn from(e: GateError) -> Self {
        use core_gate::GateError as C;
        match e {
            GateError::PinTooWeak { reason } => C::PinTooWeak { reason },
            GateError::WrongPin { tries_before_delay } => C::WrongPin { tries_before_delay },
            GateError::LockedOut {
                until_unix_ms,
                remaining_secs,
            } => C::LockedOut {
                until_unix_ms,
                remaining_secs,
            },
            GateError::PinNotSet => C::PinNotSet,
            GateError::Cancelled => C::Cancelled,
            GateError::BiometricNotRecognised => C::BiometricNotRecognised,
            GateError::BiometricUnavailable => C::BiometricUnavailable,
            GateError::BiometricLockedOut => C::BiometricLockedOut,
            GateError::KeysInvalidated => C::KeysInvalidated,
            GateError::Store { error } => C::Store(error.into()),
        }
    }
}

/// Why the secure store could not do what was asked. Returned by the core, and by a shell's
/// `SecureStore` implementation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum StoreError {
    /// The stored data could not be read (permissions, disk, platform store unavailable).
    Unreadable {
        /// What the platform reported.
        reason: String,
    },
    /// The stored data is damaged or was not written by this app: it is kept untouched.
    Corrupt {
        /// Which entry.
        key: String,
    },
    /// Writing failed; the previous state is intact.
    WriteFailed {
        /// What the platform reported.
        reason: String,
    },
}

#[uniffi::export]
impl StoreError {
    /// The stable code of this error, such as `STORE_CORRUPT`.
    pub fn code(&self) -> String {
        core_platform::StoreError::from(self.clone())
            .code()
            .to_string()
    }
}

display_as_core!(StoreError => core_platform::StoreError);

impl From<core_platform::StoreError> for StoreError {
    fn from(e: core_platform::StoreError) -> Self {
        use core_platform::StoreError as C;
        match e {
            C::Unreadable { reason } => StoreError::Unreadable { reason },
            C::Corrupt { key } => StoreError::Corrupt { key },
            C::WriteFailed { reason } => StoreError::WriteFailed { reason },
        }
    }
}

impl From<StoreError> for core_platform::StoreError {
    fn from(e: StoreError) -> Self {
        use core_platform::StoreError as C;
        match e {
            StoreError::Unreadable { reason } => C::Unreadable { reason },
            StoreError::Corrupt { key } => C::Corrupt { key },
            StoreError::WriteFailed { reason } => C::WriteFailed { reason },
        }
    }
}

/// An exception a `SecureStore` implementation did not declare (anything but a
/// `StoreException`) is reported as unreadable storage.
impl From<uniffi::UnexpectedUniFFICallbackError> for StoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        StoreError::Unreadable { reason: e.reason }
    }
}

/// Why a device key operation failed. Returned by a shell's `KeyVault` implementation (and
/// by the software key vault).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum KeyError {
    /// No key has this alias.
    NotFound,
    /// The key was invalidated by the platform (biometrics changed, passcode removed).
    Invalidated,
    /// Any other failure reported by the platform.
    Failed {
        /// What the platform reported.
        reason: String,
    },
}

display_as_core!(KeyError => core_platform::KeyError);

impl From<core_platform::KeyError> for KeyError {
    fn from(e: core_platform::KeyError) -> Self {
        use core_platform::KeyError as C;
        match e {
            C::NotFound => KeyError::NotFound,
            C::Invalidated => KeyError::Invalidated,
            C::Failed { reason } => KeyError::Failed { reason },
        }
    }
}

impl From<KeyError> for core_platform::KeyError {
    fn from(e: KeyError) -> Self {
        use core_platform::KeyError as C;
        match e {
            KeyError::NotFound => C::NotFound,
            KeyError::Invalidated => C::Invalidated,
            KeyError::Failed { reason } => C::Failed { reason },
        }
    }
}

/// An exception a `KeyVault` implementation did not declare is reported as a key store
/// failure.
impl From<uniffi::UnexpectedUniFFICallbackError> for KeyError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        KeyError::Failed { reason: e.reason }
    }
}

/// Why an HTTP request got no reply at all. Returned by a shell's `HttpTransport`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum TransportError {
    /// No connection could be made, or it broke (offline, DNS, refused, TLS, timeout).
    Unreachable {
        /// What the platform reported.
        reason: String,
    },
}

display_as_core!(TransportError => core_platform::TransportError);

impl From<core_platform::TransportError> for TransportError {
    fn from(e: core_platform::TransportError) -> Self {
        match e {
            core_platform::TransportError::Unreachable { reason } => {
                TransportError::Unreachable { reason }
            }
        }
    }
}

impl From<TransportError> for core_platform::TransportError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unreachable { reason } => {
                core_platform::TransportError::Unreachable { reason }
            }
        }
    }
}

/// An exception an `HttpTransport` implementation did not declare counts as no connection.
impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TransportError::Unreachable { reason: e.reason }
    }
}

/// Why no text came out of an image or camera frame.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum ScanError {
    /// The bytes are not a PNG or JPEG image.
    NotAnImage {
        /// What the image decoder said.
        reason: String,
    },
    /// The image holds no QR code that could be read.
    NoQrCode,
    /// The text is too long for a QR code.
    TooLong,
    /// A camera frame with a zero or impossibly large width or height.
    BadFrameSize {
        /// Width of the frame, in pixels.
        width: u32,
        /// Height of the frame, in pixels.
        height: u32,
    },
    /// A camera frame whose row stride is shorter than its width.
    BadStride {
        /// Width of the frame, in pixels.
        width: u32,
        /// Distance between the starts of two rows, in bytes.
        stride: u32,
    },
    /// A camera frame whose buffer is shorter than its size and stride say.
    BufferTooSmall {
        /// Bytes the size and stride need.
        needed: u64,
        /// Bytes in the buffer.
        actual: u64,
    },
}

#[uniffi::export]
impl ScanError {
    /// The stable code of this error, such as `SCAN_NO_QR_CODE`.
    pub fn code(&self) -> String {
        core_scan::ScanError::from(self.clone()).code().to_string()
    }
}

display_as_core!(ScanError => core_scan::ScanError);

impl From<core_scan::ScanError> for ScanError {
    fn from(e: core_scan::ScanError) -> Self {
        use core_scan::ScanError as C;
        match e {
            C::NotAnImage { reason } => ScanError::NotAnImage { reason },
            C::NoQrCode => ScanError::NoQrCode,
            C::TooLong => ScanError::TooLong,
            C::BadFrameSize { width, height } => ScanError::BadFrameSize { width, height },
            C::BadStride { width, stride } => ScanError::BadStride { width, stride },
            C::BufferTooSmall { needed, actual } => ScanError::BufferTooSmall { needed, actual },
        }
    }
}

impl From<ScanError> for core_scan::ScanError {
    fn from(e: ScanError) -> Self {
        use core_scan::ScanError as C;
        match e {
            ScanError::NotAnImage { reason } => C::NotAnImage { reason },
            ScanError::NoQrCode => C::NoQrCode,
            ScanError::TooLong => C::TooLong,
            ScanError::BadFrameSize { width, height } => C::BadFrameSize { width, height },
            ScanError::BadStride { width, stride } => C::BadStride { width, stride },
            ScanError::BufferTooSmall { needed, actual } => C::BufferTooSmall { needed, actual },
        }
    }
}

/// Why a diagnostics request could not be done. A server that cannot be reached is no error:
/// the bundle waits in the outbox (`SendOutcome.Queued`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
#[uniffi::export(Display)]
pub enum DiagnosticsError {
    /// A screenshot is bigger than the limit.
    ScreenshotTooLarge {
        /// The screenshot's name.
        name: String,
        /// Its size, bytes.
        size: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// A screenshot is not a PNG or JPEG file.
    ScreenshotNotAnImage {
        /// The file's name.
        name: String,
    },
    /// A screenshot looks like a PNG or JPEG but cannot be decoded: damaged or cut short.
    ScreenshotCorrupt {
        /// The screenshot's name.
        name: String,
        /// What the image decoder said.
        reason: String,
    },
    /// More screenshots than a bundle may hold.
    TooManyScreenshots {
        /// Screenshots attached.
        count: u32,
        /// The limit.
        limit: u32,
    },
    /// The comment is too long.
    CommentTooLong {
        /// Its length, characters.
        length: u32,
        /// The limit.
        limit: u32,
    },
    /// The username given for the bundle cannot be a username.
    UsernameInvalid,
    /// The bundle would be bigger than the limit.
    BundleTooLarge {
        /// The bundle's size, bytes.
        size: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// The server refused the bundle for good; it was removed from the outbox.
    ServerRefused {
        /// The bundle.
        bundle_id: String,
        /// The server's error code.
        code: String,
        /// The server's message (`message` would clash with the exception's own).
        server_message: String,
    },
    /// The server address is plain HTTP to another machine.
    InsecureServer {
        /// The address.
        url: String,
    },
    /// The diagnostics folder could not be read or written.
    Storage {
        /// What the file system said.
        reason: String,
    },
    /// The bundle could not be sent now nor kept to send later.
    NotSaved {
        /// Why it was not sent.
        send_reason: String,
        /// Why it was not saved.
        save_reason: String,
    },
    /// No bundle with this id waits in the outbox.
    UnknownBundle {
        /// The id asked for.
        bundle_id: String,
    },
    /// The process already has another global log subscriber.
    LoggerAlreadyInstalled,
}

#[uniffi::export]
impl DiagnosticsError {
    /// The stable code of this error, such as `DIAG_SCREENSHOT_TOO_LARGE`.
    pub fn code(&self) -> String {
        core_diagnostics::DiagnosticsError::from(self.clone())
            .code()
            .to_string()
    }
}

display_as_core!(DiagnosticsError => core_diagnostics::DiagnosticsError);

/// Converts between the core's diagnostics error and the FFI's, whose variants carry the
/// same names and fields but for the server's message (`$from_message` → `$to_message`).
macro_rules! convert_diagnostics_error {
    ($from:ident => $to:ident, $e:expr, $from_message:ident => $to_message:ident) => {{
        use $from as F;
        match $e {
            F::ScreenshotTooLarge { name, size, limit } => {
                $to::ScreenshotTooLarge { name, size, limit }
            }
            F::ScreenshotNotAnImage { name } => $to::ScreenshotNotAnImage { name },
            F::ScreenshotCorrupt { name, reason } => $to::ScreenshotCorrupt { name, reason },
            F::TooManyScreenshots { count, limit } => $to::TooManyScreenshots { count, limit },
            F::CommentTooLong { length, limit } => $to::CommentTooLong { length, limit },
            F::UsernameInvalid => $to::UsernameInvalid,
            F::BundleTooLarge { size, limit } => $to::BundleTooLarge { size, limit },
            F::ServerRefused {
                bundle_id,
                code,
                $from_message,
            } => $to::ServerRefused {
                bundle_id,
                code,
                $to_message: $from_message,
            },
            F::InsecureServer { url } => $to::InsecureServer { url },
            F::Storage { reason } => $to::Storage { reason },
            F::NotSaved {
                send_reason,
                save_reason,
            } => $to::NotSaved {
                send_reason,
                save_reason,
            },
            F::UnknownBundle { bundle_id } => $to::UnknownBundle { bundle_id },
            F::LoggerAlreadyInstalled => $to::LoggerAlreadyInstalled,
        }
    }};
}

impl From<core_diagnostics::DiagnosticsError> for DiagnosticsError {
    fn from(e: core_diagnostics::DiagnosticsError) -> Self {
        use core_diagnostics::DiagnosticsError as CoreDiagnosticsError;
        convert_diagnostics_error!(
            CoreDiagnosticsError => DiagnosticsError, e,
            message => server_message
        )
    }
}

impl From<DiagnosticsError> for core_diagnostics::DiagnosticsError {
    fn from(e: DiagnosticsError) -> Self {
        use core_diagnostics::DiagnosticsError as CoreDiagnosticsError;
        convert_diagnostics_error!(
            DiagnosticsError => CoreDiagnosticsError, e,
            server_message => message
        )
    }
}

/// Why a shell's `UserVerifier` could not show its prompt at all (the screen went away, the
/// platform refused). The core has no such outcome: it is treated as the user cancelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum VerifierError {
    /// The prompt could not be shown or completed.
    #[error("the verification prompt failed: {reason}")]
    Failed {
        /// What the platform reported.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for VerifierError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        VerifierError::Failed { reason: e.reason }
    }
}

/// Why a shell's `LogSink` could not take a log line; the line is dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum LogSinkError {
    /// The platform logger failed.
    #[error("the log sink failed: {reason}")]
    Failed {
        /// What the platform reported.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for LogSinkError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        LogSinkError::Failed { reason: e.reason }
    }
}

/// Why a shell's `UploadProgress` or `Sleeper` failed; the upload goes on (a failed wait
/// only makes the next try come sooner).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum UploadCallbackError {
    /// The shell's callback failed.
    #[error("an upload callback failed: {reason}")]
    Failed {
        /// What the platform reported.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for UploadCallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        UploadCallbackError::Failed { reason: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes_are_the_cores() {
        let core = core_activation::ActivationError::SessionIdMistyped(SessionIdError::Mistyped {
            group: 2,
        });
        let ffi = ActivationError::from(core.clone());
        assert_eq!(ffi, ActivationError::SessionIdMistyped { group: 2 });
        assert_eq!(ffi.to_string(), core.to_string());
        assert_eq!(ffi.code(), "ACT_SESSION_ID_MISTYPED");

        let locked =
            core_activation::ActivationError::Verification(core_gate::GateError::LockedOut {
                until_unix_ms: 1,
                remaining_secs: 30,
            });
        let ffi = ActivationError::from(locked.clone());
        assert_eq!(ffi.code(), "GATE_LOCKED_OUT");
        assert_eq!(ffi.to_string(), locked.to_string());
        assert_eq!(core_activation::ActivationError::from(ffi), locked);
    }

    #[test]
    fn diagnostics_errors_keep_the_cores_message_and_code() {
        let core = core_diagnostics::DiagnosticsError::ServerRefused {
            bundle_id: "01JDXZ".into(),
            code: "diag_malformed".into(),
            message: "no manifest".into(),
        };
        let ffi = DiagnosticsError::from(core.clone());
        assert_eq!(
            ffi,
            DiagnosticsError::ServerRefused {
                bundle_id: "01JDXZ".into(),
                code: "diag_malformed".into(),
                server_message: "no manifest".into(),
            }
        );
        assert_eq!(ffi.code(), "DIAG_SERVER_REFUSED");
        assert_eq!(ffi.to_string(), core.to_string());
        assert_eq!(core_diagnostics::DiagnosticsError::from(ffi), core);
    }

    #[test]
    fn foreign_exceptions_become_errors() {
        let unexpected = || uniffi::UnexpectedUniFFICallbackError::new("boom");
        assert_eq!(
            StoreError::from(unexpected()),
            StoreError::Unreadable {
                reason: "boom".into()
            }
        );
        assert_eq!(
            KeyError::from(unexpected()),
            KeyError::Failed {
                reason: "boom".into()
            }
        );
        assert!(matches!(
            TransportError::from(unexpected()),
            TransportError::Unreachable { .. }
        ));
    }
}
