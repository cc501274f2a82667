//! What every user-facing error has in common: a stable code support can search for, and a
//! human message (the `Display` text) saying what happened and what to do.
//!
//! Each area has its own error enum ([`crate::activation::ActivationError`],
//! [`crate::gate::GateError`], [`crate::accounts::AccountsError`],
//! [`crate::platform::StoreError`], …); all implement [`ErrorCode`]. Messages never carry
//! secrets: no PINs, keys, tokens or full session IDs. With the `uniffi` feature each enum is
//! a uniffi error whose message is its `Display` and whose `code()` is its stable code.

/// A stable, searchable code for an error, such as `ACT_CODE_USED`.
pub trait ErrorCode {
    /// The code; it never changes once released.
    fn code(&self) -> &'static str;
}

/// Exports an error enum's stable code to Kotlin and Swift as `code()` (uniffi feature
/// only); the human message is the enum's `Display`, exported with the enum itself.
macro_rules! export_error_code {
    ($error:ident) => {
        #[cfg(feature = "uniffi")]
        #[uniffi::export]
        impl $error {
            /// The stable code of this error, such as `ACT_CODE_USED`, for support and analytics.
            #[uniffi::method(name = "code")]
            pub fn stable_code(&self) -> String {
                $crate::error::ErrorCode::code(self).to_owned()
            }
        }
    };
}

pub(crate) use export_error_code;
