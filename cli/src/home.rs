//! Standing up this desktop "device": its data folder, the desktop platform services (file
//! store, software keys, terminal PIN, HTTP transport recorded by the diagnostics), the
//! [`Authenticator`] over them, the app's [`Diagnostics`] and the process's logging.
//!
//! Every `ibkey` command logs through the core's diagnostics (installed by [`init_logging`]):
//! lines go to standard error at `warn` (`debug` with `--verbose`), and the core's and this
//! tool's lines are kept in `<data dir>/diagnostics/logs/`, one file a day for 7 days. In
//! extended log mode the device commands also record their HTTP exchanges.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use ibkey_core::diagnostics::{
    AppInfo, Diagnostics, DiagnosticsConfig, DiagnosticsServices, Sleeper,
};
use ibkey_core::gate::PinPolicy;
use ibkey_core::platform::{
    FileStore, HttpTransport, LogLevel, Platform, ReqwestTransport, SoftwareKeyVault,
    StderrLogSink, SystemClock, UserVerifier, VerificationMethod,
};
use ibkey_core::{Authenticator, AuthenticatorConfig};

use crate::failure::Failure;
use crate::terminal::TerminalVerifier;

/// The diagnostics of this process, once [`init_logging`] opened them.
static DIAGNOSTICS: OnceLock<Diagnostics> = OnceLock::new();

/// The data folder: the one given, else `$XDG_DATA_HOME/ibkey`, else `~/.local/share/ibkey`.
pub fn data_home(given: Option<PathBuf>) -> Result<PathBuf, Failure> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("ibkey"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".local/share/ibkey"))
        .ok_or_else(|| Failure::cli("no data folder: set --data-dir or IBKEY_HOME"))
}

/// The desktop's HTTP client.
fn http_transport() -> Result<ReqwestTransport, Failure> {
    ReqwestTransport::new().map_err(|e| Failure::cli(format!("HTTP client could not start: {e}")))
}

/// The desktop platform services over a store folder; with a `recorder`, its HTTP exchanges
/// are recorded while that diagnostics' extended log is on.
pub fn desktop_platform(
    store_dir: &Path,
    verifier: Arc<dyn UserVerifier>,
    recorder: Option<&Diagnostics>,
) -> Result<Platform, Failure> {
    let store = Arc::new(FileStore::open(store_dir)?);
    let mut http: Arc<dyn HttpTransport> = Arc::new(http_transport()?);
    if let Some(diagnostics) = recorder {
        http = diagnostics.recording_transport(http);
    }
    Ok(Platform {
        keys: Arc::new(SoftwareKeyVault::new(store.clone())),
        store,
        verifier,
        http,
        clock: Arc::new(SystemClock),
    })
}

/// An authenticator named `device_name` over `platform`, enrolling with `server_url` whose
/// key is `server_key` (base64url SEC1 or its SHA-256 hex), PIN verified.
pub fn authenticator(
    platform: Platform,
    server_url: &str,
    server_key: Option<String>,
    device_name: &str,
) -> Result<Authenticator, Failure> {
    let config = AuthenticatorConfig {
        server_url: server_url.to_string(),
        server_public_key: server_key,
        trust_on_first_use: false,
        device_name: device_name.to_string(),
        verification: VerificationMethod::Pin,
        pin_policy: PinPolicy::default(),
    };
    Ok(Authenticator::new(config, platform)?)
}

/// This desktop "device": its data folder, the server it talks to and trusts, its name.
pub struct Device<'a> {
    /// The data folder (`--data-dir`).
    pub home: &'a Path,
    /// The server's base URL (`--server`).
    pub server_url: &'a str,
    /// The server key to trust (`--server-key`), if given.
    pub server_key: Option<&'a str>,
    /// The name it enrolls with (`--device-name`).
    pub name: &'a str,
}

impl Device<'_> {
    /// Its authenticator, with the PIN read from the terminal or stdin, trusting the given
    /// server key, else the key published by a reference server that keeps its data in this
    /// data folder (`ibkey server`: `<home>/server/server-key.pub`).
    pub fn open(&self, pin_stdin: bool) -> Result<Authenticator, Failure> {
        let platform = desktop_platform(
            &self.home.join("device"),
            Arc::new(TerminalVerifier::new(pin_stdin)),
            DIAGNOSTICS.get(),
        )?;
        let published = self.home.join("server").join(ibkey_server::PUBLIC_KEY_FILE);
        let server_key = self.server_key.map(str::to_string).or_else(|| {
            std::fs::read_to_string(published)
                .ok()
                .map(|key| key.trim().to_string())
        });
        authenticator(platform, self.server_url, server_key, self.name)
    }
}

/// Waits with tokio's timer.
struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, millis: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    }
}

/// This tool as a bundle describes it.
fn app_info() -> AppInfo {
    AppInfo {
        app_name: "ibkey-cli".to_string(),
        app_version: env!("CARGO_PKG_VERSION").to_string(),
        platform: "desktop".to_string(),
        os_version: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        device_model: "desktop".to_string(),
    }
}

/// Opens the diagnostics kept in `dir`, uploading to `server_url`.
pub fn open_diagnostics(dir: &Path, server_url: &str) -> Result<Diagnostics, Failure> {
    let mut config = DiagnosticsConfig::new(dir, server_url, app_info());
    config.recorded_targets.push("ibkey".to_string());
    Ok(Diagnostics::open(
        config,
        DiagnosticsServices {
            clock: Arc::new(SystemClock),
            http: Arc::new(http_transport()?),
            sleeper: Arc::new(TokioSleeper),
        },
    )?)
}

/// The app's diagnostics: the ones [`init_logging`] installed, else those in `home`.
pub fn app_diagnostics(home: &Path, server_url: &str) -> Result<Diagnostics, Failure> {
    match DIAGNOSTICS.get() {
        Some(diagnostics) => Ok(diagnostics.clone()),
        None => open_diagnostics(&home.join("diagnostics"), server_url),
    }
}

/// Sets up logging for this process: the core's diagnostics (files in the data folder,
/// standard error at `warn` or `debug`). With `IBKEY_LOG` set, or when the diagnostics
/// folder cannot be used, logs only go to standard error, filtered by `IBKEY_LOG`.
pub fn init_logging(data_dir: Option<PathBuf>, server_url: &str, verbose: bool) {
    let level = if verbose {
        LogLevel::Debug
    } else {
        LogLevel::Warn
    };
    if std::env::var_os("IBKEY_LOG").is_none() {
        let opened = data_home(data_dir)
            .and_then(|home| open_diagnostics(&home.join("diagnostics"), server_url));
        if let Ok(diagnostics) = opened {
            diagnostics.set_log_sink(Some(Arc::new(StderrLogSink)), level);
            if diagnostics.install_global().is_ok() {
                let _ = DIAGNOSTICS.set(diagnostics);
                return;
            }
        }
    }
    let filter = if verbose { "debug" } else { "warn" };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IBKEY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .try_init();
}

/// Notes a failed command in the log (the message holds no secrets).
pub fn note_failure(failure: &Failure) {
    tracing::info!("command failed: {failure}");
}
