//! The SQLite store: one file in the data directory, WAL mode, foreign keys on, holding
//! every table of the server. This module opens it and owns the schema; the queries are in
//! [`activation`] (portal sessions, activation tickets, device credentials), [`approval`]
//! (logins, their challenges, per-credential counters and push tokens, the push outbox, fraud
//! reports and push mutes), [`offline`] (the per-account secrets of offline codes and the
//! login page's offline challenges), [`diagnostics`] (received diagnostics bundles and the
//! chunks of unfinished uploads) and [`lifecycle`] (moves, out-of-band codes, recovery, the
//! notification doctor's reading, per-user settings). rusqlite is
//! synchronous: the connection sits behind a std `Mutex`, held for short, await-free sections
//! only.

pub(crate) mod activation;
pub(crate) mod approval;
pub(crate) mod diagnostics;
pub(crate) mod lifecycle;
pub(crate) mod offline;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, Params, Row};

use crate::error::ServerError;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "ibkey-server.sqlite3";

/// How many compiled statements the connection keeps: more than the queries of this module.
const STATEMENT_CACHE: usize = 256;

/// The schema, created on start when missing.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS portal_sessions (
    token_sha256 BLOB PRIMARY KEY,
    username     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    session_id TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    token      TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    device_id  TEXT
);
CREATE TABLE IF NOT EXISTS credentials (
    credential_id TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    device_name   TEXT NOT NULL,
    public_key    BLOB NOT NULL,
    session_id    TEXT NOT NULL REFERENCES tickets(session_id),
    enrolled_at   INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS credentials_one_active_per_device
    ON credentials(username, device_id) WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS credentials_by_user ON credentials(username);
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
    files        INTEGER NOT NULL,
    client       TEXT
);
-- The chunks of unfinished diagnostics uploads (files in diagnostics/incoming), one row a
-- chunk: its size, the client that sent it (as the guess limiter tells clients apart) and
-- when, for the per-device and total limits and the expiry of abandoned uploads.
CREATE TABLE IF NOT EXISTS diagnostic_uploads (
    bundle_id  TEXT NOT NULL,
    chunk      INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    client     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (bundle_id, chunk)
);
CREATE INDEX IF NOT EXISTS diagnostic_uploads_by_client ON diagnostic_uploads(client);
CREATE TABLE IF NOT EXISTS logins (
    login_id              TEXT PRIMARY KEY,
    secret_sha256         BLOB NOT NULL,
    username              TEXT NOT NULL,
    number                INTEGER NOT NULL,
    application           TEXT NOT NULL,
    ip_address            TEXT NOT NULL,
    location              TEXT NOT NULL,
    browser               TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    state                 TEXT NOT NULL DEFAULT 'pending',
    decided_at            INTEGER,
    decided_by_credential TEXT,
    portal_token_sha256   BLOB
);
CREATE INDEX IF NOT EXISTS logins_by_user ON logins(username, created_at);
-- credential_id NULL: the login page's QR challenge, which any active credential of the
-- user may answer. answered_at set with decision NULL: closed because another challenge of
-- the login was decided.
CREATE TABLE IF NOT EXISTS challenges (
    challenge_id   TEXT PRIMARY KEY,
    login_id       TEXT NOT NULL REFERENCES logins(login_id),
    credential_id  TEXT,
    nonce          TEXT NOT NULL,
    context_digest TEXT NOT NULL,
    number         INTEGER,
    token          TEXT NOT NULL,
    issued_at      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    answered_at    INTEGER,
    decision       TEXT,
    answered_by    TEXT
);
CREATE INDEX IF NOT EXISTS challenges_by_login ON challenges(login_id);
CREATE INDEX IF NOT EXISTS challenges_by_credential ON challenges(credential_id, answered_at);
CREATE TABLE IF NOT EXISTS credential_state (
    credential_id      TEXT PRIMARY KEY,
    counter            INTEGER NOT NULL DEFAULT 0,
    last_used_at       INTEGER,
    possibly_cloned_at INTEGER,
    push_platform      TEXT,
    push_token         TEXT,
    push_registered_at INTEGER,
    last_push_at       INTEGER,
    last_push_error    TEXT
);
CREATE TABLE IF NOT EXISTS push_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    credential_id TEXT NOT NULL,
    username      TEXT NOT NULL,
    platform      TEXT,
    push_token    TEXT,
    payload       TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fraud_reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    login_id      TEXT NOT NULL,
    challenge_id  TEXT NOT NULL,
    reported_at   INTEGER NOT NULL,
    ip_address    TEXT NOT NULL,
    application   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS push_mutes (
    username    TEXT PRIMARY KEY,
    muted_until INTEGER NOT NULL
);
-- The per-account secret of offline codes, derived at activation (absent for credentials
-- activated before offline codes); last_time_step: the 30-second step of the last time code
-- accepted from it.
CREATE TABLE IF NOT EXISTS offline_secrets (
    credential_id  TEXT PRIMARY KEY,
    secret         BLOB NOT NULL,
    last_time_step INTEGER
);
-- A credential replaced by a move (and revoked with it): the credential that replaced it,
-- that device's name, and when.
CREATE TABLE IF NOT EXISTS credential_moves (
    credential_id   TEXT PRIMARY KEY REFERENCES credentials(credential_id),
    moved_to        TEXT NOT NULL REFERENCES credentials(credential_id),
    moved_to_device TEXT NOT NULL,
    moved_at        INTEGER NOT NULL
);
-- The one-time codes sent out of band for a move or a recovery: only the SHA-256 of the user
-- and code; for a recovery, the credential it restores; the wrong tries against it.
CREATE TABLE IF NOT EXISTS out_of_band_codes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    credential_id TEXT,
    code_sha256   BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    wrong_tries   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS out_of_band_codes_by_user ON out_of_band_codes(username, purpose);
-- What the reference notifier sent, code and all, as an SMS or e-mail would carry it.
CREATE TABLE IF NOT EXISTS out_of_band_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    username    TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    code        TEXT NOT NULL,
    destination TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
-- Per-user settings of the portal; a user without a row has the defaults.
CREATE TABLE IF NOT EXISTS user_settings (
    username       TEXT PRIMARY KEY,
    pushes_enabled INTEGER NOT NULL DEFAULT 1
);
-- The login page's offline challenge, one per login, valid while the login is pending;
-- used_at set once a response to it approved the login.
CREATE TABLE IF NOT EXISTS offline_challenges (
    login_id   TEXT PRIMARY KEY REFERENCES logins(login_id),
    challenge  TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    used_at    INTEGER,
    used_by    TEXT
);
";

/// The database.
pub(crate) struct Db {
    /// The one connection.
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (or creates) the database in `dir`, checks it, and creates the schema.
    pub fn open(dir: &Path) -> Result<Self, ServerError> {
        let path = db_path(dir);
        let fail = |e: rusqlite::Error| ServerError::Database {
            path: path.clone(),
            message: e.to_string(),
        };
        let conn = Connection::open(&path).map_err(fail)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(fail)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "SQLite refused WAL mode");
        }
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(fail)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(fail)?;
        if check != "ok" {
            return Err(ServerError::Database {
                path,
                message: format!("integrity check failed ({check})"),
            });
        }
        conn.execute_batch(SCHEMA).map_err(fail)?;
        migrate(&conn).map_err(fail)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The connection. A panic elsewhere while holding it leaves no open transaction
    /// (rusqlite rolls back on drop), so a poisoned lock is safe to take over.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Statements compiled once per connection and kept: compiling the SQL text at each request
/// was the largest share of the database's CPU time under load (`bench/load.sh`).
trait Cached {
    /// [`Connection::execute`] through the statement cache.
    fn exec_cached<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;

    /// [`Connection::query_row`] through the statement cache.
    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec_cached<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Brings a database made by an earlier version up to [`SCHEMA`]: `diagnostic_bundles` gets
/// the `client` column (NULL for bundles received before), and its index; `credential_state`
/// gets when the push token was registered and how the last push went (NULL: unknown).
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, declaration) in [
        ("diagnostic_bundles", "client", "TEXT"),
        ("credential_state", "push_registered_at", "INTEGER"),
        ("credential_state", "last_push_at", "INTEGER"),
        ("credential_state", "last_push_error", "TEXT"),
    ] {
        let present = conn
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
            .exists([table, column])?;
        if !present {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
            ))?;
        }
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS diagnostic_bundles_by_client
           ON diagnostic_bundles(client, received_at)",
    )
}

/// Path of the database file in a data directory.
fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_of_an_earlier_version_gets_the_client_of_its_bundles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = SCHEMA.replace(",\n    client       TEXT\n);", "\n);");
        assert_ne!(before, SCHEMA);
        Connection::open(db_path(dir.path()))
            .and_then(|conn| conn.execute_batch(&before))
            .expect("old database");
        let db = Db::open(dir.path()).expect("migrated");
        let columns: i64 = db
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('diagnostic_bundles') WHERE name = 'client'",
                [],
                |r| r.get(0),
            )
            .expect("columns");
        assert_eq!(columns, 1);
        drop(db);
        Db::open(dir.path()).expect("opened again");
    }

    #[test]
    fn a_database_of_an_earlier_version_gets_the_push_columns_of_the_doctor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = SCHEMA.replace(
            ",\n    push_registered_at INTEGER,\n    last_push_at       INTEGER,\n    last_push_error    TEXT\n);",
            "\n);",
        );
        assert_ne!(before, SCHEMA);
        Connection::open(db_path(dir.path()))
            .and_then(|conn| {
                conn.execute_batch(&before)?;
                conn.execute(
                    "INSERT INTO credential_state (credential_id, push_platform, push_token)
                     VALUES ('c1', 'fcm', 't')",
                    [],
                )
            })
            .expect("old database");
        let db = Db::open(dir.path()).expect("migrated");
        let status = db.push_status("c1").expect("status");
        assert_eq!(status.platform.as_deref(), Some("fcm"));
        assert_eq!(status.registered_at, None, "unknown for an old token");
        db.record_push_outcome("c1", 5, Some("refused"))
            .expect("the new columns are written");
        drop(db);
        Db::open(dir.path()).expect("opened again");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(db_path(dir.path()), vec![0x5a; 8192]).expect("write");
        match Db::open(dir.path()) {
            Err(ServerError::Database { message, .. }) => assert!(!message.is_empty()),
            Err(other) => panic!("wrong error {other}"),
            Ok(_) => panic!("opened garbage"),
        }
    }
}
