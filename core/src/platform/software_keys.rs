//! The desktop and test [`KeyVault`]: ECDSA P-256 keys made and used in software with
//! `ring`, kept as PKCS#8 documents in a [`SecureStore`] under `key/<alias>`, with the list of
//! aliases under `keys` (an alias is listed before its key is saved and after it is removed, so
//! a crash leaves at most a listed alias without a key, which listing skips). It stands in
//! for the Android Keystore and the iOS Secure Enclave, which keep the private key in
//! hardware; here it is only as safe as the store. A key is parsed and checked once, then kept
//! ready in memory for the vault's life (as an agent process would), until it is deleted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use zeroize::Zeroizing;

use super::{KeyError, KeyVault, SecureStore, StoredKey};

/// The store key of the alias list.
const INDEX_KEY: &str = "keys";

/// Software ECDSA P-256 device keys stored in a [`SecureStore`].
pub struct SoftwareKeyVault {
    store: Arc<dyn SecureStore>,
    rng: SystemRandom,
    /// Keys already parsed and checked, by alias.
    ready: Mutex<HashMap<String, Arc<EcdsaKeyPair>>>,
    /// Held while the alias list is read and rewritten.
    index: Mutex<()>,
}

impl std::fmt::Debug for SoftwareKeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareKeyVault").finish_non_exhaustive()
    }
}

impl SoftwareKeyVault {
    /// A vault that keeps its keys in `store`.
    pub fn new(store: Arc<dyn SecureStore>) -> Self {
        SoftwareKeyVault {
            store,
            rng: SystemRandom::new(),
            ready: Mutex::new(HashMap::new()),
            index: Mutex::new(()),
        }
    }

    fn store_key(alias: &str) -> String {
        format!("key/{alias}")
    }

    /// The aliases listed in the store.
    fn aliases(&self) -> Result<Vec<String>, KeyError> {
        match self.store.load(INDEX_KEY.to_string())? {
            None => Ok(Vec::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| KeyError::Failed {
                reason: "the list of device keys is damaged".to_string(),
            }),
        }
    }

    /// Saves the alias list after `change`.
    fn update_aliases(&self, change: impl FnOnce(&mut Vec<String>)) -> Result<(), KeyError> {
        let _index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        let mut aliases = self.aliases()?;
        change(&mut aliases);
        let bytes = serde_json::to_vec(&aliases).map_err(|e| KeyError::Failed {
            reason: e.to_string(),
        })?;
        Ok(self.store.save(INDEX_KEY.to_string(), bytes)?)
    }

    fn ready(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<EcdsaKeyPair>>> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key under `alias`, parsed from the store the first time it is used.
    fn loaded(&self, alias: &str) -> Result<Arc<EcdsaKeyPair>, KeyError> {
        if let Some(pair) = self.ready().get(alias) {
            return Ok(pair.clone());
        }
        let pkcs8 = Zeroizing::new(
            self.store
                .load(Self::store_key(alias))?
                .ok_or(KeyError::NotFound)?,
        );
        let pair = Arc::new(self.key_pair(&pkcs8)?);
        self.ready().insert(alias.to_string(), pair.clone());
        Ok(pair)
    }

    fn key_pair(&self, pkcs8: &[u8]) -> Result<EcdsaKeyPair, KeyError> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &self.rng).map_err(|_| {
            KeyError::Failed {
                reason: "the stored device key is damaged".to_string(),
            }
        })
    }
}

impl KeyVault for SoftwareKeyVault {
    /// Makes a new key. An existing key under `alias` is never replaced (that would lose an
    /// enrolled user's key): delete it first. Fails with [`KeyError::Failed`] then.
    fn create_key(&self, alias: String) -> Result<Vec<u8>, KeyError> {
        let store_key = Self::store_key(&alias);
        if self.store.load(store_key.clone())?.is_some() {
            return Err(KeyError::Failed {
                reason: "a device key with this alias already exists".to_string(),
            });
        }
        // `ring`'s own document cannot be wiped (it lives only in this statement); our copy
        // is wiped by the store once saved.
        let mut pkcs8 = Zeroizing::new(
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
                .map_err(|_| KeyError::Failed {
                    reason: "the device key could not be generated".to_string(),
                })?
                .as_ref()
                .to_vec(),
        );
        let public_key = self.key_pair(&pkcs8)?.public_key().as_ref().to_vec();
        self.update_aliases(|aliases| {
            if !aliases.contains(&alias) {
                aliases.push(alias.clone());
            }
        })?;
        self.store.save(store_key, std::mem::take(&mut *pkcs8))?;
        Ok(public_key)
    }

    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, KeyError> {
        let pair = self.loaded(&alias)?;
        let signature = pair
            .sign(&self.rng, &message)
            .map_err(|_| KeyError::Failed {
                reason: "signing failed".to_string(),
            })?;
        Ok(signature.as_ref().to_vec())
    }

    fn delete_key(&self, alias: String) -> Result<(), KeyError> {
        self.ready().remove(&alias);
        self.store.remove(Self::store_key(&alias))?;
        self.update_aliases(|aliases| aliases.retain(|a| *a != alias))
    }

    fn list_keys(&self) -> Result<Vec<StoredKey>, KeyError> {
        let mut found = Vec::new();
        for alias in self.aliases()? {
            match self.loaded(&alias) {
                Ok(pair) => found.push(StoredKey {
                    public_key: pair.public_key().as_ref().to_vec(),
                    alias,
                }),
                Err(KeyError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use super::*;
    use crate::platform::FileStore;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

    fn vault() -> (tempfile::TempDir, Arc<FileStore>, SoftwareKeyVault) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(FileStore::open(dir.path()).expect("open"));
        let vault = SoftwareKeyVault::new(store.clone());
        (dir, store, vault)
    }

    #[test]
    fn signs_and_the_public_key_verifies() {
        let (_dir, store, vault) = vault();
        let pk = vault.create_key("alice-3f2a".into()).expect("create");
        assert_eq!(pk.len(), 65);
        assert_eq!(pk[0], 0x04);
        assert!(store.load("key/alice-3f2a".into()).expect("load").is_some());

        let message = b"approve login 42".to_vec();
        let sig = vault
            .sign("alice-3f2a".into(), message.clone())
            .expect("sign");
        let verifier = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &pk);
        verifier.verify(&message, &sig).expect("signature verifies");
        assert!(verifier.verify(b"approve login 43", &sig).is_err());

        // A second vault on the same store (an app restart) signs with the same key.
        let again = SoftwareKeyVault::new(store);
        let sig2 = again
            .sign("alice-3f2a".into(), message.clone())
            .expect("sign");
        verifier
            .verify(&message, &sig2)
            .expect("signature verifies");
    }

    #[test]
    fn keys_are_distinct_and_not_replaced() {
        let (_dir, _store, vault) = vault();
        let a = vault.create_key("a".into()).expect("create");
        let b = vault.create_key("b".into()).expect("create");
        assert_ne!(a, b);
        assert!(matches!(
            vault.create_key("a".into()),
            Err(KeyError::Failed { .. })
        ));
        let sig = vault.sign("a".into(), b"m".to_vec()).expect("sign");
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &a)
            .verify(b"m", &sig)
            .expect("still the first key");
    }

    #[test]
    fn missing_and_deleted_keys_are_not_found() {
        let (_dir, store, vault) = vault();
        assert_eq!(
            vault.sign("nobody".into(), b"m".to_vec()),
            Err(KeyError::NotFound)
        );
        vault.create_key("bob".into()).expect("create");
        vault.delete_key("bob".into()).expect("delete");
        assert_eq!(
            vault.sign("bob".into(), b"m".to_vec()),
            Err(KeyError::NotFound)
        );
        assert_eq!(store.load("key/bob".into()).expect("load"), None);
        vault
            .delete_key("bob".into())
            .expect("deleting a missing key");
        // After deleting, the alias can be used again.
        vault.create_key("bob".into()).expect("create again");
    }

    #[test]
    fn lists_the_keys_it_holds_and_skips_a_listed_alias_without_a_key() {
        let (_dir, store, vault) = vault();
        let a = vault.create_key("a".into()).expect("create");
        let b = vault.create_key("b".into()).expect("create");
        vault.create_key("c".into()).expect("create");
        vault.delete_key("c".into()).expect("delete");
        // A crash between listing an alias and saving its key.
        store.remove("key/b".into()).expect("remove");
        let listed = SoftwareKeyVault::new(store).list_keys().expect("list");
        assert_eq!(
            listed,
            vec![StoredKey {
                alias: "a".into(),
                public_key: a.clone(),
            }]
        );
        assert_ne!(a, b);
    }

    #[test]
    fn a_damaged_stored_key_fails_cleanly() {
        let (_dir, store, vault) = vault();
        store
            .save("key/broken".into(), b"not pkcs8".to_vec())
            .expect("save");
        assert!(matches!(
            vault.sign("broken".into(), b"m".to_vec()),
            Err(KeyError::Failed { .. })
        ));
    }
}
