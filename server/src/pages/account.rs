//! The account page: `GET /portal/account` lists the signed-in user's devices (name,
//! enrolled, last used, "possibly cloned" when blocked), recent logins (when, application,
//! address, location, browser, decision) and fraud reports, from the same queries as
//! `/v1/portal/devices`, `/v1/portal/activity` and `/v1/portal/fraud-reports`;
//! `POST /portal/account/devices/{credential_id}/revoke` (CSRF) revokes a device as
//! `DELETE /v1/portal/devices/{id}` does and 303s back.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ibkey_protocol::approval::LoginState;

use super::error::PageError;
use super::html::{account_page, escape, page_response, revoke_form, Table};
use super::session::{CsrfForm, SignedIn};
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
    let tables = [
        Table {
            id: "devices",
            caption: "Devices",
            columns: &["Device", "Enrolled", "Last used", "Status", "Action"],
            rows: devices
                .iter()
                .map(|device| {
                    vec![
                        escape(&device.device_name),
                        when(device.enrolled_at),
                        device.last_used_at.map_or("never".to_string(), when),
                        if device.possibly_cloned {
                            "possibly cloned: blocked".to_string()
                        } else {
                            "active".to_string()
                        },
                        revoke_form(&device.credential_id, &csrf),
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
    Ok(page_response(StatusCode::OK, &account_page(user, &tables)))
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
