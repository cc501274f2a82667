//! Checking a login challenge each time it is used: its form and server, its signature by the
//! pinned server key, the account of this device that answers it, and its expiry on the device
//! clock corrected by the learned offset (asking the server for its time when a challenge
//! looks expired or not yet issued, since the device clock may be what is off).

use serde::Deserialize;

use super::numbers::number_choices;
use super::{ApprovalError, ChallengeSource, LoginChallenge};
use crate::api::ApiError;
use crate::device::Device;
use crate::error::ErrorCode;
use crate::Account;
use ibkey_protocol::activation::{self as protocol, TokenError};
use ibkey_protocol::approval::{
    device_request_message, ChallengeClaims, PendingRequest, TimeClaims, CHALLENGE_TYPE,
    PENDING_PURPOSE,
};
use ibkey_protocol::encoding::{b64, unb64};

/// Leeway for the corrected device clock past a challenge's expiry; the server has the
/// final word.
pub(super) const EXPIRY_LEEWAY_SECS: i64 = 30;
/// A challenge issued further than this ahead of the corrected device clock means the
/// clock is wrong.
pub(super) const FUTURE_TOLERANCE_SECS: i64 = 5 * 60;

/// A challenge whose form, server and signature checked out, with the account answering it.
pub(super) struct Checked {
    /// What the challenge says.
    pub claims: ChallengeClaims,
    /// The account of this device it is for.
    pub account: Account,
}

/// Where a challenge stands against the corrected device clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timing {
    Current,
    Expired,
    NotYetIssued,
}

/// The claims read before the signature is checked, to tell "not a login code" and "another
/// server" apart from a forgery.
#[derive(Deserialize)]
struct Unverified {
    typ: String,
    srv: String,
}

fn unverified_claims(token: &str) -> Option<Unverified> {
    let mut parts = token.split('.');
    let (prefix, claims) = (parts.next()?, parts.next()?);
    parts.next()?;
    if prefix != protocol::TOKEN_PREFIX || parts.next().is_some() {
        return None;
    }
    let claims: Unverified = serde_json::from_slice(&unb64(claims)?).ok()?;
    (claims.typ == CHALLENGE_TYPE).then_some(claims)
}

impl Device {
    /// Reads a challenge token and checks its form, server and signature, and finds the
    /// account of this device that answers it.
    pub(super) async fn check_challenge(&self, token: &str) -> Result<Checked, ApprovalError> {
        let token = token.trim();
        let claimed = unverified_claims(token).ok_or(ApprovalError::NotALoginCode)?;
        let ours = self.config.server_url.trim_end_matches('/');
        if claimed.srv.trim_end_matches('/') != ours {
            return Err(ApprovalError::WrongServer {
                expected: ours.to_string(),
                found: claimed.srv,
            });
        }
        let claims: ChallengeClaims = self.verify_server_token(token).await.map_err(|e| {
            ApprovalError::from_server_token(e, |e| match e {
                TokenError::BadSignature => ApprovalError::ForgedChallenge,
                TokenError::Malformed | TokenError::WrongType => ApprovalError::NotALoginCode,
            })
        })?;
        let account = self.account_for(&claims.usr, claims.cid.as_deref())?;
        Ok(Checked { claims, account })
    }

    /// The account answering a challenge for `username` sent to the credential `cid` (any
    /// account of the user for a QR code's challenge, which has none).
    fn account_for(&self, username: &str, cid: Option<&str>) -> Result<Account, ApprovalError> {
        let found = match cid {
            Some(cid) => self.book.by_credential(cid)?,
            None => self.book.get(username)?,
        };
        match found {
            Some(account) if account.username == username => Ok(account),
            Some(_) => Err(ApprovalError::OtherDevice),
            None if self.book.get(username)?.is_some() => Err(ApprovalError::OtherDevice),
            None => Err(ApprovalError::UnknownAccount {
                username: username.to_string(),
            }),
        }
    }

    /// Where the challenge stands on the corrected device clock.
    fn timing(&self, claims: &ChallengeClaims) -> Result<Timing, ApprovalError> {
        let now = self.server_now_secs()?;
        Ok(if claims.iat > now.saturating_add(FUTURE_TOLERANCE_SECS) {
            Timing::NotYetIssued
        } else if now > claims.exp.saturating_add(EXPIRY_LEEWAY_SECS) {
            Timing::Expired
        } else {
            Timing::Current
        })
    }

    /// Checks the challenge is current on the corrected device clock alone (the server's
    /// time was just learned).
    pub(super) fn check_current_locally(&self, checked: &Checked) -> Result<(), ApprovalError> {
        let timing = self.timing(&checked.claims)?;
        self.timing_result(timing, &checked.claims)
    }

    /// Checks the challenge is current. When it does not look so, the device clock may be
    /// what is off: the server's signed time is asked for, and the check runs again with it.
    pub(super) async fn check_current(&self, checked: &Checked) -> Result<(), ApprovalError> {
        let first = self.timing(&checked.claims)?;
        if first == Timing::Current {
            return Ok(());
        }
        let timing = match self.pull(&checked.account).await {
            Ok(_) => self.timing(&checked.claims)?,
            Err(e @ (ApprovalError::Revoked { .. } | ApprovalError::PossiblyCloned { .. })) => {
                return Err(e)
            }
            Err(e) => {
                tracing::info!(code = e.code(), "the server's time could not be asked");
                first
            }
        };
        self.timing_result(timing, &checked.claims)
    }

    fn timing_result(&self, timing: Timing, claims: &ChallengeClaims) -> Result<(), ApprovalError> {
        match timing {
            Timing::Current => Ok(()),
            Timing::Expired => Err(ApprovalError::ChallengeExpired),
            Timing::NotYetIssued => Err(ApprovalError::ClockWrong {
                offset_secs: self.now_secs().saturating_sub(claims.iat),
            }),
        }
    }

    /// Pulls the open challenges of `account`'s credential, and learns the server's clock
    /// from the signed reading that comes with them.
    pub(super) async fn pull(&self, account: &Account) -> Result<Vec<String>, ApprovalError> {
        let issued_at = self.server_now_secs()?;
        let message =
            device_request_message(PENDING_PURPOSE, &account.credential_id, issued_at, "");
        let signature = self.sign(account, message)?;
        let request = PendingRequest {
            credential_id: account.credential_id.clone(),
            issued_at,
            signature: b64(&signature),
        };
        let reply = match self.api.pending(&request).await {
            Ok(reply) => reply,
            Err(e) => return Err(self.approval_refusal(account, e).await),
        };
        self.learn_signed_time(account, issued_at, &reply.time)
            .await?;
        Ok(reply.challenges)
    }

    /// Checks the server's signed reading of its clock (`token`) that answered `account`'s
    /// request dated `issued_at`, learns the offset from it, and gives the server's time.
    pub(crate) async fn learn_signed_time(
        &self,
        account: &Account,
        issued_at: i64,
        token: &str,
    ) -> Result<i64, ApprovalError> {
        let time: TimeClaims = self.verify_server_token(token).await.map_err(|e| {
            ApprovalError::from_server_token(e, |e| ApprovalError::ServerReply {
                detail: format!("the server's time reading was refused: {e}"),
            })
        })?;
        if time.cid != account.credential_id || time.req != issued_at {
            return Err(ApprovalError::ServerReply {
                detail: "the server's time reading is for another request".into(),
            });
        }
        self.learn_server_time(time.now)?;
        Ok(time.now)
    }

    /// What a refused request of `account` means: the server's signed word that the account
    /// moved to another phone forgets it here ([`ApprovalError::Moved`]); anything else as
    /// [`ApprovalError::from_api`] says.
    pub(crate) async fn approval_refusal(
        &self,
        account: &Account,
        error: ApiError,
    ) -> ApprovalError {
        match self.moved_away(account, &error).await {
            Some(notice) => ApprovalError::Moved { notice },
            None => ApprovalError::from_api(error, &account.username),
        }
    }

    /// Signs `message` with `account`'s device key.
    pub(crate) fn sign(
        &self,
        account: &Account,
        message: String,
    ) -> Result<Vec<u8>, ApprovalError> {
        self.platform
            .keys
            .sign(account.key_alias.clone(), message.into_bytes())
            .map_err(|error| ApprovalError::DeviceKey { error })
    }

    /// The record the app shows for a checked challenge.
    pub(super) fn challenge_record(
        &self,
        checked: &Checked,
        token: &str,
        source: ChallengeSource,
    ) -> Result<LoginChallenge, ApprovalError> {
        let claims = &checked.claims;
        let now = self.server_now_secs()?;
        Ok(LoginChallenge {
            challenge_id: claims.id.clone(),
            username: claims.usr.clone(),
            server_url: claims.srv.clone(),
            context: claims.ctx.clone(),
            expires_at: claims.exp,
            seconds_left: claims.exp.saturating_sub(now).max(0),
            number_choices: claims
                .num
                .map(|right| number_choices(&claims.non, right))
                .unwrap_or_default(),
            source,
            token: token.trim().to_string(),
        })
    }
}
