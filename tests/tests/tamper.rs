//! Tampering with the phone's files: a thief or malware that can write the app's files (but
//! not the platform's key store) deletes or rewinds the records that guard the accounts, or
//! runs two copies of the app on one store to get parallel PIN guesses counted once. Real
//! server on loopback, real encrypted store files, copied and deleted as an attacker would.

#![allow(clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ibkey_core::gate::{Gate, GateError, PinPolicy, MAX_WRONG_PINS};
use ibkey_core::platform::{
    FileStore, HookedStore, PinPurpose, ScriptedVerifier, StoreOp, VerificationMethod,
};
use ibkey_core::ErrorCode;
use ibkey_e2e::{ManualClock, Phone, World, TEST_PIN};
use ibkey_server::portal_client::PendingLogin;
use ibkey_server::DEMO_PORTAL_PASSWORD;

/// The file holding the store value `key` (keys used here need no escaping).
fn value_file(phone: &Phone, key: &str) -> PathBuf {
    phone.store_dir.join(format!("{key}.ibks"))
}

/// The one approval record file in the phone's store.
fn approval_file(phone: &Phone) -> PathBuf {
    fs::read_dir(&phone.store_dir)
        .expect("store folder")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("approval."))
        })
        .expect("an approval record")
}

fn snapshot(path: &Path) -> Vec<u8> {
    fs::read(path).expect("snapshot")
}

fn put_back(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).expect("put back");
}

fn is_tampered(code: &str) -> bool {
    code == "STORE_TAMPERED"
}

/// Makes the user enter `n` wrong PINs at the removal prompt (a flow anyone holding the phone
/// can start), then cancel.
async fn enter_wrong_pins(phone: &Phone, n: usize) {
    for _ in 0..n {
        phone.user.push_pin("1357");
    }
    phone.user.push_pin_cancel();
    let result = phone.auth.remove_account("alice").await;
    assert!(result.is_err(), "a wrong PIN removed the account");
}

async fn approve_one_login(world: &World, phone: &Phone) -> Result<(), String> {
    let login = PendingLogin::start(&world.url(), "alice", DEMO_PORTAL_PASSWORD, None)
        .await
        .expect("a started login");
    let pending = phone
        .auth
        .pending_logins()
        .await
        .map_err(|e| e.code().to_string())?;
    let challenge = pending.first().expect("a pending login");
    phone
        .auth
        .approve(challenge, Some(login.started().number))
        .await
        .map(|_| ())
        .map_err(|e| e.code().to_string())
}

#[tokio::test]
async fn a_deleted_pin_record_locks_the_accounts_instead_of_offering_a_new_pin() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    fs::remove_file(value_file(&phone, "gate")).expect("delete the PIN record");
    let phone = phone.restart();
    let asked_before = phone.user.pin_requests().len();

    // The thief tries to add an account of their own, which would let them choose a PIN.
    phone.user.set_standing_pin(Some("2846"));
    let ticket = world.ticket("bob").await;
    let err = phone
        .auth
        .activate_from_qr(&ticket.qr_payload)
        .await
        .expect_err("activation on a store without its PIN record");
    assert!(is_tampered(err.code()), "{err:?}");
    let err = approve_one_login(&world, &phone)
        .await
        .expect_err("approval without the PIN record");
    assert!(is_tampered(&err), "{err}");
    assert_eq!(
        phone.auth.has_pin().map_err(|e| e.code()),
        Err("STORE_TAMPERED")
    );
    let created = phone.user.pin_requests()[asked_before..]
        .iter()
        .any(|r| r.purpose == PinPurpose::Create);
    assert!(!created, "the thief was offered a new PIN");
}

#[tokio::test]
async fn a_reset_after_tampering_revokes_forgets_and_lets_the_user_activate_again() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    fs::remove_file(value_file(&phone, "gate")).expect("delete the PIN record");
    let phone = phone.restart();
    assert!(phone.auth.has_pin().is_err());

    assert_eq!(phone.auth.reset().await.expect("reset"), ["alice"]);
    assert!(phone.auth.accounts().expect("accounts").is_empty());
    assert_eq!(phone.auth.has_pin(), Ok(false));
    // The old credential is revoked on the server: the portal shows no device for alice.
    let portal = ibkey_server::portal_client::PortalClient::sign_in(
        &world.url(),
        "alice",
        DEMO_PORTAL_PASSWORD,
    )
    .await
    .expect("portal sign-in");
    assert!(portal.devices().await.expect("devices").is_empty());

    // A fresh activation works and asks for a new PIN.
    world.enroll(&phone, &["alice"]).await;
    assert!(phone
        .user
        .pin_requests()
        .iter()
        .any(|r| r.purpose == PinPurpose::Create));
    assert_eq!(phone.auth.accounts().expect("accounts").len(), 1);
}

#[tokio::test]
async fn an_older_pin_record_put_back_does_not_reset_the_wrong_pin_count() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let gate_file = value_file(&phone, "gate");
    let clean = snapshot(&gate_file);

    enter_wrong_pins(&phone, 4).await;
    put_back(&gate_file, &clean);
    let phone = phone.restart();

    let err = phone.auth.pin_lockout().expect_err("a rewound PIN record");
    assert!(is_tampered(err.code()), "{err:?}");
    phone.user.set_standing_pin(Some(TEST_PIN));
    let err = phone
        .auth
        .remove_account("alice")
        .await
        .expect_err("the right PIN on a rewound record");
    assert!(is_tampered(err.code()), "{err:?}");
    assert_eq!(
        phone.auth.accounts().expect("accounts").len(),
        1,
        "nothing deleted"
    );
}

#[tokio::test]
async fn an_older_approval_record_put_back_is_refused() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let record = approval_file(&phone);
    let before = snapshot(&record);

    approve_one_login(&world, &phone)
        .await
        .expect("the first approval");
    put_back(&record, &before);
    let err = approve_one_login(&world, &phone)
        .await
        .expect_err("an approval on a rewound counter");
    assert!(is_tampered(&err), "{err}");
}

#[tokio::test]
async fn an_older_device_record_put_back_is_refused() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let device = value_file(&phone, "device");
    let before = snapshot(&device);

    world.enroll(&phone, &["bob"]).await;
    put_back(&device, &before);
    let err = phone
        .auth
        .clock_offset_secs()
        .expect_err("a rewound device record");
    assert!(is_tampered(err.code()), "{err:?}");

    // Deleting it instead is refused too.
    fs::remove_file(&device).expect("delete");
    let err = phone
        .auth
        .clock_offset_secs()
        .expect_err("a deleted device record");
    assert!(is_tampered(err.code()), "{err:?}");
}

#[tokio::test]
async fn deleting_the_whole_guard_record_is_refused() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    fs::remove_file(value_file(&phone, "guard")).expect("delete the manifest");
    let err = phone
        .auth
        .has_pin()
        .expect_err("a store without its manifest");
    assert!(is_tampered(err.code()), "{err:?}");
}

#[tokio::test]
async fn a_hundred_wrong_pins_in_a_row_disable_the_accounts() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let asked_before = phone.user.pin_requests().len();

    let mut last = None;
    for _ in 0..200 {
        for _ in 0..MAX_WRONG_PINS {
            phone.user.push_pin("1357");
        }
        let err = phone
            .auth
            .remove_account("alice")
            .await
            .expect_err("a wrong PIN");
        // Skip whatever delay the last wrong PIN started (on the boot clock; the wall clock
        // stays right, so the server still accepts the phone's time).
        let delay = Duration::from_secs(5 * 60 * 60);
        phone.clock.advance(delay);
        phone.clock.shift_wall(-(delay.as_millis() as i64));
        let code = err.code();
        last = Some(code);
        if code != "GATE_LOCKED_OUT" {
            break;
        }
    }
    assert_eq!(last, Some("GATE_ATTEMPTS_EXHAUSTED"));
    let entered = phone.user.pin_requests().len() - asked_before;
    assert_eq!(
        entered, MAX_WRONG_PINS as usize,
        "PINs compared before the cap"
    );

    // The right PIN no longer helps, after any wait.
    phone.user.set_standing_pin(Some(TEST_PIN));
    let err = approve_one_login(&world, &phone)
        .await
        .expect_err("approval when disabled");
    assert_eq!(err, "GATE_ATTEMPTS_EXHAUSTED");
    phone.clock.advance(Duration::from_secs(30 * 24 * 60 * 60));
    let err = phone
        .auth
        .remove_account("alice")
        .await
        .expect_err("disabled");
    assert_eq!(err.code(), "GATE_ATTEMPTS_EXHAUSTED");
}

/// A file store whose reads of the PIN record wait (up to a bound) until another reader
/// arrives: two gates that read the record without excluding each other both read it before
/// either writes, which is the race that let parallel wrong PINs count once.
fn rendezvous_store(dir: &Path, arrived: Arc<AtomicUsize>) -> HookedStore {
    let inner = Arc::new(FileStore::open(dir).expect("store"));
    HookedStore::new(inner, move |op| {
        if op == StoreOp::Load("gate") {
            arrived.fetch_add(1, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_millis(300);
            while arrived.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    })
}

#[tokio::test]
async fn parallel_wrong_pins_from_two_apps_on_one_store_all_count() {
    let world = World::start().await;
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let arrived = Arc::new(AtomicUsize::new(0));
    // Two gates over the same folder through separate store objects: what two processes (an
    // app and its extension, or two copies of the CLI) see.
    let gate = |arrived: &Arc<AtomicUsize>| {
        Gate::new(
            Arc::new(rendezvous_store(&phone.store_dir, arrived.clone())),
            Arc::new(ManualClock::now()),
            Arc::new(ScriptedVerifier::new()),
            VerificationMethod::Pin,
            PinPolicy::fast_for_tests(),
        )
    };
    let (first, second) = (gate(&arrived), gate(&arrived));
    let guesses = std::thread::scope(|s| {
        let a = s.spawn(|| first.verify_pin(b"1357"));
        let b = s.spawn(|| second.verify_pin(b"9146"));
        [a.join().expect("thread"), b.join().expect("thread")]
    });
    for guess in guesses {
        assert!(
            matches!(guess, Err(GateError::WrongPin { .. })),
            "{guess:?}"
        );
    }
    // Both counted: a third wrong PIN is the third in a row, two before the first delay.
    arrived.store(2, Ordering::SeqCst);
    assert_eq!(
        first.verify_pin(b"2468"),
        Err(GateError::WrongPin {
            tries_before_delay: 2
        })
    );
}
