//! The exported [`Authenticator`]: the core's authenticator over the shell's services.

use std::sync::Arc;

use ibkey_core::activation::{ActivationError, ActivationOutcome, ActivationRequest};
use ibkey_core::approval::{ApprovalError, ApprovalOutcome, LoginChallenge, NumberCheck};
use ibkey_core::codes::{CodesError, OfflineResponse, TimeCode};
use ibkey_core::gate::{GateError, PinLockout};
use ibkey_core::lifecycle::{
    DoctorReport, IncomingNotification, MoveNotice, NotificationSettings, RecoveryError,
    RecoveryOffer, TestNotification,
};
use ibkey_core::platform::StoreError;
use ibkey_core::platform::{Clock, HttpTransport, KeyVault, Platform, SecureStore, UserVerifier};
use ibkey_core::{Account, AccountsError, AuthenticatorConfig};

use crate::diagnostics::Diagnostics;

/// The authenticator core for one app install: activation, login approval, offline codes, the
/// enrolled users, the PIN.
///
/// Make one per app, over the platform's services; it is safe to use from several threads.
#[derive(uniffi::Object)]
pub struct Authenticator {
    core: ibkey_core::Authenticator,
}

#[uniffi::export]
impl Authenticator {
    /// Builds the authenticator over the platform's services. With `diagnostics`, the
    /// extended log traces its HTTP exchanges. Fails only for an insecure server URL
    /// ([`ActivationError::InsecureServer`]); stored state is read when first needed.
    #[uniffi::constructor(default(diagnostics = None))]
    pub fn new(
        config: AuthenticatorConfig,
        store: Arc<dyn SecureStore>,
        keys: Arc<dyn KeyVault>,
        verifier: Arc<dyn UserVerifier>,
        http: Arc<dyn HttpTransport>,
        diagnostics: Option<Arc<Diagnostics>>,
    ) -> Result<Arc<Self>, ActivationError> {
        let http = match diagnostics {
            Some(diagnostics) => diagnostics.core.recording_transport(http),
            None => http,
        };
        let platform = Platform {
            store,
            keys,
            verifier,
            http,
            clock: phone_clock(),
        };
        let core = ibkey_core::Authenticator::new(config, platform)?;
        Ok(Arc::new(Authenticator { core }))
    }

    /// Activates from the text of a scanned QR code: checks it, asks the user to verify,
    /// makes and registers the device key, stores the account.
    pub async fn activate_from_qr(
        &self,
        payload: String,
    ) -> Result<ActivationOutcome, ActivationError> {
        self.core.activate_from_qr(&payload).await
    }

    /// Activates from a session ID typed by the user. Typos are caught before any network
    /// call.
    pub async fn activate_with_session_id(
        &self,
        session_id: String,
    ) -> Result<ActivationOutcome, ActivationError> {
        self.core.activate_with_session_id(&session_id).await
    }

    /// Reads a scanned QR payload and checks it (form, server, signature, expiry, already
    /// enrolled) without activating, so the app can show whom it would enroll.
    pub async fn inspect_qr(&self, payload: String) -> Result<ActivationRequest, ActivationError> {
        self.core.inspect_qr(&payload).await
    }

    /// Checks a session ID as typed, on the device: length, characters and the check
    /// character of each group. Useful while the user types.
    pub fn check_session_id(&self, session_id: String) -> Result<(), ActivationError> {
        self.core.check_session_id(&session_id)
    }

    /// The users enrolled on this device, in enrollment order.
    pub fn accounts(&self) -> Result<Vec<Account>, AccountsError> {
        self.core.accounts()
    }

    /// The account of `username`, if enrolled here.
    pub fn account(&self, username: String) -> Result<Option<Account>, AccountsError> {
        self.core.account(&username)
    }

    /// Removes `username` from this device: revokes the credential on the server, then
    /// deletes the account and its key. When the server cannot be reached nothing changes.
    pub async fn remove_account(&self, username: String) -> Result<Account, AccountsError> {
        self.core.remove_account(&username).await
    }

    /// Resets this device after `STORE_TAMPERED` or `GATE_ATTEMPTS_EXHAUSTED`: revokes what it
    /// can on the server, deletes the keys, forgets every account and the PIN; returns the
    /// users removed, who activate again.
    pub async fn reset(&self) -> Result<Vec<String>, AccountsError> {
        self.core.reset().await
    }

    /// Reads a login notification's data (the JSON payload, or the bare signed challenge):
    /// checks the server's signature, the expiry and that the login is for a user of this
    /// device, and gives what to show.
    pub async fn read_push(&self, payload: Vec<u8>) -> Result<LoginChallenge, ApprovalError> {
        self.core.read_push(payload).await
    }

    /// Reads any notification's data: a login (as `read_push`) or the notification doctor's
    /// test notification (its arrival is noted for the doctor).
    pub async fn read_notification(
        &self,
        payload: Vec<u8>,
    ) -> Result<IncomingNotification, ApprovalError> {
        self.core.read_notification(payload).await
    }

    /// The accounts this phone forgot because their users moved IB Key to another phone,
    /// each with what to tell the user ("IB Key for alice was moved to 'Pixel 9' on …").
    /// Returned once: show them when they come.
    pub fn take_move_notices(&self) -> Result<Vec<MoveNotice>, StoreError> {
        self.core.take_move_notices()
    }

    /// After a reinstall or lost data: finds the device keys the platform kept, proves them
    /// to the server and returns the accounts it offers to restore (a code is sent to each
    /// such user by e-mail or SMS). `NothingToRecover` points to activation; a damaged store
    /// is left untouched (`StoreDamaged`).
    pub async fn find_recoverable_accounts(&self) -> Result<RecoveryOffer, RecoveryError> {
        self.core.find_recoverable_accounts().await
    }

    /// Restores `username` from the last offer with the `code` its user received, after the
    /// PIN (a new one when the old is gone) or biometrics.
    pub async fn recover_account(
        &self,
        username: String,
        code: String,
    ) -> Result<Account, RecoveryError> {
        self.core.recover_account(&username, &code).await
    }

    /// The "notifications do not arrive" checklist: `settings` as the shell read them from
    /// the platform, `push_token` the app's current token (to tell a stale registration).
    #[uniffi::method(default(push_token = None))]
    pub async fn notification_doctor(
        &self,
        settings: NotificationSettings,
        push_token: Option<String>,
    ) -> Result<DoctorReport, ApprovalError> {
        self.core.notification_doctor(settings, push_token).await
    }

    /// Asks the server for a test notification; `read_notification` notes its arrival and
    /// the doctor reports the round trip.
    pub async fn send_test_notification(&self) -> Result<TestNotification, ApprovalError> {
        self.core.send_test_notification().await
    }

    /// Pulls the logins waiting for this device's users (call it when the app opens, so a
    /// lost notification never blocks a login).
    pub async fn pending_logins(&self) -> Result<Vec<LoginChallenge>, ApprovalError> {
        self.core.pending_logins().await
    }

    /// Reads the text of a login page's QR code (a scanner `LoginCode`).
    pub async fn read_login_qr(&self, payload: String) -> Result<LoginChallenge, ApprovalError> {
        self.core.read_login_qr(payload).await
    }

    /// Checks a number the user picked against the login page's; the third wrong pick refuses
    /// the login and tells the server.
    pub async fn check_number(
        &self,
        challenge: LoginChallenge,
        number: u8,
    ) -> Result<NumberCheck, ApprovalError> {
        self.core.check_number(&challenge, number).await
    }

    /// Approves a login: checks the number (when the login page shows one), asks for the PIN
    /// or biometrics, signs everything the user saw and sends it.
    #[uniffi::method(default(number = None))]
    pub async fn approve(
        &self,
        challenge: LoginChallenge,
        number: Option<u8>,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        self.core.approve(&challenge, number).await
    }

    /// Denies a login, optionally reporting it as fraud ("this wasn't me"), which also pauses
    /// login notifications for the user for a while.
    #[uniffi::method(default(report_fraud = false))]
    pub async fn deny(
        &self,
        challenge: LoginChallenge,
        report_fraud: bool,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        self.core.deny(&challenge, report_fraud).await
    }

    /// Tells the server where to send login notifications for every user of this device
    /// (`fcm` or `apns`, and the platform's token); gives how many users were registered.
    pub async fn register_push_token(
        &self,
        platform: String,
        token: String,
    ) -> Result<u32, ApprovalError> {
        self.core.register_push_token(platform, token).await
    }

    /// The 8-digit response to the login page's challenge for `username`, after the PIN or
    /// biometrics; works without a network. A mistyped challenge is caught first.
    pub async fn respond(
        &self,
        username: String,
        challenge: String,
    ) -> Result<OfflineResponse, CodesError> {
        self.core.respond(&username, &challenge).await
    }

    /// The current time-based code for `username`, after the PIN or biometrics; works without
    /// a network, on the phone's clock corrected by what the server's signed times taught it.
    pub async fn time_code(&self, username: String) -> Result<TimeCode, CodesError> {
        self.core.time_code(&username).await
    }

    /// How far the phone's clock is from the server's, in seconds (positive: the phone is
    /// ahead), once learned from the server's signed times.
    pub fn clock_offset_secs(&self) -> Result<Option<i64>, CodesError> {
        self.core.clock_offset_secs()
    }

    /// The running PIN lockout, if any: until when, and how long is left.
    pub fn pin_lockout(&self) -> Result<Option<PinLockout>, GateError> {
        self.core.pin_lockout()
    }

    /// Whether an app PIN has been set on this device.
    pub fn has_pin(&self) -> Result<bool, GateError> {
        self.core.has_pin()
    }
}

/// The phone's clock: the system's.
#[cfg(not(feature = "test-hooks"))]
fn phone_clock() -> Arc<dyn Clock> {
    Arc::new(ibkey_core::platform::SystemClock)
}

/// The phone's clock in test builds: the system's, moved by the tests' skew hook.
#[cfg(feature = "test-hooks")]
fn phone_clock() -> Arc<dyn Clock> {
    Arc::new(crate::test_hooks::SkewedClock)
}
