//! Image files in and out, in one place for the scanner and the diagnostics: PNG decoded to
//! 8-bit luma with the `png` crate (every color type and bit depth, interlaced or not), JPEG
//! through `image` when the `jpeg` feature is on (the desktop; the mobile library has no JPEG
//! decoder), and grayscale PNGs written.
//!
//! The luma is what `image`'s `to_luma8` gave, value for value: gray samples as they are (16-bit
//! ones rounded to 8 bits), color through image's Rec. 709 luminance factors in `f32`, alpha
//! ignored. Decoding stays within [`Limits`], and a panic inside a decoder becomes an error.

use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_SIGNATURE: &[u8] = &[0xFF, 0xD8, 0xFF];

/// Red, green and blue luminance factors of sRGB (Rec. 709 primaries, D65), exactly the `f32`
/// values `image` derives and uses in `to_luma8`.
const LUMA_FACTORS: [f32; 3] = [0.212_647_84, 0.715_179_2, 0.072_173_04];

/// An 8-bit grayscale image (0 black, 255 white): `height` rows of `width` bytes, no padding.
/// Its accessors have the names and shapes of `image::GrayImage`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

/// One gray pixel: its value is `.0[0]`, as in `image::Luma<u8>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Luma(pub [u8; 1]);

impl GrayImage {
    /// An image of `width`×`height` pixels whose pixel at (x, y) is `pixel(x, y)`.
    pub fn from_fn(width: u32, height: u32, mut pixel: impl FnMut(u32, u32) -> u8) -> Self {
        let pixels = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| pixel(x, y))
            .collect();
        GrayImage {
            width,
            height,
            pixels,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Width and height in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The pixels, row after row.
    pub fn as_raw(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixels, row after row, without a copy.
    pub fn into_raw(self) -> Vec<u8> {
        self.pixels
    }

    /// The pixel at column `x` of row `y`; panics outside the image, like a slice index.
    pub fn get_pixel(&self, x: u32, y: u32) -> Luma {
        assert!(x < self.width && y < self.height, "({x}, {y}) is outside");
        Luma([self.pixels[y as usize * self.width as usize + x as usize]])
    }

    /// The rows, top to bottom, each an iterator over its pixels.
    pub fn rows(&self) -> impl Iterator<Item = impl Iterator<Item = Luma> + '_> + '_ {
        let width = (self.width as usize).max(1);
        self.pixels
            .chunks_exact(width)
            .map(|row| row.iter().map(|&v| Luma([v])))
    }
}

/// How large an image may be decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest width or height, pixels.
    pub max_side: u32,
    /// Largest width × height.
    pub max_pixels: u64,
    /// Largest memory the decoded pixels (and the decoder's buffers) may take, bytes.
    pub max_alloc: u64,
}

impl Limits {
    /// Refuses a size beyond the limits, saying why.
    fn check(&self, width: u32, height: u32) -> Result<(), String> {
        if width > self.max_side || height > self.max_side {
            Err(format!(
                "{width}×{height} pixels is more than {} on a side",
                self.max_side
            ))
        } else if u64::from(width) * u64::from(height) > self.max_pixels {
            Err("the image is too large".into())
        } else {
            Ok(())
        }
    }
}

/// Decodes a PNG (or, with the `jpeg` feature, a JPEG) to luma within `limits`. The error says
/// why not: not such a file, too large, corrupt (a decoder panic included).
pub(crate) fn decode_luma(bytes: &[u8], limits: &Limits) -> Result<GrayImage, String> {
    guarded(
        bytes,
        || decode_png(bytes, limits),
        || decode_jpeg(bytes, limits),
    )
}

/// Checks that a PNG (or, with the `jpeg` feature, a JPEG) decodes completely within
/// `limits`, without turning its pixels to luma: what a screenshot check needs.
pub(crate) fn check_decodes(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    guarded(
        bytes,
        || read_png(bytes, limits).map(drop),
        || decode_jpeg(bytes, limits).map(drop),
    )
}

/// Runs the PNG or the JPEG decoder by the file's signature; a decoder panic is an error.
fn guarded<T>(
    bytes: &[u8],
    png: impl FnOnce() -> Result<T, String>,
    jpeg: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let decoded = panic::catch_unwind(AssertUnwindSafe(|| {
        if bytes.starts_with(PNG_SIGNATURE) {
            png()
        } else if bytes.starts_with(JPEG_SIGNATURE) {
            jpeg()
        } else {
            Err("the file is neither PNG nor JPEG".into())
        }
    }));
    decoded.unwrap_or_else(|_| Err("the image data is corrupt".into()))
}

/// Decodes a PNG as `image` did (palettes, transparency and low bit depths expanded to 8 bits,
/// 16 bits kept), then turns the pixels to luma in place.
fn decode_png(bytes: &[u8], limits: &Limits) -> Result<GrayImage, String> {
    let (frame, mut pixels) = read_png(bytes, limits)?;
    let (width, height) = (frame.width, frame.height);
    let wide = frame.bit_depth == png::BitDepth::Sixteen;
    let color = !matches!(
        frame.color_type,
        png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha
    );
    let pixel_bytes = frame.color_type.samples() * if wide { 2 } else { 1 };
    let count = width as usize * height as usize;
    // In place: pixel `i` is read from at or after byte `i`, and only byte `i` is written.
    for i in 0..count {
        let at = i * pixel_bytes;
        let sample = |k: usize| match wide {
            true => u16::from_be_bytes([pixels[at + 2 * k], pixels[at + 2 * k + 1]]),
            false => u16::from(pixels[at + k]),
        };
        pixels[i] = match (color, wide) {
            (false, false) => pixels[at],
            // image's u16 → u8: round(v × 255 / 65535).
            (false, true) => ((u32::from(sample(0)) + 128) / 257) as u8,
            (true, _) => {
                let scale = 1.0 / if wide { 65535.0f32 } else { 255.0 };
                let [r, g, b] = [0, 1, 2].map(|k| f32::from(sample(k)) * scale);
                let [kr, kg, kb] = LUMA_FACTORS;
                let luma = multiply_add(multiply_add(r * kr, g, kg), b, kb);
                // Saturating, as in image.
                (luma * 255.0).round() as u8
            }
        };
    }
    pixels.truncate(count);
    pixels.shrink_to_fit();
    Ok(GrayImage {
        width,
        height,
        pixels,
    })
}

/// Reads a PNG's one frame within `limits`, samples expanded to 8 bits (16 kept): the pixels
/// and their description.
fn read_png(bytes: &[u8], limits: &Limits) -> Result<(png::OutputInfo, Vec<u8>), String> {
    let bytes_limit = usize::try_from(limits.max_alloc).unwrap_or(usize::MAX);
    let mut decoder =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: bytes_limit });
    let header = decoder.read_header_info().map_err(|e| e.to_string())?;
    limits.check(header.width, header.height)?;
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader
        .output_buffer_size()
        .filter(|&size| size as u64 <= limits.max_alloc)
        .ok_or("the image is too large")?;
    let mut pixels = Vec::new();
    pixels
        .try_reserve_exact(size)
        .map_err(|_| "the image is too large")?;
    pixels.resize(size, 0);
    let frame = reader.next_frame(&mut pixels).map_err(|e| e.to_string())?;
    Ok((frame, pixels))
}

/// `acc + a × b`, fused where `image` fuses it (x86 with FMA, ARM64), so results match to the
/// last bit.
fn multiply_add(acc: f32, a: f32, b: f32) -> f32 {
    if cfg!(any(
        all(
            any(target_arch = "x86", target_arch = "x86_64"),
            target_feature = "fma"
        ),
        all(target_arch = "aarch64", target_feature = "neon")
    )) {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// Decodes a JPEG with `image`, within `limits`.
#[cfg(feature = "jpeg")]
fn decode_jpeg(bytes: &[u8], limits: &Limits) -> Result<GrayImage, String> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Jpeg);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(image_limits);
    let image = reader.decode().map_err(|e| e.to_string())?;
    limits.check(image.width(), image.height())?;
    let luma = image.into_luma8();
    Ok(GrayImage {
        width: luma.width(),
        height: luma.height(),
        pixels: luma.into_raw(),
    })
}

/// Without the `jpeg` feature (the mobile library) there is no JPEG decoder.
#[cfg(not(feature = "jpeg"))]
fn decode_jpeg(_bytes: &[u8], _limits: &Limits) -> Result<GrayImage, String> {
    Err("JPEG images cannot be opened here".into())
}

/// The image as an 8-bit grayscale PNG.
pub(crate) fn encode_png(image: &GrayImage) -> Result<Vec<u8>, png::EncodingError> {
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, image.width, image.height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&image.pixels)?;
    writer.finish()?;
    Ok(png)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    const NO_LIMITS: Limits = Limits {
        max_side: u32::MAX,
        max_pixels: u64::MAX,
        max_alloc: u64::MAX,
    };

    /// A PNG of noise from the `png` encoder: `samples`-channel `color`, `depth` bits.
    fn png_of(color: png::ColorType, depth: png::BitDepth, trns: bool) -> Vec<u8> {
        let (w, h) = (37u32, 23u32);
        let bits = color.samples() * depth as usize;
        let row = (w as usize * bits).div_ceil(8);
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(color);
        encoder.set_depth(depth);
        if color == png::ColorType::Indexed {
            encoder.set_palette(crate::scan::test_noise(3 << depth as u8, 7));
        }
        if trns {
            encoder.set_trns(match color {
                png::ColorType::Indexed => crate::scan::test_noise(1 << depth as u8, 9),
                png::ColorType::Rgb => vec![0, 1, 0, 2, 0, 3],
                _ => vec![0, 1],
            });
        }
        let mut writer = encoder.write_header().expect("header");
        writer
            .write_image_data(&crate::scan::test_noise(
                row * h as usize,
                u64::from(depth as u8) * 31 + bits as u64,
            ))
            .expect("data");
        writer.finish().expect("finish");
        out
    }

    /// What `image` made of the same bytes.
    fn image_luma(bytes: &[u8]) -> Vec<u8> {
        image::load_from_memory(bytes)
            .expect("image decodes it")
            .to_luma8()
            .into_raw()
    }

    #[test]
    fn every_png_color_type_and_depth_decodes_as_image_did() {
        use png::{BitDepth as D, ColorType as C};
        let kinds = [
            (
                C::Grayscale,
                &[D::One, D::Two, D::Four, D::Eight, D::Sixteen][..],
            ),
            (C::GrayscaleAlpha, &[D::Eight, D::Sixteen]),
            (C::Rgb, &[D::Eight, D::Sixteen]),
            (C::Rgba, &[D::Eight, D::Sixteen]),
            (C::Indexed, &[D::One, D::Two, D::Four, D::Eight]),
        ];
        for (color, depths) in kinds {
            for &depth in depths {
                for trns in [false, true] {
                    if trns && matches!(color, C::GrayscaleAlpha | C::Rgba) {
                        continue;
                    }
                    let png = png_of(color, depth, trns);
                    let luma = decode_luma(&png, &NO_LIMITS).expect("decodes");
                    assert_eq!(luma.dimensions(), (37, 23));
                    assert_eq!(
                        luma.as_raw(),
                        image_luma(&png),
                        "{color:?} {depth:?} tRNS {trns}"
                    );
                }
            }
        }
    }

    #[test]
    fn colors_turn_to_luma_as_in_image() {
        // Red, green and blue through a third of their values each: 2.5 million colors.
        let colors: Vec<u8> = (0..=255u8)
            .flat_map(|r| (0..=255u8).step_by(3).map(move |g| (r, g)))
            .flat_map(|(r, g)| (0..=255u8).step_by(3).flat_map(move |b| [r, g, b]))
            .collect();
        let w = 86 * 86;
        let image = image::RgbImage::from_raw(w, 256, colors).expect("size");
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        let luma = decode_luma(&png, &NO_LIMITS).expect("decodes");
        assert_eq!(luma.as_raw(), image_luma(&png));
    }

    /// An 8-bit PNG of `color_type` (PNG's number) written interlaced (Adam7), unfiltered.
    fn interlaced_png(w: u32, h: u32, color_type: u8, pixel_bytes: usize, data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let passes = [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ];
        let mut raw = Vec::new();
        for (x0, y0, dx, dy) in passes {
            if x0 >= w || y0 >= h {
                continue;
            }
            for y in (y0..h).step_by(dy) {
                raw.push(0);
                for x in (x0..w).step_by(dx) {
                    let at = (y * w + x) as usize * pixel_bytes;
                    raw.extend_from_slice(&data[at..at + pixel_bytes]);
                }
            }
        }
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&raw).expect("deflate");
        let idat = zlib.finish().expect("deflate");
        let mut ihdr = [w.to_be_bytes(), h.to_be_bytes()].concat();
        ihdr.extend_from_slice(&[8, color_type, 0, 0, 1]);
        let mut png = PNG_SIGNATURE.to_vec();
        for (kind, body) in [(b"IHDR", &ihdr[..]), (b"IDAT", &idat), (b"IEND", &[])] {
            png.extend_from_slice(&(body.len() as u32).to_be_bytes());
            let start = png.len();
            png.extend_from_slice(kind);
            png.extend_from_slice(body);
            let crc = crc32fast::hash(&png[start..]);
            png.extend_from_slice(&crc.to_be_bytes());
        }
        png
    }

    #[test]
    fn interlaced_pngs_decode() {
        let (w, h) = (13, 11);
        let gray = crate::scan::test_noise((w * h) as usize, 3);
        let png = interlaced_png(w, h, 0, 1, &gray);
        assert_eq!(decode_luma(&png, &NO_LIMITS).expect("gray").as_raw(), gray);
        let rgb = crate::scan::test_noise((w * h * 3) as usize, 5);
        let png = interlaced_png(w, h, 2, 3, &rgb);
        let luma = decode_luma(&png, &NO_LIMITS).expect("rgb");
        assert_eq!(luma.as_raw(), image_luma(&png));
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        let png = png_of(png::ColorType::Rgb, png::BitDepth::Eight, false);
        for cut in [8, 20, 33, 50, png.len() / 2, png.len() - 13] {
            assert!(
                decode_luma(&png[..cut], &NO_LIMITS).is_err(),
                "cut at {cut}"
            );
        }
        let mut garbled = png.clone();
        for b in &mut garbled[41..png.len() - 20] {
            *b ^= 0x5A;
        }
        assert!(decode_luma(&garbled, &NO_LIMITS).is_err());
        for junk in [&b""[..], b"GIF89a", b"\x89PN", b"not an image"] {
            assert!(decode_luma(junk, &NO_LIMITS).is_err());
        }
    }

    #[test]
    fn images_beyond_the_limits_are_refused() {
        let png = png_of(png::ColorType::Rgba, png::BitDepth::Sixteen, false);
        let limits = |max_side, max_pixels, max_alloc| Limits {
            max_side,
            max_pixels,
            max_alloc,
        };
        assert!(decode_luma(&png, &limits(37, 37 * 23, 37 * 23 * 8)).is_ok());
        assert!(decode_luma(&png, &limits(36, u64::MAX, u64::MAX)).is_err());
        assert!(decode_luma(&png, &limits(99, 37 * 23 - 1, u64::MAX)).is_err());
        assert!(decode_luma(&png, &limits(99, u64::MAX, 37 * 23 * 8 - 1)).is_err());
    }

    #[test]
    fn an_encoded_image_is_a_gray_png_that_decodes_back() {
        let image = GrayImage::from_fn(19, 7, |x, y| (x * 13 + y * 29) as u8);
        let png = encode_png(&image).expect("encode");
        let reader = png::Decoder::new(Cursor::new(&png))
            .read_info()
            .expect("a PNG");
        assert_eq!(reader.info().color_type, png::ColorType::Grayscale);
        assert_eq!(reader.info().bit_depth, png::BitDepth::Eight);
        assert_eq!(decode_luma(&png, &NO_LIMITS), Ok(image.clone()));
        assert_eq!(image.get_pixel(2, 1), Luma([55]));
        assert_eq!(image.rows().count(), 7);
        assert!(image.rows().all(|row| row.count() == 19));
    }

    #[test]
    fn jpeg_decodes_only_with_the_jpeg_feature() {
        let rgb =
            image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]));
        let mut jpeg = Vec::new();
        rgb.write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .expect("jpeg");
        let decoded = decode_luma(&jpeg, &NO_LIMITS);
        if cfg!(feature = "jpeg") {
            assert_eq!(decoded.expect("jpeg").as_raw(), image_luma(&jpeg));
        } else {
            assert!(decoded.is_err());
        }
    }
}
