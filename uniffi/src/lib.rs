//! ibkey-ffi: the uniffi export of [`ibkey_core`] for the Android (Kotlin) and iOS (Swift)
//! shells.
//!
//! This crate holds no logic. It mirrors the core's public types as uniffi records, enums and
//! errors, converts between the two, and adapts the traits a shell implements in Kotlin or
//! Swift (`SecureStore`, `KeyVault`, `UserVerifier`, `HttpTransport`, `LogSink`,
//! `UploadProgress`, `Sleeper`) to the core's own platform traits, so the core never sees a
//! uniffi type.
//!
//! - [`Authenticator`]: the core's authenticator (activation, accounts, PIN lockout).
//! - [`platform`]: the foreign traits and the software key vault for hosts without secure
//!   hardware.
//! - [`errors`]: one error enum per area, each variant with the core's stable code
//!   (`code()`) and human message (`Display`, Kotlin `message`, Swift `description`).
//! - [`Diagnostics`]: logs (to the platform's [`logging::LogSink`], a ring, daily files),
//!   debug mode and the extended log with its network trace, support bundles previewed before
//!   the user agrees, and an upload outbox that never loses a bundle.
//! - [`logging`]: the platform logger as the core's log sink.
//! - [`scan`]: reading activation QR codes: [`Scanner`] for camera frames (the luma plane,
//!   passed without a copy) and pictures, [`scan::decode_qr_image`] for a single picture.
//!
//! Async exports need no Rust runtime: the core's futures only await the shell's own
//! `UserVerifier` and `HttpTransport` calls, and the foreign side polls them.

uniffi::setup_scaffolding!("ibkey");

mod authenticator;
pub mod diagnostics;
pub mod errors;
pub mod logging;
pub mod platform;
pub mod scan;
#[cfg(feature = "test-hooks")]
mod test_hooks;
mod types;

pub use authenticator::{Authenticator, AuthenticatorConfig};
pub use diagnostics::{Diagnostics, PreparedBundle};
pub use errors::{
    AccountsError, ActivationError, DiagnosticsError, GateError, KeyError, LogSinkError, ScanError,
    StoreError, TransportError, UploadCallbackError, VerifierError,
};
pub use scan::{FrameResult, Scanner};
pub use types::{Account, ActivationRequest, ActivationResult, FoundBy, PinLockout};
