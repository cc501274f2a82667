//! Moving IB Key to a new phone: the portal asks for a move (`POST /v1/portal/move`: a code
//! goes out of band), the code typed back (`POST /v1/portal/move/confirm`) gets a move
//! ticket: an activation ticket whose `mov` names the user's active devices ([`start_move`] and
//! [`confirm_move`], shared with the portal's page `pages::move_phone`). Completing it
//! (`handlers::activation::complete`) replaces them in the same transaction as it enrolls the
//! new phone. From then on, every signed device request about a replaced credential is
//! answered 410 `credential_moved` with a signed `MovedClaims` ([`requesting_credential`]),
//! but only once the request's signature verified: nobody but the old phone learns where the
//! account went.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ibkey_protocol::activation::TicketResponse;
use ibkey_protocol::encoding::unb64;
use ibkey_protocol::lifecycle::{
    codes, MoveConfirmRequest, MoveStartResponse, MovedClaims, MOVED_TYPE,
};
use ibkey_protocol::time::civil_from_days;

use crate::crypto::device_signature_ok;
use crate::db::activation::CredentialRow;
use crate::db::lifecycle::{CredentialStanding, MoveRecord};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientIp};
use crate::handlers::out_of_band::{send_code, use_code};
use crate::handlers::portal::{new_ticket, portal_user};
use crate::notifier::OutOfBandPurpose;
use crate::state::{AppState, Shared};

/// `POST /v1/portal/move` (bearer portal token): sends the user a code for a move, and says
/// where it went and which devices the move replaces.
#[utoipa::path(
    post,
    path = "/v1/portal/move",
    tag = "lifecycle",
    summary = "Start moving IB Key to a new phone: a one-time code goes out of band",
    responses(
        (status = 200, description = "Where the code went, and the devices the move replaces.", body = ibkey_protocol::lifecycle::MoveStartResponse),
        (status = 401, description = "`unauthorized`: no portal token, or it is unknown or expired. Sign in again.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`nothing_to_move`: the user has no active device; activate instead.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 502, description = "`internal`: the code could not be sent.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("portal_token" = [])),
)]
pub(crate) async fn start(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<MoveStartResponse>, ApiError> {
    let user = portal_user(&st, &headers)?;
    Ok(Json(start_move(&st, &user).await?))
}

/// `POST /v1/portal/move/confirm` (bearer portal token): the move code typed back; answers a
/// move ticket naming the devices it replaces.
#[utoipa::path(
    post,
    path = "/v1/portal/move/confirm",
    tag = "lifecycle",
    summary = "Type back the move code; answers a move ticket",
    request_body = ibkey_protocol::lifecycle::MoveConfirmRequest,
    responses(
        (status = 200, description = "A move ticket, activated like any other.", body = ibkey_protocol::activation::TicketResponse),
        (status = 400, description = "`bad_request` (malformed body); `oob_code_wrong`: no code was sent, or not this one.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 401, description = "`unauthorized`: no portal token, or it is unknown or expired. Sign in again.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`nothing_to_move`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`oob_code_expired` or `oob_code_used`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`too_many_attempts`: too many wrong codes.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
    ),
    security(("portal_token" = [])),
)]
pub(crate) async fn confirm(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<MoveConfirmRequest>,
) -> Result<Json<TicketResponse>, ApiError> {
    let user = portal_user(&st, &headers)?;
    let (ticket, _) = confirm_move(&st, ip, &user, &req.code)?;
    Ok(Json(ticket))
}

/// Starts a move for `user` (the API's and the portal page's): sends a code out of band, and
/// says where it went and which devices the move replaces (`nothing_to_move` without any).
pub(crate) async fn start_move(st: &AppState, user: &str) -> Result<MoveStartResponse, ApiError> {
    let replaces = replaced_devices(st, user)?;
    let (sent_to, expires_at) = send_code(st, user, OutOfBandPurpose::Move, None).await?;
    tracing::info!(%user, devices = replaces.len(), "move started");
    Ok(MoveStartResponse {
        sent_to,
        expires_at,
        replaces,
    })
}

/// The move code `code` typed back by `user` from client `ip` (the API's and the portal
/// page's): a move ticket, and the names of the devices it replaces. Refused as
/// [`use_code`] refuses a code, or `nothing_to_move`.
pub(crate) fn confirm_move(
    st: &AppState,
    ip: IpAddr,
    user: &str,
    code: &str,
) -> Result<(TicketResponse, Vec<String>), ApiError> {
    let replaces = replaced_devices(st, user)?;
    use_code(st, ip, user, OutOfBandPurpose::Move, None, code, |_| Ok(()))?;
    let ticket = new_ticket(st, user, Some(replaces.clone()))?;
    tracing::info!(%user, "move ticket issued");
    Ok((ticket, replaces))
}

/// The names of the user's active devices, which a move would replace (none: nothing to
/// move).
pub(crate) fn active_device_names(st: &AppState, user: &str) -> Result<Vec<String>, ApiError> {
    Ok(st
        .db
        .approval_credentials(user)?
        .into_iter()
        .map(|credential| credential.device_name)
        .collect())
}

/// The names of the user's active devices, which a move replaces; `nothing_to_move` (409)
/// when there are none.
fn replaced_devices(st: &AppState, user: &str) -> Result<Vec<String>, ApiError> {
    let names = active_device_names(st, user)?;
    if names.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            codes::NOTHING_TO_MOVE,
            format!("{user} has no active IB Key device to move from. Activate IB Key on the new phone instead (portal → Activate a device)."),
        ));
    }
    Ok(names)
}

/// The active credential a signed device request is about. A credential replaced by a move
/// is refused with 410 `credential_moved` and a signed [`MovedClaims`], if `signature`
/// (base64url) over `message` verifies with its key; anything else not active (revoked,
/// unknown, a move claimed without the key) is `credential_unknown`. The caller checks an
/// active credential's signature itself.
pub(crate) fn requesting_credential(
    st: &AppState,
    credential_id: &str,
    message: &str,
    signature: &str,
) -> Result<CredentialRow, ApiError> {
    let Some(standing) = st.db.credential_standing(credential_id)? else {
        return Err(ApiError::credential_unknown());
    };
    if standing.revoked_at.is_none() {
        return Ok(standing.row());
    }
    if let Some(moved) = &standing.moved {
        let signed = unb64(signature).is_some_and(|signature| {
            device_signature_ok(&standing.public_key, message, &signature)
        });
        if signed {
            tracing::info!(user = %standing.username, %credential_id, "request of a moved credential: told where it went");
            return Err(credential_moved(st, &standing, moved)?);
        }
    }
    Err(ApiError::credential_unknown())
}

/// The signed [`MovedClaims`] of a credential replaced by `moved`.
pub(crate) fn moved_token(
    st: &AppState,
    standing: &CredentialStanding,
    moved: &MoveRecord,
) -> Result<String, ApiError> {
    ibkey_protocol::activation::sign_token(
        &MovedClaims {
            typ: MOVED_TYPE.to_string(),
            cid: standing.credential_id.clone(),
            usr: standing.username.clone(),
            to: moved.to_device.clone(),
            at: moved.at,
        },
        &st.key.pair,
        &st.rng,
    )
    .map_err(|_| ApiError::internal("moved notice signing", &"sign failed"))
}

/// 410 `credential_moved` for a credential replaced by `moved`, carrying its signed notice.
fn credential_moved(
    st: &AppState,
    standing: &CredentialStanding,
    moved: &MoveRecord,
) -> Result<ApiError, ApiError> {
    let mut refusal = ApiError::new(
        StatusCode::GONE,
        codes::CREDENTIAL_MOVED,
        format!(
            "IB Key for {user} was moved to '{to}' on {when}: this phone no longer approves logins for {user}. Use '{to}'; if you no longer have it, activate IB Key again from the portal.",
            user = standing.username,
            to = moved.to_device,
            when = utc_date_time(moved.at),
        ),
    );
    refusal.moved = Some(moved_token(st, standing, moved)?);
    Ok(refusal)
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn utc_date_time(unix: i64) -> String {
    let (days, seconds) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        seconds / 3_600,
        seconds % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_are_dated_in_utc() {
        assert_eq!(utc_date_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date_time(1_764_684_000), "2025-12-02 14:00 UTC");
    }
}
