//! The demo's later-life steps: the notification doctor on a broken and then a healthy
//! phone (with a test notification's round trip), and alice moving IB Key to a new phone,
//! after which the old phone is told when and where her account went.

use std::path::Path;
use std::time::Instant;

use ibkey_core::activation::ActivationOutcome;
use ibkey_core::lifecycle::{IncomingNotification, NotificationSettings};
use ibkey_core::{Authenticator, ErrorCode};
use ibkey_protocol::approval::LoginState;
use ibkey_server::portal_client::{PendingLogin, PortalClient};
use ibkey_server::DEMO_PORTAL_PASSWORD;

use super::Steps;
use crate::accounts::describe_outcome;
use crate::failure::Failure;
use crate::lifecycle::report_text;

/// What the phone's settings screens say, as an Android shell reads them.
fn settings(allowed: bool) -> NotificationSettings {
    NotificationSettings {
        platform: "android".into(),
        notifications_allowed: Some(allowed),
        channel_enabled: Some(true),
        battery_optimized: Some(false),
        background_restricted: Some(false),
        ..NotificationSettings::default()
    }
}

/// Runs the doctor steps on `phone`, whose pushes the server in `server_dir` records.
pub async fn doctor(
    steps: &mut Steps,
    phone: &Authenticator,
    server_dir: &Path,
) -> Result<(), Failure> {
    steps.begin("alice says notifications never arrive: the phone's notification doctor");
    steps.note("(notifications turned off for the app, and no push token registered yet)");
    let report = phone.notification_doctor(settings(false), None).await?;
    print_indented(&report_text(&report));
    steps.verdict(
        !report.healthy,
        "the doctor found what stops notifications, each with its fix",
    );

    steps.begin("notifications allowed, the push token registered, a test notification sent");
    phone
        .register_push_token("fcm".into(), "demo-fcm-token".into())
        .await?;
    let test = phone.send_test_notification().await?;
    let payload = ibkey_server::recorded_pushes(server_dir)
        .map_err(|e| Failure::cli(e.to_string()))?
        .into_iter()
        .rev()
        .find(|p| p.payload.contains(&test.id))
        .ok_or_else(|| Failure::cli("the test notification was not sent"))?
        .payload;
    match phone.read_notification(payload.into_bytes()).await? {
        IncomingNotification::Test { delay_ms } => steps.note(&format!(
            "the test notification arrived after {} ms",
            delay_ms.unwrap_or_default()
        )),
        IncomingNotification::Login { .. } => {
            steps.verdict(false, "a test notification read as a login")
        }
    }
    let report = phone
        .notification_doctor(settings(true), Some("demo-fcm-token".into()))
        .await?;
    print_indented(&report_text(&report));
    steps.verdict(report.healthy, "every check passes");
    Ok(())
}

/// Moves `user` from `old` to `new` (named `new_name`), and shows the old phone told.
pub async fn move_phone(
    steps: &mut Steps,
    url: &str,
    server_dir: &Path,
    (old, new, new_name): (&Authenticator, &Authenticator, &str),
    user: &str,
) -> Result<(), Failure> {
    steps.begin(&format!(
        "{user} moves IB Key to her new phone: the portal sends a code by e-mail, she types it"
    ));
    let portal = PortalClient::sign_in(url, user, DEMO_PORTAL_PASSWORD)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    let started = portal
        .start_move()
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    let code = ibkey_server::recorded_out_of_band(server_dir)
        .map_err(|e| Failure::cli(e.to_string()))?
        .into_iter()
        .rev()
        .find(|m| m.username == user)
        .ok_or_else(|| Failure::cli("no code was sent"))?
        .code;
    steps.note(&format!(
        "code sent to {}; moving replaces {}",
        started.sent_to,
        started.replaces.join(", ")
    ));
    let moving = Instant::now();
    let ticket = portal
        .confirm_move(&code)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    let request = new.inspect_qr(&ticket.qr_payload).await?;
    steps.note(&format!(
        "the new phone scans the move QR code: it will replace {}",
        request.replaces.join(", ")
    ));
    let outcome = new.activate_from_qr(&ticket.qr_payload).await?;
    let took = moving.elapsed();
    steps.verdict(
        matches!(outcome, ActivationOutcome::Moved { .. }),
        &format!(
            "{} (code typed to new phone enrolled: {} ms)",
            describe_outcome(&outcome),
            took.as_millis()
        ),
    );

    steps.begin("the old phone opens and pulls its logins");
    let pulled = old.pending_logins().await;
    let notices = old.take_move_notices()?;
    let remaining: Vec<String> = old.accounts()?.into_iter().map(|a| a.username).collect();
    match notices.first() {
        Some(notice) => {
            steps.note(&notice.message);
            steps.verdict(
                notice.username == user
                    && notice.to_device == new_name
                    && !remaining.iter().any(|u| u == user),
                &format!(
                    "{user} is gone from the old phone (left: {}); pull: {}",
                    remaining.join(", "),
                    match &pulled {
                        Ok(logins) => format!("{} waiting", logins.len()),
                        Err(e) => e.code().to_string(),
                    }
                ),
            );
        }
        None => steps.verdict(false, "the old phone was not told"),
    }

    steps.begin(&format!(
        "{user} logs in: only the new phone is asked, and approves"
    ));
    let login = PendingLogin::start(url, user, DEMO_PORTAL_PASSWORD, None)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    let waiting = new.pending_logins().await?;
    let Some(challenge) = waiting.first() else {
        steps.verdict(false, "no login waiting on the new phone");
        return Ok(());
    };
    new.approve(challenge, Some(login.started().number)).await?;
    let status = login
        .wait_for_decision()
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    steps.verdict(
        status.state == LoginState::Approved && login.started().devices_notified == 1,
        &format!(
            "{} phone notified; login page: {}",
            login.started().devices_notified,
            status.message
        ),
    );
    Ok(())
}

fn print_indented(text: &str) {
    for line in text.lines() {
        println!("     {line}");
    }
}
