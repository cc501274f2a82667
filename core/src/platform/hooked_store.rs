//! [`HookedStore`]: a [`SecureStore`] that shows each operation to a hook before doing it, for
//! tests that make a store fail, crash or race at a chosen point.

use std::sync::Arc;

use super::{SecureStore, StoreError};

/// A store operation, as a [`HookedStore`]'s hook sees it before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp<'a> {
    /// `load(key)`.
    Load(&'a str),
    /// `save(key, value)`.
    Save(&'a str, &'a [u8]),
    /// `remove(key)`.
    Remove(&'a str),
    /// `raise_generation(generation)`.
    RaiseGeneration(u64),
}

/// The hook: an error it returns is the operation's error, and the operation is not run.
pub type StoreHook = dyn Fn(StoreOp<'_>) -> Result<(), StoreError> + Send + Sync;

/// Wraps a store, running a hook before each load, save, removal and generation raise (the
/// lock and reading the generation pass straight through). For tests.
pub struct HookedStore {
    inner: Arc<dyn SecureStore>,
    hook: Box<StoreHook>,
}

impl HookedStore {
    /// `inner` with `hook` run before its operations.
    pub fn new(
        inner: Arc<dyn SecureStore>,
        hook: impl Fn(StoreOp<'_>) -> Result<(), StoreError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            hook: Box::new(hook),
        }
    }

    /// The wrapped store, to look behind the hook.
    pub fn inner(&self) -> &dyn SecureStore {
        &*self.inner
    }
}

impl SecureStore for HookedStore {
    fn load(&self, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        (self.hook)(StoreOp::Load(&key))?;
        self.inner.load(key)
    }

    fn save(&self, key: String, value: Vec<u8>) -> Result<(), StoreError> {
        (self.hook)(StoreOp::Save(&key, &value))?;
        self.inner.save(key, value)
    }

    fn remove(&self, key: String) -> Result<(), StoreError> {
        (self.hook)(StoreOp::Remove(&key))?;
        self.inner.remove(key)
    }

    fn generation(&self) -> Result<u64, StoreError> {
        self.inner.generation()
    }

    fn raise_generation(&self, generation: u64) -> Result<(), StoreError> {
        (self.hook)(StoreOp::RaiseGeneration(generation))?;
        self.inner.raise_generation(generation)
    }

    fn lock(&self) -> Result<(), StoreError> {
        self.inner.lock()
    }

    fn unlock(&self) -> Result<(), StoreError> {
        self.inner.unlock()
    }
}
