//! The reference server end to end: a real server on 127.0.0.1 (port 0), a real SQLite file
//! in a temporary directory, real P-256 device keys.

#![allow(clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use ibkey_protocol::activation::{
    activation_proof_message, codes, key_id, revoke_message, sign_token, verify_token,
    CompleteResponse, LookupResponse, ReceiptClaims, RevokeRequest, ServerKeyResponse,
    SignInResponse, TicketClaims, TICKET_TYPE,
};
use ibkey_protocol::encoding::b64;
use ibkey_protocol::session_id::SessionId;
use ibkey_server::{AdjustableClock, ServerError};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use support::{
    config, harness, harness_with, localhost, read, ticket_claims_unverified, unknown_session_id,
    Device, Harness, PASSWORD,
};

impl Device {
    /// The request that revokes `credential_id`, signed at `issued_at`.
    fn revoke_request(&self, credential_id: &str, issued_at: i64) -> RevokeRequest {
        RevokeRequest {
            credential_id: credential_id.to_string(),
            issued_at,
            signature: self.sign(&revoke_message(credential_id, issued_at)),
        }
    }
}

fn canonical(grouped: &str) -> String {
    SessionId::parse(grouped)
        .expect("valid session id")
        .canonical()
        .to_string()
}

#[tokio::test]
async fn health_and_server_key() {
    let h = harness().await;
    let ok = h.http.get(h.url("/healthz")).send().await.expect("send");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.text().await.expect("text"), "ok");
    let key: ServerKeyResponse = read(
        h.http
            .get(h.url("/v1/server-key"))
            .send()
            .await
            .expect("send"),
    )
    .await
    .parse();
    assert_eq!(key.public_key, b64(&h.server.public_key()));
    assert_eq!(key.key_id, key_id(&h.server.public_key()));
    assert_eq!(key.key_id, h.server.key_id());
    assert!(h.server.url().starts_with("http://127.0.0.1:"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn sign_in_needs_the_portal_password() {
    let h = harness().await;
    let good = h
        .post(
            "/v1/portal/sign-in",
            &json!({"username": "Alice", "password": PASSWORD}),
        )
        .await;
    let session: SignInResponse = good.parse();
    assert!(session.portal_token.len() >= 43);
    assert!(session.expires_at > h.now());

    let bad = h
        .post(
            "/v1/portal/sign-in",
            &json!({"username": "alice", "password": "wrong"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.code(), codes::UNAUTHORIZED);
    assert!(!bad.error().error.message.is_empty());

    let bad_name = h
        .post(
            "/v1/portal/sign-in",
            &json!({"username": "-bad name", "password": PASSWORD}),
        )
        .await;
    assert_eq!(bad_name.status, StatusCode::UNAUTHORIZED);

    // The portal endpoints need a valid, unexpired token.
    let none = read(
        h.http
            .post(h.url("/v1/portal/activation-tickets"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.code(), codes::UNAUTHORIZED);
    let forged = h
        .post_bearer("/v1/portal/activation-tickets", "not-a-token")
        .await;
    assert_eq!(forged.code(), codes::UNAUTHORIZED);
    h.ticket(&session.portal_token).await;
    h.clock.advance(Duration::from_secs(16 * 60));
    let stale = h
        .post_bearer("/v1/portal/activation-tickets", &session.portal_token)
        .await;
    assert_eq!(stale.code(), codes::UNAUTHORIZED);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_ticket_is_issued_and_looked_up_by_its_session_id() {
    let h = harness().await;
    let ticket = h.ticket_for("alice").await;
    assert_eq!(
        ticket.session_id.len(),
        14,
        "grouped: {}",
        ticket.session_id
    );
    let claims: TicketClaims =
        verify_token(&ticket.qr_payload, &h.server.public_key()).expect("ticket verifies");
    assert_eq!(claims.typ, TICKET_TYPE);
    assert_eq!(claims.srv, h.server.url());
    assert_eq!(claims.kid, h.server.key_id());
    assert_eq!(claims.usr, "alice");
    assert_eq!(claims.sid, canonical(&ticket.session_id));
    assert_eq!(claims.exp - claims.iat, 300);
    assert_eq!(claims.exp, ticket.expires_at);

    for typed in [
        claims.sid.clone(),
        ticket.session_id.clone(),
        ticket.session_id.to_lowercase(),
    ] {
        let found: LookupResponse = h.lookup(&typed).await.parse();
        assert_eq!(found.ticket, ticket.qr_payload);
    }
    let unknown = h.lookup(&unknown_session_id()).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), codes::CODE_UNKNOWN);
    h.server.shutdown().await;
}

#[tokio::test]
async fn activation_completes_once_with_a_verifiable_receipt() {
    let h = harness().await;
    let ticket = h.ticket_for("alice").await;
    let phone = Device::new("install-1");
    let reply: CompleteResponse = h.complete(&phone, &ticket.qr_payload).await.parse();
    let receipt: ReceiptClaims =
        verify_token(&reply.receipt, &h.server.public_key()).expect("receipt verifies");
    assert_eq!(receipt.usr, "alice");
    assert_eq!(receipt.dev, "install-1");
    assert_eq!(receipt.pkid, key_id(&phone.public()));

    let devices = h.devices("alice").await;
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].credential_id, receipt.cid);
    assert_eq!(devices[0].device_id, "install-1");
    assert_eq!(devices[0].device_name, "phone install-1");

    // The same ticket again, from this or another device: used.
    for device in [&phone, &Device::new("install-2")] {
        let again = h.complete(device, &ticket.qr_payload).await;
        assert_eq!(again.status, StatusCode::GONE);
        assert_eq!(again.code(), codes::CODE_USED);
    }
    let looked_up = h.lookup(&ticket.session_id).await;
    assert_eq!(looked_up.status, StatusCode::GONE);
    assert_eq!(looked_up.code(), codes::CODE_USED);
    h.server.shutdown().await;
}

#[tokio::test]
async fn an_expired_ticket_is_refused_on_lookup_and_complete() {
    let h = harness().await;
    let ticket = h.ticket_for("alice").await;
    h.clock.advance(Duration::from_secs(290));
    let _: LookupResponse = h.lookup(&ticket.session_id).await.parse();
    h.clock.advance(Duration::from_secs(10));
    let lookup = h.lookup(&ticket.session_id).await;
    assert_eq!(lookup.status, StatusCode::GONE);
    assert_eq!(lookup.code(), codes::CODE_EXPIRED);
    let complete = h.complete(&Device::new("d"), &ticket.qr_payload).await;
    assert_eq!(complete.status, StatusCode::GONE);
    assert_eq!(complete.code(), codes::CODE_EXPIRED);
    assert!(complete.error().error.message.contains("expired"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn an_enrolled_user_is_told_so_and_the_ticket_stays_unused() {
    let h = harness().await;
    let phone = Device::new("install-1");
    let first = h.ticket_for("alice").await;
    let _: CompleteResponse = h.complete(&phone, &first.qr_payload).await.parse();

    let second = h.ticket_for("alice").await;
    let refused = h.complete(&phone, &second.qr_payload).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.code(), codes::ALREADY_ENROLLED);
    let message = refused.error().error.message;
    assert!(
        message.contains("alice is already enrolled on this device"),
        "{message}"
    );
    assert!(
        message.contains("remove the old device in the portal"),
        "{message}"
    );
    // Not consumed: it still looks up and still enrolls another device.
    let _: LookupResponse = h.lookup(&second.session_id).await.parse();
    let _: CompleteResponse = h
        .complete(&Device::new("install-2"), &second.qr_payload)
        .await
        .parse();

    // Another user on the same device is fine (adding a user).
    let bob = h.ticket_for("bob").await;
    let _: CompleteResponse = h.complete(&phone, &bob.qr_payload).await.parse();
    assert_eq!(h.devices("alice").await.len(), 2);
    assert_eq!(h.devices("bob").await.len(), 1);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_revoked_device_can_enroll_again() {
    let h = harness().await;
    let phone = Device::new("install-1");
    let first = h.ticket_for("alice").await;
    let receipt: CompleteResponse = h.complete(&phone, &first.qr_payload).await.parse();
    let cid = verify_token::<ReceiptClaims>(&receipt.receipt, &h.server.public_key())
        .expect("receipt")
        .cid;
    let now = h.now();

    let skewed = h
        .post("/v1/devices/revoke", &phone.revoke_request(&cid, now - 301))
        .await;
    assert_eq!(skewed.status, StatusCode::BAD_REQUEST);
    assert_eq!(skewed.code(), codes::BAD_REQUEST);
    assert!(skewed.error().error.message.contains("clock"));

    let impostor = Device::new("install-1");
    let forged = h
        .post("/v1/devices/revoke", &impostor.revoke_request(&cid, now))
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(forged.code(), codes::BAD_SIGNATURE);

    let unknown = h
        .post("/v1/devices/revoke", &phone.revoke_request("nope", now))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), codes::CREDENTIAL_UNKNOWN);

    let revoked = h
        .post("/v1/devices/revoke", &phone.revoke_request(&cid, now + 200))
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert!(h.devices("alice").await.is_empty());
    let again = h
        .post("/v1/devices/revoke", &phone.revoke_request(&cid, now))
        .await;
    assert_eq!(again.code(), codes::CREDENTIAL_UNKNOWN);

    let second = h.ticket_for("alice").await;
    let _: CompleteResponse = h.complete(&phone, &second.qr_payload).await.parse();
    assert_eq!(h.devices("alice").await.len(), 1);

    // Removing the device in the portal works too, and then it can enroll again.
    let token = h.sign_in("alice").await;
    let listed = h.devices("alice").await;
    let remove = |cid: String| {
        h.http
            .delete(h.url(&format!("/v1/portal/devices/{cid}")))
            .bearer_auth(&token)
            .send()
    };
    let removed = read(remove(listed[0].credential_id.clone()).await.expect("send")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let removed_again = read(remove(listed[0].credential_id.clone()).await.expect("send")).await;
    assert_eq!(removed_again.code(), codes::CREDENTIAL_UNKNOWN);
    let third = h.ticket_for("alice").await;
    let _: CompleteResponse = h.complete(&phone, &third.qr_payload).await.parse();
    h.server.shutdown().await;
}

#[tokio::test]
async fn forged_tickets_and_bad_proofs_are_bad_signatures() {
    let h = harness().await;
    let ticket = h.ticket_for("alice").await;
    let phone = Device::new("install-1");

    // A ticket signed by another key.
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("generate");
    let other = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("parse");
    let forged =
        sign_token(&ticket_claims_unverified(&ticket.qr_payload), &other, &rng).expect("sign");
    for bad_ticket in [forged.as_str(), "IBK1.garbage.x", ""] {
        let mut request = phone.complete_request(&ticket.qr_payload);
        request.ticket = bad_ticket.to_string();
        let reply = h.post("/v1/activation/complete", &request).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad_ticket}");
        assert_eq!(reply.code(), codes::TICKET_NOT_OURS);
    }

    // A proof by another key, a proof over another session, a key that is not P-256.
    let mut request = phone.complete_request(&ticket.qr_payload);
    request.proof = Device::new("x").sign("something else");
    let mut wrong_session = phone.complete_request(&ticket.qr_payload);
    wrong_session.proof = phone.sign(&activation_proof_message(
        &unknown_session_id(),
        &phone.id,
        &wrong_session.public_key,
    ));
    let mut not_a_key = phone.complete_request(&ticket.qr_payload);
    not_a_key.public_key = b64(&[4u8; 65]);
    let mut not_base64 = phone.complete_request(&ticket.qr_payload);
    not_base64.proof = "***".into();
    let mut short_key = phone.complete_request(&ticket.qr_payload);
    short_key.public_key = b64(&[4u8; 33]);
    let mut no_id = phone.complete_request(&ticket.qr_payload);
    no_id.device_id = String::new();
    let mut control_name = phone.complete_request(&ticket.qr_payload);
    control_name.device_name = "phone\u{7}".into();
    for (bad, code) in [
        (request, codes::PROOF_INVALID),
        (wrong_session, codes::PROOF_INVALID),
        (not_a_key, codes::PROOF_INVALID),
        (not_base64, codes::PROOF_INVALID),
        (short_key, codes::DEVICE_KEY_INVALID),
        (no_id, codes::DEVICE_ID_INVALID),
        (control_name, codes::DEVICE_NAME_INVALID),
    ] {
        let reply = h.post("/v1/activation/complete", &bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.code(), code);
    }
    // None of that used the ticket.
    let _: CompleteResponse = h.complete(&phone, &ticket.qr_payload).await.parse();
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_completes_give_exactly_one_success() {
    let h = Arc::new(harness().await);
    for round in 0..10 {
        let ticket = h.ticket_for("alice").await;
        let mut tasks = Vec::new();
        for n in 0..2 {
            let h = h.clone();
            let payload = ticket.qr_payload.clone();
            tasks.push(tokio::spawn(async move {
                let device = Device::new(&format!("race-{round}-{n}"));
                h.complete(&device, &payload).await
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            let reply = task.await.expect("task");
            outcomes.push((reply.status, reply.code().to_string()));
        }
        let wins = outcomes
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .count();
        assert_eq!(wins, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .any(|(s, c)| *s == StatusCode::GONE && c == codes::CODE_USED),
            "round {round}: {outcomes:?}"
        );
    }
    assert_eq!(h.devices("alice").await.len(), 10);
}

#[tokio::test]
async fn wrong_guesses_are_limited_without_revealing_the_right_one() {
    let h = harness_with(|c| c.guesses_per_minute_per_client = 10).await;
    let ticket = h.ticket_for("alice").await;

    // Lookups of a real session ID, even a used or expired one, are not wrong guesses.
    let used = h.ticket_for("bob").await;
    let _: CompleteResponse = h
        .complete(&Device::new("d"), &used.qr_payload)
        .await
        .parse();
    for _ in 0..15 {
        assert_eq!(h.lookup(&used.session_id).await.code(), codes::CODE_USED);
        let _: LookupResponse = h.lookup(&ticket.session_id).await.parse();
    }

    // Ten wrong guesses are answered: well-formed unknown IDs and malformed ones alike.
    for i in 0..10 {
        let guess = if i % 2 == 0 {
            unknown_session_id()
        } else {
            "not-a-session-id".to_string()
        };
        let reply = h.lookup(&guess).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "guess {i}");
        assert_eq!(reply.code(), codes::CODE_UNKNOWN);
    }
    // The eleventh is refused, and so is the right session ID.
    for guess in [unknown_session_id(), ticket.session_id.clone()] {
        let reply = h.lookup(&guess).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.code(), codes::TOO_MANY_ATTEMPTS);
        let retry_after = reply.error().error.retry_after.expect("retry_after");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(
            reply.retry_after_header.as_deref(),
            Some(retry_after.to_string().as_str())
        );
        assert!(reply.error().error.message.contains("Wait"));
    }
    // A minute later the client may look up again.
    h.clock.advance(Duration::from_secs(60));
    let found: LookupResponse = h.lookup(&ticket.session_id).await.parse();
    assert_eq!(found.ticket, ticket.qr_payload);
    assert_eq!(
        h.lookup(&unknown_session_id()).await.code(),
        codes::CODE_UNKNOWN
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_global_limit_applies_across_clients() {
    let h = harness_with(|c| {
        c.guesses_per_minute_per_client = 100;
        c.guesses_per_minute_total = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            h.lookup(&unknown_session_id()).await.code(),
            codes::CODE_UNKNOWN
        );
    }
    assert_eq!(
        h.lookup(&unknown_session_id()).await.code(),
        codes::TOO_MANY_ATTEMPTS
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_bad_request_in_the_error_shape() {
    let h = harness().await;
    let send_raw = |path: &str, body: Vec<u8>, json: bool| {
        let mut request = h.http.post(h.url(path)).body(body);
        if json {
            request = request.header("content-type", "application/json");
        }
        request.send()
    };
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("/v1/activation/lookup", b"{not json".to_vec(), true),
        ("/v1/activation/lookup", b"{}".to_vec(), true),
        (
            "/v1/activation/lookup",
            b"{\"session_id\": 5}".to_vec(),
            true,
        ),
        (
            "/v1/activation/complete",
            b"{\"ticket\": \"x\"}".to_vec(),
            true,
        ),
        (
            "/v1/portal/sign-in",
            b"{\"username\": \"a\"}".to_vec(),
            true,
        ),
        ("/v1/devices/revoke", b"[]".to_vec(), true),
        (
            "/v1/activation/lookup",
            b"{\"session_id\": \"x\"}".to_vec(),
            false,
        ),
    ];
    for (path, body, json) in cases {
        let reply = read(send_raw(path, body, json).await.expect("send")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path} {}",
            reply.body
        );
        assert_eq!(reply.code(), codes::BAD_REQUEST);
        assert!(!reply.error().error.message.is_empty());
    }
    let huge = format!("{{\"session_id\": \"{}\"}}", "A".repeat(70 * 1024));
    let reply = read(
        send_raw("/v1/activation/lookup", huge.into_bytes(), true)
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.code(), codes::BAD_REQUEST);

    let nowhere = read(h.http.get(h.url("/v2/nothing")).send().await.expect("send")).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.code(), codes::BAD_REQUEST);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_restart_keeps_the_key_and_the_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(AdjustableClock::new());
    let phone = Device::new("install-1");

    let first = Harness {
        server: ibkey_server::start(config(dir.path(), &clock), localhost())
            .await
            .expect("first start"),
        clock: clock.clone(),
        http: reqwest::Client::new(),
        dir: tempfile::tempdir().expect("unused"),
    };
    let key_before = first.server.key_id();
    let public_before = first.server.public_key();
    let ticket = first.ticket_for("alice").await;
    let receipt: CompleteResponse = first.complete(&phone, &ticket.qr_payload).await.parse();
    let unused = first.ticket_for("alice").await;
    first.server.shutdown().await;

    let second = Harness {
        server: ibkey_server::start(config(dir.path(), &clock), localhost())
            .await
            .expect("second start"),
        clock: clock.clone(),
        http: reqwest::Client::new(),
        dir: tempfile::tempdir().expect("unused"),
    };
    assert_eq!(second.server.key_id(), key_before);
    assert_eq!(second.server.public_key(), public_before);
    let cid = verify_token::<ReceiptClaims>(&receipt.receipt, &second.server.public_key())
        .expect("old receipt verifies")
        .cid;
    let devices = second.devices("alice").await;
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].credential_id, cid);
    // Tickets survive too, and the enrollment is still known.
    let refused = second.complete(&phone, &unused.qr_payload).await;
    assert_eq!(refused.code(), codes::ALREADY_ENROLLED);
    second.server.shutdown().await;
}

#[tokio::test]
async fn start_errors_are_typed_and_say_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(AdjustableClock::new());
    let running = ibkey_server::start(config(dir.path(), &clock), localhost())
        .await
        .expect("start");

    let other = tempfile::tempdir().expect("tempdir");
    let busy = ibkey_server::start(config(other.path(), &clock), running.addr()).await;
    match busy {
        Err(e @ ServerError::AddressInUse { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("already in use") && text.contains("--listen"),
                "{text}"
            );
        }
        other => panic!("expected AddressInUse, got {other:?}"),
    }
    running.shutdown().await;

    // A data directory below a regular file cannot be created.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let blocked = ibkey_server::start(config(&file.join("data"), &clock), localhost()).await;
    assert!(
        matches!(blocked, Err(ServerError::DataDirNotWritable { .. })),
        "{blocked:?}"
    );

    // A damaged key file or database is reported, not replaced.
    let damaged = tempfile::tempdir().expect("tempdir");
    std::fs::write(damaged.path().join(ibkey_server::KEY_FILE), b"junk").expect("write");
    let bad_key = ibkey_server::start(config(damaged.path(), &clock), localhost()).await;
    assert!(
        matches!(bad_key, Err(ServerError::KeyFileCorrupt { .. })),
        "{bad_key:?}"
    );
    assert_eq!(
        std::fs::read(damaged.path().join(ibkey_server::KEY_FILE)).expect("read"),
        b"junk"
    );
    let damaged_db = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        damaged_db.path().join(ibkey_server::DB_FILE),
        vec![0x42u8; 4096],
    )
    .expect("write");
    let bad_db = ibkey_server::start(config(damaged_db.path(), &clock), localhost()).await;
    assert!(
        matches!(bad_db, Err(ServerError::Database { .. })),
        "{bad_db:?}"
    );
}
