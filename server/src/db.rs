//! The SQLite store: portal sessions, activation tickets, device credentials. One file in
//! the data directory, WAL mode, foreign keys on. rusqlite is synchronous: the connection
//! sits behind a std `Mutex`, held for short, await-free sections only.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::error::ServerError;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "ibkey-server.sqlite3";

/// The schema, created on start when missing.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS portal_sessions (
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
";

/// A stored activation ticket.
#[derive(Debug, Clone)]
pub(crate) struct TicketRow {
    /// The portal user it enrolls.
    pub username: String,
    /// The signed ticket text (the QR payload).
    pub token: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// When it was used, if it was.
    pub used_at: Option<i64>,
}

/// An active credential, as the revoke endpoint needs it.
#[derive(Debug, Clone)]
pub(crate) struct CredentialRow {
    /// SEC1 uncompressed public key of the device.
    pub public_key: Vec<u8>,
    /// The enrolled user.
    pub username: String,
}

/// A new credential to store.
pub(crate) struct NewCredential<'a> {
    /// Random id.
    pub credential_id: &'a str,
    /// Enrolled user.
    pub username: &'a str,
    /// The device's install id.
    pub device_id: &'a str,
    /// The name the user will recognise.
    pub device_name: &'a str,
    /// SEC1 uncompressed public key.
    pub public_key: &'a [u8],
}

/// How a completion attempt ended in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompleteOutcome {
    /// Ticket marked used and credential stored.
    Enrolled,
    /// Someone used the ticket first; nothing changed.
    TicketAlreadyUsed,
    /// The user already has an active credential on the device; nothing changed.
    AlreadyEnrolled,
}

/// One of a user's active devices, as the portal lists them (`GET /v1/portal/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalDevice {
    /// The credential's id (the `cid` of the enrollment receipt).
    pub credential_id: String,
    /// The device's install id.
    pub device_id: String,
    /// The name the device gave itself.
    pub device_name: String,
    /// When it was enrolled, Unix seconds.
    pub enrolled_at: i64,
}

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
        conn.execute_batch(crate::diagnostics::SCHEMA)
            .map_err(fail)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The connection. A panic elsewhere while holding it leaves no open transaction
    /// (rusqlite rolls back on drop), so a poisoned lock is safe to take over.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores a portal session (only the token's SHA-256) and drops expired ones.
    pub fn create_portal_session(
        &self,
        token_sha256: &[u8],
        username: &str,
        now: i64,
        expires_at: i64,
    ) -> rusqlite::Result<()> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM portal_sessions WHERE expires_at <= ?1",
            params![now],
        )?;
        conn.execute(
            "INSERT INTO portal_sessions (token_sha256, username, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![token_sha256, username, now, expires_at],
        )?;
        Ok(())
    }

    /// The user of an unexpired portal session.
    pub fn portal_user(&self, token_sha256: &[u8], now: i64) -> rusqlite::Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT username FROM portal_sessions WHERE token_sha256 = ?1 AND expires_at > ?2",
                params![token_sha256, now],
                |r| r.get(0),
            )
            .optional()
    }

    /// Stores a ticket. `false` if the session ID is taken (the caller draws another).
    /// Unused tickets that expired more than a day ago are dropped first.
    pub fn insert_ticket(
        &self,
        session_id: &str,
        username: &str,
        token: &str,
        issued_at: i64,
        expires_at: i64,
    ) -> rusqlite::Result<bool> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM tickets WHERE used_at IS NULL AND expires_at < ?1",
            params![issued_at - 86_400],
        )?;
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO tickets (session_id, username, token, issued_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session_id, username, token, issued_at, expires_at],
        )?;
        Ok(inserted == 1)
    }

    /// The ticket with this canonical session ID.
    pub fn ticket(&self, session_id: &str) -> rusqlite::Result<Option<TicketRow>> {
        self.conn()
            .query_row(
                "SELECT username, token, expires_at, used_at FROM tickets WHERE session_id = ?1",
                params![session_id],
                |r| {
                    Ok(TicketRow {
                        username: r.get(0)?,
                        token: r.get(1)?,
                        expires_at: r.get(2)?,
                        used_at: r.get(3)?,
                    })
                },
            )
            .optional()
    }

    /// Whether the user has an active credential on the device.
    pub fn is_enrolled(&self, username: &str, device_id: &str) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM credentials
                 WHERE username = ?1 AND device_id = ?2 AND revoked_at IS NULL",
                params![username, device_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// In one transaction: marks the ticket used, if nobody did yet, and stores the
    /// credential, if the user has none active on the device. Either both or neither.
    pub fn complete(
        &self,
        session_id: &str,
        now: i64,
        credential: &NewCredential<'_>,
    ) -> rusqlite::Result<CompleteOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = tx.execute(
            "UPDATE tickets SET used_at = ?1, device_id = ?2
             WHERE session_id = ?3 AND used_at IS NULL",
            params![now, credential.device_id, session_id],
        )?;
        if claimed != 1 {
            return Ok(CompleteOutcome::TicketAlreadyUsed);
        }
        let inserted = tx.execute(
            "INSERT INTO credentials
               (credential_id, username, device_id, device_name, public_key, session_id, enrolled_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                credential.credential_id,
                credential.username,
                credential.device_id,
                credential.device_name,
                credential.public_key,
                session_id,
                now
            ],
        );
        match inserted {
            Ok(_) => {
                tx.commit()?;
                Ok(CompleteOutcome::Enrolled)
            }
            // The partial unique index: enrolled meanwhile with another ticket. Dropping
            // `tx` rolls the ticket update back.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Ok(CompleteOutcome::AlreadyEnrolled)
            }
            Err(e) => Err(e),
        }
    }

    /// The active credential with this id.
    pub fn active_credential(
        &self,
        credential_id: &str,
    ) -> rusqlite::Result<Option<CredentialRow>> {
        self.conn()
            .query_row(
                "SELECT public_key, username FROM credentials
                 WHERE credential_id = ?1 AND revoked_at IS NULL",
                params![credential_id],
                |r| {
                    Ok(CredentialRow {
                        public_key: r.get(0)?,
                        username: r.get(1)?,
                    })
                },
            )
            .optional()
    }

    /// Revokes an active credential, only if it belongs to `username` when one is given.
    /// `false` if there was no such active credential.
    pub fn revoke(
        &self,
        credential_id: &str,
        username: Option<&str>,
        now: i64,
    ) -> rusqlite::Result<bool> {
        let changed = self.conn().execute(
            "UPDATE credentials SET revoked_at = ?1
             WHERE credential_id = ?2 AND revoked_at IS NULL
               AND (?3 IS NULL OR username = ?3)",
            params![now, credential_id, username],
        )?;
        Ok(changed == 1)
    }

    /// The user's active devices, oldest first.
    pub fn devices(&self, username: &str) -> rusqlite::Result<Vec<PortalDevice>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT credential_id, device_id, device_name, enrolled_at FROM credentials
             WHERE username = ?1 AND revoked_at IS NULL ORDER BY enrolled_at, rowid",
        )?;
        let rows = statement.query_map(params![username], |r| {
            Ok(PortalDevice {
                credential_id: r.get(0)?,
                device_id: r.get(1)?,
                device_name: r.get(2)?,
                enrolled_at: r.get(3)?,
            })
        })?;
        rows.collect()
    }
}

/// Path of the database file in a data directory.
pub(crate) fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn one_active_credential_per_user_and_device() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).expect("open");
        for sid in ["A", "B"] {
            assert!(db.insert_ticket(sid, "alice", "t", 1, 100).expect("ticket"));
        }
        assert!(!db.insert_ticket("A", "alice", "t", 1, 100).expect("dup"));
        let cred = |id| NewCredential {
            credential_id: id,
            username: "alice",
            device_id: "dev",
            device_name: "phone",
            public_key: b"k",
        };
        assert_eq!(
            db.complete("A", 2, &cred("c1")).expect("first"),
            CompleteOutcome::Enrolled
        );
        assert_eq!(
            db.complete("A", 2, &cred("c9")).expect("again"),
            CompleteOutcome::TicketAlreadyUsed
        );
        assert_eq!(
            db.complete("B", 3, &cred("c2")).expect("second"),
            CompleteOutcome::AlreadyEnrolled
        );
        assert_eq!(db.ticket("B").expect("row").expect("exists").used_at, None);
        assert!(db.revoke("c1", Some("bob"), 4).is_ok_and(|done| !done));
        assert!(db.revoke("c1", Some("alice"), 4).expect("revoke"));
        assert_eq!(
            db.complete("B", 5, &cred("c2")).expect("re-enroll"),
            CompleteOutcome::Enrolled
        );
        let devices = db.devices("alice").expect("list");
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].credential_id, "c2");
    }
}
