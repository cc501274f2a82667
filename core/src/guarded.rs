//! The records that guard the accounts — the PIN record, the device record with the pinned
//! server key, each account's approval record — kept so that deleting one, or putting back an
//! older copy of it, is detected; and the store's lock, so that two authenticators or two
//! processes on one store take turns.
//!
//! Each guarded record is written with the generation at which it was written
//! (`IBG1` ‖ 8-byte big-endian generation ‖ the record). A manifest under the store key
//! `guard` lists, for each guarded record, the generation it must carry, and carries the
//! generation of its own last write. The store's own generation ([`SecureStore::generation`],
//! kept where the platform keeps its keys) must equal the manifest's: an older manifest, a
//! missing one, an older record or a missing record is [`StoreError::Tampered`].
//!
//! A write, under the store's lock, runs in three steps that a crash can interrupt anywhere:
//!
//! 1. the manifest is saved with generation `g + 1`, the record's new generation, and the
//!    record's previous generation (`pending`);
//! 2. the record is saved (or removed) with generation `g + 1`;
//! 3. the store's generation is raised to `g + 1`.
//!
//! Until step 3, the record is accepted with either generation of `pending`; the next write
//! settles it first. A record written before the manifest existed (no `IBG1` prefix) is
//! accepted while the manifest does not list it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::platform::{SecureStore, StoreError};

/// The manifest's store key.
const MANIFEST_KEY: &str = "guard";
/// The first bytes of a guarded record.
const MAGIC: &[u8] = b"IBG1";
/// Magic plus generation.
const HEADER_LEN: usize = MAGIC.len() + 8;
/// Reads without the lock tried at most this many times while writes keep changing the
/// manifest under them.
const MAX_READ_TRIES: u32 = 100;

/// A write in progress: the record and the generation it had before (0 for none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    key: String,
    previous: u64,
}

/// The generation each guarded record must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    /// The generation of the manifest's last write.
    generation: u64,
    /// Each guarded record's generation.
    records: BTreeMap<String, u64>,
    /// The write not yet confirmed by raising the store's generation.
    #[serde(default)]
    pending: Option<Pending>,
}

/// A record as read: its generation (0 for one written before guarding) and its bytes.
struct Stored {
    generation: u64,
    payload: Zeroizing<Vec<u8>>,
}

/// Guarded records over a [`SecureStore`].
#[derive(Clone)]
pub(crate) struct GuardedStore {
    store: Arc<dyn SecureStore>,
}

impl GuardedStore {
    /// Guarded records in `store`.
    pub(crate) fn new(store: Arc<dyn SecureStore>) -> Self {
        Self { store }
    }

    /// The store itself, for records that are not guarded and need no lock to be read.
    pub(crate) fn store(&self) -> &dyn SecureStore {
        &*self.store
    }

    /// The guarded record `key`, checked against the manifest, or `None` when there is none.
    ///
    /// Read without the lock, so a write on another thread or process can land between
    /// reading the manifest and the record: the record newer than the manifest read, or the
    /// manifest a write ahead of the store's generation. The verdict counts only when the
    /// manifest was the same before and after (every write changes it first); else the
    /// record is read again.
    pub(crate) fn load(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let mut tries = 1;
        loop {
            // The manifest first: while it stays the same, the store's generation read after
            // it can only be the one it names or the one before (its write not yet confirmed).
            let before = self.store.load(MANIFEST_KEY.to_string())?;
            let generation = self.store.generation()?;
            let verdict =
                manifest_at(generation, before.as_deref()).and_then(|(manifest, settled)| {
                    check(&manifest, settled, key, read(&*self.store, key)?)
                });
            if tries == MAX_READ_TRIES || self.store.load(MANIFEST_KEY.to_string())? == before {
                return verdict;
            }
            tries += 1;
            std::thread::yield_now();
        }
    }

    /// Takes the store's lock until the returned guard is dropped, settling a write a crash
    /// interrupted.
    pub(crate) fn lock(&self) -> Result<Locked<'_>, StoreError> {
        self.store.lock()?;
        let mut locked = Locked {
            store: &*self.store,
            manifest: Manifest::default(),
        };
        let (manifest, settled) = self.manifest()?;
        locked.manifest = manifest;
        if !settled {
            locked.settle()?;
        }
        Ok(locked)
    }

    /// Starts over: removes every guarded record the manifest lists and the records `keys`,
    /// then writes an empty manifest at a generation above any seen, so that no record or
    /// manifest from before is accepted again. Works on a store found tampered with: this is
    /// how a device gets out of that state (its accounts are gone, so there is nothing left
    /// to protect).
    pub(crate) fn reset(&self, keys: &[String]) -> Result<(), StoreError> {
        self.store.lock()?;
        let locked = Locked {
            store: &*self.store,
            manifest: Manifest::default(),
        };
        let listed = self
            .store
            .load(MANIFEST_KEY.to_string())
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok())
            .unwrap_or_default();
        for key in listed.records.keys().chain(keys) {
            self.store.remove(key.clone())?;
        }
        let generation = self
            .store
            .generation()?
            .max(listed.generation)
            .saturating_add(1);
        let fresh = Manifest {
            generation,
            ..Manifest::default()
        };
        save_manifest(locked.store, &fresh)?;
        self.store.raise_generation(generation)
    }

    /// The manifest, and whether its last write was confirmed (`false`: a crash interrupted
    /// it).
    fn manifest(&self) -> Result<(Manifest, bool), StoreError> {
        let generation = self.store.generation()?;
        manifest_at(
            generation,
            self.store.load(MANIFEST_KEY.to_string())?.as_deref(),
        )
    }
}

/// The manifest stored as `bytes` (`None`: there is none), checked against the store's
/// `generation`, and whether its last write was confirmed.
fn manifest_at(generation: u64, bytes: Option<&[u8]>) -> Result<(Manifest, bool), StoreError> {
    let tampered = || StoreError::Tampered {
        key: MANIFEST_KEY.to_string(),
    };
    let Some(bytes) = bytes else {
        return if generation == 0 {
            Ok((Manifest::default(), true))
        } else {
            Err(tampered())
        };
    };
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt {
        key: MANIFEST_KEY.to_string(),
    })?;
    if manifest.generation == generation {
        Ok((manifest, true))
    } else if Some(manifest.generation) == generation.checked_add(1) {
        Ok((manifest, false))
    } else {
        Err(tampered())
    }
}

/// The store's lock, held: guarded reads and writes, and plain reads and writes of records
/// that must not lose updates. Dropping it releases the lock.
pub(crate) struct Locked<'a> {
    store: &'a dyn SecureStore,
    manifest: Manifest,
}

impl Locked<'_> {
    /// The guarded record `key`, checked against the manifest.
    pub(crate) fn load(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        check(&self.manifest, true, key, read(self.store, key)?)
    }

    /// Saves the guarded record `key`.
    pub(crate) fn save(&mut self, key: &str, payload: &[u8]) -> Result<(), StoreError> {
        self.write(key, Some(payload))
    }

    /// Removes the guarded record `key`.
    pub(crate) fn remove(&mut self, key: &str) -> Result<(), StoreError> {
        self.write(key, None)
    }

    /// The store itself, for records that are not guarded but must be read and written
    /// under the lock.
    pub(crate) fn store(&self) -> &dyn SecureStore {
        self.store
    }

    fn write(&mut self, key: &str, payload: Option<&[u8]>) -> Result<(), StoreError> {
        let generation =
            self.manifest
                .generation
                .checked_add(1)
                .ok_or_else(|| StoreError::WriteFailed {
                    reason: "the store's generation is exhausted".into(),
                })?;
        let mut next = self.manifest.clone();
        next.generation = generation;
        let previous = match payload {
            Some(_) => next.records.insert(key.to_string(), generation),
            None => next.records.remove(key),
        };
        next.pending = Some(Pending {
            key: key.to_string(),
            previous: previous.unwrap_or(0),
        });
        save_manifest(self.store, &next)?;
        let written = match payload {
            Some(payload) => {
                let mut bytes = Zeroizing::new(Vec::with_capacity(HEADER_LEN + payload.len()));
                bytes.extend_from_slice(MAGIC);
                bytes.extend_from_slice(&generation.to_be_bytes());
                bytes.extend_from_slice(payload);
                self.store.save(key.to_string(), bytes.to_vec())
            }
            None => self.store.remove(key.to_string()),
        };
        self.manifest = next;
        if let Err(e) = written {
            // Put the manifest back to the record as it still is.
            if let Err(settling) = self.settle() {
                tracing::warn!(code = %crate::error::ErrorCode::code(&settling), "store write not settled");
            }
            return Err(e);
        }
        self.store.raise_generation(generation)
    }

    /// Finishes the write a crash interrupted: keeps the record as the crash left it (new or
    /// previous) and confirms the manifest.
    fn settle(&mut self) -> Result<(), StoreError> {
        if let Some(pending) = self.manifest.pending.take() {
            let found = read(self.store, &pending.key)?.map(|s| s.generation);
            let expected = self.manifest.records.get(&pending.key).copied();
            if found != expected {
                match found {
                    Some(g) if g == pending.previous => {
                        self.manifest.records.insert(pending.key, g);
                    }
                    None if pending.previous == 0 => {
                        self.manifest.records.remove(&pending.key);
                    }
                    _ => return Err(StoreError::Tampered { key: pending.key }),
                }
            }
            save_manifest(self.store, &self.manifest)?;
        }
        self.store.raise_generation(self.manifest.generation)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.store.unlock() {
            tracing::warn!(code = %crate::error::ErrorCode::code(&e), "store lock not released");
        }
    }
}

fn save_manifest(store: &dyn SecureStore, manifest: &Manifest) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(manifest).map_err(|e| StoreError::WriteFailed {
        reason: e.to_string(),
    })?;
    store.save(MANIFEST_KEY.to_string(), bytes)
}

/// Reads the record `key` and splits off its generation.
fn read(store: &dyn SecureStore, key: &str) -> Result<Option<Stored>, StoreError> {
    let Some(bytes) = store.load(key.to_string())? else {
        return Ok(None);
    };
    let bytes = Zeroizing::new(bytes);
    if !bytes.starts_with(MAGIC) {
        return Ok(Some(Stored {
            generation: 0,
            payload: bytes,
        }));
    }
    let generation = bytes
        .get(MAGIC.len()..HEADER_LEN)
        .and_then(|g| <[u8; 8]>::try_from(g).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Corrupt {
            key: key.to_string(),
        })?;
    Ok(Some(Stored {
        generation,
        payload: Zeroizing::new(bytes[HEADER_LEN..].to_vec()),
    }))
}

/// Whether `stored` is the record `key` the manifest expects: the generation it lists (none
/// when it lists none), or, while a write is unconfirmed (`settled` false), the generation
/// the record had before.
fn check(
    manifest: &Manifest,
    settled: bool,
    key: &str,
    stored: Option<Stored>,
) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
    let expected = manifest.records.get(key).copied().unwrap_or(0);
    let found = stored.as_ref().map_or(0, |s| s.generation);
    let listed = manifest.records.contains_key(key);
    let interrupted = !settled
        && manifest
            .pending
            .as_ref()
            .is_some_and(|p| p.key == key && p.previous == found);
    let present_as_listed = stored.is_some() == listed || (stored.is_some() && found == 0);
    if (found == expected && present_as_listed) || interrupted {
        return Ok(stored.map(|s| s.payload));
    }
    Err(StoreError::Tampered {
        key: key.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::platform::{HookedStore, MemoryStore, StoreOp};

    /// A memory store behind a hook that fails one chosen operation once, as a crash there
    /// would leave it: `save guard`, `save k`, `remove k` or `raise`.
    struct Crashing {
        crash_at: Arc<Mutex<Option<String>>>,
        memory: Arc<MemoryStore>,
    }

    fn guarded() -> (Crashing, GuardedStore) {
        let memory = Arc::new(MemoryStore::new());
        let crash_at: Arc<Mutex<Option<String>>> = Arc::default();
        let at = crash_at.clone();
        let hooked = HookedStore::new(memory.clone(), move |op| {
            let name = match op {
                StoreOp::Save(key, _) => format!("save {key}"),
                StoreOp::Remove(key) => format!("remove {key}"),
                StoreOp::RaiseGeneration(_) => "raise".to_string(),
                StoreOp::Load(_) => return Ok(()),
            };
            let mut at = at.lock().expect("lock");
            if at.as_deref() == Some(name.as_str()) {
                *at = None;
                return Err(StoreError::WriteFailed {
                    reason: "crash (test)".into(),
                });
            }
            Ok(())
        });
        (
            Crashing { crash_at, memory },
            GuardedStore::new(Arc::new(hooked)),
        )
    }

    fn save(g: &GuardedStore, value: &[u8]) -> Result<(), StoreError> {
        g.lock()?.save("k", value)
    }

    fn value(g: &GuardedStore) -> Result<Option<Vec<u8>>, StoreError> {
        g.load("k").map(|v| v.map(|v| v.to_vec()))
    }

    fn tampered(key: &str) -> StoreError {
        StoreError::Tampered { key: key.into() }
    }

    #[test]
    fn rewound_deleted_and_foreign_records_are_refused() {
        let (store, g) = guarded();
        assert_eq!(value(&g), Ok(None));
        save(&g, b"one").expect("save");
        let old_record = store.memory.load("k".into()).expect("load");
        let old_manifest = store.memory.load(MANIFEST_KEY.into()).expect("load");
        save(&g, b"two").expect("save");
        assert_eq!(value(&g), Ok(Some(b"two".to_vec())));

        // An older copy of the record.
        let new_record = store.memory.load("k".into()).expect("load");
        store
            .memory
            .save("k".into(), old_record.clone().expect("old"))
            .expect("put back");
        assert_eq!(value(&g), Err(tampered("k")));
        // An older copy of record and manifest together.
        store
            .memory
            .save(MANIFEST_KEY.into(), old_manifest.expect("old"))
            .expect("put back");
        assert_eq!(value(&g), Err(tampered(MANIFEST_KEY)));
        assert!(g.lock().is_err(), "no write on a rewound store");
        // No manifest at all.
        store.memory.remove(MANIFEST_KEY.into()).expect("remove");
        assert_eq!(value(&g), Err(tampered(MANIFEST_KEY)));

        // A deleted record, and a guarded record the manifest does not list.
        let (store, g) = guarded();
        save(&g, b"one").expect("save");
        store.memory.remove("k".into()).expect("remove");
        assert_eq!(value(&g), Err(tampered("k")));
        store
            .memory
            .save("other".into(), new_record.expect("record"))
            .expect("save");
        assert_eq!(g.load("other").map(|v| v.is_some()), Err(tampered("other")));
    }

    #[test]
    fn records_from_before_guarding_are_adopted_until_rewritten() {
        let (store, g) = guarded();
        store
            .memory
            .save("k".into(), b"{\"legacy\":true}".to_vec())
            .expect("save");
        assert_eq!(value(&g), Ok(Some(b"{\"legacy\":true}".to_vec())));
        save(&g, b"new").expect("save");
        store
            .memory
            .save("k".into(), b"{\"legacy\":true}".to_vec())
            .expect("save");
        assert_eq!(value(&g), Err(tampered("k")));
    }

    #[test]
    fn a_crash_at_any_step_of_a_write_leaves_the_old_or_the_new_value() {
        for op in ["save guard", "save k", "raise"] {
            let (store, g) = guarded();
            save(&g, b"old").expect("save");
            *store.crash_at.lock().expect("lock") = Some(op.to_string());
            let crashed = save(&g, b"new");
            assert!(crashed.is_err(), "{op}");
            let seen = value(&g).expect(op).expect(op);
            assert!(seen == b"old" || seen == b"new", "{op}: {seen:?}");
            // The next write settles it, and later reads agree.
            save(&g, b"after").expect(op);
            assert_eq!(value(&g), Ok(Some(b"after".to_vec())), "{op}");
            assert_eq!(store.memory.generation().expect("generation"), {
                let m: Manifest = serde_json::from_slice(
                    &store
                        .memory
                        .load(MANIFEST_KEY.into())
                        .expect("load")
                        .expect("manifest"),
                )
                .expect("manifest");
                m.generation
            });
        }
        // A removal interrupted before the record went keeps the record.
        let (store, g) = guarded();
        save(&g, b"old").expect("save");
        *store.crash_at.lock().expect("lock") = Some("remove k".to_string());
        assert!(g.lock().and_then(|mut l| l.remove("k")).is_err());
        assert_eq!(value(&g), Ok(Some(b"old".to_vec())));
        g.lock().and_then(|mut l| l.remove("k")).expect("remove");
        assert_eq!(value(&g), Ok(None));
    }

    #[test]
    fn reads_without_the_lock_while_another_thread_writes_are_never_taken_for_tampering() {
        let g = GuardedStore::new(Arc::new(MemoryStore::new()));
        save(&g, b"0").expect("save");
        let writer = {
            let g = g.clone();
            std::thread::spawn(move || {
                for i in 1..=2000u32 {
                    let mut locked = g.lock().expect("lock");
                    locked.save("k", i.to_string().as_bytes()).expect("save");
                    locked.save("other", b"x").expect("save other");
                }
            })
        };
        let mut reads = 0u32;
        while !writer.is_finished() {
            let seen = value(&g).expect("a read during writes").expect("a value");
            assert!(std::str::from_utf8(&seen).is_ok_and(|v| v.parse::<u32>().is_ok()));
            reads += 1;
        }
        writer.join().expect("writer");
        assert_eq!(value(&g), Ok(Some(b"2000".to_vec())));
        assert!(reads > 0);
    }
}
