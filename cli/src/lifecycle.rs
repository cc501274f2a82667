//! A phone's later life on the command line: `ibkey move` (the portal's "Move IB Key to a
//! new phone"), `ibkey outbox` (the reference notifier's messages: what the user's inbox
//! would show), `ibkey recover` (the phone restoring accounts whose keys it kept) and
//! `ibkey doctor` (the notification checklist).

use std::path::Path;

use ibkey_core::lifecycle::{CheckStatus, DoctorReport, NotificationSettings};
use ibkey_core::{scan, Authenticator};
use ibkey_server::portal_client::PortalClient;

use crate::failure::Failure;
use crate::files::write_file;
use crate::format::format_utc;

/// `ibkey move`: without `code`, asks for the move (a code is sent out of band); with it,
/// trades the code for the move ticket and shows it like `ibkey ticket`.
pub async fn move_to_new_phone(
    server_url: &str,
    user: &str,
    password: &str,
    code: Option<&str>,
    qr_out: Option<&Path>,
) -> Result<(), Failure> {
    let portal = PortalClient::sign_in(server_url, user, password)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    let Some(code) = code else {
        let started = portal
            .start_move()
            .await
            .map_err(|e| Failure::cli(e.to_string()))?;
        println!(
            "A code was sent to {} (valid until {}). Moving replaces: {}.",
            started.sent_to,
            format_utc(started.expires_at),
            started.replaces.join(", ")
        );
        println!("Read it with `ibkey outbox --user {user}`, then run `ibkey move --user {user} --code CODE`.");
        return Ok(());
    };
    let ticket = portal
        .confirm_move(code)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    println!("{}", scan::render_terminal(&ticket.qr_payload)?);
    println!("Session ID: {}", ticket.session_id);
    println!("Valid until {}", format_utc(ticket.expires_at));
    println!("Scan it with the new phone: the old one stops approving {user}'s logins at once.");
    if let Some(path) = qr_out {
        write_file(path, &scan::render_png(&ticket.qr_payload, 8)?)?;
        println!("QR code written to {}", path.display());
    }
    Ok(())
}

/// `ibkey outbox`: the latest code the reference server sent `user` (from its data folder).
pub fn outbox(home: &Path, user: &str) -> Result<(), Failure> {
    let messages = ibkey_server::recorded_out_of_band(&home.join("server"))
        .map_err(|e| Failure::cli(e.to_string()))?;
    let Some(latest) = messages.into_iter().rev().find(|m| m.username == user) else {
        return Err(Failure::cli(format!(
            "no code was sent to {user} (ask for one with `ibkey move` or `ibkey recover`)"
        )));
    };
    println!("code: {}", latest.code);
    println!("purpose: {}", latest.purpose);
    println!("sent to: {}", latest.destination);
    println!("at: {}", format_utc(latest.created_at));
    Ok(())
}

/// `ibkey recover`: without `code`, finds what can be recovered (codes are sent); with
/// `user` and `code`, restores that user.
pub async fn recover(
    authenticator: &Authenticator,
    user: Option<&str>,
    code: Option<&str>,
) -> Result<(), Failure> {
    if let (Some(user), Some(code)) = (user, code) {
        let account = authenticator.recover_account(user, code).await?;
        println!(
            "Recovered: {} is enrolled on this device again.",
            account.username
        );
        return Ok(());
    }
    let offer = authenticator.find_recoverable_accounts().await?;
    for account in &offer.recoverable {
        println!(
            "{} can be recovered (activated as '{}' on {}): a code was sent to {}, valid until {}.",
            account.username,
            account.device_name,
            format_utc(account.enrolled_at),
            account.code_sent_to,
            format_utc(account.code_expires_at)
        );
    }
    for lost in &offer.lost {
        println!("Cannot be recovered: {}.", lost.reason);
    }
    println!("Then run `ibkey recover --user USER --code CODE` for each.");
    Ok(())
}

/// `ibkey doctor`: on the desktop no platform setting can be read, so those checks are
/// unknown; with `test_notification`, a test notification is asked for first.
pub async fn doctor(
    authenticator: &Authenticator,
    json: bool,
    test_notification: bool,
) -> Result<(), Failure> {
    if test_notification {
        let test = authenticator.send_test_notification().await?;
        println!("Test notification {} sent.", test.id);
    }
    let settings = NotificationSettings {
        platform: "desktop".into(),
        ..NotificationSettings::default()
    };
    let report = authenticator.notification_doctor(settings, None).await?;
    if json {
        println!("{}", report_json(&report));
    } else {
        print!("{}", report_text(&report));
    }
    Ok(())
}

fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "pass",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Unknown => "unknown",
    }
}

/// The report as a person reads it: one line a check, the fix under each failure.
pub fn report_text(report: &DoctorReport) -> String {
    let mut text = String::new();
    for check in &report.checks {
        text.push_str(&format!(
            "{:<8} {:<42} {}\n",
            status_word(check.status),
            check.title,
            check.measured
        ));
        if !check.fix.is_empty() && check.status == CheckStatus::Fail {
            text.push_str(&format!("         fix: {}\n", check.fix));
        }
    }
    text.push_str(if report.healthy {
        "Nothing stops notifications from arriving.\n"
    } else {
        "Fix the failed checks above, then run the check again.\n"
    });
    text
}

fn report_json(report: &DoctorReport) -> serde_json::Value {
    let checks: Vec<serde_json::Value> = report
        .checks
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "title": c.title,
                "status": status_word(c.status).to_lowercase(),
                "measured": c.measured,
                "fix": c.fix,
            })
        })
        .collect();
    serde_json::json!({
        "healthy": report.healthy,
        "ran_at": report.ran_at,
        "checks": checks,
    })
}
