//! Gate tests: a settable clock, a scripted verifier and a real `FileStore` in a temp dir.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;
use crate::error::ErrorCode;
use crate::platform::{FileStore, HookedStore, StoreOp, VerifierError};

const WALL0: i64 = 1_750_000_000_000;
const UPTIME0: u64 = 3_600_000;

struct TestClock {
    wall: AtomicI64,
    uptime: AtomicU64,
}

impl TestClock {
    fn new() -> Arc<Self> {
        Arc::new(TestClock {
            wall: AtomicI64::new(WALL0),
            uptime: AtomicU64::new(UPTIME0),
        })
    }
    fn advance_uptime_secs(&self, secs: u64) {
        self.uptime.fetch_add(secs * 1000, Ordering::SeqCst);
    }
    fn shift_wall_secs(&self, secs: i64) {
        self.wall.fetch_add(secs * 1000, Ordering::SeqCst);
    }
    fn set_uptime_ms(&self, ms: u64) {
        self.uptime.store(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_unix_ms(&self) -> i64 {
        self.wall.load(Ordering::SeqCst)
    }
    fn uptime_ms(&self) -> u64 {
        self.uptime.load(Ordering::SeqCst)
    }
}

/// Answers prompts from queues (an empty queue answers "cancelled") and records them.
#[derive(Default)]
struct Script {
    pins: Mutex<VecDeque<PinEntry>>,
    biometrics: Mutex<VecDeque<BiometricOutcome>>,
    pin_requests: Mutex<Vec<PinRequest>>,
    biometric_reasons: Mutex<Vec<String>>,
}

impl Script {
    fn pins(&self, pins: &[&str]) {
        let mut queue = self.pins.lock().expect("lock");
        for pin in pins {
            queue.push_back(PinEntry::Entered {
                pin: pin.as_bytes().to_vec(),
            });
        }
    }
    fn cancel(&self) {
        self.pins
            .lock()
            .expect("lock")
            .push_back(PinEntry::Cancelled);
    }
    fn biometric(&self, outcome: BiometricOutcome) {
        self.biometrics.lock().expect("lock").push_back(outcome);
    }
    fn requests(&self) -> Vec<PinRequest> {
        self.pin_requests.lock().expect("lock").clone()
    }
    fn request_count(&self) -> usize {
        self.pin_requests.lock().expect("lock").len()
    }
}

#[async_trait]
impl UserVerifier for Script {
    async fn request_pin(&self, request: PinRequest) -> Result<PinEntry, VerifierError> {
        self.pin_requests.lock().expect("lock").push(request);
        Ok(self
            .pins
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(PinEntry::Cancelled))
    }
    async fn verify_biometric(&self, reason: String) -> Result<BiometricOutcome, VerifierError> {
        self.biometric_reasons.lock().expect("lock").push(reason);
        Ok(self
            .biometrics
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(BiometricOutcome::Cancelled))
    }
}

/// What a recording store saw and is told: the attempt counter of every saved gate record,
/// and, once `failing`, how many more saves to let through before failing every save.
#[derive(Default)]
struct Recording {
    saved_counts: Mutex<Vec<u32>>,
    fail_after: AtomicUsize,
    failing: AtomicBool,
}

impl Recording {
    /// `inner` behind a hook that records into, and fails as told by, the returned log.
    fn over(inner: Arc<dyn SecureStore>) -> (Arc<Recording>, Arc<dyn SecureStore>) {
        let log = Arc::new(Recording::default());
        let seen = log.clone();
        let store = HookedStore::new(inner, move |op| {
            let StoreOp::Save(key, value) = op else {
                return Ok(());
            };
            if seen.failing.load(Ordering::SeqCst) {
                let left = seen.fail_after.load(Ordering::SeqCst);
                if left == 0 {
                    return Err(StoreError::WriteFailed {
                        reason: "disk full".into(),
                    });
                }
                seen.fail_after.store(left - 1, Ordering::SeqCst);
            }
            if key == RECORD_KEY {
                // A guarded record: `IBG1`, the 8-byte generation, then the JSON.
                let record: GateRecord = serde_json::from_slice(&value[12..]).expect("record");
                seen.saved_counts
                    .lock()
                    .expect("lock")
                    .push(record.failed_attempts);
            }
            Ok(())
        });
        (log, Arc::new(store))
    }
    /// From now on, let `n` saves through, then fail every save.
    fn fail_saves_after(&self, n: usize) {
        self.fail_after.store(n, Ordering::SeqCst);
        self.failing.store(true, Ordering::SeqCst);
    }
    fn saved_counts(&self) -> Vec<u32> {
        self.saved_counts.lock().expect("lock").clone()
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<dyn SecureStore>,
    clock: Arc<TestClock>,
    script: Arc<Script>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(FileStore::open(dir.path()).expect("open"));
        Fixture {
            dir,
            store,
            clock: TestClock::new(),
            script: Arc::new(Script::default()),
        }
    }

    fn gate(&self, method: VerificationMethod) -> Gate {
        Gate::new(
            self.store.clone(),
            self.clock.clone(),
            self.script.clone(),
            method,
            PinPolicy::fast_for_tests(),
        )
    }

    /// A gate on a freshly reopened store: what an app restart sees.
    fn restarted_gate(&self) -> Gate {
        let store = Arc::new(FileStore::open(self.dir.path()).expect("reopen"));
        Gate::new(
            store,
            self.clock.clone(),
            self.script.clone(),
            VerificationMethod::Pin,
            PinPolicy::fast_for_tests(),
        )
    }

    /// A PIN gate with `pin` set.
    fn gate_with_pin(&self, pin: &str) -> Gate {
        let gate = self.gate(VerificationMethod::Pin);
        let hash = PinHash::create(
            &Pin::new(pin.as_bytes().to_vec()),
            &PinPolicy::fast_for_tests(),
        )
        .expect("hash");
        gate.commit(Verification {
            method: VerificationMethod::Pin,
            new_pin: Some(hash),
        })
        .expect("commit");
        gate
    }

    fn record(&self) -> GateRecord {
        let bytes = self
            .store
            .load(RECORD_KEY.into())
            .expect("load")
            .expect("record exists");
        // A guarded record: `IBG1`, the 8-byte generation, then the JSON.
        serde_json::from_slice(&bytes[12..]).expect("parse")
    }
}

fn wrong(tries: u32) -> Result<(), GateError> {
    Err(GateError::WrongPin {
        tries_before_delay: tries,
    })
}

fn locked_secs(result: Result<(), GateError>) -> u64 {
    match result {
        Err(GateError::LockedOut { remaining_secs, .. }) => remaining_secs,
        other => panic!("expected LockedOut, got {other:?}"),
    }
}

/// Five wrong PINs: the fifth starts the 30 s delay.
fn five_wrong(gate: &Gate) {
    for tries in [4, 3, 2, 1] {
        assert_eq!(gate.verify_pin(b"9999"), wrong(tries));
    }
    assert_eq!(locked_secs(gate.verify_pin(b"9999")), 30);
}

#[test]
fn pin_rules() {
    let policy = PinPolicy::default();
    let accepted = [
        "2846",
        "5190",
        "82615",
        "739104",
        "271828182845",
        "2408",
        "1470",
    ];
    for pin in accepted {
        assert_eq!(policy.check(pin), Ok(()), "{pin}");
    }
    let refused = [
        ("", "4 to 12 digits"),
        ("284", "4 to 12 digits"),
        ("2718281828459", "4 to 12 digits"),
        ("28a6", "digits (0-9) only"),
        ("28 6", "digits (0-9) only"),
        ("２８４６", "digits (0-9) only"),
        ("-284", "digits (0-9) only"),
        ("1111", "one repeated digit"),
        ("000000", "one repeated digit"),
        ("1234", "consecutive digits"),
        ("4321", "consecutive digits"),
        ("0123", "consecutive digits"),
        ("98765", "consecutive digits"),
        ("7890", "consecutive digits"),
        ("123456789012", "consecutive digits"),
        ("1212", "repeats a short pattern"),
        ("121212", "repeats a short pattern"),
        ("123123", "repeats a short pattern"),
        ("28462846", "repeats a short pattern"),
        ("1004", "most commonly used"),
        ("2000", "most commonly used"),
        ("6969", "repeats a short pattern"),
        ("5683", "most commonly used"),
        ("1122", "most commonly used"),
        ("2580", "most commonly used"),
        ("112233", "most commonly used"),
        ("159753", "most commonly used"),
        ("147258", "most commonly used"),
        ("789456", "most commonly used"),
    ];
    for (pin, words) in refused {
        match policy.check(pin) {
            Err(e @ GateError::PinTooWeak { .. }) => {
                assert!(e.to_string().contains(words), "{pin}: {e}");
                assert!(e.to_string().ends_with("Please choose a different PIN."));
                assert_eq!(e.code(), "GATE_PIN_TOO_WEAK");
            }
            other => panic!("{pin}: expected PinTooWeak, got {other:?}"),
        }
    }
    let six = PinPolicy {
        min_len: 6,
        max_len: 6,
        ..PinPolicy::default()
    };
    let gate_like = six.check("2846");
    assert!(
        matches!(&gate_like, Err(GateError::PinTooWeak { reason }) if reason.contains("exactly 6 digits")),
        "{gate_like:?}"
    );
}

#[tokio::test]
async fn create_pin_then_commit_then_confirm() {
    let fx = Fixture::new();
    let gate = fx.gate(VerificationMethod::Pin);
    assert!(!gate.has_pin().expect("has_pin"));
    assert_eq!(
        gate.check_pin_rules("1234").map_err(|e| e.code()),
        Err("GATE_PIN_TOO_WEAK")
    );

    fx.script.pins(&["1234", "28a6", "2846"]);
    let verification = gate.verify_user("Activate alice").await.expect("verified");
    assert!(verification.creates_pin());
    assert_eq!(verification.method(), VerificationMethod::Pin);
    let shown = format!("{verification:?}");
    assert_eq!(shown, "Verification { method: Pin, creates_pin: true }");

    let requests = fx.script.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.purpose == PinPurpose::Create));
    assert_eq!(requests[0].retry_reason, None);
    let reason1 = requests[1].retry_reason.clone().expect("reason");
    assert!(reason1.contains("consecutive"), "{reason1}");
    let reason2 = requests[2].retry_reason.clone().expect("reason");
    assert!(reason2.contains("digits (0-9) only"), "{reason2}");

    // Not saved until committed.
    assert!(!gate.has_pin().expect("has_pin"));
    assert!(fx.store.load(RECORD_KEY.into()).expect("load").is_none());
    gate.commit(verification).expect("commit");
    assert!(gate.has_pin().expect("has_pin"));
    let stored = fx
        .store
        .load(RECORD_KEY.into())
        .expect("load")
        .expect("record");
    assert!(!String::from_utf8_lossy(&stored).contains("2846"));
    assert!(fx.record().pin.expect("pin").iterations() >= 1_000);

    // Now it asks to confirm, and a wrong PIN is asked again with the tries left.
    fx.script.pins(&["1357", "2846"]);
    let verification = gate.verify_user("Approve login").await.expect("verified");
    assert!(!verification.creates_pin());
    let requests = fx.script.requests();
    assert_eq!(requests.len(), 5);
    assert_eq!(
        requests[3],
        PinRequest {
            purpose: PinPurpose::Confirm,
            retry_reason: None
        }
    );
    assert_eq!(
        requests[4].retry_reason.as_deref(),
        Some("Wrong PIN. 4 tries left before a delay.")
    );
    gate.commit(verification)
        .expect("commit without new PIN is a no-op");
    assert_eq!(fx.record().failed_attempts, 0);

    assert_eq!(gate.verify_pin(b"2846"), Ok(()));
    assert_eq!(gate.verify_pin(b"2847"), wrong(4));
    assert_eq!(gate.verify_pin(b"2847"), wrong(3));
    assert_eq!(gate.verify_pin(b"2846"), Ok(()));
    assert_eq!(fx.record().failed_attempts, 0);
    assert_eq!(fx.record().last_failure, None);
}

#[tokio::test]
async fn an_uncommitted_pin_is_forgotten() {
    let fx = Fixture::new();
    let gate = fx.gate(VerificationMethod::Pin);
    fx.script.pins(&["2846"]);
    let verification = gate.verify_user("Activate alice").await.expect("verified");
    drop(verification); // the activation failed
    assert!(!gate.has_pin().expect("has_pin"));
    assert_eq!(gate.verify_pin(b"2846"), Err(GateError::PinNotSet));
    // The next activation asks to create a PIN again.
    fx.script.pins(&["5190"]);
    let verification = gate.verify_user("Activate alice").await.expect("verified");
    assert!(verification.creates_pin());
    assert_eq!(fx.script.requests()[1].purpose, PinPurpose::Create);
}

#[tokio::test]
async fn too_many_weak_pins_give_up() {
    let fx = Fixture::new();
    let gate = fx.gate(VerificationMethod::Pin);
    fx.script.pins(&["1111", "1234", "1212", "12"]);
    let result = gate.verify_user("Activate").await;
    match result {
        Err(GateError::PinTooWeak { reason }) => assert!(reason.contains("4 to 12"), "{reason}"),
        other => panic!("expected PinTooWeak, got {other:?}"),
    }
    assert_eq!(fx.script.request_count(), 4);
    assert!(!gate.has_pin().expect("has_pin"));
}

#[tokio::test]
async fn cancelling_changes_nothing() {
    let fx = Fixture::new();
    let gate = fx.gate(VerificationMethod::Pin);
    fx.script.cancel();
    assert_eq!(
        gate.verify_user("Activate").await.map(|_| ()),
        Err(GateError::Cancelled)
    );
    assert!(!gate.has_pin().expect("has_pin"));

    let gate = fx.gate_with_pin("2846");
    fx.script.pins(&["1357"]);
    fx.script.cancel();
    assert_eq!(
        gate.verify_user("Approve").await.map(|_| ()),
        Err(GateError::Cancelled)
    );
    // Only the wrong PIN counted; the cancel did not.
    assert_eq!(fx.record().failed_attempts, 1);
    assert_eq!(GateError::Cancelled.code(), "GATE_CANCELLED");
}

#[test]
fn lockout_after_five_wrong_pins_runs_on_the_boot_clock() {
    let fx = Fixture::new();
    let gate = fx.gate_with_pin("2846");
    five_wrong(&gate);

    // The right PIN is refused while locked, and is not even counted.
    assert_eq!(locked_secs(gate.verify_pin(b"2846")), 30);
    assert_eq!(fx.record().failed_attempts, 5);
    let lockout = gate.lockout().expect("lockout").expect("locked");
    assert_eq!(lockout.remaining_secs, 30);
    assert_eq!(lockout.until_unix_ms, WALL0 + 30_000);
    match gate.verify_pin(b"2846") {
        Err(e @ GateError::LockedOut { .. }) => {
            assert_eq!(
                e.to_string(),
                "Too many wrong PINs. Try again in 30 seconds."
            );
            assert_eq!(e.code(), "GATE_LOCKED_OUT");
        }
        other => panic!("{other:?}"),
    }

    fx.clock.advance_uptime_secs(29);
    assert_eq!(locked_secs(gate.verify_pin(b"2846")), 1);
    fx.clock.advance_uptime_secs(1);
    assert_eq!(gate.lockout().expect("lockout"), None);
    assert_eq!(gate.verify_pin(b"2846"), Ok(()));
    assert_eq!(fx.record().failed_attempts, 0);
}

#[test]
fn delays_grow_with_each_wrong_pin_after_the_fifth() {
    let fx = Fixture::new();
    let gate = fx.gate_with_pin("2846");
    five_wrong(&gate);
    for expected in [60, 300, 900, 3600, 14400, 14400] {
        let current = gate
            .lockout()
            .expect("lockout")
            .expect("locked")
            .remaining_secs;
        fx.clock.advance_uptime_secs(current);
        assert_eq!(locked_secs(gate.verify_pin(b"9999")), expected);
    }
    match gate.verify_pin(b"2846") {
        Err(e) => assert_eq!(e.to_string(), "Too many wrong PINs. Try again in 4 hours."),
        Ok(()) => panic!("accepted while locked"),
    }
}

#[test]
fn changing_the_wall_clock_does_not_shorten_the_delay() {
    let fx = Fixture::new();
    let gate = fx.gate_with_pin("2846");
    five_wrong(&gate);
    fx.clock.advance_uptime_secs(10);

    fx.clock.shift_wall_secs(24 * 3600);
    let lockout = gate.lockout().expect("lockout").expect("locked");
    assert_eq!(lockout.remaining_secs, 20);
    assert_eq!(
        lockout.until_unix_ms,
        WALL0 + 24 * 3600 * 1000 + 10_000 + 20_000 - 10_000
    );
    assert_eq!(locked_secs(gate.verify_pin(b"2846")), 20);

    fx.clock.shift_wall_secs(-48 * 3600);
    assert_eq!(locked_secs(gate.verify_pin(b"2846")), 20);

    fx.clock.advance_uptime_secs(20);
    assert_eq!(gate.verify_pin(b"2846"), Ok(()));
}

#[test]
fn a_restart_keeps_the_count_and_the_delay() {
    let fx = Fixture::new();
    let gate = fx.gate_with_pin("2846");
    assert_eq!(gate.verify_pin(b"9999"), wrong(4));
    assert_eq!(gate.verify_pin(b"9999"), wrong(3));
    drop(gate);
    let gate = fx.restarted_gate();
    assert!(gate.has_pin().expect("has_pin"));
    assert_eq!(gate.verify_pin(b"9999"), wrong(2));
    assert_eq!(gate.verify_pin(b"9999"), wrong(1));
    assert_eq!(locked_secs(gate.verify_pin(b"9999")), 30);
    drop(gate);

    fx.clock.advance_uptime_secs(5);
    let gate = fx.restarted_gate();
    assert_eq!(locked_secs(gate.verify_pin(b"2846")), 25);
    fx.clock.advance_uptime_secs(25);
    assert_eq!(gate.verify_pin(b"2846"), Ok(()));
}

#[test]
fn a_reboot_restarts_the_delay() {
    let fx = Fixture::new();
    let gate = fx.gate_with_pin("2846");
    five_wrong(&gate);
    fx.clock.advance_uptime_secs(20);
    assert_eq!(locked_secs(gate.verify_pin(b"2846")), 10);

    // Reboot: the boot clock starts again near zero.
    fx.clock.set_uptime_ms(4_000);
    let gate = fx.restarted_gate();
    assert_eq!(locked_secs(gate.verify_pin(b"2846")), 30);
    let last = fx.record().last_failure.expect("last failure");
    assert_eq!(last.uptime_ms, 4_000);
    assert_eq!(fx.record().failed_attempts, 5);

    fx.clock.advance_uptime_secs(29);
    assert_eq!(
        gate.lockout().expect("lockout").map(|l| l.remaining_secs),
        Some(1)
    );
    fx.clock.advance_uptime_secs(1);
    assert_eq!(gate.verify_pin(b"2846"), Ok(()));
}

#[tokio::test]
async fn verify_user_stops_at_a_lockout_and_then_does_not_ask() {
    let fx = Fixture::new();
    let gate = fx.gate_with_pin("2846");
    fx.script
        .pins(&["0001", "0002", "0003", "0004", "0005", "2846"]);
    let result = gate.verify_user("Approve").await.map(|_| ());
    assert!(
        matches!(
            result,
            Err(GateError::LockedOut {
                remaining_secs: 30,
                ..
            })
        ),
        "{result:?}"
    );
    let requests = fx.script.requests();
    assert_eq!(requests.len(), 5);
    assert_eq!(
        requests[4].retry_reason.as_deref(),
        Some("Wrong PIN. 1 try left before a delay.")
    );

    // While locked: refused without a prompt.
    let result = gate.verify_user("Approve").await.map(|_| ());
    assert!(
        matches!(result, Err(GateError::LockedOut { .. })),
        "{result:?}"
    );
    assert_eq!(fx.script.request_count(), 5);

    fx.clock.advance_uptime_secs(30);
    gate.verify_user("Approve")
        .await
        .expect("verified after the delay");
    assert_eq!(fx.script.request_count(), 6);
}

#[test]
fn the_attempt_is_saved_before_the_pin_is_compared() {
    let fx = Fixture::new();
    let (recording, store) = Recording::over(fx.store.clone());
    let gate = Gate::new(
        store,
        fx.clock.clone(),
        fx.script.clone(),
        VerificationMethod::Pin,
        PinPolicy::fast_for_tests(),
    );
    let hash =
        PinHash::create(&Pin::new("2846".into()), &PinPolicy::fast_for_tests()).expect("hash");
    gate.commit(Verification {
        method: VerificationMethod::Pin,
        new_pin: Some(hash),
    })
    .expect("commit");

    // A right PIN: counted (1) before the comparison, then reset (0).
    assert_eq!(gate.verify_pin(b"2846"), Ok(()));
    assert_eq!(recording.saved_counts(), [0, 1, 0]);

    // If the attempt cannot be saved, nothing is compared and the PIN is not accepted.
    recording.fail_saves_after(0);
    assert!(matches!(
        gate.verify_pin(b"2846"),
        Err(GateError::Store {
            error: StoreError::WriteFailed { .. }
        })
    ));

    // A process killed after counting (here: the reset fails) has still used the attempt.
    // Each guarded write saves the manifest, then the record: the count takes two saves, the
    // reset's manifest a third, and the reset's record fails.
    recording.fail_saves_after(3);
    assert!(gate.verify_pin(b"2846").is_err());
    assert_eq!(fx.record().failed_attempts, 1);
    assert_eq!(recording.saved_counts(), [0, 1, 0, 1]);
}

#[test]
fn a_damaged_record_is_reported_and_kept() {
    let fx = Fixture::new();
    fx.store
        .save(RECORD_KEY.into(), b"{not json".to_vec())
        .expect("save");
    let gate = fx.gate(VerificationMethod::Pin);
    let corrupt = GateError::Store {
        error: StoreError::Corrupt {
            key: RECORD_KEY.into(),
        },
    };
    assert_eq!(gate.has_pin(), Err(corrupt.clone()));
    assert_eq!(gate.verify_pin(b"2846"), Err(corrupt.clone()));
    assert_eq!(corrupt.code(), "STORE_CORRUPT");
    assert_eq!(
        fx.store.load(RECORD_KEY.into()).expect("load"),
        Some(b"{not json".to_vec())
    );
}

#[tokio::test]
async fn biometric_outcomes_map_to_errors() {
    let fx = Fixture::new();
    let gate = fx.gate(VerificationMethod::Biometric);
    assert_eq!(gate.method(), VerificationMethod::Biometric);
    let cases = [
        (BiometricOutcome::Cancelled, Err(GateError::Cancelled)),
        (
            BiometricOutcome::Failed,
            Err(GateError::BiometricNotRecognised),
        ),
        (
            BiometricOutcome::Unavailable,
            Err(GateError::BiometricUnavailable),
        ),
        (
            BiometricOutcome::LockedOut,
            Err(GateError::BiometricLockedOut),
        ),
        (
            BiometricOutcome::KeysInvalidated,
            Err(GateError::KeysInvalidated),
        ),
        (
            BiometricOutcome::Verified,
            Ok(VerificationMethod::Biometric),
        ),
    ];
    for (outcome, expected) in cases {
        fx.script.biometric(outcome);
        let got = gate.verify_user("Approve login for alice").await;
        assert_eq!(
            got.as_ref().map(|v| v.method()),
            expected.as_ref().map(|m| *m)
        );
        if let Ok(v) = got {
            assert!(!v.creates_pin());
            gate.commit(v).expect("commit");
        }
    }
    assert_eq!(
        *fx.script.biometric_reasons.lock().expect("lock"),
        vec!["Approve login for alice".to_string(); 6]
    );
    // No PIN prompt, no PIN record.
    assert_eq!(fx.script.request_count(), 0);
    assert!(!gate.has_pin().expect("has_pin"));
}

#[test]
fn verify_user_can_run_on_any_thread() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_sync<T: Send + Sync>() {}
    assert_sync::<Gate>();
    let fx = Fixture::new();
    let gate = fx.gate(VerificationMethod::Pin);
    let future = gate.verify_user("x");
    assert_send(&future);
}
