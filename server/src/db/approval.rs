//! The queries of login approval: logins (only the login secret's and the issued portal
//! token's SHA-256 are stored) and their challenges (one per device, and the login page's QR
//! challenge), each credential's counter, last use, clone block and push token (table
//! `credential_state`, beside the `credentials` table it extends), the reference push outbox,
//! fraud reports and push mutes. How a login is decided ([`decide_login`], [`close_challenges`])
//! is shared with the offline approvals of [`super::offline`].

use std::fmt;

use ibkey_protocol::approval::{Decision, LoginContext, LoginState};
use rusqlite::types::Type;
use rusqlite::{params, OptionalExtension as _, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::activation::insert_portal_session;
use super::Cached as _;
use super::Db;

/// A login to store.
pub(crate) struct NewLogin<'a> {
    /// Random id.
    pub login_id: &'a str,
    /// SHA-256 of the login secret.
    pub secret_sha256: &'a [u8],
    /// The user logging in.
    pub username: &'a str,
    /// The number the login page shows.
    pub number: u8,
    /// What the user is shown about the login.
    pub context: &'a LoginContext,
    /// When it expires unless a QR challenge extends it, Unix seconds.
    pub expires_at: i64,
}

/// A challenge to store.
pub(crate) struct NewChallenge {
    /// Random id.
    pub challenge_id: String,
    /// The credential it was sent to; `None` for the QR challenge.
    pub credential_id: Option<String>,
    /// The nonce the decision signs.
    pub nonce: String,
    /// [`LoginContext::digest`] of the login's context.
    pub context_digest: String,
    /// The number to match; `None` for the QR challenge.
    pub number: Option<u8>,
    /// The signed challenge (what the device receives).
    pub token: String,
    /// Issued at, Unix seconds.
    pub issued_at: i64,
    /// Expires at, Unix seconds.
    pub expires_at: i64,
}

/// A stored login.
pub(crate) struct LoginRow {
    /// SHA-256 of the login secret.
    pub secret_sha256: Vec<u8>,
    /// The user logging in.
    pub username: String,
    /// The login's context.
    pub context: LoginContext,
    /// The number to match on the device.
    pub number: u8,
    /// When it expires, Unix seconds.
    pub expires_at: i64,
    /// The state as stored: `Pending` even after expiry (see [`LoginRow::state_at`]).
    pub state: LoginState,
    /// When a device decided.
    pub decided_at: Option<i64>,
    /// The name of the device that decided.
    pub decided_by_name: Option<String>,
    /// Whether the portal session of an approval was handed out.
    pub portal_token_issued: bool,
}

impl LoginRow {
    /// The state at `now`: a pending login past its expiry is expired.
    pub fn state_at(&self, now: i64) -> LoginState {
        effective_state(self.state, self.expires_at, now)
    }
}

/// An active credential of a user, as a login needs it.
pub(crate) struct ApprovalCredential {
    /// The credential's id.
    pub credential_id: String,
    /// The name the device gave itself.
    pub device_name: String,
    /// Blocked because its counter did not go up once.
    pub possibly_cloned: bool,
    /// `fcm`, `apns` or `webhook`, once the device registered a push token.
    pub push_platform: Option<String>,
    /// The registered push token.
    pub push_token: Option<String>,
}

/// A stored challenge with what its decision needs of its login.
pub(crate) struct ChallengeRow {
    /// The login.
    pub login_id: String,
    /// The login's user.
    pub username: String,
    /// The credential it was sent to; `None` for the QR challenge.
    pub credential_id: Option<String>,
    /// The nonce the decision signs.
    pub nonce: String,
    /// The context digest the decision must carry.
    pub context_digest: String,
    /// The number an approval must carry; `None` for the QR challenge.
    pub number: Option<u8>,
    /// Expires at, Unix seconds.
    pub expires_at: i64,
    /// Whether it was answered or closed.
    pub answered: bool,
    /// The login's stored state.
    pub login_state: LoginState,
    /// The login's IP address (for a fraud report).
    pub ip_address: String,
    /// The login's application (for a fraud report).
    pub application: String,
}

/// A credential's approval counter and clone block.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CounterState {
    /// The counter of its last accepted decision (0 before the first).
    pub counter: i64,
    /// Whether it is blocked as possibly cloned.
    pub possibly_cloned: bool,
}

/// A decision to store.
pub(crate) struct DecisionWrite<'a> {
    /// The challenge answered.
    pub challenge_id: &'a str,
    /// Its login.
    pub login_id: &'a str,
    /// The credential that decided.
    pub credential_id: &'a str,
    /// What it decided.
    pub decision: Decision,
    /// The login's state after the decision.
    pub state: LoginState,
    /// The decision's counter, to store as the credential's new one.
    pub counter: i64,
    /// Now, Unix seconds.
    pub now: i64,
    /// For a "this wasn't me" report: what to record, and the mute.
    pub fraud: Option<FraudWrite<'a>>,
}

/// A fraud report to record with its decision.
pub(crate) struct FraudWrite<'a> {
    /// The user.
    pub username: &'a str,
    /// The login's IP address.
    pub ip_address: &'a str,
    /// The login's application.
    pub application: &'a str,
    /// Until when the user's pushes are muted, Unix seconds.
    pub muted_until: i64,
}

/// How storing a decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecideOutcome {
    /// Stored.
    Decided,
    /// The challenge was answered or closed meanwhile; nothing changed.
    ChallengeAnswered,
    /// The login was decided meanwhile; nothing changed.
    LoginClosed,
    /// The credential's stored counter is not below the decision's (a concurrent decision
    /// stored it); nothing changed.
    CounterNotAbove,
}

/// One of a user's recent logins, as the portal lists them (`GET /v1/portal/activity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortalLogin {
    /// The login's id.
    pub login_id: String,
    /// The application logged in to.
    pub application: String,
    /// The IP address the login came from.
    pub ip_address: String,
    /// Where that address is, roughly.
    pub location: String,
    /// The browser and system.
    pub browser: String,
    /// When the password was accepted, Unix seconds.
    pub created_at: i64,
    /// Where the login stands (a pending login past its expiry is `expired`).
    pub state: LoginState,
    /// When a device decided, Unix seconds.
    pub decided_at: Option<i64>,
    /// The device that decided.
    pub device_name: Option<String>,
}

/// A "this wasn't me" report, as the portal lists them (`GET /v1/portal/fraud-reports`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FraudReport {
    /// The reported login.
    pub login_id: String,
    /// The challenge the report answered.
    pub challenge_id: String,
    /// The credential that reported.
    pub credential_id: String,
    /// The name of the device that reported (absent if its credential is gone).
    pub device_name: Option<String>,
    /// When it was reported, Unix seconds.
    pub reported_at: i64,
    /// The IP address the reported login came from.
    pub ip_address: String,
    /// The application the reported login was for.
    pub application: String,
}

/// A push the reference sender recorded instead of sending (table `push_messages`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPush {
    /// Its row id, in recording order.
    pub id: i64,
    /// The user notified.
    pub username: String,
    /// The credential notified.
    pub credential_id: String,
    /// The credential's push platform, if it registered one.
    pub platform: Option<String>,
    /// The credential's push token, if it registered one.
    pub push_token: Option<String>,
    /// The JSON of the `PushPayload` (the signed login challenge inside).
    pub payload: String,
    /// When it was recorded, Unix seconds.
    pub created_at: i64,
}

impl fmt::Debug for RecordedPush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedPush")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("credential_id", &self.credential_id)
            .field("platform", &self.platform)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Stores a login and its first challenges in one transaction.
    pub fn create_login(
        &self,
        login: &NewLogin<'_>,
        challenges: &[NewChallenge],
    ) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ctx = login.context;
        tx.exec_cached(
            "INSERT INTO logins (login_id, secret_sha256, username, number, application,
                 ip_address, location, browser, created_at, expires_at, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending')",
            params![
                login.login_id,
                login.secret_sha256,
                login.username,
                login.number,
                ctx.application,
                ctx.ip_address,
                ctx.location,
                ctx.browser,
                ctx.login_time,
                login.expires_at
            ],
        )?;
        for challenge in challenges {
            insert_challenge(&tx, login.login_id, challenge)?;
        }
        tx.commit()
    }

    /// The login with this id.
    pub fn login(&self, login_id: &str) -> rusqlite::Result<Option<LoginRow>> {
        self.conn()
            .row_cached(
                "SELECT l.secret_sha256, l.username, l.application, l.ip_address, l.location,
                        l.browser, l.created_at, l.expires_at, l.state, l.decided_at,
                        c.device_name, l.portal_token_sha256 IS NOT NULL, l.number
                 FROM logins l LEFT JOIN credentials c
                   ON c.credential_id = l.decided_by_credential
                 WHERE l.login_id = ?1",
                params![login_id],
                |r| {
                    Ok(LoginRow {
                        secret_sha256: r.get(0)?,
                        username: r.get(1)?,
                        context: LoginContext {
                            application: r.get(2)?,
                            ip_address: r.get(3)?,
                            location: r.get(4)?,
                            browser: r.get(5)?,
                            login_time: r.get(6)?,
                        },
                        expires_at: r.get(7)?,
                        state: state_column(r, 8)?,
                        decided_at: r.get(9)?,
                        decided_by_name: r.get(10)?,
                        portal_token_issued: r.get(11)?,
                        number: r.get(12)?,
                    })
                },
            )
            .optional()
    }

    /// The user's active credentials with their approval state, oldest first.
    pub fn approval_credentials(
        &self,
        username: &str,
    ) -> rusqlite::Result<Vec<ApprovalCredential>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT c.credential_id, c.device_name, s.possibly_cloned_at IS NOT NULL,
                    s.push_platform, s.push_token
             FROM credentials c LEFT JOIN credential_state s USING (credential_id)
             WHERE c.username = ?1 AND c.revoked_at IS NULL ORDER BY c.enrolled_at, c.rowid",
        )?;
        let rows = statement.query_map(params![username], |r| {
            Ok(ApprovalCredential {
                credential_id: r.get(0)?,
                device_name: r.get(1)?,
                possibly_cloned: r.get(2)?,
                push_platform: r.get(3)?,
                push_token: r.get(4)?,
            })
        })?;
        rows.collect()
    }

    /// Until when the user's pushes are muted, if they are at `now`.
    pub fn push_muted_until(&self, username: &str, now: i64) -> rusqlite::Result<Option<i64>> {
        self.conn()
            .row_cached(
                "SELECT muted_until FROM push_mutes WHERE username = ?1 AND muted_until > ?2",
                params![username, now],
                |r| r.get(0),
            )
            .optional()
    }

    /// Records a push in the outbox (what the reference push sender does instead of sending).
    pub fn record_push(
        &self,
        username: &str,
        credential_id: &str,
        platform: Option<&str>,
        push_token: Option<&str>,
        payload: &str,
        now: i64,
    ) -> rusqlite::Result<()> {
        self.conn().exec_cached(
            "INSERT INTO push_messages
               (credential_id, username, platform, push_token, payload, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![credential_id, username, platform, push_token, payload, now],
        )?;
        Ok(())
    }

    /// Every recorded push, oldest first.
    pub fn recorded_pushes(&self) -> rusqlite::Result<Vec<RecordedPush>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT id, username, credential_id, platform, push_token, payload, created_at
             FROM push_messages ORDER BY id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(RecordedPush {
                id: r.get(0)?,
                username: r.get(1)?,
                credential_id: r.get(2)?,
                platform: r.get(3)?,
                push_token: r.get(4)?,
                payload: r.get(5)?,
                created_at: r.get(6)?,
            })
        })?;
        rows.collect()
    }

    /// The login's unanswered QR challenge that is still valid at `now`: its token and expiry.
    pub fn open_qr_challenge(
        &self,
        login_id: &str,
        now: i64,
    ) -> rusqlite::Result<Option<(String, i64)>> {
        self.conn()
            .row_cached(
                "SELECT token, expires_at FROM challenges
                 WHERE login_id = ?1 AND credential_id IS NULL AND answered_at IS NULL
                   AND expires_at > ?2
                 ORDER BY expires_at DESC LIMIT 1",
                params![login_id, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
    }

    /// Stores a QR challenge for a pending login and lets the login live as long as it.
    /// `false` if the login is no longer pending (nothing stored).
    pub fn add_qr_challenge(
        &self,
        login_id: &str,
        challenge: &NewChallenge,
    ) -> rusqlite::Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let extended = tx.exec_cached(
            "UPDATE logins SET expires_at = max(expires_at, ?1)
             WHERE login_id = ?2 AND state = 'pending' AND expires_at > ?3",
            params![challenge.expires_at, login_id, challenge.issued_at],
        )?;
        if extended != 1 {
            return Ok(false);
        }
        insert_challenge(&tx, login_id, challenge)?;
        tx.commit()?;
        Ok(true)
    }

    /// The challenge with this id, with its login's user and state.
    pub fn challenge(&self, challenge_id: &str) -> rusqlite::Result<Option<ChallengeRow>> {
        self.conn()
            .row_cached(
                "SELECT ch.login_id, l.username, ch.credential_id, ch.nonce, ch.context_digest,
                        ch.number, ch.expires_at, ch.answered_at IS NOT NULL, l.state,
                        l.ip_address, l.application
                 FROM challenges ch JOIN logins l USING (login_id)
                 WHERE ch.challenge_id = ?1",
                params![challenge_id],
                |r| {
                    Ok(ChallengeRow {
                        login_id: r.get(0)?,
                        username: r.get(1)?,
                        credential_id: r.get(2)?,
                        nonce: r.get(3)?,
                        context_digest: r.get(4)?,
                        number: r.get(5)?,
                        expires_at: r.get(6)?,
                        answered: r.get(7)?,
                        login_state: state_column(r, 8)?,
                        ip_address: r.get(9)?,
                        application: r.get(10)?,
                    })
                },
            )
            .optional()
    }

    /// The credential's counter and clone block (zero and unblocked before its first use).
    pub fn counter_state(&self, credential_id: &str) -> rusqlite::Result<CounterState> {
        Ok(self
            .conn()
            .row_cached(
                "SELECT counter, possibly_cloned_at IS NOT NULL FROM credential_state
                 WHERE credential_id = ?1",
                params![credential_id],
                |r| {
                    Ok(CounterState {
                        counter: r.get(0)?,
                        possibly_cloned: r.get(1)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Notes that the credential made a signed request at `now`.
    pub fn touch_credential(&self, credential_id: &str, now: i64) -> rusqlite::Result<()> {
        touch(&self.conn(), credential_id, now)
    }

    /// Stores where the credential's login notifications go, registered at `now`.
    pub fn set_push_token(
        &self,
        credential_id: &str,
        platform: &str,
        token: &str,
        now: i64,
    ) -> rusqlite::Result<()> {
        self.conn().exec_cached(
            "INSERT INTO credential_state
                 (credential_id, last_used_at, push_platform, push_token, push_registered_at)
             VALUES (?1, ?2, ?3, ?4, ?2)
             ON CONFLICT (credential_id) DO UPDATE SET last_used_at = excluded.last_used_at,
                 push_platform = excluded.push_platform, push_token = excluded.push_token,
                 push_registered_at = excluded.push_registered_at",
            params![credential_id, now, platform, token],
        )?;
        Ok(())
    }

    /// The signed tokens of the credential's unanswered challenges, unexpired at `now`, whose
    /// login is pending: oldest first.
    pub fn pending_challenges(
        &self,
        credential_id: &str,
        now: i64,
    ) -> rusqlite::Result<Vec<String>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT ch.token FROM challenges ch JOIN logins l USING (login_id)
             WHERE ch.credential_id = ?1 AND ch.answered_at IS NULL AND ch.expires_at > ?2
               AND l.state = 'pending'
             ORDER BY ch.issued_at, ch.rowid",
        )?;
        let rows = statement.query_map(params![credential_id, now], |r| r.get(0))?;
        rows.collect()
    }

    /// In one transaction: marks the challenge answered (if nobody did), decides the login (if
    /// still pending), stores the counter (if above the stored one), closes the login's other
    /// challenges, and records a fraud report and the push mute. All or nothing.
    pub fn decide(&self, write: &DecisionWrite<'_>) -> rusqlite::Result<DecideOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = tx.exec_cached(
            "UPDATE challenges SET answered_at = ?1, decision = ?2, answered_by = ?3
             WHERE challenge_id = ?4 AND answered_at IS NULL",
            params![
                write.now,
                write.decision.as_str(),
                write.credential_id,
                write.challenge_id
            ],
        )?;
        if claimed != 1 {
            return Ok(DecideOutcome::ChallengeAnswered);
        }
        if !decide_login(
            &tx,
            write.login_id,
            write.state,
            write.credential_id,
            write.now,
        )? {
            return Ok(DecideOutcome::LoginClosed);
        }
        let counted = tx.exec_cached(
            "INSERT INTO credential_state (credential_id, counter, last_used_at)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (credential_id) DO UPDATE
               SET counter = excluded.counter, last_used_at = excluded.last_used_at
               WHERE credential_state.counter < excluded.counter",
            params![write.credential_id, write.counter, write.now],
        )?;
        if counted != 1 || write.counter < 1 {
            return Ok(DecideOutcome::CounterNotAbove);
        }
        close_challenges(&tx, write.login_id, write.now)?;
        if let Some(fraud) = &write.fraud {
            tx.exec_cached(
                "INSERT INTO fraud_reports (username, credential_id, login_id, challenge_id,
                     reported_at, ip_address, application)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    fraud.username,
                    write.credential_id,
                    write.login_id,
                    write.challenge_id,
                    write.now,
                    fraud.ip_address,
                    fraud.application
                ],
            )?;
            tx.exec_cached(
                "INSERT INTO push_mutes (username, muted_until) VALUES (?1, ?2)
                 ON CONFLICT (username) DO UPDATE
                   SET muted_until = max(muted_until, excluded.muted_until)",
                params![fraud.username, fraud.muted_until],
            )?;
        }
        tx.commit()?;
        Ok(DecideOutcome::Decided)
    }

    /// In one transaction: blocks the credential as possibly cloned, refuses the login (if
    /// still pending) as `possibly_cloned` and closes its challenges.
    pub fn block_possibly_cloned(
        &self,
        credential_id: &str,
        login_id: &str,
        now: i64,
    ) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.exec_cached(
            "INSERT INTO credential_state (credential_id, possibly_cloned_at) VALUES (?1, ?2)
             ON CONFLICT (credential_id) DO UPDATE
               SET possibly_cloned_at = coalesce(possibly_cloned_at, excluded.possibly_cloned_at)",
            params![credential_id, now],
        )?;
        decide_login(
            &tx,
            login_id,
            LoginState::PossiblyCloned,
            credential_id,
            now,
        )?;
        close_challenges(&tx, login_id, now)?;
        tx.commit()
    }

    /// In one transaction: notes that the approved login's portal session was issued and
    /// stores that session, only if none was issued for the login yet. `false` if one was
    /// (nothing stored).
    pub fn issue_login_portal_session(
        &self,
        login_id: &str,
        token_sha256: &[u8],
        username: &str,
        now: i64,
        expires_at: i64,
    ) -> rusqlite::Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = tx.exec_cached(
            "UPDATE logins SET portal_token_sha256 = ?1
             WHERE login_id = ?2 AND state = 'approved' AND portal_token_sha256 IS NULL",
            params![token_sha256, login_id],
        )?;
        if claimed != 1 {
            return Ok(false);
        }
        insert_portal_session(&tx, token_sha256, username, now, expires_at)?;
        tx.commit()?;
        Ok(true)
    }

    /// The user's last 50 logins, newest first, with their state at `now`.
    pub fn recent_logins(&self, username: &str, now: i64) -> rusqlite::Result<Vec<PortalLogin>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT l.login_id, l.application, l.ip_address, l.location, l.browser,
                    l.created_at, l.state, l.expires_at, l.decided_at, c.device_name
             FROM logins l LEFT JOIN credentials c ON c.credential_id = l.decided_by_credential
             WHERE l.username = ?1 ORDER BY l.created_at DESC, l.rowid DESC LIMIT 50",
        )?;
        let rows = statement.query_map(params![username], |r| {
            Ok(PortalLogin {
                login_id: r.get(0)?,
                application: r.get(1)?,
                ip_address: r.get(2)?,
                location: r.get(3)?,
                browser: r.get(4)?,
                created_at: r.get(5)?,
                state: effective_state(state_column(r, 6)?, r.get(7)?, now),
                decided_at: r.get(8)?,
                device_name: r.get(9)?,
            })
        })?;
        rows.collect()
    }

    /// The user's fraud reports, newest first.
    pub fn fraud_reports(&self, username: &str) -> rusqlite::Result<Vec<FraudReport>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT f.login_id, f.challenge_id, f.credential_id, c.device_name, f.reported_at,
                    f.ip_address, f.application
             FROM fraud_reports f LEFT JOIN credentials c USING (credential_id)
             WHERE f.username = ?1 ORDER BY f.id DESC",
        )?;
        let rows = statement.query_map(params![username], |r| {
            Ok(FraudReport {
                login_id: r.get(0)?,
                challenge_id: r.get(1)?,
                credential_id: r.get(2)?,
                device_name: r.get(3)?,
                reported_at: r.get(4)?,
                ip_address: r.get(5)?,
                application: r.get(6)?,
            })
        })?;
        rows.collect()
    }
}

/// Inserts a challenge of `login_id` on `conn` (a transaction).
fn insert_challenge(
    conn: &rusqlite::Connection,
    login_id: &str,
    challenge: &NewChallenge,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO challenges (challenge_id, login_id, credential_id, nonce, context_digest,
             number, token, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            challenge.challenge_id,
            login_id,
            challenge.credential_id,
            challenge.nonce,
            challenge.context_digest,
            challenge.number,
            challenge.token,
            challenge.issued_at,
            challenge.expires_at
        ],
    )?;
    Ok(())
}

/// Notes on `conn` (which may be a transaction) that the credential was used at `now`.
pub(super) fn touch(
    conn: &rusqlite::Connection,
    credential_id: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "INSERT INTO credential_state (credential_id, last_used_at) VALUES (?1, ?2)
         ON CONFLICT (credential_id) DO UPDATE SET last_used_at = excluded.last_used_at",
        params![credential_id, now],
    )?;
    Ok(())
}

/// Decides the login on `conn` (a transaction), if it is still pending: its new state, when,
/// and the credential that decided. `false` if it was no longer pending (nothing changed).
pub(super) fn decide_login(
    conn: &rusqlite::Connection,
    login_id: &str,
    state: LoginState,
    credential_id: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let decided = conn.exec_cached(
        "UPDATE logins SET state = ?1, decided_at = ?2, decided_by_credential = ?3
         WHERE login_id = ?4 AND state = 'pending'",
        params![state_name(state), now, credential_id, login_id],
    )?;
    Ok(decided == 1)
}

/// Closes the login's unanswered challenges (answered, no decision).
pub(super) fn close_challenges(
    conn: &rusqlite::Connection,
    login_id: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.exec_cached(
        "UPDATE challenges SET answered_at = ?1 WHERE login_id = ?2 AND answered_at IS NULL",
        params![now, login_id],
    )?;
    Ok(())
}

/// A pending login past its expiry is expired.
fn effective_state(stored: LoginState, expires_at: i64, now: i64) -> LoginState {
    if stored == LoginState::Pending && now >= expires_at {
        LoginState::Expired
    } else {
        stored
    }
}

/// The column value of a state (the snake_case of its wire name).
pub(crate) fn state_name(state: LoginState) -> &'static str {
    match state {
        LoginState::Pending => "pending",
        LoginState::Approved => "approved",
        LoginState::Denied => "denied",
        LoginState::ReportedFraud => "reported_fraud",
        LoginState::WrongNumber => "wrong_number",
        LoginState::PossiblyCloned => "possibly_cloned",
        LoginState::Expired => "expired",
    }
}

/// Reads a state column.
fn state_column(row: &Row<'_>, index: usize) -> rusqlite::Result<LoginState> {
    let text: String = row.get(index)?;
    [
        LoginState::Pending,
        LoginState::Approved,
        LoginState::Denied,
        LoginState::ReportedFraud,
        LoginState::WrongNumber,
        LoginState::PossiblyCloned,
        LoginState::Expired,
    ]
    .into_iter()
    .find(|state| state_name(*state) == text)
    .ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            Type::Text,
            format!("unknown login state {text:?}").into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> LoginContext {
        LoginContext {
            application: "Client Portal".into(),
            ip_address: "127.0.0.1".into(),
            location: "this computer".into(),
            browser: "curl".into(),
            login_time: 100,
        }
    }

    fn challenge(id: &str, credential_id: Option<&str>, expires_at: i64) -> NewChallenge {
        NewChallenge {
            challenge_id: id.into(),
            credential_id: credential_id.map(str::to_string),
            nonce: "n".into(),
            context_digest: "d".into(),
            number: credential_id.map(|_| 42),
            token: format!("token-{id}"),
            issued_at: 100,
            expires_at,
        }
    }

    fn decision<'a>(challenge_id: &'a str, counter: i64) -> DecisionWrite<'a> {
        DecisionWrite {
            challenge_id,
            login_id: "L",
            credential_id: "c1",
            decision: Decision::Approve,
            state: LoginState::Approved,
            counter,
            now: 110,
            fraud: None,
        }
    }

    #[test]
    fn a_login_is_decided_once_and_closes_its_other_challenges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).expect("open");
        let ctx = context();
        db.create_login(
            &NewLogin {
                login_id: "L",
                secret_sha256: b"s",
                username: "alice",
                number: 42,
                context: &ctx,
                expires_at: 220,
            },
            &[
                challenge("A", Some("c1"), 220),
                challenge("B", Some("c2"), 220),
            ],
        )
        .expect("create");
        assert_eq!(
            db.pending_challenges("c1", 150).expect("pending"),
            ["token-A"]
        );
        assert!(db.pending_challenges("c1", 220).expect("late").is_empty());
        assert!(db
            .add_qr_challenge("L", &challenge("Q", None, 400))
            .expect("qr"));
        assert_eq!(
            db.open_qr_challenge("L", 150).expect("qr"),
            Some(("token-Q".into(), 400))
        );
        let login = db.login("L").expect("row").expect("exists");
        assert_eq!(login.expires_at, 400, "the QR code keeps the login alive");
        assert_eq!(login.state_at(399), LoginState::Pending);
        assert_eq!(login.state_at(400), LoginState::Expired);

        assert_eq!(
            db.decide(&decision("A", 0)).expect("zero"),
            DecideOutcome::CounterNotAbove
        );
        assert_eq!(
            db.decide(&decision("A", 3)).expect("decide"),
            DecideOutcome::Decided
        );
        assert_eq!(db.counter_state("c1").expect("state").counter, 3);
        assert_eq!(
            db.decide(&decision("A", 4)).expect("again"),
            DecideOutcome::ChallengeAnswered
        );
        assert_eq!(
            db.decide(&decision("B", 4)).expect("other"),
            DecideOutcome::ChallengeAnswered,
            "closed by the decision"
        );
        assert!(db
            .pending_challenges("c2", 150)
            .expect("pending")
            .is_empty());
        assert!(!db
            .add_qr_challenge("L", &challenge("R", None, 500))
            .expect("qr"));
        let login = db.login("L").expect("row").expect("exists");
        assert_eq!(login.state_at(1_000), LoginState::Approved);
        assert!(db
            .issue_login_portal_session("L", b"t1", "alice", 120, 1_000)
            .expect("issue"));
        assert!(!db
            .issue_login_portal_session("L", b"t2", "alice", 120, 1_000)
            .expect("again"));
        assert_eq!(
            db.portal_user(b"t1", 130).expect("session").as_deref(),
            Some("alice")
        );
        assert_eq!(db.portal_user(b"t2", 130).expect("session"), None);
    }

    #[test]
    fn every_state_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path()).expect("open");
        let ctx = context();
        db.create_login(
            &NewLogin {
                login_id: "L",
                secret_sha256: b"s",
                username: "alice",
                number: 42,
                context: &ctx,
                expires_at: 220,
            },
            &[],
        )
        .expect("create");
        for state in [
            LoginState::Approved,
            LoginState::Denied,
            LoginState::ReportedFraud,
            LoginState::WrongNumber,
            LoginState::PossiblyCloned,
            LoginState::Expired,
            LoginState::Pending,
        ] {
            db.conn()
                .exec_cached("UPDATE logins SET state = ?1", params![state_name(state)])
                .expect("update");
            let wire = serde_json::to_value(state).expect("json");
            assert_eq!(wire, state_name(state));
            assert_eq!(db.login("L").expect("row").expect("exists").state, state);
        }
    }
}
