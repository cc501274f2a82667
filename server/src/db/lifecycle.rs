//! The queries of a phone's later life: where a credential stands (active, revoked, or
//! replaced by a move, table `credential_moves`), the replacement of a user's credentials by
//! a move ticket's completion, the one-time codes sent out of band (table `out_of_band_codes`,
//! only digests; the reference notifier's outbox `out_of_band_messages`), the replacement of
//! an offline secret at recovery, what the notification doctor reads of a credential, and the
//! per-user setting of login notifications (table `user_settings`).

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension as _, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::activation::CredentialRow;
use super::Cached as _;
use super::Db;
use crate::crypto::bytes_equal;

/// A message the reference notifier recorded instead of sending it (table
/// `out_of_band_messages`), as [`crate::recorded_out_of_band`] reads them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfBandMessage {
    /// Its row id, in recording order.
    pub id: i64,
    /// The user it went to.
    pub username: String,
    /// `move` or `recovery` ([`crate::OutOfBandPurpose::as_str`]).
    pub purpose: String,
    /// The six-digit code, as the user would read it.
    pub code: String,
    /// The address it went to (unmasked).
    pub destination: String,
    /// When it was recorded, Unix seconds.
    pub created_at: i64,
}

impl fmt::Debug for OutOfBandMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutOfBandMessage")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("purpose", &self.purpose)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A credential, active or not, with what a refusal or a recovery says about it.
#[derive(Debug, Clone)]
pub(crate) struct CredentialStanding {
    /// The credential's id.
    pub credential_id: String,
    /// SEC1 uncompressed public key of the device.
    pub public_key: Vec<u8>,
    /// The enrolled user.
    pub username: String,
    /// The device's install id.
    pub device_id: String,
    /// The name the device was activated with.
    pub device_name: String,
    /// When it was enrolled, Unix seconds.
    pub enrolled_at: i64,
    /// When it was revoked (also by a move), if it was.
    pub revoked_at: Option<i64>,
    /// The move that replaced it, if one did.
    pub moved: Option<MoveRecord>,
}

impl CredentialStanding {
    /// The credential as the handlers of active credentials use it.
    pub fn row(&self) -> CredentialRow {
        CredentialRow {
            public_key: self.public_key.clone(),
            username: self.username.clone(),
        }
    }
}

/// The move that replaced a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MoveRecord {
    /// The name of the device the user moved to.
    pub to_device: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// A one-time code to store (only its digest).
pub(crate) struct NewOutOfBandCode<'a> {
    /// The user it was sent to.
    pub username: &'a str,
    /// `move` or `recovery`.
    pub purpose: &'a str,
    /// The credential a recovery code restores; `None` for a move.
    pub credential_id: Option<&'a str>,
    /// SHA-256 of the user and the code.
    pub code_sha256: &'a [u8],
    /// Now, Unix seconds.
    pub now: i64,
    /// When it expires, Unix seconds.
    pub expires_at: i64,
}

/// A typed one-time code to check against the newest one sent for the same user, purpose and
/// credential.
pub(crate) struct TypedOutOfBandCode<'a> {
    /// The user.
    pub username: &'a str,
    /// `move` or `recovery`.
    pub purpose: &'a str,
    /// The credential a recovery code restores; `None` for a move.
    pub credential_id: Option<&'a str>,
    /// SHA-256 of the user and the typed code.
    pub code_sha256: &'a [u8],
    /// Now, Unix seconds.
    pub now: i64,
    /// Wrong tries after which a code is void.
    pub max_wrong_tries: u32,
}

/// How checking a typed one-time code ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeOutcome {
    /// The code was right and is now used (and what was to be done with it, done).
    Accepted,
    /// No code was sent, or the typed one is not the newest one sent (a wrong try was counted
    /// against that one, if it could still be used).
    Wrong,
    /// The right code, but it expired.
    Expired,
    /// The right code, but it was already used.
    Used,
    /// The newest code was tried wrong too often and no longer works.
    Void,
}

/// What the notification doctor reads of a credential.
#[derive(Debug, Clone, Default)]
pub(crate) struct PushStatusRow {
    /// `fcm`, `apns` or `webhook`, once a push token was registered.
    pub platform: Option<String>,
    /// The registered push token (never logged or echoed).
    pub token: Option<String>,
    /// When it was registered, Unix seconds (unknown for tokens registered before this was
    /// recorded).
    pub registered_at: Option<i64>,
    /// When the last login challenge for the credential was made, Unix seconds.
    pub last_challenge_at: Option<i64>,
    /// When a notification was last handed to the push sender, Unix seconds.
    pub last_push_at: Option<i64>,
    /// The push sender's error for that notification, if it failed.
    pub last_push_error: Option<String>,
}

impl Db {
    /// The credential with this id, active or not, with the move that replaced it.
    pub fn credential_standing(
        &self,
        credential_id: &str,
    ) -> rusqlite::Result<Option<CredentialStanding>> {
        self.conn()
            .row_cached(
                &format!("{STANDING_SELECT} WHERE c.credential_id = ?1"),
                params![credential_id],
                standing_row,
            )
            .optional()
    }

    /// The credential of this device public key (SEC1): the active one if there is one, else
    /// the newest.
    pub fn credential_by_public_key(
        &self,
        public_key: &[u8],
    ) -> rusqlite::Result<Option<CredentialStanding>> {
        self.conn()
            .row_cached(
                &format!(
                    "{STANDING_SELECT} WHERE c.public_key = ?1
                     ORDER BY c.revoked_at IS NULL DESC, c.enrolled_at DESC, c.rowid DESC
                     LIMIT 1"
                ),
                params![public_key],
                standing_row,
            )
            .optional()
    }

    /// Stores a one-time code's digest.
    pub fn store_out_of_band_code(&self, code: &NewOutOfBandCode<'_>) -> rusqlite::Result<()> {
        self.conn().exec_cached(
            "INSERT INTO out_of_band_codes
               (username, purpose, credential_id, code_sha256, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                code.username,
                code.purpose,
                code.credential_id,
                code.code_sha256,
                code.now,
                code.expires_at
            ],
        )?;
        Ok(())
    }

    /// In one transaction: checks a typed code against the newest one sent for its user,
    /// purpose and credential; a right, unused, unexpired one is marked used and `then` runs
    /// (its failure undoes it all); a wrong one counts a wrong try against the newest code
    /// while it can still be used.
    pub fn use_out_of_band_code(
        &self,
        typed: &TypedOutOfBandCode<'_>,
        then: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<CodeOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let newest = tx
            .row_cached(
                "SELECT id, code_sha256, expires_at, used_at IS NOT NULL, wrong_tries
                 FROM out_of_band_codes
                 WHERE username = ?1 AND purpose = ?2 AND credential_id IS ?3
                 ORDER BY id DESC LIMIT 1",
                params![typed.username, typed.purpose, typed.credential_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, u32>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, digest, expires_at, used, wrong_tries)) = newest else {
            return Ok(CodeOutcome::Wrong);
        };
        if wrong_tries >= typed.max_wrong_tries {
            return Ok(CodeOutcome::Void);
        }
        let expired = typed.now >= expires_at;
        if !bytes_equal(&digest, typed.code_sha256) {
            if !used && !expired {
                tx.exec_cached(
                    "UPDATE out_of_band_codes SET wrong_tries = wrong_tries + 1 WHERE id = ?1",
                    params![id],
                )?;
                tx.commit()?;
            }
            return Ok(CodeOutcome::Wrong);
        }
        if used {
            return Ok(CodeOutcome::Used);
        }
        if expired {
            return Ok(CodeOutcome::Expired);
        }
        tx.exec_cached(
            "UPDATE out_of_band_codes SET used_at = ?1 WHERE id = ?2",
            params![typed.now, id],
        )?;
        then(&tx)?;
        tx.commit()?;
        Ok(CodeOutcome::Accepted)
    }

    /// Records a code the reference notifier "sent".
    pub fn record_out_of_band(
        &self,
        username: &str,
        purpose: &str,
        code: &str,
        destination: &str,
        now: i64,
    ) -> rusqlite::Result<()> {
        self.conn().exec_cached(
            "INSERT INTO out_of_band_messages (username, purpose, code, destination, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![username, purpose, code, destination, now],
        )?;
        Ok(())
    }

    /// Every code the reference notifier recorded, oldest first.
    pub fn recorded_out_of_band(&self) -> rusqlite::Result<Vec<OutOfBandMessage>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT id, username, purpose, code, destination, created_at
             FROM out_of_band_messages ORDER BY id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(OutOfBandMessage {
                id: r.get(0)?,
                username: r.get(1)?,
                purpose: r.get(2)?,
                code: r.get(3)?,
                destination: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        rows.collect()
    }

    /// Whether logins notify the user's phones (on unless the user turned them off).
    pub fn pushes_enabled(&self, username: &str) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .row_cached(
                "SELECT pushes_enabled FROM user_settings WHERE username = ?1",
                params![username],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(true))
    }

    /// Turns the user's login notifications on or off.
    pub fn set_pushes_enabled(&self, username: &str, enabled: bool) -> rusqlite::Result<()> {
        self.conn().exec_cached(
            "INSERT INTO user_settings (username, pushes_enabled) VALUES (?1, ?2)
             ON CONFLICT (username) DO UPDATE SET pushes_enabled = excluded.pushes_enabled",
            params![username, enabled],
        )?;
        Ok(())
    }

    /// What the notification doctor reads of the credential.
    pub fn push_status(&self, credential_id: &str) -> rusqlite::Result<PushStatusRow> {
        let conn = self.conn();
        let mut status = conn
            .row_cached(
                "SELECT push_platform, push_token, push_registered_at, last_push_at,
                        last_push_error
                 FROM credential_state WHERE credential_id = ?1",
                params![credential_id],
                |r| {
                    Ok(PushStatusRow {
                        platform: r.get(0)?,
                        token: r.get(1)?,
                        registered_at: r.get(2)?,
                        last_challenge_at: None,
                        last_push_at: r.get(3)?,
                        last_push_error: r.get(4)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default();
        status.last_challenge_at = conn.row_cached(
            "SELECT max(issued_at) FROM challenges WHERE credential_id = ?1",
            params![credential_id],
            |r| r.get(0),
        )?;
        Ok(status)
    }

    /// Records how handing a notification for the credential to the push sender went at
    /// `now`: `error` is the sender's error, `None` when it took it.
    pub fn record_push_outcome(
        &self,
        credential_id: &str,
        now: i64,
        error: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.conn().exec_cached(
            "INSERT INTO credential_state (credential_id, last_push_at, last_push_error)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (credential_id) DO UPDATE SET last_push_at = excluded.last_push_at,
                 last_push_error = excluded.last_push_error",
            params![credential_id, now, error],
        )?;
        Ok(())
    }
}

/// The columns of a [`CredentialStanding`], for [`standing_row`].
const STANDING_SELECT: &str =
    "SELECT c.credential_id, c.public_key, c.username, c.device_id, c.device_name,
            c.enrolled_at, c.revoked_at, m.moved_to_device, m.moved_at
     FROM credentials c LEFT JOIN credential_moves m USING (credential_id)";

/// Reads a row of [`STANDING_SELECT`].
fn standing_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CredentialStanding> {
    let to_device: Option<String> = r.get(7)?;
    let moved_at: Option<i64> = r.get(8)?;
    Ok(CredentialStanding {
        credential_id: r.get(0)?,
        public_key: r.get(1)?,
        username: r.get(2)?,
        device_id: r.get(3)?,
        device_name: r.get(4)?,
        enrolled_at: r.get(5)?,
        revoked_at: r.get(6)?,
        moved: to_device
            .zip(moved_at)
            .map(|(to_device, at)| MoveRecord { to_device, at }),
    })
}

/// On `conn` (a recovery's transaction): replaces the credential's offline secret with
/// `secret`; the time codes of the old one no longer count.
pub(crate) fn replace_offline_secret(
    conn: &Connection,
    credential_id: &str,
    secret: &[u8],
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO offline_secrets (credential_id, secret) VALUES (?1, ?2)
         ON CONFLICT (credential_id) DO UPDATE
           SET secret = excluded.secret, last_time_step = NULL",
        params![credential_id, secret],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::activation::{replace_other_credentials, NewCredential};

    fn typed<'a>(digest: &'a [u8], now: i64) -> TypedOutOfBandCode<'a> {
        TypedOutOfBandCode {
            username: "alice",
            purpose: "move",
            credential_id: None,
            code_sha256: digest,
            now,
            max_wrong_tries: 2,
        }
    }

    #[test]
    fn a_code_is_used_once_and_void_after_its_wrong_tries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).expect("open");
        let check = |digest: &[u8], now| {
            db.use_out_of_band_code(&typed(digest, now), |_| Ok(()))
                .expect("check")
        };
        assert_eq!(check(b"right", 1), CodeOutcome::Wrong, "none sent");
        let code = |now| NewOutOfBandCode {
            username: "alice",
            purpose: "move",
            credential_id: None,
            code_sha256: b"right",
            now,
            expires_at: now + 10,
        };
        db.store_out_of_band_code(&code(1)).expect("store");
        assert_eq!(check(b"right", 11), CodeOutcome::Expired);
        assert_eq!(check(b"wrong", 11), CodeOutcome::Wrong);
        db.store_out_of_band_code(&code(20)).expect("store");
        assert_eq!(check(b"right", 21), CodeOutcome::Accepted);
        assert_eq!(check(b"right", 22), CodeOutcome::Used);
        db.store_out_of_band_code(&code(30)).expect("store");
        assert_eq!(check(b"wrong", 31), CodeOutcome::Wrong);
        assert_eq!(check(b"wrong", 31), CodeOutcome::Wrong);
        assert_eq!(check(b"right", 31), CodeOutcome::Void);
        assert_eq!(
            db.use_out_of_band_code(&typed(b"x", 31), |_| Err(rusqlite::Error::InvalidQuery))
                .expect("void before the work"),
            CodeOutcome::Void
        );
    }

    #[test]
    fn a_move_revokes_the_users_other_credentials_and_records_where_they_went() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).expect("open");
        for (sid, user, id, device) in [
            ("A", "alice", "old", "dev-1"),
            ("B", "bob", "bobs", "dev-1"),
            ("C", "alice", "new", "dev-2"),
        ] {
            db.insert_ticket(sid, user, "t", 1, 100).expect("ticket");
            db.complete(
                sid,
                2,
                &NewCredential {
                    credential_id: id,
                    username: user,
                    device_id: device,
                    device_name: "phone",
                    public_key: id.as_bytes(),
                    offline_secret: None,
                    replaces_others: false,
                },
            )
            .expect("complete");
        }
        let replaced =
            replace_other_credentials(&db.conn(), "alice", "new", "Pixel 9", 5).expect("replace");
        assert_eq!(replaced, 1);
        let old = db
            .credential_standing("old")
            .expect("read")
            .expect("exists");
        assert_eq!(old.revoked_at, Some(5));
        assert_eq!(
            old.moved,
            Some(MoveRecord {
                to_device: "Pixel 9".into(),
                at: 5
            })
        );
        for active in ["new", "bobs"] {
            let standing = db
                .credential_standing(active)
                .expect("read")
                .expect("exists");
            assert!(standing.revoked_at.is_none() && standing.moved.is_none());
        }
        let by_key = db
            .credential_by_public_key(b"old")
            .expect("read")
            .expect("exists");
        assert_eq!(by_key.credential_id, "old");
    }
}
