//! A client for the portal endpoints, acting as a test user in the browser: what the web
//! portal's "Activate IB Key" page does ([`PortalClient`]) and what its login page does
//! ([`PendingLogin`]). Used by the CLI's `ticket` and `login` commands, the demo and the tests.

use ibkey_protocol::activation::{ErrorResponse, SignInRequest, SignInResponse, TicketResponse};
use ibkey_protocol::approval::{
    LoginQrResponse, LoginRequest, LoginStarted, LoginState, LoginStatus,
};
use ibkey_protocol::lifecycle::{MoveConfirmRequest, MoveStartResponse, PushApprovalsRequest};
use ibkey_protocol::offline::{OfflineChallenge, OfflineResponse, TimeCodeRequest};

/// The longest a status request waits on the server for a decision, seconds.
const STATUS_WAIT_SECONDS: u32 = 25;

/// Why the portal did not hand out a ticket.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// No connection to the server.
    #[error(
        "The server at {url} could not be reached: is it running? Start it with `ibkey server`."
    )]
    Unreachable {
        /// The server's URL.
        url: String,
    },
    /// The server refused the request.
    #[error("The portal refused: {message} ({code})")]
    Refused {
        /// The server's error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The reply was not what the portal sends.
    #[error("The portal's reply could not be read: {0}")]
    BadReply(String),
}

/// A portal session of one test user.
#[derive(Debug, Clone)]
pub struct PortalClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
}

impl PortalClient {
    /// Signs `username` in to the portal at `base_url`.
    pub async fn sign_in(
        base_url: &str,
        username: &str,
        password: &str,
    ) -> Result<Self, PortalError> {
        let http = reqwest::Client::new();
        let base_url = base_url.trim_end_matches('/').to_string();
        let request = SignInRequest {
            username: username.to_string(),
            password: password.to_string(),
        };
        let reply = http
            .post(format!("{base_url}/v1/portal/sign-in"))
            .json(&request)
            .send()
            .await;
        let session: SignInResponse = read(reply, &base_url).await?;
        Ok(Self {
            http,
            base_url,
            token: session.portal_token,
        })
    }

    /// Asks for a fresh activation ticket: the QR payload and the session ID under it.
    pub async fn new_ticket(&self) -> Result<TicketResponse, PortalError> {
        let reply = self
            .http
            .post(format!("{}/v1/portal/activation-tickets", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await;
        read(reply, &self.base_url).await
    }

    /// "Move IB Key to a new phone": the server sends the user a one-time code out of band
    /// (its `Notifier`); [`PortalClient::confirm_move`] trades it for a move ticket.
    pub async fn start_move(&self) -> Result<MoveStartResponse, PortalError> {
        let reply = self
            .http
            .post(format!("{}/v1/portal/move", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await;
        read(reply, &self.base_url).await
    }

    /// The code sent out of band, typed back: a ticket whose use moves IB Key to the phone
    /// that activates with it and revokes the user's other devices.
    pub async fn confirm_move(&self, code: &str) -> Result<TicketResponse, PortalError> {
        let reply = self
            .http
            .post(format!("{}/v1/portal/move/confirm", self.base_url))
            .bearer_auth(&self.token)
            .json(&MoveConfirmRequest {
                code: code.to_string(),
            })
            .send()
            .await;
        read(reply, &self.base_url).await
    }

    /// Turns the user's login notifications on or off.
    pub async fn set_push_approvals(&self, enabled: bool) -> Result<(), PortalError> {
        let reply = self
            .http
            .post(format!("{}/v1/portal/push-approvals", self.base_url))
            .bearer_auth(&self.token)
            .json(&PushApprovalsRequest { enabled })
            .send()
            .await;
        read(reply, &self.base_url).await
    }

    /// The user's active devices, as the portal's devices page lists them.
    pub async fn devices(&self) -> Result<Vec<crate::PortalDevice>, PortalError> {
        let reply = self
            .http
            .get(format!("{}/v1/portal/devices", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await;
        read(reply, &self.base_url).await
    }
}

/// A login on the login page, after the password was accepted: it waits for a device.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    http: reqwest::Client,
    base_url: String,
    started: LoginStarted,
}

impl PendingLogin {
    /// Types `username` and `password` into the login page at `base_url` for `application`
    /// ("Client Portal" when `None`): the server notifies the user's devices.
    pub async fn start(
        base_url: &str,
        username: &str,
        password: &str,
        application: Option<&str>,
    ) -> Result<Self, PortalError> {
        let http = reqwest::Client::new();
        let base_url = base_url.trim_end_matches('/').to_string();
        let request = LoginRequest {
            username: username.to_string(),
            password: password.to_string(),
            application: application.map(str::to_string),
        };
        let reply = http
            .post(format!("{base_url}/v1/logins"))
            .json(&request)
            .send()
            .await;
        let started = read(reply, &base_url).await?;
        Ok(Self {
            http,
            base_url,
            started,
        })
    }

    /// What the server answered when the login started: the number to show, the expiry, how
    /// many devices were notified, a running push mute.
    pub fn started(&self) -> &LoginStarted {
        &self.started
    }

    /// Where the login stands; with `wait_seconds` > 0 the server holds the request until the
    /// login leaves `pending` or that time passes.
    pub async fn status(&self, wait_seconds: u32) -> Result<LoginStatus, PortalError> {
        let reply = self
            .http
            .get(format!(
                "{}/v1/logins/{}?wait={wait_seconds}",
                self.base_url, self.started.login_id
            ))
            .bearer_auth(&self.started.login_secret)
            .send()
            .await;
        read(reply, &self.base_url).await
    }

    /// Waits until a device decided or the login expired, and gives the final status.
    pub async fn wait_for_decision(&self) -> Result<LoginStatus, PortalError> {
        loop {
            let status = self.status(STATUS_WAIT_SECONDS).await?;
            if status.state != LoginState::Pending {
                return Ok(status);
            }
        }
    }

    /// The login page's "log in with QR code": a signed challenge any of the user's devices
    /// may scan and answer.
    pub async fn qr_code(&self) -> Result<LoginQrResponse, PortalError> {
        self.post_json("qr", None::<&()>).await
    }

    /// The login page's "challenge/response" (for a phone without a network): the challenge
    /// to type into the phone.
    pub async fn offline_challenge(&self) -> Result<OfflineChallenge, PortalError> {
        self.post_json("offline", None::<&()>).await
    }

    /// Types the phone's response into the login page; gives the login's status.
    pub async fn submit_response(&self, response: &str) -> Result<LoginStatus, PortalError> {
        let body = OfflineResponse {
            response: response.to_string(),
        };
        self.post_json("response", Some(&body)).await
    }

    /// Types a time-based code from the phone into the login page; gives the login's status.
    pub async fn submit_time_code(&self, code: &str) -> Result<LoginStatus, PortalError> {
        let body = TimeCodeRequest {
            code: code.to_string(),
        };
        self.post_json("code", Some(&body)).await
    }

    /// `POST /v1/logins/{id}/{action}` with the login secret and an optional JSON body.
    async fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        action: &str,
        body: Option<&B>,
    ) -> Result<T, PortalError> {
        let mut request = self
            .http
            .post(format!(
                "{}/v1/logins/{}/{action}",
                self.base_url, self.started.login_id
            ))
            .bearer_auth(&self.started.login_secret);
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await, &self.base_url).await
    }
}

async fn read<T: serde::de::DeserializeOwned>(
    reply: Result<reqwest::Response, reqwest::Error>,
    url: &str,
) -> Result<T, PortalError> {
    let reply = reply.map_err(|_| PortalError::Unreachable {
        url: url.to_string(),
    })?;
    let ok = reply.status().is_success();
    let body = reply
        .bytes()
        .await
        .map_err(|e| PortalError::BadReply(e.to_string()))?;
    if ok {
        // An empty reply (204) reads as JSON `null`.
        let body: &[u8] = if body.is_empty() { b"null" } else { &body };
        return serde_json::from_slice(body).map_err(|e| PortalError::BadReply(e.to_string()));
    }
    let error: ErrorResponse =
        serde_json::from_slice(&body).map_err(|e| PortalError::BadReply(e.to_string()))?;
    Err(PortalError::Refused {
        code: error.error.code,
        message: error.error.message,
    })
}
