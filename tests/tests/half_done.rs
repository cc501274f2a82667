//! Nothing half-done: when the phone cannot save an account the server already enrolled, the
//! enrollment is undone on both sides (credential revoked, key deleted), so a retry works.
//! Real server on loopback; the phone's store fails chosen saves on demand.

#![allow(clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ibkey_core::activation::{ActivationError, ActivationOutcome};
use ibkey_core::gate::PinPolicy;
use ibkey_core::platform::{
    FileStore, HookedStore, HttpHeader, HttpRequest, HttpResponse, HttpTransport, Platform,
    ReqwestTransport, ScriptedVerifier, SoftwareKeyVault, StoreError, StoreOp, TransportError,
    VerificationMethod,
};
use ibkey_core::{Authenticator, AuthenticatorConfig, ErrorCode};
use ibkey_e2e::{ManualClock, World, TEST_PIN};
use ibkey_protocol::activation::{SignInRequest, SignInResponse};
use ibkey_server::{PortalDevice, DEMO_PORTAL_PASSWORD};

/// A file store behind a hook that fails the next `save` of chosen keys and remembers the
/// device keys (`key/...`) ever written through it.
struct FlakyStore {
    store: Arc<HookedStore>,
    fail_next_save_of: Arc<Mutex<Vec<String>>>,
    device_keys: Arc<Mutex<BTreeSet<String>>>,
}

impl FlakyStore {
    fn open(dir: &std::path::Path) -> FlakyStore {
        let fail_next_save_of: Arc<Mutex<Vec<String>>> = Arc::default();
        let device_keys: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let (failing, written) = (fail_next_save_of.clone(), device_keys.clone());
        let inner = Arc::new(FileStore::open(dir).expect("store"));
        let store = HookedStore::new(inner, move |op| {
            let StoreOp::Save(key, _) = op else {
                return Ok(());
            };
            let mut failing = failing.lock().expect("lock");
            if let Some(at) = failing.iter().position(|k| k == key) {
                failing.remove(at);
                return Err(StoreError::WriteFailed {
                    reason: "disk full (test)".into(),
                });
            }
            if key.starts_with("key/") {
                written.lock().expect("lock").insert(key.to_string());
            }
            Ok(())
        });
        FlakyStore {
            store: Arc::new(store),
            fail_next_save_of,
            device_keys,
        }
    }

    fn fail_next_save(&self, key: &str) {
        self.fail_next_save_of
            .lock()
            .expect("lock")
            .push(key.to_string());
    }

    /// The device keys written through this store that are still there.
    fn keys_left(&self) -> Vec<String> {
        let written = self.device_keys.lock().expect("lock").clone();
        written
            .into_iter()
            .filter(|k| self.store.inner().load(k.clone()).expect("load").is_some())
            .collect()
    }
}

/// The real transport, except that revocations fail as if the network dropped while
/// `drop_revocations` is set.
struct DroppingTransport {
    inner: ReqwestTransport,
    drop_revocations: AtomicBool,
    revocations: AtomicUsize,
}

#[async_trait]
impl HttpTransport for DroppingTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if request.url.ends_with("/v1/devices/revoke") {
            self.revocations.fetch_add(1, Ordering::SeqCst);
            if self.drop_revocations.load(Ordering::SeqCst) {
                return Err(TransportError::Unreachable {
                    reason: "connection reset (test)".into(),
                });
            }
        }
        self.inner.send(request).await
    }
}

struct FlakyPhone {
    auth: Authenticator,
    store: FlakyStore,
    http: Arc<DroppingTransport>,
}

fn flaky_phone(world: &World, name: &str) -> FlakyPhone {
    let store = FlakyStore::open(&world.dir.path().join(name));
    let http = Arc::new(DroppingTransport {
        inner: ReqwestTransport::new().expect("http"),
        drop_revocations: AtomicBool::new(false),
        revocations: AtomicUsize::new(0),
    });
    let verifier = Arc::new(ScriptedVerifier::new());
    verifier.set_standing_pin(Some(TEST_PIN));
    let platform = Platform {
        keys: Arc::new(SoftwareKeyVault::new(store.store.clone())),
        store: store.store.clone(),
        verifier,
        http: http.clone(),
        clock: Arc::new(ManualClock::now()),
    };
    let config = AuthenticatorConfig {
        server_url: world.url(),
        server_public_key: world.trust().server_key,
        trust_on_first_use: false,
        device_name: "flaky phone".into(),
        verification: VerificationMethod::Pin,
        pin_policy: PinPolicy::fast_for_tests(),
    };
    FlakyPhone {
        auth: Authenticator::new(config, platform).expect("authenticator"),
        store,
        http,
    }
}

/// What the portal's devices page does for `user`: `method` on `path` with the user's portal
/// token.
async fn portal(world: &World, user: &str, method: &str, path: &str) -> HttpResponse {
    let http = ReqwestTransport::new().expect("http");
    let sign_in = SignInRequest {
        username: user.into(),
        password: DEMO_PORTAL_PASSWORD.into(),
    };
    let reply = http
        .send(HttpRequest {
            method: "POST".into(),
            url: format!("{}/v1/portal/sign-in", world.url()),
            headers: vec![HttpHeader::new("content-type", "application/json")],
            body: serde_json::to_vec(&sign_in).expect("json"),
        })
        .await
        .expect("sign-in");
    let session: SignInResponse = serde_json::from_slice(&reply.body).expect("session");
    http.send(HttpRequest {
        method: method.into(),
        url: format!("{}{path}", world.url()),
        headers: vec![HttpHeader::new(
            "authorization",
            format!("Bearer {}", session.portal_token),
        )],
        body: Vec::new(),
    })
    .await
    .expect("portal request")
}

/// The active devices the portal lists for `user`.
async fn portal_devices(world: &World, user: &str) -> Vec<PortalDevice> {
    let reply = portal(world, user, "GET", "/v1/portal/devices").await;
    assert_eq!(reply.status, 200);
    serde_json::from_slice(&reply.body).expect("devices")
}

async fn activate(world: &World, phone: &FlakyPhone, user: &str) -> Result<(), ActivationError> {
    let ticket = world.ticket(user).await;
    match phone.auth.activate_from_qr(&ticket.qr_payload).await? {
        ActivationOutcome::Activated { account } => {
            assert_eq!(account.username, user);
            Ok(())
        }
        other => panic!("expected a fresh activation, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_account_save_revokes_the_credential_and_a_retry_activates() {
    let world = World::start().await;
    let phone = flaky_phone(&world, "phone");

    phone.store.fail_next_save("accounts");
    let err = activate(&world, &phone, "alice")
        .await
        .expect_err("the save fails");
    assert!(
        matches!(
            err,
            ActivationError::NotSaved {
                error: StoreError::WriteFailed { .. }
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "ACT_NOT_SAVED");
    let message = err.to_string();
    assert!(
        message.contains("nothing was enrolled") && message.contains("try again"),
        "{message}"
    );
    assert_eq!(phone.http.revocations.load(Ordering::SeqCst), 1);
    assert!(
        portal_devices(&world, "alice").await.is_empty(),
        "no active credential"
    );
    assert!(phone.store.keys_left().is_empty(), "the new key is deleted");
    assert!(phone.auth.accounts().expect("accounts").is_empty());

    // The store works again: a retry activates (not "already enrolled").
    activate(&world, &phone, "alice").await.expect("retry");
    let devices = portal_devices(&world, "alice").await;
    assert_eq!(devices.len(), 1);
    let account = phone.auth.account("alice").expect("store").expect("alice");
    assert_eq!(devices[0].credential_id, account.credential_id);
    assert_eq!(phone.store.keys_left().len(), 1);
}

#[tokio::test]
async fn a_failure_after_the_account_was_added_removes_it_again() {
    let world = World::start().await;
    let phone = flaky_phone(&world, "phone");
    activate(&world, &phone, "alice").await.expect("alice");

    // The device record fails after bob's account was added: bob is taken out again.
    phone.store.fail_next_save("device");
    let err = activate(&world, &phone, "bob")
        .await
        .expect_err("the save fails");
    assert_eq!(err.code(), "ACT_NOT_SAVED", "{err:?}");
    let names: Vec<String> = phone
        .auth
        .accounts()
        .expect("accounts")
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["alice"]);
    assert!(portal_devices(&world, "bob").await.is_empty());
    assert_eq!(phone.store.keys_left().len(), 1, "only alice's key");

    activate(&world, &phone, "bob").await.expect("retry");
    assert_eq!(portal_devices(&world, "bob").await.len(), 1);
    assert_eq!(phone.auth.accounts().expect("accounts").len(), 2);
}

#[tokio::test]
async fn when_the_revocation_cannot_reach_the_server_the_error_says_so() {
    let world = World::start().await;
    let phone = flaky_phone(&world, "phone");

    phone.store.fail_next_save("accounts");
    phone.http.drop_revocations.store(true, Ordering::SeqCst);
    let err = activate(&world, &phone, "alice")
        .await
        .expect_err("the save fails");
    let ActivationError::NotSavedServerKeepsDevice { error, reason } = &err else {
        panic!("expected the server to keep the device, got {err:?}");
    };
    assert!(matches!(error, StoreError::WriteFailed { .. }), "{error:?}");
    assert!(reason.contains("connection reset"), "{reason}");
    assert_eq!(err.code(), "ACT_NOT_SAVED_SERVER_KEEPS_DEVICE");
    let message = err.to_string();
    assert!(
        message.contains("could not be told") && message.contains("portal may list this device"),
        "{message}"
    );
    // The phone kept nothing; the server still lists the device.
    assert!(phone.store.keys_left().is_empty(), "the new key is deleted");
    assert!(phone.auth.accounts().expect("accounts").is_empty());
    let devices = portal_devices(&world, "alice").await;
    assert_eq!(devices.len(), 1);

    // Removed in the portal as the message says, a retry activates.
    phone.http.drop_revocations.store(false, Ordering::SeqCst);
    let path = format!("/v1/portal/devices/{}", devices[0].credential_id);
    assert_eq!(portal(&world, "alice", "DELETE", &path).await.status, 204);
    activate(&world, &phone, "alice").await.expect("retry");
    assert_eq!(portal_devices(&world, "alice").await.len(), 1);
}
