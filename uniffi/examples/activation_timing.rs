//! Prints how long one activation takes in Rust: the core called directly (no FFI), with its
//! desktop HTTP client, against the reference server on loopback. The Kotlin figure for the
//! same journey comes from `tests/kotlin` (`TimingTest`); together they show what the bindings
//! cost. A measurement, not a test:
//!
//! ```text
//! cargo run -p ibkey-ffi --release --example activation_timing
//! ```
//!
//! Same set-up as the Kotlin side: an in-memory store, software keys, a PIN hash target of
//! 5 ms, five warm-up activations (the first chooses the PIN), then 20 activations by session
//! ID, each confirmed with the PIN.
//!
//! The server runs in this process unless `IBKEY_CLI` names an `ibkey` binary: then it runs
//! that binary's `server` as a separate process, as the Kotlin test does (build both sides
//! against the same, release, binary to compare them).

use std::error::Error;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ibkey_core::gate::PinPolicy;
use ibkey_core::platform::{
    HttpRequest, HttpTransport, MemoryStore, Platform, ReqwestTransport, ScriptedVerifier,
    SoftwareKeyVault, SystemClock, VerificationMethod,
};
use ibkey_core::{ActivationOutcome, Authenticator, AuthenticatorConfig};
use ibkey_server::portal_client::PortalClient;
use ibkey_server::ServerConfig;

const ROUNDS: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let (url, _in_process, _subprocess) = match std::env::var_os("IBKEY_CLI") {
        Some(cli) => {
            let (url, child) = spawn_server(&cli, dir.path()).await?;
            (url, None, Some(KillOnDrop(child)))
        }
        None => {
            let config = ServerConfig {
                data_dir: dir.path().join("server"),
                ..ServerConfig::default()
            };
            let any_port: SocketAddr = ([127, 0, 0, 1], 0).into();
            let server = ibkey_server::start(config, any_port).await?;
            (server.url(), Some(server), None)
        }
    };

    // The key the app would ship: what the server publishes in its data folder.
    let server_key = std::fs::read_to_string(
        dir.path()
            .join("server")
            .join(ibkey_server::PUBLIC_KEY_FILE),
    )?;
    let store = Arc::new(MemoryStore::new());
    let platform = Platform {
        keys: Arc::new(SoftwareKeyVault::new(store.clone())),
        store,
        verifier: Arc::new(ScriptedVerifier::always_pin("4829")),
        http: Arc::new(ReqwestTransport::new()?),
        clock: Arc::new(SystemClock),
    };
    let phone = Authenticator::new(
        AuthenticatorConfig {
            server_url: url.clone(),
            server_public_key: Some(server_key.trim().to_string()),
            trust_on_first_use: false,
            device_name: "timing".into(),
            verification: VerificationMethod::Pin,
            pin_policy: PinPolicy {
                hash_target_ms: 5,
                ..PinPolicy::default()
            },
        },
        platform,
    )?;

    let ticket = |user: String| {
        let url = url.clone();
        async move {
            PortalClient::sign_in(&url, &user, ibkey_server::DEMO_PORTAL_PASSWORD)
                .await?
                .new_ticket()
                .await
        }
    };
    for round in 0..5 {
        let warmup = ticket(format!("warmup-{round}")).await?;
        phone.activate_with_session_id(&warmup.session_id).await?;
    }

    let mut tickets = Vec::new();
    for round in 0..ROUNDS {
        tickets.push(ticket(format!("timed-{round}")).await?);
    }
    let mut millis = Vec::new();
    for t in &tickets {
        let start = Instant::now();
        let outcome = phone.activate_with_session_id(&t.session_id).await?;
        millis.push(start.elapsed().as_secs_f64() * 1e3);
        if !matches!(outcome, ActivationOutcome::Activated { .. }) {
            return Err(format!("unexpected outcome {outcome:?}").into());
        }
    }
    millis.sort_by(f64::total_cmp);
    println!(
        "TIMING rust activation by session ID (PIN confirm, {ROUNDS} rounds): median {:.1} ms, \
         min {:.1} ms, max {:.1} ms",
        millis[ROUNDS / 2],
        millis[0],
        millis[ROUNDS - 1]
    );
    Ok(())
}

/// Ends the server process when the measurement ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cli server` on a free loopback port and waits until it answers `/healthz`.
async fn spawn_server(
    cli: &std::ffi::OsStr,
    data_dir: &std::path::Path,
) -> Result<(String, Child), Box<dyn Error>> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new(cli)
        .args([
            "server",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    let http = ReqwestTransport::new()?;
    for _ in 0..600 {
        let probe = HttpRequest {
            method: "GET".into(),
            url: format!("{url}/healthz"),
            headers: Vec::new(),
            body: Vec::new(),
        };
        if matches!(http.send(probe).await, Ok(reply) if reply.status == 200) {
            return Ok((url, child));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    Err("the server did not answer /healthz within 30 s".into())
}
