//! The portal's web pages end to end, against a real server on loopback: sign-in with its
//! CSRF token and cookies, the activation page (QR code of a real ticket, session ID,
//! countdown, headers), "get a fresh code", and the page's status events as devices activate.

#![allow(clippy::expect_used)]

mod support;

use std::time::Duration;

use ibkey_protocol::activation::CompleteResponse;
use reqwest::StatusCode;
use serde_json::json;
use support::browser::{csrf_of, qr_svg, ticket_of, Browser};
use support::{harness, off_loopback_harness, ticket_claims_unverified, Device, PASSWORD};

#[tokio::test]
async fn sign_in_needs_the_csrf_token_of_its_pre_session_and_sets_a_strict_cookie() {
    let h = harness().await;
    let mut browser = Browser::new(&h);
    let root = browser.get("/").await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.header("location"), "/portal/sign-in");
    root.assert_security_headers();

    let form = browser.get("/portal/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    form.assert_security_headers();
    assert_eq!(form.header("content-type"), "text/html; charset=utf-8");
    let pre = form.set_cookie("ibkey_pre_session");
    assert!(
        pre.ends_with("; Path=/; HttpOnly; SameSite=Strict"),
        "{pre}"
    );
    for element in [
        r#"<form id="sign-in" method="post" action="/portal/sign-in">"#,
        r#"<label for="username">User name</label>"#,
        r#"<label for="password">Password</label>"#,
        r#"type="password" autocomplete="current-password">"#,
        r#"<button type="submit">Sign in</button>"#,
        r#"<html lang="en">"#,
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
        "<main>",
    ] {
        assert!(form.body.contains(element), "{element}");
    }
    assert_eq!(form.body.matches("<h1>").count(), 1);
    assert!(!form.body.contains("<script>") && !form.body.contains("style="));
    let csrf = csrf_of(&form);

    let sign_in = |csrf: &'static str| {
        [
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf", csrf),
        ]
    };
    for refused in [
        browser
            .post(
                "/portal/sign-in",
                &[("username", "alice"), ("password", PASSWORD)],
            )
            .await,
        browser.post("/portal/sign-in", &sign_in("AAAA")).await,
    ] {
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        refused.assert_security_headers();
        assert!(refused.text("page-message").contains("Reload the page"));
        assert!(refused.set_cookie("ibkey_session").is_empty());
    }
    // The right token from another browser's pre-session is refused too.
    let mut other = Browser::new(&h);
    let other_form = other.get("/portal/sign-in").await;
    let stolen = csrf_of(&other_form);
    let cross = browser
        .post(
            "/portal/sign-in",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf", &stolen),
            ],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);

    let signed_in = browser
        .post(
            "/portal/sign-in",
            &[
                ("username", "Alice"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.header("location"), "/portal/activate");
    let session = signed_in.set_cookie("ibkey_session");
    assert!(
        session.ends_with("; Max-Age=900; Path=/; HttpOnly; SameSite=Strict"),
        "{session}"
    );
    assert!(!session.contains("Secure"));
    let page = browser.get("/portal/activate").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Signed in as <strong>alice</strong>"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_the_error_and_counts_for_the_limiter() {
    let h = harness().await;
    let mut browser = Browser::new(&h);
    let wrong = browser.sign_in("alice", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    wrong.assert_security_headers();
    assert!(wrong.tag("form-error").contains(r#"role="alert""#));
    assert!(wrong
        .text("form-error")
        .contains("Wrong user name or password"));
    assert_eq!(wrong.attribute("username", "value"), "alice");
    assert!(wrong.set_cookie("ibkey_session").is_empty());
    // The form shown again posts with the same token.
    assert_eq!(
        csrf_of(&wrong),
        csrf_of(&browser.get("/portal/sign-in").await)
    );

    let hostile = browser
        .sign_in("\"><script>alert(1)</script>", PASSWORD)
        .await;
    assert_eq!(hostile.status, StatusCode::UNAUTHORIZED);
    assert!(!hostile.body.contains("<script>alert"));
    assert!(hostile
        .body
        .contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));

    // The page and the API share the sign-in limiter: 10 wrong passwords for alice in all.
    for _ in 0..9 {
        browser.sign_in("alice", "wrong").await;
    }
    let limited = browser.sign_in("alice", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited
        .text("form-error")
        .contains("Too many wrong passwords"));
    assert!(!limited.header("retry-after").is_empty());
    let api = h
        .post(
            "/v1/portal/sign-in",
            &json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_activation_page_shows_the_qr_code_and_session_id_of_a_ticket_for_the_user() {
    let h = harness().await;
    let mut browser = Browser::new(&h);
    let not_signed_in = browser.get("/portal/activate").await;
    assert_eq!(not_signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(not_signed_in.header("location"), "/portal/sign-in");

    let page = browser.activation_page("alice").await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_security_headers();
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.body.matches("<h1>").count(), 1);
    assert!(!page.body.contains("<script>") && !page.body.contains("style="));

    let session_id = page.text("session-id");
    assert_eq!(session_id.len(), 14);
    assert_eq!(session_id.matches('-').count(), 2);
    let ticket = ticket_of(&h, &page).await;
    let claims = ticket_claims_unverified(&ticket);
    assert_eq!(claims.usr, "alice");

    // The image is the QR code of exactly that ticket.
    assert_eq!(
        page.attribute("activation-qr", "alt"),
        "QR code to scan with IB Key"
    );
    assert_eq!(page.image_svg("activation-qr"), qr_svg(&ticket));

    // 5 minutes from the ticket's issue (a second may pass before the page is made).
    let (countdown, seconds_left) = (
        page.text("countdown"),
        page.attribute("countdown", "data-seconds-left"),
    );
    assert!(
        [("5:00", "300"), ("4:59", "299")].contains(&(countdown.as_str(), seconds_left.as_str())),
        "{countdown} {seconds_left}"
    );
    let status = page.tag("activation-status");
    assert!(status.contains(r#"role="status" aria-live="polite" data-state="waiting""#));
    assert_eq!(page.text("activation-status"), "Waiting for your phone…");
    let last_group = &session_id[10..];
    assert_eq!(
        page.attribute("activation-status", "data-events"),
        format!("/portal/activate/events?session={last_group}")
    );
    assert!(page
        .tag("fresh-code")
        .contains(r#"method="post" action="/portal/activate/fresh""#));

    for (path, content_type) in [
        ("/static/portal.css", "text/css; charset=utf-8"),
        ("/static/portal.js", "text/javascript; charset=utf-8"),
    ] {
        let asset = browser.get(path).await;
        assert_eq!(asset.status, StatusCode::OK);
        assert_eq!(asset.header("content-type"), content_type);
        asset.assert_security_headers();
    }
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_fresh_code_needs_the_session_csrf_token_and_gives_a_new_session_id() {
    let h = harness().await;
    let mut browser = Browser::new(&h);
    let first = browser.activation_page("alice").await;
    let sign_in_token = csrf_of(&browser.get("/portal/sign-in").await);
    for csrf in [None, Some("wrong"), Some(sign_in_token.as_str())] {
        let form: Vec<(&str, &str)> = csrf.map(|token| ("csrf", token)).into_iter().collect();
        let refused = browser.post("/portal/activate/fresh", &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(refused.text("page-message").contains("Reload the page"));
    }
    let fresh = browser
        .post("/portal/activate/fresh", &[("csrf", &csrf_of(&first))])
        .await;
    assert_eq!(fresh.status, StatusCode::SEE_OTHER);
    assert_eq!(fresh.header("location"), "/portal/activate");
    let second = browser.get("/portal/activate").await;
    assert_ne!(second.text("session-id"), first.text("session-id"));
    assert_ne!(ticket_of(&h, &second).await, ticket_of(&h, &first).await);

    // Without a session, the form leads to the sign-in page.
    let mut stranger = Browser::new(&h);
    let anonymous = stranger
        .post("/portal/activate/fresh", &[("csrf", &csrf_of(&first))])
        .await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.header("location"), "/portal/sign-in");
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_status_events_report_the_activation_with_the_device_name() {
    let h = harness().await;
    let mut browser = Browser::new(&h);
    let page = browser.activation_page("alice").await;
    let mut events = browser.events(&page).await;
    assert_eq!(
        events.next_state().await,
        ("waiting".to_string(), "Waiting for your phone…".to_string())
    );

    let mut phone = Device::new("install-1");
    phone.name = "<script>alert(1)</script>".to_string();
    let completed = h.complete(&phone, &ticket_of(&h, &page).await).await;
    completed.parse::<CompleteResponse>();
    let activated = tokio::time::timeout(Duration::from_secs(3), events.next())
        .await
        .expect("woken at once, not by a poll")
        .expect("an event");
    assert_eq!(activated["state"], "activated");
    // The name travels as JSON text; the page's script sets it as text, never as HTML.
    assert_eq!(activated["device_name"], "<script>alert(1)</script>");
    assert_eq!(
        activated["message"],
        "Activated on <script>alert(1)</script>."
    );
    assert!(events.next().await.is_none(), "the stream ends when final");

    // Another user's page cannot watch alice's code; a group that is no code is 404.
    let mut bob = Browser::new(&h);
    bob.activation_page("bob").await;
    let group = &page.text("session-id")[10..];
    let url = |group: &str| format!("{}/portal/activate/events?session={group}", h.server.url());
    for (who, group, status) in [
        (&bob, group, StatusCode::NOT_FOUND),
        (&bob, "a-b", StatusCode::BAD_REQUEST),
        (&Browser::new(&h), group, StatusCode::SEE_OTHER),
    ] {
        let reply = who
            .http
            .get(url(group))
            .header("cookie", who.cookie_header())
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), status, "{group}");
    }
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_status_events_report_expired_used_and_already_enrolled() {
    let h = harness().await;
    let mut browser = Browser::new(&h);

    // Expired: the stream says so and ends.
    let page = browser.activation_page("alice").await;
    h.clock.advance(Duration::from_secs(5 * 60 + 1));
    let mut events = browser.events(&page).await;
    assert_eq!(
        events.next_state().await,
        (
            "expired".to_string(),
            "This code expired. Get a fresh code.".to_string()
        )
    );
    assert!(events.next().await.is_none());

    // Already enrolled: the phone has alice already; the code stays good for another phone.
    let phone = Device::new("install-1");
    let earlier = h.ticket_for("alice").await;
    h.complete(&phone, &earlier.qr_payload)
        .await
        .parse::<CompleteResponse>();
    let page = browser.get("/portal/activate").await;
    let ticket = ticket_of(&h, &page).await;
    let mut events = browser.events(&page).await;
    assert_eq!(events.next_state().await.0, "waiting");
    let refused = h.complete(&phone, &ticket).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        events.next_state().await,
        (
            "already_enrolled".to_string(),
            "alice is already enrolled on that device.".to_string()
        )
    );
    let tablet = Device::new("install-2");
    h.complete(&tablet, &ticket)
        .await
        .parse::<CompleteResponse>();
    assert_eq!(events.next_state().await.0, "activated");
    assert!(events.next().await.is_none());

    // Used: the tablet enrolled with this code was removed since.
    let portal = h.sign_in("alice").await;
    let devices = h.devices("alice").await;
    let tablet_credential = devices
        .iter()
        .find(|device| device.device_id == "install-2")
        .expect("tablet listed")
        .credential_id
        .clone();
    let removed = h
        .send(
            h.http
                .delete(h.url(&format!("/v1/portal/devices/{tablet_credential}")))
                .bearer_auth(&portal),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let mut events = browser.events(&page).await;
    let used = events.next().await.expect("an event");
    assert_eq!(used["state"], "used");
    assert_eq!(
        used["message"],
        "This code was already used. Get a fresh code."
    );
    assert!(events.next().await.is_none());
    h.server.shutdown().await;
}

#[tokio::test]
async fn off_loopback_the_cookies_are_secure() {
    let (h, password) = off_loopback_harness().await;
    let mut browser = Browser::new(&h);
    let form = browser.get("/portal/sign-in").await;
    assert!(form.set_cookie("ibkey_pre_session").ends_with("; Secure"));
    let signed_in = browser.sign_in("alice", &password).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert!(signed_in
        .set_cookie("ibkey_session")
        .ends_with("; HttpOnly; SameSite=Strict; Secure"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn shutting_down_ends_the_open_status_streams() {
    let h = harness().await;
    let mut browser = Browser::new(&h);
    let page = browser.activation_page("alice").await;
    let mut events = browser.events(&page).await;
    assert_eq!(events.next_state().await.0, "waiting");
    tokio::time::timeout(Duration::from_secs(3), h.server.shutdown())
        .await
        .expect("the shutdown does not wait for the ticket to expire");
    assert!(events.next().await.is_none());
}
