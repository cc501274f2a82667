//! The scanner on real photos: `../shared/qr-corpus` beside the repository.
//!
//! - Every image and rotation listed in `scan_floor.txt` decodes to its expected text (the
//!   floor only rises: add what newly decodes, never remove a line).
//! - No image ever decodes to a text other than its own.
//! - The photos with no QR code give nothing, at any rotation.
//!
//! `IBKEY_WRITE_SCAN_FLOOR=1 cargo test -p ibkey-core --test scan_corpus` rewrites the floor
//! file with everything that decodes today.

// Test helpers fail fast on broken set-up.
#![allow(clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ibkey_core::scan;
use image::GrayImage;

const ROTATIONS: [u32; 4] = [0, 90, 180, 270];

fn corpus() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/qr-corpus");
    assert!(
        dir.is_dir(),
        "QR corpus not found at {}: the scanner tests need the shared folder `qr-corpus` \
         beside the repository (../shared/qr-corpus from the repo root)",
        dir.display()
    );
    dir
}

fn folders(prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("read corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no {prefix}* folders in the corpus");
    found
}

fn images(folder: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .expect("read folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("png" | "jpg" | "jpeg" | "webp")
            )
        })
        .collect();
    found.sort();
    found
}

fn rotated(image: &GrayImage, degrees: u32) -> GrayImage {
    match degrees {
        90 => image::imageops::rotate90(image),
        180 => image::imageops::rotate180(image),
        270 => image::imageops::rotate270(image),
        _ => image.clone(),
    }
}

fn read_all(image: &GrayImage) -> Vec<String> {
    scan::decode_luma_all(image.width(), image.height(), image.width(), image.as_raw())
        .expect("a valid image")
}

/// `folder/file@rotation`, as in the floor file.
fn key(path: &Path, degrees: u32) -> String {
    let folder = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    format!("{folder}/{file}@{degrees}")
}

fn floor_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scan_floor.txt")
}

#[test]
fn photos_decode_at_least_as_well_as_the_floor_and_never_to_a_wrong_text() {
    let floor: BTreeSet<String> = std::fs::read_to_string(floor_path())
        .expect("read tests/scan_floor.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let mut decoded = BTreeSet::new();
    let mut wrong = Vec::new();
    let mut total = 0;
    for folder in folders("zxing-qrcode-") {
        for path in images(&folder) {
            let Ok(expected) = std::fs::read_to_string(path.with_extension("txt")) else {
                continue;
            };
            let image = image::open(&path).expect("open photo").to_luma8();
            for degrees in ROTATIONS {
                total += 1;
                let texts = read_all(&rotated(&image, degrees));
                if texts.contains(&expected) {
                    decoded.insert(key(&path, degrees));
                } else if !texts.is_empty() {
                    wrong.push(format!("{}: {texts:?}", key(&path, degrees)));
                }
            }
        }
    }
    if std::env::var_os("IBKEY_WRITE_SCAN_FLOOR").is_some() {
        let mut text = String::from(
            "# Corpus photos (folder/file@rotation) the scanner reads today; \
             tests/scan_corpus.rs keeps them reading.\n# The list only grows.\n",
        );
        for line in &decoded {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(floor_path(), text).expect("write floor");
    }
    assert!(wrong.is_empty(), "wrong texts read: {wrong:#?}");
    let lost: Vec<&String> = floor.difference(&decoded).collect();
    assert!(
        lost.is_empty(),
        "{} image(s) of the floor no longer decode: {lost:#?}",
        lost.len()
    );
    let gained = decoded.difference(&floor).count();
    println!(
        "{} of {total} decoded; floor {}; {gained} above the floor (raise it with \
         IBKEY_WRITE_SCAN_FLOOR=1)",
        decoded.len(),
        floor.len()
    );
}

#[test]
fn photos_without_a_code_give_nothing() {
    let mut read = Vec::new();
    let mut count = 0;
    for folder in folders("no-qr-") {
        for path in images(&folder) {
            let image = image::open(&path).expect("open photo").to_luma8();
            for degrees in ROTATIONS {
                count += 1;
                let texts = read_all(&rotated(&image, degrees));
                if !texts.is_empty() {
                    read.push(format!("{}: {texts:?}", key(&path, degrees)));
                }
            }
        }
    }
    assert!(count > 0, "no images in no-qr-*");
    assert!(
        read.is_empty(),
        "codes read where there are none: {read:#?}"
    );
}
