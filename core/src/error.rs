//! What every user-facing error has in common: a stable code support can search for, and a
//! human message (the `Display` text) saying what happened and what to do.
//!
//! Each area has its own error enum ([`crate::activation::ActivationError`],
//! [`crate::gate::GateError`], [`crate::accounts::AccountsError`],
//! [`crate::platform::StoreError`]); all implement [`ErrorCode`]. Messages never carry
//! secrets: no PINs, keys, tokens or full session IDs.

/// A stable, searchable code for an error, such as `ACT_CODE_USED`.
pub trait ErrorCode {
    /// The code; it never changes once released.
    fn code(&self) -> &'static str;
}

impl ErrorCode for crate::platform::StoreError {
    fn code(&self) -> &'static str {
        use crate::platform::StoreError::*;
        match self {
            Unreadable { .. } => "STORE_UNREADABLE",
            Corrupt { .. } => "STORE_CORRUPT",
            WriteFailed { .. } => "STORE_WRITE_FAILED",
        }
    }
}
