//! The outbox: bundles the user agreed to send wait here, one file each
//! (`outbox/<bundle id>.zip`, written atomically, with `<bundle id>.json` beside it holding
//! the comment the outbox list shows, so listing never unpacks a bundle; the time-ordered id
//! tells when it was made), until the server confirms them with a reference. Then the reference is added to `outbox/sent.json` (the last
//! [`SENT_HISTORY`]), and only after that is the bundle deleted, so a crash at any point
//! leaves either the bundle waiting (a resend completes to the same reference on the
//! server) or the reference recorded.

use std::fs;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use ibkey_protocol::diagnostics::{bundle_id_time, is_bundle_id};

use super::util::{self, TEMP_PREFIX};

/// References kept in the sent history.
pub const SENT_HISTORY: usize = 20;
const SENT_FILE: &str = "sent.json";
const BUNDLE_EXT: &str = ".zip";
const ABOUT_EXT: &str = ".json";

/// What the outbox list shows of a bundle beyond its id (which tells when it was made),
/// kept beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BundleAbout {
    /// The user's comment (scrubbed).
    pub comment: String,
}

/// A bundle waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OutboxEntry {
    /// The bundle's id.
    pub bundle_id: String,
    /// When it was made, RFC 3339 UTC.
    pub created_at: String,
    /// Its size, bytes.
    pub size: u64,
    /// The user's comment.
    pub comment: String,
}

/// A bundle the server confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SentBundle {
    /// The bundle's id.
    pub bundle_id: String,
    /// The reference to quote to support.
    pub reference: String,
    /// When the server confirmed it, RFC 3339 UTC.
    pub sent_at: String,
}

/// The outbox folder.
#[derive(Debug)]
pub(crate) struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// Opens (creating) the folder and removes what a crash left behind: temporary files,
    /// and the list details of bundles already deleted.
    pub(crate) fn open(dir: PathBuf) -> io::Result<Outbox> {
        util::create_private_dir(&dir)?;
        let outbox = Outbox { dir };
        for entry in fs::read_dir(&outbox.dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let orphan = name
                .strip_suffix(ABOUT_EXT)
                .is_some_and(|id| is_bundle_id(id) && !outbox.path(id).exists());
            if name.starts_with(TEMP_PREFIX) || orphan {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(outbox)
    }

    /// The bundle's file. Only for ids of the form the outbox makes ([`is_bundle_id`]): every
    /// operation checks first, so no id (`..`, `/`, `\`, NUL, an absolute path) reaches a
    /// file outside the folder.
    fn path(&self, bundle_id: &str) -> PathBuf {
        self.dir.join(format!("{bundle_id}{BUNDLE_EXT}"))
    }

    fn about_path(&self, bundle_id: &str) -> PathBuf {
        self.dir.join(format!("{bundle_id}{ABOUT_EXT}"))
    }

    /// Keeps a bundle until it is sent. The bundle is written first; its list details are
    /// best effort: without them (a crash or a failed write in between) it still waits and
    /// is sent, only listed without its comment. An id the outbox never makes is refused
    /// (`InvalidInput`).
    pub(crate) fn save(
        &self,
        bundle_id: &str,
        bytes: &[u8],
        about: &BundleAbout,
    ) -> io::Result<()> {
        if !is_bundle_id(bundle_id) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        util::write_atomic(&self.dir, &self.path(bundle_id), bytes)?;
        let written = serde_json::to_vec(about)
            .map_err(io::Error::other)
            .and_then(|json| util::write_atomic(&self.dir, &self.about_path(bundle_id), &json));
        if let Err(e) = written {
            tracing::warn!(bundle = %bundle_id, error = %e, "the outbox list details of a bundle could not be written");
        }
        Ok(())
    }

    /// A waiting bundle's bytes; `None` when there is none (or the id is none of the
    /// outbox's).
    pub(crate) fn load(&self, bundle_id: &str) -> io::Result<Option<Vec<u8>>> {
        if !is_bundle_id(bundle_id) {
            return Ok(None);
        }
        match fs::read(self.path(bundle_id)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a bundle; `false` when there was none (or the id is none of the outbox's).
    pub(crate) fn remove(&self, bundle_id: &str) -> io::Result<bool> {
        if !is_bundle_id(bundle_id) {
            return Ok(false);
        }
        match fs::remove_file(self.path(bundle_id)) {
            Ok(()) => {
                let _ = fs::remove_file(self.about_path(bundle_id));
                util::sync_dir(&self.dir)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The ids of the waiting bundles, oldest first.
    pub(crate) fn ids(&self) -> io::Result<Vec<String>> {
        let mut ids: Vec<String> = fs::read_dir(&self.dir)?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(BUNDLE_EXT)?;
                is_bundle_id(id).then(|| id.to_string())
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The waiting bundles, oldest first.
    pub(crate) fn entries(&self) -> io::Result<Vec<OutboxEntry>> {
        let mut entries = Vec::new();
        for id in self.ids()? {
            let size = match fs::metadata(self.path(&id)) {
                Ok(meta) => meta.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let about: BundleAbout = fs::read(self.about_path(&id))
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
            entries.push(OutboxEntry {
                created_at: bundle_id_time(&id)
                    .map(util::rfc3339_ms)
                    .unwrap_or_default(),
                bundle_id: id,
                size,
                comment: about.comment,
            });
        }
        Ok(entries)
    }

    /// The bundles the server confirmed, oldest first.
    pub(crate) fn sent(&self) -> Vec<SentBundle> {
        fs::read(self.dir.join(SENT_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Adds a confirmed bundle to the history (durably).
    pub(crate) fn record_sent(&self, sent: SentBundle) -> io::Result<()> {
        let mut history = self.sent();
        history.retain(|s| s.bundle_id != sent.bundle_id);
        history.push(sent);
        let excess = history.len().saturating_sub(SENT_HISTORY);
        history.drain(..excess);
        let json = serde_json::to_vec_pretty(&history).map_err(io::Error::other)?;
        util::write_atomic(&self.dir, &self.dir.join(SENT_FILE), &json)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_list_shows_each_bundle_with_or_without_its_details() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::open(dir.path().join("outbox")).expect("open");
        let made = 1_772_000_000_000;
        let first = util::new_bundle_id(made).expect("id");
        let second = util::new_bundle_id(made + 1000).expect("id");
        let about = |comment: &str| BundleAbout {
            comment: comment.into(),
        };
        outbox
            .save(&first, b"zip one", &about("first"))
            .expect("save");
        outbox
            .save(&second, b"zip two!", &about("second"))
            .expect("save");
        // As if the process died between the bundle and its details.
        fs::remove_file(outbox.about_path(&second)).expect("remove");

        let entries = outbox.entries().expect("entries");
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].comment.as_str(), entries[0].size), ("first", 7));
        assert_eq!(entries[0].created_at, util::rfc3339_ms(made));
        assert_eq!(entries[1].comment, "");
        assert_eq!(entries[1].created_at, util::rfc3339_ms(made + 1000));

        assert!(outbox.remove(&first).expect("remove"));
        assert!(
            !outbox.about_path(&first).exists(),
            "its details go with it"
        );
        fs::write(outbox.about_path(&first), b"{}").expect("orphan");
        let reopened = Outbox::open(dir.path().join("outbox")).expect("reopen");
        assert!(
            !reopened.about_path(&first).exists(),
            "orphaned details are cleaned"
        );
        assert_eq!(reopened.ids().expect("ids"), vec![second]);
    }

    #[test]
    fn ids_the_outbox_never_makes_reach_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::open(dir.path().join("outbox")).expect("open");
        let victim = dir.path().join("victim.zip");
        fs::write(&victim, b"not a bundle").expect("bait");
        let absolute = dir.path().join("victim").display().to_string();
        for id in ["../victim", "..\\victim", "victim\0", &absolute, "", "sent"] {
            assert!(!outbox.remove(id).expect("remove"), "{id:?}");
            assert_eq!(outbox.load(id).expect("load"), None, "{id:?}");
            let saved = outbox.save(id, b"x", &BundleAbout::default());
            assert_eq!(
                saved.map_err(|e| e.kind()),
                Err(io::ErrorKind::InvalidInput),
                "{id:?}"
            );
        }
        assert_eq!(fs::read(&victim).expect("still there"), b"not a bundle");
        assert!(outbox.ids().expect("ids").is_empty());
    }
}
