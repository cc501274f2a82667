//! The scanner never panics, whatever the bytes, and reads a rendered activation code however
//! it is turned, scaled, inverted or padded.

// Test helpers fail fast on broken set-up.
#![allow(clippy::expect_used)]

use ibkey_core::scan::{self, FrameResult, ScanError, Scanner};
use ibkey_core::ErrorCode;
use proptest::prelude::*;

const PAYLOAD: &str = "IBK1.eyJ0eXAiOiJhY3RpdmF0aW9uIiwic3J2IjoiaHR0cHM6Ly9wb3J0YWwuZXhhbXBsZS5jb20iLCJzaWQiOiJBQkNEMjM0NUVGR0gifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZQ";

/// A grey frame of `w`×`h` (mid-grey page) holding the rendered code, turned by `degrees`
/// around its centre and scaled by `scale` (bilinear), dark on light or inverted.
fn frame_with_code(w: u32, h: u32, degrees: f64, scale: f64, inverted: bool) -> Vec<u8> {
    let code = scan::render_luma(PAYLOAD, 1).expect("render");
    let side = f64::from(code.width());
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let mut out = vec![0u8; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            // Back from the frame to code coordinates (in modules).
            let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
            let u = (cos * dx + sin * dy) / scale + side / 2.0;
            let v = (-sin * dx + cos * dy) / scale + side / 2.0;
            let sample = |px: f64, py: f64| -> f64 {
                if px < 0.0 || py < 0.0 || px >= side || py >= side {
                    200.0
                } else {
                    let p = f64::from(code.get_pixel(px as u32, py as u32).0[0]);
                    30.0 + p * 170.0 / 255.0
                }
            };
            // A 2×2 supersample is blur enough for a camera.
            let value = (sample(u - 0.25 / scale, v - 0.25 / scale)
                + sample(u + 0.25 / scale, v - 0.25 / scale)
                + sample(u - 0.25 / scale, v + 0.25 / scale)
                + sample(u + 0.25 / scale, v + 0.25 / scale))
                / 4.0;
            let value = if inverted { 230.0 - value } else { value };
            out[(y * w + x) as usize] = value.clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[test]
fn a_turned_scaled_and_inverted_activation_code_decodes() {
    for (degrees, scale, inverted) in [
        (0.0, 3.0, false),
        (17.0, 2.6, false),
        (45.0, 3.3, false),
        (90.0, 2.5, false),
        (200.0, 4.1, false),
        (-30.0, 3.0, true),
        (0.0, 2.7, true),
    ] {
        let (w, h) = (640, 480);
        let frame = frame_with_code(w, h, degrees, scale, inverted);
        let text = scan::decode_luma(w, h, w, &frame);
        assert_eq!(
            text.as_deref(),
            Ok(PAYLOAD),
            "turned {degrees}°, scaled {scale}, inverted {inverted}"
        );
    }
}

#[test]
fn rendered_codes_decode_at_every_scale_even_when_modules_line_up_with_threshold_blocks() {
    let text = format!("IBK1.{}.{}", "e".repeat(190), "s".repeat(86));
    for scale in 1..=17 {
        let png = scan::render_png(&text, scale).expect("render");
        assert_eq!(
            scan::decode_image(&png).as_deref(),
            Ok(text.as_str()),
            "scale {scale}"
        );
    }
}

#[test]
fn a_big_camera_frame_with_row_padding_decodes() {
    // 1080p with a stride of 2048 bytes and no padding after the last row, as Android gives.
    let (w, h, stride) = (1920u32, 1080u32, 2048u32);
    let frame = frame_with_code(w, h, 8.0, 5.5, false);
    let mut plane = vec![7u8; (stride * (h - 1) + w) as usize];
    for y in 0..h as usize {
        let row = &frame[y * w as usize..(y + 1) * w as usize];
        plane[y * stride as usize..y * stride as usize + w as usize].copy_from_slice(row);
    }
    let scanner = Scanner::new();
    assert_eq!(
        scanner.scan_frame(w, h, stride, &plane),
        Ok(FrameResult::Payload {
            text: PAYLOAD.into()
        })
    );
    assert_eq!(
        scanner.scan_frame(w, h, stride, &plane),
        Ok(FrameResult::SameAsBefore)
    );
}

#[test]
fn a_small_code_in_a_big_photo_decodes() {
    // 2400×1800 (downscaled by 3 at first), the code about 230 pixels wide.
    let (w, h) = (2400, 1800);
    let frame = frame_with_code(w, h, 5.0, 3.0, false);
    assert_eq!(scan::decode_luma(w, h, w, &frame).as_deref(), Ok(PAYLOAD));
}

#[test]
fn bad_sizes_strides_and_buffers_are_errors_with_codes() {
    let scanner = Scanner::new();
    let buf = vec![0u8; 1000];
    let cases: [(u32, u32, u32, &[u8], &str); 7] = [
        (0, 10, 10, &buf, "SCAN_BAD_FRAME_SIZE"),
        (10, 0, 10, &buf, "SCAN_BAD_FRAME_SIZE"),
        (u32::MAX, 2, u32::MAX, &buf, "SCAN_BAD_FRAME_SIZE"),
        (
            scan::MAX_SIDE,
            scan::MAX_SIDE,
            scan::MAX_SIDE,
            &buf,
            "SCAN_BAD_FRAME_SIZE",
        ),
        (40, 10, 39, &buf, "SCAN_BAD_STRIDE"),
        (40, 30, 40, &buf, "SCAN_BUFFER_TOO_SMALL"),
        (10, 10, 10, &[], "SCAN_BUFFER_TOO_SMALL"),
    ];
    for (w, h, stride, data, code) in cases {
        let error = scanner
            .scan_frame(w, h, stride, data)
            .expect_err("must be refused");
        assert_eq!(error.code(), code, "{w}×{h} stride {stride}: {error}");
        assert!(!error.to_string().is_empty());
    }
    assert!(matches!(
        scan::decode_image(&[]),
        Err(ScanError::NotAnImage { .. })
    ));
}

#[test]
fn a_png_bigger_than_the_limit_is_refused_without_decoding_it() {
    // A valid PNG header claiming 100000×100000 pixels.
    let mut png = Vec::new();
    png.extend_from_slice(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR");
    png.extend_from_slice(&100_000u32.to_be_bytes());
    png.extend_from_slice(&100_000u32.to_be_bytes());
    png.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        scan::decode_image(&png),
        Err(ScanError::NotAnImage { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_frames_never_panic(
        w in 0u32..300,
        h in 0u32..300,
        pad in 0u32..40,
        shrink in 0usize..64,
        seed in any::<u64>(),
    ) {
        let stride = w + pad;
        let len = (stride as usize * h as usize).saturating_sub(shrink);
        let mut state = seed | 1;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Mostly blocky noise, which looks like modules.
                if state % 3 == 0 { 0 } else if state % 3 == 1 { 255 } else { (state >> 32) as u8 }
            })
            .collect();
        let scanner = Scanner::new();
        let _ = scanner.scan_frame(w, h, stride, &data);
        let _ = scan::decode_luma_all(w, h, stride, &data);
    }

    #[test]
    fn random_bytes_are_not_an_image(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = scan::decode_image(&bytes);
    }

    #[test]
    fn corrupted_pngs_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12)) {
        let mut png = scan::render_png(PAYLOAD, 2).expect("render");
        for (at, value) in flips {
            let i = at % png.len();
            png[i] ^= value;
        }
        let _ = scan::decode_image(&png);
        let _ = Scanner::new().scan_image(&png);
    }
}
