//! Login approval end to end: a real server on 127.0.0.1 (port 0) over a real SQLite file in
//! a temporary directory, phones with real P-256 keys enrolled by the real activation
//! protocol, then logins started, pulled, decided, replayed, expired and muted.

#![allow(clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode as AxumStatus;
use axum::routing::post;
use axum::Router;
use ibkey_protocol::activation::{codes as activation_codes, verify_token};
use ibkey_protocol::approval::{
    codes, device_request_message, DecideResponse, Decision, DecisionReceiptClaims,
    LoginQrResponse, LoginStarted, LoginState, LoginStatus, PendingResponse, PushPayload,
    PushTokenRequest, NUMBER_RANGE, PUSH_LOGIN_KIND, PUSH_TOKEN_PURPOSE,
};
use ibkey_server::{FraudReport, PortalDevice, PortalLogin, WebhookPushSender};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::phone::{only_challenge, Phone};
use support::{harness, harness_with, read, Harness, Reply, PASSWORD};
use tokio::sync::mpsc;

const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0";

impl Harness {
    async fn start_login(&self, user: &str) -> Reply {
        self.send(
            self.http
                .post(self.url("/v1/logins"))
                .header("user-agent", FIREFOX_ON_LINUX)
                .json(&json!({"username": user, "password": PASSWORD, "application": " Trader Workstation "})),
        )
        .await
    }

    async fn login(&self, user: &str) -> LoginStarted {
        self.start_login(user).await.parse()
    }

    async fn status(&self, login: &LoginStarted, wait: u32) -> Reply {
        self.get_bearer(
            &format!("/v1/logins/{}?wait={wait}", login.login_id),
            &login.login_secret,
        )
        .await
    }

    async fn state(&self, login: &LoginStarted) -> LoginStatus {
        self.status(login, 0).await.parse()
    }

    async fn qr(&self, login: &LoginStarted) -> Reply {
        self.post_bearer(
            &format!("/v1/logins/{}/qr", login.login_id),
            &login.login_secret,
        )
        .await
    }

    async fn pull_reply(&self, phone: &Phone) -> Reply {
        self.post("/v1/challenges/pending", &phone.pending_request(self.now()))
            .await
    }
}

/// A number of the range other than `number`.
fn other_number(number: u8) -> u8 {
    if number == *NUMBER_RANGE.end() {
        *NUMBER_RANGE.start()
    } else {
        number + 1
    }
}

#[tokio::test]
async fn a_pulled_challenge_approved_with_the_number_gives_the_page_one_portal_token() {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    let before = h.now();
    let login = h.login("alice").await;
    assert!(NUMBER_RANGE.contains(&login.number));
    assert_eq!(login.devices_notified, 1);
    assert_eq!(login.pushes_muted_until, None);

    let challenge = only_challenge(&h, &phone).await;
    assert_eq!(challenge.srv, h.server.public_url());
    assert_eq!(challenge.kid, h.server.key_id());
    assert_eq!(challenge.usr, "alice");
    assert_eq!(challenge.cid.as_deref(), Some(phone.credential_id.as_str()));
    assert_eq!(challenge.num, Some(login.number));
    assert_eq!(challenge.exp - challenge.iat, 120);
    assert_eq!(challenge.exp, login.expires_at);
    assert_eq!(challenge.ctx.application, "Trader Workstation");
    assert_eq!(challenge.ctx.ip_address, "127.0.0.1");
    assert_eq!(challenge.ctx.location, "this computer");
    assert_eq!(challenge.ctx.browser, "Firefox on Linux");
    assert!(challenge.ctx.login_time >= before && challenge.ctx.login_time <= h.now());
    assert_eq!(h.state(&login).await.state, LoginState::Pending);

    let decided: DecideResponse = h
        .decide(&phone.decision(&challenge, Decision::Approve, Some(login.number), 1))
        .await
        .parse();
    let receipt: DecisionReceiptClaims =
        verify_token(&decided.receipt, &h.server.public_key()).expect("receipt verifies");
    assert_eq!(receipt.id, challenge.id);
    assert_eq!(receipt.cid, phone.credential_id);
    assert_eq!(receipt.dec, Decision::Approve);
    assert_eq!(receipt.ctr, 1);

    let approved = h.state(&login).await;
    assert_eq!(approved.state, LoginState::Approved);
    assert_eq!(approved.message, "Login approved on phone install-1.");
    assert_eq!(approved.device_name.as_deref(), Some("phone install-1"));
    assert!(approved.decided_at.is_some());
    let portal_token = approved
        .portal_token
        .expect("a portal token on the first read");
    let again = h.state(&login).await;
    assert_eq!(again.state, LoginState::Approved);
    assert_eq!(again.portal_token, None, "handed out once");

    // The token is a portal session: the devices list shows the phone's last use.
    let devices: Vec<PortalDevice> = h
        .get_bearer("/v1/portal/devices", &portal_token)
        .await
        .parse();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].last_used_at.is_some());
    assert!(!devices[0].possibly_cloned);
    let activity: Vec<PortalLogin> = h
        .get_bearer("/v1/portal/activity", &portal_token)
        .await
        .parse();
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].login_id, login.login_id);
    assert_eq!(activity[0].state, LoginState::Approved);
    assert_eq!(activity[0].application, "Trader Workstation");
    assert_eq!(activity[0].browser, "Firefox on Linux");
    assert_eq!(activity[0].device_name.as_deref(), Some("phone install-1"));
    assert!(h.pull(&phone).await.is_empty(), "nothing left to answer");

    // The reference sender recorded the push: the payload carries the same challenge.
    let pushes = ibkey_server::recorded_pushes(h.dir.path()).expect("recorded pushes");
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].username, "alice");
    assert_eq!(pushes[0].credential_id, phone.credential_id);
    assert_eq!(pushes[0].platform, None);
    let payload: PushPayload = serde_json::from_str(&pushes[0].payload).expect("payload");
    assert_eq!(payload.kind, PUSH_LOGIN_KIND);
    assert_eq!(h.challenge(&payload.challenge), challenge);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_number_is_refused_and_deny_and_wrong_number_end_the_login() {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    let login = h.login("alice").await;
    let challenge = only_challenge(&h, &phone).await;
    for number in [Some(other_number(login.number)), None] {
        h.decide(&phone.decision(&challenge, Decision::Approve, number, 1))
            .await
            .refused(StatusCode::BAD_REQUEST, codes::NUMBER_MISMATCH);
    }
    let denied: DecideResponse = h
        .decide(&phone.decision(&challenge, Decision::Deny, None, 2))
        .await
        .parse();
    let receipt: DecisionReceiptClaims =
        verify_token(&denied.receipt, &h.server.public_key()).expect("receipt");
    assert_eq!((receipt.dec, receipt.ctr), (Decision::Deny, 2));
    let status = h.state(&login).await;
    assert_eq!(status.state, LoginState::Denied);
    assert_eq!(status.message, "The login was denied on phone install-1.");
    assert_eq!(status.portal_token, None);

    let login = h.login("alice").await;
    let challenge = only_challenge(&h, &phone).await;
    let _: DecideResponse = h
        .decide(&phone.decision(&challenge, Decision::WrongNumber, None, 3))
        .await
        .parse();
    let status = h.state(&login).await;
    assert_eq!(status.state, LoginState::WrongNumber);
    assert!(status.message.contains("three times"), "{}", status.message);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_fraud_report_mutes_pushes_but_not_the_qr_code() {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    let earlier = h.login("alice").await;
    let reported = h.login("alice").await;
    let open = h.pull(&phone).await;
    assert_eq!(open.len(), 2);
    let (earlier_challenge, reported_challenge) = (&open[0], &open[1]);
    assert_eq!(earlier_challenge.num, Some(earlier.number));

    let _: DecideResponse = h
        .decide(&phone.decision(reported_challenge, Decision::ReportFraud, None, 1))
        .await
        .parse();
    let status = h.state(&reported).await;
    assert_eq!(status.state, LoginState::ReportedFraud);
    assert_eq!(status.message, "The login was denied and reported as fraud on phone install-1. Login notifications for alice are paused for 20 minutes; you can still log in with the QR code.");
    let portal = h.sign_in("alice").await;
    let reports: Vec<FraudReport> = h
        .get_bearer("/v1/portal/fraud-reports", &portal)
        .await
        .parse();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].login_id, reported.login_id);
    assert_eq!(reports[0].challenge_id, reported_challenge.id);
    assert_eq!(reports[0].credential_id, phone.credential_id);
    assert_eq!(reports[0].device_name.as_deref(), Some("phone install-1"));
    assert_eq!(reports[0].ip_address, "127.0.0.1");

    // The push challenge sent before the report cannot approve now.
    let muted = h
        .decide(&phone.decision(
            earlier_challenge,
            Decision::Approve,
            Some(earlier.number),
            2,
        ))
        .await;
    muted.refused(StatusCode::FORBIDDEN, codes::PUSHES_MUTED);
    assert!(muted.message().contains("QR code"), "{}", muted.message());

    // A new login notifies nobody and makes no device challenge; the QR code still works.
    let pushes_before = ibkey_server::recorded_pushes(h.dir.path())
        .expect("pushes")
        .len();
    let login = h.login("alice").await;
    assert_eq!(login.devices_notified, 0);
    let until = login.pushes_muted_until.expect("muted");
    assert!(until > h.now() && until <= h.now() + 20 * 60, "{until}");
    assert!(h
        .pull(&phone)
        .await
        .iter()
        .all(|c| c.id == earlier_challenge.id));
    assert_eq!(
        ibkey_server::recorded_pushes(h.dir.path())
            .expect("pushes")
            .len(),
        pushes_before
    );
    let pending = h.state(&login).await;
    assert!(pending.message.contains("paused"), "{}", pending.message);
    let qr: LoginQrResponse = h.qr(&login).await.parse();
    let qr_challenge = h.challenge(&qr.qr_payload);
    assert_eq!(
        (qr_challenge.cid.as_deref(), qr_challenge.num),
        (None, None)
    );
    let _: DecideResponse = h
        .decide(&phone.decision(&qr_challenge, Decision::Approve, None, 3))
        .await
        .parse();
    assert_eq!(h.state(&login).await.state, LoginState::Approved);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_replayed_or_late_second_decision_is_refused() {
    let h = harness().await;
    let first = h.enroll("alice", "install-1").await;
    let second = h.enroll("alice", "install-2").await;
    let login = h.login("alice").await;
    assert_eq!(login.devices_notified, 2);
    let first_challenge = only_challenge(&h, &first).await;
    let second_challenge = only_challenge(&h, &second).await;
    assert_ne!(first_challenge.id, second_challenge.id);
    assert_ne!(first_challenge.non, second_challenge.non);

    let approval = first.decision(&first_challenge, Decision::Approve, Some(login.number), 1);
    let _: DecideResponse = h.decide(&approval).await.parse();
    h.decide(&approval)
        .await
        .refused(StatusCode::CONFLICT, codes::CHALLENGE_USED);
    assert!(h.pull(&second).await.is_empty(), "closed by the approval");
    h.decide(&second.decision(&second_challenge, Decision::Deny, None, 1))
        .await
        .refused(StatusCode::CONFLICT, codes::CHALLENGE_USED);
    let status = h.state(&login).await;
    assert_eq!(status.state, LoginState::Approved);
    assert_eq!(status.device_name.as_deref(), Some("phone install-1"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_counter_that_does_not_go_up_blocks_the_device() {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    let login = h.login("alice").await;
    let challenge = only_challenge(&h, &phone).await;
    let _: DecideResponse = h
        .decide(&phone.decision(&challenge, Decision::Approve, Some(login.number), 5))
        .await
        .parse();

    let login = h.login("alice").await;
    let challenge = only_challenge(&h, &phone).await;
    h.decide(&phone.decision(&challenge, Decision::Approve, Some(login.number), 5))
        .await
        .refused(StatusCode::FORBIDDEN, codes::POSSIBLY_CLONED);
    let status = h.state(&login).await;
    assert_eq!(status.state, LoginState::PossiblyCloned);
    assert_eq!(status.message, "phone install-1 answered with an old counter: its keys may have been copied to another phone. The login was refused and phone install-1 is blocked; remove it in the portal and activate again.");

    let devices = h.devices("alice").await;
    assert!(devices[0].possibly_cloned);
    h.pull_reply(&phone)
        .await
        .refused(StatusCode::FORBIDDEN, codes::POSSIBLY_CLONED);
    let refused = h.start_login("alice").await;
    refused.refused(StatusCode::CONFLICT, codes::NO_DEVICES);
    assert!(refused.message().contains("phone install-1"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_tampered_context_a_forged_signature_or_a_stranger_is_refused() {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    let thief = h.enroll("mallory", "install-9").await;
    let login = h.login("alice").await;
    let challenge = only_challenge(&h, &phone).await;

    // Signed by the phone, but over another context than the server sent.
    let mut shown = challenge.clone();
    shown.ctx.location = "Zurich, Switzerland".into();
    h.decide(&phone.decision(&shown, Decision::Approve, Some(login.number), 1))
        .await
        .refused(StatusCode::BAD_REQUEST, codes::CONTEXT_MISMATCH);

    // Signed by another key, or changed after signing.
    let mut forged = thief.decision(&challenge, Decision::Approve, Some(login.number), 1);
    forged.credential_id = phone.credential_id.clone();
    h.decide(&forged)
        .await
        .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_SIGNATURE);
    let mut changed = phone.decision(&challenge, Decision::Deny, None, 1);
    changed.decision = Decision::Approve;
    changed.number = Some(login.number);
    h.decide(&changed)
        .await
        .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_SIGNATURE);

    // Another user's device, an unknown challenge.
    h.decide(&thief.decision(&challenge, Decision::Approve, Some(login.number), 1))
        .await
        .refused(StatusCode::NOT_FOUND, codes::CHALLENGE_UNKNOWN);
    let mut unknown = challenge.clone();
    unknown.id = "no-such-challenge".into();
    h.decide(&phone.decision(&unknown, Decision::Approve, Some(login.number), 1))
        .await
        .refused(StatusCode::NOT_FOUND, codes::CHALLENGE_UNKNOWN);
    assert_eq!(h.state(&login).await.state, LoginState::Pending);

    // The login goes through after all of that, with the first counter.
    let _: DecideResponse = h
        .decide(&phone.decision(&challenge, Decision::Approve, Some(login.number), 1))
        .await
        .parse();
    assert_eq!(h.state(&login).await.state, LoginState::Approved);
    h.server.shutdown().await;
}

#[tokio::test]
async fn an_expired_challenge_is_refused_and_the_login_reads_expired() {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    let login = h.login("alice").await;
    let challenge = only_challenge(&h, &phone).await;
    h.clock.advance(Duration::from_secs(120));
    h.decide(&phone.decision(&challenge, Decision::Approve, Some(login.number), 1))
        .await
        .refused(StatusCode::GONE, codes::CHALLENGE_EXPIRED);
    let status = h.state(&login).await;
    assert_eq!(status.state, LoginState::Expired);
    assert_eq!(
        status.message,
        "No device answered in time. Start the login again."
    );
    assert!(h.pull(&phone).await.is_empty());
    h.qr(&login)
        .await
        .refused(StatusCode::GONE, codes::CHALLENGE_EXPIRED);

    // A pull whose clock is more than 10 minutes off is refused; 9 minutes is fine.
    let stale = phone.pending_request(h.now() - 11 * 60);
    let skew = h.post("/v1/challenges/pending", &stale).await;
    skew.refused(
        StatusCode::BAD_REQUEST,
        ibkey_protocol::approval::codes::CLOCK_SKEW,
    );
    assert!(
        skew.message().contains("off by more than 10 minutes"),
        "{}",
        skew.message()
    );
    let skewed: PendingResponse = h
        .post(
            "/v1/challenges/pending",
            &phone.pending_request(h.now() + 9 * 60),
        )
        .await
        .parse();
    assert!(skewed.challenges.is_empty());
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_qr_challenge_is_answered_by_any_device_of_the_user() {
    let h = harness().await;
    let _first = h.enroll("alice", "install-1").await;
    let second = h.enroll("alice", "install-2").await;
    let stranger = h.enroll("bob", "install-3").await;
    let login = h.login("alice").await;
    let qr: LoginQrResponse = h.qr(&login).await.parse();
    let again: LoginQrResponse = h.qr(&login).await.parse();
    assert_eq!(again.qr_payload, qr.qr_payload, "re-issued while valid");
    let challenge = h.challenge(&qr.qr_payload);
    assert_eq!(challenge.cid, None);
    assert_eq!(challenge.num, None);
    assert_eq!(challenge.usr, "alice");
    assert_eq!(challenge.exp, qr.expires_at);

    h.decide(&stranger.decision(&challenge, Decision::Approve, None, 1))
        .await
        .refused(StatusCode::NOT_FOUND, codes::CHALLENGE_UNKNOWN);
    let _: DecideResponse = h
        .decide(&second.decision(&challenge, Decision::Approve, None, 1))
        .await
        .parse();
    let status = h.state(&login).await;
    assert_eq!(status.state, LoginState::Approved);
    assert_eq!(
        status.device_name.as_deref(),
        Some(second.device.name.as_str())
    );
    assert!(status.portal_token.is_some());
    h.qr(&login)
        .await
        .refused(StatusCode::CONFLICT, codes::CHALLENGE_USED);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_status_long_poll_returns_the_decision() {
    let h = Arc::new(harness().await);
    let phone = h.enroll("alice", "install-1").await;
    let login = h.login("alice").await;
    let challenge = only_challenge(&h, &phone).await;
    let waiting = {
        let h = h.clone();
        let login = login.clone();
        tokio::spawn(async move { h.status(&login, 30).await })
    };
    // Give the poll a moment to start waiting (it answers the same either way).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _: DecideResponse = h
        .decide(&phone.decision(&challenge, Decision::Deny, None, 1))
        .await
        .parse();
    let status: LoginStatus = waiting.await.expect("poll task").parse();
    assert_eq!(status.state, LoginState::Denied);
    assert_eq!(status.device_name.as_deref(), Some("phone install-1"));
}

#[tokio::test]
async fn the_login_page_needs_the_password_a_device_and_the_login_secret() {
    let h = harness().await;
    let wrong = h
        .post(
            "/v1/logins",
            &json!({"username": "alice", "password": "wrong"}),
        )
        .await;
    wrong.refused(StatusCode::UNAUTHORIZED, activation_codes::UNAUTHORIZED);
    let bad_name = h
        .post(
            "/v1/logins",
            &json!({"username": "-bad name", "password": PASSWORD}),
        )
        .await;
    bad_name.refused(StatusCode::UNAUTHORIZED, activation_codes::UNAUTHORIZED);
    let nobody = h.start_login("alice").await;
    nobody.refused(StatusCode::CONFLICT, codes::NO_DEVICES);
    assert_eq!(nobody.message(), "alice has no device that can approve a login. Activate IB Key on a phone first (portal → activation)");
    let long_name = h
        .post(
            "/v1/logins",
            &json!({"username": "alice", "password": PASSWORD, "application": "x".repeat(65)}),
        )
        .await;
    long_name.refused(StatusCode::BAD_REQUEST, activation_codes::BAD_REQUEST);

    let _phone = h.enroll("alice", "install-1").await;
    let login = h.login("alice").await;
    let mut wrong_secret = login.clone();
    wrong_secret.login_secret = "not-the-secret".into();
    h.status(&wrong_secret, 0)
        .await
        .refused(StatusCode::NOT_FOUND, codes::LOGIN_UNKNOWN);
    let mut unknown = login.clone();
    unknown.login_id = "no-such-login".into();
    h.status(&unknown, 0)
        .await
        .refused(StatusCode::NOT_FOUND, codes::LOGIN_UNKNOWN);
    h.qr(&wrong_secret)
        .await
        .refused(StatusCode::NOT_FOUND, codes::LOGIN_UNKNOWN);
    let no_bearer = read(
        h.http
            .get(h.url(&format!("/v1/logins/{}", login.login_id)))
            .send()
            .await
            .expect("send"),
    )
    .await;
    no_bearer.refused(StatusCode::NOT_FOUND, codes::LOGIN_UNKNOWN);
    h.get_bearer(
        &format!("/v1/logins/{}?wait=soon", login.login_id),
        &login.login_secret,
    )
    .await
    .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_REQUEST);
    h.server.shutdown().await;
}

#[tokio::test]
async fn revoking_a_device_leaves_its_challenges_unanswerable() {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    let login = h.login("alice").await;
    let challenge = only_challenge(&h, &phone).await;
    let portal = h.sign_in("alice").await;
    let removed = h
        .http
        .delete(h.url(&format!("/v1/portal/devices/{}", phone.credential_id)))
        .bearer_auth(&portal)
        .send()
        .await
        .expect("send");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    h.decide(&phone.decision(&challenge, Decision::Approve, Some(login.number), 1))
        .await
        .refused(StatusCode::NOT_FOUND, activation_codes::CREDENTIAL_UNKNOWN);
    h.pull_reply(&phone)
        .await
        .refused(StatusCode::NOT_FOUND, activation_codes::CREDENTIAL_UNKNOWN);
    assert_eq!(h.state(&login).await.state, LoginState::Pending);
    h.server.shutdown().await;
}

/// A push token registration, signed by the phone.
fn push_token_request(
    phone: &Phone,
    platform: &str,
    token: &str,
    issued_at: i64,
) -> PushTokenRequest {
    PushTokenRequest {
        credential_id: phone.credential_id.clone(),
        platform: platform.to_string(),
        token: token.to_string(),
        issued_at,
        signature: phone.device.sign(&device_request_message(
            PUSH_TOKEN_PURPOSE,
            &phone.credential_id,
            issued_at,
            &format!("{platform}:{token}"),
        )),
    }
}

/// A webhook on 127.0.0.1 that hands every body it receives to the returned channel, and
/// answers `status`.
async fn webhook(status: AxumStatus) -> (String, mpsc::UnboundedReceiver<Value>) {
    let (sender, received) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/push",
        post(move |axum::Json(body): axum::Json<Value>| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(body);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/push", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn pushes_go_to_the_webhook_with_the_registered_token() {
    let (url, mut received) = webhook(AxumStatus::OK).await;
    let sender = WebhookPushSender::new(url).expect("sender");
    let h = harness_with(|c| c.push_sender = Some(Arc::new(sender))).await;
    let phone = h.enroll("alice", "install-1").await;

    let bad_platform = push_token_request(&phone, "sms", "tok-123", h.now());
    h.post("/v1/devices/push-token", &bad_platform)
        .await
        .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_REQUEST);
    let mut forged = push_token_request(&phone, "fcm", "tok-123", h.now());
    forged.token = "tok-456".into();
    h.post("/v1/devices/push-token", &forged)
        .await
        .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_SIGNATURE);
    let registered = h
        .post(
            "/v1/devices/push-token",
            &push_token_request(&phone, "fcm", "tok-123", h.now()),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::NO_CONTENT,
        "{:?}",
        registered.body
    );

    let login = h.login("alice").await;
    assert_eq!(login.devices_notified, 1);
    let body = received.recv().await.expect("a push");
    assert_eq!(body["username"], "alice");
    assert_eq!(body["credential_id"], phone.credential_id.as_str());
    assert_eq!(body["platform"], "fcm");
    assert_eq!(body["push_token"], "tok-123");
    let payload: PushPayload =
        serde_json::from_str(body["payload"].as_str().expect("payload string")).expect("payload");
    assert_eq!(payload.kind, PUSH_LOGIN_KIND);
    let challenge = h.challenge(&payload.challenge);
    assert_eq!(challenge.num, Some(login.number));
    assert_eq!(challenge, only_challenge(&h, &phone).await);
    assert!(
        ibkey_server::recorded_pushes(h.dir.path())
            .expect("outbox")
            .is_empty(),
        "a configured sender replaces the recording one"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_failing_push_does_not_fail_the_login() {
    let (url, mut received) = webhook(AxumStatus::SERVICE_UNAVAILABLE).await;
    let sender = WebhookPushSender::new(url).expect("sender");
    let h = harness_with(|c| c.push_sender = Some(Arc::new(sender))).await;
    let phone = h.enroll("alice", "install-1").await;
    let login = h.login("alice").await;
    assert!(received.recv().await.is_some(), "the webhook was called");
    assert_eq!(login.devices_notified, 0);
    let challenge = only_challenge(&h, &phone).await;
    let _: DecideResponse = h
        .decide(&phone.decision(&challenge, Decision::Approve, Some(login.number), 1))
        .await
        .parse();
    assert_eq!(h.state(&login).await.state, LoginState::Approved);
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_recording_sender_records_the_registered_token() {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    let registered = h
        .post(
            "/v1/devices/push-token",
            &push_token_request(&phone, "apns", "apns-token", h.now()),
        )
        .await;
    assert_eq!(registered.status, StatusCode::NO_CONTENT);
    let _ = h.login("alice").await;
    let pushes = ibkey_server::recorded_pushes(h.dir.path()).expect("outbox");
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].platform.as_deref(), Some("apns"));
    assert_eq!(pushes[0].push_token.as_deref(), Some("apns-token"));
    let shown = format!("{:?}", pushes[0]);
    assert!(
        !shown.contains("apns-token") && !shown.contains("IBK1"),
        "{shown}"
    );
    h.server.shutdown().await;
}
