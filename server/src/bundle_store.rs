//! The diagnostics files, below the data directory:
//!
//! - `diagnostics/incoming/<bundle id>/<n>`: chunks received, until the bundle completes
//!   (each written to a temporary file of its own, then renamed).
//! - `diagnostics/bundles/<bundle id>.zip`: complete bundles, written (and synced) before
//!   their database row.
//!
//! What the files hold is accounted in the database (`db::diagnostics`): the handlers reserve
//! room for a chunk there before writing it, and drop the folders of uploads that the
//! database expired. At start, upload folders that the database does not know are dropped.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The folders of diagnostics uploads and bundles.
pub(crate) struct BundleStore {
    /// `<data dir>/diagnostics`.
    dir: PathBuf,
    /// Numbers the temporary files of chunks, so two writes of one chunk never share one.
    writes: AtomicU64,
}

impl BundleStore {
    /// Creates the folders below `data_dir`.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let dir = data_dir.join("diagnostics");
        fs::create_dir_all(dir.join("incoming"))?;
        fs::create_dir_all(dir.join("bundles"))?;
        Ok(Self {
            dir,
            writes: AtomicU64::new(0),
        })
    }

    /// Best effort, at start (no chunk is being written): drops the folders of uploads that
    /// are not in `known`, the uploads the database accounts for (the others were left by an
    /// earlier version or by a failed write).
    pub fn drop_unknown_uploads(&self, known: &[String]) {
        let known: HashSet<&str> = known.iter().map(String::as_str).collect();
        let Ok(entries) = fs::read_dir(self.dir.join("incoming")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name.to_str().is_some_and(|id| known.contains(id)) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    /// The folder of a bundle's chunks.
    fn incoming(&self, bundle_id: &str) -> PathBuf {
        self.dir.join("incoming").join(bundle_id)
    }

    /// The file of a complete bundle.
    fn bundle_file(&self, bundle_id: &str) -> PathBuf {
        self.dir.join("bundles").join(format!("{bundle_id}.zip"))
    }

    /// The chunks received for a bundle: number and size, ascending.
    pub fn received_chunks(&self, bundle_id: &str) -> Vec<(u32, u64)> {
        let Ok(entries) = fs::read_dir(self.incoming(bundle_id)) else {
            return Vec::new();
        };
        let mut chunks: Vec<(u32, u64)> = entries
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((n, e.metadata().ok()?.len()))
            })
            .collect();
        chunks.sort_unstable();
        chunks
    }

    /// Makes the folder of a bundle's chunks, if it is not there yet.
    pub fn start_upload(&self, bundle_id: &str) -> io::Result<()> {
        fs::create_dir_all(self.incoming(bundle_id))
    }

    /// Stores chunk `n` of a started upload (replacing an earlier copy).
    pub fn write_chunk(&self, bundle_id: &str, n: u32, bytes: &[u8]) -> io::Result<()> {
        let dir = self.incoming(bundle_id);
        let write = self.writes.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".tmp-{n}-{write}"));
        fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, dir.join(n.to_string())))
    }

    /// Chunk `n` of an upload.
    pub fn read_chunk(&self, bundle_id: &str, n: u32) -> io::Result<Vec<u8>> {
        fs::read(self.incoming(bundle_id).join(n.to_string()))
    }

    /// Drops an upload's chunks (best effort).
    pub fn drop_upload(&self, bundle_id: &str) {
        let _ = fs::remove_dir_all(self.incoming(bundle_id));
    }

    /// Stores a complete bundle durably: a temporary file, synced, then renamed.
    pub fn write_bundle(&self, bundle_id: &str, bytes: &[u8]) -> io::Result<()> {
        let file = self.bundle_file(bundle_id);
        let tmp = file.with_extension("zip.tmp");
        fs::write(&tmp, bytes)
            .and_then(|()| fs::File::open(&tmp)?.sync_all())
            .and_then(|()| fs::rename(&tmp, &file))
    }

    /// A complete bundle's bytes.
    pub fn read_bundle(&self, bundle_id: &str) -> io::Result<Vec<u8>> {
        fs::read(self.bundle_file(bundle_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_listed_in_order_and_dropped_with_their_upload() {
        let data = tempfile::tempdir().expect("tempdir");
        let store = BundleStore::open(data.path()).expect("open");
        assert!(store.received_chunks("B").is_empty());
        store.start_upload("B").expect("start");
        store.write_chunk("B", 2, b"ccc").expect("chunk 2");
        store.write_chunk("B", 0, b"a").expect("chunk 0");
        store.write_chunk("B", 0, b"aa").expect("chunk 0 again");
        assert_eq!(store.received_chunks("B"), vec![(0, 2), (2, 3)]);
        assert_eq!(store.read_chunk("B", 2).expect("read"), b"ccc");
        store.drop_upload("B");
        assert!(store.received_chunks("B").is_empty());
        store.write_bundle("B", b"zip").expect("bundle");
        assert_eq!(store.read_bundle("B").expect("read"), b"zip");
    }

    #[test]
    fn uploads_the_database_does_not_know_are_dropped() {
        let data = tempfile::tempdir().expect("tempdir");
        let store = BundleStore::open(data.path()).expect("open");
        for id in ["KNOWN", "STRAY"] {
            store.start_upload(id).expect("start");
            store.write_chunk(id, 0, b"x").expect("chunk");
        }
        store.drop_unknown_uploads(&["KNOWN".to_string()]);
        assert_eq!(store.received_chunks("KNOWN"), vec![(0, 1)]);
        assert!(store.received_chunks("STRAY").is_empty());
        assert!(!data.path().join("diagnostics/incoming/STRAY").exists());
    }
}
