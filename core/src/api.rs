//! The device's client for the server API (see [`crate::protocol`]), over the platform's
//! [`HttpTransport`]. Refuses plain HTTP to anything but loopback.

use std::net::IpAddr;
use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};

use crate::platform::{HttpHeader, HttpRequest, HttpTransport};
use ibkey_protocol::activation::{self as protocol, ErrorResponse};
use ibkey_protocol::approval;
use ibkey_protocol::lifecycle;

/// Largest reply body the client reads; anything bigger is a hostile or broken server.
const MAX_REPLY_BYTES: usize = 256 * 1024;

/// What went wrong talking to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// No HTTP reply at all.
    Unreachable { reason: String },
    /// The URL is plain HTTP to a host that is not loopback, or not a URL at all.
    InsecureUrl { url: String },
    /// The server answered with one of its error codes.
    Refused {
        code: String,
        message: String,
        retry_after: Option<u64>,
        /// For `credential_moved`: the server's signed word of where the account went.
        moved: Option<String>,
    },
    /// The reply is not what the protocol says (wrong JSON, too big, unknown status).
    BadReply { detail: String },
}

/// A client bound to one server.
pub(crate) struct ServerApi {
    base_url: String,
    http: Arc<dyn HttpTransport>,
}

impl ServerApi {
    /// A client for `base_url`; fails for plain HTTP to a non-loopback host.
    pub(crate) fn new(base_url: &str, http: Arc<dyn HttpTransport>) -> Result<Self, ApiError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        check_transport_security(&base_url)?;
        Ok(Self { base_url, http })
    }

    /// `GET /v1/server-key`.
    pub(crate) async fn server_key(&self) -> Result<protocol::ServerKeyResponse, ApiError> {
        self.call("GET", "/v1/server-key", None::<&()>).await
    }

    /// `POST /v1/activation/lookup`.
    pub(crate) async fn lookup(
        &self,
        session_id: &str,
    ) -> Result<protocol::LookupResponse, ApiError> {
        let body = protocol::LookupRequest {
            session_id: session_id.to_string(),
        };
        self.call("POST", "/v1/activation/lookup", Some(&body))
            .await
    }

    /// `POST /v1/activation/complete`.
    pub(crate) async fn complete(
        &self,
        request: &protocol::CompleteRequest,
    ) -> Result<protocol::CompleteResponse, ApiError> {
        self.call("POST", "/v1/activation/complete", Some(request))
            .await
    }

    /// `POST /v1/activation/already-enrolled`.
    pub(crate) async fn already_enrolled(
        &self,
        request: &protocol::AlreadyEnrolledRequest,
    ) -> Result<(), ApiError> {
        self.call::<_, serde_json::Value>("POST", "/v1/activation/already-enrolled", Some(request))
            .await
            .map(|_| ())
    }

    /// `POST /v1/devices/revoke`.
    pub(crate) async fn revoke(&self, request: &protocol::RevokeRequest) -> Result<(), ApiError> {
        self.call::<_, serde_json::Value>("POST", "/v1/devices/revoke", Some(request))
            .await
            .map(|_| ())
    }

    /// `POST /v1/challenges/pending`.
    pub(crate) async fn pending(
        &self,
        request: &approval::PendingRequest,
    ) -> Result<approval::PendingResponse, ApiError> {
        self.call("POST", "/v1/challenges/pending", Some(request))
            .await
    }

    /// `POST /v1/challenges/decide`.
    pub(crate) async fn decide(
        &self,
        request: &approval::DecideRequest,
    ) -> Result<approval::DecideResponse, ApiError> {
        self.call("POST", "/v1/challenges/decide", Some(request))
            .await
    }

    /// `POST /v1/devices/push-token`.
    pub(crate) async fn register_push_token(
        &self,
        request: &approval::PushTokenRequest,
    ) -> Result<(), ApiError> {
        self.call::<_, serde_json::Value>("POST", "/v1/devices/push-token", Some(request))
            .await
            .map(|_| ())
    }

    /// `POST /v1/recovery/begin`.
    pub(crate) async fn recovery_begin(
        &self,
        request: &lifecycle::RecoveryBeginRequest,
    ) -> Result<lifecycle::RecoveryBeginResponse, ApiError> {
        self.call("POST", "/v1/recovery/begin", Some(request)).await
    }

    /// `POST /v1/recovery/complete`.
    pub(crate) async fn recovery_complete(
        &self,
        request: &lifecycle::RecoveryCompleteRequest,
    ) -> Result<lifecycle::RecoveryCompleteResponse, ApiError> {
        self.call("POST", "/v1/recovery/complete", Some(request))
            .await
    }

    /// `POST /v1/devices/status`.
    pub(crate) async fn device_status(
        &self,
        request: &lifecycle::DeviceStatusRequest,
    ) -> Result<lifecycle::DeviceStatusResponse, ApiError> {
        self.call("POST", "/v1/devices/status", Some(request)).await
    }

    /// `POST /v1/devices/test-push`.
    pub(crate) async fn test_push(
        &self,
        request: &lifecycle::TestPushRequest,
    ) -> Result<lifecycle::TestPushResponse, ApiError> {
        self.call("POST", "/v1/devices/test-push", Some(request))
            .await
    }

    /// One exchange with JSON bodies. Only the encoding and decoding depend on the types; the
    /// exchange itself ([`ServerApi::exchange`]) is one copy for every endpoint.
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ApiError::BadReply {
                detail: format!("request could not be encoded: {e}"),
            })?),
            None => None,
        };
        // Boxed, so that the exchange is polled through one copy of its code rather than
        // inlined into each endpoint's (that was ~3 KB of the mobile library per endpoint).
        let (status, reply) = Box::pin(self.exchange(method, path, body)).await?;
        serde_json::from_slice(&reply).map_err(|e| not_json(status, &e))
    }

    /// Sends a request with an optional JSON `body`; gives the status and body of a 2xx reply
    /// (`null` for an empty one), or the server's error.
    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), ApiError> {
        let mut headers = vec![HttpHeader::new("accept", "application/json")];
        if body.is_some() {
            headers.push(HttpHeader::new("content-type", "application/json"));
        }
        let request = HttpRequest {
            method: method.to_string(),
            url: format!("{}{}", self.base_url, path),
            headers,
            body: body.unwrap_or_default(),
        };
        tracing::debug!(method, path, "server request");
        let reply = self
            .http
            .send(request)
            .await
            .map_err(|e| ApiError::Unreachable {
                reason: e.to_string(),
            })?;
        tracing::debug!(method, path, status = reply.status, "server reply");
        if reply.body.len() > MAX_REPLY_BYTES {
            return Err(ApiError::BadReply {
                detail: format!("reply of {} bytes is too large", reply.body.len()),
            });
        }
        match reply.status {
            200..=299 if reply.body.is_empty() => Ok((reply.status, b"null".to_vec())),
            200..=299 => Ok((reply.status, reply.body)),
            status => match serde_json::from_slice::<ErrorResponse>(&reply.body) {
                Ok(err) => Err(ApiError::Refused {
                    code: err.error.code,
                    message: err.error.message,
                    retry_after: err.error.retry_after,
                    moved: err.error.moved,
                }),
                Err(_) => Err(ApiError::BadReply {
                    detail: format!("HTTP {status} without an ibkey error body"),
                }),
            },
        }
    }
}

/// A 2xx reply whose body is not the JSON expected.
fn not_json(status: u16, error: &serde_json::Error) -> ApiError {
    ApiError::BadReply {
        detail: format!("HTTP {status} with a body that is not the expected JSON: {error}"),
    }
}

/// Allows `https://` to any host and `http://` only to loopback addresses.
pub(crate) fn check_transport_security(url: &str) -> Result<(), ApiError> {
    let insecure = || ApiError::InsecureUrl {
        url: url.to_string(),
    };
    let lower = url.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("https://") {
        return if rest.is_empty() {
            Err(insecure())
        } else {
            Ok(())
        };
    }
    let rest = lower.strip_prefix("http://").ok_or_else(insecure)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(insecure());
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(insecure())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://auth.example.com",
            "http://127.0.0.1:8080",
            "http://localhost:1/x",
            "http://[::1]:9000",
            "http://127.5.6.7",
        ] {
            assert!(check_transport_security(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://auth.example.com",
            "http://10.0.0.1:80",
            "http://127.0.0.1.evil.com",
            "http://127.0.0.1@evil.com",
            "ftp://127.0.0.1",
            "127.0.0.1:80",
            "",
            "https://",
        ] {
            assert!(check_transport_security(bad).is_err(), "{bad}");
        }
    }
}
