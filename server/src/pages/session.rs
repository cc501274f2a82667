//! The portal pages' cookies and CSRF tokens.
//!
//! Three cookies, all `HttpOnly; SameSite=Strict` (and `Secure` when the server listens off
//! loopback): [`SESSION_COOKIE`] (`Path=/`) holds a portal session token (the same sessions
//! as `POST /v1/portal/sign-in` makes, 15 minutes), [`PRE_SESSION_COOKIE`] (`Path=/`) a
//! random value the sign-in and login forms' CSRF tokens are tied to before there is a
//! session, [`LOGIN_COOKIE`] (`Path=/login`) the login page's login id and secret (never in
//! a URL), until the browser closes. A CSRF token is the
//! HMAC-SHA256, under a key made at each start, of the cookie it is tied to (so a restart
//! makes open forms stale: they are refused with a page saying to reload).

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::Form;
use ibkey_protocol::encoding::{b64, unb64};
use ring::hmac;
use serde::Deserialize;

use super::error::PageError;
use crate::crypto::random_b64;
use crate::handlers::portal::{session_user, PORTAL_SESSION_SECONDS};
use crate::state::AppState;

/// The name of the session cookie (a portal session token).
pub(crate) const SESSION_COOKIE: &str = "ibkey_session";
/// The name of the pre-session cookie (what the sign-in form's CSRF token is tied to).
pub(crate) const PRE_SESSION_COOKIE: &str = "ibkey_pre_session";
/// The name of the login cookie (the login page's login: its id and secret, `<id>.<secret>`).
pub(crate) const LOGIN_COOKIE: &str = "ibkey_login";
/// The path the login cookie is sent to (the login page's routes only).
pub(crate) const LOGIN_COOKIE_PATH: &str = "/login";
/// The length of the session and pre-session cookies' values (32 random bytes in
/// base64url).
const COOKIE_VALUE_LEN: usize = 43;
/// The longest cookie value read.
const MAX_COOKIE_VALUE_LEN: usize = 128;

/// What a CSRF token is tied to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CsrfBinding<'a> {
    /// The pre-session cookie's value (the sign-in form).
    PreSession(&'a str),
    /// The session cookie's value (the forms of a signed-in user).
    Session(&'a str),
    /// The login cookie's value (the forms of the login page after the password).
    Login(&'a str),
}

impl CsrfBinding<'_> {
    /// The bytes the HMAC is computed over: a label, then the cookie's value.
    fn message(self) -> Vec<u8> {
        let (label, value) = match self {
            Self::PreSession(value) => ("pre-session:", value),
            Self::Session(value) => ("session:", value),
            Self::Login(value) => ("login:", value),
        };
        [label.as_bytes(), value.as_bytes()].concat()
    }
}

/// The CSRF token of forms tied to `binding`.
pub(crate) fn csrf_token(st: &AppState, binding: CsrfBinding<'_>) -> String {
    b64(hmac::sign(&st.csrf_key, &binding.message()).as_ref())
}

/// Checks a form's CSRF token against `binding` (403 page when it does not match).
pub(crate) fn check_csrf(
    st: &AppState,
    binding: CsrfBinding<'_>,
    token: &str,
) -> Result<(), PageError> {
    let tag = unb64(token).ok_or(PageError::CsrfMismatch)?;
    hmac::verify(&st.csrf_key, &binding.message(), &tag).map_err(|_| PageError::CsrfMismatch)
}

/// The value of the cookie `name` in the request, if it has the form this server gives its
/// session and pre-session cookies (43 base64url characters).
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_value(headers, name)
        .filter(|value| value.len() == COOKIE_VALUE_LEN && !value.contains('.'))
}

/// The login cookie's login id and secret, if the request has one in the form this server
/// gives it (`<id>.<secret>`, both base64url).
pub(crate) fn login_cookie(headers: &HeaderMap) -> Option<(&str, &str)> {
    cookie_value(headers, LOGIN_COOKIE)?
        .split_once('.')
        .filter(|(id, secret)| !id.is_empty() && !secret.is_empty() && !secret.contains('.'))
}

/// The value of the cookie `name` in the request, if it is made of base64url characters and
/// dots, at most [`MAX_COOKIE_VALUE_LEN`] of them.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| {
            value.len() <= MAX_COOKIE_VALUE_LEN
                && value
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        })
}

/// The browser's pre-session cookie value, and the `Set-Cookie` of a new one when it has
/// none (the forms before sign-in and before the login's password tie their CSRF tokens to
/// it).
pub(crate) fn pre_session(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<(String, Option<HeaderValue>), PageError> {
    if let Some(value) = cookie(headers, PRE_SESSION_COOKIE) {
        return Ok((value.to_string(), None));
    }
    let value = random_b64(&st.rng, 32)?;
    let set = set_cookie(st, PRE_SESSION_COOKIE, &value, "/", None)?;
    Ok((value, Some(set)))
}

/// A `Set-Cookie` value for the cookie `name` with `value`, sent to `path`, lasting
/// `max_age` seconds (until the browser closes when `None`).
pub(crate) fn set_cookie(
    st: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
) -> Result<HeaderValue, PageError> {
    let max_age = max_age.map_or(String::new(), |seconds| format!("; Max-Age={seconds}"));
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}{max_age}; Path={path}; HttpOnly; SameSite=Strict{secure}"
    ))
    .map_err(|_| PageError::Internal)
}

/// The `Set-Cookie` value of a new session cookie holding the portal session `token`.
pub(crate) fn session_cookie(st: &AppState, token: &str) -> Result<HeaderValue, PageError> {
    set_cookie(st, SESSION_COOKIE, token, "/", Some(PORTAL_SESSION_SECONDS))
}

/// A posted form that holds only its CSRF token (a button).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CsrfForm {
    /// The form's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// A signed-in user of the portal pages: the session cookie names an unexpired portal
/// session. Without one, the request is sent to the sign-in page.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    /// The user.
    pub user: String,
    /// The session token (the cookie's value), what the user's CSRF tokens are tied to.
    pub token: String,
}

impl SignedIn {
    /// The CSRF token of this user's forms.
    pub fn csrf(&self, st: &AppState) -> String {
        csrf_token(st, CsrfBinding::Session(&self.token))
    }

    /// Checks the CSRF token of a posted form that holds only that token (a form that did not
    /// arrive as sent has none).
    pub fn check_form(
        &self,
        st: &AppState,
        form: Result<Form<CsrfForm>, FormRejection>,
    ) -> Result<(), PageError> {
        let csrf = form.map(|Form(form)| form.csrf).unwrap_or_default();
        check_csrf(st, CsrfBinding::Session(&self.token), &csrf)
    }
}

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(PageError::SignInNeeded)?;
        let user = session_user(st, token)?.ok_or(PageError::SignInNeeded)?;
        Ok(Self {
            user,
            token: token.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_only_in_the_form_the_server_gives_them() {
        let value = "a".repeat(COOKIE_VALUE_LEN);
        let mut headers = HeaderMap::new();
        let line = format!("other=1; {SESSION_COOKIE}={value}; {PRE_SESSION_COOKIE}=short");
        headers.insert(COOKIE, HeaderValue::from_str(&line).expect("header"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some(value.as_str()));
        assert_eq!(cookie(&headers, PRE_SESSION_COOKIE), None);
        assert_eq!(cookie(&headers, "missing"), None);
        let line = format!("{LOGIN_COOKIE}=abc.{value}; {SESSION_COOKIE}=a.b");
        headers.insert(COOKIE, HeaderValue::from_str(&line).expect("header"));
        assert_eq!(login_cookie(&headers), Some(("abc", value.as_str())));
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
        headers.insert(COOKIE, HeaderValue::from_static("ibkey_login=a.b.c; x=1"));
        assert_eq!(login_cookie(&headers), None);
    }
}
