//! Typed input: a session ID as the user types it (on the phone and through the core's check),
//! and the login page's offline challenge as typed.
#![no_main]

use ibkey_fuzz::phone;
use ibkey_protocol::offline::{grouped_challenge, parse_challenge};
use ibkey_protocol::SessionId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(typed) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = SessionId::parse(typed) {
        // A parsed ID reads back the same whichever way it is shown.
        let again = SessionId::parse(&id.grouped())
            .unwrap_or_else(|e| panic!("grouped form does not parse: {e}"));
        assert_eq!(again.canonical(), id.canonical());
        assert!(id.grouped().ends_with(id.last_group()));
    }
    if let Ok(challenge) = parse_challenge(typed) {
        let again = parse_challenge(&grouped_challenge(&challenge))
            .unwrap_or_else(|e| panic!("grouped challenge does not parse: {e}"));
        assert_eq!(again, challenge);
    }
    let phone = phone(Vec::new());
    let _ = phone.check_session_id(typed).map_err(|e| e.to_string());
});
