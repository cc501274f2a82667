//! The server key is not trusted on first use unless the app opts in (development only): the
//! app ships its server's key, a rotation the pinned key endorsed is followed, and a key
//! nobody endorsed (an interceptor on the server's address) is refused and never pinned.
//! Real server on loopback restarted on the same address and data folder, real store files.

#![allow(clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ibkey_core::activation::{ActivationError, ActivationOutcome};
use ibkey_core::platform::{HttpRequest, HttpResponse, HttpTransport, TransportError};
use ibkey_core::{ApprovalError, Decision, ErrorCode};
use ibkey_e2e::{HttpWrap, Phone, Trust, World, TEST_PIN};
use ibkey_protocol::approval::LoginState;
use ibkey_protocol::encoding::sha256_hex;
use ibkey_server::portal_client::PendingLogin;
use ibkey_server::{DEMO_PORTAL_PASSWORD, KEY_FILE, KEY_HISTORY_FILE};

/// The paths of the requests a phone sent, in order.
#[derive(Clone, Default)]
struct Sent(Arc<Mutex<Vec<String>>>);

impl Sent {
    /// A transport wrapper that notes each request's path.
    fn wrap(&self) -> HttpWrap {
        let sent = self.clone();
        Arc::new(move |inner| {
            Arc::new(Noting {
                inner,
                sent: sent.clone(),
            })
        })
    }

    /// How many times the phone asked the server for its key.
    fn key_requests(&self) -> usize {
        let sent = self.0.lock().expect("lock");
        sent.iter()
            .filter(|p| p.ends_with("/v1/server-key"))
            .count()
    }
}

struct Noting {
    inner: Arc<dyn HttpTransport>,
    sent: Sent,
}

#[async_trait]
impl HttpTransport for Noting {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.sent.0.lock().expect("lock").push(request.url.clone());
        self.inner.send(request).await
    }
}

/// `user` logs in; the phone pulls the login and approves it with the matching number.
async fn log_in_and_approve(world: &World, phone: &Phone, user: &str) {
    let login = PendingLogin::start(&world.url(), user, DEMO_PORTAL_PASSWORD, None)
        .await
        .expect("a started login");
    let pending = phone.auth.pending_logins().await.expect("pull");
    assert_eq!(pending.len(), 1, "{pending:?}");
    phone.user.set_standing_pin(Some(TEST_PIN));
    let outcome = phone
        .auth
        .approve(&pending[0], Some(login.started().number))
        .await
        .expect("approved");
    assert_eq!(outcome.decision, Decision::Approve);
    let status = login.status(0).await.expect("status");
    assert_eq!(status.state, LoginState::Approved);
}

/// `phone` scans the QR code `qr` (the PIN being [`TEST_PIN`]).
async fn scan(phone: &Phone, qr: &str) -> Result<ActivationOutcome, ActivationError> {
    phone.user.set_standing_pin(Some(TEST_PIN));
    phone.auth.activate_from_qr(qr).await
}

/// Rotates the server key in its data folder (the server restarted around it).
fn rotate(data_dir: &Path) {
    ibkey_server::rotate_key(data_dir).expect("rotation");
}

/// A phone with `user` enrolled by QR code; its app configured with `trust`.
async fn enrolled(world: &World, name: &str, trust: Trust, user: &str) -> Phone {
    let phone = world.phone_with_trust(name, trust, None);
    world.enroll(&phone, &[user]).await;
    phone
}

#[tokio::test]
async fn without_a_configured_key_nothing_is_trusted_on_first_use() {
    let world = World::start().await;
    let sent = Sent::default();
    let trust = Trust {
        server_key: None,
        ..world.trust()
    };
    let phone = world.phone_with_trust("phone", trust, Some(sent.wrap()));

    let ticket = world.ticket("alice").await;
    let err = scan(&phone, &ticket.qr_payload)
        .await
        .expect_err("no key to check the code with");
    assert_eq!(err, ActivationError::ServerKeyNotConfigured);
    assert_eq!(err.code(), "ACT_SERVER_KEY_NOT_CONFIGURED");
    assert!(err.to_string().contains("publisher"), "{err}");
    let err = phone
        .auth
        .activate_with_session_id(&ticket.session_id)
        .await
        .expect_err("typed, the same");
    assert_eq!(err, ActivationError::ServerKeyNotConfigured);
    // The server was never asked for its key, and nothing was enrolled anywhere: the code is
    // still unused for an app that ships the key.
    assert_eq!(sent.key_requests(), 0);
    assert!(phone.auth.accounts().expect("accounts").is_empty());
    let configured = world.phone("configured");
    let activated = scan(&configured, &ticket.qr_payload).await;
    assert!(
        matches!(activated, Ok(ActivationOutcome::Activated { .. })),
        "{activated:?}"
    );

    // A key that is neither a key nor a hash is no key at all.
    let garbled = Trust {
        server_key: Some("not-a-key".into()),
        ..world.trust()
    };
    let phone = world.phone_with_trust("garbled", garbled, None);
    assert_eq!(
        scan(&phone, &world.ticket("alice").await.qr_payload).await,
        Err(ActivationError::ServerKeyNotConfigured)
    );
}

#[tokio::test]
async fn trust_on_first_use_works_when_the_app_opts_in() {
    let world = World::start().await;
    let sent = Sent::default();
    let trust = Trust {
        server_key: None,
        trust_on_first_use: true,
        ..world.trust()
    };
    let phone = world.phone_with_trust("phone", trust, Some(sent.wrap()));
    world.enroll(&phone, &["alice", "bob"]).await;
    // Asked once, then pinned.
    assert_eq!(sent.key_requests(), 1);
    log_in_and_approve(&world, &phone, "alice").await;
    let phone = phone.restart();
    log_in_and_approve(&world, &phone, "bob").await;
    assert_eq!(sent.key_requests(), 1);
}

#[tokio::test]
async fn a_rotation_endorsed_by_the_pinned_key_is_followed() {
    let mut world = World::start().await;
    let shipped = world.trust();
    let first_key = world.server.public_key();
    let phone = enrolled(&world, "phone", shipped.clone(), "alice").await;
    let by_hash = Trust {
        server_key: Some(sha256_hex(&first_key)),
        ..shipped.clone()
    };

    let first_key_file = fs::read(world.dir.path().join("server").join(KEY_FILE)).expect("key");

    // Two rotations while the phone was away: it follows both endorsements.
    world.restart_server(rotate).await;
    world.restart_server(rotate).await;
    assert_ne!(world.server.public_key(), first_key);
    log_in_and_approve(&world, &phone, "alice").await;
    let phone = phone.restart();
    log_in_and_approve(&world, &phone, "alice").await;

    // An app that still ships the first key, or its SHA-256, activates after the rotations.
    enrolled(&world, "old app", shipped, "bob").await;
    let hashed = enrolled(&world, "hashed", by_hash, "carol").await;
    log_in_and_approve(&world, &hashed, "carol").await;

    // Whoever holds the first key (rotated away from, perhaps because it leaked) cannot speak
    // for the server to a phone that followed, though its app still ships that key.
    world
        .restart_server(|dir| fs::write(dir.join(KEY_FILE), &first_key_file).expect("old key"))
        .await;
    PendingLogin::start(&world.url(), "alice", DEMO_PORTAL_PASSWORD, None)
        .await
        .expect("a started login");
    assert_eq!(
        phone.auth.pending_logins().await,
        Err(ApprovalError::ServerKeyMismatch)
    );
}

#[tokio::test]
async fn an_interceptors_key_is_refused_and_never_pinned() {
    let mut world = World::start().await;
    let shipped = world.trust();
    let phone = enrolled(&world, "phone", shipped.clone(), "alice").await;
    let tofu = Trust {
        server_key: None,
        trust_on_first_use: true,
        ..shipped.clone()
    };
    let pinned_by_use = enrolled(&world, "tofu phone", tofu, "bob").await;

    // Someone answers on the server's address, with its data but a key of their own.
    let data_dir = world.dir.path().join("server");
    let real_key = fs::read(data_dir.join(KEY_FILE)).expect("key");
    world
        .restart_server(|dir| {
            fs::remove_file(dir.join(KEY_FILE)).expect("remove key");
            let _ = fs::remove_file(dir.join(KEY_HISTORY_FILE));
        })
        .await;

    for (phone, user) in [(&phone, "alice"), (&pinned_by_use, "bob")] {
        PendingLogin::start(&world.url(), user, DEMO_PORTAL_PASSWORD, None)
            .await
            .expect("a started login");
        let err = phone.auth.pending_logins().await.expect_err("refused");
        assert_eq!(err, ApprovalError::ServerKeyMismatch);
        assert_eq!(err.code(), "APR_SERVER_KEY_MISMATCH");
        let pushed = ibkey_server::recorded_pushes(&data_dir)
            .expect("pushes")
            .into_iter()
            .rev()
            .find(|p| p.username == user)
            .expect("a push");
        let err = phone
            .auth
            .read_push(pushed.payload.into_bytes())
            .await
            .expect_err("refused");
        assert_eq!(err, ApprovalError::ServerKeyMismatch);
    }
    // Its activation codes are refused too.
    assert_eq!(
        scan(&phone, &world.ticket("carol").await.qr_payload).await,
        Err(ActivationError::ServerKeyMismatch)
    );
    assert!(phone.auth.account("carol").expect("store").is_none());

    // The real server is back: nothing of the interceptor's was pinned.
    world
        .restart_server(|dir| {
            fs::write(dir.join(KEY_FILE), &real_key).expect("restore key");
        })
        .await;
    let phone = phone.restart();
    log_in_and_approve(&world, &phone, "alice").await;
    log_in_and_approve(&world, &pinned_by_use, "bob").await;
    let activated = scan(&phone, &world.ticket("carol").await.qr_payload).await;
    assert!(
        matches!(activated, Ok(ActivationOutcome::Activated { .. })),
        "{activated:?}"
    );
}
