//! What the notification doctor on the phone asks the server, and the portal's switch of
//! login notifications.
//!
//! - `POST /v1/devices/status` (signed, `STATUS_PURPOSE`): the push token the server holds
//!   for the credential (platform, SHA-256, when registered; never the token), whether the
//!   user's login notifications are on, the fraud mute, the last login challenge, how the
//!   last notification went, and the server's clock signed as `/v1/challenges/pending` signs
//!   it.
//! - `POST /v1/devices/test-push` (signed, `TEST_PUSH_PURPOSE`): a `TestPushPayload` through
//!   the push sender to the credential, at most `rate_limit::TEST_PUSHES_PER_HOUR` an hour
//!   (429 `too_many_attempts`); a push sender's failure is 502 `internal` with its reason,
//!   and recorded for the status.
//! - `POST /v1/portal/push-approvals` (bearer portal token): login notifications on or off;
//!   off, logins still make a challenge for each device (the app finds it when it pulls), but
//!   notify none.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ibkey_protocol::activation::codes as activation_codes;
use ibkey_protocol::encoding::hex;
use ibkey_protocol::lifecycle::{
    DeviceStatusRequest, DeviceStatusResponse, PushApprovalsRequest, PushTokenStatus,
    TestPushPayload, TestPushRequest, TestPushResponse, PUSH_TEST_KIND, STATUS_PURPOSE,
    TEST_PUSH_PURPOSE,
};

use crate::crypto::{random_b64, sha256};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::handlers::challenges::{signed_device_request, signed_time};
use crate::handlers::portal::portal_user;
use crate::push::PushMessage;
use crate::rate_limit::TEST_PUSHES_PER_HOUR;
use crate::state::Shared;

/// `POST /v1/devices/status`: what the server knows about the credential's notifications.
#[utoipa::path(
    post,
    path = "/v1/devices/status",
    tag = "devices",
    summary = "The notification doctor: what the server knows of this credential's notifications",
    description = "The body is signed by the credential's device key (ECDSA P-256, ASN.1 DER, base64url) over the canonical device-request message; see PROTOCOL.md.",
    request_body = ibkey_protocol::lifecycle::DeviceStatusRequest,
    responses(
        (status = 200, description = "The push token on file, mutes, last pushes, and a signed time reading.", body = ibkey_protocol::lifecycle::DeviceStatusResponse),
        (status = 400, description = "`bad_request` (malformed body); `clock_skew`: `issued_at` more than 10 minutes off; `bad_signature`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 403, description = "`possibly_cloned`: the credential is blocked.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`credential_unknown`: the server has no active credential with this id.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`credential_moved`: the credential was replaced by a move; `moved` carries the signed MovedClaims.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn status(
    State(st): Shared,
    ApiJson(req): ApiJson<DeviceStatusRequest>,
) -> Result<Json<DeviceStatusResponse>, ApiError> {
    let (credential, now) = signed_device_request(
        &st,
        &req.credential_id,
        req.issued_at,
        STATUS_PURPOSE,
        "",
        &req.signature,
    )?;
    let push = st.db.push_status(&req.credential_id)?;
    let push_token = push
        .platform
        .zip(push.token)
        .map(|(platform, token)| PushTokenStatus {
            platform,
            token_sha256: hex(&sha256(token.as_bytes())),
            registered_at: push.registered_at.unwrap_or(0),
        });
    let response = DeviceStatusResponse {
        push_token,
        pushes_enabled: st.db.pushes_enabled(&credential.username)?,
        muted_until: st.db.push_muted_until(&credential.username, now)?,
        last_challenge_at: push.last_challenge_at,
        last_push_sent_at: push.last_push_at,
        last_push_error: push.last_push_error,
        time: signed_time(&st, &req.credential_id, req.issued_at, now)?,
    };
    tracing::info!(user = %credential.username, credential_id = %req.credential_id, "notification status read");
    Ok(Json(response))
}

/// `POST /v1/devices/test-push`: sends the credential a test notification.
#[utoipa::path(
    post,
    path = "/v1/devices/test-push",
    tag = "devices",
    summary = "Send this credential a test notification",
    description = "The body is signed by the credential's device key (ECDSA P-256, ASN.1 DER, base64url) over the canonical device-request message; see PROTOCOL.md.",
    request_body = ibkey_protocol::lifecycle::TestPushRequest,
    responses(
        (status = 200, description = "The test notification's id and when it was handed to the push service.", body = ibkey_protocol::lifecycle::TestPushResponse),
        (status = 400, description = "`bad_request` (malformed body); `clock_skew`; `bad_signature`; no push token registered.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 403, description = "`possibly_cloned`: the credential is blocked.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`credential_unknown`: the server has no active credential with this id.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`credential_moved`: the credential was replaced by a move; `moved` carries the signed MovedClaims.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`too_many_attempts`: test pushes are limited per credential.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
        (status = 502, description = "`internal`: the push service refused the notification.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn test_push(
    State(st): Shared,
    ApiJson(req): ApiJson<TestPushRequest>,
) -> Result<Json<TestPushResponse>, ApiError> {
    let (credential, now) = signed_device_request(
        &st,
        &req.credential_id,
        req.issued_at,
        TEST_PUSH_PURPOSE,
        "",
        &req.signature,
    )?;
    {
        let mut limiter = st.test_push_limiter();
        if let Err(retry_after) = limiter.check(&req.credential_id, now) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                activation_codes::TOO_MANY_ATTEMPTS,
                format!("This device asked for {TEST_PUSHES_PER_HOUR} test notifications in the last hour. Wait {} minutes, then try again.", retry_after.div_ceil(60)),
            )
            .retry_after(retry_after));
        }
        limiter.record(&req.credential_id, now);
    }
    let id = random_b64(&st.rng, 16)?;
    let sent_at_ms = now
        .saturating_mul(1000)
        .saturating_add(i64::from(system_millis()));
    let payload = serde_json::to_string(&TestPushPayload {
        kind: PUSH_TEST_KIND.to_string(),
        id: id.clone(),
        sent_at_ms,
    })
    .map_err(|e| ApiError::internal("test push payload", &e))?;
    let push = st.db.push_status(&req.credential_id)?;
    let message = PushMessage {
        username: credential.username.clone(),
        credential_id: req.credential_id.clone(),
        platform: push.platform,
        push_token: push.token,
        payload,
    };
    let sent = st.push.send(&message).await;
    let error = sent.as_ref().err().map(ToString::to_string);
    st.db
        .record_push_outcome(&req.credential_id, now, error.as_deref())?;
    if let Some(error) = error {
        tracing::warn!(user = %credential.username, credential_id = %req.credential_id, %error, "test notification not delivered");
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            activation_codes::INTERNAL,
            format!("The push service did not take the test notification: {error}. Check the phone's notification settings and network, then try again."),
        ));
    }
    tracing::info!(user = %credential.username, credential_id = %req.credential_id, "test notification sent");
    Ok(Json(TestPushResponse { id, sent_at_ms }))
}

/// `POST /v1/portal/push-approvals` (bearer portal token): turns the user's login
/// notifications on or off.
#[utoipa::path(
    post,
    path = "/v1/portal/push-approvals",
    tag = "portal",
    summary = "Turn the user's login notifications on or off",
    request_body = ibkey_protocol::lifecycle::PushApprovalsRequest,
    responses(
        (status = 204, description = "Switched."),
        (status = 400, description = "`bad_request`: the body is not the JSON this endpoint expects (malformed, a field missing or of the wrong type).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 401, description = "`unauthorized`: no portal token, or it is unknown or expired. Sign in again.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("portal_token" = [])),
)]
pub(crate) async fn push_approvals(
    State(st): Shared,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PushApprovalsRequest>,
) -> Result<StatusCode, ApiError> {
    let user = portal_user(&st, &headers)?;
    st.db.set_pushes_enabled(&user, req.enabled)?;
    tracing::info!(%user, enabled = req.enabled, "login notifications switched");
    Ok(StatusCode::NO_CONTENT)
}

/// The milliseconds of the current second of the system clock (the server clock counts whole
/// seconds).
fn system_millis() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis())
}
