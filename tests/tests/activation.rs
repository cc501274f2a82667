//! End-to-end activation: real server on loopback, real SQLite, real crypto, real QR images;
//! and the portal's activation page, its event stream read as a browser reads it.

#![allow(clippy::expect_used)]

use std::time::Duration;

use ibkey_core::activation::{ActivationError, ActivationOutcome, FoundBy};
use ibkey_core::gate::GateError;
use ibkey_core::platform::{
    FileStore, HttpHeader, HttpRequest, HttpTransport, PinPurpose, ReqwestTransport, SecureStore,
    StoreError,
};
use ibkey_core::{scan, AccountsError, ErrorCode};
use ibkey_e2e::{Phone, World};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const PIN: &str = "4829";

fn activated(outcome: Result<ActivationOutcome, ActivationError>) -> String {
    match outcome {
        Ok(ActivationOutcome::Activated { account }) => account.username,
        other => panic!("expected a fresh activation, got {other:?}"),
    }
}

/// `user` gets a fresh ticket from the portal and `phone` activates from its QR payload;
/// gives the name now enrolled.
async fn enroll_by_qr(world: &World, phone: &Phone, user: &str) -> String {
    activated(
        phone
            .auth
            .activate_from_qr(&world.ticket(user).await.qr_payload)
            .await,
    )
}

/// The value of the cookie `name` the reply `headers` set.
fn cookie(headers: &[HttpHeader], name: &str) -> String {
    headers
        .iter()
        .filter(|h| h.name == "set-cookie")
        .find_map(|h| {
            let pair = h.value.split(';').next()?;
            pair.starts_with(&format!("{name}="))
                .then(|| pair.to_string())
        })
        .unwrap_or_else(|| panic!("no {name} cookie in {headers:?}"))
}

/// A GET (or, with a form `body`, a POST) to the portal page `path` with the cookie `cookies`.
fn request(world: &World, path: &str, cookies: &str, body: Option<String>) -> HttpRequest {
    let mut headers = vec![HttpHeader::new("cookie", cookies)];
    let (method, body) = match body {
        Some(form) => {
            headers.push(HttpHeader::new(
                "content-type",
                "application/x-www-form-urlencoded",
            ));
            ("POST", form.into_bytes())
        }
        None => ("GET", Vec::new()),
    };
    HttpRequest {
        method: method.into(),
        url: format!("{}{path}", world.url()),
        headers,
        body,
    }
}

/// Signs `user` in to the portal's web pages (CSRF token and all); the session cookie.
async fn sign_in(http: &ReqwestTransport, world: &World, user: &str) -> String {
    let form = http
        .send(request(world, "/portal/sign-in", "", None))
        .await
        .expect("sign-in page");
    let pre = cookie(&form.headers, "ibkey_pre_session");
    let page = String::from_utf8(form.body).expect("utf-8");
    let at = page.find("name=\"csrf\" value=\"").expect("csrf input") + 19;
    let csrf = &page[at..at + page[at..].find('"').expect("end of the token")];
    let password = ibkey_server::DEMO_PORTAL_PASSWORD;
    let signed_in = http
        .send(request(
            world,
            "/portal/sign-in",
            &pre,
            Some(format!("username={user}&password={password}&csrf={csrf}")),
        ))
        .await
        .expect("sign in");
    assert_eq!(signed_in.status, 303, "signed in");
    cookie(&signed_in.headers, "ibkey_session")
}

/// The state the activation page's event stream gives first for the ticket `session_id`,
/// read as the page's script reads it (the stream stays open: "already enrolled" is not final,
/// another phone may still use the code).
async fn page_state(world: &World, session: &str, session_id: &str) -> String {
    let group = session_id.rsplit('-').next().expect("a group");
    let addr = world.server.addr();
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let get = format!("GET /portal/activate/events?session={group} HTTP/1.1\r\nHost: {addr}\r\nCookie: {session}\r\nConnection: close\r\n\r\n");
    stream.write_all(get.as_bytes()).await.expect("request");
    let mut text = String::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(at) = text.find("\"state\":\"") {
            let state = &text[at + 9..];
            if let Some(end) = state.find('"') {
                return state[..end].to_string();
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("an event within 10 s")
            .expect("read");
        assert!(read > 0, "the stream ended without a status: {text}");
        text.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
}

#[tokio::test]
async fn activates_from_a_qr_image_then_adds_a_second_user_by_session_id() {
    let world = World::start().await;
    let phone = world.phone("phone");
    phone.user.set_standing_pin(Some(PIN));

    let alice = world.ticket("alice").await;
    let png = scan::render_png(&alice.qr_payload, 5).expect("render");
    let scanned = scan::decode_image(&png).expect("decode the QR image");
    assert_eq!(
        activated(phone.auth.activate_from_qr(&scanned).await),
        "alice"
    );

    let bob = world.ticket("bob").await;
    assert_eq!(
        activated(phone.auth.activate_with_session_id(&bob.session_id).await),
        "bob"
    );

    let names: Vec<String> = phone
        .auth
        .accounts()
        .expect("accounts")
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let purposes: Vec<PinPurpose> = phone
        .user
        .pin_requests()
        .iter()
        .map(|r| r.purpose)
        .collect();
    assert_eq!(
        purposes,
        [PinPurpose::Create, PinPurpose::Confirm],
        "PIN chosen once, then confirmed"
    );
    assert!(phone.auth.has_pin().expect("gate"));
}

#[tokio::test]
async fn typed_session_ids_are_forgiving_but_typos_are_caught_offline() {
    let world = World::start().await;
    let phone = world.phone("phone");
    phone.user.set_standing_pin(Some(PIN));

    let lower = world.ticket("lower").await.session_id.to_lowercase();
    assert_eq!(
        activated(phone.auth.activate_with_session_id(&lower).await),
        "lower"
    );

    let no_dashes = world.ticket("nodashes").await.session_id.replace('-', "");
    assert_eq!(
        activated(phone.auth.activate_with_session_id(&no_dashes).await),
        "nodashes"
    );

    // Look-alikes: keep asking until an ID holds a 0 or a 1 to swap for O or l.
    let lookalike = loop {
        let id = world.ticket("lookalike").await.session_id;
        if id.contains('0') || id.contains('1') {
            break id.replace('0', "O").replace('1', "l");
        }
    };
    assert_eq!(
        activated(phone.auth.activate_with_session_id(&lookalike).await),
        "lookalike"
    );

    let id = world.ticket("typo").await.session_id;
    let before = phone.sent();
    for position in [0usize, 5, 13] {
        let mut chars: Vec<char> = id.chars().collect();
        chars[position] = if chars[position] == 'Z' { 'Y' } else { 'Z' };
        let typo: String = chars.into_iter().collect();
        let err = phone
            .auth
            .activate_with_session_id(&typo)
            .await
            .expect_err("typo");
        let group = (position / 5 + 1) as u32;
        assert_eq!(err, ActivationError::SessionIdMistyped { group });
        assert_eq!(err.code(), "ACT_SESSION_ID_MISTYPED");
        assert!(err.to_string().contains(&format!("Group {group}")), "{err}");
    }
    assert_eq!(phone.sent(), before, "typos never reach the network");
}

#[tokio::test]
async fn already_enrolled_is_found_on_the_device_and_by_the_server() {
    let world = World::start().await;
    let phone = world.phone("phone");
    phone.user.set_standing_pin(Some(PIN));
    let first = world.ticket("alice").await;
    activated(phone.auth.activate_from_qr(&first.qr_payload).await);

    // The same QR still in front of the camera: recognised, nothing run again.
    let again = phone
        .auth
        .activate_from_qr(&first.qr_payload)
        .await
        .expect("recognised");
    assert!(matches!(
        again,
        ActivationOutcome::AlreadyActivatedWithThisCode { .. }
    ));

    // A fresh QR for a user already on the phone: found locally, before any network call
    // but the report of it to the activation page.
    let second = world.ticket("alice").await;
    let before = phone.sent();
    let err = phone
        .auth
        .activate_from_qr(&second.qr_payload)
        .await
        .expect_err("duplicate");
    assert_eq!(
        err,
        ActivationError::AlreadyEnrolled {
            username: "alice".into(),
            found_by: FoundBy::Device
        }
    );
    assert_eq!(err.code(), "ACT_ALREADY_ENROLLED");
    assert_eq!(phone.sent(), before + 1, "only the already-enrolled report");
    // That report turned the portal's activation page of the code to "already enrolled";
    // the same for a typed session ID, looked up first.
    let http = ReqwestTransport::new().expect("http");
    let portal = sign_in(&http, &world, "alice").await;
    assert_eq!(
        page_state(&world, &portal, &second.session_id).await,
        "already_enrolled"
    );
    let typed = world.ticket("alice").await;
    let err = phone
        .auth
        .activate_with_session_id(&typed.session_id)
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), "ACT_ALREADY_ENROLLED");
    assert_eq!(
        page_state(&world, &portal, &typed.session_id).await,
        "already_enrolled"
    );

    // Drop the local record behind the core's back (as a lost app update might): the server
    // still knows this device holds a credential for alice.
    let store = FileStore::open(&phone.store_dir).expect("store");
    let mut file: serde_json::Value = serde_json::from_slice(
        &store
            .load("accounts".into())
            .expect("read")
            .expect("present"),
    )
    .expect("json");
    file["accounts"] = serde_json::json!([]);
    store
        .save("accounts".into(), serde_json::to_vec(&file).expect("json"))
        .expect("write");
    let err = phone
        .auth
        .activate_with_session_id(&second.session_id)
        .await
        .expect_err("server duplicate");
    assert_eq!(
        err,
        ActivationError::AlreadyEnrolled {
            username: "alice".into(),
            found_by: FoundBy::Server
        }
    );
    assert!(
        err.to_string()
            .contains("remove the old device in the portal"),
        "{err}"
    );

    // The refused ticket was not spent: another phone can still use it.
    let other = world.phone("other");
    other.user.set_standing_pin(Some(PIN));
    assert_eq!(
        activated(
            other
                .auth
                .activate_with_session_id(&second.session_id)
                .await
        ),
        "alice"
    );
}

#[tokio::test]
async fn a_used_code_and_an_expired_code_say_so() {
    let world = World::start().await;
    let phone = world.phone("phone");
    let other = world.phone("other");
    phone.user.set_standing_pin(Some(PIN));
    other.user.set_standing_pin(Some(PIN));

    let alice = world.ticket("alice").await;
    activated(phone.auth.activate_from_qr(&alice.qr_payload).await);
    for result in [
        other.auth.activate_from_qr(&alice.qr_payload).await,
        other.auth.activate_with_session_id(&alice.session_id).await,
    ] {
        let err = result.expect_err("used");
        assert_eq!(err, ActivationError::CodeUsed);
        assert!(
            err.to_string()
                .contains("Log out of the portal and back in"),
            "{err}"
        );
    }

    // Expired on the server (the phone's clock still says it is fine).
    let bob = world.ticket("bob").await;
    world.server_clock.advance(Duration::from_secs(301));
    let err = other
        .auth
        .activate_with_session_id(&bob.session_id)
        .await
        .expect_err("expired");
    assert_eq!(err, ActivationError::CodeExpired);
    assert_eq!(err.code(), "ACT_CODE_EXPIRED");
    assert!(
        err.to_string()
            .contains("Log out of the portal and back in"),
        "{err}"
    );

    // Expired as the QR code itself says, caught on the phone without a network call once
    // the server key is pinned.
    let carol = world.ticket("carol").await;
    other.clock.advance(Duration::from_secs(20 * 60));
    let before = other.sent();
    let err = other
        .auth
        .activate_from_qr(&carol.qr_payload)
        .await
        .expect_err("expired");
    assert_eq!(err, ActivationError::CodeExpired);
    assert_eq!(other.sent(), before);
}

#[tokio::test]
async fn codes_not_ours_are_refused_with_their_own_errors() {
    let world = World::start().await;
    let elsewhere = World::start().await;
    let phone = world.phone("phone");
    phone.user.set_standing_pin(Some(PIN));

    let err = phone
        .auth
        .activate_from_qr("https://example.com/menu")
        .await
        .expect_err("not ours");
    assert_eq!(err, ActivationError::NotAnActivationCode);

    let foreign = elsewhere.ticket("alice").await;
    let err = phone
        .auth
        .activate_from_qr(&foreign.qr_payload)
        .await
        .expect_err("other server");
    assert!(
        matches!(err, ActivationError::WrongServer { .. }),
        "{err:?}"
    );

    // A code that names our server but is signed by another key (a forgery).
    let ours = world.ticket("alice").await;
    let (claims, _) = ours.qr_payload.rsplit_once('.').expect("token");
    let (_, foreign_sig) = foreign.qr_payload.rsplit_once('.').expect("token");
    let forged = format!("{claims}.{foreign_sig}");
    let err = phone
        .auth
        .activate_from_qr(&forged)
        .await
        .expect_err("forged");
    assert_eq!(err, ActivationError::ServerKeyMismatch);
    assert!(phone.auth.accounts().expect("accounts").is_empty());
}

#[tokio::test]
async fn unknown_session_ids_are_rate_limited() {
    let world = World::start_with(|c| c.guesses_per_minute_per_client = 5).await;
    let phone = world.phone("phone");
    let mut refused_unknown = 0;
    let mut limited = None;
    for _ in 0..20 {
        let guess = ibkey_core::activation::SessionId::generate(&ring::rand::SystemRandom::new())
            .expect("random")
            .grouped();
        match phone.auth.activate_with_session_id(&guess).await {
            Err(ActivationError::CodeUnknown) => refused_unknown += 1,
            Err(ActivationError::TooManyAttempts { retry_after_secs }) => {
                limited = Some(retry_after_secs);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        refused_unknown, 5,
        "five wrong guesses pass, then the limit"
    );
    assert!(limited.is_some_and(|s| s > 0 && s <= 60), "{limited:?}");
    // Even a real session ID is refused while the limit holds: the limit is no oracle.
    let real = world.ticket("alice").await;
    let err = phone
        .auth
        .activate_with_session_id(&real.session_id)
        .await
        .expect_err("limited");
    assert!(
        matches!(err, ActivationError::TooManyAttempts { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn pin_lockout_survives_a_restart_of_the_core() {
    let world = World::start().await;
    let phone = world.phone("phone");
    phone.user.push_pin(PIN);
    enroll_by_qr(&world, &phone, "alice").await;

    // Wrong PINs until the gate locks: the core keeps asking, then refuses.
    phone.user.set_standing_pin(Some("9753"));
    let bob = world.ticket("bob").await;
    let err = phone
        .auth
        .activate_from_qr(&bob.qr_payload)
        .await
        .expect_err("locked");
    let remaining_secs = match err {
        ActivationError::Verification {
            error: GateError::LockedOut { remaining_secs, .. },
        } => remaining_secs,
        other => panic!("expected a lockout, got {other:?}"),
    };
    assert!(remaining_secs > 0);

    // Kill the app and start it again: still locked, even with the right PIN, without asking.
    let phone = phone.restart();
    phone.user.set_standing_pin(Some(PIN));
    let asked = phone.user.pin_requests().len();
    let err = phone
        .auth
        .activate_from_qr(&bob.qr_payload)
        .await
        .expect_err("still locked");
    assert_eq!(err.code(), "GATE_LOCKED_OUT");
    assert_eq!(
        phone.user.pin_requests().len(),
        asked,
        "no PIN prompt during a lockout"
    );
    assert!(phone.auth.pin_lockout().expect("gate").is_some());

    // Turning the wall clock forward does not help either.
    phone.clock.shift_wall(24 * 3600 * 1000);
    assert!(phone.auth.pin_lockout().expect("gate").is_some());
    phone.clock.shift_wall(-24 * 3600 * 1000);

    // Once the delay has really passed, the right PIN works.
    phone.clock.advance(Duration::from_secs(remaining_secs + 1));
    assert_eq!(
        activated(phone.auth.activate_from_qr(&bob.qr_payload).await),
        "bob"
    );
}

#[tokio::test]
async fn a_corrupt_store_file_is_reported_and_left_alone() {
    let world = World::start().await;
    let phone = world.phone("phone");
    phone.user.set_standing_pin(Some(PIN));
    enroll_by_qr(&world, &phone, "alice").await;

    let accounts_file = std::fs::read_dir(&phone.store_dir)
        .expect("store dir")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("accounts"))
        })
        .expect("the accounts file");
    let mut bytes = std::fs::read(&accounts_file).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&accounts_file, &bytes).expect("corrupt it");

    let phone = phone.restart();
    let err = phone.auth.accounts().expect_err("corrupt");
    assert!(
        matches!(
            err,
            AccountsError::Store {
                error: StoreError::Corrupt { .. }
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "STORE_CORRUPT");
    let err = phone
        .auth
        .activate_from_qr(&world.ticket("bob").await.qr_payload)
        .await
        .expect_err("no activation over a damaged store");
    assert_eq!(err.code(), "STORE_CORRUPT");
    assert_eq!(
        std::fs::read(&accounts_file).expect("read"),
        bytes,
        "damaged file untouched"
    );

    // Truncated to half: the same answer.
    std::fs::write(&accounts_file, &bytes[..middle]).expect("truncate");
    assert_eq!(
        phone.auth.accounts().expect_err("truncated").code(),
        "STORE_CORRUPT"
    );
}

#[tokio::test]
async fn removing_a_user_revokes_it_so_it_can_be_activated_again() {
    let world = World::start().await;
    let phone = world.phone("phone");
    phone.user.set_standing_pin(Some(PIN));
    enroll_by_qr(&world, &phone, "alice").await;

    // Removal asks the user first; backing out of the PIN pad changes nothing.
    phone.user.push_pin_cancel();
    let err = phone
        .auth
        .remove_account("alice")
        .await
        .expect_err("cancelled");
    assert_eq!(err.code(), "GATE_CANCELLED");
    assert_eq!(phone.auth.accounts().expect("accounts").len(), 1);

    let removed = phone.auth.remove_account("alice").await.expect("removed");
    assert_eq!(removed.username, "alice");
    assert!(phone.auth.accounts().expect("accounts").is_empty());
    assert!(matches!(
        phone.auth.remove_account("alice").await,
        Err(AccountsError::NotFound { .. })
    ));
    // The server no longer holds a credential for this device: enrolling again works.
    assert_eq!(enroll_by_qr(&world, &phone, "alice").await, "alice");

    // With the server gone, removal changes nothing and says why.
    world.server.shutdown().await;
    let err = phone
        .auth
        .remove_account("alice")
        .await
        .expect_err("offline");
    assert_eq!(err.code(), "ACC_SERVER_UNREACHABLE");
    assert_eq!(phone.auth.accounts().expect("accounts").len(), 1);
}
