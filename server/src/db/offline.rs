//! The queries of offline codes: each credential's per-account secret (table
//! `offline_secrets`, stored at activation beside the credential, with the 30-second step of
//! the last time code accepted from it) and each login's offline challenge (table
//! `offline_challenges`, one per login, used once). An offline approval decides the login the
//! way a device's decision does ([`super::approval::decide_login`]).
//!
//! The secrets are kept as they are: the server computes the phone's responses and codes
//! from them, so a digest would not do.

use ibkey_protocol::approval::LoginState;
use rusqlite::{params, OptionalExtension as _, TransactionBehavior};

use super::approval::{close_challenges, decide_login, touch};
use super::Cached as _;
use super::Db;

/// An active credential of a user that has an offline secret.
pub(crate) struct OfflineCredential {
    /// The credential's id.
    pub credential_id: String,
    /// Blocked because its counter did not go up once: it approves nothing.
    pub possibly_cloned: bool,
    /// The per-account secret (never logged).
    pub secret: Vec<u8>,
    /// The 30-second step of the last time code accepted from it.
    pub last_time_step: Option<i64>,
}

/// A login's offline challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OfflineChallengeRow {
    /// The six digits (never logged).
    pub challenge: String,
    /// Whether a response to it already approved the login.
    pub used: bool,
}

/// What approves a login offline, and what it uses up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OfflineProof {
    /// A response to the login's challenge: the challenge is used.
    Response,
    /// A time code of this 30-second step: the credential's codes up to it are used.
    TimeStep(i64),
}

/// How storing an offline approval ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OfflineOutcome {
    /// The login is approved.
    Approved,
    /// The challenge, or the credential's time step, was used meanwhile; nothing changed.
    Used,
    /// The login was decided meanwhile; nothing changed.
    LoginClosed,
}

impl Db {
    /// The user's active credentials that have an offline secret, oldest first.
    pub fn offline_credentials(&self, username: &str) -> rusqlite::Result<Vec<OfflineCredential>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT c.credential_id, s.possibly_cloned_at IS NOT NULL, o.secret,
                    o.last_time_step
             FROM credentials c JOIN offline_secrets o USING (credential_id)
                  LEFT JOIN credential_state s USING (credential_id)
             WHERE c.username = ?1 AND c.revoked_at IS NULL ORDER BY c.enrolled_at, c.rowid",
        )?;
        let rows = statement.query_map(params![username], |r| {
            Ok(OfflineCredential {
                credential_id: r.get(0)?,
                possibly_cloned: r.get::<_, Option<bool>>(1)?.unwrap_or(false),
                secret: r.get(2)?,
                last_time_step: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    /// The login's offline challenge, if one was made.
    pub fn offline_challenge(
        &self,
        login_id: &str,
    ) -> rusqlite::Result<Option<OfflineChallengeRow>> {
        self.conn()
            .row_cached(
                "SELECT challenge, used_at IS NOT NULL FROM offline_challenges
                 WHERE login_id = ?1",
                params![login_id],
                |r| {
                    Ok(OfflineChallengeRow {
                        challenge: r.get(0)?,
                        used: r.get(1)?,
                    })
                },
            )
            .optional()
    }

    /// The login's offline challenge: the one it has, or `challenge` stored as it, if the
    /// login is pending and unexpired at `now`. `None` if it is not (nothing stored).
    pub fn offline_challenge_or_insert(
        &self,
        login_id: &str,
        challenge: &str,
        now: i64,
    ) -> rusqlite::Result<Option<OfflineChallengeRow>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pending = tx
            .row_cached(
                "SELECT 1 FROM logins WHERE login_id = ?1 AND state = 'pending'
                   AND expires_at > ?2",
                params![login_id, now],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !pending {
            return Ok(None);
        }
        tx.exec_cached(
            "INSERT INTO offline_challenges (login_id, challenge, issued_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (login_id) DO NOTHING",
            params![login_id, challenge, now],
        )?;
        let row = tx.row_cached(
            "SELECT challenge, used_at IS NOT NULL FROM offline_challenges WHERE login_id = ?1",
            params![login_id],
            |r| {
                Ok(OfflineChallengeRow {
                    challenge: r.get(0)?,
                    used: r.get(1)?,
                })
            },
        )?;
        tx.commit()?;
        Ok(Some(row))
    }

    /// In one transaction: uses up what `proof` uses (if nobody did), approves the login by
    /// `credential_id` (if still pending) and closes its device challenges. All or nothing.
    pub fn approve_offline(
        &self,
        login_id: &str,
        credential_id: &str,
        proof: OfflineProof,
        now: i64,
    ) -> rusqlite::Result<OfflineOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = match proof {
            OfflineProof::Response => tx.exec_cached(
                "UPDATE offline_challenges SET used_at = ?1, used_by = ?2
                 WHERE login_id = ?3 AND used_at IS NULL",
                params![now, credential_id, login_id],
            )?,
            OfflineProof::TimeStep(step) => tx.exec_cached(
                "UPDATE offline_secrets SET last_time_step = ?1
                 WHERE credential_id = ?2 AND (last_time_step IS NULL OR last_time_step < ?1)",
                params![step, credential_id],
            )?,
        };
        if claimed != 1 {
            return Ok(OfflineOutcome::Used);
        }
        if !decide_login(&tx, login_id, LoginState::Approved, credential_id, now)? {
            return Ok(OfflineOutcome::LoginClosed);
        }
        close_challenges(&tx, login_id, now)?;
        touch(&tx, credential_id, now)?;
        tx.commit()?;
        Ok(OfflineOutcome::Approved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::activation::NewCredential;
    use crate::db::approval::NewLogin;
    use ibkey_protocol::approval::LoginContext;

    fn db_with_login(dir: &std::path::Path) -> Db {
        let db = Db::open(dir).expect("open");
        assert!(db
            .insert_ticket("S", "alice", "t", 0, 1_000)
            .expect("ticket"));
        db.complete(
            "S",
            10,
            &NewCredential {
                credential_id: "c1",
                username: "alice",
                device_id: "d1",
                device_name: "phone",
                public_key: b"k",
                offline_secret: Some(&[7u8; 32]),
                replaces_others: false,
            },
        )
        .expect("enroll");
        let context = LoginContext {
            application: "Client Portal".into(),
            ip_address: "127.0.0.1".into(),
            location: "this computer".into(),
            browser: "curl".into(),
            login_time: 100,
        };
        for login_id in ["L1", "L2"] {
            db.create_login(
                &NewLogin {
                    login_id,
                    secret_sha256: b"s",
                    username: "alice",
                    number: 42,
                    context: &context,
                    expires_at: 220,
                },
                &[],
            )
            .expect("login");
        }
        db
    }

    #[test]
    fn a_challenge_is_kept_for_its_login_and_approves_it_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db_with_login(dir.path());
        let credentials = db.offline_credentials("alice").expect("credentials");
        assert_eq!(credentials.len(), 1);
        assert_eq!(credentials[0].secret, [7u8; 32]);
        assert!(!credentials[0].possibly_cloned);
        assert!(db.offline_credentials("bob").expect("none").is_empty());

        assert_eq!(db.offline_challenge("L1").expect("none"), None);
        let first = db
            .offline_challenge_or_insert("L1", "123455", 100)
            .expect("insert")
            .expect("pending");
        let again = db
            .offline_challenge_or_insert("L1", "999999", 110)
            .expect("again")
            .expect("pending");
        assert_eq!((first.challenge.as_str(), first.used), ("123455", false));
        assert_eq!(again, first, "the first challenge is given again");
        assert_eq!(
            db.offline_challenge_or_insert("L2", "123455", 220)
                .expect("late"),
            None,
            "an expired login gets none"
        );

        assert_eq!(
            db.approve_offline("L1", "c1", OfflineProof::Response, 120)
                .expect("approve"),
            OfflineOutcome::Approved
        );
        assert_eq!(
            db.approve_offline("L1", "c1", OfflineProof::Response, 121)
                .expect("again"),
            OfflineOutcome::Used
        );
        assert!(db.offline_challenge("L1").expect("row").expect("kept").used);
        let login = db.login("L1").expect("row").expect("exists");
        assert_eq!(login.state, LoginState::Approved);
        assert_eq!(login.decided_by_name.as_deref(), Some("phone"));
    }

    #[test]
    fn time_steps_only_move_forward() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = db_with_login(dir.path());
        assert_eq!(
            db.approve_offline("L1", "c1", OfflineProof::TimeStep(50), 120)
                .expect("approve"),
            OfflineOutcome::Approved
        );
        assert_eq!(
            db.offline_credentials("alice").expect("row")[0].last_time_step,
            Some(50)
        );
        for step in [49, 50] {
            assert_eq!(
                db.approve_offline("L2", "c1", OfflineProof::TimeStep(step), 121)
                    .expect("old"),
                OfflineOutcome::Used
            );
        }
        assert_eq!(
            db.approve_offline("L1", "c1", OfflineProof::TimeStep(51), 122)
                .expect("closed"),
            OfflineOutcome::LoginClosed
        );
        assert_eq!(
            db.offline_credentials("alice").expect("row")[0].last_time_step,
            Some(50),
            "a refused approval uses nothing"
        );
        assert_eq!(
            db.approve_offline("L2", "c1", OfflineProof::TimeStep(51), 123)
                .expect("next"),
            OfflineOutcome::Approved
        );
    }
}
