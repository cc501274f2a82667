//! Reading an activation QR code from a picture (a screenshot, a photo), until the camera
//! scanner arrives.

use ibkey_core::scan as core_scan;

use crate::errors::ScanError;

/// Reads the text of the first QR code in a PNG or JPEG file's bytes; pass the text to
/// `Authenticator.activateFromQr`.
#[uniffi::export]
pub fn decode_qr_image(image: Vec<u8>) -> Result<String, ScanError> {
    Ok(core_scan::decode_image(&image)?)
}
