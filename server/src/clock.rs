//! The server's notion of time, injectable so tests and demos can expire tickets and
//! refill the guess limiter without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time in Unix seconds.
pub trait ServerClock: Send + Sync {
    /// The current time, Unix seconds.
    fn now(&self) -> i64;
}

/// Real time from the operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl ServerClock for SystemClock {
    fn now(&self) -> i64 {
        system_now()
    }
}

/// Real time plus an offset that can only move forward. Tests and the demo use it to let
/// tickets expire and the guess limiter refill without waiting.
#[derive(Debug, Default)]
pub struct AdjustableClock {
    /// Seconds added to real time.
    offset: AtomicI64,
}

impl AdjustableClock {
    /// A clock that starts at real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (whole seconds; a fraction is dropped).
    pub fn advance(&self, by: Duration) {
        let seconds = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                Some(old.saturating_add(seconds))
            });
    }

    /// How far ahead of real time the clock is.
    pub fn offset(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.offset.load(Ordering::SeqCst)).unwrap_or(0))
    }
}

impl ServerClock for AdjustableClock {
    fn now(&self) -> i64 {
        system_now().saturating_add(self.offset.load(Ordering::SeqCst))
    }
}

/// Unix seconds from the system clock (0 if the clock is set before 1970).
fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adjustable_clock_moves_forward_by_whole_seconds() {
        let clock = AdjustableClock::new();
        let before = clock.now();
        clock.advance(Duration::from_millis(120_900));
        let after = clock.now();
        assert!(
            (120..=121).contains(&(after - before)),
            "{}",
            after - before
        );
        assert_eq!(clock.offset(), Duration::from_secs(120));
        assert!((SystemClock.now() - before).abs() <= 1);
    }
}
