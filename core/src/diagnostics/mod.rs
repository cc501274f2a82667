//! Diagnostics: the core's logs, the extended log's network trace, support bundles, and an
//! upload that never loses a bundle.
//!
//! One [`Diagnostics`] per app, over an app-private folder:
//!
//! ```text
//! <dir>/settings.json                  the log mode the user chose
//! <dir>/logs/ibkey-YYYY-MM-DD.log      one log file a day (UTC), kept `retention_days`
//! <dir>/logs/network-YYYY-MM-DD.jsonl  the extended log's HTTP exchanges (redacted HAR entries)
//! <dir>/outbox/<bundle id>.zip         bundles waiting for the server
//! <dir>/outbox/sent.json               references of the last bundles sent
//! ```
//!
//! **Logging.** [`Diagnostics::subscriber`] is a `tracing` subscriber: every event is
//! scrubbed ([`redact::scrub`]), handed to the platform [`LogSink`] at or above the level the
//! shell chose, and — for the core's own targets, at or above the user's [`LogMode`] — kept in
//! a bounded in-memory ring and appended to today's file. [`Diagnostics::install_global`]
//! makes it the process's subscriber (once); tests scope it with
//! `tracing::subscriber::set_default`. The modes: [`LogMode::Normal`] keeps `info` and
//! above, [`LogMode::Debug`] adds `debug`, [`LogMode::Extended`] adds `trace` and the network
//! trace of [`Diagnostics::recording_transport`], the [`HttpTransport`] wrapper the shell puts
//! around its own before building the [`crate::platform::Platform`].
//!
//! **Bundles.** [`Diagnostics::prepare_bundle`] builds the zip (its [`BundleManifest`] lists
//! every file) and returns it unsent, with a [`BundlePreview`] of exactly what would go;
//! [`Diagnostics::send`] is the user's consent: the bundle is first written to the outbox,
//! then uploaded in chunks, with retries (protocol in [`wire`]). Without a connection it
//! waits there ([`SendOutcome::Queued`]) until [`Diagnostics::flush_outbox`] sends it, after
//! a restart too. The server completes a bundle id once, so retries and repeats never make
//! two.
//!
//! **Redaction** is described in [`redact`].

mod bundle;
mod error;
mod har;
mod outbox;
mod recorder;
pub mod redact;
mod screenshot;
mod upload;
mod util;

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

pub use bundle::{
    BundlePreview, BundleRequest, PreparedBundle, MAX_COMMENT_CHARS, MAX_USERNAME_CHARS,
};
pub use error::DiagnosticsError;
pub use har::RecordingTransport;
pub use outbox::{OutboxEntry, SentBundle, SENT_HISTORY};
pub use recorder::DiagnosticsSubscriber;
pub use screenshot::Screenshot;
pub use upload::{Sleeper, ThreadSleeper, UploadPolicy, UploadProgress};
// The bundle's wire format lives in ibkey-protocol (the server checks bundles with it).
pub use ibkey_protocol::diagnostics::{
    is_bundle_id, verify_bundle, wire, BundleCheckError, BundleFile, BundleManifest, FileKind,
    LogMode, BUNDLE_FORMAT, MANIFEST_NAME,
};

use crate::platform::{Clock, HttpTransport, LogLevel, LogSink};
use outbox::Outbox;
use recorder::{Recorder, RecorderLimits};
use upload::{UploadFailure, Uploader};

const SETTINGS_FILE: &str = "settings.json";

/// What a bundle says about the app and the device (shell-supplied; nothing identifying
/// the person).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AppInfo {
    /// The app's name.
    pub app_name: String,
    /// The app's version.
    pub app_version: String,
    /// `android`, `ios`, `desktop`, …
    pub platform: String,
    /// The operating system and its version, e.g. `Android 15`.
    pub os_version: String,
    /// The device model, e.g. `Pixel 8`.
    pub device_model: String,
}

/// How diagnostics run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DiagnosticsConfig {
    /// The app-private folder of logs, outbox and settings (created if missing).
    pub dir: String,
    /// The support server's base URL (`https://…`; plain `http://` only to loopback).
    pub server_url: String,
    /// The app and device, for the manifest.
    pub app: AppInfo,
    /// Days of log files kept, today included (default 7).
    #[cfg_attr(feature = "uniffi", uniffi(default = 7))]
    pub retention_days: u32,
    /// Largest log file of one day, bytes (default 8 MiB); later lines of that day are
    /// kept in memory only.
    #[cfg_attr(feature = "uniffi", uniffi(default = 8388608))]
    pub max_day_log_bytes: u64,
    /// Largest screenshot, bytes (default 5 MiB).
    #[cfg_attr(feature = "uniffi", uniffi(default = 5242880))]
    pub max_screenshot_bytes: u64,
    /// Most screenshots in a bundle (default 5).
    #[cfg_attr(feature = "uniffi", uniffi(default = 5))]
    pub max_screenshots: u32,
    /// Largest bundle, bytes (default 20 MiB).
    #[cfg_attr(feature = "uniffi", uniffi(default = 20971520))]
    pub max_bundle_bytes: u64,
    /// Lines kept in memory (default 2000).
    #[cfg_attr(feature = "uniffi", uniffi(default = 2000))]
    pub ring_lines: u32,
    /// `tracing` targets recorded besides the core's own (`ibkey_core`): crate names or
    /// module paths, such as the app's own crate (default none). The sink gets every target.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub recorded_targets: Vec<String>,
    /// How uploads are cut and retried.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub upload: UploadPolicy,
}

impl DiagnosticsConfig {
    /// A configuration with the defaults.
    pub fn new(dir: impl AsRef<Path>, server_url: impl Into<String>, app: AppInfo) -> Self {
        Self {
            dir: dir.as_ref().to_string_lossy().into_owned(),
            server_url: server_url.into(),
            app,
            retention_days: 7,
            max_day_log_bytes: 8 * 1024 * 1024,
            max_screenshot_bytes: 5 * 1024 * 1024,
            max_screenshots: 5,
            max_bundle_bytes: 20 * 1024 * 1024,
            ring_lines: 2000,
            recorded_targets: Vec::new(),
            upload: UploadPolicy::default(),
        }
    }
}

/// The platform services diagnostics use.
#[derive(Clone)]
pub struct DiagnosticsServices {
    /// Dates the logs and bundles.
    pub clock: Arc<dyn Clock>,
    /// Sends bundles: the shell's own transport, not the recording one.
    pub http: Arc<dyn HttpTransport>,
    /// Waits between upload retries ([`ThreadSleeper`] if the shell has nothing better).
    pub sleeper: Arc<dyn Sleeper>,
}

/// How [`Diagnostics::send`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum SendOutcome {
    /// The server has the bundle.
    Sent {
        /// The bundle's id.
        bundle_id: String,
        /// The reference to read to support, e.g. `DIAG-7K3P9Q`.
        reference: String,
    },
    /// The server could not be reached: the bundle waits in the outbox and is sent by
    /// [`Diagnostics::flush_outbox`].
    Queued {
        /// The bundle's id.
        bundle_id: String,
        /// Why it was not sent now.
        reason: String,
    },
}

/// What [`Diagnostics::flush_outbox`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FlushReport {
    /// Bundles the server now has, with their references.
    pub sent: Vec<SentBundle>,
    /// Bundles still waiting (the server could not be reached).
    pub waiting: Vec<String>,
    /// Bundles the server refused for good; they were removed.
    pub refused: Vec<DiagnosticsError>,
}

#[derive(Serialize, Deserialize)]
struct Settings {
    log_mode: LogMode,
}

/// The diagnostics of one app: logging, bundles, outbox. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Diagnostics {
    shared: Arc<Shared>,
}

struct Shared {
    config: DiagnosticsConfig,
    recorder: Arc<Recorder>,
    outbox: Outbox,
    uploader: Uploader,
    in_flight: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diagnostics")
            .field("dir", &self.shared.config.dir)
            .field("mode", &self.log_mode())
            .finish_non_exhaustive()
    }
}

impl Diagnostics {
    /// Opens diagnostics over `config.dir`: reads the saved log mode, prunes old logs, and
    /// finds bundles left waiting. Fails for an insecure server URL or an unusable folder.
    pub fn open(
        config: DiagnosticsConfig,
        services: DiagnosticsServices,
    ) -> Result<Diagnostics, DiagnosticsError> {
        let base_url = config.server_url.trim_end_matches('/').to_string();
        crate::api::check_transport_security(&base_url).map_err(|_| {
            DiagnosticsError::InsecureServer {
                url: base_url.clone(),
            }
        })?;
        let dir = Path::new(&config.dir);
        util::create_private_dir(dir)
            .map_err(|e| DiagnosticsError::storage("creating the diagnostics folder", &e))?;
        let mode = fs::read(dir.join(SETTINGS_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<Settings>(&b).ok())
            .map_or(LogMode::Normal, |s| s.log_mode);
        let ring_lines = config.ring_lines.max(1) as usize;
        let limits = RecorderLimits {
            retention_days: config.retention_days.max(1),
            max_day_bytes: config.max_day_log_bytes,
            ring_lines,
            ring_bytes: ring_lines.saturating_mul(512),
            targets: std::iter::once("ibkey_core".to_string())
                .chain(config.recorded_targets.iter().cloned())
                .collect(),
        };
        let recorder = Recorder::open(services.clock.clone(), dir.join("logs"), limits, mode)
            .map_err(|e| DiagnosticsError::storage("creating the logs folder", &e))?;
        let outbox = Outbox::open(dir.join("outbox"))
            .map_err(|e| DiagnosticsError::storage("opening the outbox", &e))?;
        let uploader = Uploader {
            base_url,
            http: services.http,
            sleeper: services.sleeper,
            policy: config.upload.clone(),
        };
        Ok(Diagnostics {
            shared: Arc::new(Shared {
                config,
                recorder: Arc::new(recorder),
                outbox,
                uploader,
                in_flight: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// The log mode now.
    pub fn log_mode(&self) -> LogMode {
        self.shared.recorder.mode()
    }

    /// Switches the log mode, from now on and after a restart.
    pub fn set_log_mode(&self, mode: LogMode) -> Result<(), DiagnosticsError> {
        let json = serde_json::to_vec(&Settings { log_mode: mode }).map_err(|e| {
            DiagnosticsError::Storage {
                reason: e.to_string(),
            }
        })?;
        let dir = Path::new(&self.shared.config.dir);
        util::write_atomic(dir, &dir.join(SETTINGS_FILE), &json)
            .map_err(|e| DiagnosticsError::storage("saving the log mode", &e))?;
        self.shared.recorder.set_mode(mode);
        tracing::info!(?mode, "diagnostics log mode set");
        Ok(())
    }

    /// Sends log lines at `level` and above to `sink` (logcat, os_log, stderr), or to no sink.
    pub fn set_log_sink(&self, sink: Option<Arc<dyn LogSink>>, level: LogLevel) {
        self.shared.recorder.set_sink(sink, level);
    }

    /// The `tracing` subscriber that records into these diagnostics.
    pub fn subscriber(&self) -> DiagnosticsSubscriber {
        DiagnosticsSubscriber::of(self.shared.recorder.clone())
    }

    /// Makes these diagnostics receive the log events of the whole process. The first call
    /// in a process installs the process-wide subscriber; a later call (from diagnostics
    /// opened again, say after the app rebuilt its objects) moves it here. Fails with
    /// [`DiagnosticsError::LoggerAlreadyInstalled`] when the process already has another
    /// global `tracing` subscriber.
    pub fn install_global(&self) -> Result<(), DiagnosticsError> {
        if recorder::install_process_wide(self.shared.recorder.clone()) {
            Ok(())
        } else {
            Err(DiagnosticsError::LoggerAlreadyInstalled)
        }
    }

    /// Makes [`Diagnostics::subscriber`] the subscriber of the current thread until the
    /// guard is dropped (tests, and tools that run a second device in one process).
    pub fn set_thread_default(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.subscriber())
    }

    /// Wraps the shell's transport so that the extended log traces the core's exchanges;
    /// give the result to the [`crate::platform::Platform`].
    pub fn recording_transport(&self, inner: Arc<dyn HttpTransport>) -> Arc<dyn HttpTransport> {
        Arc::new(RecordingTransport {
            inner,
            recorder: self.shared.recorder.clone(),
        })
    }

    /// The last `max` recorded lines, oldest first (for an in-app log view).
    pub fn recent_lines(&self, max: u32) -> Vec<String> {
        self.shared.recorder.recent_lines(max as usize)
    }

    /// The folder of the daily log files.
    pub fn logs_dir(&self) -> &Path {
        self.shared.recorder.logs_dir()
    }

    /// Builds the bundle the user asked for, without sending anything; its
    /// [`PreparedBundle::preview`] lists exactly what [`Diagnostics::send`] would send.
    pub fn prepare_bundle(
        &self,
        request: &BundleRequest,
    ) -> Result<PreparedBundle, DiagnosticsError> {
        let bundle = bundle::build(&self.shared.recorder, &self.shared.config, request)?;
        tracing::info!(
            bundle = bundle.bundle_id(),
            bytes = bundle.preview().total_bytes,
            files = bundle.preview().files.len(),
            "diagnostics bundle prepared"
        );
        Ok(bundle)
    }

    /// Sends a prepared bundle: the user's consent. It is kept in the outbox first, so it
    /// is never lost; without a connection it stays there ([`SendOutcome::Queued`]).
    pub async fn send(
        &self,
        bundle: &PreparedBundle,
        progress: Option<Arc<dyn UploadProgress>>,
    ) -> Result<SendOutcome, DiagnosticsError> {
        let about = outbox::BundleAbout {
            comment: bundle.preview().manifest.comment.clone(),
        };
        let bundle_id = bundle.bundle_id().to_string();
        let bytes = bundle.bytes();
        let saved = self.shared.outbox.save(&bundle_id, bytes, &about);
        if let Err(e) = &saved {
            tracing::warn!(bundle = %bundle_id, error = %e, "diagnostics bundle could not be kept in the outbox");
        }
        let _claim = self.claim(&bundle_id);
        match self
            .shared
            .uploader
            .upload(&bundle_id, bytes, progress.as_deref())
            .await
        {
            Ok(reference) => {
                self.confirmed(&bundle_id, &reference);
                Ok(SendOutcome::Sent {
                    bundle_id,
                    reference,
                })
            }
            Err(UploadFailure::Transient(reason)) => match saved {
                Ok(()) => {
                    tracing::info!(bundle = %bundle_id, "diagnostics bundle queued: {reason}");
                    Ok(SendOutcome::Queued { bundle_id, reason })
                }
                Err(e) => Err(DiagnosticsError::NotSaved {
                    send_reason: reason,
                    save_reason: e.to_string(),
                }),
            },
            Err(UploadFailure::Refused { code, message }) => {
                Err(self.refused(bundle_id, code, message))
            }
        }
    }

    /// Sends the bundles waiting in the outbox, oldest first; stops at the first that finds
    /// no server (the rest keep waiting).
    pub async fn flush_outbox(
        &self,
        progress: Option<Arc<dyn UploadProgress>>,
    ) -> Result<FlushReport, DiagnosticsError> {
        let ids = self
            .shared
            .outbox
            .ids()
            .map_err(|e| DiagnosticsError::storage("reading the outbox", &e))?;
        let mut report = FlushReport::default();
        let mut offline = false;
        for bundle_id in ids {
            let Some(_claim) = self.claim(&bundle_id) else {
                report.waiting.push(bundle_id);
                continue;
            };
            if offline {
                report.waiting.push(bundle_id);
                continue;
            }
            let bytes = match self.shared.outbox.load(&bundle_id) {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue,
                Err(e) => return Err(DiagnosticsError::storage("reading the outbox", &e)),
            };
            match self
                .shared
                .uploader
                .upload(&bundle_id, &bytes, progress.as_deref())
                .await
            {
                Ok(reference) => {
                    let sent = self.confirmed(&bundle_id, &reference);
                    report.sent.push(sent);
                }
                Err(UploadFailure::Transient(reason)) => {
                    tracing::info!(bundle = %bundle_id, "diagnostics outbox: still waiting: {reason}");
                    offline = true;
                    report.waiting.push(bundle_id);
                }
                Err(UploadFailure::Refused { code, message }) => {
                    report.refused.push(self.refused(bundle_id, code, message));
                }
            }
        }
        Ok(report)
    }

    /// The bundles waiting to be sent, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, DiagnosticsError> {
        self.shared
            .outbox
            .entries()
            .map_err(|e| DiagnosticsError::storage("reading the outbox", &e))
    }

    /// Deletes a waiting bundle without sending it. An id the outbox never made (a path,
    /// say) is [`DiagnosticsError::UnknownBundle`], and no file is touched.
    pub fn remove_from_outbox(&self, bundle_id: &str) -> Result<(), DiagnosticsError> {
        match self.shared.outbox.remove(bundle_id) {
            Ok(true) => Ok(()),
            Ok(false) => Err(DiagnosticsError::UnknownBundle {
                bundle_id: bundle_id.to_string(),
            }),
            Err(e) => Err(DiagnosticsError::storage("removing from the outbox", &e)),
        }
    }

    /// The last bundles the server confirmed, oldest first.
    pub fn sent_history(&self) -> Vec<SentBundle> {
        self.shared.outbox.sent()
    }

    /// Records a confirmed bundle, then removes it from the outbox.
    fn confirmed(&self, bundle_id: &str, reference: &str) -> SentBundle {
        let sent = SentBundle {
            bundle_id: bundle_id.to_string(),
            reference: reference.to_string(),
            sent_at: util::rfc3339_ms(self.shared.recorder.clock().now_unix_ms()),
        };
        if let Err(e) = self.shared.outbox.record_sent(sent.clone()) {
            tracing::warn!(error = %e, "the reference of a sent bundle could not be recorded");
        }
        if let Err(e) = self.shared.outbox.remove(bundle_id) {
            tracing::warn!(error = %e, "a sent bundle could not be removed from the outbox");
        }
        tracing::info!(bundle = %bundle_id, %reference, "diagnostics bundle sent");
        sent
    }

    fn refused(&self, bundle_id: String, code: String, message: String) -> DiagnosticsError {
        tracing::warn!(bundle = %bundle_id, %code, "diagnostics bundle refused by the server");
        let _ = self.shared.outbox.remove(&bundle_id);
        DiagnosticsError::ServerRefused {
            bundle_id,
            code,
            server_message: message,
        }
    }

    /// Marks a bundle as being sent; `None` if it already is.
    fn claim(&self, bundle_id: &str) -> Option<Claim> {
        let mut set = self
            .shared
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        set.insert(bundle_id.to_string()).then(|| Claim {
            shared: self.shared.clone(),
            bundle_id: bundle_id.to_string(),
        })
    }
}

/// A bundle being sent; released when dropped.
struct Claim {
    shared: Arc<Shared>,
    bundle_id: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.shared
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.bundle_id);
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests;
