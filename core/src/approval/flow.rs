//! The approval flows: read a challenge (push, pull, QR code), check a picked number, approve
//! (PIN or biometrics first), deny or report, register the push token. Every decision is
//! signed the same way: the account's counter goes up and is saved, then the decision message
//! is signed with the account's key, sent, and the server's receipt checked.

use std::collections::HashSet;

use super::push::{challenge_token_of_push, is_token};
use super::token::Checked;
use super::{
    ApprovalError, ApprovalOutcome, ChallengeSource, Decision, LoginChallenge, NumberCheck,
    MAX_WRONG_PICKS,
};
use crate::device::Device;
use crate::error::ErrorCode;
use ibkey_protocol::approval::{
    decision_message, device_request_message, DecideRequest, DecisionReceiptClaims,
    PushTokenRequest, PUSH_TOKEN_PURPOSE,
};
use ibkey_protocol::encoding::b64;

impl Device {
    /// Reads a login notification's data: the JSON push payload, or the bare token.
    pub(crate) async fn read_push(&self, payload: &[u8]) -> Result<LoginChallenge, ApprovalError> {
        self.note_notification_arrived();
        let result = async {
            let token = challenge_token_of_push(payload)?;
            self.read_challenge(&token, ChallengeSource::Push).await
        }
        .await;
        log_refusal(result, "login notification refused")
    }

    /// Reads the text of the login page's QR code.
    pub(crate) async fn read_login_qr(
        &self,
        payload: &str,
    ) -> Result<LoginChallenge, ApprovalError> {
        let result = async {
            let token = payload.trim();
            if !is_token(token) {
                return Err(ApprovalError::NotALoginCode);
            }
            self.read_challenge(token, ChallengeSource::QrCode).await
        }
        .await;
        log_refusal(result, "login QR code refused")
    }

    /// The logins waiting for the accounts of this device, pulled from the server (oldest
    /// first per account), without those already answered here. An account whose pull fails
    /// is skipped; fails only when every pull failed.
    pub(crate) async fn pending_logins(&self) -> Result<Vec<LoginChallenge>, ApprovalError> {
        let accounts = self.book.list()?;
        let mut found = Vec::new();
        let mut seen = HashSet::new();
        let mut pulled_any = false;
        let mut first_error = None;
        for account in &accounts {
            let tokens = match self.pull(account).await {
                Ok(tokens) => tokens,
                Err(e) => {
                    tracing::info!(user = %account.username, code = e.code(), "pull failed");
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            pulled_any = true;
            for token in tokens {
                match self.read_pulled(&token).await {
                    Ok(challenge) => {
                        if seen.insert(challenge.challenge_id.clone()) {
                            found.push(challenge);
                        }
                    }
                    Err(ApprovalError::AlreadyAnswered) => {}
                    // A store that cannot be trusted or read is the user's problem to see,
                    // not a challenge to skip.
                    Err(e @ ApprovalError::Store { .. }) => return Err(e),
                    Err(e) => {
                        tracing::info!(user = %account.username, code = e.code(), "pulled challenge skipped");
                    }
                }
            }
        }
        tracing::info!(
            accounts = accounts.len(),
            waiting = found.len(),
            "pulled pending logins"
        );
        match first_error {
            Some(e) if !pulled_any => Err(e),
            _ => Ok(found),
        }
    }

    /// Checks a number the user picked; the third wrong pick refuses the login.
    pub(crate) async fn check_number(
        &self,
        challenge: &LoginChallenge,
        number: u8,
    ) -> Result<NumberCheck, ApprovalError> {
        let result = async {
            let checked = self.check_challenge(&challenge.token).await?;
            self.check_unanswered(&checked)?;
            if checked.claims.num.is_none() {
                return Ok(NumberCheck::Match);
            }
            match self.match_number(&checked, number).await {
                Ok(()) => Ok(NumberCheck::Match),
                Err(ApprovalError::WrongNumber { attempts_left }) => {
                    Ok(NumberCheck::Wrong { attempts_left })
                }
                Err(e) => Err(e),
            }
        }
        .await;
        log_refusal(result, "number check refused")
    }

    /// Approves a login once the number matches and the user verified.
    pub(crate) async fn approve(
        &self,
        challenge: &LoginChallenge,
        number: Option<u8>,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        let result = async {
            let checked = self.check_challenge(&challenge.token).await?;
            self.check_unanswered(&checked)?;
            self.check_current(&checked).await?;
            if checked.claims.num.is_some() {
                let picked = number.ok_or(ApprovalError::NumberRequired)?;
                self.match_number(&checked, picked).await?;
            }
            let claims = &checked.claims;
            let verification = self
                .gate
                .verify_user(&format!(
                    "Approve login for {} to {}",
                    claims.usr, claims.ctx.application
                ))
                .await?;
            let outcome = self
                .send_decision(&checked, Decision::Approve, claims.num)
                .await?;
            self.gate.commit(verification)?;
            Ok(outcome)
        }
        .await;
        log_refusal(result, "approval refused")
    }

    /// Denies a login (or reports it as not the user's), without asking for verification.
    pub(crate) async fn deny(
        &self,
        challenge: &LoginChallenge,
        report_fraud: bool,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        let result = async {
            let checked = self.check_challenge(&challenge.token).await?;
            self.check_unanswered(&checked)?;
            self.check_current(&checked).await?;
            let decision = if report_fraud {
                Decision::ReportFraud
            } else {
                Decision::Deny
            };
            self.send_decision(&checked, decision, None).await
        }
        .await;
        log_refusal(result, "denial refused")
    }

    /// Registers the app's push token for every account; returns how many were registered.
    /// An account whose registration fails is skipped; fails only when every one failed.
    pub(crate) async fn register_push_token(
        &self,
        platform: &str,
        token: &str,
    ) -> Result<u32, ApprovalError> {
        let accounts = self.book.list()?;
        let detail = format!("{platform}:{token}");
        let mut registered = 0u32;
        let mut first_error = None;
        for account in &accounts {
            let result = async {
                let issued_at = self.server_now_secs()?;
                let message = device_request_message(
                    PUSH_TOKEN_PURPOSE,
                    &account.credential_id,
                    issued_at,
                    &detail,
                );
                let signature = self.sign(account, message)?;
                let request = PushTokenRequest {
                    credential_id: account.credential_id.clone(),
                    platform: platform.to_string(),
                    token: token.to_string(),
                    issued_at,
                    signature: b64(&signature),
                };
                match self.api.register_push_token(&request).await {
                    Ok(()) => Ok(()),
                    Err(e) => Err(self.approval_refusal(account, e).await),
                }
            }
            .await;
            match result {
                Ok(()) => registered += 1,
                Err(e) => {
                    tracing::info!(user = %account.username, code = e.code(), "push token not registered");
                    first_error.get_or_insert(e);
                }
            }
        }
        tracing::info!(platform, registered, "push token registered");
        match first_error {
            Some(e) if registered == 0 => Err(e),
            _ => Ok(registered),
        }
    }

    /// Reads a challenge that arrived by push or QR code.
    async fn read_challenge(
        &self,
        token: &str,
        source: ChallengeSource,
    ) -> Result<LoginChallenge, ApprovalError> {
        let checked = self.check_challenge(token).await?;
        self.check_unanswered(&checked)?;
        self.check_current(&checked).await?;
        let challenge = self.challenge_record(&checked, token, source)?;
        tracing::info!(challenge = %challenge.challenge_id, user = %challenge.username, source = ?source, "login challenge read");
        Ok(challenge)
    }

    /// Reads a challenge just pulled (the server's time is fresh: no need to ask again).
    async fn read_pulled(&self, token: &str) -> Result<LoginChallenge, ApprovalError> {
        let checked = self.check_challenge(token).await?;
        self.check_unanswered(&checked)?;
        self.check_current_locally(&checked)?;
        self.challenge_record(&checked, token, ChallengeSource::Pull)
    }

    /// Refuses a challenge this device answered already, or whose number was picked wrong
    /// too often.
    fn check_unanswered(&self, checked: &Checked) -> Result<(), ApprovalError> {
        let state = self.book.approval_state(&checked.account.credential_id)?;
        if state.was_answered(&checked.claims.id) {
            return Err(ApprovalError::AlreadyAnswered);
        }
        if checked.claims.num.is_some()
            && state.wrong_picks_of(&checked.claims.id) >= MAX_WRONG_PICKS
        {
            return Err(ApprovalError::NumberMismatchRefused);
        }
        Ok(())
    }

    /// Compares a picked number with the challenge's; counts a wrong pick, and refuses the
    /// login at the third.
    async fn match_number(&self, checked: &Checked, picked: u8) -> Result<(), ApprovalError> {
        let claims = &checked.claims;
        if claims.num.is_none_or(|right| right == picked) {
            return Ok(());
        }
        let picks = self
            .book
            .update_approval_state(&checked.account.credential_id, |s| {
                s.add_wrong_pick(&claims.id)
            })?;
        tracing::info!(challenge = %claims.id, picks, "wrong number picked");
        if picks < MAX_WRONG_PICKS {
            return Err(ApprovalError::WrongNumber {
                attempts_left: u32::from(MAX_WRONG_PICKS - picks),
            });
        }
        match self
            .send_decision(checked, Decision::WrongNumber, None)
            .await
        {
            Ok(_) => tracing::info!(challenge = %claims.id, "login refused after wrong numbers"),
            Err(e) => tracing::warn!(
                challenge = %claims.id,
                code = e.code(),
                "the server could not be told of the wrong numbers"
            ),
        }
        Err(ApprovalError::NumberMismatchRefused)
    }

    /// Signs and sends a decision, and checks the server's receipt.
    async fn send_decision(
        &self,
        checked: &Checked,
        decision: Decision,
        number: Option<u8>,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        let Checked { claims, account } = checked;
        // Saved before signing: a signature is never made twice with one counter value.
        let counter = self
            .book
            .update_approval_state(&account.credential_id, |s| s.next_counter())?;
        let context_digest = claims.ctx.digest();
        let message = decision_message(
            &claims.id,
            &claims.non,
            &claims.srv,
            &claims.usr,
            decision,
            number,
            &context_digest,
            counter,
        );
        let signature = self.sign(account, message)?;
        let request = DecideRequest {
            challenge_id: claims.id.clone(),
            credential_id: account.credential_id.clone(),
            decision,
            number,
            context_digest,
            counter,
            signature: b64(&signature),
        };
        let reply = match self.api.decide(&request).await {
            Ok(reply) => reply,
            Err(e) => return Err(self.approval_refusal(account, e).await),
        };
        let receipt: DecisionReceiptClaims = self
            .verify_server_token(&reply.receipt)
            .await
            .map_err(|e| {
                ApprovalError::from_server_token(e, |e| ApprovalError::ServerReply {
                    detail: format!("the decision receipt was refused: {e}"),
                })
            })?;
        if receipt.id != claims.id
            || receipt.cid != account.credential_id
            || receipt.dec != decision
            || receipt.ctr != counter
        {
            return Err(ApprovalError::ServerReply {
                detail: "the decision receipt is for another decision".into(),
            });
        }
        if let Err(e) = self.learn_server_time(receipt.iat) {
            tracing::warn!(code = e.code(), "the server's clock could not be learned");
        }
        self.book
            .update_approval_state(&account.credential_id, |s| s.mark_answered(&claims.id))?;
        tracing::info!(
            challenge = %claims.id,
            user = %claims.usr,
            decision = decision.as_str(),
            "login decided"
        );
        Ok(ApprovalOutcome {
            challenge_id: claims.id.clone(),
            username: claims.usr.clone(),
            decision,
            decided_at: receipt.iat,
        })
    }
}

/// Logs why a request was refused, by its stable code only.
fn log_refusal<T>(result: Result<T, ApprovalError>, what: &str) -> Result<T, ApprovalError> {
    if let Err(e) = &result {
        tracing::info!(code = e.code(), "{what}");
    }
    result
}
