//! The Rust side of `bench/scan_vs_zxing.sh`: decodes the luma images a manifest lists and
//! prints one JSON object a line, with the text read and the time of each run; and renders
//! the activation code the script places in its synthetic camera frames.
//!
//! ```text
//! scan_driver render TEXT            # the code, one pixel a module, as a PGM on stdout
//! scan_driver decode MANIFEST REPEATS
//! ```
//!
//! A manifest line is `ID<TAB>PATH` with PATH a binary PGM (P5, 8-bit). Output: one JSON object
//! a line, `{"id", "texts": [every code read], "us": [time of each run]}`. Times cover the
//! call to `scan::decode_luma_all` only, not process start or file reading.

// A measuring tool: it fails fast, and prints.
#![allow(missing_docs, clippy::expect_used)]

use std::io::Write;
use std::time::Instant;

use ibkey_core::scan;

fn main() {
    // `cargo bench` passes `--bench`; it means nothing here.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("render") => render(args.get(1).expect("render TEXT")),
        Some("decode") => decode(
            args.get(1).expect("decode MANIFEST REPEATS"),
            args.get(2)
                .map_or(1, |r| r.parse().expect("REPEATS is a number")),
        ),
        _ => eprintln!("usage: scan_driver render TEXT | decode MANIFEST REPEATS"),
    }
}

fn render(text: &str) {
    let image = scan::render_luma(text, 1).expect("render");
    let mut out = std::io::stdout().lock();
    write!(out, "P5\n{} {}\n255\n", image.width(), image.height()).expect("write");
    out.write_all(image.as_raw()).expect("write");
}

/// Reads a binary 8-bit PGM: (width, height, pixels).
fn read_pgm(path: &str) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).expect("read PGM");
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 4 {
        while bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let start = pos;
        while !bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..pos]).into_owned());
    }
    assert_eq!(fields[0], "P5", "{path}: not a binary PGM");
    assert_eq!(fields[3], "255", "{path}: not 8-bit");
    let width: u32 = fields[1].parse().expect("width");
    let height: u32 = fields[2].parse().expect("height");
    let pixels = bytes[pos + 1..].to_vec();
    assert_eq!(pixels.len(), (width * height) as usize, "{path}: short");
    (width, height, pixels)
}

fn decode(manifest: &str, repeats: usize) {
    let list = std::fs::read_to_string(manifest).expect("read manifest");
    let mut out = std::io::stdout().lock();
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        let (id, path) = line.split_once('\t').expect("ID<TAB>PATH");
        let (width, height, pixels) = read_pgm(path);
        let mut texts = Vec::new();
        let mut times_us = Vec::with_capacity(repeats);
        for _ in 0..repeats.max(1) {
            let start = Instant::now();
            let result = scan::decode_luma_all(width, height, width, &pixels);
            times_us.push(start.elapsed().as_secs_f64() * 1e6);
            texts = result.expect("a valid frame");
        }
        let record = serde_json::json!({ "id": id, "texts": texts, "us": times_us });
        writeln!(out, "{record}").expect("write");
    }
}
