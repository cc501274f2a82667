//! Starting and stopping a server: [`start`] opens the data directory, binds the address and
//! serves on the current tokio runtime; [`RunningServer`] is the handle that stops it.

use std::fs;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ring::hmac;
use ring::rand::SystemRandom;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::activation_watch::ActivationWatch;
use crate::bundle_store::BundleStore;
use crate::config::ServerConfig;
use crate::crypto::sha256;
use crate::db::diagnostics::UploadLimits;
use crate::db::{Db, DB_FILE};
use crate::error::ServerError;
use crate::handlers::router;
use crate::keys;
use crate::notifier::{Notifier, RecordingNotifier};
use crate::push::{PushSender, RecordingPushSender};
use crate::rate_limit::{
    AttemptLimiter, GuessLimiter, SignInLimiter, CODES_SENT_PER_USER, CODE_SEND_WINDOW_SECONDS,
    TEST_PUSHES_PER_HOUR, TEST_PUSH_WINDOW_SECONDS,
};
use crate::secrets::{self, GeneratedSecrets};
use crate::state::AppState;

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
    /// The per-installation secrets made at this start, if any.
    generated: Option<GeneratedSecrets>,
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

    /// The portal password and support token made at this start (the server listens beyond
    /// loopback and the configuration kept the shipped defaults), for the operator to see
    /// once; `None` when nothing was made (loopback, configured values, or made before).
    pub fn generated_secrets(&self) -> Option<GeneratedSecrets> {
        self.generated.clone()
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
    let secrets = secrets::effective(&config, addr.ip(), &dir, &rng)?;
    let db = Arc::new(Db::open(&dir)?);
    let bundles = BundleStore::open(&dir).map_err(|source| ServerError::DataDirNotWritable {
        path: dir.clone(),
        source,
    })?;
    drop_stale_uploads(&db, &bundles, &config)?;

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
        reachable.set_ip(Ipv4Addr::LOCALHOST.into());
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
    let csrf_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| ServerError::Random)?;
    let push: Arc<dyn PushSender> = match &config.push_sender {
        Some(sender) => sender.clone(),
        None => Arc::new(RecordingPushSender::new(db.clone(), config.clock.clone())),
    };
    let notifier: Arc<dyn Notifier> = match &config.notifier {
        Some(notifier) => notifier.clone(),
        None => Arc::new(RecordingNotifier::new(db.clone(), config.clock.clone())),
    };
    let state = Arc::new(AppState {
        db,
        key,
        rng,
        clock: config.clock.clone(),
        limiter: Mutex::new(GuessLimiter::new(
            config.guesses_per_minute_per_client,
            config.guesses_per_minute_per_network,
            config.guesses_per_minute_total,
        )),
        offline_limiter: Mutex::new(AttemptLimiter::default()),
        sign_in_limiter: Mutex::new(SignInLimiter::default()),
        test_push_limiter: Mutex::new(AttemptLimiter::new(
            TEST_PUSHES_PER_HOUR,
            TEST_PUSH_WINDOW_SECONDS,
        )),
        code_send_limiter: Mutex::new(AttemptLimiter::new(
            CODES_SENT_PER_USER,
            CODE_SEND_WINDOW_SECONDS,
        )),
        public_url: public_url.clone(),
        ticket_lifetime: seconds(config.ticket_lifetime),
        password_sha256: sha256(secrets.portal_password.as_bytes()),
        support_token_sha256: sha256(secrets.support_token.as_bytes()),
        bundles,
        upload_limits: UploadLimits {
            bundle: config.diagnostics_max_bundle_bytes,
            device: config.diagnostics_max_device_bytes,
            total: config.diagnostics_max_total_bytes,
            upload_expiry: seconds(config.diagnostics_upload_expiry),
        },
        completing: Mutex::new(()),
        challenge_lifetime: seconds(config.challenge_lifetime),
        fraud_mute: seconds(config.fraud_mute),
        push,
        notifier,
        logins_changed: Notify::new(),
        activation_watch: ActivationWatch::default(),
        csrf_key,
        secure_cookies: !bound.ip().is_loopback(),
    });
    let app = router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stopped.await;
        // The pages' event streams would otherwise hold the shutdown.
        state.activation_watch.close();
        state.logins_changed.notify_waiters();
    });
    let task = tokio::spawn(async move { serve.await });
    tracing::info!(%url, %public_url, %key_id, data_dir = %dir.display(), "ibkey server listening");
    Ok(RunningServer {
        addr: bound,
        url,
        public_url,
        public_key,
        key_id,
        generated: secrets.generated,
        stop: Some(stop),
        task: Some(task),
    })
}

/// At start: drops the diagnostics uploads that expired while the server was down, and the
/// upload folders the database does not account for.
fn drop_stale_uploads(
    db: &Db,
    bundles: &BundleStore,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    let failed = |e: rusqlite::Error| ServerError::Database {
        path: config.data_dir.join(DB_FILE),
        message: e.to_string(),
    };
    let now = config.clock.now();
    db.expire_uploads(now, seconds(config.diagnostics_upload_expiry))
        .map_err(failed)?;
    bundles.drop_unknown_uploads(&db.uploads().map_err(failed)?);
    Ok(())
}

/// A configured duration in whole seconds, as the handlers count.
fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// Creates the data directory if needed and checks that files can be made in it.
fn prepare_data_dir(dir: &Path) -> Result<(), ServerError> {
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
