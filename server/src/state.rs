//! What every request handler shares: the store, the signing key, randomness, the clock, the
//! guess limiter, the offline attempt limiter, the sign-in limiter, the test-push and
//! code-send limiters, the push sender, the notifier of one-time codes, the wake-ups of login status waiters and of the activation page, the portal pages' CSRF key,
//! and the settings taken from [`crate::config::ServerConfig`] at start.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::State;
use ring::hmac;
use ring::rand::SystemRandom;
use tokio::sync::Notify;

use crate::activation_watch::ActivationWatch;
use crate::bundle_store::BundleStore;
use crate::clock::ServerClock;
use crate::db::diagnostics::UploadLimits;
use crate::db::Db;
use crate::keys::ServerKey;
use crate::notifier::Notifier;
use crate::push::PushSender;
use crate::rate_limit::{AttemptLimiter, GuessLimiter, SignInLimiter};

/// Everything the handlers share.
pub(crate) struct AppState {
    /// The database (shared with the recording push sender).
    pub db: Arc<Db>,
    /// The signing key.
    pub key: ServerKey,
    /// Randomness for tokens, ids and signatures.
    pub rng: SystemRandom,
    /// The (injectable) clock.
    pub clock: Arc<dyn ServerClock>,
    /// The wrong-guess limiter for lookups.
    pub limiter: Mutex<GuessLimiter>,
    /// The per-user limiter of wrong offline responses and codes.
    pub offline_limiter: Mutex<AttemptLimiter>,
    /// The limiter of wrong portal passwords, per client and per user.
    pub sign_in_limiter: Mutex<SignInLimiter>,
    /// The limiter of test pushes, per credential.
    pub test_push_limiter: Mutex<AttemptLimiter>,
    /// The limiter of one-time codes sent, per purpose and user.
    pub code_send_limiter: Mutex<AttemptLimiter>,
    /// Base URL put in tickets.
    pub public_url: String,
    /// Ticket lifetime, seconds.
    pub ticket_lifetime: i64,
    /// SHA-256 of the portal password.
    pub password_sha256: [u8; 32],
    /// SHA-256 of the support token.
    pub support_token_sha256: [u8; 32],
    /// The diagnostics uploads and bundles on disk.
    pub bundles: BundleStore,
    /// The limits of diagnostics on disk.
    pub upload_limits: UploadLimits,
    /// Serialises diagnostics completions.
    pub completing: Mutex<()>,
    /// Login challenge lifetime, seconds.
    pub challenge_lifetime: i64,
    /// How long a fraud report mutes the user's pushes, seconds.
    pub fraud_mute: i64,
    /// Where login notifications go.
    pub push: Arc<dyn PushSender>,
    /// How one-time codes of moves and recoveries reach users.
    pub notifier: Arc<dyn Notifier>,
    /// Woken (all waiters) whenever a login is decided, so status long-polls re-read it.
    pub logins_changed: Notify,
    /// Activation outcomes the portal's activation page waits for.
    pub activation_watch: ActivationWatch,
    /// The key the portal pages' CSRF tokens are made with (random at each start).
    pub csrf_key: hmac::Key,
    /// Whether the portal's cookies are marked `Secure` (the server listens off loopback).
    pub secure_cookies: bool,
}

impl AppState {
    /// The limiter (a poisoned lock only means a panic mid-update of counters; take it over).
    pub fn limiter(&self) -> MutexGuard<'_, GuessLimiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The offline attempt limiter (a poisoned lock only means a panic mid-update; take it
    /// over).
    pub fn offline_limiter(&self) -> MutexGuard<'_, AttemptLimiter> {
        self.offline_limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The sign-in limiter (a poisoned lock only means a panic mid-update; take it over).
    pub fn sign_in_limiter(&self) -> MutexGuard<'_, SignInLimiter> {
        self.sign_in_limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The test-push limiter (a poisoned lock only means a panic mid-update; take it over).
    pub fn test_push_limiter(&self) -> MutexGuard<'_, AttemptLimiter> {
        self.test_push_limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The limiter of codes sent (a poisoned lock only means a panic mid-update; take it
    /// over).
    pub fn code_send_limiter(&self) -> MutexGuard<'_, AttemptLimiter> {
        self.code_send_limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The completion lock of diagnostics (it guards no data, so a poisoned one is fine).
    pub fn completing(&self) -> MutexGuard<'_, ()> {
        self.completing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The shared state as a handler extracts it.
pub(crate) type Shared = State<Arc<AppState>>;
