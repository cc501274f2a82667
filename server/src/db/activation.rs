//! The queries of activation: portal sessions (only a token's SHA-256 is stored), activation
//! tickets by session ID, and device credentials, one active per user and device.

use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::Cached as _;
use super::Db;

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

/// A user's ticket as the portal's activation page watches it: expiry, use, and the device
/// enrolled with it.
#[derive(Debug, Clone)]
pub(crate) struct WatchedTicket {
    /// The canonical session ID.
    pub session_id: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// Whether it was used.
    pub used: bool,
    /// The name of the device enrolled with it, if one was.
    pub device_name: Option<String>,
    /// Whether that device's credential is still active (not removed or revoked).
    pub device_active: bool,
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
    /// The per-account secret of offline codes, when the device sent an agreement key.
    pub offline_secret: Option<&'a [u8]>,
    /// Whether the ticket is a move ticket: the user's other active credentials are replaced
    /// by this one (revoked, with a record of the move).
    pub replaces_others: bool,
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

/// One of a user's active devices, or one replaced by a move, as the portal lists them
/// (`GET /v1/portal/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortalDevice {
    /// The credential's id (the `cid` of the enrollment receipt).
    pub credential_id: String,
    /// The device's install id.
    pub device_id: String,
    /// The name the device gave itself.
    pub device_name: String,
    /// When it was enrolled, Unix seconds.
    pub enrolled_at: i64,
    /// When it last pulled challenges or decided a login, Unix seconds (absent from older
    /// servers' replies).
    #[serde(default)]
    pub last_used_at: Option<i64>,
    /// Whether it is blocked because it answered with a counter that did not go up (its keys
    /// may have been copied): it can approve nothing until removed and activated again.
    #[serde(default)]
    pub possibly_cloned: bool,
    /// For a device replaced by a move to another phone: the name of that phone (the device is
    /// revoked and can approve nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    /// When it was replaced by that move, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_at: Option<i64>,
}

impl Db {
    /// Stores a portal session (only the token's SHA-256) and drops expired ones.
    pub fn create_portal_session(
        &self,
        token_sha256: &[u8],
        username: &str,
        now: i64,
        expires_at: i64,
    ) -> rusqlite::Result<()> {
        insert_portal_session(&self.conn(), token_sha256, username, now, expires_at)
    }

    /// The user of an unexpired portal session.
    pub fn portal_user(&self, token_sha256: &[u8], now: i64) -> rusqlite::Result<Option<String>> {
        self.conn()
            .row_cached(
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
        conn.exec_cached(
            "DELETE FROM tickets WHERE used_at IS NULL AND expires_at < ?1",
            params![issued_at - 86_400],
        )?;
        let inserted = conn.exec_cached(
            "INSERT OR IGNORE INTO tickets (session_id, username, token, issued_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session_id, username, token, issued_at, expires_at],
        )?;
        Ok(inserted == 1)
    }

    /// The ticket with this canonical session ID.
    pub fn ticket(&self, session_id: &str) -> rusqlite::Result<Option<TicketRow>> {
        self.conn()
            .row_cached(
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

    /// The newest of `username`'s tickets whose session ID ends in `last_group` (canonical),
    /// with the device enrolled with it.
    pub fn watched_ticket(
        &self,
        username: &str,
        last_group: &str,
    ) -> rusqlite::Result<Option<WatchedTicket>> {
        self.conn()
            .row_cached(
                "SELECT t.session_id, t.expires_at, t.used_at IS NOT NULL, c.device_name,
                        c.credential_id IS NOT NULL AND c.revoked_at IS NULL
                 FROM tickets t LEFT JOIN credentials c ON c.session_id = t.session_id
                 WHERE t.username = ?1 AND substr(t.session_id, -4) = ?2
                 ORDER BY t.issued_at DESC, t.rowid DESC LIMIT 1",
                params![username, last_group],
                |r| {
                    Ok(WatchedTicket {
                        session_id: r.get(0)?,
                        expires_at: r.get(1)?,
                        used: r.get(2)?,
                        device_name: r.get(3)?,
                        device_active: r.get(4)?,
                    })
                },
            )
            .optional()
    }

    /// Whether the user has an active credential on the device.
    pub fn is_enrolled(&self, username: &str, device_id: &str) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .row_cached(
                "SELECT 1 FROM credentials
                 WHERE username = ?1 AND device_id = ?2 AND revoked_at IS NULL",
                params![username, device_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// In one transaction: marks the ticket used, if nobody did yet, and stores the
    /// credential (with its offline secret), if the user has none active on the device; for
    /// a move ticket, replaces the user's other active credentials. Either all or nothing.
    pub fn complete(
        &self,
        session_id: &str,
        now: i64,
        credential: &NewCredential<'_>,
    ) -> rusqlite::Result<CompleteOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = tx.exec_cached(
            "UPDATE tickets SET used_at = ?1, device_id = ?2
             WHERE session_id = ?3 AND used_at IS NULL",
            params![now, credential.device_id, session_id],
        )?;
        if claimed != 1 {
            return Ok(CompleteOutcome::TicketAlreadyUsed);
        }
        let inserted = tx.exec_cached(
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
                if let Some(secret) = credential.offline_secret {
                    insert_offline_secret(&tx, credential.credential_id, secret)?;
                }
                if credential.replaces_others {
                    replace_other_credentials(
                        &tx,
                        credential.username,
                        credential.credential_id,
                        credential.device_name,
                        now,
                    )?;
                }
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

    /// Revokes an active credential, only if it belongs to `username` when one is given.
    /// `false` if there was no such active credential.
    pub fn revoke(
        &self,
        credential_id: &str,
        username: Option<&str>,
        now: i64,
    ) -> rusqlite::Result<bool> {
        let changed = self.conn().exec_cached(
            "UPDATE credentials SET revoked_at = ?1
             WHERE credential_id = ?2 AND revoked_at IS NULL
               AND (?3 IS NULL OR username = ?3)",
            params![now, credential_id, username],
        )?;
        Ok(changed == 1)
    }

    /// The user's active devices and those replaced by a move, oldest first.
    pub fn devices(&self, username: &str) -> rusqlite::Result<Vec<PortalDevice>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT c.credential_id, c.device_id, c.device_name, c.enrolled_at,
                    s.last_used_at, s.possibly_cloned_at IS NOT NULL, m.moved_to_device,
                    m.moved_at
             FROM credentials c LEFT JOIN credential_state s USING (credential_id)
                  LEFT JOIN credential_moves m USING (credential_id)
             WHERE c.username = ?1 AND (c.revoked_at IS NULL OR m.credential_id IS NOT NULL)
             ORDER BY c.enrolled_at, c.rowid",
        )?;
        let rows = statement.query_map(params![username], |r| {
            Ok(PortalDevice {
                credential_id: r.get(0)?,
                device_id: r.get(1)?,
                device_name: r.get(2)?,
                enrolled_at: r.get(3)?,
                last_used_at: r.get(4)?,
                possibly_cloned: r.get(5)?,
                moved_to: r.get(6)?,
                moved_at: r.get(7)?,
            })
        })?;
        rows.collect()
    }
}

/// Stores a portal session (only the token's SHA-256) on `conn`, which may be a transaction,
/// and drops expired ones: how sign-in and an approved login both make a session.
pub(super) fn insert_portal_session(
    conn: &Connection,
    token_sha256: &[u8],
    username: &str,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "DELETE FROM portal_sessions WHERE expires_at <= ?1",
        params![now],
    )?;
    conn.exec_cached(
        "INSERT INTO portal_sessions (token_sha256, username, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![token_sha256, username, now, expires_at],
    )?;
    Ok(())
}

/// Stores a credential's offline secret on `conn` (the activation's transaction).
fn insert_offline_secret(
    conn: &Connection,
    credential_id: &str,
    secret: &[u8],
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO offline_secrets (credential_id, secret) VALUES (?1, ?2)",
        params![credential_id, secret],
    )?;
    Ok(())
}

/// On `conn` (the completion's transaction of a move ticket): revokes every active credential
/// of `username` but `new_credential_id` and records that the new one, on `new_device_name`,
/// replaced them at `now`. The number replaced.
pub(super) fn replace_other_credentials(
    conn: &Connection,
    username: &str,
    new_credential_id: &str,
    new_device_name: &str,
    now: i64,
) -> rusqlite::Result<usize> {
    conn.exec_cached(
        "INSERT INTO credential_moves (credential_id, moved_to, moved_to_device, moved_at)
         SELECT credential_id, ?2, ?3, ?4 FROM credentials
         WHERE username = ?1 AND revoked_at IS NULL AND credential_id != ?2",
        params![username, new_credential_id, new_device_name, now],
    )?;
    conn.exec_cached(
        "UPDATE credentials SET revoked_at = ?3
         WHERE username = ?1 AND revoked_at IS NULL AND credential_id != ?2",
        params![username, new_credential_id, now],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
            offline_secret: None,
            replaces_others: false,
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
