//! The user's files (images to read, QR codes to write), with the CLI's error line when the
//! file system refuses.

use std::path::Path;

use crate::failure::Failure;

/// The bytes of a file the user named; `cannot read PATH: …` when that fails.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::cli(format!("cannot read {}: {e}", path.display())))
}

/// Writes a file the user asked for; `cannot write PATH: …` when that fails.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes)
        .map_err(|e| Failure::cli(format!("cannot write {}: {e}", path.display())))
}
