//! The exported [`Authenticator`]: the core's authenticator over the shell's services.

use std::sync::Arc;
use std::time::Duration;

use ibkey_core::gate::PinPolicy;
use ibkey_core::platform as core_platform;

use crate::diagnostics::Diagnostics;
use crate::errors::{AccountsError, ActivationError, GateError};
use crate::platform::{
    HttpAdapter, HttpTransport, KeyVault, KeyVaultAdapter, SecureStore, StoreAdapter, UserVerifier,
    VerificationMethod, VerifierAdapter,
};
use crate::types::{Account, ActivationRequest, ActivationResult, PinLockout};

/// How an app configures its authenticator.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuthenticatorConfig {
    /// The server's base URL (`https://…`; plain `http://` only to loopback).
    pub server_url: String,
    /// A name for this device the user recognises in the portal.
    pub device_name: String,
    /// PIN (Android style) or platform biometrics (iOS style).
    pub verification: VerificationMethod,
    /// The server's signing key (SEC1 uncompressed P-256, base64url) as shipped with the app.
    /// When absent, the key is fetched and pinned at first contact.
    #[uniffi(default = None)]
    pub server_public_key: Option<String>,
    /// How long one PIN hash should take on this device, in milliseconds; the hash's
    /// iteration count is calibrated to it when the PIN is chosen (never below the core's
    /// minimum).
    #[uniffi(default = 150)]
    pub pin_hash_target_ms: u32,
}

/// The authenticator core for one app install: activation, the enrolled users, the PIN.
///
/// Make one per app, over the platform's services; it is safe to use from several threads.
#[derive(uniffi::Object)]
pub struct Authenticator {
    core: ibkey_core::Authenticator,
}

#[uniffi::export]
impl Authenticator {
    /// Builds the authenticator over the platform's services. With `diagnostics`, the
    /// extended log traces its HTTP exchanges. Fails only for an insecure server URL
    /// ([`ActivationError::InsecureServer`]); stored state is read when first needed.
    #[uniffi::constructor(default(diagnostics = None))]
    pub fn new(
        config: AuthenticatorConfig,
        store: Arc<dyn SecureStore>,
        keys: Arc<dyn KeyVault>,
        verifier: Arc<dyn UserVerifier>,
        http: Arc<dyn HttpTransport>,
        diagnostics: Option<Arc<Diagnostics>>,
    ) -> Result<Arc<Self>, ActivationError> {
        let http: Arc<dyn core_platform::HttpTransport> = Arc::new(HttpAdapter(http));
        let http = match diagnostics {
            Some(diagnostics) => diagnostics.core.recording_transport(http),
            None => http,
        };
        let platform = core_platform::Platform {
            store: Arc::new(StoreAdapter(store)),
            keys: Arc::new(KeyVaultAdapter(keys)),
            verifier: Arc::new(VerifierAdapter(verifier)),
            http,
            clock: Arc::new(core_platform::SystemClock),
        };
        let config = ibkey_core::AuthenticatorConfig {
            server_url: config.server_url,
            server_public_key: config.server_public_key,
            device_name: config.device_name,
            verification: config.verification.into(),
            pin_policy: PinPolicy {
                hash_target: Duration::from_millis(config.pin_hash_target_ms.into()),
                ..PinPolicy::default()
            },
        };
        let core = ibkey_core::Authenticator::new(config, platform)?;
        Ok(Arc::new(Authenticator { core }))
    }

    /// Activates from the text of a scanned QR code: checks it, asks the user to verify,
    /// makes and registers the device key, stores the account.
    pub async fn activate_from_qr(
        &self,
        payload: String,
    ) -> Result<ActivationResult, ActivationError> {
        Ok(self.core.activate_from_qr(&payload).await?.into())
    }

    /// Activates from a session ID typed by the user. Typos are caught before any network
    /// call.
    pub async fn activate_with_session_id(
        &self,
        session_id: String,
    ) -> Result<ActivationResult, ActivationError> {
        Ok(self
            .core
            .activate_with_session_id(&session_id)
            .await?
            .into())
    }

    /// Reads a scanned QR payload and checks it (form, server, signature, expiry, already
    /// enrolled) without activating, so the app can show whom it would enroll.
    pub async fn inspect_qr(&self, payload: String) -> Result<ActivationRequest, ActivationError> {
        Ok(self.core.inspect_qr(&payload).await?.into())
    }

    /// Checks a session ID as typed, on the device: length, characters and the check
    /// character of each group. Useful while the user types.
    pub fn check_session_id(&self, session_id: String) -> Result<(), ActivationError> {
        Ok(self.core.check_session_id(&session_id)?)
    }

    /// The users enrolled on this device, in enrollment order.
    pub fn accounts(&self) -> Result<Vec<Account>, AccountsError> {
        Ok(self
            .core
            .accounts()?
            .into_iter()
            .map(Account::from)
            .collect())
    }

    /// The account of `username`, if enrolled here.
    pub fn account(&self, username: String) -> Result<Option<Account>, AccountsError> {
        Ok(self.core.account(&username)?.map(Account::from))
    }

    /// Removes `username` from this device: revokes the credential on the server, then
    /// deletes the account and its key. When the server cannot be reached nothing changes.
    pub async fn remove_account(&self, username: String) -> Result<Account, AccountsError> {
        Ok(self.core.remove_account(&username).await?.into())
    }

    /// The running PIN lockout, if any: until when, and how long is left.
    pub fn pin_lockout(&self) -> Result<Option<PinLockout>, GateError> {
        Ok(self.core.pin_lockout()?.map(PinLockout::from))
    }

    /// Whether an app PIN has been set on this device.
    pub fn has_pin(&self) -> Result<bool, GateError> {
        Ok(self.core.has_pin()?)
    }
}
