//! The [`Authenticator`]: one object per app over the platform's services. It only wires:
//! activation lives in [`crate::activation`], the account list and removal in
//! [`crate::accounts`], login approval in [`crate::approval`], offline codes in
//! [`crate::codes`], the PIN in [`crate::gate`], all running on this device's state
//! (`device.rs`).

use crate::accounts::AccountsError;
use crate::activation::{ActivationError, ActivationOutcome, ActivationRequest};
use crate::approval::{ApprovalError, ApprovalOutcome, LoginChallenge, NumberCheck};
use crate::codes::{CodesError, OfflineResponse, TimeCode};
use crate::device::{AuthenticatorConfig, Device};
use crate::gate::{GateError, PinLockout};
use crate::lifecycle::{
    DoctorReport, IncomingNotification, MoveNotice, NotificationSettings, RecoveryError,
    RecoveryOffer, TestNotification,
};
use crate::platform::Platform;
use crate::platform::StoreError;
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

    /// Resets this device when its store was found tampered with (`STORE_TAMPERED`) or the
    /// PIN attempts are used up (`GATE_ATTEMPTS_EXHAUSTED`): revokes what it can on the
    /// server, deletes the keys and forgets every account and the PIN. Returns the users
    /// removed, who activate again afterwards.
    pub async fn reset(&self) -> Result<Vec<String>, AccountsError> {
        self.device.reset().await
    }

    /// Reads a login notification's data: the JSON push payload, or the bare `IBK1.` token
    /// (FCM data values arrive as strings). Checks the challenge (signature, server, expiry,
    /// account on this device, not answered yet) without answering it.
    pub async fn read_push(&self, payload: Vec<u8>) -> Result<LoginChallenge, ApprovalError> {
        self.device.read_push(&payload).await
    }

    /// The logins waiting for the users of this device, pulled from the server (so a lost
    /// notification never blocks a login), without those already answered here. Fails only
    /// when no account could be asked.
    pub async fn pending_logins(&self) -> Result<Vec<LoginChallenge>, ApprovalError> {
        self.device.pending_logins().await
    }

    /// Reads any notification's data: a login (checked as [`Authenticator::read_push`]
    /// does) or the notification doctor's test notification, whose arrival is noted.
    pub async fn read_notification(
        &self,
        payload: Vec<u8>,
    ) -> Result<IncomingNotification, ApprovalError> {
        self.device.read_notification(&payload).await
    }

    /// The accounts this phone forgot because their users moved IB Key to another phone
    /// (learned from the server's signed word), oldest first, each with what to tell the
    /// user. They are returned once.
    pub fn take_move_notices(&self) -> Result<Vec<MoveNotice>, StoreError> {
        self.device.take_move_notices()
    }

    /// After a reinstall or a lost account list: proves the device keys that no account here
    /// uses to the server and returns the accounts it offers to restore; the server sends
    /// each such user a one-time code (e-mail or SMS). Fails with
    /// [`RecoveryError::NothingToRecover`] (pointing to activation) when none can be, and
    /// with [`RecoveryError::StoreDamaged`] (changing nothing) when the app's data is damaged.
    pub async fn find_recoverable_accounts(&self) -> Result<RecoveryOffer, RecoveryError> {
        self.device.find_recoverable().await
    }

    /// Restores `username`, offered by the last [`Authenticator::find_recoverable_accounts`],
    /// with the `code` its user received: asks the user to verify (to choose a new PIN when
    /// the old one is gone), then saves the account. Its approvals go on from the server's
    /// counter, and its offline codes get a fresh secret.
    pub async fn recover_account(
        &self,
        username: &str,
        code: &str,
    ) -> Result<Account, RecoveryError> {
        self.device.recover_account(username, code).await
    }

    /// Runs the "notifications do not arrive" checklist: what the shell read from the
    /// platform (`settings`), what the server knows about each account's notifications, the
    /// phone's clock, the last notifications and test notification. `push_token`: the app's
    /// current token, to tell a stale registration. Each check is logged (so diagnostics
    /// bundles carry the report).
    pub async fn notification_doctor(
        &self,
        settings: NotificationSettings,
        push_token: Option<String>,
    ) -> Result<DoctorReport, ApprovalError> {
        self.device
            .notification_doctor(&settings, push_token.as_deref())
            .await
    }

    /// Asks the server to send this phone a test notification; when it arrives,
    /// [`Authenticator::read_notification`] notes how long it took, and the doctor reports it.
    pub async fn send_test_notification(&self) -> Result<TestNotification, ApprovalError> {
        self.device.send_test_notification().await
    }

    /// Reads the text of the login page's QR code, checked like a notification.
    pub async fn read_login_qr(&self, payload: String) -> Result<LoginChallenge, ApprovalError> {
        self.device.read_login_qr(&payload).await
    }

    /// Checks a number the user picked against the login page's. Wrong picks are counted
    /// per challenge (across restarts); the third refuses the login, tells the server, and
    /// fails with [`ApprovalError::NumberMismatchRefused`].
    pub async fn check_number(
        &self,
        challenge: &LoginChallenge,
        number: u8,
    ) -> Result<NumberCheck, ApprovalError> {
        self.device.check_number(challenge, number).await
    }

    /// Approves a login: checks the challenge again and the picked `number` (required when
    /// the challenge has one), asks the user to verify (PIN or biometrics), then signs and
    /// sends the decision.
    pub async fn approve(
        &self,
        challenge: &LoginChallenge,
        number: Option<u8>,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        self.device.approve(challenge, number).await
    }

    /// Refuses a login without asking for verification (refusing must be quick); with
    /// `report_fraud`, reports it as not the user's, which also pauses notifications for a
    /// while.
    pub async fn deny(
        &self,
        challenge: &LoginChallenge,
        report_fraud: bool,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        self.device.deny(challenge, report_fraud).await
    }

    /// Registers this app install's push token (`platform`: `fcm`, `apns` or `webhook`) for
    /// every user of this device; returns how many were registered.
    pub async fn register_push_token(
        &self,
        platform: String,
        token: String,
    ) -> Result<u32, ApprovalError> {
        self.device.register_push_token(&platform, &token).await
    }

    /// The response to the challenge shown on the login page (`challenge` as typed; spaces
    /// and dashes ignored) for `username`, after the PIN or biometrics. Typos are caught
    /// before the user is asked; no network is needed.
    pub async fn respond(
        &self,
        username: &str,
        challenge: &str,
    ) -> Result<OfflineResponse, CodesError> {
        self.device.respond(username, challenge).await
    }

    /// `username`'s current time-based code, after the PIN or biometrics, on the phone's
    /// clock corrected by the offset learned from the server; no network is needed.
    pub async fn time_code(&self, username: &str) -> Result<TimeCode, CodesError> {
        self.device.time_code(username).await
    }

    /// How far the phone's clock is off from the server's, seconds (positive: ahead), as
    /// learned from the server's signed replies; `None` until first learned. Beyond
    /// [`crate::codes::CLOCK_FAR_OFF_SECS`] the app may say "your phone's clock is N minutes
    /// off" (codes are right all the same).
    pub fn clock_offset_secs(&self) -> Result<Option<i64>, CodesError> {
        self.device.clock_offset_secs()
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
