//! The sign-in page: `GET /portal/sign-in` (the form, with a pre-session cookie its CSRF
//! token is tied to) and `POST /portal/sign-in` (the portal's password check and sign-in
//! limiter; on success a session cookie and 303 to the activation page, otherwise the form
//! again with the reason, in the status of the refusal: 401 wrong password, 429 too many).

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::error::PageError;
use super::html::{page_response, sign_in_page};
use super::session::{
    check_csrf, cookie, csrf_token, session_cookie, set_cookie, CsrfBinding, PRE_SESSION_COOKIE,
};
use super::ACTIVATE_PATH;
use crate::crypto::random_b64;
use crate::extract::ClientIp;
use crate::handlers::portal::{open_portal_session, password_user};
use crate::state::Shared;

/// The sign-in form's fields (missing ones read as empty).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SignInForm {
    /// The user name typed.
    #[serde(default)]
    username: String,
    /// The password typed.
    #[serde(default)]
    password: String,
    /// The form's CSRF token.
    #[serde(default)]
    csrf: String,
}

/// `GET /portal/sign-in`: the form. Sets a pre-session cookie when the browser has none.
pub(crate) async fn form(State(st): Shared, headers: HeaderMap) -> Result<Response, PageError> {
    let (pre_session, new_cookie) = match cookie(&headers, PRE_SESSION_COOKIE) {
        Some(value) => (value.to_string(), None),
        None => {
            let value = random_b64(&st.rng, 32)?;
            let set = set_cookie(&st, PRE_SESSION_COOKIE, &value, None)?;
            (value, Some(set))
        }
    };
    let csrf = csrf_token(&st, CsrfBinding::PreSession(&pre_session));
    let mut response = page_response(StatusCode::OK, &sign_in_page("", &csrf, None));
    if let Some(set) = new_cookie {
        response.headers_mut().insert(SET_COOKIE, set);
    }
    Ok(response)
}

/// `POST /portal/sign-in`: checks the CSRF token against the pre-session cookie (403), then
/// the password as `POST /v1/portal/sign-in` does.
pub(crate) async fn submit(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(|e| {
        PageError::BadRequest(format!(
            "The sign-in form did not arrive as this page sends it ({}). Reload the page, then sign in again.",
            e.body_text()
        ))
    })?;
    let pre_session = cookie(&headers, PRE_SESSION_COOKIE).ok_or(PageError::CsrfMismatch)?;
    check_csrf(&st, CsrfBinding::PreSession(pre_session), &form.csrf)?;
    let username = match password_user(
        &st,
        ip,
        &form.username,
        &form.password,
        "portal page sign-in",
    ) {
        Ok(username) => username,
        Err(refusal) => {
            let csrf = csrf_token(&st, CsrfBinding::PreSession(pre_session));
            let page = sign_in_page(&form.username, &csrf, Some(&refusal.message));
            let mut response = page_response(refusal.status, &page);
            if let Some(seconds) = refusal.retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            return Ok(response);
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
