//! Moving IB Key to a new phone in the portal, with the same logic as `POST /v1/portal/move`
//! and `POST /v1/portal/move/confirm` (`handlers::move_device`):
//!
//! - `GET /portal/move` says what moving does and which devices it replaces, with a "Send me
//!   a code" form; without an active device, that there is nothing to move (and a link to the
//!   activation page).
//! - `POST /portal/move/code` (CSRF) sends a code out of band and answers the code step
//!   ("We sent a 6-digit code to a••••@example.test", the code form); refused (too many codes
//!   sent, the notifier failed), the first page again with the reason.
//! - `POST /portal/move/confirm` (CSRF, `code`) trades the code for a move ticket, shown as
//!   the activation page shows its ticket (`activate::ticket_page`: QR code, session ID,
//!   countdown, status events from `GET /portal/move/events`) under "Scan this with your
//!   NEW phone"; a wrong, expired or used code, or too many tries, shows the code step again
//!   with the server's reason (and its status).
//!
//! The code and ticket pages are answers to POSTs, never GETs: a code is only worth showing
//! a form for once it was sent, and a move ticket only exists once the code was right.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use ibkey_protocol::lifecycle::{codes, OUT_OF_BAND_CODE_SECONDS};
use serde::Deserialize;

use super::activate::ticket_page;
use super::error::PageError;
use super::html::{move_code_page, move_page, nothing_to_move_page, page_response, refused_form};
use super::session::{check_csrf, CsrfBinding, CsrfForm, SignedIn};
use crate::error::ApiError;
use crate::extract::ClientIp;
use crate::handlers::move_device::{active_device_names, confirm_move, start_move};
use crate::state::{AppState, Shared};

/// How long a move code lasts, in minutes, as the code step says.
const CODE_MINUTES: i64 = OUT_OF_BAND_CODE_SECONDS / 60;

/// `GET /portal/move`: what moving does, the devices it replaces and "Send me a code"; or
/// that there is nothing to move.
pub(crate) async fn page(State(st): Shared, signed_in: SignedIn) -> Result<Response, PageError> {
    Ok(page_response(
        StatusCode::OK,
        &first_page(&st, &signed_in, None)?,
    ))
}

/// `POST /portal/move/code`: after the CSRF check, sends a move code out of band and answers
/// the code step.
pub(crate) async fn send_code(
    State(st): Shared,
    signed_in: SignedIn,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    signed_in.check_form(&st, form)?;
    match start_move(&st, &signed_in.user).await {
        Ok(started) => Ok(page_response(
            StatusCode::OK,
            &move_code_page(&started.sent_to, CODE_MINUTES, &signed_in.csrf(&st), None),
        )),
        // Without an active device the first page says there is nothing to move; else it
        // says why no code was sent.
        Err(refusal) => {
            let html = first_page(&st, &signed_in, Some(&refusal.message))?;
            Ok(refused_form(&refusal, &html))
        }
    }
}

/// The code form: the CSRF token and the code typed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CodeForm {
    /// The form's CSRF token.
    #[serde(default)]
    csrf: String,
    /// The code as typed (spaces are ignored).
    #[serde(default)]
    code: String,
}

/// `POST /portal/move/confirm`: after the CSRF check, trades the code for a move ticket and
/// shows it; a refused code shows the code step again with the reason.
pub(crate) async fn confirm(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    signed_in: SignedIn,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.unwrap_or_default();
    check_csrf(&st, CsrfBinding::Session(&signed_in.token), &form.csrf)?;
    match confirm_move(&st, ip, &signed_in.user, &form.code) {
        Ok((ticket, replaces)) => ticket_page(&st, &signed_in, &ticket, Some(&replaces)),
        Err(refusal) if refusal.code == codes::NOTHING_TO_MOVE => {
            Ok(refused_form(&refusal, &first_page(&st, &signed_in, None)?))
        }
        Err(refusal) => {
            let sent_to = st
                .notifier
                .destination(&signed_in.user)
                .map_err(|e| ApiError::internal("move code destination", &e))?;
            let html = move_code_page(
                &sent_to,
                CODE_MINUTES,
                &signed_in.csrf(&st),
                Some(&refusal.message),
            );
            Ok(refused_form(&refusal, &html))
        }
    }
}

/// The move's first page: the devices a move replaces and "Send me a code" (with `error`
/// above the form), or, without an active device, that there is nothing to move.
fn first_page(
    st: &AppState,
    signed_in: &SignedIn,
    error: Option<&str>,
) -> Result<String, PageError> {
    let replaces = active_device_names(st, &signed_in.user)?;
    Ok(if replaces.is_empty() {
        nothing_to_move_page(&signed_in.user)
    } else {
        move_page(&signed_in.user, &replaces, &signed_in.csrf(st), error)
    })
}
