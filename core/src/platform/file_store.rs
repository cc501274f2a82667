//! The desktop and test [`SecureStore`]: an encrypted folder, the stand-in for
//! Keystore-wrapped files on Android and the Keychain on iOS.
//!
//! Layout of the folder (mode 0700 on unix):
//!
//! - `master.key`: 32 random bytes (mode 0600), made on first use. Whoever can read this file
//!   can read the store: on a phone the platform keeps this key in hardware instead.
//! - `<name>.ibks`: one file a key. The name is the key with every byte outside
//!   `[A-Za-z0-9._-]` (and a leading `.`) written as `%XX`, so two keys never share a file;
//!   very long keys use a digest of the key instead.
//! - `generation`: the store's generation, 8 bytes big-endian (mode 0600). With `master.key`
//!   it stands for what a phone keeps in hardware: the tamper tests change value files only.
//! - `.lock`: the file `flock`ed by [`SecureStore::lock`], so that processes sharing the
//!   folder (and separate `FileStore`s in one process) take turns.
//! - `.ibks-tmp-*`: a write in progress. One left behind by a crash is never read, and is
//!   cleaned up by a later [`FileStore::open`] once it is an hour old.
//!
//! Each value file is `IBKS1` ‖ 12-byte random nonce ‖ AES-256-GCM ciphertext and tag, with
//! the key as associated data, so a file copied or renamed to another key does not decrypt.
//! Writes go to a new temporary file that is synced, renamed over the old one, and then the
//! folder is synced: after a crash a key holds either its old or its new value.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use super::{SecureStore, StoreError};

/// The first bytes of every value file (format version 1).
const MAGIC: &[u8] = b"IBKS1";
/// Magic plus nonce.
const HEADER_LEN: usize = MAGIC.len() + NONCE_LEN;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// The master key file's name (also the key reported when it is damaged).
const MASTER_KEY_FILE: &str = "master.key";
/// Master key length: AES-256.
const MASTER_KEY_LEN: usize = 32;
/// Extension of value files.
const VALUE_EXT: &str = ".ibks";
/// Prefix of temporary files.
const TEMP_PREFIX: &str = ".ibks-tmp-";
/// Escaped names longer than this use a digest instead (file names are limited to 255 bytes).
const MAX_ESCAPED_NAME: usize = 200;
/// Temporary files older than this are left-overs of a crash and are removed by `open`.
const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// The generation file's name.
const GENERATION_FILE: &str = "generation";
/// The lock file's name.
const LOCK_FILE: &str = ".lock";

/// Makes temporary file names unique within this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An encrypted folder of small values: the desktop and test default [`SecureStore`].
///
/// It is safe to share between threads; writes to one key from two threads leave one of
/// the two values, whole.
pub struct FileStore {
    dir: PathBuf,
    key: LessSafeKey,
    rng: SystemRandom,
    /// The open, locked lock file while this store holds the lock.
    held_lock: Mutex<Option<File>>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// Opens the store in `dir`, creating the folder (mode 0700) and its master key (mode
    /// 0600) on first use.
    ///
    /// Fails with [`StoreError::Corrupt`] for key `master.key` when that file has the wrong
    /// size, or is missing while the folder already holds values (making a new key would
    /// leave them unreadable); with [`StoreError::Unreadable`] when the folder or key cannot
    /// be read or created.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileStore, StoreError> {
        let dir = dir.into();
        create_dir(&dir).map_err(|e| unreadable("creating the store folder", &e))?;
        let rng = SystemRandom::new();
        let master = load_or_create_master_key(&dir, &rng)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &master).map_err(|_| StoreError::Corrupt {
            key: MASTER_KEY_FILE.to_string(),
        })?;
        drop(master);
        remove_stale_temp_files(&dir);
        Ok(FileStore {
            dir,
            key: LessSafeKey::new(unbound),
            rng,
            held_lock: Mutex::new(None),
        })
    }

    /// The folder this store keeps its files in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock file this store holds locked, if any.
    fn held(&self) -> std::sync::MutexGuard<'_, Option<File>> {
        self.held_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn value_path(&self, key: &str) -> PathBuf {
        self.dir.join(file_name_for_key(key))
    }

    fn encrypt(&self, key: &str, mut value: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        let filled = self.rng.fill(&mut nonce);
        let mut out = Vec::with_capacity(HEADER_LEN + value.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&value);
        value.zeroize();
        // From here on `out` holds plaintext until it is sealed: wipe it on every exit.
        let mut out = Zeroizing::new(out);
        filled.map_err(|_| write_failed_msg("the system random generator failed"))?;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.as_bytes()),
                &mut out[HEADER_LEN..],
            )
            .map_err(|_| write_failed_msg("the value could not be encrypted"))?;
        // Capacity was reserved for the tag, so this does not move the buffer.
        out.extend_from_slice(tag.as_ref());
        Ok(std::mem::take(&mut *out))
    }

    fn decrypt(&self, key: &str, data: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let corrupt = || StoreError::Corrupt {
            key: key.to_string(),
        };
        let mut data = Zeroizing::new(data);
        if data.len() < HEADER_LEN + TAG_LEN || !data.starts_with(MAGIC) {
            return Err(corrupt());
        }
        let nonce = Nonce::try_assume_unique_for_key(&data[MAGIC.len()..HEADER_LEN])
            .map_err(|_| corrupt())?;
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(key.as_bytes()), &mut data[HEADER_LEN..])
            .map_err(|_| corrupt())?
            .len();
        // Move the plaintext to the front, wipe everything after it, and hand the buffer out.
        data.copy_within(HEADER_LEN..HEADER_LEN + plain_len, 0);
        data[plain_len..].zeroize();
        data.truncate(plain_len);
        Ok(std::mem::take(&mut *data))
    }
}

impl SecureStore for FileStore {
    fn load(&self, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.value_path(&key);
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(&format!("reading '{key}'"), &e)),
        };
        self.decrypt(&key, data).map(Some)
    }

    fn save(&self, key: String, value: Vec<u8>) -> Result<(), StoreError> {
        let sealed = self.encrypt(&key, value)?;
        write_atomic(&self.dir, &self.value_path(&key), &sealed)
            .map_err(|e| write_failed(&format!("saving '{key}'"), &e))
    }

    fn remove(&self, key: String) -> Result<(), StoreError> {
        match fs::remove_file(self.value_path(&key)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(write_failed(&format!("removing '{key}'"), &e)),
        }
        sync_dir(&self.dir).map_err(|e| write_failed(&format!("removing '{key}'"), &e))
    }

    fn generation(&self) -> Result<u64, StoreError> {
        match fs::read(self.dir.join(GENERATION_FILE)) {
            Ok(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    key: GENERATION_FILE.to_string(),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(unreadable("reading the store's generation", &e)),
        }
    }

    fn raise_generation(&self, generation: u64) -> Result<(), StoreError> {
        let current = self.generation()?;
        if generation < current {
            return Err(write_failed_msg("the store's generation cannot go down"));
        }
        if generation == current {
            return Ok(());
        }
        write_atomic(
            &self.dir,
            &self.dir.join(GENERATION_FILE),
            &generation.to_be_bytes(),
        )
        .map_err(|e| write_failed("raising the store's generation", &e))
    }

    fn lock(&self) -> Result<(), StoreError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(LOCK_FILE))
            .and_then(|file| file.lock().map(|()| file))
            .map_err(|e| unreadable("locking the store", &e))?;
        *self.held() = Some(file);
        Ok(())
    }

    fn unlock(&self) -> Result<(), StoreError> {
        // Closing the file releases its lock.
        drop(self.held().take());
        Ok(())
    }
}

/// The file name for `key`: safe bytes kept, others `%XX`, a leading `.` escaped so no
/// value file is hidden or named `.`/`..`; names too long for a file system are replaced by
/// `~` and a SHA-256 of the key (`~` never appears in an escaped name).
fn file_name_for_key(key: &str) -> String {
    let mut name = String::with_capacity(key.len() + VALUE_EXT.len());
    for (i, b) in key.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if keep {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.len() > MAX_ESCAPED_NAME {
        let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
        name.clear();
        name.push('~');
        for b in digest.as_ref() {
            name.push_str(&format!("{b:02x}"));
        }
    }
    name.push_str(VALUE_EXT);
    name
}

fn unreadable(what: &str, e: &io::Error) -> StoreError {
    StoreError::Unreadable {
        reason: format!("{what}: {e}"),
    }
}

fn write_failed(what: &str, e: &io::Error) -> StoreError {
    StoreError::WriteFailed {
        reason: format!("{what}: {e}"),
    }
}

fn write_failed_msg(reason: &str) -> StoreError {
    StoreError::WriteFailed {
        reason: reason.to_string(),
    }
}

#[cfg(unix)]
fn create_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Opens a new file that must not exist yet, readable by the owner only.
fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Makes the folder's entries (renames, removals) durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// A temporary file name in `dir` no other writer uses.
fn temp_path(dir: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(
        "{TEMP_PREFIX}{}-{n}-{nanos:08x}",
        std::process::id()
    ))
}

/// Writes `data` to a new synced temporary file, then runs `publish` on it (which moves it
/// into place). The temporary file is removed whatever happens.
fn write_temp_then(
    dir: &Path,
    data: &[u8],
    publish: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    // `create_new` fails rather than reuse a name; a few tries get past a clash.
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = temp_path(dir);
        match create_new_private(&tmp) {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let result = file
        .write_all(data)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            publish(&tmp)
        });
    // After a successful rename the temporary name is gone and this is a no-op.
    let _ = fs::remove_file(&tmp);
    result
}

/// Replaces `target` with `data` atomically and durably: temp file, fsync, rename, fsync
/// of the folder. On failure before the rename the old file is untouched.
fn write_atomic(dir: &Path, target: &Path, data: &[u8]) -> io::Result<()> {
    write_temp_then(dir, data, |tmp| fs::rename(tmp, target))?;
    sync_dir(dir)
}

fn load_or_create_master_key(
    dir: &Path,
    rng: &SystemRandom,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let path = dir.join(MASTER_KEY_FILE);
    let corrupt = || StoreError::Corrupt {
        key: MASTER_KEY_FILE.to_string(),
    };
    match fs::read(&path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            if bytes.len() != MASTER_KEY_LEN {
                return Err(corrupt());
            }
            return Ok(bytes);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(unreadable("reading the store's master key", &e)),
    }
    // No key yet. If values exist, they were sealed with a key that is now lost: making a
    // new one would let new writes replace them, so refuse instead.
    if holds_values(dir).map_err(|e| unreadable("listing the store folder", &e))? {
        return Err(corrupt());
    }
    let mut fresh = Zeroizing::new(vec![0u8; MASTER_KEY_LEN]);
    rng.fill(&mut fresh).map_err(|_| StoreError::Unreadable {
        reason: "the system random generator failed".to_string(),
    })?;
    // Publish with a hard link, which fails if another process made a key meanwhile: then
    // that key wins and is read back below. Without hard links, fall back to a rename.
    let published = write_temp_then(dir, &fresh, |tmp| match fs::hard_link(tmp, &path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => fs::rename(tmp, &path),
    })
    .and_then(|()| sync_dir(dir));
    published.map_err(|e| unreadable("creating the store's master key", &e))?;
    let bytes = Zeroizing::new(
        fs::read(&path).map_err(|e| unreadable("reading the store's master key", &e))?,
    );
    if bytes.len() != MASTER_KEY_LEN {
        return Err(corrupt());
    }
    Ok(bytes)
}

/// Whether `dir` holds any value file.
fn holds_values(dir: &Path) -> io::Result<bool> {
    for entry in fs::read_dir(dir)? {
        if entry?.file_name().to_string_lossy().ends_with(VALUE_EXT) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Best effort: removes temporary files a crash left behind, once they are old enough that
/// no live writer can still be using them.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age >= STALE_TEMP_AGE);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use super::*;
    use std::sync::Arc;

    fn temp_files(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .expect("list dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect()
    }

    fn corrupt(key: &str) -> StoreError {
        StoreError::Corrupt {
            key: key.to_string(),
        }
    }

    #[test]
    fn round_trip_and_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path().join("store")).expect("open");
        assert_eq!(store.load("accounts".into()).expect("load"), None);
        store
            .save("accounts".into(), b"hello".to_vec())
            .expect("save");
        assert_eq!(
            store.load("accounts".into()).expect("load"),
            Some(b"hello".to_vec())
        );
        store.save("empty".into(), Vec::new()).expect("save empty");
        assert_eq!(store.load("empty".into()).expect("load"), Some(Vec::new()));
        store.remove("accounts".into()).expect("remove");
        assert_eq!(store.load("accounts".into()).expect("load"), None);
        store.remove("accounts".into()).expect("remove missing");
    }

    #[test]
    fn values_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = FileStore::open(dir.path()).expect("open");
            store.save("gate".into(), b"one".to_vec()).expect("save");
            store
                .save("key/alice-3f2a".into(), b"two".to_vec())
                .expect("save");
        }
        let store = FileStore::open(dir.path()).expect("reopen");
        assert_eq!(
            store.load("gate".into()).expect("load"),
            Some(b"one".to_vec())
        );
        assert_eq!(
            store.load("key/alice-3f2a".into()).expect("load"),
            Some(b"two".to_vec())
        );
    }

    #[cfg(unix)]
    #[test]
    fn folder_and_master_key_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s");
        let store = FileStore::open(&path).expect("open");
        store.save("a".into(), b"x".to_vec()).expect("save");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&path.join(MASTER_KEY_FILE)), 0o600);
        assert_eq!(mode(&path.join("a.ibks")), 0o600);
        assert_eq!(
            fs::metadata(path.join(MASTER_KEY_FILE))
                .expect("meta")
                .len(),
            32
        );
    }

    #[test]
    fn key_names_map_to_distinct_safe_file_names() {
        let keys = [
            "key/alice-3f2a",
            "key%2Falice-3f2a",
            "key_alice-3f2a",
            "a.b",
            ".hidden",
            "..",
            "",
            "ünïcode",
            "master",
        ];
        let names: Vec<String> = keys.iter().map(|k| file_name_for_key(k)).collect();
        for (i, a) in names.iter().enumerate() {
            assert!(a.ends_with(VALUE_EXT));
            assert!(!a.starts_with('.') || a == VALUE_EXT, "{a}");
            assert!(!a.contains('/'));
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(file_name_for_key("key/alice-3f2a"), "key%2Falice-3f2a.ibks");
        let long = "x/".repeat(300);
        let name = file_name_for_key(&long);
        assert!(name.starts_with('~') && name.len() < 100);

        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        for (i, k) in keys.iter().chain([long.as_str()].iter()).enumerate() {
            store.save(k.to_string(), vec![i as u8]).expect("save");
        }
        for (i, k) in keys.iter().chain([long.as_str()].iter()).enumerate() {
            assert_eq!(
                store.load(k.to_string()).expect("load"),
                Some(vec![i as u8])
            );
        }
    }

    #[test]
    fn damaged_files_are_corrupt_and_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        store
            .save("accounts".into(), b"enrolled users".to_vec())
            .expect("save");
        let path = dir.path().join("accounts.ibks");
        let good = fs::read(&path).expect("read");

        // Truncated.
        let truncated = good[..good.len() - 3].to_vec();
        fs::write(&path, &truncated).expect("write");
        assert_eq!(store.load("accounts".into()), Err(corrupt("accounts")));
        assert_eq!(fs::read(&path).expect("read"), truncated);
        fs::write(&path, &good[..4]).expect("write");
        assert_eq!(store.load("accounts".into()), Err(corrupt("accounts")));

        // One flipped byte anywhere (magic, nonce, ciphertext, tag).
        for i in [0, MAGIC.len(), HEADER_LEN, good.len() - 1] {
            let mut flipped = good.clone();
            flipped[i] ^= 0x01;
            fs::write(&path, &flipped).expect("write");
            assert_eq!(
                store.load("accounts".into()),
                Err(corrupt("accounts")),
                "byte {i}"
            );
            assert_eq!(fs::read(&path).expect("read"), flipped);
        }

        // Restored, it reads again.
        fs::write(&path, &good).expect("write");
        assert_eq!(
            store.load("accounts".into()).expect("load"),
            Some(b"enrolled users".to_vec())
        );
    }

    #[test]
    fn a_file_renamed_to_another_key_does_not_decrypt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        store
            .save("gate".into(), b"pin record".to_vec())
            .expect("save");
        fs::copy(
            dir.path().join("gate.ibks"),
            dir.path().join("accounts.ibks"),
        )
        .expect("copy");
        assert_eq!(store.load("accounts".into()), Err(corrupt("accounts")));
        assert!(dir.path().join("accounts.ibks").exists());
        assert_eq!(
            store.load("gate".into()).expect("load"),
            Some(b"pin record".to_vec())
        );
    }

    #[test]
    fn a_garbage_master_key_is_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = FileStore::open(dir.path()).expect("open");
            store.save("accounts".into(), b"v".to_vec()).expect("save");
        }
        let key_path = dir.path().join(MASTER_KEY_FILE);
        let original = fs::read(&key_path).expect("read");

        // Wrong size: the store does not open.
        fs::write(&key_path, b"garbage").expect("write");
        assert_eq!(
            FileStore::open(dir.path()).map(|_| ()),
            Err(corrupt(MASTER_KEY_FILE))
        );
        assert_eq!(fs::read(&key_path).expect("read"), b"garbage");

        // Right size, other bytes: the values do not decrypt, and stay on disk.
        let other: Vec<u8> = original.iter().map(|b| b ^ 0x5a).collect();
        fs::write(&key_path, &other).expect("write");
        let store = FileStore::open(dir.path()).expect("open");
        assert_eq!(store.load("accounts".into()), Err(corrupt("accounts")));
        assert!(dir.path().join("accounts.ibks").exists());
        assert_eq!(fs::read(&key_path).expect("read"), other);
    }

    #[test]
    fn a_lost_master_key_is_not_silently_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = FileStore::open(dir.path()).expect("open");
            store.save("accounts".into(), b"v".to_vec()).expect("save");
        }
        fs::remove_file(dir.path().join(MASTER_KEY_FILE)).expect("remove");
        assert_eq!(
            FileStore::open(dir.path()).map(|_| ()),
            Err(corrupt(MASTER_KEY_FILE))
        );
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());
        assert!(dir.path().join("accounts.ibks").exists());
    }

    #[test]
    fn saving_over_a_value_is_atomic_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        for i in 0..20u8 {
            store.save("accounts".into(), vec![i; 100]).expect("save");
            assert_eq!(
                store.load("accounts".into()).expect("load"),
                Some(vec![i; 100])
            );
        }
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_keeps_the_old_value_and_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        store
            .save("accounts".into(), b"old".to_vec())
            .expect("save");
        // A folder where the target should be makes the rename fail.
        fs::create_dir(dir.path().join("blocked.ibks")).expect("mkdir");
        fs::write(dir.path().join("blocked.ibks").join("x"), b"x").expect("write");
        let err = store.save("blocked".into(), b"new".to_vec());
        assert!(
            matches!(err, Err(StoreError::WriteFailed { .. })),
            "{err:?}"
        );
        assert!(temp_files(dir.path()).is_empty());
        assert_eq!(
            store.load("accounts".into()).expect("load"),
            Some(b"old".to_vec())
        );
    }

    #[test]
    fn a_stale_temp_file_from_a_crash_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = FileStore::open(dir.path()).expect("open");
            store
                .save("accounts".into(), b"old".to_vec())
                .expect("save");
        }
        // A crash between writing the temporary file and renaming it.
        let fresh = dir.path().join(format!("{TEMP_PREFIX}99999-0-deadbeef"));
        fs::write(&fresh, b"IBKS1 half-written new val").expect("write");
        let stale = dir.path().join(format!("{TEMP_PREFIX}99999-1-deadbeef"));
        fs::write(&stale, b"IBKS1 older crash").expect("write");
        let old_time = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
        File::options()
            .write(true)
            .open(&stale)
            .expect("open")
            .set_modified(old_time)
            .expect("set mtime");

        let store = FileStore::open(dir.path()).expect("open");
        assert_eq!(
            store.load("accounts".into()).expect("load"),
            Some(b"old".to_vec())
        );
        // The old one is cleaned up; a recent one might belong to a live writer and stays.
        assert!(!stale.exists());
        assert!(fresh.exists());
        store
            .save("accounts".into(), b"new".to_vec())
            .expect("save");
        assert_eq!(
            store.load("accounts".into()).expect("load"),
            Some(b"new".to_vec())
        );
    }

    #[test]
    fn concurrent_saves_to_different_keys_all_land() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(FileStore::open(dir.path()).expect("open"));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..10u8 {
                        store
                            .save(format!("key/t{t}-{i}"), vec![t, i])
                            .expect("save");
                        store.save(format!("shared{t}"), vec![i]).expect("save");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        for t in 0..8u8 {
            for i in 0..10u8 {
                assert_eq!(
                    store.load(format!("key/t{t}-{i}")).expect("load"),
                    Some(vec![t, i])
                );
            }
            assert_eq!(
                store.load(format!("shared{t}")).expect("load"),
                Some(vec![9])
            );
        }
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn concurrent_opens_agree_on_one_master_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s");
        let stores: Vec<FileStore> = (0..6)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || FileStore::open(path).expect("open"))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        stores[0].save("a".into(), b"v".to_vec()).expect("save");
        for s in &stores {
            assert_eq!(s.load("a".into()).expect("load"), Some(b"v".to_vec()));
        }
    }
}
