//! The upload protocol between a device and the support server, shared by both ends.
//!
//! A bundle goes up in chunks so that an upload over any HTTP stack
//! can resume where it stopped, and is identified by its bundle id so that a retry or a
//! repeat never makes a second bundle:
//!
//! | method, path | request → reply | errors |
//! |---|---|---|
//! | `GET /v1/diagnostics/bundles/{bundle_id}` | → [`UploadStatus`] (unknown ids: nothing received) | 400 `bad_request` |
//! | `PUT /v1/diagnostics/bundles/{bundle_id}/chunks/{n}` | the chunk's bytes → [`ChunkReceipt`] | 413 `diag_too_large`, 429 `diag_quota`, 507 `diag_storage_full` |
//! | `POST /v1/diagnostics/bundles/{bundle_id}/complete` | [`CompleteBundleRequest`] → [`CompleteBundleResponse`] | 409 `diag_incomplete`, 400 `diag_checksum_mismatch`, 422 `diag_malformed`, 413 `diag_too_large`, 409 `diag_conflict` |
//! | `GET /v1/support/diagnostics` | support token → `[`[`SupportBundleSummary`]`]` | 401 `unauthorized` |
//! | `GET /v1/support/diagnostics/{reference}` | support token → the zip | 401, 404 `diag_unknown` |
//!
//! Chunk `n` holds bytes `n × chunk size ..` of the zip; every chunk but the last has the
//! same size. Completing an already completed bundle with the same SHA-256 answers the same
//! reference.

use serde::{Deserialize, Serialize};

/// Error codes of the diagnostics endpoints (beside the general [`crate::activation::codes`]).
pub mod codes {
    /// The bundle (or the chunks so far) is over the server's size limit.
    pub const DIAG_TOO_LARGE: &str = "diag_too_large";
    /// The bundle is not a zip, has no manifest, or does not match its manifest.
    pub const DIAG_MALFORMED: &str = "diag_malformed";
    /// Chunks are missing; `message` names them.
    pub const DIAG_INCOMPLETE: &str = "diag_incomplete";
    /// The assembled bytes do not have the size or SHA-256 announced.
    pub const DIAG_CHECKSUM_MISMATCH: &str = "diag_checksum_mismatch";
    /// A bundle with this id was completed with other content.
    pub const DIAG_CONFLICT: &str = "diag_conflict";
    /// No bundle has this reference.
    pub const DIAG_UNKNOWN: &str = "diag_unknown";
    /// This device (client address) holds as many diagnostics bytes as the server takes from
    /// one device in a day; send again after `retry_after` seconds.
    pub const DIAG_QUOTA: &str = "diag_quota";
    /// The server's storage for diagnostics is full; send again later.
    pub const DIAG_STORAGE_FULL: &str = "diag_storage_full";
}

/// The path of the upload status of a bundle.
pub fn status_path(bundle_id: &str) -> String {
    format!("/v1/diagnostics/bundles/{bundle_id}")
}

/// The path of chunk `n` of a bundle.
pub fn chunk_path(bundle_id: &str, n: u32) -> String {
    format!("/v1/diagnostics/bundles/{bundle_id}/chunks/{n}")
}

/// The path that completes a bundle.
pub fn complete_path(bundle_id: &str) -> String {
    format!("/v1/diagnostics/bundles/{bundle_id}/complete")
}

/// The support listing path.
pub const SUPPORT_LIST_PATH: &str = "/v1/support/diagnostics";

/// The path support fetches a bundle from.
pub fn support_fetch_path(reference: &str) -> String {
    format!("{SUPPORT_LIST_PATH}/{reference}")
}

/// What the server holds of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadStatus {
    /// The bundle.
    pub bundle_id: String,
    /// Whether it is complete.
    pub complete: bool,
    /// Its reference, once complete.
    pub reference: Option<String>,
    /// The chunks received so far (while incomplete), ascending.
    pub chunks: Vec<u32>,
}

/// Reply to a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChunkReceipt {
    /// The bundle.
    pub bundle_id: String,
    /// The chunk stored.
    pub chunk: u32,
    /// Bytes of this bundle the server now holds.
    pub received_bytes: u64,
}

/// `POST …/complete`: assemble the chunks into the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteBundleRequest {
    /// Number of chunks (0 … chunks−1).
    pub chunks: u32,
    /// Size of the whole zip, bytes.
    pub size: u64,
    /// SHA-256 of the whole zip, lower-case hex.
    pub sha256: String,
}

/// Reply to [`CompleteBundleRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteBundleResponse {
    /// The bundle.
    pub bundle_id: String,
    /// The reference the user quotes to support, e.g. `DIAG-7K3P9Q`.
    pub reference: String,
    /// Size stored, bytes.
    pub size: u64,
    /// Whether the bundle had already been completed before this request.
    pub already_received: bool,
}

/// A received bundle, as support lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupportBundleSummary {
    /// The reference.
    pub reference: String,
    /// The bundle id.
    pub bundle_id: String,
    /// When it was received, Unix seconds.
    pub received_at: i64,
    /// Its size, bytes.
    pub size: u64,
    /// SHA-256 of the zip.
    pub sha256: String,
    /// When the device made it (manifest).
    pub created_at: String,
    /// The username, if the user gave it.
    pub username: Option<String>,
    /// The user's comment.
    pub comment: String,
    /// App version, platform, OS and device model (manifest).
    pub app_version: String,
    /// Platform.
    pub platform: String,
    /// Operating system.
    pub os_version: String,
    /// Device model.
    pub device_model: String,
    /// Log mode.
    pub log_mode: String,
    /// Number of files besides the manifest.
    pub files: u32,
}
