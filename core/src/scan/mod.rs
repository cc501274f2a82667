//! Scanning and drawing QR codes: activation codes read from camera frames and image files,
//! and QR codes rendered as PNG, SVG or terminal text for the portal and the CLI.
//!
//! A phone app feeds camera frames to a [`Scanner`]: the 8-bit luma (Y) plane exactly as the
//! camera delivers it (width, height, row stride; no chroma, no copy). Each frame gives a
//! [`FrameResult`]: an activation payload or a login page's code the first time a code is
//! read, `SameAsBefore` while that code stays in view, `ForeignCode` for a QR code that is
//! not ours, and `NoCode` otherwise. Gallery pictures and screenshots go through [`Scanner::scan_image`] or
//! [`decode_image`] (PNG or JPEG) to the same results.
//!
//! Decoding binarises with a local threshold that does not depend on rotation, downscales
//! big frames first, tries inverted (light-on-dark) codes, and runs the `rqrr` decoder only
//! where finder patterns are seen. Any panic inside a decoder is caught: bad input of any
//! kind gives a [`ScanError`] or `NoCode`, never a crash.

mod binarize;
mod detect;
mod finder;
mod frame;
pub(crate) mod image_io;
mod render;
mod stream;

use std::sync::Mutex;

pub use frame::{MAX_PIXELS, MAX_SIDE};
pub use image_io::{GrayImage, Luma};
pub use render::{render_luma, render_png, render_svg, render_terminal};

use ibkey_protocol::activation::TOKEN_PREFIX;
use ibkey_protocol::approval::CHALLENGE_TYPE;
use ibkey_protocol::encoding::unb64;

/// Why no text came out of an image or frame, or no image out of a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum ScanError {
    /// The bytes are not a PNG or JPEG image (or one too large to open).
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
    /// A camera frame with a zero or impossibly large width or height.
    #[error("The camera delivered a frame of {width}×{height} pixels, which cannot be scanned. Close and reopen the scanner, or type the session ID shown under the QR code.")]
    BadFrameSize {
        /// Width of the frame, in pixels.
        width: u32,
        /// Height of the frame, in pixels.
        height: u32,
    },
    /// A camera frame whose row stride is shorter than its width.
    #[error("The camera delivered a frame with rows of {stride} bytes for {width} pixels, which cannot be scanned. Close and reopen the scanner, or type the session ID shown under the QR code.")]
    BadStride {
        /// Width of the frame, in pixels.
        width: u32,
        /// Distance between the starts of two rows, in bytes.
        stride: u32,
    },
    /// A camera frame whose buffer is shorter than its size and stride say.
    #[error("The camera delivered a truncated frame ({actual} of {needed} bytes). Close and reopen the scanner, or type the session ID shown under the QR code.")]
    BufferTooSmall {
        /// Bytes the size and stride need.
        needed: u64,
        /// Bytes in the buffer.
        actual: u64,
    },
}

crate::error::export_error_code!(ScanError);

impl crate::error::ErrorCode for ScanError {
    fn code(&self) -> &'static str {
        match self {
            ScanError::NotAnImage { .. } => "SCAN_NOT_AN_IMAGE",
            ScanError::NoQrCode => "SCAN_NO_QR_CODE",
            ScanError::TooLong => "SCAN_TOO_LONG",
            ScanError::BadFrameSize { .. } => "SCAN_BAD_FRAME_SIZE",
            ScanError::BadStride { .. } => "SCAN_BAD_STRIDE",
            ScanError::BufferTooSmall { .. } => "SCAN_BUFFER_TOO_SMALL",
        }
    }
}

/// What one camera frame or image held.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum FrameResult {
    /// An activation code, read for the first time since it came into view.
    Payload {
        /// The activation payload (`IBK1.…`), ready for activation.
        text: String,
    },
    /// A login page's QR code (a signed login challenge), read for the first time since it
    /// came into view.
    LoginCode {
        /// The login challenge (`IBK1.…`), for [`crate::Authenticator::read_login_qr`].
        text: String,
    },
    /// The code last returned (activation or login), still in view: nothing new to do.
    SameAsBefore,
    /// A QR code, but not an activation code: tell the user to scan the portal's code.
    ForeignCode,
    /// No QR code could be read.
    NoCode,
}

/// After this many frames in a row with no sign of a QR code, the last activation code counts
/// as gone from view, and is returned again when it comes back (about a third of a second at
/// 30 frames a second).
pub const FRAMES_UNTIL_FORGOTTEN: u32 = 10;

/// Reads activation codes from a stream of camera frames, remembering the last code returned
/// so a code held in view is reported once. Cheap to create; share it as `Arc<Scanner>`: all
/// methods take `&self` and it is `Send + Sync`.
#[derive(Default)]
pub struct Scanner {
    state: Mutex<ScannerState>,
}

/// Shows no payload: an activation code is a secret until used.
impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct ScannerState {
    /// What the frames so far showed, for reading the next.
    stream: FrameStream,
    /// The last payload returned.
    last: Option<String>,
    /// Frames in a row without any sign of a code since `last` was last seen.
    frames_without_code: u32,
}

/// Reads the codes in consecutive frames of one camera stream, each frame with what the
/// frames before it showed: where the code was, the last frame's pixels to average with, and
/// the costly looks spread over the frames, one a frame (see the `stream` module). Reads
/// codes sooner than decoding each frame alone, and a frame without a readable code costs a
/// fraction of what it costs alone. [`Scanner`] uses one; use it directly for every text read
/// (foreign codes too). One per stream: frames of different streams mixed into one read
/// worse, never wrong.
#[derive(Default)]
pub struct FrameStream {
    memory: stream::StreamMemory,
}

/// Shows nothing: the frames' pixels may hold an activation code.
impl std::fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameStream").finish_non_exhaustive()
    }
}

impl FrameStream {
    /// A stream that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The texts of the codes read in the next frame (`height` rows of `width` pixels, rows
    /// `row_stride` bytes apart); an empty list when none was.
    pub fn read_frame(
        &mut self,
        width: u32,
        height: u32,
        row_stride: u32,
        luma: &[u8],
    ) -> Result<Vec<String>, ScanError> {
        let plane = frame::Plane::new(width, height, row_stride, luma)?;
        Ok(self.read_plane(&plane).texts)
    }

    /// [`FrameStream::read_frame`] for a PNG or JPEG file's bytes (frames saved from a camera).
    pub fn read_image(&mut self, bytes: &[u8]) -> Result<Vec<String>, ScanError> {
        let image = load_luma(bytes)?;
        self.read_frame(image.width(), image.height(), image.width(), image.as_raw())
    }

    /// Forgets the frames seen: the next is read as the first of a stream.
    pub fn reset(&mut self) {
        self.memory.clear();
    }

    fn read_plane(&mut self, plane: &frame::Plane<'_>) -> detect::Found {
        stream::read_frame(plane, &mut self.memory)
    }
}

impl Scanner {
    /// A scanner that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans one camera frame: `luma` is the 8-bit Y plane, `height` rows of `width` pixels
    /// whose starts are `row_stride` bytes apart (the last row may be short of the stride).
    pub fn scan_frame(
        &self,
        width: u32,
        height: u32,
        row_stride: u32,
        luma: &[u8],
    ) -> Result<FrameResult, ScanError> {
        let plane = frame::Plane::new(width, height, row_stride, luma)?;
        let mut state = self.lock();
        let found = state.stream.read_plane(&plane);
        Ok(state.classify(found))
    }

    /// Scans a PNG or JPEG file's bytes (a screenshot, a gallery photo) like a camera frame.
    pub fn scan_image(&self, bytes: &[u8]) -> Result<FrameResult, ScanError> {
        let image = load_luma(bytes)?;
        self.scan_frame(image.width(), image.height(), image.width(), image.as_raw())
    }

    /// Forgets the last code returned: the next frame holding it returns it again.
    pub fn reset(&self) {
        *self.lock() = ScannerState::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ScannerState> {
        // Nothing panics while the lock is held; if it ever did, the state is still valid.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ScannerState {
    /// What a frame's codes mean for the user, given the code returned last.
    fn classify(&mut self, found: detect::Found) -> FrameResult {
        let payload = found.texts.iter().find(|t| is_activation_payload(t));
        match payload {
            Some(text) => {
                self.frames_without_code = 0;
                if self.last.as_deref() == Some(text.as_str()) {
                    FrameResult::SameAsBefore
                } else {
                    self.last = Some(text.clone());
                    if is_login_code(text) {
                        FrameResult::LoginCode { text: text.clone() }
                    } else {
                        FrameResult::Payload { text: text.clone() }
                    }
                }
            }
            None => {
                if found.texts.is_empty() && !found.finders_seen {
                    self.frames_without_code = self.frames_without_code.saturating_add(1);
                    if self.frames_without_code >= FRAMES_UNTIL_FORGOTTEN {
                        self.last = None;
                    }
                }
                if found.texts.is_empty() {
                    FrameResult::NoCode
                } else {
                    FrameResult::ForeignCode
                }
            }
        }
    }
}

/// Whether a QR code's text is one of our activation payloads (`IBK1.…`).
pub fn is_activation_payload(text: &str) -> bool {
    text.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether a QR code's text is a login page's code: a signed token whose claims (read
/// without checking the signature) say it is a login challenge.
pub fn is_login_code(text: &str) -> bool {
    let mut parts = text.split('.');
    let claims = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(TOKEN_PREFIX), Some(claims), Some(_), None) => claims,
        _ => return false,
    };
    #[derive(serde::Deserialize)]
    struct Typed {
        typ: String,
    }
    unb64(claims)
        .and_then(|json| serde_json::from_slice::<Typed>(&json).ok())
        .is_some_and(|t| t.typ == CHALLENGE_TYPE)
}

/// Reads the text of a QR code in a luma plane (`height` rows of `width` pixels, rows
/// `row_stride` bytes apart), preferring an activation code when there are several. Stateless:
/// for camera streams use a [`Scanner`].
pub fn decode_luma(
    width: u32,
    height: u32,
    row_stride: u32,
    luma: &[u8],
) -> Result<String, ScanError> {
    let plane = frame::Plane::new(width, height, row_stride, luma)?;
    first_text(detect::read(&plane))
}

/// Reads the text of every QR code found in a luma plane (most images hold one; none gives an
/// empty list). Stateless, like [`decode_luma`].
pub fn decode_luma_all(
    width: u32,
    height: u32,
    row_stride: u32,
    luma: &[u8],
) -> Result<Vec<String>, ScanError> {
    let plane = frame::Plane::new(width, height, row_stride, luma)?;
    Ok(detect::read(&plane).texts)
}

/// Reads the text of a QR code in a PNG or JPEG file's bytes, preferring an activation code
/// when there are several.
pub fn decode_image(bytes: &[u8]) -> Result<String, ScanError> {
    let image = load_luma(bytes)?;
    decode_luma(image.width(), image.height(), image.width(), image.as_raw())
}

fn first_text(found: detect::Found) -> Result<String, ScanError> {
    let mut texts = found.texts;
    match texts.iter().position(|t| is_activation_payload(t)) {
        Some(i) => Ok(texts.swap_remove(i)),
        None => texts.into_iter().next().ok_or(ScanError::NoQrCode),
    }
}

/// Opens a PNG or JPEG as luma, within [`MAX_SIDE`] and [`MAX_PIXELS`]; image decoders' panics
/// become errors.
fn load_luma(bytes: &[u8]) -> Result<GrayImage, ScanError> {
    let limits = image_io::Limits {
        max_side: MAX_SIDE,
        max_pixels: MAX_PIXELS,
        // As before: room for the pixels decoded in RGBA and their luma copy.
        max_alloc: MAX_PIXELS * 5,
    };
    image_io::decode_luma(bytes, &limits).map_err(|reason| ScanError::NotAnImage { reason })
}

/// Deterministic noise for tests: `len` bytes from a xorshift generator seeded by `seed`.
#[cfg(test)]
pub(crate) fn test_noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str = "IBK1.eyJ0eXAiOiJhY3RpdmF0aW9uIn0.c2lnbmF0dXJl";

    #[test]
    fn a_rendered_code_decodes_back() {
        let png = render_png(PAYLOAD, 4).expect("render");
        assert_eq!(decode_image(&png).expect("decode"), PAYLOAD);
    }

    #[test]
    fn junk_is_not_an_image_and_a_blank_image_has_no_code() {
        assert!(matches!(
            decode_image(b"not an image"),
            Err(ScanError::NotAnImage { .. })
        ));
        let blank = GrayImage::from_fn(64, 64, |_, _| 255);
        let png = image_io::encode_png(&blank).expect("png");
        assert_eq!(decode_image(&png), Err(ScanError::NoQrCode));
    }

    #[test]
    fn scanner_reports_a_code_once_while_in_view_then_again_after_it_left() {
        let scanner = Scanner::new();
        let code = render_luma(PAYLOAD, 4).expect("render");
        let (w, h) = code.dimensions();
        let blank = vec![128u8; (w * h) as usize];
        let scan = |data: &[u8]| scanner.scan_frame(w, h, w, data).expect("scan");
        assert_eq!(
            scan(code.as_raw()),
            FrameResult::Payload {
                text: PAYLOAD.into()
            }
        );
        assert_eq!(scan(code.as_raw()), FrameResult::SameAsBefore);
        for _ in 0..FRAMES_UNTIL_FORGOTTEN - 1 {
            assert_eq!(scan(&blank), FrameResult::NoCode);
        }
        assert_eq!(scan(code.as_raw()), FrameResult::SameAsBefore);
        for _ in 0..FRAMES_UNTIL_FORGOTTEN {
            assert_eq!(scan(&blank), FrameResult::NoCode);
        }
        assert!(matches!(scan(code.as_raw()), FrameResult::Payload { .. }));
        scanner.reset();
        assert!(matches!(scan(code.as_raw()), FrameResult::Payload { .. }));
    }

    #[test]
    fn a_foreign_code_is_told_apart() {
        let scanner = Scanner::new();
        let png = render_png("https://example.com/not-ours", 4).expect("render");
        assert_eq!(scanner.scan_image(&png), Ok(FrameResult::ForeignCode));
        let png = render_png("IBK1nodot", 4).expect("render");
        assert_eq!(scanner.scan_image(&png), Ok(FrameResult::ForeignCode));
    }

    #[test]
    fn a_login_page_code_is_told_apart_and_held_in_view_once() {
        let login = format!(
            "IBK1.{}.c2lnbmF0dXJl",
            ibkey_protocol::encoding::b64(br#"{"typ":"login","id":"c1"}"#)
        );
        assert!(is_login_code(&login));
        assert!(!is_login_code(PAYLOAD));
        assert!(!is_login_code("IBK1.bm90IGpzb24.c2ln"));
        assert!(!is_login_code("login"));

        let scanner = Scanner::new();
        let code = render_luma(&login, 4).expect("render");
        let (w, h) = code.dimensions();
        let scan = |data: &[u8]| scanner.scan_frame(w, h, w, data).expect("scan");
        assert_eq!(
            scan(code.as_raw()),
            FrameResult::LoginCode {
                text: login.clone()
            }
        );
        assert_eq!(scan(code.as_raw()), FrameResult::SameAsBefore);

        // An activation code after it is still a payload, reported at once.
        let activation = render_luma(PAYLOAD, 4).expect("render");
        let (aw, ah) = activation.dimensions();
        assert_eq!(
            scanner
                .scan_frame(aw, ah, aw, activation.as_raw())
                .expect("scan"),
            FrameResult::Payload {
                text: PAYLOAD.into()
            }
        );
        let png = render_png(&login, 4).expect("render");
        assert_eq!(
            Scanner::new().scan_image(&png),
            Ok(FrameResult::LoginCode { text: login })
        );
    }

    #[test]
    fn payload_prefix() {
        assert!(is_activation_payload("IBK1.abc.def"));
        assert!(!is_activation_payload("IBK1"));
        assert!(!is_activation_payload("ibk1.abc"));
        assert!(!is_activation_payload("IBK2.abc"));
    }

    #[test]
    fn scanner_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Scanner>();
    }
}
