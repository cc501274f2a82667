//! ibkey-ffi: the uniffi export of [`ibkey_core`] for the Android (Kotlin) and iOS (Swift)
//! shells.
//!
//! This crate holds no logic and declares none of the core's types: the core's records,
//! enums and errors carry their own uniffi derives (its `uniffi` feature; Kotlin package
//! `io.ibkey.core`, with the bundle manifest's types from `ibkey-protocol` in
//! `io.ibkey.protocol`). Here are only the exported objects wrapping the core's services,
//! and the foreign traits that differ from the core's, with their adapters:
//!
//! - [`Authenticator`]: the core's authenticator (activation, accounts, PIN lockout).
//! - [`Diagnostics`] and [`PreparedBundle`]: logs, support bundles previewed before the user
//!   agrees, and an upload outbox that never loses a bundle; the foreign traits
//!   [`diagnostics::UploadProgress`] and [`diagnostics::Sleeper`].
//! - [`Scanner`] and [`scan::decode_qr_image`]: activation QR codes from camera frames (the
//!   luma plane, passed without a copy) and pictures.
//! - The shell implements the core's `SecureStore`, `KeyVault`, `UserVerifier` and
//!   `HttpTransport` directly; test builds (feature `test-hooks`) add `software_key_vault`,
//!   the core's software P-256 keys, for the foreign test suites.
//! - [`logging`]: the platform logger as the core's log sink.
//! - [`callback::CallbackError`]: what the shell's own callbacks (`LogSink`, `UploadProgress`,
//!   `Sleeper`) may throw.
//!
//! Errors returned by the shell's callbacks convert from
//! [`uniffi::UnexpectedUniFFICallbackError`], so an unexpected Kotlin/Swift exception becomes
//! a Rust error instead of a panic. Async exports need no Rust runtime: the core's futures
//! only await the shell's own `UserVerifier`, `HttpTransport` and `Sleeper` calls, and the
//! foreign side polls them.

uniffi::setup_scaffolding!("ibkey");

mod authenticator;
pub mod callback;
pub mod diagnostics;
pub mod logging;
pub mod scan;
#[cfg(feature = "test-hooks")]
mod test_hooks;

pub use authenticator::Authenticator;
pub use diagnostics::{Diagnostics, PreparedBundle};
pub use scan::Scanner;
