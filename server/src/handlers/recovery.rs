//! Recovering accounts on a phone that lost its files but kept its device keys.
//!
//! `POST /v1/recovery/begin`: the phone proves, key by key, that it holds each key (a
//! signature over `device_request_message(RECOVERY_BEGIN_PURPOSE, key_id, issued_at, "")`).
//! The answer, in the same order: `recoverable` (the key's credential is active; a code went
//! to its user out of band), `revoked`, `moved` (with the signed `MovedClaims`), or `unknown`
//! (no credential has the key, or the signature did not verify: nothing is revealed).
//!
//! `POST /v1/recovery/complete`: the code typed on the phone, signed with the key: a new
//! enrollment receipt of the same credential carrying the last approval counter the server
//! accepted (`ctr`), and, with a new X25519 key, a fresh offline-code secret that replaces
//! the old one, in the same transaction as the code is used.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ibkey_protocol::activation::{codes as activation_codes, key_id, ReceiptClaims, RECEIPT_TYPE};
use ibkey_protocol::approval::device_request_message;
use ibkey_protocol::encoding::{b64, unb64};
use ibkey_protocol::lifecycle::{
    codes, recovery_complete_detail, KeyProof, RecoveryBeginRequest, RecoveryBeginResponse,
    RecoveryCandidate, RecoveryCompleteRequest, RecoveryCompleteResponse, RECOVERY_BEGIN_PURPOSE,
    RECOVERY_COMPLETE_PURPOSE,
};

use crate::crypto::device_signature_ok;
use crate::db::lifecycle::{replace_offline_secret, CredentialStanding};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientIp};
use crate::handlers::activation::{agree, agreement_key, device_clock_off};
use crate::handlers::challenges::{sign, DEVICE_SKEW_SECONDS};
use crate::handlers::move_device::moved_token;
use crate::handlers::out_of_band::{send_code, use_code};
use crate::notifier::OutOfBandPurpose;
use crate::state::{AppState, Shared};

/// Most keys one recovery may ask about.
pub(crate) const MAX_RECOVERY_KEYS: usize = 32;

/// `POST /v1/recovery/begin`: what the server says about each key; a code goes to the user
/// of each recoverable one.
#[utoipa::path(
    post,
    path = "/v1/recovery/begin",
    tag = "lifecycle",
    summary = "Ask about the device keys a phone kept; codes go out of band for the recoverable ones",
    request_body = ibkey_protocol::lifecycle::RecoveryBeginRequest,
    responses(
        (status = 200, description = "One candidate per key, in the request's order.", body = ibkey_protocol::lifecycle::RecoveryBeginResponse),
        (status = 400, description = "`bad_request` (malformed body, more than 32 keys); `clock_skew`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 502, description = "`internal`: a code could not be sent.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn begin(
    State(st): Shared,
    ApiJson(req): ApiJson<RecoveryBeginRequest>,
) -> Result<Json<RecoveryBeginResponse>, ApiError> {
    if req.keys.len() > MAX_RECOVERY_KEYS {
        return Err(ApiError::bad_request(format!(
            "A recovery asks about at most {MAX_RECOVERY_KEYS} keys; send them in several requests."
        )));
    }
    let now = st.clock.now();
    if req
        .keys
        .iter()
        .any(|proof| device_clock_off(now, proof.issued_at, DEVICE_SKEW_SECONDS))
    {
        return Err(ApiError::clock_skew(DEVICE_SKEW_SECONDS));
    }
    let mut candidates = Vec::with_capacity(req.keys.len());
    for proof in &req.keys {
        candidates.push(candidate(&st, proof).await?);
    }
    tracing::info!(
        keys = candidates.len(),
        recoverable = candidates
            .iter()
            .filter(|c| matches!(c, RecoveryCandidate::Recoverable { .. }))
            .count(),
        "recovery begun"
    );
    Ok(Json(RecoveryBeginResponse { candidates }))
}

/// What the server says about one key (see the module documentation).
async fn candidate(st: &AppState, proof: &KeyProof) -> Result<RecoveryCandidate, ApiError> {
    let public_key = unb64(&proof.public_key);
    let kid = key_id(public_key.as_deref().unwrap_or(proof.public_key.as_bytes()));
    let unknown = RecoveryCandidate::Unknown {
        key_id: kid.clone(),
    };
    let Some(public_key) = public_key.filter(|key| is_p256_point(key)) else {
        return Ok(unknown);
    };
    let message = device_request_message(RECOVERY_BEGIN_PURPOSE, &kid, proof.issued_at, "");
    let signed = unb64(&proof.signature)
        .is_some_and(|signature| device_signature_ok(&public_key, &message, &signature));
    if !signed {
        return Ok(unknown);
    }
    let Some(standing) = st.db.credential_by_public_key(&public_key)? else {
        return Ok(unknown);
    };
    if let Some(moved) = &standing.moved {
        return Ok(RecoveryCandidate::Moved {
            key_id: kid,
            moved: moved_token(st, &standing, moved)?,
        });
    }
    if let Some(revoked_at) = standing.revoked_at {
        return Ok(RecoveryCandidate::Revoked {
            key_id: kid,
            username: standing.username,
            revoked_at,
        });
    }
    let (sent_to, expires_at) = send_code(
        st,
        &standing.username,
        OutOfBandPurpose::Recovery,
        Some(&standing.credential_id),
    )
    .await?;
    Ok(RecoveryCandidate::Recoverable {
        key_id: kid,
        username: standing.username,
        device_name: standing.device_name,
        enrolled_at: standing.enrolled_at,
        sent_to,
        expires_at,
    })
}

/// `POST /v1/recovery/complete`: the code typed on the phone, signed with the account's key;
/// answers a new receipt with the last counter and, when asked, a fresh offline secret.
#[utoipa::path(
    post,
    path = "/v1/recovery/complete",
    tag = "lifecycle",
    summary = "Restore one account with the code its user received",
    description = "The body is signed by the credential's device key (ECDSA P-256, ASN.1 DER, base64url) over the canonical device-request message; see PROTOCOL.md.",
    request_body = ibkey_protocol::lifecycle::RecoveryCompleteRequest,
    responses(
        (status = 200, description = "A new enrollment receipt for the same credential, carrying its last counter.", body = ibkey_protocol::lifecycle::RecoveryCompleteResponse),
        (status = 400, description = "`bad_request` (malformed body); `device_key_invalid`, `clock_skew`, `bad_signature`, `agreement_key_invalid`, `oob_code_wrong`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`not_recoverable`: the key's credential is revoked, moved or unknown.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`oob_code_expired` or `oob_code_used`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`too_many_attempts`: too many wrong codes.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
    ),
)]
pub(crate) async fn complete(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RecoveryCompleteRequest>,
) -> Result<Json<RecoveryCompleteResponse>, ApiError> {
    let public_key = unb64(&req.public_key)
        .filter(|key| is_p256_point(key))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                activation_codes::DEVICE_KEY_INVALID,
                "The device's public key is not an uncompressed P-256 key in base64url.",
            )
        })?;
    let kid = key_id(&public_key);
    let now = st.clock.now();
    if device_clock_off(now, req.issued_at, DEVICE_SKEW_SECONDS) {
        return Err(ApiError::clock_skew(DEVICE_SKEW_SECONDS));
    }
    let detail = recovery_complete_detail(&req.code, req.agreement_key.as_deref());
    let message = device_request_message(RECOVERY_COMPLETE_PURPOSE, &kid, req.issued_at, &detail);
    let signed = unb64(&req.signature)
        .is_some_and(|signature| device_signature_ok(&public_key, &message, &signature));
    if !signed {
        return Err(ApiError::bad_signature(
            "The recovery is not signed by the key it names, over this code. Start the recovery again in IB Key.",
        ));
    }
    let standing = st
        .db
        .credential_by_public_key(&public_key)?
        .filter(|standing| standing.revoked_at.is_none())
        .ok_or_else(not_recoverable)?;
    let device_agreement_key = agreement_key(req.agreement_key.as_deref())?;
    let agreement = device_agreement_key
        .map(|key| agree(&st.rng, &key, &standing.credential_id))
        .transpose()?;
    let counter = u64::try_from(st.db.counter_state(&standing.credential_id)?.counter).unwrap_or(0);
    use_code(
        &st,
        ip,
        &standing.username,
        OutOfBandPurpose::Recovery,
        Some(&standing.credential_id),
        &req.code,
        |tx| match &agreement {
            Some((_, secret)) => {
                replace_offline_secret(tx, &standing.credential_id, secret.as_slice())
            }
            None => Ok(()),
        },
    )?;
    let receipt = receipt(&st, &standing, &kid, counter, now)?;
    tracing::info!(user = %standing.username, credential_id = %standing.credential_id, offline_codes = agreement.is_some(), "account recovered");
    Ok(Json(RecoveryCompleteResponse {
        receipt,
        agreement_key: agreement.map(|(public, _)| b64(&public)),
    }))
}

/// A new signed enrollment receipt of the recovered credential, with its last counter.
fn receipt(
    st: &AppState,
    standing: &CredentialStanding,
    kid: &str,
    counter: u64,
    now: i64,
) -> Result<String, ApiError> {
    sign(
        st,
        &ReceiptClaims {
            typ: RECEIPT_TYPE.to_string(),
            cid: standing.credential_id.clone(),
            usr: standing.username.clone(),
            dev: standing.device_id.clone(),
            pkid: kid.to_string(),
            iat: now,
            ctr: Some(counter),
        },
        "receipt signing",
    )
}

/// Whether `key` has the form of an uncompressed P-256 point (65 bytes, `04` first).
fn is_p256_point(key: &[u8]) -> bool {
    key.len() == 65 && key.first() == Some(&4)
}

/// 409 `not_recoverable`: the key's credential was removed, replaced by a move, or never
/// existed.
fn not_recoverable() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        codes::NOT_RECOVERABLE,
        "This account cannot be recovered: the server has no active credential with this key (it was removed, moved to another phone, or never existed). Activate IB Key again from the portal.",
    )
}
