//! The demo's login steps: a login approved with number matching, one denied and reported as
//! fraud (the next one not notified), a login by QR code, a replayed decision, and an old copy
//! of the phone's data restored on another phone (refused as possibly cloned).

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ibkey_core::approval::{ApprovalError, ApprovalOutcome, LoginChallenge, NumberCheck};
use ibkey_core::platform::{HttpRequest, HttpResponse, HttpTransport, TransportError};
use ibkey_core::{scan, Authenticator, ErrorCode};
use ibkey_protocol::approval::{LoginState, LoginStatus};
use ibkey_server::portal_client::PendingLogin;
use ibkey_server::DEMO_PORTAL_PASSWORD;

use super::Steps;
use crate::accounts::read_qr_image;
use crate::failure::Failure;
use crate::login::{describe_challenge, describe_outcome};

/// The path of the endpoint that takes decisions.
const DECIDE_PATH: &str = "/v1/challenges/decide";

/// The phone's network, with a tap that keeps the last decision it sent, so the demo can
/// send it again as an attacker who recorded it would.
pub struct DecisionTap {
    inner: Arc<dyn HttpTransport>,
    last_decision: Mutex<Option<HttpRequest>>,
}

impl DecisionTap {
    /// Taps `inner`.
    pub fn new(inner: Arc<dyn HttpTransport>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            last_decision: Mutex::new(None),
        })
    }

    /// Sends the last decision again, byte for byte; gives the server's reply.
    async fn replay(&self) -> Result<HttpResponse, String> {
        let request = self
            .last_decision
            .lock()
            .map_err(|_| "tap poisoned".to_string())?
            .clone()
            .ok_or("no decision was sent")?;
        self.inner.send(request).await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl HttpTransport for DecisionTap {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if request.url.ends_with(DECIDE_PATH) {
            if let Ok(mut last) = self.last_decision.lock() {
                *last = Some(request.clone());
            }
        }
        self.inner.send(request).await
    }
}

/// What the login steps need.
pub struct LoginScene<'a> {
    /// The server's URL.
    pub url: &'a str,
    /// The phone.
    pub phone: &'a Authenticator,
    /// The phone's network tap.
    pub tap: &'a DecisionTap,
    /// The demo's folder (for the QR image and the copy of the phone's data).
    pub folder: &'a Path,
    /// Opens another phone over a copy of the data in the given folder.
    pub open_copy: &'a dyn Fn(&Path) -> Result<Authenticator, Failure>,
    /// Moves the server's clock ahead.
    pub advance_clock: &'a dyn Fn(std::time::Duration),
}

/// Runs the login steps.
pub async fn run(steps: &mut Steps, scene: &LoginScene<'_>) -> Result<(), Failure> {
    steps.begin("alice logs in to the Client Portal; her phone matches the number and approves");
    let login = start(scene.url, "alice").await?;
    let number = login.started().number;
    steps.note(&format!(
        "the login page shows the number {number}; {} device notified",
        login.started().devices_notified
    ));
    let challenge = waiting_login(scene.phone, "alice").await?;
    for line in describe_challenge(&challenge).lines() {
        steps.note(&format!("phone: {line}"));
    }
    let choices: Vec<String> = challenge.number_choices.iter().map(u8::to_string).collect();
    steps.note(&format!("the phone offers {}", choices.join(" / ")));
    let wrong = challenge
        .number_choices
        .iter()
        .copied()
        .find(|n| *n != number)
        .unwrap_or(0);
    match scene.phone.check_number(&challenge, wrong).await {
        Ok(NumberCheck::Wrong { attempts_left }) => steps.verdict(
            true,
            &format!("{wrong} picked first: wrong, {attempts_left} attempts left"),
        ),
        other => steps.verdict(false, &format!("{wrong} picked: {other:?}")),
    }
    let approved = scene.phone.approve(&challenge, Some(number)).await;
    expect_outcome(steps, approved);
    expect_login(steps, &login, LoginState::Approved).await?;

    steps.begin("someone else types alice's password; alice taps \"This wasn't me\"");
    let fraud = start(scene.url, "alice").await?;
    let challenge = waiting_login(scene.phone, "alice").await?;
    expect_outcome(steps, scene.phone.deny(&challenge, true).await);
    expect_login(steps, &fraud, LoginState::ReportedFraud).await?;
    let next = start(scene.url, "alice").await?;
    let muted = next.started().pushes_muted_until.is_some() && next.started().devices_notified == 0;
    steps.verdict(
        muted,
        "the next login for alice notifies no phone: notifications are paused for 20 minutes",
    );

    steps.begin("alice logs in with the QR code on the login page (works while paused)");
    let qr = next
        .qr_code()
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    let png = scene.folder.join("alice-login-qr.png");
    std::fs::write(&png, scan::render_png(&qr.qr_payload, 6)?)
        .map_err(|e| Failure::cli(e.to_string()))?;
    steps.note(&format!("login QR code saved as {}", png.display()));
    let scanned = read_qr_image(&png)?;
    let kind = scan::Scanner::new().scan_image(&std::fs::read(&png).unwrap_or_default());
    steps.note(&format!("the scanner reads it as {}", scan_kind(&kind)));
    match scene.phone.read_login_qr(scanned).await {
        Ok(challenge) => expect_outcome(steps, scene.phone.approve(&challenge, None).await),
        Err(e) => steps.verdict(false, &format!("[{}] {e}", e.code())),
    }
    expect_login(steps, &next, LoginState::Approved).await?;

    steps.begin("an attacker who recorded the phone's last decision sends it again");
    match scene.tap.replay().await {
        Ok(reply) => {
            let body = String::from_utf8_lossy(&reply.body).to_string();
            steps.verdict(
                reply.status == 409 || body.contains("challenge_used"),
                &format!("the server refuses it: HTTP {} {}", reply.status, body),
            );
        }
        Err(problem) => steps.verdict(false, &problem),
    }

    steps.begin("an old copy of alice's phone is restored on another phone, which answers a login");
    let copy = scene.folder.join("device-copy");
    copy_dir(&scene.folder.join("device"), &copy)?;
    steps.note("(the phone's data is copied now; the real phone then approves one more login)");
    (scene.advance_clock)(std::time::Duration::from_secs(21 * 60));
    steps.note("(twenty-one minutes later: notifications for alice are back on)");
    let one_more = start(scene.url, "alice").await?;
    let challenge = waiting_login(scene.phone, "alice").await?;
    expect_outcome(
        steps,
        scene
            .phone
            .approve(&challenge, Some(one_more.started().number))
            .await,
    );
    let clone = (scene.open_copy)(&copy)?;
    let stolen = start(scene.url, "alice").await?;
    let challenge = waiting_login(&clone, "alice").await?;
    let result = clone
        .approve(&challenge, Some(stolen.started().number))
        .await;
    match result {
        Err(e) => steps.verdict(
            e.code() == "APR_POSSIBLY_CLONED",
            &format!("[{}] {e}", e.code()),
        ),
        Ok(outcome) => steps.verdict(false, &describe_outcome(&outcome)),
    }
    expect_login(steps, &stolen, LoginState::PossiblyCloned).await?;
    Ok(())
}

/// The login page after alice (or `user`) typed the test password.
async fn start(url: &str, user: &str) -> Result<PendingLogin, Failure> {
    PendingLogin::start(url, user, DEMO_PORTAL_PASSWORD, None)
        .await
        .map_err(|e| Failure::cli(e.to_string()))
}

/// The first login waiting for `user` on `phone`, pulled as the app does when it opens.
async fn waiting_login(phone: &Authenticator, user: &str) -> Result<LoginChallenge, Failure> {
    phone
        .pending_logins()
        .await?
        .into_iter()
        .find(|c| c.username == user)
        .ok_or_else(|| Failure::cli(format!("no login waiting for {user} on the phone")))
}

/// Reports a decision that should have been taken.
fn expect_outcome(steps: &mut Steps, result: Result<ApprovalOutcome, ApprovalError>) {
    match result {
        Ok(outcome) => steps.verdict(true, &format!("phone: {}", describe_outcome(&outcome))),
        Err(e) => steps.verdict(false, &format!("[{}] {e}", e.code())),
    }
}

/// Reports what the login page shows now, which should be `expected`.
async fn expect_login(
    steps: &mut Steps,
    login: &PendingLogin,
    expected: LoginState,
) -> Result<LoginStatus, Failure> {
    let status = login
        .status(0)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    steps.verdict(
        status.state == expected,
        &format!("login page: {}", status.message),
    );
    Ok(status)
}

/// How the scanner classed an image.
fn scan_kind(result: &Result<scan::FrameResult, scan::ScanError>) -> &'static str {
    match result {
        Ok(scan::FrameResult::LoginCode { .. }) => "a login code",
        Ok(scan::FrameResult::Payload { .. }) => "an activation code",
        Ok(scan::FrameResult::ForeignCode) => "a foreign code",
        Ok(_) => "no code",
        Err(_) => "an unreadable image",
    }
}

/// Copies the files of `from` (one level: the device store) into `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::cli(format!("copying the phone's data: {e}"));
    std::fs::create_dir_all(to).map_err(fail)?;
    for entry in std::fs::read_dir(from).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        if entry.file_type().map_err(fail)?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(fail)?;
        }
    }
    Ok(())
}
