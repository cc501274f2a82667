//! Reading an activation QR code: camera frames through a [`Scanner`], and pictures (a
//! screenshot, a photo) through [`Scanner::scan_image`] or [`decode_qr_image`].

use std::sync::Arc;

use ibkey_core::scan::{self as core_scan, FrameResult, ScanError};

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
        self.inner.scan_frame(width, height, row_stride, luma)
    }

    /// Scans a PNG or JPEG file's bytes (a screenshot, a gallery photo) like a camera frame.
    pub fn scan_image(&self, bytes: Vec<u8>) -> Result<FrameResult, ScanError> {
        self.inner.scan_image(&bytes)
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
    core_scan::decode_image(&image)
}
