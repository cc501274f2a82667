//! End-to-end offline codes: the real server on loopback (the login page's challenge, response
//! and code endpoints), phones made of the real core over the desktop store, software keys and
//! a scripted person at the PIN pad. The phone computes without the network; the login page
//! takes what the user types.

// Helpers of a test stop it at the first surprise.
#![allow(clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ibkey_core::platform::{
    HttpHeader, HttpRequest, HttpResponse, HttpTransport, ReqwestTransport, TransportError,
};
use ibkey_core::{ApprovalError, CodesError, ErrorCode};
use ibkey_e2e::{read_guarded_record, CapturedLogs, World};
use ibkey_protocol::approval::{LoginState, LoginStatus};
use ibkey_protocol::offline;
use ibkey_server::portal_client::PendingLogin;
use ibkey_server::DEMO_PORTAL_PASSWORD;
use serde_json::{json, Value};

/// `user` types the password on the login page.
async fn login(world: &World, user: &str) -> PendingLogin {
    PendingLogin::start(&world.url(), user, DEMO_PORTAL_PASSWORD, None)
        .await
        .expect("a started login")
}

/// What the server answered the login page: the HTTP status and the JSON body.
struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    /// The login's status of a success.
    fn login_status(&self) -> LoginStatus {
        assert_eq!(self.status, 200, "{}", self.body);
        serde_json::from_value(self.body.clone()).expect("a login status")
    }

    /// The error code of a refusal.
    fn error_code(&self) -> &str {
        assert!(self.status >= 400, "{} {}", self.status, self.body);
        self.body["error"]["code"].as_str().expect("an error code")
    }
}

/// `POST /v1/logins/{id}/{action}` from the login page (its bearer secret), with `body`.
async fn page_post(world: &World, page: &PendingLogin, action: &str, body: Option<Value>) -> Reply {
    let started = page.started();
    let mut headers = vec![HttpHeader::new(
        "authorization",
        format!("Bearer {}", started.login_secret),
    )];
    let body = match body {
        Some(body) => {
            headers.push(HttpHeader::new("content-type", "application/json"));
            serde_json::to_vec(&body).expect("JSON")
        }
        None => Vec::new(),
    };
    let reply = ReqwestTransport::new()
        .expect("http")
        .send(HttpRequest {
            method: "POST".into(),
            url: format!("{}/v1/logins/{}/{action}", world.url(), started.login_id),
            headers,
            body,
        })
        .await
        .expect("a reply");
    let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    Reply {
        status: reply.status,
        body,
    }
}

/// The login page's "no network on the phone?": the challenge it shows (`123 456`).
async fn page_challenge(world: &World, page: &PendingLogin) -> String {
    let reply = page_post(world, page, "offline", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let challenge = reply.body["challenge"].as_str().expect("challenge");
    assert_eq!(challenge.len(), 7, "shown grouped: {challenge}");
    challenge.to_string()
}

/// The user types the phone's response into the login page.
async fn page_response(world: &World, page: &PendingLogin, response: &str) -> Reply {
    page_post(
        world,
        page,
        "response",
        Some(json!({ "response": response })),
    )
    .await
}

/// The user types a time-based code into the login page.
async fn page_code(world: &World, page: &PendingLogin, code: &str) -> Reply {
    page_post(world, page, "code", Some(json!({ "code": code }))).await
}

/// Where the login stands, without waiting.
async fn status(page: &PendingLogin) -> LoginStatus {
    page.status(0).await.expect("a login status")
}

/// `challenge` (as shown, grouped) with one digit changed, as a typo would.
fn with_typo(challenge: &str) -> String {
    challenge
        .chars()
        .enumerate()
        .map(|(i, c)| match c.to_digit(10) {
            Some(d) if i == 1 => char::from_digit((d + 1) % 10, 10).expect("digit"),
            _ => c,
        })
        .collect()
}

#[tokio::test]
async fn a_challenge_typed_into_the_phone_approves_the_login_once() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let page = login(&world, "alice").await;
    let challenge = page_challenge(&world, &page).await;
    // The page gives the same challenge again while the login waits.
    assert_eq!(page_challenge(&world, &page).await, challenge);

    let asked_before = phone.user.pin_requests().len();
    let sent_before = phone.sent();
    let shown = phone
        .auth
        .respond("alice", &challenge)
        .await
        .expect("a response");
    assert_eq!(shown.username, "alice");
    assert_eq!(shown.response.len(), offline::RESPONSE_DIGITS);
    assert_eq!(phone.sent(), sent_before, "computed without the network");
    assert_eq!(
        phone.user.pin_requests().len(),
        asked_before + 1,
        "behind the PIN"
    );

    let approved = page_response(&world, &page, &shown.response).await;
    assert_eq!(approved.login_status().state, LoginState::Approved);
    assert_eq!(status(&page).await.state, LoginState::Approved);

    // The same response again: used up.
    let again = page_response(&world, &page, &shown.response).await;
    assert_eq!(again.error_code(), offline::codes::RESPONSE_USED);
}

#[tokio::test]
async fn a_response_to_another_users_challenge_is_refused() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice", "bob"]).await;
    let page = login(&world, "bob").await;
    let challenge = page_challenge(&world, &page).await;
    let alices = phone
        .auth
        .respond("alice", &challenge)
        .await
        .expect("alice");
    let refused = page_response(&world, &page, &alices.response).await;
    assert_eq!(refused.error_code(), offline::codes::RESPONSE_WRONG);
    assert_eq!(status(&page).await.state, LoginState::Pending);
    let bobs = phone.auth.respond("bob", &challenge).await.expect("bob");
    assert_ne!(bobs.response, alices.response);
    let approved = page_response(&world, &page, &bobs.response).await;
    assert_eq!(approved.login_status().state, LoginState::Approved);
}

#[tokio::test]
async fn a_mistyped_challenge_is_caught_on_the_phone_before_anything_else() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let page = login(&world, "alice").await;
    let challenge = page_challenge(&world, &page).await;
    let asked_before = phone.user.pin_requests().len();
    let sent_before = phone.sent();
    let err = phone
        .auth
        .respond("alice", &with_typo(&challenge))
        .await
        .expect_err("a typo");
    assert_eq!(err, CodesError::ChallengeMistyped);
    assert_eq!(err.code(), "COD_CHALLENGE_MISTYPED");
    assert!(err.to_string().contains("login page"), "{err}");
    assert_eq!(
        phone
            .auth
            .respond("alice", &challenge.replace(' ', "")[..5])
            .await,
        Err(CodesError::ChallengeWrongLength { found: 5 })
    );
    assert_eq!(
        phone.auth.respond("alice", "12E 456").await,
        Err(CodesError::ChallengeNotDigits)
    );
    assert_eq!(
        phone.auth.respond("carol", &challenge).await,
        Err(CodesError::UnknownAccount {
            username: "carol".into()
        })
    );
    assert_eq!(
        phone.user.pin_requests().len(),
        asked_before,
        "no PIN asked"
    );
    assert_eq!(phone.sent(), sent_before, "no network call");
}

#[tokio::test]
async fn five_wrong_responses_stop_even_the_right_one() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let page = login(&world, "alice").await;
    let challenge = page_challenge(&world, &page).await;
    let right = phone
        .auth
        .respond("alice", &challenge)
        .await
        .expect("response");
    let wrong: Vec<String> = (1..=5u32)
        .map(|i| {
            let n = right.response.parse::<u32>().expect("digits");
            format!("{:08}", (n + i * 7_919) % 100_000_000)
        })
        .collect();
    for response in &wrong {
        let reply = page_response(&world, &page, response).await;
        assert_eq!(reply.error_code(), offline::codes::RESPONSE_WRONG);
    }
    let blocked = page_response(&world, &page, &right.response).await;
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    assert_eq!(blocked.error_code(), "too_many_attempts");
    assert!(
        blocked.body["error"]["retry_after"].as_u64().unwrap_or(0) > 0,
        "{}",
        blocked.body
    );
    // Time codes count against the same limit.
    let code = phone.auth.time_code("alice").await.expect("code");
    let reply = page_code(&world, &page, &code.code).await;
    assert_eq!(reply.error_code(), "too_many_attempts");
    assert_eq!(status(&page).await.state, LoginState::Pending);
}

#[tokio::test]
async fn a_time_code_approves_a_login_once() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let sent_before = phone.sent();
    let code = phone.auth.time_code("alice").await.expect("a code");
    assert_eq!(phone.sent(), sent_before, "computed without the network");
    assert_eq!(code.username, "alice");
    assert_eq!(code.code.len(), usize::from(offline::TIME_CODE_DIGITS));
    assert_eq!(code.period, 30);
    assert!((1..=30).contains(&code.seconds_left), "{code:?}");

    let page = login(&world, "alice").await;
    let approved = page_code(&world, &page, &code.code).await;
    assert_eq!(approved.login_status().state, LoginState::Approved);

    // The same code for the next login: used up.
    let next = login(&world, "alice").await;
    let reused = page_code(&world, &next, &code.code).await;
    assert_eq!(reused.error_code(), offline::codes::RESPONSE_USED);
    assert_eq!(status(&next).await.state, LoginState::Pending);
}

#[tokio::test]
async fn phone_clocks_minutes_or_days_off_still_give_accepted_time_codes() {
    let world = World::start().await;
    for (name, shift_secs) in [
        ("ahead", 300i64),
        ("behind", -300),
        ("days", 2 * 86_400),
        ("behind-days", -2 * 86_400),
    ] {
        // Off from the start: activation learns the server's time from its receipt.
        let phone = world.phone(name);
        phone.clock.shift_wall(shift_secs * 1000);
        world.enroll(&phone, &[name]).await;
        let offset = phone
            .auth
            .clock_offset_secs()
            .expect("store")
            .expect("learned at activation");
        assert!(
            (offset - shift_secs).abs() <= 5,
            "{name}: the phone is {offset} s off"
        );
        let code = phone
            .auth
            .time_code(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let page = login(&world, name).await;
        let reply = page_code(&world, &page, &code.code).await;
        assert_eq!(reply.login_status().state, LoginState::Approved, "{name}");
    }
}

#[tokio::test]
async fn a_clock_set_far_off_after_activation_is_named_as_the_cause() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    phone.clock.shift_wall(86_400 * 1000);
    login(&world, "alice").await;
    let err = phone.auth.pending_logins().await.expect_err("refused");
    assert!(matches!(err, ApprovalError::ClockWrong { .. }), "{err:?}");
    assert_eq!(err.code(), "APR_CLOCK_WRONG");
    assert!(
        err.to_string().starts_with("This phone's clock is"),
        "{err}"
    );
}

/// A transport that fails every request while `down` is set, counting those it failed.
struct Switchable {
    inner: Arc<dyn HttpTransport>,
    down: Arc<AtomicBool>,
    failed: Arc<AtomicUsize>,
}

#[async_trait]
impl HttpTransport for Switchable {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if self.down.load(Ordering::SeqCst) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(TransportError::Unreachable {
                reason: "airplane mode".into(),
            });
        }
        self.inner.send(request).await
    }
}

#[tokio::test]
async fn offline_codes_need_no_network_on_the_phone() {
    let world = World::start().await;
    let down = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicUsize::new(0));
    let (switch, count) = (down.clone(), failed.clone());
    let phone = world.phone_with_http(
        "phone",
        Arc::new(move |inner| {
            Arc::new(Switchable {
                inner,
                down: switch.clone(),
                failed: count.clone(),
            }) as Arc<dyn HttpTransport>
        }),
    );
    world.enroll(&phone, &["alice"]).await;
    down.store(true, Ordering::SeqCst);
    // The app restarts without a network, too.
    let phone = phone.restart();

    let page = login(&world, "alice").await;
    let challenge = page_challenge(&world, &page).await;
    let shown = phone
        .auth
        .respond("alice", &challenge)
        .await
        .expect("a response offline");
    let approved = page_response(&world, &page, &shown.response).await;
    assert_eq!(approved.login_status().state, LoginState::Approved);

    let code = phone.auth.time_code("alice").await.expect("a code offline");
    let page = login(&world, "alice").await;
    let approved = page_code(&world, &page, &code.code).await;
    assert_eq!(approved.login_status().state, LoginState::Approved);
    assert_eq!(failed.load(Ordering::SeqCst), 0, "nothing was even tried");
    // The network really is down for the phone.
    assert!(phone.auth.pending_logins().await.is_err());
    assert!(failed.load(Ordering::SeqCst) > 0);
}

/// Drops the agreement key from the phone's activation, as an app without offline codes sends.
struct OlderApp {
    inner: Arc<dyn HttpTransport>,
}

#[async_trait]
impl HttpTransport for OlderApp {
    async fn send(&self, mut request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if request.url.ends_with("/v1/activation/complete") {
            let mut body: Value = serde_json::from_slice(&request.body).expect("JSON");
            assert!(body["agreement_key"].is_string(), "this app sends one");
            body.as_object_mut()
                .expect("object")
                .remove("agreement_key");
            request.body = serde_json::to_vec(&body).expect("JSON");
        }
        self.inner.send(request).await
    }
}

#[tokio::test]
async fn an_account_activated_without_an_agreement_has_no_codes_and_says_so() {
    let world = World::start().await;
    let phone = world.phone_with_http(
        "phone",
        Arc::new(|inner| Arc::new(OlderApp { inner }) as Arc<dyn HttpTransport>),
    );
    world.enroll(&phone, &["alice"]).await;
    let unavailable = CodesError::Unavailable {
        username: "alice".into(),
    };
    assert_eq!(
        phone.auth.time_code("alice").await,
        Err(unavailable.clone())
    );
    assert_eq!(
        phone.auth.respond("alice", "123 455").await,
        Err(unavailable.clone())
    );
    assert_eq!(unavailable.code(), "COD_UNAVAILABLE");
    // The login page says the same; approvals still work.
    let page = login(&world, "alice").await;
    let reply = page_post(&world, &page, "offline", None).await;
    assert_eq!(reply.error_code(), offline::codes::OFFLINE_UNAVAILABLE);
    let mut pending = phone.auth.pending_logins().await.expect("pull");
    let challenge = pending.pop().expect("the login");
    phone
        .auth
        .approve(&challenge, Some(page.started().number))
        .await
        .expect("approved");
}

#[tokio::test]
async fn canary_no_secret_response_or_code_in_the_logs() {
    let captured = CapturedLogs::install();

    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let mut canaries: Vec<(String, String)> = Vec::new();

    let page = login(&world, "alice").await;
    let challenge = page_challenge(&world, &page).await;
    let shown = phone
        .auth
        .respond("alice", &challenge)
        .await
        .expect("response");
    canaries.push(("response".into(), shown.response.clone()));
    canaries.push(("challenge".into(), challenge.replace(' ', "")));
    page_response(&world, &page, &shown.response)
        .await
        .login_status();
    let _ = phone.auth.respond("alice", &with_typo(&challenge)).await;

    let code = phone.auth.time_code("alice").await.expect("code");
    canaries.push(("time code".into(), code.code.clone()));
    let page = login(&world, "alice").await;
    page_code(&world, &page, &code.code).await.login_status();

    // The secret as stored, and its bytes as hex.
    let account = phone.auth.account("alice").expect("store").expect("alice");
    let record = read_guarded_record(
        &phone.store_dir,
        &format!("approval.{}", account.credential_id),
    );
    let secret = record["codes"]["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let bytes = ibkey_protocol::encoding::unb64(&secret).expect("base64url");
    assert_eq!(bytes.len(), offline::SECRET_LEN);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    canaries.push(("secret".into(), secret));
    canaries.push(("secret hex".into(), hex));

    let logs = captured.text();
    let core_lines: Vec<&str> = logs.lines().filter(|l| l.contains("ibkey_core")).collect();
    assert!(
        core_lines.iter().any(|l| l.contains("time code shown")),
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
