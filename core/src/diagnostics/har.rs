//! The network trace of the extended log: the core's own HTTP exchanges as HAR 1.2 entries
//! (the format browser developer tools read), redacted before they are written.
//!
//! [`RecordingTransport`] wraps the shell's [`HttpTransport`]; while the extended log is on,
//! each exchange becomes one entry in `logs/network-YYYY-MM-DD.jsonl`. Secret JSON fields,
//! credentials in headers and query strings are masked ([`super::redact`]); bodies that are
//! not text are left out (their size is kept). The diagnostics upload itself is never
//! traced. A bundle turns the days' entries into one `network.har`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::recorder::Recorder;
use super::redact::{redact_header, redact_json, scrub, REDACTED};
use super::util::rfc3339_ms;
use super::LogMode;
use crate::platform::{HttpHeader, HttpRequest, HttpResponse, HttpTransport, TransportError};

/// Longest body text kept in an entry, bytes; longer text is cut.
const MAX_BODY_TEXT: usize = 16 * 1024;
/// Paths never traced (the diagnostics upload).
const UNTRACED_PATH: &str = "/v1/diagnostics/";

/// An [`HttpTransport`] that records the exchanges it passes on while the extended log is
/// on. Make it with [`super::Diagnostics::recording_transport`].
pub struct RecordingTransport {
    pub(crate) inner: Arc<dyn HttpTransport>,
    pub(crate) recorder: Arc<Recorder>,
}

impl std::fmt::Debug for RecordingTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingTransport").finish_non_exhaustive()
    }
}

#[async_trait]
impl HttpTransport for RecordingTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if request.url.contains(UNTRACED_PATH) {
            return self.inner.send(request).await;
        }
        let extended = self.recorder.mode() == LogMode::Extended;
        let started_ms = self.recorder.clock().now_unix_ms();
        let started = Instant::now();
        let copy = extended.then(|| request.clone());
        let method = request.method.clone();
        let path = path_of(&request.url);
        let result = self.inner.send(request).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(reply) => tracing::debug!(
                "HTTP {method} {path} -> {} {}({elapsed_ms:.0} ms)",
                reply.status,
                error_code_of(&reply.body)
                    .map(|c| format!("{c} "))
                    .unwrap_or_default()
            ),
            Err(e) => tracing::debug!("HTTP {method} {path} -> no reply: {e}"),
        }
        if let Some(request) = copy {
            let entry = har_entry(&request, &result, started_ms, elapsed_ms);
            if let Ok(line) = serde_json::to_string(&entry) {
                self.recorder.append_network(&line);
            }
        }
        result
    }
}

/// The path of a URL, without scheme, host or query (for log lines).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or("/").to_string()
}

/// The `error.code` of an ibkey error reply, if the body is one.
fn error_code_of(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("error")?.get("code")?.as_str().map(str::to_string)
}

/// One redacted HAR 1.2 entry.
pub(crate) fn har_entry(
    request: &HttpRequest,
    result: &Result<HttpResponse, TransportError>,
    started_ms: i64,
    elapsed_ms: f64,
) -> Value {
    let (url, query) = redact_url(&request.url);
    let request_mime = header(&request.headers, "content-type").unwrap_or_default();
    let mut har_request = json!({
        "method": request.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": har_headers(&request.headers),
        "queryString": query,
        "headersSize": -1,
        "bodySize": request.body.len(),
    });
    if !request.body.is_empty() {
        let (text, comment) = body_text(&request.body);
        let mut post = json!({ "mimeType": request_mime, "text": text });
        if let Some(c) = comment {
            post["comment"] = Value::String(c);
        }
        har_request["postData"] = post;
    }
    let response = match result {
        Ok(reply) => {
            let mime = header(&reply.headers, "content-type").unwrap_or_default();
            let (text, comment) = body_text(&reply.body);
            let mut content = json!({
                "size": reply.body.len(),
                "mimeType": mime,
                "text": text,
            });
            if let Some(c) = comment {
                content["comment"] = Value::String(c);
            }
            json!({
                "status": reply.status,
                "statusText": status_text(reply.status),
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": har_headers(&reply.headers),
                "content": content,
                "redirectURL": header(&reply.headers, "location").map(|l| scrub(&l)).unwrap_or_default(),
                "headersSize": -1,
                "bodySize": reply.body.len(),
            })
        }
        Err(e) => json!({
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": { "size": 0, "mimeType": "x-unknown" },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": scrub(&e.to_string()),
        }),
    };
    let elapsed = (elapsed_ms * 1000.0).round() / 1000.0;
    json!({
        "startedDateTime": rfc3339_ms(started_ms),
        "time": elapsed,
        "request": har_request,
        "response": response,
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "send": 0,
            "wait": elapsed,
            "receive": 0,
            "ssl": -1,
        },
    })
}

/// The whole HAR 1.2 document for some entries.
pub(crate) fn har_document(entries: Vec<Value>) -> Value {
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "ibkey-core", "version": env!("CARGO_PKG_VERSION") },
            "pages": [],
            "entries": entries,
        }
    })
}

fn header(headers: &[HttpHeader], name: &str) -> Option<String> {
    HttpHeader::find(headers, name).map(str::to_string)
}

fn har_headers(headers: &[HttpHeader]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|h| json!({ "name": h.name, "value": redact_header(&h.name, &h.value) }))
            .collect(),
    )
}

/// The URL with secret query values masked, and its query string as HAR pairs.
fn redact_url(url: &str) -> (String, Value) {
    let base = url.split('#').next().unwrap_or(url);
    let Some((path, query)) = base.split_once('?') else {
        return (scrub(base), Value::Array(Vec::new()));
    };
    let mut pairs = Vec::new();
    let mut kept = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let value = if super::redact::is_secret_field(name) {
            REDACTED.to_string()
        } else {
            scrub(value)
        };
        kept.push(format!("{name}={value}"));
        pairs.push(json!({ "name": name, "value": value }));
    }
    (
        format!("{}?{}", scrub(path), kept.join("&")),
        Value::Array(pairs),
    )
}

/// A body as trace text: JSON redacted field by field, other text scrubbed, binary left out.
fn body_text(body: &[u8]) -> (String, Option<String>) {
    if body.is_empty() {
        return (String::new(), None);
    }
    if let Ok(mut value) = serde_json::from_slice::<Value>(body) {
        redact_json(&mut value);
        let text = serde_json::to_string(&value).unwrap_or_default();
        return (text, None);
    }
    match std::str::from_utf8(body) {
        Ok(text) => {
            let mut cut = text.len().min(MAX_BODY_TEXT);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let comment = (cut < text.len()).then(|| format!("text cut to {cut} bytes"));
            (scrub(&text[..cut]), comment)
        }
        Err(_) => (
            String::new(),
            Some(format!("binary body of {} bytes left out", body.len())),
        ),
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_has_every_required_har_field_and_no_secret() {
        let request = HttpRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:1/v1/activation/complete?token=abc&x=1".into(),
            headers: vec![
                HttpHeader::new("content-type", "application/json"),
                HttpHeader::new("authorization", "Bearer 0123456789abcdefXYZ"),
            ],
            body: br#"{"ticket":"IBK1.a.b","proof":"MEUC","device_id":"d1"}"#.to_vec(),
        };
        let reply = Ok(HttpResponse {
            status: 200,
            headers: vec![HttpHeader::new("content-type", "application/json")],
            body: br#"{"receipt":"IBK1.c.d"}"#.to_vec(),
        });
        let entry = har_entry(&request, &reply, 1_700_000_000_000, 12.5);
        let text = entry.to_string();
        for secret in ["IBK1.a", "MEUC", "0123456789abcdef", "abc", "IBK1.c"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        for field in [
            "startedDateTime",
            "time",
            "request",
            "response",
            "cache",
            "timings",
        ] {
            assert!(entry.get(field).is_some(), "{field}");
        }
        assert_eq!(entry["request"]["queryString"][1]["value"], "1");
        assert_eq!(entry["response"]["content"]["size"], 22);
        let failed = har_entry(
            &request,
            &Err(TransportError::Unreachable {
                reason: "refused".into(),
            }),
            0,
            1.0,
        );
        assert_eq!(failed["response"]["status"], 0);
        assert_eq!(path_of("http://h:1/v1/x?y=1"), "/v1/x");
    }
}
