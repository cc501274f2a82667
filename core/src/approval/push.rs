//! Reading a login notification's data: the JSON [`PushPayload`] (an FCM data message, an
//! APNs payload with its custom keys), or the bare `IBK1.` token (FCM data values arrive as
//! strings), with or without quotes and surrounding white space.

use ibkey_protocol::activation::TOKEN_PREFIX;
use ibkey_protocol::approval::{PushPayload, PUSH_LOGIN_KIND};

use super::ApprovalError;

/// The largest notification payload read; real ones are well under 4 KiB.
const MAX_PUSH_BYTES: usize = 16 * 1024;

/// The signed challenge a notification carries.
pub(crate) fn challenge_token_of_push(payload: &[u8]) -> Result<String, ApprovalError> {
    if payload.len() > MAX_PUSH_BYTES {
        return Err(ApprovalError::NotALoginCode);
    }
    let text = std::str::from_utf8(payload).map_err(|_| ApprovalError::NotALoginCode)?;
    let text = text.trim();
    let token = if text.starts_with('{') {
        let push: PushPayload =
            serde_json::from_str(text).map_err(|_| ApprovalError::NotALoginCode)?;
        if push.kind != PUSH_LOGIN_KIND {
            return Err(ApprovalError::NotALoginCode);
        }
        push.challenge
    } else if text.starts_with('"') {
        serde_json::from_str::<String>(text).map_err(|_| ApprovalError::NotALoginCode)?
    } else {
        text.to_string()
    };
    let token = token.trim();
    if is_token(token) {
        Ok(token.to_string())
    } else {
        Err(ApprovalError::NotALoginCode)
    }
}

/// Whether `text` has the form of a signed token: `IBK1.<claims>.<signature>`, base64url parts.
pub(crate) fn is_token(text: &str) -> bool {
    let mut parts = text.split('.');
    let well_formed = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    };
    parts.next() == Some(TOKEN_PREFIX)
        && well_formed(parts.next())
        && well_formed(parts.next())
        && parts.next().is_none()
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use super::*;

    const TOKEN: &str = "IBK1.eyJ0eXAiOiJsb2dpbiJ9.c2lnbmF0dXJl";

    #[test]
    fn json_payloads_and_bare_tokens_are_read() {
        let json = format!(r#"{{"type":"ibkey.login","challenge":"{TOKEN}"}}"#);
        let apns = format!(
            r#"{{"aps":{{"alert":{{"title":"Login"}}}},"type":"ibkey.login","challenge":"{TOKEN}"}}"#
        );
        for payload in [
            json.clone(),
            format!("  {json}\n"),
            apns,
            TOKEN.to_string(),
            format!("\n\t{TOKEN}  "),
            format!("\"{TOKEN}\""),
        ] {
            assert_eq!(
                challenge_token_of_push(payload.as_bytes()).expect(&payload),
                TOKEN
            );
        }
    }

    #[test]
    fn junk_is_not_a_login_code_and_never_panics() {
        let mut junk: Vec<Vec<u8>> = [
            "",
            " ",
            "{}",
            "{",
            "null",
            "[]",
            "\"\"",
            "IBK1",
            "IBK1.",
            "IBK1..",
            "IBK1.a.",
            "IBK1.a.b.c",
            "IBK2.a.b",
            "IBK1.a b.c",
            "https://example.com/login",
            r#"{"type":"ibkey.other","challenge":"IBK1.a.b"}"#,
            r#"{"type":"ibkey.login","challenge":"not a token"}"#,
            r#"{"type":"ibkey.login"}"#,
            r#"{"type":"ibkey.login","challenge":42}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        junk.push(vec![0xff, 0xfe, 0x00, 0x80]);
        junk.push(b"IBK1.".repeat(10_000));
        junk.push(vec![b'{'; 100_000]);
        junk.push(format!("{TOKEN}\u{0}").into_bytes());
        for payload in junk {
            assert_eq!(
                challenge_token_of_push(&payload),
                Err(ApprovalError::NotALoginCode),
                "{:?}",
                String::from_utf8_lossy(&payload)
            );
        }
    }

    #[test]
    fn every_prefix_of_a_payload_is_refused_or_read_without_panic() {
        let json = format!(r#"{{"type":"ibkey.login","challenge":"{TOKEN}"}}"#);
        for end in 0..json.len() {
            let _ = challenge_token_of_push(&json.as_bytes()[..end]);
        }
    }
}
