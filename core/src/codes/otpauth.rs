//! The code of any `otpauth://` link (the Key URI format of authenticator apps): TOTP (RFC
//! 6238) and HOTP (RFC 4226), SHA-1, SHA-256 or SHA-512, 6 to 8 digits, computed with
//! [`ibkey_protocol::otp`] (ring's HMAC).
//!
//! The link is read here, strictly and without panics: `otpauth://TYPE/LABEL?PARAMETERS`, the
//! label percent-decoded into `issuer:account`, the parameters `secret` (base32, padding
//! optional, any case), `algorithm`, `digits`, `period` (TOTP), `counter` (HOTP, required) and
//! `issuer`; other parameters (`image`, …) are ignored, a parameter given twice is refused.
//! A zero period or a digit count outside 6 to 8 is refused. Neither the link nor its secret
//! ever appears in an error or a log line.

use std::fmt;
use std::ops::RangeInclusive;

use ibkey_protocol::otp::{self, OtpAlgorithm};
use zeroize::Zeroizing;

use crate::error::{export_error_code, ErrorCode};

/// The shortest secret taken, bits (RFC 4226 §4 requires 128 and recommends 160; 80 is what
/// the shortest secrets in use have).
pub const MIN_SECRET_BITS: u32 = 80;
/// Digits a code may have.
const DIGITS: RangeInclusive<u8> = 6..=8;
/// Seconds a TOTP code may last.
const PERIOD_SECS: RangeInclusive<u64> = 1..=86_400;
/// Digits when the link does not say.
const DEFAULT_DIGITS: u8 = 6;
/// Seconds when the link does not say.
const DEFAULT_PERIOD_SECS: u64 = 30;

/// Which kind of one-time password a link holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum OtpKind {
    /// Time-based (RFC 6238): a new code every period.
    Totp,
    /// Counter-based (RFC 4226): a new code each time the counter moves.
    Hotp,
}

/// The code of an `otpauth://` link, with what the app shows beside it.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OtpCode {
    /// The code, `digits` digits.
    pub code: String,
    /// Time- or counter-based.
    pub kind: OtpKind,
    /// The service, from the `issuer` parameter or else the label's prefix.
    pub issuer: Option<String>,
    /// The account name from the label (may be empty).
    pub account: String,
    /// Digits of the code.
    pub digits: u8,
    /// Seconds a code lasts (TOTP only).
    pub period: Option<u32>,
    /// Seconds until the next code (TOTP only), 1 to `period`.
    pub seconds_left: Option<u32>,
    /// The counter the code is for (HOTP only).
    pub counter: Option<u64>,
}

/// Shows everything but the code.
impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpCode")
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("seconds_left", &self.seconds_left)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// What is wrong with an `otpauth://` link. Each variant has its own code ([`ErrorCode`]);
/// no message carries the link or its secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error), uniffi::export(Display))]
pub enum OtpError {
    /// The text is not an `otpauth://` link.
    #[error("This is not an authenticator link (otpauth://). Scan the QR code the service shows for setting up an authenticator app.")]
    NotOtpauth,
    /// The link's type is neither `totp` nor `hotp`.
    #[error("This authenticator link is of a type this app does not know (only totp and hotp are). Ask the service for a standard authenticator QR code.")]
    UnknownType,
    /// A `%` escape is broken, or the decoded text is not UTF-8.
    #[error("This authenticator link has broken %-escapes in its name or parameters. Scan the QR code again, or ask the service for a new one.")]
    BadEncoding,
    /// The link has no `secret` parameter, or an empty one.
    #[error("This authenticator link has no secret. Scan the QR code again, or ask the service for a new one.")]
    MissingSecret,
    /// The secret is not base32.
    #[error("This authenticator link's secret is not valid base32 (letters A-Z and digits 2-7). Check the secret if it was typed, or scan the QR code again.")]
    InvalidSecret,
    /// The secret is shorter than `MIN_SECRET_BITS` (80): codes from it could be guessed.
    #[error("This authenticator link's secret has only {bits} bits, fewer than the 80 needed for codes that cannot be guessed. Ask the service for a new QR code.")]
    SecretTooShort {
        /// Bits of the secret.
        bits: u32,
    },
    /// The `algorithm` is not SHA1, SHA256 or SHA512.
    #[error("This authenticator link asks for a hash algorithm this app does not support (only SHA1, SHA256 and SHA512 are). Ask the service for a standard authenticator QR code.")]
    UnsupportedAlgorithm,
    /// `digits` is not 6, 7 or 8.
    #[error("This authenticator link's codes must have 6, 7 or 8 digits (its digits parameter says otherwise). Ask the service for a standard authenticator QR code.")]
    DigitsOutOfRange,
    /// `period` is not a number of seconds from 1 to 86400.
    #[error("This authenticator link's period must be 1 to 86400 seconds (its period parameter says otherwise). Ask the service for a standard authenticator QR code.")]
    PeriodOutOfRange,
    /// A `hotp` link without its `counter`.
    #[error("This counter-based (hotp) authenticator link has no counter. Scan the QR code again, or ask the service for a new one.")]
    MissingCounter,
    /// The `counter` is not a whole number from 0 to 18446744073709551615.
    #[error("This authenticator link's counter is not a whole number from 0 to 18446744073709551615. Scan the QR code again, or ask the service for a new one.")]
    InvalidCounter,
    /// A parameter is given twice (which one counts would be a guess).
    #[error("This authenticator link gives its {name} parameter twice. Scan the QR code again, or ask the service for a new one.")]
    DuplicateParameter {
        /// The parameter's name (one this app reads).
        name: String,
    },
    /// The time asked for is before 1970.
    #[error("The time for this code is before 1970. Set the phone's date and time to automatic, then try again.")]
    TimeBeforeEpoch,
}

export_error_code!(OtpError);

impl ErrorCode for OtpError {
    fn code(&self) -> &'static str {
        match self {
            OtpError::NotOtpauth => "OTP_NOT_OTPAUTH",
            OtpError::UnknownType => "OTP_UNKNOWN_TYPE",
            OtpError::BadEncoding => "OTP_BAD_ENCODING",
            OtpError::MissingSecret => "OTP_MISSING_SECRET",
            OtpError::InvalidSecret => "OTP_INVALID_SECRET",
            OtpError::SecretTooShort { .. } => "OTP_SECRET_TOO_SHORT",
            OtpError::UnsupportedAlgorithm => "OTP_UNSUPPORTED_ALGORITHM",
            OtpError::DigitsOutOfRange => "OTP_DIGITS_OUT_OF_RANGE",
            OtpError::PeriodOutOfRange => "OTP_PERIOD_OUT_OF_RANGE",
            OtpError::MissingCounter => "OTP_MISSING_COUNTER",
            OtpError::InvalidCounter => "OTP_INVALID_COUNTER",
            OtpError::DuplicateParameter { .. } => "OTP_DUPLICATE_PARAMETER",
            OtpError::TimeBeforeEpoch => "OTP_TIME_BEFORE_1970",
        }
    }
}

/// The code of the `otpauth://` link `uri` at `unix_time` (seconds; TOTP only, HOTP uses the
/// link's counter). Never panics; errors say what is wrong with the link.
#[cfg_attr(feature = "uniffi", uniffi::export)]
pub fn otp_code(uri: &str, unix_time: i64) -> Result<OtpCode, OtpError> {
    let link = Link::parse(uri)?;
    let time = u64::try_from(unix_time).map_err(|_| OtpError::TimeBeforeEpoch)?;
    link.code_at(time)
}

/// A parsed link. Its `Debug` shows no secret; the secret is wiped when dropped.
struct Link {
    kind: OtpKind,
    issuer: Option<String>,
    account: String,
    secret: Zeroizing<Vec<u8>>,
    algorithm: OtpAlgorithm,
    digits: u8,
    /// TOTP: seconds a code lasts; HOTP: the counter.
    moving_factor: u64,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("digits", &self.digits)
            .finish_non_exhaustive()
    }
}

/// The parameters a link may give, each at most once.
#[derive(Default)]
struct Params {
    secret: Option<Zeroizing<String>>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    counter: Option<String>,
    issuer: Option<String>,
}

impl Params {
    fn read(query: &str) -> Result<Params, OtpError> {
        let mut params = Params::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name)?.to_ascii_lowercase();
            let value = Zeroizing::new(percent_decode(value)?);
            let slot = match name.as_str() {
                "secret" => {
                    if params.secret.is_some() {
                        return Err(OtpError::DuplicateParameter { name });
                    }
                    params.secret = Some(value);
                    continue;
                }
                "algorithm" => &mut params.algorithm,
                "digits" => &mut params.digits,
                "period" => &mut params.period,
                "counter" => &mut params.counter,
                "issuer" => &mut params.issuer,
                _ => continue,
            };
            if slot.is_some() {
                return Err(OtpError::DuplicateParameter { name });
            }
            *slot = Some(value.to_string());
        }
        Ok(params)
    }
}

impl Link {
    fn parse(uri: &str) -> Result<Link, OtpError> {
        let uri = uri.trim();
        let rest = strip_prefix_ignoring_case(uri, "otpauth://").ok_or(OtpError::NotOtpauth)?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (kind, label) = path.split_once('/').unwrap_or((path, ""));
        let kind = if kind.eq_ignore_ascii_case("totp") {
            OtpKind::Totp
        } else if kind.eq_ignore_ascii_case("hotp") {
            OtpKind::Hotp
        } else {
            return Err(OtpError::UnknownType);
        };
        let label = percent_decode(label)?;
        let (label_issuer, account) = match label.split_once(':') {
            Some((issuer, account)) => (non_empty(issuer.trim()), account.trim().to_string()),
            None => (None, label.trim().to_string()),
        };
        let params = Params::read(query)?;

        let secret = params.secret.as_deref().ok_or(OtpError::MissingSecret)?;
        let secret = base32_decode(secret).ok_or(OtpError::InvalidSecret)?;
        if secret.is_empty() {
            return Err(OtpError::MissingSecret);
        }
        let bits = u32::try_from(secret.len().saturating_mul(8)).unwrap_or(u32::MAX);
        if bits < MIN_SECRET_BITS {
            return Err(OtpError::SecretTooShort { bits });
        }
        let algorithm = match params.algorithm.as_deref() {
            None => OtpAlgorithm::Sha1,
            Some(a) if a.eq_ignore_ascii_case("SHA1") => OtpAlgorithm::Sha1,
            Some(a) if a.eq_ignore_ascii_case("SHA256") => OtpAlgorithm::Sha256,
            Some(a) if a.eq_ignore_ascii_case("SHA512") => OtpAlgorithm::Sha512,
            Some(_) => return Err(OtpError::UnsupportedAlgorithm),
        };
        let digits = match params.digits.as_deref() {
            None => DEFAULT_DIGITS,
            Some(d) => parse_number(d)
                .and_then(|d| u8::try_from(d).ok())
                .filter(|d| DIGITS.contains(d))
                .ok_or(OtpError::DigitsOutOfRange)?,
        };
        let moving_factor = match kind {
            OtpKind::Totp => match params.period.as_deref() {
                None => DEFAULT_PERIOD_SECS,
                Some(p) => parse_number(p)
                    .filter(|p| PERIOD_SECS.contains(p))
                    .ok_or(OtpError::PeriodOutOfRange)?,
            },
            OtpKind::Hotp => {
                let counter = params.counter.as_deref().ok_or(OtpError::MissingCounter)?;
                parse_number(counter).ok_or(OtpError::InvalidCounter)?
            }
        };
        let issuer = params
            .issuer
            .as_deref()
            .and_then(|i| non_empty(i.trim()))
            .or(label_issuer);
        Ok(Link {
            kind,
            issuer,
            account,
            secret,
            algorithm,
            digits,
            moving_factor,
        })
    }

    fn code_at(&self, time: u64) -> Result<OtpCode, OtpError> {
        let (step, at) = match self.kind {
            OtpKind::Totp => (self.moving_factor, time),
            // HOTP is TOTP with one-second steps at the counter's "time".
            OtpKind::Hotp => (1, self.moving_factor),
        };
        // Parsing refused a zero period; `max` keeps the arithmetic total all the same.
        let step = step.max(1);
        let code = otp::totp(
            self.algorithm,
            &self.secret,
            at,
            step,
            u32::from(self.digits),
        );
        Ok(match self.kind {
            OtpKind::Totp => OtpCode {
                code,
                kind: self.kind,
                issuer: self.issuer.clone(),
                account: self.account.clone(),
                digits: self.digits,
                period: u32::try_from(step).ok(),
                seconds_left: u32::try_from(step - time % step).ok(),
                counter: None,
            },
            OtpKind::Hotp => OtpCode {
                code,
                kind: self.kind,
                issuer: self.issuer.clone(),
                account: self.account.clone(),
                digits: self.digits,
                period: None,
                seconds_left: None,
                counter: Some(self.moving_factor),
            },
        })
    }
}

fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// A whole number of ASCII digits only (no sign, no spaces), at most 20 of them.
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `%XX` escapes decoded; the result must be UTF-8. `+` stays a plus.
fn percent_decode(text: &str) -> Result<String, OtpError> {
    let bytes = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let high = bytes.get(i + 1).and_then(|h| hex_value(*h));
            let low = bytes.get(i + 2).and_then(|l| hex_value(*l));
            match (high, low) {
                (Some(high), Some(low)) => out.push(high << 4 | low),
                _ => return Err(OtpError::BadEncoding),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out.to_vec()).map_err(|_| OtpError::BadEncoding)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 4648 base32, any case, `=` padding optional (only at the end), spaces ignored. Bits
/// left over after the last whole byte are ignored, as authenticator apps do; a length no
/// encoder makes (1, 3 or 6 characters past a multiple of 8) is refused.
fn base32_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8 + 1));
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    let mut symbols = 0usize;
    let mut padded = false;
    for c in text.bytes() {
        let value = match c {
            b' ' => continue,
            b'=' => {
                padded = true;
                continue;
            }
            _ if padded => return None,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
        symbols += 1;
    }
    matches!(symbols % 8, 0 | 2 | 4 | 5 | 7).then_some(out)
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 4648 base32 of `bytes`, without padding (the tests' own encoder).
    fn base32(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::new();
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for &b in bytes {
            buffer = (buffer << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    const RFC_SEED: &[u8] = b"12345678901234567890";

    fn seed(len: usize) -> Vec<u8> {
        RFC_SEED.iter().copied().cycle().take(len).collect()
    }

    #[test]
    fn rfc_4226_appendix_d_hotp_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in expected.iter().enumerate() {
            let uri = format!(
                "otpauth://hotp/Example:alice@example.com?secret={}&counter={counter}&issuer=Example",
                base32(RFC_SEED)
            );
            let code = otp_code(&uri, 0).expect("code");
            assert_eq!(code.code, *want, "counter {counter}");
            assert_eq!(code.kind, OtpKind::Hotp);
            assert_eq!(code.counter, Some(counter as u64));
            assert_eq!((code.period, code.seconds_left), (None, None));
            assert_eq!(code.issuer.as_deref(), Some("Example"));
            assert_eq!(code.account, "alice@example.com");
        }
    }

    #[test]
    fn rfc_6238_appendix_b_totp_vectors_past_2038() {
        let table: [(i64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (time, sha1, sha256, sha512) in table {
            for (algorithm, seed_len, want) in [
                ("SHA1", 20, sha1),
                ("SHA256", 32, sha256),
                ("sha512", 64, sha512),
            ] {
                let uri = format!(
                    "otpauth://totp/ACME%20Co:john?secret={}&algorithm={algorithm}&digits=8&period=30",
                    base32(&seed(seed_len))
                );
                let code = otp_code(&uri, time).expect("code");
                assert_eq!(code.code, want, "{algorithm} at {time}");
                assert_eq!(code.kind, OtpKind::Totp);
                assert_eq!(code.digits, 8);
                assert_eq!(code.period, Some(30));
                assert_eq!(
                    code.seconds_left,
                    Some(30 - (time % 30) as u32),
                    "{algorithm} at {time}"
                );
                assert_eq!(code.issuer.as_deref(), Some("ACME Co"));
                assert_eq!(code.account, "john");
            }
        }
    }

    #[test]
    fn defaults_padding_case_and_labels() {
        let secret = base32(RFC_SEED);
        let plain = otp_code(&format!("otpauth://totp/alice?secret={secret}"), 59).expect("code");
        assert_eq!((plain.digits, plain.period), (6, Some(30)));
        assert_eq!(plain.code, "287082", "the RFC's 8 digits, last 6");
        assert_eq!(plain.issuer, None);
        assert_eq!(plain.account, "alice");
        for variant in [
            format!("OTPAUTH://TOTP/alice?secret={}", secret.to_lowercase()),
            format!("otpauth://totp/alice?secret={secret}===="),
            format!("otpauth://totp/alice?image=x&secret={secret}#fragment"),
            format!("  otpauth://totp/alice?SECRET={secret}&&\n"),
        ] {
            assert_eq!(
                otp_code(&variant, 59).map(|c| c.code),
                Ok(plain.code.clone())
            );
        }
        let unicode = otp_code(
            &format!("otpauth://totp/B%C3%A4nk%3A%20j%C3%BCrgen?secret={secret}&issuer="),
            59,
        )
        .expect("code");
        assert_eq!(unicode.issuer.as_deref(), Some("Bänk"));
        assert_eq!(unicode.account, "jürgen");
        let param_wins = otp_code(
            &format!("otpauth://totp/Old:bob?secret={secret}&issuer=New%20Name"),
            59,
        )
        .expect("code");
        assert_eq!(param_wins.issuer.as_deref(), Some("New Name"));
        let empty = otp_code(&format!("otpauth://totp/?secret={secret}"), 59).expect("code");
        assert_eq!(empty.account, "");
        let odd = otp_code(
            &format!("otpauth://totp/x?secret={secret}&period=1&digits=7"),
            5,
        )
        .expect("code");
        assert_eq!((odd.code.len(), odd.seconds_left), (7, Some(1)));
        let max = otp_code(
            &format!("otpauth://hotp/x?secret={secret}&counter=18446744073709551615"),
            0,
        )
        .expect("code");
        assert_eq!(max.code.len(), 6);
        assert_eq!(
            otp_code(
                &format!("otpauth://totp/x?secret={secret}&period=86400"),
                i64::MAX
            )
            .map(|c| c.code.len()),
            Ok(6)
        );
    }

    #[test]
    fn malformed_links_get_their_own_errors() {
        let s = base32(RFC_SEED);
        let short = base32(b"123456789");
        let cases: Vec<(String, OtpError)> = vec![
            ("".into(), OtpError::NotOtpauth),
            ("https://example.com/?secret=x".into(), OtpError::NotOtpauth),
            ("otpauth:/totp/x?secret=x".into(), OtpError::NotOtpauth),
            ("otpauth".into(), OtpError::NotOtpauth),
            (
                format!("otpauth://motp/x?secret={s}"),
                OtpError::UnknownType,
            ),
            (format!("otpauth:///x?secret={s}"), OtpError::UnknownType),
            (format!("otpauth://totpx?secret={s}"), OtpError::UnknownType),
            (
                format!("otpauth://totp/a%2?secret={s}"),
                OtpError::BadEncoding,
            ),
            (
                format!("otpauth://totp/a%zz?secret={s}"),
                OtpError::BadEncoding,
            ),
            (
                format!("otpauth://totp/a%FF?secret={s}"),
                OtpError::BadEncoding,
            ),
            (
                format!("otpauth://totp/a?secret={s}&issuer=%"),
                OtpError::BadEncoding,
            ),
            ("otpauth://totp/a".into(), OtpError::MissingSecret),
            ("otpauth://totp/a?secret=".into(), OtpError::MissingSecret),
            (
                "otpauth://totp/a?secret=====".into(),
                OtpError::MissingSecret,
            ),
            ("otpauth://totp/a?secret".into(), OtpError::MissingSecret),
            (
                format!("otpauth://totp/a?Secret={s}1"),
                OtpError::InvalidSecret,
            ),
            (
                format!("otpauth://totp/a?secret={s}8"),
                OtpError::InvalidSecret,
            ),
            (
                format!("otpauth://totp/a?secret={s}A"),
                OtpError::InvalidSecret,
            ),
            (
                "otpauth://totp/a?secret=GEZD=GNBV".into(),
                OtpError::InvalidSecret,
            ),
            (
                "otpauth://totp/a?secret=GEZDGNBVG%C3%A9".into(),
                OtpError::InvalidSecret,
            ),
            (
                format!("otpauth://totp/a?secret={short}"),
                OtpError::SecretTooShort { bits: 72 },
            ),
            (
                format!("otpauth://totp/a?secret={s}&algorithm=MD5"),
                OtpError::UnsupportedAlgorithm,
            ),
            (
                format!("otpauth://totp/a?secret={s}&algorithm=SHA-1"),
                OtpError::UnsupportedAlgorithm,
            ),
            (
                format!("otpauth://totp/a?secret={s}&digits=5"),
                OtpError::DigitsOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&digits=10"),
                OtpError::DigitsOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&digits=+6"),
                OtpError::DigitsOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&digits="),
                OtpError::DigitsOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&digits=256"),
                OtpError::DigitsOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&period=0"),
                OtpError::PeriodOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&period=86401"),
                OtpError::PeriodOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&period=-30"),
                OtpError::PeriodOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&period=3.5"),
                OtpError::PeriodOutOfRange,
            ),
            (
                format!("otpauth://totp/a?secret={s}&period=99999999999999999999999"),
                OtpError::PeriodOutOfRange,
            ),
            (
                format!("otpauth://hotp/a?secret={s}"),
                OtpError::MissingCounter,
            ),
            (
                format!("otpauth://hotp/a?secret={s}&counter=-1"),
                OtpError::InvalidCounter,
            ),
            (
                format!("otpauth://hotp/a?secret={s}&counter=x"),
                OtpError::InvalidCounter,
            ),
            (
                format!("otpauth://hotp/a?secret={s}&counter=18446744073709551616"),
                OtpError::InvalidCounter,
            ),
            (
                format!("otpauth://totp/a?secret={s}&secret={s}"),
                OtpError::DuplicateParameter {
                    name: "secret".into(),
                },
            ),
            (
                format!("otpauth://totp/a?secret={s}&digits=6&DIGITS=8"),
                OtpError::DuplicateParameter {
                    name: "digits".into(),
                },
            ),
        ];
        assert!(cases.len() >= 20);
        for (uri, want) in &cases {
            assert_eq!(otp_code(uri, 59).as_ref(), Err(want), "{uri}");
        }
        assert_eq!(
            otp_code(&format!("otpauth://totp/a?secret={s}"), -1),
            Err(OtpError::TimeBeforeEpoch)
        );
    }

    #[test]
    fn every_error_has_its_own_code_and_keeps_the_link_out_of_its_message() {
        let errors = [
            OtpError::NotOtpauth,
            OtpError::UnknownType,
            OtpError::BadEncoding,
            OtpError::MissingSecret,
            OtpError::InvalidSecret,
            OtpError::SecretTooShort { bits: 72 },
            OtpError::UnsupportedAlgorithm,
            OtpError::DigitsOutOfRange,
            OtpError::PeriodOutOfRange,
            OtpError::MissingCounter,
            OtpError::InvalidCounter,
            OtpError::DuplicateParameter {
                name: "secret".into(),
            },
            OtpError::TimeBeforeEpoch,
        ];
        let codes: std::collections::HashSet<&str> = errors.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), errors.len());
        for e in &errors {
            assert!(e.code().starts_with("OTP_"), "{}", e.code());
            let message = e.to_string();
            assert!(message.len() > 30 && message.ends_with('.'), "{message}");
        }
        let secret = base32(RFC_SEED);
        let uri = format!("otpauth://totp/a?secret={secret}&digits=9");
        let err = otp_code(&uri, 59).expect_err("digits");
        assert!(!format!("{err} {err:?}").contains(&secret));
        let code = otp_code(&format!("otpauth://totp/a?secret={secret}"), 59).expect("code");
        assert!(!format!("{code:?}").contains(&code.code));
        let link = Link::parse(&uri.replace("&digits=9", "")).expect("link");
        assert!(!format!("{link:?}").contains(&secret));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>(), time in any::<i64>()) {
            let _ = otp_code(&text, time);
            let _ = otp_code(&format!("otpauth://{text}"), time);
            let _ = otp_code(&format!("otpauth://totp/{text}"), time);
        }

        #[test]
        fn mutations_of_a_valid_link_never_panic(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
            time in any::<i64>(),
        ) {
            let secret = base32(&seed(32));
            let valid = format!(
                "otpauth://totp/ACME:alice?secret={secret}&algorithm=SHA256&digits=8&period=60&issuer=ACME"
            );
            let mut bytes = valid.into_bytes();
            for (at, byte, how) in edits {
                let at = at % (bytes.len() + 1);
                match how {
                    0 => bytes.insert(at, byte),
                    1 if at < bytes.len() => bytes[at] = byte,
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Ok(code) = otp_code(&text, time) {
                prop_assert!(DIGITS.contains(&code.digits));
                prop_assert_eq!(code.code.len(), usize::from(code.digits));
            }
        }
    }
}
