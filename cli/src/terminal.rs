//! The desktop [`UserVerifier`]: the PIN is typed at the terminal (hidden), or read line by
//! line from standard input for scripts. The desktop has no biometrics.

use std::io::BufRead;

use async_trait::async_trait;
use ibkey_core::platform::{
    BiometricOutcome, PinEntry, PinPurpose, PinRequest, UserVerifier, VerifierError,
};

/// Asks for the PIN on the terminal or reads it from stdin.
pub struct TerminalVerifier {
    from_stdin: bool,
}

impl TerminalVerifier {
    /// A verifier reading from stdin (`true`) or prompting on the terminal.
    pub fn new(from_stdin: bool) -> Self {
        Self { from_stdin }
    }

    fn read_stdin_line() -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    fn prompt(text: &str) -> Option<String> {
        rpassword::prompt_password(text).ok()
    }

    fn ask(&self, request: &PinRequest) -> Option<String> {
        if let Some(reason) = &request.retry_reason {
            eprintln!("{reason}");
        }
        if self.from_stdin {
            return Self::read_stdin_line();
        }
        match request.purpose {
            PinPurpose::Confirm => Self::prompt("PIN: "),
            PinPurpose::Create => loop {
                let first = Self::prompt("Choose a PIN for this device: ")?;
                let second = Self::prompt("Type the same PIN again: ")?;
                if first == second {
                    return Some(first);
                }
                eprintln!("The two PINs differ; choose one again.");
            },
        }
    }
}

#[async_trait]
impl UserVerifier for TerminalVerifier {
    async fn request_pin(&self, request: PinRequest) -> Result<PinEntry, VerifierError> {
        Ok(match self.ask(&request) {
            Some(pin) => PinEntry::Entered {
                pin: pin.into_bytes(),
            },
            None => PinEntry::Cancelled,
        })
    }

    async fn verify_biometric(&self, _reason: String) -> Result<BiometricOutcome, VerifierError> {
        Ok(BiometricOutcome::Unavailable)
    }
}
