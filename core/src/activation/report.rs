//! Telling the server that this device refused an activation code because it already holds
//! the code's user: the refusal happens before any network call, so without this report the
//! portal's activation page would wait for the phone until the code expires. The report is
//! signed by the existing account's device key; it is best effort, and the user hears
//! "already enrolled" whatever became of it.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use ibkey_protocol::activation::{self as protocol, TicketClaims};

use super::ActivationError;
use crate::api::ApiError;
use crate::device::Device;
use crate::diagnostics::{Sleeper as _, ThreadSleeper};
use crate::error::ErrorCode;
use crate::Account;

/// How long the refusal waits for the server to take the report, milliseconds: the user is
/// told at once even when the network hangs.
const REPORT_WAIT_MS: u64 = 2_000;

impl Device {
    /// Reports to the server that the ticket `token` (`ticket`) was refused because `account`
    /// is its user on this device, waiting at most [`REPORT_WAIT_MS`]. A failure is logged by
    /// its code and otherwise ignored.
    pub(super) async fn report_already_enrolled(
        &self,
        token: &str,
        ticket: &TicketClaims,
        account: &Account,
    ) {
        let report = self.send_already_enrolled(token, ticket, account);
        match within(REPORT_WAIT_MS, report).await {
            Some(Ok(())) => tracing::info!("already-enrolled refusal reported to the server"),
            Some(Err(code)) => tracing::info!(%code, "already-enrolled refusal not reported"),
            None => tracing::info!("already-enrolled refusal not reported: no reply in time"),
        }
    }

    /// Signs and sends the report; on failure, the stable code of what went wrong (the
    /// server's own code when it refused).
    async fn send_already_enrolled(
        &self,
        token: &str,
        ticket: &TicketClaims,
        account: &Account,
    ) -> Result<(), String> {
        let issued_at = self.server_now_secs().map_err(|e| e.code().to_string())?;
        let message =
            protocol::already_enrolled_message(&ticket.sid, &account.credential_id, issued_at);
        let signature = self
            .sign_with_key(&account.key_alias, message)
            .map_err(|error| ActivationError::DeviceKey { error }.code().to_string())?;
        let request = protocol::AlreadyEnrolledRequest {
            ticket: token.to_string(),
            credential_id: account.credential_id.clone(),
            issued_at,
            signature,
        };
        self.api
            .already_enrolled(&request)
            .await
            .map_err(|error| match error {
                ApiError::Refused { code, .. } => code,
                other => ActivationError::from_api(other, "").code().to_string(),
            })
    }
}

/// The output of `future` if it completes within `millis` milliseconds; `None` (and the
/// future dropped) otherwise.
async fn within<T>(millis: u64, future: impl Future<Output = T>) -> Option<T> {
    let mut future = pin!(future);
    let mut wait = pin!(ThreadSleeper.sleep(millis));
    poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => wait.as_mut().poll(cx).map(|()| None),
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[tokio::test]
    async fn a_report_is_awaited_only_so_long() {
        assert_eq!(within(10_000, async { 7 }).await, Some(7));
        let started = Instant::now();
        assert_eq!(within(50, std::future::pending::<()>()).await, None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
