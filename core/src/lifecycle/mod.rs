//! A phone's life after activation ([`ibkey_protocol::lifecycle`] on the wire):
//!
//! - **Moved away** (`moved.rs`): when the user moved IB Key to another phone, the server
//!   refuses this phone's requests with its signed word of where the account went; the phone
//!   then forgets the account and keeps a [`MoveNotice`] for its user.
//! - **Recovery** (`recovery.rs`): after a reinstall or a lost account list, the device keys
//!   still in the platform's vault are proven to the server, which offers the accounts it may
//!   restore ([`RecoveryOffer`]) and sends each user a code out of band; the code typed back
//!   restores the account ([`RecoveryError`] says why not).
//! - **Notification doctor** (`doctor.rs`): the "notifications do not arrive" checklist run
//!   by the core, with what the shell reads from the platform ([`NotificationSettings`]) and
//!   what the server knows ([`DoctorReport`]), and a test notification's round trip.

mod doctor;
mod moved;
mod recovery;

pub use doctor::{
    CheckStatus, DoctorCheck, DoctorReport, IncomingNotification, NotificationSettings,
    TestNotification,
};
pub use moved::MoveNotice;
pub use recovery::{LostAccount, RecoverableAccount, RecoveryError, RecoveryOffer};

use ibkey_protocol::time::civil_from_days;

/// A Unix time as people read it, in UTC: "2 Dec 2026 at 10:14 UTC".
pub(crate) fn human_utc(unix_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day) = civil_from_days(unix_secs.div_euclid(86_400));
    let secs = unix_secs.rem_euclid(86_400);
    let month = MONTHS[(month as usize).clamp(1, 12) - 1];
    format!(
        "{day} {month} {year} at {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::human_utc;

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(human_utc(1_796_206_440), "2 Dec 2026 at 10:14 UTC");
        assert_eq!(human_utc(0), "1 Jan 1970 at 00:00 UTC");
    }
}
