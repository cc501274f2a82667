//! Login notifications: the [`PushSender`] trait a deployment plugs its FCM/APNs gateway into,
//! the reference sender that records each push in the database (the `push_messages` outbox,
//! read with [`recorded_pushes`]) instead of sending it, and [`WebhookPushSender`], which
//! POSTs each push to a URL. A push that fails never fails the login: the app pulls its
//! pending challenges when it opens.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::clock::ServerClock;
use crate::db::approval::RecordedPush;
use crate::db::{Db, DB_FILE};
use crate::error::ServerError;

/// How long the webhook sender waits for its URL to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// One login notification for one credential.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PushMessage {
    /// The user being logged in.
    pub username: String,
    /// The credential (the account on one device) notified.
    pub credential_id: String,
    /// `fcm`, `apns` or `webhook`, if the device registered a push token.
    pub platform: Option<String>,
    /// The device's push token, if it registered one.
    pub push_token: Option<String>,
    /// The JSON of an `ibkey_protocol::approval::PushPayload` (the signed challenge inside).
    pub payload: String,
}

impl fmt::Debug for PushMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushMessage")
            .field("username", &self.username)
            .field("credential_id", &self.credential_id)
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

/// Why a push was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The push service could not be reached or did not answer in time.
    #[error("the push service could not be reached: {0}")]
    Unreachable(String),
    /// The push service answered with an error status.
    #[error("the push service refused the message (HTTP {status})")]
    Refused {
        /// The HTTP status it answered.
        status: u16,
    },
    /// The push could not be recorded.
    #[error("the push could not be recorded: {0}")]
    Store(String),
}

/// Delivers login notifications. The server calls it once per notified credential, after the
/// login is stored; an error is logged as a warning and the login goes on.
#[async_trait]
pub trait PushSender: Send + Sync {
    /// Delivers one message.
    async fn send(&self, message: &PushMessage) -> Result<(), PushError>;
}

/// The reference sender: records each push in the database's `push_messages` table instead
/// of sending it (tests and the CLI read them with [`recorded_pushes`]). It records pushes of
/// credentials without a push token too.
pub(crate) struct RecordingPushSender {
    /// The server's database.
    db: Arc<Db>,
    /// The server's clock.
    clock: Arc<dyn ServerClock>,
}

impl RecordingPushSender {
    /// A sender recording into `db`, stamped with `clock`.
    pub(crate) fn new(db: Arc<Db>, clock: Arc<dyn ServerClock>) -> Self {
        Self { db, clock }
    }
}

#[async_trait]
impl PushSender for RecordingPushSender {
    async fn send(&self, message: &PushMessage) -> Result<(), PushError> {
        self.db
            .record_push(
                &message.username,
                &message.credential_id,
                message.platform.as_deref(),
                message.push_token.as_deref(),
                &message.payload,
                self.clock.now(),
            )
            .map_err(|e| PushError::Store(e.to_string()))?;
        tracing::info!(user = %message.username, credential_id = %message.credential_id, "push recorded");
        Ok(())
    }
}

/// POSTs each message as JSON (`{username, credential_id, platform, push_token, payload}`,
/// `payload` a string holding the `PushPayload` JSON) to a URL, waiting at most 5 seconds:
/// how an FCM or APNs gateway plugs in. Any 2xx answer is a delivery. This server's HTTP
/// client has no TLS, so the URL is plain `http://` (a gateway on the same host or network).
pub struct WebhookPushSender {
    /// Where to POST.
    url: String,
    /// The HTTP client (with the timeout).
    http: reqwest::Client,
}

impl WebhookPushSender {
    /// A sender POSTing to `url`.
    pub fn new(url: impl Into<String>) -> Result<Self, PushError> {
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .build()
            .map_err(|e| PushError::Unreachable(e.to_string()))?;
        Ok(Self {
            url: url.into(),
            http,
        })
    }
}

impl fmt::Debug for WebhookPushSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A webhook URL may carry a key in its query: show the part before it.
        let shown = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("WebhookPushSender")
            .field("url", &shown)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PushSender for WebhookPushSender {
    async fn send(&self, message: &PushMessage) -> Result<(), PushError> {
        let reply = self
            .http
            .post(&self.url)
            .json(message)
            .send()
            .await
            // Without the URL: the error's text is safe to log.
            .map_err(|e| PushError::Unreachable(e.without_url().to_string()))?;
        let status = reply.status();
        if !status.is_success() {
            return Err(PushError::Refused {
                status: status.as_u16(),
            });
        }
        tracing::info!(user = %message.username, credential_id = %message.credential_id, "push sent to the webhook");
        Ok(())
    }
}

/// The pushes the reference sender recorded in the server data directory `data_dir`, oldest
/// first (the server may be running).
pub fn recorded_pushes(data_dir: &Path) -> Result<Vec<RecordedPush>, ServerError> {
    let path = data_dir.join(DB_FILE);
    if !path.is_file() {
        return Err(ServerError::Database {
            path,
            message: "there is no ibkey server database in this directory".to_string(),
        });
    }
    Db::open(data_dir)?
        .recorded_pushes()
        .map_err(|e| ServerError::Database {
            path,
            message: e.to_string(),
        })
}
