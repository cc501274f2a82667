//! Platform services for the shells beyond the core's own traits.
//!
//! A shell implements the core's `SecureStore`, `KeyVault`, `UserVerifier` and
//! `HttpTransport` directly (exported by ibkey-core); the clock is the core's
//! `SystemClock` (the kernel's boot clock on Android and iOS), so shells need not supply one.
//! [`software_key_vault`] offers the core's software P-256 keys as a `KeyVault`, for hosts
//! without secure hardware and for tests.

use std::sync::Arc;

use ibkey_core::platform::{KeyVault, SecureStore, SoftwareKeyVault};

/// The core's software ECDSA P-256 key vault, keeping its keys in `store` (under
/// `key/<alias>`): for hosts without secure hardware, and for tests. On a phone, prefer the
/// platform's hardware-backed keys.
#[uniffi::export]
pub fn software_key_vault(store: Arc<dyn SecureStore>) -> Arc<dyn KeyVault> {
    Arc::new(SoftwareKeyVault::new(store))
}
