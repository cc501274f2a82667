//! The portal's endpoints, for a signed-in test user: sign-in, activation tickets (the QR
//! code and the session ID under it), the user's devices (list, remove), recent logins and
//! fraud reports. The password check and the making of a portal session are shared with the
//! login page (`handlers::login`).

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ibkey_protocol::activation::{
    sign_token, SignInRequest, SignInResponse, TicketClaims, TicketResponse, TICKET_TYPE,
};
use ibkey_protocol::session_id::SessionId;

use crate::crypto::{random_b64, secret_matches, sha256};
use crate::db::activation::PortalDevice;
use crate::db::approval::{FraudReport, PortalLogin};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::extract::{bearer_token, ApiJson, ClientIp};
use crate::state::{AppState, Shared};

/// How long a portal session lasts, seconds.
pub const PORTAL_SESSION_SECONDS: i64 = 15 * 60;

/// `POST /v1/portal/sign-in`.
#[utoipa::path(
    post,
    path = "/v1/portal/sign-in",
    tag = "portal",
    summary = "A test user signs in to the portal",
    request_body = ibkey_protocol::activation::SignInRequest,
    responses(
        (status = 200, description = "A portal token, good for 15 minutes.", body = ibkey_protocol::activation::SignInResponse),
        (status = 400, description = "`bad_request`: the body is not the JSON this endpoint expects (malformed, a field missing or of the wrong type).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 401, description = "`unauthorized`: wrong user name or password.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`too_many_attempts`: too many wrong passwords from this address or for this user.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
    ),
)]
pub(crate) async fn sign_in(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignInRequest>,
) -> Result<Json<SignInResponse>, ApiError> {
    let username = password_user(&st, ip, &req.username, &req.password, "portal sign-in")?;
    let (token, expires_at) = open_portal_session(&st, &username)?;
    tracing::info!(user = %username, "portal sign-in");
    Ok(Json(SignInResponse {
        portal_token: token,
        expires_at,
    }))
}

/// Opens a portal session for `username` (signed in): its token and when it ends. Only the
/// token's SHA-256 is stored.
pub(crate) fn open_portal_session(
    st: &AppState,
    username: &str,
) -> Result<(String, i64), ApiError> {
    let now = st.clock.now();
    let (token, expires_at) = new_portal_token(st, now)?;
    st.db
        .create_portal_session(&sha256(token.as_bytes()), username, now, expires_at)?;
    Ok((token, expires_at))
}

/// The test user a user name and password sign in as (the name lower-cased), or why not: the
/// check of portal sign-in and of the login page, from client address `ip`. `what` names the
/// attempt in the log. Wrong passwords are limited per address and per user name (see
/// `rate_limit`): while either is locked out, even the right password is refused (429).
pub(crate) fn password_user(
    st: &AppState,
    ip: IpAddr,
    username: &str,
    password: &str,
    what: &str,
) -> Result<String, ApiError> {
    let username = username.to_lowercase();
    let now = st.clock.now();
    let mut limiter = st.sign_in_limiter();
    if let Err(wait) = limiter.check(ip, &username, now) {
        tracing::info!(user = %username, %ip, "{what} refused: too many wrong passwords");
        return Err(ApiError::too_many_sign_ins(wait));
    }
    let password_ok = secret_matches(password, &st.password_sha256);
    let username_ok = valid_username(&username);
    if !password_ok {
        limiter.record_wrong(ip, username_ok.then_some(username.as_str()), now);
    }
    drop(limiter);
    if !username_ok {
        return Err(ApiError::unauthorized(
            "This user name cannot exist: user names are 1 to 64 letters, digits and . _ @ -, starting with a letter or digit.",
        ));
    }
    if !password_ok {
        tracing::info!(user = %username, "{what} refused: wrong password");
        return Err(ApiError::unauthorized(
            "Wrong user name or password. On this test server every user signs in with the same portal password, set by whoever runs the server.",
        ));
    }
    Ok(username)
}

/// A fresh portal session token (32 random bytes, base64url) made at `now`, and when the
/// session ends. The caller stores only its SHA-256.
pub(crate) fn new_portal_token(st: &AppState, now: i64) -> Result<(String, i64), ApiError> {
    Ok((random_b64(&st.rng, 32)?, now + PORTAL_SESSION_SECONDS))
}

/// `POST /v1/portal/activation-tickets`.
#[utoipa::path(
    post,
    path = "/v1/portal/activation-tickets",
    tag = "portal",
    summary = "Issue an activation ticket (QR payload and session ID)",
    responses(
        (status = 200, description = "A fresh ticket.", body = ibkey_protocol::activation::TicketResponse),
        (status = 401, description = "`unauthorized`: no portal token, or it is unknown or expired. Sign in again.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("portal_token" = [])),
)]
pub(crate) async fn issue_ticket(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<TicketResponse>, ApiError> {
    let user = portal_user(&st, &headers)?;
    Ok(Json(new_ticket(&st, &user, None)?))
}

/// Issues a fresh activation ticket for `user` (signed in): a new random session ID and the
/// signed ticket, valid for the ticket lifetime. A move ticket names the devices it replaces
/// (`replaces`).
pub(crate) fn new_ticket(
    st: &AppState,
    user: &str,
    replaces: Option<Vec<String>>,
) -> Result<TicketResponse, ApiError> {
    let now = st.clock.now();
    let exp = now + st.ticket_lifetime;
    // 45 random bits: a collision with a stored ticket is rare; draw again if it happens.
    for _ in 0..8 {
        let sid = SessionId::generate(&st.rng)
            .map_err(|_| ApiError::internal("session id generation", &"random failed"))?;
        let claims = TicketClaims {
            typ: TICKET_TYPE.to_string(),
            srv: st.public_url.clone(),
            kid: st.key.kid.clone(),
            sid: sid.canonical().to_string(),
            usr: user.to_string(),
            iat: now,
            exp,
            mov: replaces.clone(),
        };
        let token = sign_token(&claims, &st.key.pair, &st.rng)
            .map_err(|_| ApiError::internal("ticket signing", &"sign failed"))?;
        if st
            .db
            .insert_ticket(sid.canonical(), user, &token, now, exp)?
        {
            tracing::info!(%user, session = %sid.last_group(), is_move = replaces.is_some(), "activation ticket issued");
            return Ok(TicketResponse {
                session_id: sid.grouped(),
                qr_payload: token,
                expires_at: exp,
            });
        }
    }
    Err(ApiError::internal(
        "ticket issue",
        &"no free session id after 8 draws",
    ))
}

/// `GET /v1/portal/devices`.
#[utoipa::path(
    get,
    path = "/v1/portal/devices",
    tag = "portal",
    summary = "The user's devices",
    responses(
        (status = 200, description = "Active devices, and those replaced by a move.", body = Vec<crate::PortalDevice>),
        (status = 401, description = "`unauthorized`: no portal token, or it is unknown or expired. Sign in again.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("portal_token" = [])),
)]
pub(crate) async fn list_devices(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<Vec<PortalDevice>>, ApiError> {
    let user = portal_user(&st, &headers)?;
    Ok(Json(st.db.devices(&user)?))
}

/// `DELETE /v1/portal/devices/{credential_id}`.
#[utoipa::path(
    delete,
    path = "/v1/portal/devices/{credential_id}",
    tag = "portal",
    summary = "Remove one of the user's devices",
    params(("credential_id" = String, Path, description = "The credential to remove.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, description = "`bad_request`: the path is not valid (not UTF-8 after percent-decoding).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 401, description = "`unauthorized`: no portal token, or it is unknown or expired. Sign in again.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`credential_unknown`: the user has no active credential with this id.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("portal_token" = [])),
)]
pub(crate) async fn remove_device(
    State(st): Shared,
    headers: HeaderMap,
    ApiPath(credential_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let user = portal_user(&st, &headers)?;
    revoke_device(&st, &user, &credential_id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes the active device `credential_id` of `user` (signed in); `credential_unknown` when
/// the user has no such device. Shared with the account page.
pub(crate) fn revoke_device(
    st: &AppState,
    user: &str,
    credential_id: &str,
) -> Result<(), ApiError> {
    if !st.db.revoke(credential_id, Some(user), st.clock.now())? {
        return Err(ApiError::credential_unknown());
    }
    tracing::info!(%user, %credential_id, "device removed in the portal");
    Ok(())
}

/// `GET /v1/portal/activity`: the user's last 50 logins, newest first.
#[utoipa::path(
    get,
    path = "/v1/portal/activity",
    tag = "portal",
    summary = "The user's last 50 logins, newest first",
    responses(
        (status = 200, description = "Recent logins.", body = Vec<crate::PortalLogin>),
        (status = 401, description = "`unauthorized`: no portal token, or it is unknown or expired. Sign in again.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("portal_token" = [])),
)]
pub(crate) async fn activity(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<Vec<PortalLogin>>, ApiError> {
    let user = portal_user(&st, &headers)?;
    Ok(Json(st.db.recent_logins(&user, st.clock.now())?))
}

/// `GET /v1/portal/fraud-reports`: the user's "this wasn't me" reports, newest first.
#[utoipa::path(
    get,
    path = "/v1/portal/fraud-reports",
    tag = "portal",
    summary = "The user's \"this wasn't me\" reports, newest first",
    responses(
        (status = 200, description = "Fraud reports.", body = Vec<crate::FraudReport>),
        (status = 401, description = "`unauthorized`: no portal token, or it is unknown or expired. Sign in again.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("portal_token" = [])),
)]
pub(crate) async fn fraud_reports(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<Vec<FraudReport>>, ApiError> {
    let user = portal_user(&st, &headers)?;
    Ok(Json(st.db.fraud_reports(&user)?))
}

/// The user of the request's portal session (`Authorization: Bearer <portal_token>`).
pub(crate) fn portal_user(st: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(token) = bearer_token(headers).filter(|token| !token.is_empty()) else {
        return Err(ApiError::unauthorized(
            "Sign in to the portal first: this request needs the portal token (Authorization: Bearer ...).",
        ));
    };
    session_user(st, token)?.ok_or_else(|| {
        ApiError::unauthorized(
            "Your portal session has ended or is not valid. Sign in to the portal again.",
        )
    })
}

/// The user of the unexpired portal session `token` (a bearer token or the portal pages'
/// session cookie), if there is one.
pub(crate) fn session_user(st: &AppState, token: &str) -> Result<Option<String>, ApiError> {
    Ok(st
        .db
        .portal_user(&sha256(token.as_bytes()), st.clock.now())?)
}

/// Whether a (lower-cased) name is a test user: `^[a-z0-9][a-z0-9._@-]{0,63}$`.
fn valid_username(name: &str) -> bool {
    let bytes = name.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && bytes.len() <= 64
        && bytes.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'@' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_documented_pattern() {
        for good in [
            "a",
            "alice",
            "bob.smith@example.com",
            "0",
            "a-b_c.d",
            "x".repeat(64).as_str(),
        ] {
            assert!(valid_username(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "Alice",
            "a b",
            "é",
            "x".repeat(65).as_str(),
            "a/b",
        ] {
            assert!(!valid_username(bad), "{bad}");
        }
    }
}
