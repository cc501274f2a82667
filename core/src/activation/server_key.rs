//! The server key this device trusts, and checking the server's tokens with it.
//!
//! Trust starts from the key the app ships in its configuration (the key itself, or its
//! SHA-256); only with `trust_on_first_use` (development) from whatever the server first
//! presents. A key pinned later (a rotation followed) takes the shipped key's place. Each token
//! names the key that signed it; a key this device does not know is trusted only when the
//! server's endorsements lead to it from the trusted key ([`ServerKeyResponse::endorsed_by`](ibkey_protocol::activation::ServerKeyResponse)),
//! and is then pinned in the device record.

use serde::de::DeserializeOwned;

use crate::api::ApiError;
use crate::device::Device;
use crate::platform::StoreError;
use ibkey_protocol::activation::{key_id, verify_token, TokenClaims, TokenError};
use ibkey_protocol::encoding::unb64;
use ibkey_protocol::server_key::{signer_key_id, KeyChainError};

/// Why a token from the server could not be checked.
#[derive(Debug)]
pub(crate) enum ServerTokenError {
    /// No key is configured or pinned, and trust on first use is off.
    NotConfigured,
    /// The server's current key is not endorsed by the key this device trusts.
    Untrusted(KeyChainError),
    /// The token does not verify with the trusted key, or is not of the expected kind.
    Token(TokenError),
    /// The server's key could not be fetched.
    Api(ApiError),
    /// The device record could not be read or written.
    Store(StoreError),
}

impl From<StoreError> for ServerTokenError {
    fn from(error: StoreError) -> Self {
        ServerTokenError::Store(error)
    }
}

/// Where this device's trust in the server's key starts.
enum Anchor {
    /// A key (SEC1).
    Key(Vec<u8>),
    /// The SHA-256 of a key, hex.
    Hash(String),
}

/// The configured `server_public_key`: a base64url SEC1 key or the key's SHA-256 (64 hex
/// digits). Anything else is no key at all.
fn configured_anchor(configured: Option<&str>) -> Result<Option<Anchor>, ServerTokenError> {
    let Some(text) = configured.map(str::trim) else {
        return Ok(None);
    };
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Some(Anchor::Hash(text.to_string())));
    }
    match unb64(text) {
        Some(key) if key.len() == 65 => Ok(Some(Anchor::Key(key))),
        _ => Err(ServerTokenError::NotConfigured),
    }
}

impl Device {
    /// Checks a token the server signed, with the key this device trusts for the key id the
    /// token names, and reads its claims.
    pub(crate) async fn verify_server_token<C: DeserializeOwned + TokenClaims>(
        &self,
        token: &str,
    ) -> Result<C, ServerTokenError> {
        // Boxed: one copy of the key lookup for every kind of token, not one inlined into each.
        let key = Box::pin(self.server_key_for(signer_key_id(token).as_deref())).await?;
        verify_token(token, &key).map_err(ServerTokenError::Token)
    }

    /// The server key to check a token signed by the key `kid` with (`None`: the token names
    /// none): the trusted key (pinned, else configured) when the token names it, else the
    /// server's current key once the endorsements lead to it from the trusted key (pinned from
    /// then on, so a key rotated away from is never trusted again).
    async fn server_key_for(&self, kid: Option<&str>) -> Result<Vec<u8>, ServerTokenError> {
        let pinned = match self.book.device()?.server_key {
            Some(key) => Some(unb64(&key).ok_or_else(|| StoreError::Corrupt {
                key: "device".into(),
            })?),
            None => None,
        };
        let anchor = match pinned.clone() {
            Some(key) => Some(Anchor::Key(key)),
            None => configured_anchor(self.config.server_public_key.as_deref())?,
        };
        if let Some(Anchor::Key(key)) = &anchor {
            if kid.is_none_or(|kid| kid == key_id(key)) {
                return Ok(key.clone());
            }
        }
        if anchor.is_none() && !self.config.trust_on_first_use {
            return Err(ServerTokenError::NotConfigured);
        }
        let reply = self.api.server_key().await.map_err(ServerTokenError::Api)?;
        let current = match &anchor {
            Some(Anchor::Key(key)) => reply.endorsed_by(key),
            Some(Anchor::Hash(hash)) => reply.endorsed_by_hash(hash),
            None => reply.current_key(),
        }
        .map_err(|e| {
            tracing::warn!(key_id = %reply.key_id, "the server's key is not endorsed by the trusted key; not pinned");
            ServerTokenError::Untrusted(e)
        })?;
        if pinned.as_ref() != Some(&current) {
            let how = if anchor.is_some() {
                "endorsed by the key trusted before"
            } else {
                "trusted on first use"
            };
            tracing::info!(key_id = %reply.key_id, "pinned the server's signing key, {how}");
            self.book
                .update_device(|d| d.server_key = Some(reply.public_key.clone()))?;
        }
        Ok(current)
    }
}
