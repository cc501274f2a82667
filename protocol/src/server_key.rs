//! The server's signing key over time: which key signed a token, and how a device that trusts
//! one key comes to trust the next.
//!
//! Every token names the key that signed it (`kid`, [`crate::activation::key_id`]). A server
//! that changes its key (a rotation) signs an endorsement of the new key with the old one
//! ([`EndorsementClaims`]); its `GET /v1/server-key` reply ([`ServerKeyResponse`]) carries the
//! current key and the endorsements since its first key, oldest first. A device that meets a
//! token from a key it does not know follows the endorsements from the key it trusts, each
//! checked with the key trusted so far ([`ServerKeyResponse::endorsed_by`]), and trusts the
//! current key only when they lead to it: a legitimate rotation never strands a device, and
//! a key nobody endorsed (an interceptor's) is never trusted.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::activation::{key_id, verify_token, ServerKeyResponse, TokenClaims, TOKEN_PREFIX};
use crate::encoding::{sha256_hex, unb64};

/// Token type of a key endorsement.
pub const ENDORSEMENT_TYPE: &str = "key-endorsement";
/// Length of a SEC1 uncompressed P-256 public key, bytes.
const PUBLIC_KEY_LEN: usize = 65;

/// What a key endorsement says: the key `pkey` (id `kid`, which signs the endorsement) hands
/// over to the key `key` (id `nkid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorsementClaims {
    /// Always [`ENDORSEMENT_TYPE`].
    pub typ: String,
    /// [`key_id`] of the endorsing (previous) key, which signs the endorsement.
    pub kid: String,
    /// The endorsing key, SEC1 uncompressed P-256, base64url (for a device that trusts it by
    /// its SHA-256 only).
    pub pkey: String,
    /// [`key_id`] of the endorsed (new) key.
    pub nkid: String,
    /// The endorsed key, SEC1 uncompressed P-256, base64url.
    pub key: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
}

impl TokenClaims for EndorsementClaims {
    const TYPE: &'static str = ENDORSEMENT_TYPE;
    fn token_type(&self) -> &str {
        &self.typ
    }
}

impl EndorsementClaims {
    /// The endorsed key (SEC1), when it is a P-256 public key matching `nkid`.
    fn endorsed_key(&self) -> Option<Vec<u8>> {
        public_key(&self.key, &self.nkid)
    }
}

/// The SEC1 key `b64_key` (base64url), when it is a P-256 public key whose id is `kid`.
fn public_key(b64_key: &str, kid: &str) -> Option<Vec<u8>> {
    unb64(b64_key).filter(|key| key.len() == PUBLIC_KEY_LEN && key_id(key) == kid)
}

/// Why the server's current key is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyChainError {
    /// The reply's key is not a P-256 public key matching its id.
    #[error("the server's key is not a P-256 public key matching its id")]
    Malformed,
    /// No chain of endorsements leads from the trusted key to the server's current key.
    #[error("the server's key is not endorsed by the key this device trusts")]
    NotEndorsed,
}

/// The id of the key that signed `token` (its claims' `kid`), read without checking the
/// signature: which key to check it with. `None` for a token that names none.
pub fn signer_key_id(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Signer {
        kid: Option<String>,
    }
    unverified_claims::<Signer>(token)?.kid
}

/// A token's claims, read without checking its signature.
fn unverified_claims<C: DeserializeOwned>(token: &str) -> Option<C> {
    let mut parts = token.trim().split('.');
    let (prefix, claims) = (parts.next()?, parts.next()?);
    if prefix != TOKEN_PREFIX || parts.count() != 1 {
        return None;
    }
    serde_json::from_slice(&unb64(claims)?).ok()
}

impl ServerKeyResponse {
    /// The server's current key (SEC1), when it is a P-256 public key matching its id.
    pub fn current_key(&self) -> Result<Vec<u8>, KeyChainError> {
        public_key(&self.public_key, &self.key_id).ok_or(KeyChainError::Malformed)
    }

    /// The server's current key, when it is `trusted` or the endorsements lead from `trusted`
    /// to it, each checked with the key trusted so far (endorsements of keys before
    /// `trusted` are passed over).
    pub fn endorsed_by(&self, trusted: &[u8]) -> Result<Vec<u8>, KeyChainError> {
        let current = self.current_key()?;
        let mut trusted = trusted.to_vec();
        for token in &self.endorsements {
            if signer_key_id(token).as_deref() != Some(key_id(&trusted).as_str()) {
                continue;
            }
            let next = verify_token::<EndorsementClaims>(token, &trusted)
                .ok()
                .and_then(|claims| claims.endorsed_key());
            if let Some(next) = next {
                trusted = next;
            }
        }
        if trusted == current {
            Ok(current)
        } else {
            Err(KeyChainError::NotEndorsed)
        }
    }

    /// The server's current key, when it or a key on the way to it has the SHA-256
    /// `sha256_hex_of_key` (of its SEC1 form, hex), and the endorsements lead from that key
    /// to the current one.
    pub fn endorsed_by_hash(&self, sha256_hex_of_key: &str) -> Result<Vec<u8>, KeyChainError> {
        let wanted = sha256_hex_of_key.trim().to_ascii_lowercase();
        let start = self
            .endorsements
            .iter()
            .filter_map(|token| {
                let claims = unverified_claims::<EndorsementClaims>(token)?;
                public_key(&claims.pkey, &claims.kid)
            })
            .chain(self.current_key().ok())
            .find(|key| sha256_hex(key) == wanted)
            .ok_or(KeyChainError::NotEndorsed)?;
        self.endorsed_by(&start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::sign_token;
    use crate::encoding::b64;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

    fn key_pair() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("generate");
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("parse")
    }

    fn public(key: &EcdsaKeyPair) -> Vec<u8> {
        key.public_key().as_ref().to_vec()
    }

    /// `by` endorses `next`.
    fn endorse(by: &EcdsaKeyPair, next: &EcdsaKeyPair) -> String {
        let claims = EndorsementClaims {
            typ: ENDORSEMENT_TYPE.into(),
            kid: String::new(),
            pkey: b64(&public(by)),
            nkid: key_id(&public(next)),
            key: b64(&public(next)),
            iat: 1,
        };
        sign_token(&claims, by, &SystemRandom::new()).expect("sign")
    }

    fn reply(current: &EcdsaKeyPair, endorsements: Vec<String>) -> ServerKeyResponse {
        ServerKeyResponse {
            key_id: key_id(&public(current)),
            public_key: b64(&public(current)),
            endorsements,
        }
    }

    #[test]
    fn tokens_name_the_key_that_signed_them() {
        let (first, second) = (key_pair(), key_pair());
        let token = endorse(&first, &second);
        assert_eq!(signer_key_id(&token), Some(key_id(&public(&first))));
        let claims: EndorsementClaims = verify_token(&token, &public(&first)).expect("verify");
        assert_eq!(claims.kid, key_id(&public(&first)));
        assert_eq!(signer_key_id("IBK1.e30.AA"), None);
        assert_eq!(signer_key_id("not a token"), None);
    }

    #[test]
    fn a_chain_of_endorsements_leads_from_any_older_key_to_the_current_one() {
        let (k1, k2, k3) = (key_pair(), key_pair(), key_pair());
        let chain = reply(&k3, vec![endorse(&k1, &k2), endorse(&k2, &k3)]);
        for trusted in [&k1, &k2, &k3] {
            assert_eq!(chain.endorsed_by(&public(trusted)), Ok(public(&k3)));
        }
        for trusted in [&k1, &k2, &k3] {
            let hash = sha256_hex(&public(trusted)).to_ascii_uppercase();
            assert_eq!(chain.endorsed_by_hash(&hash), Ok(public(&k3)));
        }
        assert_eq!(reply(&k1, Vec::new()).current_key(), Ok(public(&k1)));
    }

    #[test]
    fn a_key_nobody_trusted_endorsed_is_refused() {
        let (pinned, mallory, other) = (key_pair(), key_pair(), key_pair());
        // No endorsement at all, one by the interceptor's own key, a broken chain.
        for endorsements in [
            Vec::new(),
            vec![endorse(&mallory, &mallory)],
            vec![endorse(&pinned, &other)],
        ] {
            let forged = reply(&mallory, endorsements);
            assert_eq!(
                forged.endorsed_by(&public(&pinned)),
                Err(KeyChainError::NotEndorsed)
            );
        }
        // An endorsement claiming the pinned key's id but signed by the interceptor.
        let mut claims: EndorsementClaims =
            verify_token(&endorse(&mallory, &mallory), &public(&mallory)).expect("verify");
        claims.kid = key_id(&public(&pinned));
        let json = b64(&serde_json::to_vec(&claims).expect("json"));
        let sig = endorse(&mallory, &mallory)
            .rsplit_once('.')
            .map(|(_, sig)| sig.to_string())
            .expect("sig");
        let forged = reply(&mallory, vec![format!("{TOKEN_PREFIX}.{json}.{sig}")]);
        assert_eq!(
            forged.endorsed_by(&public(&pinned)),
            Err(KeyChainError::NotEndorsed)
        );
        assert_eq!(
            reply(&mallory, Vec::new()).endorsed_by_hash(&sha256_hex(&public(&pinned))),
            Err(KeyChainError::NotEndorsed)
        );
        let mut bad = reply(&mallory, Vec::new());
        bad.key_id = key_id(&public(&pinned));
        assert_eq!(bad.current_key(), Err(KeyChainError::Malformed));
    }
}
