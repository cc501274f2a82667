//! The server's signing key: one P-256 key in `server-key.p8` (PKCS#8, mode 0600), made on
//! first start and kept until rotated ([`rotate_key`]), since every device pins it.
//!
//! A rotation makes a new key and has the current one endorse it (a signed
//! `EndorsementClaims`), so devices that pinned the old key can follow to the new one. The
//! previous public keys and their endorsements are kept in `server-key-history.json`; the
//! current public key is published in `server-key.pub` (base64url SEC1, one line, not
//! secret) for tools on the same machine that need to trust this server, such as the CLI.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ibkey_protocol::activation::{key_id, sign_token, verify_token};
use ibkey_protocol::encoding::{b64, unb64};
use ibkey_protocol::server_key::{EndorsementClaims, ENDORSEMENT_TYPE};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};

use crate::error::ServerError;

/// File name of the server key inside the data directory.
pub const KEY_FILE: &str = "server-key.p8";
/// File name of the published public key (base64url SEC1) inside the data directory.
pub const PUBLIC_KEY_FILE: &str = "server-key.pub";
/// File name of the earlier keys and their endorsements inside the data directory.
pub const KEY_HISTORY_FILE: &str = "server-key-history.json";

/// The loaded server key.
pub(crate) struct ServerKey {
    /// The key pair tokens are signed with (fixed-size signatures, as `verify_token` expects).
    pub pair: EcdsaKeyPair,
    /// SEC1 uncompressed public key.
    pub public: Vec<u8>,
    /// [`key_id`] of the public key.
    pub kid: String,
    /// The endorsements leading from the first key to this one, oldest first.
    pub endorsements: Vec<String>,
}

/// One earlier key and its endorsement of the key after it.
#[derive(Serialize, Deserialize)]
struct HistoryEntry {
    /// The earlier public key, SEC1, base64url.
    public_key: String,
    /// Its signed endorsement of the next key.
    endorsement: String,
}

/// What [`rotate_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// The id of the key replaced (it endorsed the new one).
    pub previous_key_id: String,
    /// The id of the new key.
    pub key_id: String,
    /// The new public key, SEC1 uncompressed, base64url (as in [`PUBLIC_KEY_FILE`]).
    pub public_key: String,
}

/// Loads the key from `dir`, or makes one and stores it if there is none yet, with the
/// endorsements that lead to it; publishes its public key in [`PUBLIC_KEY_FILE`].
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
    let endorsements = chain_to(&read_history(dir)?, &kid);
    publish(dir, &public, rng)?;
    tracing::info!(key_id = %kid, rotations = endorsements.len(), "server key loaded");
    Ok(ServerKey {
        pair,
        public,
        kid,
        endorsements,
    })
}

/// Replaces the server key in `dir` (made first if there is none) with a new one that the
/// current key endorses, keeping the old public key and the endorsement in
/// [`KEY_HISTORY_FILE`]. A running server keeps its key until restarted. Devices that pinned
/// any earlier key follow to the new one; tickets and challenges issued before are refused.
pub fn rotate_key(dir: &Path) -> Result<KeyRotation, ServerError> {
    let rng = SystemRandom::new();
    fs::create_dir_all(dir).map_err(|source| ServerError::DataDirNotWritable {
        path: dir.to_path_buf(),
        source,
    })?;
    let current = load_or_create(dir, &rng)?;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| ServerError::Random)?;
    let next = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| ServerError::Random)?;
    let next_public = next.public_key().as_ref();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let claims = EndorsementClaims {
        typ: ENDORSEMENT_TYPE.to_string(),
        kid: current.kid.clone(),
        pkey: b64(&current.public),
        nkid: key_id(next_public),
        key: b64(next_public),
        iat: now,
    };
    let endorsement = sign_token(&claims, &current.pair, &rng).map_err(|_| ServerError::Random)?;
    // The history first: a rotation cut short leaves an endorsement of a key never used,
    // which nothing follows, and the current key in place.
    let mut history = read_history(dir)?;
    history.push(HistoryEntry {
        public_key: b64(&current.public),
        endorsement,
    });
    let json =
        serde_json::to_vec_pretty(&history).map_err(|e| ServerError::DataDirNotWritable {
            path: dir.to_path_buf(),
            source: io::Error::other(e),
        })?;
    replace(dir, KEY_HISTORY_FILE, &json, &rng)?;
    replace(dir, KEY_FILE, pkcs8.as_ref(), &rng)?;
    publish(dir, next_public, &rng)?;
    tracing::info!(previous = %current.kid, key_id = %claims.nkid, "server key rotated");
    Ok(KeyRotation {
        previous_key_id: current.kid,
        key_id: claims.nkid,
        public_key: claims.key,
    })
}

/// The earlier keys and their endorsements kept in `dir` (none before the first rotation).
fn read_history(dir: &Path) -> Result<Vec<HistoryEntry>, ServerError> {
    let path = dir.join(KEY_HISTORY_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|_| ServerError::KeyHistoryCorrupt { path: path.clone() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(ServerError::KeyFileUnreadable { path, source }),
    }
}

/// The endorsements in `history` that lead to the key `kid`, oldest first: each verified
/// with the earlier key it is stored with.
fn chain_to(history: &[HistoryEntry], kid: &str) -> Vec<String> {
    let mut chain = Vec::new();
    let mut wanted = kid.to_string();
    // Each step goes one key back; a history can hold no longer chain than itself.
    for _ in 0..history.len() {
        let step = history.iter().find_map(|entry| {
            let claims: EndorsementClaims =
                verify_token(&entry.endorsement, &unb64(&entry.public_key)?).ok()?;
            (claims.nkid == wanted).then(|| (claims.kid, entry.endorsement.clone()))
        });
        let Some((previous, endorsement)) = step else {
            break;
        };
        chain.push(endorsement);
        wanted = previous;
    }
    chain.reverse();
    chain
}

/// Writes the current public key to [`PUBLIC_KEY_FILE`] unless it is there already.
fn publish(dir: &Path, public: &[u8], rng: &SystemRandom) -> Result<(), ServerError> {
    let line = format!("{}\n", b64(public));
    if fs::read(dir.join(PUBLIC_KEY_FILE)).is_ok_and(|old| old == line.as_bytes()) {
        return Ok(());
    }
    replace(dir, PUBLIC_KEY_FILE, line.as_bytes(), rng)
}

/// Replaces `dir/name` with `bytes` crash-safely (a temporary file written in full, synced,
/// then renamed over it), readable only by the owner.
fn replace(dir: &Path, name: &str, bytes: &[u8], rng: &SystemRandom) -> Result<(), ServerError> {
    let not_writable = |source| ServerError::DataDirNotWritable {
        path: dir.to_path_buf(),
        source,
    };
    let temp = temp_path(dir, name, rng).map_err(|_| ServerError::Random)?;
    let written = write_private(&temp, bytes).and_then(|()| fs::rename(&temp, dir.join(name)));
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(not_writable(source));
    }
    sync_dir(dir);
    Ok(())
}

/// A fresh temporary file name for `name` in `dir`.
fn temp_path(
    dir: &Path,
    name: &str,
    rng: &SystemRandom,
) -> Result<PathBuf, ring::error::Unspecified> {
    let mut nonce = [0u8; 8];
    rng.fill(&mut nonce)?;
    Ok(dir.join(format!(
        ".{name}.{}.tmp",
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )))
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
    let temp = temp_path(dir, name, rng).map_err(|_| StoreError::Other(ServerError::Random))?;
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
    fn a_rotation_is_endorsed_by_the_key_before_and_published() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rng = SystemRandom::new();
        let first = load_or_create(dir.path(), &rng).expect("create");
        let published = || fs::read_to_string(dir.path().join(PUBLIC_KEY_FILE)).expect("pub");
        assert_eq!(published().trim(), b64(&first.public));
        let rotations = [
            rotate_key(dir.path()).expect("rotate"),
            rotate_key(dir.path()).expect("rotate again"),
        ];
        assert_eq!(rotations[0].previous_key_id, first.kid);
        assert_eq!(rotations[1].previous_key_id, rotations[0].key_id);
        let current = load_or_create(dir.path(), &rng).expect("load");
        assert_eq!(current.kid, rotations[1].key_id);
        assert_eq!(published().trim(), rotations[1].public_key);
        assert_eq!(current.endorsements.len(), 2);
        let reply = ibkey_protocol::activation::ServerKeyResponse {
            key_id: current.kid.clone(),
            public_key: b64(&current.public),
            endorsements: current.endorsements.clone(),
        };
        assert_eq!(reply.endorsed_by(&first.public), Ok(current.public.clone()));
        fs::write(dir.path().join(KEY_HISTORY_FILE), b"[").expect("write");
        assert!(matches!(
            load_or_create(dir.path(), &rng),
            Err(ServerError::KeyHistoryCorrupt { .. })
        ));
    }

    #[test]
    fn a_corrupt_key_file_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(KEY_FILE), b"not a key").expect("write");
        let result = load_or_create(dir.path(), &SystemRandom::new());
        assert!(matches!(result, Err(ServerError::KeyFileCorrupt { .. })));
    }
}
