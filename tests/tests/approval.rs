//! End-to-end login approval: the real server on loopback with its SQLite file (the pushes it
//! records there, the login page's endpoints), phones made of the real core over the desktop
//! store, software keys and a scripted person at the PIN pad.

// Helpers of a test stop it at the first surprise.
#![allow(clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ibkey_core::platform::{
    HttpHeader, HttpRequest, HttpResponse, HttpTransport, PinPurpose, ReqwestTransport,
    TransportError,
};
use ibkey_core::scan::{self, FrameResult, Scanner};
use ibkey_core::{
    ApprovalError, ChallengeSource, Decision, ErrorCode, LoginChallenge, NumberCheck,
};
use ibkey_e2e::{plant_guarded_record, read_guarded_record, CapturedLogs, Phone, World};
use ibkey_protocol::approval::{LoginState, LoginStatus};
use ibkey_protocol::encoding::{b64, unb64};
use ibkey_server::portal_client::PendingLogin;
use ibkey_server::DEMO_PORTAL_PASSWORD;
use serde_json::Value;

async fn http(request: HttpRequest) -> HttpResponse {
    ReqwestTransport::new()
        .expect("http")
        .send(request)
        .await
        .expect("reply")
}

/// `user` types the password on the login page.
async fn login(world: &World, user: &str) -> PendingLogin {
    PendingLogin::start(&world.url(), user, DEMO_PORTAL_PASSWORD, None)
        .await
        .expect("a started login")
}

/// Where the login stands, without waiting.
async fn status(login: &PendingLogin) -> LoginStatus {
    login.status(0).await.expect("a login status")
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

/// The signed challenge inside a push payload.
fn token_of(payload: &[u8]) -> String {
    let v: Value = serde_json::from_slice(payload).expect("push JSON");
    v["challenge"].as_str().expect("challenge").to_string()
}

/// A token's claims, read without checking anything.
fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("claims part");
    serde_json::from_slice(&unb64(part).expect("base64url")).expect("JSON")
}

/// `token` with its claims changed by `change` and its signature kept.
fn with_claims(token: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut claims = claims_of(token);
    change(&mut claims);
    let signature = token.rsplit('.').next().expect("signature");
    format!(
        "IBK1.{}.{signature}",
        b64(&serde_json::to_vec(&claims).expect("JSON"))
    )
}

/// The one pending login of the phone.
async fn only_pending(phone: &Phone) -> LoginChallenge {
    let mut pending = phone.auth.pending_logins().await.expect("pull");
    assert_eq!(pending.len(), 1, "{pending:?}");
    pending.remove(0)
}

/// A number of the choices that is not `right`.
fn wrong_of(challenge: &LoginChallenge, right: u8) -> u8 {
    *challenge
        .number_choices
        .iter()
        .find(|n| **n != right)
        .expect("a wrong choice")
}

/// Keeps the bodies of the decisions a phone sends.
struct DecisionTap {
    inner: Arc<dyn HttpTransport>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

#[async_trait]
impl HttpTransport for DecisionTap {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if request.url.ends_with("/v1/challenges/decide") {
            self.bodies.lock().expect("lock").push(request.body.clone());
        }
        self.inner.send(request).await
    }
}

fn tapped_phone(world: &World, name: &str) -> (Phone, Arc<Mutex<Vec<Vec<u8>>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let tap = bodies.clone();
    let phone = world.phone_with_http(
        name,
        Arc::new(move |inner| {
            Arc::new(DecisionTap {
                inner,
                bodies: tap.clone(),
            }) as Arc<dyn HttpTransport>
        }),
    );
    (phone, bodies)
}

async fn post_raw(url: &str, body: Vec<u8>) -> HttpResponse {
    http(HttpRequest {
        method: "POST".into(),
        url: url.into(),
        headers: vec![HttpHeader::new("content-type", "application/json")],
        body,
    })
    .await
}

#[tokio::test]
async fn approves_with_the_matching_number_by_pull_and_by_push_and_recognises_replays() {
    let world = World::start().await;
    let (phone, decisions) = tapped_phone(&world, "phone");
    world.enroll(&phone, &["alice"]).await;
    let asked_before = phone.user.pin_requests().len();

    // Pulled when the app opens.
    let first = login(&world, "alice").await;
    let number = first.started().number;
    assert_eq!(first.started().devices_notified, 1);
    let challenge = only_pending(&phone).await;
    assert_eq!(challenge.source, ChallengeSource::Pull);
    assert_eq!(challenge.username, "alice");
    assert_eq!(challenge.context.application, "Client Portal");
    assert_eq!(challenge.context.location, "this computer");
    assert_eq!(challenge.expires_at, first.started().expires_at);
    // The clock offset is learned in whole seconds: 121 is rounding.
    assert!(
        (100..=121).contains(&challenge.seconds_left),
        "{challenge:?}"
    );
    assert_eq!(challenge.number_choices.len(), 3);
    assert!(challenge.number_choices.contains(&number));
    assert_eq!(
        phone.auth.check_number(&challenge, number).await,
        Ok(NumberCheck::Match)
    );
    let outcome = phone
        .auth
        .approve(&challenge, Some(number))
        .await
        .expect("approved");
    assert_eq!(outcome.decision, Decision::Approve);
    assert_eq!(outcome.username, "alice");
    assert_eq!(outcome.challenge_id, challenge.challenge_id);
    let done = status(&first).await;
    assert_eq!(done.state, LoginState::Approved);
    assert_eq!(done.device_name.as_deref(), Some("phone"));
    assert_eq!(done.decided_at, Some(outcome.decided_at));
    let asked: Vec<PinPurpose> = phone.user.pin_requests()[asked_before..]
        .iter()
        .map(|r| r.purpose)
        .collect();
    assert_eq!(
        asked,
        [PinPurpose::Confirm],
        "the PIN confirms the approval"
    );
    assert!(
        phone.auth.pending_logins().await.expect("pull").is_empty(),
        "nothing left to answer"
    );

    // From the notification, one wrong pick first.
    let second = login(&world, "alice").await;
    let number = second.started().number;
    let payload = last_push(&world, "alice");
    let challenge = phone.auth.read_push(payload.clone()).await.expect("push");
    assert_eq!(challenge.source, ChallengeSource::Push);
    assert!(challenge.number_choices.contains(&number));
    let again = phone
        .auth
        .read_push(token_of(&payload).into_bytes())
        .await
        .expect("the bare token");
    assert_eq!(again.number_choices, challenge.number_choices, "stable");
    assert_eq!(
        phone
            .auth
            .check_number(&challenge, wrong_of(&challenge, number))
            .await,
        Ok(NumberCheck::Wrong { attempts_left: 2 })
    );
    assert_eq!(
        phone.auth.approve(&challenge, None).await,
        Err(ApprovalError::NumberRequired)
    );
    phone
        .auth
        .approve(&challenge, Some(number))
        .await
        .expect("approved");
    assert_eq!(status(&second).await.state, LoginState::Approved);

    // The same notification again: recognised on the device, before any network call.
    let before = phone.sent();
    let err = phone
        .auth
        .read_push(payload.clone())
        .await
        .expect_err("replay");
    assert_eq!(err, ApprovalError::AlreadyAnswered);
    assert_eq!(err.code(), "APR_ALREADY_ANSWERED");
    assert_eq!(
        phone.auth.approve(&challenge, Some(number)).await,
        Err(ApprovalError::AlreadyAnswered)
    );
    assert_eq!(phone.sent(), before);
    // After a restart too.
    let phone = phone.restart();
    assert_eq!(
        phone.auth.read_push(payload).await,
        Err(ApprovalError::AlreadyAnswered)
    );

    // The exact decision bytes sent again: refused by the server.
    let sent = decisions.lock().expect("lock").clone();
    assert_eq!(sent.len(), 2);
    for body in sent {
        let reply = post_raw(&format!("{}/v1/challenges/decide", world.url()), body).await;
        assert_eq!(
            reply.status,
            409,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let v: Value = serde_json::from_slice(&reply.body).expect("error body");
        assert_eq!(v["error"]["code"], "challenge_used");
    }
}

#[tokio::test]
async fn deny_and_this_wasnt_me_refuse_and_mute_the_next_notifications() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let asked_before = phone.user.pin_requests().len();

    let denied = login(&world, "alice").await;
    let challenge = only_pending(&phone).await;
    let outcome = phone.auth.deny(&challenge, false).await.expect("denied");
    assert_eq!(outcome.decision, Decision::Deny);
    assert_eq!(status(&denied).await.state, LoginState::Denied);
    assert_eq!(
        phone.user.pin_requests().len(),
        asked_before,
        "refusing needs no PIN"
    );

    // Two logins at once: one is reported, the older notification of the other then
    // cannot be approved.
    let reported = login(&world, "alice").await;
    let reported_push = last_push(&world, "alice");
    let other = login(&world, "alice").await;
    let other_push = last_push(&world, "alice");
    let reported_challenge = phone.auth.read_push(reported_push).await.expect("push");
    let other_challenge = phone.auth.read_push(other_push).await.expect("push");
    let outcome = phone
        .auth
        .deny(&reported_challenge, true)
        .await
        .expect("reported");
    assert_eq!(outcome.decision, Decision::ReportFraud);
    assert_eq!(status(&reported).await.state, LoginState::ReportedFraud);
    let err = phone
        .auth
        .approve(&other_challenge, Some(other.started().number))
        .await
        .expect_err("muted");
    assert!(matches!(err, ApprovalError::PushesMuted { .. }), "{err:?}");
    assert_eq!(err.code(), "APR_PUSHES_MUTED");
    assert!(err.to_string().contains("paused"), "{err}");

    // The next login notifies no device while the mute lasts; its QR code still works.
    let muted = login(&world, "alice").await;
    assert!(muted.started().pushes_muted_until.is_some());
    assert_eq!(muted.started().devices_notified, 0);
    let pending: Vec<String> = phone
        .auth
        .pending_logins()
        .await
        .expect("pull")
        .into_iter()
        .map(|c| c.challenge_id)
        .collect();
    assert_eq!(
        pending,
        std::slice::from_ref(&other_challenge.challenge_id),
        "only the older login is still open"
    );
    let qr = muted.qr_code().await.expect("a QR code");
    let challenge = phone
        .auth
        .read_login_qr(qr.qr_payload)
        .await
        .expect("qr challenge");
    assert_eq!(challenge.source, ChallengeSource::QrCode);
    assert!(challenge.number_choices.is_empty());
    phone
        .auth
        .approve(&challenge, None)
        .await
        .expect("approved");
    assert_eq!(status(&muted).await.state, LoginState::Approved);
}

#[tokio::test]
async fn a_login_page_qr_code_is_scanned_and_approved_without_a_number() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let page = login(&world, "alice").await;
    let qr = page.qr_code().await.expect("a QR code");
    let png = scan::render_png(&qr.qr_payload, 4).expect("render");
    let text = match Scanner::new().scan_image(&png).expect("scan") {
        FrameResult::LoginCode { text } => text,
        other => panic!("expected a login code, got {other:?}"),
    };
    let challenge = phone.auth.read_login_qr(text).await.expect("read");
    assert_eq!(challenge.username, "alice");
    assert_eq!(challenge.expires_at, qr.expires_at);
    assert_eq!(
        phone.auth.check_number(&challenge, 10).await,
        Ok(NumberCheck::Match),
        "scanning the page is the match"
    );
    let outcome = phone
        .auth
        .approve(&challenge, None)
        .await
        .expect("approved");
    assert_eq!(outcome.decision, Decision::Approve);
    assert_eq!(status(&page).await.state, LoginState::Approved);

    // A phone without alice cannot answer the page's code.
    let stranger = world.phone_with_users("stranger", &["bob"]).await;
    let other = login(&world, "alice").await;
    let qr = other.qr_code().await.expect("a QR code");
    assert_eq!(
        stranger.auth.read_login_qr(qr.qr_payload).await,
        Err(ApprovalError::UnknownAccount {
            username: "alice".into()
        })
    );
    // An activation code is no login code.
    let ticket = world.ticket("carol").await;
    assert_eq!(
        phone.auth.read_login_qr(ticket.qr_payload).await,
        Err(ApprovalError::NotALoginCode)
    );
}

#[tokio::test]
async fn expired_challenges_are_refused_by_the_server_and_on_the_device() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;

    // Read in time, answered too late: the server refuses.
    let late = login(&world, "alice").await;
    let challenge = only_pending(&phone).await;
    world.server_clock.advance(Duration::from_secs(125));
    phone.clock.advance(Duration::from_secs(125));
    let err = phone
        .auth
        .approve(&challenge, Some(late.started().number))
        .await
        .expect_err("expired");
    assert_eq!(err, ApprovalError::ChallengeExpired);
    assert!(
        err.to_string().contains("Ask for a new login on the page"),
        "{err}"
    );
    assert_eq!(
        status(&late).await.state,
        LoginState::Expired,
        "the page says so too"
    );

    // A notification opened long after: expired on the device, the server's time agreeing.
    let old = login(&world, "alice").await;
    let payload = last_push(&world, "alice");
    world.server_clock.advance(Duration::from_secs(200));
    phone.clock.advance(Duration::from_secs(200));
    assert_eq!(
        phone.auth.read_push(payload).await,
        Err(ApprovalError::ChallengeExpired)
    );
    assert!(
        phone.auth.pending_logins().await.expect("pull").is_empty(),
        "an expired login is not offered"
    );
    assert_eq!(status(&old).await.state, LoginState::Expired);
}

#[tokio::test]
async fn forged_and_tampered_challenges_are_refused() {
    let world = World::start().await;
    let elsewhere = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let _away = elsewhere.phone_with_users("away", &["alice"]).await;

    let page = login(&world, "alice").await;
    let genuine = token_of(&last_push(&world, "alice"));
    login(&elsewhere, "alice").await;
    let foreign = token_of(&last_push(&elsewhere, "alice"));

    // Our challenge's claims under another server's signature.
    let (claims, _) = genuine.rsplit_once('.').expect("token");
    let (_, foreign_signature) = foreign.rsplit_once('.').expect("token");
    let forged = format!("{claims}.{foreign_signature}");
    let err = phone
        .auth
        .read_push(forged.into_bytes())
        .await
        .expect_err("forged");
    assert_eq!(err, ApprovalError::ForgedChallenge);
    assert!(
        err.to_string()
            .starts_with("This login request is not signed by your server: do not approve it."),
        "{err}"
    );

    // The context changed on the way (another place), the signature kept.
    let tampered = with_claims(&genuine, |c| {
        c["ctx"]["location"] = "Zurich, Switzerland".into()
    });
    assert_eq!(
        phone.auth.read_push(tampered.clone().into_bytes()).await,
        Err(ApprovalError::ForgedChallenge)
    );

    // A record the app altered: only the token counts, and it is checked again.
    let mut challenge = phone
        .auth
        .read_push(genuine.into_bytes())
        .await
        .expect("genuine");
    challenge.token = tampered;
    assert_eq!(
        phone
            .auth
            .approve(&challenge, Some(page.started().number))
            .await,
        Err(ApprovalError::ForgedChallenge)
    );
    assert_eq!(status(&page).await.state, LoginState::Pending);

    // Another server's challenge, signed by it: for another service.
    assert!(matches!(
        phone.auth.read_push(foreign.into_bytes()).await,
        Err(ApprovalError::WrongServer { .. })
    ));
    // Junk in a notification.
    for junk in [&b"{}"[..], b"hello", b"\xff\xfe", b""] {
        assert_eq!(
            phone.auth.read_push(junk.to_vec()).await,
            Err(ApprovalError::NotALoginCode)
        );
    }
}

#[tokio::test]
async fn a_challenge_for_another_device_is_refused() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice", "bob"]).await;
    let tablet = world.phone_with_users("tablet", &["alice"]).await;
    login(&world, "alice").await;
    let pushes = ibkey_server::recorded_pushes(&world.dir.path().join("server")).expect("pushes");
    let tablet_id = tablet
        .auth
        .account("alice")
        .expect("store")
        .expect("alice")
        .credential_id;
    let for_tablet = pushes
        .iter()
        .find(|p| p.credential_id == tablet_id)
        .expect("the tablet's push");
    assert_eq!(
        phone
            .auth
            .read_push(for_tablet.payload.clone().into_bytes())
            .await,
        Err(ApprovalError::OtherDevice)
    );
    tablet
        .auth
        .read_push(for_tablet.payload.clone().into_bytes())
        .await
        .expect("the tablet reads its own");
}

#[tokio::test]
async fn three_wrong_numbers_refuse_the_login_and_tell_the_server() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let asked_before = phone.user.pin_requests().len();
    let page = login(&world, "alice").await;
    let number = page.started().number;
    let challenge = only_pending(&phone).await;
    let wrong = wrong_of(&challenge, number);

    assert_eq!(
        phone.auth.check_number(&challenge, wrong).await,
        Ok(NumberCheck::Wrong { attempts_left: 2 })
    );
    // The count survives a restart of the app.
    let phone = phone.restart();
    let err = phone
        .auth
        .approve(&challenge, Some(wrong))
        .await
        .expect_err("wrong");
    assert_eq!(err, ApprovalError::WrongNumber { attempts_left: 1 });
    assert!(
        err.to_string()
            .contains("The number on your screen did not match"),
        "{err}"
    );
    assert_eq!(
        phone.auth.check_number(&challenge, wrong).await,
        Err(ApprovalError::NumberMismatchRefused)
    );
    assert_eq!(status(&page).await.state, LoginState::WrongNumber);
    assert_eq!(
        phone.user.pin_requests().len(),
        asked_before,
        "no PIN was asked"
    );
    // Even the right number cannot approve it now.
    assert!(phone.auth.approve(&challenge, Some(number)).await.is_err());
    assert_eq!(status(&page).await.state, LoginState::WrongNumber);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

fn replace_dir(dir: &Path, with: &Path) {
    std::fs::remove_dir_all(dir).expect("remove");
    copy_dir(with, dir);
}

#[tokio::test]
async fn a_store_restored_from_an_older_copy_is_caught_as_possibly_cloned() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;

    let first = login(&world, "alice").await;
    let challenge = only_pending(&phone).await;
    phone
        .auth
        .approve(&challenge, Some(first.started().number))
        .await
        .expect("first");
    let aside = world.dir.path().join("aside");
    copy_dir(&phone.store_dir, &aside);

    let second = login(&world, "alice").await;
    let challenge = only_pending(&phone).await;
    phone
        .auth
        .approve(&challenge, Some(second.started().number))
        .await
        .expect("second");

    // The older copy comes back (a backup restored, or the files copied to another phone).
    replace_dir(&phone.store_dir, &aside);
    let phone = phone.restart();

    let third = login(&world, "alice").await;
    let challenge = only_pending(&phone).await;
    let err = phone
        .auth
        .approve(&challenge, Some(third.started().number))
        .await
        .expect_err("cloned");
    assert_eq!(
        err,
        ApprovalError::PossiblyCloned {
            username: "alice".into()
        }
    );
    assert!(
        err.to_string().contains("remove IB Key for alice")
            || err.to_string().contains("Remove IB Key for alice"),
        "{err}"
    );
    assert_eq!(status(&third).await.state, LoginState::PossiblyCloned);
    // Blocked from then on: pulling says so.
    assert_eq!(
        phone.auth.pending_logins().await,
        Err(ApprovalError::PossiblyCloned {
            username: "alice".into()
        })
    );
}

#[tokio::test]
async fn a_phone_clock_five_minutes_ahead_or_behind_still_approves() {
    let world = World::start().await;
    for (name, shift_ms) in [("ahead", 300_000i64), ("behind", -300_000)] {
        // Off from the start: activation learns the offset.
        let phone = world.phone(name);
        phone.clock.shift_wall(shift_ms);
        world.enroll(&phone, &[name]).await;
        let page = login(&world, name).await;
        let challenge = phone
            .auth
            .read_push(last_push(&world, name))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The offset is learned in whole seconds, so a second either way is the clocks'
        // rounding, not the phone's skew.
        assert!(
            (100..=121).contains(&challenge.seconds_left),
            "{name}: {challenge:?}"
        );
        phone
            .auth
            .approve(&challenge, Some(page.started().number))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(status(&page).await.state, LoginState::Approved);

        // Set off after activation: the server's signed time corrects it again.
        phone.clock.shift_wall(-shift_ms);
        let page = login(&world, name).await;
        let challenge = phone
            .auth
            .read_push(last_push(&world, name))
            .await
            .unwrap_or_else(|e| panic!("{name}, clock set right later: {e}"));
        phone
            .auth
            .approve(&challenge, Some(page.started().number))
            .await
            .unwrap_or_else(|e| panic!("{name}, clock set right later: {e}"));
        assert_eq!(status(&page).await.state, LoginState::Approved);
        phone.clock.shift_wall(shift_ms);
        let page = login(&world, name).await;
        let challenge = only_pending(&phone).await;
        phone
            .auth
            .approve(&challenge, Some(page.started().number))
            .await
            .unwrap_or_else(|e| panic!("{name}, pulled: {e}"));
        assert_eq!(status(&page).await.state, LoginState::Approved);
    }
}

#[tokio::test]
async fn push_tokens_are_registered_for_every_account_and_reach_the_pushes() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice", "bob"]).await;
    assert_eq!(
        phone
            .auth
            .register_push_token("fcm".into(), "fcm-token-of-this-install".into())
            .await,
        Ok(2)
    );
    login(&world, "bob").await;
    let pushes = ibkey_server::recorded_pushes(&world.dir.path().join("server")).expect("pushes");
    let last = pushes.last().expect("a push");
    assert_eq!(last.username, "bob");
    assert_eq!(last.platform.as_deref(), Some("fcm"));
    assert_eq!(
        last.push_token.as_deref(),
        Some("fcm-token-of-this-install")
    );
    // A platform the server does not know: refused for every account, so an error.
    let err = phone
        .auth
        .register_push_token("carrier-pigeon".into(), "x".into())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "APR_SERVER_REPLY");
}

#[tokio::test]
async fn canary_no_nonce_signature_counter_or_token_in_the_logs() {
    let captured = CapturedLogs::install();

    let world = World::start().await;
    let (phone, decisions) = tapped_phone(&world, "phone");
    world.enroll(&phone, &["alice"]).await;
    // A counter no log line could show by chance.
    let account = phone.auth.account("alice").expect("store").expect("alice");
    let key = format!("approval.{}", account.credential_id);
    plant_guarded_record(
        &phone.store_dir,
        &key,
        br#"{"version":1,"counter":7340012345}"#,
    );

    let mut tokens = Vec::new();
    // Pull and approve; push, a wrong pick, approve; deny; report; three wrong; a QR login;
    // a replay; a forgery.
    let page = login(&world, "alice").await;
    let c = only_pending(&phone).await;
    tokens.push(c.token.clone());
    phone
        .auth
        .approve(&c, Some(page.started().number))
        .await
        .expect("approve");
    let page = login(&world, "alice").await;
    let payload = last_push(&world, "alice");
    let c = phone.auth.read_push(payload.clone()).await.expect("push");
    tokens.push(c.token.clone());
    let _ = phone
        .auth
        .check_number(&c, wrong_of(&c, page.started().number))
        .await;
    phone
        .auth
        .approve(&c, Some(page.started().number))
        .await
        .expect("approve");
    assert!(phone.auth.read_push(payload).await.is_err());
    login(&world, "alice").await;
    let c = only_pending(&phone).await;
    tokens.push(c.token.clone());
    phone.auth.deny(&c, false).await.expect("deny");
    let page = login(&world, "alice").await;
    let c = only_pending(&phone).await;
    tokens.push(c.token.clone());
    let wrong = wrong_of(&c, page.started().number);
    for _ in 0..3 {
        let _ = phone.auth.check_number(&c, wrong).await;
    }
    login(&world, "alice").await;
    let c = only_pending(&phone).await;
    tokens.push(c.token.clone());
    let forged = with_claims(&c.token, |v| v["ctx"]["browser"] = "Lynx".into());
    assert!(phone.auth.read_push(forged.into_bytes()).await.is_err());
    phone.auth.deny(&c, true).await.expect("report");
    let page = login(&world, "alice").await;
    let qr = page.qr_code().await.expect("a QR code");
    let c = phone.auth.read_login_qr(qr.qr_payload).await.expect("qr");
    tokens.push(c.token.clone());
    phone.auth.approve(&c, None).await.expect("qr approve");
    phone
        .auth
        .register_push_token("fcm".into(), "canary-push-token-0123456789".into())
        .await
        .expect("token");

    let mut canaries: Vec<(String, String)> =
        vec![("push token".into(), "canary-push-token-0123456789".into())];
    for (i, token) in tokens.iter().enumerate() {
        canaries.push((format!("token {i}"), token.clone()));
        for (j, part) in token.split('.').skip(1).enumerate() {
            canaries.push((format!("token {i} part {j}"), part.to_string()));
        }
        let nonce = claims_of(token)["non"].as_str().expect("nonce").to_string();
        canaries.push((format!("nonce {i}"), nonce));
    }
    let sent = decisions.lock().expect("lock").clone();
    assert!(sent.len() >= 6, "{}", sent.len());
    for (i, body) in sent.iter().enumerate() {
        let v: Value = serde_json::from_slice(body).expect("decision JSON");
        canaries.push((
            format!("signature {i}"),
            v["signature"].as_str().expect("signature").to_string(),
        ));
        canaries.push((format!("counter {i}"), v["counter"].to_string()));
        assert!(v["counter"].as_u64().expect("counter") > 7_340_012_345);
    }
    let state = read_guarded_record(&phone.store_dir, &key);
    assert!(state["counter"].as_u64().expect("counter") >= 7_340_012_345 + sent.len() as u64);

    let logs = captured.text();
    let core_lines: Vec<&str> = logs.lines().filter(|l| l.contains("ibkey_core")).collect();
    assert!(
        core_lines.iter().any(|l| l.contains("login decided")),
        "the flows were logged"
    );
    let core_log = core_lines.join("\n");
    for (name, secret) in &canaries {
        assert!(
            !core_log.contains(secret.as_str()),
            "{name} in the core's log"
        );
    }
}
