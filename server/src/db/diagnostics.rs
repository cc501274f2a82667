//! The queries of diagnostics: table `diagnostic_bundles`, one row a completed bundle (its id
//! is the primary key) with its unique support reference, size, SHA-256, the manifest's
//! summary and the client that completed it; table `diagnostic_uploads`, one row a chunk of
//! an unfinished upload. The bytes are files (see `bundle_store`): a bundle's written before
//! its row, a chunk's after its row reserved room for it ([`Db::reserve_chunk`], which checks
//! every limit in one transaction, so two chunks sent at once cannot together pass one).

use ibkey_protocol::diagnostics::wire::SupportBundleSummary;
use ibkey_protocol::diagnostics::BundleManifest;
use rusqlite::{params, OptionalExtension as _, Transaction, TransactionBehavior};

/// How long a completed bundle counts against its device's limit, seconds (a day).
pub(crate) const DEVICE_WINDOW_SECONDS: i64 = 86_400;

use super::Cached as _;
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
    /// The client that completed it (`rate_limit::ClientKey` shown).
    pub client: &'a str,
}

/// The limits of diagnostics on disk, bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UploadLimits {
    /// One bundle.
    pub bundle: u64,
    /// One device: its unfinished uploads and its bundles of the last [`DEVICE_WINDOW_SECONDS`].
    pub device: u64,
    /// Everything: all unfinished uploads and all bundles.
    pub total: u64,
    /// How long an unfinished upload is kept after its last chunk, seconds.
    pub upload_expiry: i64,
}

/// A chunk to reserve room for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkClaim<'a> {
    /// The bundle.
    pub bundle_id: &'a str,
    /// The chunk's number.
    pub chunk: u32,
    /// Its size, bytes.
    pub size: u64,
    /// The client sending it.
    pub client: &'a str,
    /// Now, Unix seconds.
    pub now: i64,
}

/// What reserving room for a chunk gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// Room reserved (an earlier copy of the chunk replaced); the bundle's chunks now add up
    /// to this many bytes.
    Reserved {
        /// Bytes of the bundle's chunks, this one included.
        bundle_bytes: u64,
    },
    /// The bundle's chunks would be over the bundle limit; nothing changed.
    BundleTooLarge,
    /// The device would be over its limit; nothing changed. Something of it leaves the count
    /// after `retry_after` seconds.
    DeviceFull {
        /// Seconds until a bundle or an unfinished upload of the device stops counting.
        retry_after: u64,
    },
    /// All diagnostics together would be over the total; nothing changed.
    StorageFull,
}

impl Db {
    /// The completed bundle with this id.
    pub fn completed_bundle(&self, bundle_id: &str) -> rusqlite::Result<Option<CompletedBundle>> {
        self.conn()
            .row_cached(
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

    /// Records a completed bundle and, in the same transaction, forgets the chunks of its
    /// upload. `false` if its id or reference is taken (the caller, who serialises
    /// completions, draws another reference); then nothing changed.
    pub fn insert_bundle(&self, bundle: &NewBundle<'_>) -> rusqlite::Result<bool> {
        let m = bundle.manifest;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.exec_cached(
            "INSERT OR IGNORE INTO diagnostic_bundles
               (bundle_id, reference, size, sha256, received_at, created_at, username, comment,
                app_version, platform, os_version, device_model, log_mode, files, client)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                bundle.bundle_id,
                bundle.reference,
                db_bytes(bundle.size),
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
                bundle.client,
            ],
        )?;
        if inserted != 1 {
            return Ok(false);
        }
        tx.exec_cached(
            "DELETE FROM diagnostic_uploads WHERE bundle_id = ?1",
            params![bundle.bundle_id],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Reserves room for a chunk, if every limit allows it: the bundle's chunks (this one
    /// instead of an earlier copy), the device's unfinished uploads and recent bundles, and
    /// everything on disk. One transaction, so concurrent chunks are counted one after the
    /// other.
    pub fn reserve_chunk(
        &self,
        claim: &ChunkClaim<'_>,
        limits: &UploadLimits,
    ) -> rusqlite::Result<Reservation> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let chunk = i64::from(claim.chunk);
        // Every count leaves out an earlier copy of this chunk, which this one replaces.
        let bundle = sum(
            &tx,
            "SELECT SUM(size) FROM diagnostic_uploads WHERE bundle_id = ?1 AND chunk != ?2",
            params![claim.bundle_id, chunk],
        )?;
        if bundle.saturating_add(claim.size) > limits.bundle {
            return Ok(Reservation::BundleTooLarge);
        }
        let since = claim.now.saturating_sub(DEVICE_WINDOW_SECONDS);
        let device_uploads = sum(
            &tx,
            "SELECT SUM(size) FROM diagnostic_uploads
             WHERE client = ?3 AND NOT (bundle_id = ?1 AND chunk = ?2)",
            params![claim.bundle_id, chunk, claim.client],
        )?;
        let device_bundles = sum(
            &tx,
            "SELECT SUM(size) FROM diagnostic_bundles WHERE client = ?1 AND received_at > ?2",
            params![claim.client, since],
        )?;
        if device_uploads
            .saturating_add(device_bundles)
            .saturating_add(claim.size)
            > limits.device
        {
            let retry_after = device_frees_in(&tx, claim, since, limits.upload_expiry)?;
            return Ok(Reservation::DeviceFull { retry_after });
        }
        let uploads = sum(
            &tx,
            "SELECT SUM(size) FROM diagnostic_uploads WHERE NOT (bundle_id = ?1 AND chunk = ?2)",
            params![claim.bundle_id, chunk],
        )?;
        let total =
            uploads.saturating_add(sum(&tx, "SELECT SUM(size) FROM diagnostic_bundles", [])?);
        if total.saturating_add(claim.size) > limits.total {
            return Ok(Reservation::StorageFull);
        }
        tx.exec_cached(
            "INSERT OR REPLACE INTO diagnostic_uploads (bundle_id, chunk, size, client, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                claim.bundle_id,
                chunk,
                db_bytes(claim.size),
                claim.client,
                claim.now
            ],
        )?;
        tx.commit()?;
        Ok(Reservation::Reserved {
            bundle_bytes: bundle.saturating_add(claim.size),
        })
    }

    /// Gives back the room of a chunk whose file could not be written.
    pub fn release_chunk(&self, bundle_id: &str, chunk: u32) -> rusqlite::Result<()> {
        self.conn().exec_cached(
            "DELETE FROM diagnostic_uploads WHERE bundle_id = ?1 AND chunk = ?2",
            params![bundle_id, i64::from(chunk)],
        )?;
        Ok(())
    }

    /// Forgets the chunks of an upload (its files are being dropped).
    pub fn forget_upload(&self, bundle_id: &str) -> rusqlite::Result<()> {
        self.conn().exec_cached(
            "DELETE FROM diagnostic_uploads WHERE bundle_id = ?1",
            params![bundle_id],
        )?;
        Ok(())
    }

    /// Forgets the uploads whose last chunk came `expiry` seconds or more before `now`;
    /// returns their bundle ids, for their files to be dropped.
    pub fn expire_uploads(&self, now: i64, expiry: i64) -> rusqlite::Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let expired: Vec<String> = tx
            .prepare_cached(
                "SELECT bundle_id FROM diagnostic_uploads
                 GROUP BY bundle_id HAVING MAX(updated_at) <= ?1",
            )?
            .query_map(params![now.saturating_sub(expiry)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for bundle_id in &expired {
            tx.exec_cached(
                "DELETE FROM diagnostic_uploads WHERE bundle_id = ?1",
                params![bundle_id],
            )?;
        }
        tx.commit()?;
        Ok(expired)
    }

    /// The bundle ids of every unfinished upload.
    pub fn uploads(&self) -> rusqlite::Result<Vec<String>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare_cached("SELECT DISTINCT bundle_id FROM diagnostic_uploads")?;
        let rows = statement.query_map([], |r| r.get(0))?;
        rows.collect()
    }

    /// Every received bundle, newest first.
    pub fn bundle_summaries(&self) -> rusqlite::Result<Vec<SupportBundleSummary>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
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
            .row_cached(
                "SELECT bundle_id FROM diagnostic_bundles WHERE reference = ?1",
                params![reference],
                |r| r.get(0),
            )
            .optional()
    }
}

/// A byte count as SQLite stores it.
fn db_bytes(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// The `SUM(size)` a query answers, 0 for none.
fn sum(tx: &Transaction<'_>, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<u64> {
    let total: Option<i64> = tx.row_cached(sql, params, |r| r.get(0))?;
    Ok(total.map_or(0, |t| u64::try_from(t).unwrap_or(0)))
}

/// Seconds until some of a full device's bytes stop counting: its oldest bundle of the window
/// leaves it, or its oldest unfinished upload expires (at least 1).
fn device_frees_in(
    tx: &Transaction<'_>,
    claim: &ChunkClaim<'_>,
    since: i64,
    upload_expiry: i64,
) -> rusqlite::Result<u64> {
    let oldest_bundle: Option<i64> = tx.row_cached(
        "SELECT MIN(received_at) FROM diagnostic_bundles WHERE client = ?1 AND received_at > ?2",
        params![claim.client, since],
        |r| r.get(0),
    )?;
    let oldest_upload: Option<i64> = tx.row_cached(
        "SELECT MIN(last) FROM (SELECT MAX(updated_at) AS last FROM diagnostic_uploads
                                WHERE client = ?1 GROUP BY bundle_id)",
        params![claim.client],
        |r| r.get(0),
    )?;
    let frees_at = [
        oldest_bundle.map(|t| t.saturating_add(DEVICE_WINDOW_SECONDS)),
        oldest_upload.map(|t| t.saturating_add(upload_expiry)),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(claim.now);
    Ok(u64::try_from(frees_at.saturating_sub(claim.now))
        .unwrap_or(1)
        .max(1))
}
