//! Per-installation secrets: a server that listens beyond loopback never runs with the
//! shipped demo portal password or support token. When the configuration still holds those
//! defaults, the server reads its own from `portal-password` and `support-token` in the data
//! directory (mode 0600), making random ones at first start; the caller shows newly made ones
//! to the operator once ([`crate::RunningServer::generated_secrets`]).

use std::fmt;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ibkey_protocol::encoding::CROCKFORD;
use ring::rand::{SecureRandom as _, SystemRandom};

use crate::config::{ServerConfig, DEFAULT_SUPPORT_TOKEN, DEMO_PORTAL_PASSWORD};
use crate::error::ServerError;
use crate::keys::{store_once, warn_if_private_file_is_open, StoreError};

/// File name of the generated portal password inside the data directory.
pub const PORTAL_PASSWORD_FILE: &str = "portal-password";
/// File name of the generated support token inside the data directory.
pub const SUPPORT_TOKEN_FILE: &str = "support-token";
/// Length of a generated secret, characters (Crockford base32: 100 bits).
pub const GENERATED_SECRET_CHARS: usize = 20;

/// A secret made at this start, for the operator to see once.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedSecret {
    /// Where it is stored (mode 0600).
    pub path: PathBuf,
    /// The secret itself.
    pub value: String,
}

impl fmt::Debug for GeneratedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedSecret")
            .field("path", &self.path)
            .field("value", &"<hidden>")
            .finish()
    }
}

/// The secrets made at this start (at least one is set).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GeneratedSecrets {
    /// The portal password, if it was made now.
    pub portal_password: Option<GeneratedSecret>,
    /// The support token, if it was made now.
    pub support_token: Option<GeneratedSecret>,
}

/// The portal password and support token the server uses, and the ones made now.
pub(crate) struct Effective {
    /// The portal password.
    pub portal_password: String,
    /// The support token.
    pub support_token: String,
    /// What was made at this start, if anything.
    pub generated: Option<GeneratedSecrets>,
}

/// Whether `ip` is loopback (127.0.0.0/8, ::1, or IPv4-mapped loopback).
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The secrets for a server listening on `ip`: configured values as given; the shipped
/// defaults on loopback; otherwise the installation's own, from (or made into) `dir`.
pub(crate) fn effective(
    config: &ServerConfig,
    ip: IpAddr,
    dir: &Path,
    rng: &SystemRandom,
) -> Result<Effective, ServerError> {
    let mut generated = GeneratedSecrets::default();
    let pick = |configured: &str,
                default: &str,
                file: &str,
                slot: &mut Option<GeneratedSecret>|
     -> Result<String, ServerError> {
        if configured != default || is_loopback(ip) {
            return Ok(configured.to_string());
        }
        let (value, created) = load_or_create(dir, file, rng)?;
        if created {
            *slot = Some(GeneratedSecret {
                path: dir.join(file),
                value: value.clone(),
            });
        }
        Ok(value)
    };
    let portal_password = pick(
        &config.portal_password,
        DEMO_PORTAL_PASSWORD,
        PORTAL_PASSWORD_FILE,
        &mut generated.portal_password,
    )?;
    let support_token = pick(
        &config.support_token,
        DEFAULT_SUPPORT_TOKEN,
        SUPPORT_TOKEN_FILE,
        &mut generated.support_token,
    )?;
    let made: Vec<String> = [&generated.portal_password, &generated.support_token]
        .into_iter()
        .flatten()
        .map(|s| s.path.display().to_string())
        .collect();
    if !made.is_empty() {
        tracing::warn!(files = %made.join(", "), "listening beyond loopback: made per-installation secrets (the demo password and support token are refused); read them from these files");
    }
    let any = generated.portal_password.is_some() || generated.support_token.is_some();
    Ok(Effective {
        portal_password,
        support_token,
        generated: any.then_some(generated),
    })
}

/// Reads the secret in `dir/file`, or makes and stores one; whether it was made now.
fn load_or_create(
    dir: &Path,
    file: &str,
    rng: &SystemRandom,
) -> Result<(String, bool), ServerError> {
    let path = dir.join(file);
    let unusable = |message: String| ServerError::SecretFile {
        path: path.clone(),
        message,
    };
    let (bytes, created) = match fs::read(&path) {
        Ok(bytes) => {
            warn_if_private_file_is_open(&path, "a secret file");
            (bytes, false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let value = random_secret(rng)?;
            match store_once(dir, file, value.as_bytes(), rng) {
                Ok(stored) => (stored.bytes, stored.created),
                Err(StoreError::Unreadable(e)) => return Err(unusable(e.to_string())),
                Err(StoreError::Other(e)) => return Err(e),
            }
        }
        Err(e) => return Err(unusable(e.to_string())),
    };
    let text = String::from_utf8(bytes).map_err(|_| unusable("it is not UTF-8 text".into()))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(unusable("it is empty".into()));
    }
    Ok((value.to_string(), created))
}

/// A fresh random secret: [`GENERATED_SECRET_CHARS`] Crockford base32 characters.
fn random_secret(rng: &SystemRandom) -> Result<String, ServerError> {
    let mut bytes = [0u8; GENERATED_SECRET_CHARS];
    rng.fill(&mut bytes).map_err(|_| ServerError::Random)?;
    // 256 is a multiple of 32, so the low five bits are uniform.
    Ok(bytes
        .iter()
        .map(|b| char::from(CROCKFORD[usize::from(b & 31)]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn config() -> ServerConfig {
        ServerConfig::default()
    }

    #[test]
    fn loopback_is_127_slash_8_and_colon_colon_1() {
        assert!(is_loopback(Ipv4Addr::new(127, 0, 0, 1).into()));
        assert!(is_loopback(Ipv4Addr::new(127, 9, 8, 7).into()));
        assert!(is_loopback(Ipv6Addr::LOCALHOST.into()));
        assert!(is_loopback(
            Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped().into()
        ));
        assert!(!is_loopback(Ipv4Addr::UNSPECIFIED.into()));
        assert!(!is_loopback(Ipv6Addr::UNSPECIFIED.into()));
        assert!(!is_loopback(Ipv4Addr::new(192, 168, 1, 2).into()));
    }

    #[test]
    fn loopback_and_configured_values_are_used_as_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rng = SystemRandom::new();
        let on_loopback =
            effective(&config(), Ipv4Addr::LOCALHOST.into(), dir.path(), &rng).expect("effective");
        assert_eq!(on_loopback.portal_password, DEMO_PORTAL_PASSWORD);
        assert_eq!(on_loopback.support_token, DEFAULT_SUPPORT_TOKEN);
        assert!(on_loopback.generated.is_none());
        let mut configured = config();
        configured.portal_password = "chosen".into();
        configured.support_token = "token".into();
        let open = effective(&configured, Ipv4Addr::UNSPECIFIED.into(), dir.path(), &rng)
            .expect("effective");
        assert_eq!(open.portal_password, "chosen");
        assert_eq!(open.support_token, "token");
        assert!(open.generated.is_none());
        assert!(!dir.path().join(PORTAL_PASSWORD_FILE).exists());
    }

    #[test]
    fn beyond_loopback_defaults_are_replaced_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rng = SystemRandom::new();
        let ip: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
        let first = effective(&config(), ip, dir.path(), &rng).expect("first");
        assert_ne!(first.portal_password, DEMO_PORTAL_PASSWORD);
        assert_ne!(first.support_token, DEFAULT_SUPPORT_TOKEN);
        assert_ne!(first.portal_password, first.support_token);
        assert_eq!(first.portal_password.len(), GENERATED_SECRET_CHARS);
        assert!(first
            .portal_password
            .bytes()
            .all(|c| CROCKFORD.contains(&c)));
        let generated = first.generated.expect("made now");
        assert_eq!(
            generated.portal_password.expect("password").value,
            first.portal_password
        );
        assert!(!format!("{:?}", generated.support_token).contains(&first.support_token));
        let second = effective(&config(), ip, dir.path(), &rng).expect("second");
        assert_eq!(second.portal_password, first.portal_password);
        assert_eq!(second.support_token, first.support_token);
        assert!(second.generated.is_none(), "shown only once");
    }

    #[test]
    fn an_empty_secret_file_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(PORTAL_PASSWORD_FILE), b" \n").expect("write");
        let result = effective(
            &config(),
            Ipv4Addr::UNSPECIFIED.into(),
            dir.path(),
            &SystemRandom::new(),
        );
        assert!(matches!(result, Err(ServerError::SecretFile { .. })));
    }
}
