//! The support side of diagnostics: devices upload bundles in chunks, the server checks and
//! stores each bundle once and answers with a short reference (`DIAG-7K3P9Q`); support lists
//! and fetches them with the support token. The protocol (paths, bodies, error codes) is
//! [`ibkey_protocol::diagnostics::wire`]; the files are kept by `bundle_store`, the rows by
//! `db::diagnostics`.
//!
//! A chunk is stored only if the database first reserved room for it
//! ([`crate::db::Db::reserve_chunk`], one transaction, so concurrent chunks cannot together
//! overrun a limit): the bundle's chunks stay within
//! [`crate::ServerConfig::diagnostics_max_bundle_bytes`] (413 `diag_too_large`), the device's
//! (client address's) unfinished uploads and bundles of the last day within
//! [`crate::ServerConfig::diagnostics_max_device_bytes`] (429 `diag_quota`, with
//! `retry_after`), and everything on disk within
//! [`crate::ServerConfig::diagnostics_max_total_bytes`] (507 `diag_storage_full`). Before
//! that, uploads whose last chunk is older than
//! [`crate::ServerConfig::diagnostics_upload_expiry`] are forgotten and their files deleted.
//!
//! Completing checks, in order: the id is a bundle id; a bundle with this id was already
//! completed (same SHA-256: the same reference again; else `diag_conflict`); the announced
//! size is within [`crate::ServerConfig::diagnostics_max_bundle_bytes`] (`diag_too_large`);
//! every chunk is there (`diag_incomplete`, naming the missing ones); the assembled bytes
//! have the announced size and SHA-256 (`diag_checksum_mismatch`; the chunks are dropped so
//! a resend starts afresh); the zip is a bundle whose files are exactly those of its
//! manifest, with their sizes and SHA-256, and whose manifest names this bundle id
//! (`diag_malformed`). Completions are serialised, so two racing ones give one bundle.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ibkey_protocol::diagnostics::wire::{
    codes, ChunkReceipt, CompleteBundleRequest, CompleteBundleResponse, SupportBundleSummary,
    UploadStatus,
};
use ibkey_protocol::diagnostics::{is_bundle_id, verify_bundle, BundleManifest};
use ibkey_protocol::encoding::sha256_hex;

use crate::crypto::{new_reference, secret_matches};
use crate::db::diagnostics::{ChunkClaim, NewBundle, Reservation};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::extract::{bearer_token, ApiJson, ClientIp};
use crate::rate_limit::ClientKey;
use crate::state::{AppState, Shared};

/// Largest chunk accepted, bytes.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// Highest chunk number accepted.
const MAX_CHUNK_INDEX: u32 = 100_000;
/// A bundle may unpack to at most this many times its size limit.
const UNPACK_FACTOR: u64 = 8;

/// 413 `diag_too_large` for a bundle over `limit` bytes.
fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::DIAG_TOO_LARGE,
        format!("The diagnostics bundle is larger than the {limit} bytes this server accepts. Make a smaller bundle (fewer days of logs, fewer screenshots)."),
    )
}

/// 422 `diag_malformed`.
fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        codes::DIAG_MALFORMED,
        format!("The upload is not a valid diagnostics bundle: {detail}. Make a new bundle in the app and send it again."),
    )
}

/// Refuses what is not a bundle id (400 `bad_request`).
fn check_id(bundle_id: &str) -> Result<(), ApiError> {
    if is_bundle_id(bundle_id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "A bundle id is 26 characters of Crockford base 32 (0-9, A-Z without I, L, O, U).",
        ))
    }
}

/// `GET /v1/diagnostics/bundles/{bundle_id}`: what the server has of a bundle.
#[utoipa::path(
    get,
    path = "/v1/diagnostics/bundles/{bundle_id}",
    tag = "diagnostics",
    summary = "What the server holds of a bundle upload",
    params(("bundle_id" = String, Path, description = "The bundle id: 26 characters of Crockford base 32 (a ULID).")),
    responses(
        (status = 200, description = "The chunks received, or the reference once complete.", body = ibkey_protocol::diagnostics::wire::UploadStatus),
        (status = 400, description = "`bad_request`: not a bundle id.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn status(
    State(st): Shared,
    ApiPath(bundle_id): ApiPath<String>,
) -> Result<Json<UploadStatus>, ApiError> {
    check_id(&bundle_id)?;
    if let Some(done) = st.db.completed_bundle(&bundle_id)? {
        return Ok(Json(UploadStatus {
            bundle_id,
            complete: true,
            reference: Some(done.reference),
            chunks: Vec::new(),
        }));
    }
    let chunks = st
        .bundles
        .received_chunks(&bundle_id)
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

/// 429 `diag_quota`: the device holds `limit` bytes; something of it frees after
/// `retry_after` seconds.
fn device_full(limit: u64, retry_after: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        codes::DIAG_QUOTA,
        format!("This device has sent as many diagnostics as this server takes from one device in a day ({limit} bytes, unfinished uploads included). The app keeps the bundle and sends it after {retry_after} seconds; if support needs it sooner, tell them."),
    )
    .retry_after(retry_after)
}

/// 507 `diag_storage_full`.
fn storage_full() -> ApiError {
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        codes::DIAG_STORAGE_FULL,
        "The server's storage for diagnostics is full. The app keeps the bundle and sends it later; if support is waiting for it, tell them, so that the server's operator makes room.",
    )
}

/// Forgets the uploads abandoned for the upload expiry and deletes their chunks.
fn expire_abandoned_uploads(st: &AppState, now: i64) -> Result<(), ApiError> {
    for bundle_id in st.db.expire_uploads(now, st.upload_limits.upload_expiry)? {
        st.bundles.drop_upload(&bundle_id);
        tracing::info!(bundle = %bundle_id, "abandoned diagnostics upload deleted");
    }
    Ok(())
}

/// Forgets an upload and deletes its chunks.
fn drop_upload(st: &AppState, bundle_id: &str) -> Result<(), ApiError> {
    st.db.forget_upload(bundle_id)?;
    st.bundles.drop_upload(bundle_id);
    Ok(())
}

/// `PUT /v1/diagnostics/bundles/{bundle_id}/chunks/{n}`: stores one chunk, if there is room
/// for it.
#[utoipa::path(
    put,
    path = "/v1/diagnostics/bundles/{bundle_id}/chunks/{n}",
    tag = "diagnostics",
    summary = "Upload one chunk of a bundle (at most 1 MiB)",
    params(("bundle_id" = String, Path, description = "The bundle id (a ULID)."), ("n" = u32, Path, description = "The chunk's number, from 0.")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The chunk's bytes."),
    responses(
        (status = 200, description = "Stored.", body = ibkey_protocol::diagnostics::wire::ChunkReceipt),
        (status = 400, description = "`bad_request`: not a bundle id or chunk number, or an empty chunk.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`diag_conflict`: the bundle is complete, or the chunk differs from the one stored.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`diag_too_large`: the chunk or the bundle is over its limit.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`diag_quota`: this device uploaded too much.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
        (status = 507, description = "`diag_storage_full`: the server's storage for bundles is full.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn put_chunk(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    ApiPath((bundle_id, n)): ApiPath<(String, u32)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ChunkReceipt>, ApiError> {
    check_id(&bundle_id)?;
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
    if let Some(done) = st.db.completed_bundle(&bundle_id)? {
        return Ok(Json(ChunkReceipt {
            bundle_id,
            chunk: n,
            received_bytes: done.size,
        }));
    }
    let now = st.clock.now();
    expire_abandoned_uploads(&st, now)?;
    let client = ClientKey::from(ip).to_string();
    let claim = ChunkClaim {
        bundle_id: &bundle_id,
        chunk: n,
        size: body.len() as u64,
        client: &client,
        now,
    };
    let limits = st.upload_limits;
    let bundle_bytes = match st.db.reserve_chunk(&claim, &limits)? {
        Reservation::Reserved { bundle_bytes } => bundle_bytes,
        Reservation::BundleTooLarge => {
            tracing::info!(bundle = %bundle_id, "diagnostics chunk refused: the bundle would be too large");
            return Err(too_large(limits.bundle));
        }
        Reservation::DeviceFull { retry_after } => {
            tracing::info!(bundle = %bundle_id, %client, "diagnostics chunk refused: the device's quota is used up");
            return Err(device_full(limits.device, retry_after));
        }
        Reservation::StorageFull => {
            tracing::warn!(bundle = %bundle_id, limit = limits.total, "diagnostics chunk refused: the diagnostics storage is full; remove old bundles or raise the limit");
            return Err(storage_full());
        }
    };
    let stored = st
        .bundles
        .start_upload(&bundle_id)
        .and_then(|()| st.bundles.write_chunk(&bundle_id, n, &body));
    if let Err(e) = stored {
        st.db.release_chunk(&bundle_id, n)?;
        return Err(ApiError::internal("storing a chunk", &e));
    }
    Ok(Json(ChunkReceipt {
        bundle_id,
        chunk: n,
        received_bytes: bundle_bytes,
    }))
}

/// `POST /v1/diagnostics/bundles/{bundle_id}/complete`: checks the assembled bundle, stores
/// it and answers its reference (the same one again for a repeated completion).
#[utoipa::path(
    post,
    path = "/v1/diagnostics/bundles/{bundle_id}/complete",
    tag = "diagnostics",
    summary = "Assemble the chunks into the bundle and check it",
    params(("bundle_id" = String, Path, description = "The bundle id (a ULID).")),
    request_body = ibkey_protocol::diagnostics::wire::CompleteBundleRequest,
    responses(
        (status = 200, description = "The reference the user quotes to support.", body = ibkey_protocol::diagnostics::wire::CompleteBundleResponse),
        (status = 400, description = "`bad_request` (malformed body, not a bundle id); `diag_checksum_mismatch`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`diag_incomplete`: chunks are missing; `diag_conflict`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`diag_too_large`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 422, description = "`diag_malformed`: the zip or its manifest is not a valid bundle.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn complete(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    ApiPath(bundle_id): ApiPath<String>,
    ApiJson(req): ApiJson<CompleteBundleRequest>,
) -> Result<Json<CompleteBundleResponse>, ApiError> {
    check_id(&bundle_id)?;
    let _one_at_a_time = st.completing();
    let sha = req.sha256.to_ascii_lowercase();
    if let Some(done) = st.db.completed_bundle(&bundle_id)? {
        if done.sha256 == sha {
            return Ok(Json(CompleteBundleResponse {
                bundle_id,
                reference: done.reference,
                size: done.size,
                already_received: true,
            }));
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::DIAG_CONFLICT,
            format!("Bundle {bundle_id} was already received with other content (reference {}). Make a new bundle in the app.", done.reference),
        ));
    }
    let max_bundle_bytes = st.upload_limits.bundle;
    if req.size > max_bundle_bytes {
        return Err(too_large(max_bundle_bytes));
    }
    if req.chunks == 0 || req.chunks > MAX_CHUNK_INDEX + 1 {
        return Err(ApiError::bad_request("A bundle has 1 to 100001 chunks."));
    }
    let have: Vec<u32> = st
        .bundles
        .received_chunks(&bundle_id)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
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
        let chunk = st
            .bundles
            .read_chunk(&bundle_id, n)
            .map_err(|e| ApiError::internal("reading a chunk", &e))?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > max_bundle_bytes {
            drop_upload(&st, &bundle_id)?;
            return Err(too_large(max_bundle_bytes));
        }
    }
    let actual_sha = sha256_hex(&bytes);
    if bytes.len() as u64 != req.size || actual_sha != sha {
        drop_upload(&st, &bundle_id)?;
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::DIAG_CHECKSUM_MISMATCH,
            format!(
                "The chunks add up to {} bytes with another SHA-256 than announced; they were dropped. Send the bundle again.",
                bytes.len()
            ),
        ));
    }
    let manifest = match verify_bundle(&bytes, max_bundle_bytes.saturating_mul(UNPACK_FACTOR)) {
        Ok(m) => m,
        Err(e) => {
            drop_upload(&st, &bundle_id)?;
            tracing::info!(bundle = %bundle_id, error = %e, "diagnostics bundle refused: malformed");
            return Err(malformed(e));
        }
    };
    if manifest.bundle_id != bundle_id {
        drop_upload(&st, &bundle_id)?;
        return Err(malformed("its manifest names another bundle id"));
    }
    st.bundles
        .write_bundle(&bundle_id, &bytes)
        .map_err(|e| ApiError::internal("storing a bundle", &e))?;
    let size = bytes.len() as u64;
    let client = ClientKey::from(ip).to_string();
    let reference = record(&st, &bundle_id, &actual_sha, size, &manifest, &client)?;
    st.bundles.drop_upload(&bundle_id);
    tracing::info!(bundle = %bundle_id, %reference, size, "diagnostics bundle received");
    Ok(Json(CompleteBundleResponse {
        bundle_id,
        reference,
        size,
        already_received: false,
    }))
}

/// Records a stored bundle, completed by `client`, under a fresh reference (and forgets its
/// upload's chunks); returns the reference.
fn record(
    st: &AppState,
    bundle_id: &str,
    sha256: &str,
    size: u64,
    manifest: &BundleManifest,
    client: &str,
) -> Result<String, ApiError> {
    for _ in 0..16 {
        let reference = new_reference(&st.rng)?;
        let inserted = st.db.insert_bundle(&NewBundle {
            bundle_id,
            reference: &reference,
            size,
            sha256,
            received_at: st.clock.now(),
            manifest,
            client,
        })?;
        if inserted {
            return Ok(reference);
        }
        // The bundle id cannot be taken (completions are serialised): the reference was.
    }
    Err(ApiError::internal(
        "diagnostics reference",
        &"no free reference after 16 draws",
    ))
}

/// Checks the support token (`Authorization: Bearer <support token>`).
fn require_support(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if bearer_token(headers).is_some_and(|t| secret_matches(t, &st.support_token_sha256)) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "Support endpoints need the support token (Authorization: Bearer <token>), set by whoever runs the server.",
        ))
    }
}

/// `GET /v1/support/diagnostics`: every received bundle, newest first.
#[utoipa::path(
    get,
    path = "/v1/support/diagnostics",
    tag = "support",
    summary = "The bundles received",
    responses(
        (status = 200, description = "Every bundle, with its manifest's facts.", body = Vec<ibkey_protocol::diagnostics::wire::SupportBundleSummary>),
        (status = 401, description = "`unauthorized`: no support token, or not the right one.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("support_token" = [])),
)]
pub(crate) async fn support_list(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<Vec<SupportBundleSummary>>, ApiError> {
    require_support(&st, &headers)?;
    Ok(Json(st.db.bundle_summaries()?))
}

/// `GET /v1/support/diagnostics/{reference}`: the bundle as a zip download.
#[utoipa::path(
    get,
    path = "/v1/support/diagnostics/{reference}",
    tag = "support",
    summary = "Download one bundle",
    params(("reference" = String, Path, description = "The reference the user quoted, e.g. `DIAG-7K3P9Q`.")),
    responses(
        (status = 200, description = "The bundle.", content_type = "application/zip", body = Vec<u8>),
        (status = 400, description = "`bad_request`: the path is not valid (not UTF-8 after percent-decoding).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 401, description = "`unauthorized`: no support token, or not the right one.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`diag_unknown`: no bundle has this reference.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("support_token" = [])),
)]
pub(crate) async fn support_fetch(
    State(st): Shared,
    headers: HeaderMap,
    ApiPath(reference): ApiPath<String>,
) -> Result<Response, ApiError> {
    require_support(&st, &headers)?;
    let reference = reference.trim().to_ascii_uppercase();
    let Some(bundle_id) = st.db.bundle_id_of_reference(&reference)? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            codes::DIAG_UNKNOWN,
            format!("No diagnostics bundle has the reference {reference}. Check it with the user (it looks like DIAG-7K3P9Q)."),
        ));
    };
    let bytes = st
        .bundles
        .read_bundle(&bundle_id)
        .map_err(|e| ApiError::internal("reading a bundle", &e))?;
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
