//! User verification before anything is enrolled or approved: the app PIN (rules, slow
//! salted hash, attempt counter, growing delays) or the platform's biometrics.
//!
//! A [`Gate`] asks through the shell's [`UserVerifier`] and keeps one guarded record (see
//! `crate::guarded`) in the [`SecureStore`] under the key `gate`: the PIN's PBKDF2 hash, the
//! count of wrong PINs in a row and when the last one was entered. Each PIN check takes the
//! store's lock (so gates on one store, in one process or several, count every attempt),
//! loads the record, refuses at once while a delay runs, counts the attempt and saves it
//! *before* comparing (so killing the app mid-check still counts it), and resets the count
//! when the PIN matches. Delays (see [`lockout_delay_secs`]) run on the device's boot clock,
//! so changing the phone's time does not shorten them, and a reboot restarts them. After
//! [`MAX_WRONG_PINS`] wrong PINs in a row no PIN is compared again. A deleted record, or an
//! older copy put back to reset the counter, is refused ([`StoreError::Tampered`]).
//!
//! A new PIN chosen during an activation is only saved by [`Gate::commit`], once the
//! activation succeeded, so a failed activation leaves no PIN behind.

mod error;
mod hash;
mod policy;
mod record;
#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests;

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::guarded::{GuardedStore, Locked};
use crate::platform::{
    BiometricOutcome, Clock, PinEntry, PinPurpose, PinRequest, SecureStore, StoreError,
    UserVerifier, VerificationMethod,
};

pub use error::GateError;
pub use policy::PinPolicy;
pub use record::lockout_delay_secs;

use hash::{Pin, PinHash};
use record::{tries_before_delay, GateRecord, Moment};

/// The store key of the gate record.
pub(crate) const RECORD_KEY: &str = "gate";
/// How many times a new PIN is asked for before giving up: once, and again up to 3 times.
const CREATE_ASKS: usize = 4;
/// Wrong PINs in a row after which the accounts are disabled instead of delayed (the cap of
/// NIST SP 800-63B). With the delays, reaching it takes more than 15 days.
pub const MAX_WRONG_PINS: u32 = 100;

/// A running delay after too many wrong PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PinLockout {
    /// When it ends, wall time in milliseconds since the Unix epoch (for display).
    pub until_unix_ms: i64,
    /// Seconds left, rounded up.
    pub remaining_secs: u64,
}

/// Proof that the user was just verified, from [`Gate::verify_user`]. When it carries a newly
/// chosen PIN, [`Gate::commit`] saves that PIN. Its `Debug` shows no hash.
pub struct Verification {
    method: VerificationMethod,
    new_pin: Option<PinHash>,
}

impl Verification {
    /// How the user was verified.
    pub fn method(&self) -> VerificationMethod {
        self.method
    }

    /// Whether the user chose a new PIN, which [`Gate::commit`] will save.
    pub fn creates_pin(&self) -> bool {
        self.new_pin.is_some()
    }
}

impl std::fmt::Debug for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verification")
            .field("method", &self.method)
            .field("creates_pin", &self.creates_pin())
            .finish()
    }
}

/// Verifies the user with the app PIN or the platform's biometrics.
///
/// Several `Gate`s may share one store (an app restart makes a new one, an app extension runs
/// in a process of its own): all state is in the store, and every change of it is made under
/// the store's lock.
pub struct Gate {
    store: GuardedStore,
    clock: Arc<dyn Clock>,
    verifier: Arc<dyn UserVerifier>,
    method: VerificationMethod,
    policy: PinPolicy,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("method", &self.method)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// A gate verifying with `method`, keeping its record in `store`.
    pub fn new(
        store: Arc<dyn SecureStore>,
        clock: Arc<dyn Clock>,
        verifier: Arc<dyn UserVerifier>,
        method: VerificationMethod,
        policy: PinPolicy,
    ) -> Self {
        Gate {
            store: GuardedStore::new(store),
            clock,
            verifier,
            method,
            policy,
        }
    }

    /// How this gate verifies the user.
    pub fn method(&self) -> VerificationMethod {
        self.method
    }

    /// Whether a PIN has been chosen (and committed) on this device.
    pub fn has_pin(&self) -> Result<bool, GateError> {
        Ok(decode(self.store.load(RECORD_KEY)?)?.pin.is_some())
    }

    /// Asks the user to verify, showing `reason` on the biometric prompt.
    ///
    /// With the PIN method and no PIN yet, asks for a new one ([`PinPurpose::Create`]),
    /// checks it against the rules ([`PinPolicy::check`]) and asks again with the reason
    /// up to 3 times, then fails with [`GateError::PinTooWeak`]. The new PIN is hashed but
    /// only saved by [`Gate::commit`]. With a PIN set, asks for it
    /// ([`PinPurpose::Confirm`]), and after a wrong one asks again saying how many tries are
    /// left, until it matches, the user cancels ([`GateError::Cancelled`]) or a delay
    /// starts ([`GateError::LockedOut`]); while a delay runs it fails at once, without
    /// asking.
    ///
    /// With the biometric method, runs the platform's check and maps its outcome to a
    /// [`GateError`].
    pub async fn verify_user(&self, reason: &str) -> Result<Verification, GateError> {
        match self.method {
            VerificationMethod::Biometric => self.verify_biometric(reason).await,
            VerificationMethod::Pin => {
                if self.has_pin()? {
                    self.confirm_pin().await
                } else {
                    self.create_pin().await
                }
            }
        }
    }

    /// Saves the new PIN if `verification` created one (a verification without one is
    /// accepted and changes nothing). Call it once what the verification was for succeeded.
    pub fn commit(&self, verification: Verification) -> Result<(), GateError> {
        let Some(new_pin) = verification.new_pin else {
            return Ok(());
        };
        let mut locked = self.store.lock()?;
        let mut record = load_record(&locked)?;
        record.pin = Some(new_pin);
        record.failed_attempts = 0;
        record.last_failure = None;
        save_record(&mut locked, &record)?;
        tracing::info!("app PIN set");
        Ok(())
    }

    /// Checks one PIN entry, with the same counter and delays as [`Gate::verify_user`].
    ///
    /// Fails with [`GateError::LockedOut`] while a delay runs (without comparing) or when
    /// this wrong PIN starts one, [`GateError::WrongPin`] otherwise on a mismatch, and
    /// [`GateError::PinNotSet`] when no PIN was chosen, and [`GateError::AttemptsExhausted`]
    /// (without comparing) once [`MAX_WRONG_PINS`] wrong PINs were entered in a row.
    pub fn verify_pin(&self, pin: &[u8]) -> Result<(), GateError> {
        let mut locked = self.store.lock()?;
        let mut record = load_record(&locked)?;
        let Some(stored) = record.pin.clone() else {
            return Err(GateError::PinNotSet);
        };
        if record.failed_attempts >= MAX_WRONG_PINS {
            return Err(GateError::AttemptsExhausted);
        }
        let now = self.now();
        if let (Some(lockout), restarted) = record.running_delay(now) {
            if restarted {
                save_record(&mut locked, &record)?;
            }
            return Err(lockout.into());
        }
        // Count the attempt first: a process killed while comparing has still used it.
        record.failed_attempts = record.failed_attempts.saturating_add(1);
        record.last_failure = Some(now);
        save_record(&mut locked, &record)?;

        if stored.matches(pin) {
            record.failed_attempts = 0;
            record.last_failure = None;
            save_record(&mut locked, &record)?;
            return Ok(());
        }
        if record.failed_attempts >= MAX_WRONG_PINS {
            tracing::warn!("too many wrong app PINs: the accounts are disabled");
            return Err(GateError::AttemptsExhausted);
        }
        tracing::info!(failed_attempts = record.failed_attempts, "wrong app PIN");
        if let (Some(lockout), _) = record.running_delay(now) {
            return Err(lockout.into());
        }
        Err(GateError::WrongPin {
            tries_before_delay: tries_before_delay(record.failed_attempts),
        })
    }

    /// The delay running now after too many wrong PINs, if any.
    pub fn lockout(&self) -> Result<Option<PinLockout>, GateError> {
        let mut locked = self.store.lock()?;
        let mut record = load_record(&locked)?;
        if record.failed_attempts >= MAX_WRONG_PINS {
            return Err(GateError::AttemptsExhausted);
        }
        let (lockout, restarted) = record.running_delay(self.now());
        if restarted {
            save_record(&mut locked, &record)?;
        }
        Ok(lockout)
    }

    /// Whether `pin` may be chosen as a new PIN under this gate's policy; see
    /// [`PinPolicy::check`].
    pub fn check_pin_rules(&self, pin: &str) -> Result<(), GateError> {
        self.policy.check(pin)
    }

    async fn create_pin(&self) -> Result<Verification, GateError> {
        let mut retry_reason = None;
        let mut last_error = GateError::Cancelled;
        for _ in 0..CREATE_ASKS {
            let pin = self
                .ask_pin(PinPurpose::Create, retry_reason.take())
                .await?;
            match self.policy.check(pin.as_str()) {
                Ok(()) => {
                    let hash = PinHash::create(&pin, &self.policy)?;
                    return Ok(Verification {
                        method: VerificationMethod::Pin,
                        new_pin: Some(hash),
                    });
                }
                Err(e) => {
                    retry_reason = Some(e.to_string());
                    last_error = e;
                }
            }
        }
        Err(last_error)
    }

    async fn confirm_pin(&self) -> Result<Verification, GateError> {
        if let Some(lockout) = self.lockout()? {
            return Err(lockout.into());
        }
        let mut retry_reason = None;
        loop {
            let pin = self
                .ask_pin(PinPurpose::Confirm, retry_reason.take())
                .await?;
            match self.verify_pin(pin.as_bytes()) {
                Ok(()) => {
                    return Ok(Verification {
                        method: VerificationMethod::Pin,
                        new_pin: None,
                    })
                }
                Err(e @ GateError::WrongPin { .. }) => retry_reason = Some(e.to_string()),
                Err(e) => return Err(e),
            }
        }
    }

    async fn ask_pin(
        &self,
        purpose: PinPurpose,
        retry_reason: Option<String>,
    ) -> Result<Pin, GateError> {
        let request = PinRequest {
            purpose,
            retry_reason,
        };
        let entry = self
            .verifier
            .request_pin(request)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the PIN prompt failed; taken as cancelled");
                PinEntry::Cancelled
            });
        match entry {
            PinEntry::Entered { pin } => Ok(Pin::new(pin)),
            PinEntry::Cancelled => Err(GateError::Cancelled),
        }
    }

    async fn verify_biometric(&self, reason: &str) -> Result<Verification, GateError> {
        let outcome =
            (self.verifier.verify_biometric(reason.to_string()).await).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the biometric prompt failed; taken as cancelled");
                BiometricOutcome::Cancelled
            });
        match outcome {
            BiometricOutcome::Verified => Ok(Verification {
                method: VerificationMethod::Biometric,
                new_pin: None,
            }),
            BiometricOutcome::Cancelled => Err(GateError::Cancelled),
            BiometricOutcome::Failed => Err(GateError::BiometricNotRecognised),
            BiometricOutcome::Unavailable => Err(GateError::BiometricUnavailable),
            BiometricOutcome::LockedOut => Err(GateError::BiometricLockedOut),
            BiometricOutcome::KeysInvalidated => Err(GateError::KeysInvalidated),
        }
    }

    fn now(&self) -> Moment {
        Moment {
            wall_ms: self.clock.now_unix_ms(),
            uptime_ms: self.clock.uptime_ms(),
        }
    }
}

/// The gate record as read (a fresh one when there is none).
fn load_record(locked: &Locked<'_>) -> Result<GateRecord, GateError> {
    decode(locked.load(RECORD_KEY)?)
}

/// Parses a stored gate record.
fn decode(bytes: Option<Zeroizing<Vec<u8>>>) -> Result<GateRecord, GateError> {
    let Some(bytes) = bytes else {
        return Ok(GateRecord::default());
    };
    serde_json::from_slice(&bytes).map_err(|_| GateError::Store {
        error: StoreError::Corrupt {
            key: RECORD_KEY.to_string(),
        },
    })
}

fn save_record(locked: &mut Locked<'_>, record: &GateRecord) -> Result<(), GateError> {
    let bytes =
        Zeroizing::new(
            serde_json::to_vec(record).map_err(|e| StoreError::WriteFailed {
                reason: format!("the PIN record could not be encoded: {e}"),
            })?,
        );
    locked.save(RECORD_KEY, &bytes)?;
    Ok(())
}
