//! Prints how long the core takes to scan one 1080p camera frame holding an activation QR code,
//! called directly in Rust (no FFI). The Kotlin figure for the same frame through the bindings
//! (JNA, a direct `ByteBuffer`) comes from `tests/kotlin` (`TimingTest`); together they show what
//! the bindings cost. A measurement, not a test:
//!
//! ```text
//! cargo run -p ibkey-ffi --release --example frame_timing [PAYLOAD]
//! ```
//!
//! Same frame as the Kotlin side: the code rendered as `ibkey ticket --qr-out` renders it
//! (8 pixels a module), centred on a mid-grey 1920×1080 luma plane whose rows are 1984 bytes
//! apart; five warm-up scans, then the median of 50 scans of that same frame (after the first,
//! each gives `SameAsBefore`, after the same decoding work). `PAYLOAD` defaults to a real
//! ticket's payload (283 characters, from a throwaway loopback server).

use std::error::Error;
use std::time::Instant;

use ibkey_core::scan::{render_luma, FrameResult, Scanner};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const ROW_STRIDE: u32 = WIDTH + 64;
const WARMUP: usize = 5;
const ROUNDS: usize = 50;

/// A ticket payload as the reference server issues it (expired, from a throwaway server).
const SAMPLE_PAYLOAD: &str = "IBK1.eyJ0eXAiOiJhY3RpdmF0aW9uIiwic3J2IjoiaHR0cDovLzEyNy4wLjAuMToxODk5OSIsImtpZCI6ImQ5YWE1YmYxNjMxMDBhOGMiLCJzaWQiOiJURjNOOU5EWDNKSDIiLCJ1c3IiOiJ6ZWQiLCJpYXQiOjE3OTU4Mjc4MzAsImV4cCI6MTc5NTgyODEzMH0.0Ds8-F_LTQ5oqWAyCpWFpqbwgPnKbptpMbOH9Z021da-VG5cf1Ipsxi9y0PfkBqMS_X5sMP05ObLimtDf_JHGQ";

fn main() -> Result<(), Box<dyn Error>> {
    let payload = std::env::args()
        .nth(1)
        .unwrap_or_else(|| SAMPLE_PAYLOAD.to_owned());
    let code = render_luma(&payload, 8)?;
    let (w, h) = code.dimensions();
    if w > WIDTH || h > HEIGHT {
        return Err(format!("the code ({w}×{h}) does not fit in a 1080p frame").into());
    }

    let stride = ROW_STRIDE as usize;
    let mut frame = vec![0x80u8; stride * HEIGHT as usize];
    for row in frame.chunks_mut(stride) {
        row[WIDTH as usize..].fill(0);
    }
    let (left, top) = (((WIDTH - w) / 2) as usize, ((HEIGHT - h) / 2) as usize);
    for (y, row) in code.rows().enumerate() {
        let start = (top + y) * stride + left;
        for (x, pixel) in row.enumerate() {
            frame[start + x] = pixel.0[0];
        }
    }

    let scanner = Scanner::new();
    let scan = || scanner.scan_frame(WIDTH, HEIGHT, ROW_STRIDE, &frame);
    match scan()? {
        FrameResult::Payload { text } if text == payload => {}
        other => return Err(format!("the frame did not give the payload back: {other:?}").into()),
    }
    for _ in 0..WARMUP {
        scan()?;
    }
    let mut millis: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let result = scan();
            let elapsed = start.elapsed().as_secs_f64() * 1e3;
            assert_eq!(result, Ok(FrameResult::SameAsBefore));
            elapsed
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    println!(
        "TIMING rust 1080p frame scan ({}-character payload, {w}×{h} code, {ROUNDS} rounds): \
         median {:.2} ms, min {:.2} ms, max {:.2} ms",
        payload.len(),
        millis[ROUNDS / 2],
        millis[0],
        millis[ROUNDS - 1],
    );
    Ok(())
}
