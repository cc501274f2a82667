//! How the CLI reports a failure: the stable code and the human message, exit code 1.

use std::fmt;

use ibkey_core::ErrorCode;

/// A failure to show the user.
#[derive(Debug)]
pub struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    /// A failure of the CLI itself (files, arguments), not of the core.
    pub fn cli(message: impl Into<String>) -> Self {
        Self {
            code: "CLI",
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error [{}]: {}", self.code, self.message)
    }
}

impl<E: ErrorCode + fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        let code = error.code();
        let mut message = error.to_string();
        // On the desktop, the user is the app's publisher too.
        if code.ends_with("_SERVER_KEY_NOT_CONFIGURED") {
            message.push_str(" On this computer: pass --server-key with the server's key (its server-key.pub), or use the --data-dir of the reference server.");
        }
        Self { code, message }
    }
}
