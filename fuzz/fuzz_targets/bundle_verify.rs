//! A diagnostics bundle as support receives it: `verify_bundle` over any bytes.
#![no_main]

use ibkey_protocol::diagnostics::verify_bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small unpacked limit, so that a zip bomb is refused quickly, not unpacked.
    let _ = verify_bundle(data, 1 << 20).map_err(|e| e.to_string());
});
