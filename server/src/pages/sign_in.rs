//! The sign-in page: `GET /portal/sign-in` (the form, with a pre-session cookie its CSRF
//! token is tied to) and `POST /portal/sign-in` (the portal's password check and sign-in
//! limiter; on success a session cookie and 303 to the activation page, otherwise the form
//! again with the reason, in the status of the refusal: 401 wrong password, 429 too many).
//! The handling of a password form ([`password_form`], [`checked_password_form`],
//! [`refused_password_form`]) is shared with the login page.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::error::PageError;
use super::html::{page_response, password_page, refused_form, PasswordPage, SIGN_IN_PAGE};
use super::session::{
    check_csrf, cookie, csrf_token, pre_session, session_cookie, CsrfBinding, PRE_SESSION_COOKIE,
};
use super::ACTIVATE_PATH;
use crate::error::ApiError;
use crate::extract::ClientIp;
use crate::handlers::portal::{open_portal_session, password_user};
use crate::state::{AppState, Shared};

/// A password form's fields (missing ones read as empty).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PasswordForm {
    /// The user name typed.
    #[serde(default)]
    pub username: String,
    /// The password typed.
    #[serde(default)]
    pub password: String,
    /// The form's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `GET` of the password form `page`. Sets a pre-session cookie when the browser has none.
pub(crate) fn password_form(
    st: &AppState,
    headers: &HeaderMap,
    page: &PasswordPage,
) -> Result<Response, PageError> {
    let (pre_session, new_cookie) = pre_session(st, headers)?;
    let csrf = csrf_token(st, CsrfBinding::PreSession(&pre_session));
    let mut response = page_response(StatusCode::OK, &password_page(page, "", &csrf, None));
    if let Some(set) = new_cookie {
        response.headers_mut().insert(SET_COOKIE, set);
    }
    Ok(response)
}

/// The fields of a posted password form, after the check of its CSRF token against the
/// pre-session cookie (403), and that cookie's value.
pub(crate) fn checked_password_form<'a>(
    st: &AppState,
    headers: &'a HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<(PasswordForm, &'a str), PageError> {
    let Form(form) = form.map_err(|e| {
        PageError::BadRequest(format!(
            "The form did not arrive as this page sends it ({}). Reload the page, then try again.",
            e.body_text()
        ))
    })?;
    let pre_session = cookie(headers, PRE_SESSION_COOKIE).ok_or(PageError::CsrfMismatch)?;
    check_csrf(st, CsrfBinding::PreSession(pre_session), &form.csrf)?;
    Ok((form, pre_session))
}

/// The password form `page` shown again after `refusal`, with the user name typed; a server
/// failure is an error page instead.
pub(crate) fn refused_password_form(
    st: &AppState,
    page: &PasswordPage,
    pre_session: &str,
    username: &str,
    refusal: ApiError,
) -> Result<Response, PageError> {
    if refusal.status.is_server_error() {
        return Err(refusal.into());
    }
    let csrf = csrf_token(st, CsrfBinding::PreSession(pre_session));
    let html = password_page(page, username, &csrf, Some(&refusal.message));
    Ok(refused_form(&refusal, &html))
}

/// `GET /portal/sign-in`: the form.
pub(crate) async fn form(State(st): Shared, headers: HeaderMap) -> Result<Response, PageError> {
    password_form(&st, &headers, &SIGN_IN_PAGE)
}

/// `POST /portal/sign-in`: checks the CSRF token against the pre-session cookie (403), then
/// the password as `POST /v1/portal/sign-in` does.
pub(crate) async fn submit(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, PageError> {
    let (form, pre_session) = checked_password_form(&st, &headers, form)?;
    let username = match password_user(
        &st,
        ip,
        &form.username,
        &form.password,
        "portal page sign-in",
    ) {
        Ok(username) => username,
        Err(refusal) => {
            return refused_password_form(&st, &SIGN_IN_PAGE, pre_session, &form.username, refusal)
        }
    };
    let (token, _) = open_portal_session(&st, &username)?;
    tracing::info!(user = %username, "portal page sign-in");
    Ok((
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, session_cookie(&st, &token)?),
            (LOCATION, HeaderValue::from_static(ACTIVATE_PATH)),
        ],
    )
        .into_response())
}
