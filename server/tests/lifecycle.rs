//! A phone's whole life end to end: a real server on 127.0.0.1 (port 0) over a real SQLite
//! file in a temporary directory, phones with real P-256 keys. Moving IB Key to a new phone
//! (codes sent out of band, read from the reference notifier's table; the move ticket; the
//! old phone told where its account went, in a notice signed by the server), recovering
//! accounts from the keys a reinstalled phone kept, and the notification doctor's status and
//! test pushes.

#![allow(clippy::expect_used)]

mod support;

use std::time::Duration;

use ibkey_protocol::activation::{
    already_enrolled_message, codes as activation_codes, key_id, revoke_message, verify_token,
    CompleteResponse, ReceiptClaims, TicketClaims, TicketResponse,
};
use ibkey_protocol::approval::{
    codes as approval_codes, device_request_message, Decision, LoginStarted, LoginStatus,
    PendingResponse, PushPayload, TimeClaims, PUSH_TOKEN_PURPOSE,
};
use ibkey_protocol::encoding::{b64, hex};
use ibkey_protocol::lifecycle::{
    codes, recovery_complete_detail, DeviceStatusResponse, KeyProof, MoveStartResponse,
    MovedClaims, RecoveryBeginResponse, RecoveryCandidate, RecoveryCompleteResponse,
    TestPushPayload, TestPushResponse, MOVED_TYPE, OUT_OF_BAND_CODE_SECONDS, PUSH_TEST_KIND,
    RECOVERY_BEGIN_PURPOSE, RECOVERY_COMPLETE_PURPOSE, STATUS_PURPOSE, TEST_PUSH_PURPOSE,
};
use ibkey_protocol::offline::{codes as offline_codes, time_code, TIME_CODE_PERIOD};
use ibkey_server::{recorded_out_of_band, recorded_pushes, OutOfBandPurpose, WebhookPushSender};
use reqwest::StatusCode;
use ring::agreement::EphemeralPrivateKey;
use ring::digest::{digest, SHA256};
use serde_json::json;
use std::sync::Arc;
use support::browser::{csrf_of, Browser};
use support::phone::{only_challenge, Phone};
use support::{harness, harness_with, offline_secret, Device, Harness, Reply, PASSWORD};

/// The newest code the reference notifier recorded for `user` and `purpose`, and where it went.
fn latest_code(h: &Harness, user: &str, purpose: OutOfBandPurpose) -> (String, String) {
    let message = recorded_out_of_band(h.dir.path())
        .expect("recorded codes")
        .into_iter()
        .rev()
        .find(|m| m.username == user && m.purpose == purpose.as_str())
        .expect("a code was sent");
    (message.code, message.destination)
}

/// A six-digit code that is not `right`.
fn wrong_code(right: &str) -> String {
    ["000000", "111111"]
        .into_iter()
        .find(|candidate| *candidate != right)
        .expect("one of two differs")
        .to_string()
}

/// A phone's time-based code at the server clock's current step.
fn time_code_now(h: &Harness, secret: &[u8; 32]) -> String {
    let step = u64::try_from(h.now()).expect("positive") / TIME_CODE_PERIOD;
    time_code(secret, step * TIME_CODE_PERIOD)
}

impl Harness {
    /// Starts a move from the portal session `token`.
    async fn move_start(&self, token: &str) -> Reply {
        self.post_bearer("/v1/portal/move", token).await
    }

    /// Types `code` back in the portal session `token`.
    async fn move_confirm(&self, token: &str, code: &str) -> Reply {
        self.send(
            self.http
                .post(self.url("/v1/portal/move/confirm"))
                .bearer_auth(token)
                .json(&json!({ "code": code })),
        )
        .await
    }

    /// Starts a login of `user` with the portal password.
    async fn login(&self, user: &str) -> LoginStarted {
        self.post(
            "/v1/logins",
            &json!({"username": user, "password": PASSWORD}),
        )
        .await
        .parse()
    }

    /// Sends a time-based code for `login`.
    async fn send_code(&self, login: &LoginStarted, code: &str) -> Reply {
        self.send(
            self.http
                .post(self.url(&format!("/v1/logins/{}/code", login.login_id)))
                .bearer_auth(&login.login_secret)
                .json(&json!({ "code": code })),
        )
        .await
    }

    /// A signed device request of `phone` for `purpose` (empty detail) to `path`.
    async fn device_request(&self, phone: &Phone, path: &str, purpose: &str) -> Reply {
        let issued_at = self.now();
        let signature = phone.device.sign(&device_request_message(
            purpose,
            &phone.credential_id,
            issued_at,
            "",
        ));
        self.post(
            path,
            &json!({
                "credential_id": phone.credential_id,
                "issued_at": issued_at,
                "signature": signature,
            }),
        )
        .await
    }

    /// The doctor's status of `phone`, checking the signed time.
    async fn status(&self, phone: &Phone) -> DeviceStatusResponse {
        let status: DeviceStatusResponse = self
            .device_request(phone, "/v1/devices/status", STATUS_PURPOSE)
            .await
            .parse();
        let time: TimeClaims =
            verify_token(&status.time, &self.server.public_key()).expect("time verifies");
        assert_eq!(time.cid, phone.credential_id);
        assert!((time.now - self.now()).abs() <= 2, "{time:?}");
        status
    }

    /// Registers a push token for `phone`.
    async fn register_push_token(&self, phone: &Phone, platform: &str, token: &str) -> Reply {
        let issued_at = self.now();
        let signature = phone.device.sign(&device_request_message(
            PUSH_TOKEN_PURPOSE,
            &phone.credential_id,
            issued_at,
            &format!("{platform}:{token}"),
        ));
        self.post(
            "/v1/devices/push-token",
            &json!({
                "credential_id": phone.credential_id,
                "platform": platform,
                "token": token,
                "issued_at": issued_at,
                "signature": signature,
            }),
        )
        .await
    }

    /// Moves `user`'s IB Key to `device` (with an agreement key): the move ticket's claims,
    /// the completion, and the X25519 key's private half.
    async fn move_to(
        &self,
        user: &str,
        device: &Device,
    ) -> (TicketClaims, CompleteResponse, EphemeralPrivateKey) {
        let token = self.sign_in(user).await;
        let started: MoveStartResponse = self.move_start(&token).await.parse();
        assert_eq!(started.expires_at, self.now() + OUT_OF_BAND_CODE_SECONDS);
        let (code, _) = latest_code(self, user, OutOfBandPurpose::Move);
        let ticket: TicketResponse = self.move_confirm(&token, &code).await.parse();
        let claims: TicketClaims =
            verify_token(&ticket.qr_payload, &self.server.public_key()).expect("ticket");
        let (request, private) = device.complete_request_with_agreement(&ticket.qr_payload);
        let complete = self.post("/v1/activation/complete", &request).await.parse();
        (claims, complete, private)
    }
}

/// Checks a refusal as `credential_moved` whose notice names `to` and the old credential.
fn assert_moved(h: &Harness, reply: &Reply, old: &Phone, to: &str) -> MovedClaims {
    reply.refused(StatusCode::GONE, codes::CREDENTIAL_MOVED);
    assert!(reply.message().contains(to), "{}", reply.message());
    let notice = reply.error().error.moved.expect("a signed notice");
    let moved: MovedClaims =
        verify_token(&notice, &h.server.public_key()).expect("the notice verifies");
    assert_eq!(moved.typ, MOVED_TYPE);
    assert_eq!(moved.cid, old.credential_id);
    assert_eq!(moved.usr, "alice");
    assert_eq!(moved.to, to);
    assert!((moved.at - h.now()).abs() <= 5, "{moved:?}");
    moved
}

#[tokio::test]
async fn a_move_replaces_the_old_phone_which_is_told_where_it_went() {
    let h = harness().await;
    let old_account = h.enroll_offline("alice", "old-install").await;
    let old = Phone {
        device: old_account.device,
        credential_id: old_account.credential_id.clone(),
    };
    let bob = h.enroll("bob", "bobs-install").await;
    // A login waits on the old phone when the user moves.
    h.login("alice").await;
    let waiting = only_challenge(&h, &old).await;

    let token = h.sign_in("alice").await;
    let started: MoveStartResponse = h.move_start(&token).await.parse();
    assert_eq!(started.sent_to, "a••••@example.test");
    assert_eq!(started.replaces, ["phone old-install"]);
    let (code, destination) = latest_code(&h, "alice", OutOfBandPurpose::Move);
    assert_eq!(destination, "alice@example.test");
    assert_eq!(code.len(), 6);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let ticket: TicketResponse = h.move_confirm(&token, &spaced).await.parse();
    let claims: TicketClaims =
        verify_token(&ticket.qr_payload, &h.server.public_key()).expect("ticket verifies");
    assert_eq!(claims.usr, "alice");
    assert_eq!(claims.mov, Some(vec!["phone old-install".to_string()]));
    // The move ticket is found by its session ID like any other.
    let looked_up = h.lookup(&ticket.session_id.replace('-', "")).await;
    assert_eq!(looked_up.body["ticket"], ticket.qr_payload.as_str());

    let mut pixel = Device::new("new-install");
    pixel.name = "Pixel 9".to_string();
    let (request, private) = pixel.complete_request_with_agreement(&ticket.qr_payload);
    let complete: CompleteResponse = h.post("/v1/activation/complete", &request).await.parse();
    let receipt: ReceiptClaims =
        verify_token(&complete.receipt, &h.server.public_key()).expect("receipt");
    assert_eq!(receipt.ctr, None);
    let new_secret = offline_secret(
        private,
        &complete.agreement_key.expect("agreement"),
        &receipt.cid,
    );
    let new = Phone {
        device: pixel,
        credential_id: receipt.cid.clone(),
    };
    // The ticket is single use.
    h.complete(&Device::new("third"), &ticket.qr_payload)
        .await
        .refused(StatusCode::GONE, activation_codes::CODE_USED);

    // Every signed request of the old phone is told where the account went.
    let pending = h
        .post("/v1/challenges/pending", &old.pending_request(h.now()))
        .await;
    assert_moved(&h, &pending, &old, "Pixel 9");
    let decided = h
        .decide(&old.decision(
            &waiting,
            Decision::Approve,
            Some(waiting.num.expect("number")),
            1,
        ))
        .await;
    assert_moved(&h, &decided, &old, "Pixel 9");
    let push_token = h.register_push_token(&old, "fcm", "old-token").await;
    assert_moved(&h, &push_token, &old, "Pixel 9");
    let issued_at = h.now();
    let revoke = h
        .post(
            "/v1/devices/revoke",
            &json!({
                "credential_id": old.credential_id,
                "issued_at": issued_at,
                "signature": old.device.sign(&revoke_message(&old.credential_id, issued_at)),
            }),
        )
        .await;
    assert_moved(&h, &revoke, &old, "Pixel 9");
    for (path, purpose) in [
        ("/v1/devices/status", STATUS_PURPOSE),
        ("/v1/devices/test-push", TEST_PUSH_PURPOSE),
    ] {
        let reply = h.device_request(&old, path, purpose).await;
        assert_moved(&h, &reply, &old, "Pixel 9");
    }
    let fresh = h.ticket_for("alice").await;
    let sid = support::ticket_claims_unverified(&fresh.qr_payload).sid;
    let reported = h
        .post(
            "/v1/activation/already-enrolled",
            &json!({
                "ticket": fresh.qr_payload,
                "credential_id": old.credential_id,
                "issued_at": issued_at,
                "signature": old.device.sign(&already_enrolled_message(&sid, &old.credential_id, issued_at)),
            }),
        )
        .await;
    assert_moved(&h, &reported, &old, "Pixel 9");
    // Without the old key, nobody learns that the account moved.
    let impostor = Phone {
        device: Device::new("impostor"),
        credential_id: old.credential_id.clone(),
    };
    let unsigned = h
        .post("/v1/challenges/pending", &impostor.pending_request(h.now()))
        .await;
    unsigned.refused(StatusCode::NOT_FOUND, activation_codes::CREDENTIAL_UNKNOWN);
    assert!(unsigned.error().error.moved.is_none());

    // The portal shows the old phone as moved; the new one and bob's are active.
    let devices = h.devices("alice").await;
    assert_eq!(devices.len(), 2, "{devices:?}");
    assert_eq!(devices[0].credential_id, old.credential_id);
    assert_eq!(devices[0].moved_to.as_deref(), Some("Pixel 9"));
    assert!(devices[0].moved_at.is_some());
    assert_eq!(devices[1].credential_id, new.credential_id);
    assert_eq!(devices[1].moved_to, None);
    assert_eq!(h.devices("bob").await.len(), 1);
    assert_eq!(h.pull(&bob).await.len(), 0);

    // The new phone approves from a counter of zero; the old phone's offline codes are refused.
    h.login("alice").await;
    let challenge = only_challenge(&h, &new).await;
    let approved = h
        .decide(&new.decision(&challenge, Decision::Approve, challenge.num, 1))
        .await;
    assert!(approved.status.is_success(), "{}", approved.body);
    let login = h.login("alice").await;
    h.send_code(&login, &time_code_now(&h, &old_account.secret))
        .await
        .refused(StatusCode::BAD_REQUEST, offline_codes::RESPONSE_WRONG);
    let status: LoginStatus = h
        .send_code(&login, &time_code_now(&h, &new_secret))
        .await
        .parse();
    assert_eq!(status.device_name.as_deref(), Some("Pixel 9"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn move_codes_are_single_use_expire_and_belong_to_their_user() {
    let h = harness().await;
    h.enroll("alice", "alice-install").await;
    h.enroll("bob", "bob-install").await;
    let alice = h.sign_in("alice").await;
    let bob = h.sign_in("bob").await;
    let carol = h.sign_in("carol").await;

    let nothing = h.move_start(&carol).await;
    nothing.refused(StatusCode::CONFLICT, codes::NOTHING_TO_MOVE);
    assert!(
        nothing.message().contains("Activate"),
        "{}",
        nothing.message()
    );
    h.move_confirm(&carol, "123456")
        .await
        .refused(StatusCode::CONFLICT, codes::NOTHING_TO_MOVE);
    h.post("/v1/portal/move", &json!({}))
        .await
        .refused(StatusCode::UNAUTHORIZED, activation_codes::UNAUTHORIZED);

    h.move_confirm(&alice, "123456")
        .await
        .refused(StatusCode::BAD_REQUEST, codes::OOB_CODE_WRONG);
    h.move_start(&alice).await.parse::<MoveStartResponse>();
    let (alice_code, _) = latest_code(&h, "alice", OutOfBandPurpose::Move);
    h.move_start(&bob).await.parse::<MoveStartResponse>();
    let (bob_code, _) = latest_code(&h, "bob", OutOfBandPurpose::Move);
    if bob_code != alice_code {
        h.move_confirm(&alice, &bob_code)
            .await
            .refused(StatusCode::BAD_REQUEST, codes::OOB_CODE_WRONG);
    }
    h.move_confirm(&alice, "12a45")
        .await
        .refused(StatusCode::BAD_REQUEST, codes::OOB_CODE_WRONG);
    let ticket: TicketResponse = h.move_confirm(&alice, &alice_code).await.parse();
    h.move_confirm(&alice, &alice_code)
        .await
        .refused(StatusCode::GONE, codes::OOB_CODE_USED);
    // Bob's code still works in his own session.
    h.move_confirm(&bob, &bob_code)
        .await
        .parse::<TicketResponse>();

    // The move ticket expires like any ticket.
    h.clock.advance(Duration::from_secs(5 * 60 + 1));
    h.complete(&Device::new("late"), &ticket.qr_payload)
        .await
        .refused(StatusCode::GONE, activation_codes::CODE_EXPIRED);

    h.move_start(&alice).await.parse::<MoveStartResponse>();
    let (expiring, _) = latest_code(&h, "alice", OutOfBandPurpose::Move);
    h.clock.advance(Duration::from_secs(
        u64::try_from(OUT_OF_BAND_CODE_SECONDS).expect("positive") + 1,
    ));
    // The portal session ended meanwhile too.
    let alice = h.sign_in("alice").await;
    h.move_confirm(&alice, &expiring)
        .await
        .refused(StatusCode::GONE, codes::OOB_CODE_EXPIRED);

    // Five wrong tries make a code void.
    h.move_start(&alice).await.parse::<MoveStartResponse>();
    let (guessed, _) = latest_code(&h, "alice", OutOfBandPurpose::Move);
    for _ in 0..5 {
        h.move_confirm(&alice, &wrong_code(&guessed))
            .await
            .refused(StatusCode::BAD_REQUEST, codes::OOB_CODE_WRONG);
    }
    h.move_confirm(&alice, &guessed).await.refused(
        StatusCode::TOO_MANY_REQUESTS,
        activation_codes::TOO_MANY_ATTEMPTS,
    );
    // A new code works.
    h.move_start(&alice).await.parse::<MoveStartResponse>();
    let (fresh, _) = latest_code(&h, "alice", OutOfBandPurpose::Move);
    h.move_confirm(&alice, &fresh)
        .await
        .parse::<TicketResponse>();
    h.server.shutdown().await;
}

#[tokio::test]
async fn wrong_codes_count_against_the_clients_guess_budget() {
    let h = harness_with(|config| config.guesses_per_minute_per_client = 3).await;
    h.enroll("alice", "alice-install").await;
    let alice = h.sign_in("alice").await;
    h.move_start(&alice).await.parse::<MoveStartResponse>();
    let (code, _) = latest_code(&h, "alice", OutOfBandPurpose::Move);
    for _ in 0..3 {
        h.move_confirm(&alice, &wrong_code(&code))
            .await
            .refused(StatusCode::BAD_REQUEST, codes::OOB_CODE_WRONG);
    }
    let refused = h.move_confirm(&alice, &code).await;
    refused.refused(
        StatusCode::TOO_MANY_REQUESTS,
        activation_codes::TOO_MANY_ATTEMPTS,
    );
    assert!(refused.retry_after_header.is_some());
    h.clock.advance(Duration::from_secs(61));
    h.move_confirm(&alice, &code)
        .await
        .parse::<TicketResponse>();
    h.server.shutdown().await;
}

#[tokio::test]
async fn codes_sent_to_a_user_are_limited() {
    let h = harness().await;
    h.enroll("alice", "alice-install").await;
    h.enroll("bob", "bob-install").await;
    let alice = h.sign_in("alice").await;
    for _ in 0..5 {
        h.move_start(&alice).await.parse::<MoveStartResponse>();
    }
    let (last, _) = latest_code(&h, "alice", OutOfBandPurpose::Move);
    let refused = h.move_start(&alice).await;
    refused.refused(
        StatusCode::TOO_MANY_REQUESTS,
        activation_codes::TOO_MANY_ATTEMPTS,
    );
    assert!(refused.retry_after_header.is_some());
    assert!(
        refused.message().contains("latest code"),
        "{}",
        refused.message()
    );
    assert_eq!(
        latest_code(&h, "alice", OutOfBandPurpose::Move).0,
        last,
        "no code was sent"
    );
    // The latest code still works, and other users are not hit.
    h.move_confirm(&alice, &last)
        .await
        .parse::<TicketResponse>();
    let bob = h.sign_in("bob").await;
    h.move_start(&bob).await.parse::<MoveStartResponse>();
    h.clock.advance(Duration::from_secs(15 * 60 + 1));
    let alice = h.sign_in("alice").await;
    h.move_start(&alice).await.parse::<MoveStartResponse>();
    h.server.shutdown().await;
}

/// A key's proof of possession, signed at `issued_at` by `signer` for `device`'s key.
fn key_proof(device: &Device, signer: &Device, issued_at: i64) -> KeyProof {
    let kid = key_id(&device.public());
    KeyProof {
        public_key: b64(&device.public()),
        issued_at,
        signature: signer.sign(&device_request_message(
            RECOVERY_BEGIN_PURPOSE,
            &kid,
            issued_at,
            "",
        )),
    }
}

/// The signed completion of a recovery of `device`'s account with `code`.
fn recovery_complete(
    device: &Device,
    code: &str,
    agreement_key: Option<&str>,
    issued_at: i64,
) -> serde_json::Value {
    let kid = key_id(&device.public());
    json!({
        "public_key": b64(&device.public()),
        "code": code,
        "agreement_key": agreement_key,
        "issued_at": issued_at,
        "signature": device.sign(&device_request_message(
            RECOVERY_COMPLETE_PURPOSE,
            &kid,
            issued_at,
            &recovery_complete_detail(code, agreement_key),
        )),
    })
}

#[tokio::test]
async fn recovery_tells_each_key_apart_and_restores_an_active_account() {
    let h = harness().await;
    let alice_account = h.enroll_offline("alice", "alice-install").await;
    let alice = Phone {
        device: alice_account.device,
        credential_id: alice_account.credential_id.clone(),
    };
    // Alice's phone approved logins up to counter 3.
    h.login("alice").await;
    let challenge = only_challenge(&h, &alice).await;
    let decided = h
        .decide(&alice.decision(&challenge, Decision::Approve, challenge.num, 3))
        .await;
    assert!(decided.status.is_success(), "{}", decided.body);
    let bob = h.enroll("bob", "bob-install").await;
    let bob_token = h.sign_in("bob").await;
    let removed = h
        .send(
            h.http
                .delete(h.url(&format!("/v1/portal/devices/{}", bob.credential_id)))
                .bearer_auth(&bob_token),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let carol = h.enroll("carol", "carol-install").await;
    let mut carols_new = Device::new("carol-new");
    carols_new.name = "Galaxy S25".to_string();
    h.move_to("carol", &carols_new).await;
    let dave = h.enroll("dave", "dave-install").await;
    let stranger = Device::new("stranger");

    let now = h.now();
    let begin = h
        .post(
            "/v1/recovery/begin",
            &json!({ "keys": [
                key_proof(&alice.device, &alice.device, now),
                key_proof(&bob.device, &bob.device, now),
                key_proof(&carol.device, &carol.device, now),
                key_proof(&stranger, &stranger, now),
                key_proof(&dave.device, &stranger, now),
            ]}),
        )
        .await;
    let candidates = begin.parse::<RecoveryBeginResponse>().candidates;
    assert_eq!(candidates.len(), 5);
    match &candidates[0] {
        RecoveryCandidate::Recoverable {
            key_id: kid,
            username,
            device_name,
            sent_to,
            expires_at,
            ..
        } => {
            assert_eq!(*kid, key_id(&alice.device.public()));
            assert_eq!(username, "alice");
            assert_eq!(device_name, "phone alice-install");
            assert_eq!(sent_to, "a••••@example.test");
            assert_eq!(*expires_at, now + OUT_OF_BAND_CODE_SECONDS);
        }
        other => panic!("alice: {other:?}"),
    }
    match &candidates[1] {
        RecoveryCandidate::Revoked {
            username,
            revoked_at,
            ..
        } => assert!(username == "bob" && *revoked_at >= now - 5),
        other => panic!("bob: {other:?}"),
    }
    match &candidates[2] {
        RecoveryCandidate::Moved { moved, .. } => {
            let claims: MovedClaims =
                verify_token(moved, &h.server.public_key()).expect("notice verifies");
            assert_eq!(
                (claims.usr.as_str(), claims.to.as_str()),
                ("carol", "Galaxy S25")
            );
            assert_eq!(claims.cid, carol.credential_id);
        }
        other => panic!("carol: {other:?}"),
    }
    for (candidate, device) in [(&candidates[3], &stranger), (&candidates[4], &dave.device)] {
        match candidate {
            RecoveryCandidate::Unknown { key_id: kid } => {
                assert_eq!(*kid, key_id(&device.public()));
            }
            other => panic!("unknown: {other:?}"),
        }
    }
    let recovery_codes: Vec<String> = recorded_out_of_band(h.dir.path())
        .expect("codes")
        .into_iter()
        .filter(|m| m.purpose == "recovery")
        .map(|m| m.username)
        .collect();
    assert_eq!(
        recovery_codes,
        ["alice"],
        "only the recoverable user gets a code"
    );

    let (code, _) = latest_code(&h, "alice", OutOfBandPurpose::Recovery);
    h.post(
        "/v1/recovery/complete",
        &recovery_complete(&alice.device, &wrong_code(&code), None, h.now()),
    )
    .await
    .refused(StatusCode::BAD_REQUEST, codes::OOB_CODE_WRONG);
    let mut forged = recovery_complete(&alice.device, &code, None, h.now());
    forged["signature"] = json!(stranger.sign("something else"));
    h.post("/v1/recovery/complete", &forged)
        .await
        .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_SIGNATURE);
    h.post(
        "/v1/recovery/complete",
        &recovery_complete(&bob.device, &code, None, h.now()),
    )
    .await
    .refused(StatusCode::CONFLICT, codes::NOT_RECOVERABLE);

    let private = EphemeralPrivateKey::generate(
        ibkey_protocol::offline::AGREEMENT,
        &ring::rand::SystemRandom::new(),
    )
    .expect("x25519");
    let agreement = b64(private.compute_public_key().expect("public").as_ref());
    let recovered: RecoveryCompleteResponse = h
        .post(
            "/v1/recovery/complete",
            &recovery_complete(&alice.device, &code, Some(&agreement), h.now()),
        )
        .await
        .parse();
    let receipt: ReceiptClaims =
        verify_token(&recovered.receipt, &h.server.public_key()).expect("receipt verifies");
    assert_eq!(receipt.cid, alice.credential_id);
    assert_eq!(receipt.usr, "alice");
    assert_eq!(receipt.dev, "alice-install");
    assert_eq!(receipt.pkid, key_id(&alice.device.public()));
    assert_eq!(receipt.ctr, Some(3));
    let secret = offline_secret(
        private,
        &recovered.agreement_key.expect("the server's agreement key"),
        &alice.credential_id,
    );
    assert_ne!(secret, alice_account.secret);
    h.post(
        "/v1/recovery/complete",
        &recovery_complete(&alice.device, &code, Some(&agreement), h.now()),
    )
    .await
    .refused(StatusCode::GONE, codes::OOB_CODE_USED);

    // The new secret's codes approve a login; the old secret's no longer do.
    let login = h.login("alice").await;
    h.send_code(&login, &time_code_now(&h, &alice_account.secret))
        .await
        .refused(StatusCode::BAD_REQUEST, offline_codes::RESPONSE_WRONG);
    let status: LoginStatus = h
        .send_code(&login, &time_code_now(&h, &secret))
        .await
        .parse();
    assert_eq!(status.device_name.as_deref(), Some("phone alice-install"));

    // A moved key and an unknown one cannot be recovered either.
    for device in [&carol.device, &stranger] {
        h.post(
            "/v1/recovery/complete",
            &recovery_complete(device, &code, None, h.now()),
        )
        .await
        .refused(StatusCode::CONFLICT, codes::NOT_RECOVERABLE);
    }
    let skewed = h
        .post(
            "/v1/recovery/begin",
            &json!({ "keys": [key_proof(&alice.device, &alice.device, h.now() - 3600)] }),
        )
        .await;
    skewed.refused(StatusCode::BAD_REQUEST, approval_codes::CLOCK_SKEW);
    let too_many: Vec<KeyProof> = (0..33)
        .map(|_| key_proof(&stranger, &stranger, now))
        .collect();
    h.post("/v1/recovery/begin", &json!({ "keys": too_many }))
        .await
        .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_REQUEST);
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_doctor_reads_the_notification_status_and_sends_test_pushes() {
    let h = harness().await;
    let phone = h.enroll("alice", "alice-install").await;
    let before = h.status(&phone).await;
    assert_eq!(before.push_token, None);
    assert!(before.pushes_enabled);
    assert_eq!(before.muted_until, None);
    assert_eq!(before.last_challenge_at, None);
    assert_eq!(before.last_push_sent_at, None);
    assert_eq!(before.last_push_error, None);

    let registered = h.register_push_token(&phone, "fcm", "token-123").await;
    assert_eq!(
        registered.status,
        StatusCode::NO_CONTENT,
        "{}",
        registered.body
    );
    let login = h.login("alice").await;
    assert_eq!(login.devices_notified, 1);
    let after = h.status(&phone).await;
    let token = after.push_token.expect("a push token");
    assert_eq!(token.platform, "fcm");
    assert_eq!(
        token.token_sha256,
        hex(digest(&SHA256, b"token-123").as_ref())
    );
    assert!((token.registered_at - h.now()).abs() <= 2);
    assert!(after
        .last_challenge_at
        .is_some_and(|at| (at - h.now()).abs() <= 2));
    assert!(after.last_push_sent_at.is_some());
    assert_eq!(after.last_push_error, None);

    let sent: TestPushResponse = h
        .device_request(&phone, "/v1/devices/test-push", TEST_PUSH_PURPOSE)
        .await
        .parse();
    assert!((sent.sent_at_ms / 1000 - h.now()).abs() <= 2);
    let pushes = recorded_pushes(h.dir.path()).expect("pushes");
    let last = pushes.last().expect("the test push");
    assert_eq!(last.credential_id, phone.credential_id);
    assert_eq!(last.push_token.as_deref(), Some("token-123"));
    let payload: TestPushPayload = serde_json::from_str(&last.payload).expect("payload");
    assert_eq!(payload.kind, PUSH_TEST_KIND);
    assert_eq!((payload.id, payload.sent_at_ms), (sent.id, sent.sent_at_ms));

    // Notifications off: logins notify no phone, the phone still finds them by pulling.
    let portal = h.sign_in("alice").await;
    let off = h
        .send(
            h.http
                .post(h.url("/v1/portal/push-approvals"))
                .bearer_auth(&portal)
                .json(&json!({ "enabled": false })),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.body);
    assert!(!h.status(&phone).await.pushes_enabled);
    let pushes_before = recorded_pushes(h.dir.path()).expect("pushes").len();
    let quiet = h.login("alice").await;
    assert_eq!(quiet.devices_notified, 0);
    assert_eq!(
        recorded_pushes(h.dir.path()).expect("pushes").len(),
        pushes_before
    );
    assert_eq!(h.pull(&phone).await.len(), 2);
    let waiting: LoginStatus = h
        .get_bearer(
            &format!("/v1/logins/{}", quiet.login_id),
            &quiet.login_secret,
        )
        .await
        .parse();
    assert!(
        waiting.message.contains("turned off"),
        "{}",
        waiting.message
    );

    // A fraud report mutes the user's notifications: the status says until when.
    let challenge = h.pull(&phone).await.remove(0);
    let reported = h
        .decide(&phone.decision(&challenge, Decision::ReportFraud, None, 1))
        .await;
    assert!(reported.status.is_success(), "{}", reported.body);
    let muted = h.status(&phone).await;
    assert!(muted.muted_until.is_some_and(|until| until > h.now()));

    // Ten test pushes an hour.
    for _ in 1..10 {
        h.device_request(&phone, "/v1/devices/test-push", TEST_PUSH_PURPOSE)
            .await
            .parse::<TestPushResponse>();
    }
    let limited = h
        .device_request(&phone, "/v1/devices/test-push", TEST_PUSH_PURPOSE)
        .await;
    limited.refused(
        StatusCode::TOO_MANY_REQUESTS,
        activation_codes::TOO_MANY_ATTEMPTS,
    );
    assert!(limited.retry_after_header.is_some());
    h.clock.advance(Duration::from_secs(3601));
    h.device_request(&phone, "/v1/devices/test-push", TEST_PUSH_PURPOSE)
        .await
        .parse::<TestPushResponse>();
    // Someone else's signature gets nothing.
    let impostor = Phone {
        device: Device::new("impostor"),
        credential_id: phone.credential_id.clone(),
    };
    h.device_request(&impostor, "/v1/devices/status", STATUS_PURPOSE)
        .await
        .refused(StatusCode::BAD_REQUEST, activation_codes::BAD_SIGNATURE);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_push_service_that_fails_is_shown_in_the_status() {
    // Nothing listens on port 9 of loopback: every push fails to connect.
    let sender = WebhookPushSender::new("http://127.0.0.1:9/push").expect("sender");
    let h = harness_with(|config| config.push_sender = Some(Arc::new(sender))).await;
    let phone = h.enroll("alice", "alice-install").await;
    let login = h.login("alice").await;
    assert_eq!(login.devices_notified, 0);
    let status = h.status(&phone).await;
    assert!(status.last_push_sent_at.is_some());
    let error = status.last_push_error.expect("the push error");
    assert!(error.contains("could not be reached"), "{error}");
    let test = h
        .device_request(&phone, "/v1/devices/test-push", TEST_PUSH_PURPOSE)
        .await;
    test.refused(StatusCode::BAD_GATEWAY, activation_codes::INTERNAL);
    assert!(
        test.message().contains("could not be reached"),
        "{}",
        test.message()
    );
    // The app still finds the login by pulling.
    let pending: PendingResponse = h
        .post("/v1/challenges/pending", &phone.pending_request(h.now()))
        .await
        .parse();
    assert_eq!(pending.challenges.len(), 1);
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_account_page_switches_notifications_and_shows_moved_devices() {
    let h = harness().await;
    h.enroll("alice", "old-install").await;
    let mut pixel = Device::new("new-install");
    pixel.name = "Pixel <9>".to_string();
    h.move_to("alice", &pixel).await;
    let mut browser = Browser::new(&h);
    browser.sign_in("alice", PASSWORD).await;
    let page = browser.get("/portal/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("moved to Pixel &lt;9&gt; on"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("Login notifications are <strong>on</strong>"));
    let csrf = csrf_of(&page);
    let path = "/portal/account/push-approvals";
    let refused = browser.post(path, &[("enabled", "false")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let switched = browser
        .post(path, &[("csrf", &csrf), ("enabled", "false")])
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);
    assert_eq!(switched.header("location"), "/portal/account");
    let page = browser.get("/portal/account").await;
    assert!(page
        .body
        .contains("Login notifications are <strong>off</strong>"));
    assert_eq!(h.login("alice").await.devices_notified, 0);
    // The login page says why no phone was notified.
    let form = browser.get("/login").await;
    let login_csrf = csrf_of(&form);
    let started = browser
        .post(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf", &login_csrf),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let wait = browser.get("/login/wait").await;
    assert!(
        wait.text("login-paused")
            .contains("Login notifications are turned off for alice"),
        "{}",
        wait.body
    );
    let back = browser
        .post(path, &[("csrf", &csrf), ("enabled", "true")])
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(h.login("alice").await.devices_notified, 1);
    // A login push still carries a login challenge, not a test.
    let last = recorded_pushes(h.dir.path()).expect("pushes");
    let payload: PushPayload =
        serde_json::from_str(&last.last().expect("a push").payload).expect("login payload");
    assert_eq!(payload.kind, ibkey_protocol::approval::PUSH_LOGIN_KIND);
    h.server.shutdown().await;
}
