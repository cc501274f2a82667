//! The device's endpoints of login approval: pulling its open challenges with the server's
//! signed clock (`POST /v1/challenges/pending`), deciding one for a signed receipt
//! (`POST /v1/challenges/decide`), and registering where its login notifications go
//! (`POST /v1/devices/push-token`).
//!
//! A decision is checked in this order, each with its own error: the challenge exists and was
//! sent to this credential (or is the login's QR challenge and the credential is the user's);
//! the credential is active and not blocked; the signature over `decision_message` (the
//! server's own nonce and URL with the request's decision, number, context digest and
//! counter); the context digest; the challenge is unanswered and its login pending; it is
//! unexpired; the counter went up (else the credential is blocked as possibly cloned, as
//! WebAuthn does with a signature counter); an approval carries the login page's number; an
//! approval of a push challenge is refused while the user's pushes are muted (every push
//! challenge of a muted user was made before the mute, as none are made during one).
//!
//! A request about a credential replaced by a move is answered 410 `credential_moved` once
//! its signature verified (`handlers::move_device::requesting_credential`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ibkey_protocol::activation::sign_token;
use ibkey_protocol::approval::{
    codes, decision_message, device_request_message, DecideRequest, DecideResponse, Decision,
    DecisionReceiptClaims, LoginState, PendingRequest, PendingResponse, PushTokenRequest,
    TimeClaims, DECISION_RECEIPT_TYPE, PENDING_PURPOSE, PUSH_TOKEN_PURPOSE, TIME_TYPE,
};
use ibkey_protocol::encoding::unb64;

use crate::crypto::device_signature_ok;
use crate::db::activation::CredentialRow;
use crate::db::approval::{ChallengeRow, DecideOutcome, DecisionWrite, FraudWrite};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::handlers::activation::device_clock_off;
use crate::handlers::login::paused_notice;
use crate::handlers::move_device::requesting_credential;
use crate::state::{AppState, Shared};

/// How far a pull's or push-token registration's `issued_at` may be from the server's
/// clock, seconds. Wider than a revocation's 5 minutes: phones' clocks are often minutes
/// off, and a pull is how the app learns the server's time. A replayed request within the
/// window reveals no more than the open challenges, which only the device's key can answer.
pub(crate) const DEVICE_SKEW_SECONDS: u64 = 600;
/// The push platforms a device may register.
const PUSH_PLATFORMS: [&str; 3] = ["fcm", "apns", "webhook"];
/// Longest push token, characters.
const MAX_PUSH_TOKEN_CHARS: usize = 4096;

/// `POST /v1/challenges/pending`: the credential's open challenges, oldest first, and the
/// server's clock signed for it.
#[utoipa::path(
    post,
    path = "/v1/challenges/pending",
    tag = "approval",
    summary = "Pull the open login challenges of a credential",
    description = "The body is signed by the credential's device key (ECDSA P-256, ASN.1 DER, base64url) over the canonical device-request message; see PROTOCOL.md.",
    request_body = ibkey_protocol::approval::PendingRequest,
    responses(
        (status = 200, description = "Signed challenges, oldest first, and a signed time reading.", body = ibkey_protocol::approval::PendingResponse),
        (status = 400, description = "`bad_request` (malformed body); `clock_skew`; `bad_signature`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 403, description = "`possibly_cloned`: the credential is blocked after a counter that did not go up.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`credential_unknown`: the server has no active credential with this id.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`credential_moved`: the credential was replaced by a move; `moved` carries the signed MovedClaims.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn pending(
    State(st): Shared,
    ApiJson(req): ApiJson<PendingRequest>,
) -> Result<Json<PendingResponse>, ApiError> {
    let (credential, now) = signed_device_request(
        &st,
        &req.credential_id,
        req.issued_at,
        PENDING_PURPOSE,
        "",
        &req.signature,
    )?;
    if st.db.counter_state(&req.credential_id)?.possibly_cloned {
        return Err(blocked());
    }
    st.db.touch_credential(&req.credential_id, now)?;
    let challenges = st.db.pending_challenges(&req.credential_id, now)?;
    let time = signed_time(&st, &req.credential_id, req.issued_at, now)?;
    tracing::info!(user = %credential.username, credential_id = %req.credential_id, open = challenges.len(), "pending challenges pulled");
    Ok(Json(PendingResponse { challenges, time }))
}

/// `POST /v1/challenges/decide`: checks a decision (see the module documentation for the
/// order), stores it with the new counter, wakes the login page, and answers a signed
/// receipt.
#[utoipa::path(
    post,
    path = "/v1/challenges/decide",
    tag = "approval",
    summary = "The user's signed decision about a login challenge",
    description = "The body is signed by the credential's device key over the canonical decision message (challenge, nonce, decision, number, context digest, counter); see PROTOCOL.md.",
    request_body = ibkey_protocol::approval::DecideRequest,
    responses(
        (status = 200, description = "A signed decision receipt.", body = ibkey_protocol::approval::DecideResponse),
        (status = 400, description = "`bad_request` (malformed body); `bad_signature`; `context_mismatch`: the context digest is not the challenge's; `number_mismatch`: the matched number is not the login's.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 403, description = "`possibly_cloned`: the counter did not go up, the credential is now blocked; `pushes_muted`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`challenge_unknown` or `credential_unknown`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`challenge_used`: the challenge was already answered.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`challenge_expired` or `credential_moved`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn decide(
    State(st): Shared,
    ApiJson(req): ApiJson<DecideRequest>,
) -> Result<Json<DecideResponse>, ApiError> {
    let challenge = st
        .db
        .challenge(&req.challenge_id)?
        .ok_or_else(ApiError::challenge_unknown)?;
    let message = decision_message(
        &req.challenge_id,
        &challenge.nonce,
        &st.public_url,
        &challenge.username,
        req.decision,
        req.number,
        &req.context_digest,
        req.counter,
    );
    let credential = requesting_credential(&st, &req.credential_id, &message, &req.signature)?;
    let addressed = match &challenge.credential_id {
        Some(sent_to) => *sent_to == req.credential_id,
        None => credential.username == challenge.username,
    };
    if !addressed {
        return Err(ApiError::challenge_unknown());
    }
    let counters = st.db.counter_state(&req.credential_id)?;
    if counters.possibly_cloned {
        return Err(blocked());
    }
    let signature = unb64(&req.signature)
        .ok_or_else(|| ApiError::bad_signature("The decision's signature is not base64url."))?;
    if !device_signature_ok(&credential.public_key, &message, &signature) {
        return Err(ApiError::bad_signature(
            "The decision is not signed by this credential's device key over this challenge from this server. Pull the pending logins again and answer the challenge as received.",
        ));
    }
    if req.context_digest != challenge.context_digest {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::CONTEXT_MISMATCH,
            "The device showed a different login context than the server sent (application, address, location, browser or time), so the decision was refused. Pull the pending logins again and decide on what the server sent.",
        ));
    }
    if challenge.answered || challenge.login_state != LoginState::Pending {
        return Err(challenge_used());
    }
    let now = st.clock.now();
    if now >= challenge.expires_at {
        return Err(ApiError::new(
            StatusCode::GONE,
            codes::CHALLENGE_EXPIRED,
            "This login request expired before the decision arrived. Start the login again on the login page and answer it sooner.",
        ));
    }
    let counter = i64::try_from(req.counter)
        .map_err(|_| ApiError::bad_request("The counter is larger than this server can store."))?;
    if counter <= counters.counter {
        return Err(possibly_cloned(&st, &req, &challenge, now)?);
    }
    if req.decision == Decision::Approve {
        if let Some(number) = challenge.number {
            if req.number != Some(number) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    codes::NUMBER_MISMATCH,
                    "The number picked is not the one on the login page. Look at the login page and pick the number it shows.",
                ));
            }
        }
        if challenge.credential_id.is_some() {
            if let Some(until) = st.db.push_muted_until(&challenge.username, now)? {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    codes::PUSHES_MUTED,
                    format!(
                        "{} Log in with the QR code on the login page instead.",
                        paused_notice(&challenge.username, until, now)
                    ),
                ));
            }
        }
    }
    let fraud_reported = req.decision == Decision::ReportFraud;
    let muted_until = now.saturating_add(st.fraud_mute);
    let outcome = st.db.decide(&DecisionWrite {
        challenge_id: &req.challenge_id,
        login_id: &challenge.login_id,
        credential_id: &req.credential_id,
        decision: req.decision,
        state: state_after(req.decision),
        counter,
        now,
        fraud: fraud_reported.then_some(FraudWrite {
            username: &challenge.username,
            ip_address: &challenge.ip_address,
            application: &challenge.application,
            muted_until,
        }),
    })?;
    match outcome {
        DecideOutcome::Decided => {}
        DecideOutcome::ChallengeAnswered | DecideOutcome::LoginClosed => {
            return Err(challenge_used())
        }
        DecideOutcome::CounterNotAbove => return Err(possibly_cloned(&st, &req, &challenge, now)?),
    }
    st.logins_changed.notify_waiters();
    tracing::info!(
        user = %challenge.username,
        login_id = %challenge.login_id,
        challenge_id = %req.challenge_id,
        credential_id = %req.credential_id,
        decision = req.decision.as_str(),
        "login decided"
    );
    if fraud_reported {
        tracing::warn!(user = %challenge.username, login_id = %challenge.login_id, client = %challenge.ip_address, muted_until, "login reported as fraud; login notifications muted");
    }
    let receipt = sign(
        &st,
        &DecisionReceiptClaims {
            typ: DECISION_RECEIPT_TYPE.to_string(),
            id: req.challenge_id.clone(),
            cid: req.credential_id.clone(),
            dec: req.decision,
            ctr: req.counter,
            iat: now,
        },
        "receipt signing",
    )?;
    Ok(Json(DecideResponse { receipt }))
}

/// `POST /v1/devices/push-token`: stores where the credential's login notifications go.
#[utoipa::path(
    post,
    path = "/v1/devices/push-token",
    tag = "devices",
    summary = "Register where this credential's login notifications go",
    description = "The body is signed by the credential's device key (ECDSA P-256, ASN.1 DER, base64url) over the canonical device-request message; see PROTOCOL.md.",
    request_body = ibkey_protocol::approval::PushTokenRequest,
    responses(
        (status = 204, description = "Registered."),
        (status = 400, description = "`bad_request` (malformed body, unknown platform, bad token); `clock_skew`; `bad_signature`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`credential_unknown`: the server has no active credential with this id.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`credential_moved`: the credential was replaced by a move; `moved` carries the signed MovedClaims.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn push_token(
    State(st): Shared,
    ApiJson(req): ApiJson<PushTokenRequest>,
) -> Result<StatusCode, ApiError> {
    if !PUSH_PLATFORMS.contains(&req.platform.as_str()) {
        return Err(ApiError::bad_request(
            "The push platform must be fcm, apns or webhook.",
        ));
    }
    let length = req.token.chars().count();
    if length == 0 || length > MAX_PUSH_TOKEN_CHARS || req.token.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "The push token must be 1 to {MAX_PUSH_TOKEN_CHARS} characters, without control characters."
        )));
    }
    let (credential, now) = signed_device_request(
        &st,
        &req.credential_id,
        req.issued_at,
        PUSH_TOKEN_PURPOSE,
        &format!("{}:{}", req.platform, req.token),
        &req.signature,
    )?;
    st.db
        .set_push_token(&req.credential_id, &req.platform, &req.token, now)?;
    tracing::info!(user = %credential.username, credential_id = %req.credential_id, platform = %req.platform, "push token registered");
    Ok(StatusCode::NO_CONTENT)
}

/// The active credential that signed a device request (`device_request_message` of
/// `purpose`, `issued_at` and `detail`), and the server's time: `credential_unknown`
/// (`credential_moved` for one replaced by a move, see [`requesting_credential`]),
/// `clock_skew` for a clock more than [`DEVICE_SKEW_SECONDS`] off, or `bad_signature`
/// otherwise.
pub(crate) fn signed_device_request(
    st: &AppState,
    credential_id: &str,
    issued_at: i64,
    purpose: &str,
    detail: &str,
    signature: &str,
) -> Result<(CredentialRow, i64), ApiError> {
    let message = device_request_message(purpose, credential_id, issued_at, detail);
    let credential = requesting_credential(st, credential_id, &message, signature)?;
    let now = st.clock.now();
    if device_clock_off(now, issued_at, DEVICE_SKEW_SECONDS) {
        return Err(ApiError::clock_skew(DEVICE_SKEW_SECONDS));
    }
    let signature = unb64(signature)
        .ok_or_else(|| ApiError::bad_signature("The request's signature is not base64url."))?;
    if !device_signature_ok(&credential.public_key, &message, &signature) {
        return Err(ApiError::bad_signature(
            "The request is not signed by this credential's device key.",
        ));
    }
    Ok((credential, now))
}

/// The server's clock `now` signed for the credential's request issued at `issued_at`
/// ([`TimeClaims`]): how the app learns the server's time.
pub(crate) fn signed_time(
    st: &AppState,
    credential_id: &str,
    issued_at: i64,
    now: i64,
) -> Result<String, ApiError> {
    sign(
        st,
        &TimeClaims {
            typ: TIME_TYPE.to_string(),
            cid: credential_id.to_string(),
            req: issued_at,
            now,
        },
        "time signing",
    )
}

/// Blocks the credential as possibly cloned, refuses the login, wakes the login page, and
/// gives the refusal to send.
fn possibly_cloned(
    st: &AppState,
    req: &DecideRequest,
    challenge: &ChallengeRow,
    now: i64,
) -> Result<ApiError, ApiError> {
    st.db
        .block_possibly_cloned(&req.credential_id, &challenge.login_id, now)?;
    st.logins_changed.notify_waiters();
    tracing::warn!(user = %challenge.username, login_id = %challenge.login_id, credential_id = %req.credential_id, "decision with a counter that did not go up: credential blocked as possibly cloned");
    Ok(ApiError::new(
        StatusCode::FORBIDDEN,
        codes::POSSIBLY_CLONED,
        "This device answered with a counter that did not go up: its keys may have been copied to another phone. The login was refused and this device is blocked; remove it in the portal and activate IB Key again.",
    ))
}

/// The refusal for a credential already blocked as possibly cloned.
fn blocked() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        codes::POSSIBLY_CLONED,
        "This device is blocked: it once answered with an old counter, so its keys may have been copied to another phone. Remove it in the portal and activate IB Key again.",
    )
}

/// The refusal of a decision on an answered challenge or a decided login.
fn challenge_used() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        codes::CHALLENGE_USED,
        "This login was already decided, on this or another device; this decision changes nothing. Start the login again if you still need to log in.",
    )
}

/// The login's state after a decision.
fn state_after(decision: Decision) -> LoginState {
    match decision {
        Decision::Approve => LoginState::Approved,
        Decision::Deny => LoginState::Denied,
        Decision::ReportFraud => LoginState::ReportedFraud,
        Decision::WrongNumber => LoginState::WrongNumber,
    }
}

/// Signs claims with the server key; `what` names the failure in the log.
pub(crate) fn sign<C: serde::Serialize>(
    st: &AppState,
    claims: &C,
    what: &str,
) -> Result<String, ApiError> {
    sign_token(claims, &st.key.pair, &st.rng).map_err(|_| ApiError::internal(what, &"sign failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decision_ends_the_login_in_its_own_state() {
        let states = [
            Decision::Approve,
            Decision::Deny,
            Decision::ReportFraud,
            Decision::WrongNumber,
        ]
        .map(state_after);
        assert_eq!(
            states,
            [
                LoginState::Approved,
                LoginState::Denied,
                LoginState::ReportedFraud,
                LoginState::WrongNumber
            ]
        );
    }
}
