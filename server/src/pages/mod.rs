//! The portal's web pages, server-rendered HTML with one stylesheet and one script (no inline
//! script or style): sign-in ([`sign_in`]), the activation page ([`activate`]: the QR
//! code, the session ID, a countdown, "get a fresh code", and its status as server-sent
//! events), the account page ([`account`]: devices with "revoke", recent logins, fraud
//! reports), moving IB Key to a new phone ([`move_phone`]: a code sent out of band, then the
//! move ticket shown as the activation page shows its ticket) and the login page ([`login`]:
//! the password, the number to match and the login's status as server-sent events, the QR
//! code, challenge/response). Sessions, cookies and CSRF tokens are in [`session`], the HTML
//! in [`html`], the error pages in [`error`], the event streams in [`events`].
//!
//! Every reply of these routes carries [`CONTENT_SECURITY_POLICY`],
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`; every page also
//! `Cache-Control: no-store`.

pub(crate) mod account;
pub(crate) mod activate;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod html;
pub(crate) mod login;
pub(crate) mod move_phone;
pub(crate) mod session;
pub(crate) mod sign_in;

use std::sync::Arc;

use axum::http::header::{
    CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::map_response;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// The Content-Security-Policy of every page: scripts, styles and images from the server
/// only (images also as `data:` URLs), no framing, forms posting only to the server.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The sign-in page's path.
pub(crate) const SIGN_IN_PATH: &str = "/portal/sign-in";
/// The activation page's path.
pub(crate) const ACTIVATE_PATH: &str = "/portal/activate";
/// The activation page's "get a fresh code" form.
pub(crate) const ACTIVATE_FRESH_PATH: &str = "/portal/activate/fresh";
/// The activation page's status events.
pub(crate) const ACTIVATE_EVENTS_PATH: &str = "/portal/activate/events";
/// The move's first page (what moving does, "Send me a code").
pub(crate) const MOVE_PATH: &str = "/portal/move";
/// Where the move's "Send me a code" form posts (the code step answers).
pub(crate) const MOVE_CODE_PATH: &str = "/portal/move/code";
/// Where the move's code form posts (the move ticket's page answers).
pub(crate) const MOVE_CONFIRM_PATH: &str = "/portal/move/confirm";
/// The move ticket's status events.
pub(crate) const MOVE_EVENTS_PATH: &str = "/portal/move/events";
/// The account page's path.
pub(crate) const ACCOUNT_PATH: &str = "/portal/account";
/// The login page's path (the password form).
pub(crate) const LOGIN_PATH: &str = "/login";
/// The login page's waiting step (the number to match).
pub(crate) const LOGIN_WAIT_PATH: &str = "/login/wait";
/// The login status events.
pub(crate) const LOGIN_EVENTS_PATH: &str = "/login/events";
/// The page of an approved login.
pub(crate) const LOGIN_DONE_PATH: &str = "/login/done";
/// The login page's QR code step.
pub(crate) const LOGIN_QR_PATH: &str = "/login/qr";
/// The login page's challenge/response step.
pub(crate) const LOGIN_OFFLINE_PATH: &str = "/login/offline";
/// The stylesheet's path.
pub(crate) const CSS_PATH: &str = "/static/portal.css";
/// The script's path.
pub(crate) const JS_PATH: &str = "/static/portal.js";

/// The pages' stylesheet.
const PORTAL_CSS: &str = include_str!("portal.css");
/// The pages' script (the activation page's countdown and status).
const PORTAL_JS: &str = include_str!("portal.js");

/// The portal pages' routes, with their security headers.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to(SIGN_IN_PATH) }))
        .route(SIGN_IN_PATH, get(sign_in::form).post(sign_in::submit))
        .route(ACTIVATE_PATH, get(activate::page))
        .route(ACTIVATE_FRESH_PATH, post(activate::fresh))
        .route(ACTIVATE_EVENTS_PATH, get(activate::events))
        .route(MOVE_PATH, get(move_phone::page))
        .route(MOVE_CODE_PATH, post(move_phone::send_code))
        .route(MOVE_CONFIRM_PATH, post(move_phone::confirm))
        .route(MOVE_EVENTS_PATH, get(activate::move_events))
        .route(ACCOUNT_PATH, get(account::page))
        .route(
            "/portal/account/devices/{credential_id}/revoke",
            post(account::revoke),
        )
        .route(
            "/portal/account/push-approvals",
            post(account::push_approvals),
        )
        .route(LOGIN_PATH, get(login::form).post(login::submit))
        .route(LOGIN_WAIT_PATH, get(login::wait))
        .route(LOGIN_EVENTS_PATH, get(login::events))
        .route(LOGIN_DONE_PATH, get(login::done))
        .route(LOGIN_QR_PATH, get(login::qr))
        .route(LOGIN_OFFLINE_PATH, get(login::offline).post(login::respond))
        .route(
            CSS_PATH,
            get(|| async { asset("text/css; charset=utf-8", PORTAL_CSS) }),
        )
        .route(
            JS_PATH,
            get(|| async { asset("text/javascript; charset=utf-8", PORTAL_JS) }),
        )
        .layer(map_response(security_headers))
}

/// A static file of the pages with its content type.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// Adds the headers every reply of the portal pages carries.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CSP, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
