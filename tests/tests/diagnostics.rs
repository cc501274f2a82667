//! Diagnostics end to end, against the real reference server on loopback: the canary sweep
//! (every flow with the extended log on, then no planted secret anywhere in the bundle, in
//! any encoding), the bundle against its manifest, the HAR trace as HAR 1.2, the offline
//! outbox that drains exactly once, screenshots refused with their own errors, and the
//! server's checks of what it is sent.

// Helpers of a test stop it at the first surprise.
#![allow(clippy::expect_used)]

use std::io::{Cursor, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use data_encoding::{Encoding, BASE32, BASE64, BASE64URL, HEXLOWER, HEXUPPER};
use ibkey_core::activation::{ActivationError, ActivationOutcome, FoundBy, SessionId};
use ibkey_core::diagnostics::redact::is_secret_field;
use ibkey_core::diagnostics::{
    verify_bundle, AppInfo, BundleManifest, BundleRequest, Diagnostics, DiagnosticsConfig,
    DiagnosticsServices, LogMode, PreparedBundle, Screenshot, SendOutcome, Sleeper,
};
use ibkey_core::platform::{
    FileStore, HttpHeader, HttpRequest, HttpResponse, HttpTransport, LogLevel, LogSink,
    ReqwestTransport, SecureStore, SystemClock, TransportError,
};
use ibkey_core::{scan, ErrorCode};
use ibkey_e2e::{incompressible_bytes, noisy_png, World};
use ibkey_protocol::activation::TicketResponse;
use ibkey_protocol::diagnostics::wire::{self, SupportBundleSummary};
use ibkey_server::DEMO_PORTAL_PASSWORD;
use ibkey_server::{ServerConfig, DEFAULT_SUPPORT_TOKEN};
use serde_json::Value;

/// The PIN the user chooses: long enough that it cannot appear by chance.
const PIN: &str = "5938271604";
/// The wrong PIN typed until the lockout.
const WRONG_PIN: &str = "28461397";

/// Sleeps not at all, counting the waits.
#[derive(Default)]
struct NoWait(AtomicUsize);

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _millis: u64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Keeps what the platform log got.
#[derive(Default)]
struct Sink(Mutex<Vec<String>>);

impl LogSink for Sink {
    fn log(&self, _level: LogLevel, target: String, message: String) {
        self.0
            .lock()
            .expect("lock")
            .push(format!("{target}: {message}"));
    }
}

/// Sees the raw bodies before anything is redacted, and keeps every secret field's value:
/// the canaries the bundle must not contain.
struct Spy {
    inner: Arc<dyn HttpTransport>,
    secrets: Arc<Mutex<Vec<String>>>,
}

fn collect_secrets(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, v) in map {
                match v {
                    Value::String(s) if is_secret_field(name) => out.push(s.clone()),
                    other => collect_secrets(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_secrets(v, out)),
        _ => {}
    }
}

#[async_trait]
impl HttpTransport for Spy {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut found = Vec::new();
        if let Ok(v) = serde_json::from_slice::<Value>(&request.body) {
            collect_secrets(&v, &mut found);
        }
        let reply = self.inner.send(request).await;
        if let Ok(r) = &reply {
            if let Ok(v) = serde_json::from_slice::<Value>(&r.body) {
                collect_secrets(&v, &mut found);
            }
        }
        self.secrets.lock().expect("lock").extend(found);
        reply
    }
}

fn app() -> AppInfo {
    AppInfo {
        app_name: "ibkey e2e".into(),
        app_version: "9.9.9".into(),
        platform: "test".into(),
        os_version: "linux".into(),
        device_model: "loopback".into(),
    }
}

fn open_diagnostics(dir: &Path, url: &str, sleeper: Arc<NoWait>) -> Diagnostics {
    let mut config = DiagnosticsConfig::new(dir, url, app());
    config.upload.chunk_bytes = 4096;
    Diagnostics::open(
        config,
        DiagnosticsServices {
            clock: Arc::new(SystemClock),
            http: Arc::new(ReqwestTransport::new().expect("http")),
            sleeper,
        },
    )
    .expect("diagnostics")
}

fn entries(zip_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes)).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("entry");
            let mut out = Vec::new();
            file.read_to_end(&mut out).expect("read entry");
            (file.name().to_string(), out)
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    HEXLOWER.encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Every way a secret could be written: raw (and case-folded), hex, base64 and base64url at
/// each alignment, base32 at each alignment.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![secret.to_vec()];
    if let Ok(text) = std::str::from_utf8(secret) {
        out.push(text.to_lowercase().into_bytes());
        out.push(text.to_uppercase().into_bytes());
    }
    out.push(HEXLOWER.encode(secret).into_bytes());
    out.push(HEXUPPER.encode(secret).into_bytes());
    let aligned = |enc: &Encoding, bits: usize, group: usize, out: &mut Vec<Vec<u8>>| {
        for offset in 0..group {
            let mut data = vec![0u8; offset];
            data.extend_from_slice(secret);
            let encoded = enc.encode(&data);
            let start = (8 * offset).div_ceil(bits);
            let end = 8 * (offset + secret.len()) / bits;
            if end > start {
                let core = &encoded[start..end];
                out.push(core.as_bytes().to_vec());
                out.push(core.to_lowercase().into_bytes());
            }
        }
    };
    aligned(&BASE64, 6, 3, &mut out);
    aligned(&BASE64URL, 6, 3, &mut out);
    aligned(&BASE32, 5, 5, &mut out);
    out.retain(|n| n.len() >= 6);
    out.sort();
    out.dedup();
    out
}

/// The canaries found in `haystack`, by name. Every needle has at least 6 bytes: a set of
/// the haystack's 6-byte windows rules most out before a full search.
fn leaks(haystack: &[u8], canaries: &[(String, Vec<u8>)]) -> Vec<String> {
    let grams: std::collections::HashSet<&[u8]> = haystack.windows(6).collect();
    let contains = |needle: &[u8]| {
        grams.contains(&needle[..6]) && haystack.windows(needle.len()).any(|w| w == needle)
    };
    canaries
        .iter()
        .filter(|(_, secret)| encodings(secret).iter().any(|n| contains(n)))
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn the_leak_detector_sees_a_secret_in_every_encoding_and_alignment() {
    let canaries = vec![("PIN".to_string(), PIN.as_bytes().to_vec())];
    for prefix in ["", "a", "ab", "abc", "abcd"] {
        let mut data = prefix.as_bytes().to_vec();
        data.extend_from_slice(PIN.as_bytes());
        data.extend_from_slice(b"tail");
        for text in [
            String::from_utf8(data.clone()).expect("text"),
            HEXLOWER.encode(&data),
            HEXUPPER.encode(&data),
            BASE64.encode(&data),
            BASE64URL.encode(&data),
            BASE32.encode(&data),
            BASE32.encode(&data).to_lowercase(),
        ] {
            let haystack = format!("some log line {text} end");
            assert_eq!(leaks(haystack.as_bytes(), &canaries), ["PIN"], "{text}");
        }
    }
    assert!(leaks(b"nothing to see here, 593827160 almost", &canaries).is_empty());
}

/// The secrets a ticket carries: the whole session ID in every form, its masked groups,
/// the QR payload and each of its parts.
fn ticket_canaries(name: &str, ticket: &TicketResponse) -> Vec<(String, Vec<u8>)> {
    let sid = SessionId::parse(&ticket.session_id).expect("session id");
    let canonical = sid.canonical().to_string();
    let mut out = vec![
        (format!("{name} session ID"), canonical.clone().into_bytes()),
        (
            format!("{name} grouped session ID"),
            sid.grouped().into_bytes(),
        ),
        (
            format!("{name} first groups"),
            canonical.as_bytes()[..8].to_vec(),
        ),
        (
            format!("{name} first groups, dashed"),
            sid.grouped().as_bytes()[..9].to_vec(),
        ),
        (
            format!("{name} QR payload"),
            ticket.qr_payload.clone().into_bytes(),
        ),
    ];
    for (i, part) in ticket.qr_payload.split('.').skip(1).enumerate() {
        out.push((
            format!("{name} QR payload part {i}"),
            part.as_bytes().to_vec(),
        ));
    }
    out
}

async fn http_get(url: &str, token: Option<&str>) -> HttpResponse {
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push(HttpHeader::new("authorization", format!("Bearer {t}")));
    }
    ReqwestTransport::new()
        .expect("http")
        .send(HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers,
            body: Vec::new(),
        })
        .await
        .expect("reply")
}

async fn http_send(method: &str, url: &str, body: Vec<u8>, json: bool) -> HttpResponse {
    let mut headers = Vec::new();
    if json {
        headers.push(HttpHeader::new("content-type", "application/json"));
    }
    ReqwestTransport::new()
        .expect("http")
        .send(HttpRequest {
            method: method.into(),
            url: url.into(),
            headers,
            body,
        })
        .await
        .expect("reply")
}

fn error_code(reply: &HttpResponse) -> String {
    let v: Value = serde_json::from_slice(&reply.body).expect("an error body");
    v["error"]["code"].as_str().expect("code").to_string()
}

async fn support_list(url: &str) -> Vec<SupportBundleSummary> {
    let reply = http_get(
        &format!("{url}{}", wire::SUPPORT_LIST_PATH),
        Some(DEFAULT_SUPPORT_TOKEN),
    )
    .await;
    assert_eq!(reply.status, 200);
    serde_json::from_slice(&reply.body).expect("list")
}

async fn support_fetch(url: &str, reference: &str) -> Vec<u8> {
    let reply = http_get(
        &format!("{url}{}", wire::support_fetch_path(reference)),
        Some(DEFAULT_SUPPORT_TOKEN),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.body
}

/// Checks the fields HAR 1.2 requires.
fn check_har_1_2(har: &Value) {
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert!(log["creator"]["name"].is_string() && log["creator"]["version"].is_string());
    let entries = log["entries"].as_array().expect("entries");
    assert!(!entries.is_empty(), "the trace has entries");
    for e in entries {
        let started = e["startedDateTime"].as_str().expect("startedDateTime");
        assert!(started.len() == 24 && started.ends_with('Z') && &started[10..11] == "T");
        assert!(e["time"].is_number());
        let rq = &e["request"];
        for f in ["method", "url", "httpVersion"] {
            assert!(rq[f].is_string(), "request.{f}");
        }
        for f in ["cookies", "headers", "queryString"] {
            assert!(rq[f].is_array(), "request.{f}");
        }
        assert!(rq["headersSize"].is_number() && rq["bodySize"].is_number());
        if let Some(post) = rq.get("postData") {
            assert!(post["mimeType"].is_string());
        }
        let rs = &e["response"];
        assert!(rs["status"].is_number() && rs["statusText"].is_string());
        assert!(rs["httpVersion"].is_string() && rs["redirectURL"].is_string());
        assert!(rs["cookies"].is_array() && rs["headers"].is_array());
        assert!(rs["content"]["size"].is_number() && rs["content"]["mimeType"].is_string());
        assert!(rs["headersSize"].is_number() && rs["bodySize"].is_number());
        assert!(e["cache"].is_object());
        for f in ["send", "wait", "receive"] {
            assert!(e["timings"][f].is_number(), "timings.{f}");
        }
    }
}

/// The zip's files are exactly its manifest's, with their sizes and SHA-256 (checked
/// independently of the core's own check).
fn check_against_manifest(bytes: &[u8]) -> BundleManifest {
    let files = entries(bytes);
    let (first, manifest) = files.first().expect("a first file");
    assert_eq!(first, "manifest.json");
    let manifest: BundleManifest = serde_json::from_slice(manifest).expect("manifest");
    let listed: Vec<(String, u64, String)> = manifest
        .files
        .iter()
        .map(|f| (f.path.clone(), f.size, f.sha256.clone()))
        .collect();
    let actual: Vec<(String, u64, String)> = files[1..]
        .iter()
        .map(|(n, b)| (n.clone(), b.len() as u64, sha256_hex(b)))
        .collect();
    assert_eq!(listed, actual);
    assert_eq!(
        verify_bundle(bytes, 1 << 30).expect("the core's check"),
        manifest
    );
    manifest
}

fn expect_activated(result: Result<ActivationOutcome, ActivationError>) {
    assert!(
        matches!(result, Ok(ActivationOutcome::Activated { .. })),
        "{result:?}"
    );
}

fn expect_code(result: Result<ActivationOutcome, ActivationError>, code: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), code, "{e}"),
        Ok(o) => panic!("expected {code}, got {o:?}"),
    }
}

/// Signs in to the portal by hand (to know the portal token) and gets a ticket with it.
async fn ticket_by_hand(url: &str, user: &str) -> (String, TicketResponse) {
    let body = serde_json::json!({ "username": user, "password": DEMO_PORTAL_PASSWORD });
    let reply = http_send(
        "POST",
        &format!("{url}/v1/portal/sign-in"),
        body.to_string().into_bytes(),
        true,
    )
    .await;
    let token = serde_json::from_slice::<Value>(&reply.body).expect("json")["portal_token"]
        .as_str()
        .expect("token")
        .to_string();
    let reply = ReqwestTransport::new()
        .expect("http")
        .send(HttpRequest {
            method: "POST".into(),
            url: format!("{url}/v1/portal/activation-tickets"),
            headers: vec![HttpHeader::new("authorization", format!("Bearer {token}"))],
            body: Vec::new(),
        })
        .await
        .expect("reply");
    (token, serde_json::from_slice(&reply.body).expect("ticket"))
}

#[tokio::test]
async fn canary_sweep_every_flow_with_the_extended_log_and_no_secret_in_the_bundle() {
    let world = World::start().await;
    let url = world.url();
    let diag = open_diagnostics(&world.dir.path().join("diag"), &url, Arc::default());
    let _log = diag.set_thread_default();
    let sink = Arc::new(Sink::default());
    diag.set_log_sink(Some(sink.clone()), LogLevel::Trace);
    diag.set_log_mode(LogMode::Extended).expect("extended");

    let raw_secrets = Arc::new(Mutex::new(Vec::new()));
    let wrap = {
        let diag = diag.clone();
        let raw_secrets = raw_secrets.clone();
        Arc::new(move |inner: Arc<dyn HttpTransport>| {
            diag.recording_transport(Arc::new(Spy {
                inner,
                secrets: raw_secrets.clone(),
            }))
        })
    };
    let phone = world.phone_with_http("phone", wrap.clone());
    let other = world.phone_with_http("other", wrap);
    phone.user.set_standing_pin(Some(PIN));
    other.user.set_standing_pin(Some(PIN));
    let mut tickets = Vec::new();

    // Activation from a QR image, the same QR again, a second user by typed session ID.
    let alice = world.ticket("alice").await;
    let png = scan::render_png(&alice.qr_payload, 4).expect("render");
    let scanned = scan::decode_image(&png).expect("decode");
    expect_activated(phone.auth.activate_from_qr(&scanned).await);
    assert!(matches!(
        phone.auth.activate_from_qr(&scanned).await,
        Ok(ActivationOutcome::AlreadyActivatedWithThisCode { .. })
    ));
    let bob = world.ticket("bob").await;
    let sloppy = bob.session_id.replace('-', "").to_lowercase();
    expect_activated(phone.auth.activate_with_session_id(&sloppy).await);

    // Each error: mistyped, already enrolled (device), used (typed and scanned), unknown,
    // expired (typed and scanned).
    let mut typo: Vec<char> = bob.session_id.chars().collect();
    typo[6] = if typo[6] == 'Z' { 'Y' } else { 'Z' };
    let typo: String = typo.into_iter().collect();
    expect_code(
        phone.auth.activate_with_session_id(&typo).await,
        "ACT_SESSION_ID_MISTYPED",
    );
    let alice_again = world.ticket("alice").await;
    expect_code(
        phone.auth.activate_from_qr(&alice_again.qr_payload).await,
        "ACT_ALREADY_ENROLLED",
    );
    expect_code(
        phone.auth.activate_with_session_id(&bob.session_id).await,
        "ACT_CODE_USED",
    );
    expect_code(
        other.auth.activate_from_qr(&bob.qr_payload).await,
        "ACT_CODE_USED",
    );
    let unknown = SessionId::generate(&ring::rand::SystemRandom::new())
        .expect("random")
        .grouped();
    expect_code(
        phone.auth.activate_with_session_id(&unknown).await,
        "ACT_CODE_UNKNOWN",
    );
    let carol = world.ticket("carol").await;
    world.server_clock.advance(Duration::from_secs(301));
    phone.clock.advance(Duration::from_secs(301));
    expect_code(
        other.auth.activate_with_session_id(&carol.session_id).await,
        "ACT_CODE_EXPIRED",
    );
    expect_code(
        other.auth.activate_from_qr(&carol.qr_payload).await,
        "ACT_CODE_EXPIRED",
    );

    // A user added with a ticket from a portal session whose token we know, then removed
    // (a signed revocation).
    let (portal_token, erin) = ticket_by_hand(&url, "erin").await;
    expect_activated(phone.auth.activate_from_qr(&erin.qr_payload).await);
    phone.auth.remove_account("erin").await.expect("removed");

    // The device private keys, as far as the desktop store lets us read them.
    let store = FileStore::open(&phone.store_dir).expect("store");
    let mut key_canaries = Vec::new();
    for account in phone.auth.accounts().expect("accounts") {
        let pkcs8 = store
            .load(format!("key/{}", account.key_alias))
            .expect("read")
            .expect("a software key");
        if pkcs8.len() >= 68 {
            key_canaries.push((
                format!("{} private key", account.username),
                pkcs8[36..68].to_vec(),
            ));
        }
        key_canaries.push((format!("{} PKCS#8", account.username), pkcs8));
    }
    assert_eq!(key_canaries.len(), 4);

    // Already enrolled according to the server (the local record lost).
    let mut accounts: Value =
        serde_json::from_slice(&store.load("accounts".into()).expect("read").expect("some"))
            .expect("json");
    accounts["accounts"] = serde_json::json!([]);
    store
        .save(
            "accounts".into(),
            serde_json::to_vec(&accounts).expect("json"),
        )
        .expect("write");
    let alice_third = world.ticket("alice").await;
    match phone
        .auth
        .activate_with_session_id(&alice_third.session_id)
        .await
    {
        Err(ActivationError::AlreadyEnrolled {
            found_by: FoundBy::Server,
            ..
        }) => {}
        other => panic!("expected already enrolled by the server, got {other:?}"),
    }

    // Wrong PINs until the lockout.
    phone.user.set_standing_pin(Some(WRONG_PIN));
    let frank = world.ticket("frank").await;
    expect_code(
        phone.auth.activate_from_qr(&frank.qr_payload).await,
        "GATE_LOCKED_OUT",
    );

    for (name, t) in [
        ("alice", &alice),
        ("bob", &bob),
        ("alice2", &alice_again),
        ("alice3", &alice_third),
        ("carol", &carol),
        ("erin", &erin),
        ("frank", &frank),
    ] {
        tickets.extend(ticket_canaries(name, t));
    }

    // The bundle, with a comment that quotes a whole session ID, and a screenshot.
    let screenshot = scan::render_png("settings screen", 3).expect("png");
    let prepared = diag
        .prepare_bundle(&BundleRequest {
            comment: format!("Activation fails. The code was {}.", bob.session_id),
            username: Some("alice".into()),
            screenshots: vec![Screenshot {
                name: "settings.png".into(),
                bytes: screenshot,
            }],
            days: 1,
            include_network_trace: true,
        })
        .expect("bundle");

    let mut canaries: Vec<(String, Vec<u8>)> = vec![
        ("PIN".into(), PIN.as_bytes().to_vec()),
        ("wrong PIN".into(), WRONG_PIN.as_bytes().to_vec()),
        ("portal token".into(), portal_token.into_bytes()),
    ];
    canaries.extend(tickets);
    canaries.extend(key_canaries);
    let raw = raw_secrets.lock().expect("lock").clone();
    assert!(
        raw.len() > 20,
        "the spy saw the secrets on the wire: {}",
        raw.len()
    );
    for (i, secret) in raw.iter().enumerate() {
        if secret.len() >= 8 {
            canaries.push((format!("wire secret #{i}"), secret.clone().into_bytes()));
            for (j, part) in secret.split('.').skip(1).enumerate() {
                canaries.push((
                    format!("wire secret #{i} part {j}"),
                    part.as_bytes().to_vec(),
                ));
            }
        }
    }

    // Nowhere: not in the zip, not in any file of it, not in the platform log.
    let bytes = prepared.bytes().to_vec();
    let mut found = leaks(&bytes, &canaries);
    let files = entries(&bytes);
    for (name, content) in &files {
        for leak in leaks(content, &canaries) {
            found.push(format!("{leak} in {name}"));
        }
    }
    let sunk = sink.0.lock().expect("lock").join("\n");
    for leak in leaks(sunk.as_bytes(), &canaries) {
        found.push(format!("{leak} in the platform log"));
    }
    assert!(found.is_empty(), "secrets found: {found:?}");

    // What the bundle does hold: the manifest, the day's log with each outcome, the HAR.
    let manifest = check_against_manifest(&bytes);
    assert_eq!(manifest.username.as_deref(), Some("alice"));
    assert!(manifest.extended_log && manifest.network_trace);
    assert!(
        manifest.comment.contains("****-****-"),
        "{}",
        manifest.comment
    );
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("logs/ibkey-")),
        "{names:?}"
    );
    assert!(names.contains(&"network.har") && names.contains(&"screenshots/01-settings.png"));
    let log = files
        .iter()
        .find(|(n, _)| n.starts_with("logs/"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .expect("log");
    for expected in [
        "activated",
        "code_used",
        "code_expired",
        "code_unknown",
        "already_enrolled",
        "wrong app PIN",
        "/v1/devices/revoke -> 204",
    ] {
        assert!(
            log.contains(expected),
            "{expected} missing from the log:\n{log}"
        );
    }
    let har: Value = serde_json::from_slice(
        &files
            .iter()
            .find(|(n, _)| n == "network.har")
            .expect("har")
            .1,
    )
    .expect("the HAR parses");
    check_har_1_2(&har);
    let traced: Vec<String> = har["log"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap_or_default().to_string())
        .collect();
    for path in [
        "/v1/activation/lookup",
        "/v1/activation/complete",
        "/v1/devices/revoke",
    ] {
        assert!(
            traced.iter().any(|u| u.ends_with(path)),
            "{path} not traced"
        );
    }

    // Sent, the server holds exactly these bytes under the reference.
    let preview_total = prepared.preview().total_bytes;
    let outcome = diag.send(&prepared, None).await.expect("send");
    let SendOutcome::Sent { reference, .. } = outcome else {
        panic!("not sent: {outcome:?}");
    };
    assert!(
        reference.len() == 11 && reference.starts_with("DIAG-"),
        "{reference}"
    );
    let fetched = support_fetch(&url, &reference).await;
    assert_eq!(fetched, bytes);
    assert_eq!(fetched.len() as u64, preview_total);
}

#[tokio::test]
async fn a_bundle_made_offline_waits_and_the_outbox_drains_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let url = format!("http://{addr}");
    let diag_dir = dir.path().join("diag");
    let sleeper = Arc::new(NoWait::default());

    let diag = open_diagnostics(&diag_dir, &url, sleeper.clone());
    let _log = diag.set_thread_default();
    let prepared = diag
        .prepare_bundle(&BundleRequest {
            comment: "made on a plane".into(),
            ..BundleRequest::default()
        })
        .expect("bundle");
    let bundle_id = prepared.bundle_id().to_string();
    let bytes = prepared.bytes().to_vec();
    match diag.send(&prepared, None).await.expect("send") {
        SendOutcome::Queued { bundle_id: id, .. } => assert_eq!(id, bundle_id),
        other => panic!("expected queued, got {other:?}"),
    }
    assert!(
        sleeper.0.load(Ordering::SeqCst) >= 1,
        "retried with backoff"
    );
    drop(diag);

    // The app restarts, still offline: the bundle is there and still waits.
    let diag = open_diagnostics(&diag_dir, &url, sleeper.clone());
    let waiting = diag.outbox().expect("outbox");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].bundle_id, bundle_id);
    assert_eq!(waiting[0].comment, "made on a plane");
    let report = diag.flush_outbox(None).await.expect("flush");
    assert_eq!(report.waiting, vec![bundle_id.clone()]);
    drop(diag);

    // The server comes up; the app starts again and flushes, twice.
    let server = ibkey_server::start(
        ServerConfig {
            data_dir: dir.path().join("server"),
            ..ServerConfig::default()
        },
        addr,
    )
    .await
    .expect("server on the same port");
    let diag = open_diagnostics(&diag_dir, &url, sleeper);
    let progress = Arc::new(Progress::default());
    let report = diag
        .flush_outbox(Some(progress.clone()))
        .await
        .expect("flush");
    assert_eq!(report.sent.len(), 1, "{report:?}");
    assert_eq!(report.sent[0].bundle_id, bundle_id);
    let reference = report.sent[0].reference.clone();
    let last = *progress.0.lock().expect("lock").last().expect("progress");
    assert_eq!(last, (bytes.len() as u64, bytes.len() as u64));
    let again = diag.flush_outbox(None).await.expect("flush again");
    assert!(again.sent.is_empty() && again.waiting.is_empty());
    assert!(diag.outbox().expect("outbox").is_empty());
    assert_eq!(
        diag.sent_history().last().map(|s| s.reference.clone()),
        Some(reference.clone())
    );

    let listed = support_list(&url).await;
    assert_eq!(listed.len(), 1, "exactly one bundle: {listed:?}");
    assert_eq!(listed[0].reference, reference);
    assert_eq!(listed[0].comment, "made on a plane");
    assert_eq!(support_fetch(&url, &reference).await, bytes);

    // Sending the same bundle once more (a repeat after a lost reply) gives the same
    // reference, and still one bundle.
    let chunk = http_send(
        "PUT",
        &format!("{url}{}", wire::chunk_path(&bundle_id, 0)),
        bytes.clone(),
        false,
    )
    .await;
    assert_eq!(chunk.status, 200);
    let complete =
        serde_json::json!({ "chunks": 1, "size": bytes.len(), "sha256": sha256_hex(&bytes) });
    let reply = http_send(
        "POST",
        &format!("{url}{}", wire::complete_path(&bundle_id)),
        complete.to_string().into_bytes(),
        true,
    )
    .await;
    let reply: Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(reply["reference"], reference.as_str());
    assert_eq!(reply["already_received"], true);
    assert_eq!(support_list(&url).await.len(), 1);

    // Chunks may be larger than the 64 KiB other requests are held to.
    let other_id = format!("{}1", "0".repeat(25));
    let big_chunk = http_send(
        "PUT",
        &format!("{url}{}", wire::chunk_path(&other_id, 0)),
        vec![1u8; 512 * 1024],
        false,
    )
    .await;
    assert_eq!(big_chunk.status, 200);
    server.shutdown().await;
}

/// Keeps every progress report.
#[derive(Default)]
struct Progress(Mutex<Vec<(u64, u64)>>);

impl ibkey_core::diagnostics::UploadProgress for Progress {
    fn on_progress(&self, _bundle_id: String, sent: u64, total: u64) {
        self.0.lock().expect("lock").push((sent, total));
    }
}

/// Passes requests on, but loses the reply of the first completion (the server did it).
struct LoseFirstCompletion {
    inner: ReqwestTransport,
    lost: AtomicUsize,
}

#[async_trait]
impl HttpTransport for LoseFirstCompletion {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let completing = request.url.ends_with("/complete");
        let reply = self.inner.send(request).await;
        if completing && self.lost.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(TransportError::Unreachable {
                reason: "connection reset".into(),
            });
        }
        reply
    }
}

#[tokio::test]
async fn a_lost_reply_is_retried_into_the_same_single_bundle() {
    let world = World::start().await;
    let url = world.url();
    let mut config = DiagnosticsConfig::new(world.dir.path().join("diag"), &url, app());
    config.upload.chunk_bytes = 8 * 1024;
    let transport = Arc::new(LoseFirstCompletion {
        inner: ReqwestTransport::new().expect("http"),
        lost: AtomicUsize::new(0),
    });
    let diag = Diagnostics::open(
        config,
        DiagnosticsServices {
            clock: Arc::new(SystemClock),
            http: transport.clone(),
            sleeper: Arc::new(NoWait::default()),
        },
    )
    .expect("diagnostics");
    let noise = incompressible_bytes(40_000);
    let screenshot = noisy_png(400, &noise);
    let prepared = diag
        .prepare_bundle(&BundleRequest {
            screenshots: vec![Screenshot {
                name: "shot.png".into(),
                bytes: screenshot,
            }],
            ..BundleRequest::default()
        })
        .expect("bundle");
    assert!(prepared.bytes().len() > 32 * 1024, "several chunks");
    let progress = Arc::new(Progress::default());
    let outcome = diag
        .send(&prepared, Some(progress.clone()))
        .await
        .expect("send");
    assert!(matches!(outcome, SendOutcome::Sent { .. }), "{outcome:?}");
    assert!(
        transport.lost.load(Ordering::SeqCst) >= 2,
        "completion was retried"
    );
    let reports = progress.0.lock().expect("lock").clone();
    assert!(reports.windows(2).all(|w| w[0].0 <= w[1].0), "{reports:?}");
    assert!(reports.len() >= 3, "{reports:?}");
    assert_eq!(support_list(&url).await.len(), 1);
}

#[tokio::test]
async fn oversize_corrupt_and_foreign_screenshots_are_refused_with_their_own_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let diag = open_diagnostics(dir.path(), "http://127.0.0.1:9", Arc::default());
    let png = scan::render_png("a real screenshot", 4).expect("png");
    let try_one = |name: &str, bytes: Vec<u8>| {
        diag.prepare_bundle(&BundleRequest {
            screenshots: vec![Screenshot {
                name: name.into(),
                bytes,
            }],
            ..BundleRequest::default()
        })
    };
    assert!(try_one("fine.png", png.clone()).is_ok());

    let mut oversize = png.clone();
    oversize.resize(5 * 1024 * 1024 + 1, 0);
    let err = try_one("huge.png", oversize).expect_err("oversize");
    assert_eq!(err.code(), "DIAG_SCREENSHOT_TOO_LARGE");
    assert!(err.to_string().contains("huge.png"), "{err}");

    let truncated = png[..png.len() / 2].to_vec();
    let err = try_one("cut.png", truncated).expect_err("corrupt");
    assert_eq!(err.code(), "DIAG_SCREENSHOT_CORRUPT");

    let mut fake_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    fake_jpeg.extend_from_slice(&[0x42; 200]);
    let err = try_one("fake.jpg", fake_jpeg).expect_err("corrupt jpeg");
    assert_eq!(err.code(), "DIAG_SCREENSHOT_CORRUPT");

    let err = try_one("notes.txt", b"not an image at all".to_vec()).expect_err("foreign");
    assert_eq!(err.code(), "DIAG_SCREENSHOT_NOT_AN_IMAGE");
}

/// A zip of `files` (name, content) as given.
fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start");
        zip.write_all(content).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// Uploads `bytes` in one chunk under `bundle_id` and completes; the completion's reply.
async fn upload_raw(url: &str, bundle_id: &str, bytes: &[u8]) -> HttpResponse {
    let chunk = http_send(
        "PUT",
        &format!("{url}{}", wire::chunk_path(bundle_id, 0)),
        bytes.to_vec(),
        false,
    )
    .await;
    assert_eq!(
        chunk.status,
        200,
        "{}",
        String::from_utf8_lossy(&chunk.body)
    );
    let complete =
        serde_json::json!({ "chunks": 1, "size": bytes.len(), "sha256": sha256_hex(bytes) });
    http_send(
        "POST",
        &format!("{url}{}", wire::complete_path(bundle_id)),
        complete.to_string().into_bytes(),
        true,
    )
    .await
}

fn bundle_for(url: &str, dir: &Path) -> PreparedBundle {
    open_diagnostics(dir, url, Arc::default())
        .prepare_bundle(&BundleRequest::default())
        .expect("bundle")
}

#[tokio::test]
async fn the_server_refuses_malformed_oversize_and_unauthorised_requests() {
    let world = World::start_with(|c| c.diagnostics_max_bundle_bytes = 64 * 1024).await;
    let url = world.url();
    let id = |n: u8| format!("{}{}", "0".repeat(25), char::from(b'0' + n));

    let reply = upload_raw(&url, &id(1), b"hello, not a zip").await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (422, "diag_malformed".into())
    );

    let no_manifest = zip_of(&[("logs/x.log", b"line".to_vec())]);
    let reply = upload_raw(&url, &id(2), &no_manifest).await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (422, "diag_malformed".into())
    );

    // A real bundle whose manifest no longer matches one of its files.
    let real = bundle_for(&url, &world.dir.path().join("d1"));
    let files = entries(real.bytes());
    let mut tampered: Vec<(&str, Vec<u8>)> =
        files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    tampered[1].1.extend_from_slice(b"one more line\n");
    let reply = upload_raw(&url, real.bundle_id(), &zip_of(&tampered)).await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (422, "diag_malformed".into())
    );
    let message = String::from_utf8_lossy(&reply.body).into_owned();
    assert!(message.contains("manifest"), "{message}");

    // The whole real bundle under another id: the manifest names its own id.
    let reply = upload_raw(&url, &id(3), real.bytes()).await;
    assert_eq!(error_code(&reply), "diag_malformed");

    // Announced checksum wrong; a chunk missing.
    let chunk = http_send(
        "PUT",
        &format!("{url}{}", wire::chunk_path(real.bundle_id(), 0)),
        real.bytes().to_vec(),
        false,
    )
    .await;
    assert_eq!(chunk.status, 200);
    let wrong = serde_json::json!({ "chunks": 1, "size": real.bytes().len(), "sha256": "00" });
    let reply = http_send(
        "POST",
        &format!("{url}{}", wire::complete_path(real.bundle_id())),
        wrong.to_string().into_bytes(),
        true,
    )
    .await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (400, "diag_checksum_mismatch".into())
    );
    let missing = serde_json::json!({ "chunks": 2, "size": 10, "sha256": "00" });
    let reply = http_send(
        "POST",
        &format!("{url}{}", wire::complete_path(&id(4))),
        missing.to_string().into_bytes(),
        true,
    )
    .await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (409, "diag_incomplete".into())
    );

    // Bad ids, oversize chunks and bundles.
    let reply = http_get(&format!("{url}{}", wire::status_path("nope")), None).await;
    assert_eq!(reply.status, 400);
    let big = vec![7u8; 70 * 1024];
    let reply = http_send(
        "PUT",
        &format!("{url}{}", wire::chunk_path(&id(5), 0)),
        big,
        false,
    )
    .await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (413, "diag_too_large".into())
    );
    let too_big_chunk = vec![7u8; ibkey_server::MAX_CHUNK_BYTES + 1];
    let reply = http_send(
        "PUT",
        &format!("{url}{}", wire::chunk_path(&id(6), 0)),
        too_big_chunk,
        false,
    )
    .await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (413, "diag_too_large".into())
    );

    // Through the core: a bundle over the server's cap is refused for good and dropped.
    let diag = open_diagnostics(&world.dir.path().join("d2"), &url, Arc::default());
    let noise = incompressible_bytes(120_000);
    let screenshot = noisy_png(400, &noise);
    let prepared = diag
        .prepare_bundle(&BundleRequest {
            screenshots: vec![Screenshot {
                name: "noise.png".into(),
                bytes: screenshot,
            }],
            ..BundleRequest::default()
        })
        .expect("bundle");
    assert!(prepared.bytes().len() > 64 * 1024);
    let err = diag.send(&prepared, None).await.expect_err("refused");
    assert_eq!(err.code(), "DIAG_SERVER_REFUSED");
    assert!(err.to_string().contains("diag_too_large"), "{err}");
    assert!(diag.outbox().expect("outbox").is_empty());

    // Support endpoints need the support token.
    let list = format!("{url}{}", wire::SUPPORT_LIST_PATH);
    assert_eq!(http_get(&list, None).await.status, 401);
    assert_eq!(http_get(&list, Some("guess")).await.status, 401);
    assert!(support_list(&url).await.is_empty(), "nothing was stored");
    let reply = http_get(
        &format!("{url}{}", wire::support_fetch_path("DIAG-000000")),
        Some(DEFAULT_SUPPORT_TOKEN),
    )
    .await;
    assert_eq!(
        (reply.status, error_code(&reply)),
        (404, "diag_unknown".into())
    );
}

#[tokio::test]
async fn the_notification_doctors_report_goes_into_the_next_bundle() {
    let world = World::start().await;
    let diag = open_diagnostics(&world.dir.path().join("diag"), &world.url(), Arc::default());
    let _log = diag.set_thread_default();
    let phone = world.phone_with_users("phone", &["alice"]).await;
    let settings = ibkey_core::lifecycle::NotificationSettings {
        platform: "android".into(),
        notifications_allowed: Some(false),
        ..Default::default()
    };
    let report = phone
        .auth
        .notification_doctor(settings, None)
        .await
        .expect("report");
    assert!(!report.healthy);
    let prepared = diag
        .prepare_bundle(&BundleRequest::default())
        .expect("bundle");
    let logs: String = entries(prepared.bytes())
        .into_iter()
        .filter(|(name, _)| name.starts_with("logs/"))
        .map(|(_, bytes)| String::from_utf8_lossy(&bytes).into_owned())
        .collect();
    for check in &report.checks {
        assert!(
            logs.contains(&format!("check={}", check.id)) && logs.contains("notification doctor"),
            "{} is not in the bundle's log:\n{logs}",
            check.id
        );
    }
}
