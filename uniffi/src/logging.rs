//! The platform logger (logcat, os_log) as the core's log sink.
//!
//! A shell implements [`LogSink`] and hands it to its `Diagnostics`
//! ([`crate::Diagnostics::set_log_sink`]); the core's diagnostics own the one process-wide
//! `tracing` subscriber, scrub every line of secrets, and pass each line at or above the
//! chosen level to the sink through `SinkAdapter`.

use std::sync::Arc;

use ibkey_core::platform::{self as core_platform, LogLevel};

use crate::callback::CallbackError;

/// Receives the core's log lines, already scrubbed of secrets: logcat on Android, os_log on
/// iOS.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    /// Logs one line. `target` names the part of the core that logged it (a Rust module
    /// path such as `ibkey_core::gate`). An error drops the line.
    fn log(&self, level: LogLevel, target: String, message: String) -> Result<(), CallbackError>;
}

/// The core's [`core_platform::LogSink`] over a shell's [`LogSink`].
pub(crate) struct SinkAdapter(pub(crate) Arc<dyn LogSink>);

impl core_platform::LogSink for SinkAdapter {
    fn log(&self, level: LogLevel, target: String, message: String) {
        // A sink that fails loses the line; logging never fails the core's work.
        let _ = self.0.log(level, target, message);
    }
}
