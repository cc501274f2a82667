//! `ibkey diagnostics`: what a user does when support asks for an upload: preview the bundle,
//! send it (with a progress bar), look at and flush the outbox, switch the log mode.
//!
//! The log mode chosen here (`--debug`, `--extended`, `ibkey diagnostics mode`) stays on for
//! later commands; in extended mode the device commands also record their HTTP exchanges
//! (see [`crate::home`] for where the logs go).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use ibkey_core::diagnostics::{
    BundlePreview, BundleRequest, Diagnostics, FlushReport, LogMode, PreparedBundle, Screenshot,
    SendOutcome, UploadProgress,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::failure::Failure;
use crate::files::read_file;
use crate::format::human_bytes;
use crate::home::app_diagnostics;

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

/// Runs `ibkey diagnostics …`.
pub async fn run(
    home: &Path,
    server_url: &str,
    command: DiagnosticsCommand,
) -> Result<(), Failure> {
    let diagnostics = app_diagnostics(home, server_url)?;
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
            let outcome = send_with_progress(&diagnostics, bundle).await?;
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
        let bytes = read_file(path)?;
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
fn print_preview(preview: &BundlePreview, full: bool) {
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
pub async fn send_with_progress(
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

/// The start of a comment, on one line.
fn one_line(text: &str) -> String {
    let line: String = text.chars().take(60).collect();
    line.replace(['\n', '\r'], " ")
}
