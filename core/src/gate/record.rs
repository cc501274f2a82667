//! The persisted gate record (PIN hash, attempt counter, last failure) and the delay
//! schedule.

use serde::{Deserialize, Serialize};

use super::hash::PinHash;
use super::PinLockout;

/// How long, in seconds, the PIN pad stays locked after `failed_attempts` wrong PINs in a
/// row (the count is reset by a right PIN):
///
/// | wrong PINs in a row | delay      |
/// |---------------------|------------|
/// | 1–4                 | none       |
/// | 5                   | 30 seconds |
/// | 6                   | 1 minute   |
/// | 7                   | 5 minutes  |
/// | 8                   | 15 minutes |
/// | 9                   | 1 hour     |
/// | 10 and more         | 4 hours    |
///
/// ```
/// use ibkey_core::gate::lockout_delay_secs;
///
/// assert_eq!(lockout_delay_secs(4), 0);
/// assert_eq!(lockout_delay_secs(5), 30);
/// assert_eq!(lockout_delay_secs(50), 4 * 60 * 60);
/// ```
pub const fn lockout_delay_secs(failed_attempts: u32) -> u64 {
    match failed_attempts {
        0..=4 => 0,
        5 => 30,
        6 => 60,
        7 => 5 * 60,
        8 => 15 * 60,
        9 => 60 * 60,
        _ => 4 * 60 * 60,
    }
}

/// How many more wrong PINs, after `failed_attempts`, until one starts a delay (counting
/// that one).
pub(super) fn tries_before_delay(failed_attempts: u32) -> u32 {
    let mut n = 1;
    while lockout_delay_secs(failed_attempts.saturating_add(n)) == 0 {
        n += 1;
    }
    n
}

/// An instant on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Moment {
    /// Wall time, ms since the Unix epoch (informational).
    pub(super) wall_ms: i64,
    /// Boot clock, ms since the device booted (what delays are measured on).
    pub(super) uptime_ms: u64,
}

/// Everything the gate keeps, as one JSON record under the store key `gate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct GateRecord {
    /// The PIN's hash, once one is chosen.
    #[serde(default)]
    pub(super) pin: Option<PinHash>,
    /// Wrong PINs in a row (an attempt counts from before it is compared).
    #[serde(default)]
    pub(super) failed_attempts: u32,
    /// When the last attempt counted in `failed_attempts` was made.
    #[serde(default)]
    pub(super) last_failure: Option<Moment>,
}

impl GateRecord {
    /// The delay running at `now`, if any. When the boot clock is behind the last failure
    /// (the device rebooted) or that moment is missing, the delay restarts from `now`: the
    /// record is updated and `true` returned, and the caller must save it.
    pub(super) fn running_delay(&mut self, now: Moment) -> (Option<PinLockout>, bool) {
        let delay_ms = lockout_delay_secs(self.failed_attempts).saturating_mul(1000);
        if delay_ms == 0 {
            return (None, false);
        }
        let (since, restarted) = match self.last_failure {
            Some(last) if last.uptime_ms <= now.uptime_ms => (last.uptime_ms, false),
            _ => {
                self.last_failure = Some(now);
                (now.uptime_ms, true)
            }
        };
        let elapsed = now.uptime_ms - since;
        if elapsed >= delay_ms {
            return (None, restarted);
        }
        let remaining_ms = delay_ms - elapsed;
        let lockout = PinLockout {
            until_unix_ms: now
                .wall_ms
                .saturating_add(i64::try_from(remaining_ms).unwrap_or(i64::MAX)),
            remaining_secs: remaining_ms.div_ceil(1000),
        };
        (Some(lockout), restarted)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use super::*;

    #[test]
    fn schedule_and_tries() {
        let delays: Vec<u64> = (0..=11).map(lockout_delay_secs).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 0, 30, 60, 300, 900, 3600, 14400, 14400]
        );
        assert_eq!(tries_before_delay(0), 5);
        assert_eq!(tries_before_delay(1), 4);
        assert_eq!(tries_before_delay(4), 1);
        assert_eq!(tries_before_delay(7), 1);
        assert_eq!(tries_before_delay(u32::MAX), 1);
    }

    #[test]
    fn running_delay_uses_the_boot_clock() {
        let at = |wall_ms, uptime_ms| Moment { wall_ms, uptime_ms };
        let mut rec = GateRecord {
            pin: None,
            failed_attempts: 5,
            last_failure: Some(at(1_000_000, 10_000)),
        };
        let (l, changed) = rec.running_delay(at(1_000_000, 10_000));
        assert!(!changed);
        let l = l.expect("locked");
        assert_eq!(l.remaining_secs, 30);
        assert_eq!(l.until_unix_ms, 1_030_000);
        // 0.5 s left rounds up to 1 s; wall time is irrelevant.
        let (l, _) = rec.running_delay(at(0, 39_500));
        assert_eq!(l.expect("locked").remaining_secs, 1);
        assert_eq!(rec.running_delay(at(0, 40_000)).0, None);
        // Boot clock behind: restart from now.
        let (l, changed) = rec.running_delay(at(5, 100));
        assert!(changed);
        assert_eq!(l.expect("locked").remaining_secs, 30);
        assert_eq!(rec.last_failure, Some(at(5, 100)));
    }

    #[test]
    fn old_records_without_fields_parse() {
        let rec: GateRecord = serde_json::from_str("{}").expect("parse");
        assert!(rec.pin.is_none());
        assert_eq!(rec.failed_attempts, 0);
    }
}
