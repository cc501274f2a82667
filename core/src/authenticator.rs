//! The [`Authenticator`]: one object per app over the platform's services. It only wires:
//! activation lives in [`crate::activation`], the account list and removal in
//! [`crate::accounts`], the PIN in [`crate::gate`], all running on this device's state
//! (`device.rs`).

use crate::accounts::AccountsError;
use crate::activation::{ActivationError, ActivationOutcome, ActivationRequest};
use crate::device::{AuthenticatorConfig, Device};
use crate::gate::{GateError, PinLockout};
use crate::platform::Platform;
use crate::Account;

/// The authenticator core for one app install.
pub struct Authenticator {
    device: Device,
}

impl Authenticator {
    /// Builds the authenticator over the platform's services. Fails only for an insecure
    /// server URL; stored state is read when first needed.
    pub fn new(config: AuthenticatorConfig, platform: Platform) -> Result<Self, ActivationError> {
        Ok(Self {
            device: Device::new(config, platform)?,
        })
    }

    /// Checks a session ID as typed, on the device: length, characters and the check
    /// character of each group. Useful while the user types.
    pub fn check_session_id(&self, typed: &str) -> Result<(), ActivationError> {
        self.device.check_session_id(typed)
    }

    /// Reads a scanned QR payload and checks it (form, server, signature, expiry, already
    /// enrolled) without activating, so the app can show whom it would enroll.
    pub async fn inspect_qr(&self, payload: &str) -> Result<ActivationRequest, ActivationError> {
        self.device.inspect_qr(payload).await
    }

    /// Activates from the text of a scanned QR code: checks it, asks the user to verify,
    /// makes and registers the device key, stores the account.
    pub async fn activate_from_qr(
        &self,
        payload: &str,
    ) -> Result<ActivationOutcome, ActivationError> {
        self.device.activate_from_qr(payload).await
    }

    /// Activates from a session ID typed by the user. Typos are caught before any network call.
    pub async fn activate_with_session_id(
        &self,
        typed: &str,
    ) -> Result<ActivationOutcome, ActivationError> {
        self.device.activate_with_session_id(typed).await
    }

    /// The users enrolled on this device, in enrollment order.
    pub fn accounts(&self) -> Result<Vec<Account>, AccountsError> {
        Ok(self.device.book.list()?)
    }

    /// The account of `username`, if enrolled here.
    pub fn account(&self, username: &str) -> Result<Option<Account>, AccountsError> {
        Ok(self.device.book.get(username)?)
    }

    /// Removes `username` from this device once the user confirms (PIN or biometrics):
    /// revokes the credential on the server, then deletes the account and its key. When the
    /// server cannot be reached nothing changes.
    pub async fn remove_account(&self, username: &str) -> Result<Account, AccountsError> {
        self.device.remove_account(username).await
    }

    /// The running PIN lockout, if any: until when, and how long is left.
    pub fn pin_lockout(&self) -> Result<Option<PinLockout>, GateError> {
        self.device.gate.lockout()
    }

    /// Whether an app PIN has been set on this device.
    pub fn has_pin(&self) -> Result<bool, GateError> {
        self.device.gate.has_pin()
    }
}
