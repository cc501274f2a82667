//! Redaction: what keeps secrets out of logs, network traces and bundles.
//!
//! Secrets are masked **at the source** first: session IDs print as their last group
//! ([`SessionId`]), PINs as `****`, and [`Secret`] is the wrapper for any
//! other secret text. What slips through is caught by [`scrub`], which every log line passes
//! before it is kept or forwarded, and which runs once more over every text file of a bundle.
//! Network traces are redacted field by field ([`redact_json`], [`redact_header`]) before
//! they are written.
//!
//! The rules of [`scrub`], in order (version [`RULES_VERSION`]):
//!
//! 1. **Signed tokens**: `IBK1.` followed by its base64url parts → `IBK1.[redacted]`.
//! 2. **Authorization schemes**: `Bearer`/`Basic` followed by a credential of 12 or more
//!    characters → `Bearer [redacted]`.
//! 3. **Secret fields**: a value after `name=`, `name: `, `"name":` (quoted or not) where the
//!    name is one of [`SECRET_FIELDS`] or ends in `_token`, `_secret`, `_password`, `_pin`,
//!    `_key`, `_signature` or `_proof` → `[redacted]`; for `session_id`/`sid`, a valid
//!    session ID keeps its last group (`****-****-9TWD`).
//! 4. **E-mail addresses**: the local part is cut to its first character
//!    (`b***@example.com`).
//! 5. **Session IDs**: 12 characters, with or without dashes or spaces between the groups
//!    of four, in any case, that pass the session ID check characters → `****-****-9TWD`.
//! 6. **Long random-looking runs**: 24 or more base64/base64url characters mixing digits,
//!    upper- and lower-case letters, or 32 or more hex digits → `[redacted:N]` (N the
//!    length), which covers keys, signatures, hashes and tokens of any kind.
//!
//! Not caught, and so never written by the core: a short secret in free text (a PIN typed
//! into the user's comment, say). Screenshots are images and are not scrubbed; their
//! metadata is stripped (see [`super::Screenshot`]).

use std::fmt;

use serde_json::Value;
use zeroize::{Zeroize, ZeroizeOnDrop};

use ibkey_protocol::session_id::SessionId;

/// The version of the redaction rules, written into every bundle's manifest.
pub const RULES_VERSION: &str = "ibkey-redact/2";
/// What a masked value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Field names (lower case, `-` read as `_`) whose values are always masked.
pub const SECRET_FIELDS: &[&str] = &[
    "pin",
    "new_pin",
    "passcode",
    "password",
    "secret",
    "seed",
    "otp",
    "token",
    "ticket",
    "qr_payload",
    "payload",
    "proof",
    "signature",
    "public_key",
    "private_key",
    "receipt",
    // A login approval's counter and a challenge's nonce.
    "counter",
    "nonce",
    "session_id",
    "sessionid",
    "sid",
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
];

/// Name endings that make a field secret.
const SECRET_SUFFIXES: &[&str] = &[
    "_token",
    "_secret",
    "_password",
    "_pin",
    "_key",
    "_signature",
    "_proof",
];

/// Fields that hold a session ID: a valid one keeps its last group.
const SESSION_FIELDS: &[&str] = &["session_id", "sessionid", "sid"];

/// A secret text: its `Debug` and `Display` print `[redacted]`, and it is wiped from memory
/// when dropped. Use it for any secret that has no masked type of its own.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Whether a field of this name holds a secret.
pub fn is_secret_field(name: &str) -> bool {
    let name = normalize(name);
    SECRET_FIELDS.contains(&name.as_str()) || SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// The masked form of a secret field's value.
fn mask_value(name: &str, value: &str) -> String {
    if is_masked(value) {
        return value.to_string();
    }
    if SESSION_FIELDS.contains(&normalize(name).as_str()) {
        if let Ok(id) = SessionId::parse(value) {
            return id.to_string();
        }
    }
    REDACTED.to_string()
}

/// Whether a value is already a mask.
fn is_masked(value: &str) -> bool {
    value.contains("[redacted") || value.starts_with("****")
}

/// Applies every rule of the module documentation to `text`.
pub fn scrub(text: &str) -> String {
    let text = mask_tokens(text);
    let text = mask_auth_schemes(&text);
    let text = mask_fields(&text);
    let text = mask_emails(&text);
    let text = mask_session_ids(&text);
    mask_long_runs(&text)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'=')
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Rule 1: `IBK1.…` tokens.
fn mask_tokens(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i + 5 <= bytes.len() {
        if bytes[i..i + 5].eq_ignore_ascii_case(b"IBK1.") {
            let mut end = i + 5;
            while end < bytes.len() && is_token_byte(bytes[end]) {
                end += 1;
            }
            out.push_str(&text[copied..i]);
            out.push_str("IBK1.");
            out.push_str(REDACTED);
            copied = end;
            i = end;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Rule 2: `Bearer …` and `Basic …` credentials.
fn mask_auth_schemes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let at_word = i == 0 || !is_word_byte(bytes[i - 1]);
        let scheme = [&b"bearer"[..], &b"basic"[..]].into_iter().find(|s| {
            at_word && bytes.len() >= i + s.len() && bytes[i..i + s.len()].eq_ignore_ascii_case(s)
        });
        let Some(scheme) = scheme else {
            i += 1;
            continue;
        };
        let mut start = i + scheme.len();
        let spaces = start;
        while start < bytes.len() && bytes[start] == b' ' {
            start += 1;
        }
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || b"._~+/=-".contains(&bytes[end]))
        {
            end += 1;
        }
        if start > spaces && end - start >= 12 {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
            i = end;
        } else {
            i += scheme.len();
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Rule 3: values of secret fields.
fn mask_fields(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_name = (bytes[i].is_ascii_alphabetic() || bytes[i] == b'_')
            && (i == 0 || !(is_word_byte(bytes[i - 1]) || bytes[i - 1] == b'-'));
        if !starts_name {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < bytes.len() && (is_word_byte(bytes[end]) || bytes[end] == b'-') {
            end += 1;
        }
        let name = &text[i..end];
        if !is_secret_field(name) {
            i = end;
            continue;
        }
        let quoted_name =
            i > 0 && matches!(bytes[i - 1], b'"' | b'\'') && bytes.get(end) == Some(&bytes[i - 1]);
        let mut j = if quoted_name { end + 1 } else { end };
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j >= bytes.len() || !matches!(bytes[j], b':' | b'=') {
            i = end;
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        let Some(&first) = bytes.get(j) else {
            i = end;
            continue;
        };
        let (value_start, value_end, resume, quoted_value) = if first == b'"' || first == b'\'' {
            let mut k = j + 1;
            while k < bytes.len() && bytes[k] != first {
                if bytes[k] == b'\\' {
                    k += 1;
                }
                k += 1;
            }
            let k = k.min(bytes.len());
            (j + 1, k, (k + 1).min(bytes.len()), true)
        } else {
            let mut k = j;
            while k < bytes.len()
                && !bytes[k].is_ascii_whitespace()
                && !b",;&)}]\"'".contains(&bytes[k])
            {
                k += 1;
            }
            (j, k, k, false)
        };
        if value_end <= value_start {
            i = end;
            continue;
        }
        let value = &text[value_start..value_end];
        let masked = mask_value(name, value);
        out.push_str(&text[copied..value_start]);
        if quoted_name && !quoted_value && masked != value {
            // A bare JSON value (a number): keep the text valid JSON.
            out.push('"');
            out.push_str(&masked);
            out.push('"');
        } else {
            out.push_str(&masked);
        }
        copied = value_end;
        i = resume.max(end);
    }
    out.push_str(&text[copied..]);
    out
}

/// Rule 4: e-mail addresses keep the first character of the local part and the domain.
fn mask_emails(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let is_local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let is_domain = |b: u8| b.is_ascii_alphanumeric() || b".-".contains(&b);
    for at in memchr_all(bytes, b'@') {
        if at < copied {
            continue;
        }
        let mut start = at;
        while start > copied && is_local(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < bytes.len() && is_domain(bytes[end]) {
            end += 1;
        }
        let domain = text[at + 1..end].trim_end_matches('.');
        let tld_ok = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
        });
        if start == at || !tld_ok || text[start..at].starts_with('*') {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(&text[start..start + 1]);
        out.push_str("***");
        copied = at;
    }
    out.push_str(&text[copied..]);
    out
}

fn memchr_all(bytes: &[u8], needle: u8) -> Vec<usize> {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Rule 5: session IDs, grouped or not.
fn mask_session_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let at_start =
            bytes[i].is_ascii_alphanumeric() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if !at_start {
            i += 1;
            continue;
        }
        match session_id_at(bytes, i) {
            Some((end, id)) => {
                out.push_str(&text[copied..i]);
                out.push_str(&id.to_string());
                copied = end;
                i = end;
            }
            None => {
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            }
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A valid session ID starting at `i` (a word start), grouped by `-`/space or not, and the
/// end of its text.
fn session_id_at(bytes: &[u8], i: usize) -> Option<(usize, SessionId)> {
    let alnum_run = |from: usize| {
        let mut end = from;
        while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
            end += 1;
        }
        end - from
    };
    let first = alnum_run(i);
    let (end, candidate) = if first == 12 {
        (i + 12, bytes.get(i..i + 12)?.to_vec())
    } else if first == 4 {
        let mut candidate = bytes.get(i..i + 4)?.to_vec();
        let mut pos = i + 4;
        for _ in 0..2 {
            if !matches!(bytes.get(pos), Some(b'-' | b' ')) || alnum_run(pos + 1) != 4 {
                return None;
            }
            candidate.extend_from_slice(bytes.get(pos + 1..pos + 5)?);
            pos += 5;
        }
        (pos, candidate)
    } else {
        return None;
    };
    let candidate = String::from_utf8(candidate).ok()?;
    SessionId::parse(&candidate).ok().map(|id| (end, id))
}

/// Rule 6: long random-looking runs.
fn mask_long_runs(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || b"+/_-".contains(&b);
    while i < bytes.len() {
        if !is_b64(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_b64(bytes[i]) {
            i += 1;
        }
        let mut end = i;
        while end < bytes.len() && bytes[end] == b'=' && end - i < 2 {
            end += 1;
        }
        let run = &bytes[start..i];
        let has = |f: fn(&u8) -> bool| run.iter().any(f);
        let mixed = run.len() >= 24
            && has(u8::is_ascii_digit)
            && has(u8::is_ascii_uppercase)
            && has(u8::is_ascii_lowercase);
        let long_hex = run.len() >= 32
            && run.iter().all(u8::is_ascii_hexdigit)
            && has(u8::is_ascii_digit)
            && has(u8::is_ascii_alphabetic);
        if mixed || long_hex {
            out.push_str(&text[copied..start]);
            out.push_str(&format!("[redacted:{}]", end - start));
            copied = end;
            i = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Masks the values of secret fields anywhere in a JSON value, and scrubs every other string.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                if is_secret_field(name) {
                    let masked = match v {
                        Value::String(s) => mask_value(name, s),
                        Value::Null => continue,
                        _ => REDACTED.to_string(),
                    };
                    *v = Value::String(masked);
                } else {
                    redact_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::String(s) => *s = scrub(s),
        _ => {}
    }
}

/// The value of a header as a trace may show it: credentials and cookies masked, the rest
/// scrubbed.
pub fn redact_header(name: &str, value: &str) -> String {
    let lower = normalize(name);
    let secret = is_secret_field(&lower)
        || lower.contains("token")
        || lower.contains("secret")
        || lower.contains("session")
        || lower.contains("auth")
        || lower.contains("cookie")
        || lower.contains("api_key");
    if secret {
        REDACTED.to_string()
    } else {
        scrub(value)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn session_id() -> SessionId {
        SessionId::generate(&SystemRandom::new()).expect("random")
    }

    #[test]
    fn tokens_and_auth_are_masked() {
        let text = "got IBK1.eyJ0eXAiOiJhY3RpdmF0aW9uIn0.MEUCIQDx-abc_12 then Authorization: Bearer AbC123xyz789QQQ done";
        let out = scrub(text);
        assert!(out.contains("IBK1.[redacted] then"), "{out}");
        assert!(!out.contains("eyJ0"), "{out}");
        assert!(!out.contains("AbC123xyz789QQQ"), "{out}");
        assert!(out.ends_with(" done"), "{out}");
        assert_eq!(scrub("basic checks passed"), "basic checks passed");
    }

    #[test]
    fn secret_fields_are_masked_in_every_notation() {
        let sid = session_id();
        let grouped = sid.grouped();
        let cases = [
            "pin=5938271604 next",
            "pin: \"5938271604\"",
            "{\"pin\":5938271604,\"a\":1}",
            "{\"password\": \"hunter2!\"}",
            "portal_token=abc def",
            "x-api-key: k1",
            "{\"challenge_id\":\"c1\",\"counter\":5938271604}",
            "nonce=hunter2abc",
        ];
        for case in &cases {
            let out = scrub(case);
            assert!(
                !out.contains("5938271604")
                    && !out.contains("hunter2")
                    && !out.contains("abc")
                    && !out.contains(" k1"),
                "{case} -> {out}"
            );
            assert!(out.contains(REDACTED), "{case} -> {out}");
        }
        let json = scrub("{\"pin\":5938271604,\"a\":1}");
        assert!(serde_json::from_str::<Value>(&json).is_ok(), "{json}");
        let out = scrub(&format!("{{\"session_id\":\"{grouped}\"}}"));
        assert_eq!(
            out,
            format!("{{\"session_id\":\"****-****-{}\"}}", sid.last_group())
        );
    }

    #[test]
    fn session_ids_keep_only_their_last_group_in_any_typing() {
        for _ in 0..100 {
            let sid = session_id();
            let last = sid.last_group().to_string();
            for typed in [
                sid.grouped(),
                sid.canonical().to_string(),
                sid.grouped().to_lowercase(),
                sid.grouped().replace('-', " "),
            ] {
                let out = scrub(&format!("typed ({typed}) here"));
                assert_eq!(out, format!("typed (****-****-{last}) here"), "{typed}");
            }
        }
        assert_eq!(scrub("mode set to extended"), "mode set to extended");
    }

    #[test]
    fn emails_and_long_runs_are_masked_but_ordinary_text_is_not() {
        assert_eq!(
            scrub("user bob.smith@example.com ok"),
            "user b***@example.com ok"
        );
        let key = "BP3kq8sZrY0aW2xV5nT7uM9cL1dE4fG6hJ8iK0oN2pQ";
        assert_eq!(scrub(&format!("key {key}.")), "key [redacted:43].");
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(scrub(hash), "[redacted:64]");
        for plain in [
            "ibkey_core::activation::flow: activated user=alice",
            "HTTP POST /v1/activation/lookup -> 410 code_used (12 ms)",
            "bundle 01HZX3K9QW7M2B5N8R4T6V0Y1C queued",
            "/home/user/.local/share/ibkey/diagnostics/logs",
            "key_id=0123456789abcdef",
        ] {
            assert_eq!(scrub(plain), plain);
        }
    }

    #[test]
    fn json_redaction_keeps_structure() {
        let sid = session_id();
        let mut v = serde_json::json!({
            "ticket": "IBK1.aaa.bbb",
            "device_id": "dev-1",
            "nested": [{"proof": "MEUCIQ"}, {"note": format!("sid {}", sid.grouped())}],
            "session_id": sid.canonical(),
            "error": {"code": "code_used", "message": "used"}
        });
        redact_json(&mut v);
        assert_eq!(v["ticket"], REDACTED);
        assert_eq!(v["nested"][0]["proof"], REDACTED);
        assert_eq!(
            v["nested"][1]["note"],
            format!("sid ****-****-{}", sid.last_group())
        );
        assert_eq!(v["session_id"], format!("****-****-{}", sid.last_group()));
        assert_eq!(v["device_id"], "dev-1");
        assert_eq!(v["error"]["code"], "code_used");
        assert_eq!(redact_header("Authorization", "Bearer x"), REDACTED);
        assert_eq!(
            redact_header("content-type", "application/json"),
            "application/json"
        );
    }

    #[test]
    fn secret_wrapper_never_prints_its_value() {
        let s = Secret::new("5938271604");
        assert_eq!(format!("{s} {s:?}"), "[redacted] Secret([redacted])");
        assert_eq!(s.expose(), "5938271604");
    }

    #[test]
    fn scrub_never_panics_on_odd_text() {
        for text in [
            "",
            "@",
            "a@",
            "@b.c",
            "pin=",
            "pin:\"",
            "IBK1.",
            "ü😀 pin=ü",
            "\"pin\":\"\\",
            "Bearer",
            "****-****-",
        ] {
            let _ = scrub(text);
        }
    }
}
