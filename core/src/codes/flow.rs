//! The offline flows: find the account and its secret, read the typed challenge, verify the
//! user (PIN or biometrics), compute. Nothing here touches the network.

use zeroize::Zeroizing;

use super::{CodesError, OfflineResponse, TimeCode, CLOCK_FAR_OFF_SECS};
use crate::device::Device;
use crate::error::ErrorCode;
use crate::Account;
use ibkey_protocol::offline;

impl Device {
    /// The response to the login page's challenge `typed` for `username`.
    pub(crate) async fn respond(
        &self,
        username: &str,
        typed: &str,
    ) -> Result<OfflineResponse, CodesError> {
        let result = async {
            let (account, secret) = self.codes_account(username)?;
            let challenge = offline::parse_challenge(typed)?;
            let verification = self
                .gate
                .verify_user(&format!("Show the response for {}", account.username))
                .await?;
            let response = offline::response(&secret, &account.username, &challenge);
            self.gate.commit(verification)?;
            tracing::info!(user = %account.username, "offline response shown");
            Ok(OfflineResponse {
                username: account.username,
                response,
            })
        }
        .await;
        log_refusal(result, "offline response refused")
    }

    /// `username`'s current time-based code, on the device clock corrected by the learned
    /// server offset.
    pub(crate) async fn time_code(&self, username: &str) -> Result<TimeCode, CodesError> {
        let result = async {
            let (account, secret) = self.codes_account(username)?;
            let verification = self
                .gate
                .verify_user(&format!("Show the time code for {}", account.username))
                .await?;
            let offset = self.book.device()?.clock_offset_secs;
            if offset.is_some_and(|o| o.unsigned_abs() > CLOCK_FAR_OFF_SECS.unsigned_abs()) {
                tracing::info!(
                    offset_secs = offset.unwrap_or_default(),
                    "the phone's clock is far off; the code uses the server's time"
                );
            }
            let now = self
                .now_secs()
                .saturating_add(offset.unwrap_or(0))
                .max(0)
                .unsigned_abs();
            let code = offline::time_code(&secret, now);
            self.gate.commit(verification)?;
            let period = offline::TIME_CODE_PERIOD;
            let seconds_left = period - now % period;
            tracing::info!(user = %account.username, "time code shown");
            Ok(TimeCode {
                username: account.username,
                code,
                seconds_left: u32::try_from(seconds_left).unwrap_or(u32::MAX),
                period: u32::try_from(period).unwrap_or(u32::MAX),
            })
        }
        .await;
        log_refusal(result, "time code refused")
    }

    /// How far the phone's clock is off from the server's, seconds (positive: ahead), as
    /// learned from the server's signed replies; `None` until first learned.
    pub(crate) fn clock_offset_secs(&self) -> Result<Option<i64>, CodesError> {
        Ok(self
            .book
            .device()?
            .clock_offset_secs
            .map(i64::saturating_neg))
    }

    /// `username`'s account and its offline codes' secret.
    fn codes_account(&self, username: &str) -> Result<(Account, Zeroizing<Vec<u8>>), CodesError> {
        let account = self
            .book
            .get(username)?
            .ok_or_else(|| CodesError::UnknownAccount {
                username: username.to_string(),
            })?;
        match self.book.codes_secret(&account.credential_id)? {
            Some(secret) => Ok((account, secret)),
            None => Err(CodesError::Unavailable {
                username: account.username,
            }),
        }
    }
}

/// Logs why a code was refused, by its stable code only.
fn log_refusal<T>(result: Result<T, CodesError>, what: &str) -> Result<T, CodesError> {
    if let Err(e) = &result {
        tracing::info!(code = e.code(), "{what}");
    }
    result
}
