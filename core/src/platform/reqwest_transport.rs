//! The desktop [`HttpTransport`]: reqwest with rustls. Mobile builds leave it out and use the
//! platform's HTTP stack instead.

use std::time::Duration;

use async_trait::async_trait;

use super::{HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError};

/// HTTP over reqwest, with timeouts suited to a phone on a bad network.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with a 10 s connect and 30 s overall timeout.
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TransportError::Unreachable {
                reason: e.to_string(),
            })?;
        Ok(Self { client })
    }
}

#[async_trait]
impl HttpTransport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let unreachable = |e: reqwest::Error| TransportError::Unreachable {
            reason: describe(&e),
        };
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            TransportError::Unreachable {
                reason: format!("unsupported method {}", request.method),
            }
        })?;
        let mut builder = self.client.request(method, &request.url).body(request.body);
        for header in &request.headers {
            builder = builder.header(&header.name, &header.value);
        }
        let reply = builder.send().await.map_err(unreachable)?;
        let status = reply.status().as_u16();
        let headers = reply
            .headers()
            .iter()
            .map(|(k, v)| HttpHeader::new(k.as_str(), v.to_str().unwrap_or_default()))
            .collect();
        let body = reply.bytes().await.map_err(unreachable)?.to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// A short reason without the URL: the innermost cause of the failure.
fn describe(error: &reqwest::Error) -> String {
    if error.is_connect() {
        return "connection refused or no network".into();
    }
    if error.is_timeout() {
        return "timed out".into();
    }
    let mut reason = String::from("HTTP failure");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason = cause.to_string();
        source = cause.source();
    }
    reason
}
