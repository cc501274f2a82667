//! `ibkey demo`: the whole journey, as far as it is built — activation, login approval,
//! offline codes, the notification doctor, moving to a new phone, diagnostics — against a reference server started in-process on a free
//! loopback port with a temporary data folder. Each step says what happens and what came out;
//! the demo fails if any outcome is not the expected one. The login steps are in [`approval`]
//! and [`offline`], the doctor and the move in [`lifecycle`].

mod approval;
mod lifecycle;
mod offline;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ibkey_core::activation::{ActivationError, ActivationOutcome};
use ibkey_core::diagnostics::{BundleRequest, Diagnostics, LogMode, SendOutcome};
use ibkey_core::platform::{Clock, ScriptedVerifier, SystemClock};
use ibkey_core::{scan, ErrorCode};
use ibkey_protocol::activation::TicketResponse;
use ibkey_protocol::encoding::b64;
use ibkey_server::{AdjustableClock, ServerConfig, DEMO_PORTAL_PASSWORD};

use crate::accounts::{describe_outcome, read_qr_image};
use crate::diagnostics::send_with_progress;
use crate::failure::Failure;
use crate::format::human_bytes;
use crate::home;
use crate::portal::{request_ticket, start_server};

/// The PIN the scripted user chooses.
const DEMO_PIN: &str = "4829";
/// The name of the phone alice moves to.
const NEW_PHONE: &str = "Pixel 9";

/// The phone's clock in the demo: real time plus however far the demo moved the server's
/// clock ahead, so "six minutes later" holds for the phone too.
struct DemoTime(Arc<AdjustableClock>);

impl Clock for DemoTime {
    fn now_unix_ms(&self) -> i64 {
        let ahead = i64::try_from(self.0.offset().as_millis()).unwrap_or(i64::MAX);
        SystemClock.now_unix_ms().saturating_add(ahead)
    }

    fn uptime_ms(&self) -> u64 {
        let ahead = u64::try_from(self.0.offset().as_millis()).unwrap_or(u64::MAX);
        SystemClock.uptime_ms().saturating_add(ahead)
    }
}

/// Counts steps and whether each came out as expected.
struct Steps {
    number: u32,
    unexpected: u32,
}

impl Steps {
    fn begin(&mut self, title: &str) {
        self.number += 1;
        println!("\n{}. {title}", self.number);
    }

    fn note(&self, text: &str) {
        println!("   {text}");
    }

    /// Reports an activation result that should have succeeded.
    fn expect_ok(&mut self, result: Result<ActivationOutcome, ActivationError>, activated: bool) {
        match result {
            Ok(outcome) => {
                let fresh = matches!(outcome, ActivationOutcome::Activated { .. });
                self.verdict(fresh == activated, &describe_outcome(&outcome));
            }
            Err(e) => self.verdict(false, &format!("[{}] {e}", e.code())),
        }
    }

    /// Reports an activation result that should have failed with `code`.
    fn expect_error(&mut self, result: Result<ActivationOutcome, ActivationError>, code: &str) {
        match result {
            Ok(outcome) => self.verdict(false, &describe_outcome(&outcome)),
            Err(e) => self.verdict(e.code() == code, &format!("[{}] {e}", e.code())),
        }
    }

    fn verdict(&mut self, as_expected: bool, text: &str) {
        if as_expected {
            println!("   ✓ {text}");
        } else {
            self.unexpected += 1;
            println!("   ✗ unexpected: {text}");
        }
    }
}

/// Runs the demo; fails when any step did not come out as expected.
pub async fn run(serve_on: Option<SocketAddr>) -> Result<(), Failure> {
    let folder =
        tempfile::tempdir().map_err(|e| Failure::cli(format!("no temporary folder: {e}")))?;
    let clock = Arc::new(AdjustableClock::new());
    let server_config = ServerConfig {
        data_dir: folder.path().join("server"),
        clock: clock.clone(),
        ..ServerConfig::default()
    };
    let any_port: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = start_server(server_config, any_port).await?;
    let url = server.url();

    println!("ibkey demo: activating a phone and approving logins against the reference server");
    println!(
        "   server  {url} (data in {})",
        folder.path().join("server").display()
    );
    println!(
        "   phone   {} (PIN {DEMO_PIN}, typed by a script)",
        folder.path().join("device").display()
    );

    let user = Arc::new(ScriptedVerifier::always_pin(DEMO_PIN));
    let diagnostics = recorder(&folder.path().join("device-diagnostics"), &url)?;
    let mut platform = home::desktop_platform(
        &folder.path().join("device"),
        user.clone(),
        Some(&diagnostics),
    )?;
    let tap = approval::DecisionTap::new(platform.http.clone());
    platform.http = tap.clone();
    platform.clock = Arc::new(DemoTime(clock.clone()));
    let _phone_log = diagnostics.set_thread_default();
    let server_key = Some(b64(&server.public_key()));
    let phone = home::authenticator(platform, &url, server_key.clone(), "ibkey demo phone")?;
    let mut steps = Steps {
        number: 0,
        unexpected: 0,
    };

    steps.begin("alice signs in to the portal and asks to activate her phone");
    let alice = new_ticket(&url, "alice").await?;
    let alice_png = folder.path().join("alice-qr.png");
    std::fs::write(&alice_png, scan::render_png(&alice.qr_payload, 6)?)
        .map_err(|e| Failure::cli(e.to_string()))?;
    steps.note(&format!(
        "the portal shows a QR code and, under it, session ID {}",
        alice.session_id
    ));
    steps.note(&format!("QR code saved as {}", alice_png.display()));
    println!("{}", scan::render_terminal(&alice.qr_payload)?);

    steps.begin("the phone reads alice's QR code from the image and activates (first PIN chosen)");
    let scanned = read_qr_image(&alice_png)?;
    steps.note("QR code read from the PNG");
    steps.expect_ok(phone.activate_from_qr(&scanned).await, true);

    steps.begin("the camera still sees the same QR code a moment later");
    steps.expect_ok(phone.activate_from_qr(&scanned).await, false);

    steps.begin("bob signs in on the same computer; the phone types his session ID with a typo");
    let bob = new_ticket(&url, "bob").await?;
    steps.note(&format!("bob's session ID is {}", bob.session_id));
    let typo = with_typo_in_second_group(&bob.session_id);
    steps.note(&format!("typed: {typo}"));
    steps.expect_error(
        phone.activate_with_session_id(&typo).await,
        "ACT_SESSION_ID_MISTYPED",
    );

    steps.begin("bob's session ID typed again: lower case, no dashes, O for zero, l for one");
    let sloppy = bob
        .session_id
        .replace('-', "")
        .replace('0', "O")
        .replace('1', "l")
        .to_lowercase();
    steps.note(&format!("typed: {sloppy}"));
    steps.expect_ok(phone.activate_with_session_id(&sloppy).await, true);

    steps.begin("alice's QR code is scanned again, after bob was added");
    steps.expect_error(
        phone.activate_from_qr(&scanned).await,
        "ACT_ALREADY_ENROLLED",
    );

    steps.begin("bob's session ID is typed once more: the code was used");
    steps.expect_error(
        phone.activate_with_session_id(&bob.session_id).await,
        "ACT_CODE_USED",
    );

    steps.begin("carol gets a session ID but types it six minutes later");
    let carol = new_ticket(&url, "carol").await?;
    clock.advance(Duration::from_secs(6 * 60));
    steps.note("(the clocks move six minutes ahead; codes live five)");
    steps.expect_error(
        phone.activate_with_session_id(&carol.session_id).await,
        "ACT_CODE_EXPIRED",
    );

    steps.begin("the users on this phone");
    let accounts = phone.accounts()?;
    let names: Vec<&str> = accounts.iter().map(|a| a.username.as_str()).collect();
    steps.verdict(names == ["alice", "bob"], &names.join(", "));

    let open_copy = |dir: &Path| {
        let mut platform = home::desktop_platform(dir, user.clone(), None)?;
        platform.clock = Arc::new(DemoTime(clock.clone()));
        home::authenticator(
            platform,
            &url,
            server_key.clone(),
            "ibkey demo phone (restored copy)",
        )
    };
    let advance_clock = |by: Duration| clock.advance(by);
    let scene = approval::LoginScene {
        url: &url,
        phone: &phone,
        tap: &tap,
        folder: folder.path(),
        open_copy: &open_copy,
        advance_clock: &advance_clock,
    };
    approval::run(&mut steps, &scene).await?;
    offline::run(&mut steps, &url, &phone, "bob").await?;

    let server_dir = folder.path().join("server");
    lifecycle::doctor(&mut steps, &phone, &server_dir).await?;
    let mut new_platform =
        home::desktop_platform(&folder.path().join("new-phone"), user.clone(), None)?;
    new_platform.clock = Arc::new(DemoTime(clock.clone()));
    let new_phone = home::authenticator(new_platform, &url, server_key.clone(), NEW_PHONE)?;
    lifecycle::move_phone(
        &mut steps,
        &url,
        &server_dir,
        (&phone, &new_phone, NEW_PHONE),
        "alice",
    )
    .await?;

    steps.begin(
        "support asks for diagnostics: the phone uploads its extended log and network trace",
    );
    match upload(&diagnostics).await {
        Ok(reference) => steps.verdict(
            true,
            &format!("sent; the reference for support is {reference}"),
        ),
        Err(problem) => steps.verdict(false, &problem),
    }

    server.shutdown().await;
    if steps.unexpected > 0 {
        return Err(Failure::cli(format!(
            "{} of {} demo steps did not behave as expected",
            steps.unexpected, steps.number
        )));
    }
    println!(
        "\nDemo finished: all {} steps behaved as expected.",
        steps.number
    );
    match serve_on {
        Some(listen) => serve(&folder.path().join("server"), listen).await,
        None => Ok(()),
    }
}

/// Serves the portal on the demo's data, on real time (the walk-through moved its own clock
/// forward to expire codes), until Ctrl-C.
async fn serve(data_dir: &std::path::Path, listen: SocketAddr) -> Result<(), Failure> {
    let config = ServerConfig {
        data_dir: data_dir.to_path_buf(),
        ..ServerConfig::default()
    };
    let server = start_server(config, listen).await?;
    let url = server.url();
    println!("\nServing the portal until Ctrl-C:");
    println!("   sign in   {url}/portal/sign-in  (any user name, password {DEMO_PORTAL_PASSWORD})");
    println!(
        "   a phone   on USB: adb reverse tcp:{port} tcp:{port}; the app's server key is {key}",
        port = listen.port(),
        key = b64(&server.public_key())
    );
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

/// A ticket for `user`, signed in to the portal with the test users' password.
async fn new_ticket(url: &str, user: &str) -> Result<TicketResponse, Failure> {
    request_ticket(url, user, DEMO_PORTAL_PASSWORD).await
}

/// The demo phone's diagnostics: kept in `dir`, extended log on from the start.
fn recorder(dir: &Path, server_url: &str) -> Result<Diagnostics, Failure> {
    let diagnostics = home::open_diagnostics(dir, server_url)?;
    diagnostics.set_log_mode(LogMode::Extended)?;
    Ok(diagnostics)
}

/// The demo's last step: a bundle of the demo's own log and network trace, sent; returns
/// the reference, or what went wrong.
async fn upload(diagnostics: &Diagnostics) -> Result<String, String> {
    let request = BundleRequest {
        comment: "Demo run: activation of alice and bob, logins approved, denied and refused, with the expected errors.".to_string(),
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
    match send_with_progress(diagnostics, bundle)
        .await
        .map_err(|e| e.to_string())?
    {
        SendOutcome::Sent { reference, .. } => Ok(reference),
        SendOutcome::Queued { reason, .. } => Err(format!("not sent, queued: {reason}")),
    }
}

/// The session ID with one character of its second group changed.
fn with_typo_in_second_group(session_id: &str) -> String {
    let mut chars: Vec<char> = session_id.chars().collect();
    let position = 6;
    chars[position] = if chars[position] == 'X' { 'Y' } else { 'X' };
    chars.into_iter().collect()
}
