//! The login page's endpoints: a password starts a login that waits for a device
//! (`POST /v1/logins`), the page reads where it stands, long-polling (`GET /v1/logins/{id}`),
//! and may show a QR code any device of the user can answer (`POST /v1/logins/{id}/qr`).
//!
//! Starting a login makes one signed challenge per active, unblocked device of the user and
//! hands each to the push sender; while the user's pushes are muted after a "this wasn't me"
//! report, it makes no device challenges at all, so the login can only go through by QR code.
//! While the user turned login notifications off in the portal, the device challenges are
//! made (the app finds them when it pulls) but handed to no push sender. How each push went is
//! recorded for the notification doctor (`handlers::doctor`).
//! The context the devices show (application, address, rough location, browser, time) is
//! worked out here: [`location`] and [`browser_summary`].

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use ibkey_protocol::activation::sign_token;
use ibkey_protocol::approval::{
    codes, ChallengeClaims, LoginContext, LoginQrResponse, LoginRequest, LoginStarted, LoginState,
    LoginStatus, PushPayload, CHALLENGE_TYPE, NUMBER_RANGE, PUSH_LOGIN_KIND,
};
use ibkey_protocol::time::civil_from_days;
use serde::Deserialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::crypto::{random_b64, random_in, secret_matches, sha256};
use crate::db::approval::{ApprovalCredential, LoginRow, NewChallenge, NewLogin};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::extract::{bearer_token, ApiJson, ClientIp};
use crate::handlers::portal::{new_portal_token, password_user};
use crate::push::PushMessage;
use crate::state::{AppState, Shared};

/// The application a login is for when the page names none.
const DEFAULT_APPLICATION: &str = "Client Portal";
/// Longest application name, characters.
const MAX_APPLICATION_CHARS: usize = 64;
/// Longest a status request waits for a decision, seconds (a larger `wait` is cut to it).
const MAX_STATUS_WAIT_SECONDS: u64 = 30;

/// `POST /v1/logins`: checks the password, stores the login with a challenge per usable
/// device, and notifies those devices (unless the user's pushes are muted).
#[utoipa::path(
    post,
    path = "/v1/logins",
    tag = "login",
    summary = "The login page: start a login after the password",
    request_body = ibkey_protocol::approval::LoginRequest,
    responses(
        (status = 200, description = "The login waits for a device; the number to show for matching.", body = ibkey_protocol::approval::LoginStarted),
        (status = 400, description = "`bad_request` (malformed body, bad application name).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 401, description = "`unauthorized`: wrong user name or password.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`no_devices`: the user has no device that can approve.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`too_many_attempts`: too many wrong passwords.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
    ),
)]
pub(crate) async fn start(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginStarted>, ApiError> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    Ok(Json(start_login(&st, ip, user_agent, &req).await?))
}

/// Starts the login `req` from client address `ip` whose browser sent `user_agent`: the
/// password check, the login stored with a challenge per usable device, and the pushes to
/// those devices (unless the user's pushes are muted). Shared by `POST /v1/logins` and the
/// login page.
pub(crate) async fn start_login(
    st: &AppState,
    ip: IpAddr,
    user_agent: Option<&str>,
    req: &LoginRequest,
) -> Result<LoginStarted, ApiError> {
    let username = password_user(st, ip, &req.username, &req.password, "login")?;
    let application = application_name(req.application.as_deref())?;
    let credentials = st.db.approval_credentials(&username)?;
    let usable: Vec<&ApprovalCredential> =
        credentials.iter().filter(|c| !c.possibly_cloned).collect();
    if usable.is_empty() {
        tracing::info!(user = %username, "login refused: no device can approve it");
        return Err(no_devices(&username, &credentials));
    }
    let now = st.clock.now();
    let muted_until = st.db.push_muted_until(&username, now)?;
    let pushes_enabled = st.db.pushes_enabled(&username)?;
    let context = LoginContext {
        application,
        ip_address: ip.to_string(),
        location: location(ip).to_string(),
        browser: browser_summary(user_agent),
        login_time: now,
    };
    let number = random_in(&st.rng, NUMBER_RANGE)?;
    let login_id = random_b64(&st.rng, 16)?;
    let secret = random_b64(&st.rng, 32)?;
    let mut challenges = Vec::new();
    let mut pushes = Vec::new();
    if muted_until.is_none() {
        for credential in usable {
            let challenge = new_challenge(
                st,
                &username,
                Some(&credential.credential_id),
                Some(number),
                &context,
                now,
            )?;
            if pushes_enabled {
                let payload = serde_json::to_string(&PushPayload {
                    kind: PUSH_LOGIN_KIND.to_string(),
                    challenge: challenge.token.clone(),
                })
                .map_err(|e| ApiError::internal("push payload", &e))?;
                pushes.push(PushMessage {
                    username: username.clone(),
                    credential_id: credential.credential_id.clone(),
                    platform: credential.push_platform.clone(),
                    push_token: credential.push_token.clone(),
                    payload,
                });
            }
            challenges.push(challenge);
        }
    }
    let expires_at = now + st.challenge_lifetime;
    st.db.create_login(
        &NewLogin {
            login_id: &login_id,
            secret_sha256: &sha256(secret.as_bytes()),
            username: &username,
            number,
            context: &context,
            expires_at,
        },
        &challenges,
    )?;
    let devices_notified = send_pushes(st, pushes).await;
    tracing::info!(
        user = %username,
        %login_id,
        challenges = challenges.len(),
        devices_notified,
        pushes_muted = muted_until.is_some(),
        pushes_enabled,
        "login started"
    );
    Ok(LoginStarted {
        login_id,
        login_secret: secret,
        number,
        expires_at,
        devices_notified,
        pushes_muted_until: muted_until,
    })
}

/// The query of a status request.
#[derive(Debug, Deserialize)]
pub(crate) struct StatusQuery {
    /// Seconds to wait for a decision while the login is pending (at most 30).
    wait: Option<u64>,
}

/// `GET /v1/logins/{login_id}` (bearer login secret, `?wait=N`): where the login stands,
/// waiting up to N seconds while it is pending. The first read after an approval also hands
/// out the portal session the login gives.
#[utoipa::path(
    get,
    path = "/v1/logins/{login_id}",
    tag = "login",
    summary = "Where a login stands, waiting up to `wait` seconds while pending",
    params(("login_id" = String, Path, description = "The login's id, from `LoginStarted`."), ("wait" = Option<u64>, Query, description = "Seconds to wait for a change while the login is pending, 0 to 30.", maximum = 30)),
    responses(
        (status = 200, description = "The login's state; on the first read after an approval, the portal token.", body = ibkey_protocol::approval::LoginStatus),
        (status = 400, description = "`bad_request`: `wait` is not a whole number from 0 to 30.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`login_unknown`: no login with this id, or the login secret does not match.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("login_secret" = [])),
)]
pub(crate) async fn status(
    State(st): Shared,
    ApiPath(login_id): ApiPath<String>,
    headers: HeaderMap,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Json<LoginStatus>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "wait must be a whole number of seconds, 0 to {MAX_STATUS_WAIT_SECONDS} ({}).",
            e.body_text()
        ))
    })?;
    let wait = query.wait.unwrap_or(0).min(MAX_STATUS_WAIT_SECONDS);
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        // Registered before the read, so a decision stored after it wakes this request.
        let changed = st.logins_changed.notified();
        let login = authenticated_login(&st, &login_id, &headers)?;
        let now = st.clock.now();
        let state = login.state_at(now);
        let until_expiry = Duration::from_secs(u64::try_from(login.expires_at - now).unwrap_or(0));
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .min(until_expiry);
        if state != LoginState::Pending || remaining.is_zero() {
            return Ok(Json(login_status(&st, &login_id, &login, state, now)?));
        }
        // Either a decision somewhere (re-read) or the time is up (re-read, then answer).
        let _ = tokio::time::timeout(remaining, changed).await;
    }
}

/// `POST /v1/logins/{login_id}/qr` (bearer login secret): the login page's QR code, a signed
/// challenge without device or number that any active device of the user may answer. A
/// valid unanswered one is handed out again; a new one keeps the login alive as long as it.
/// Works while pushes are muted.
#[utoipa::path(
    post,
    path = "/v1/logins/{login_id}/qr",
    tag = "login",
    summary = "The login page's QR code (a challenge any device of the user may answer)",
    params(("login_id" = String, Path, description = "The login's id, from `LoginStarted`.")),
    responses(
        (status = 200, description = "The QR payload.", body = ibkey_protocol::approval::LoginQrResponse),
        (status = 400, description = "`bad_request`: the path is not valid (not UTF-8 after percent-decoding).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`login_unknown`: no login with this id, or the login secret does not match.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`challenge_used`: the login was already decided.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`challenge_expired`.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("login_secret" = [])),
)]
pub(crate) async fn qr(
    State(st): Shared,
    ApiPath(login_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<LoginQrResponse>, ApiError> {
    let secret = bearer_token(&headers).unwrap_or_default();
    Ok(Json(login_qr(&st, &login_id, secret)?))
}

/// The QR code of the login `login_id` whose secret is `secret` (see `POST
/// /v1/logins/{id}/qr`); shared with the login page.
pub(crate) fn login_qr(
    st: &AppState,
    login_id: &str,
    secret: &str,
) -> Result<LoginQrResponse, ApiError> {
    let login = login_with_secret(st, login_id, secret)?;
    let now = st.clock.now();
    let state = login.state_at(now);
    if state != LoginState::Pending {
        return Err(login_closed(state, "QR code"));
    }
    if let Some((token, expires_at)) = st.db.open_qr_challenge(login_id, now)? {
        return Ok(LoginQrResponse {
            qr_payload: token,
            expires_at,
        });
    }
    let challenge = new_challenge(st, &login.username, None, None, &login.context, now)?;
    if !st.db.add_qr_challenge(login_id, &challenge)? {
        // Decided or expired since the read above.
        let login = login_with_secret(st, login_id, secret)?;
        return Err(login_closed(login.state_at(now), "QR code"));
    }
    tracing::info!(user = %login.username, %login_id, challenge_id = %challenge.challenge_id, "login QR code issued");
    Ok(LoginQrResponse {
        qr_payload: challenge.token,
        expires_at: challenge.expires_at,
    })
}

/// A new signed challenge of a login: for a device (`credential_id` and `number`) or the QR
/// code (neither), valid for the configured lifetime from `now`.
fn new_challenge(
    st: &AppState,
    username: &str,
    credential_id: Option<&str>,
    number: Option<u8>,
    context: &LoginContext,
    now: i64,
) -> Result<NewChallenge, ApiError> {
    let claims = ChallengeClaims {
        typ: CHALLENGE_TYPE.to_string(),
        srv: st.public_url.clone(),
        kid: st.key.kid.clone(),
        id: random_b64(&st.rng, 16)?,
        non: random_b64(&st.rng, 16)?,
        usr: username.to_string(),
        cid: credential_id.map(str::to_string),
        num: number,
        ctx: context.clone(),
        iat: now,
        exp: now + st.challenge_lifetime,
    };
    let token = sign_token(&claims, &st.key.pair, &st.rng)
        .map_err(|_| ApiError::internal("challenge signing", &"sign failed"))?;
    Ok(NewChallenge {
        context_digest: claims.ctx.digest(),
        challenge_id: claims.id,
        credential_id: claims.cid,
        nonce: claims.non,
        number: claims.num,
        token,
        issued_at: claims.iat,
        expires_at: claims.exp,
    })
}

/// Hands the pushes to the push sender, all at once, and counts the delivered ones. Each
/// outcome is recorded for the notification doctor; a failure is logged and otherwise
/// ignored: the device still finds the challenge by pulling.
async fn send_pushes(st: &AppState, messages: Vec<PushMessage>) -> u32 {
    let mut sends = JoinSet::new();
    for message in messages {
        let sender = st.push.clone();
        sends.spawn(async move {
            let sent = sender.send(&message).await;
            if let Err(error) = &sent {
                tracing::warn!(user = %message.username, credential_id = %message.credential_id, %error, "login notification not delivered; the device can still pull the challenge");
            }
            (message.credential_id, sent.err().map(|e| e.to_string()))
        });
    }
    let mut delivered = 0;
    while let Some(done) = sends.join_next().await {
        let Ok((credential_id, error)) = done else {
            continue;
        };
        if error.is_none() {
            delivered += 1;
        }
        if let Err(e) = st
            .db
            .record_push_outcome(&credential_id, st.clock.now(), error.as_deref())
        {
            tracing::warn!(%credential_id, error = %e, "the outcome of a login notification was not recorded");
        }
    }
    delivered
}

/// The login with this id, if the request carries its secret (`Authorization: Bearer`).
pub(crate) fn authenticated_login(
    st: &AppState,
    login_id: &str,
    headers: &HeaderMap,
) -> Result<LoginRow, ApiError> {
    login_with_secret(st, login_id, bearer_token(headers).unwrap_or_default())
}

/// The login with this id, if `secret` is its secret (`login_unknown` otherwise, as for an
/// unknown id).
pub(crate) fn login_with_secret(
    st: &AppState,
    login_id: &str,
    secret: &str,
) -> Result<LoginRow, ApiError> {
    let login = st.db.login(login_id)?.ok_or_else(ApiError::login_unknown)?;
    let expected: [u8; 32] = login
        .secret_sha256
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::login_unknown())?;
    if secret.is_empty() || !secret_matches(secret, &expected) {
        return Err(ApiError::login_unknown());
    }
    Ok(login)
}

/// The status reply for a login in `state` at `now`; for an approval whose portal session
/// was not handed out yet, makes that session.
pub(crate) fn login_status(
    st: &AppState,
    login_id: &str,
    login: &LoginRow,
    state: LoginState,
    now: i64,
) -> Result<LoginStatus, ApiError> {
    let mut portal_token = None;
    if state == LoginState::Approved && !login.portal_token_issued {
        let (token, expires_at) = new_portal_token(st, now)?;
        if st.db.issue_login_portal_session(
            login_id,
            &sha256(token.as_bytes()),
            &login.username,
            now,
            expires_at,
        )? {
            tracing::info!(user = %login.username, %login_id, "portal session issued for an approved login");
            portal_token = Some(token);
        }
    }
    let muted_until = match state {
        LoginState::Pending => st.db.push_muted_until(&login.username, now)?,
        _ => None,
    };
    let notifications_off = state == LoginState::Pending
        && muted_until.is_none()
        && !st.db.pushes_enabled(&login.username)?;
    let message = if notifications_off {
        notifications_off_message(&login.username)
    } else {
        status_message(
            state,
            &login.username,
            login.decided_by_name.as_deref(),
            st.fraud_mute,
            muted_until.map(|until| (until, now)),
        )
    };
    Ok(LoginStatus {
        state,
        message,
        device_name: login.decided_by_name.clone(),
        decided_at: login.decided_at,
        portal_token,
    })
}

/// What the login page says of a pending login while the user turned login notifications off
/// in the portal.
fn notifications_off_message(username: &str) -> String {
    format!(
        "{} Pick the number shown on this page there, or log in with the QR code. Turn notifications back on in the portal (Your devices).",
        notifications_off_notice(username)
    )
}

/// "Login notifications are turned off for alice, …": what the login page says while the user
/// turned login notifications off in the portal.
pub(crate) fn notifications_off_notice(username: &str) -> String {
    format!("Login notifications are turned off for {username}, so no phone was notified: open IB Key on your phone to find this login.")
}

/// What to tell the user about a login in `state`; `muted` is (until, now) while the user's
/// pushes are muted.
pub(crate) fn status_message(
    state: LoginState,
    username: &str,
    device: Option<&str>,
    fraud_mute_seconds: i64,
    muted: Option<(i64, i64)>,
) -> String {
    // A device's own name is kept as it is, also at the start of a sentence.
    let (device, device_first) = match device {
        Some(name) => (name, name),
        None => ("the device", "The device"),
    };
    match state {
        LoginState::Pending => match muted {
            Some((until, now)) => format!(
                "{} Log in with the QR code on this page.",
                paused_notice(username, until, now)
            ),
            None => "Waiting for a device: open IB Key on your phone and pick the number shown on this page, or log in with the QR code.".to_string(),
        },
        LoginState::Approved => format!("Login approved on {device}."),
        LoginState::Denied => format!("The login was denied on {device}."),
        LoginState::ReportedFraud => format!(
            "The login was denied and reported as fraud on {device}. Login notifications for {username} are paused for {}; you can still log in with the QR code.",
            duration_text(fraud_mute_seconds)
        ),
        LoginState::WrongNumber => format!(
            "The number was picked wrong three times on {device}; the login was refused. Start again and pick the number shown on this page."
        ),
        LoginState::PossiblyCloned => format!(
            "{device_first} answered with an old counter: its keys may have been copied to another phone. The login was refused and {device} is blocked; remove it in the portal and activate again."
        ),
        LoginState::Expired => "No device answered in time. Start the login again.".to_string(),
    }
}

/// The refusal of `what` (a QR code, an offline code) for a login that is no longer
/// pending.
pub(crate) fn login_closed(state: LoginState, what: &str) -> ApiError {
    if state == LoginState::Expired {
        return ApiError::new(
            StatusCode::GONE,
            codes::CHALLENGE_EXPIRED,
            "This login has expired. Start the login again.",
        );
    }
    ApiError::new(
        StatusCode::CONFLICT,
        codes::CHALLENGE_USED,
        format!("This login was already decided on a device, so it needs no {what}. Start a new login if you still need one."),
    )
}

/// The refusal of a login for a user without a device that can approve it.
fn no_devices(username: &str, credentials: &[ApprovalCredential]) -> ApiError {
    let message = if credentials.is_empty() {
        format!("{username} has no device that can approve a login. Activate IB Key on a phone first (portal → activation)")
    } else {
        let names: Vec<&str> = credentials.iter().map(|c| c.device_name.as_str()).collect();
        format!(
            "{username} has no device that can approve a login: {} answered with an old counter and is blocked. Remove it in the portal, then activate IB Key again.",
            names.join(", ")
        )
    };
    ApiError::new(StatusCode::CONFLICT, codes::NO_DEVICES, message)
}

/// The application name to show: trimmed, [`DEFAULT_APPLICATION`] when absent or empty.
fn application_name(requested: Option<&str>) -> Result<String, ApiError> {
    let name = requested.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Ok(DEFAULT_APPLICATION.to_string());
    }
    if name.chars().count() > MAX_APPLICATION_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "The application name must be at most {MAX_APPLICATION_CHARS} characters, without control characters."
        )));
    }
    Ok(name.to_string())
}

/// Roughly where an address is: "this computer" for loopback, "local network" for private,
/// link-local and shared (carrier-grade NAT) ranges, "unknown location" otherwise (the
/// reference server has no geolocation database).
pub(crate) fn location(ip: IpAddr) -> &'static str {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() {
        return "this computer";
    }
    let local = match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || v4.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            // fc00::/7 unique local, fe80::/10 link-local.
            first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    };
    if local {
        "local network"
    } else {
        "unknown location"
    }
}

/// Browsers by a marker in the user agent, checked in order (Edge and Opera also say
/// Chrome; Chrome also says Safari).
const BROWSERS: [(&str, &str); 9] = [
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// Systems by a marker in the user agent, checked in order (iPhones say "Mac OS X", Android
/// says "Linux").
const SYSTEMS: [(&str, &str); 7] = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
];

/// A short description of a user agent: "Chrome on Windows", "Safari on iPhone", "curl";
/// "unknown browser" when it says nothing we know.
pub(crate) fn browser_summary(user_agent: Option<&str>) -> String {
    let Some(agent) = user_agent.map(str::trim).filter(|a| !a.is_empty()) else {
        return "unknown browser".to_string();
    };
    if agent.starts_with("curl/") {
        return "curl".to_string();
    }
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(marker, _)| agent.contains(marker))
            .map(|(_, name)| *name)
    };
    match (find(&BROWSERS), find(&SYSTEMS)) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_string(),
        (None, _) => "unknown browser".to_string(),
    }
}

/// "Login notifications for alice are paused after a "this wasn't me" report until 14:05
/// UTC.": what the login page and a refused approval say while the user's pushes are muted.
pub(crate) fn paused_notice(username: &str, until: i64, now: i64) -> String {
    format!(
        "Login notifications for {username} are paused after a \"this wasn't me\" report until {}.",
        utc_time(until, now)
    )
}

/// A Unix time as "HH:MM UTC", with the date in front when it is not the day (UTC) of `now`.
pub(crate) fn utc_time(unix: i64, now: i64) -> String {
    let (days, seconds) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let time = format!("{:02}:{:02} UTC", seconds / 3_600, seconds % 3_600 / 60);
    if days == now.div_euclid(86_400) {
        time
    } else {
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02} {time}")
    }
}

/// "20 minutes", "1 minute", "90 seconds".
pub(crate) fn duration_text(seconds: i64) -> String {
    match seconds {
        60 => "1 minute".to_string(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        1 => "1 second".to_string(),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_summarised() {
        let cases = [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on Windows"),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox on Linux"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1", "Chrome on iPhone"),
            ("curl/8.5.0", "curl"),
            ("Firefox/127.0", "Firefox"),
            ("python-requests/2.32", "unknown browser"),
            ("", "unknown browser"),
        ];
        for (agent, expected) in cases {
            assert_eq!(browser_summary(Some(agent)), expected, "{agent}");
        }
        assert_eq!(browser_summary(None), "unknown browser");
    }

    #[test]
    fn addresses_are_placed_roughly() {
        let cases = [
            ("127.0.0.1", "this computer"),
            ("127.8.9.10", "this computer"),
            ("::1", "this computer"),
            ("::ffff:127.0.0.1", "this computer"),
            ("10.1.2.3", "local network"),
            ("172.16.0.1", "local network"),
            ("172.31.255.255", "local network"),
            ("192.168.1.20", "local network"),
            ("169.254.1.1", "local network"),
            ("100.64.0.1", "local network"),
            ("::ffff:192.168.0.1", "local network"),
            ("fd12:3456::1", "local network"),
            ("fe80::1", "local network"),
            ("172.32.0.1", "unknown location"),
            ("100.128.0.1", "unknown location"),
            ("8.8.8.8", "unknown location"),
            ("2001:4860:4860::8888", "unknown location"),
        ];
        for (ip, expected) in cases {
            let ip: IpAddr = ip.parse().expect("address");
            assert_eq!(location(ip), expected, "{ip}");
        }
    }

    #[test]
    fn application_names_are_trimmed_defaulted_and_bounded() {
        assert_eq!(application_name(None).expect("none"), DEFAULT_APPLICATION);
        assert_eq!(
            application_name(Some("  ")).expect("blank"),
            DEFAULT_APPLICATION
        );
        assert_eq!(
            application_name(Some(" Trader Workstation ")).expect("trimmed"),
            "Trader Workstation"
        );
        assert!(application_name(Some(&"é".repeat(64))).is_ok());
        assert!(application_name(Some(&"x".repeat(65))).is_err());
        assert!(application_name(Some("a\nb")).is_err());
    }

    #[test]
    fn times_and_durations_read_plainly() {
        let leap_day = 19_782 * 86_400;
        assert_eq!(
            utc_time(leap_day + 14 * 3_600 + 5 * 60 + 59, 0),
            "2024-02-29 14:05 UTC"
        );
        assert_eq!(
            utc_time(leap_day + 14 * 3_600 + 5 * 60 + 59, leap_day + 1),
            "14:05 UTC"
        );
        assert_eq!(duration_text(1_200), "20 minutes");
        assert_eq!(duration_text(60), "1 minute");
        assert_eq!(duration_text(90), "90 seconds");
    }

    #[test]
    fn every_state_has_a_plain_message() {
        let reported = status_message(
            LoginState::ReportedFraud,
            "alice",
            Some("Pixel 9"),
            1_200,
            None,
        );
        assert_eq!(reported, "The login was denied and reported as fraud on Pixel 9. Login notifications for alice are paused for 20 minutes; you can still log in with the QR code.");
        let cloned = status_message(
            LoginState::PossiblyCloned,
            "alice",
            Some("Pixel 9"),
            1_200,
            None,
        );
        assert!(
            cloned.starts_with("Pixel 9 answered with an old counter"),
            "{cloned}"
        );
        assert!(
            status_message(LoginState::PossiblyCloned, "alice", None, 1, None)
                .starts_with("The device")
        );
        assert_eq!(
            status_message(LoginState::Approved, "alice", Some("Pixel 9"), 1, None),
            "Login approved on Pixel 9."
        );
        let paused = status_message(LoginState::Pending, "alice", None, 1, Some((1_200, 0)));
        assert_eq!(paused, "Login notifications for alice are paused after a \"this wasn't me\" report until 00:20 UTC. Log in with the QR code on this page.");
    }
}
