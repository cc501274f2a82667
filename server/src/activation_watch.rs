//! What the portal's activation page watches besides the database: a wake-up whenever a
//! device completes (or is refused as already enrolled on) an activation, and the tickets a
//! device was refused with as already enrolled (the ticket itself stays unused, so the
//! database does not remember it). Kept in memory only until the ticket expires. When the
//! server shuts down, the watch is closed so the pages' event streams end at once instead
//! of holding the graceful shutdown until their tickets expire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Activation outcomes the activation page's event stream waits for.
#[derive(Debug, Default)]
pub(crate) struct ActivationWatch {
    /// Woken (all waiters) after every completion attempt that changes what a page shows.
    changed: Notify,
    /// Canonical session IDs refused as already enrolled, with their tickets' expiry.
    already_enrolled: Mutex<HashMap<String, i64>>,
    /// Set when the server shuts down.
    closed: AtomicBool,
}

impl ActivationWatch {
    /// A future that completes at the next change; made before reading the state, it also
    /// completes for a change stored after that read.
    pub fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// The server is shutting down: wakes the waiting pages, which end their streams.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Whether the server is shutting down (checked after making [`Self::changed`]).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// A device completed the activation of some ticket: wakes the waiting pages.
    pub fn activated(&self) {
        self.changed.notify_waiters();
    }

    /// A device was refused the ticket `session_id` (expiring at `expires_at`) because its
    /// user is already enrolled on it: remembers that until the ticket expires, forgets the
    /// expired ones (at `now`), and wakes the waiting pages.
    pub fn refused_as_enrolled(&self, session_id: &str, expires_at: i64, now: i64) {
        {
            let mut refused = self
                .already_enrolled
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            refused.retain(|_, expiry| *expiry > now);
            refused.insert(session_id.to_string(), expires_at);
        }
        self.changed.notify_waiters();
    }

    /// Whether a device was refused the ticket `session_id` as already enrolled.
    pub fn was_refused_as_enrolled(&self, session_id: &str) -> bool {
        self.already_enrolled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_kept_until_their_ticket_expires() {
        let watch = ActivationWatch::default();
        watch.refused_as_enrolled("A", 100, 10);
        assert!(watch.was_refused_as_enrolled("A"));
        assert!(!watch.was_refused_as_enrolled("B"));
        watch.refused_as_enrolled("B", 300, 150);
        assert!(!watch.was_refused_as_enrolled("A"));
        assert!(watch.was_refused_as_enrolled("B"));
        assert!(!watch.is_closed());
        watch.close();
        assert!(watch.is_closed());
    }
}
