//! [`MemoryStore`]: a [`SecureStore`] in memory, for benchmarks, examples and tests that
//! measure or exercise something other than the disk.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::{SecureStore, StoreError};

/// A [`SecureStore`] that keeps its values in memory and forgets them when dropped. Its lock
/// is shared by the threads of this process only.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    unlocked: Condvar,
}

#[derive(Debug, Default)]
struct State {
    values: HashMap<String, Vec<u8>>,
    generation: u64,
    locked: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SecureStore for MemoryStore {
    fn load(&self, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().values.get(&key).cloned())
    }

    fn save(&self, key: String, value: Vec<u8>) -> Result<(), StoreError> {
        self.state().values.insert(key, value);
        Ok(())
    }

    fn remove(&self, key: String) -> Result<(), StoreError> {
        self.state().values.remove(&key);
        Ok(())
    }

    fn generation(&self) -> Result<u64, StoreError> {
        Ok(self.state().generation)
    }

    fn raise_generation(&self, generation: u64) -> Result<(), StoreError> {
        let mut state = self.state();
        if generation < state.generation {
            return Err(StoreError::WriteFailed {
                reason: "the store's generation cannot go down".into(),
            });
        }
        state.generation = generation;
        Ok(())
    }

    fn lock(&self) -> Result<(), StoreError> {
        let mut state = self.state();
        while state.locked {
            state = self
                .unlocked
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.locked = true;
        Ok(())
    }

    fn unlock(&self) -> Result<(), StoreError> {
        self.state().locked = false;
        self.unlocked.notify_one();
        Ok(())
    }
}
