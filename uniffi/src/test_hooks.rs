//! Hooks for the foreign test suites, compiled only with the `test-hooks` feature.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use ibkey_core::platform::{Clock, KeyVault, SecureStore, SoftwareKeyVault, SystemClock};

/// The core's software ECDSA P-256 key vault, keeping its keys in `store` (under
/// `key/<alias>`): the stand-in for the Keystore or the Keychain in the foreign test suites.
#[uniffi::export]
pub fn software_key_vault(store: Arc<dyn SecureStore>) -> Arc<dyn KeyVault> {
    Arc::new(SoftwareKeyVault::new(store))
}

/// Panics with `message`, so a test can check that a Rust panic reaches Kotlin or Swift as a
/// catchable exception (it needs `panic = "unwind"`).
#[uniffi::export]
pub fn trigger_panic_for_tests(message: String) {
    panic!("{message}");
}

/// Renders `text` as a QR code PNG (`scale` pixels a module), so a test can show the scanner a
/// code that is not an activation code.
#[uniffi::export]
pub fn render_qr_png_for_tests(
    text: String,
    scale: u32,
) -> Result<Vec<u8>, ibkey_core::scan::ScanError> {
    ibkey_core::scan::render_png(&text, scale)
}

/// How far off, in seconds, the phone's clock is in the authenticators of this process (test
/// builds only: the shipped library always uses the system clock).
static PHONE_CLOCK_SKEW_SECS: AtomicI64 = AtomicI64::new(0);

/// Sets the phone's clock `seconds` ahead (negative: behind) for every authenticator of this
/// process, so a foreign test can show that a phone with a wrong clock still works.
#[uniffi::export]
pub fn set_phone_clock_skew_for_tests(seconds: i64) {
    PHONE_CLOCK_SKEW_SECS.store(seconds, Ordering::SeqCst);
}

/// The system clock moved by [`set_phone_clock_skew_for_tests`].
pub(crate) struct SkewedClock;

impl Clock for SkewedClock {
    fn now_unix_ms(&self) -> i64 {
        let skew_ms = PHONE_CLOCK_SKEW_SECS
            .load(Ordering::SeqCst)
            .saturating_mul(1000);
        SystemClock.now_unix_ms().saturating_add(skew_ms)
    }

    fn uptime_ms(&self) -> u64 {
        SystemClock.uptime_ms()
    }
}
