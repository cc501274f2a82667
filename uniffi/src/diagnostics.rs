//! The exported [`Diagnostics`]: the core's logs, support bundles and upload outbox over the
//! shell's folder and HTTP stack.
//!
//! One per app. Opening it makes it the process's log subscriber (the platform
//! [`LogSink`] gets scrubbed lines from then on); giving it to the `Authenticator` lets the
//! extended log trace the core's HTTP exchanges. A bundle is prepared
//! ([`Diagnostics::prepare_bundle`]), shown to the user ([`PreparedBundle::preview`]) and
//! sent only when [`Diagnostics::send`] is called: the user's consent.

use std::sync::Arc;

use async_trait::async_trait;
use ibkey_core::diagnostics::{
    self as core_diagnostics, BundlePreview, BundleRequest, DiagnosticsConfig, DiagnosticsError,
    DiagnosticsServices, FlushReport, LogMode, OutboxEntry, SendOutcome, SentBundle,
};
use ibkey_core::platform::{HttpTransport, LogLevel, SystemClock};

use crate::callback::CallbackError;
use crate::logging::{LogSink, SinkAdapter};

/// Told how far an upload has come (a progress bar).
#[uniffi::export(foreign)]
pub trait UploadProgress: Send + Sync {
    /// `sent_bytes` of `total_bytes` of bundle `bundle_id` are on the server. An error is
    /// ignored: the upload goes on.
    fn on_progress(
        &self,
        bundle_id: String,
        sent_bytes: u64,
        total_bytes: u64,
    ) -> Result<(), CallbackError>;
}

/// Waits between upload retries with the platform's own timer (a coroutine `delay`,
/// `Task.sleep`), so the library starts no thread of its own.
#[uniffi::export(foreign)]
#[async_trait]
pub trait Sleeper: Send + Sync {
    /// Returns after about `millis` milliseconds.
    async fn sleep(&self, millis: u64) -> Result<(), CallbackError>;
}

/// A bundle built and checked, not sent: show its [`PreparedBundle::preview`], then pass it
/// to [`Diagnostics::send`] once the user agrees. Close it after use (it holds the zip).
#[derive(Debug, uniffi::Object)]
pub struct PreparedBundle {
    core: core_diagnostics::PreparedBundle,
}

#[uniffi::export]
impl PreparedBundle {
    /// Exactly what would be sent: every file with its size and SHA-256, and the manifest.
    pub fn preview(&self) -> BundlePreview {
        self.core.preview().clone()
    }

    /// The zip itself (to save or share it another way).
    pub fn bytes(&self) -> Vec<u8> {
        self.core.bytes().to_vec()
    }
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
        let services = DiagnosticsServices {
            clock: Arc::new(SystemClock),
            http,
            sleeper: Arc::new(SleeperAdapter(sleeper)),
        };
        let core = core_diagnostics::Diagnostics::open(config, services)?;
        core.install_global()?;
        Ok(Arc::new(Diagnostics { core }))
    }

    /// The log mode now.
    pub fn log_mode(&self) -> LogMode {
        self.core.log_mode()
    }

    /// Switches the log mode, from now on and after a restart.
    pub fn set_log_mode(&self, mode: LogMode) -> Result<(), DiagnosticsError> {
        self.core.set_log_mode(mode)
    }

    /// Sends log lines at `level` and above to `sink` (logcat, os_log), or to no sink.
    pub fn set_log_sink(&self, sink: Option<Arc<dyn LogSink>>, level: LogLevel) {
        let sink = sink.map(|s| Arc::new(SinkAdapter(s)) as _);
        self.core.set_log_sink(sink, level);
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
        self.core
            .send(&bundle.core, progress.map(progress_adapter))
            .await
    }

    /// Sends the bundles waiting in the outbox, oldest first; call it when the app starts
    /// and when the network comes back.
    pub async fn flush_outbox(
        &self,
        progress: Option<Arc<dyn UploadProgress>>,
    ) -> Result<FlushReport, DiagnosticsError> {
        self.core.flush_outbox(progress.map(progress_adapter)).await
    }

    /// The bundles waiting to be sent, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, DiagnosticsError> {
        self.core.outbox()
    }

    /// Deletes a waiting bundle without sending it.
    pub fn remove_from_outbox(&self, bundle_id: String) -> Result<(), DiagnosticsError> {
        self.core.remove_from_outbox(&bundle_id)
    }

    /// The last bundles the server confirmed, oldest first, with their references.
    pub fn sent_history(&self) -> Vec<SentBundle> {
        self.core.sent_history()
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
