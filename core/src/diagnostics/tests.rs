//! Unit tests of the recorder, bundles and the outbox without a server (the end-to-end
//! tests in `tests/tests/diagnostics.rs` run them against the real one).

use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use async_trait::async_trait;

use super::*;
use crate::error::ErrorCode;
use crate::platform::{HttpRequest, HttpResponse, TransportError};

const DAY_MS: i64 = 86_400_000;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_unix_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    fn uptime_ms(&self) -> u64 {
        0
    }
}

/// A transport with no server behind it.
struct Offline(AtomicUsize);

#[async_trait]
impl HttpTransport for Offline {
    async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(TransportError::Unreachable {
            reason: "connection refused".into(),
        })
    }
}

/// Records the delays asked for and returns at once.
#[derive(Default)]
struct NoWait(Mutex<Vec<u64>>);

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, millis: u64) {
        self.0.lock().expect("lock").push(millis);
    }
}

#[derive(Default)]
struct Collect(Mutex<Vec<(LogLevel, String)>>);

impl LogSink for Collect {
    fn log(&self, level: LogLevel, _target: String, message: String) {
        self.0.lock().expect("lock").push((level, message));
    }
}

struct Setup {
    diag: Diagnostics,
    clock: Arc<TestClock>,
    http: Arc<Offline>,
    sleeper: Arc<NoWait>,
    _dir: tempfile::TempDir,
}

fn setup(adjust: impl FnOnce(&mut DiagnosticsConfig)) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(TestClock(AtomicI64::new(1_772_000_000_000)));
    let http = Arc::new(Offline(AtomicUsize::new(0)));
    let sleeper = Arc::new(NoWait::default());
    let mut config = DiagnosticsConfig::new(
        dir.path().join("diag"),
        "http://127.0.0.1:9",
        AppInfo {
            app_name: "test".into(),
            app_version: "1.2.3".into(),
            platform: "desktop".into(),
            os_version: "linux".into(),
            device_model: "pc".into(),
        },
    );
    config.recorded_targets.push(module_path!().to_string());
    adjust(&mut config);
    let diag = Diagnostics::open(
        config,
        DiagnosticsServices {
            clock: clock.clone(),
            http: http.clone(),
            sleeper: sleeper.clone(),
        },
    )
    .expect("open");
    Setup {
        diag,
        clock,
        http,
        sleeper,
        _dir: dir,
    }
}

fn entries(zip_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes)).expect("zip");
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).expect("entry");
            let mut out = Vec::new();
            f.read_to_end(&mut out).expect("read");
            (f.name().to_string(), out)
        })
        .collect()
}

#[test]
fn modes_decide_what_is_recorded_and_the_sink_gets_its_own_level() {
    let s = setup(|_| {});
    let sink = Arc::new(Collect::default());
    s.diag.set_log_sink(Some(sink.clone()), LogLevel::Warn);
    tracing::subscriber::with_default(s.diag.subscriber(), || {
        tracing::info!("normal line");
        tracing::debug!("debug line");
        tracing::warn!(session_id = "K7QP3MZX9TWD", "warned pin=5938271604");
        s.diag.set_log_mode(LogMode::Debug).expect("mode");
        tracing::debug!("debug line after");
        tracing::trace!("trace line");
        tracing::info!(target: "somebody_else", "not ours");
    });
    let lines = s.diag.recent_lines(100).join("\n");
    assert!(lines.contains("normal line"), "{lines}");
    assert_eq!(lines.matches("debug line").count(), 1, "{lines}");
    assert!(lines.contains("debug line after"), "{lines}");
    assert!(!lines.contains("trace line"), "{lines}");
    assert!(!lines.contains("not ours"), "{lines}");
    assert!(!lines.contains("5938271604"), "{lines}");
    let sunk = sink.0.lock().expect("lock").clone();
    assert_eq!(sunk.len(), 1, "{sunk:?}");
    assert!(sunk[0].1.contains("pin=[redacted]"), "{sunk:?}");

    // The file holds the same, and the mode survives a restart.
    let file = std::fs::read_dir(s.diag.logs_dir())
        .expect("logs")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("ibkey-"))
        .expect("a log file");
    let text = std::fs::read_to_string(file.path()).expect("read");
    assert!(text.contains("debug line after") && !text.contains("5938271604"));
    let again = Diagnostics::open(
        s.diag.shared.config.clone(),
        DiagnosticsServices {
            clock: s.clock.clone(),
            http: s.http.clone(),
            sleeper: s.sleeper.clone(),
        },
    )
    .expect("reopen");
    assert_eq!(again.log_mode(), LogMode::Debug);
}

#[test]
fn one_file_a_day_with_retention_and_a_size_cap() {
    let s = setup(|c| {
        c.retention_days = 3;
        c.max_day_log_bytes = 2000;
    });
    tracing::subscriber::with_default(s.diag.subscriber(), || {
        for day in 0..5 {
            for i in 0..40 {
                tracing::info!("day {day} line {i} with some padding to fill the file");
            }
            s.clock.0.fetch_add(DAY_MS, Ordering::SeqCst);
        }
        tracing::info!("today");
    });
    let mut names: Vec<String> = std::fs::read_dir(s.diag.logs_dir())
        .expect("logs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in &names {
        let len = std::fs::metadata(s.diag.logs_dir().join(name))
            .expect("meta")
            .len();
        assert!(len <= 2200, "{name}: {len}");
    }
    let bundle = s
        .diag
        .prepare_bundle(&BundleRequest {
            days: 2,
            ..BundleRequest::default()
        })
        .expect("bundle");
    let logs: Vec<&BundleFile> = bundle
        .preview()
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Log)
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    let text = entries(bundle.bytes())
        .into_iter()
        .find(|(n, _)| n.starts_with("logs/") && n.ends_with(".log"))
        .map(|(_, b)| String::from_utf8(b).expect("utf8"))
        .expect("a log");
    assert!(text.contains("cap"), "{text}");
}

#[test]
fn a_bundle_matches_its_manifest_and_its_preview() {
    let s = setup(|_| {});
    tracing::subscriber::with_default(s.diag.subscriber(), || {
        tracing::info!("something happened");
    });
    let sid = ibkey_protocol::session_id::SessionId::generate(&ring::rand::SystemRandom::new())
        .expect("random");
    let request = BundleRequest {
        comment: format!("it failed with {} typed", sid.grouped()),
        username: Some("  alice ".into()),
        screenshots: vec![],
        days: 1,
        include_network_trace: true,
    };
    let bundle = s.diag.prepare_bundle(&request).expect("bundle");
    let manifest = verify_bundle(bundle.bytes(), 1 << 30).expect("verifies");
    assert_eq!(&manifest, &bundle.preview().manifest);
    assert_eq!(manifest.username.as_deref(), Some("alice"));
    assert!(
        !manifest.comment.contains(&sid.grouped()[..9]),
        "{}",
        manifest.comment
    );
    assert_eq!(manifest.app_version, "1.2.3");
    let in_zip = entries(bundle.bytes());
    let names: Vec<&str> = in_zip.iter().map(|(n, _)| n.as_str()).collect();
    let previewed: Vec<&str> = bundle
        .preview()
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(names, previewed);
    assert_eq!(bundle.preview().total_bytes, bundle.bytes().len() as u64);
    let har: serde_json::Value = serde_json::from_slice(
        &in_zip
            .iter()
            .find(|(n, _)| n == "network.har")
            .expect("har")
            .1,
    )
    .expect("json");
    assert_eq!(har["log"]["version"], "1.2");

    // Tampering with a file's content is found.
    let mut tampered = bundle.bytes().to_vec();
    let (start, len) = {
        let mut archive = zip::ZipArchive::new(Cursor::new(bundle.bytes())).expect("zip");
        let log = archive.by_name(&manifest.files[0].path).expect("log");
        (
            log.data_start().expect("offset") as usize,
            log.compressed_size() as usize,
        )
    };
    tampered[start + len / 2] ^= 1;
    assert!(verify_bundle(&tampered, 1 << 30).is_err());
    assert!(matches!(
        verify_bundle(b"not a zip", 1 << 30),
        Err(BundleCheckError::NotAZip(_))
    ));
}

#[test]
fn bad_requests_get_their_own_errors() {
    let s = setup(|c| c.max_bundle_bytes = 200);
    let too_long = BundleRequest {
        comment: "x".repeat(MAX_COMMENT_CHARS + 1),
        ..BundleRequest::default()
    };
    assert_eq!(
        s.diag.prepare_bundle(&too_long).expect_err("long").code(),
        "DIAG_COMMENT_TOO_LONG"
    );
    let bad_name = BundleRequest {
        username: Some("a\nb".into()),
        ..BundleRequest::default()
    };
    assert_eq!(
        s.diag.prepare_bundle(&bad_name).expect_err("name").code(),
        "DIAG_USERNAME_INVALID"
    );
    let too_many = BundleRequest {
        screenshots: vec![
            Screenshot {
                name: "a".into(),
                bytes: vec![]
            };
            6
        ],
        ..BundleRequest::default()
    };
    assert_eq!(
        s.diag.prepare_bundle(&too_many).expect_err("many").code(),
        "DIAG_TOO_MANY_SCREENSHOTS"
    );
    assert_eq!(
        s.diag
            .prepare_bundle(&BundleRequest::default())
            .expect_err("big")
            .code(),
        "DIAG_BUNDLE_TOO_LARGE"
    );
}

#[test]
fn offline_a_bundle_waits_in_the_outbox_with_backoff_between_tries() {
    let s = setup(|c| {
        c.upload = UploadPolicy {
            max_attempts: 4,
            first_backoff_ms: 100,
            max_backoff_ms: 1000,
            ..UploadPolicy::default()
        }
    });
    let bundle = s
        .diag
        .prepare_bundle(&BundleRequest::default())
        .expect("bundle");
    let id = bundle.bundle_id().to_string();
    let outcome = futures_block_on(s.diag.send(&bundle, None)).expect("send");
    assert!(matches!(outcome, SendOutcome::Queued { ref bundle_id, .. } if *bundle_id == id));
    assert_eq!(s.http.0.load(Ordering::SeqCst), 4, "four tries");
    let delays = s.sleeper.0.lock().expect("lock").clone();
    assert_eq!(delays.len(), 3);
    for (i, d) in delays.iter().enumerate() {
        let full = 100u64 << i;
        assert!(*d >= full / 2 && *d <= full, "{delays:?}");
    }
    let waiting = s.diag.outbox().expect("outbox");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].bundle_id, id);
    let report = futures_block_on(s.diag.flush_outbox(None)).expect("flush");
    assert_eq!(report.waiting, vec![id.clone()]);
    assert!(report.sent.is_empty());
    s.diag.remove_from_outbox(&id).expect("remove");
    assert!(s.diag.outbox().expect("outbox").is_empty());
    assert_eq!(
        s.diag.remove_from_outbox(&id).expect_err("gone").code(),
        "DIAG_UNKNOWN_BUNDLE"
    );
}

#[test]
fn an_insecure_server_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Diagnostics::open(
        DiagnosticsConfig::new(dir.path(), "http://support.example.com", AppInfo::default()),
        DiagnosticsServices {
            clock: Arc::new(TestClock(AtomicI64::new(0))),
            http: Arc::new(Offline(AtomicUsize::new(0))),
            sleeper: Arc::new(ThreadSleeper),
        },
    )
    .expect_err("insecure");
    assert_eq!(err.code(), "DIAG_INSECURE_SERVER");
}

/// Runs a future that never waits on anything but its own polls.
fn futures_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn the_async_calls_are_send_so_the_ffi_can_export_them() {
    fn assert_send<T: Send>(_: &T) {}
    let s = setup(|_| {});
    let bundle = s
        .diag
        .prepare_bundle(&BundleRequest::default())
        .expect("bundle");
    let send = s.diag.send(&bundle, None);
    assert_send(&send);
    let flush = s.diag.flush_outbox(None);
    assert_send(&flush);
}

#[test]
fn install_global_records_every_thread_and_a_later_install_takes_over() {
    // The only test here that touches the process-wide subscriber.
    let first = setup(|_| {});
    let second = setup(|_| {});
    let log_from_another_thread = |text: &'static str| {
        std::thread::spawn(move || tracing::info!("{text}"))
            .join()
            .expect("thread");
    };

    first.diag.install_global().expect("first install");
    log_from_another_thread("heard by the first");
    second
        .diag
        .install_global()
        .expect("a second install moves the subscriber");
    log_from_another_thread("heard by the second");

    let first_lines = first.diag.recent_lines(100).join("\n");
    let second_lines = second.diag.recent_lines(100).join("\n");
    assert!(first_lines.contains("heard by the first"), "{first_lines}");
    assert!(
        !first_lines.contains("heard by the second"),
        "{first_lines}"
    );
    assert!(
        second_lines.contains("heard by the second"),
        "{second_lines}"
    );
    assert!(
        !second_lines.contains("heard by the first"),
        "{second_lines}"
    );
}
