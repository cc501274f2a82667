//! Drawing QR codes for the portal and the CLI: PNG, SVG and terminal text, all at error
//! correction level M with the standard four-module quiet zone.

use qrcode::{Color, EcLevel, QrCode};

use super::{image_io, GrayImage, ScanError};

/// Modules of light border around a code, as the QR standard asks.
const QUIET_ZONE: u32 = 4;

fn encode(text: &str) -> Result<QrCode, ScanError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|_| ScanError::TooLong)
}

/// Renders `text` as a QR code PNG: black on white, `scale` pixels a module (at least 1),
/// with the standard four-module quiet zone.
pub fn render_png(text: &str, scale: u32) -> Result<Vec<u8>, ScanError> {
    // Writing to memory fails only on a size PNG cannot hold, which a QR code never reaches.
    image_io::encode_png(&render_luma(text, scale)?).map_err(|_| ScanError::TooLong)
}

/// Renders `text` as a QR code luma image (0 dark, 255 light), `scale` pixels a module, quiet
/// zone included: the PNG's pixels, for callers that place the code in a bigger picture.
pub fn render_luma(text: &str, scale: u32) -> Result<GrayImage, ScanError> {
    let code = encode(text)?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let scale = scale.clamp(1, 64);
    let side = (modules + 2 * QUIET_ZONE) * scale;
    Ok(GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let inside = (QUIET_ZONE..QUIET_ZONE + modules).contains(&mx)
            && (QUIET_ZONE..QUIET_ZONE + modules).contains(&my);
        let dark = inside
            && colors[((my - QUIET_ZONE) * modules + (mx - QUIET_ZONE)) as usize] == Color::Dark;
        if dark {
            0
        } else {
            255
        }
    }))
}

/// Renders `text` as an SVG document: black modules on white, `module_px` user units a module
/// (at least 1), with the quiet zone.
pub fn render_svg(text: &str, module_px: u32) -> Result<String, ScanError> {
    let code = encode(text)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .module_dimensions(module_px.max(1), module_px.max(1))
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
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
    fn terminal_rendering_has_one_line_per_two_module_rows() {
        let art = render_terminal("hello").expect("render");
        let lines = art.lines().count();
        assert!((14..=20).contains(&lines), "{lines} lines");
    }

    #[test]
    fn svg_is_a_document_with_dark_modules() {
        let svg = render_svg("hello", 4).expect("render");
        assert!(svg.starts_with("<?xml"), "{svg:.40}");
        assert!(svg.contains("<svg") && svg.contains("#000000"));
    }

    #[test]
    fn too_long_text_is_an_error() {
        let text = "x".repeat(5000);
        assert_eq!(render_png(&text, 2), Err(ScanError::TooLong));
        assert_eq!(render_svg(&text, 2), Err(ScanError::TooLong));
        assert_eq!(render_terminal(&text), Err(ScanError::TooLong));
    }
}
