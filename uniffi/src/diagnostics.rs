//! The exported [`Diagnostics`]: the core's logs, support bundles and upload outbox over the
//! shell's folder and HTTP stack.
//!
//! One per app. Opening it makes it the process's log subscriber (the platform
//! [`LogSink`] gets scrubbed lines from then on); giving it to the `Authenticator` lets the
//! extended log trace the core's HTTP exchanges. A bundle is prepared
//! ([`Diagnostics::prepare_bundle`]), shown to the user ([`PreparedBundle::preview`]) and
//! sent only when [`Diagnostics::send`] is called: the user's consent.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use ibkey_core::diagnostics as core_diagnostics;
use ibkey_core::platform as core_platform;

use crate::errors::{DiagnosticsError, UploadCallbackError};
use crate::logging::{LogLevel, LogSink, SinkAdapter};
use crate::platform::{HttpAdapter, HttpTransport};

/// How much the app records, as the user switches it on the diagnostics screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogMode {
    /// What the user did and what came of it.
    Normal,
    /// Debug mode: adds each server request and reply, in one line.
    Debug,
    /// Extended log: adds every detail and the network trace (HAR) of each exchange.
    Extended,
}

/// The app and the device, as a bundle's manifest names them (nothing that identifies the
/// person).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AppInfo {
    /// The app's name.
    pub app_name: String,
    /// The app's version.
    pub app_version: String,
    /// `android`, `ios`, …
    pub platform: String,
    /// The operating system and its version, e.g. `Android 15`.
    pub os_version: String,
    /// The device model, e.g. `Pixel 8`.
    pub device_model: String,
}

/// How an app configures its diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DiagnosticsConfig {
    /// An app-private folder for logs, the outbox and settings (created if missing).
    pub dir: String,
    /// The support server's base URL (`https://…`; plain `http://` only to loopback).
    pub server_url: String,
    /// The app and device, for the manifest.
    pub app: AppInfo,
    /// Days of log files kept, today included.
    #[uniffi(default = 7)]
    pub retention_days: u32,
    /// Largest screenshot, bytes.
    #[uniffi(default = 5242880)]
    pub max_screenshot_bytes: u64,
    /// Most screenshots in a bundle.
    #[uniffi(default = 5)]
    pub max_screenshots: u32,
    /// Largest bundle, bytes.
    #[uniffi(default = 20971520)]
    pub max_bundle_bytes: u64,
    /// Tries of each upload request before the bundle is left in the outbox.
    #[uniffi(default = 4)]
    pub upload_max_attempts: u32,
    /// The first delay between tries, milliseconds (it doubles, with jitter, up to 30 s).
    #[uniffi(default = 500)]
    pub upload_first_backoff_ms: u64,
}

/// A screenshot the user attaches.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Screenshot {
    /// The file name shown to the user, e.g. `Screenshot_2026-03-01.png`.
    pub name: String,
    /// The PNG or JPEG file.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Screenshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screenshot")
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// What the user asks to send.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BundleRequest {
    /// What happened, in the user's words (scrubbed like the logs).
    pub comment: String,
    /// The user's name, if they choose to give it (also from the login screen).
    #[uniffi(default = None)]
    pub username: Option<String>,
    /// Screenshots to attach.
    #[uniffi(default = [])]
    pub screenshots: Vec<Screenshot>,
    /// Days of logs: 1 for today only, N for today and the N−1 days before.
    #[uniffi(default = 1)]
    pub days: u32,
    /// Whether to include the network trace (`network.har`) of those days.
    #[uniffi(default = false)]
    pub include_network_trace: bool,
}

/// What a file in a bundle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FileKind {
    /// `manifest.json`.
    Manifest,
    /// A day's log.
    Log,
    /// The network trace.
    NetworkTrace,
    /// A screenshot.
    Screenshot,
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BundleFile {
    /// Its path in the zip.
    pub path: String,
    /// What it holds.
    pub kind: FileKind,
    /// Its size, bytes.
    pub size: u64,
    /// SHA-256 of its content, lower-case hex.
    pub sha256: String,
}

/// Exactly what would be sent: show it to the user before they agree.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BundlePreview {
    /// The bundle's id.
    pub bundle_id: String,
    /// Size of the zip that would be sent, bytes.
    pub total_bytes: u64,
    /// The comment as it will be sent (scrubbed).
    pub comment: String,
    /// The username, when given.
    pub username: Option<String>,
    /// The log mode recorded in the manifest.
    pub log_mode: LogMode,
    /// Days of logs included.
    pub days: u32,
    /// Whether the network trace is included.
    pub network_trace: bool,
    /// Every file in the zip, the manifest first.
    pub files: Vec<BundleFile>,
    /// `manifest.json` as it is in the zip.
    pub manifest_json: String,
}

/// A bundle built and checked but not sent: nothing leaves the device until it is passed
/// to [`Diagnostics::send`].
#[derive(Debug, uniffi::Object)]
pub struct PreparedBundle {
    core: core_diagnostics::PreparedBundle,
}

#[uniffi::export]
impl PreparedBundle {
    /// What would be sent.
    pub fn preview(&self) -> BundlePreview {
        let p = self.core.preview();
        BundlePreview {
            bundle_id: p.bundle_id.clone(),
            total_bytes: p.total_bytes,
            comment: p.manifest.comment.clone(),
            username: p.manifest.username.clone(),
            log_mode: p.manifest.log_mode.into(),
            days: p.manifest.days,
            network_trace: p.manifest.network_trace,
            files: p.files.iter().cloned().map(BundleFile::from).collect(),
            manifest_json: p.manifest_json.clone(),
        }
    }

    /// The zip itself, to save or share it another way.
    pub fn bytes(&self) -> Vec<u8> {
        self.core.bytes().to_vec()
    }
}

/// How [`Diagnostics::send`] ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SendOutcome {
    /// The server has the bundle.
    Sent {
        /// The bundle's id.
        bundle_id: String,
        /// The reference to read to support, e.g. `DIAG-7K3P9Q`.
        reference: String,
    },
    /// The server could not be reached: the bundle waits in the outbox until
    /// [`Diagnostics::flush_outbox`] sends it, after a restart too.
    Queued {
        /// The bundle's id.
        bundle_id: String,
        /// Why it was not sent now.
        reason: String,
    },
}

/// A bundle the server confirmed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SentBundle {
    /// The bundle's id.
    pub bundle_id: String,
    /// The reference to quote to support.
    pub reference: String,
    /// When the server confirmed it, RFC 3339 UTC.
    pub sent_at: String,
}

/// A bundle waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutboxEntry {
    /// The bundle's id.
    pub bundle_id: String,
    /// When it was made, RFC 3339 UTC.
    pub created_at: String,
    /// Its size, bytes.
    pub size: u64,
    /// The user's comment.
    pub comment: String,
}

/// What [`Diagnostics::flush_outbox`] did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FlushReport {
    /// Bundles the server now has, with their references.
    pub sent: Vec<SentBundle>,
    /// Ids of the bundles still waiting (the server could not be reached).
    pub waiting: Vec<String>,
    /// Bundles the server refused for good (removed from the outbox), each as its error.
    pub refused: Vec<DiagnosticsError>,
}

/// Told how far an upload has come (to drive a progress bar).
#[uniffi::export(foreign)]
pub trait UploadProgress: Send + Sync {
    /// `sent_bytes` of `total_bytes` of bundle `bundle_id` are on the server. An error is
    /// ignored: the upload goes on.
    fn on_progress(
        &self,
        bundle_id: String,
        sent_bytes: u64,
        total_bytes: u64,
    ) -> Result<(), UploadCallbackError>;
}

/// Waits between upload retries with the platform's own timer (a coroutine `delay`,
/// `Task.sleep`), so the library starts no thread of its own.
#[uniffi::export(foreign)]
#[async_trait]
pub trait Sleeper: Send + Sync {
    /// Returns after about `millis` milliseconds.
    async fn sleep(&self, millis: u64) -> Result<(), UploadCallbackError>;
}

/// The diagnostics of one app: logging, bundles, outbox. Safe to use from several threads.
#[derive(Debug, uniffi::Object)]
pub struct Diagnostics {
    pub(crate) core: core_diagnostics::Diagnostics,
}

#[uniffi::export]
impl Diagnostics {
    /// Opens diagnostics over `config.dir` and makes them the process's log subscriber
    /// (diagnostics opened later take over). `http` sends the bundles: the shell's own
    /// transport; `sleeper` waits between retries. Fails for an insecure server URL or an
    /// unusable folder.
    #[uniffi::constructor]
    pub fn new(
        config: DiagnosticsConfig,
        http: Arc<dyn HttpTransport>,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Arc<Self>, DiagnosticsError> {
        let app = config.app;
        let mut core_config = core_diagnostics::DiagnosticsConfig::new(
            PathBuf::from(config.dir),
            config.server_url,
            core_diagnostics::AppInfo {
                app_name: app.app_name,
                app_version: app.app_version,
                platform: app.platform,
                os_version: app.os_version,
                device_model: app.device_model,
            },
        );
        core_config.retention_days = config.retention_days;
        core_config.max_screenshot_bytes = config.max_screenshot_bytes;
        core_config.max_screenshots = config.max_screenshots;
        core_config.max_bundle_bytes = config.max_bundle_bytes;
        core_config.upload.max_attempts = config.upload_max_attempts;
        core_config.upload.first_backoff_ms = config.upload_first_backoff_ms;
        let services = core_diagnostics::DiagnosticsServices {
            clock: Arc::new(core_platform::SystemClock),
            http: Arc::new(HttpAdapter(http)),
            sleeper: Arc::new(SleeperAdapter(sleeper)),
        };
        let core = core_diagnostics::Diagnostics::open(core_config, services)?;
        core.install_global()?;
        Ok(Arc::new(Diagnostics { core }))
    }

    /// The log mode now.
    pub fn log_mode(&self) -> LogMode {
        self.core.log_mode().into()
    }

    /// Switches the log mode, from now on and after a restart.
    pub fn set_log_mode(&self, mode: LogMode) -> Result<(), DiagnosticsError> {
        Ok(self.core.set_log_mode(mode.into())?)
    }

    /// Sends log lines at `level` and above to `sink` (logcat, os_log), or to no sink.
    pub fn set_log_sink(&self, sink: Option<Arc<dyn LogSink>>, level: LogLevel) {
        let sink = sink.map(|s| Arc::new(SinkAdapter(s)) as Arc<dyn core_platform::LogSink>);
        self.core.set_log_sink(sink, level.into());
    }

    /// The last `max` recorded lines, oldest first (for an in-app log view).
    pub fn recent_lines(&self, max: u32) -> Vec<String> {
        self.core.recent_lines(max)
    }

    /// Builds the bundle the user asked for, without sending anything.
    pub fn prepare_bundle(
        &self,
        request: BundleRequest,
    ) -> Result<Arc<PreparedBundle>, DiagnosticsError> {
        let request = core_diagnostics::BundleRequest {
            comment: request.comment,
            username: request.username,
            screenshots: request
                .screenshots
                .into_iter()
                .map(|s| core_diagnostics::Screenshot {
                    name: s.name,
                    bytes: s.bytes,
                })
                .collect(),
            days: request.days,
            include_network_trace: request.include_network_trace,
        };
        let core = self.core.prepare_bundle(&request)?;
        Ok(Arc::new(PreparedBundle { core }))
    }

    /// Sends a prepared bundle: the user's consent. It is kept in the outbox first, so it is
    /// never lost; without a connection it waits there ([`SendOutcome::Queued`]). Sending
    /// the same bundle again never makes a second one on the server.
    pub async fn send(
        &self,
        bundle: Arc<PreparedBundle>,
        progress: Option<Arc<dyn UploadProgress>>,
    ) -> Result<SendOutcome, DiagnosticsError> {
        let outcome = self
            .core
            .send(&bundle.core, progress.map(progress_adapter))
            .await?;
        Ok(outcome.into())
    }

    /// Sends the bundles waiting in the outbox, oldest first; call it when the app starts
    /// and when the network comes back.
    pub async fn flush_outbox(
        &self,
        progress: Option<Arc<dyn UploadProgress>>,
    ) -> Result<FlushReport, DiagnosticsError> {
        let report = self
            .core
            .flush_outbox(progress.map(progress_adapter))
            .await?;
        Ok(FlushReport {
            sent: report.sent.into_iter().map(SentBundle::from).collect(),
            waiting: report.waiting,
            refused: report.refused.into_iter().map(Into::into).collect(),
        })
    }

    /// The bundles waiting to be sent, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, DiagnosticsError> {
        Ok(self
            .core
            .outbox()?
            .into_iter()
            .map(|e| OutboxEntry {
                bundle_id: e.bundle_id,
                created_at: e.created_at,
                size: e.size,
                comment: e.comment,
            })
            .collect())
    }

    /// Deletes a waiting bundle without sending it.
    pub fn remove_from_outbox(&self, bundle_id: String) -> Result<(), DiagnosticsError> {
        Ok(self.core.remove_from_outbox(&bundle_id)?)
    }

    /// The last bundles the server confirmed, oldest first, with their references.
    pub fn sent_history(&self) -> Vec<SentBundle> {
        self.core
            .sent_history()
            .into_iter()
            .map(SentBundle::from)
            .collect()
    }
}

fn progress_adapter(
    progress: Arc<dyn UploadProgress>,
) -> Arc<dyn core_diagnostics::UploadProgress> {
    Arc::new(ProgressAdapter(progress))
}

/// The core's [`core_diagnostics::UploadProgress`] over a shell's [`UploadProgress`].
struct ProgressAdapter(Arc<dyn UploadProgress>);

impl core_diagnostics::UploadProgress for ProgressAdapter {
    fn on_progress(&self, bundle_id: String, sent_bytes: u64, total_bytes: u64) {
        // A progress bar that fails must not stop the upload.
        let _ = self.0.on_progress(bundle_id, sent_bytes, total_bytes);
    }
}

/// The core's [`core_diagnostics::Sleeper`] over a shell's [`Sleeper`].
struct SleeperAdapter(Arc<dyn Sleeper>);

#[async_trait]
impl core_diagnostics::Sleeper for SleeperAdapter {
    async fn sleep(&self, millis: u64) {
        if let Err(e) = self.0.sleep(millis).await {
            tracing::debug!(error = %e, "the retry wait ended early");
        }
    }
}

impl From<core_diagnostics::LogMode> for LogMode {
    fn from(mode: core_diagnostics::LogMode) -> Self {
        match mode {
            core_diagnostics::LogMode::Normal => LogMode::Normal,
            core_diagnostics::LogMode::Debug => LogMode::Debug,
            core_diagnostics::LogMode::Extended => LogMode::Extended,
        }
    }
}

impl From<LogMode> for core_diagnostics::LogMode {
    fn from(mode: LogMode) -> Self {
        match mode {
            LogMode::Normal => core_diagnostics::LogMode::Normal,
            LogMode::Debug => core_diagnostics::LogMode::Debug,
            LogMode::Extended => core_diagnostics::LogMode::Extended,
        }
    }
}

impl From<core_diagnostics::BundleFile> for BundleFile {
    fn from(f: core_diagnostics::BundleFile) -> Self {
        use core_diagnostics::FileKind as C;
        BundleFile {
            path: f.path,
            kind: match f.kind {
                C::Manifest => FileKind::Manifest,
                C::Log => FileKind::Log,
                C::NetworkTrace => FileKind::NetworkTrace,
                C::Screenshot => FileKind::Screenshot,
            },
            size: f.size,
            sha256: f.sha256,
        }
    }
}

impl From<core_diagnostics::SentBundle> for SentBundle {
    fn from(s: core_diagnostics::SentBundle) -> Self {
        SentBundle {
            bundle_id: s.bundle_id,
            reference: s.reference,
            sent_at: s.sent_at,
        }
    }
}

impl From<core_diagnostics::SendOutcome> for SendOutcome {
    fn from(o: core_diagnostics::SendOutcome) -> Self {
        match o {
            core_diagnostics::SendOutcome::Sent {
                bundle_id,
                reference,
            } => SendOutcome::Sent {
                bundle_id,
                reference,
            },
            core_diagnostics::SendOutcome::Queued { bundle_id, reason } => {
                SendOutcome::Queued { bundle_id, reason }
            }
        }
    }
}
