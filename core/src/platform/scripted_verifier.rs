//! A [`UserVerifier`] that answers from a script instead of a person: the stand-in for the
//! PIN pad and biometric prompt in tests, the demo and unattended scripts.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{BiometricOutcome, PinEntry, PinRequest, UserVerifier, VerifierError};

/// Answers PIN and biometric prompts from queues; a standing PIN answers when the PIN queue
/// is empty, and an empty script means the user cancels.
#[derive(Debug, Default)]
pub struct ScriptedVerifier {
    script: Mutex<Script>,
}

#[derive(Debug, Default)]
struct Script {
    pins: VecDeque<PinEntry>,
    standing_pin: Option<String>,
    biometrics: VecDeque<BiometricOutcome>,
    pin_requests: Vec<PinRequest>,
}

impl ScriptedVerifier {
    /// A verifier with an empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier that always types `pin`.
    pub fn always_pin(pin: &str) -> Self {
        let verifier = Self::new();
        verifier.set_standing_pin(Some(pin));
        verifier
    }

    /// Sets (or clears) the PIN typed whenever the queue is empty.
    pub fn set_standing_pin(&self, pin: Option<&str>) {
        self.script().standing_pin = pin.map(str::to_string);
    }

    /// Queues one PIN entry.
    pub fn push_pin(&self, pin: &str) {
        self.script().pins.push_back(PinEntry::Entered {
            pin: pin.as_bytes().to_vec(),
        });
    }

    /// Queues a cancel at the PIN pad.
    pub fn push_pin_cancel(&self) {
        self.script().pins.push_back(PinEntry::Cancelled);
    }

    /// Queues one biometric outcome.
    pub fn push_biometric(&self, outcome: BiometricOutcome) {
        self.script().biometrics.push_back(outcome);
    }

    /// Every PIN request seen so far, oldest first.
    pub fn pin_requests(&self) -> Vec<PinRequest> {
        self.script().pin_requests.clone()
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl UserVerifier for ScriptedVerifier {
    async fn request_pin(&self, request: PinRequest) -> Result<PinEntry, VerifierError> {
        let mut script = self.script();
        script.pin_requests.push(request);
        if let Some(entry) = script.pins.pop_front() {
            return Ok(entry);
        }
        Ok(match &script.standing_pin {
            Some(pin) => PinEntry::Entered {
                pin: pin.as_bytes().to_vec(),
            },
            None => PinEntry::Cancelled,
        })
    }

    async fn verify_biometric(&self, _reason: String) -> Result<BiometricOutcome, VerifierError> {
        Ok(self
            .script()
            .biometrics
            .pop_front()
            .unwrap_or(BiometricOutcome::Cancelled))
    }
}
