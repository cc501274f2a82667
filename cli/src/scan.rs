//! `ibkey scan FILE...`: reads the QR code in each PNG or JPEG file, one line a file in the
//! order given: the text read, or why nothing was. With `--json`, one JSON object a line:
//! `{"file", "text", "activation", "login"}` (whether the text is one of our activation codes,
//! or a login page's code), and `"code"` and `"reason"` when nothing was read.
//! Succeeds when every file gave a text.
//!
//! `ibkey scan --frames FILE...`: the files are consecutive frames of one camera stream,
//! read in the order given by one [`scan::FrameStream`] (which uses what earlier frames
//! showed), one line a frame in the same formats, so the first read can be timed from
//! outside. Succeeds when any frame gave a text.

use std::path::{Path, PathBuf};

use ibkey_core::scan;
use ibkey_core::ErrorCode;

use crate::failure::Failure;

/// What one file gave: the text, or a stable code and a message.
type Outcome = Result<String, (&'static str, String)>;

/// Reads every file and prints one line for each; as separate images, fails when any gave no
/// text; as the frames of one stream, fails when none did.
pub fn run(files: &[PathBuf], json: bool, as_frames: bool) -> Result<(), Failure> {
    let mut stream = as_frames.then(scan::FrameStream::new);
    let mut unread = 0;
    for file in files {
        let outcome = match stream.as_mut() {
            Some(stream) => read_frame(stream, file),
            None => read(file),
        };
        unread += usize::from(outcome.is_err());
        println!("{}", line(file, &outcome, json));
    }
    let failed = if as_frames {
        unread == files.len()
    } else {
        unread > 0
    };
    if failed {
        Err(Failure::cli(format!(
            "{unread} of {} file(s) gave no text",
            files.len()
        )))
    } else {
        Ok(())
    }
}

fn read(file: &Path) -> Outcome {
    scan::decode_image(&bytes_of(file)?).map_err(|e| (e.code(), e.to_string()))
}

/// The next frame of `stream`: its activation code when it holds one, else its first text.
fn read_frame(stream: &mut scan::FrameStream, file: &Path) -> Outcome {
    let texts = stream
        .read_image(&bytes_of(file)?)
        .map_err(|e| (e.code(), e.to_string()))?;
    let preferred = texts.iter().position(|t| scan::is_activation_payload(t));
    texts
        .into_iter()
        .nth(preferred.unwrap_or(0))
        .ok_or_else(|| {
            let none = scan::ScanError::NoQrCode;
            (none.code(), none.to_string())
        })
}

fn bytes_of(file: &Path) -> Result<Vec<u8>, (&'static str, String)> {
    std::fs::read(file).map_err(|e| ("CLI_READ", format!("cannot read the file: {e}")))
}

fn line(file: &Path, outcome: &Outcome, json: bool) -> String {
    let name = file.display().to_string();
    if json {
        let value = match outcome {
            Ok(text) => {
                let login = scan::is_login_code(text);
                serde_json::json!({
                    "file": name,
                    "text": text,
                    "activation": scan::is_activation_payload(text) && !login,
                    "login": login,
                })
            }
            Err((code, reason)) => serde_json::json!({
                "file": name,
                "text": null,
                "activation": false,
                "login": false,
                "code": code,
                "reason": reason,
            }),
        };
        return value.to_string();
    }
    match outcome {
        Ok(text) => format!("{name}: {}", one_line(text)),
        Err((code, reason)) => format!("{name}: no text [{code}] {reason}"),
    }
}

/// `text` on one line: control characters (line breaks, tabs) shown as escapes, everything
/// else as it is (`--json` gives the exact text).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_plain_and_json() {
        let file = Path::new("a b.png");
        let ok: Outcome = Ok("IBK1.x.y\nz\\:é".into());
        assert_eq!(line(file, &ok, false), "a b.png: IBK1.x.y\\nz\\:é");
        let parsed: serde_json::Value = serde_json::from_str(&line(file, &ok, true)).expect("json");
        assert_eq!(parsed["text"], "IBK1.x.y\nz\\:é");
        assert_eq!(parsed["activation"], true);
        assert_eq!(parsed["login"], false);
        assert!(parsed.get("reason").is_none());

        // A login page's code: a signed token whose claims say `"typ":"login"`.
        let claims = ibkey_protocol::encoding::b64(br#"{"typ":"login"}"#);
        let login: Outcome = Ok(format!("IBK1.{claims}.sig"));
        let parsed: serde_json::Value =
            serde_json::from_str(&line(file, &login, true)).expect("json");
        assert_eq!(parsed["activation"], false);
        assert_eq!(parsed["login"], true);

        let none: Outcome = Err(("SCAN_NO_QR_CODE", "No QR code.".into()));
        assert_eq!(
            line(file, &none, false),
            "a b.png: no text [SCAN_NO_QR_CODE] No QR code."
        );
        let parsed: serde_json::Value =
            serde_json::from_str(&line(file, &none, true)).expect("json");
        assert!(parsed["text"].is_null());
        assert_eq!(parsed["code"], "SCAN_NO_QR_CODE");
        assert_eq!(parsed["reason"], "No QR code.");
    }

    #[test]
    fn reads_a_rendered_code_and_reports_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let png = dir.path().join("code.png");
        std::fs::write(&png, scan::render_png("IBK1.abc.def", 4).expect("render")).expect("w");
        assert_eq!(read(&png), Ok("IBK1.abc.def".into()));
        let missing = read(&dir.path().join("missing.png"));
        assert!(matches!(missing, Err(("CLI_READ", _))), "{missing:?}");
    }

    #[test]
    fn frames_are_read_as_one_stream_and_succeed_when_any_gave_a_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A frame the camera app saved wrongly: not an image, so no text.
        let blank = dir.path().join("broken.png");
        std::fs::write(&blank, b"not a picture").expect("write");
        let code = dir.path().join("code.png");
        std::fs::write(&code, scan::render_png("IBK1.abc.def", 4).expect("render")).expect("w");

        let mut stream = scan::FrameStream::new();
        assert!(matches!(
            read_frame(&mut stream, &blank),
            Err(("SCAN_NOT_AN_IMAGE", _))
        ));
        assert_eq!(read_frame(&mut stream, &code), Ok("IBK1.abc.def".into()));
        // Held in view: the stream reads it again (the Scanner, not the stream, says "same").
        assert_eq!(read_frame(&mut stream, &code), Ok("IBK1.abc.def".into()));

        assert!(run(&[blank.clone(), code.clone()], true, true).is_ok());
        assert!(run(&[blank.clone(), blank.clone()], true, true).is_err());
        assert!(run(&[blank, code], true, false).is_err());
    }
}
