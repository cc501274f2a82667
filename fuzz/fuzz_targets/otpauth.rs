//! Any `otpauth://` URI (a QR code from another service), with any time.
#![no_main]

use ibkey_core::otp_code;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (time, uri) = match data.split_first_chunk::<8>() {
        Some((time, uri)) => (i64::from_le_bytes(*time), uri),
        None => (0, data),
    };
    let Ok(uri) = std::str::from_utf8(uri) else {
        return;
    };
    if let Ok(code) = otp_code(uri, time) {
        assert!(
            (6..=10).contains(&code.code.len()),
            "code {:?}",
            code.code.len()
        );
        assert!(code.code.bytes().all(|b| b.is_ascii_digit()));
    }
});
