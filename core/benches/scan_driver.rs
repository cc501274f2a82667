//! The Rust side of `bench/scan_vs_zxing.sh`: decodes the luma images a manifest lists and
//! prints one JSON object a line, with the text read and the time of each run; and renders
//! the activation code the script places in its synthetic camera frames.
//!
//! ```text
//! scan_driver render TEXT            # the code, one pixel a module, as a PGM on stdout
//! scan_driver decode MANIFEST REPEATS
//! scan_driver stream MANIFEST
//! ```
//!
//! A manifest line is `ID<TAB>PATH[<TAB>TURNS]` with PATH a binary PGM (P5, 8-bit) or any
//! image file (PNG, read as 8-bit grey), and TURNS how many quarter turns counter-clockwise
//! to rotate it by first (0 when absent; `numpy.rot90`'s direction). Output: one JSON object
//! a line, `{"id", "texts": [every code read], "us": [time of each run]}`. Times cover the
//! call to `scan::decode_luma_all` only, not process start, file reading or rotation.
//!
//! `stream` reads the manifest's frames as camera streams through one `scan::FrameStream`
//! each, in the order listed: an ID `SEQ/FRAME` starts a new stream whenever `SEQ` changes.
//! One run a frame (a stream cannot be replayed).

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
        Some("stream") => stream(args.get(1).expect("stream MANIFEST")),
        _ => {
            eprintln!("usage: scan_driver render TEXT | decode MANIFEST REPEATS | stream MANIFEST")
        }
    }
}

fn render(text: &str) {
    let image = scan::render_luma(text, 1).expect("render");
    let mut out = std::io::stdout().lock();
    write!(out, "P5\n{} {}\n255\n", image.width(), image.height()).expect("write");
    out.write_all(image.as_raw()).expect("write");
}

/// Reads an image as 8-bit grey: a binary PGM directly, anything else through `image`.
fn read_luma(path: &str) -> (u32, u32, Vec<u8>) {
    if path.ends_with(".pgm") {
        return read_pgm(path);
    }
    let image = image::open(path).expect("open image").to_luma8();
    (image.width(), image.height(), image.into_raw())
}

/// `pixels` (`width` × `height`) turned a quarter counter-clockwise: (width, height, pixels).
fn quarter_turn(width: u32, height: u32, pixels: &[u8]) -> (u32, u32, Vec<u8>) {
    let (w, h) = (width as usize, height as usize);
    let mut out = Vec::with_capacity(w * h);
    for y in 0..w {
        out.extend((0..h).map(|x| pixels[x * w + (w - 1 - y)]));
    }
    (height, width, out)
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

/// The manifest's images, each turned as its line says: (id, width, height, pixels).
fn frames(manifest: &str) -> impl Iterator<Item = (String, u32, u32, Vec<u8>)> {
    let list = std::fs::read_to_string(manifest).expect("read manifest");
    let lines: Vec<String> = list
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    lines.into_iter().map(|line| {
        let mut fields = line.split('\t');
        let (Some(id), Some(path)) = (fields.next(), fields.next()) else {
            panic!("ID<TAB>PATH[<TAB>TURNS]: {line}");
        };
        let turns: u32 = fields
            .next()
            .map_or(0, |t| t.parse().expect("TURNS is a number"));
        let (mut width, mut height, mut pixels) = read_luma(path);
        for _ in 0..turns % 4 {
            (width, height, pixels) = quarter_turn(width, height, &pixels);
        }
        (id.to_string(), width, height, pixels)
    })
}

fn decode(manifest: &str, repeats: usize) {
    let mut out = std::io::stdout().lock();
    for (id, width, height, pixels) in frames(manifest) {
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

fn stream(manifest: &str) {
    let mut out = std::io::stdout().lock();
    let mut stream = scan::FrameStream::new();
    let mut current = String::new();
    for (id, width, height, pixels) in frames(manifest) {
        let sequence = id.split('/').next().unwrap_or_default().to_string();
        if sequence != current {
            stream.reset();
            current = sequence;
        }
        let start = Instant::now();
        let texts = stream
            .read_frame(width, height, width, &pixels)
            .expect("a valid frame");
        let us = start.elapsed().as_secs_f64() * 1e6;
        let record = serde_json::json!({ "id": id, "texts": texts, "us": [us] });
        writeln!(out, "{record}").expect("write");
    }
}
