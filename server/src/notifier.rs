//! One-time codes sent out of band: the [`Notifier`] trait a deployment plugs its SMS or
//! e-mail gateway into ([`crate::ServerConfig::notifier`]), and the reference notifier, which
//! records each message in the database (the `out_of_band_messages` table, read with
//! [`recorded_out_of_band`]) instead of sending it. The server keeps only a digest of each
//! code; the reference notifier's table is what a user's inbox would be.
//!
//! The reference server's test users have no real address: each gets
//! `<username>@example.test`, shown masked (`a••••@example.test`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::ServerClock;
use crate::db::lifecycle::OutOfBandMessage;
use crate::db::{Db, DB_FILE};
use crate::error::ServerError;

/// The domain of the reference notifier's addresses.
const REFERENCE_DOMAIN: &str = "example.test";

/// What a one-time code sent out of band is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutOfBandPurpose {
    /// Moving IB Key to a new phone (`POST /v1/portal/move`).
    Move,
    /// Recovering an account on a reinstalled phone (`POST /v1/recovery/begin`).
    Recovery,
}

impl OutOfBandPurpose {
    /// The purpose as stored and shown: `move` or `recovery`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Move => "move",
            Self::Recovery => "recovery",
        }
    }
}

impl fmt::Display for OutOfBandPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A one-time code to send to a user.
#[derive(Clone, PartialEq, Eq)]
pub struct OutOfBandCode {
    /// The user it is for.
    pub username: String,
    /// What it is for.
    pub purpose: OutOfBandPurpose,
    /// The six digits (never logged).
    pub code: String,
    /// When it expires, Unix seconds.
    pub expires_at: i64,
}

impl fmt::Debug for OutOfBandCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutOfBandCode")
            .field("username", &self.username)
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a code could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The user has no address or phone number to send codes to.
    #[error("no address or phone number is on file for {username}")]
    NoDestination {
        /// The user.
        username: String,
    },
    /// The gateway could not be reached or refused the message.
    #[error("the message gateway failed: {0}")]
    Gateway(String),
    /// The message could not be recorded.
    #[error("the message could not be recorded: {0}")]
    Store(String),
}

/// Sends one-time codes to users out of band (SMS, e-mail). The server calls
/// [`Notifier::destination`] to tell the user where the code goes, then [`Notifier::send`]
/// after the code's digest is stored.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Where codes for `username` go, masked for display (`a••••@example.com`,
    /// `+41 •• ••• •• 67`).
    fn destination(&self, username: &str) -> Result<String, NotifyError>;

    /// Sends one code.
    async fn send(&self, message: &OutOfBandCode) -> Result<(), NotifyError>;
}

/// The reference notifier: records each code, with the user's address, in the database's
/// `out_of_band_messages` table instead of sending it (tests and the CLI read them with
/// [`recorded_out_of_band`]). Every user's address is `<username>@example.test`.
pub(crate) struct RecordingNotifier {
    /// The server's database.
    db: Arc<Db>,
    /// The server's clock.
    clock: Arc<dyn ServerClock>,
}

impl RecordingNotifier {
    /// A notifier recording into `db`, stamped with `clock`.
    pub(crate) fn new(db: Arc<Db>, clock: Arc<dyn ServerClock>) -> Self {
        Self { db, clock }
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    fn destination(&self, username: &str) -> Result<String, NotifyError> {
        Ok(mask_address(&reference_address(username)))
    }

    async fn send(&self, message: &OutOfBandCode) -> Result<(), NotifyError> {
        let destination = reference_address(&message.username);
        self.db
            .record_out_of_band(
                &message.username,
                message.purpose.as_str(),
                &message.code,
                &destination,
                self.clock.now(),
            )
            .map_err(|e| NotifyError::Store(e.to_string()))?;
        tracing::info!(user = %message.username, purpose = %message.purpose, "one-time code recorded");
        Ok(())
    }
}

/// The reference notifier's address of `username`.
fn reference_address(username: &str) -> String {
    format!("{username}@{REFERENCE_DOMAIN}")
}

/// An e-mail address masked for display: the first character of the mailbox, then `••••`,
/// then `@` and the domain (after the last `@`).
fn mask_address(address: &str) -> String {
    let (mailbox, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let first: String = mailbox.chars().take(1).collect();
    format!("{first}••••@{domain}")
}

/// The codes the reference notifier recorded in the server data directory `data_dir`, oldest
/// first, newest last (the server may be running).
pub fn recorded_out_of_band(data_dir: &Path) -> Result<Vec<OutOfBandMessage>, ServerError> {
    let path = data_dir.join(DB_FILE);
    if !path.is_file() {
        return Err(ServerError::Database {
            path,
            message: "there is no ibkey server database in this directory".to_string(),
        });
    }
    Db::open(data_dir)?
        .recorded_out_of_band()
        .map_err(|e| ServerError::Database {
            path,
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_but_for_the_first_character_and_the_domain() {
        assert_eq!(
            mask_address(&reference_address("alice")),
            "a••••@example.test"
        );
        assert_eq!(
            mask_address(&reference_address("bob@example.com")),
            "b••••@example.test"
        );
        assert_eq!(mask_address("nobody"), "n••••@");
    }

    #[test]
    fn a_code_is_not_in_its_debug_print() {
        let message = OutOfBandCode {
            username: "alice".into(),
            purpose: OutOfBandPurpose::Move,
            code: "924613".into(),
            expires_at: 1,
        };
        let shown = format!("{message:?}");
        assert!(
            !shown.contains("924613") && shown.contains("alice"),
            "{shown}"
        );
    }
}
