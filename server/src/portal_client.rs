//! A client for the portal endpoints, acting as a signed-in test user: what the web portal's
//! "Activate IB Key" page does. Used by the CLI's `ticket` command, the demo and the tests.

use ibkey_protocol::activation::{ErrorResponse, SignInRequest, SignInResponse, TicketResponse};

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
        return serde_json::from_slice(&body).map_err(|e| PortalError::BadReply(e.to_string()));
    }
    let error: ErrorResponse =
        serde_json::from_slice(&body).map_err(|e| PortalError::BadReply(e.to_string()))?;
    Err(PortalError::Refused {
        code: error.error.code,
        message: error.error.message,
    })
}
