//! Small helpers of the diagnostics module: UTC dates without a date library, new bundle
//! ids, and crash-safe file writes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ibkey_protocol::diagnostics::BUNDLE_ID_LEN;
use ibkey_protocol::encoding::CROCKFORD;
use ibkey_protocol::time::{civil_from_days, days_from_civil};
use ring::rand::{SecureRandom, SystemRandom};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Makes temporary file names unique within the process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Days since 1970-01-01 of a Unix time in milliseconds (UTC).
pub(crate) fn day_of(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` of a day number.
pub(crate) fn date_string(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number of a `YYYY-MM-DD` text, if it is one.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i64 = text.get(0..4)?.parse().ok()?;
    let month: u32 = text.get(5..7)?.parse().ok()?;
    let day: u32 = text.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    (civil_from_days(days) == (year, month, day)).then_some(days)
}

/// RFC 3339 UTC time with milliseconds: `2026-03-01T12:34:56.789Z`.
pub(crate) fn rfc3339_ms(unix_ms: i64) -> String {
    let day = day_of(unix_ms);
    let ms_of_day = unix_ms.rem_euclid(DAY_MS);
    let secs = ms_of_day / 1000;
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        date_string(day),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        ms_of_day % 1000
    )
}

/// A new bundle id: 26 Crockford base-32 characters, the first 10 the creation time in
/// milliseconds (so ids sort by age), the last 16 random (80 bits).
pub(crate) fn new_bundle_id(unix_ms: i64) -> Result<String, ring::error::Unspecified> {
    let mut id = String::with_capacity(BUNDLE_ID_LEN);
    let time = u64::try_from(unix_ms).unwrap_or(0);
    for i in (0..10).rev() {
        id.push(char::from(CROCKFORD[((time >> (i * 5)) & 31) as usize]));
    }
    let mut random = [0u8; 16];
    SystemRandom::new().fill(&mut random)?;
    for b in random {
        id.push(char::from(CROCKFORD[usize::from(b & 31)]));
    }
    Ok(id)
}

/// Creates a folder (and its parents), readable by the owner only on unix.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Options for a file only the owner can read.
pub(crate) fn private_file_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Makes the folder's renames and removals durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The prefix of temporary files: never read as data, removed when found.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Replaces `target` (in `dir`) with `data` so that after a crash it holds either the old or
/// the new content: a new temporary file, fsync, rename, fsync of the folder.
pub(crate) fn write_atomic(dir: &Path, target: &Path, data: &[u8]) -> io::Result<()> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!("{TEMP_PREFIX}{}-{n}", std::process::id()));
    let result = (|| {
        let mut file = private_file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, target)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ibkey_protocol::diagnostics::{bundle_id_time, is_bundle_id};

    #[test]
    fn dates_round_trip_and_format() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        for day in [-800_000, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let text = date_string(day);
            assert_eq!(parse_date(&text), Some(day), "{text}");
        }
        for bad in ["2026-02-30", "2026-13-01", "2026-1-01", "abcd-ef-gh", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bundle_id_tells_when_it_was_made() {
        let made = 1_772_000_123_456;
        let id = new_bundle_id(made).expect("id");
        assert_eq!(bundle_id_time(&id), Some(made));
        assert_eq!(bundle_id_time("not an id"), None);
    }

    #[test]
    fn bundle_ids_sort_by_time_and_have_their_form() {
        let a = new_bundle_id(1_700_000_000_000).unwrap_or_default();
        let b = new_bundle_id(1_700_000_000_001).unwrap_or_default();
        assert!(is_bundle_id(&a) && is_bundle_id(&b), "{a} {b}");
        assert!(a < b);
        assert!(!is_bundle_id("too-short"));
        assert!(!is_bundle_id(&a.to_lowercase()));
    }
}
