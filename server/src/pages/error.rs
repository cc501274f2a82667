//! Why a portal page cannot be shown: [`PageError`], answered as an HTML page that says what
//! to do (or, without a session or login, a redirect to the sign-in or login page).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::html::{message_page, page_response};
use super::{LOGIN_PATH, SIGN_IN_PATH};
use crate::error::ApiError;

/// A refused or failed portal page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PageError {
    /// No session cookie, or its session ended: 303 to the sign-in page.
    SignInNeeded,
    /// No login cookie, or its login is unknown: 303 to the login page.
    LoginNeeded,
    /// A form came without the CSRF token of this session (or pre-session): 403.
    CsrfMismatch,
    /// The request is malformed (a missing or wrong query parameter): 400.
    BadRequest(String),
    /// The activation code asked about is not one of the user's: 404.
    TicketUnknown,
    /// A refusal or failure of the shared portal logic, with its status and message.
    Api(ApiError),
    /// The server failed to build the reply: 500.
    Internal,
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            Self::SignInNeeded => return Redirect::to(SIGN_IN_PATH).into_response(),
            Self::LoginNeeded => return Redirect::to(LOGIN_PATH).into_response(),
            Self::CsrfMismatch => (
                StatusCode::FORBIDDEN,
                "This form is out of date",
                "The form was not sent from the current page of this portal, or the page is too old. Reload the page, then try again.".to_string(),
            ),
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, "Bad request", message),
            Self::TicketUnknown => (
                StatusCode::NOT_FOUND,
                "Unknown activation code",
                "None of your activation codes ends in this group. Reload the activation page for a fresh code.".to_string(),
            ),
            Self::Api(error) => (error.status, "Something went wrong", error.message),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server failed and changed nothing. Reload the page in a moment; if it keeps failing, contact support.".to_string(),
            ),
        };
        page_response(status, &message_page(heading, &message))
    }
}
