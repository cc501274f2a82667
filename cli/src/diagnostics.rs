//! `ibkey diagnostics`: what a user does when support asks for an upload: preview the bundle,
//! send it (with a progress bar), look at and flush the outbox, switch the log mode.
//!
//! Every `ibkey` command logs through the core's diagnostics (installed by [`init_logging`]):
//! lines go to standard error at `warn` (`debug` with `--verbose`), and the core's and this
//! tool's lines are kept in `<data dir>/diagnostics/logs/`, one file a day for 7 days. The
//! log mode chosen here (`--debug`, `--extended`, `ibkey diagnostics mode`) stays on for
//! later commands; in extended mode the device commands also record their HTTP exchanges.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use clap::{Args, Subcommand, ValueEnum};
use ibkey_core::diagnostics::{
    AppInfo, BundlePreview, BundleRequest, Diagnostics, DiagnosticsConfig, DiagnosticsServices,
    FlushReport, LogMode, PreparedBundle, Screenshot, SendOutcome, Sleeper, UploadProgress,
};
use ibkey_core::platform::{HttpTransport, LogLevel, ReqwestTransport, StderrLogSink, SystemClock};
use indicatif::{ProgressBar, ProgressStyle};

use crate::failure::Failure;

/// The diagnostics of this process, once [`init_logging`] opened them.
static DIAGNOSTICS: OnceLock<Diagnostics> = OnceLock::new();

/// `ibkey diagnostics …`.
#[derive(Subcommand)]
pub enum DiagnosticsCommand {
    /// Show exactly what an upload would send (files, sizes, manifest); sends nothing.
    Preview(BundleArgs),
    /// Build a bundle and send it to the server; without a connection it waits in the outbox.
    Upload(BundleArgs),
    /// List the bundles waiting to be sent and try to send them; show recent references.
    Outbox,
    /// Show the log mode, or set it for later commands.
    Mode {
        /// The new mode.
        mode: Option<ModeArg>,
    },
}

/// The log modes, as typed.
#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// What happened and what came of it.
    Normal,
    /// Adds each server request and reply.
    Debug,
    /// Adds everything, and a network trace (HAR) of the device's HTTP exchanges.
    Extended,
}

/// What goes into a bundle.
#[derive(Args)]
pub struct BundleArgs {
    /// What happened, in your words.
    #[arg(long, default_value = "")]
    comment: String,
    /// Your username, if you want support to know it.
    #[arg(long)]
    username: Option<String>,
    /// A PNG or JPEG screenshot to attach (repeat for more).
    #[arg(long, value_name = "FILE")]
    screenshot: Vec<PathBuf>,
    /// Turn debug mode on (for this and later commands).
    #[arg(long)]
    debug: bool,
    /// Turn the extended log on (for this and later commands) and include the network trace.
    #[arg(long)]
    extended: bool,
    /// Days of logs: 1 for today, N for today and the N-1 days before.
    #[arg(long, default_value_t = 1)]
    days: u32,
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
pub fn open_at(dir: &Path, server_url: &str) -> Result<Diagnostics, Failure> {
    let mut config = DiagnosticsConfig::new(dir, server_url, app_info());
    config.recorded_targets.push("ibkey".to_string());
    let http = ReqwestTransport::new()
        .map_err(|e| Failure::cli(format!("HTTP client could not start: {e}")))?;
    Ok(Diagnostics::open(
        config,
        DiagnosticsServices {
            clock: Arc::new(SystemClock),
            http: Arc::new(http),
            sleeper: Arc::new(TokioSleeper),
        },
    )?)
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
        let opened = crate::device::data_home(data_dir)
            .and_then(|home| open_at(&home.join("diagnostics"), server_url));
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

/// The device's transport, recording its exchanges while the extended log is on.
pub fn recorded(http: Arc<dyn HttpTransport>) -> Arc<dyn HttpTransport> {
    match DIAGNOSTICS.get() {
        Some(diagnostics) => diagnostics.recording_transport(http),
        None => http,
    }
}

/// Notes a failed command in the log (the message holds no secrets).
pub fn note_failure(failure: &Failure) {
    tracing::info!("command failed: {failure}");
}

/// Runs `ibkey diagnostics …`.
pub async fn run(
    home: &Path,
    server_url: &str,
    command: DiagnosticsCommand,
) -> Result<(), Failure> {
    let diagnostics = match DIAGNOSTICS.get() {
        Some(d) => d.clone(),
        None => open_at(&home.join("diagnostics"), server_url)?,
    };
    match command {
        DiagnosticsCommand::Preview(args) => {
            let bundle = prepare(&diagnostics, &args)?;
            print_preview(bundle.preview(), true);
            println!(
                "\nNothing was sent. Send it with `ibkey diagnostics upload` and the same options."
            );
            Ok(())
        }
        DiagnosticsCommand::Upload(args) => {
            let bundle = prepare(&diagnostics, &args)?;
            print_preview(bundle.preview(), false);
            let outcome = send(&diagnostics, bundle).await?;
            print_outcome(&outcome);
            if matches!(outcome, SendOutcome::Sent { .. }) && !diagnostics.outbox()?.is_empty() {
                println!("Sending bundles that were waiting in the outbox:");
                print_flush(&flush(&diagnostics).await?);
            }
            Ok(())
        }
        DiagnosticsCommand::Outbox => {
            let waiting = diagnostics.outbox()?;
            if waiting.is_empty() {
                println!("No bundles wait to be sent.");
            } else {
                println!("{} bundle(s) wait to be sent:", waiting.len());
                for entry in &waiting {
                    println!(
                        "  {}  {}  {}  {}",
                        entry.bundle_id,
                        entry.created_at,
                        human_bytes(entry.size),
                        one_line(&entry.comment)
                    );
                }
                print_flush(&flush(&diagnostics).await?);
            }
            let sent = diagnostics.sent_history();
            if !sent.is_empty() {
                println!("Recently sent (quote the reference to support):");
                for s in sent.iter().rev().take(5) {
                    println!("  {}  {}  bundle {}", s.reference, s.sent_at, s.bundle_id);
                }
            }
            Ok(())
        }
        DiagnosticsCommand::Mode { mode } => {
            if let Some(mode) = mode {
                diagnostics.set_log_mode(log_mode(mode))?;
            }
            println!(
                "Log mode: {} (logs in {})",
                mode_name(diagnostics.log_mode()),
                diagnostics.logs_dir().display()
            );
            Ok(())
        }
    }
}

fn log_mode(mode: ModeArg) -> LogMode {
    match mode {
        ModeArg::Normal => LogMode::Normal,
        ModeArg::Debug => LogMode::Debug,
        ModeArg::Extended => LogMode::Extended,
    }
}

fn mode_name(mode: LogMode) -> &'static str {
    match mode {
        LogMode::Normal => "normal",
        LogMode::Debug => "debug",
        LogMode::Extended => "extended (with network trace)",
    }
}

/// Switches the mode the flags ask for and builds the bundle.
fn prepare(diagnostics: &Diagnostics, args: &BundleArgs) -> Result<PreparedBundle, Failure> {
    let wanted = if args.extended {
        Some(LogMode::Extended)
    } else if args.debug {
        Some(LogMode::Debug)
    } else {
        None
    };
    if let Some(mode) = wanted {
        if diagnostics.log_mode() != mode {
            diagnostics.set_log_mode(mode)?;
            println!(
                "Log mode is now {} for later ibkey commands (`ibkey diagnostics mode normal` turns it back).",
                mode_name(mode)
            );
        }
    }
    let mut screenshots = Vec::new();
    for path in &args.screenshot {
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::cli(format!("cannot read {}: {e}", path.display())))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "screenshot".to_string());
        screenshots.push(Screenshot { name, bytes });
    }
    let request = BundleRequest {
        comment: args.comment.clone(),
        username: args.username.clone(),
        screenshots,
        days: args.days.max(1),
        include_network_trace: args.extended || diagnostics.log_mode() == LogMode::Extended,
    };
    Ok(diagnostics.prepare_bundle(&request)?)
}

/// Lists a bundle's files, and its manifest when `full`.
pub fn print_preview(preview: &BundlePreview, full: bool) {
    println!(
        "Diagnostics bundle {}: {} to send (zip), holding:",
        preview.bundle_id,
        human_bytes(preview.total_bytes)
    );
    for file in &preview.files {
        println!("  {:<40} {:>10}", file.path, human_bytes(file.size));
    }
    if full {
        println!("\nmanifest.json:\n{}", preview.manifest_json);
    }
}

/// A terminal progress bar for uploads.
struct Bar(ProgressBar);

impl UploadProgress for Bar {
    fn on_progress(&self, _bundle_id: String, sent_bytes: u64, total_bytes: u64) {
        self.0.set_length(total_bytes);
        self.0.set_position(sent_bytes);
    }
}

fn progress_bar() -> Arc<Bar> {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("  sending [{bar:32}] {bytes}/{total_bytes} ({bytes_per_sec})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    Arc::new(Bar(bar))
}

/// Sends a bundle with a progress bar.
pub async fn send(
    diagnostics: &Diagnostics,
    bundle: PreparedBundle,
) -> Result<SendOutcome, Failure> {
    let bar = progress_bar();
    let outcome = diagnostics.send(&bundle, Some(bar.clone())).await;
    bar.0.finish_and_clear();
    Ok(outcome?)
}

async fn flush(diagnostics: &Diagnostics) -> Result<FlushReport, Failure> {
    let bar = progress_bar();
    let report = diagnostics.flush_outbox(Some(bar.clone())).await;
    bar.0.finish_and_clear();
    Ok(report?)
}

fn print_outcome(outcome: &SendOutcome) {
    match outcome {
        SendOutcome::Sent { reference, .. } => {
            println!("Sent. Your reference is {reference}: quote it to support.");
        }
        SendOutcome::Queued { bundle_id, reason } => println!(
            "The server could not be reached ({reason}). Bundle {bundle_id} waits in the outbox; send it with `ibkey diagnostics outbox` once you are online."
        ),
    }
}

fn print_flush(report: &FlushReport) {
    for sent in &report.sent {
        println!("  sent {}: reference {}", sent.bundle_id, sent.reference);
    }
    if !report.waiting.is_empty() {
        println!(
            "  {} bundle(s) still wait: the server could not be reached. Try again later.",
            report.waiting.len()
        );
    }
    for refused in &report.refused {
        println!("  refused: {refused}");
    }
}

fn one_line(text: &str) -> String {
    let line: String = text.chars().take(60).collect();
    line.replace(['\n', '\r'], " ")
}

fn human_bytes(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// The demo phone's diagnostics: kept in `dir`, extended log on from the start.
pub fn demo_recorder(dir: &Path, server_url: &str) -> Result<Diagnostics, Failure> {
    let diagnostics = open_at(dir, server_url)?;
    diagnostics.set_log_mode(LogMode::Extended)?;
    Ok(diagnostics)
}

/// The demo's last step: a bundle of the demo's own log and network trace, sent; returns
/// the reference, or what went wrong.
pub async fn demo_upload(diagnostics: &Diagnostics) -> Result<String, String> {
    let request = BundleRequest {
        comment: "Demo run: activation of alice and bob, with the expected errors.".to_string(),
        username: Some("alice".to_string()),
        screenshots: Vec::new(),
        days: 1,
        include_network_trace: true,
    };
    let bundle = diagnostics
        .prepare_bundle(&request)
        .map_err(|e| e.to_string())?;
    for file in &bundle.preview().files {
        println!("   {:<36} {:>10}", file.path, human_bytes(file.size));
    }
    match send(diagnostics, bundle).await.map_err(|e| e.to_string())? {
        SendOutcome::Sent { reference, .. } => Ok(reference),
        SendOutcome::Queued { reason, .. } => Err(format!("not sent, queued: {reason}")),
    }
}
