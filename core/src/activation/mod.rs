//! Activation: turning a scanned QR payload or a typed session ID into an enrolled account.

pub mod session_id;

pub use session_id::{SessionId, SessionIdError};
