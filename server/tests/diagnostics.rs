//! The diagnostics endpoints over HTTP: chunked upload, completion and its checks (each
//! error code), idempotent completion, and the support list and download.

// Tests may `expect`: a failed expectation is a failed test.
#![allow(clippy::expect_used)]

mod support;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use ibkey_protocol::diagnostics::wire::{
    chunk_path, codes, complete_path, status_path, support_fetch_path, ChunkReceipt,
    CompleteBundleResponse, SupportBundleSummary, UploadStatus, SUPPORT_LIST_PATH,
};
use ibkey_protocol::diagnostics::{
    BundleFile, BundleManifest, FileKind, LogMode, BUNDLE_FORMAT, MANIFEST_NAME,
};
use ibkey_protocol::encoding::sha256_hex;
use ibkey_server::{DEFAULT_SUPPORT_TOKEN, MAX_CHUNK_BYTES};
use rawzip::{CompressionMethod, ZipArchiveWriter};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{client_from, harness_with, Harness};

const BUNDLE_ID: &str = "01HZX3K7QP3MZX9TWD00000000";
const OTHER_ID: &str = "01HZX3K7QP3MZX9TWD00000001";

/// A server whose bundles may be at most `max_bundle_bytes`.
async fn start(max_bundle_bytes: u64) -> Harness {
    harness_with(|c| c.diagnostics_max_bundle_bytes = max_bundle_bytes).await
}

/// The bundle id number `n` (a valid one).
fn bundle_id(n: u32) -> String {
    format!("01HZX3K7QP3MZX9TWD{n:08}")
}

impl Harness {
    async fn status(&self, bundle_id: &str) -> UploadStatus {
        self.http
            .get(self.url(&status_path(bundle_id)))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("status json")
    }

    async fn put_chunk(&self, bundle_id: &str, n: u32, bytes: &[u8]) -> reqwest::Response {
        self.put_chunk_from(&self.http, bundle_id, n, bytes).await
    }

    /// Sends a chunk with the client `http` (see [`client_from`]).
    async fn put_chunk_from(
        &self,
        http: &reqwest::Client,
        bundle_id: &str,
        n: u32,
        bytes: &[u8],
    ) -> reqwest::Response {
        http.put(self.url(&chunk_path(bundle_id, n)))
            .body(bytes.to_vec())
            .send()
            .await
            .expect("put chunk")
    }

    async fn complete_bundle(
        &self,
        bundle_id: &str,
        chunks: u32,
        bytes: &[u8],
    ) -> reqwest::Response {
        self.complete_bundle_from(&self.http, bundle_id, chunks, bytes)
            .await
    }

    /// Completes a bundle with the client `http`.
    async fn complete_bundle_from(
        &self,
        http: &reqwest::Client,
        bundle_id: &str,
        chunks: u32,
        bytes: &[u8],
    ) -> reqwest::Response {
        self.complete_with(
            http,
            bundle_id,
            chunks,
            bytes.len() as u64,
            &sha256_hex(bytes),
        )
        .await
    }

    /// Completes a bundle with the client `http`, announcing `size` and `sha256`.
    async fn complete_with(
        &self,
        http: &reqwest::Client,
        bundle_id: &str,
        chunks: u32,
        size: u64,
        sha256: &str,
    ) -> reqwest::Response {
        http.post(self.url(&complete_path(bundle_id)))
            .json(&json!({"chunks": chunks, "size": size, "sha256": sha256}))
            .send()
            .await
            .expect("complete")
    }

    /// Uploads `bytes` in chunks of `chunk` bytes.
    async fn upload(&self, bundle_id: &str, bytes: &[u8], chunk: usize) -> u32 {
        let mut n = 0;
        for part in bytes.chunks(chunk) {
            let reply = self.put_chunk(bundle_id, n, part).await;
            assert_eq!(reply.status(), StatusCode::OK);
            n += 1;
        }
        n
    }

    async fn support(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("support request")
    }

    /// The folder of an upload's chunks in the data directory.
    fn incoming(&self, bundle_id: &str) -> std::path::PathBuf {
        self.dir.path().join("diagnostics/incoming").join(bundle_id)
    }
}

/// The error code of a refused request.
async fn code(reply: reqwest::Response) -> (StatusCode, String) {
    let status = reply.status();
    let body: Value = reply.json().await.expect("error body");
    let code = body["error"]["code"].as_str().expect("code").to_string();
    (status, code)
}

/// A well-formed bundle: a manifest naming `bundle_id` and one stored log file.
fn bundle(bundle_id: &str) -> Vec<u8> {
    let log = b"2024-06-01T10:00:00Z INFO activation started\n".repeat(40);
    let manifest = BundleManifest {
        format: BUNDLE_FORMAT,
        bundle_id: bundle_id.to_string(),
        created_at: "2024-06-01T10:00:00Z".to_string(),
        core_version: "0.1.0".to_string(),
        app_name: "ibkey".to_string(),
        app_version: "1.2.3".to_string(),
        platform: "desktop".to_string(),
        os_version: "Linux".to_string(),
        device_model: "test".to_string(),
        log_mode: LogMode::Debug,
        debug_mode: true,
        extended_log: false,
        days: 1,
        network_trace: false,
        comment: "it fails".to_string(),
        username: Some("alice".to_string()),
        redaction: "ibkey-redact/1".to_string(),
        files: vec![BundleFile {
            path: "logs/2024-06-01.log".to_string(),
            kind: FileKind::Log,
            size: log.len() as u64,
            sha256: sha256_hex(&log),
        }],
    };
    let manifest = serde_json::to_vec(&manifest).expect("manifest json");
    let mut zip = ZipArchiveWriter::new(Vec::new());
    for (path, bytes) in [(MANIFEST_NAME, &manifest), ("logs/2024-06-01.log", &log)] {
        let (mut entry, config) = zip
            .new_file(path)
            .compression_method(CompressionMethod::STORE)
            .start()
            .expect("entry");
        let mut writer = config.wrap(&mut entry);
        writer.write_all(bytes).expect("write");
        let (_, descriptor) = writer.finish().expect("finish data");
        entry.finish(descriptor).expect("finish entry");
    }
    zip.finish().expect("zip")
}

#[tokio::test]
async fn a_bundle_is_uploaded_in_chunks_completed_once_and_fetched_by_support() {
    let s = start(1024 * 1024).await;
    let bytes = bundle(BUNDLE_ID);

    let status = s.status(BUNDLE_ID).await;
    assert!(!status.complete && status.chunks.is_empty());

    // Chunk 1 only: completing names the missing chunk 0.
    let half = bytes.len() / 2;
    let receipt: ChunkReceipt = s
        .put_chunk(BUNDLE_ID, 1, &bytes[half..])
        .await
        .json()
        .await
        .expect("receipt");
    assert_eq!(receipt.received_bytes, (bytes.len() - half) as u64);
    let reply = s.complete_bundle(BUNDLE_ID, 2, &bytes).await;
    assert_eq!(
        code(reply).await,
        (StatusCode::CONFLICT, codes::DIAG_INCOMPLETE.to_string())
    );
    assert_eq!(
        s.put_chunk(BUNDLE_ID, 0, &bytes[..half]).await.status(),
        StatusCode::OK
    );
    let status = s.status(BUNDLE_ID).await;
    assert_eq!(status.chunks, vec![0, 1]);

    let done: CompleteBundleResponse = s
        .complete_bundle(BUNDLE_ID, 2, &bytes)
        .await
        .json()
        .await
        .expect("completed");
    assert!(!done.already_received);
    assert_eq!(done.size, bytes.len() as u64);
    let code_part = done.reference.strip_prefix("DIAG-").expect("DIAG- prefix");
    assert_eq!(code_part.len(), 6);

    // Completing again answers the same reference; other content is a conflict.
    let again: CompleteBundleResponse = s
        .complete_bundle(BUNDLE_ID, 2, &bytes)
        .await
        .json()
        .await
        .expect("again");
    assert!(again.already_received);
    assert_eq!(again.reference, done.reference);
    let reply = s
        .complete_with(
            &s.http,
            BUNDLE_ID,
            2,
            bytes.len() as u64,
            &sha256_hex(b"other"),
        )
        .await;
    assert_eq!(
        code(reply).await,
        (StatusCode::CONFLICT, codes::DIAG_CONFLICT.to_string())
    );
    let late: ChunkReceipt = s
        .put_chunk(BUNDLE_ID, 0, b"x")
        .await
        .json()
        .await
        .expect("late");
    assert_eq!(late.received_bytes, bytes.len() as u64);

    // Support: the token is needed; the list shows the manifest; the download is the bundle.
    let reply = s.support(SUPPORT_LIST_PATH, "wrong").await;
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let list: Vec<SupportBundleSummary> = s
        .support(SUPPORT_LIST_PATH, DEFAULT_SUPPORT_TOKEN)
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reference, done.reference);
    assert_eq!(list[0].bundle_id, BUNDLE_ID);
    assert_eq!(list[0].sha256, sha256_hex(&bytes));
    assert_eq!(list[0].username.as_deref(), Some("alice"));
    assert_eq!(list[0].log_mode, "debug");
    assert_eq!(list[0].files, 1);
    let fetched = s
        .support(
            &support_fetch_path(&done.reference.to_ascii_lowercase()),
            DEFAULT_SUPPORT_TOKEN,
        )
        .await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(
        fetched.headers()["content-type"].to_str().expect("type"),
        "application/zip"
    );
    assert_eq!(
        fetched.bytes().await.expect("bytes").as_ref(),
        bytes.as_slice()
    );
    let reply = s
        .support(&support_fetch_path("DIAG-000000"), DEFAULT_SUPPORT_TOKEN)
        .await;
    assert_eq!(
        code(reply).await,
        (StatusCode::NOT_FOUND, codes::DIAG_UNKNOWN.to_string())
    );
    s.server.shutdown().await;
}

#[tokio::test]
async fn uploads_that_are_not_good_bundles_are_refused_with_their_codes() {
    let s = start(4096).await;

    let reply = s.put_chunk("not-a-bundle-id", 0, b"x").await;
    assert_eq!(
        code(reply).await,
        (StatusCode::BAD_REQUEST, "bad_request".to_string())
    );

    // Bytes that differ from what was announced are dropped.
    s.upload(BUNDLE_ID, b"some bytes", 4).await;
    let reply = s
        .complete_with(&s.http, BUNDLE_ID, 3, 10, &sha256_hex(b"other bytes"))
        .await;
    assert_eq!(
        code(reply).await,
        (
            StatusCode::BAD_REQUEST,
            codes::DIAG_CHECKSUM_MISMATCH.to_string()
        )
    );
    let reply = s.complete_bundle(BUNDLE_ID, 3, b"some bytes").await;
    assert_eq!(code(reply).await.1, codes::DIAG_INCOMPLETE);

    // Not a zip; a bundle whose manifest names another id.
    let chunks = s.upload(BUNDLE_ID, b"not a zip at all", 1024).await;
    let reply = s
        .complete_bundle(BUNDLE_ID, chunks, b"not a zip at all")
        .await;
    assert_eq!(
        code(reply).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::DIAG_MALFORMED.to_string()
        )
    );
    let other = bundle(OTHER_ID);
    let chunks = s.upload(BUNDLE_ID, &other, 1024).await;
    let reply = s.complete_bundle(BUNDLE_ID, chunks, &other).await;
    assert_eq!(code(reply).await.1, codes::DIAG_MALFORMED);

    // Over the server's limit: announced, or sent.
    let reply = s
        .complete_with(&s.http, BUNDLE_ID, 1, 4097, &sha256_hex(b""))
        .await;
    assert_eq!(
        code(reply).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::DIAG_TOO_LARGE.to_string()
        )
    );
    assert_eq!(
        s.put_chunk(BUNDLE_ID, 0, &[1; 3000]).await.status(),
        StatusCode::OK
    );
    let reply = s.put_chunk(BUNDLE_ID, 1, &[2; 3000]).await;
    assert_eq!(
        code(reply).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::DIAG_TOO_LARGE.to_string()
        )
    );
    let reply = s
        .put_chunk(BUNDLE_ID, 0, &vec![0; MAX_CHUNK_BYTES + 1])
        .await;
    assert_eq!(
        code(reply).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::DIAG_TOO_LARGE.to_string()
        )
    );
    s.server.shutdown().await;
}

/// The `retry_after` of a refused request's body.
async fn retry_after(reply: reqwest::Response) -> (StatusCode, String, Option<u64>) {
    let status = reply.status();
    let body: Value = reply.json().await.expect("error body");
    let code = body["error"]["code"].as_str().expect("code").to_string();
    (status, code, body["error"]["retry_after"].as_u64())
}

/// A client from 127.20.`network`.`host`.
fn device(network: u8, host: u8) -> reqwest::Client {
    client_from(IpAddr::V4(Ipv4Addr::new(127, 20, network, host)))
}

#[tokio::test]
async fn uploads_are_bounded_per_device_and_in_total() {
    let s = harness_with(|c| {
        c.diagnostics_max_bundle_bytes = 4000;
        c.diagnostics_max_device_bytes = 6000;
        c.diagnostics_max_total_bytes = 12_000;
    })
    .await;
    let phone = device(0, 1);
    let bytes = bundle(BUNDLE_ID);
    let size = bytes.len();
    assert!(size < 4000);

    // A completed bundle counts against its device for a day, with its unfinished uploads.
    let reply = s.put_chunk_from(&phone, BUNDLE_ID, 0, &bytes).await;
    assert_eq!(reply.status(), StatusCode::OK);
    let done = s.complete_bundle_from(&phone, BUNDLE_ID, 1, &bytes).await;
    assert_eq!(done.status(), StatusCode::OK);
    let filler = vec![7u8; 6000 - size];
    let reply = s.put_chunk_from(&phone, &bundle_id(10), 0, &filler).await;
    assert_eq!(reply.status(), StatusCode::OK);
    let (status, error_code, wait) =
        retry_after(s.put_chunk_from(&phone, &bundle_id(11), 0, b"x").await).await;
    assert_eq!(
        (status, error_code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, codes::DIAG_QUOTA)
    );
    assert!(wait.is_some_and(|w| (1..=86_400).contains(&w)), "{wait:?}");
    // Another address, even on the same network, is another device.
    let neighbour = device(0, 2);
    let reply = s.put_chunk_from(&neighbour, &bundle_id(12), 0, b"x").await;
    assert_eq!(reply.status(), StatusCode::OK);

    // Everything together: 6,001 bytes so far, 12,000 at most.
    let other = device(1, 1);
    let reply = s
        .put_chunk_from(&other, &bundle_id(20), 0, &[1; 4000])
        .await;
    assert_eq!(reply.status(), StatusCode::OK);
    let reply = s
        .put_chunk_from(&other, &bundle_id(21), 0, &[1; 2000])
        .await;
    assert_eq!(
        code(reply).await,
        (
            StatusCode::INSUFFICIENT_STORAGE,
            codes::DIAG_STORAGE_FULL.to_string()
        )
    );
    let reply = s
        .put_chunk_from(&other, &bundle_id(21), 0, &[1; 1999])
        .await;
    assert_eq!(reply.status(), StatusCode::OK);
    // A chunk sent again replaces its earlier copy in the count.
    let reply = s
        .put_chunk_from(&other, &bundle_id(21), 0, &[2; 1999])
        .await;
    assert_eq!(reply.status(), StatusCode::OK);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chunks_sent_at_once_cannot_together_pass_a_limit() {
    let s = Arc::new(
        harness_with(|c| {
            c.diagnostics_max_bundle_bytes = 4096;
            c.diagnostics_max_device_bytes = 9000;
        })
        .await,
    );
    // Eight chunks of 3,000 bytes at once, for one bundle of at most 4,096 bytes, or from
    // one device of at most 9,000 bytes.
    let at_once = |client: reqwest::Client, target: Box<dyn Fn(u32) -> (String, u32)>| {
        let s = s.clone();
        async move {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..8 {
                let (s, client, (bundle, n)) = (s.clone(), client.clone(), target(i));
                tasks.spawn(async move {
                    code_or_ok(s.put_chunk_from(&client, &bundle, n, &[3; 3000]).await).await
                });
            }
            let mut outcomes = Vec::new();
            while let Some(outcome) = tasks.join_next().await {
                outcomes.push(outcome.expect("chunk task"));
            }
            outcomes.sort();
            outcomes
        }
    };
    for round in 0..10 {
        let id = bundle_id(100 + round);
        let target = id.clone();
        let outcomes = at_once(
            device(2, u8::try_from(round + 1).expect("host")),
            Box::new(move |n| (target.clone(), n)),
        )
        .await;
        let mut expected = vec![
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::DIAG_TOO_LARGE.to_string()
            );
            7
        ];
        expected.insert(0, (StatusCode::OK, String::new()));
        assert_eq!(outcomes, expected, "round {round}");
        assert_eq!(s.status(&id).await.chunks.len(), 1, "round {round}");
    }
    let outcomes = at_once(device(3, 1), Box::new(|i| (bundle_id(200 + i), 0))).await;
    let ok = outcomes
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    let refused = outcomes
        .iter()
        .filter(|(status, code)| {
            *status == StatusCode::TOO_MANY_REQUESTS && code == codes::DIAG_QUOTA
        })
        .count();
    assert_eq!((ok, refused), (3, 5), "{outcomes:?}");
}

/// `(200, "")`, or the status and error code of a refused request.
async fn code_or_ok(reply: reqwest::Response) -> (StatusCode, String) {
    if reply.status() == StatusCode::OK {
        return (StatusCode::OK, String::new());
    }
    code(reply).await
}

#[tokio::test]
async fn abandoned_uploads_expire_and_their_files_are_removed() {
    let s = harness_with(|c| {
        c.diagnostics_max_device_bytes = 5000;
        c.diagnostics_upload_expiry = Duration::from_secs(3600);
    })
    .await;
    assert_eq!(
        s.put_chunk(BUNDLE_ID, 0, &[1; 4000]).await.status(),
        StatusCode::OK
    );
    assert!(s.incoming(BUNDLE_ID).is_dir());
    let (status, error_code, wait) = retry_after(s.put_chunk(OTHER_ID, 0, &[2; 2000]).await).await;
    assert_eq!(
        (status, error_code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, codes::DIAG_QUOTA)
    );
    assert!(wait.is_some_and(|w| (3590..=3600).contains(&w)), "{wait:?}");

    // An hour after its last chunk, the unfinished upload is gone, and its room with it.
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        s.put_chunk(OTHER_ID, 0, &[2; 2000]).await.status(),
        StatusCode::OK
    );
    assert!(!s.incoming(BUNDLE_ID).exists());
    assert!(s.status(BUNDLE_ID).await.chunks.is_empty());
    assert_eq!(s.status(OTHER_ID).await.chunks, vec![0]);
    s.server.shutdown().await;
}
