//! Activation and accounts on the wire: the JSON bodies of the device and portal endpoints,
//! the signed tokens, the error codes. One definition, used on both ends.
//!
//! Everything the server issues (activation tickets, enrollment receipts) travels as a
//! signed token: `IBK1.<claims>.<signature>`, the claims being base64url JSON and the
//! signature ECDSA P-256 / SHA-256 (fixed 64-byte form) by the server's key over
//! `IBK1.<claims>`. The device pins the server's public key and checks every token.

use std::fmt;

use ring::digest;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::encoding::{b64, hex, unb64};

/// Prefix of every signed token; the version of the token format.
pub const TOKEN_PREFIX: &str = "IBK1";
/// Token type of an activation ticket (the QR payload).
pub const TICKET_TYPE: &str = "activation";
/// Token type of an enrollment receipt.
pub const RECEIPT_TYPE: &str = "enrollment";

/// The short identifier of a public key: hex of the first 8 bytes of its SHA-256.
pub fn key_id(public_key: &[u8]) -> String {
    hex(&digest::digest(&digest::SHA256, public_key).as_ref()[..8])
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not of the `IBK1.<claims>.<signature>` form, or the claims are not the expected JSON.
    #[error("not an ibkey token")]
    Malformed,
    /// The signature does not verify with the pinned server key.
    #[error("signature does not match the server's key")]
    BadSignature,
    /// The claims do not name the expected token type.
    #[error("unexpected token type")]
    WrongType,
}

/// Signs claims into a token with the server's key. The claims carry that key's [`key_id`]
/// as `kid` (set here, whatever they said), so a device knows which key to check the token
/// with and notices a new key ([`crate::server_key`]).
pub fn sign_token<C: Serialize>(
    claims: &C,
    key: &EcdsaKeyPair,
    rng: &dyn ring::rand::SecureRandom,
) -> Result<String, ring::error::Unspecified> {
    let mut claims = serde_json::to_value(claims).map_err(|_| ring::error::Unspecified)?;
    let object = claims.as_object_mut().ok_or(ring::error::Unspecified)?;
    object.insert("kid".into(), key_id(key.public_key().as_ref()).into());
    let json = serde_json::to_vec(&claims).map_err(|_| ring::error::Unspecified)?;
    let input = format!("{TOKEN_PREFIX}.{}", b64(&json));
    let sig = key.sign(rng, input.as_bytes())?;
    Ok(format!("{input}.{}", b64(sig.as_ref())))
}

/// Checks a token's signature with the server's public key (SEC1 uncompressed) and reads
/// its claims, without checking what they say.
pub fn verify_token<C: DeserializeOwned + TokenClaims>(
    token: &str,
    server_public_key: &[u8],
) -> Result<C, TokenError> {
    let token = token.trim();
    let (input, sig) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (prefix, claims) = input.split_once('.').ok_or(TokenError::Malformed)?;
    if prefix != TOKEN_PREFIX {
        return Err(TokenError::Malformed);
    }
    let sig = unb64(sig).ok_or(TokenError::Malformed)?;
    let json = unb64(claims).ok_or(TokenError::Malformed)?;
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, server_public_key)
        .verify(input.as_bytes(), &sig)
        .map_err(|_| TokenError::BadSignature)?;
    let claims: C = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if claims.token_type() != C::TYPE {
        return Err(TokenError::WrongType);
    }
    Ok(claims)
}

/// Claims that name their own token type.
pub trait TokenClaims {
    /// The `typ` value this kind of claims must carry.
    const TYPE: &'static str;
    /// The `typ` value these claims carry.
    fn token_type(&self) -> &str;
}

/// What an activation ticket (the QR payload) says.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    /// Always [`TICKET_TYPE`].
    pub typ: String,
    /// The server's base URL.
    pub srv: String,
    /// The server key's id ([`key_id`]).
    pub kid: String,
    /// The session ID, canonical (12 characters, no dashes).
    pub sid: String,
    /// The portal user the ticket enrolls.
    pub usr: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// A move ticket ([`crate::lifecycle`]): the names of the user's devices it replaces,
    /// whose credentials are revoked when it is used. Absent from a plain activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mov: Option<Vec<String>>,
}

impl TokenClaims for TicketClaims {
    const TYPE: &'static str = TICKET_TYPE;
    fn token_type(&self) -> &str {
        &self.typ
    }
}

/// What an enrollment receipt says: this device's key now stands for this user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptClaims {
    /// Always [`RECEIPT_TYPE`].
    pub typ: String,
    /// The credential's id on the server.
    pub cid: String,
    /// The enrolled user.
    pub usr: String,
    /// The device id the credential belongs to.
    pub dev: String,
    /// [`key_id`] of the device's public key.
    pub pkid: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// In a receipt of a recovery ([`crate::lifecycle`]): the last approval counter the server
    /// accepted for the credential, from which the device goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctr: Option<u64>,
}

impl TokenClaims for ReceiptClaims {
    const TYPE: &'static str = RECEIPT_TYPE;
    fn token_type(&self) -> &str {
        &self.typ
    }
}

/// The message a device signs with its new key to prove it holds it.
pub fn activation_proof_message(session_id: &str, device_id: &str, public_key_b64: &str) -> String {
    format!("ibkey-activate:v1:{session_id}:{device_id}:{public_key_b64}")
}

/// The message a device signs to revoke its credential.
pub fn revoke_message(credential_id: &str, issued_at: i64) -> String {
    format!("ibkey-revoke:v1:{credential_id}:{issued_at}")
}

/// The message a device signs with the key of the account it already holds for a ticket's
/// user, to report that it refused the ticket ([`AlreadyEnrolledRequest`]).
pub fn already_enrolled_message(session_id: &str, credential_id: &str, issued_at: i64) -> String {
    format!("ibkey-already-enrolled:v1:{session_id}:{credential_id}:{issued_at}")
}

/// `GET /v1/server-key`: the server's signing key, and how it came to be trusted
/// ([`crate::server_key`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerKeyResponse {
    /// [`key_id`] of the key.
    pub key_id: String,
    /// SEC1 uncompressed P-256 public key, base64url.
    pub public_key: String,
    /// The endorsements of each key the server had by the one before it (signed
    /// [`crate::server_key::EndorsementClaims`]), oldest first, the last naming `public_key`;
    /// empty while the server still has its first key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endorsements: Vec<String>,
}

/// `POST /v1/portal/sign-in`: a test user signs in to the portal.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInRequest {
    /// Portal user name.
    pub username: String,
    /// Portal password.
    pub password: String,
}

/// Reply to [`SignInRequest`].
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInResponse {
    /// Bearer token for the portal endpoints.
    pub portal_token: String,
    /// When the portal session ends, Unix seconds.
    pub expires_at: i64,
}

/// Reply to `POST /v1/portal/activation-tickets` (bearer portal token, empty body).
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketResponse {
    /// The session ID printed under the QR, grouped (`K7QP-3MZX-9TWD`).
    pub session_id: String,
    /// The text the QR code holds: a signed activation ticket.
    pub qr_payload: String,
    /// When the ticket expires, Unix seconds.
    pub expires_at: i64,
}

/// `POST /v1/activation/lookup`: trade a typed session ID for its signed ticket.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupRequest {
    /// Canonical session ID (12 characters).
    pub session_id: String,
}

/// Reply to [`LookupRequest`].
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupResponse {
    /// The signed activation ticket, the same text the QR holds.
    pub ticket: String,
}

/// `POST /v1/activation/complete`: register this device's key for the ticket's user.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteRequest {
    /// The signed activation ticket.
    pub ticket: String,
    /// This install's random id.
    pub device_id: String,
    /// A name for the device the user will recognise in the portal.
    pub device_name: String,
    /// SEC1 uncompressed P-256 public key, base64url.
    pub public_key: String,
    /// ASN.1 DER ECDSA signature over [`activation_proof_message`], base64url.
    pub proof: String,
    /// The device's one-time X25519 public key (base64url) for the offline-code secret
    /// ([`crate::offline`]); absent from devices without offline codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_key: Option<String>,
}

/// Reply to [`CompleteRequest`].
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteResponse {
    /// Signed enrollment receipt.
    pub receipt: String,
    /// The server's one-time X25519 public key (base64url) answering the device's
    /// `agreement_key`; absent when the device sent none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_key: Option<String>,
}

/// `POST /v1/devices/revoke`: the device removes its own credential.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeRequest {
    /// The credential to revoke.
    pub credential_id: String,
    /// When the request was made, Unix seconds (the server allows a few minutes of skew).
    pub issued_at: i64,
    /// ASN.1 DER ECDSA signature over [`revoke_message`] by the credential's key, base64url.
    pub signature: String,
}

/// `POST /v1/activation/already-enrolled`: a device that already holds the ticket's user
/// reports it (it refused the ticket without a network call), so the activation page can say
/// so. Answered 204; the ticket stays as it was.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlreadyEnrolledRequest {
    /// The signed activation ticket, as presented (QR payload or looked-up ticket).
    pub ticket: String,
    /// The credential of the account the device already holds for the ticket's user.
    pub credential_id: String,
    /// When the report was made, Unix seconds (the server allows a few minutes of skew).
    pub issued_at: i64,
    /// ASN.1 DER ECDSA signature over [`already_enrolled_message`] (the ticket's session ID)
    /// by that credential's device key, base64url.
    pub signature: String,
}

/// Body of every error reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorBody,
}

/// The error inside an [`ErrorResponse`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// One of the `code` constants in [`codes`].
    pub code: String,
    /// A human explanation (English).
    pub message: String,
    /// Seconds to wait before trying again, for `too_many_attempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// For `credential_moved`: the signed [`crate::lifecycle::MovedClaims`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<String>,
}

/// Error codes the server replies with.
pub mod codes {
    /// No ticket has this session ID.
    pub const CODE_UNKNOWN: &str = "code_unknown";
    /// The ticket was already used to activate a device.
    pub const CODE_USED: &str = "code_used";
    /// The ticket expired.
    pub const CODE_EXPIRED: &str = "code_expired";
    /// This device already holds a credential for the user.
    pub const ALREADY_ENROLLED: &str = "already_enrolled";
    /// Too many wrong session-ID guesses; wait `retry_after` seconds.
    pub const TOO_MANY_ATTEMPTS: &str = "too_many_attempts";
    /// The request is malformed.
    pub const BAD_REQUEST: &str = "bad_request";
    /// Missing or wrong portal credentials.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// A signature (proof of key, revocation, ticket) does not verify.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// No active credential has this id.
    pub const CREDENTIAL_UNKNOWN: &str = "credential_unknown";
    /// The server failed; nothing was changed.
    pub const INTERNAL: &str = "internal";
    /// The ticket presented is not the one the server issued for its session ID.
    pub const TICKET_MISMATCH: &str = "ticket_mismatch";
    /// The ticket presented names another user than the server's record of it.
    pub const TICKET_USER_MISMATCH: &str = "ticket_user_mismatch";
    /// The ticket presented has another expiry than the server's record of it.
    pub const TICKET_EXPIRY_MISMATCH: &str = "ticket_expiry_mismatch";
    /// The ticket presented at completion was not signed by this server.
    pub const TICKET_NOT_OURS: &str = "ticket_not_ours";
    /// The device id sent at completion is empty, too long or not printable ASCII.
    pub const DEVICE_ID_INVALID: &str = "device_id_invalid";
    /// The device name sent at completion is too long or holds control characters.
    pub const DEVICE_NAME_INVALID: &str = "device_name_invalid";
    /// The device's public key is not an uncompressed P-256 key in base64url.
    pub const DEVICE_KEY_INVALID: &str = "device_key_invalid";
    /// The device's proof of key is not base64url or does not verify.
    pub const PROOF_INVALID: &str = "proof_invalid";
    /// The device's agreement key is not a usable X25519 public key.
    pub const AGREEMENT_KEY_INVALID: &str = "agreement_key_invalid";
    /// An already-enrolled report names a credential of another user than the ticket's.
    pub const CREDENTIAL_USER_MISMATCH: &str = "credential_user_mismatch";
}

/// The last four characters of a session ID, all that a `Debug` print shows of it.
fn last_group(session_id: &str) -> &str {
    let start = session_id.len().saturating_sub(4);
    session_id.get(start..).unwrap_or("")
}

// The wire types that carry secrets (session IDs, tickets, proofs, tokens, passwords) print
// only what is safe to log.

impl fmt::Debug for TicketClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketClaims")
            .field("srv", &self.srv)
            .field("sid", &format_args!("****-****-{}", last_group(&self.sid)))
            .field("usr", &self.usr)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SignInRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SignInResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInResponse")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TicketResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketResponse")
            .field(
                "session_id",
                &format_args!("****-****-{}", last_group(&self.session_id)),
            )
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LookupRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LookupRequest")
            .field(
                "session_id",
                &format_args!("****-****-{}", last_group(&self.session_id)),
            )
            .finish()
    }
}

impl fmt::Debug for LookupResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LookupResponse").finish_non_exhaustive()
    }
}

impl fmt::Debug for CompleteRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompleteRequest")
            .field("device_id", &self.device_id)
            .field("device_name", &self.device_name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CompleteResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompleteResponse").finish_non_exhaustive()
    }
}

impl fmt::Debug for RevokeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevokeRequest")
            .field("credential_id", &self.credential_id)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AlreadyEnrolledRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlreadyEnrolledRequest")
            .field("credential_id", &self.credential_id)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair;

    fn server_key() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate");
        EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .expect("parse")
    }

    fn ticket(kid: &str) -> TicketClaims {
        TicketClaims {
            typ: TICKET_TYPE.into(),
            srv: "http://127.0.0.1:1".into(),
            kid: kid.into(),
            sid: "K7QP3MZX9TWD".into(),
            usr: "alice".into(),
            iat: 1,
            exp: 2,
            mov: None,
        }
    }

    #[test]
    fn a_signed_ticket_verifies_and_reads_back() {
        let key = server_key();
        let public = key.public_key().as_ref().to_vec();
        let claims = ticket(&key_id(&public));
        let token = sign_token(&claims, &key, &SystemRandom::new()).expect("sign");
        assert!(token.starts_with("IBK1."));
        let read: TicketClaims = verify_token(&token, &public).expect("verify");
        assert_eq!(read, claims);
    }

    #[test]
    fn tampering_or_another_key_is_refused() {
        let key = server_key();
        let public = key.public_key().as_ref().to_vec();
        let token = sign_token(&ticket("x"), &key, &SystemRandom::new()).expect("sign");
        let other = server_key().public_key().as_ref().to_vec();
        assert_eq!(
            verify_token::<TicketClaims>(&token, &other),
            Err(TokenError::BadSignature)
        );
        let (input, sig) = token.rsplit_once('.').expect("dot");
        let forged_claims = b64(&serde_json::to_vec(&TicketClaims {
            usr: "mallory".into(),
            ..ticket("x")
        })
        .expect("json"));
        let forged = format!("IBK1.{forged_claims}.{sig}");
        assert_eq!(
            verify_token::<TicketClaims>(&forged, &public),
            Err(TokenError::BadSignature)
        );
        for junk in [
            "",
            "IBK1",
            "IBK1..",
            "IBK2.e30.AA",
            "hello world",
            &input[..10],
        ] {
            assert!(
                verify_token::<TicketClaims>(junk, &public).is_err(),
                "{junk}"
            );
        }
        assert_eq!(
            verify_token::<ReceiptClaims>(&token, &public),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn debug_prints_of_wire_types_hide_their_secrets() {
        let claims = ticket("kid");
        let request = LookupRequest {
            session_id: "K7QP3MZX9TWD".into(),
        };
        let complete = CompleteRequest {
            ticket: "IBK1.claims.sig".into(),
            device_id: "dev".into(),
            device_name: "phone".into(),
            public_key: "PUBLICKEY".into(),
            proof: "PROOF".into(),
            agreement_key: None,
        };
        let shown = format!("{claims:?} {request:?} {complete:?}");
        for secret in ["K7QP", "3MZX", "IBK1", "PUBLICKEY", "PROOF"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("9TWD") && shown.contains("alice"), "{shown}");
    }
}
