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
//! 3. **Long random-looking runs**: 24 or more base64/base64url characters mixing digits,
//!    upper- and lower-case letters, or 32 or more hex digits → `[redacted:N]` (N the
//!    length), which covers keys, signatures, hashes and tokens of any kind.
//! 4. **Secret fields**: a value after `name=`, `name: `, `"name":` (quoted or not, any white
//!    space around) where the name, in any case and naming style (`newPin`, `new_pin`,
//!    `NEW-PIN`), is one of [`SECRET_FIELDS`] or ends in a word of [`SECRET_SUFFIXES`] →
//!    `[redacted]`; in free text (`PIN 1234`, `my pin is 1234`: the name, at most one short
//!    word, then a value), a value holding a digit → `[redacted]` (with all of a session ID
//!    that runs through the name into the value). A value that starts with a session ID
//!    takes it whole, spaces and all. For `session_id`/`sid`, a session ID keeps its last
//!    group (`****-****-9TWD`).
//! 5. **Session IDs**: whatever the session ID reader would accept, found with its own
//!    grammar ([`ibkey_protocol::session_id::fold`], [`is_separator`], [`group_passes`]):
//!    twelve characters of its alphabet in any case, look-alikes included, with any
//!    separators (dashes, any white space, repeated) anywhere between them, glued to other
//!    text or not, that pass the check characters → `****-****-9TWD`. Then, where it stands
//!    as a word with separators only between its groups, one with a single group failing its
//!    check (a typo of one character) → the same mask.
//! 6. **E-mail addresses**: the local part is cut to its first character
//!    (`b***@example.com`).
//!
//! False positives, the price of rule 5: any twelve letters and digits in a row (spaces and
//! dashes between them included) pass the check characters by chance once in 32,768, and a
//! word of twelve (or groups of four) fails only one group once in about 340; those are
//! masked too.
//!
//! Not caught, and so never written by the core: a secret in free text that holds no digit
//! (a password of letters only). Screenshots are images and are not scrubbed; their
//! metadata is stripped (see [`super::Screenshot`]).

use std::fmt;

use serde_json::Value;
use zeroize::{Zeroize, ZeroizeOnDrop};

use ibkey_protocol::session_id::{fold, group_passes, is_separator, SessionId, GROUP_LEN, LEN};

/// The version of the redaction rules, written into every bundle's manifest.
pub const RULES_VERSION: &str = "ibkey-redact/4";
/// What a masked value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Field names whose values are always masked, in lower case with `_` between words; they
/// match in any case and naming style ([`is_secret_field`]).
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
    "sid",
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
];

/// Name endings that make a field secret (`accessToken`, `x-api-key`, `new_pin`).
pub const SECRET_SUFFIXES: &[&str] = &[
    "_token",
    "_secret",
    "_password",
    "_pin",
    "_key",
    "_signature",
    "_proof",
];

/// Fields that hold a session ID: a valid one keeps its last group.
const SESSION_FIELDS: &[&str] = &["session_id", "sid"];

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

/// Whether a field of this name holds a secret. Names are compared in lower case without
/// `_`, `-` or other punctuation, so `newPin`, `new_pin`, `NEW-PIN` and `nEwPiN` are one name;
/// an ending of [`SECRET_SUFFIXES`] counts after `_` or `-` or as a capitalised word
/// (`portal_token`, `x-api-key`, `accessToken`, `APIKey`), not inside a word (`monkey`,
/// `MONKEY`, a session ID's group `RKEY`).
pub fn is_secret_field(name: &str) -> bool {
    let bytes = name.as_bytes();
    SECRET_FIELDS.iter().any(|f| same_name(f, name))
        || SECRET_SUFFIXES.iter().any(|s| {
            let word = s.trim_start_matches('_').as_bytes();
            let Some(at) = bytes.len().checked_sub(word.len()).filter(|&at| at > 0) else {
                return false;
            };
            bytes[at..].eq_ignore_ascii_case(word)
                && (matches!(bytes[at - 1], b'_' | b'-')
                    || (bytes[at].is_ascii_uppercase()
                        && bytes[at + 1..].iter().all(u8::is_ascii_lowercase)))
        })
}

/// Whether a name is a listed one in any case and naming style: the same ASCII letters and
/// digits, case aside (`newPin`, `NEW-PIN` and `new_pin` are one name).
fn same_name(listed: &str, name: &str) -> bool {
    let (listed, name) = (listed.as_bytes(), name.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while listed.get(i) == Some(&b'_') {
            i += 1;
        }
        while name.get(j).is_some_and(|b| !b.is_ascii_alphanumeric()) {
            j += 1;
        }
        match (listed.get(i), name.get(j)) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => (i, j) = (i + 1, j + 1),
            _ => return false,
        }
    }
}

/// The masked form of a secret field's value. A value already masked stays; for a session
/// ID field, so do a valid session ID's last group and its mask.
fn mask_value(name: &str, value: &str) -> String {
    let session = SESSION_FIELDS.iter().any(|f| same_name(f, name));
    if value.contains("[redacted")
        || value.bytes().all(|b| b == b'*')
        || session && value.starts_with("****-****-")
    {
        return value.to_string();
    }
    if session {
        if let Ok(id) = SessionId::parse(value) {
            return id.to_string();
        }
    }
    REDACTED.to_string()
}

/// Applies every rule of the module documentation to `text`.
pub fn scrub(text: &str) -> String {
    let text = mask_tokens(text);
    let text = mask_auth_schemes(&text);
    let text = mask_long_runs(&text);
    let text = mask_fields(&text);
    let text = mask_session_ids(&text);
    mask_emails(&text)
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

/// Rule 4: values of secret fields, assigned or in free text.
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
        let skip_space = |mut j: usize| {
            while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
                j += 1;
            }
            j
        };
        let after = if quoted_name { end + 1 } else { end };
        let mut j = skip_space(after);
        let assigned = matches!(bytes.get(j), Some(b':' | b'='));
        let mut around = None;
        if assigned {
            j = skip_space(j + 1);
        } else if quoted_name || j == after {
            i = end;
            continue;
        } else {
            // Free text ("PIN 1234", "pin is 1234"): one short word may come between.
            let word = bytes[j..]
                .iter()
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
            if word <= 4 && bytes.get(j + word).is_some_and(u8::is_ascii_whitespace) {
                j = skip_space(j + word);
            }
            // Name and value may be parts of one session ID: then the mask covers both.
            around = session_id_around(text, i).filter(|&(_, id_end)| id_end > j);
        }
        let Some(&first) = bytes.get(j) else {
            i = end;
            continue;
        };
        let quote = assigned && (first == b'"' || first == b'\'');
        let (value_start, value_end, resume, quoted_value) = if quote {
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
            let mut k = j + any_session_id_at(text, j).unwrap_or(0);
            while k < bytes.len()
                && !bytes[k].is_ascii_whitespace()
                && !b",;&)}]\"'".contains(&bytes[k])
            {
                k += 1;
            }
            let (start, k) =
                around.map_or((j, k), |(start, id_end)| (start.max(copied), k.max(id_end)));
            (start, k, k, false)
        };
        if value_end <= value_start {
            i = end;
            continue;
        }
        let value = &text[value_start..value_end];
        // In free text, only what holds a digit and is no `name=value` of its own.
        let digits = value.bytes().any(|b| b.is_ascii_digit());
        if !assigned && (!digits || value.contains('=')) {
            i = end;
            continue;
        }
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

/// Rule 6: e-mail addresses keep the first character of the local part and the domain.
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

/// Rule 5: what the session ID reader would take for a session ID anywhere, and what it
/// would call mistyped where it stands as a word.
fn mask_session_ids(text: &str) -> String {
    let mut text = text.to_string();
    for near in [false, true] {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, _) in text.char_indices() {
            if start < copied {
                continue;
            }
            if let Some((len, chars)) = session_id_at(&text, start, near) {
                out.push_str(&text[copied..start]);
                out.push_str("****-****-");
                let last = chars.get(LEN - GROUP_LEN..).unwrap_or_default();
                out.push_str(std::str::from_utf8(last).unwrap_or_default());
                copied = start + len;
            }
        }
        out.push_str(&text[copied..]);
        text = out;
    }
    text
}

/// The length and the folded characters of a session ID at byte `at` of `text`: twelve
/// characters the reader folds into the alphabet, any separators between them, every group
/// passing its check; or, when `near`, at the start of a word, one group not passing, the
/// separators only between groups and no letter or digit right after.
fn session_id_at(text: &str, at: usize, near: bool) -> Option<(usize, [u8; LEN])> {
    let before = text[..at].chars().next_back();
    if near && before.is_some_and(char::is_alphanumeric) {
        return None;
    }
    let text = &text[at..];
    let mut chars = [0u8; LEN];
    let (mut found, mut wrong) = (0, 0);
    for (i, c) in text.char_indices() {
        if is_separator(c) {
            if found == 0 || near && found % GROUP_LEN != 0 {
                return None;
            }
            continue;
        }
        *chars.get_mut(found)? = fold(c)?;
        found += 1;
        if found % GROUP_LEN == 0 {
            // Checked group by group: most text fails its first group, and goes no further.
            let group = chars.get(found - GROUP_LEN..found)?;
            wrong += usize::from(!group_passes(found / GROUP_LEN - 1, group));
            if wrong > usize::from(near) {
                return None;
            }
            if found == LEN {
                let len = i + c.len_utf8();
                let ends_word = !text[len..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric);
                return (wrong == 0 || ends_word).then_some((len, chars));
            }
        }
    }
    None
}

/// The length of a session ID, or of a near miss, at byte `at` of `text` (rule 5).
fn any_session_id_at(text: &str, at: usize) -> Option<usize> {
    let (len, _) = session_id_at(text, at, false).or_else(|| session_id_at(text, at, true))?;
    Some(len)
}

/// A session ID (rule 5) that runs through byte `at` of `text`: its start and end.
fn session_id_around(text: &str, at: usize) -> Option<(usize, usize)> {
    let mut earlier = text[..at].char_indices().rev();
    let mut start = at;
    for _ in 0..LEN {
        if let Some(len) = any_session_id_at(text, start).filter(|len| start + len > at) {
            return Some((start, start + len));
        }
        // The reader's character before: an ID through `at` starts at most 11 of them back.
        start = loop {
            let (i, c) = earlier.next()?;
            if !is_separator(c) {
                fold(c)?;
                break i;
            }
        };
    }
    None
}

/// Rule 3: long random-looking runs.
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
    let lower = name.to_ascii_lowercase().replace('-', "_");
    let secret = is_secret_field(name)
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
    use proptest::strategy::Strategy;
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
        // A group that ends like a secret field's name (`…KEY`) is not one.
        assert_eq!(
            scrub("typed (4ZWZ RKEY PMZX) here"),
            "typed (****-****-PMZX) here"
        );
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
            // A secret's name in prose, with no value after it.
            "wrong app PIN failed_attempts=3",
            "The PIN must have 4 to 12 digits",
            "the token was refused",
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

    #[test]
    fn names_match_in_any_case_and_naming_style() {
        for name in [
            "newPin",
            "NEW_PIN",
            "new-pin",
            "nEwPiN",
            "sessionId",
            "SessionID",
            "accessToken",
            "X-Api-Key",
            "qrPayload",
            "clientSecret",
            "APIKey",
            "AToken",
        ] {
            assert!(is_secret_field(name), "{name}");
        }
        for name in [
            "key_id",
            "device_id",
            "challenge_id",
            "code",
            "key",
            "message",
            "monkey",
            "hotkey",
            "MONKEY",
            "RKEY",
        ] {
            assert!(!is_secret_field(name), "{name}");
        }
    }

    #[test]
    fn a_secret_in_free_text_is_masked() {
        for (text, kept) in [
            ("my PIN 1234 failed", "my PIN [redacted] failed"),
            ("the pin is 99887766.", "the pin is [redacted]"),
            ("password was hunter2!", "password was [redacted]"),
            ("otp\t123456", "otp\t[redacted]"),
        ] {
            assert_eq!(scrub(text), kept, "{text}");
        }
        // A session ID as the value, spaced: taken whole.
        let sid = session_id();
        let spaced = sid.grouped().replace('-', " ");
        assert_eq!(
            scrub(&format!("sid: {spaced}, ok")),
            format!("sid: ****-****-{}, ok", sid.last_group())
        );
        let out = scrub(&format!("pin is {spaced}"));
        // `[redacted]` as a PIN, or the ID's mask when it has no digit.
        let as_id = format!("pin is ****-****-{}", sid.last_group());
        assert!(out == "pin is [redacted]" || out == as_id, "{out}");
    }

    #[test]
    fn a_session_id_is_masked_in_any_spacing_glued_or_one_character_off() {
        let sid = session_id();
        let c = sid.canonical();
        let masked = format!("****-****-{}", sid.last_group());
        let spread = format!("{}\t{} \u{a0}-{}  {}", &c[..2], &c[2..7], &c[7..8], &c[8..]);
        for typed in [spread, c.to_lowercase().replace('0', "o").replace('1', "L")] {
            assert_eq!(scrub(&format!("id:{typed}.")), format!("id:{masked}."));
            // Glued to letters; `u` is never part of an ID, so no other match can overlap.
            assert_eq!(scrub(&format!("u{typed}u")), format!("u{masked}u"));
        }
        // One character off, in each group.
        for at in [1, 6, 11] {
            let mut typo: Vec<u8> = sid.grouped().into_bytes();
            let at = at + at / GROUP_LEN;
            typo[at] = if typo[at] == b'7' { b'8' } else { b'7' };
            let typo = String::from_utf8(typo).expect("ascii");
            assert!(SessionId::parse(&typo).is_err());
            let out = scrub(&format!("u {typo} u"));
            assert!(out.starts_with("u ****-****-"), "{typo} -> {out}");
            assert!(out.ends_with(" u"), "{typo} -> {out}");
        }
    }

    proptest::proptest! {
        #[test]
        fn scrub_never_panics_on_secret_like_text(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "pin", "newPin", " ", "\t", "\u{a0}", ":", "=", "\"", "'", "-", "is",
                        "@", "IBK1.", "Bearer ", "{", "}", "\\", "****-****-",
                    ])
                    .prop_map(str::to_string),
                    "[0-9A-Za-z]{1,12}",
                    proptest::arbitrary::any::<String>(),
                ],
                0..12,
            ),
        ) {
            let text = parts.concat();
            let once = scrub(&text);
            let _ = scrub(&once);
            let mut json = serde_json::json!({ text.clone(): [text.clone(), { "pin": text }] });
            redact_json(&mut json);
        }
    }
}
