//! The login page's offline codes (types in `ibkey_protocol::offline`), for a phone without
//! a network: all three endpoints take the login's bearer secret, like its QR code.
//!
//! - `POST /v1/logins/{id}/offline` shows the login's 6-digit challenge (made once, given
//!   again while the login is pending); the user types it into IB Key, which answers an
//!   8-digit response computed from the per-account secret agreed at activation.
//! - `POST /v1/logins/{id}/response` checks that response against every active, unblocked
//!   credential of the user with a secret; a match uses the challenge up and approves the
//!   login, decided by that credential, as a device's approval does (the status, the portal
//!   token handed out once, the long-polls woken).
//! - `POST /v1/logins/{id}/code` does the same with a time-based code (RFC 6238), of the
//!   server's current 30-second step or the one before or after (§5.2); each credential's
//!   codes work once: a step at or before the last accepted one is refused.
//!
//! Wrong responses and codes are limited per user ([`crate::rate_limit::AttemptLimiter`]):
//! while the user's window is full every response and code is refused, a right one too.
//! Pushes muted after a fraud report do not stop offline codes. Logs never hold a challenge,
//! a response, a code or a secret.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ibkey_protocol::activation::codes as activation_codes;
use ibkey_protocol::approval::{codes as approval_codes, LoginState, LoginStatus};
use ibkey_protocol::offline::{
    codes, grouped_challenge, new_challenge, response, time_code, OfflineChallenge,
    OfflineResponse, TimeCodeRequest, RESPONSE_DIGITS, TIME_CODE_DIGITS, TIME_CODE_PERIOD,
};

use crate::crypto::bytes_equal;
use crate::db::approval::LoginRow;
use crate::db::offline::{OfflineCredential, OfflineOutcome, OfflineProof};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::extract::{bearer_token, ApiJson};
use crate::handlers::login::{
    authenticated_login, duration_text, login_closed, login_status, login_with_secret,
};
use crate::state::{AppState, Shared};

/// What a closed login's refusal says the page needs no more of.
const WHAT: &str = "offline code";

/// `POST /v1/logins/{login_id}/offline` (bearer login secret): the login's offline challenge,
/// made on the first request and given again while the login is pending. Refused like the QR
/// code for a login no longer pending, and `offline_unavailable` when no device of the user
/// has offline codes.
#[utoipa::path(
    post,
    path = "/v1/logins/{login_id}/offline",
    tag = "offline",
    summary = "The login page's offline challenge (6 digits)",
    params(("login_id" = String, Path, description = "The login's id, from `LoginStarted`.")),
    responses(
        (status = 200, description = "The challenge, the same while the login is pending.", body = ibkey_protocol::offline::OfflineChallenge),
        (status = 400, description = "`bad_request`: the path is not valid (not UTF-8 after percent-decoding).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`login_unknown`: no login with this id, or the login secret does not match.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`challenge_used`: the login was already decided; `offline_unavailable`: no device of the user has offline codes.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`challenge_expired`.", body = ibkey_protocol::activation::ErrorResponse),
    ),
    security(("login_secret" = [])),
)]
pub(crate) async fn challenge(
    State(st): Shared,
    ApiPath(login_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<OfflineChallenge>, ApiError> {
    let secret = bearer_token(&headers).unwrap_or_default();
    Ok(Json(offline_challenge(&st, &login_id, secret)?))
}

/// The offline challenge of the login `login_id` whose secret is `secret` (see `POST
/// /v1/logins/{id}/offline`); shared with the login page.
pub(crate) fn offline_challenge(
    st: &AppState,
    login_id: &str,
    secret: &str,
) -> Result<OfflineChallenge, ApiError> {
    let login = login_with_secret(st, login_id, secret)?;
    let now = st.clock.now();
    let state = login.state_at(now);
    if state != LoginState::Pending {
        return Err(login_closed(state, WHAT));
    }
    usable_credentials(st, &login.username)?;
    let fresh = new_challenge(&st.rng)
        .map_err(|_| ApiError::internal("random generator", &"fill failed"))?;
    let Some(row) = st.db.offline_challenge_or_insert(login_id, &fresh, now)? else {
        // Decided or expired since the read above.
        let login = login_with_secret(st, login_id, secret)?;
        return Err(login_closed(login.state_at(now), WHAT));
    };
    tracing::info!(user = %login.username, %login_id, "offline challenge shown");
    Ok(OfflineChallenge {
        challenge: grouped_challenge(&row.challenge),
        expires_at: login.expires_at,
    })
}

/// `POST /v1/logins/{login_id}/response` (bearer login secret): the phone's response to the
/// login's challenge. A match approves the login and answers its status.
#[utoipa::path(
    post,
    path = "/v1/logins/{login_id}/response",
    tag = "offline",
    summary = "The phone's 8-digit response to the offline challenge",
    params(("login_id" = String, Path, description = "The login's id, from `LoginStarted`.")),
    request_body = ibkey_protocol::offline::OfflineResponse,
    responses(
        (status = 200, description = "The login, approved.", body = ibkey_protocol::approval::LoginStatus),
        (status = 400, description = "`bad_request` (malformed body, not 8 digits); `response_wrong`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`login_unknown`: no login with this id, or the login secret does not match.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`challenge_unknown` (no challenge asked yet), `response_used`, `challenge_used`, `offline_unavailable`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`challenge_expired`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`too_many_attempts`: more than 5 wrong responses or codes for this user in 15 minutes.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
    ),
    security(("login_secret" = [])),
)]
pub(crate) async fn response_typed(
    State(st): Shared,
    ApiPath(login_id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<OfflineResponse>,
) -> Result<Json<LoginStatus>, ApiError> {
    let secret = bearer_token(&headers).unwrap_or_default();
    Ok(Json(check_response(&st, &login_id, secret, &req.response)?))
}

/// Checks the response `typed` to the offline challenge of the login `login_id` whose secret
/// is `secret`, under the attempt limiter; a match approves the login and answers its status.
/// Shared by `POST /v1/logins/{id}/response` and the login page.
pub(crate) fn check_response(
    st: &AppState,
    login_id: &str,
    secret: &str,
    typed: &str,
) -> Result<LoginStatus, ApiError> {
    let login = login_with_secret(st, login_id, secret)?;
    let now = st.clock.now();
    let state = login.state_at(now);
    let challenge = match st.db.offline_challenge(login_id)? {
        Some(challenge) if challenge.used => return Err(response_used()),
        Some(challenge) => challenge,
        None if state == LoginState::Pending => return Err(no_challenge_yet()),
        None => return Err(login_closed(state, WHAT)),
    };
    if state != LoginState::Pending {
        return Err(login_closed(state, WHAT));
    }
    let typed = typed_digits(typed, RESPONSE_DIGITS, "response")?;
    let credentials = usable_credentials(st, &login.username)?;
    let matched = {
        // Held across the comparison so concurrent tries cannot overrun the limit.
        let mut limiter = st.offline_limiter();
        limiter
            .check(&login.username, now)
            .map_err(|wait| too_many_attempts(&login.username, wait))?;
        let matched = credentials.iter().find(|credential| {
            let expected = response(&credential.secret, &login.username, &challenge.challenge);
            bytes_equal(expected.as_bytes(), typed.as_bytes())
        });
        if matched.is_none() {
            limiter.record(&login.username, now);
        }
        matched
    };
    let Some(credential) = matched else {
        tracing::info!(user = %login.username, %login_id, "offline response refused: wrong");
        return Err(response_wrong());
    };
    approve(st, login_id, credential, OfflineProof::Response, now)
}

/// `POST /v1/logins/{login_id}/code` (bearer login secret): a time-based code from the
/// phone. A match of a step not used before approves the login and answers its status.
#[utoipa::path(
    post,
    path = "/v1/logins/{login_id}/code",
    tag = "offline",
    summary = "A time-based code (6 digits) typed from the phone",
    params(("login_id" = String, Path, description = "The login's id, from `LoginStarted`.")),
    request_body = ibkey_protocol::offline::TimeCodeRequest,
    responses(
        (status = 200, description = "The login, approved.", body = ibkey_protocol::approval::LoginStatus),
        (status = 400, description = "`bad_request` (malformed body, not 6 digits); `response_wrong`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`login_unknown`: no login with this id, or the login secret does not match.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`response_used` (this time step was used), `challenge_used`, `offline_unavailable`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`challenge_expired`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`too_many_attempts`: more than 5 wrong responses or codes for this user in 15 minutes.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
    ),
    security(("login_secret" = [])),
)]
pub(crate) async fn code(
    State(st): Shared,
    ApiPath(login_id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<TimeCodeRequest>,
) -> Result<Json<LoginStatus>, ApiError> {
    let login = authenticated_login(&st, &login_id, &headers)?;
    let now = st.clock.now();
    let state = login.state_at(now);
    let typed = typed_digits(&req.code, usize::from(TIME_CODE_DIGITS), "code")?;
    let credentials = usable_credentials(&st, &login.username)?;
    let matched = {
        // Held across the comparison so concurrent tries cannot overrun the limit.
        let mut limiter = st.offline_limiter();
        limiter
            .check(&login.username, now)
            .map_err(|wait| too_many_attempts(&login.username, wait))?;
        let matched = match_time_code(&credentials, &typed, now);
        if matched.is_none() {
            limiter.record(&login.username, now);
        }
        matched
    };
    match matched {
        Some(found) if !found.fresh => {
            tracing::info!(user = %login.username, %login_id, credential_id = %found.credential.credential_id, "time code refused: already used");
            Err(code_used())
        }
        _ if state != LoginState::Pending => Err(login_closed(state, WHAT)),
        Some(found) => approve(
            &st,
            &login_id,
            found.credential,
            OfflineProof::TimeStep(found.step),
            now,
        )
        .map(Json),
        None => {
            tracing::info!(user = %login.username, %login_id, "time code refused: wrong");
            Err(response_wrong())
        }
    }
}

/// Approves the login by `credential` with `proof`, wakes the login page, and answers the
/// login's status (with the portal token, handed out once).
fn approve(
    st: &AppState,
    login_id: &str,
    credential: &OfflineCredential,
    proof: OfflineProof,
    now: i64,
) -> Result<LoginStatus, ApiError> {
    let outcome = st
        .db
        .approve_offline(login_id, &credential.credential_id, proof, now)?;
    let login = current_login(st, login_id)?;
    match outcome {
        OfflineOutcome::Approved => {}
        OfflineOutcome::Used => {
            return Err(match proof {
                OfflineProof::Response => response_used(),
                OfflineProof::TimeStep(_) => code_used(),
            })
        }
        OfflineOutcome::LoginClosed => return Err(login_closed(login.state_at(now), WHAT)),
    }
    st.logins_changed.notify_waiters();
    tracing::info!(
        user = %login.username,
        %login_id,
        credential_id = %credential.credential_id,
        by = match proof {
            OfflineProof::Response => "response",
            OfflineProof::TimeStep(_) => "time code",
        },
        "login approved offline"
    );
    let state = login.state_at(now);
    login_status(st, login_id, &login, state, now)
}

/// The login as stored now.
fn current_login(st: &AppState, login_id: &str) -> Result<LoginRow, ApiError> {
    st.db.login(login_id)?.ok_or_else(ApiError::login_unknown)
}

/// The user's credentials that can approve offline: active, not blocked as possibly cloned,
/// with an offline secret. `offline_unavailable` when there is none.
fn usable_credentials(st: &AppState, username: &str) -> Result<Vec<OfflineCredential>, ApiError> {
    let with_secret = st.db.offline_credentials(username)?;
    let any_with_secret = !with_secret.is_empty();
    let usable: Vec<OfflineCredential> = with_secret
        .into_iter()
        .filter(|credential| !credential.possibly_cloned)
        .collect();
    if usable.is_empty() {
        tracing::info!(user = %username, "offline code refused: no device has offline codes");
        return Err(offline_unavailable(username, any_with_secret));
    }
    Ok(usable)
}

/// A time code that matched: the credential, the step, and whether that step is unused.
struct TimeCodeMatch<'a> {
    /// The credential whose code it is.
    credential: &'a OfflineCredential,
    /// The 30-second step it is of.
    step: i64,
    /// Whether the step is after the credential's last accepted one.
    fresh: bool,
}

/// The 30-second steps a code typed at `now` may be of: the current one and its neighbours
/// (RFC 6238 §5.2), oldest first.
fn time_steps(now: i64) -> [i64; 3] {
    let period = i64::try_from(TIME_CODE_PERIOD).unwrap_or(30);
    let step = now.div_euclid(period);
    [step.saturating_sub(1), step, step.saturating_add(1)]
}

/// Which credential and step `typed` is the code of at `now`, if any: an unused step first,
/// the latest of them (so every code up to it is used up with it).
fn match_time_code<'a>(
    credentials: &'a [OfflineCredential],
    typed: &str,
    now: i64,
) -> Option<TimeCodeMatch<'a>> {
    let period = i64::try_from(TIME_CODE_PERIOD).unwrap_or(30);
    let mut best: Option<TimeCodeMatch<'a>> = None;
    for credential in credentials {
        for step in time_steps(now) {
            let start = u64::try_from(step.saturating_mul(period)).unwrap_or(0);
            let expected = time_code(&credential.secret, start);
            if !bytes_equal(expected.as_bytes(), typed.as_bytes()) {
                continue;
            }
            let fresh = credential.last_time_step.is_none_or(|last| step > last);
            if best
                .as_ref()
                .is_none_or(|found| (fresh, step) > (found.fresh, found.step))
            {
                best = Some(TimeCodeMatch {
                    credential,
                    step,
                    fresh,
                });
            }
        }
    }
    best
}

/// The digits typed, spaces and dashes left out: exactly `len` of them, else `bad_request`
/// naming `what` (a typo is not counted as a wrong try).
fn typed_digits(typed: &str, len: usize, what: &str) -> Result<String, ApiError> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() != len || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!(
            "The {what} is {len} digits, as IB Key shows it. Type it again."
        )));
    }
    Ok(digits)
}

/// 400 `response_wrong`.
fn response_wrong() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::RESPONSE_WRONG,
        "The response does not match this challenge. Check that you typed the challenge into the phone for the right user, and the 8 digits back.",
    )
}

/// 409 `response_used` for a response.
fn response_used() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        codes::RESPONSE_USED,
        "This response was already used to approve this login; it works once. Start a new login if you still need one.",
    )
}

/// 409 `response_used` for a time code.
fn code_used() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        codes::RESPONSE_USED,
        "This code was already used to log in; each code works once. Wait for the next code in IB Key (a new one every 30 seconds), then type that one.",
    )
}

/// 409 `challenge_unknown`: a response before the page asked for the challenge.
fn no_challenge_yet() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        approval_codes::CHALLENGE_UNKNOWN,
        "This login has no offline challenge yet. Ask for the challenge first (POST /v1/logins/{id}/offline), type it into IB Key on the phone, then send the 8 digits it answers.",
    )
}

/// 409 `offline_unavailable`: no usable device of the user has offline codes;
/// `any_blocked_with_codes` when some have them but are blocked as possibly cloned.
fn offline_unavailable(username: &str, any_blocked_with_codes: bool) -> ApiError {
    let message = if any_blocked_with_codes {
        format!("{username}'s devices with offline codes are blocked: one answered with an old counter, so its keys may have been copied. Remove IB Key for {username} in the portal, then activate again.")
    } else {
        format!("{username}'s devices were activated before offline codes existed: remove IB Key for {username} from the phone and activate again to get them.")
    };
    ApiError::new(StatusCode::CONFLICT, codes::OFFLINE_UNAVAILABLE, message)
}

/// 429 `too_many_attempts` for the user's offline responses and codes.
fn too_many_attempts(username: &str, retry_after: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        activation_codes::TOO_MANY_ATTEMPTS,
        format!(
            "Too many wrong responses or codes were typed for {username}. Wait {}, then try again with a new one from IB Key.",
            wait_text(retry_after)
        ),
    )
    .retry_after(retry_after)
}

/// A wait as the user reads it: seconds under a minute, else whole minutes rounded up.
fn wait_text(seconds: u64) -> String {
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    if seconds < 60 {
        duration_text(seconds)
    } else {
        duration_text(seconds.saturating_add(59) / 60 * 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(id: &str, secret: u8, last_time_step: Option<i64>) -> OfflineCredential {
        OfflineCredential {
            credential_id: id.into(),
            possibly_cloned: false,
            secret: vec![secret; 32],
            last_time_step,
        }
    }

    #[test]
    fn typed_digits_ignore_spaces_and_dashes_and_need_the_length() {
        assert_eq!(
            typed_digits(" 1234 5678 ", 8, "response").expect("ok"),
            "12345678"
        );
        assert_eq!(typed_digits("123-456", 6, "code").expect("ok"), "123456");
        let short = typed_digits("1234567", 8, "response").expect_err("short");
        assert_eq!(short.code, activation_codes::BAD_REQUEST);
        assert!(short.message.contains("8 digits"), "{}", short.message);
        assert!(typed_digits("12345a78", 8, "response").is_err());
        assert!(
            typed_digits("١٢٣٤٥٦", 6, "code").is_err(),
            "ASCII digits only"
        );
    }

    #[test]
    fn a_code_matches_its_step_or_a_neighbour_and_unused_steps_win() {
        let now = 1_800_000_015;
        let step = now / 30;
        let alice = [credential("c1", 1, None), credential("c2", 2, Some(step))];
        let code_of = |secret: u8, step: i64| {
            time_code(&[secret; 32], u64::try_from(step * 30).expect("positive"))
        };
        for s in [step - 1, step, step + 1] {
            let found = match_time_code(&alice, &code_of(1, s), now).expect("match");
            assert_eq!(
                (found.credential.credential_id.as_str(), found.step),
                ("c1", s)
            );
            assert!(found.fresh);
        }
        assert!(match_time_code(&alice, &code_of(1, step - 2), now).is_none());
        assert!(match_time_code(&alice, &code_of(1, step + 2), now).is_none());
        let used = match_time_code(&alice, &code_of(2, step), now).expect("match");
        assert!(!used.fresh, "at the last accepted step");
        let next = match_time_code(&alice, &code_of(2, step + 1), now).expect("match");
        assert!(next.fresh);
        assert_eq!(time_steps(0), [-1, 0, 1]);
    }

    #[test]
    fn waits_read_in_seconds_then_whole_minutes() {
        assert_eq!(wait_text(45), "45 seconds");
        assert_eq!(wait_text(60), "1 minute");
        assert_eq!(wait_text(61), "2 minutes");
        assert_eq!(wait_text(900), "15 minutes");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let unavailable = offline_unavailable("alice", false);
        assert_eq!(unavailable.status, StatusCode::CONFLICT);
        assert_eq!(unavailable.message, "alice's devices were activated before offline codes existed: remove IB Key for alice from the phone and activate again to get them.");
        let limited = too_many_attempts("alice", 600);
        assert_eq!(limited.retry_after, Some(600));
        assert!(
            limited.message.contains("Wait 10 minutes"),
            "{}",
            limited.message
        );
    }
}
