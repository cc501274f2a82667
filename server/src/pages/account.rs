//! The account page: `GET /portal/account` shows whether login notifications are on, lists
//! the signed-in user's devices (name, enrolled, last used, "possibly cloned" when blocked,
//! "moved to …" when replaced by a move; a link to move IB Key to a new phone while one is
//! active), recent logins (when, application, address, location, browser, decision) and
//! fraud reports, from the same queries as
//! `/v1/portal/devices`, `/v1/portal/activity` and `/v1/portal/fraud-reports`;
//! `POST /portal/account/devices/{credential_id}/revoke` (CSRF) revokes a device as
//! `DELETE /v1/portal/devices/{id}` does and 303s back;
//! `POST /portal/account/push-approvals` (CSRF, `enabled=true|false`) turns login
//! notifications on or off as `POST /v1/portal/push-approvals` does and 303s back.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ibkey_protocol::approval::LoginState;
use serde::Deserialize;

use super::error::PageError;
use super::html::{account_page, escape, page_response, push_approvals_form, revoke_form, Table};
use super::session::{check_csrf, CsrfBinding, CsrfForm, SignedIn};
use super::ACCOUNT_PATH;
use crate::error::ApiError;
use crate::handlers::login::utc_time;
use crate::handlers::portal::revoke_device;
use crate::state::Shared;

/// `GET /portal/account`: the user's devices, recent logins and fraud reports.
pub(crate) async fn page(State(st): Shared, signed_in: SignedIn) -> Result<Response, PageError> {
    let user = &signed_in.user;
    let now = st.clock.now();
    let when = |time: i64| escape(&utc_time(time, now));
    let csrf = signed_in.csrf(&st);
    let devices = st.db.devices(user).map_err(ApiError::from)?;
    let logins = st.db.recent_logins(user, now).map_err(ApiError::from)?;
    let reports = st.db.fraud_reports(user).map_err(ApiError::from)?;
    let pushes_enabled = st.db.pushes_enabled(user).map_err(ApiError::from)?;
    let tables = [
        Table {
            id: "devices",
            caption: "Devices",
            columns: &["Device", "Enrolled", "Last used", "Status", "Action"],
            rows: devices
                .iter()
                .map(|device| {
                    let (status, action) = match (&device.moved_to, device.moved_at) {
                        (Some(to), Some(at)) => (
                            format!("moved to {} on {}", escape(to), when(at)),
                            "replaced".to_string(),
                        ),
                        _ if device.possibly_cloned => (
                            "possibly cloned: blocked".to_string(),
                            revoke_form(&device.credential_id, &csrf),
                        ),
                        _ => (
                            "active".to_string(),
                            revoke_form(&device.credential_id, &csrf),
                        ),
                    };
                    vec![
                        escape(&device.device_name),
                        when(device.enrolled_at),
                        device.last_used_at.map_or("never".to_string(), when),
                        status,
                        action,
                    ]
                })
                .collect(),
            empty: "No device is activated. Activate IB Key on a phone first.",
        },
        Table {
            id: "activity",
            caption: "Recent logins",
            columns: &[
                "When",
                "Application",
                "IP address",
                "Location",
                "Browser",
                "Decision",
            ],
            rows: logins
                .iter()
                .map(|login| {
                    let decision = match &login.device_name {
                        Some(device) => format!("{} on {device}", decision(login.state)),
                        None => decision(login.state).to_string(),
                    };
                    vec![
                        when(login.created_at),
                        escape(&login.application),
                        escape(&login.ip_address),
                        escape(&login.location),
                        escape(&login.browser),
                        escape(&decision),
                    ]
                })
                .collect(),
            empty: "No logins yet.",
        },
        Table {
            id: "fraud-reports",
            caption: "Logins reported as not yours",
            columns: &["Reported", "Device", "Application", "IP address"],
            rows: reports
                .iter()
                .map(|report| {
                    vec![
                        when(report.reported_at),
                        escape(report.device_name.as_deref().unwrap_or("a removed device")),
                        escape(&report.application),
                        escape(&report.ip_address),
                    ]
                })
                .collect(),
            empty: "No login was reported.",
        },
    ];
    let notifications = push_approvals_form(pushes_enabled, &csrf);
    // A move replaces every device not yet replaced (`handlers::move_device`).
    let can_move = devices.iter().any(|device| device.moved_to.is_none());
    Ok(page_response(
        StatusCode::OK,
        &account_page(user, &notifications, &tables, can_move),
    ))
}

/// What the account page says of a login in `state`.
fn decision(state: LoginState) -> &'static str {
    match state {
        LoginState::Pending => "waiting",
        LoginState::Approved => "approved",
        LoginState::Denied => "denied",
        LoginState::ReportedFraud => "reported as not mine",
        LoginState::WrongNumber => "refused: wrong number",
        LoginState::PossiblyCloned => "refused: possibly cloned device",
        LoginState::Expired => "expired",
    }
}

/// `POST /portal/account/devices/{credential_id}/revoke`: after the CSRF check, revokes the
/// user's device and 303s back to the account page (404 page for a device the user does not
/// have).
pub(crate) async fn revoke(
    State(st): Shared,
    signed_in: SignedIn,
    Path(credential_id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    signed_in.check_form(&st, form)?;
    revoke_device(&st, &signed_in.user, &credential_id)?;
    Ok(Redirect::to(ACCOUNT_PATH).into_response())
}

/// The login notifications form: the CSRF token and the setting to make.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PushApprovalsForm {
    /// The form's CSRF token.
    #[serde(default)]
    csrf: String,
    /// `true` to turn login notifications on, `false` to turn them off.
    #[serde(default)]
    enabled: String,
}

/// `POST /portal/account/push-approvals`: after the CSRF check, turns the user's login
/// notifications on (`enabled=true`) or off (`enabled=false`) and 303s back to the account
/// page.
pub(crate) async fn push_approvals(
    State(st): Shared,
    signed_in: SignedIn,
    form: Result<Form<PushApprovalsForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.unwrap_or_default();
    check_csrf(&st, CsrfBinding::Session(&signed_in.token), &form.csrf)?;
    let enabled = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(ApiError::bad_request(
                "The notifications form must say enabled=true or enabled=false. Reload the page and use its button.",
            )
            .into())
        }
    };
    st.db
        .set_pushes_enabled(&signed_in.user, enabled)
        .map_err(ApiError::from)?;
    tracing::info!(user = %signed_in.user, enabled, "login notifications switched on the account page");
    Ok(Redirect::to(ACCOUNT_PATH).into_response())
}
