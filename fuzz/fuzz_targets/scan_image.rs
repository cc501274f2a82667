//! An image file's bytes (a screenshot or gallery photo), read as the scanner reads images:
//! PNG in the mobile library this crate builds against (JPEG is a desktop feature).
#![no_main]

use ibkey_core::scan::{decode_image, Scanner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_image(data);
    let _ = Scanner::new().scan_image(data);
});
