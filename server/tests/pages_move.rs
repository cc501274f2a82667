//! The portal's "Move IB Key to a new phone" pages end to end, against a real server on
//! loopback: the first page (the devices a move replaces, "Send me a code" with its CSRF
//! token), the code step (where the code went, the code form), the server's refusals of a
//! wrong, used, expired or too often mistyped code shown on the same page, the move ticket's
//! page (its QR code, session ID and status events saying "moved"), the account page
//! afterwards, and a user with nothing to move.

#![allow(clippy::expect_used)]

mod support;

use std::time::Duration;

use ibkey_protocol::activation::CompleteResponse;
use ibkey_protocol::lifecycle::OUT_OF_BAND_CODE_SECONDS;
use ibkey_server::{recorded_out_of_band, OutOfBandPurpose};
use reqwest::StatusCode;
use support::browser::{csrf_of, qr_svg, ticket_of, Browser, Page};
use support::{harness, ticket_claims_unverified, Device, Harness, PASSWORD};

/// A browser signed in to the portal as `user`.
async fn signed_in(h: &Harness, user: &str) -> Browser {
    let mut browser = Browser::new(h);
    let reply = browser.sign_in(user, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    browser
}

/// The newest move code the reference notifier recorded for `user`.
fn latest_move_code(h: &Harness, user: &str) -> String {
    recorded_out_of_band(h.dir.path())
        .expect("recorded codes")
        .into_iter()
        .rev()
        .find(|m| m.username == user && m.purpose == OutOfBandPurpose::Move.as_str())
        .expect("a move code was sent")
        .code
}

/// A six-digit code that is not `right`.
fn wrong_code(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// Opens the move's first page and presses "Send me a code": the code step.
async fn send_code(browser: &mut Browser) -> Page {
    let first = browser.get("/portal/move").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.attribute("send-code", "action"), "/portal/move/code");
    let step = browser
        .post("/portal/move/code", &[("csrf", &csrf_of(&first))])
        .await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    step
}

/// Types `code` into the code step `page`.
async fn type_code(browser: &mut Browser, page: &Page, code: &str) -> Page {
    assert_eq!(
        page.attribute("move-confirm", "action"),
        "/portal/move/confirm"
    );
    browser
        .post(
            "/portal/move/confirm",
            &[("csrf", &csrf_of(page)), ("code", code)],
        )
        .await
}

#[tokio::test]
async fn a_move_through_the_pages_shows_the_move_ticket_and_the_page_says_moved() {
    let h = harness().await;
    h.enroll("alice", "old-phone").await;
    let mut browser = signed_in(&h, "alice").await;

    // The account page links to the move while a device is active.
    let account = browser.get("/portal/account").await;
    assert_eq!(account.attribute("move-link", "href"), "/portal/move");

    let first = browser.get("/portal/move").await;
    assert_eq!(first.status, StatusCode::OK);
    first.assert_security_headers();
    assert_eq!(first.header("cache-control"), "no-store");
    assert_eq!(first.body.matches("<h1>").count(), 1);
    assert!(first.body.contains("<h1>Move IB Key to a new phone</h1>"));
    assert!(first
        .body
        .contains("Your old phone stops working for IB Key as soon as the new one is set up"));
    assert!(first.body.contains("we first send a 6-digit code"));
    assert!(first
        .body
        .contains("<ul id=\"replaced-devices\" aria-labelledby=\"replaces-heading\">\n<li>phone old-phone</li>\n</ul>"));
    assert!(!first.body.contains("<script>") && !first.body.contains("style="));

    // "Send me a code" needs the session's CSRF token.
    let sign_in_token = csrf_of(&Browser::new(&h).get("/portal/sign-in").await);
    for csrf in [None, Some("forged"), Some(sign_in_token.as_str())] {
        let form: Vec<(&str, &str)> = csrf.map(|token| ("csrf", token)).into_iter().collect();
        let refused = browser.post("/portal/move/code", &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(refused.text("page-message").contains("Reload the page"));
    }
    assert!(recorded_out_of_band(h.dir.path())
        .expect("recorded")
        .is_empty());

    let step = browser
        .post("/portal/move/code", &[("csrf", &csrf_of(&first))])
        .await;
    assert_eq!(step.status, StatusCode::OK);
    step.assert_security_headers();
    assert_eq!(step.header("cache-control"), "no-store");
    assert!(step
        .body
        .contains("We sent a 6-digit code to <strong>a••••@example.test</strong>."));
    assert!(step
        .body
        .contains(r#"<label for="code">6-digit code</label>"#));
    let input = step.tag("code");
    assert!(input.contains(r#"inputmode="numeric""#), "{input}");
    assert!(input.contains(r#"autocomplete="one-time-code""#), "{input}");
    assert!(step
        .body
        .contains(r#"<button type="submit">Confirm</button>"#));
    let code = latest_move_code(&h, "alice");

    // The code form needs the CSRF token too (and the code is not used up by a forged form).
    let forged = browser
        .post(
            "/portal/move/confirm",
            &[("csrf", "forged"), ("code", &code)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Typed with a space, as a user may copy it.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let page = type_code(&mut browser, &step, &spaced).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_security_headers();
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.body.matches("<h1>").count(), 1);
    assert!(page.body.contains("<h1>Scan this with your NEW phone</h1>"));
    assert!(page.text("activation-intro").starts_with("Signed in as "));
    assert!(page
        .body
        .contains("It replaces <strong>phone old-phone</strong>: as soon as the new phone is set up, it no longer approves your logins."));
    assert_eq!(
        page.text("activation-status"),
        "Waiting for your new phone…"
    );
    assert!(page
        .tag("fresh-code")
        .contains(r#"method="post" action="/portal/move/code""#));

    // The QR code and the session ID are those of a move ticket replacing the old phone.
    let ticket = ticket_of(&h, &page).await;
    let claims = ticket_claims_unverified(&ticket);
    assert_eq!(claims.usr, "alice");
    assert_eq!(claims.mov, Some(vec!["phone old-phone".to_string()]));
    assert_eq!(
        claims.sid,
        page.text("session-id").replace('-', ""),
        "QR and session ID are one ticket"
    );
    assert_eq!(page.image_svg("activation-qr"), qr_svg(&ticket));
    let seconds_left: i64 = page
        .attribute("countdown", "data-seconds-left")
        .parse()
        .expect("seconds");
    assert!((299..=300).contains(&seconds_left), "{seconds_left}");
    let last_group = &page.text("session-id")[10..];
    assert_eq!(
        page.attribute("activation-status", "data-events"),
        format!("/portal/move/events?session={last_group}")
    );
    assert_eq!(
        page.attribute("activation-status", "data-expired-text"),
        "This code expired. Send me a new code to move again."
    );

    // The new phone activates it: the page's events say "moved", at once.
    let mut events = browser.events(&page).await;
    assert_eq!(
        events.next_state().await,
        (
            "waiting".to_string(),
            "Waiting for your new phone…".to_string()
        )
    );
    h.complete(&Device::new("new-phone"), &ticket)
        .await
        .parse::<CompleteResponse>();
    let moved = tokio::time::timeout(Duration::from_secs(3), events.next())
        .await
        .expect("woken at once, not by a poll")
        .expect("an event");
    assert_eq!(moved["state"], "moved");
    assert_eq!(moved["device_name"], "phone new-phone");
    assert_eq!(
        moved["message"],
        "Moved to phone new-phone. Your old phone no longer approves your logins."
    );
    assert!(events.next().await.is_none(), "the stream ends when final");

    // The account page lists the old phone as moved; a next move would replace the new one.
    let account = browser.get("/portal/account").await;
    assert!(
        account.body.contains("moved to phone new-phone on "),
        "{}",
        account.body
    );
    assert!(browser
        .get("/portal/move")
        .await
        .body
        .contains("<li>phone new-phone</li>\n</ul>"));

    // The used code again: the same step, the server's reason.
    let used = type_code(&mut browser, &step, &code).await;
    assert_eq!(used.status, StatusCode::GONE);
    assert!(used.tag("form-error").contains(r#"role="alert""#));
    assert!(
        used.text("form-error")
            .starts_with("This code was already used."),
        "{}",
        used.text("form-error")
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn wrong_expired_and_mistyped_codes_show_the_servers_reason_on_the_code_step() {
    let h = harness().await;
    h.enroll("alice", "old-phone").await;
    let mut browser = signed_in(&h, "alice").await;
    let step = send_code(&mut browser).await;
    let code = latest_move_code(&h, "alice");

    let wrong = type_code(&mut browser, &step, wrong_code(&code)).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    wrong.assert_security_headers();
    assert!(wrong.tag("form-error").contains(r#"role="alert""#));
    assert!(
        wrong
            .text("form-error")
            .starts_with("This is not the code sent to alice."),
        "{}",
        wrong.text("form-error")
    );
    // The same step again: where the code went, the code form, a new code on offer.
    assert!(wrong
        .body
        .contains("We sent a 6-digit code to <strong>a••••@example.test</strong>."));
    assert_eq!(
        wrong.attribute("resend-code", "action"),
        "/portal/move/code"
    );
    let short = type_code(&mut browser, &wrong, "12").await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.text("form-error").contains("The code has 6 digits."));

    // Expired: the right code after its lifetime.
    h.clock.advance(Duration::from_secs(
        u64::try_from(OUT_OF_BAND_CODE_SECONDS).expect("positive") + 1,
    ));
    let expired = type_code(&mut browser, &step, &code).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(
        expired
            .text("form-error")
            .starts_with("This code has expired"),
        "{}",
        expired.text("form-error")
    );

    // A new code from the step's own button; mistyped five times, it no longer works.
    let again = browser
        .post("/portal/move/code", &[("csrf", &csrf_of(&expired))])
        .await;
    assert_eq!(again.status, StatusCode::OK);
    let fresh = latest_move_code(&h, "alice");
    assert_ne!(fresh, code);
    for _ in 0..5 {
        let refused = type_code(&mut browser, &again, wrong_code(&fresh)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    }
    let void = type_code(&mut browser, &again, &fresh).await;
    assert_eq!(void.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        void.text("form-error").contains("no longer works"),
        "{}",
        void.text("form-error")
    );
    // A right code after all that still gives the move ticket's page.
    let last = send_code(&mut browser).await;
    let page = type_code(&mut browser, &last, &latest_move_code(&h, "alice")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<h1>Scan this with your NEW phone</h1>"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_user_without_an_active_device_has_nothing_to_move() {
    let h = harness().await;
    let mut browser = signed_in(&h, "bob").await;
    let account = browser.get("/portal/account").await;
    assert!(!account.body.contains("move-link"), "no link to a move");

    let page = browser.get("/portal/move").await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_security_headers();
    assert!(page.text("nothing-to-move").contains("Signed in as "));
    assert!(page
        .body
        .contains("There is nothing to move: IB Key is not active on any phone for you."));
    assert!(page
        .body
        .contains(r#"<a href="/portal/activate">Activate IB Key on your new phone</a>"#));
    assert!(!page.body.contains("send-code"));

    // Posting the form anyway: no code is sent, the same answer.
    let csrf = csrf_of(&browser.get("/portal/account").await);
    let posted = browser.post("/portal/move/code", &[("csrf", &csrf)]).await;
    assert_eq!(posted.status, StatusCode::CONFLICT);
    assert!(posted.body.contains("There is nothing to move"));
    let confirmed = browser
        .post(
            "/portal/move/confirm",
            &[("csrf", &csrf), ("code", "123456")],
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::CONFLICT);
    assert!(confirmed.body.contains("There is nothing to move"));
    assert!(recorded_out_of_band(h.dir.path())
        .expect("recorded")
        .is_empty());

    // Not signed in: the pages lead to the sign-in page.
    let mut stranger = Browser::new(&h);
    for reply in [
        stranger.get("/portal/move").await,
        stranger.post("/portal/move/code", &[("csrf", &csrf)]).await,
        stranger
            .post(
                "/portal/move/confirm",
                &[("csrf", &csrf), ("code", "123456")],
            )
            .await,
    ] {
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.header("location"), "/portal/sign-in");
    }
    h.server.shutdown().await;
}
