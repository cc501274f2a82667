//! One authenticator's state and services — its configuration, the platform, the server
//! client, the account book and the PIN gate — on which the flows of every area run
//! (`activation/flow.rs`, `accounts/removal.rs`, `approval/flow.rs`), and the device's idea
//! of the server's time. [`crate::Authenticator`] wraps it.

use crate::accounts::AccountBook;
use crate::activation::ActivationError;
use crate::api::ServerApi;
use crate::gate::{Gate, PinPolicy};
use crate::platform::{Platform, StoreError, VerificationMethod};

/// A newly learned clock offset this close to the stored one is not written again.
const OFFSET_JITTER_SECS: i64 = 2;

/// How an app configures its authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AuthenticatorConfig {
    /// The server's base URL (`https://…`; plain `http://` only to loopback).
    pub server_url: String,
    /// The server's signing key as shipped with the app: the key (SEC1 uncompressed P-256,
    /// base64url), or its SHA-256 (64 hex digits; the key is then fetched and checked against
    /// it). The device follows the server's key rotations from it (each new key endorsed by
    /// the one before). When `None`, nothing the server signs can be checked, and every flow
    /// that needs the key fails with `ServerKeyNotConfigured`, unless `trust_on_first_use`.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub server_public_key: Option<String>,
    /// Development only, never in a released app: with no `server_public_key`, trust the key
    /// the server presents at first contact and pin it (whoever sits between the phone and
    /// the server at that moment would be trusted instead).
    #[cfg_attr(feature = "uniffi", uniffi(default = false))]
    pub trust_on_first_use: bool,
    /// A name for this device the user recognises in the portal.
    pub device_name: String,
    /// PIN (Android style) or platform biometrics (iOS style).
    pub verification: VerificationMethod,
    /// PIN rules and hashing cost (the defaults unless a test needs a quicker hash).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub pin_policy: PinPolicy,
}

/// This device as the flows see it.
pub(crate) struct Device {
    pub(crate) config: AuthenticatorConfig,
    pub(crate) platform: Platform,
    pub(crate) api: ServerApi,
    pub(crate) book: AccountBook,
    pub(crate) gate: Gate,
}

impl Device {
    /// Wires the services together. Fails only for an insecure server URL.
    pub(crate) fn new(
        config: AuthenticatorConfig,
        platform: Platform,
    ) -> Result<Self, ActivationError> {
        let api = ServerApi::new(&config.server_url, platform.http.clone())
            .map_err(|e| ActivationError::from_api(e, ""))?;
        let gate = Gate::new(
            platform.store.clone(),
            platform.clock.clone(),
            platform.verifier.clone(),
            config.verification,
            config.pin_policy.clone(),
        );
        Ok(Self {
            book: AccountBook::new(platform.store.clone()),
            config,
            platform,
            api,
            gate,
        })
    }

    /// Wall-clock time, Unix seconds.
    pub(crate) fn now_secs(&self) -> i64 {
        self.platform.clock.now_unix_ms().div_euclid(1000)
    }

    /// The server's time as this device best knows it: its own clock corrected by the offset
    /// learned from the server's signed replies, Unix seconds.
    pub(crate) fn server_now_secs(&self) -> Result<i64, StoreError> {
        let offset = self.book.device()?.clock_offset_secs.unwrap_or(0);
        Ok(self.now_secs().saturating_add(offset))
    }

    /// Learns the clock offset from a signed reading of the server's clock (`server_secs`,
    /// taken just now), saving it when it changed.
    pub(crate) fn learn_server_time(&self, server_secs: i64) -> Result<(), StoreError> {
        let offset = server_secs.saturating_sub(self.now_secs());
        let known = self.book.device()?.clock_offset_secs;
        if known.is_some_and(|old| old.abs_diff(offset) <= OFFSET_JITTER_SECS.unsigned_abs()) {
            return Ok(());
        }
        tracing::info!(offset_secs = offset, "learned the server's clock");
        self.book
            .update_device(|d| d.clock_offset_secs = Some(offset))
    }
}
