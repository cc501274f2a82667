//! The [`Authenticator`]: one object per app, holding the platform services and the state of
//! this device. Activation lives in [`crate::activation`], the account list in
//! [`crate::accounts`]; this file wires them together.

use crate::accounts::{AccountBook, AccountsError};
use crate::activation::ActivationError;
use crate::api::{ApiError, ServerApi};
use crate::gate::{Gate, GateError, PinLockout, PinPolicy};
use crate::platform::{KeyError, Platform, VerificationMethod};
use crate::Account;
use ibkey_protocol::activation::{self as protocol, codes};
use ibkey_protocol::encoding::b64;

/// How an app configures its authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AuthenticatorConfig {
    /// The server's base URL (`https://…`; plain `http://` only to loopback).
    pub server_url: String,
    /// The server's signing key (SEC1 uncompressed P-256, base64url) as shipped with the app.
    /// When `None`, the key is fetched and pinned at first contact.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub server_public_key: Option<String>,
    /// A name for this device the user recognises in the portal.
    pub device_name: String,
    /// PIN (Android style) or platform biometrics (iOS style).
    pub verification: VerificationMethod,
    /// PIN rules and hashing cost (the defaults unless a test needs a quicker hash).
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub pin_policy: PinPolicy,
}

/// The authenticator core for one app install.
pub struct Authenticator {
    pub(crate) config: AuthenticatorConfig,
    pub(crate) platform: Platform,
    pub(crate) api: ServerApi,
    pub(crate) book: AccountBook,
    pub(crate) gate: Gate,
}

impl Authenticator {
    /// Builds the authenticator over the platform's services. Fails only for an insecure
    /// server URL; stored state is read when first needed.
    pub fn new(config: AuthenticatorConfig, platform: Platform) -> Result<Self, ActivationError> {
        let api = ServerApi::new(&config.server_url, platform.http.clone())
            .map_err(|e| api_error_to_activation(e, ""))?;
        let gate = Gate::new(
            platform.store.clone(),
            platform.clock.clone(),
            platform.verifier.clone(),
            config.verification,
            config.pin_policy.clone(),
        );
        Ok(Self {
            book: AccountBook::new(platform.store.clone()),
            config,
            platform,
            api,
            gate,
        })
    }

    /// The users enrolled on this device, in enrollment order.
    pub fn accounts(&self) -> Result<Vec<Account>, AccountsError> {
        Ok(self.book.list()?)
    }

    /// The account of `username`, if enrolled here.
    pub fn account(&self, username: &str) -> Result<Option<Account>, AccountsError> {
        Ok(self.book.get(username)?)
    }

    /// Removes `username` from this device once the user confirms (PIN or biometrics):
    /// revokes the credential on the server, then deletes the account and its key. When the
    /// server cannot be reached nothing changes.
    pub async fn remove_account(&self, username: &str) -> Result<Account, AccountsError> {
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

    /// The running PIN lockout, if any: until when, and how long is left.
    pub fn pin_lockout(&self) -> Result<Option<PinLockout>, GateError> {
        self.gate.lockout()
    }

    /// Whether an app PIN has been set on this device.
    pub fn has_pin(&self) -> Result<bool, GateError> {
        self.gate.has_pin()
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.platform.clock.now_unix_ms().div_euclid(1000)
    }
}

/// Maps a server-client error to what activation tells the user.
pub(crate) fn api_error_to_activation(error: ApiError, username: &str) -> ActivationError {
    use crate::activation::FoundBy;
    match error {
        ApiError::Unreachable { reason } => ActivationError::ServerUnreachable { reason },
        ApiError::InsecureUrl { url } => ActivationError::InsecureServer { url },
        ApiError::BadReply { detail } => ActivationError::ServerReply { detail },
        ApiError::Refused {
            code,
            message,
            retry_after,
        } => match code.as_str() {
            codes::CODE_USED => ActivationError::CodeUsed,
            codes::CODE_EXPIRED => ActivationError::CodeExpired,
            codes::CODE_UNKNOWN => ActivationError::CodeUnknown,
            codes::ALREADY_ENROLLED => ActivationError::AlreadyEnrolled {
                username: username.to_string(),
                found_by: FoundBy::Server,
            },
            codes::TOO_MANY_ATTEMPTS => ActivationError::TooManyAttempts {
                retry_after_secs: retry_after.unwrap_or(60),
            },
            _ => ActivationError::ServerReply {
                detail: format!("{code}: {message}"),
            },
        },
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
