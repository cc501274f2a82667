//! Reading and writing the account list, the device record and each account's approval
//! record (with its offline codes' secret). The device and approval records are guarded
//! (`crate::guarded`): deleting one or putting back an older copy is refused. Every
//! read-modify-write runs under the store's lock, so authenticators in one process or in
//! several never lose each other's updates.

use std::sync::Arc;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zeroize::Zeroizing;

use super::state::{state_key, ApprovalState, CodesState};
use super::Account;
use crate::guarded::{GuardedStore, Locked};
use crate::platform::{SecureStore, StoreError};

const ACCOUNTS_KEY: &str = "accounts";
const DEVICE_KEY: &str = "device";
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct AccountsFile {
    version: u32,
    accounts: Vec<Account>,
}

/// What the device remembers about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceRecord {
    /// This install's random id, sent at activation.
    pub device_id: String,
    /// The server's public key (SEC1, base64url), pinned at first contact or from config.
    pub server_key: Option<String>,
    /// SHA-256 (hex) of the session ID most recently activated here, to recognise the same
    /// QR code still in front of the camera.
    pub last_activated_code: Option<String>,
    /// How far the server's clock is ahead of this device's (server − device, seconds), as
    /// learned from the server's signed replies; `None` until first learned.
    #[serde(default)]
    pub clock_offset_secs: Option<i64>,
}

/// The persisted account list, device record and approval records.
pub struct AccountBook {
    store: GuardedStore,
}

impl AccountBook {
    /// A book over `store`.
    pub fn new(store: Arc<dyn SecureStore>) -> Self {
        Self {
            store: GuardedStore::new(store),
        }
    }

    /// All enrolled accounts, in enrollment order.
    pub fn list(&self) -> Result<Vec<Account>, StoreError> {
        read_accounts(self.store.store())
    }

    /// The account of `username`, if enrolled.
    pub fn get(&self, username: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.list()?.into_iter().find(|a| a.username == username))
    }

    /// Adds `account`; returns the existing one instead when the user is already there.
    pub(crate) fn add(&self, account: Account) -> Result<Result<(), Account>, StoreError> {
        let locked = self.store.lock()?;
        let mut accounts = read_accounts(locked.store())?;
        if let Some(existing) = accounts.iter().find(|a| a.username == account.username) {
            return Ok(Err(existing.clone()));
        }
        accounts.push(account);
        save_accounts(locked.store(), accounts)?;
        Ok(Ok(()))
    }

    /// The account whose credential on the server is `credential_id`, if it is on this
    /// device.
    pub(crate) fn by_credential(&self, credential_id: &str) -> Result<Option<Account>, StoreError> {
        Ok(self
            .list()?
            .into_iter()
            .find(|a| a.credential_id == credential_id))
    }

    /// Removes `username`'s account and its approval record; returns the account, or `None`
    /// when there was none.
    pub(crate) fn remove(&self, username: &str) -> Result<Option<Account>, StoreError> {
        let mut locked = self.store.lock()?;
        let mut accounts = read_accounts(locked.store())?;
        let Some(index) = accounts.iter().position(|a| a.username == username) else {
            return Ok(None);
        };
        let removed = accounts.remove(index);
        save_accounts(locked.store(), accounts)?;
        // The account is gone already; a record left behind is never read again.
        if let Err(e) = locked.remove(&state_key(&removed.credential_id)) {
            tracing::warn!(code = %crate::error::ErrorCode::code(&e), "approval record not removed");
        }
        Ok(Some(removed))
    }

    /// The approval record of the credential `credential_id` (a fresh one when none is
    /// stored yet).
    pub(crate) fn approval_state(&self, credential_id: &str) -> Result<ApprovalState, StoreError> {
        let key = state_key(credential_id);
        Ok(decode::<ApprovalState>(&key, self.store.load(&key)?)?.unwrap_or_default())
    }

    /// Changes the approval record of the credential `credential_id` and saves it before
    /// returning what `change` returned.
    pub(crate) fn update_approval_state<R>(
        &self,
        credential_id: &str,
        change: impl FnOnce(&mut ApprovalState) -> R,
    ) -> Result<R, StoreError> {
        let key = state_key(credential_id);
        let mut locked = self.store.lock()?;
        let mut state = decode::<ApprovalState>(&key, locked.load(&key)?)?.unwrap_or_default();
        let result = change(&mut state);
        save(&mut locked, &key, &state)?;
        Ok(result)
    }

    /// Saves the offline codes' secret of the credential `credential_id` in its approval
    /// record, before the account itself is stored (an account never exists without its
    /// record).
    pub(crate) fn save_codes_secret(
        &self,
        credential_id: &str,
        secret: &[u8],
    ) -> Result<(), StoreError> {
        self.update_approval_state(credential_id, |s| s.codes = Some(CodesState::new(secret)))
    }

    /// The offline codes' secret of the credential `credential_id`, or `None` when it was
    /// activated without one. A secret that does not decode is a damaged record.
    pub(crate) fn codes_secret(
        &self,
        credential_id: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let state = self.approval_state(credential_id)?;
        let Some(codes) = &state.codes else {
            return Ok(None);
        };
        match ibkey_protocol::encoding::unb64(&codes.secret) {
            Some(secret) if !secret.is_empty() => Ok(Some(Zeroizing::new(secret))),
            _ => Err(StoreError::Corrupt {
                key: state_key(credential_id),
            }),
        }
    }

    /// Deletes the approval record of a credential no account holds (an activation that
    /// stopped after saving it).
    pub(crate) fn forget_state(&self, credential_id: &str) {
        let removed = self
            .store
            .lock()
            .and_then(|mut locked| locked.remove(&state_key(credential_id)));
        if let Err(e) = removed {
            tracing::warn!(code = %crate::error::ErrorCode::code(&e), "approval record not removed");
        }
    }

    /// Forgets every account, approval record, the PIN record and the device record (a new
    /// device id comes with the next activation), whatever state the store was found in.
    pub(crate) fn forget_everything(&self, accounts: &[Account]) -> Result<(), StoreError> {
        let mut keys: Vec<String> = accounts
            .iter()
            .map(|a| state_key(&a.credential_id))
            .collect();
        keys.extend([ACCOUNTS_KEY, DEVICE_KEY, crate::gate::RECORD_KEY].map(String::from));
        self.store.reset(&keys)
    }

    /// The plain (unguarded) record `key`: what the phone keeps for its user's information
    /// only (notices, notification times), whose loss costs nothing. Its default when there
    /// is none.
    pub(crate) fn plain_record<T: DeserializeOwned + Default>(
        &self,
        key: &str,
    ) -> Result<T, StoreError> {
        let bytes = self
            .store
            .store()
            .load(key.to_string())?
            .map(Zeroizing::new);
        Ok(decode::<T>(key, bytes)?.unwrap_or_default())
    }

    /// Changes the plain record `key` under the store's lock and saves it before returning
    /// what `change` returned.
    pub(crate) fn update_plain_record<T, R>(
        &self,
        key: &str,
        change: impl FnOnce(&mut T) -> R,
    ) -> Result<R, StoreError>
    where
        T: Serialize + DeserializeOwned + Default,
    {
        let locked = self.store.lock()?;
        let bytes = locked.store().load(key.to_string())?.map(Zeroizing::new);
        let mut record = decode::<T>(key, bytes)?.unwrap_or_default();
        let result = change(&mut record);
        locked
            .store()
            .save(key.to_string(), encode(&record)?.to_vec())?;
        Ok(result)
    }

    /// Whether the store holds none of the records that make the accounts (account list,
    /// device record, PIN record): the app's files are gone, whatever the guard still says.
    pub(crate) fn holds_no_records(&self) -> bool {
        // A record that cannot even be read is there all the same.
        [ACCOUNTS_KEY, DEVICE_KEY, crate::gate::RECORD_KEY]
            .iter()
            .all(|key| matches!(self.store.store().load(key.to_string()), Ok(None)))
    }

    /// The device record, created with a fresh device id on first use.
    pub(crate) fn device(&self) -> Result<DeviceRecord, StoreError> {
        if let Some(record) = decode(DEVICE_KEY, self.store.load(DEVICE_KEY)?)? {
            return Ok(record);
        }
        let mut locked = self.store.lock()?;
        load_or_create_device(&mut locked)
    }

    /// Changes the device record.
    pub(crate) fn update_device(
        &self,
        change: impl FnOnce(&mut DeviceRecord),
    ) -> Result<(), StoreError> {
        let mut locked = self.store.lock()?;
        let mut record = load_or_create_device(&mut locked)?;
        change(&mut record);
        save(&mut locked, DEVICE_KEY, &record)
    }
}

/// The device record, made (with a fresh device id) and saved when there is none.
fn load_or_create_device(locked: &mut Locked<'_>) -> Result<DeviceRecord, StoreError> {
    if let Some(record) = decode(DEVICE_KEY, locked.load(DEVICE_KEY)?)? {
        return Ok(record);
    }
    let mut id = [0u8; 16];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| StoreError::WriteFailed {
            reason: "no randomness for the device id".into(),
        })?;
    let record = DeviceRecord {
        device_id: ibkey_protocol::encoding::b64(&id),
        ..DeviceRecord::default()
    };
    save(locked, DEVICE_KEY, &record)?;
    Ok(record)
}

fn read_accounts(store: &dyn SecureStore) -> Result<Vec<Account>, StoreError> {
    let bytes = store.load(ACCOUNTS_KEY.to_string())?.map(Zeroizing::new);
    Ok(decode::<AccountsFile>(ACCOUNTS_KEY, bytes)?
        .map(|f| f.accounts)
        .unwrap_or_default())
}

fn save_accounts(store: &dyn SecureStore, accounts: Vec<Account>) -> Result<(), StoreError> {
    let file = AccountsFile {
        version: FORMAT_VERSION,
        accounts,
    };
    store.save(ACCOUNTS_KEY.to_string(), encode(&file)?.to_vec())
}

fn decode<T: DeserializeOwned>(
    key: &str,
    bytes: Option<Zeroizing<Vec<u8>>>,
) -> Result<Option<T>, StoreError> {
    bytes
        .map(|bytes| serde_json::from_slice(&bytes))
        .transpose()
        .map_err(|_| StoreError::Corrupt {
            key: key.to_string(),
        })
}

fn encode<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    serde_json::to_vec(value)
        .map(Zeroizing::new)
        .map_err(|e| StoreError::WriteFailed {
            reason: e.to_string(),
        })
}

fn save<T: Serialize>(locked: &mut Locked<'_>, key: &str, value: &T) -> Result<(), StoreError> {
    locked.save(key, &encode(value)?)
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::platform::{FileStore, HookedStore, StoreOp};

    /// A book over its own store object on the folder `dir`, whose reads of `key` wait (a
    /// bounded time) for a second reader: two books that do not exclude each other then both
    /// read before either writes, and one update is lost.
    fn racing_book(dir: &Path, key: &'static str, arrived: &Arc<AtomicUsize>) -> AccountBook {
        let arrived = arrived.clone();
        let store = HookedStore::new(Arc::new(FileStore::open(dir).expect("store")), move |op| {
            if op == StoreOp::Load(key) {
                arrived.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_millis(300);
                while arrived.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Ok(())
        });
        AccountBook::new(Arc::new(store))
    }

    fn account(username: &str) -> Account {
        Account {
            username: username.into(),
            server_url: "https://auth.example.com".into(),
            credential_id: format!("cred-{username}"),
            key_alias: format!("key-{username}"),
            enrolled_at: 1_767_225_600,
        }
    }

    #[test]
    fn two_books_on_one_store_lose_no_account_and_no_device_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        AccountBook::new(Arc::new(FileStore::open(dir.path()).expect("store")))
            .device()
            .expect("device record");

        let arrived = Arc::new(AtomicUsize::new(0));
        let (first, second) = (
            racing_book(dir.path(), ACCOUNTS_KEY, &arrived),
            racing_book(dir.path(), ACCOUNTS_KEY, &arrived),
        );
        std::thread::scope(|s| {
            s.spawn(|| first.add(account("alice")).expect("add").expect("new"));
            s.spawn(|| second.add(account("bob")).expect("add").expect("new"));
        });
        let mut names: Vec<String> = first
            .list()
            .expect("list")
            .into_iter()
            .map(|a| a.username)
            .collect();
        names.sort();
        assert_eq!(names, ["alice", "bob"]);

        let arrived = Arc::new(AtomicUsize::new(0));
        let (first, second) = (
            racing_book(dir.path(), DEVICE_KEY, &arrived),
            racing_book(dir.path(), DEVICE_KEY, &arrived),
        );
        std::thread::scope(|s| {
            s.spawn(|| {
                first
                    .update_device(|d| d.clock_offset_secs = Some(42))
                    .expect("update")
            });
            s.spawn(|| {
                second
                    .update_device(|d| d.last_activated_code = Some("abc".into()))
                    .expect("update")
            });
        });
        let device = first.device().expect("device");
        assert_eq!(device.clock_offset_secs, Some(42));
        assert_eq!(device.last_activated_code.as_deref(), Some("abc"));
    }
}
