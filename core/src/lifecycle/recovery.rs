//! Recovering the accounts whose device keys outlived the app's files (a reinstall: the iOS
//! Keychain keeps its items) or whose account list was lost. The keys prove themselves to the
//! server, which says, key by key, what may be restored and sends each such user a one-time
//! code out of band; the code typed back, with the PIN (a new one when the old is gone),
//! restores the account with a new signed receipt, the server's last approval counter and a
//! fresh offline-code secret. A store found damaged is never overwritten: recovery then stops
//! and says so.

use ring::agreement::EphemeralPrivateKey;
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};

use super::MoveNotice;
use crate::activation::{agreed_codes_secret, ServerTokenError};
use crate::api::ApiError;
use crate::device::Device;
use crate::error::{export_error_code, ErrorCode};
use crate::gate::GateError;
use crate::platform::{KeyError, StoreError, StoredKey};
use crate::Account;
use ibkey_protocol::activation::{codes as activation_codes, key_id, ReceiptClaims};
use ibkey_protocol::approval::device_request_message;
use ibkey_protocol::encoding::{b64, unb64};
use ibkey_protocol::lifecycle::{
    codes, recovery_complete_detail, KeyProof, MovedClaims, RecoveryBeginRequest,
    RecoveryCandidate, RecoveryCompleteRequest, RECOVERY_BEGIN_PURPOSE, RECOVERY_COMPLETE_PURPOSE,
};
use ibkey_protocol::offline;

/// An account the server offers to restore on this phone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RecoverableAccount {
    /// The user.
    pub username: String,
    /// The name the phone was activated with.
    pub device_name: String,
    /// When the user was enrolled, Unix seconds.
    pub enrolled_at: i64,
    /// Where the server sent the code, masked (`a••••@example.test`).
    pub code_sent_to: String,
    /// When the code expires, Unix seconds.
    pub code_expires_at: i64,
}

/// A key found on this phone whose account cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct LostAccount {
    /// The user, when the server said whose key it was.
    pub username: Option<String>,
    /// Why, in a sentence for the user.
    pub reason: String,
}

/// What [`crate::Authenticator::find_recoverable_accounts`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RecoveryOffer {
    /// The accounts that can be restored, each with the code its user was sent.
    pub recoverable: Vec<RecoverableAccount>,
    /// The keys whose accounts cannot.
    pub lost: Vec<LostAccount>,
}

/// The plain store record of the last offer, kept between the offer and the code (the user
/// may leave the app to read the code, and the app be stopped meanwhile).
const OFFERS_KEY: &str = "recovery";

/// A restorable account's key.
#[derive(Clone, Serialize, Deserialize)]
struct Offered {
    username: String,
    enrolled_at: i64,
    alias: String,
    public_key: String,
}

/// Why recovery did not happen. Each variant has its own code ([`ErrorCode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum RecoveryError {
    /// No account can be restored on this phone.
    #[error("Nothing on this phone can be recovered ({detail}). Activate IB Key again: sign in to the portal on a computer and choose 'Activate IB Key'.")]
    NothingToRecover {
        /// Why, for each key found (or that none was).
        detail: String,
    },
    /// The app's data is damaged or was replaced by an older copy: it was left untouched.
    #[error("IB Key's data on this phone is damaged ({error}), so nothing was recovered and the data was left as it is for support to look at. Contact support; to start over instead, Reset IB Key and activate again.")]
    StoreDamaged {
        /// What the store reported.
        error: StoreError,
    },
    /// The user was not among the accounts offered by the last search.
    #[error("{username} was not offered for recovery on this phone. Look for recoverable accounts first, then enter the code sent for one of them.")]
    NotOffered {
        /// The user asked for.
        username: String,
    },
    /// The code is not the one sent.
    #[error(
        "That code is not the one we sent. Check the latest message and type its 6 digits again."
    )]
    CodeWrong,
    /// The code expired.
    #[error("That code has expired. Look for recoverable accounts again to get a new one.")]
    CodeExpired,
    /// The code was used already.
    #[error("That code was already used. Look for recoverable accounts again to get a new one.")]
    CodeUsed,
    /// Too many wrong codes.
    #[error("Too many wrong codes. Wait {retry_after_secs} seconds, then try again.")]
    TooManyAttempts {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The server no longer allows this account to be restored (removed or moved meanwhile).
    #[error("{username} can no longer be recovered on this phone (it was removed or moved meanwhile). Activate IB Key again from the portal.")]
    NotRecoverable {
        /// The user.
        username: String,
    },
    /// No connection to the server.
    #[error("The server could not be reached ({reason}), so nothing was recovered. Check the phone's connection and try again.")]
    ServerUnreachable {
        /// What the network layer said.
        reason: String,
    },
    /// The server's reply made no sense or did not check out.
    #[error("The server's reply could not be understood ({detail}), so nothing was recovered. Try again later; if this persists, contact support.")]
    ServerReply {
        /// What was wrong with it.
        detail: String,
    },
    /// The server presents a key this app does not trust.
    #[error("The server answered with a key your app does not trust, so nothing was recovered: someone may be intercepting the connection. Try another network; if this persists, contact support.")]
    ServerKeyMismatch,
    /// The app ships no server key and trust on first use is off.
    #[error("This app is not configured with its server's key, so recovery cannot check the server's answers. Contact the app's publisher.")]
    ServerKeyNotConfigured,
    /// A device key could not be listed or used.
    #[error("IB Key's keys on this phone cannot be used ({error}). Activate IB Key again from the portal.")]
    DeviceKey {
        /// What the key vault reported.
        error: KeyError,
    },
    /// The user did not verify (PIN, biometrics, cancel, lockout).
    #[error(transparent)]
    Verification {
        /// Why.
        #[from]
        error: GateError,
    },
    /// The store could not be read or written.
    #[error(transparent)]
    Store {
        /// Why.
        #[from]
        error: StoreError,
    },
}

export_error_code!(RecoveryError);

impl ErrorCode for RecoveryError {
    fn code(&self) -> &'static str {
        use RecoveryError::*;
        match self {
            NothingToRecover { .. } => "REC_NOTHING_TO_RECOVER",
            StoreDamaged { .. } => "REC_STORE_DAMAGED",
            NotOffered { .. } => "REC_NOT_OFFERED",
            CodeWrong => "REC_CODE_WRONG",
            CodeExpired => "REC_CODE_EXPIRED",
            CodeUsed => "REC_CODE_USED",
            TooManyAttempts { .. } => "REC_TOO_MANY_ATTEMPTS",
            NotRecoverable { .. } => "REC_NOT_RECOVERABLE",
            ServerUnreachable { .. } => "REC_SERVER_UNREACHABLE",
            ServerReply { .. } => "REC_SERVER_REPLY",
            ServerKeyMismatch => "REC_SERVER_KEY_MISMATCH",
            ServerKeyNotConfigured => "REC_SERVER_KEY_NOT_CONFIGURED",
            DeviceKey { .. } => "REC_DEVICE_KEY",
            Verification { error } => error.code(),
            Store { error } => error.code(),
        }
    }
}

impl RecoveryError {
    fn from_api(error: ApiError, username: &str) -> Self {
        match error {
            ApiError::Unreachable { reason } => RecoveryError::ServerUnreachable { reason },
            ApiError::InsecureUrl { url } => RecoveryError::ServerReply {
                detail: format!("the server address {url} is not secure"),
            },
            ApiError::BadReply { detail } => RecoveryError::ServerReply { detail },
            ApiError::Refused {
                code,
                message,
                retry_after,
                ..
            } => match code.as_str() {
                codes::OOB_CODE_WRONG => RecoveryError::CodeWrong,
                codes::OOB_CODE_EXPIRED => RecoveryError::CodeExpired,
                codes::OOB_CODE_USED => RecoveryError::CodeUsed,
                codes::NOT_RECOVERABLE | codes::CREDENTIAL_MOVED => RecoveryError::NotRecoverable {
                    username: username.to_string(),
                },
                activation_codes::TOO_MANY_ATTEMPTS => RecoveryError::TooManyAttempts {
                    retry_after_secs: retry_after.unwrap_or(60),
                },
                _ => RecoveryError::ServerReply {
                    detail: format!("{code}: {message}"),
                },
            },
        }
    }

    fn from_server_token(error: ServerTokenError) -> Self {
        match error {
            ServerTokenError::NotConfigured => RecoveryError::ServerKeyNotConfigured,
            ServerTokenError::Untrusted(_) => RecoveryError::ServerKeyMismatch,
            ServerTokenError::Token(e) => RecoveryError::ServerReply {
                detail: format!("a signed answer was refused: {e}"),
            },
            ServerTokenError::Api(e) => RecoveryError::from_api(e, ""),
            ServerTokenError::Store(error) => RecoveryError::Store { error },
        }
    }
}

/// The accounts already on the phone, or `None` when the app's files are gone (nothing to
/// overwrite); a store with damaged records is an error.
fn accounts_here(device: &Device) -> Result<Option<Vec<Account>>, RecoveryError> {
    let state = device.book.list().and_then(|accounts| {
        device.book.device()?;
        device.gate.has_pin().map_err(|e| match e {
            GateError::Store { error } => error,
            other => StoreError::Unreadable {
                reason: other.to_string(),
            },
        })?;
        Ok(accounts)
    });
    match state {
        Ok(accounts) => Ok(Some(accounts)),
        Err(error) => match device.book.holds_no_records() {
            true => Ok(None),
            false => Err(RecoveryError::StoreDamaged { error }),
        },
    }
}

impl Device {
    /// Proves the device keys no account here uses to the server and returns what it offers
    /// to restore (a code is sent to each such user).
    pub(crate) async fn find_recoverable(&self) -> Result<RecoveryOffer, RecoveryError> {
        let held: Vec<String> = match accounts_here(self)? {
            Some(accounts) => accounts.into_iter().map(|a| a.key_alias).collect(),
            None => {
                // The app's files are gone (a reinstall): the guard starts over, as there is
                // nothing left to overwrite, and the gate will ask for a new PIN.
                self.book.forget_everything(&[])?;
                Vec::new()
            }
        };
        let keys: Vec<StoredKey> = self
            .platform
            .keys
            .list_keys()
            .map_err(|error| RecoveryError::DeviceKey { error })?
            .into_iter()
            .filter(|k| !held.contains(&k.alias))
            .collect();
        if keys.is_empty() {
            return Err(RecoveryError::NothingToRecover {
                detail: "no IB Key key was found on this phone without its account".into(),
            });
        }
        let issued_at = self.server_now_secs().unwrap_or_else(|_| self.now_secs());
        let mut proofs = Vec::with_capacity(keys.len());
        for key in &keys {
            let message = device_request_message(
                RECOVERY_BEGIN_PURPOSE,
                &key_id(&key.public_key),
                issued_at,
                "",
            );
            proofs.push(KeyProof {
                public_key: b64(&key.public_key),
                issued_at,
                signature: self
                    .sign_with_key(&key.alias, message)
                    .map_err(|error| RecoveryError::DeviceKey { error })?,
            });
        }
        let reply = self
            .api
            .recovery_begin(&RecoveryBeginRequest { keys: proofs })
            .await
            .map_err(|e| RecoveryError::from_api(e, ""))?;
        if reply.candidates.len() != keys.len() {
            return Err(RecoveryError::ServerReply {
                detail: "the server answered for another number of keys".into(),
            });
        }
        let mut offer = RecoveryOffer {
            recoverable: Vec::new(),
            lost: Vec::new(),
        };
        let mut offered = Vec::new();
        for (key, candidate) in keys.into_iter().zip(reply.candidates) {
            match candidate {
                RecoveryCandidate::Recoverable {
                    key_id: id,
                    username,
                    device_name,
                    enrolled_at,
                    sent_to,
                    expires_at,
                } if id == key_id(&key.public_key) => {
                    offered.push(Offered {
                        username: username.clone(),
                        enrolled_at,
                        alias: key.alias,
                        public_key: b64(&key.public_key),
                    });
                    offer.recoverable.push(RecoverableAccount {
                        username,
                        device_name,
                        enrolled_at,
                        code_sent_to: sent_to,
                        code_expires_at: expires_at,
                    });
                }
                RecoveryCandidate::Revoked {
                    username,
                    revoked_at,
                    ..
                } => offer.lost.push(LostAccount {
                    reason: format!(
                        "{username} was removed from this phone on {}",
                        super::human_utc(revoked_at)
                    ),
                    username: Some(username),
                }),
                RecoveryCandidate::Moved { moved, .. } => {
                    let claims: MovedClaims = self
                        .verify_server_token(&moved)
                        .await
                        .map_err(RecoveryError::from_server_token)?;
                    offer.lost.push(LostAccount {
                        username: Some(claims.usr.clone()),
                        reason: MoveNotice::of(&claims).message,
                    });
                }
                _ => offer.lost.push(LostAccount {
                    username: None,
                    reason: "the server does not know one of the keys on this phone".into(),
                }),
            }
        }
        tracing::info!(
            recoverable = offer.recoverable.len(),
            lost = offer.lost.len(),
            "recovery searched"
        );
        self.book
            .update_plain_record(OFFERS_KEY, |o: &mut Vec<Offered>| *o = offered)?;
        if offer.recoverable.is_empty() {
            let reasons: Vec<&str> = offer.lost.iter().map(|l| l.reason.as_str()).collect();
            return Err(RecoveryError::NothingToRecover {
                detail: reasons.join("; "),
            });
        }
        Ok(offer)
    }

    /// Restores `username` offered by the last search, with the `code` the user received:
    /// verifies the user (a new PIN when the old one is gone), then saves the account with
    /// the server's receipt, counter and a fresh offline-code secret.
    pub(crate) async fn recover_account(
        &self,
        username: &str,
        code: &str,
    ) -> Result<Account, RecoveryError> {
        let result = self.recover_offered(username, code).await;
        if let Err(e) = &result {
            tracing::info!(code = e.code(), "recovery refused");
        }
        result
    }

    async fn recover_offered(&self, username: &str, code: &str) -> Result<Account, RecoveryError> {
        let not_offered = || RecoveryError::NotOffered {
            username: username.to_string(),
        };
        accounts_here(self)?;
        let offered = self
            .book
            .plain_record::<Vec<Offered>>(OFFERS_KEY)?
            .into_iter()
            .find(|o| o.username == username)
            .ok_or_else(not_offered)?;
        let public_key = unb64(&offered.public_key).ok_or_else(not_offered)?;
        let verification = self
            .gate
            .verify_user(&format!("Recover {username} on this phone"))
            .await?;
        let agreement = EphemeralPrivateKey::generate(offline::AGREEMENT, &SystemRandom::new())
            .map_err(|_| no_randomness())?;
        let agreement_public = b64(agreement
            .compute_public_key()
            .map_err(|_| no_randomness())?
            .as_ref());
        let pkid = key_id(&public_key);
        let issued_at = self.server_now_secs().unwrap_or_else(|_| self.now_secs());
        let code = code.replace([' ', '-'], "");
        let message = device_request_message(
            RECOVERY_COMPLETE_PURPOSE,
            &pkid,
            issued_at,
            &recovery_complete_detail(&code, Some(&agreement_public)),
        );
        let request = RecoveryCompleteRequest {
            public_key: offered.public_key.clone(),
            code,
            agreement_key: Some(agreement_public),
            issued_at,
            signature: self
                .sign_with_key(&offered.alias, message)
                .map_err(|error| RecoveryError::DeviceKey { error })?,
        };
        let reply = self
            .api
            .recovery_complete(&request)
            .await
            .map_err(|e| RecoveryError::from_api(e, username))?;
        let receipt: ReceiptClaims = self
            .verify_server_token(&reply.receipt)
            .await
            .map_err(RecoveryError::from_server_token)?;
        if receipt.usr != username || receipt.pkid != pkid {
            return Err(RecoveryError::ServerReply {
                detail: "the recovery receipt is for another user or key".into(),
            });
        }
        let secret = agreed_codes_secret(agreement, reply.agreement_key.as_deref(), &receipt.cid);
        let account = Account {
            username: username.to_string(),
            server_url: self.config.server_url.clone(),
            credential_id: receipt.cid.clone(),
            key_alias: offered.alias.clone(),
            enrolled_at: offered.enrolled_at,
        };
        self.gate.commit(verification)?;
        if self.book.list()?.is_empty() {
            self.book
                .update_device(|d| d.device_id = receipt.dev.clone())?;
        }
        let counter = receipt.ctr.unwrap_or(0);
        self.book.update_approval_state(&receipt.cid, |state| {
            state.counter = state.counter.max(counter)
        })?;
        if let Some(secret) = &secret {
            self.book.save_codes_secret(&receipt.cid, secret.as_ref())?;
        }
        if let Err(existing) = self.book.add(account.clone())? {
            return Ok(existing);
        }
        if let Err(e) = self.learn_server_time(receipt.iat) {
            tracing::warn!(code = e.code(), "the server's clock could not be learned");
        }
        self.book
            .update_plain_record(OFFERS_KEY, |o: &mut Vec<Offered>| {
                o.retain(|o| o.username != username)
            })?;
        tracing::info!(user = %username, "account recovered");
        Ok(account)
    }
}

fn no_randomness() -> RecoveryError {
    RecoveryError::DeviceKey {
        error: KeyError::Failed {
            reason: "no randomness available".into(),
        },
    }
}
