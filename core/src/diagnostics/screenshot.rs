//! Screenshots attached to a bundle: checked to be PNG or JPEG images (magic bytes, then a
//! full decode with size limits; built without the `jpeg` feature, as the mobile library is,
//! a JPEG's segments and frame header are checked instead), capped in size, and stripped of
//! metadata (PNG text and EXIF chunks, JPEG APP1–APP15 and comment segments: EXIF holds
//! locations and device serials) without touching the pixels.

use super::DiagnosticsError;
use crate::scan::image_io::{self, Limits};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// PNG chunks that carry metadata rather than pixels.
const PNG_METADATA_CHUNKS: &[&[u8; 4]] = &[b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"];
/// Largest width or height decoded, pixels.
const MAX_DIMENSION: u32 = 16_384;
/// Largest memory the decoder may take, bytes.
const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;
/// The bounds of the full decode.
const DECODE_LIMITS: Limits = Limits {
    max_side: MAX_DIMENSION,
    max_pixels: u64::MAX,
    max_alloc: MAX_DECODE_ALLOC,
};

/// A screenshot the user attaches: its name (as shown to the user) and the file's bytes.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Screenshot {
    /// The file name, e.g. `Screenshot_2026-03-01.png`.
    pub name: String,
    /// The PNG or JPEG file.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Screenshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screenshot")
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A screenshot that passed the checks, ready for the bundle.
#[derive(Debug, Clone)]
pub(crate) struct CheckedScreenshot {
    /// Its path in the bundle.
    pub path: String,
    /// The image without its metadata.
    pub bytes: Vec<u8>,
}

/// Checks screenshot number `index` (0-based) and returns it ready for the bundle.
pub(crate) fn check(
    shot: &Screenshot,
    index: usize,
    max_bytes: u64,
) -> Result<CheckedScreenshot, DiagnosticsError> {
    let name = shot.name.clone();
    let size = shot.bytes.len() as u64;
    if size > max_bytes {
        return Err(DiagnosticsError::ScreenshotTooLarge {
            name,
            size,
            limit: max_bytes,
        });
    }
    let corrupt = |reason: &str| DiagnosticsError::ScreenshotCorrupt {
        name: shot.name.clone(),
        reason: reason.to_string(),
    };
    let (stripped, ext) = if shot.bytes.starts_with(PNG_SIGNATURE) {
        (strip_png(&shot.bytes).map_err(corrupt)?, "png")
    } else if shot.bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        (strip_jpeg(&shot.bytes).map_err(corrupt)?, "jpg")
    } else {
        return Err(DiagnosticsError::ScreenshotNotAnImage { name });
    };
    if ext == "png" || cfg!(feature = "jpeg") {
        image_io::check_decodes(&stripped, &DECODE_LIMITS).map_err(|e| corrupt(&e))?;
    }
    // Built without a JPEG decoder (the mobile library), a JPEG is trusted as far as
    // `strip_jpeg` checked it: every segment, a plausible frame header, the end marker.
    Ok(CheckedScreenshot {
        path: format!(
            "screenshots/{:02}-{}.{ext}",
            index + 1,
            file_stem(&shot.name)
        ),
        bytes: stripped,
    })
}

/// A safe file stem from a user-given name: ASCII letters, digits, `-` and `_`, at most 40.
fn file_stem(name: &str) -> String {
    let stem = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if cleaned.is_empty() {
        "screenshot".to_string()
    } else {
        cleaned
    }
}

/// The PNG without its metadata chunks; fails when the chunk structure is broken.
fn strip_png(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut pos = PNG_SIGNATURE.len();
    loop {
        let header = bytes.get(pos..pos + 8).ok_or("the PNG is cut short")?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        let end = pos
            .checked_add(12)
            .and_then(|p| p.checked_add(len))
            .ok_or("a PNG chunk is too long")?;
        let chunk = bytes.get(pos..end).ok_or("the PNG is cut short")?;
        if !PNG_METADATA_CHUNKS.iter().any(|m| &m[..] == kind) {
            out.extend_from_slice(chunk);
        }
        pos = end;
        if kind == b"IEND" {
            return Ok(out);
        }
    }
}

/// The JPEG without APP1–APP15 and comment segments; fails when the segments are broken or
/// no frame header with a width and height from 1 to [`MAX_DIMENSION`] and 1 to 4 components
/// comes before the scan.
fn strip_jpeg(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut frame_seen = false;
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut pos = 2;
    loop {
        if bytes.get(pos) != Some(&0xFF) {
            return Err("a JPEG segment is broken");
        }
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *bytes.get(pos).ok_or("the JPEG is cut short")?;
        pos += 1;
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Ok(out);
            }
            0x01 | 0xD0..=0xD7 => out.extend_from_slice(&[0xFF, marker]),
            _ => {
                let len = bytes.get(pos..pos + 2).ok_or("the JPEG is cut short")?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 {
                    return Err("a JPEG segment is broken");
                }
                let segment = bytes.get(pos..pos + len).ok_or("the JPEG is cut short")?;
                if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                    let header = segment
                        .get(2..8)
                        .ok_or("the JPEG frame header is cut short")?;
                    let height = u32::from(u16::from_be_bytes([header[1], header[2]]));
                    let width = u32::from(u16::from_be_bytes([header[3], header[4]]));
                    let plausible = (1..=MAX_DIMENSION).contains(&width)
                        && (1..=MAX_DIMENSION).contains(&height)
                        && (1..=4).contains(&header[5]);
                    if !plausible {
                        return Err("the JPEG frame header gives an impossible size");
                    }
                    frame_seen = true;
                }
                if marker == 0xDA {
                    if !frame_seen {
                        return Err("the JPEG has no frame header");
                    }
                    // Start of scan: the compressed image follows; keep the rest as is. Its
                    // data stuffs every 0xFF, so an FF D9 in it can only be the end marker.
                    if !bytes[pos..].windows(2).any(|w| w == [0xFF, 0xD9]) {
                        return Err("the JPEG is cut short (no end marker)");
                    }
                    out.extend_from_slice(&[0xFF, marker]);
                    out.extend_from_slice(&bytes[pos..]);
                    return Ok(out);
                }
                let metadata = (0xE1..=0xEF).contains(&marker) || marker == 0xFE;
                if !metadata {
                    out.extend_from_slice(&[0xFF, marker]);
                    out.extend_from_slice(segment);
                }
                pos += len;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};
    use std::io::Cursor;

    fn png() -> Vec<u8> {
        let img = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("png");
        out.into_inner()
    }

    fn jpeg() -> Vec<u8> {
        let img = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).expect("jpeg");
        out.into_inner()
    }

    /// A PNG with a tEXt chunk inserted after IHDR.
    fn png_with_text(text: &[u8]) -> Vec<u8> {
        let plain = png();
        let ihdr_end = 8 + 12 + 13;
        let mut chunk = Vec::new();
        chunk.extend_from_slice(&(text.len() as u32).to_be_bytes());
        chunk.extend_from_slice(b"tEXt");
        chunk.extend_from_slice(text);
        let crc = crc32fast::hash(&chunk[4..]);
        chunk.extend_from_slice(&crc.to_be_bytes());
        [&plain[..ihdr_end], &chunk[..], &plain[ihdr_end..]].concat()
    }

    fn shot(name: &str, bytes: Vec<u8>) -> Screenshot {
        Screenshot {
            name: name.into(),
            bytes,
        }
    }

    #[test]
    fn png_and_jpeg_pass_and_lose_their_metadata() {
        let tagged = png_with_text(b"Comment\0GPS 48.85,2.35 serial XYZ");
        let checked = check(&shot("a b/../Shot 1.PNG", tagged), 0, 1 << 20).expect("png");
        assert_eq!(checked.path, "screenshots/01-Shot_1.png");
        assert!(!checked.bytes.windows(3).any(|w| w == b"GPS"));
        assert!(image::load_from_memory(&checked.bytes).is_ok());

        let mut exif = jpeg();
        let app1 = [&[0xFF, 0xE1, 0x00, 0x0B][..], b"Exif\0\0GPS"].concat();
        exif.splice(2..2, app1);
        let checked = check(&shot("photo.jpg", exif), 1, 1 << 20).expect("jpeg");
        assert_eq!(checked.path, "screenshots/02-photo.jpg");
        assert!(!checked.bytes.windows(3).any(|w| w == b"GPS"));
    }

    #[test]
    fn a_jpeg_frame_header_must_give_a_plausible_size() {
        let good = jpeg();
        assert!(strip_jpeg(&good).is_ok());
        let sof = good
            .windows(2)
            .position(|w| w[0] == 0xFF && (0xC0..=0xC2).contains(&w[1]))
            .expect("frame header");
        let mut zero_width = good.clone();
        zero_width[sof + 7] = 0;
        zero_width[sof + 8] = 0;
        assert!(strip_jpeg(&zero_width).is_err());
        let mut no_frame = good.clone();
        no_frame[sof + 1] = 0xE5; // the frame header becomes an application segment
        assert!(strip_jpeg(&no_frame).is_err());
    }

    #[test]
    fn oversize_corrupt_and_foreign_files_have_their_own_errors() {
        let big = png();
        let err = check(&shot("big.png", big.clone()), 0, 100).expect_err("big");
        assert!(matches!(
            err,
            DiagnosticsError::ScreenshotTooLarge { limit: 100, .. }
        ));

        let truncated = big[..big.len() / 2].to_vec();
        let err = check(&shot("cut.png", truncated), 0, 1 << 20).expect_err("cut");
        assert!(
            matches!(err, DiagnosticsError::ScreenshotCorrupt { .. }),
            "{err:?}"
        );

        let mut garbled = png();
        let middle = garbled.len() - 30;
        for b in &mut garbled[40..middle] {
            *b ^= 0x5A;
        }
        let err = check(&shot("garbled.png", garbled), 0, 1 << 20).expect_err("garbled");
        assert!(
            matches!(err, DiagnosticsError::ScreenshotCorrupt { .. }),
            "{err:?}"
        );

        let mut jpeg_cut = jpeg();
        jpeg_cut.truncate(jpeg_cut.len() / 3);
        let err = check(&shot("cut.jpg", jpeg_cut), 0, 1 << 20).expect_err("cut jpeg");
        assert!(
            matches!(err, DiagnosticsError::ScreenshotCorrupt { .. }),
            "{err:?}"
        );

        for foreign in [&b"GIF89a....."[..], b"%PDF-1.7", b"", b"\x89PN"] {
            let err = check(&shot("x", foreign.to_vec()), 0, 1 << 20).expect_err("foreign");
            assert!(matches!(err, DiagnosticsError::ScreenshotNotAnImage { .. }));
        }
    }
}
