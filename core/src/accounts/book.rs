//! Reading and writing the account list, the device record and each account's approval
//! record (with its offline codes' secret).

use std::sync::{Arc, Mutex, MutexGuard};

use ring::rand::{SecureRandom, SystemRandom};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zeroize::Zeroizing;

use super::state::{state_key, ApprovalState, CodesState};
use super::Account;
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

/// The persisted account list. Read-modify-write cycles are serialised by a lock.
pub struct AccountBook {
    store: Arc<dyn SecureStore>,
    write_lock: Mutex<()>,
}

impl AccountBook {
    /// A book over `store`.
    pub fn new(store: Arc<dyn SecureStore>) -> Self {
        Self {
            store,
            write_lock: Mutex::new(()),
        }
    }

    /// All enrolled accounts, in enrollment order.
    pub fn list(&self) -> Result<Vec<Account>, StoreError> {
        Ok(self
            .load::<AccountsFile>(ACCOUNTS_KEY)?
            .map(|f| f.accounts)
            .unwrap_or_default())
    }

    /// The account of `username`, if enrolled.
    pub fn get(&self, username: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.list()?.into_iter().find(|a| a.username == username))
    }

    /// Adds `account`; returns the existing one instead when the user is already there.
    pub(crate) fn add(&self, account: Account) -> Result<Result<(), Account>, StoreError> {
        let _guard = self.lock();
        let mut accounts = self.list()?;
        if let Some(existing) = accounts.iter().find(|a| a.username == account.username) {
            return Ok(Err(existing.clone()));
        }
        accounts.push(account);
        self.save_accounts(accounts)?;
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
        let _guard = self.lock();
        let mut accounts = self.list()?;
        let Some(index) = accounts.iter().position(|a| a.username == username) else {
            return Ok(None);
        };
        let removed = accounts.remove(index);
        self.save_accounts(accounts)?;
        // The account is gone already; a record left behind is never read again.
        if let Err(e) = self.store.remove(state_key(&removed.credential_id)) {
            tracing::warn!(code = %crate::error::ErrorCode::code(&e), "approval record not removed");
        }
        Ok(Some(removed))
    }

    /// The approval record of the credential `credential_id` (a fresh one when none is
    /// stored yet).
    pub(crate) fn approval_state(&self, credential_id: &str) -> Result<ApprovalState, StoreError> {
        Ok(self
            .load::<ApprovalState>(&state_key(credential_id))?
            .unwrap_or_default())
    }

    /// Changes the approval record of the credential `credential_id` and saves it before
    /// returning what `change` returned.
    pub(crate) fn update_approval_state<R>(
        &self,
        credential_id: &str,
        change: impl FnOnce(&mut ApprovalState) -> R,
    ) -> Result<R, StoreError> {
        let _guard = self.lock();
        let mut state = self.approval_state(credential_id)?;
        let result = change(&mut state);
        self.save(&state_key(credential_id), &state)?;
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
        if let Err(e) = self.store.remove(state_key(credential_id)) {
            tracing::warn!(code = %crate::error::ErrorCode::code(&e), "approval record not removed");
        }
    }

    /// The device record, created with a fresh device id on first use.
    pub(crate) fn device(&self) -> Result<DeviceRecord, StoreError> {
        let _guard = self.lock();
        if let Some(record) = self.load::<DeviceRecord>(DEVICE_KEY)? {
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
        self.save(DEVICE_KEY, &record)?;
        Ok(record)
    }

    /// Changes the device record.
    pub(crate) fn update_device(
        &self,
        change: impl FnOnce(&mut DeviceRecord),
    ) -> Result<(), StoreError> {
        let mut record = self.device()?;
        let _guard = self.lock();
        change(&mut record);
        self.save(DEVICE_KEY, &record)
    }

    fn save_accounts(&self, accounts: Vec<Account>) -> Result<(), StoreError> {
        self.save(
            ACCOUNTS_KEY,
            &AccountsFile {
                version: FORMAT_VERSION,
                accounts,
            },
        )
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.store.load(key.to_string())? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|_| StoreError::Corrupt {
                        key: key.to_string(),
                    })
            }
        }
    }

    fn save<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::WriteFailed {
            reason: e.to_string(),
        })?;
        self.store.save(key.to_string(), bytes)
    }
}
