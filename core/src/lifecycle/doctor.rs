//! The notification doctor: the "notifications do not arrive" checklist, run by the core
//! over what the shell reads from the platform ([`NotificationSettings`]), what the server
//! knows about each account (its push token, whether the user's notifications are on or
//! muted, the last challenge and push), the phone's clock, and when notifications last
//! arrived here. A test notification measures delivery end to end. Each check is logged, so a
//! diagnostics bundle carries the last report.

use serde::{Deserialize, Serialize};

use super::human_utc;
use crate::approval::{ApprovalError, LoginChallenge};
use crate::codes::CLOCK_FAR_OFF_SECS;
use crate::device::Device;
use crate::error::ErrorCode;
use crate::Account;
use ibkey_protocol::approval::device_request_message;
use ibkey_protocol::encoding::{b64, hex};
use ibkey_protocol::lifecycle::{
    DeviceStatusRequest, DeviceStatusResponse, TestPushPayload, TestPushRequest, PUSH_TEST_KIND,
    STATUS_PURPOSE, TEST_PUSH_PURPOSE,
};

/// The plain store record of when notifications arrived.
const ARRIVALS_KEY: &str = "notifications";
/// How long a notification may take before it counts as lost, seconds.
const DELIVERY_GRACE_SECS: i64 = 60;
/// A clock off by more than this makes codes and requests fail at the edges, seconds.
const CLOCK_CLOSE_SECS: i64 = 30;

/// When notifications arrived here (the phone's clock, Unix milliseconds).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Arrivals {
    last_received_ms: Option<i64>,
    test_id: Option<String>,
    test_requested_ms: Option<i64>,
    test_delay_ms: Option<u64>,
}

/// What the shell reads from the platform's notification settings for the doctor; `None`
/// where it cannot tell (or the platform has no such setting).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NotificationSettings {
    /// `android`, `ios` or `desktop`: which platform checks apply.
    pub platform: String,
    /// Notifications allowed for the app (Android `NotificationManager.areNotificationsEnabled`,
    /// iOS `authorizationStatus`).
    pub notifications_allowed: Option<bool>,
    /// The login-request channel is on (Android channel importance not `NONE`; iOS alerts on).
    pub channel_enabled: Option<bool>,
    /// Android: the app is battery-optimised (`PowerManager.isIgnoringBatteryOptimizations`
    /// is false), which can hold notifications back.
    pub battery_optimized: Option<bool>,
    /// Android: background use is restricted (`ActivityManager.isBackgroundRestricted`).
    pub background_restricted: Option<bool>,
    /// iOS: notifications go into the scheduled summary (`scheduledDeliverySetting`).
    pub delivered_in_summary: Option<bool>,
    /// iOS: time-sensitive notifications may break through Focus
    /// (`timeSensitiveSetting`).
    pub time_sensitive_allowed: Option<bool>,
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum CheckStatus {
    /// Fine.
    Pass,
    /// This is (or may be) why notifications do not arrive; the check's fix says what to do.
    Fail,
    /// Could not be told.
    Unknown,
}

/// One item of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DoctorCheck {
    /// Stable id (`notifications_allowed`, `push_registration:alice`, …).
    pub id: String,
    /// What is checked, for the user.
    pub title: String,
    /// The verdict.
    pub status: CheckStatus,
    /// What was measured or found.
    pub measured: String,
    /// What to do, in one sentence (empty when it passed).
    pub fix: String,
}

/// The doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DoctorReport {
    /// The checks, platform first, then the server and each account.
    pub checks: Vec<DoctorCheck>,
    /// Whether no check failed.
    pub healthy: bool,
    /// When it ran, Unix seconds (phone clock).
    pub ran_at: i64,
}

/// A test notification the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TestNotification {
    /// Its id, also in its payload.
    pub id: String,
    /// When the server handed it to the push service, Unix milliseconds (server clock).
    pub sent_at_ms: i64,
}

/// A notification's data, read.
#[allow(clippy::large_enum_variant)] // uniffi enums hold their records by value.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum IncomingNotification {
    /// A login to approve or deny.
    Login {
        /// The checked challenge.
        challenge: LoginChallenge,
    },
    /// The doctor's test notification arrived.
    Test {
        /// How long it took from the request to its arrival (phone clock), when this phone
        /// asked for it.
        delay_ms: Option<u64>,
    },
}

fn check(id: &str, title: &str, status: CheckStatus, measured: String, fix: &str) -> DoctorCheck {
    DoctorCheck {
        id: id.to_string(),
        title: title.to_string(),
        status,
        measured,
        fix: if status == CheckStatus::Pass {
            String::new()
        } else {
            fix.to_string()
        },
    }
}

/// Pass when `ok`, Fail when not, Unknown when the platform could not tell.
fn hook_check(
    id: &str,
    title: &str,
    ok: Option<bool>,
    (pass, fail): (&str, &str),
    fix: &str,
) -> DoctorCheck {
    let (status, measured) = match ok {
        Some(true) => (CheckStatus::Pass, pass),
        Some(false) => (CheckStatus::Fail, fail),
        None => (CheckStatus::Unknown, "the app could not tell on this phone"),
    };
    check(id, title, status, measured.to_string(), fix)
}

/// The checks of what the shell read from the platform.
fn platform_checks(settings: &NotificationSettings) -> Vec<DoctorCheck> {
    let mut checks = vec![
        hook_check(
            "notifications_allowed",
            "Notifications allowed for IB Key",
            settings.notifications_allowed,
            ("allowed", "turned off for IB Key"),
            "Turn on notifications for IB Key in the phone's Settings, under Notifications.",
        ),
        hook_check(
            "channel_enabled",
            "Login requests shown",
            settings.channel_enabled,
            ("on", "login requests are silenced"),
            "In the phone's notification settings for IB Key, turn on 'Login requests' with alerts.",
        ),
    ];
    let android = settings.platform == "android";
    let ios = settings.platform == "ios";
    if !ios {
        let unrestricted = match (settings.background_restricted, settings.battery_optimized) {
            (Some(true), _) | (_, Some(true)) => Some(false),
            (None, None) => None,
            _ => Some(true),
        };
        checks.push(hook_check(
            "background",
            "Background use not restricted",
            unrestricted,
            (
                "unrestricted",
                if settings.background_restricted == Some(true) {
                    "background use is restricted"
                } else {
                    "battery optimisation can hold notifications back"
                },
            ),
            "In Settings > Apps > IB Key > Battery, choose 'Unrestricted'.",
        ));
    }
    if !android {
        let immediate = match (
            settings.delivered_in_summary,
            settings.time_sensitive_allowed,
        ) {
            (Some(true), _) | (_, Some(false)) => Some(false),
            (None, None) => None,
            _ => Some(true),
        };
        checks.push(hook_check(
            "focus",
            "Delivered at once (Focus, summary)",
            immediate,
            ("delivered at once", if settings.delivered_in_summary == Some(true) {
                "held back for the scheduled summary"
            } else {
                "Focus can silence login requests"
            }),
            "In Settings > Notifications, take IB Key out of the Scheduled Summary and allow its Time Sensitive notifications.",
        ));
    }
    checks
}

impl Device {
    /// Notes that a notification arrived (best effort: the doctor's record only).
    pub(crate) fn note_notification_arrived(&self) {
        let now = self.platform.clock.now_unix_ms();
        let noted = self
            .book
            .update_plain_record(ARRIVALS_KEY, |a: &mut Arrivals| {
                a.last_received_ms = Some(now)
            });
        if let Err(e) = noted {
            tracing::debug!(code = e.code(), "notification arrival not noted");
        }
    }

    /// Reads a notification: a login (checked as [`Device::read_push`] does) or the
    /// doctor's test notification (its arrival noted).
    pub(crate) async fn read_notification(
        &self,
        payload: &[u8],
    ) -> Result<IncomingNotification, ApprovalError> {
        if let Ok(test) = serde_json::from_slice::<TestPushPayload>(payload) {
            if test.kind == PUSH_TEST_KIND {
                let now = self.platform.clock.now_unix_ms();
                let delay_ms =
                    self.book
                        .update_plain_record(ARRIVALS_KEY, |a: &mut Arrivals| {
                            a.last_received_ms = Some(now);
                            let ours = a.test_id.as_deref() == Some(test.id.as_str());
                            let delay = a
                                .test_requested_ms
                                .filter(|_| ours)
                                .map(|asked| now.saturating_sub(asked).max(0).unsigned_abs());
                            if delay.is_some() {
                                a.test_delay_ms = delay;
                            }
                            delay
                        })?;
                tracing::info!(delay_ms = ?delay_ms, "test notification arrived");
                return Ok(IncomingNotification::Test { delay_ms });
            }
        }
        let challenge = self.read_push(payload).await?;
        Ok(IncomingNotification::Login { challenge })
    }

    /// Asks the server for a test notification to this phone (through its first account).
    pub(crate) async fn send_test_notification(&self) -> Result<TestNotification, ApprovalError> {
        let account = self.first_account()?;
        let issued_at = self.server_now_secs()?;
        let message =
            device_request_message(TEST_PUSH_PURPOSE, &account.credential_id, issued_at, "");
        let request = TestPushRequest {
            credential_id: account.credential_id.clone(),
            issued_at,
            signature: b64(&self.sign(&account, message)?),
        };
        let asked = self.platform.clock.now_unix_ms();
        let reply = match self.api.test_push(&request).await {
            Ok(reply) => reply,
            Err(e) => return Err(self.approval_refusal(&account, e).await),
        };
        self.book
            .update_plain_record(ARRIVALS_KEY, |a: &mut Arrivals| {
                a.test_id = Some(reply.id.clone());
                a.test_requested_ms = Some(asked);
                a.test_delay_ms = None;
            })?;
        tracing::info!("test notification requested");
        Ok(TestNotification {
            id: reply.id,
            sent_at_ms: reply.sent_at_ms,
        })
    }

    fn first_account(&self) -> Result<Account, ApprovalError> {
        self.book
            .list()?
            .into_iter()
            .next()
            .ok_or(ApprovalError::NoAccounts)
    }

    /// Runs the checklist. `settings` is what the shell read from the platform; `push_token`
    /// the app's current push token, if it has one, to tell a stale registration.
    pub(crate) async fn notification_doctor(
        &self,
        settings: &NotificationSettings,
        push_token: Option<&str>,
    ) -> Result<DoctorReport, ApprovalError> {
        let mut checks = platform_checks(settings);
        let arrivals: Arrivals = self.book.plain_record(ARRIVALS_KEY)?;
        let accounts = self.book.list()?;
        let mut server_checked = false;
        for account in &accounts {
            let asked = self.platform.clock.now_unix_ms();
            match self.device_status(account).await {
                Ok((status, server_now)) => {
                    if !server_checked {
                        server_checked = true;
                        let rtt = self.platform.clock.now_unix_ms().saturating_sub(asked);
                        checks.push(check(
                            "server",
                            "Server reachable",
                            CheckStatus::Pass,
                            format!("answered in {rtt} ms"),
                            "",
                        ));
                        checks.push(clock_check(server_now.saturating_sub(self.now_secs())));
                    }
                    checks.extend(account_checks(
                        &account.username,
                        &status,
                        server_now,
                        server_now.saturating_sub(self.now_secs()),
                        &arrivals,
                        push_token,
                    ));
                }
                Err(e @ ApprovalError::ClockWrong { .. }) => {
                    if !server_checked {
                        server_checked = true;
                        checks.push(check(
                            "server",
                            "Server reachable",
                            CheckStatus::Pass,
                            "answered, refusing the phone's time".into(),
                            "",
                        ));
                        checks.push(check(
                            "clock",
                            "Phone's clock right",
                            CheckStatus::Fail,
                            e.to_string(),
                            "Set the phone's date and time to automatic.",
                        ));
                    }
                }
                Err(ApprovalError::Moved { notice }) => checks.push(check(
                    &format!("account:{}", account.username),
                    &format!("{} active on this phone", account.username),
                    CheckStatus::Fail,
                    notice.message,
                    "Approve logins on the phone IB Key was moved to.",
                )),
                Err(e) => checks.push(check(
                    &format!("account:{}", account.username),
                    &format!("Server's answer for {}", account.username),
                    CheckStatus::Fail,
                    format!("{} ({})", e, e.code()),
                    "Check the phone's connection; if the server keeps refusing, contact support.",
                )),
            }
        }
        if !server_checked {
            let measured = if accounts.is_empty() {
                "no account on this phone to ask about".to_string()
            } else {
                "no answer from the server".to_string()
            };
            checks.push(check(
                "server",
                "Server reachable",
                if accounts.is_empty() {
                    CheckStatus::Unknown
                } else {
                    CheckStatus::Fail
                },
                measured,
                "Check the phone's connection (Wi-Fi or mobile data), then run the check again.",
            ));
        }
        checks.push(test_check(&arrivals, self.platform.clock.now_unix_ms()));
        for c in &checks {
            tracing::info!(check = %c.id, status = ?c.status, measured = %c.measured, "notification doctor");
        }
        Ok(DoctorReport {
            healthy: checks.iter().all(|c| c.status != CheckStatus::Fail),
            checks,
            ran_at: self.now_secs(),
        })
    }

    /// What the server knows about `account`'s notifications, and its clock (signed).
    async fn device_status(
        &self,
        account: &Account,
    ) -> Result<(DeviceStatusResponse, i64), ApprovalError> {
        let issued_at = self.server_now_secs()?;
        let message = device_request_message(STATUS_PURPOSE, &account.credential_id, issued_at, "");
        let request = DeviceStatusRequest {
            credential_id: account.credential_id.clone(),
            issued_at,
            signature: b64(&self.sign(account, message)?),
        };
        let status = match self.api.device_status(&request).await {
            Ok(status) => status,
            Err(e) => return Err(self.approval_refusal(account, e).await),
        };
        let server_now = self
            .learn_signed_time(account, issued_at, &status.time)
            .await?;
        Ok((status, server_now))
    }
}

fn clock_check(offset_secs: i64) -> DoctorCheck {
    let measured = format!("{offset_secs:+} s from the server's clock");
    let status = if offset_secs.abs() <= CLOCK_CLOSE_SECS {
        CheckStatus::Pass
    } else if offset_secs.abs() <= CLOCK_FAR_OFF_SECS {
        CheckStatus::Unknown
    } else {
        CheckStatus::Fail
    };
    check(
        "clock",
        "Phone's clock right",
        status,
        measured,
        "Set the phone's date and time to automatic.",
    )
}

/// The checks of what the server knows about one account. `offset_secs`: server − phone.
fn account_checks(
    user: &str,
    status: &DeviceStatusResponse,
    server_now: i64,
    offset_secs: i64,
    arrivals: &Arrivals,
    push_token: Option<&str>,
) -> Vec<DoctorCheck> {
    let token_check = match &status.push_token {
        None => check(
            &format!("push_registration:{user}"),
            &format!("Push token registered ({user})"),
            CheckStatus::Fail,
            "the server holds no push token for this phone".into(),
            "Open IB Key with notifications allowed so that it registers with the server.",
        ),
        Some(token) => {
            let current = push_token
                .map(|t| hex(ring::digest::digest(&ring::digest::SHA256, t.as_bytes()).as_ref()));
            let stale = current.is_some_and(|c| c != token.token_sha256);
            check(
                &format!("push_registration:{user}"),
                &format!("Push token registered ({user})"),
                if stale {
                    CheckStatus::Fail
                } else {
                    CheckStatus::Pass
                },
                format!(
                    "{} token registered {}{}",
                    token.platform,
                    human_utc(token.registered_at),
                    if stale {
                        ", older than the app's current one"
                    } else {
                        ""
                    }
                ),
                "Open IB Key so that it registers its current push token.",
            )
        }
    };
    let muted = status.muted_until.filter(|until| *until > server_now);
    let approvals = match (status.pushes_enabled, muted) {
        (false, _) => (
            CheckStatus::Fail,
            "login notifications are turned off in the portal".to_string(),
            "Turn on login notifications on the portal's account page.",
        ),
        (true, Some(until)) => (
            CheckStatus::Fail,
            format!(
                "muted until {} after a 'This wasn't me' report",
                human_utc(until)
            ),
            "Wait until then, or log in with the login page's QR code meanwhile.",
        ),
        (true, None) => (CheckStatus::Pass, "on".to_string(), ""),
    };
    let received = arrivals
        .last_received_ms
        .map(|ms| ms.div_euclid(1000).saturating_add(offset_secs));
    let delivery = delivery_check(status, server_now, received);
    vec![
        token_check,
        check(
            &format!("push_approvals:{user}"),
            &format!("Login notifications on ({user})"),
            approvals.0,
            approvals.1,
            approvals.2,
        ),
        check(
            &format!("delivery:{user}"),
            &format!("Last notification arrived ({user})"),
            delivery.0,
            delivery.1,
            delivery.2,
        ),
    ]
}

/// Whether the last notification the server sent (or the last login, when none was sent)
/// arrived. `received`: the last arrival on the server's clock.
fn delivery_check(
    status: &DeviceStatusResponse,
    server_now: i64,
    received: Option<i64>,
) -> (CheckStatus, String, &'static str) {
    let arrived = |at: i64| received.is_some_and(|r| r + DELIVERY_GRACE_SECS >= at);
    let last_arrival = || match received {
        Some(r) => format!("the last one arrived {}", human_utc(r)),
        None => "none has arrived on this phone".to_string(),
    };
    if let Some(error) = &status.last_push_error {
        return (
            CheckStatus::Fail,
            format!("the push service refused the last notification: {error}"),
            "Open IB Key so that it registers its push token again; if this persists, contact support.",
        );
    }
    match (status.last_push_sent_at, status.last_challenge_at) {
        (Some(sent), _) if arrived(sent) => (
            CheckStatus::Pass,
            format!("the last one, sent {}, arrived", human_utc(sent)),
            "",
        ),
        (Some(sent), _) if server_now - sent < DELIVERY_GRACE_SECS => (
            CheckStatus::Unknown,
            format!("one sent {} s ago has not arrived yet", server_now - sent),
            "Wait a minute, then run the check again.",
        ),
        (Some(sent), _) => (
            CheckStatus::Fail,
            format!(
                "the server sent one {} that never arrived; {}",
                human_utc(sent),
                last_arrival()
            ),
            "Fix the failed checks above, then send a test notification.",
        ),
        (None, Some(login)) => (
            CheckStatus::Fail,
            format!(
                "a login {} sent no notification to this phone",
                human_utc(login)
            ),
            "Open IB Key with notifications allowed so that it registers with the server.",
        ),
        (None, None) => (
            CheckStatus::Unknown,
            "no notification was sent to this phone yet".to_string(),
            "Send a test notification.",
        ),
    }
}

/// The last test notification's round trip.
fn test_check(arrivals: &Arrivals, now_ms: i64) -> DoctorCheck {
    let (status, measured) = match (arrivals.test_requested_ms, arrivals.test_delay_ms) {
        (Some(_), Some(delay)) => (
            CheckStatus::Pass,
            format!("arrived {delay} ms after it was asked for"),
        ),
        (Some(asked), None) if now_ms - asked < DELIVERY_GRACE_SECS * 1000 => (
            CheckStatus::Unknown,
            format!(
                "asked for {} s ago, not arrived yet",
                (now_ms - asked) / 1000
            ),
        ),
        (Some(asked), None) => (
            CheckStatus::Fail,
            format!(
                "asked for {} and never arrived",
                human_utc(asked.div_euclid(1000))
            ),
        ),
        (None, _) => (CheckStatus::Unknown, "not run yet".to_string()),
    };
    check(
        "test_notification",
        "Test notification round trip",
        status,
        measured,
        "Send a test notification; if it does not arrive, fix the failed checks above and restart the phone.",
    )
}
