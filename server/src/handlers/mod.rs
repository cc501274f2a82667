//! The HTTP API: the router, assembled here from the handlers, grouped by what they serve —
//! [`portal`] (sign-in, tickets, the user's devices, recent logins, fraud reports),
//! [`activation`] (the device's activation endpoints), [`login`] (the login page: start a
//! login, its status, its QR code), [`offline`] (the login page's offline challenge, response
//! and time code), [`challenges`] (the device's side of login approval),
//! [`move_device`] (moving IB Key to a new phone, and the refusal of a replaced credential),
//! [`recovery`] (restoring accounts from the device keys a phone kept), [`doctor`] (the
//! notification doctor's status and test push, the portal's switch of login notifications),
//! [`out_of_band`] (the one-time codes moves and recoveries send) and
//! [`diagnostics`] (bundle uploads and the support endpoints), and [`openapi`] (the
//! OpenAPI 3.1 document of all of them, `GET /openapi.json`); the portal's web pages
//! (`crate::pages`) are merged in. Handlers hold the database or
//! limiter lock only for short, await-free sections.

pub(crate) mod activation;
pub(crate) mod challenges;
pub(crate) mod diagnostics;
pub(crate) mod doctor;
pub(crate) mod login;
pub(crate) mod move_device;
pub(crate) mod offline;
pub(crate) mod openapi;
pub(crate) mod out_of_band;
pub(crate) mod portal;
pub(crate) mod recovery;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::Router;
use ibkey_protocol::activation::codes;

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::pages;
use crate::state::AppState;

/// The application's routes.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(openapi::serve))
        .route("/v1/server-key", get(activation::server_key))
        .route("/v1/portal/sign-in", post(portal::sign_in))
        .route("/v1/portal/activation-tickets", post(portal::issue_ticket))
        .route("/v1/portal/devices", get(portal::list_devices))
        .route(
            "/v1/portal/devices/{credential_id}",
            delete(portal::remove_device),
        )
        .route("/v1/portal/activity", get(portal::activity))
        .route("/v1/portal/fraud-reports", get(portal::fraud_reports))
        .route("/v1/portal/move", post(move_device::start))
        .route("/v1/portal/move/confirm", post(move_device::confirm))
        .route("/v1/portal/push-approvals", post(doctor::push_approvals))
        .route("/v1/recovery/begin", post(recovery::begin))
        .route("/v1/recovery/complete", post(recovery::complete))
        .route("/v1/devices/status", post(doctor::status))
        .route("/v1/devices/test-push", post(doctor::test_push))
        .route("/v1/activation/lookup", post(activation::lookup))
        .route("/v1/activation/complete", post(activation::complete))
        .route(
            "/v1/activation/already-enrolled",
            post(activation::already_enrolled),
        )
        .route("/v1/devices/revoke", post(activation::revoke))
        .route("/v1/devices/push-token", post(challenges::push_token))
        .route("/v1/logins", post(login::start))
        .route("/v1/logins/{login_id}", get(login::status))
        .route("/v1/logins/{login_id}/qr", post(login::qr))
        .route("/v1/logins/{login_id}/offline", post(offline::challenge))
        .route(
            "/v1/logins/{login_id}/response",
            post(offline::response_typed),
        )
        .route("/v1/logins/{login_id}/code", post(offline::code))
        .route("/v1/challenges/pending", post(challenges::pending))
        .route("/v1/challenges/decide", post(challenges::decide))
        .route(
            "/v1/diagnostics/bundles/{bundle_id}",
            get(diagnostics::status),
        )
        .route(
            "/v1/diagnostics/bundles/{bundle_id}/chunks/{n}",
            put(diagnostics::put_chunk).layer(DefaultBodyLimit::max(diagnostics::MAX_CHUNK_BYTES)),
        )
        .route(
            "/v1/diagnostics/bundles/{bundle_id}/complete",
            post(diagnostics::complete),
        )
        .merge(pages::routes())
        .route("/v1/support/diagnostics", get(diagnostics::support_list))
        .route(
            "/v1/support/diagnostics/{reference}",
            get(diagnostics::support_fetch),
        )
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                codes::BAD_REQUEST,
                "No such endpoint on this ibkey server. Check the server URL and the app version.",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
