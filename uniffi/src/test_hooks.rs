//! Hooks for the foreign test suites, compiled only with the `test-hooks` feature.

/// Panics with `message`, so a test can check that a Rust panic reaches Kotlin or Swift as a
/// catchable exception (it needs `panic = "unwind"`).
#[uniffi::export]
pub fn trigger_panic_for_tests(message: String) {
    panic!("{message}");
}
