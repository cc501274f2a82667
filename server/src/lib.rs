//! ibkey-server: the reference portal and API that the ibkey core activates against.
//!
//! It plays the broker's side of activation: a test user signs in to the "portal", gets a
//! QR code (a signed activation ticket) with a session ID under it, and a device trades
//! either for an enrollment by proving it holds a fresh P-256 key. The wire format is
//! [`ibkey_protocol::activation`]; session IDs are [`ibkey_protocol::session_id`].
//!
//! State lives in a data directory: `ibkey-server.sqlite3` (portal sessions, tickets,
//! credentials) and `server-key.p8` (the signing key every device pins; PKCS#8, mode 0600,
//! made on first start). Restarting on the same directory keeps both.
//!
//! # Endpoints
//!
//! All bodies are JSON; every error reply is a `protocol::ErrorResponse` with one of
//! `protocol::codes` and a message saying what to do. Bodies over 64 KiB are refused (413),
//! a malformed body or missing field is 400 `bad_request`.
//!
//! | method, path | request → reply | errors |
//! |---|---|---|
//! | `GET /healthz` | → 200 `ok` (text) | |
//! | `GET /v1/server-key` | → `ServerKeyResponse` | |
//! | `POST /v1/portal/sign-in` | `SignInRequest` → `SignInResponse` | 401 `unauthorized` |
//! | `POST /v1/portal/activation-tickets` | bearer portal token → `TicketResponse` | 401 `unauthorized` |
//! | `GET /v1/portal/devices` | bearer portal token → `[PortalDevice]` | 401 `unauthorized` |
//! | `DELETE /v1/portal/devices/{credential_id}` | bearer portal token → 204 | 401, 404 `credential_unknown` |
//! | `POST /v1/activation/lookup` | `LookupRequest` → `LookupResponse` | 404 `code_unknown`, 410 `code_used` / `code_expired`, 429 `too_many_attempts` |
//! | `POST /v1/activation/complete` | `CompleteRequest` → `CompleteResponse` | 400 `bad_signature`, 404 `code_unknown`, 410 `code_used` / `code_expired`, 409 `already_enrolled` |
//! | `POST /v1/devices/revoke` | `RevokeRequest` → 204 | 404 `credential_unknown`, 400 `bad_request` (clock skew), 400 `bad_signature` |
//! | `GET /v1/diagnostics/bundles/{bundle_id}` | → `UploadStatus` | 400 `bad_request` |
//! | `PUT /v1/diagnostics/bundles/{bundle_id}/chunks/{n}` | chunk bytes (≤ 1 MiB) → `ChunkReceipt` | 413 `diag_too_large` |
//! | `POST /v1/diagnostics/bundles/{bundle_id}/complete` | `CompleteBundleRequest` → `CompleteBundleResponse` | 409 `diag_incomplete` / `diag_conflict`, 400 `diag_checksum_mismatch`, 413 `diag_too_large`, 422 `diag_malformed` |
//! | `GET /v1/support/diagnostics` | bearer support token → `[SupportBundleSummary]` | 401 `unauthorized` |
//! | `GET /v1/support/diagnostics/{reference}` | bearer support token → the bundle (`application/zip`) | 401, 404 `diag_unknown` |
//!
//! **Sign-in.** Any user name matching `^[a-z0-9][a-z0-9._@-]{0,63}$` (after lower-casing)
//! is a test user; the password is [`ServerConfig::portal_password`] for all of them. The
//! portal token (32 random bytes, base64url) lasts 15 minutes; only its SHA-256 is stored.
//!
//! **Tickets.** A fresh random session ID each time; the QR payload is a signed
//! `TicketClaims` valid for [`ServerConfig::ticket_lifetime`]. The reply's `session_id` is
//! grouped (`K7QP-3MZX-9TWD`) for the portal page.
//!
//! **Lookup** trades a typed session ID for the ticket. An unknown or malformed session ID
//! is a wrong guess. Wrong guesses are limited in sliding one-minute windows, per client
//! address ([`ServerConfig::guesses_per_minute_per_client`]) and overall
//! ([`ServerConfig::guesses_per_minute_total`]); while a window is full, every lookup of that
//! client (even a correct one) is answered 429 with `retry_after` (body and `Retry-After`
//! header), so the limiter reveals nothing. In any minute at most those many wrong guesses
//! are answered.
//!
//! **Complete** checks, in order: the ticket verifies with the server key (`bad_signature`),
//! exists (`code_unknown`), is unused (`code_used`), unexpired (`code_expired`); the public
//! key is P-256 and the proof verifies over `activation_proof_message` (`bad_signature`);
//! the user has no active credential on the device (`already_enrolled`; the ticket stays
//! unused). Then, in one transaction, the ticket is marked used (only if nobody did first,
//! so two racing completes give one success) and the credential is stored. The reply is a
//! signed `ReceiptClaims`.
//!
//! **Diagnostics** (types in `ibkey_protocol::diagnostics::wire`): a device uploads a support
//! bundle in chunks and completes it with its size and SHA-256; the server checks it (a zip
//! whose files match its manifest, at most [`ServerConfig::diagnostics_max_bundle_bytes`]),
//! stores it in `diagnostics/` of the data directory, and answers a reference such as
//! `DIAG-7K3P9Q`. Completing a bundle id again answers the same reference, so retries never
//! make two bundles. Support lists and fetches bundles with [`ServerConfig::support_token`]
//! (default [`DEFAULT_SUPPORT_TOKEN`]). The details are in the `diagnostics` module.
//!
//! **Revoke**: the device signs `revoke_message` with its key; `issued_at` may be at most
//! 5 minutes off the server's clock.
//!
//! Logs never hold portal tokens, passwords, keys, signatures, or more of a session ID than
//! its last group.

// Tests may `expect`: a failed expectation is a failed test.
#![cfg_attr(test, allow(clippy::expect_used))]

mod clock;
mod db;
mod diagnostics;
mod error;
mod keys;
pub mod portal_client;
mod rate_limit;
mod routes;

use std::fmt;
use std::fs;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ring::rand::SystemRandom;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use clock::{AdjustableClock, ServerClock, SystemClock};
pub use db::{PortalDevice, DB_FILE};
pub use error::{ApiError, ServerError};
pub use keys::KEY_FILE;
pub use routes::PORTAL_SESSION_SECONDS;

/// Largest request body accepted, bytes (diagnostics chunks excepted).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The support token of a server whose configuration sets none: change it for any server
/// that holds real users' bundles.
pub const DEFAULT_SUPPORT_TOKEN: &str = "ibkey-support";
/// The password of every test user of the reference portal unless
/// [`ServerConfig::portal_password`] says otherwise.
pub const DEMO_PORTAL_PASSWORD: &str = "ibkey-demo";
/// Default largest diagnostics bundle, bytes.
pub const DEFAULT_DIAGNOSTICS_MAX_BUNDLE_BYTES: u64 = 25 * 1024 * 1024;
pub use diagnostics::MAX_CHUNK_BYTES;

/// How the server runs.
#[derive(Clone)]
pub struct ServerConfig {
    /// Directory holding the database and the server key; created if missing.
    pub data_dir: PathBuf,
    /// Base URL put into tickets' `srv` (what phones connect to). Default:
    /// `http://{bound address}` (`127.0.0.1` when bound to an unspecified address).
    pub public_url: Option<String>,
    /// How long an activation ticket (QR code / session ID) is good for.
    pub ticket_lifetime: Duration,
    /// The password every test user signs in to the portal with.
    pub portal_password: String,
    /// Wrong session-ID guesses answered per client address per minute (0 is taken as 1).
    pub guesses_per_minute_per_client: u32,
    /// Wrong session-ID guesses answered per minute across all clients (0 is taken as 1).
    pub guesses_per_minute_total: u32,
    /// The clock for expiry, sessions and the guess limiter.
    pub clock: Arc<dyn ServerClock>,
    /// Largest diagnostics bundle accepted, bytes.
    pub diagnostics_max_bundle_bytes: u64,
    /// The bearer token support lists and fetches diagnostics bundles with.
    pub support_token: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./ibkey-server-data"),
            public_url: None,
            ticket_lifetime: Duration::from_secs(5 * 60),
            portal_password: DEMO_PORTAL_PASSWORD.to_string(),
            guesses_per_minute_per_client: 10,
            guesses_per_minute_total: 60,
            clock: Arc::new(SystemClock),
            diagnostics_max_bundle_bytes: DEFAULT_DIAGNOSTICS_MAX_BUNDLE_BYTES,
            support_token: DEFAULT_SUPPORT_TOKEN.to_string(),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("ticket_lifetime", &self.ticket_lifetime)
            .field("portal_password", &"<hidden>")
            .field(
                "guesses_per_minute_per_client",
                &self.guesses_per_minute_per_client,
            )
            .field("guesses_per_minute_total", &self.guesses_per_minute_total)
            .field(
                "diagnostics_max_bundle_bytes",
                &self.diagnostics_max_bundle_bytes,
            )
            .field("support_token", &"<hidden>")
            .finish_non_exhaustive()
    }
}

/// A server running on the current tokio runtime. Dropping it stops the server (without
/// waiting); [`RunningServer::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address.
    addr: SocketAddr,
    /// The URL of the bound address.
    url: String,
    /// The base URL put into tickets.
    public_url: String,
    /// SEC1 uncompressed server public key.
    public_key: Vec<u8>,
    /// Its key id.
    key_id: String,
    /// Tells the server to stop.
    stop: Option<oneshot::Sender<()>>,
    /// The serving task.
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningServer {
    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` of the bound address, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The base URL the server puts into tickets ([`ServerConfig::public_url`]).
    pub fn public_url(&self) -> String {
        self.public_url.clone()
    }

    /// The server's public key, SEC1 uncompressed (65 bytes), as devices pin it.
    pub fn public_key(&self) -> Vec<u8> {
        self.public_key.clone()
    }

    /// The server key's id (`protocol::key_id` of [`RunningServer::public_key`]).
    pub fn key_id(&self) -> String {
        self.key_id.clone()
    }

    /// Stops accepting connections, lets requests in flight finish, and returns when the
    /// server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join().await;
    }

    /// Serves until the server fails (it normally never returns).
    pub async fn wait(mut self) {
        // Keep the stop sender alive while waiting, so the server is not told to stop.
        let _stop = self.stop.take();
        self.join().await;
    }

    /// Serves until `signal` completes (e.g. `tokio::signal::ctrl_c()`), then shuts down
    /// gracefully.
    pub async fn run_until<F: Future<Output = ()>>(self, signal: F) {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }

    /// Waits for the serving task and logs how it ended.
    async fn join(&mut self) {
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => tracing::info!("server stopped"),
                Ok(Err(e)) => tracing::error!(error = %e, "server failed"),
                Err(e) => tracing::error!(error = %e, "server task failed"),
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Opens the data directory (creating the key and database on first start), binds `addr`
/// (port 0 picks a free port) and serves on the current tokio runtime.
pub async fn start(config: ServerConfig, addr: SocketAddr) -> Result<RunningServer, ServerError> {
    let dir = config.data_dir.clone();
    let rng = SystemRandom::new();
    prepare_data_dir(&config.data_dir)?;
    let key = keys::load_or_create(&dir, &rng)?;
    let db = db::Db::open(&dir)?;
    let diagnostics = diagnostics::DiagnosticsState::new(
        &dir,
        config.diagnostics_max_bundle_bytes,
        &config.support_token,
    )
    .map_err(|source| ServerError::DataDirNotWritable {
        path: dir.clone(),
        source,
    })?;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| match source.kind() {
            io::ErrorKind::AddrInUse => ServerError::AddressInUse { addr },
            _ => ServerError::Bind { addr, source },
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    let mut reachable = bound;
    if bound.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{reachable}");
    let public_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| url.clone());
    if config.public_url.is_none() && bound.ip().is_unspecified() {
        tracing::warn!(%public_url, "listening on all interfaces but tickets name {public_url}; set the public URL so phones can reach the server");
    }

    let public_key = key.public.clone();
    let key_id = key.kid.clone();
    let state = Arc::new(routes::AppState {
        db,
        key,
        rng,
        clock: config.clock.clone(),
        limiter: Mutex::new(rate_limit::GuessLimiter::new(
            config.guesses_per_minute_per_client,
            config.guesses_per_minute_total,
        )),
        public_url: public_url.clone(),
        ticket_lifetime: i64::try_from(config.ticket_lifetime.as_secs()).unwrap_or(i64::MAX),
        password_sha256: routes::sha256(config.portal_password.as_bytes()),
        diagnostics,
    });
    let app = routes::router(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    let task = tokio::spawn(async move { serve.await });
    tracing::info!(%url, %public_url, %key_id, data_dir = %dir.display(), "ibkey server listening");
    Ok(RunningServer {
        addr: bound,
        url,
        public_url,
        public_key,
        key_id,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Creates the data directory if needed and checks that files can be made in it.
fn prepare_data_dir(dir: &std::path::Path) -> Result<(), ServerError> {
    let not_writable = |source| ServerError::DataDirNotWritable {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(not_writable)?;
    let probe = dir.join(format!(".ibkey-write-test-{}", std::process::id()));
    fs::write(&probe, b"").map_err(not_writable)?;
    let _ = fs::remove_file(&probe);
    Ok(())
}
