//! The portal pages' cookies and CSRF tokens.
//!
//! Two cookies, both `HttpOnly; SameSite=Strict; Path=/` (and `Secure` when the server
//! listens off loopback): [`SESSION_COOKIE`] holds a portal session token (the same sessions
//! as `POST /v1/portal/sign-in` makes, 15 minutes), [`PRE_SESSION_COOKIE`] a random value
//! the sign-in form's CSRF token is tied to before there is a session. A CSRF token is the
//! HMAC-SHA256, under a key made at each start, of the cookie it is tied to (so a restart
//! makes open forms stale: they are refused with a page saying to reload).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use ibkey_protocol::encoding::{b64, unb64};
use ring::hmac;

use super::error::PageError;
use crate::handlers::portal::{session_user, PORTAL_SESSION_SECONDS};
use crate::state::AppState;

/// The name of the session cookie (a portal session token).
pub(crate) const SESSION_COOKIE: &str = "ibkey_session";
/// The name of the pre-session cookie (what the sign-in form's CSRF token is tied to).
pub(crate) const PRE_SESSION_COOKIE: &str = "ibkey_pre_session";
/// The length of the cookies' values (32 random bytes in base64url).
const COOKIE_VALUE_LEN: usize = 43;

/// What a CSRF token is tied to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CsrfBinding<'a> {
    /// The pre-session cookie's value (the sign-in form).
    PreSession(&'a str),
    /// The session cookie's value (the forms of a signed-in user).
    Session(&'a str),
}

impl CsrfBinding<'_> {
    /// The bytes the HMAC is computed over: a label, then the cookie's value.
    fn message(self) -> Vec<u8> {
        let (label, value) = match self {
            Self::PreSession(value) => ("pre-session:", value),
            Self::Session(value) => ("session:", value),
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
/// cookies (43 base64url characters).
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| {
            value.len() == COOKIE_VALUE_LEN
                && value
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

/// A `Set-Cookie` value for the cookie `name` with `value`, lasting `max_age` seconds (until
/// the browser closes when `None`).
pub(crate) fn set_cookie(
    st: &AppState,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> Result<HeaderValue, PageError> {
    let max_age = max_age.map_or(String::new(), |seconds| format!("; Max-Age={seconds}"));
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}{max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .map_err(|_| PageError::Internal)
}

/// The `Set-Cookie` value of a new session cookie holding the portal session `token`.
pub(crate) fn session_cookie(st: &AppState, token: &str) -> Result<HeaderValue, PageError> {
    set_cookie(st, SESSION_COOKIE, token, Some(PORTAL_SESSION_SECONDS))
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

    /// Checks a form's CSRF token against this session.
    pub fn check_csrf(&self, st: &AppState, token: &str) -> Result<(), PageError> {
        check_csrf(st, CsrfBinding::Session(&self.token), token)
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
    }
}
