//! Camera frames of any size and stride, as the FFI's `scanFrame` hands them to the core:
//! the first 12 bytes are width, height and row stride (little-endian u32), the rest the
//! luma bytes. Also the stateless reader and a stream of two frames.
#![no_main]

use ibkey_core::scan::{decode_luma_all, FrameStream, Scanner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, luma)) = data.split_first_chunk::<12>() else {
        return;
    };
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    // Sizes as given (most are refused with a typed error), and the same folded to fit the
    // bytes at hand, so that real decoding runs too.
    let (width, height, stride) = (word(0), word(4), word(8));
    let scanner = Scanner::new();
    let _ = scanner.scan_frame(width, height, stride, luma);
    let len = luma.len() as u32;
    if len == 0 {
        return;
    }
    let width = width % len.min(2048) + 1;
    let stride = width + stride % 8;
    let height = ((len - width) / stride + 1).min(height % 2048 + 1);
    let first = scanner.scan_frame(width, height, stride, luma);
    let second = scanner.scan_frame(width, height, stride, luma);
    if let (Ok(first), Ok(second)) = (&first, &second) {
        let _ = (first, second);
    } else {
        panic!("a frame that fits was refused: {first:?} / {second:?}");
    }
    let _ = decode_luma_all(width, height, stride, luma);
    let mut stream = FrameStream::new();
    let _ = stream.read_frame(width, height, stride, luma);
});
