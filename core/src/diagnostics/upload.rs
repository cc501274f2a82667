//! Sending a bundle to the support server over the shell's [`HttpTransport`]: in chunks
//! that resume where the server stopped, with retries and exponential backoff, reporting
//! progress; the protocol is in [`super::wire`].
//!
//! A request that gets no reply, or a 408, 404, 429 or 5xx reply, is tried again after a
//! delay that doubles from [`UploadPolicy::first_backoff_ms`] up to
//! [`UploadPolicy::max_backoff_ms`] (half of it random, so phones coming back online
//! together do not all retry at once; a `retry_after` from the server is honoured), at most
//! [`UploadPolicy::max_attempts`] times; then the bundle stays in the outbox. Any other
//! refusal is final for that bundle.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_trait::async_trait;
use ring::rand::{SecureRandom, SystemRandom};
use serde::de::DeserializeOwned;

use crate::platform::{HttpHeader, HttpRequest, HttpResponse, HttpTransport};
use ibkey_protocol::activation::ErrorResponse;
use ibkey_protocol::diagnostics::wire::{
    self, codes, CompleteBundleRequest, CompleteBundleResponse, UploadStatus,
};
use ibkey_protocol::encoding::sha256_hex;

/// Waits between retries. Shells may pass their own (a coroutine delay, `Task.sleep`);
/// [`ThreadSleeper`] works everywhere; tests pass one that does not wait.
#[async_trait]
pub trait Sleeper: Send + Sync {
    /// Returns after about `millis` milliseconds.
    async fn sleep(&self, millis: u64);
}

/// A [`Sleeper`] that needs no async runtime: each wait runs on a short-lived thread that
/// wakes the waiting task.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSleeper;

#[async_trait]
impl Sleeper for ThreadSleeper {
    async fn sleep(&self, millis: u64) {
        ThreadSleep {
            millis,
            state: Arc::new(Mutex::new((false, None))),
            started: false,
        }
        .await;
    }
}

/// The future of one [`ThreadSleeper`] wait.
struct ThreadSleep {
    millis: u64,
    /// Done, and the waker to call when done.
    state: Arc<Mutex<(bool, Option<Waker>)>>,
    started: bool,
}

impl Future for ThreadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.0 {
                return Poll::Ready(());
            }
            state.1 = Some(cx.waker().clone());
        }
        if !self.started {
            self.started = true;
            let state = self.state.clone();
            let millis = self.millis;
            let spawned = std::thread::Builder::new()
                .name("ibkey-sleep".into())
                .spawn(move || {
                    std::thread::sleep(Duration::from_millis(millis));
                    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                    state.0 = true;
                    if let Some(waker) = state.1.take() {
                        waker.wake();
                    }
                });
            if spawned.is_err() {
                // No thread to wait on: do not wait rather than hang.
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

/// Told how far an upload has come.
pub trait UploadProgress: Send + Sync {
    /// `sent_bytes` of `total_bytes` of bundle `bundle_id` are on the server.
    fn on_progress(&self, bundle_id: String, sent_bytes: u64, total_bytes: u64);
}

/// How uploads are cut and retried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct UploadPolicy {
    /// Bytes in each chunk (the server takes up to 1 MiB; default 256 KiB).
    #[cfg_attr(feature = "uniffi", uniffi(default = 262144))]
    pub chunk_bytes: u32,
    /// Tries of each request before the bundle is left in the outbox (default 4).
    #[cfg_attr(feature = "uniffi", uniffi(default = 4))]
    pub max_attempts: u32,
    /// The first delay between tries, milliseconds (default 500; it doubles, with jitter).
    #[cfg_attr(feature = "uniffi", uniffi(default = 500))]
    pub first_backoff_ms: u64,
    /// The longest delay between tries, milliseconds (default 30 000).
    #[cfg_attr(feature = "uniffi", uniffi(default = 30000))]
    pub max_backoff_ms: u64,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self {
            chunk_bytes: 256 * 1024,
            max_attempts: 4,
            first_backoff_ms: 500,
            max_backoff_ms: 30_000,
        }
    }
}

/// Why an upload did not end with a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UploadFailure {
    /// Worth trying later: no connection, the server busy or failing.
    Transient(String),
    /// The server refused the bundle for good.
    Refused { code: String, message: String },
}

/// Uploads bundles to one server.
pub(crate) struct Uploader {
    pub base_url: String,
    pub http: Arc<dyn HttpTransport>,
    pub sleeper: Arc<dyn Sleeper>,
    pub policy: UploadPolicy,
}

impl Uploader {
    /// Sends `bytes` as bundle `bundle_id`; returns the server's reference.
    pub(crate) async fn upload(
        &self,
        bundle_id: &str,
        bytes: &[u8],
        progress: Option<&dyn UploadProgress>,
    ) -> Result<String, UploadFailure> {
        let total = bytes.len() as u64;
        let chunk_len = self.policy.chunk_bytes.max(1) as usize;
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![bytes]
        } else {
            bytes.chunks(chunk_len).collect()
        };
        let count = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        let report = |sent: u64| {
            if let Some(p) = progress {
                p.on_progress(bundle_id.to_string(), sent, total);
            }
        };
        let complete = CompleteBundleRequest {
            chunks: count,
            size: total,
            sha256: sha256_hex(bytes),
        };
        let complete_body = serde_json::to_vec(&complete)
            .map_err(|e| UploadFailure::Transient(format!("request could not be encoded: {e}")))?;
        // A second round re-sends what the server reports missing or stale.
        for round in 0..2 {
            let status: UploadStatus = self
                .call_json("GET", &wire::status_path(bundle_id), Vec::new(), None)
                .await?;
            if status.complete {
                if let Some(reference) = status.reference {
                    report(total);
                    return Ok(reference);
                }
            }
            let have: HashSet<u32> = if round == 0 {
                status.chunks.into_iter().filter(|&n| n < count).collect()
            } else {
                HashSet::new()
            };
            let mut sent: u64 = have
                .iter()
                .filter_map(|&n| chunks.get(n as usize))
                .map(|c| c.len() as u64)
                .sum();
            report(sent);
            for (n, chunk) in chunks.iter().enumerate() {
                let n = n as u32;
                if have.contains(&n) {
                    continue;
                }
                self.exchange(
                    "PUT",
                    &wire::chunk_path(bundle_id, n),
                    chunk.to_vec(),
                    Some("application/octet-stream"),
                )
                .await?;
                sent += chunk.len() as u64;
                report(sent);
            }
            let done: Result<CompleteBundleResponse, UploadFailure> = self
                .call_json(
                    "POST",
                    &wire::complete_path(bundle_id),
                    complete_body.clone(),
                    Some("application/json"),
                )
                .await;
            match done {
                Ok(reply) => {
                    report(total);
                    return Ok(reply.reference);
                }
                Err(UploadFailure::Refused { code, .. })
                    if round == 0
                        && (code == codes::DIAG_INCOMPLETE
                            || code == codes::DIAG_CHECKSUM_MISMATCH) =>
                {
                    continue
                }
                Err(other) => return Err(other),
            }
        }
        Err(UploadFailure::Transient(
            "the server did not assemble the bundle; it will be sent again".to_string(),
        ))
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<T, UploadFailure> {
        let reply = self.exchange(method, path, body, content_type).await?;
        serde_json::from_slice(&reply.body).map_err(|e| {
            UploadFailure::Transient(format!(
                "the server's reply to {method} {path} is not the expected JSON ({e})"
            ))
        })
    }

    /// One request, tried again on transient failures; a 2xx reply or the final failure.
    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<HttpResponse, UploadFailure> {
        let mut headers = vec![HttpHeader::new("accept", "application/json")];
        if let Some(ct) = content_type {
            headers.push(HttpHeader::new("content-type", ct));
        }
        let request = HttpRequest {
            method: method.to_string(),
            url: format!("{}{}", self.base_url, path),
            headers,
            body,
        };
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (reason, retry_after) = match self.http.send(request.clone()).await {
                Ok(reply) if (200..300).contains(&reply.status) => return Ok(reply),
                Ok(reply) if matches!(reply.status, 404 | 408 | 429) || reply.status >= 500 => {
                    let error = serde_json::from_slice::<ErrorResponse>(&reply.body).ok();
                    let retry_after =
                        error
                            .as_ref()
                            .and_then(|e| e.error.retry_after)
                            .or_else(|| {
                                HttpHeader::find(&reply.headers, "retry-after")
                                    .and_then(|v| v.trim().parse().ok())
                            });
                    let detail = error
                        .map(|e| format!(" ({})", e.error.code))
                        .unwrap_or_default();
                    (
                        format!("the server answered HTTP {}{detail}", reply.status),
                        retry_after,
                    )
                }
                Ok(reply) => {
                    return Err(match serde_json::from_slice::<ErrorResponse>(&reply.body) {
                        Ok(e) => UploadFailure::Refused {
                            code: e.error.code,
                            message: e.error.message,
                        },
                        Err(_) => UploadFailure::Refused {
                            code: format!("http_{}", reply.status),
                            message: format!("HTTP {} without an ibkey error body", reply.status),
                        },
                    })
                }
                Err(e) => (e.to_string(), None),
            };
            if attempt >= self.policy.max_attempts.max(1) {
                return Err(UploadFailure::Transient(reason));
            }
            let delay = self.backoff_ms(attempt, retry_after);
            tracing::info!(
                attempt,
                delay_ms = delay,
                "diagnostics upload: {reason}; trying again"
            );
            self.sleeper.sleep(delay).await;
        }
    }

    /// The delay after failed attempt `attempt` (1-based).
    fn backoff_ms(&self, attempt: u32, retry_after_secs: Option<u64>) -> u64 {
        let doubled = self
            .policy
            .first_backoff_ms
            .saturating_mul(1u64 << (attempt - 1).min(30));
        let delay = doubled.min(self.policy.max_backoff_ms);
        let mut random = [0u8; 8];
        let jitter = match SystemRandom::new().fill(&mut random) {
            Ok(()) => u64::from_le_bytes(random) % (delay / 2 + 1),
            Err(_) => 0,
        };
        let delay = delay - delay / 2 + jitter;
        match retry_after_secs {
            Some(secs) => delay
                .max(secs.saturating_mul(1000))
                .min(self.policy.max_backoff_ms.max(delay)),
            None => delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploader(policy: UploadPolicy) -> Uploader {
        struct Never;
        #[async_trait]
        impl HttpTransport for Never {
            async fn send(
                &self,
                _: HttpRequest,
            ) -> Result<HttpResponse, crate::platform::TransportError> {
                Err(crate::platform::TransportError::Unreachable {
                    reason: "offline".into(),
                })
            }
        }
        Uploader {
            base_url: "http://127.0.0.1:9".into(),
            http: Arc::new(Never),
            sleeper: Arc::new(ThreadSleeper),
            policy,
        }
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let u = uploader(UploadPolicy {
            first_backoff_ms: 100,
            max_backoff_ms: 1000,
            ..UploadPolicy::default()
        });
        for attempt in 1..10u32 {
            let full = (100u64 << (attempt - 1)).min(1000);
            let d = u.backoff_ms(attempt, None);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
        }
        assert_eq!(u.backoff_ms(1, Some(60)), 1000, "retry_after capped");
    }

    #[test]
    fn the_thread_sleeper_wakes_its_task() {
        let started = std::time::Instant::now();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut sleep = std::pin::pin!(ThreadSleeper.sleep(20));
        loop {
            if sleep.as_mut().poll(&mut cx).is_ready() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(started.elapsed() >= Duration::from_millis(20));
    }
}
