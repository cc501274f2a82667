//! The queries of diagnostics: table `diagnostic_bundles`, one row a completed bundle (its id
//! is the primary key) with its unique support reference, size, SHA-256 and the manifest's
//! summary. The bundle's bytes are files (see `bundle_store`), written before the row.

use ibkey_protocol::diagnostics::wire::SupportBundleSummary;
use ibkey_protocol::diagnostics::BundleManifest;
use rusqlite::{params, OptionalExtension as _};

use super::Db;

/// A completed bundle, as a repeated upload or completion needs it.
#[derive(Debug, Clone)]
pub(crate) struct CompletedBundle {
    /// Its support reference (`DIAG-7K3P9Q`).
    pub reference: String,
    /// SHA-256 of the bundle, lower-case hex.
    pub sha256: String,
    /// Size of the bundle, bytes.
    pub size: u64,
}

/// A bundle to record.
pub(crate) struct NewBundle<'a> {
    /// The bundle id (from the device).
    pub bundle_id: &'a str,
    /// A fresh support reference.
    pub reference: &'a str,
    /// Size, bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: &'a str,
    /// When it was received, Unix seconds.
    pub received_at: i64,
    /// The bundle's (checked) manifest.
    pub manifest: &'a BundleManifest,
}

impl Db {
    /// The completed bundle with this id.
    pub fn completed_bundle(&self, bundle_id: &str) -> rusqlite::Result<Option<CompletedBundle>> {
        self.conn()
            .query_row(
                "SELECT reference, sha256, size FROM diagnostic_bundles WHERE bundle_id = ?1",
                params![bundle_id],
                |r| {
                    Ok(CompletedBundle {
                        reference: r.get(0)?,
                        sha256: r.get(1)?,
                        size: r.get::<_, i64>(2)?.max(0) as u64,
                    })
                },
            )
            .optional()
    }

    /// Records a completed bundle. `false` if its id or reference is taken (the caller, who
    /// serialises completions, draws another reference).
    pub fn insert_bundle(&self, bundle: &NewBundle<'_>) -> rusqlite::Result<bool> {
        let m = bundle.manifest;
        let inserted = self.conn().execute(
            "INSERT OR IGNORE INTO diagnostic_bundles
               (bundle_id, reference, size, sha256, received_at, created_at, username, comment,
                app_version, platform, os_version, device_model, log_mode, files)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                bundle.bundle_id,
                bundle.reference,
                i64::try_from(bundle.size).unwrap_or(i64::MAX),
                bundle.sha256,
                bundle.received_at,
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
        Ok(inserted == 1)
    }

    /// Every received bundle, newest first.
    pub fn bundle_summaries(&self) -> rusqlite::Result<Vec<SupportBundleSummary>> {
        let conn = self.conn();
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
        rows.collect()
    }

    /// The id of the bundle with this (upper-case) reference.
    pub fn bundle_id_of_reference(&self, reference: &str) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT bundle_id FROM diagnostic_bundles WHERE reference = ?1",
                params![reference],
                |r| r.get(0),
            )
            .optional()
    }
}
