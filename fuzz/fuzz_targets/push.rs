//! A push notification's data as the platform hands it over (FCM data message, APNs payload,
//! a bare or quoted token), read by `read_notification` and `read_push`. `@@claims@@` is signed
//! by the server's key.
#![no_main]

use ibkey_fuzz::{parts, phone, reply, run, with_signed_tokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    let payload = with_signed_tokens(parts[0]);
    let replies = || parts[1..].iter().map(|p| reply(p)).collect::<Vec<_>>();
    let first = phone(replies());
    let _ = run(first.read_notification(payload.clone())).map_err(|e| e.to_string());
    let second = phone(replies());
    if let Ok(challenge) = run(second.read_push(payload)) {
        // What a screen shows must be consistent with what was read.
        assert!(challenge.seconds_left >= 0);
        assert!(challenge.number_choices.is_empty() || challenge.number_choices.len() == 3);
    }
});
