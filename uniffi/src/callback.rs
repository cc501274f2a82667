//! The error a shell's callbacks return: [`CallbackError`].

/// Why a shell's callback failed (`LogSink`, `UploadProgress`, `Sleeper`). The core goes on:
/// a log line is dropped, a progress report ignored, a retry wait ends early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum CallbackError {
    /// The callback failed.
    #[error("a callback of the app failed: {reason}")]
    Failed {
        /// What the platform reported.
        reason: String,
    },
}

/// Any exception a callback throws becomes a [`CallbackError`], never a panic.
impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed { reason: e.reason }
    }
}
