//! A load generator for the reference server, run as a process of its own on loopback
//! (`bench/load.sh` starts the server, runs this, and stops the server).
//!
//! Phase 1 activates `--phones` simulated phones, one user each (portal sign-in, ticket, QR
//! activation: the real core, keys and signatures, a cheap PIN hash and an in-memory store so
//! that the phones cost little next to the server). Phase 2 runs `--logins` logins with
//! approval: the login page starts the login, the user's phone pulls it, approves it with the
//! number and a signed decision, and the login page reads it approved. Both phases run at
//! `--concurrency` requests in flight and stop at `--max-seconds` at the latest; each reports
//! operations per second, p50 and p99 latency, and errors. The exit status is 1 when any
//! operation failed.
//!
//! ```text
//! load --server http://127.0.0.1:8790 --server-key KEY [--phones 64] [--logins 2000]
//!      [--concurrency 16] [--max-seconds 60]
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ibkey_core::activation::ActivationOutcome;
use ibkey_core::gate::PinPolicy;
use ibkey_core::platform::{
    HttpTransport, MemoryStore, Platform, ReqwestTransport, ScriptedVerifier, SecureStore,
    SoftwareKeyVault, SystemClock, VerificationMethod,
};
use ibkey_core::{Authenticator, AuthenticatorConfig};
use ibkey_e2e::{log_in_with_approval, TEST_PIN};
use ibkey_server::portal_client::PortalClient;
use ibkey_server::DEMO_PORTAL_PASSWORD;

/// The command line.
#[derive(Clone)]
struct Args {
    server: String,
    server_key: String,
    phones: u64,
    logins: u64,
    concurrency: u64,
    max_seconds: u64,
}

fn usage() -> &'static str {
    "usage: load --server URL --server-key KEY [--phones N] [--logins N] [--concurrency N] \
     [--max-seconds N]"
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        server: String::new(),
        server_key: String::new(),
        phones: 64,
        logins: 2000,
        concurrency: 16,
        max_seconds: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {}", usage()))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} takes a whole number above 0, not {v:?}"))
        };
        match flag.as_str() {
            "--server" => args.server = value,
            "--server-key" => args.server_key = value.trim().to_string(),
            "--phones" => args.phones = number(&value)?,
            "--logins" => args.logins = number(&value)?,
            "--concurrency" => args.concurrency = number(&value)?,
            "--max-seconds" => args.max_seconds = number(&value)?,
            other => return Err(format!("unknown option {other}; {}", usage())),
        }
    }
    if args.server.is_empty() || args.server_key.is_empty() {
        return Err(format!(
            "--server and --server-key are required; {}",
            usage()
        ));
    }
    let host_is_loopback = args
        .server
        .strip_prefix("http://")
        .is_some_and(|rest| rest.starts_with("127.") || rest.starts_with("localhost"));
    if !host_is_loopback {
        return Err(format!(
            "{} is not a loopback http:// URL: this generator only loads a server on this machine",
            args.server
        ));
    }
    Ok(args)
}

/// One simulated phone and its user.
struct SimPhone {
    user: String,
    auth: Authenticator,
}

/// Latencies and errors of one phase.
#[derive(Default)]
struct Tally {
    latencies: Mutex<Vec<Duration>>,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Tally {
    fn record(&self, started: Instant, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self
                .latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(started.elapsed()),
            Err(message) => {
                self.errors.fetch_add(1, Ordering::SeqCst);
                self.first_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(message);
            }
        }
    }

    /// Prints the phase's figures; returns its error count.
    fn report(&self, phase: &str, elapsed: Duration) -> u64 {
        let mut latencies = self
            .latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        latencies.sort();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
            latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let errors = self.errors.load(Ordering::SeqCst);
        println!(
            "{phase}: {} in {:.2} s = {:.1}/s, p50 {:.1} ms, p99 {:.1} ms, errors {errors}",
            latencies.len(),
            elapsed.as_secs_f64(),
            latencies.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            at(0.50),
            at(0.99),
        );
        if let Some(first) = &*self.first_error.lock().unwrap_or_else(|e| e.into_inner()) {
            println!("{phase}: first error: {first}");
        }
        errors
    }
}

fn phone(args: &Args, http: Arc<dyn HttpTransport>, user: String) -> Result<SimPhone, String> {
    let store: Arc<dyn SecureStore> = Arc::new(MemoryStore::new());
    let verifier = Arc::new(ScriptedVerifier::new());
    verifier.set_standing_pin(Some(TEST_PIN));
    let platform = Platform {
        keys: Arc::new(SoftwareKeyVault::new(store.clone())),
        store,
        verifier,
        http,
        clock: Arc::new(SystemClock),
    };
    let config = AuthenticatorConfig {
        server_url: args.server.clone(),
        server_public_key: Some(args.server_key.clone()),
        trust_on_first_use: false,
        device_name: format!("load phone {user}"),
        verification: VerificationMethod::Pin,
        // The server is measured, not the phones: PIN hashing turned down.
        pin_policy: PinPolicy {
            hash_target_ms: 0,
            min_iterations: 1,
            ..PinPolicy::default()
        },
    };
    let auth = Authenticator::new(config, platform).map_err(|e| e.to_string())?;
    Ok(SimPhone { user, auth })
}

async fn activate(args: &Args, phone: &SimPhone) -> Result<(), String> {
    let ticket = PortalClient::sign_in(&args.server, &phone.user, DEMO_PORTAL_PASSWORD)
        .await
        .map_err(|e| format!("sign-in of {}: {e}", phone.user))?
        .new_ticket()
        .await
        .map_err(|e| format!("ticket of {}: {e}", phone.user))?;
    match phone.auth.activate_from_qr(&ticket.qr_payload).await {
        Ok(ActivationOutcome::Activated { .. }) => Ok(()),
        other => Err(format!("activation of {}: {other:?}", phone.user)),
    }
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("load: {message}");
            std::process::exit(64);
        }
    };
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let http: Arc<dyn HttpTransport> = match ReqwestTransport::new() {
        Ok(http) => Arc::new(http),
        Err(e) => {
            eprintln!("load: no HTTP client: {e}");
            std::process::exit(1);
        }
    };
    // Users unique to this run, so a server with older data takes them as new.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut phones = Vec::new();
    for i in 0..args.phones {
        match phone(&args, http.clone(), format!("load{run}-{i}")) {
            Ok(p) => phones.push(Arc::new(p)),
            Err(e) => {
                eprintln!("load: a phone could not be set up: {e}");
                std::process::exit(1);
            }
        }
    }
    let workers = args.concurrency.min(args.phones) as usize;
    println!(
        "{} phones, {} logins, {workers} in flight, at most {} s, against {}",
        args.phones, args.logins, args.max_seconds, args.server
    );

    // Phase 1: activations, `workers` at a time; each worker takes every workers-th phone.
    let activations = Arc::new(Tally::default());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (args, tally) = (args.clone(), activations.clone());
        let mine: Vec<_> = phones.iter().skip(w).step_by(workers).cloned().collect();
        tasks.push(tokio::spawn(async move {
            for phone in mine {
                if Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                tally.record(t, activate(&args, &phone).await);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let mut errors = activations.report("activation", started.elapsed());

    // Phase 2: logins with approval; a phone has one login at a time (its worker's).
    let logins = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (args, tally, next) = (args.clone(), logins.clone(), next.clone());
        let mine: Vec<_> = phones.iter().skip(w).step_by(workers).cloned().collect();
        tasks.push(tokio::spawn(async move {
            for phone in mine.iter().cycle() {
                if Instant::now() >= deadline || next.fetch_add(1, Ordering::SeqCst) >= args.logins
                {
                    break;
                }
                let t = Instant::now();
                tally.record(
                    t,
                    log_in_with_approval(&args.server, &phone.auth, &phone.user).await,
                );
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    errors += logins.report("login-with-approval", started.elapsed());
    if Instant::now() >= deadline {
        println!("stopped at the {} s limit", args.max_seconds);
    }
    if errors > 0 {
        std::process::exit(1);
    }
}
