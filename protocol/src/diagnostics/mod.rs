//! Support bundles on the wire: the manifest every bundle carries, the bundle id, the check
//! a server runs on an upload ([`verify_bundle`]), and the chunked upload protocol
//! ([`wire`]).
//!
//! A bundle is a zip: `manifest.json` ([`BundleManifest`]) and the files it lists, each
//! with its size and SHA-256.

pub mod wire;

use std::collections::{HashMap, HashSet};
use std::io::Read;

use rawzip::{CompressionMethod, ZipArchive};
use serde::{Deserialize, Serialize};

use crate::encoding::{crockford_value, sha256_hex, CROCKFORD};

/// The name of the manifest inside a bundle.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The version of the bundle layout.
pub const BUNDLE_FORMAT: u32 = 1;
/// Largest manifest read, bytes.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// How much the app records, as the user switches it on the diagnostics screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum LogMode {
    /// What the user did and what came of it (`info` and above).
    Normal,
    /// Debug mode: adds `debug` lines (each server request and reply, in one line).
    Debug,
    /// Extended log: adds `trace` lines and the network trace (HAR) of every exchange.
    Extended,
}

/// Characters in a bundle id: 10 for the creation time in milliseconds, 16 random.
pub const BUNDLE_ID_LEN: usize = 26;

/// Whether `id` has the form of a bundle id (26 upper-case Crockford characters).
pub fn is_bundle_id(id: &str) -> bool {
    id.len() == BUNDLE_ID_LEN && id.bytes().all(|b| CROCKFORD.contains(&b))
}

/// When a bundle id was made, Unix milliseconds (its first 10 characters), if it is one.
pub fn bundle_id_time(id: &str) -> Option<i64> {
    if !is_bundle_id(id) {
        return None;
    }
    let time = id.bytes().take(10).try_fold(0u64, |time, b| {
        Some((time << 5) | u64::from(crockford_value(b)?))
    })?;
    i64::try_from(time).ok()
}

/// What a file in a bundle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// The manifest itself (only in a preview's list).
    Manifest,
    /// A day's log.
    Log,
    /// The network trace.
    NetworkTrace,
    /// A screenshot.
    Screenshot,
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BundleFile {
    /// Its path in the zip.
    pub path: String,
    /// What it holds.
    pub kind: FileKind,
    /// Its size, bytes.
    pub size: u64,
    /// SHA-256 of its content, lower-case hex.
    pub sha256: String,
}

/// `manifest.json`: who made the bundle, with what, and every file in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BundleManifest {
    /// [`BUNDLE_FORMAT`].
    pub format: u32,
    /// The bundle's id (26 Crockford base-32 characters, time-ordered).
    pub bundle_id: String,
    /// When it was made, RFC 3339 UTC.
    pub created_at: String,
    /// The version of ibkey-core.
    pub core_version: String,
    /// The app.
    pub app_name: String,
    /// The app's version.
    pub app_version: String,
    /// `android`, `ios`, `desktop`, …
    pub platform: String,
    /// The operating system and its version.
    pub os_version: String,
    /// The device model.
    pub device_model: String,
    /// The log mode when the bundle was made.
    pub log_mode: LogMode,
    /// Whether debug mode was on (debug or extended).
    pub debug_mode: bool,
    /// Whether the extended log was on.
    pub extended_log: bool,
    /// Days of logs included.
    pub days: u32,
    /// Whether `network.har` is included.
    pub network_trace: bool,
    /// The user's comment (scrubbed).
    pub comment: String,
    /// The username, when the user gave it.
    pub username: Option<String>,
    /// The redaction rules applied (such as `ibkey-redact/1`).
    pub redaction: String,
    /// Every file of the bundle but the manifest.
    pub files: Vec<BundleFile>,
}

/// Why a zip is not a well-formed bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleCheckError {
    /// Not a zip archive.
    #[error("the upload is not a zip archive ({0})")]
    NotAZip(String),
    /// No `manifest.json` in it.
    #[error("the bundle has no manifest.json")]
    NoManifest,
    /// The manifest is not valid.
    #[error("manifest.json is not a valid bundle manifest ({0})")]
    BadManifest(String),
    /// A file listed in the manifest is missing.
    #[error("'{0}' is listed in the manifest but not in the bundle")]
    MissingFile(String),
    /// A file in the zip is not listed in the manifest.
    #[error("'{0}' is in the bundle but not listed in the manifest")]
    UnlistedFile(String),
    /// A file's size differs from the manifest.
    #[error("'{0}' does not have the size the manifest gives")]
    SizeMismatch(String),
    /// A file's SHA-256 differs from the manifest.
    #[error("'{0}' does not have the SHA-256 the manifest gives")]
    DigestMismatch(String),
    /// A path that could escape a folder when unpacked.
    #[error("the bundle holds an unsafe path '{0}'")]
    UnsafePath(String),
    /// The files add up to more than allowed once unpacked.
    #[error("the bundle unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// A file could not be decompressed.
    #[error("'{0}' cannot be decompressed")]
    Unreadable(String),
}

/// Checks that `bytes` is a bundle whose files are exactly those its manifest lists, with
/// their sizes and SHA-256, unpacking to at most `max_unpacked` bytes; returns the manifest.
pub fn verify_bundle(bytes: &[u8], max_unpacked: u64) -> Result<BundleManifest, BundleCheckError> {
    let archive =
        ZipArchive::from_slice(bytes).map_err(|e| BundleCheckError::NotAZip(e.to_string()))?;
    let mut found = HashMap::new();
    let mut entries = archive.entries();
    while let Some(entry) = entries
        .next_entry()
        .map_err(|e| BundleCheckError::NotAZip(e.to_string()))?
    {
        let name = String::from_utf8_lossy(entry.file_path().as_ref()).into_owned();
        let safe = !name.contains('\\')
            && !name.starts_with('/')
            && !name
                .split('/')
                .any(|part| part.is_empty() || part == ".." || part == ".");
        if !safe || entry.is_dir() || found.contains_key(&name) {
            return Err(BundleCheckError::UnsafePath(name));
        }
        found.insert(name, (entry.wayfinder(), entry.compression_method()));
    }
    let unpack = |name: &str, limit: u64| -> Result<Vec<u8>, BundleCheckError> {
        let unreadable = || BundleCheckError::Unreadable(name.to_string());
        let (wayfinder, method) = found
            .get(name)
            .ok_or_else(|| BundleCheckError::MissingFile(name.to_string()))?;
        let entry = archive.get_entry(*wayfinder).map_err(|_| unreadable())?;
        let decoded: Box<dyn Read + '_> = match *method {
            CompressionMethod::STORE => Box::new(entry.data()),
            CompressionMethod::DEFLATE => Box::new(flate2::read::DeflateDecoder::new(entry.data())),
            _ => return Err(unreadable()),
        };
        let mut out = Vec::new();
        entry
            .verifying_reader(decoded)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|_| unreadable())?;
        Ok(out)
    };
    if !found.contains_key(MANIFEST_NAME) {
        return Err(BundleCheckError::NoManifest);
    }
    let manifest_bytes = unpack(MANIFEST_NAME, MAX_MANIFEST_BYTES)?;
    let manifest: BundleManifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| BundleCheckError::BadManifest(e.to_string()))?;
    if !is_bundle_id(&manifest.bundle_id) {
        return Err(BundleCheckError::BadManifest(
            "the bundle id is not 26 Crockford base-32 characters".to_string(),
        ));
    }
    let mut listed = HashSet::new();
    let mut unpacked: u64 = 0;
    for file in &manifest.files {
        if file.path == MANIFEST_NAME || !listed.insert(file.path.as_str()) {
            return Err(BundleCheckError::BadManifest(format!(
                "'{}' is listed twice",
                file.path
            )));
        }
        unpacked = unpacked.saturating_add(file.size);
        if unpacked > max_unpacked {
            return Err(BundleCheckError::TooLarge(max_unpacked));
        }
        // One byte more than announced, so a longer file is seen as such.
        let content = unpack(&file.path, file.size.saturating_add(1))?;
        if content.len() as u64 != file.size {
            return Err(BundleCheckError::SizeMismatch(file.path.clone()));
        }
        if sha256_hex(&content) != file.sha256.to_ascii_lowercase() {
            return Err(BundleCheckError::DigestMismatch(file.path.clone()));
        }
    }
    if let Some(extra) = found
        .keys()
        .find(|n| n.as_str() != MANIFEST_NAME && !listed.contains(n.as_str()))
    {
        return Err(BundleCheckError::UnlistedFile(extra.clone()));
    }
    Ok(manifest)
}
