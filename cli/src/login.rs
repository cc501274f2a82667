//! Logging in with the phone: `ibkey login` acts as the bank's login page (the password typed,
//! then the number to match or the QR code, waiting for the phone's answer; or, offline, the
//! challenge to type into the phone and its response or a time-based code typed back),
//! `ibkey approve` as the phone approving (the waiting logins, the number, the PIN, the
//! decision), `ibkey respond` and `ibkey code` as the phone without a network, and `ibkey otp`
//! as any authenticator app reading an `otpauth://` URI.

use std::io::BufRead;
use std::path::Path;

use ibkey_core::approval::{ApprovalOutcome, Decision, LoginChallenge};
use ibkey_core::platform::{Clock, SystemClock};
use ibkey_core::{scan, Authenticator};
use ibkey_protocol::approval::{LoginState, LoginStatus};
use ibkey_server::portal_client::PendingLogin;

use crate::accounts::read_qr_image;
use crate::failure::Failure;
use crate::files::write_file;
use crate::format::format_utc;

/// What `ibkey login` was asked to do.
pub struct LoginArgs<'a> {
    /// The user logging in.
    pub user: &'a str,
    /// The portal password.
    pub password: &'a str,
    /// The application named on the phone.
    pub application: Option<&'a str>,
    /// Write the login QR code here (and print it) instead of relying on the notification.
    pub qr_out: Option<&'a Path>,
    /// Log in without the phone's network: challenge/response, or a time-based code.
    pub offline: Option<OfflineMode>,
}

/// How the login page takes a code from a phone that has no network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineMode {
    /// Show a challenge, take the phone's 8-digit response.
    ChallengeResponse,
    /// Take the phone's 6-digit time-based code.
    TimeCode,
}

/// `ibkey login`: starts a login, shows the number (or the QR code), waits for the phone and
/// succeeds only when the login went through.
pub async fn login(server_url: &str, args: LoginArgs<'_>) -> Result<(), Failure> {
    let login = PendingLogin::start(server_url, args.user, args.password, args.application)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    if let Some(mode) = args.offline {
        return login_offline(&login, args.user, mode).await;
    }
    let started = login.started();
    match started.pushes_muted_until {
        Some(until) => println!(
            "Login notifications for {} are paused until {} after a \"this wasn't me\" report: log in with the QR code (--qr-out).",
            args.user,
            format_utc(until)
        ),
        None => println!(
            "Password accepted. {} device(s) of {} were notified. On the phone, pick the number {}.",
            started.devices_notified, args.user, started.number
        ),
    }
    if let Some(path) = args.qr_out {
        let qr = login
            .qr_code()
            .await
            .map_err(|e| Failure::cli(e.to_string()))?;
        write_file(path, &scan::render_png(&qr.qr_payload, 8)?)?;
        println!("{}", scan::render_terminal(&qr.qr_payload)?);
        println!(
            "Or scan this QR code with the phone (written to {}).",
            path.display()
        );
    }
    println!(
        "Waiting for the phone (until {})…",
        format_utc(started.expires_at)
    );
    let status = login
        .wait_for_decision()
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    println!("{}", status.message);
    login_result(&status)
}

/// The offline half of `ibkey login`: the challenge shown (or not), the phone's answer read
/// from standard input, the verdict.
async fn login_offline(login: &PendingLogin, user: &str, mode: OfflineMode) -> Result<(), Failure> {
    let prompt = match mode {
        OfflineMode::ChallengeResponse => {
            let challenge = login
                .offline_challenge()
                .await
                .map_err(|e| Failure::cli(e.to_string()))?;
            println!(
                "Challenge for {user}: {}  (type it into the phone: `ibkey respond {user} \"{}\"`)",
                challenge.challenge, challenge.challenge
            );
            "Response from the phone: "
        }
        OfflineMode::TimeCode => "Code from the phone (`ibkey code USER`): ",
    };
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::cli(format!("could not read the answer: {e}")))?;
    let answer = line.trim();
    let status = match mode {
        OfflineMode::ChallengeResponse => login.submit_response(answer).await,
        OfflineMode::TimeCode => login.submit_time_code(answer).await,
    }
    .map_err(|e| Failure::cli(e.to_string()))?;
    println!("{}", status.message);
    login_result(&status)
}

/// Success only for an approved login.
fn login_result(status: &LoginStatus) -> Result<(), Failure> {
    if status.state == LoginState::Approved {
        Ok(())
    } else {
        Err(Failure::cli(format!(
            "the login did not go through ({})",
            status.message
        )))
    }
}

/// What `ibkey approve` was asked to do.
pub struct ApproveArgs<'a> {
    /// Deny instead of approving.
    pub deny: bool,
    /// Deny and report as fraud ("this wasn't me").
    pub report_fraud: bool,
    /// The number shown on the login page, when given on the command line.
    pub number: Option<u8>,
    /// A picture of the login page's QR code, instead of the waiting logins.
    pub qr: Option<&'a Path>,
    /// Only this user's logins.
    pub user: Option<&'a str>,
}

/// `ibkey approve`: lists the logins waiting (or reads the login QR), and decides the first.
pub async fn approve(authenticator: &Authenticator, args: ApproveArgs<'_>) -> Result<(), Failure> {
    let challenge = match args.qr {
        Some(image) => authenticator.read_login_qr(read_qr_image(image)?).await?,
        None => {
            let waiting: Vec<LoginChallenge> = authenticator
                .pending_logins()
                .await?
                .into_iter()
                .filter(|c| args.user.is_none_or(|u| c.username == u))
                .collect();
            if waiting.is_empty() {
                return Err(Failure::cli(
                    "No login is waiting for this device. Start one on the login page (`ibkey login --user NAME`), then run this again.",
                ));
            }
            for challenge in &waiting {
                println!("{}", describe_challenge(challenge));
            }
            waiting
                .into_iter()
                .next()
                .ok_or_else(|| Failure::cli("no login"))?
        }
    };
    if args.qr.is_some() {
        println!("{}", describe_challenge(&challenge));
    }
    let outcome = if args.deny || args.report_fraud {
        authenticator.deny(&challenge, args.report_fraud).await?
    } else {
        let number = match (args.number, challenge.number_choices.is_empty()) {
            (_, true) => None,
            (Some(number), false) => Some(number),
            (None, false) => Some(ask_number(&challenge)?),
        };
        authenticator.approve(&challenge, number).await?
    };
    println!("{}", describe_outcome(&outcome));
    Ok(())
}

/// Asks which of the challenge's numbers the login page shows.
fn ask_number(challenge: &LoginChallenge) -> Result<u8, Failure> {
    let choices: Vec<String> = challenge.number_choices.iter().map(u8::to_string).collect();
    eprint!(
        "Which number does the login page show? {}: ",
        choices.join(" / ")
    );
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(n) if n > 0 => line.trim().parse().map_err(|_| {
            Failure::cli(format!(
                "\"{}\" is not a number: type one of {}",
                line.trim(),
                choices.join(", ")
            ))
        }),
        _ => Err(Failure::cli("no number given: pass --number N or type it")),
    }
}

/// The lines the phone shows for a login waiting for approval.
pub fn describe_challenge(challenge: &LoginChallenge) -> String {
    let ctx = &challenge.context;
    format!(
        "Login for {} to {}\n  from {} ({}), {}\n  at {}; answer within {} s",
        challenge.username,
        ctx.application,
        ctx.location,
        ctx.ip_address,
        ctx.browser,
        format_utc(ctx.login_time),
        challenge.seconds_left.max(0)
    )
}

/// One line saying what the server took.
pub fn describe_outcome(outcome: &ApprovalOutcome) -> String {
    let what = match outcome.decision {
        Decision::Approve => "approved",
        Decision::Deny => "denied",
        Decision::ReportFraud => "denied and reported as fraud",
        Decision::WrongNumber => "refused (the number was picked wrong three times)",
    };
    format!(
        "Login of {} {what} (server time {}).",
        outcome.username,
        format_utc(outcome.decided_at)
    )
}

/// `ibkey respond`: the 8-digit response to a login page's challenge, after the PIN.
pub async fn respond(
    authenticator: &Authenticator,
    user: &str,
    challenge: &str,
) -> Result<(), Failure> {
    let answer = authenticator.respond(user, challenge).await?;
    let (head, tail) = answer.response.split_at(answer.response.len() / 2);
    println!("Response for {}: {head} {tail}", answer.username);
    Ok(())
}

/// `ibkey code`: the user's current time-based code, after the PIN.
pub async fn time_code(authenticator: &Authenticator, user: &str) -> Result<(), Failure> {
    let code = authenticator.time_code(user).await?;
    println!(
        "Code for {}: {} (good for {} more seconds)",
        code.username, code.code, code.seconds_left
    );
    Ok(())
}

/// `ibkey otp`: the code of an `otpauth://` URI at `time` (now when not given).
pub fn otp(uri: &str, time: Option<i64>) -> Result<(), Failure> {
    let now = time.unwrap_or_else(|| SystemClock.now_unix_ms().div_euclid(1000));
    let code = ibkey_core::codes::otp_code(uri, now)?;
    let who = match &code.issuer {
        Some(issuer) => format!("{issuer}: {}", code.account),
        None => code.account.clone(),
    };
    match (code.seconds_left, code.counter) {
        (Some(left), _) => println!("{} ({who}; {left} s left)", code.code),
        (None, Some(counter)) => println!("{} ({who}; counter {counter})", code.code),
        (None, None) => println!("{} ({who})", code.code),
    }
    Ok(())
}
