//! The activation page: `GET /portal/activate` issues a fresh activation ticket for the
//! signed-in user (as `POST /v1/portal/activation-tickets` does) and shows its QR code, its
//! session ID and a countdown; `POST /portal/activate/fresh` (CSRF) sends the browser back
//! for a new one; `GET /portal/activate/events?session=<last group>` streams the ticket's
//! status as server-sent events (`event: status`, data [`StatusUpdate`]): the current state
//! at once, then each change, until the state is final (activated, used, expired).
//!
//! A move ticket (`super::move_phone`) is shown by the same page ([`ticket_page`]) and
//! watched by the same stream at `GET /portal/move/events?session=<last group>`
//! ([`move_events`]), in the words of a move ([`TicketKind::Move`]): `moved` instead of
//! `activated`.
//!
//! The states: `activated` (a device enrolled with the ticket and is still enrolled; `moved`
//! for a move ticket),
//! `used` (the ticket was used, but the device it enrolled has been removed or revoked since),
//! `expired`, `already_enrolled` (a device was refused the ticket because the user is already
//! enrolled on it; the ticket stays good for another device), else `waiting`. The stream
//! wakes when a device completes or is refused an activation, and re-reads at least every
//! `events::RECHECK_INTERVAL` (and at the ticket's expiry).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};

use super::error::PageError;
use super::events::{status_events, Reading, Watched};
use super::html::{activation_page, page_response, qr_data_url, ActivationView};
use super::session::{CsrfForm, SignedIn};
use super::{ACTIVATE_EVENTS_PATH, ACTIVATE_PATH, MOVE_EVENTS_PATH};
use crate::db::activation::WatchedTicket;
use crate::error::ApiError;
use crate::handlers::portal::new_ticket;
use crate::state::{AppState, Shared};
use ibkey_protocol::activation::TicketResponse;
use tokio::sync::futures::Notified;

/// Where an activation ticket stands, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ActivationState {
    /// Nothing happened yet.
    Waiting,
    /// A device enrolled with the ticket.
    Activated,
    /// A device enrolled with the move ticket, replacing the user's other devices.
    Moved,
    /// The ticket was used, and the device it enrolled is no longer enrolled.
    Used,
    /// The ticket expired unused.
    Expired,
    /// A device was refused the ticket: the user is already enrolled on it.
    AlreadyEnrolled,
}

impl ActivationState {
    /// Whether nothing can change any more (the stream ends).
    fn is_final(self) -> bool {
        matches!(
            self,
            Self::Activated | Self::Moved | Self::Used | Self::Expired
        )
    }
}

/// What a ticket shown on a page is for, which sets the page's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TicketKind {
    /// Activating IB Key on a phone (the activation page).
    Activation,
    /// Moving IB Key to a new phone (`super::move_phone`).
    Move,
}

impl TicketKind {
    /// The status before anything happened.
    fn waiting_message(self) -> &'static str {
        match self {
            Self::Activation => "Waiting for your phone…",
            Self::Move => "Waiting for your new phone…",
        }
    }

    /// The status of a used code.
    fn used_message(self) -> &'static str {
        match self {
            Self::Activation => "This code was already used. Get a fresh code.",
            Self::Move => "This code was already used. Send me a new code to move again.",
        }
    }

    /// The status of an expired code.
    fn expired_message(self) -> &'static str {
        match self {
            Self::Activation => "This code expired. Get a fresh code.",
            Self::Move => "This code expired. Send me a new code to move again.",
        }
    }

    /// The path of the ticket's status events.
    fn events_path(self) -> &'static str {
        match self {
            Self::Activation => ACTIVATE_EVENTS_PATH,
            Self::Move => MOVE_EVENTS_PATH,
        }
    }
}

/// One status event: the state, the device's name when activated, and the sentence the page
/// shows (to be set as text, never as HTML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StatusUpdate {
    /// The state word.
    pub state: ActivationState,
    /// The enrolled device's name (`activated`, `used`), else `None`.
    pub device_name: Option<String>,
    /// What the page says.
    pub message: String,
}

impl StatusUpdate {
    /// The status of `ticket` (of `kind`) of `user` at `now`; `refused_as_enrolled` tells
    /// whether a device was refused it as already enrolled.
    fn of(
        ticket: &WatchedTicket,
        kind: TicketKind,
        user: &str,
        refused_as_enrolled: bool,
        now: i64,
    ) -> Self {
        let (state, device_name) = if ticket.used {
            let state = match (ticket.device_active, kind) {
                (false, _) => ActivationState::Used,
                (true, TicketKind::Activation) => ActivationState::Activated,
                (true, TicketKind::Move) => ActivationState::Moved,
            };
            (state, ticket.device_name.clone())
        } else if now >= ticket.expires_at {
            (ActivationState::Expired, None)
        } else if refused_as_enrolled {
            (ActivationState::AlreadyEnrolled, None)
        } else {
            (ActivationState::Waiting, None)
        };
        let message = match (state, &device_name) {
            (ActivationState::Activated, Some(name)) => format!("Activated on {name}."),
            (ActivationState::Activated, None) => "Activated.".to_string(),
            (ActivationState::Moved, Some(name)) => {
                format!("Moved to {name}. Your old phone no longer approves your logins.")
            }
            (ActivationState::Moved, None) => {
                "Moved. Your old phone no longer approves your logins.".to_string()
            }
            (ActivationState::Used, _) => kind.used_message().to_string(),
            (ActivationState::Expired, _) => kind.expired_message().to_string(),
            (ActivationState::AlreadyEnrolled, _) => match kind {
                TicketKind::Activation => format!("{user} is already enrolled on that device."),
                TicketKind::Move => format!(
                    "{user} is already enrolled on that phone. Scan this with your new phone."
                ),
            },
            (ActivationState::Waiting, _) => kind.waiting_message().to_string(),
        };
        Self {
            state,
            device_name,
            message,
        }
    }
}

/// `GET /portal/activate`: a fresh ticket, shown.
pub(crate) async fn page(State(st): Shared, signed_in: SignedIn) -> Result<Response, PageError> {
    let ticket = new_ticket(&st, &signed_in.user, None)?;
    ticket_page(&st, &signed_in, &ticket, None)
}

/// The page of `ticket` for `signed_in`: its QR code, its session ID, the countdown and its
/// status (watched by the page's script). `replaces` names the devices a move ticket
/// replaces (the page then speaks of a move), `None` for an activation ticket.
pub(crate) fn ticket_page(
    st: &AppState,
    signed_in: &SignedIn,
    ticket: &TicketResponse,
    replaces: Option<&[String]>,
) -> Result<Response, PageError> {
    let kind = match replaces {
        None => TicketKind::Activation,
        Some(_) => TicketKind::Move,
    };
    let qr_url = qr_data_url(&ticket.qr_payload)
        .map_err(|e| ApiError::internal("activation QR code", &e))?;
    let last_group = ticket.session_id.rsplit('-').next().unwrap_or_default();
    let view = ActivationView {
        user: &signed_in.user,
        qr_url: &qr_url,
        session_id: &ticket.session_id,
        seconds_left: ticket.expires_at - st.clock.now(),
        events_url: &format!("{}?session={last_group}", kind.events_path()),
        state: "waiting",
        status: kind.waiting_message(),
        expired_status: kind.expired_message(),
        csrf: &signed_in.csrf(st),
        replaces,
    };
    Ok(page_response(StatusCode::OK, &activation_page(&view)))
}

/// `POST /portal/activate/fresh`: 303 back to the activation page (which issues a new
/// ticket), after the CSRF check.
pub(crate) async fn fresh(
    State(st): Shared,
    signed_in: SignedIn,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    signed_in.check_form(&st, form)?;
    Ok(Redirect::to(ACTIVATE_PATH).into_response())
}

/// The query of the event stream.
#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    /// The last group of the session ID shown (case-insensitive).
    session: String,
}

/// `GET /portal/activate/events?session=<last group>`: the status of the signed-in user's
/// newest ticket whose session ID ends in that group, as server-sent events.
pub(crate) async fn events(
    State(st): Shared,
    signed_in: SignedIn,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    ticket_events(st, signed_in, query, TicketKind::Activation)
}

/// `GET /portal/move/events?session=<last group>`: as [`events`], in the words of a move.
pub(crate) async fn move_events(
    State(st): Shared,
    signed_in: SignedIn,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    ticket_events(st, signed_in, query, TicketKind::Move)
}

/// The status events of the signed-in user's newest ticket whose session ID ends in the
/// queried group, in the words of `kind`.
fn ticket_events(
    st: Arc<AppState>,
    signed_in: SignedIn,
    query: Result<Query<EventsQuery>, QueryRejection>,
    kind: TicketKind,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    let bad_group = || {
        PageError::BadRequest(
            "session must be the last group of the session ID shown: 4 letters and digits."
                .to_string(),
        )
    };
    let Query(query) = query.map_err(|_| bad_group())?;
    let group = query.session.trim().to_ascii_uppercase();
    if group.len() != 4 || !group.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad_group());
    }
    let watcher = Watcher {
        user: signed_in.user,
        group,
        kind,
    };
    // The ticket must exist now; later reads that fail end the stream.
    watcher.read(&st)?.ok_or(PageError::TicketUnknown)?;
    Ok(status_events(st, watcher))
}

/// What one event stream watches: the newest ticket of a user whose session ID ends in a
/// group, and what it is for.
struct Watcher {
    /// The signed-in user.
    user: String,
    /// The last group of the watched ticket's session ID (upper case).
    group: String,
    /// What the ticket is for (the events' words).
    kind: TicketKind,
}

impl Watched for Watcher {
    type State = ActivationState;
    type Update = StatusUpdate;

    fn changed(st: &AppState) -> Notified<'_> {
        st.activation_watch.changed()
    }

    fn read(&self, st: &AppState) -> Result<Option<Reading<Self>>, ApiError> {
        let Some(ticket) = st.db.watched_ticket(&self.user, &self.group)? else {
            return Ok(None);
        };
        let refused = st
            .activation_watch
            .was_refused_as_enrolled(&ticket.session_id);
        let now = st.clock.now();
        let update = StatusUpdate::of(&ticket, self.kind, &self.user, refused, now);
        Ok(Some(Reading {
            state: update.state,
            is_final: update.state.is_final(),
            update,
            seconds_left: ticket.expires_at - now,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(used: bool, device: Option<(&str, bool)>) -> WatchedTicket {
        WatchedTicket {
            session_id: "K7QP3MZX9TWD".to_string(),
            expires_at: 100,
            used,
            device_name: device.map(|(name, _)| name.to_string()),
            device_active: device.is_some_and(|(_, active)| active),
        }
    }

    #[test]
    fn states_and_their_sentences() {
        use TicketKind::{Activation, Move};
        let cases = [
            (
                ticket(false, None),
                Activation,
                false,
                50,
                "waiting",
                "Waiting for your phone…",
            ),
            (
                ticket(false, None),
                Move,
                false,
                50,
                "waiting",
                "Waiting for your new phone…",
            ),
            (
                ticket(false, None),
                Activation,
                true,
                50,
                "already_enrolled",
                "alice is already enrolled on that device.",
            ),
            (
                ticket(false, None),
                Activation,
                true,
                100,
                "expired",
                "This code expired. Get a fresh code.",
            ),
            (
                ticket(false, None),
                Move,
                false,
                100,
                "expired",
                "This code expired. Send me a new code to move again.",
            ),
            (
                ticket(true, Some(("Pixel <8>", true))),
                Activation,
                false,
                200,
                "activated",
                "Activated on Pixel <8>.",
            ),
            (
                ticket(true, Some(("Pixel 9", true))),
                Move,
                false,
                200,
                "moved",
                "Moved to Pixel 9. Your old phone no longer approves your logins.",
            ),
            (
                ticket(true, Some(("Pixel", false))),
                Activation,
                false,
                50,
                "used",
                "This code was already used. Get a fresh code.",
            ),
        ];
        for (ticket, kind, refused, now, state, message) in cases {
            let update = StatusUpdate::of(&ticket, kind, "alice", refused, now);
            let json = serde_json::to_value(&update).expect("json");
            assert_eq!(json["state"], state);
            assert_eq!(update.message, message);
        }
        assert!(ActivationState::Used.is_final());
        assert!(ActivationState::Moved.is_final());
        assert!(!ActivationState::AlreadyEnrolled.is_final());
    }
}
