//! Hooks for the foreign test suites, compiled only with the `test-hooks` feature.

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
