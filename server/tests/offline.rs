//! Offline codes end to end: a real server on 127.0.0.1 (port 0) over a real SQLite file in
//! a temporary directory, phones that agree an X25519 secret at activation the way IB Key
//! will, then logins approved by a challenge's response or a time-based code, replayed,
//! guessed, locked out, and muted.

#![allow(clippy::expect_used)]

mod support;

use std::time::Duration;

use ibkey_protocol::activation::{codes as activation_codes, verify_token, CompleteResponse};
use ibkey_protocol::approval::{
    codes as approval_codes, decision_message, device_request_message, ChallengeClaims,
    DecideRequest, Decision, LoginStarted, LoginState, LoginStatus, PendingResponse,
    PENDING_PURPOSE,
};
use ibkey_protocol::encoding::b64;
use ibkey_protocol::offline::{
    codes, parse_challenge, response, time_code, OfflineChallenge, TIME_CODE_PERIOD,
};
use ibkey_server::PortalDevice;
use reqwest::StatusCode;
use serde_json::json;
use support::phone::Account;
use support::{harness, harness_with, Device, Harness, Reply, PASSWORD};

impl Account {
    /// A code that is none of the phone's around `now` (whichever step the server reads).
    fn not_a_code_near(&self, now: i64) -> String {
        let step = now / 30;
        let near: Vec<String> = (step - 1..=step + 2).map(|s| self.code(s)).collect();
        ["000000", "111111", "222222", "333333", "444444"]
            .into_iter()
            .find(|candidate| !near.iter().any(|code| code == candidate))
            .expect("at most four codes are near")
            .to_string()
    }

    /// The phone's time-based code of the 30-second `step`.
    fn code(&self, step: i64) -> String {
        time_code(
            &self.secret,
            u64::try_from(step).expect("positive") * TIME_CODE_PERIOD,
        )
    }
}

impl Harness {
    async fn login(&self, user: &str) -> LoginStarted {
        self.post(
            "/v1/logins",
            &json!({"username": user, "password": PASSWORD}),
        )
        .await
        .parse()
    }

    async fn offline_reply(&self, login: &LoginStarted) -> Reply {
        self.post_bearer(
            &format!("/v1/logins/{}/offline", login.login_id),
            &login.login_secret,
        )
        .await
    }

    async fn offline(&self, login: &LoginStarted) -> OfflineChallenge {
        self.offline_reply(login).await.parse()
    }

    async fn send_response(&self, login: &LoginStarted, typed: &str) -> Reply {
        self.send(
            self.http
                .post(self.url(&format!("/v1/logins/{}/response", login.login_id)))
                .bearer_auth(&login.login_secret)
                .json(&json!({ "response": typed })),
        )
        .await
    }

    async fn send_code(&self, login: &LoginStarted, typed: &str) -> Reply {
        self.send(
            self.http
                .post(self.url(&format!("/v1/logins/{}/code", login.login_id)))
                .bearer_auth(&login.login_secret)
                .json(&json!({ "code": typed })),
        )
        .await
    }

    async fn state(&self, login: &LoginStarted) -> LoginStatus {
        self.get_bearer(
            &format!("/v1/logins/{}", login.login_id),
            &login.login_secret,
        )
        .await
        .parse()
    }

    /// Moves the server clock to the start of the next 30-second step, so the test has a
    /// whole step before the server's step changes; the step.
    fn start_of_next_step(&self) -> i64 {
        let period = i64::try_from(TIME_CODE_PERIOD).expect("period");
        let into_step = u64::try_from(self.now().rem_euclid(period)).expect("positive");
        self.clock
            .advance(Duration::from_secs(TIME_CODE_PERIOD - into_step));
        self.now() / period
    }
}

/// Checks an approval by `account`'s phone: approved, by its name, with a portal token that
/// opens the portal.
async fn assert_approved(h: &Harness, reply: &Reply, account: &Account) {
    let status: LoginStatus = reply.parse();
    assert_eq!(status.state, LoginState::Approved);
    assert_eq!(
        status.device_name.as_deref(),
        Some(account.device.name.as_str())
    );
    assert!(status.decided_at.is_some());
    let token = status
        .portal_token
        .expect("the portal token, on the first read");
    let devices: Vec<PortalDevice> = h.get_bearer("/v1/portal/devices", &token).await.parse();
    assert!(devices
        .iter()
        .any(|d| d.credential_id == account.credential_id));
}

#[tokio::test]
async fn both_ends_agree_a_secret_and_a_right_response_approves_the_login_once() {
    let h = harness().await;
    let alice = h.enroll_offline("alice", "install-1").await;
    let login = h.login("alice").await;

    let shown = h.offline(&login).await;
    assert_eq!(shown.expires_at, login.expires_at);
    assert!(
        shown.challenge.len() == 7 && shown.challenge.as_bytes()[3] == b' ',
        "grouped 123 456: {:?}",
        shown.challenge
    );
    let again = h.offline(&login).await;
    assert_eq!(
        again.challenge, shown.challenge,
        "given again while pending"
    );

    // Typed with spaces, as a user reads it off the phone.
    let typed = alice.response(&shown);
    let spaced = format!("{} {}", &typed[..4], &typed[4..]);
    let approved = h.send_response(&login, &spaced).await;
    assert_approved(&h, &approved, &alice).await;
    let status = h.state(&login).await;
    assert_eq!(status.state, LoginState::Approved);
    assert!(
        status.portal_token.is_none(),
        "the portal token is given once"
    );

    h.send_response(&login, &typed)
        .await
        .refused(StatusCode::CONFLICT, codes::RESPONSE_USED);
    h.offline_reply(&login)
        .await
        .refused(StatusCode::CONFLICT, approval_codes::CHALLENGE_USED);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_device_activated_without_an_agreement_key_has_no_offline_codes() {
    let h = harness().await;
    let device = Device::new("install-1");
    let ticket = h.ticket_for("alice").await;
    let complete: CompleteResponse = h.complete(&device, &ticket.qr_payload).await.parse();
    assert!(complete.agreement_key.is_none());
    let login = h.login("alice").await;

    let refused = h.offline_reply(&login).await;
    refused.refused(StatusCode::CONFLICT, codes::OFFLINE_UNAVAILABLE);
    assert_eq!(refused.message(), "alice's devices were activated before offline codes existed: remove IB Key for alice from the phone and activate again to get them.");
    h.send_code(&login, "123456")
        .await
        .refused(StatusCode::CONFLICT, codes::OFFLINE_UNAVAILABLE);
    h.send_response(&login, "12345678")
        .await
        .refused(StatusCode::CONFLICT, approval_codes::CHALLENGE_UNKNOWN);
    assert_eq!(h.state(&login).await.state, LoginState::Pending);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_response_to_another_challenge_or_for_another_user_is_wrong() {
    let h = harness().await;
    let alice = h.enroll_offline("alice", "install-1").await;
    let bob = h.enroll_offline("bob", "install-2").await;
    let login = h.login("alice").await;

    let before = h.send_response(&login, "12345678").await;
    before.refused(StatusCode::CONFLICT, approval_codes::CHALLENGE_UNKNOWN);
    assert!(
        before.message().contains("challenge first"),
        "{}",
        before.message()
    );

    let shown = h.offline(&login).await;
    let challenge = parse_challenge(&shown.challenge).expect("challenge");
    let other_login = h.login("alice").await;
    let other = h.offline(&other_login).await;
    let mut wrong = vec![
        response(&alice.secret, "bob", &challenge),
        response(&bob.secret, "bob", &challenge),
        response(&bob.secret, "alice", &challenge),
    ];
    if other.challenge != shown.challenge {
        wrong.push(alice.response(&other));
    }
    for typed in wrong {
        let refused = h.send_response(&login, &typed).await;
        refused.refused(StatusCode::BAD_REQUEST, codes::RESPONSE_WRONG);
        assert_eq!(refused.message(), "The response does not match this challenge. Check that you typed the challenge into the phone for the right user, and the 8 digits back.");
    }
    let typo = h.send_response(&login, "1234 567").await;
    typo.refused(StatusCode::BAD_REQUEST, activation_codes::BAD_REQUEST);
    assert!(typo.message().contains("8 digits"), "{}", typo.message());
    assert_eq!(h.state(&login).await.state, LoginState::Pending);

    // Four wrong ones are under the limit: the right one still goes through.
    let approved = h.send_response(&login, &alice.response(&shown)).await;
    assert_approved(&h, &approved, &alice).await;
    h.server.shutdown().await;
}

#[tokio::test]
async fn five_wrong_responses_lock_the_user_out_until_the_window_passes() {
    let h = harness_with(|config| config.challenge_lifetime = Duration::from_secs(3_600)).await;
    let alice = h.enroll_offline("alice", "install-1").await;
    let bob = h.enroll_offline("bob", "install-2").await;
    let login = h.login("alice").await;
    let shown = h.offline(&login).await;
    let right = alice.response(&shown);
    let wrong = if right == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    for _ in 0..4 {
        h.send_response(&login, wrong)
            .await
            .refused(StatusCode::BAD_REQUEST, codes::RESPONSE_WRONG);
    }
    // A wrong time code counts against the same limit.
    let wrong_code = alice.not_a_code_near(h.now());
    h.send_code(&login, &wrong_code)
        .await
        .refused(StatusCode::BAD_REQUEST, codes::RESPONSE_WRONG);

    let locked = h.send_response(&login, &right).await;
    locked.refused(
        StatusCode::TOO_MANY_REQUESTS,
        activation_codes::TOO_MANY_ATTEMPTS,
    );
    let retry_after = locked.error().error.retry_after.expect("retry_after");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(
        locked.retry_after_header.as_deref(),
        Some(retry_after.to_string().as_str())
    );
    assert!(locked.message().contains("Wait "), "{}", locked.message());
    assert!(locked.message().contains("alice"), "{}", locked.message());
    h.send_code(&login, &alice.code(h.now() / 30))
        .await
        .refused(
            StatusCode::TOO_MANY_REQUESTS,
            activation_codes::TOO_MANY_ATTEMPTS,
        );
    assert_eq!(h.state(&login).await.state, LoginState::Pending);

    // Other users are not locked out.
    let bobs_login = h.login("bob").await;
    let bobs = h.offline(&bobs_login).await;
    assert_approved(
        &h,
        &h.send_response(&bobs_login, &bob.response(&bobs)).await,
        &bob,
    )
    .await;

    h.clock.advance(Duration::from_secs(retry_after));
    let approved = h.send_response(&login, &right).await;
    assert_approved(&h, &approved, &alice).await;
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_time_code_approves_once_within_one_step_of_the_server_clock() {
    let h = harness().await;
    let alice = h.enroll_offline("alice", "install-1").await;
    let step = h.start_of_next_step();

    let first = h.login("alice").await;
    let previous = h.send_code(&first, &alice.code(step - 1)).await;
    assert_approved(&h, &previous, &alice).await;

    let second = h.login("alice").await;
    let current = alice.code(step);
    let spaced = format!("{} {}", &current[..3], &current[3..]);
    assert_approved(&h, &h.send_code(&second, &spaced).await, &alice).await;

    let third = h.login("alice").await;
    let reused = h.send_code(&third, &current).await;
    reused.refused(StatusCode::CONFLICT, codes::RESPONSE_USED);
    assert!(
        reused.message().contains("next code"),
        "{}",
        reused.message()
    );
    let stale = alice.code(step - 2);
    if stale != alice.code(step + 1) && stale != current && stale != alice.code(step - 1) {
        h.send_code(&third, &stale)
            .await
            .refused(StatusCode::BAD_REQUEST, codes::RESPONSE_WRONG);
    }
    h.send_code(&third, "12345")
        .await
        .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_REQUEST);
    assert_eq!(h.state(&third).await.state, LoginState::Pending);
    let next = h.send_code(&third, &alice.code(step + 1)).await;
    assert_approved(&h, &next, &alice).await;
    // The approved login takes no more codes.
    h.send_code(&third, &alice.code(step + 1))
        .await
        .refused(StatusCode::CONFLICT, codes::RESPONSE_USED);
    h.server.shutdown().await;
}

#[tokio::test]
async fn offline_codes_work_while_pushes_are_muted() {
    let h = harness().await;
    let alice = h.enroll_offline("alice", "install-1").await;
    let reported = h.login("alice").await;
    report_fraud(&h, &alice).await;
    assert_eq!(h.state(&reported).await.state, LoginState::ReportedFraud);
    h.offline_reply(&reported)
        .await
        .refused(StatusCode::CONFLICT, approval_codes::CHALLENGE_USED);

    let login = h.login("alice").await;
    assert!(login.pushes_muted_until.is_some());
    assert_eq!(login.devices_notified, 0);
    let shown = h.offline(&login).await;
    let approved = h.send_response(&login, &alice.response(&shown)).await;
    assert_approved(&h, &approved, &alice).await;
    h.server.shutdown().await;
}

/// Pulls the phone's one open challenge and reports it as fraud, as the app does.
async fn report_fraud(h: &Harness, account: &Account) {
    let issued_at = h.now();
    let pull = json!({
        "credential_id": account.credential_id,
        "issued_at": issued_at,
        "signature": account.device.sign(&device_request_message(
            PENDING_PURPOSE,
            &account.credential_id,
            issued_at,
            "",
        )),
    });
    let pending: PendingResponse = h.post("/v1/challenges/pending", &pull).await.parse();
    assert_eq!(pending.challenges.len(), 1);
    let challenge: ChallengeClaims =
        verify_token(&pending.challenges[0], &h.server.public_key()).expect("challenge");
    let digest = challenge.ctx.digest();
    let decision = Decision::ReportFraud;
    let request = DecideRequest {
        challenge_id: challenge.id.clone(),
        credential_id: account.credential_id.clone(),
        decision,
        number: None,
        context_digest: digest.clone(),
        counter: 1,
        signature: account.device.sign(&decision_message(
            &challenge.id,
            &challenge.non,
            &challenge.srv,
            &challenge.usr,
            decision,
            None,
            &digest,
            1,
        )),
    };
    let decided = h.post("/v1/challenges/decide", &request).await;
    assert!(decided.status.is_success(), "{}", decided.body);
}

#[tokio::test]
async fn a_malformed_agreement_key_is_refused_and_leaves_the_ticket_unused() {
    let h = harness().await;
    let device = Device::new("install-1");
    let ticket = h.ticket_for("alice").await;
    let (request, _) = device.complete_request_with_agreement(&ticket.qr_payload);
    for key in [
        "not base64!".to_string(),
        b64(&[9u8; 31]),
        b64(&[9u8; 33]),
        // The zero point: a point of small order, whose shared value is all zeroes.
        b64(&[0u8; 32]),
    ] {
        let mut bad = request.clone();
        bad.agreement_key = Some(key.clone());
        let refused = h.post("/v1/activation/complete", &bad).await;
        refused.refused(
            StatusCode::BAD_REQUEST,
            activation_codes::AGREEMENT_KEY_INVALID,
        );
        assert!(
            refused.message().contains("agreement key"),
            "{key}: {}",
            refused.message()
        );
    }
    assert!(h.devices("alice").await.is_empty());
    let complete: CompleteResponse = h.post("/v1/activation/complete", &request).await.parse();
    assert!(complete.agreement_key.is_some(), "the ticket still works");
    h.server.shutdown().await;
}
