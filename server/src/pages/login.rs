//! The login page: the password (`GET`/`POST /login`, the same check, limiter and pushes as
//! `POST /v1/logins`), then the number to match and a status that follows the login
//! (`GET /login/wait`, its server-sent events `GET /login/events`), the other ways to approve
//! (`GET /login/qr`, the login's QR code; `GET`/`POST /login/offline`, challenge/response),
//! and the page of an approved login (`GET /login/done`, which also signs the browser in to
//! the portal with the session the approval gives).
//!
//! The login's id and secret live in the login cookie (`Path=/login`), never in a URL; the
//! response form's CSRF token is tied to that cookie, the password form's to the
//! pre-session cookie. The status states: `waiting`, `approved`, `denied` (also a wrong
//! number picked three times and a device blocked as possibly cloned), `fraud` (reported as
//! not the user's; the user's pushes are paused) and `expired`.

use std::convert::Infallible;

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use futures_util::stream::Stream;
use ibkey_protocol::approval::{codes, LoginRequest, LoginState};
use serde::{Deserialize, Serialize};
use tokio::sync::futures::Notified;

use super::error::PageError;
use super::events::{status_events, Reading, Watched};
use super::html::{
    login_done_page, login_offline_page, login_qr_page, login_wait_page, page_response,
    qr_data_url, refused_form, LoginStatusView, LOGIN_PAGE,
};
use super::session::{
    check_csrf, csrf_token, login_cookie, session_cookie, set_cookie, CsrfBinding, LOGIN_COOKIE,
    LOGIN_COOKIE_PATH,
};
use super::sign_in::{checked_password_form, password_form, refused_password_form, PasswordForm};
use super::{LOGIN_DONE_PATH, LOGIN_WAIT_PATH};
use crate::db::approval::LoginRow;
use crate::error::ApiError;
use crate::extract::ClientIp;
use crate::handlers::login::{
    login_qr, login_status, login_with_secret, notifications_off_notice, paused_notice,
    start_login, status_message, utc_time,
};
use crate::handlers::offline::{check_response, offline_challenge};
use crate::state::{AppState, Shared};

/// The login status while nothing is decided.
const WAITING_MESSAGE: &str = "Waiting for approval on your phone…";
/// The status of a denied login.
const DENIED_MESSAGE: &str = "The login was denied on your phone.";
/// The status of an expired login.
const EXPIRED_MESSAGE: &str = "This login request expired. Log in again.";

/// Where a login stands, as the login page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PageState {
    /// Nothing decided yet.
    Waiting,
    /// Approved: the page goes on to `/login/done`.
    Approved,
    /// Denied (or refused: wrong number, possibly cloned device).
    Denied,
    /// Denied and reported as not the user's; the user's pushes are paused.
    Fraud,
    /// Nobody decided in time.
    Expired,
}

impl PageState {
    /// The state word (`data-state`).
    fn word(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Fraud => "fraud",
            Self::Expired => "expired",
        }
    }
}

/// One login status event: the state and the sentence the page shows (set as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LoginUpdate {
    /// The state word.
    pub state: PageState,
    /// What the page says.
    pub message: String,
}

impl LoginUpdate {
    /// The status of `login` at `now`; `fraud_mute` is how long a fraud report pauses the
    /// user's pushes, seconds.
    fn of(login: &LoginRow, fraud_mute: i64, now: i64) -> Self {
        let stored = login.state_at(now);
        let (state, message) = match stored {
            LoginState::Pending => (PageState::Waiting, WAITING_MESSAGE.to_string()),
            LoginState::Denied => (PageState::Denied, DENIED_MESSAGE.to_string()),
            LoginState::Approved | LoginState::WrongNumber | LoginState::PossiblyCloned => {
                let state = if stored == LoginState::Approved {
                    PageState::Approved
                } else {
                    PageState::Denied
                };
                let device = login.decided_by_name.as_deref();
                let message = status_message(stored, &login.username, device, fraud_mute, None);
                (state, message)
            }
            LoginState::ReportedFraud => {
                let until = login.decided_at.unwrap_or(now).saturating_add(fraud_mute);
                (
                    PageState::Fraud,
                    format!(
                        "The login was reported on your phone as not yours. Notifications to your phone are paused until {}.",
                        utc_time(until, now)
                    ),
                )
            }
            LoginState::Expired => (PageState::Expired, EXPIRED_MESSAGE.to_string()),
        };
        Self { state, message }
    }

    /// The status as the page's `#login-status` shows it.
    fn view(&self) -> LoginStatusView<'_> {
        LoginStatusView {
            state: self.state.word(),
            message: &self.message,
        }
    }
}

/// `GET /login`: the password form. Sets a pre-session cookie when the browser has none.
pub(crate) async fn form(State(st): Shared, headers: HeaderMap) -> Result<Response, PageError> {
    password_form(&st, &headers, &LOGIN_PAGE)
}

/// `POST /login`: checks the CSRF token against the pre-session cookie (403), then starts
/// the login as `POST /v1/logins` does; sets the login cookie and 303s to the waiting step.
/// A refusal (wrong password, too many, no device) shows the form again with the reason.
pub(crate) async fn submit(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, PageError> {
    let (form, pre_session) = checked_password_form(&st, &headers, form)?;
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let request = LoginRequest {
        username: form.username.clone(),
        password: form.password,
        application: None,
    };
    let started = match start_login(&st, ip, user_agent, &request).await {
        Ok(started) => started,
        Err(refusal) => {
            return refused_password_form(&st, &LOGIN_PAGE, pre_session, &form.username, refusal)
        }
    };
    let value = format!("{}.{}", started.login_id, started.login_secret);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (
                SET_COOKIE,
                set_cookie(&st, LOGIN_COOKIE, &value, LOGIN_COOKIE_PATH, None)?,
            ),
            (LOCATION, HeaderValue::from_static(LOGIN_WAIT_PATH)),
        ],
    )
        .into_response())
}

/// The browser's login: its id, its secret, and the login as stored.
struct CurrentLogin {
    /// The login's id.
    id: String,
    /// The login's secret.
    secret: String,
    /// The login.
    row: LoginRow,
}

impl CurrentLogin {
    /// The login of the request's login cookie (303 to the login page without one, or when
    /// the server does not know it).
    fn of(st: &AppState, headers: &HeaderMap) -> Result<Self, PageError> {
        let (id, secret) = login_cookie(headers).ok_or(PageError::LoginNeeded)?;
        let row = login_with_secret(st, id, secret).map_err(login_needed)?;
        Ok(Self {
            id: id.to_string(),
            secret: secret.to_string(),
            row,
        })
    }

    /// Its status now.
    fn update(&self, st: &AppState) -> LoginUpdate {
        LoginUpdate::of(&self.row, st.fraud_mute, st.clock.now())
    }

    /// The CSRF token of its forms.
    fn csrf(&self, st: &AppState) -> String {
        csrf_token(st, CsrfBinding::Login(&self.cookie_value()))
    }

    /// The login cookie's value.
    fn cookie_value(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }
}

/// An unknown login (or wrong secret) sends the browser to the login page; other errors stay.
fn login_needed(error: ApiError) -> PageError {
    if error.code == codes::LOGIN_UNKNOWN {
        PageError::LoginNeeded
    } else {
        error.into()
    }
}

/// `GET /login/wait`: the number to match and the status (an approved login goes on to
/// `/login/done`).
pub(crate) async fn wait(State(st): Shared, headers: HeaderMap) -> Result<Response, PageError> {
    let login = CurrentLogin::of(&st, &headers)?;
    let update = login.update(&st);
    if update.state == PageState::Approved {
        return Ok(Redirect::to(LOGIN_DONE_PATH).into_response());
    }
    let now = st.clock.now();
    let user = &login.row.username;
    let paused = match update.state {
        PageState::Waiting => match st.db.push_muted_until(user, now).map_err(ApiError::from)? {
            Some(until) => Some(paused_notice(user, until, now)),
            None if !st.db.pushes_enabled(user).map_err(ApiError::from)? => {
                Some(notifications_off_notice(user))
            }
            None => None,
        },
        _ => None,
    };
    let page = login_wait_page(login.row.number, paused.as_deref(), update.view());
    Ok(page_response(StatusCode::OK, &page))
}

/// `GET /login/events`: the login's status as server-sent events, woken by the login status
/// waiters.
pub(crate) async fn events(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    let login = CurrentLogin::of(&st, &headers)?;
    let watcher = LoginWatcher {
        id: login.id,
        secret: login.secret,
    };
    Ok(status_events(st, watcher))
}

/// What one login event stream watches.
struct LoginWatcher {
    /// The login's id.
    id: String,
    /// The login's secret.
    secret: String,
}

impl Watched for LoginWatcher {
    type State = PageState;
    type Update = LoginUpdate;

    fn changed(st: &AppState) -> Notified<'_> {
        st.logins_changed.notified()
    }

    fn read(&self, st: &AppState) -> Result<Option<Reading<Self>>, ApiError> {
        let login = login_with_secret(st, &self.id, &self.secret)?;
        let now = st.clock.now();
        let update = LoginUpdate::of(&login, st.fraud_mute, now);
        Ok(Some(Reading {
            state: update.state,
            is_final: update.state != PageState::Waiting,
            update,
            seconds_left: login.expires_at - now,
        }))
    }
}

/// `GET /login/done`: the page of an approved login (303 to the waiting step otherwise).
/// The first time, it also sets the portal session cookie the approval gives.
pub(crate) async fn done(State(st): Shared, headers: HeaderMap) -> Result<Response, PageError> {
    let login = CurrentLogin::of(&st, &headers)?;
    let now = st.clock.now();
    let state = login.row.state_at(now);
    if state != LoginState::Approved {
        return Ok(Redirect::to(LOGIN_WAIT_PATH).into_response());
    }
    let status = login_status(&st, &login.id, &login.row, state, now)?;
    let mut response = page_response(StatusCode::OK, &login_done_page(&login.row.username));
    if let Some(token) = status.portal_token {
        response
            .headers_mut()
            .insert(SET_COOKIE, session_cookie(&st, &token)?);
    }
    Ok(response)
}

/// `GET /login/qr`: the login's QR code (as `POST /v1/logins/{id}/qr` gives it) and the
/// status; a decided or expired login goes to the waiting step, which says why.
pub(crate) async fn qr(State(st): Shared, headers: HeaderMap) -> Result<Response, PageError> {
    let login = CurrentLogin::of(&st, &headers)?;
    let update = login.update(&st);
    if update.state != PageState::Waiting {
        return Ok(Redirect::to(LOGIN_WAIT_PATH).into_response());
    }
    let qr = login_qr(&st, &login.id, &login.secret)?;
    let qr_url =
        qr_data_url(&qr.qr_payload).map_err(|e| ApiError::internal("login QR code", &e))?;
    Ok(page_response(
        StatusCode::OK,
        &login_qr_page(&qr_url, update.view()),
    ))
}

/// `GET /login/offline`: the login's offline challenge (as `POST /v1/logins/{id}/offline`
/// gives it) and the response form; a decided or expired login goes to the waiting step.
pub(crate) async fn offline(State(st): Shared, headers: HeaderMap) -> Result<Response, PageError> {
    let login = CurrentLogin::of(&st, &headers)?;
    let update = login.update(&st);
    if update.state != PageState::Waiting {
        return Ok(Redirect::to(LOGIN_WAIT_PATH).into_response());
    }
    let challenge = offline_challenge(&st, &login.id, &login.secret)?;
    let page = login_offline_page(&challenge.challenge, &login.csrf(&st), None, update.view());
    Ok(page_response(StatusCode::OK, &page))
}

/// The response form's fields (missing ones read as empty).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ResponseForm {
    /// The response typed.
    #[serde(default)]
    response: String,
    /// The form's CSRF token.
    #[serde(default)]
    csrf: String,
}

/// `POST /login/offline`: checks the CSRF token against the login cookie (403), then the
/// response as `POST /v1/logins/{id}/response` does (with its attempt limiter): a right one
/// 303s to `/login/done`, a wrong one shows the form again with the reason.
pub(crate) async fn respond(
    State(st): Shared,
    headers: HeaderMap,
    form: Result<Form<ResponseForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = form.map(|Form(form)| form).unwrap_or_default();
    let login = CurrentLogin::of(&st, &headers)?;
    check_csrf(&st, CsrfBinding::Login(&login.cookie_value()), &form.csrf)?;
    let refusal = match check_response(&st, &login.id, &login.secret, &form.response) {
        Ok(_) => return Ok(Redirect::to(LOGIN_DONE_PATH).into_response()),
        Err(refusal) if refusal.status.is_server_error() => return Err(refusal.into()),
        Err(refusal) => refusal,
    };
    let challenge = offline_challenge(&st, &login.id, &login.secret)?;
    let update = login.update(&st);
    let page = login_offline_page(
        &challenge.challenge,
        &login.csrf(&st),
        Some(&refusal.message),
        update.view(),
    );
    Ok(refused_form(&refusal, &page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ibkey_protocol::approval::LoginContext;

    fn login(state: LoginState, decided_at: Option<i64>) -> LoginRow {
        LoginRow {
            secret_sha256: Vec::new(),
            username: "alice".to_string(),
            context: LoginContext {
                application: "Client Portal".to_string(),
                ip_address: "127.0.0.1".to_string(),
                location: "this computer".to_string(),
                browser: "curl".to_string(),
                login_time: 0,
            },
            number: 42,
            expires_at: 120,
            state,
            decided_at,
            decided_by_name: Some("Pixel 9".to_string()),
            portal_token_issued: false,
        }
    }

    #[test]
    fn every_login_state_has_a_page_state_and_sentence() {
        let cases = [
            (LoginState::Pending, None, 10, "waiting", WAITING_MESSAGE),
            (LoginState::Pending, None, 120, "expired", EXPIRED_MESSAGE),
            (LoginState::Approved, Some(5), 10, "approved", "Login approved on Pixel 9."),
            (LoginState::Denied, Some(5), 10, "denied", DENIED_MESSAGE),
            (
                LoginState::ReportedFraud,
                Some(60),
                70,
                "fraud",
                "The login was reported on your phone as not yours. Notifications to your phone are paused until 00:21 UTC.",
            ),
        ];
        for (state, decided_at, now, word, message) in cases {
            let update = LoginUpdate::of(&login(state, decided_at), 1_200, now);
            assert_eq!(update.state.word(), word);
            assert_eq!(update.message, message);
            let json = serde_json::to_value(&update).expect("json");
            assert_eq!(json["state"], word);
        }
        let wrong = LoginUpdate::of(&login(LoginState::WrongNumber, Some(5)), 1_200, 10);
        assert_eq!(wrong.state, PageState::Denied);
        assert!(wrong.message.contains("three times"), "{}", wrong.message);
    }
}
