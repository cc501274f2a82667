//! UTC calendar dates as the wire and the messages of both ends write them: day numbers to
//! civil dates and back (proleptic Gregorian, 400-year eras; H. Hinnant's algorithms), and
//! `YYYY-MM-DD HH:MM:SS` timestamps. No time zones: everything is UTC.

/// Seconds in a day.
pub const DAY_SECONDS: i64 = 86_400;

/// The civil date of a day number (days since 1970-01-01): year, month 1–12, day 1–31.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day number of a civil date (inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A Unix time (seconds) as `YYYY-MM-DD HH:MM:SS`, UTC.
pub fn utc_datetime(unix_secs: i64) -> String {
    let (year, month, day) = civil_from_days(unix_secs.div_euclid(DAY_SECONDS));
    let secs = unix_secs.rem_euclid(DAY_SECONDS);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_and_their_inverse() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for days in [-800_000, -1, 0, 11_016, 19_782, 24_855, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn timestamps_read_as_utc() {
        assert_eq!(utc_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(utc_datetime(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc_datetime(1_795_824_000), "2026-11-28 00:00:00");
        assert_eq!(utc_datetime(-1), "1969-12-31 23:59:59");
        // Past 2038 (a signed 32-bit time's end).
        assert_eq!(utc_datetime(4_102_444_800), "2100-01-01 00:00:00");
    }
}
