//! Removing a user from this device: the user confirms, the credential is revoked on the
//! server, then the account and its key are deleted.

use ibkey_protocol::activation::{self as protocol, codes};
use ibkey_protocol::encoding::b64;

use super::{Account, AccountsError};
use crate::api::ApiError;
use crate::device::Device;
use crate::platform::KeyError;

impl Device {
    /// Removes `username` from this device once the user confirms (PIN or biometrics):
    /// revokes the credential on the server, then deletes the account and its key. When the
    /// server cannot be reached nothing changes.
    pub(crate) async fn remove_account(&self, username: &str) -> Result<Account, AccountsError> {
        let account = self
            .book
            .get(username)?
            .ok_or_else(|| AccountsError::NotFound {
                username: username.to_string(),
            })?;
        let verification = self
            .gate
            .verify_user(&format!("Remove {username} from this device"))
            .await?;
        self.gate.commit(verification)?;
        let issued_at = self.now_secs();
        let message = protocol::revoke_message(&account.credential_id, issued_at);
        match self
            .platform
            .keys
            .sign(account.key_alias.clone(), message.into_bytes())
        {
            Ok(signature) => {
                let request = protocol::RevokeRequest {
                    credential_id: account.credential_id.clone(),
                    issued_at,
                    signature: b64(&signature),
                };
                match self.api.revoke(&request).await {
                    Ok(()) => {}
                    Err(ApiError::Refused { code, .. }) if code == codes::CREDENTIAL_UNKNOWN => {
                        tracing::info!("credential already gone on the server; removing locally");
                    }
                    Err(ApiError::Unreachable { reason }) => {
                        return Err(AccountsError::ServerUnreachable { reason })
                    }
                    Err(other) => {
                        return Err(AccountsError::ServerReply {
                            detail: api_error_detail(&other),
                        })
                    }
                }
            }
            Err(KeyError::NotFound | KeyError::Invalidated) => {
                tracing::warn!(
                    "device key unusable; the server credential cannot be revoked from here"
                );
            }
            Err(error) => return Err(AccountsError::DeviceKey { error }),
        }
        self.book.remove(username)?;
        if let Err(e) = self.platform.keys.delete_key(account.key_alias.clone()) {
            tracing::warn!(error = %e, "device key could not be deleted");
        }
        Ok(account)
    }
}

fn api_error_detail(error: &ApiError) -> String {
    match error {
        ApiError::Unreachable { reason } => reason.clone(),
        ApiError::InsecureUrl { url } => format!("insecure server address {url}"),
        ApiError::Refused { code, message, .. } => format!("{code}: {message}"),
        ApiError::BadReply { detail } => detail.clone(),
    }
}
