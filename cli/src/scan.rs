//! `ibkey scan FILE...`: reads the QR code in each PNG or JPEG file, one line a file in the
//! order given: the text read, or why nothing was. With `--json`, one JSON object a line:
//! `{"file", "text", "activation", "login"}` (whether the text is one of our activation codes,
//! or a login page's code), and `"code"` and `"reason"` when nothing was read.
//! Succeeds when every file gave a text.

use std::path::{Path, PathBuf};

use ibkey_core::scan;
use ibkey_core::ErrorCode;

use crate::failure::Failure;

/// What one file gave: the text, or a stable code and a message.
type Outcome = Result<String, (&'static str, String)>;

/// Reads every file and prints one line for each; fails when any gave no text.
pub fn run(files: &[PathBuf], json: bool) -> Result<(), Failure> {
    let mut unread = 0;
    for file in files {
        let outcome = read(file);
        unread += usize::from(outcome.is_err());
        println!("{}", line(file, &outcome, json));
    }
    if unread == 0 {
        Ok(())
    } else {
        Err(Failure::cli(format!(
            "{unread} of {} file(s) gave no text",
            files.len()
        )))
    }
}

fn read(file: &Path) -> Outcome {
    let bytes =
        std::fs::read(file).map_err(|e| ("CLI_READ", format!("cannot read the file: {e}")))?;
    scan::decode_image(&bytes).map_err(|e| (e.code(), e.to_string()))
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
}
