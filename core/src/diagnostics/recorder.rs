//! The log recorder: a `tracing` subscriber that scrubs every event, forwards it to the
//! platform's [`LogSink`], keeps it in a bounded in-memory ring, and appends it to one file
//! a day in the logs folder. Network exchanges of the extended log go to a second file a day.
//!
//! Files are `logs/ibkey-YYYY-MM-DD.log` (one line an event:
//! `2026-03-01T12:34:56.789Z  INFO ibkey_core::activation::flow: activated user=alice`) and
//! `logs/network-YYYY-MM-DD.jsonl` (one redacted HAR entry a line), dated in UTC by the
//! platform clock. Files older than the retention are deleted when the recorder opens and
//! when the day changes; a day's file stops growing at its size cap (a last line says so).

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use super::redact::scrub;
use super::util::{self, date_string, day_of, rfc3339_ms};
use super::LogMode;
use crate::platform::{Clock, LogLevel, LogSink};

/// Prefix and extension of the daily log files.
const LOG_PREFIX: &str = "ibkey-";
const LOG_EXT: &str = ".log";
/// Prefix and extension of the daily network trace files.
const NET_PREFIX: &str = "network-";
const NET_EXT: &str = ".jsonl";

thread_local! {
    /// Set while this thread handles an event, so a sink that logs cannot recurse.
    static IN_EVENT: Cell<bool> = const { Cell::new(false) };
}

/// 1 for errors up to 5 for trace; 0 is "nothing".
pub(crate) fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 1,
        LogLevel::Warn => 2,
        LogLevel::Info => 3,
        LogLevel::Debug => 4,
        LogLevel::Trace => 5,
    }
}

fn level_of(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Error => "ERROR",
        LogLevel::Warn => " WARN",
        LogLevel::Info => " INFO",
        LogLevel::Debug => "DEBUG",
        LogLevel::Trace => "TRACE",
    }
}

/// The most detailed level a mode records.
pub(crate) fn mode_rank(mode: LogMode) -> u8 {
    match mode {
        LogMode::Normal => rank(LogLevel::Info),
        LogMode::Debug => rank(LogLevel::Debug),
        LogMode::Extended => rank(LogLevel::Trace),
    }
}

pub(crate) fn mode_code(mode: LogMode) -> u8 {
    match mode {
        LogMode::Normal => 0,
        LogMode::Debug => 1,
        LogMode::Extended => 2,
    }
}

pub(crate) fn mode_from_code(code: u8) -> LogMode {
    match code {
        1 => LogMode::Debug,
        2 => LogMode::Extended,
        _ => LogMode::Normal,
    }
}

/// Limits of the recorder.
#[derive(Debug, Clone)]
pub(crate) struct RecorderLimits {
    /// Days of files kept, today included.
    pub retention_days: u32,
    /// Largest size of one day's log file (and of one day's network file), bytes.
    pub max_day_bytes: u64,
    /// Lines kept in memory.
    pub ring_lines: usize,
    /// Bytes kept in memory.
    pub ring_bytes: usize,
    /// Targets (crate names or module paths) whose events are recorded.
    pub targets: Vec<String>,
}

/// The state every handle of a `Diagnostics` shares.
pub(crate) struct Recorder {
    clock: Arc<dyn Clock>,
    logs_dir: PathBuf,
    limits: RecorderLimits,
    mode: AtomicU8,
    sink: RwLock<Option<Arc<dyn LogSink>>>,
    /// [`rank`] of the most detailed level the sink gets; 0 when there is no sink.
    sink_rank: AtomicU8,
    ring: Mutex<Ring>,
    files: Mutex<DayFiles>,
}

#[derive(Default)]
struct Ring {
    lines: VecDeque<String>,
    bytes: usize,
}

#[derive(Default)]
struct DayFiles {
    day: Option<i64>,
    log: Slot,
    net: Slot,
}

/// One open daily file.
#[derive(Default)]
struct Slot {
    file: Option<File>,
    bytes: u64,
    capped: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recorder {
    /// A recorder writing into `logs_dir` (created if missing); old files are pruned.
    pub(crate) fn open(
        clock: Arc<dyn Clock>,
        logs_dir: PathBuf,
        limits: RecorderLimits,
        mode: LogMode,
    ) -> std::io::Result<Recorder> {
        util::create_private_dir(&logs_dir)?;
        let recorder = Recorder {
            clock,
            logs_dir,
            limits,
            mode: AtomicU8::new(mode_code(mode)),
            sink: RwLock::new(None),
            sink_rank: AtomicU8::new(0),
            ring: Mutex::new(Ring::default()),
            files: Mutex::new(DayFiles::default()),
        };
        recorder.prune(day_of(recorder.clock.now_unix_ms()));
        Ok(recorder)
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn mode(&self) -> LogMode {
        mode_from_code(self.mode.load(Ordering::Relaxed))
    }

    pub(crate) fn set_mode(&self, mode: LogMode) {
        self.mode.store(mode_code(mode), Ordering::Relaxed);
    }

    pub(crate) fn set_sink(&self, sink: Option<Arc<dyn LogSink>>, level: LogLevel) {
        let rank = if sink.is_some() { rank(level) } else { 0 };
        *self.sink.write().unwrap_or_else(PoisonError::into_inner) = sink;
        self.sink_rank.store(rank, Ordering::Relaxed);
    }

    pub(crate) fn retention_days(&self) -> u32 {
        self.limits.retention_days
    }

    /// Whether events of `target` are recorded (the sink gets every target).
    fn records_target(&self, target: &str) -> bool {
        self.limits.targets.iter().any(|t| {
            target == t
                || target
                    .strip_prefix(t.as_str())
                    .is_some_and(|rest| rest.starts_with("::"))
        })
    }

    fn wants(&self, level: LogLevel, target: &str) -> (bool, bool) {
        let r = rank(level);
        let to_sink = r <= self.sink_rank.load(Ordering::Relaxed);
        let to_record = r <= mode_rank(self.mode()) && self.records_target(target);
        (to_sink, to_record)
    }

    /// Handles one log line: scrubbed, then forwarded and recorded as wanted.
    pub(crate) fn log(&self, level: LogLevel, target: &str, message: &str) {
        let (to_sink, to_record) = self.wants(level, target);
        if !to_sink && !to_record {
            return;
        }
        let message = scrub(message);
        if to_record {
            let now = self.clock.now_unix_ms();
            let line = format!(
                "{} {} {target}: {message}\n",
                rfc3339_ms(now),
                level_name(level)
            );
            self.push_ring(&line);
            self.append(now, false, &line);
        }
        if to_sink {
            let sink = self
                .sink
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(sink) = sink {
                sink.log(level, target.to_string(), message);
            }
        }
    }

    fn push_ring(&self, line: &str) {
        let mut ring = lock(&self.ring);
        ring.bytes += line.len();
        ring.lines.push_back(line.to_string());
        while ring.lines.len() > self.limits.ring_lines || ring.bytes > self.limits.ring_bytes {
            match ring.lines.pop_front() {
                Some(old) => ring.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The most recent recorded lines, oldest first.
    pub(crate) fn recent_lines(&self, max: usize) -> Vec<String> {
        let ring = lock(&self.ring);
        let skip = ring.lines.len().saturating_sub(max);
        ring.lines
            .iter()
            .skip(skip)
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// Appends one redacted network entry (a JSON line) to today's network file.
    pub(crate) fn append_network(&self, json_line: &str) {
        let now = self.clock.now_unix_ms();
        let mut line = String::with_capacity(json_line.len() + 1);
        line.push_str(json_line);
        line.push('\n');
        self.append(now, true, &line);
    }

    fn append(&self, now_ms: i64, network: bool, line: &str) {
        let today = day_of(now_ms);
        let mut files = lock(&self.files);
        if files.day != Some(today) {
            *files = DayFiles {
                day: Some(today),
                ..DayFiles::default()
            };
            drop(files);
            self.prune(today);
            files = lock(&self.files);
        }
        let path = self.day_file(today, network);
        let slot = if network {
            &mut files.net
        } else {
            &mut files.log
        };
        if slot.capped {
            return;
        }
        if slot.file.is_none() {
            let opened = util::private_file_options()
                .create(true)
                .append(true)
                .open(&path);
            match opened {
                Ok(file) => {
                    slot.bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
                    slot.file = Some(file);
                }
                // The folder is unusable for now: the ring and the sink still have the line.
                Err(_) => return,
            }
        }
        let Some(file) = slot.file.as_mut() else {
            return;
        };
        let cap = self.limits.max_day_bytes;
        if slot.bytes + line.len() as u64 > cap {
            slot.capped = true;
            if !network {
                let note = format!(
                    "{}  WARN ibkey_core::diagnostics: today's log reached its {cap}-byte cap; later lines of today are not kept on disk\n",
                    rfc3339_ms(now_ms)
                );
                let _ = file.write_all(note.as_bytes());
            }
            return;
        }
        if file.write_all(line.as_bytes()).is_ok() {
            slot.bytes += line.len() as u64;
        } else {
            slot.file = None;
        }
    }

    fn day_file(&self, day: i64, network: bool) -> PathBuf {
        let (prefix, ext) = if network {
            (NET_PREFIX, NET_EXT)
        } else {
            (LOG_PREFIX, LOG_EXT)
        };
        self.logs_dir
            .join(format!("{prefix}{}{ext}", date_string(day)))
    }

    /// Deletes daily files older than the retention; best effort.
    fn prune(&self, today: i64) {
        let oldest_kept = today - i64::from(self.limits.retention_days.max(1)) + 1;
        let Ok(entries) = fs::read_dir(&self.logs_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((day, _)) = parse_day_file(&name) {
                if day < oldest_kept {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }

    /// The existing daily files of the last `days` days (today included), oldest first:
    /// day, path, whether it is a network file.
    pub(crate) fn files_of_last_days(&self, days: u32) -> Vec<(i64, PathBuf, bool)> {
        let today = day_of(self.clock.now_unix_ms());
        let first = today - i64::from(days.max(1)) + 1;
        let mut found = Vec::new();
        let Ok(entries) = fs::read_dir(&self.logs_dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((day, network)) = parse_day_file(&name) {
                if (first..=today).contains(&day) {
                    found.push((day, entry.path(), network));
                }
            }
        }
        found.sort();
        found
    }

    pub(crate) fn logs_dir(&self) -> &Path {
        &self.logs_dir
    }
}

/// The day and kind of a daily file name.
fn parse_day_file(name: &str) -> Option<(i64, bool)> {
    if let Some(date) = name
        .strip_prefix(LOG_PREFIX)
        .and_then(|r| r.strip_suffix(LOG_EXT))
    {
        return util::parse_date(date).map(|d| (d, false));
    }
    name.strip_prefix(NET_PREFIX)
        .and_then(|r| r.strip_suffix(NET_EXT))
        .and_then(util::parse_date)
        .map(|d| (d, true))
}

/// The `tracing` subscriber of a [`super::Diagnostics`]. Install it for the whole process with
/// [`super::Diagnostics::install_global`], or for one thread (tests) with
/// `tracing::subscriber::set_default(diagnostics.subscriber())`.
#[derive(Clone)]
pub struct DiagnosticsSubscriber {
    target: Target,
}

/// Where a [`DiagnosticsSubscriber`] hands its events.
#[derive(Clone)]
enum Target {
    /// One diagnostics' recorder.
    Fixed(Arc<Recorder>),
    /// Whichever recorder [`install_process_wide`] chose last (the process-wide subscriber).
    Process,
}

/// The recorder that the process-wide subscriber hands events to: the one of the
/// `Diagnostics` that called [`install_process_wide`] last.
static PROCESS_RECORDER: RwLock<Option<Arc<Recorder>>> = RwLock::new(None);
/// Whether the process-wide subscriber became the process's global one (decided once).
static PROCESS_SUBSCRIBER: OnceLock<bool> = OnceLock::new();
/// Span ids: spans carry nothing here, they only need distinct non-zero ids.
static NEXT_SPAN: AtomicU64 = AtomicU64::new(1);

/// Makes `recorder` receive the whole process's events. The first call installs the
/// process-wide subscriber; later calls only redirect it, so an app (or a test suite) that
/// opens its diagnostics again keeps logging. `false` when the process already had another
/// global subscriber.
pub(crate) fn install_process_wide(recorder: Arc<Recorder>) -> bool {
    let installed = *PROCESS_SUBSCRIBER.get_or_init(|| {
        let process = DiagnosticsSubscriber {
            target: Target::Process,
        };
        tracing::subscriber::set_global_default(process).is_ok()
    });
    if installed {
        *PROCESS_RECORDER
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(recorder);
    }
    installed
}

impl DiagnosticsSubscriber {
    /// The subscriber of one diagnostics' recorder.
    pub(crate) fn of(recorder: Arc<Recorder>) -> Self {
        DiagnosticsSubscriber {
            target: Target::Fixed(recorder),
        }
    }

    fn recorder(&self) -> Option<Arc<Recorder>> {
        match &self.target {
            Target::Fixed(recorder) => Some(recorder.clone()),
            Target::Process => PROCESS_RECORDER
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

impl fmt::Debug for DiagnosticsSubscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiagnosticsSubscriber")
            .field("logs_dir", &self.recorder().map(|r| r.logs_dir.clone()))
            .finish_non_exhaustive()
    }
}

impl Subscriber for DiagnosticsSubscriber {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The mode and the sink level change at run time: ask `enabled` each time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.recorder().is_some_and(|r| r.enabled(metadata))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(NEXT_SPAN.fetch_add(1, Ordering::Relaxed).max(1))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if let Some(recorder) = self.recorder() {
            recorder.event(event);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

impl Recorder {
    /// Whether an event with `metadata` goes to the sink or the record (spans never do).
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        if !metadata.is_event() {
            return false;
        }
        let (to_sink, to_record) = self.wants(level_of(metadata.level()), metadata.target());
        to_sink || to_record
    }

    /// Handles one `tracing` event; a sink that logs while handling one is not heard.
    fn event(&self, event: &Event<'_>) {
        if IN_EVENT.with(|flag| flag.replace(true)) {
            return;
        }
        let metadata = event.metadata();
        let mut line = Line::default();
        event.record(&mut line);
        self.log(
            level_of(metadata.level()),
            metadata.target(),
            &line.finish(),
        );
        IN_EVENT.with(|flag| flag.set(false));
    }
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
