//! One-time codes sent out of band, as moves and recoveries use them: [`send_code`] makes six
//! random digits, stores their digest (SHA-256 of the user, the purpose and the code) valid for
//! [`OUT_OF_BAND_CODE_SECONDS`], and hands the code to the [`crate::Notifier`]; [`use_code`]
//! checks a typed code against the newest one sent for the same user, purpose (and, for a
//! recovery, credential), once.
//!
//! Guessing is bounded twice: each code is void after [`MAX_WRONG_TRIES`] wrong tries, and
//! every wrong code counts as a wrong guess of the client in the session-ID guess limiter
//! (`rate_limit::GuessLimiter`), which refuses a client that guessed too much (429
//! `too_many_attempts` with `retry_after`, a right code too). Codes are never logged.

use std::net::IpAddr;

use axum::http::StatusCode;
use ibkey_protocol::activation::codes as activation_codes;
use ibkey_protocol::lifecycle::{codes, OUT_OF_BAND_CODE_SECONDS};
use rusqlite::Transaction;

use crate::crypto::{random_digits, sha256};
use crate::db::lifecycle::{CodeOutcome, NewOutOfBandCode, TypedOutOfBandCode};
use crate::error::ApiError;
use crate::notifier::{OutOfBandCode, OutOfBandPurpose};
use crate::rate_limit::CODE_SEND_WINDOW_SECONDS;
use crate::state::AppState;

/// Digits of a code.
pub(crate) const CODE_DIGITS: usize = 6;
/// Wrong tries after which a code is void.
pub(crate) const MAX_WRONG_TRIES: u32 = 5;

/// Sends `username` a new code for `purpose` (for a recovery, of `credential_id`) through the
/// notifier: where it went (masked) and when it expires. A code sent before for the same
/// user, purpose and credential no longer counts. At most `rate_limit::CODES_SENT_PER_USER`
/// codes go to a user for a purpose in `rate_limit::CODE_SEND_WINDOW_SECONDS` (429
/// `too_many_attempts`).
pub(crate) async fn send_code(
    st: &AppState,
    username: &str,
    purpose: OutOfBandPurpose,
    credential_id: Option<&str>,
) -> Result<(String, i64), ApiError> {
    let sent_to = st
        .notifier
        .destination(username)
        .map_err(|error| not_sent(username, purpose, &error))?;
    let now = st.clock.now();
    {
        let mut limiter = st.code_send_limiter();
        let key = format!("{purpose}:{username}");
        if let Err(retry_after) = limiter.check(&key, now) {
            tracing::warn!(user = %username, %purpose, retry_after, "one-time code not sent: too many sent");
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                activation_codes::TOO_MANY_ATTEMPTS,
                format!("Too many codes were sent to {sent_to} in the last {} minutes. Use the latest code you received, or wait {} minutes and ask again.", CODE_SEND_WINDOW_SECONDS / 60, retry_after.div_ceil(60)),
            )
            .retry_after(retry_after));
        }
        limiter.record(&key, now);
    }
    let code = random_digits(&st.rng, CODE_DIGITS)?;
    let expires_at = now + OUT_OF_BAND_CODE_SECONDS;
    st.db.store_out_of_band_code(&NewOutOfBandCode {
        username,
        purpose: purpose.as_str(),
        credential_id,
        code_sha256: &code_digest(username, purpose, &code),
        now,
        expires_at,
    })?;
    st.notifier
        .send(&OutOfBandCode {
            username: username.to_string(),
            purpose,
            code,
            expires_at,
        })
        .await
        .map_err(|error| not_sent(username, purpose, &error))?;
    tracing::info!(user = %username, %purpose, "one-time code sent out of band");
    Ok((sent_to, expires_at))
}

/// Checks the code `typed` by `username` from client `ip` for `purpose` (for a recovery, of
/// `credential_id`): right, unused and unexpired, it is used up and `then` runs in the same
/// transaction. Otherwise `oob_code_wrong` (400), `oob_code_expired` / `oob_code_used` (410),
/// or `too_many_attempts` (429: the client guessed too much, or the code is void).
pub(crate) fn use_code(
    st: &AppState,
    ip: IpAddr,
    username: &str,
    purpose: OutOfBandPurpose,
    credential_id: Option<&str>,
    typed: &str,
    then: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
) -> Result<(), ApiError> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != CODE_DIGITS || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::OOB_CODE_WRONG,
            format!("The code has {CODE_DIGITS} digits. Type it again as you received it."),
        ));
    }
    let now = st.clock.now();
    if let Err(retry_after) = st.limiter().check(ip, now) {
        tracing::warn!(client = %ip, user = %username, %purpose, retry_after, "one-time code refused: too many wrong guesses");
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            activation_codes::TOO_MANY_ATTEMPTS,
            format!("Too many wrong codes were tried from this network. Wait {retry_after} seconds, then type the code again."),
        )
        .retry_after(retry_after));
    }
    let outcome = st.db.use_out_of_band_code(
        &TypedOutOfBandCode {
            username,
            purpose: purpose.as_str(),
            credential_id,
            code_sha256: &code_digest(username, purpose, &digits),
            now,
            max_wrong_tries: MAX_WRONG_TRIES,
        },
        then,
    )?;
    let again = match purpose {
        OutOfBandPurpose::Move => "start the move again in the portal",
        OutOfBandPurpose::Recovery => "start the recovery again in IB Key",
    };
    let refusal = match outcome {
        CodeOutcome::Accepted => {
            tracing::info!(user = %username, %purpose, "one-time code accepted");
            return Ok(());
        }
        CodeOutcome::Wrong => {
            st.limiter().record_wrong_guess(ip, now);
            ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::OOB_CODE_WRONG,
                format!("This is not the code sent to {username}. Check the latest message and type its code again, or {again} for a new code."),
            )
        }
        CodeOutcome::Expired => ApiError::new(
            StatusCode::GONE,
            codes::OOB_CODE_EXPIRED,
            format!(
                "This code has expired (codes last {} minutes). {} for a new code.",
                OUT_OF_BAND_CODE_SECONDS / 60,
                capitalised(again)
            ),
        ),
        CodeOutcome::Used => ApiError::new(
            StatusCode::GONE,
            codes::OOB_CODE_USED,
            format!("This code was already used. {} for a new code.", capitalised(again)),
        ),
        CodeOutcome::Void => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            activation_codes::TOO_MANY_ATTEMPTS,
            format!("This code was typed wrong {MAX_WRONG_TRIES} times and no longer works. {} for a new code.", capitalised(again)),
        ),
    };
    tracing::info!(user = %username, %purpose, refused = refusal.code, "one-time code refused");
    Err(refusal)
}

/// What the server keeps of a code: SHA-256 of the JSON array `[user, purpose, code]`, so a
/// code sent to one user or for one purpose is worth nothing for another.
fn code_digest(username: &str, purpose: OutOfBandPurpose, code: &str) -> [u8; 32] {
    let input = serde_json::to_string(&(username, purpose.as_str(), code)).unwrap_or_default();
    sha256(input.as_bytes())
}

/// The refusal when the notifier could not send a code (502; nothing was sent).
fn not_sent(username: &str, purpose: OutOfBandPurpose, error: &dyn std::fmt::Display) -> ApiError {
    tracing::warn!(user = %username, %purpose, %error, "one-time code not sent");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        activation_codes::INTERNAL,
        format!("The code could not be sent ({error}). Try again in a moment; if it keeps failing, contact support."),
    )
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codes_digest_depends_on_its_user_and_purpose() {
        let alice = code_digest("alice", OutOfBandPurpose::Move, "123456");
        assert_eq!(
            alice,
            code_digest("alice", OutOfBandPurpose::Move, "123456")
        );
        assert_ne!(alice, code_digest("bob", OutOfBandPurpose::Move, "123456"));
        assert_ne!(
            alice,
            code_digest("alice", OutOfBandPurpose::Recovery, "123456")
        );
        assert_ne!(
            alice,
            code_digest("alice", OutOfBandPurpose::Move, "123457")
        );
    }

    #[test]
    fn sentences_start_with_a_capital() {
        assert_eq!(capitalised("start again"), "Start again");
        assert_eq!(capitalised(""), "");
    }
}
