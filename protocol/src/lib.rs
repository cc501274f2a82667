//! ibkey-protocol: what an ibkey device and its server agree on, and nothing else — no I/O,
//! no device logic. A bank's backend team implementing the server side reads this crate.
//!
//! - [`approval`]: login challenges (push, pull, QR), the signed decision, receipts and the
//!   login page's endpoints.
//! - [`activation`]: the JSON bodies of the portal, activation and device endpoints, the
//!   signed tokens (`IBK1.<claims>.<signature>`, ECDSA P-256) and the error codes.
//! - [`server_key`]: which key signed a token, and the endorsements that carry a device's
//!   trust from one server key to the next (key rotation).
//! - [`session_id`]: the session ID printed under the activation QR (`K7QP-3MZX-9TWD`):
//!   generation, forgiving parsing, a check character per group.
//! - [`diagnostics`]: the support bundle's manifest and its check, the bundle id, and the
//!   chunked upload protocol ([`diagnostics::wire`]).
//! - [`offline`]: the per-account secret agreed at activation, challenge/response and
//!   time-based codes, and the login page's offline endpoints.
//! - [`lifecycle`]: moving to a new phone, recovery after a reinstall, and the notification
//!   doctor's questions to the server.
//! - [`encoding`]: base64url, hex and Crockford's base 32 as the wire uses them.
//! - [`time`]: UTC calendar dates and timestamps as both ends write them.
//!
//! With the `uniffi` feature (turned on by the mobile export only) the types an app shows
//! carry uniffi derives; otherwise uniffi is not a dependency.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("ibkey_protocol");

pub mod activation;
pub mod approval;
pub mod diagnostics;
pub mod encoding;
pub mod lifecycle;
pub mod offline;
pub mod otp;
pub mod server_key;
pub mod session_id;
pub mod time;

pub use session_id::{SessionId, SessionIdError};
