//! Test harness for the end-to-end tests: a real reference server on loopback with a real
//! SQLite file, and "phones" made of the real core over the desktop platform services. Only
//! what a phone's hardware would provide is scripted: the person at the PIN pad and the clock.

// A harness that cannot set up its world should stop the test at once.
#![allow(clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use ibkey_core::activation::ActivationOutcome;
use ibkey_core::gate::PinPolicy;
use ibkey_core::platform::{
    Clock, FileStore, HttpRequest, HttpResponse, HttpTransport, Platform, ReqwestTransport,
    ScriptedVerifier, SecureStore, SoftwareKeyVault, TransportError, VerificationMethod,
};
use ibkey_core::{Authenticator, AuthenticatorConfig};
use ibkey_protocol::activation::TicketResponse;
use ibkey_protocol::encoding::b64;
use ibkey_server::portal_client::PortalClient;
use ibkey_server::{AdjustableClock, RunningServer, ServerConfig};
use tempfile::TempDir;

/// The PIN of the phones [`World::phone_with_users`] enrolls.
pub const TEST_PIN: &str = "4829";

/// A reference server on a free loopback port, with its data in a temporary folder.
pub struct World {
    /// The running server.
    pub server: RunningServer,
    /// The server's clock, which tests move forward to expire tickets.
    pub server_clock: Arc<AdjustableClock>,
    /// The folder holding the server's and the phones' data.
    pub dir: TempDir,
}

impl World {
    /// Starts a server with default settings.
    pub async fn start() -> World {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` changed its configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let server_clock = Arc::new(AdjustableClock::new());
        let mut config = ServerConfig {
            data_dir: dir.path().join("server"),
            clock: server_clock.clone(),
            ..ServerConfig::default()
        };
        adjust(&mut config);
        let any_port: SocketAddr = ([127, 0, 0, 1], 0).into();
        let server = ibkey_server::start(config, any_port)
            .await
            .expect("server starts");
        World {
            server,
            server_clock,
            dir,
        }
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `user` signs in to the portal and asks for an activation ticket.
    pub async fn ticket(&self, user: &str) -> TicketResponse {
        PortalClient::sign_in(&self.url(), user, ibkey_server::DEMO_PORTAL_PASSWORD)
            .await
            .expect("portal sign-in")
            .new_ticket()
            .await
            .expect("ticket")
    }

    /// A new phone called `name`, with its store in its own folder and a fast PIN hash.
    pub fn phone(&self, name: &str) -> Phone {
        self.phone_with_policy(name, PinPolicy::fast_for_tests())
    }

    /// A new phone called `name` with `users` enrolled by QR code, its PIN ([`TEST_PIN`])
    /// chosen at the first.
    pub async fn phone_with_users(&self, name: &str, users: &[&str]) -> Phone {
        let phone = self.phone(name);
        self.enroll(&phone, users).await;
        phone
    }

    /// Enrolls `users` on `phone` by QR code, the PIN being [`TEST_PIN`].
    pub async fn enroll(&self, phone: &Phone, users: &[&str]) {
        phone.user.set_standing_pin(Some(TEST_PIN));
        for user in users {
            let ticket = self.ticket(user).await;
            match phone.auth.activate_from_qr(&ticket.qr_payload).await {
                Ok(ActivationOutcome::Activated { .. }) => {}
                other => panic!("activation of {user}: {other:?}"),
            }
        }
    }

    /// A phone whose PIN hashing costs next to nothing, for timing everything else.
    pub fn phone_with_cheap_pin(&self, name: &str) -> Phone {
        let policy = PinPolicy {
            hash_target_ms: 0,
            min_iterations: 1,
            ..PinPolicy::default()
        };
        self.phone_with_policy(name, policy)
    }

    fn phone_with_policy(&self, name: &str, pin_policy: PinPolicy) -> Phone {
        Phone::open(
            self.dir.path().join(name),
            None,
            self.trust(),
            Arc::new(ManualClock::now()),
            Arc::new(ScriptedVerifier::new()),
            pin_policy,
            None,
        )
    }

    /// A new phone (fast PIN hash) whose device keys are kept apart from the app's files, as
    /// the iOS Keychain keeps them across a reinstall (folder `<name>-keychain`).
    pub fn phone_with_keychain(&self, name: &str) -> Phone {
        Phone::open(
            self.dir.path().join(name),
            Some(self.dir.path().join(format!("{name}-keychain"))),
            self.trust(),
            Arc::new(ManualClock::now()),
            Arc::new(ScriptedVerifier::new()),
            PinPolicy::fast_for_tests(),
            None,
        )
    }

    /// A new phone (fast PIN hash) whose app ships `trust` instead of the server's key, and
    /// whose HTTP transport is wrapped by `wrap`, if any.
    pub fn phone_with_trust(&self, name: &str, trust: Trust, wrap: Option<HttpWrap>) -> Phone {
        Phone::open(
            self.dir.path().join(name),
            None,
            trust,
            Arc::new(ManualClock::now()),
            Arc::new(ScriptedVerifier::new()),
            PinPolicy::fast_for_tests(),
            wrap,
        )
    }

    /// What the phones of this world trust: the server's current key, as an app ships it.
    pub fn trust(&self) -> Trust {
        Trust {
            server_url: self.url(),
            server_key: Some(b64(&self.server.public_key())),
            trust_on_first_use: false,
        }
    }

    /// Stops the server and starts it again on the same address, data folder and clock,
    /// after `between` ran on the data folder (to rotate or replace its key, say).
    pub async fn restart_server(&mut self, between: impl FnOnce(&Path)) {
        let addr = self.server.addr();
        let data_dir = self.dir.path().join("server");
        let stand_in = Self::start_with(|_| {}).await.server;
        std::mem::replace(&mut self.server, stand_in)
            .shutdown()
            .await;
        between(&data_dir);
        let config = ServerConfig {
            data_dir,
            clock: self.server_clock.clone(),
            ..ServerConfig::default()
        };
        let server = ibkey_server::start(config, addr)
            .await
            .expect("server restarts");
        std::mem::replace(&mut self.server, server).shutdown().await;
    }

    /// A phone (fast PIN hash) whose HTTP transport is wrapped by `wrap`, e.g. in a
    /// diagnostics recorder; a restart keeps the wrapper.
    pub fn phone_with_http(&self, name: &str, wrap: HttpWrap) -> Phone {
        Phone::open(
            self.dir.path().join(name),
            None,
            self.trust(),
            Arc::new(ManualClock::now()),
            Arc::new(ScriptedVerifier::new()),
            PinPolicy::fast_for_tests(),
            Some(wrap),
        )
    }
}

/// The server a phone's app is configured with, and how it trusts the server's key.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The server's base URL.
    pub server_url: String,
    /// The server key the app ships (base64url SEC1 or its SHA-256 hex), if any.
    pub server_key: Option<String>,
    /// Whether the app trusts the key the server first presents (development only).
    pub trust_on_first_use: bool,
}

/// Wraps a phone's HTTP transport (see [`World::phone_with_http`]).
pub type HttpWrap = Arc<dyn Fn(Arc<dyn HttpTransport>) -> Arc<dyn HttpTransport> + Send + Sync>;

/// A phone: the real core over a real encrypted file store, software keys and HTTP.
pub struct Phone {
    /// The authenticator under test.
    pub auth: Authenticator,
    /// The scripted person at the PIN pad.
    pub user: Arc<ScriptedVerifier>,
    /// The phone's clock.
    pub clock: Arc<ManualClock>,
    /// Requests the phone sent to the server.
    pub requests: Arc<AtomicUsize>,
    /// The folder of the phone's secure store.
    pub store_dir: PathBuf,
    /// The folder of its device keys when they are kept apart from the app's files (as the
    /// platform keeps them: [`World::phone_with_keychain`]); `None` when they share the store.
    pub keychain_dir: Option<PathBuf>,
    trust: Trust,
    pin_policy: PinPolicy,
    wrap: Option<HttpWrap>,
}

impl Phone {
    fn open(
        store_dir: PathBuf,
        keychain_dir: Option<PathBuf>,
        trust: Trust,
        clock: Arc<ManualClock>,
        user: Arc<ScriptedVerifier>,
        pin_policy: PinPolicy,
        wrap: Option<HttpWrap>,
    ) -> Phone {
        let store = Arc::new(FileStore::open(&store_dir).expect("store"));
        let requests = Arc::new(AtomicUsize::new(0));
        let http = CountingTransport {
            inner: ReqwestTransport::new().expect("http"),
            count: requests.clone(),
        };
        let http: Arc<dyn HttpTransport> = match &wrap {
            Some(wrap) => wrap(Arc::new(http)),
            None => Arc::new(http),
        };
        let key_store: Arc<dyn SecureStore> = match &keychain_dir {
            Some(dir) => Arc::new(FileStore::open(dir).expect("keychain")),
            None => store.clone(),
        };
        let platform = Platform {
            keys: Arc::new(SoftwareKeyVault::new(key_store)),
            store,
            verifier: user.clone(),
            http,
            clock: clock.clone(),
        };
        let config = AuthenticatorConfig {
            server_url: trust.server_url.clone(),
            server_public_key: trust.server_key.clone(),
            trust_on_first_use: trust.trust_on_first_use,
            // The phone's folder name: what the portal and a moved-away phone call it.
            device_name: store_dir
                .file_name()
                .map_or("test phone".into(), |n| n.to_string_lossy().into_owned()),
            verification: VerificationMethod::Pin,
            pin_policy: pin_policy.clone(),
        };
        Phone {
            auth: Authenticator::new(config, platform).expect("authenticator"),
            user,
            clock,
            requests,
            store_dir,
            keychain_dir,
            trust,
            pin_policy,
            wrap,
        }
    }

    /// The same phone after the app was killed and started again: same store, same clock,
    /// same person, a new core.
    pub fn restart(self) -> Phone {
        let Phone {
            store_dir,
            keychain_dir,
            trust,
            clock,
            user,
            pin_policy,
            wrap,
            ..
        } = self;
        Phone::open(
            store_dir,
            keychain_dir,
            trust,
            clock,
            user,
            pin_policy,
            wrap,
        )
    }

    /// How many HTTP requests the phone has sent so far.
    pub fn sent(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Counts the requests passing through to the real transport.
struct CountingTransport {
    inner: ReqwestTransport,
    count: Arc<AtomicUsize>,
}

#[async_trait]
impl HttpTransport for CountingTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.send(request).await
    }
}

/// A phone clock the test moves by hand: wall time starts at the real time, uptime at an
/// hour after boot.
#[derive(Debug)]
pub struct ManualClock {
    wall_ms: AtomicI64,
    uptime_ms: AtomicU64,
}

impl ManualClock {
    /// A clock at the real current time.
    pub fn now() -> ManualClock {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64;
        ManualClock {
            wall_ms: AtomicI64::new(wall),
            uptime_ms: AtomicU64::new(3_600_000),
        }
    }

    /// Lets `by` pass: both wall time and uptime move.
    pub fn advance(&self, by: Duration) {
        self.wall_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        self.uptime_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    /// Changes only the wall clock, as a user changing the phone's time would.
    pub fn shift_wall(&self, by_ms: i64) {
        self.wall_ms.fetch_add(by_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix_ms(&self) -> i64 {
        self.wall_ms.load(Ordering::SeqCst)
    }

    fn uptime_ms(&self) -> u64 {
        self.uptime_ms.load(Ordering::SeqCst)
    }
}

/// The JSON of the guarded record `key` in the store at `store_dir` (the PIN, device and
/// approval records): the store value without its `IBG1` and generation header.
pub fn read_guarded_record(store_dir: &Path, key: &str) -> serde_json::Value {
    let store = FileStore::open(store_dir).expect("store");
    let bytes = store.load(key.to_string()).expect("load").expect("record");
    assert!(bytes.starts_with(b"IBG1"), "{key} is not a guarded record");
    serde_json::from_slice(&bytes[12..]).expect("JSON")
}

/// Replaces the JSON of the guarded record `key` with `json`, keeping the generation the
/// store's manifest expects: what only a process holding the store's key can do. Tests use it
/// to plant values they can recognise later (in logs, bundles).
pub fn plant_guarded_record(store_dir: &Path, key: &str, json: &[u8]) {
    let store = FileStore::open(store_dir).expect("store");
    let old = store.load(key.to_string()).expect("load").expect("record");
    assert!(old.starts_with(b"IBG1"), "{key} is not a guarded record");
    let mut planted = old[..12].to_vec();
    planted.extend_from_slice(json);
    store.save(key.to_string(), planted).expect("save");
}

/// `n` bytes that deflate cannot shrink (xorshift64*), like a photo's pixels.
pub fn incompressible_bytes(n: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// A grey PNG `width` pixels wide whose pixels are `noise`, stored without compression: a
/// screenshot of a known, large size.
pub fn noisy_png(width: u32, noise: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let height = (noise.len() as u32) / width;
    let mut raw = Vec::with_capacity(noise.len() + height as usize);
    for row in noise.chunks(width as usize).take(height as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::none());
    zlib.write_all(&raw).expect("in memory");
    let idat = zlib.finish().expect("in memory");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(&data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    }
    png
}

/// Every line the core logs in this test process, unscrubbed: what the canary tests search for
/// secrets.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs the process-wide subscriber that keeps every line (all levels, no timestamps:
    /// their digits could hold a code by chance). A thread's own subscriber would miss events
    /// when the other tests of the binary register the same call sites first, so call it once
    /// per test binary, from its canary test.
    pub fn install() -> CapturedLogs {
        use tracing_subscriber::util::SubscriberInitExt as _;
        let captured = CapturedLogs::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .finish()
            .try_init()
            .expect("the only subscriber of this test binary");
        captured
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `user` logs in on the login page at `server_url`; the phone `auth` pulls the login (exactly
/// one of `user`'s must be waiting), approves it with the number shown, and the login page reads
/// approved. Every failure is a message naming the step and the user.
pub async fn log_in_with_approval(
    server_url: &str,
    auth: &Authenticator,
    user: &str,
) -> Result<(), String> {
    use ibkey_protocol::approval::LoginState;
    use ibkey_server::portal_client::PendingLogin;

    let login = PendingLogin::start(server_url, user, ibkey_server::DEMO_PORTAL_PASSWORD, None)
        .await
        .map_err(|e| format!("login of {user}: {e}"))?;
    let pending = auth
        .pending_logins()
        .await
        .map_err(|e| format!("pull for {user}: {e}"))?;
    let ours: Vec<_> = pending.iter().filter(|c| c.username == user).collect();
    let [challenge] = ours.as_slice() else {
        return Err(format!("expected one login of {user}, pulled {ours:?}"));
    };
    auth.approve(challenge, Some(login.started().number))
        .await
        .map_err(|e| format!("approval for {user}: {e}"))?;
    let status = login
        .status(0)
        .await
        .map_err(|e| format!("status of {user}'s login: {e}"))?;
    if status.state != LoginState::Approved {
        return Err(format!("{user}'s login reads {status:?}"));
    }
    Ok(())
}
