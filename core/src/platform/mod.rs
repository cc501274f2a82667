//! The services a shell supplies: secure storage, device keys, user verification, HTTP,
//! clock. Each is a trait a platform implements once (Android Keystore, iOS Keychain, …);
//! the desktop defaults used by the CLI and the tests live beside them.

mod clock;
mod file_store;
mod hooked_store;
mod memory_store;
#[cfg(feature = "desktop")]
mod reqwest_transport;
mod scripted_verifier;
mod software_keys;

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{export_error_code, ErrorCode};

pub use clock::SystemClock;
pub use file_store::FileStore;
pub use hooked_store::{HookedStore, StoreHook, StoreOp};
pub use memory_store::MemoryStore;
#[cfg(feature = "desktop")]
pub use reqwest_transport::ReqwestTransport;
pub use scripted_verifier::ScriptedVerifier;
pub use software_keys::SoftwareKeyVault;

/// Why the secure store could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum StoreError {
    /// The stored data could not be read (permissions, disk, platform store unavailable).
    #[error("The app's secure storage could not be read ({reason}). Restart the app; if this keeps happening, contact support with a diagnostics upload.")]
    Unreadable {
        /// What the platform reported.
        reason: String,
    },
    /// The stored data is damaged or was not written by this app: it is kept untouched.
    #[error("The app's stored data '{key}' is damaged and cannot be read. Nothing was deleted; contact support before reinstalling the app.")]
    Corrupt {
        /// Which entry.
        key: String,
    },
    /// Writing failed; the previous state is intact.
    #[error("The app could not save its data ({reason}); nothing was changed. Free some storage space and try again.")]
    WriteFailed {
        /// What the platform reported.
        reason: String,
    },
    /// A record that guards the accounts was deleted or replaced by an older copy (a
    /// restored backup, or someone trying to reset the PIN counter). The core refuses to use
    /// the store rather than trust it.
    #[error("The app's stored data '{key}' was deleted or replaced by an older copy, so the accounts on this phone are locked for safety. Remove IB Key's accounts from this phone (Reset in the app) and activate again.")]
    Tampered {
        /// Which entry.
        key: String,
    },
}

impl ErrorCode for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::Unreadable { .. } => "STORE_UNREADABLE",
            StoreError::Corrupt { .. } => "STORE_CORRUPT",
            StoreError::WriteFailed { .. } => "STORE_WRITE_FAILED",
            StoreError::Tampered { .. } => "STORE_TAMPERED",
        }
    }
}

export_error_code!(StoreError);

/// Small secret blobs kept by the platform: Keystore-wrapped files on Android, the Keychain
/// on iOS, an encrypted folder on the desktop ([`FileStore`]). Every write must be atomic:
/// after a crash, a key holds either its old or its new value.
///
/// Beside the values, a store keeps two things the core builds its tamper checks on:
///
/// - a **generation**: a number that only goes up, kept where the platform keeps its keys
///   (an Android Keystore alias, an iOS Keychain item, the desktop store's key folder), so
///   that whoever can only write the app's files cannot lower it or delete it. The core binds
///   it into the records that guard the accounts, which makes a deleted or older record
///   detectable.
/// - a **lock** held by one thread of one process at a time (on Android a `FileLock` beside
///   the files plus a process-wide lock, on iOS a `flock` in the container the app shares
///   with its extensions, on the desktop a `flock`), so two authenticators or two processes
///   on one store never lose each other's updates. The core always releases it on the thread
///   that took it, never takes it twice, and holds it only for a few store operations.
#[cfg_attr(feature = "uniffi", uniffi::export(foreign))]
pub trait SecureStore: Send + Sync {
    /// The value under `key`, or `None` when there is none.
    fn load(&self, key: String) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key`, replacing any old value atomically.
    fn save(&self, key: String, value: Vec<u8>) -> Result<(), StoreError>;
    /// Removes `key`; removing a missing key is not an error.
    fn remove(&self, key: String) -> Result<(), StoreError>;
    /// The store's generation: 0 until first raised.
    fn generation(&self) -> Result<u64, StoreError>;
    /// Raises the generation to `generation`. A value lower than the current one must be
    /// refused (with [`StoreError::WriteFailed`]) and change nothing.
    fn raise_generation(&self, generation: u64) -> Result<(), StoreError>;
    /// Takes the store's lock, waiting as long as another thread or process holds it.
    fn lock(&self) -> Result<(), StoreError>;
    /// Releases the lock taken by [`SecureStore::lock`] on this thread.
    fn unlock(&self) -> Result<(), StoreError>;
}

/// Why a device key operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum KeyError {
    /// No key has this alias.
    #[error("the device key is missing")]
    NotFound,
    /// The key was invalidated by the platform (biometrics changed, passcode removed).
    #[error("the device key was invalidated because the phone's biometrics or passcode changed")]
    Invalidated,
    /// Any other failure reported by the platform.
    #[error("the device key store failed: {reason}")]
    Failed {
        /// What the platform reported.
        reason: String,
    },
}

impl From<StoreError> for KeyError {
    fn from(e: StoreError) -> Self {
        KeyError::Failed {
            reason: e.to_string(),
        }
    }
}

/// Device keys: ECDSA P-256 keys that never leave the platform (Keystore/StrongBox,
/// Secure Enclave, or [`SoftwareKeyVault`] on the desktop).
#[cfg_attr(feature = "uniffi", uniffi::export(rust, foreign))]
pub trait KeyVault: Send + Sync {
    /// Creates a new key under `alias` (replacing none) and returns its public key, SEC1
    /// uncompressed (65 bytes).
    fn create_key(&self, alias: String) -> Result<Vec<u8>, KeyError>;
    /// Signs `message` with ECDSA P-256 / SHA-256; the signature is ASN.1 DER.
    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, KeyError>;
    /// Deletes the key; deleting a missing key is not an error.
    fn delete_key(&self, alias: String) -> Result<(), KeyError>;
    /// Every key this vault holds, with its public key: how the core finds the device keys
    /// that outlived the app's files (after a reinstall, the iOS Keychain keeps them) to
    /// recover their accounts.
    fn list_keys(&self) -> Result<Vec<StoredKey>, KeyError>;
}

/// A device key found in the [`KeyVault`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StoredKey {
    /// The alias it was created under.
    pub alias: String,
    /// Its public key, SEC1 uncompressed (65 bytes).
    pub public_key: Vec<u8>,
}

/// Why the core asks for a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PinPurpose {
    /// First activation: the user chooses a PIN for this device.
    Create,
    /// The user confirms an action with the PIN set earlier.
    Confirm,
}

/// A request to the shell to collect a PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PinRequest {
    /// Why the PIN is needed.
    pub purpose: PinPurpose,
    /// When asking again: why the previous entry was refused (shown above the PIN pad).
    pub retry_reason: Option<String>,
}

/// What the user did at the PIN prompt.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PinEntry {
    /// The user typed a PIN.
    Entered {
        /// The PIN as typed, ASCII digits. A byte array rather than a string so that it can
        /// be wiped: the core zeroes its copy after use, and the shell should fill its own
        /// key-pad buffer with zeros once the entry is handed over.
        pin: Vec<u8>,
    },
    /// The user backed out.
    Cancelled,
}

impl std::fmt::Debug for PinEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinEntry::Entered { .. } => f.write_str("Entered { pin: **** }"),
            PinEntry::Cancelled => f.write_str("Cancelled"),
        }
    }
}

/// The outcome of the platform's biometric or passcode check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum BiometricOutcome {
    /// The user was verified.
    Verified,
    /// The user dismissed the prompt.
    Cancelled,
    /// The biometric did not match (after the platform's own retries).
    Failed,
    /// No biometric or passcode is set up, or the hardware is missing.
    Unavailable,
    /// Too many failures: the platform locked biometrics until the passcode is entered.
    LockedOut,
    /// The biometric set changed since the keys were made; they are no longer usable.
    KeysInvalidated,
}

/// How the user confirms activations and approvals on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum VerificationMethod {
    /// An app PIN, kept by the core (Android style).
    Pin,
    /// The platform's biometrics or device passcode (iOS style).
    Biometric,
}

/// Why a shell's verifier could not show its prompt at all (the screen went away, the
/// platform refused). The core treats it as the user cancelling, and logs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum VerifierError {
    /// The prompt could not be shown or completed.
    #[error("the verification prompt failed: {reason}")]
    Failed {
        /// What the platform reported.
        reason: String,
    },
}

/// Asks the user to prove presence: the PIN pad, or BiometricPrompt / LocalAuthentication.
/// An error (on the phone: any exception thrown) means the prompt could not be shown; the
/// core then treats it as the user cancelling.
#[cfg_attr(feature = "uniffi", uniffi::export(foreign))]
#[async_trait]
pub trait UserVerifier: Send + Sync {
    /// Shows the PIN pad and returns what the user entered.
    async fn request_pin(&self, request: PinRequest) -> Result<PinEntry, VerifierError>;
    /// Runs the platform's biometric/passcode check, showing `reason` to the user.
    async fn verify_biometric(&self, reason: String) -> Result<BiometricOutcome, VerifierError>;
}

/// One HTTP header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct HttpHeader {
    /// The name (lower-case in replies).
    pub name: String,
    /// The value.
    pub value: String,
}

impl HttpHeader {
    /// A header of `name` and `value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The value of the first header named `name` (any case) in `headers`.
    pub fn find<'a>(headers: &'a [HttpHeader], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// An HTTP request the core wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct HttpRequest {
    /// `GET`, `POST` or `PUT`.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// The headers.
    pub headers: Vec<HttpHeader>,
    /// Body bytes (JSON), empty for GET.
    pub body: Vec<u8>,
}

/// The reply to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<HttpHeader>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Why a request got no HTTP reply at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum TransportError {
    /// No connection could be made, or it broke (offline, DNS, refused, TLS, timeout).
    #[error("no connection to the server: {reason}")]
    Unreachable {
        /// What the platform reported.
        reason: String,
    },
}

/// Sends HTTP requests with the platform's own stack (OkHttp, URLSession, reqwest on the
/// desktop), so the mobile library carries no HTTP or TLS code.
#[cfg_attr(feature = "uniffi", uniffi::export(foreign))]
#[async_trait]
pub trait HttpTransport: Send + Sync {
    /// Sends one request and returns the reply, whatever its status.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// An exception a shell's `SecureStore` did not declare (anything but a `StoreException`)
/// is reported as unreadable storage.
#[cfg(feature = "uniffi")]
impl From<uniffi::UnexpectedUniFFICallbackError> for StoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        StoreError::Unreadable { reason: e.reason }
    }
}

/// An exception a shell's `UserVerifier` throws is a prompt that failed.
#[cfg(feature = "uniffi")]
impl From<uniffi::UnexpectedUniFFICallbackError> for VerifierError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        VerifierError::Failed { reason: e.reason }
    }
}

/// An exception a shell's `KeyVault` did not declare is reported as a key store failure.
#[cfg(feature = "uniffi")]
impl From<uniffi::UnexpectedUniFFICallbackError> for KeyError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        KeyError::Failed { reason: e.reason }
    }
}

/// An exception a shell's `HttpTransport` did not declare counts as no connection.
#[cfg(feature = "uniffi")]
impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TransportError::Unreachable { reason: e.reason }
    }
}

/// Time as the core needs it: wall time for expiry and display, and a boot-monotonic
/// uptime that clock changes cannot move, for lockout delays.
pub trait Clock: Send + Sync {
    /// Wall-clock time, milliseconds since the Unix epoch.
    fn now_unix_ms(&self) -> i64;
    /// Milliseconds since the device booted, counting sleep (Android `elapsedRealtime`,
    /// iOS `CLOCK_MONOTONIC_RAW`/`systemUptime`, Linux `CLOCK_BOOTTIME`).
    fn uptime_ms(&self) -> u64;
}

/// The set of platform services an [`crate::Authenticator`] runs on.
#[derive(Clone)]
pub struct Platform {
    /// Where accounts, the PIN record and software keys are kept.
    pub store: Arc<dyn SecureStore>,
    /// Where device keys are made and used.
    pub keys: Arc<dyn KeyVault>,
    /// How the user is asked for a PIN or biometrics.
    pub verifier: Arc<dyn UserVerifier>,
    /// How HTTP requests are sent.
    pub http: Arc<dyn HttpTransport>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

/// How important a log line is, from the rarest to the most frequent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum LogLevel {
    /// Failures.
    Error,
    /// Surprises the core recovered from.
    Warn,
    /// What the user did and what came of it.
    Info,
    /// Each server request and reply, and other detail for support.
    Debug,
    /// Everything.
    Trace,
}

/// The platform's own log: logcat on Android, os_log on iOS, standard error on the desktop
/// ([`StderrLogSink`]). The core's `diagnostics` module hands it each log line at or above
/// the level the shell chose, already scrubbed of secrets; the shell only prints it.
pub trait LogSink: Send + Sync {
    /// Logs one line. `target` names the part of the core that logged it (a Rust module
    /// path such as `ibkey_core::gate`). Must not block for long and must not fail: a line
    /// the platform cannot take is dropped.
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// The desktop [`LogSink`]: one line on standard error, `LEVEL target: message`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StderrLogSink;

impl LogSink for StderrLogSink {
    fn log(&self, level: LogLevel, target: String, message: String) {
        let level = match level {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => " WARN",
            LogLevel::Info => " INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        };
        eprintln!("{level} {target}: {message}");
    }
}
