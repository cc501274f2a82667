//! Crash consistency: a phone app killed at any instant keeps every write it had committed.
//!
//! The writer (`src/bin/crash_writer.rs`) runs the real core over a real encrypted file store
//! against the real reference server on loopback, and loops over the operations that write
//! the store: enrolling users, approving logins (approval counters), wrong and right PINs
//! (the attempt counter) and removing users; it acknowledges each committed one on stdout.
//! This test SIGKILLs it after a random (seeded) delay, again and again, and after each kill
//! opens the store as the app would and checks: it opens, every acknowledged user is there
//! (unless acknowledged as removed), no approval counter is below the approvals acknowledged
//! or below what an earlier check read, and the wrong-PIN count is exactly what was
//! acknowledged (or what the one interrupted operation may have made of it). Each approval
//! is also checked by the server: a counter gone back would be refused as a cloned device.
//!
//! `IBKEY_CRASH_KILLS` (default 200) sets the number of kills, `IBKEY_CRASH_SEED` the seed,
//! `IBKEY_CRASH_MAX_DELAY_MS` (default 300) the longest delay before a kill. The long run:
//!
//! ```sh
//! IBKEY_CRASH_KILLS=5000 cargo test --release -p ibkey-e2e --test crash_consistency -- --nocapture
//! ```

// A test stops at the first surprise.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ibkey_core::gate::PinPolicy;
use ibkey_core::platform::{
    FileStore, Platform, ReqwestTransport, ScriptedVerifier, SecureStore, SoftwareKeyVault,
    SystemClock, VerificationMethod,
};
use ibkey_core::{Authenticator, AuthenticatorConfig};
use ibkey_e2e::World;
use ibkey_protocol::encoding::b64;

/// How long a writer may take to open its store before the test gives up on it.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the writer's last, unkilled run may take.
const FINAL_RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

/// splitmix64, for the delays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// A running writer and the lines it wrote so far.
struct Writer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Writer {
    fn start(world: &World, store: &Path, life: u64, seed: u64, ops: Option<u64>) -> Writer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crash_writer"));
        command
            .arg("--store")
            .arg(store)
            .args(["--server", &world.url()])
            .args(["--server-key", &b64(&world.server.public_key())])
            .args(["--prefix", "c"])
            .args(["--life", &life.to_string()])
            .args(["--seed", &seed.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(ops) = ops {
            command.args(["--ops", &ops.to_string()]);
        }
        let mut child = command.spawn().expect("the writer starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            // Only whole lines: one cut by the kill was never acknowledged.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Writer { child, lines }
    }

    /// Waits for `ready`; returns the lines read meanwhile.
    fn wait_ready(&mut self) -> Vec<String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "ready" => return seen,
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("the writer did not open its store in {READY_TIMEOUT:?}: {seen:?}")
                }
            }
        }
    }

    /// SIGKILLs the writer and returns every whole line it wrote.
    fn kill(mut self) -> Vec<String> {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        self.lines.iter().collect()
    }
}

/// What the acknowledgements promise about the store, and the operation under way.
#[derive(Default)]
struct Expected {
    /// Users acknowledged as enrolled and not acknowledged as removed.
    users: BTreeSet<String>,
    /// Approvals acknowledged per user.
    approvals: BTreeMap<String, u64>,
    /// The highest approval counter read so far per user.
    counters: BTreeMap<String, u64>,
    /// Wrong PINs in a row as acknowledged.
    wrong_pins: u32,
    /// The operation begun and not acknowledged: (op, user).
    in_flight: Option<(String, String)>,
    /// Acknowledged operations, all lives together.
    acks: u64,
}

impl Expected {
    /// Takes in the writer's lines, in order.
    fn read(&mut self, lines: &[String], seed: u64) {
        for line in lines {
            let mut words = line.splitn(3, ' ');
            let (kind, op, user) = (
                words.next().unwrap_or(""),
                words.next().unwrap_or("").to_string(),
                words.next().unwrap_or("").to_string(),
            );
            match kind {
                "begin" => self.in_flight = Some((op, user)),
                "ack" => {
                    self.acks += 1;
                    self.in_flight = None;
                    match op.as_str() {
                        "enroll" => {
                            self.users.insert(user);
                            self.wrong_pins = 0;
                        }
                        "approve" => {
                            *self.approvals.entry(user).or_default() += 1;
                            self.wrong_pins = 0;
                        }
                        "remove" => {
                            self.users.remove(&user);
                            self.wrong_pins = 0;
                        }
                        "approve-skipped" | "wait" => {}
                        "pin-wrong" => self.wrong_pins += 1,
                        "pin-right" => self.wrong_pins = 0,
                        other => panic!("unknown acknowledgement {other:?} in {line:?}"),
                    }
                }
                "fail" => panic!("the writer failed (seed {seed}): {line}"),
                _ => {}
            }
        }
    }

    /// Opens the store as the app would after the kill and holds it to the acknowledgements.
    fn check(&mut self, world: &World, store_dir: &Path, context: &str) {
        let store: Arc<dyn SecureStore> =
            Arc::new(FileStore::open(store_dir).expect("the store folder opens"));
        let auth = app_over(world, store.clone());
        let accounts = auth
            .accounts()
            .unwrap_or_else(|e| panic!("{context}: the accounts do not open: {e}"));
        let in_flight = self.in_flight.clone().unwrap_or_default();
        let present: BTreeSet<String> = accounts.iter().map(|a| a.username.clone()).collect();
        for user in &self.users {
            assert!(
                present.contains(user) || in_flight == ("remove".into(), user.clone()),
                "{context}: acknowledged user {user} lost (present: {present:?}, in flight: {in_flight:?})"
            );
        }
        for user in &present {
            assert!(
                self.users.contains(user) || in_flight == ("enroll".into(), user.clone()),
                "{context}: {user} present but never enrolled (in flight: {in_flight:?})"
            );
        }
        // What the interrupted operation did is now on disk, and must stay.
        match in_flight.0.as_str() {
            "enroll" if present.contains(&in_flight.1) => {
                self.users.insert(in_flight.1.clone());
            }
            "remove" if !present.contains(&in_flight.1) => {
                self.users.remove(&in_flight.1);
            }
            _ => {}
        }
        for account in &accounts {
            let key = format!("approval.{}", account.credential_id);
            let counter = guarded_json(&*store, &key)
                .and_then(|v| v["counter"].as_u64())
                .unwrap_or(0);
            let user = &account.username;
            let acked = self.approvals.get(user).copied().unwrap_or(0);
            let seen = self.counters.get(user).copied().unwrap_or(0);
            assert!(
                counter >= acked,
                "{context}: {user}'s approval counter {counter} is below the {acked} approvals acknowledged"
            );
            assert!(
                counter >= seen,
                "{context}: {user}'s approval counter went back from {seen} to {counter}"
            );
            self.counters.insert(user.clone(), counter);
        }
        let has_pin = auth
            .has_pin()
            .unwrap_or_else(|e| panic!("{context}: the PIN record does not open: {e}"));
        if has_pin {
            auth.pin_lockout()
                .unwrap_or_else(|e| panic!("{context}: the PIN lockout does not read: {e}"));
            let wrong = guarded_json(&*store, "gate")
                .and_then(|v| v["failed_attempts"].as_u64())
                .unwrap_or(0) as u32;
            let a = self.wrong_pins;
            let allowed: &[u32] = match in_flight.0.as_str() {
                "" => &[a],
                "pin-wrong" => &[a, a + 1],
                // Any operation that checks the PIN counts the attempt, then clears it.
                _ => &[a, a + 1, 0],
            };
            assert!(
                allowed.contains(&wrong),
                "{context}: {wrong} wrong PINs on record, {a} acknowledged (in flight: {in_flight:?})"
            );
            self.wrong_pins = wrong;
        }
        self.in_flight = None;
    }
}

/// The app over `store` (nothing here needs the network).
fn app_over(world: &World, store: Arc<dyn SecureStore>) -> Authenticator {
    let platform = Platform {
        keys: Arc::new(SoftwareKeyVault::new(store.clone())),
        store,
        verifier: Arc::new(ScriptedVerifier::new()),
        http: Arc::new(ReqwestTransport::new().expect("http")),
        clock: Arc::new(SystemClock),
    };
    let config = AuthenticatorConfig {
        server_url: world.url(),
        server_public_key: Some(b64(&world.server.public_key())),
        trust_on_first_use: false,
        device_name: "crash check".into(),
        verification: VerificationMethod::Pin,
        pin_policy: PinPolicy::fast_for_tests(),
    };
    Authenticator::new(config, platform).expect("authenticator")
}

/// The JSON of guarded record `key`, without its `IBG1` and generation header.
fn guarded_json(store: &dyn SecureStore, key: &str) -> Option<serde_json::Value> {
    let bytes = store.load(key.to_string()).expect("a record reads")?;
    assert!(bytes.starts_with(b"IBG1"), "{key} is not a guarded record");
    Some(serde_json::from_slice(&bytes[12..]).expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_at_random_instants_loses_nothing_it_acknowledged() {
    let kills = env_u64("IBKEY_CRASH_KILLS", 200);
    let seed = env_u64("IBKEY_CRASH_SEED", 0x1b_4e7);
    let max_delay_ms = env_u64("IBKEY_CRASH_MAX_DELAY_MS", 300);
    let world = World::start().await;
    let store_dir = world.dir.path().join("phone");
    let started = Instant::now();
    let (world, expected) = tokio::task::spawn_blocking(move || {
        let mut rng = Rng(seed);
        let mut expected = Expected::default();
        for life in 0..kills {
            let mut writer = Writer::start(&world, &store_dir, life, seed ^ life, None);
            let before = writer.wait_ready();
            std::thread::sleep(Duration::from_millis(rng.below(max_delay_ms + 1)));
            let mut lines = before;
            lines.extend(writer.kill());
            expected.read(&lines, seed);
            expected.check(
                &world,
                &store_dir,
                &format!("after kill {life} (seed {seed})"),
            );
        }
        // A last run, not killed: everything still works, and the server accepts every
        // counter (a counter gone back would be refused as a cloned device).
        let mut writer = Writer::start(&world, &store_dir, kills, seed ^ kills, Some(25));
        let mut lines = writer.wait_ready();
        let deadline = Instant::now() + FINAL_RUN_TIMEOUT;
        while let Ok(line) = writer
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            lines.push(line);
        }
        let status = writer.child.wait().expect("reaped");
        expected.read(&lines, seed);
        assert!(
            status.success() && lines.last().map(String::as_str) == Some("done"),
            "the last run did not finish: {status}, {lines:?}"
        );
        expected.check(&world, &store_dir, "after the last run");
        (world, expected)
    })
    .await
    .expect("the kill loop");
    println!(
        "{kills} kills (seed {seed}, delays up to {max_delay_ms} ms): {} operations acknowledged, \
         {} users on the phone, approvals acknowledged {}, in {:.1} s; nothing lost",
        expected.acks,
        expected.users.len(),
        expected.approvals.values().sum::<u64>(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        expected.acks >= kills / 2,
        "too few operations completed to mean anything: {}",
        expected.acks
    );
    drop(world);
}
