//! Hot paths of the scanner: a 1080p camera frame with an activation code, an empty one, a
//! 720p frame, a photo-sized image, and rendering a code. The comparison with zxing-cpp lives
//! in `bench/scan_vs_zxing.sh`; these track the core's own figures over time.

// Bench set-up fails fast, and criterion's macros generate undocumented items.
#![allow(missing_docs, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use ibkey_core::scan::{self, Scanner};

const PAYLOAD: &str = "IBK1.eyJ0eXAiOiJhY3RpdmF0aW9uIiwic3J2IjoiaHR0cHM6Ly9wb3J0YWwuZXhhbXBsZS5jb20iLCJraWQiOiJhYmNkZWZnaGlqa2wiLCJzaWQiOiJBQkNEMjM0NUVGR0giLCJ1c3IiOiJhbGljZSIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjoxNzY3MjI1OTAwfQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl";

/// A `w`×`h` grey page with light noise, and the code at `scale` pixels a module in the
/// middle (none when `scale` is 0), softened by a 2×2 average like a camera's blur.
fn frame(w: usize, h: usize, scale: u32) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut page: Vec<u8> = (0..w * h)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            200 + (state % 12) as u8
        })
        .collect();
    if scale > 0 {
        let code = scan::render_luma(PAYLOAD, scale).expect("render");
        let (cw, ch) = (code.width() as usize, code.height() as usize);
        let (x0, y0) = ((w - cw) / 2, (h - ch) / 2);
        for y in 0..ch {
            for x in 0..cw {
                let p = code.get_pixel(x as u32, y as u32).0[0];
                page[(y0 + y) * w + x0 + x] = 40 + p / 2 + p / 8;
            }
        }
    }
    let mut soft = page.clone();
    for y in 0..h - 1 {
        for x in 0..w - 1 {
            let sum = u32::from(page[y * w + x])
                + u32::from(page[y * w + x + 1])
                + u32::from(page[(y + 1) * w + x])
                + u32::from(page[(y + 1) * w + x + 1]);
            soft[y * w + x] = (sum / 4) as u8;
        }
    }
    soft
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan");
    for (name, w, h, scale) in [
        ("1080p frame with code", 1920, 1080, 6),
        ("1080p empty frame", 1920, 1080, 0),
        ("720p frame with code", 1280, 720, 4),
        ("photo 640x480 with code", 640, 480, 3),
    ] {
        let pixels = frame(w, h, scale);
        let expected = (scale > 0).then_some(PAYLOAD);
        assert_eq!(
            scan::decode_luma(w as u32, h as u32, w as u32, &pixels)
                .ok()
                .as_deref(),
            expected,
            "{name}"
        );
        let scanner = Scanner::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                scanner.reset();
                scanner.scan_frame(w as u32, h as u32, w as u32, &pixels)
            })
        });
    }
    group.bench_function("render png", |b| b.iter(|| scan::render_png(PAYLOAD, 8)));
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
