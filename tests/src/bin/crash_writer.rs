//! A phone app that does nothing but write: the child process of the crash-consistency and
//! multi-process concurrency tests (`tests/crash_consistency.rs`, `tests/concurrency.rs`).
//!
//! It opens the real encrypted file store in `--store` with the real core over it, talks to
//! the reference server at `--server` over loopback, and loops over the operations that write
//! the store: enrolling a user (portal sign-in, ticket, QR activation), approving a login
//! (login started on the login page, pulled by the phone, approved with the number and the
//! PIN: the approval counter goes up), a wrong PIN (the attempt counter goes up), the right
//! PIN (it goes back to 0), and removing a user (revoked on the server, then forgotten).
//!
//! On stdout it writes one line before each operation, `begin <op> <user>`, and one after the
//! operation was committed, `ack <op> <user>`: the parent holds the store to every `ack` it
//! read, whenever it kills this process. `ready` comes once the store is open, `fail <op>
//! <message>` (exit status 2) when an operation fails in a way a healthy store and server
//! never would, `done` when `--ops` operations ran.
//!
//! ```text
//! crash_writer --store DIR --server URL --server-key KEY --prefix c [--life N] [--seed N]
//!              [--ops N] [--no-wrong-pins]
//! ```
//!
//! The users it enrolls are called `<prefix><life>n<i>` (`--life`: a number the parent makes
//! different for each run on one store), and it only touches users whose names start with
//! `--prefix`, so several writers can share a store.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ibkey_core::activation::ActivationOutcome;
use ibkey_core::gate::{Gate, GateError, PinPolicy};
use ibkey_core::platform::{
    Clock, FileStore, Platform, ReqwestTransport, ScriptedVerifier, SecureStore, SoftwareKeyVault,
    SystemClock, VerificationMethod,
};
use ibkey_core::{ApprovalError, Authenticator, AuthenticatorConfig};
use ibkey_e2e::TEST_PIN;
use ibkey_server::portal_client::{PendingLogin, PortalClient, PortalError};
use ibkey_server::DEMO_PORTAL_PASSWORD;

/// A PIN that is not [`TEST_PIN`].
const WRONG_PIN: &[u8] = b"9173";
/// Wrong PINs in a row this writer enters at most (the fifth would start a delay).
const MAX_WRONG_IN_A_ROW: u32 = 3;
/// Accounts of this writer beyond which it removes rather than enrolls.
const MAX_ACCOUNTS: usize = 4;

/// The command line.
struct Args {
    store: PathBuf,
    server: String,
    server_key: String,
    prefix: String,
    life: u64,
    seed: u64,
    ops: Option<u64>,
    wrong_pins: bool,
}

fn usage() -> String {
    "usage: crash_writer --store DIR --server URL --server-key KEY --prefix NAME \
     [--life N] [--seed N] [--ops N] [--no-wrong-pins]"
        .to_string()
}

fn parse_args() -> Result<Args, String> {
    let mut store = None;
    let mut server = None;
    let mut server_key = None;
    let mut prefix = None;
    let mut life = 0;
    let mut seed = 1;
    let mut ops = None;
    let mut wrong_pins = true;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-wrong-pins" {
            wrong_pins = false;
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {}", usage()))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} takes a whole number, not {v:?}"))
        };
        match flag.as_str() {
            "--store" => store = Some(PathBuf::from(value)),
            "--server" => server = Some(value),
            "--server-key" => server_key = Some(value),
            "--prefix" => prefix = Some(value),
            "--life" => life = number(&value)?,
            "--seed" => seed = number(&value)?,
            "--ops" => ops = Some(number(&value)?),
            other => return Err(format!("unknown option {other}; {}", usage())),
        }
    }
    let missing = |what: &str| format!("{what} is required; {}", usage());
    Ok(Args {
        store: store.ok_or_else(|| missing("--store"))?,
        server: server.ok_or_else(|| missing("--server"))?,
        server_key: server_key.ok_or_else(|| missing("--server-key"))?,
        prefix: prefix.ok_or_else(|| missing("--prefix"))?,
        life,
        seed,
        ops,
        wrong_pins,
    })
}

/// splitmix64: a small seeded generator, so a failing run can be replayed with its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The system clock whose boot clock the writer moves forward past a PIN delay, as a user
/// would wait it out. A kill in the middle of a PIN check counts that attempt (by design), so
/// kills add wrong PINs that only a right PIN clears, and five start a delay.
#[derive(Default)]
struct WaitingClock {
    waited_ms: AtomicU64,
}

impl Clock for WaitingClock {
    fn now_unix_ms(&self) -> i64 {
        // Wall time stays real: the server's challenges are checked against it.
        SystemClock.now_unix_ms()
    }

    fn uptime_ms(&self) -> u64 {
        SystemClock.uptime_ms() + self.waited_ms.load(Ordering::SeqCst)
    }
}

/// Writes one protocol line and flushes it, so the parent reads it even if this process is
/// killed right after.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A parent that stopped reading has killed us or is about to: nothing to do then.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The writer's world: the authenticator and a second gate over the same store (as an app
/// extension in its own process would have).
struct Writer {
    auth: Authenticator,
    gate: Gate,
    args: Args,
    clock: Arc<WaitingClock>,
    rng: Rng,
    enrolled: u64,
    wrong_in_a_row: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("crash_writer: {message}");
            std::process::exit(64);
        }
    };
    let mut writer = match Writer::open(args) {
        Ok(writer) => writer,
        Err(message) => {
            say(&format!("fail open {message}"));
            std::process::exit(2);
        }
    };
    say("ready");
    if let Err(message) = writer.run().await {
        say(&format!("fail {message}"));
        std::process::exit(2);
    }
    say("done");
}

impl Writer {
    fn open(args: Args) -> Result<Writer, String> {
        let store: Arc<dyn SecureStore> = Arc::new(
            FileStore::open(&args.store).map_err(|e| format!("the store does not open: {e}"))?,
        );
        let verifier = Arc::new(ScriptedVerifier::new());
        verifier.set_standing_pin(Some(TEST_PIN));
        let clock = Arc::new(WaitingClock::default());
        let policy = PinPolicy::fast_for_tests();
        let platform = Platform {
            keys: Arc::new(SoftwareKeyVault::new(store.clone())),
            store: store.clone(),
            verifier: verifier.clone(),
            http: Arc::new(ReqwestTransport::new().map_err(|e| format!("no HTTP client: {e}"))?),
            clock: clock.clone(),
        };
        let config = AuthenticatorConfig {
            server_url: args.server.clone(),
            server_public_key: Some(args.server_key.clone()),
            trust_on_first_use: false,
            device_name: "crash writer".to_string(),
            verification: VerificationMethod::Pin,
            pin_policy: policy.clone(),
        };
        let auth = Authenticator::new(config, platform).map_err(|e| e.to_string())?;
        let gate = Gate::new(
            store,
            clock.clone(),
            verifier,
            VerificationMethod::Pin,
            policy,
        );
        let rng = Rng(args.seed);
        Ok(Writer {
            auth,
            gate,
            args,
            clock,
            rng,
            enrolled: 0,
            wrong_in_a_row: MAX_WRONG_IN_A_ROW,
        })
    }

    /// Runs operations until `--ops` ran (or forever, until killed).
    async fn run(&mut self) -> Result<(), String> {
        let mut done = 0;
        while self.args.ops.is_none_or(|ops| done < ops) {
            self.step().await?;
            done += 1;
        }
        Ok(())
    }

    /// The users of this writer on the device.
    fn mine(&self) -> Result<Vec<String>, String> {
        let accounts = self
            .auth
            .accounts()
            .map_err(|e| format!("list the accounts failed: {e}"))?;
        Ok(accounts
            .into_iter()
            .map(|a| a.username)
            .filter(|u| u.starts_with(&self.args.prefix))
            .collect())
    }

    /// One operation, chosen at random among those that make sense now.
    async fn step(&mut self) -> Result<(), String> {
        let mine = self.mine()?;
        let has_pin = self
            .gate
            .has_pin()
            .map_err(|e| format!("read the PIN record failed: {e}"))?;
        if has_pin {
            self.wait_out_lockout()?;
        }
        // After a restart the last wrong PIN may or may not have counted: the right one first.
        if has_pin && self.args.wrong_pins && self.wrong_in_a_row >= MAX_WRONG_IN_A_ROW {
            return self.right_pin().await;
        }
        let roll = self.rng.below(100);
        if mine.is_empty() || (roll < 25 && mine.len() < MAX_ACCOUNTS) {
            return self.enroll().await;
        }
        let user = mine[self.rng.below(mine.len() as u64) as usize].clone();
        match roll {
            0..=54 => self.approve(&user).await,
            55..=79 if self.args.wrong_pins => self.wrong_pin().await,
            55..=79 => self.approve(&user).await,
            80..=87 if self.args.wrong_pins => self.right_pin().await,
            _ if mine.len() >= 2 || roll >= 95 => self.remove(&user).await,
            _ => self.approve(&user).await,
        }
    }

    async fn enroll(&mut self) -> Result<(), String> {
        let user = format!("{}{}n{}", self.args.prefix, self.args.life, self.enrolled);
        self.enrolled += 1;
        say(&format!("begin enroll {user}"));
        let ticket = PortalClient::sign_in(&self.args.server, &user, DEMO_PORTAL_PASSWORD)
            .await
            .map_err(|e| format!("enroll portal sign-in of {user} failed: {e}"))?
            .new_ticket()
            .await
            .map_err(|e| format!("enroll ticket of {user} failed: {e}"))?;
        match self.auth.activate_from_qr(&ticket.qr_payload).await {
            Ok(ActivationOutcome::Activated { .. }) => {}
            other => return Err(format!("enroll {user}: {other:?}")),
        }
        self.wrong_in_a_row = 0;
        say(&format!("ack enroll {user}"));
        Ok(())
    }

    async fn approve(&mut self, user: &str) -> Result<(), String> {
        say(&format!("begin approve {user}"));
        // Logins of this writer's users that a killed run left open are refused first (each
        // is a signed decision too); other writers' logins on a shared store are theirs.
        let open = match self.auth.pending_logins().await {
            Ok(open) => open,
            // A removal killed after the server revoked the credential: finish it.
            Err(ApprovalError::Revoked { username }) if username.starts_with(&self.args.prefix) => {
                say(&format!("ack approve-skipped {user}"));
                return self.remove(&username).await;
            }
            Err(e) => return Err(format!("approve pull of stale logins failed: {e}")),
        };
        for stale in open
            .iter()
            .filter(|c| c.username.starts_with(&self.args.prefix))
        {
            self.auth
                .deny(stale, false)
                .await
                .map_err(|e| format!("approve deny of a stale login failed: {e}"))?;
        }
        let login =
            match PendingLogin::start(&self.args.server, user, DEMO_PORTAL_PASSWORD, None).await {
                Ok(login) => login,
                Err(PortalError::Refused { code, .. }) if code == "no_devices" => {
                    // A removal killed after the server revoked the user's only credential.
                    say(&format!("ack approve-skipped {user}"));
                    return self.remove(user).await;
                }
                Err(e) => return Err(format!("approve login of {user} failed to start: {e}")),
            };
        if login.started().devices_notified == 0 {
            // A removal killed after the server revoked the credential: finish it.
            say(&format!("ack approve-skipped {user}"));
            return self.remove(user).await;
        }
        let pending = self
            .auth
            .pending_logins()
            .await
            .map_err(|e| format!("approve pull failed: {e}"))?;
        let ours: Vec<_> = pending.iter().filter(|c| c.username == user).collect();
        let challenge = match ours.as_slice() {
            [one] => *one,
            other => return Err(format!("approve expected one login of {user}: {other:?}")),
        };
        self.auth
            .approve(challenge, Some(login.started().number))
            .await
            .map_err(|e| format!("approve of {user} refused: {e}"))?;
        self.wrong_in_a_row = 0;
        say(&format!("ack approve {user}"));
        Ok(())
    }

    /// Waits out a running PIN delay (by moving the boot clock).
    fn wait_out_lockout(&mut self) -> Result<(), String> {
        let lockout = self
            .gate
            .lockout()
            .map_err(|e| format!("wait: the PIN lockout does not read: {e}"))?;
        if let Some(lockout) = lockout {
            say("begin wait -");
            self.clock
                .waited_ms
                .fetch_add(lockout.remaining_secs * 1000, Ordering::SeqCst);
            say("ack wait -");
        }
        Ok(())
    }

    async fn wrong_pin(&mut self) -> Result<(), String> {
        say("begin pin-wrong -");
        match self.gate.verify_pin(WRONG_PIN) {
            // Attempts that interrupted checks counted may make this one start a delay.
            Err(GateError::WrongPin { .. } | GateError::LockedOut { .. }) => {}
            other => return Err(format!("pin-wrong: {other:?}")),
        }
        self.wrong_in_a_row += 1;
        say("ack pin-wrong -");
        Ok(())
    }

    async fn right_pin(&mut self) -> Result<(), String> {
        say("begin pin-right -");
        self.gate
            .verify_pin(TEST_PIN.as_bytes())
            .map_err(|e| format!("pin-right refused: {e}"))?;
        self.wrong_in_a_row = 0;
        say("ack pin-right -");
        Ok(())
    }

    async fn remove(&mut self, user: &str) -> Result<(), String> {
        say(&format!("begin remove {user}"));
        self.auth
            .remove_account(user)
            .await
            .map_err(|e| format!("remove of {user} failed: {e}"))?;
        self.wrong_in_a_row = 0;
        say(&format!("ack remove {user}"));
        Ok(())
    }
}
