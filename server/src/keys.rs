//! The server's signing key: one P-256 key in `server-key.p8` (PKCS#8, mode 0600), made on
//! first start and kept forever, since every device pins it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use ibkey_protocol::activation::key_id;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

use crate::error::ServerError;

/// File name of the server key inside the data directory.
pub const KEY_FILE: &str = "server-key.p8";

/// The loaded server key.
pub(crate) struct ServerKey {
    /// The key pair tokens are signed with (fixed-size signatures, as `verify_token` expects).
    pub pair: EcdsaKeyPair,
    /// SEC1 uncompressed public key.
    pub public: Vec<u8>,
    /// [`key_id`] of the public key.
    pub kid: String,
}

/// Loads the key from `dir`, or makes one and stores it if there is none yet.
pub(crate) fn load_or_create(dir: &Path, rng: &SystemRandom) -> Result<ServerKey, ServerError> {
    let path = dir.join(KEY_FILE);
    let pkcs8 = match fs::read(&path) {
        Ok(bytes) => {
            warn_if_readable_by_others(&path);
            bytes
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => create(dir, &path, rng)?,
        Err(source) => return Err(ServerError::KeyFileUnreadable { path, source }),
    };
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, rng)
        .map_err(|_| ServerError::KeyFileCorrupt { path: path.clone() })?;
    let public = pair.public_key().as_ref().to_vec();
    let kid = key_id(&public);
    tracing::info!(key_id = %kid, "server key loaded");
    Ok(ServerKey { pair, public, kid })
}

/// Makes a new key and stores it crash-safely (see [`store_once`]). Returns the PKCS#8 bytes
/// that are now in `path`.
fn create(dir: &Path, path: &Path, rng: &SystemRandom) -> Result<Vec<u8>, ServerError> {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng)
        .map_err(|_| ServerError::Random)?;
    let stored = store_once(dir, KEY_FILE, pkcs8.as_ref(), rng).map_err(|e| match e {
        StoreError::Unreadable(source) => ServerError::KeyFileUnreadable {
            path: path.to_path_buf(),
            source,
        },
        StoreError::Other(e) => e,
    })?;
    if stored.created {
        tracing::info!(path = %path.display(), "made a new server key");
    }
    Ok(stored.bytes)
}

/// What [`store_once`] left in place.
pub(crate) struct Stored {
    /// The bytes now in the file.
    pub bytes: Vec<u8>,
    /// Whether this call made the file (false: another process stored its bytes first).
    pub created: bool,
}

/// Why [`store_once`] failed.
pub(crate) enum StoreError {
    /// Another process stored the file first, but it cannot be read.
    Unreadable(io::Error),
    /// Randomness failed or the directory cannot be written.
    Other(ServerError),
}

/// Stores `bytes` as `dir/name` crash-safely, readable only by the owner (mode 0600): written
/// in full to a temporary file, synced, then linked into place only if no such file exists
/// yet (two servers starting on one empty directory end up with the same file). Returns the
/// bytes that are now in the file.
pub(crate) fn store_once(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    rng: &SystemRandom,
) -> Result<Stored, StoreError> {
    let not_writable = |source| {
        StoreError::Other(ServerError::DataDirNotWritable {
            path: dir.to_path_buf(),
            source,
        })
    };
    let path = dir.join(name);
    let mut nonce = [0u8; 8];
    rng.fill(&mut nonce)
        .map_err(|_| StoreError::Other(ServerError::Random))?;
    let temp: PathBuf = dir.join(format!(
        ".{name}.{}.tmp",
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let written = write_private(&temp, bytes);
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(not_writable(source));
    }
    let linked = fs::hard_link(&temp, &path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_dir(dir);
            Ok(Stored {
                bytes: bytes.to_vec(),
                created: true,
            })
        }
        // Another process stored its file first: use that one.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs::read(&path)
            .map(|bytes| Stored {
                bytes,
                created: false,
            })
            .map_err(StoreError::Unreadable),
        Err(source) => Err(not_writable(source)),
    }
}

/// Writes `bytes` to a new file readable only by the owner, and syncs it.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a rename or link in `dir` durable (best effort; not every platform can).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Logs a warning when the key file can be read by other users.
fn warn_if_readable_by_others(path: &Path) {
    warn_if_private_file_is_open(path, "the server key file");
}

/// Logs a warning when `path` (`what`, for the log) can be read by other users.
pub(crate) fn warn_if_private_file_is_open(path: &Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "{what} is readable by other users; run chmod 600 on it");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rng = SystemRandom::new();
        let first = load_or_create(dir.path(), &rng).expect("create");
        let second = load_or_create(dir.path(), &rng).expect("load");
        assert_eq!(first.public, second.public);
        assert_eq!(first.kid, second.kid);
        assert_eq!(first.public.len(), 65);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_corrupt_key_file_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(KEY_FILE), b"not a key").expect("write");
        let result = load_or_create(dir.path(), &SystemRandom::new());
        assert!(matches!(result, Err(ServerError::KeyFileCorrupt { .. })));
    }
}
