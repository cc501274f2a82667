//! A phone's life after activation, end to end: moving IB Key to a new phone (the old one
//! refused everywhere and told why), recovering accounts after a reinstall or lost data, and
//! the notification doctor on healthy and broken setups. Real server on loopback with its
//! SQLite file (the out-of-band codes and pushes its reference senders record there), real
//! encrypted stores, software keys; only the person, the clock and what the platform reports
//! about its notification settings are scripted.

#![allow(clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ibkey_core::lifecycle::{
    CheckStatus, DoctorReport, IncomingNotification, NotificationSettings, RecoveryError,
};
use ibkey_core::platform::{
    HttpRequest, HttpResponse, HttpTransport, PinPurpose, ReqwestTransport, TransportError,
};
use ibkey_core::{ActivationOutcome, ApprovalError, Decision, ErrorCode, LoginChallenge};
use ibkey_e2e::{Phone, World, TEST_PIN};
use ibkey_protocol::activation::{sign_token, ErrorBody, ErrorResponse, TicketResponse};
use ibkey_protocol::approval::LoginState;
use ibkey_protocol::lifecycle::{codes, MovedClaims, MOVED_TYPE};
use ibkey_server::portal_client::{PendingLogin, PortalClient};
use ibkey_server::DEMO_PORTAL_PASSWORD;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// The latest one-time code the server sent `user` out of band.
fn latest_code(world: &World, user: &str) -> String {
    ibkey_server::recorded_out_of_band(&world.dir.path().join("server"))
        .expect("recorded codes")
        .into_iter()
        .rev()
        .find(|m| m.username == user)
        .expect("a code for the user")
        .code
}

/// `user` asks the portal to move IB Key and types back the code sent out of band.
async fn move_ticket(world: &World, user: &str) -> TicketResponse {
    let portal = PortalClient::sign_in(&world.url(), user, DEMO_PORTAL_PASSWORD)
        .await
        .expect("sign-in");
    portal.start_move().await.expect("move started");
    portal
        .confirm_move(&latest_code(world, user))
        .await
        .expect("move ticket")
}

async fn login(world: &World, user: &str) -> PendingLogin {
    PendingLogin::start(&world.url(), user, DEMO_PORTAL_PASSWORD, None)
        .await
        .expect("login started")
}

/// The payload of the last push the server recorded for `user`.
fn last_push(world: &World, user: &str) -> Vec<u8> {
    ibkey_server::recorded_pushes(&world.dir.path().join("server"))
        .expect("recorded pushes")
        .into_iter()
        .rev()
        .find(|p| p.username == user)
        .expect("a push for the user")
        .payload
        .into_bytes()
}

/// Approves `user`'s one waiting login on `phone`.
async fn approve_waiting(phone: &Phone, user: &str, number: u8) {
    let waiting: Vec<LoginChallenge> = phone
        .auth
        .pending_logins()
        .await
        .expect("pull")
        .into_iter()
        .filter(|c| c.username == user)
        .collect();
    assert_eq!(waiting.len(), 1, "{user}'s login is waiting");
    let outcome = phone
        .auth
        .approve(&waiting[0], Some(number))
        .await
        .expect("approved");
    assert_eq!(outcome.decision, Decision::Approve);
}

/// Deletes the phone's app files except what the platform keeps in its key store across a
/// reinstall (the store's generation and master key): an iOS reinstall.
fn reinstall(phone: Phone) -> Phone {
    for entry in fs::read_dir(&phone.store_dir).expect("store folder") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name != "generation" && name != "master.key" {
            fs::remove_file(&path).expect("delete");
        }
    }
    phone.restart()
}

#[tokio::test]
async fn a_move_replaces_the_old_phone_which_is_refused_everywhere_and_told_why() {
    let world = World::start().await;
    let old = world.phone_with_users("iphone-12", &["alice", "bob"]).await;
    // A login read on the old phone before the move.
    let before = login(&world, "alice").await;
    let stale = old
        .auth
        .read_push(last_push(&world, "alice"))
        .await
        .expect("read");

    let ticket = move_ticket(&world, "alice").await;
    let new = world.phone("pixel-9");
    new.user.set_standing_pin(Some(TEST_PIN));
    let request = new.auth.inspect_qr(&ticket.qr_payload).await.expect("read");
    assert_eq!(request.replaces, vec!["iphone-12".to_string()]);
    match new.auth.activate_from_qr(&ticket.qr_payload).await {
        Ok(ActivationOutcome::Moved { account, replaced }) => {
            assert_eq!(account.username, "alice");
            assert_eq!(replaced, vec!["iphone-12".to_string()]);
        }
        other => panic!("the move: {other:?}"),
    }
    // The same code again is used.
    let again = world.phone("pixel-9-again");
    again.user.set_standing_pin(Some(TEST_PIN));
    assert_eq!(
        again
            .auth
            .activate_from_qr(&ticket.qr_payload)
            .await
            .expect_err("used")
            .code(),
        "ACT_CODE_USED"
    );

    // The old phone's pending approval is refused at once, and it learns why.
    let refused = old
        .auth
        .approve(&stale, Some(before.started().number))
        .await
        .expect_err("refused");
    let ApprovalError::Moved { notice } = &refused else {
        panic!("not told it moved: {refused:?}");
    };
    assert_eq!(refused.code(), "APR_ACCOUNT_MOVED");
    assert_eq!(notice.username, "alice");
    assert_eq!(notice.to_device, "pixel-9");
    assert!(
        notice
            .message
            .starts_with("IB Key for alice was moved to 'pixel-9' on "),
        "{}",
        notice.message
    );
    let users: Vec<String> = old
        .auth
        .accounts()
        .expect("list")
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(users, vec!["bob".to_string()], "alice is gone, bob stays");
    let notices = old.auth.take_move_notices().expect("notices");
    assert_eq!(notices, vec![notice.clone()]);
    assert!(old.auth.take_move_notices().expect("notices").is_empty());

    // Everything else of alice's on the old phone is refused too: its codes, its removal.
    assert_eq!(
        old.auth.time_code("alice").await.expect_err("gone").code(),
        "COD_UNKNOWN_ACCOUNT"
    );
    assert!(old.auth.remove_account("alice").await.is_err());

    // The new phone approves alice's logins with a fresh counter; bob's still work on the old.
    let next = login(&world, "alice").await;
    assert_eq!(next.started().devices_notified, 1, "only the new phone");
    approve_waiting(&new, "alice", next.started().number).await;
    assert_eq!(
        next.wait_for_decision().await.expect("status").state,
        LoginState::Approved
    );
    let bobs = login(&world, "bob").await;
    approve_waiting(&old, "bob", bobs.started().number).await;
}

#[tokio::test]
async fn the_old_phone_with_only_the_moved_account_is_told_when_it_pulls() {
    let world = World::start().await;
    let old = world.phone_with_users("old", &["carol"]).await;
    let ticket = move_ticket(&world, "carol").await;
    let new = world.phone("new");
    new.user.set_standing_pin(Some(TEST_PIN));
    new.auth
        .activate_with_session_id(&ticket.session_id)
        .await
        .expect("moved by session ID");
    let error = old.auth.pending_logins().await.expect_err("moved");
    assert_eq!(error.code(), "APR_ACCOUNT_MOVED");
    assert!(error.to_string().contains("moved to 'new'"), "{error}");
    assert!(old.auth.accounts().expect("list").is_empty());
}

/// Answers the phone's pull of challenges with a "moved" refusal whose proof is signed by a
/// key that is not the server's.
struct ForgedMove {
    inner: ReqwestTransport,
    credential_id: String,
}

#[async_trait]
impl HttpTransport for ForgedMove {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if !request.url.ends_with("/v1/challenges/pending") {
            return self.inner.send(request).await;
        }
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key");
        let claims = MovedClaims {
            typ: MOVED_TYPE.into(),
            cid: self.credential_id.clone(),
            usr: "alice".into(),
            to: "attacker".into(),
            at: 1,
        };
        let body = ErrorResponse {
            error: ErrorBody {
                code: codes::CREDENTIAL_MOVED.into(),
                message: "moved".into(),
                retry_after: None,
                moved: Some(sign_token(&claims, &key, &rng).expect("sign")),
            },
        };
        Ok(HttpResponse {
            status: 410,
            headers: Vec::new(),
            body: serde_json::to_vec(&body).expect("json"),
        })
    }
}

#[tokio::test]
async fn a_moved_word_not_signed_by_the_server_changes_nothing() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let credential_id = phone.auth.accounts().expect("list")[0]
        .credential_id
        .clone();
    let forged = world.phone_with_http(
        "phone",
        Arc::new(move |_| {
            Arc::new(ForgedMove {
                inner: ReqwestTransport::new().expect("http"),
                credential_id: credential_id.clone(),
            })
        }),
    );
    let error = forged.auth.pending_logins().await.expect_err("refused");
    assert_ne!(error.code(), "APR_ACCOUNT_MOVED");
    assert_eq!(forged.auth.accounts().expect("list").len(), 1, "alice kept");
    assert!(forged.auth.take_move_notices().expect("notices").is_empty());
}

#[tokio::test]
async fn recovery_after_a_reinstall_restores_the_accounts_with_a_new_pin() {
    let world = World::start().await;
    let phone = world.phone_with_keychain("iphone");
    world.enroll(&phone, &["alice", "bob"]).await;
    let first = login(&world, "alice").await;
    approve_waiting(&phone, "alice", first.started().number).await;

    let phone = reinstall(phone);
    assert!(phone.auth.accounts().expect("list").is_empty());
    let offer = phone
        .auth
        .find_recoverable_accounts()
        .await
        .expect("an offer");
    let users: Vec<&str> = offer
        .recoverable
        .iter()
        .map(|a| a.username.as_str())
        .collect();
    assert_eq!(users, vec!["alice", "bob"]);
    assert_eq!(offer.recoverable[0].device_name, "iphone");
    assert!(
        offer.recoverable[0].code_sent_to.contains("••••@"),
        "masked: {}",
        offer.recoverable[0].code_sent_to
    );
    assert!(offer.lost.is_empty());

    // A wrong code, then the right one with a new PIN (the old PIN record went with the files).
    phone.user.set_standing_pin(Some("7315"));
    let alice_code = latest_code(&world, "alice");
    let wrong = if alice_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        phone
            .auth
            .recover_account("alice", wrong)
            .await
            .expect_err("wrong code"),
        RecoveryError::CodeWrong
    );
    let asked_before = phone.user.pin_requests().len();
    let account = phone
        .auth
        .recover_account("alice", &alice_code)
        .await
        .expect("recovered");
    assert_eq!(account.username, "alice");
    assert!(phone.user.pin_requests()[asked_before..]
        .iter()
        .any(|r| r.purpose == PinPurpose::Create));
    phone
        .auth
        .recover_account("bob", &latest_code(&world, "bob"))
        .await
        .expect("bob recovered");

    // Approvals go on from the server's counter (no clone alarm), offline codes work again.
    let next = login(&world, "alice").await;
    approve_waiting(&phone, "alice", next.started().number).await;
    assert_eq!(
        next.wait_for_decision().await.expect("status").state,
        LoginState::Approved
    );
    let offline = login(&world, "bob").await;
    let code = phone.auth.time_code("bob").await.expect("time code");
    assert_eq!(
        offline
            .submit_time_code(&code.code)
            .await
            .expect("submitted")
            .state,
        LoginState::Approved
    );
    // Nothing is left to recover, and the same app restarted keeps it all.
    assert!(matches!(
        phone.auth.find_recoverable_accounts().await,
        Err(RecoveryError::NothingToRecover { .. })
    ));
    assert_eq!(phone.restart().auth.accounts().expect("list").len(), 2);
}

#[tokio::test]
async fn a_lost_account_list_is_recovered_with_the_pin_kept() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    fs::remove_file(phone.store_dir.join("accounts.ibks")).expect("lose the list");
    let phone = phone.restart();
    phone.auth.find_recoverable_accounts().await.expect("offer");
    let asked_before = phone.user.pin_requests().len();
    phone
        .auth
        .recover_account("alice", &latest_code(&world, "alice"))
        .await
        .expect("recovered");
    assert!(phone.user.pin_requests()[asked_before..]
        .iter()
        .all(|r| r.purpose == PinPurpose::Confirm));
    let next = login(&world, "alice").await;
    approve_waiting(&phone, "alice", next.started().number).await;
}

#[tokio::test]
async fn without_keys_nothing_is_recovered_and_activation_is_pointed_to() {
    let world = World::start().await;
    let phone = world.phone_with_keychain("android");
    world.enroll(&phone, &["alice"]).await;
    // Android clears the Keystore with the app's data.
    fs::remove_dir_all(phone.keychain_dir.as_ref().expect("keychain")).expect("clear keys");
    fs::remove_dir_all(&phone.store_dir).expect("clear data");
    let phone = phone.restart();
    let error = phone
        .auth
        .find_recoverable_accounts()
        .await
        .expect_err("nothing");
    assert_eq!(error.code(), "REC_NOTHING_TO_RECOVER");
    assert!(
        error.to_string().contains("Activate IB Key again"),
        "{error}"
    );
    // With no account, the doctor cannot ask the server, and no test notification can go.
    assert_eq!(
        phone
            .auth
            .send_test_notification()
            .await
            .expect_err("nobody to send to")
            .code(),
        "APR_NO_ACCOUNTS"
    );
    let report = phone
        .auth
        .notification_doctor(good_android(), None)
        .await
        .expect("report");
    assert_eq!(status_of(&report, "server"), CheckStatus::Unknown);
}

#[tokio::test]
async fn moved_and_removed_accounts_are_not_offered_and_say_why() {
    let world = World::start().await;
    let phone = world.phone_with_keychain("iphone");
    world.enroll(&phone, &["alice", "bob"]).await;
    let ticket = move_ticket(&world, "alice").await;
    let other = world.phone("pixel-9");
    other.user.set_standing_pin(Some(TEST_PIN));
    other
        .auth
        .activate_from_qr(&ticket.qr_payload)
        .await
        .expect("moved");
    let phone = reinstall(phone);
    let offer = phone
        .auth
        .find_recoverable_accounts()
        .await
        .expect("bob is offered");
    assert_eq!(offer.recoverable.len(), 1);
    assert_eq!(offer.recoverable[0].username, "bob");
    assert_eq!(offer.lost.len(), 1);
    assert_eq!(offer.lost[0].username.as_deref(), Some("alice"));
    assert!(
        offer.lost[0].reason.contains("moved to 'pixel-9'"),
        "{}",
        offer.lost[0].reason
    );
    assert_eq!(
        phone
            .auth
            .recover_account("alice", "123456")
            .await
            .expect_err("not offered")
            .code(),
        "REC_NOT_OFFERED"
    );
}

#[tokio::test]
async fn a_damaged_store_is_left_as_it_is() {
    let world = World::start().await;
    let phone = world.phone_with_keychain("phone");
    world.enroll(&phone, &["alice"]).await;
    let accounts = phone.store_dir.join("accounts.ibks");
    fs::write(&accounts, b"IBKS1 damaged beyond reading").expect("damage");
    let phone = phone.restart();
    let before = snapshot_dir(&phone.store_dir);
    let error = phone
        .auth
        .find_recoverable_accounts()
        .await
        .expect_err("damaged");
    assert_eq!(error.code(), "REC_STORE_DAMAGED");
    assert!(error.to_string().contains("left as it is"), "{error}");
    assert_eq!(
        phone
            .auth
            .recover_account("alice", "123456")
            .await
            .expect_err("damaged")
            .code(),
        "REC_STORE_DAMAGED"
    );
    assert_eq!(
        snapshot_dir(&phone.store_dir),
        before,
        "nothing overwritten"
    );
}

/// Every value file of a store folder with its bytes, sorted.
fn snapshot_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ibks"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, fs::read(&p).expect("read"))
        })
        .collect();
    files.sort();
    files
}

fn good_android() -> NotificationSettings {
    NotificationSettings {
        platform: "android".into(),
        notifications_allowed: Some(true),
        channel_enabled: Some(true),
        battery_optimized: Some(false),
        background_restricted: Some(false),
        ..NotificationSettings::default()
    }
}

fn status_of(report: &DoctorReport, id: &str) -> CheckStatus {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#?}"))
        .status
}

#[tokio::test]
async fn the_doctor_passes_a_healthy_phone_after_a_test_notification_round_trip() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    phone
        .auth
        .register_push_token("fcm".into(), "token-1".into())
        .await
        .expect("registered");
    let test = phone.auth.send_test_notification().await.expect("sent");
    phone.clock.advance(Duration::from_millis(250));
    match phone
        .auth
        .read_notification(last_push(&world, "alice"))
        .await
        .expect("read")
    {
        IncomingNotification::Test { delay_ms } => assert_eq!(delay_ms, Some(250)),
        IncomingNotification::Login { .. } => panic!("a test notification read as a login"),
    }
    assert!(!test.id.is_empty());
    let report = phone
        .auth
        .notification_doctor(good_android(), Some("token-1".into()))
        .await
        .expect("report");
    assert!(report.healthy, "{report:#?}");
    for id in [
        "notifications_allowed",
        "channel_enabled",
        "background",
        "server",
        "clock",
        "push_registration:alice",
        "push_approvals:alice",
        "delivery:alice",
        "test_notification",
    ] {
        assert_eq!(status_of(&report, id), CheckStatus::Pass, "{id}");
    }
    assert!(
        report.checks.iter().all(|c| c.id != "focus"),
        "no iOS check on Android"
    );
    // A login notification is read as one.
    let started = login(&world, "alice").await;
    match phone
        .auth
        .read_notification(last_push(&world, "alice"))
        .await
        .expect("read")
    {
        IncomingNotification::Login { challenge } => assert_eq!(challenge.username, "alice"),
        IncomingNotification::Test { .. } => panic!("a login read as a test"),
    }
    drop(started);
}

#[tokio::test]
async fn the_doctor_finds_each_broken_setting() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let portal = PortalClient::sign_in(&world.url(), "alice", DEMO_PORTAL_PASSWORD)
        .await
        .expect("sign-in");

    // Platform settings off, no push token, notifications off in the portal.
    portal.set_push_approvals(false).await.expect("off");
    let broken = NotificationSettings {
        platform: "android".into(),
        notifications_allowed: Some(false),
        channel_enabled: Some(false),
        battery_optimized: Some(true),
        background_restricted: Some(true),
        ..NotificationSettings::default()
    };
    let report = phone
        .auth
        .notification_doctor(broken, Some("token-now".into()))
        .await
        .expect("report");
    assert!(!report.healthy);
    for id in [
        "notifications_allowed",
        "channel_enabled",
        "background",
        "push_registration:alice",
        "push_approvals:alice",
    ] {
        assert_eq!(status_of(&report, id), CheckStatus::Fail, "{id}");
        let check = report.checks.iter().find(|c| c.id == id).expect("check");
        assert!(!check.fix.is_empty(), "{id} says what to do");
    }
    assert_eq!(status_of(&report, "server"), CheckStatus::Pass);

    // A stale token, a fraud mute, and a notification the server sent that never arrived.
    portal.set_push_approvals(true).await.expect("on");
    phone
        .auth
        .register_push_token("fcm".into(), "token-old".into())
        .await
        .expect("registered");
    let fraud = login(&world, "alice").await;
    let challenge = phone
        .auth
        .read_push(last_push(&world, "alice"))
        .await
        .expect("read");
    phone.auth.deny(&challenge, true).await.expect("reported");
    drop(fraud);
    let report = phone
        .auth
        .notification_doctor(good_android(), Some("token-now".into()))
        .await
        .expect("report");
    assert_eq!(
        status_of(&report, "push_registration:alice"),
        CheckStatus::Fail
    );
    assert_eq!(
        status_of(&report, "push_approvals:alice"),
        CheckStatus::Fail
    );
    let muted = report
        .checks
        .iter()
        .find(|c| c.id == "push_approvals:alice")
        .expect("check");
    assert!(muted.measured.contains("muted until"), "{}", muted.measured);

    // After the mute, a test notification is sent but never delivered to the phone.
    world.server_clock.advance(Duration::from_secs(21 * 60));
    phone.clock.advance(Duration::from_secs(21 * 60));
    phone.auth.send_test_notification().await.expect("sent");
    world.server_clock.advance(Duration::from_secs(90));
    phone.clock.advance(Duration::from_secs(90));
    let report = phone
        .auth
        .notification_doctor(good_android(), Some("token-old".into()))
        .await
        .expect("report");
    assert_eq!(
        status_of(&report, "push_approvals:alice"),
        CheckStatus::Pass
    );
    assert_eq!(
        status_of(&report, "delivery:alice"),
        CheckStatus::Fail,
        "{report:#?}"
    );
    assert_eq!(status_of(&report, "test_notification"), CheckStatus::Fail);
    let lost = report
        .checks
        .iter()
        .find(|c| c.id == "delivery:alice")
        .expect("check");
    assert!(lost.measured.contains("never arrived"), "{}", lost.measured);

    // The phone's clock 20 minutes off.
    phone.clock.shift_wall(20 * 60 * 1000);
    let report = phone
        .auth
        .notification_doctor(good_android(), None)
        .await
        .expect("report");
    assert_eq!(status_of(&report, "clock"), CheckStatus::Fail);

    // What the platform cannot tell is unknown, and iOS gets its own check.
    let report = phone
        .auth
        .notification_doctor(
            NotificationSettings {
                platform: "ios".into(),
                delivered_in_summary: Some(true),
                ..NotificationSettings::default()
            },
            None,
        )
        .await
        .expect("report");
    assert_eq!(
        status_of(&report, "notifications_allowed"),
        CheckStatus::Unknown
    );
    assert_eq!(status_of(&report, "focus"), CheckStatus::Fail);
    assert!(report.checks.iter().all(|c| c.id != "background"));
}

#[tokio::test]
async fn the_doctor_tells_a_phone_whose_account_moved() {
    let world = World::start().await;
    let phone = world.phone_with_users("old", &["alice"]).await;
    let ticket = move_ticket(&world, "alice").await;
    let new = world.phone("new");
    new.user.set_standing_pin(Some(TEST_PIN));
    new.auth
        .activate_from_qr(&ticket.qr_payload)
        .await
        .expect("moved");
    let report = phone
        .auth
        .notification_doctor(good_android(), None)
        .await
        .expect("report");
    assert_eq!(status_of(&report, "account:alice"), CheckStatus::Fail);
    assert!(phone.auth.accounts().expect("list").is_empty());
    assert_eq!(phone.auth.take_move_notices().expect("notices").len(), 1);
}
