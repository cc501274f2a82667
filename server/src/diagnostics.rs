//! The support side of diagnostics: devices upload bundles in chunks, the server checks and
//! stores each bundle once and answers with a short reference (`DIAG-7K3P9Q`); support lists
//! and fetches them with the support token. The protocol (paths, bodies, error codes) is
//! [`ibkey_protocol::diagnostics::wire`].
//!
//! Storage, below the data directory:
//!
//! - `diagnostics/incoming/<bundle id>/<n>`: chunks received, until the bundle completes
//!   (each written to a temporary file, then renamed).
//! - `diagnostics/bundles/<bundle id>.zip`: complete bundles, written before their row.
//! - table `diagnostic_bundles`: one row a bundle id (primary key), with its unique
//!   reference, size, SHA-256 and the manifest's summary.
//!
//! Completing checks, in order: the id is a bundle id; a bundle with this id was already
//! completed (same SHA-256: the same reference again; else `diag_conflict`); the announced
//! size is within [`crate::ServerConfig::diagnostics_max_bundle_bytes`] (`diag_too_large`);
//! every chunk is there (`diag_incomplete`, naming the missing ones); the assembled bytes
//! have the announced size and SHA-256 (`diag_checksum_mismatch`; the chunks are dropped so
//! a resend starts afresh); the zip is a bundle whose files are exactly those of its
//! manifest, with their sizes and SHA-256, and whose manifest names this bundle id
//! (`diag_malformed`). Completions are serialised, so two racing ones give one bundle.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ibkey_protocol::diagnostics::wire::{
    codes, ChunkReceipt, CompleteBundleRequest, CompleteBundleResponse, SupportBundleSummary,
    UploadStatus,
};
use ibkey_protocol::diagnostics::{is_bundle_id, verify_bundle, BundleManifest};
use ring::rand::{SecureRandom as _, SystemRandom};
use rusqlite::{params, OptionalExtension as _};

use crate::error::ApiError;
use crate::routes::{sha256, ApiJson, AppState};

/// The table of received bundles (created with the rest of the schema).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS diagnostic_bundles (
    bundle_id    TEXT PRIMARY KEY,
    reference    TEXT NOT NULL UNIQUE,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    username     TEXT,
    comment      TEXT NOT NULL,
    app_version  TEXT NOT NULL,
    platform     TEXT NOT NULL,
    os_version   TEXT NOT NULL,
    device_model TEXT NOT NULL,
    log_mode     TEXT NOT NULL,
    files        INTEGER NOT NULL
);
";

/// Largest chunk accepted, bytes.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// Highest chunk number accepted.
const MAX_CHUNK_INDEX: u32 = 100_000;
/// A bundle may unpack to at most this many times its size limit.
const UNPACK_FACTOR: u64 = 8;
/// Uploads left incomplete this long are dropped when the server starts.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// Crockford base-32, for references.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// What the diagnostics handlers share.
pub(crate) struct DiagnosticsState {
    /// `<data dir>/diagnostics`.
    dir: PathBuf,
    /// Largest bundle, bytes.
    max_bundle_bytes: u64,
    /// SHA-256 of the support token.
    support_token_sha256: [u8; 32],
    /// Serialises completions.
    completing: Mutex<()>,
}

impl DiagnosticsState {
    /// Creates the storage folders below `data_dir`.
    pub(crate) fn new(
        data_dir: &Path,
        max_bundle_bytes: u64,
        support_token: &str,
    ) -> io::Result<Self> {
        let dir = data_dir.join("diagnostics");
        fs::create_dir_all(dir.join("incoming"))?;
        fs::create_dir_all(dir.join("bundles"))?;
        remove_abandoned_uploads(&dir.join("incoming"));
        Ok(Self {
            dir,
            max_bundle_bytes,
            support_token_sha256: sha256(support_token.as_bytes()),
            completing: Mutex::new(()),
        })
    }

    fn incoming(&self, bundle_id: &str) -> PathBuf {
        self.dir.join("incoming").join(bundle_id)
    }

    fn bundle_file(&self, bundle_id: &str) -> PathBuf {
        self.dir.join("bundles").join(format!("{bundle_id}.zip"))
    }
}

/// Best effort, at start: drops the chunks of uploads not touched for [`ABANDONED_AFTER`].
fn remove_abandoned_uploads(incoming: &Path) {
    let Ok(entries) = fs::read_dir(incoming) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age >= ABANDONED_AFTER);
        if old {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

type St = State<Arc<AppState>>;

/// The diagnostics routes (merged into the application's router).
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/diagnostics/bundles/{bundle_id}", get(status))
        .route(
            "/v1/diagnostics/bundles/{bundle_id}/chunks/{n}",
            put(put_chunk).layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES)),
        )
        .route(
            "/v1/diagnostics/bundles/{bundle_id}/complete",
            post(complete),
        )
        .route("/v1/support/diagnostics", get(support_list))
        .route("/v1/support/diagnostics/{reference}", get(support_fetch))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::DIAG_TOO_LARGE,
        format!("The diagnostics bundle is larger than the {limit} bytes this server accepts. Make a smaller bundle (fewer days of logs, fewer screenshots)."),
    )
}

fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        codes::DIAG_MALFORMED,
        format!("The upload is not a valid diagnostics bundle: {detail}. Make a new bundle in the app and send it again."),
    )
}

fn check_id(bundle_id: &str) -> Result<(), ApiError> {
    if is_bundle_id(bundle_id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "A bundle id is 26 characters of Crockford base 32 (0-9, A-Z without I, L, O, U).",
        ))
    }
}

fn io_error(what: &str, e: &io::Error) -> ApiError {
    ApiError::internal(what, e)
}

/// The chunks received for a bundle: number and size, ascending.
fn received_chunks(dir: &Path) -> Vec<(u32, u64)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut chunks: Vec<(u32, u64)> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((n, e.metadata().ok()?.len()))
        })
        .collect();
    chunks.sort_unstable();
    chunks
}

/// The reference and SHA-256 of a completed bundle.
fn completed(st: &AppState, bundle_id: &str) -> Result<Option<(String, String, u64)>, ApiError> {
    Ok(st
        .db
        .conn()
        .query_row(
            "SELECT reference, sha256, size FROM diagnostic_bundles WHERE bundle_id = ?1",
            params![bundle_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64)),
        )
        .optional()?)
}

async fn status(
    State(st): St,
    UrlPath(bundle_id): UrlPath<String>,
) -> Result<Json<UploadStatus>, ApiError> {
    check_id(&bundle_id)?;
    if let Some((reference, _, _)) = completed(&st, &bundle_id)? {
        return Ok(Json(UploadStatus {
            bundle_id,
            complete: true,
            reference: Some(reference),
            chunks: Vec::new(),
        }));
    }
    let chunks = received_chunks(&st.diagnostics.incoming(&bundle_id))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    Ok(Json(UploadStatus {
        bundle_id,
        complete: false,
        reference: None,
        chunks,
    }))
}

async fn put_chunk(
    State(st): St,
    UrlPath((bundle_id, n)): UrlPath<(String, u32)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ChunkReceipt>, ApiError> {
    check_id(&bundle_id)?;
    let diag = &st.diagnostics;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::DIAG_TOO_LARGE,
                format!("A chunk may hold at most {MAX_CHUNK_BYTES} bytes; send smaller chunks."),
            )
        } else {
            ApiError::bad_request(format!(
                "The chunk could not be read ({}).",
                rejection.body_text()
            ))
        }
    })?;
    if n > MAX_CHUNK_INDEX {
        return Err(ApiError::bad_request(format!(
            "Chunk numbers go up to {MAX_CHUNK_INDEX}."
        )));
    }
    if let Some((_, _, size)) = completed(&st, &bundle_id)? {
        return Ok(Json(ChunkReceipt {
            bundle_id,
            chunk: n,
            received_bytes: size,
        }));
    }
    let dir = diag.incoming(&bundle_id);
    fs::create_dir_all(&dir).map_err(|e| io_error("creating a chunk folder", &e))?;
    let others: u64 = received_chunks(&dir)
        .into_iter()
        .filter(|(m, _)| *m != n)
        .map(|(_, size)| size)
        .sum();
    let total = others + body.len() as u64;
    if total > diag.max_bundle_bytes {
        let _ = fs::remove_dir_all(&dir);
        tracing::info!(bundle = %bundle_id, total, "diagnostics upload refused: too large");
        return Err(too_large(diag.max_bundle_bytes));
    }
    let tmp = dir.join(format!(".tmp-{n}"));
    fs::write(&tmp, &body)
        .and_then(|()| fs::rename(&tmp, dir.join(n.to_string())))
        .map_err(|e| io_error("storing a chunk", &e))?;
    Ok(Json(ChunkReceipt {
        bundle_id,
        chunk: n,
        received_bytes: total,
    }))
}

async fn complete(
    State(st): St,
    UrlPath(bundle_id): UrlPath<String>,
    ApiJson(req): ApiJson<CompleteBundleRequest>,
) -> Result<Json<CompleteBundleResponse>, ApiError> {
    check_id(&bundle_id)?;
    complete_sync(&st, &bundle_id, &req).map(Json)
}

fn complete_sync(
    st: &AppState,
    bundle_id: &str,
    req: &CompleteBundleRequest,
) -> Result<CompleteBundleResponse, ApiError> {
    let diag = &st.diagnostics;
    let _one_at_a_time = diag
        .completing
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let sha = req.sha256.to_ascii_lowercase();
    if let Some((reference, stored_sha, size)) = completed(st, bundle_id)? {
        if stored_sha == sha {
            return Ok(CompleteBundleResponse {
                bundle_id: bundle_id.to_string(),
                reference,
                size,
                already_received: true,
            });
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::DIAG_CONFLICT,
            format!("Bundle {bundle_id} was already received with other content (reference {reference}). Make a new bundle in the app."),
        ));
    }
    if req.size > diag.max_bundle_bytes {
        return Err(too_large(diag.max_bundle_bytes));
    }
    if req.chunks == 0 || req.chunks > MAX_CHUNK_INDEX + 1 {
        return Err(ApiError::bad_request("A bundle has 1 to 100001 chunks."));
    }
    let dir = diag.incoming(bundle_id);
    let have: Vec<u32> = received_chunks(&dir).into_iter().map(|(n, _)| n).collect();
    let missing: Vec<String> = (0..req.chunks)
        .filter(|n| have.binary_search(n).is_err())
        .take(20)
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::DIAG_INCOMPLETE,
            format!(
                "Chunks {} of bundle {bundle_id} have not arrived; send them, then complete again.",
                missing.join(", ")
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(req.size).unwrap_or(0));
    for n in 0..req.chunks {
        let chunk =
            fs::read(dir.join(n.to_string())).map_err(|e| io_error("reading a chunk", &e))?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > diag.max_bundle_bytes {
            let _ = fs::remove_dir_all(&dir);
            return Err(too_large(diag.max_bundle_bytes));
        }
    }
    let actual_sha = hex(&sha256(&bytes));
    if bytes.len() as u64 != req.size || actual_sha != sha {
        let _ = fs::remove_dir_all(&dir);
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::DIAG_CHECKSUM_MISMATCH,
            format!(
                "The chunks add up to {} bytes with another SHA-256 than announced; they were dropped. Send the bundle again.",
                bytes.len()
            ),
        ));
    }
    let manifest = match verify_bundle(&bytes, diag.max_bundle_bytes.saturating_mul(UNPACK_FACTOR))
    {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_dir_all(&dir);
            tracing::info!(bundle = %bundle_id, error = %e, "diagnostics bundle refused: malformed");
            return Err(malformed(e));
        }
    };
    if manifest.bundle_id != bundle_id {
        let _ = fs::remove_dir_all(&dir);
        return Err(malformed("its manifest names another bundle id"));
    }
    let file = diag.bundle_file(bundle_id);
    let tmp = file.with_extension("zip.tmp");
    fs::write(&tmp, &bytes)
        .and_then(|()| fs::File::open(&tmp)?.sync_all())
        .and_then(|()| fs::rename(&tmp, &file))
        .map_err(|e| io_error("storing a bundle", &e))?;
    let reference = insert(st, bundle_id, &actual_sha, bytes.len() as u64, &manifest)?;
    let _ = fs::remove_dir_all(&dir);
    tracing::info!(bundle = %bundle_id, %reference, size = bytes.len(), "diagnostics bundle received");
    Ok(CompleteBundleResponse {
        bundle_id: bundle_id.to_string(),
        reference,
        size: bytes.len() as u64,
        already_received: false,
    })
}

/// Stores the row under a fresh reference; returns the reference.
fn insert(
    st: &AppState,
    bundle_id: &str,
    sha: &str,
    size: u64,
    m: &BundleManifest,
) -> Result<String, ApiError> {
    for _ in 0..16 {
        let reference = new_reference(&st.rng)?;
        let inserted = st.db.conn().execute(
            "INSERT OR IGNORE INTO diagnostic_bundles
               (bundle_id, reference, size, sha256, received_at, created_at, username, comment,
                app_version, platform, os_version, device_model, log_mode, files)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                bundle_id,
                reference,
                i64::try_from(size).unwrap_or(i64::MAX),
                sha,
                st.clock.now(),
                m.created_at,
                m.username,
                m.comment,
                m.app_version,
                m.platform,
                m.os_version,
                m.device_model,
                serde_json::to_value(m.log_mode)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                m.files.len() as u32,
            ],
        )?;
        if inserted == 1 {
            return Ok(reference);
        }
        // The bundle id cannot be taken (completions are serialised): the reference was.
    }
    Err(ApiError::internal(
        "diagnostics reference",
        &"no free reference after 16 draws",
    ))
}

/// `DIAG-` and 6 random Crockford base-32 characters (30 bits).
fn new_reference(rng: &SystemRandom) -> Result<String, ApiError> {
    let mut random = [0u8; 6];
    rng.fill(&mut random)
        .map_err(|_| ApiError::internal("random generator", &"fill failed"))?;
    let mut reference = String::from("DIAG-");
    for b in random {
        reference.push(char::from(CROCKFORD[usize::from(b & 31)]));
    }
    Ok(reference)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the support token (`Authorization: Bearer <support token>`).
fn support(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let ok = token.is_some_and(|t| {
        let given = sha256(t.as_bytes());
        given
            .iter()
            .zip(&st.diagnostics.support_token_sha256)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "Support endpoints need the support token (Authorization: Bearer <token>), set by whoever runs the server.",
        ))
    }
}

async fn support_list(
    State(st): St,
    headers: HeaderMap,
) -> Result<Json<Vec<SupportBundleSummary>>, ApiError> {
    support(&st, &headers)?;
    let conn = st.db.conn();
    let mut statement = conn.prepare(
        "SELECT reference, bundle_id, received_at, size, sha256, created_at, username, comment,
                app_version, platform, os_version, device_model, log_mode, files
         FROM diagnostic_bundles ORDER BY received_at DESC, rowid DESC",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(SupportBundleSummary {
            reference: r.get(0)?,
            bundle_id: r.get(1)?,
            received_at: r.get(2)?,
            size: r.get::<_, i64>(3)?.max(0) as u64,
            sha256: r.get(4)?,
            created_at: r.get(5)?,
            username: r.get(6)?,
            comment: r.get(7)?,
            app_version: r.get(8)?,
            platform: r.get(9)?,
            os_version: r.get(10)?,
            device_model: r.get(11)?,
            log_mode: r.get(12)?,
            files: r.get(13)?,
        })
    })?;
    Ok(Json(rows.collect::<Result<Vec<_>, _>>()?))
}

async fn support_fetch(
    State(st): St,
    headers: HeaderMap,
    UrlPath(reference): UrlPath<String>,
) -> Result<Response, ApiError> {
    support(&st, &headers)?;
    let reference = reference.trim().to_ascii_uppercase();
    let bundle_id: Option<String> = st
        .db
        .conn()
        .query_row(
            "SELECT bundle_id FROM diagnostic_bundles WHERE reference = ?1",
            params![reference],
            |r| r.get(0),
        )
        .optional()?;
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            codes::DIAG_UNKNOWN,
            format!("No diagnostics bundle has the reference {reference}. Check it with the user (it looks like DIAG-7K3P9Q)."),
        )
    };
    let bundle_id = bundle_id.ok_or_else(unknown)?;
    let bytes = fs::read(st.diagnostics.bundle_file(&bundle_id))
        .map_err(|e| io_error("reading a bundle", &e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{reference}.zip\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
