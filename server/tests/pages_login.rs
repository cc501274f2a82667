//! The login page end to end, against a real server on loopback: the password form with its
//! CSRF token and login cookie, the number to match, the status events as a phone approves,
//! denies, reports fraud or lets the login expire, the page of an approved login, the
//! login's QR code and the challenge/response form.

#![allow(clippy::expect_used)]

mod support;

use std::time::Duration;

use ibkey_protocol::activation::SignInResponse;
use ibkey_protocol::approval::{Decision, LoginQrResponse};
use ibkey_protocol::offline::OfflineChallenge;
use reqwest::StatusCode;
use support::browser::{csrf_of, qr_svg, Browser, Events, Page};
use support::phone::{only_challenge, Phone};
use support::{harness, off_loopback_harness, Harness, PASSWORD};

/// Opens the login form and logs in as `user`; the reply to the form.
async fn log_in(browser: &mut Browser, user: &str, password: &str) -> Page {
    let form = browser.get("/login").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = csrf_of(&form);
    browser
        .post(
            "/login",
            &[("username", user), ("password", password), ("csrf", &csrf)],
        )
        .await
}

/// Logs in as `user` and opens the waiting page: the page and its status events.
async fn wait_page(browser: &mut Browser, user: &str) -> (Page, Events) {
    let started = log_in(browser, user, PASSWORD).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    assert_eq!(started.header("location"), "/login/wait");
    let page = browser.get("/login/wait").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let events = browser.events_of(&page, "login-status").await;
    (page, events)
}

/// A server with alice's phone enrolled.
async fn alice_with_phone() -> (Harness, Phone) {
    let h = harness().await;
    let phone = h.enroll("alice", "install-1").await;
    (h, phone)
}

#[tokio::test]
async fn the_login_form_needs_its_csrf_token_and_sets_a_strict_login_cookie() {
    let (h, phone) = alice_with_phone().await;
    let mut browser = Browser::new(&h);
    let form = browser.get("/login").await;
    form.assert_security_headers();
    assert_eq!(form.header("cache-control"), "no-store");
    for element in [
        r#"<form id="login" method="post" action="/login">"#,
        r#"<label for="username">User name</label>"#,
        r#"<label for="password">Password</label>"#,
        r#"<button type="submit">Log in</button>"#,
    ] {
        assert!(form.body.contains(element), "{element}");
    }
    let csrf = csrf_of(&form);
    for refused in [
        browser
            .post("/login", &[("username", "alice"), ("password", PASSWORD)])
            .await,
        browser
            .post(
                "/login",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("csrf", "AAAA"),
                ],
            )
            .await,
    ] {
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.text("page-message").contains("Reload the page"));
        assert!(refused.set_cookie("ibkey_login").is_empty());
    }
    // No login was started by the refused forms: the phone has nothing to answer.
    assert!(h.pull(&phone).await.is_empty());

    let wrong = log_in(&mut browser, "alice", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.tag("form-error").contains(r#"role="alert""#));
    assert_eq!(wrong.attribute("username", "value"), "alice");
    assert!(wrong.set_cookie("ibkey_login").is_empty());

    let started = browser
        .post(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    assert_eq!(started.header("location"), "/login/wait");
    let cookie = started.set_cookie("ibkey_login");
    assert!(
        cookie.ends_with("; Path=/login; HttpOnly; SameSite=Strict"),
        "{cookie}"
    );
    let secret = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('.'))
        .expect("id.secret")
        .1;
    assert!(!started.header("location").contains(secret));
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_page_shows_the_logins_number_and_goes_on_when_the_phone_approves() {
    let (h, phone) = alice_with_phone().await;
    let mut browser = Browser::new(&h);
    let (page, mut events) = wait_page(&mut browser, "alice").await;
    page.assert_security_headers();
    assert_eq!(page.header("cache-control"), "no-store");
    let challenge = only_challenge(&h, &phone).await;
    let number = challenge.num.expect("a push challenge has a number");
    assert_eq!(page.text("login-number"), number.to_string());
    assert_eq!(page.attribute("login-status", "data-state"), "waiting");
    assert_eq!(
        page.text("login-status"),
        "Waiting for approval on your phone…"
    );
    assert!(page
        .body
        .contains(r#"<a id="use-qr" href="/login/qr">Log in with QR code</a>"#));
    assert!(page
        .body
        .contains(r#"<a id="use-code" href="/login/offline">Use a code from the app</a>"#));
    assert_eq!(events.next_state().await.0, "waiting");

    let not_yet = browser.get("/login/done").await;
    assert_eq!(not_yet.status, StatusCode::SEE_OTHER);
    assert_eq!(not_yet.header("location"), "/login/wait");

    let decided = h
        .decide(&phone.decision(&challenge, Decision::Approve, Some(number), 1))
        .await;
    assert!(decided.status.is_success(), "{}", decided.body);
    let (state, message) = events.next_state().await;
    assert_eq!(state, "approved");
    assert!(message.contains("phone install-1"), "{message}");
    assert!(events.next().await.is_none(), "the stream ends when final");

    let done = browser.get("/login/done").await;
    assert_eq!(done.status, StatusCode::OK);
    done.assert_security_headers();
    assert!(done.body.contains("<h1>Logged in</h1>"));
    assert_eq!(done.text("logged-in"), "You are logged in as alice.");
    let session = done.set_cookie("ibkey_session");
    assert!(session.contains("; HttpOnly; SameSite=Strict"), "{session}");
    // The approved login's waiting page goes on by itself too.
    let again = browser.get("/login/wait").await;
    assert_eq!(again.header("location"), "/login/done");
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_denial_and_a_fraud_report_reach_the_page_and_the_mute_is_shown() {
    let (h, phone) = alice_with_phone().await;
    let mut browser = Browser::new(&h);
    let (_, mut events) = wait_page(&mut browser, "alice").await;
    assert_eq!(events.next_state().await.0, "waiting");
    let challenge = only_challenge(&h, &phone).await;
    h.decide(&phone.decision(&challenge, Decision::Deny, None, 1))
        .await;
    assert_eq!(
        events.next_state().await,
        (
            "denied".to_string(),
            "The login was denied on your phone.".to_string()
        )
    );
    let denied = browser.get("/login/wait").await;
    assert_eq!(denied.attribute("login-status", "data-state"), "denied");
    for path in ["/login/qr", "/login/offline"] {
        assert_eq!(
            browser.get(path).await.header("location"),
            "/login/wait",
            "{path}"
        );
    }
    assert_eq!(
        browser.get("/login/done").await.status,
        StatusCode::SEE_OTHER
    );

    let (_, mut events) = wait_page(&mut browser, "alice").await;
    assert_eq!(events.next_state().await.0, "waiting");
    let challenge = only_challenge(&h, &phone).await;
    h.decide(&phone.decision(&challenge, Decision::ReportFraud, None, 2))
        .await;
    let (state, message) = events.next_state().await;
    assert_eq!(state, "fraud");
    assert!(
        message.starts_with("The login was reported on your phone as not yours. Notifications to your phone are paused until "),
        "{message}"
    );
    assert_eq!(
        browser.get("/login/done").await.status,
        StatusCode::SEE_OTHER
    );

    // The next login's page says the pushes are paused and offers the QR code.
    let (page, _) = wait_page(&mut browser, "alice").await;
    assert!(page.text("login-paused").contains("are paused"));
    assert!(h.pull(&phone).await.is_empty());
    h.server.shutdown().await;
}

#[tokio::test]
async fn an_expired_login_is_reported_and_cannot_reach_the_logged_in_page() {
    let (h, _phone) = alice_with_phone().await;
    let mut browser = Browser::new(&h);
    let (_, mut events) = wait_page(&mut browser, "alice").await;
    assert_eq!(events.next_state().await.0, "waiting");
    h.clock.advance(Duration::from_secs(121));
    assert_eq!(
        events.next_state().await,
        (
            "expired".to_string(),
            "This login request expired. Log in again.".to_string()
        )
    );
    let page = browser.get("/login/wait").await;
    assert_eq!(page.attribute("login-status", "data-state"), "expired");
    assert_eq!(
        browser.get("/login/done").await.status,
        StatusCode::SEE_OTHER
    );

    // Without a login cookie, or with a forged one, the login pages send to the form.
    let mut stranger = Browser::new(&h);
    for path in ["/login/wait", "/login/done", "/login/events", "/login/qr"] {
        let page = stranger.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.header("location"), "/login", "{path}");
    }
    stranger.cookies.insert(
        "ibkey_login".to_string(),
        format!("{}.{}", "A".repeat(22), "B".repeat(43)),
    );
    assert_eq!(
        stranger.get("/login/done").await.header("location"),
        "/login"
    );
    h.server.shutdown().await;
}

/// The login id and secret in the browser's login cookie.
fn login_of(browser: &Browser) -> (String, String) {
    let value = browser.cookies.get("ibkey_login").expect("a login cookie");
    let (id, secret) = value.split_once('.').expect("id.secret");
    (id.to_string(), secret.to_string())
}

#[tokio::test]
async fn the_qr_page_shows_the_logins_qr_code_and_a_scan_approves_it() {
    let (h, phone) = alice_with_phone().await;
    let mut browser = Browser::new(&h);
    let (_, mut events) = wait_page(&mut browser, "alice").await;
    assert_eq!(events.next_state().await.0, "waiting");
    let page = browser.get("/login/qr").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_security_headers();
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(
        page.attribute("login-qr", "alt"),
        "QR code to scan with IB Key"
    );
    assert_eq!(page.attribute("login-status", "data-state"), "waiting");
    // The image is the QR code the API hands out for this login (the same open challenge).
    let (id, secret) = login_of(&browser);
    let qr: LoginQrResponse = h
        .post_bearer(&format!("/v1/logins/{id}/qr"), &secret)
        .await
        .parse();
    assert_eq!(page.image_svg("login-qr"), qr_svg(&qr.qr_payload));

    let scanned = h.challenge(&qr.qr_payload);
    assert_eq!(scanned.num, None);
    let decided = h
        .decide(&phone.decision(&scanned, Decision::Approve, None, 1))
        .await;
    assert!(decided.status.is_success(), "{}", decided.body);
    assert_eq!(events.next_state().await.0, "approved");
    assert_eq!(browser.get("/login/done").await.status, StatusCode::OK);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_offline_response_shows_the_error_and_the_right_one_logs_in() {
    let h = harness().await;
    let account = h.enroll_offline("alice", "install-1").await;
    let mut browser = Browser::new(&h);
    wait_page(&mut browser, "alice").await;
    let page = browser.get("/login/offline").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_security_headers();
    assert_eq!(page.header("cache-control"), "no-store");
    for element in [
        r#"<form id="offline-response" method="post" action="/login/offline">"#,
        r#"<label for="response">Response from the app</label>"#,
        r#"<input id="response" name="response" inputmode="numeric" autocomplete="one-time-code">"#,
    ] {
        assert!(page.body.contains(element), "{element}");
    }
    let shown = OfflineChallenge {
        challenge: page.text("offline-challenge"),
        expires_at: 0,
    };
    assert_eq!(shown.challenge.len(), 7, "{}", shown.challenge);
    let right = account.response(&shown);
    let wrong = if right == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let csrf = csrf_of(&page);

    for refused in [
        browser
            .post("/login/offline", &[("response", &right)])
            .await,
        browser
            .post("/login/offline", &[("response", &right), ("csrf", "AAAA")])
            .await,
    ] {
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.text("page-message").contains("Reload the page"));
    }
    let refused = browser
        .post("/login/offline", &[("response", wrong), ("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.tag("form-error").contains(r#"role="alert""#));
    assert!(refused
        .text("form-error")
        .contains("does not match this challenge"));
    assert_eq!(refused.text("offline-challenge"), shown.challenge);
    assert_eq!(
        browser.get("/login/done").await.status,
        StatusCode::SEE_OTHER
    );

    let accepted = browser
        .post("/login/offline", &[("response", &right), ("csrf", &csrf)])
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.body);
    assert_eq!(accepted.header("location"), "/login/done");
    let done = browser.get("/login/done").await;
    assert_eq!(done.text("logged-in"), "You are logged in as alice.");
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_account_page_lists_devices_logins_and_reports_escaped_and_revokes_with_csrf() {
    let h = harness().await;
    let mut device = support::Device::new("install-1");
    device.name = "<script>alert(1)</script> & Pixel".to_string();
    let phone = h.enroll_device("alice", device).await;
    let mut browser = Browser::new(&h);
    let not_signed_in = browser.get("/portal/account").await;
    assert_eq!(not_signed_in.header("location"), "/portal/sign-in");

    // A login with a hostile application name and browser, denied; another reported.
    for (counter, decision) in [(1, Decision::Deny), (2, Decision::ReportFraud)] {
        let started = h
            .send(
                h.http
                    .post(h.url("/v1/logins"))
                    .header("user-agent", "<script>x</script> Firefox/127.0")
                    .json(&serde_json::json!({
                        "username": "alice",
                        "password": PASSWORD,
                        "application": "<img src=x onerror=alert(2)>",
                    })),
            )
            .await;
        assert!(started.status.is_success(), "{}", started.body);
        let challenge = only_challenge(&h, &phone).await;
        h.decide(&phone.decision(&challenge, decision, None, counter))
            .await;
    }

    assert_eq!(
        browser.sign_in("alice", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = browser.get("/portal/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_security_headers();
    assert_eq!(page.body.matches("<h1>").count(), 1);
    assert!(page
        .body
        .contains(r#"<a href="/portal/activate">Activate a device</a>"#));
    assert!(page
        .body
        .contains(r#"<a href="/portal/account">Your devices</a>"#));
    for id in ["devices", "activity", "fraud-reports"] {
        assert!(page.tag(id).starts_with("<table"), "{id}");
    }
    assert!(!page.body.contains("<script>") && !page.body.contains("<img src=x"));
    assert!(page
        .body
        .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Pixel"));
    assert!(page.body.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(page.body.contains("<td>Firefox</td>"));
    assert!(page.body.contains("denied on &lt;script&gt;"));
    let reports = &page.body[page.body.find("id=\"fraud-reports\"").expect("reports")..];
    assert!(
        reports.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{reports}"
    );

    let revoke = format!("/portal/account/devices/{}/revoke", phone.credential_id);
    let form = format!(r#"<form method="post" action="{revoke}">"#);
    assert!(page.body.contains(&form), "{form}");
    let csrf = csrf_of(&page);
    for refused in [
        browser.post(&revoke, &[]).await,
        browser.post(&revoke, &[("csrf", "AAAA")]).await,
    ] {
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(h.devices("alice").await.len(), 1);
    let revoked = browser.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(revoked.header("location"), "/portal/account");
    assert!(h.devices("alice").await.is_empty());
    let after = browser.get("/portal/account").await;
    assert!(!after.body.contains(&form));
    assert!(after.body.contains("No device is activated."));
    // Revoking it again (or a stranger's device) is a 404 page.
    let again = browser.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    h.server.shutdown().await;
}

#[tokio::test]
async fn shutting_down_ends_the_open_login_status_streams() {
    let (h, _phone) = alice_with_phone().await;
    let mut browser = Browser::new(&h);
    let (_, mut events) = wait_page(&mut browser, "alice").await;
    assert_eq!(events.next_state().await.0, "waiting");
    tokio::time::timeout(Duration::from_secs(3), h.server.shutdown())
        .await
        .expect("the shutdown does not wait for the login to expire");
    assert!(events.next().await.is_none());
}

#[tokio::test]
async fn off_loopback_the_login_cookie_is_secure() {
    let (h, password) = off_loopback_harness().await;
    let password = password.as_str();
    let portal: SignInResponse = h
        .post(
            "/v1/portal/sign-in",
            &serde_json::json!({"username": "alice", "password": password}),
        )
        .await
        .parse();
    let ticket = h.ticket(&portal.portal_token).await;
    let enrolled = h
        .complete(&support::Device::new("install-1"), &ticket.qr_payload)
        .await;
    assert!(enrolled.status.is_success(), "{}", enrolled.body);
    let mut browser = Browser::new(&h);
    let started = log_in(&mut browser, "alice", password).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let cookie = started.set_cookie("ibkey_login");
    assert!(
        cookie.ends_with("; Path=/login; HttpOnly; SameSite=Strict; Secure"),
        "{cookie}"
    );
    h.server.shutdown().await;
}
