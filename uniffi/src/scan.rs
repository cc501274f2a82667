//! Reading an activation QR code: camera frames through a [`Scanner`], and pictures (a
//! screenshot, a photo) through [`Scanner::scan_image`] or [`decode_qr_image`].

use std::sync::Arc;

use ibkey_core::scan as core_scan;

use crate::errors::ScanError;

/// What one camera frame or image held.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum FrameResult {
    /// An activation code, read for the first time since it came into view: pass `text` to
    /// `Authenticator.activateFromQr`.
    Payload {
        /// The activation payload (`IBK1.…`).
        text: String,
    },
    /// The activation code last returned, still in view: nothing new to do.
    SameAsBefore,
    /// A QR code, but not an activation code: tell the user to scan the portal's code.
    ForeignCode,
    /// No QR code could be read.
    NoCode,
}

impl From<core_scan::FrameResult> for FrameResult {
    fn from(result: core_scan::FrameResult) -> Self {
        use core_scan::FrameResult as C;
        match result {
            C::Payload { text } => FrameResult::Payload { text },
            C::SameAsBefore => FrameResult::SameAsBefore,
            C::ForeignCode => FrameResult::ForeignCode,
            C::NoCode => FrameResult::NoCode,
        }
    }
}

/// Reads activation codes from a stream of camera frames, reporting a code held in view once
/// (then `SameAsBefore` until it has left the view). Thread-safe; one per scanner screen.
#[derive(Debug, Default, uniffi::Object)]
pub struct Scanner {
    inner: core_scan::Scanner,
}

#[uniffi::export]
impl Scanner {
    /// A scanner that has seen nothing yet.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Scans one camera frame's 8-bit luma (Y) plane, as the camera delivers it: `height` rows
    /// of `width` pixels whose starts are `row_stride` bytes apart (the last row may stop at
    /// `width`). Kotlin passes a direct `ByteBuffer` (CameraX `planes[0].buffer`), read in
    /// place; Swift passes `Data`.
    pub fn scan_frame(
        &self,
        width: u32,
        height: u32,
        row_stride: u32,
        luma: &[u8],
    ) -> Result<FrameResult, ScanError> {
        Ok(self
            .inner
            .scan_frame(width, height, row_stride, luma)?
            .into())
    }

    /// Scans a PNG or JPEG file's bytes (a screenshot, a gallery photo) like a camera frame.
    pub fn scan_image(&self, bytes: Vec<u8>) -> Result<FrameResult, ScanError> {
        Ok(self.inner.scan_image(&bytes)?.into())
    }

    /// Forgets the last code returned: the next frame holding it returns it again.
    pub fn reset(&self) {
        self.inner.reset();
    }
}

/// Reads the text of the first QR code in a PNG or JPEG file's bytes; pass the text to
/// `Authenticator.activateFromQr`.
#[uniffi::export]
pub fn decode_qr_image(image: Vec<u8>) -> Result<String, ScanError> {
    Ok(core_scan::decode_image(&image)?)
}
