//! Offline code tests without a server: a real `FileStore` in a temp dir, a secret saved the
//! way activation saves it, a settable clock and a network that is down (and never asked).

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::*;
use crate::device::{AuthenticatorConfig, Device};
use crate::gate::PinPolicy;
use crate::guarded::GuardedStore;
use crate::platform::{
    FileStore, Platform, ScriptedVerifier, SoftwareKeyVault, VerificationMethod,
};
use crate::test_support::{Offline, TestClock};
use crate::Account;
use ibkey_protocol::offline;

const NOW: i64 = 1_800_000_010;
const SECRET: [u8; offline::SECRET_LEN] = [0x5a; offline::SECRET_LEN];

struct World {
    _dir: tempfile::TempDir,
    clock: Arc<TestClock>,
    http: Arc<Offline>,
    user: Arc<ScriptedVerifier>,
    device: Device,
}

impl World {
    /// A device with alice (offline codes) and bob (activated without them).
    fn new() -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(FileStore::open(dir.path()).expect("store"));
        let clock = Arc::new(TestClock(AtomicI64::new(NOW)));
        let http = Arc::new(Offline::default());
        let user = Arc::new(ScriptedVerifier::always_pin("4829"));
        let platform = Platform {
            keys: Arc::new(SoftwareKeyVault::new(store.clone())),
            store,
            verifier: user.clone(),
            http: http.clone(),
            clock: clock.clone(),
        };
        let config = AuthenticatorConfig {
            server_url: "http://127.0.0.1:9".into(),
            server_public_key: None,
            trust_on_first_use: false,
            device_name: "test".into(),
            verification: VerificationMethod::Pin,
            pin_policy: PinPolicy::fast_for_tests(),
        };
        let device = Device::new(config, platform).expect("device");
        for (username, codes) in [("alice", true), ("bob", false)] {
            let credential_id = format!("cred-{username}");
            if codes {
                device
                    .book
                    .save_codes_secret(&credential_id, &SECRET)
                    .expect("secret");
            }
            let added = device
                .book
                .add(Account {
                    username: username.into(),
                    server_url: "http://127.0.0.1:9".into(),
                    credential_id,
                    key_alias: format!("account-{username}"),
                    enrolled_at: NOW,
                })
                .expect("store");
            assert!(added.is_ok());
        }
        World {
            _dir: dir,
            clock,
            http,
            user,
            device,
        }
    }

    fn asked(&self) -> usize {
        self.user.pin_requests().len()
    }
}

/// A valid challenge: five digits and their check digit.
fn challenge() -> String {
    (0..10)
        .map(|d| format!("12345{d}"))
        .find(|c| offline::parse_challenge(c).is_ok())
        .expect("one check digit fits")
}

#[tokio::test]
async fn a_typed_challenge_gets_the_servers_response_after_the_pin_without_the_network() {
    let world = World::new();
    let challenge = challenge();
    let typed = offline::grouped_challenge(&challenge);
    let shown = world
        .device
        .respond("alice", &typed)
        .await
        .expect("response");
    assert_eq!(shown.username, "alice");
    assert_eq!(
        shown.response,
        offline::response(&SECRET, "alice", &challenge)
    );
    assert_eq!(shown.response.len(), offline::RESPONSE_DIGITS);
    assert_eq!(world.asked(), 1, "the PIN was asked");
    assert!(world.device.gate.has_pin().expect("gate"), "and committed");
    assert_eq!(world.http.0.load(Ordering::SeqCst), 0, "no network call");
    let debug = format!("{shown:?}");
    assert!(debug.contains("alice") && !debug.contains(&shown.response));
}

#[tokio::test]
async fn a_mistyped_challenge_is_caught_before_the_pin() {
    let world = World::new();
    let challenge = challenge();
    let mut typo = challenge.clone().into_bytes();
    typo.swap(0, 1);
    let typo = String::from_utf8(typo).expect("ascii");
    assert_eq!(
        world.device.respond("alice", &typo).await,
        Err(CodesError::ChallengeMistyped)
    );
    assert_eq!(
        world.device.respond("alice", "123 45").await,
        Err(CodesError::ChallengeWrongLength { found: 5 })
    );
    assert_eq!(
        world.device.respond("alice", "12345O").await,
        Err(CodesError::ChallengeNotDigits)
    );
    assert_eq!(world.asked(), 0, "no PIN asked for a typo");
}

#[tokio::test]
async fn unknown_users_and_accounts_without_codes_say_so_before_anything_else() {
    let world = World::new();
    assert_eq!(
        world.device.respond("mallory", &challenge()).await,
        Err(CodesError::UnknownAccount {
            username: "mallory".into()
        })
    );
    assert_eq!(
        world.device.time_code("mallory").await,
        Err(CodesError::UnknownAccount {
            username: "mallory".into()
        })
    );
    let unavailable = CodesError::Unavailable {
        username: "bob".into(),
    };
    assert_eq!(
        world.device.respond("bob", "x").await,
        Err(unavailable.clone())
    );
    assert_eq!(world.device.time_code("bob").await, Err(unavailable));
    assert_eq!(world.asked(), 0);
}

#[tokio::test]
async fn a_cancelled_pin_shows_nothing() {
    let world = World::new();
    world.user.set_standing_pin(None);
    world.user.push_pin_cancel();
    let err = world
        .device
        .time_code("alice")
        .await
        .expect_err("cancelled");
    assert_eq!(err.code(), "GATE_CANCELLED");
}

#[tokio::test]
async fn time_codes_run_on_the_servers_time_when_the_offset_is_known() {
    let world = World::new();
    // No offset learned yet: the device clock.
    assert_eq!(world.device.clock_offset_secs(), Ok(None));
    let code = world.device.time_code("alice").await.expect("code");
    assert_eq!(code.code, offline::time_code(&SECRET, NOW as u64));
    assert_eq!(code.period, 30);
    assert_eq!(code.seconds_left, 30 - (NOW % 30) as u32);
    let debug = format!("{code:?}");
    assert!(!debug.contains(&code.code), "{debug}");

    // The phone is two days ahead; the server's signed time was learned.
    let two_days = 2 * 86_400;
    world.clock.0.store(NOW + two_days, Ordering::SeqCst);
    world.device.learn_server_time(NOW).expect("learn");
    assert_eq!(world.device.clock_offset_secs(), Ok(Some(two_days)));
    let code = world.device.time_code("alice").await.expect("code");
    assert_eq!(code.code, offline::time_code(&SECRET, NOW as u64));
    assert_eq!(code.seconds_left, 30 - (NOW % 30) as u32);

    // Five minutes behind.
    world.clock.0.store(NOW - 300, Ordering::SeqCst);
    world.device.learn_server_time(NOW).expect("learn");
    assert_eq!(world.device.clock_offset_secs(), Ok(Some(-300)));
    let code = world.device.time_code("alice").await.expect("code");
    assert_eq!(code.code, offline::time_code(&SECRET, NOW as u64));
    assert_eq!(world.http.0.load(Ordering::SeqCst), 0, "no network call");
}

#[tokio::test]
async fn a_damaged_secret_is_a_corrupt_record_not_a_wrong_code() {
    let world = World::new();
    GuardedStore::new(world.device.platform.store.clone())
        .lock()
        .and_then(|mut locked| {
            locked.save(
                "approval.cred-alice",
                br#"{"version":1,"codes":{"secret":"not base64!"}}"#,
            )
        })
        .expect("save");
    let err = world.device.time_code("alice").await.expect_err("corrupt");
    assert_eq!(err.code(), "STORE_CORRUPT");
}

#[test]
fn every_error_has_its_own_code_and_a_message_saying_what_to_do() {
    let errors = [
        CodesError::UnknownAccount {
            username: "alice".into(),
        },
        CodesError::Unavailable {
            username: "alice".into(),
        },
        CodesError::ChallengeMistyped,
        CodesError::ChallengeWrongLength { found: 5 },
        CodesError::ChallengeNotDigits,
        CodesError::Verification {
            error: crate::gate::GateError::Cancelled,
        },
        CodesError::Store {
            error: crate::platform::StoreError::Corrupt { key: "k".into() },
        },
    ];
    let codes: HashSet<&str> = errors.iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), errors.len(), "codes are unique");
    for e in &errors {
        let code = e.code();
        assert!(
            code.starts_with("COD_") || code.starts_with("GATE_") || code.starts_with("STORE_"),
            "{code}"
        );
        let message = e.to_string();
        assert!(
            message.len() > 20 && message.ends_with('.'),
            "{code}: {message}"
        );
    }
    assert!(CodesError::ChallengeMistyped
        .to_string()
        .contains("Check the six digits against the login page"));
}
