//! What the core's unit tests of several modules share: a clock the test sets, and a network
//! that is down.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::platform::{Clock, HttpRequest, HttpResponse, HttpTransport, TransportError};

/// Wall time the test sets, in Unix seconds; the boot clock stands still at one hour.
pub(crate) struct TestClock(pub(crate) AtomicI64);

impl Clock for TestClock {
    fn now_unix_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst) * 1000
    }
    fn uptime_ms(&self) -> u64 {
        3_600_000
    }
}

/// A network that is down, counting what was tried.
#[derive(Default)]
pub(crate) struct Offline(pub(crate) AtomicUsize);

#[async_trait]
impl HttpTransport for Offline {
    async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(TransportError::Unreachable {
            reason: "offline".into(),
        })
    }
}
