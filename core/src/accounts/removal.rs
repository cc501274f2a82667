//! Removing a user from this device: the user confirms, the credential is revoked on the
//! server, then the account and its key are deleted. The signed revocation itself
//! ([`Device::revoke_credential`]) also undoes an activation the phone could not save; its
//! signing with an account's key ([`Device::sign_with_key`]) also signs the report that a
//! refused activation code's user is already enrolled here.

use ibkey_protocol::activation::{self as protocol, codes};
use ibkey_protocol::encoding::b64;
use ibkey_protocol::lifecycle::codes as lifecycle_codes;

use super::{Account, AccountsError};
use crate::api::ApiError;
use crate::device::Device;
use crate::platform::KeyError;

/// Why a credential could not be revoked on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RevokeFailure {
    /// The device key could not sign the revocation.
    Key(KeyError),
    /// The server was not reached or did not accept the revocation.
    Server(ApiError),
}

impl RevokeFailure {
    /// What went wrong, for an error message.
    pub(crate) fn detail(&self) -> String {
        match self {
            RevokeFailure::Key(error) => error.to_string(),
            RevokeFailure::Server(error) => api_error_detail(error),
        }
    }
}

impl Device {
    /// Revokes the credential `credential_id` on the server with a revocation signed by the
    /// device key `key_alias`, dated `issued_at` (Unix seconds). A credential the server no
    /// longer knows counts as revoked.
    pub(crate) async fn revoke_credential(
        &self,
        credential_id: &str,
        key_alias: &str,
        issued_at: i64,
    ) -> Result<(), RevokeFailure> {
        let message = protocol::revoke_message(credential_id, issued_at);
        let signature = self
            .sign_with_key(key_alias, message)
            .map_err(RevokeFailure::Key)?;
        let request = protocol::RevokeRequest {
            credential_id: credential_id.to_string(),
            issued_at,
            signature,
        };
        match self.api.revoke(&request).await {
            Ok(()) => Ok(()),
            Err(ApiError::Refused { code, .. })
                if code == codes::CREDENTIAL_UNKNOWN
                    || code == lifecycle_codes::CREDENTIAL_MOVED =>
            {
                tracing::info!("credential already gone on the server");
                Ok(())
            }
            Err(error) => Err(RevokeFailure::Server(error)),
        }
    }

    /// Signs `message` with the account's device key `key_alias`; the signature (ASN.1 DER)
    /// in base64url, as the server's signed device requests take it.
    pub(crate) fn sign_with_key(
        &self,
        key_alias: &str,
        message: String,
    ) -> Result<String, KeyError> {
        let signature = self
            .platform
            .keys
            .sign(key_alias.to_string(), message.into_bytes())?;
        Ok(b64(&signature))
    }

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
        let revoked = self
            .revoke_credential(&account.credential_id, &account.key_alias, self.now_secs())
            .await;
        match revoked {
            Ok(()) => {}
            Err(RevokeFailure::Key(KeyError::NotFound | KeyError::Invalidated)) => {
                tracing::warn!(
                    "device key unusable; the server credential cannot be revoked from here"
                );
            }
            Err(RevokeFailure::Key(error)) => return Err(AccountsError::DeviceKey { error }),
            Err(RevokeFailure::Server(ApiError::Unreachable { reason })) => {
                return Err(AccountsError::ServerUnreachable { reason })
            }
            Err(RevokeFailure::Server(other)) => {
                return Err(AccountsError::ServerReply {
                    detail: api_error_detail(&other),
                })
            }
        }
        self.book.remove(username)?;
        if let Err(e) = self.platform.keys.delete_key(account.key_alias.clone()) {
            tracing::warn!(error = %e, "device key could not be deleted");
        }
        Ok(account)
    }
}

impl Device {
    /// Resets this device: revokes each account's credential on the server where it can
    /// (signed by the account's device key; no PIN is asked, since nothing here helps someone
    /// holding the phone), deletes the device keys, and forgets every account, the PIN and
    /// the device record. The way out when the store was found tampered with or the PIN
    /// attempts are used up; afterwards the user activates again. Returns the users removed.
    pub(crate) async fn reset(&self) -> Result<Vec<String>, AccountsError> {
        let accounts = self.book.list().unwrap_or_else(|e| {
            tracing::warn!(code = %crate::error::ErrorCode::code(&e), "account list unreadable; resetting anyway");
            Vec::new()
        });
        for account in &accounts {
            let revoked = self
                .revoke_credential(&account.credential_id, &account.key_alias, self.now_secs())
                .await;
            if let Err(failure) = revoked {
                tracing::warn!(detail = %failure.detail(), "credential not revoked at reset; the portal can revoke it");
            }
            if let Err(e) = self.platform.keys.delete_key(account.key_alias.clone()) {
                tracing::warn!(error = %e, "device key could not be deleted");
            }
        }
        self.book.forget_everything(&accounts)?;
        tracing::info!(accounts = accounts.len(), "device reset");
        Ok(accounts.into_iter().map(|a| a.username).collect())
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
