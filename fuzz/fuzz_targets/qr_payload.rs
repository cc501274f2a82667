//! The text of a scanned QR code, read as the core reads it: as an activation code
//! (`inspect_qr`: form, server, signature, expiry, already enrolled) and as the login page's
//! code (`read_login_qr`), and how the scanner tells them apart. `@@claims@@` in the input is
//! signed by the server's key (see the crate's docs), so claims past the signature check are
//! fuzzed too.
#![no_main]

use ibkey_core::scan::{is_activation_payload, is_login_code};
use ibkey_fuzz::{parts, phone, reply, run, with_signed_tokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first part is the QR text; the rest, the server's replies if the phone asks
    // (its key chain when a token names another key, its time when a login looks stale).
    let parts = parts(data);
    let text = with_signed_tokens(parts[0]);
    let Ok(text) = String::from_utf8(text) else {
        return;
    };
    let replies = || parts[1..].iter().map(|p| reply(p)).collect::<Vec<_>>();
    let activation = is_activation_payload(&text);
    let login = is_login_code(&text);
    assert!(
        !login || activation,
        "a login code is also of the token form"
    );
    let first = phone(replies());
    let _ = run(first.inspect_qr(&text)).map_err(|e| e.to_string());
    let second = phone(replies());
    let _ = run(second.read_login_qr(text)).map_err(|e| e.to_string());
});
