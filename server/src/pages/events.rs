//! The pages' status streams as server-sent events (`event: status`, JSON data): the current
//! status at once, then each change, until the status is final. A stream waits for a wake-up
//! of what it watches ([`Watched::changed`]) and reads again at least every
//! [`RECHECK_INTERVAL`] (and at the watched thing's expiry). It ends after a final status,
//! when the watched thing cannot be read, and when the server shuts down (the activation
//! watch is closed and every waiter woken).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use tokio::sync::futures::Notified;

use crate::error::ApiError;
use crate::state::AppState;

/// The longest a stream waits before reading again.
pub(crate) const RECHECK_INTERVAL: Duration = Duration::from_secs(5);

/// One reading of the status `W` watches.
pub(crate) struct Reading<W: Watched> {
    /// The state word: an event is sent when it changes.
    pub state: W::State,
    /// The event's data.
    pub update: W::Update,
    /// Whether nothing can change any more (the stream ends after this event).
    pub is_final: bool,
    /// Seconds until the watched thing expires.
    pub seconds_left: i64,
}

/// What a status stream watches.
pub(crate) trait Watched: Sized + Send + 'static {
    /// The state word.
    type State: Copy + PartialEq + Send;
    /// The data of an event.
    type Update: Serialize + Send;

    /// A future that completes at the next change; made before reading, it also completes
    /// for a change stored after that read.
    fn changed(st: &AppState) -> Notified<'_>;

    /// The status now (`None` when the watched thing is gone).
    fn read(&self, st: &AppState) -> Result<Option<Reading<Self>>, ApiError>;
}

/// The status events of `watched`.
pub(crate) fn status_events<W: Watched>(
    st: Arc<AppState>,
    watched: W,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = Streamed {
        st,
        watched,
        last: None,
    };
    Sse::new(stream::unfold(Some(stream), next_event)).keep_alive(KeepAlive::default())
}

/// One stream: what it watches and the state last sent.
struct Streamed<W: Watched> {
    /// The shared state.
    st: Arc<AppState>,
    /// What the stream watches.
    watched: W,
    /// The state last sent.
    last: Option<W::State>,
}

/// The stream's next event: the status when its state differs from the last one sent,
/// waiting for a change (or [`RECHECK_INTERVAL`]) meanwhile.
async fn next_event<W: Watched>(
    streamed: Option<Streamed<W>>,
) -> Option<(Result<Event, Infallible>, Option<Streamed<W>>)> {
    let mut streamed = streamed?;
    let st = streamed.st.clone();
    loop {
        // Made before the read, so a change stored after the read wakes this wait.
        let changed = W::changed(&st);
        if st.activation_watch.is_closed() {
            return None;
        }
        let reading = match streamed.watched.read(&st) {
            Ok(Some(reading)) => reading,
            Ok(None) => return None,
            Err(error) => {
                tracing::warn!(
                    code = error.code,
                    "page events ended: the status cannot be read"
                );
                return None;
            }
        };
        if streamed.last != Some(reading.state) {
            streamed.last = Some(reading.state);
            let event = match Event::default().event("status").json_data(&reading.update) {
                Ok(event) => event,
                Err(error) => {
                    tracing::warn!(%error, "page events ended: status not encoded");
                    return None;
                }
            };
            let next = (!reading.is_final).then_some(streamed);
            return Some((Ok(event), next));
        }
        let until_expiry = Duration::from_secs(u64::try_from(reading.seconds_left).unwrap_or(0));
        let _ = tokio::time::timeout(
            until_expiry.clamp(Duration::from_secs(1), RECHECK_INTERVAL),
            changed,
        )
        .await;
    }
}
