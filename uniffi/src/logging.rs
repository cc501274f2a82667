//! The platform logger (logcat, os_log) as the core's log sink.
//!
//! A shell implements [`LogSink`] and hands it to its `Diagnostics`
//! ([`crate::Diagnostics::set_log_sink`]); the core's diagnostics own the one process-wide
//! `tracing` subscriber, scrub every line of secrets, and pass each line at or above the
//! chosen level to the sink through [`SinkAdapter`].

use std::sync::Arc;

use ibkey_core::platform as core_platform;

use crate::errors::LogSinkError;

/// How much the core logs, from the fewest lines to the most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    /// Failures only.
    Error,
    /// Failures and surprises.
    Warn,
    /// What the user did and what came of it (the default for diagnostics).
    Info,
    /// Each server request and reply.
    Debug,
    /// Everything.
    Trace,
}

/// Receives the core's log lines, already scrubbed of secrets: logcat on Android, os_log on
/// iOS.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    /// Logs one line. `target` names the part of the core that logged it (a Rust module
    /// path such as `ibkey_core::gate`). An error drops the line.
    fn log(&self, level: LogLevel, target: String, message: String) -> Result<(), LogSinkError>;
}

/// The core's [`core_platform::LogSink`] over a shell's [`LogSink`].
pub(crate) struct SinkAdapter(pub(crate) Arc<dyn LogSink>);

impl core_platform::LogSink for SinkAdapter {
    fn log(&self, level: core_platform::LogLevel, target: String, message: String) {
        // A sink that fails loses the line; logging never fails the core's work.
        let _ = self.0.log(level.into(), target, message);
    }
}

impl From<core_platform::LogLevel> for LogLevel {
    fn from(level: core_platform::LogLevel) -> Self {
        use core_platform::LogLevel as C;
        match level {
            C::Error => LogLevel::Error,
            C::Warn => LogLevel::Warn,
            C::Info => LogLevel::Info,
            C::Debug => LogLevel::Debug,
            C::Trace => LogLevel::Trace,
        }
    }
}

impl From<LogLevel> for core_platform::LogLevel {
    fn from(level: LogLevel) -> Self {
        use core_platform::LogLevel as C;
        match level {
            LogLevel::Error => C::Error,
            LogLevel::Warn => C::Warn,
            LogLevel::Info => C::Info,
            LogLevel::Debug => C::Debug,
            LogLevel::Trace => C::Trace,
        }
    }
}
