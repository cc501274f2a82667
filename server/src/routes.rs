//! The HTTP routes. Handlers are thin async wrappers around synchronous functions that
//! hold the database or limiter lock for a short, await-free section.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use ibkey_protocol::session_id::SessionId;
use ibkey_protocol::activation::{activation_proof_message, key_id, revoke_message, sign_token, verify_token, CompleteRequest, CompleteResponse, LookupRequest, LookupResponse, ReceiptClaims, RevokeRequest, ServerKeyResponse, SignInRequest, SignInResponse, TicketClaims, TicketResponse, RECEIPT_TYPE, TICKET_TYPE};
use ibkey_protocol::encoding::{b64, unb64};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde::de::DeserializeOwned;

use crate::clock::ServerClock;
use crate::db::{CompleteOutcome, Db, NewCredential, PortalDevice};
use crate::error::ApiError;
use crate::keys::ServerKey;
use crate::rate_limit::GuessLimiter;

/// How long a portal session lasts, seconds.
pub const PORTAL_SESSION_SECONDS: i64 = 15 * 60;
/// How far a revocation's `issued_at` may be from the server's clock, seconds.
pub const REVOKE_SKEW_SECONDS: u64 = 300;
/// Longest device id accepted, bytes.
pub const MAX_DEVICE_ID_LEN: usize = 128;
/// Longest device name accepted, characters.
pub const MAX_DEVICE_NAME_LEN: usize = 100;

/// Everything the handlers share.
pub(crate) struct AppState {
    /// The store.
    pub db: Db,
    /// The signing key.
    pub key: ServerKey,
    /// Randomness for tokens, ids and signatures.
    pub rng: SystemRandom,
    /// The (injectable) clock.
    pub clock: Arc<dyn ServerClock>,
    /// The wrong-guess limiter for lookups.
    pub limiter: Mutex<GuessLimiter>,
    /// Base URL put in tickets.
    pub public_url: String,
    /// Ticket lifetime, seconds.
    pub ticket_lifetime: i64,
    /// SHA-256 of the portal password.
    pub password_sha256: [u8; 32],
    /// Diagnostics uploads and their storage.
    pub diagnostics: crate::diagnostics::DiagnosticsState,
}

impl AppState {
    /// The limiter (a poisoned lock only means a panic mid-update of counters; take it over).
    fn limiter(&self) -> MutexGuard<'_, GuessLimiter> {
        self.limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Shared state as the handlers get it.
type St = State<Arc<AppState>>;

/// The application's routes.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/server-key", get(server_key))
        .route("/v1/portal/sign-in", post(sign_in))
        .route("/v1/portal/activation-tickets", post(issue_ticket))
        .route("/v1/portal/devices", get(list_devices))
        .route("/v1/portal/devices/{credential_id}", delete(remove_device))
        .route("/v1/activation/lookup", post(lookup))
        .route("/v1/activation/complete", post(complete))
        .route("/v1/devices/revoke", post(revoke))
        .merge(crate::diagnostics::routes())
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ibkey_protocol::activation::codes::BAD_REQUEST,
                "No such endpoint on this ibkey server. Check the server URL and the app version.",
            )
        })
        .layer(DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .with_state(state)
}

/// A JSON body whose rejection is an [`ApiError`] (`bad_request`) instead of axum's plain text.
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::from_json_rejection(&rejection)),
        }
    }
}

async fn server_key(State(st): St) -> Json<ServerKeyResponse> {
    Json(ServerKeyResponse {
        key_id: st.key.kid.clone(),
        public_key: b64(&st.key.public),
    })
}

async fn sign_in(
    State(st): St,
    ApiJson(req): ApiJson<SignInRequest>,
) -> Result<Json<SignInResponse>, ApiError> {
    sign_in_sync(&st, &req).map(Json)
}

async fn issue_ticket(State(st): St, headers: HeaderMap) -> Result<Json<TicketResponse>, ApiError> {
    issue_ticket_sync(&st, &headers).map(Json)
}

async fn list_devices(
    State(st): St,
    headers: HeaderMap,
) -> Result<Json<Vec<PortalDevice>>, ApiError> {
    let user = portal_user(&st, &headers)?;
    Ok(Json(st.db.devices(&user)?))
}

async fn remove_device(
    State(st): St,
    headers: HeaderMap,
    Path(credential_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = portal_user(&st, &headers)?;
    if !st.db.revoke(&credential_id, Some(&user), st.clock.now())? {
        return Err(ApiError::credential_unknown());
    }
    tracing::info!(%user, %credential_id, "device removed in the portal");
    Ok(StatusCode::NO_CONTENT)
}

async fn lookup(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LookupRequest>,
) -> Result<Json<LookupResponse>, ApiError> {
    lookup_sync(&st, peer.ip(), &req).map(Json)
}

async fn complete(
    State(st): St,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> Result<Json<CompleteResponse>, ApiError> {
    complete_sync(&st, &req).map(Json)
}

async fn revoke(State(st): St, ApiJson(req): ApiJson<RevokeRequest>) -> Response {
    match revoke_sync(&st, &req) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// SHA-256 of some bytes.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Compares two digests in time that does not depend on where they differ.
fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `n` random bytes as base64url.
fn random_b64(rng: &SystemRandom, n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    rng.fill(&mut bytes)
        .map_err(|_| ApiError::internal("random generator", &"fill failed"))?;
    Ok(b64(&bytes))
}

/// Whether a (lower-cased) name is a test user: `^[a-z0-9][a-z0-9._@-]{0,63}$`.
pub(crate) fn valid_username(name: &str) -> bool {
    let bytes = name.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && bytes.len() <= 64
        && bytes.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'@' | b'-')
        })
}

fn sign_in_sync(st: &AppState, req: &SignInRequest) -> Result<SignInResponse, ApiError> {
    let username = req.username.to_lowercase();
    let password_ok = digests_equal(&sha256(req.password.as_bytes()), &st.password_sha256);
    if !valid_username(&username) {
        return Err(ApiError::unauthorized(
            "This user name cannot exist: user names are 1 to 64 letters, digits and . _ @ -, starting with a letter or digit.",
        ));
    }
    if !password_ok {
        tracing::info!(user = %username, "portal sign-in refused: wrong password");
        return Err(ApiError::unauthorized(
            "Wrong user name or password. On this test server every user signs in with the same portal password, set by whoever runs the server.",
        ));
    }
    let token = random_b64(&st.rng, 32)?;
    let now = st.clock.now();
    let expires_at = now + PORTAL_SESSION_SECONDS;
    st.db
        .create_portal_session(&sha256(token.as_bytes()), &username, now, expires_at)?;
    tracing::info!(user = %username, "portal sign-in");
    Ok(SignInResponse {
        portal_token: token,
        expires_at,
    })
}

/// The user of the request's portal session (`Authorization: Bearer <portal_token>`).
fn portal_user(st: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(ApiError::unauthorized(
            "Sign in to the portal first: this request needs the portal token (Authorization: Bearer ...).",
        ));
    };
    st.db
        .portal_user(&sha256(token.as_bytes()), st.clock.now())?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "Your portal session has ended or is not valid. Sign in to the portal again.",
            )
        })
}

fn issue_ticket_sync(st: &AppState, headers: &HeaderMap) -> Result<TicketResponse, ApiError> {
    let user = portal_user(st, headers)?;
    let now = st.clock.now();
    let exp = now + st.ticket_lifetime;
    // 45 random bits: a collision with a stored ticket is rare; draw again if it happens.
    for _ in 0..8 {
        let sid = SessionId::generate(&st.rng)
            .map_err(|_| ApiError::internal("session id generation", &"random failed"))?;
        let claims = TicketClaims {
            typ: TICKET_TYPE.to_string(),
            srv: st.public_url.clone(),
            kid: st.key.kid.clone(),
            sid: sid.canonical().to_string(),
            usr: user.clone(),
            iat: now,
            exp,
        };
        let token = sign_token(&claims, &st.key.pair, &st.rng)
            .map_err(|_| ApiError::internal("ticket signing", &"sign failed"))?;
        if st
            .db
            .insert_ticket(sid.canonical(), &user, &token, now, exp)?
        {
            tracing::info!(%user, session = %sid.last_group(), "activation ticket issued");
            return Ok(TicketResponse {
                session_id: sid.grouped(),
                qr_payload: token,
                expires_at: exp,
            });
        }
    }
    Err(ApiError::internal(
        "ticket issue",
        &"no free session id after 8 draws",
    ))
}

fn lookup_sync(st: &AppState, ip: IpAddr, req: &LookupRequest) -> Result<LookupResponse, ApiError> {
    let now = st.clock.now();
    // The limiter lock is held across the lookup so concurrent guesses cannot overrun it.
    let mut limiter = st.limiter();
    if let Err(retry_after) = limiter.check(ip, now) {
        tracing::warn!(client = %ip, retry_after, "session-ID lookup refused: too many wrong guesses");
        return Err(ApiError::too_many_attempts(retry_after));
    }
    let Ok(sid) = SessionId::parse(&req.session_id) else {
        limiter.record_wrong_guess(ip, now);
        tracing::info!(client = %ip, "session-ID lookup: malformed session ID");
        return Err(ApiError::code_unknown());
    };
    let Some(ticket) = st.db.ticket(sid.canonical())? else {
        limiter.record_wrong_guess(ip, now);
        tracing::info!(client = %ip, session = %sid.last_group(), "session-ID lookup: unknown");
        return Err(ApiError::code_unknown());
    };
    drop(limiter);
    if ticket.used_at.is_some() {
        tracing::info!(session = %sid.last_group(), "session-ID lookup: already used");
        return Err(ApiError::code_used());
    }
    if now >= ticket.expires_at {
        tracing::info!(session = %sid.last_group(), "session-ID lookup: expired");
        return Err(ApiError::code_expired());
    }
    tracing::info!(session = %sid.last_group(), user = %ticket.username, "session-ID lookup");
    Ok(LookupResponse {
        ticket: ticket.token,
    })
}

/// Checks the device id and name a device sent.
fn check_device_fields(req: &CompleteRequest) -> Result<String, ApiError> {
    let id = &req.device_id;
    if id.is_empty() || id.len() > MAX_DEVICE_ID_LEN || !id.bytes().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::bad_request(format!(
            "The device id must be 1 to {MAX_DEVICE_ID_LEN} printable ASCII characters without spaces."
        )));
    }
    let name = req.device_name.trim();
    if name.chars().count() > MAX_DEVICE_NAME_LEN || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "The device name must be at most {MAX_DEVICE_NAME_LEN} characters, without control characters."
        )));
    }
    Ok(if name.is_empty() {
        "unnamed device".to_string()
    } else {
        name.to_string()
    })
}

fn complete_sync(st: &AppState, req: &CompleteRequest) -> Result<CompleteResponse, ApiError> {
    let device_name = check_device_fields(req)?;
    let claims: TicketClaims = verify_token(&req.ticket, &st.key.public).map_err(|e| {
        ApiError::bad_signature(format!(
            "This activation code was not issued by this server ({e}). Scan the QR code shown by this server's portal."
        ))
    })?;
    let sid = claims.sid;
    let last_group = sid.get(sid.len().saturating_sub(4)..).unwrap_or("");
    let ticket = st.db.ticket(&sid)?.ok_or_else(ApiError::code_unknown)?;
    if ticket.used_at.is_some() {
        tracing::info!(session = %last_group, "activation refused: ticket already used");
        return Err(ApiError::code_used());
    }
    let now = st.clock.now();
    if now >= ticket.expires_at {
        tracing::info!(session = %last_group, "activation refused: ticket expired");
        return Err(ApiError::code_expired());
    }
    let public_key = unb64(&req.public_key)
        .filter(|k| k.len() == 65 && k.first() == Some(&4))
        .ok_or_else(|| {
            ApiError::bad_signature(
                "The device's public key is not an uncompressed P-256 key in base64url.",
            )
        })?;
    let proof = unb64(&req.proof)
        .ok_or_else(|| ApiError::bad_signature("The proof of key is not base64url."))?;
    let message = activation_proof_message(&sid, &req.device_id, &req.public_key);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public_key)
        .verify(message.as_bytes(), &proof)
        .map_err(|_| {
            ApiError::bad_signature(
                "The device's proof of key does not verify: it was not signed by the key sent with it, or over another activation.",
            )
        })?;
    let user = ticket.username;
    let already_enrolled = || {
        tracing::info!(%user, session = %last_group, "activation refused: already enrolled on this device");
        ApiError::new(
            StatusCode::CONFLICT,
            ibkey_protocol::activation::codes::ALREADY_ENROLLED,
            format!("{user} is already enrolled on this device. If the app was reinstalled or its data cleared, remove the old device in the portal, then activate again."),
        )
    };
    if st.db.is_enrolled(&user, &req.device_id)? {
        return Err(already_enrolled());
    }
    let credential_id = random_b64(&st.rng, 16)?;
    let receipt = sign_token(
        &ReceiptClaims {
            typ: RECEIPT_TYPE.to_string(),
            cid: credential_id.clone(),
            usr: user.clone(),
            dev: req.device_id.clone(),
            pkid: key_id(&public_key),
            iat: now,
        },
        &st.key.pair,
        &st.rng,
    )
    .map_err(|_| ApiError::internal("receipt signing", &"sign failed"))?;
    let outcome = st.db.complete(
        &sid,
        now,
        &NewCredential {
            credential_id: &credential_id,
            username: &user,
            device_id: &req.device_id,
            device_name: &device_name,
            public_key: &public_key,
        },
    )?;
    match outcome {
        CompleteOutcome::Enrolled => {
            tracing::info!(%user, session = %last_group, %credential_id, "device enrolled");
            Ok(CompleteResponse { receipt })
        }
        CompleteOutcome::TicketAlreadyUsed => {
            tracing::info!(session = %last_group, "activation refused: ticket used by a concurrent request");
            Err(ApiError::code_used())
        }
        CompleteOutcome::AlreadyEnrolled => Err(already_enrolled()),
    }
}

fn revoke_sync(st: &AppState, req: &RevokeRequest) -> Result<(), ApiError> {
    let credential = st
        .db
        .active_credential(&req.credential_id)?
        .ok_or_else(ApiError::credential_unknown)?;
    let now = st.clock.now();
    if now.abs_diff(req.issued_at) > REVOKE_SKEW_SECONDS {
        return Err(ApiError::bad_request(
            "The device clock is off by more than 5 minutes from the server's. Set the phone's date and time to automatic, then try again.",
        ));
    }
    let signature = unb64(&req.signature)
        .ok_or_else(|| ApiError::bad_signature("The revocation signature is not base64url."))?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &credential.public_key)
        .verify(
            revoke_message(&req.credential_id, req.issued_at).as_bytes(),
            &signature,
        )
        .map_err(|_| {
            ApiError::bad_signature("The revocation is not signed by this credential's device key.")
        })?;
    if !st.db.revoke(&req.credential_id, None, now)? {
        return Err(ApiError::credential_unknown());
    }
    tracing::info!(user = %credential.username, credential_id = %req.credential_id, "credential revoked by its device");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_documented_pattern() {
        for good in [
            "a",
            "alice",
            "bob.smith@example.com",
            "0",
            "a-b_c.d",
            "x".repeat(64).as_str(),
        ] {
            assert!(valid_username(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "Alice",
            "a b",
            "é",
            "x".repeat(65).as_str(),
            "a/b",
        ] {
            assert!(!valid_username(bad), "{bad}");
        }
    }

    #[test]
    fn digest_comparison() {
        assert!(digests_equal(&sha256(b"x"), &sha256(b"x")));
        assert!(!digests_equal(&sha256(b"x"), &sha256(b"y")));
    }
}
