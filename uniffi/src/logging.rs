//! Forwards the core's `tracing` events to the platform logger (logcat, os_log) through a
//! shell's [`LogSink`].
//!
//! [`set_log_sink`] installs, once, a process-wide `tracing` subscriber that hands every
//! event at or above the chosen level to the current sink as level, target and one line of
//! text: the event's message followed by its fields as `name=value`. The core never logs
//! secrets (PINs, keys, tokens, full session IDs), so neither does this.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Once, PoisonError, RwLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

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

/// Receives the core's log lines: logcat on Android, os_log on iOS.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    /// Logs one line. `target` names the part of the core that logged it (a Rust module
    /// path such as `ibkey_core::gate`). An error drops the line.
    fn log(&self, level: LogLevel, target: String, message: String) -> Result<(), LogSinkError>;
}

/// Sends the core's log events at `level` and above to `sink` from now on, replacing any
/// earlier sink. The first call installs the forwarding subscriber for the whole process.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, level: LogLevel) {
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = Some(sink);
    MAX_LEVEL.store(rank(level), Ordering::Relaxed);
    INSTALL.call_once(|| {
        // Fails only when the process already has a global subscriber; then that one keeps
        // receiving the events.
        let _ = tracing::subscriber::set_global_default(Forwarder::default());
    });
}

/// The current sink.
static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
/// The [`rank`] of the most verbose level forwarded.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
/// Installs the subscriber once.
static INSTALL: Once = Once::new();

/// 1 for errors up to 5 for trace, so that "at or above a level" is `rank <= max`.
fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 1,
        LogLevel::Warn => 2,
        LogLevel::Info => 3,
        LogLevel::Debug => 4,
        LogLevel::Trace => 5,
    }
}

fn log_level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

/// The process-wide subscriber: spans are only numbered, events go to [`SINK`].
#[derive(Default)]
struct Forwarder {
    next_span: AtomicU64,
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The level can change at any time, so ask `enabled` every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        rank(log_level(metadata.level())) <= MAX_LEVEL.load(Ordering::Relaxed)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(
            self.next_span
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1),
        )
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let sink = SINK.read().unwrap_or_else(PoisonError::into_inner).clone();
        let Some(sink) = sink else { return };
        let metadata = event.metadata();
        let mut line = Line::default();
        event.record(&mut line);
        // A sink that fails loses the line; logging must never fail the core's work.
        let _ = sink.log(
            log_level(metadata.level()),
            metadata.target().to_string(),
            line.finish(),
        );
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// One event as text: the message, then ` name=value` for each other field.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Line {
    fn finish(self) -> String {
        if self.message.is_empty() {
            self.fields.trim_start().to_string()
        } else {
            self.message + &self.fields
        }
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<(LogLevel, String, String)>>);

    impl LogSink for Collect {
        fn log(
            &self,
            level: LogLevel,
            target: String,
            message: String,
        ) -> Result<(), LogSinkError> {
            self.0.lock().expect("lock").push((level, target, message));
            Ok(())
        }
    }

    #[test]
    fn events_at_or_above_the_level_reach_the_sink_as_one_line() {
        let sink = Arc::new(Collect::default());
        set_log_sink(sink.clone(), LogLevel::Info);
        tracing::info!(user = %"alice", attempts = 3, "activated");
        tracing::debug!("not forwarded at info");
        set_log_sink(sink.clone(), LogLevel::Debug);
        tracing::debug!("forwarded at debug");

        let lines = sink.0.lock().expect("lock").clone();
        let ours: Vec<_> = lines
            .iter()
            .filter(|(_, target, _)| target.starts_with("ibkey_ffi"))
            .collect();
        assert_eq!(ours.len(), 2, "{lines:?}");
        assert_eq!(ours[0].0, LogLevel::Info);
        assert_eq!(ours[0].2, "activated user=alice attempts=3");
        assert_eq!(ours[1].2, "forwarded at debug");
    }
}
