//! The real clock of the machine the core runs on.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Clock;

/// Wall time from the system, uptime from the kernel's boot clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn uptime_ms(&self) -> u64 {
        boot_clock_ms()
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const BOOT_CLOCK: libc::clockid_t = libc::CLOCK_BOOTTIME;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const BOOT_CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;

#[allow(unsafe_code)]
fn boot_clock_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and BOOT_CLOCK a clock id this OS knows.
    let rc = unsafe { libc::clock_gettime(BOOT_CLOCK, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_moves_forward_and_wall_time_is_recent() {
        let clock = SystemClock;
        let a = clock.uptime_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.uptime_ms() >= a + 4);
        assert!(clock.now_unix_ms() > 1_700_000_000_000);
    }
}
