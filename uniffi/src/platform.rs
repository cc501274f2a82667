//! The services a shell implements in Kotlin or Swift, and their adapters to the core's
//! platform traits.
//!
//! Each foreign trait here has the shape of the core's trait of the same name, in uniffi
//! types; a private adapter struct implements the core's trait over it, so the core never
//! sees a uniffi type. The clock is the core's own [`ibkey_core::platform::SystemClock`]
//! (the kernel's boot clock on Android and iOS), so shells need not supply one.
//!
//! [`software_key_vault`] offers the core's software P-256 keys as a [`KeyVault`], for hosts
//! without secure hardware and for tests.

use std::sync::Arc;

use async_trait::async_trait;
use ibkey_core::platform as core_platform;

use crate::errors::{KeyError, StoreError, TransportError, VerifierError};

/// Small secret blobs kept by the platform: Keystore-wrapped files on Android, the Keychain
/// on iOS. Every write must be atomic: after a crash, a key holds either its old or its new
/// value.
#[uniffi::export(foreign)]
pub trait SecureStore: Send + Sync {
    /// The value under `key`, or `None` when there is none.
    fn load(&self, key: String) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key`, replacing any old value atomically.
    fn save(&self, key: String, value: Vec<u8>) -> Result<(), StoreError>;
    /// Removes `key`; removing a missing key is not an error.
    fn remove(&self, key: String) -> Result<(), StoreError>;
}

/// Device keys: ECDSA P-256 keys that never leave the platform (Keystore/StrongBox, Secure
/// Enclave), or the software vault from [`software_key_vault`].
#[uniffi::export(rust, foreign)]
pub trait KeyVault: Send + Sync {
    /// Creates a new key under `alias` (replacing none) and returns its public key, SEC1
    /// uncompressed (65 bytes).
    fn create_key(&self, alias: String) -> Result<Vec<u8>, KeyError>;
    /// Signs `message` with ECDSA P-256 / SHA-256; the signature is ASN.1 DER.
    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, KeyError>;
    /// Deletes the key; deleting a missing key is not an error.
    fn delete_key(&self, alias: String) -> Result<(), KeyError>;
}

/// Why the core asks for a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PinPurpose {
    /// First activation: the user chooses a PIN for this device.
    Create,
    /// The user confirms an action with the PIN set earlier.
    Confirm,
}

/// A request to the shell to collect a PIN.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PinRequest {
    /// Why the PIN is needed.
    pub purpose: PinPurpose,
    /// When asking again: why the previous entry was refused (show it above the PIN pad).
    pub retry_reason: Option<String>,
}

/// What the user did at the PIN prompt.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PinEntry {
    /// The user typed a PIN.
    Entered {
        /// The PIN as typed; the core wipes its copy after use.
        pin: String,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VerificationMethod {
    /// An app PIN, kept by the core (Android style).
    Pin,
    /// The platform's biometrics or device passcode (iOS style).
    Biometric,
}

/// Asks the user to prove presence: the PIN pad, or BiometricPrompt / LocalAuthentication.
///
/// Returning an error (or throwing any exception) means the prompt could not be shown; the
/// core then treats it as the user cancelling.
#[uniffi::export(foreign)]
#[async_trait]
pub trait UserVerifier: Send + Sync {
    /// Shows the PIN pad and returns what the user entered.
    async fn request_pin(&self, request: PinRequest) -> Result<PinEntry, VerifierError>;
    /// Runs the platform's biometric/passcode check, showing `reason` to the user.
    async fn verify_biometric(&self, reason: String) -> Result<BiometricOutcome, VerifierError>;
}

/// One HTTP header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    /// The header name (lower-case in replies).
    pub name: String,
    /// Its value.
    pub value: String,
}

/// An HTTP request the core wants sent.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<HttpHeader>,
    /// Body bytes (JSON), empty for GET.
    pub body: Vec<u8>,
}

/// The reply to an [`HttpRequest`], whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<HttpHeader>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Sends HTTP requests with the platform's own stack (OkHttp or HttpURLConnection, URLSession),
/// so the mobile library carries no HTTP or TLS code.
#[uniffi::export(foreign)]
#[async_trait]
pub trait HttpTransport: Send + Sync {
    /// Sends one request and returns the reply, whatever its status; fails only when there
    /// is no reply at all.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// The core's software ECDSA P-256 key vault, keeping its keys in `store` (under
/// `key/<alias>`): for hosts without secure hardware, and for tests. On a phone, prefer the
/// platform's hardware-backed keys.
#[uniffi::export]
pub fn software_key_vault(store: Arc<dyn SecureStore>) -> Arc<dyn KeyVault> {
    Arc::new(SoftwareKeys(core_platform::SoftwareKeyVault::new(
        Arc::new(StoreAdapter(store)),
    )))
}

/// [`KeyVault`] over the core's software vault.
struct SoftwareKeys(core_platform::SoftwareKeyVault);

impl KeyVault for SoftwareKeys {
    fn create_key(&self, alias: String) -> Result<Vec<u8>, KeyError> {
        core_platform::KeyVault::create_key(&self.0, alias).map_err(Into::into)
    }

    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, KeyError> {
        core_platform::KeyVault::sign(&self.0, alias, message).map_err(Into::into)
    }

    fn delete_key(&self, alias: String) -> Result<(), KeyError> {
        core_platform::KeyVault::delete_key(&self.0, alias).map_err(Into::into)
    }
}

/// The core's [`core_platform::SecureStore`] over a shell's [`SecureStore`].
pub(crate) struct StoreAdapter(pub(crate) Arc<dyn SecureStore>);

impl core_platform::SecureStore for StoreAdapter {
    fn load(&self, key: String) -> Result<Option<Vec<u8>>, core_platform::StoreError> {
        self.0.load(key).map_err(Into::into)
    }

    fn save(&self, key: String, value: Vec<u8>) -> Result<(), core_platform::StoreError> {
        self.0.save(key, value).map_err(Into::into)
    }

    fn remove(&self, key: String) -> Result<(), core_platform::StoreError> {
        self.0.remove(key).map_err(Into::into)
    }
}

/// The core's [`core_platform::KeyVault`] over a shell's [`KeyVault`].
pub(crate) struct KeyVaultAdapter(pub(crate) Arc<dyn KeyVault>);

impl core_platform::KeyVault for KeyVaultAdapter {
    fn create_key(&self, alias: String) -> Result<Vec<u8>, core_platform::KeyError> {
        self.0.create_key(alias).map_err(Into::into)
    }

    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, core_platform::KeyError> {
        self.0.sign(alias, message).map_err(Into::into)
    }

    fn delete_key(&self, alias: String) -> Result<(), core_platform::KeyError> {
        self.0.delete_key(alias).map_err(Into::into)
    }
}

/// The core's [`core_platform::UserVerifier`] over a shell's [`UserVerifier`].
pub(crate) struct VerifierAdapter(pub(crate) Arc<dyn UserVerifier>);

#[async_trait]
impl core_platform::UserVerifier for VerifierAdapter {
    async fn request_pin(&self, request: core_platform::PinRequest) -> core_platform::PinEntry {
        let request = PinRequest {
            purpose: request.purpose.into(),
            retry_reason: request.retry_reason,
        };
        match self.0.request_pin(request).await {
            Ok(PinEntry::Entered { pin }) => core_platform::PinEntry::Entered { pin },
            Ok(PinEntry::Cancelled) => core_platform::PinEntry::Cancelled,
            Err(e) => {
                tracing::warn!(error = %e, "the PIN prompt failed; taken as cancelled");
                core_platform::PinEntry::Cancelled
            }
        }
    }

    async fn verify_biometric(&self, reason: String) -> core_platform::BiometricOutcome {
        match self.0.verify_biometric(reason).await {
            Ok(outcome) => outcome.into(),
            Err(e) => {
                tracing::warn!(error = %e, "the biometric prompt failed; taken as cancelled");
                core_platform::BiometricOutcome::Cancelled
            }
        }
    }
}

/// The core's [`core_platform::HttpTransport`] over a shell's [`HttpTransport`].
pub(crate) struct HttpAdapter(pub(crate) Arc<dyn HttpTransport>);

#[async_trait]
impl core_platform::HttpTransport for HttpAdapter {
    async fn send(
        &self,
        request: core_platform::HttpRequest,
    ) -> Result<core_platform::HttpResponse, core_platform::TransportError> {
        let request = HttpRequest {
            method: request.method,
            url: request.url,
            headers: request
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            body: request.body,
        };
        let response = self.0.send(request).await?;
        Ok(core_platform::HttpResponse {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: response.body,
        })
    }
}

impl From<core_platform::PinPurpose> for PinPurpose {
    fn from(p: core_platform::PinPurpose) -> Self {
        match p {
            core_platform::PinPurpose::Create => PinPurpose::Create,
            core_platform::PinPurpose::Confirm => PinPurpose::Confirm,
        }
    }
}

impl From<BiometricOutcome> for core_platform::BiometricOutcome {
    fn from(o: BiometricOutcome) -> Self {
        use core_platform::BiometricOutcome as C;
        match o {
            BiometricOutcome::Verified => C::Verified,
            BiometricOutcome::Cancelled => C::Cancelled,
            BiometricOutcome::Failed => C::Failed,
            BiometricOutcome::Unavailable => C::Unavailable,
            BiometricOutcome::LockedOut => C::LockedOut,
            BiometricOutcome::KeysInvalidated => C::KeysInvalidated,
        }
    }
}

impl From<VerificationMethod> for core_platform::VerificationMethod {
    fn from(m: VerificationMethod) -> Self {
        match m {
            VerificationMethod::Pin => core_platform::VerificationMethod::Pin,
            VerificationMethod::Biometric => core_platform::VerificationMethod::Biometric,
        }
    }
}
