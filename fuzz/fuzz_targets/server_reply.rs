//! Every server reply the core reads, through the flow that reads it: activation (lookup,
//! complete, the key chain), pulled challenges with the server's signed time, decisions and
//! their receipts, removal, push-token registration, the notification doctor's status and
//! test push, recovery. Errors too: any status, `ErrorBody`, a `credential_moved` with its
//! signed `MovedClaims`. The first part picks the operation (`'0'`..`'9'`) and, for a decision,
//! carries the notification; each following part is one reply (first byte: the status; then
//! the body, its `@@claims@@` signed by the server's key).
#![no_main]

use ibkey_core::lifecycle::NotificationSettings;
use ibkey_core::platform::{KeyVault, MemoryStore, SoftwareKeyVault};
use ibkey_core::NumberCheck;
use ibkey_fuzz::{parts, phone, phone_over, reply, run, with_signed_tokens, USER};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

/// A valid session ID (one the reference server issued), so the lookup is sent.
const SESSION_ID: &str = "424D-PDDA-Z22R";

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    let Some((&op, challenge)) = parts[0].split_first() else {
        return;
    };
    let replies: Vec<_> = parts[1..].iter().map(|p| reply(p)).collect();
    match op.wrapping_sub(b'0') % 10 {
        0 => {
            // A phone with no account yet activates by session ID.
            let phone = phone_over(Arc::new(MemoryStore::new()), replies, false);
            let _ = run(phone.activate_with_session_id(SESSION_ID)).map_err(|e| e.to_string());
        }
        1 => {
            let phone = phone(replies);
            let _ = run(phone.pending_logins()).map_err(|e| e.to_string());
            let _ = phone.take_move_notices();
        }
        2..=4 => {
            // A login read from a notification (the rest of the first part, signed), then
            // approved, denied or reported.
            let phone = phone(replies);
            let payload = with_signed_tokens(challenge);
            let Ok(login) = run(phone.read_push(payload)) else {
                return;
            };
            // The user picks the number the login page shows (a wrong pick first, as users do).
            let mut number = login.number_choices.first().copied();
            for &choice in login.number_choices.iter().rev() {
                if let Ok(NumberCheck::Match) = run(phone.check_number(&login, choice)) {
                    number = Some(choice);
                    break;
                }
            }
            let outcome = match op.wrapping_sub(b'0') % 10 {
                2 => run(phone.approve(&login, number)),
                3 => run(phone.deny(&login, false)),
                _ => run(phone.deny(&login, true)),
            };
            let _ = outcome.map_err(|e| e.to_string());
            let _ = phone.take_move_notices();
            let _ = phone.accounts();
        }
        5 => {
            let phone = phone(replies);
            let _ = run(phone.remove_account(USER)).map_err(|e| e.to_string());
        }
        6 => {
            let phone = phone(replies);
            let _ = run(phone.register_push_token("fcm".into(), "push-token-1".into()))
                .map_err(|e| e.to_string());
        }
        7 => {
            let phone = phone(replies);
            let settings = NotificationSettings {
                platform: "android".into(),
                notifications_allowed: Some(true),
                channel_enabled: Some(true),
                battery_optimized: Some(false),
                background_restricted: Some(false),
                delivered_in_summary: Some(false),
                ..NotificationSettings::default()
            };
            let _ = run(phone.notification_doctor(settings, Some("push-token-1".into())))
                .map_err(|e| e.to_string());
        }
        8 => {
            let phone = phone(replies);
            let _ = run(phone.send_test_notification()).map_err(|e| e.to_string());
        }
        _ => {
            // After a reinstall: the device key outlived the app's files.
            let store = Arc::new(MemoryStore::new());
            let kept = SoftwareKeyVault::new(store.clone()).create_key("key-alice".into());
            if kept.is_err() {
                return;
            }
            let phone = phone_over(store, replies, false);
            if let Ok(offer) = run(phone.find_recoverable_accounts()) {
                let _ = format!("{offer:?}");
                let _ = run(phone.recover_account(USER, "123456")).map_err(|e| e.to_string());
            }
        }
    }
});
