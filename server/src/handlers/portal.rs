//! The portal's endpoints, for a signed-in test user: sign-in, activation tickets (the QR
//! code and the session ID under it), the user's devices (list, remove), recent logins and
//! fraud reports. The password check and the making of a portal session are shared with the
//! login page (`handlers::login`).

use std::net::IpAddr;

use axum::extract::{Path, State};
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
use crate::extract::{bearer_token, ApiJson, ClientIp};
use crate::state::{AppState, Shared};

/// How long a portal session lasts, seconds.
pub const PORTAL_SESSION_SECONDS: i64 = 15 * 60;

/// `POST /v1/portal/sign-in`.
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
pub(crate) async fn list_devices(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<Vec<PortalDevice>>, ApiError> {
    let user = portal_user(&st, &headers)?;
    Ok(Json(st.db.devices(&user)?))
}

/// `DELETE /v1/portal/devices/{credential_id}`.
pub(crate) async fn remove_device(
    State(st): Shared,
    headers: HeaderMap,
    Path(credential_id): Path<String>,
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
pub(crate) async fn activity(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<Vec<PortalLogin>>, ApiError> {
    let user = portal_user(&st, &headers)?;
    Ok(Json(st.db.recent_logins(&user, st.clock.now())?))
}

/// `GET /v1/portal/fraud-reports`: the user's "this wasn't me" reports, newest first.
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
