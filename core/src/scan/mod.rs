//! Scanning and drawing QR codes: activation codes read from images, and QR codes rendered
//! as PNG or terminal text for the portal and the CLI.
//!
//! Decoding runs `rqrr` on the image's luma; any panic inside the decoder is caught and
//! reported as an unreadable image, so no input can crash the app.

use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};

use image::{GrayImage, ImageFormat, Luma};
use qrcode::{Color, EcLevel, QrCode};

/// Why no text came out of an image, or no image out of a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The bytes are not a PNG or JPEG image.
    #[error("The file is not a PNG or JPEG image ({reason}). Take a screenshot or photo of the QR code and try again.")]
    NotAnImage {
        /// What the image decoder said.
        reason: String,
    },
    /// The image holds no QR code that could be read.
    #[error("No QR code could be read in this image. Hold the phone steady, fill the frame with the code, or type the session ID shown under it.")]
    NoQrCode,
    /// The text is too long for a QR code.
    #[error("The text is too long for a QR code.")]
    TooLong,
}

impl crate::error::ErrorCode for ScanError {
    fn code(&self) -> &'static str {
        match self {
            ScanError::NotAnImage { .. } => "SCAN_NOT_AN_IMAGE",
            ScanError::NoQrCode => "SCAN_NO_QR_CODE",
            ScanError::TooLong => "SCAN_TOO_LONG",
        }
    }
}

/// Reads the text of the first QR code in a PNG or JPEG file's bytes.
pub fn decode_image(bytes: &[u8]) -> Result<String, ScanError> {
    let image = image::load_from_memory(bytes)
        .map_err(|e| ScanError::NotAnImage {
            reason: e.to_string(),
        })?
        .to_luma8();
    decode_luma(&image)
}

fn decode_luma(image: &GrayImage) -> Result<String, ScanError> {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let decoded = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
        prepared
            .detect_grids()
            .into_iter()
            .find_map(|grid| grid.decode().ok().map(|(_, text)| text))
    }));
    decoded.ok().flatten().ok_or(ScanError::NoQrCode)
}

fn encode(text: &str) -> Result<QrCode, ScanError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|_| ScanError::TooLong)
}

/// Renders `text` as a QR code PNG: black on white, `scale` pixels a module, with the
/// standard four-module quiet zone.
pub fn render_png(text: &str, scale: u32) -> Result<Vec<u8>, ScanError> {
    let code = encode(text)?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let scale = scale.max(1);
    let quiet = 4;
    let side = (modules + 2 * quiet) * scale;
    let image = GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let inside = mx >= quiet && my >= quiet && mx < quiet + modules && my < quiet + modules;
        let dark =
            inside && colors[((my - quiet) * modules + (mx - quiet)) as usize] == Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|_| ScanError::TooLong)?;
    Ok(png)
}

/// Renders `text` as a QR code in Unicode half blocks for a terminal (dark on light).
pub fn render_terminal(text: &str) -> Result<String, ScanError> {
    let code = encode(text)?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_code_decodes_back() {
        let text = "IBK1.eyJ0eXAiOiJhY3RpdmF0aW9uIn0.c2lnbmF0dXJl";
        let png = render_png(text, 4).expect("render");
        assert_eq!(decode_image(&png).expect("decode"), text);
    }

    #[test]
    fn junk_is_not_an_image_and_a_blank_image_has_no_code() {
        assert!(matches!(
            decode_image(b"not an image"),
            Err(ScanError::NotAnImage { .. })
        ));
        let blank = GrayImage::from_pixel(64, 64, Luma([255]));
        let mut png = Vec::new();
        blank
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("png");
        assert_eq!(decode_image(&png), Err(ScanError::NoQrCode));
    }

    #[test]
    fn terminal_rendering_has_one_line_per_two_module_rows() {
        let art = render_terminal("hello").expect("render");
        let lines = art.lines().count();
        assert!((14..=20).contains(&lines), "{lines} lines");
    }
}
