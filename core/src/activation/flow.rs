//! The activation flow: read and check the code, verify the user, make and register the
//! device key (and agree on the offline codes' secret), store the account.

use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::{ActivationError, ActivationOutcome, ActivationRequest, FoundBy, SessionId};
use crate::accounts::RevokeFailure;
use crate::device::Device;
use crate::error::ErrorCode;
use crate::gate::{GateError, Verification};
use crate::platform::{KeyError, StoreError};
use crate::Account;
use ibkey_protocol::activation::{self as protocol, ReceiptClaims, TicketClaims, TokenError};
use ibkey_protocol::encoding::{b64, unb64};
use ibkey_protocol::offline;

/// Leeway for the phone's clock when checking the expiry a QR code carries; the server
/// has the final word.
const CLOCK_LEEWAY_SECS: i64 = 30;
/// A code that looks expired by more than this is not refused on the phone: more likely the
/// phone's clock is far off (the server refuses a code that really expired, and its receipt
/// teaches the phone the server's time).
const LOCAL_EXPIRY_WINDOW_SECS: i64 = 3600;

impl Device {
    /// Checks a session ID as typed, on the device: length, characters and the check
    /// character of each group. Useful while the user types.
    pub(crate) fn check_session_id(&self, typed: &str) -> Result<(), ActivationError> {
        SessionId::parse(typed)
            .map(|_| ())
            .map_err(ActivationError::from)
    }

    /// Reads a scanned QR payload and checks it (form, server, signature, expiry, already
    /// enrolled) without activating, so the app can show whom it would enroll.
    pub(crate) async fn inspect_qr(
        &self,
        payload: &str,
    ) -> Result<ActivationRequest, ActivationError> {
        let ticket = self.read_ticket(payload).await?;
        self.check_locally(payload.trim(), &ticket).await?;
        Ok(request_of(&ticket))
    }

    /// Activates from the text of a scanned QR code.
    pub(crate) async fn activate_from_qr(
        &self,
        payload: &str,
    ) -> Result<ActivationOutcome, ActivationError> {
        let result = async {
            let ticket = self.read_ticket(payload).await?;
            self.activate_ticket(payload.trim(), ticket).await
        }
        .await;
        log_refusal(result)
    }

    /// Activates from a session ID typed by the user. Typos are caught before any network call.
    pub(crate) async fn activate_with_session_id(
        &self,
        typed: &str,
    ) -> Result<ActivationOutcome, ActivationError> {
        let result = async {
            let session_id = SessionId::parse(typed)?;
            tracing::info!(session = %session_id, "looking up typed session ID");
            let reply = self
                .api
                .lookup(session_id.canonical())
                .await
                .map_err(|e| ActivationError::from_api(e, ""))?;
            let ticket = self.read_ticket(&reply.ticket).await?;
            if ticket.sid != session_id.canonical() {
                return Err(ActivationError::ServerReply {
                    detail: "the server answered with the code of another session ID".into(),
                });
            }
            self.activate_ticket(&reply.ticket, ticket).await
        }
        .await;
        log_refusal(result)
    }

    /// Parses a ticket token, checks it names our server and carries its signature.
    async fn read_ticket(&self, token: &str) -> Result<TicketClaims, ActivationError> {
        let token = token.trim();
        let claimed = unverified_claims(token).ok_or(ActivationError::NotAnActivationCode)?;
        let ours = self.config.server_url.trim_end_matches('/');
        if claimed.srv.trim_end_matches('/') != ours {
            return Err(ActivationError::WrongServer {
                expected: ours.to_string(),
                found: claimed.srv,
            });
        }
        self.verify_server_token::<TicketClaims>(token)
            .await
            .map_err(|e| {
                ActivationError::from_server_token(e, |e| match e {
                    TokenError::BadSignature => ActivationError::ServerKeyMismatch,
                    TokenError::Malformed | TokenError::WrongType => {
                        ActivationError::NotAnActivationCode
                    }
                })
            })
    }

    /// The checks that need nothing but the device: already enrolled (then reported to the
    /// server with the ticket `token`, best effort, so the activation page says so), expired
    /// (on the clock corrected by the learned server offset; only recently, else the server
    /// decides).
    async fn check_locally(
        &self,
        token: &str,
        ticket: &TicketClaims,
    ) -> Result<(), ActivationError> {
        if let Some(account) = self.book.get(&ticket.usr)? {
            self.report_already_enrolled(token, ticket, &account).await;
            return Err(ActivationError::AlreadyEnrolled {
                username: ticket.usr.clone(),
                found_by: FoundBy::Device,
            });
        }
        let late = self.server_now_secs()?.saturating_sub(ticket.exp);
        if late > CLOCK_LEEWAY_SECS && late <= LOCAL_EXPIRY_WINDOW_SECS {
            return Err(ActivationError::CodeExpired);
        }
        Ok(())
    }

    async fn activate_ticket(
        &self,
        token: &str,
        ticket: TicketClaims,
    ) -> Result<ActivationOutcome, ActivationError> {
        let code_hash = code_fingerprint(&ticket.sid);
        let device = self.book.device()?;
        if device.last_activated_code.as_deref() == Some(code_hash.as_str()) {
            if let Some(account) = self.book.get(&ticket.usr)? {
                tracing::info!(user = %account.username, "same activation code seen again; nothing to do");
                return Ok(ActivationOutcome::AlreadyActivatedWithThisCode { account });
            }
        }
        self.check_locally(token, &ticket).await?;

        let verification = self
            .gate
            .verify_user(&format!("Activate {} on this device", ticket.usr))
            .await?;

        let keys = &self.platform.keys;
        let alias = new_key_alias()?;
        let public_key = keys
            .create_key(alias.clone())
            .map_err(|error| ActivationError::DeviceKey { error })?;
        let public_key_b64 = b64(&public_key);
        let proof_message =
            protocol::activation_proof_message(&ticket.sid, &device.device_id, &public_key_b64);
        let registered = async {
            // A one-time X25519 key: the server answers with its own, and both ends derive the
            // offline codes' secret without sending it.
            let agreement = EphemeralPrivateKey::generate(offline::AGREEMENT, &SystemRandom::new())
                .map_err(|_| no_randomness())?;
            let agreement_public = agreement
                .compute_public_key()
                .map_err(|_| no_randomness())?;
            let proof = keys
                .sign(alias.clone(), proof_message.into_bytes())
                .map_err(|error| ActivationError::DeviceKey { error })?;
            let request = protocol::CompleteRequest {
                ticket: token.to_string(),
                device_id: device.device_id.clone(),
                device_name: self.config.device_name.clone(),
                public_key: public_key_b64,
                proof: b64(&proof),
                agreement_key: Some(b64(agreement_public.as_ref())),
            };
            let reply = self
                .api
                .complete(&request)
                .await
                .map_err(|e| ActivationError::from_api(e, &ticket.usr))?;
            let receipt = self
                .check_receipt(&reply.receipt, &ticket, &device.device_id, &public_key)
                .await?;
            let secret =
                agreed_codes_secret(agreement, reply.agreement_key.as_deref(), &receipt.cid);
            Ok((receipt, secret))
        }
        .await;
        let (credential_id, server_time, codes_secret) = match registered {
            Ok((receipt, secret)) => (receipt.cid, receipt.iat, secret),
            Err(e) => {
                discard_key(keys.as_ref(), &alias);
                return Err(e);
            }
        };

        let account = Account {
            username: ticket.usr.clone(),
            server_url: ticket.srv.clone(),
            credential_id,
            key_alias: alias.clone(),
            enrolled_at: self.now_secs(),
        };
        // The server holds the credential now: from here on, any failure undoes it there and
        // on the phone, so a retry starts from nothing (not "already enrolled").
        let saved =
            self.save_enrollment(verification, &account, codes_secret.as_deref(), code_hash);
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(existing)) => {
                // A revocation that fails is logged by `undo_enrollment`; the user is enrolled
                // here already, which is what they need to hear.
                let _ = self.undo_enrollment(&account, server_time).await;
                return Err(ActivationError::AlreadyEnrolled {
                    username: existing.username,
                    found_by: FoundBy::Device,
                });
            }
            Err(error) => {
                tracing::warn!(
                    code = error.code(),
                    "the new account could not be saved; undoing the enrollment"
                );
                return Err(match self.undo_enrollment(&account, server_time).await {
                    Ok(()) => ActivationError::NotSaved { error },
                    Err(failure) => ActivationError::NotSavedServerKeepsDevice {
                        error,
                        reason: failure.detail(),
                    },
                });
            }
        }
        if let Err(e) = self.learn_server_time(server_time) {
            tracing::warn!(code = e.code(), "the server's clock could not be learned");
        }
        Ok(match ticket.mov {
            Some(replaced) => {
                tracing::info!(user = %account.username, replaced = replaced.len(), "moved to this device");
                ActivationOutcome::Moved { account, replaced }
            }
            None => {
                tracing::info!(user = %account.username, "activated");
                ActivationOutcome::Activated { account }
            }
        })
    }

    /// Saves what an enrollment the server accepted leaves on the phone: the new PIN (if one
    /// was chosen), the account's approval record (with the offline codes' secret), the
    /// account, and the code just used. Gives back the account already there for the user
    /// instead when there is one.
    fn save_enrollment(
        &self,
        verification: Verification,
        account: &Account,
        codes_secret: Option<&[u8; offline::SECRET_LEN]>,
        code_hash: String,
    ) -> Result<Result<(), Account>, StoreError> {
        self.gate.commit(verification).map_err(|e| match e {
            GateError::Store { error } => error,
            other => StoreError::WriteFailed {
                reason: other.to_string(),
            },
        })?;
        // The account's record (with the offline codes' secret) first: an account never
        // exists without it.
        match codes_secret {
            Some(secret) => self
                .book
                .save_codes_secret(&account.credential_id, secret.as_ref())?,
            None => self
                .book
                .update_approval_state(&account.credential_id, |_| ())?,
        }
        if let Err(existing) = self.book.add(account.clone())? {
            return Ok(Err(existing));
        }
        self.book
            .update_device(|d| d.last_activated_code = Some(code_hash))?;
        Ok(Ok(()))
    }

    /// Undoes an enrollment the phone could not keep: removes whatever of it was saved on the
    /// phone, revokes the credential on the server (a revocation signed by its key, dated
    /// `server_time`, the server's time from the receipt) and deletes the key. Fails when
    /// the server could not be told; the phone side is undone all the same.
    async fn undo_enrollment(
        &self,
        account: &Account,
        server_time: i64,
    ) -> Result<(), RevokeFailure> {
        match self.book.by_credential(&account.credential_id) {
            Ok(Some(saved)) => {
                if let Err(e) = self.book.remove(&saved.username) {
                    tracing::warn!(code = e.code(), "the unsaved account could not be removed");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(code = e.code(), "the account list could not be read"),
        }
        self.book.forget_state(&account.credential_id);
        let revoked = self
            .revoke_credential(&account.credential_id, &account.key_alias, server_time)
            .await;
        if let Err(failure) = &revoked {
            tracing::warn!(detail = %failure.detail(), "the server credential could not be revoked");
        }
        discard_key(self.platform.keys.as_ref(), &account.key_alias);
        revoked
    }

    /// Checks the server's enrollment receipt and returns what it says.
    async fn check_receipt(
        &self,
        receipt: &str,
        ticket: &TicketClaims,
        device_id: &str,
        public_key: &[u8],
    ) -> Result<ReceiptClaims, ActivationError> {
        let claims: ReceiptClaims = self.verify_server_token(receipt).await.map_err(|e| {
            ActivationError::from_server_token(e, |e| ActivationError::ServerReply {
                detail: format!("enrollment receipt refused: {e}"),
            })
        })?;
        if claims.usr != ticket.usr
            || claims.dev != device_id
            || claims.pkid != protocol::key_id(public_key)
        {
            return Err(ActivationError::ServerReply {
                detail: "the enrollment receipt is for another user, device or key".into(),
            });
        }
        Ok(claims)
    }
}

/// Logs why an activation was refused, by its stable code (never its details), so a support
/// bundle shows what the user met.
fn log_refusal(
    result: Result<ActivationOutcome, ActivationError>,
) -> Result<ActivationOutcome, ActivationError> {
    if let Err(e) = &result {
        tracing::info!(code = e.code(), "activation refused");
    }
    result
}

/// Reads a ticket's claims without checking the signature, to tell "not our code" and
/// "another server" apart from a bad signature.
fn unverified_claims(token: &str) -> Option<TicketClaims> {
    let mut parts = token.split('.');
    let (prefix, claims) = (parts.next()?, parts.next()?);
    parts.next()?;
    if prefix != protocol::TOKEN_PREFIX || parts.next().is_some() {
        return None;
    }
    let claims: TicketClaims = serde_json::from_slice(&unb64(claims)?).ok()?;
    (claims.typ == protocol::TICKET_TYPE).then_some(claims)
}

fn request_of(ticket: &TicketClaims) -> ActivationRequest {
    ActivationRequest {
        username: ticket.usr.clone(),
        server_url: ticket.srv.clone(),
        expires_at: ticket.exp,
        session_id_hint: ticket.sid.chars().skip(8).collect(),
        replaces: ticket.mov.clone().unwrap_or_default(),
    }
}

/// What the device remembers of an activated code: a hash, never the session ID itself.
fn code_fingerprint(session_id: &str) -> String {
    b64(digest::digest(&digest::SHA256, session_id.as_bytes()).as_ref())
}

fn new_key_alias() -> Result<String, ActivationError> {
    let mut random = [0u8; 8];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| no_randomness())?;
    Ok(format!("account-{}", b64(&random)))
}

fn no_randomness() -> ActivationError {
    ActivationError::DeviceKey {
        error: KeyError::Failed {
            reason: "no randomness available".into(),
        },
    }
}

/// The offline codes' secret agreed with the server's one-time key (`server_key`, base64url),
/// bound to the new credential. `None` when the server sent no key (it has no offline codes)
/// or a key that does not agree: the account then works for approvals, without offline codes.
pub(crate) fn agreed_codes_secret(
    agreement: EphemeralPrivateKey,
    server_key: Option<&str>,
    credential_id: &str,
) -> Option<Zeroizing<[u8; offline::SECRET_LEN]>> {
    let Some(server_key) = server_key else {
        tracing::info!("the server has no offline codes; activating without them");
        return None;
    };
    let secret = unb64(server_key).and_then(|key| {
        agree_ephemeral(
            agreement,
            &UnparsedPublicKey::new(offline::AGREEMENT, key),
            |shared| offline::derive_account_secret(shared, credential_id),
        )
        .ok()
    });
    if secret.is_none() {
        tracing::warn!("the server's agreement key was refused; activating without offline codes");
    }
    secret
}

fn discard_key(keys: &dyn crate::platform::KeyVault, alias: &str) {
    if let Err(e) = keys.delete_key(alias.to_string()) {
        tracing::warn!(error = %e, "could not delete an unused device key");
    }
}
