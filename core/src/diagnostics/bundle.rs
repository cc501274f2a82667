//! Support bundles: one zip with `manifest.json`, the logs of the chosen days, the network
//! trace (`network.har`) when asked, and the screenshots. Every text file is scrubbed once
//! more as it goes in ([`super::redact::scrub`]); the manifest lists every other file with
//! its size and SHA-256, and [`verify_bundle`] checks a zip against its manifest (the
//! server runs the same check).
//!
//! Layout:
//!
//! ```text
//! manifest.json
//! logs/ibkey-2026-03-01.log      one per day asked for (or logs/recent.log from memory)
//! network.har                    HAR 1.2, when the network trace is included
//! screenshots/01-<name>.png      as attached, metadata stripped
//! ```

use std::collections::HashMap;
use std::io::{Read, Write};

use flate2::write::DeflateEncoder;
use flate2::Compression;
use rawzip::{CompressionMethod, ZipArchive, ZipArchiveWriter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::har::har_document;
use super::recorder::Recorder;
use super::redact::{redact_json, scrub, RULES_VERSION};
use super::screenshot::{self, Screenshot};
use super::util::{self, date_string, rfc3339_ms, sha256_hex};
use super::{AppInfo, DiagnosticsConfig, DiagnosticsError, LogMode};

/// The name of the manifest inside a bundle.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The version of the bundle layout.
pub const BUNDLE_FORMAT: u32 = 1;
/// Longest comment, characters.
pub const MAX_COMMENT_CHARS: usize = 4000;
/// Longest username, characters.
pub const MAX_USERNAME_CHARS: usize = 128;
/// Largest manifest read, bytes.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// What the user asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRequest {
    /// What happened, in the user's words (scrubbed like the logs).
    pub comment: String,
    /// The user's name, if they choose to give it (from the login screen, before any login).
    pub username: Option<String>,
    /// Screenshots to attach.
    pub screenshots: Vec<Screenshot>,
    /// Days of logs: 1 for today only, N for today and the N−1 days before (at most the
    /// retention).
    pub days: u32,
    /// Whether to include the network trace (`network.har`) of those days.
    pub include_network_trace: bool,
}

impl Default for BundleRequest {
    fn default() -> Self {
        Self {
            comment: String::new(),
            username: None,
            screenshots: Vec::new(),
            days: 1,
            include_network_trace: false,
        }
    }
}

/// What a file in a bundle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The redaction rules applied ([`RULES_VERSION`]).
    pub redaction: String,
    /// Every file of the bundle but the manifest.
    pub files: Vec<BundleFile>,
}

/// Exactly what would be sent: shown to the user before they agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlePreview {
    /// The bundle's id.
    pub bundle_id: String,
    /// Size of the zip that would be sent, bytes.
    pub total_bytes: u64,
    /// The manifest.
    pub manifest: BundleManifest,
    /// The manifest as it is in the zip.
    pub manifest_json: String,
    /// Every file in the zip, the manifest first.
    pub files: Vec<BundleFile>,
}

/// A bundle built and checked, not sent: nothing leaves the device until it is passed to
/// [`super::Diagnostics::send`] (the user's consent).
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedBundle {
    preview: BundlePreview,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for PreparedBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedBundle")
            .field("bundle_id", &self.preview.bundle_id)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl PreparedBundle {
    /// What would be sent.
    pub fn preview(&self) -> &BundlePreview {
        &self.preview
    }

    /// The bundle's id.
    pub fn bundle_id(&self) -> &str {
        &self.preview.bundle_id
    }

    /// The zip itself (to save or share it another way).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Builds a bundle from the recorder's files and the request.
pub(crate) fn build(
    recorder: &Recorder,
    config: &DiagnosticsConfig,
    request: &BundleRequest,
) -> Result<PreparedBundle, DiagnosticsError> {
    let comment_chars = request.comment.chars().count();
    if comment_chars > MAX_COMMENT_CHARS {
        return Err(DiagnosticsError::CommentTooLong {
            length: u32::try_from(comment_chars).unwrap_or(u32::MAX),
            limit: MAX_COMMENT_CHARS as u32,
        });
    }
    let username = match request.username.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            if name.chars().count() > MAX_USERNAME_CHARS || name.chars().any(char::is_control) {
                return Err(DiagnosticsError::UsernameInvalid);
            }
            Some(name.to_string())
        }
    };
    if request.screenshots.len() > config.max_screenshots as usize {
        return Err(DiagnosticsError::TooManyScreenshots {
            count: u32::try_from(request.screenshots.len()).unwrap_or(u32::MAX),
            limit: config.max_screenshots,
        });
    }
    let screenshots = request
        .screenshots
        .iter()
        .enumerate()
        .map(|(i, shot)| screenshot::check(shot, i, config.max_screenshot_bytes))
        .collect::<Result<Vec<_>, _>>()?;

    let days = request.days.clamp(1, recorder.retention_days().max(1));
    let mut contents: Vec<(String, FileKind, Vec<u8>)> = Vec::new();
    let mut network_entries = Vec::new();
    for (day, path, network) in recorder.files_of_last_days(days) {
        let Ok(bytes) = read_capped(&path, config.max_bundle_bytes) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if network {
            if request.include_network_trace {
                network_entries.extend(text.lines().filter_map(|line| {
                    let mut entry: Value = serde_json::from_str(line).ok()?;
                    redact_json(&mut entry);
                    Some(entry)
                }));
            }
        } else {
            let name = format!("logs/ibkey-{}.log", date_string(day));
            contents.push((name, FileKind::Log, scrub(&text).into_bytes()));
        }
    }
    if !contents.iter().any(|(_, kind, _)| *kind == FileKind::Log) {
        let mut recent = recorder.recent_lines(usize::MAX).join("\n");
        recent.push('\n');
        contents.push((
            "logs/recent.log".to_string(),
            FileKind::Log,
            scrub(&recent).into_bytes(),
        ));
    }
    if request.include_network_trace {
        network_entries.sort_by(|a, b| {
            let key = |v: &Value| {
                v["startedDateTime"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            };
            key(a).cmp(&key(b))
        });
        let har = serde_json::to_vec_pretty(&har_document(network_entries)).map_err(|e| {
            DiagnosticsError::Storage {
                reason: format!("the network trace could not be written: {e}"),
            }
        })?;
        contents.push(("network.har".to_string(), FileKind::NetworkTrace, har));
    }
    for shot in screenshots {
        contents.push((shot.path, FileKind::Screenshot, shot.bytes));
    }

    let now = recorder.clock().now_unix_ms();
    let bundle_id = util::new_bundle_id(now).map_err(|_| DiagnosticsError::Storage {
        reason: "the system random generator failed".to_string(),
    })?;
    let mode = recorder.mode();
    let AppInfo {
        app_name,
        app_version,
        platform,
        os_version,
        device_model,
    } = config.app.clone();
    let manifest = BundleManifest {
        format: BUNDLE_FORMAT,
        bundle_id: bundle_id.clone(),
        created_at: rfc3339_ms(now),
        core_version: env!("CARGO_PKG_VERSION").to_string(),
        app_name,
        app_version,
        platform,
        os_version,
        device_model,
        log_mode: mode,
        debug_mode: mode != LogMode::Normal,
        extended_log: mode == LogMode::Extended,
        days,
        network_trace: request.include_network_trace,
        comment: scrub(&request.comment),
        username,
        redaction: RULES_VERSION.to_string(),
        files: contents
            .iter()
            .map(|(path, kind, bytes)| BundleFile {
                path: path.clone(),
                kind: *kind,
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect(),
    };
    let manifest_json =
        serde_json::to_string_pretty(&manifest).map_err(|e| DiagnosticsError::Storage {
            reason: format!("the manifest could not be written: {e}"),
        })?;
    let bytes =
        write_zip(now, &manifest_json, &contents).map_err(|e| DiagnosticsError::Storage {
            reason: format!("the bundle could not be packed: {e}"),
        })?;
    let total_bytes = bytes.len() as u64;
    if total_bytes > config.max_bundle_bytes {
        return Err(DiagnosticsError::BundleTooLarge {
            size: total_bytes,
            limit: config.max_bundle_bytes,
        });
    }
    let mut files = vec![BundleFile {
        path: MANIFEST_NAME.to_string(),
        kind: FileKind::Manifest,
        size: manifest_json.len() as u64,
        sha256: sha256_hex(manifest_json.as_bytes()),
    }];
    files.extend(manifest.files.iter().cloned());
    Ok(PreparedBundle {
        preview: BundlePreview {
            bundle_id,
            total_bytes,
            manifest,
            manifest_json,
            files,
        },
        bytes,
    })
}

fn read_capped(path: &std::path::Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(cap)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Packs the manifest and the files, every entry deflated (screenshots at the fastest level:
/// they hardly shrink), so that streaming readers can open it too.
fn write_zip(
    now_ms: i64,
    manifest_json: &str,
    contents: &[(String, FileKind, Vec<u8>)],
) -> Result<Vec<u8>, rawzip::Error> {
    let modified = rawzip::time::UtcDateTime::from_unix(now_ms.div_euclid(1000));
    let mut zip = ZipArchiveWriter::new(Vec::new());
    let entries = std::iter::once((MANIFEST_NAME, FileKind::Manifest, manifest_json.as_bytes()))
        .chain(
            contents
                .iter()
                .map(|(p, k, b)| (p.as_str(), *k, b.as_slice())),
        );
    for (path, kind, bytes) in entries {
        let level = if kind == FileKind::Screenshot {
            Compression::fast()
        } else {
            Compression::default()
        };
        let (mut entry, config) = zip
            .new_file(path)
            .compression_method(CompressionMethod::DEFLATE)
            .last_modified(modified)
            .unix_permissions(0o644)
            .start()?;
        let mut writer = config.wrap(DeflateEncoder::new(&mut entry, level));
        writer.write_all(bytes)?;
        let (encoder, descriptor) = writer.finish()?;
        encoder.finish()?;
        entry.finish(descriptor)?;
    }
    zip.finish()
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
    if !util::is_bundle_id(&manifest.bundle_id) {
        return Err(BundleCheckError::BadManifest(
            "the bundle id is not 26 Crockford base-32 characters".to_string(),
        ));
    }
    let mut listed = std::collections::HashSet::new();
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
