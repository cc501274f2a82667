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

use std::io::{Read, Write};

use flate2::write::DeflateEncoder;
use flate2::Compression;
use rawzip::{CompressionMethod, ZipArchiveWriter};
use serde_json::Value;

use super::har::har_document;
use super::recorder::Recorder;
use super::redact::{redact_json, scrub, RULES_VERSION};
use super::screenshot::{self, Screenshot};
use ibkey_protocol::diagnostics::{
    BundleFile, BundleManifest, FileKind, LogMode, BUNDLE_FORMAT, MANIFEST_NAME,
};
use ibkey_protocol::encoding::sha256_hex;

use super::util::{self, date_string, rfc3339_ms};
use super::{AppInfo, DiagnosticsConfig, DiagnosticsError};

/// Longest comment, characters.
pub const MAX_COMMENT_CHARS: usize = 4000;
/// Longest username, characters.
pub const MAX_USERNAME_CHARS: usize = 128;
/// What the user asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BundleRequest {
    /// What happened, in the user's words (scrubbed like the logs).
    pub comment: String,
    /// The user's name, if they choose to give it (from the login screen, before any login).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub username: Option<String>,
    /// Screenshots to attach.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub screenshots: Vec<Screenshot>,
    /// Days of logs: 1 for today only, N for today and the N−1 days before (at most the
    /// retention).
    #[cfg_attr(feature = "uniffi", uniffi(default = 1))]
    pub days: u32,
    /// Whether to include the network trace (`network.har`) of those days.
    #[cfg_attr(feature = "uniffi", uniffi(default = false))]
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

/// Exactly what would be sent: shown to the user before they agree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
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
