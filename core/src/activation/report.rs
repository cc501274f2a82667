//! Telling the server that this device refused an activation code because it already holds
//! the code's user: the refusal happens before any network call, so without this report the
//! portal's activation page would wait for the phone until the code expires. The report is
//! signed by the existing account's device key; it is best effort, and the user hears
//! "already enrolled" whatever became of it.

use ibkey_protocol::activation::{self as protocol, TicketClaims};

use super::ActivationError;
use crate::api::ApiError;
use crate::device::Device;
use crate::error::ErrorCode;
use crate::Account;

impl Device {
    /// Reports to the server that the ticket `token` (`ticket`) was refused because `account`
    /// is its user on this device. A failure is logged by its code and otherwise ignored. The
    /// refusal waits for the reply (the server that just showed the code is normally there; a
    /// hanging network delays it by the platform transport's own timeout): a timer of its own
    /// would cost the mobile library 13.5 KB.
    pub(super) async fn report_already_enrolled(
        &self,
        token: &str,
        ticket: &TicketClaims,
        account: &Account,
    ) {
        match self.send_already_enrolled(token, ticket, account).await {
            Ok(()) => tracing::info!("already-enrolled refusal reported to the server"),
            Err(code) => tracing::info!(%code, "already-enrolled refusal not reported"),
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
