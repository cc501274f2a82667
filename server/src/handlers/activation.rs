//! The device's endpoints: the server key devices pin, the lookup of a typed session ID, the
//! completion of an activation (proof of key → signed receipt; with the device's X25519 key,
//! also the server's, and the per-account secret of offline codes stored with the
//! credential), a device reporting that it refused a ticket because it already holds the
//! ticket's user (so the activation page says so), and a device revoking its own credential.

use std::ops::Deref;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ibkey_protocol::activation::{
    activation_proof_message, already_enrolled_message, codes, key_id, revoke_message, sign_token,
    verify_token, AlreadyEnrolledRequest, CompleteRequest, CompleteResponse, LookupRequest,
    LookupResponse, ReceiptClaims, RevokeRequest, ServerKeyResponse, TicketClaims, RECEIPT_TYPE,
};
use ibkey_protocol::approval::codes as approval_codes;
use ibkey_protocol::encoding::{b64, unb64};
use ibkey_protocol::offline::{derive_account_secret, AGREEMENT, SECRET_LEN};
use ibkey_protocol::session_id::SessionId;
use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::SystemRandom;

use crate::crypto::{device_signature_ok, random_b64};
use crate::db::activation::{CompleteOutcome, CredentialRow, NewCredential, TicketRow};
use crate::error::{clock_skew_message, ApiError};
use crate::extract::{ApiJson, ClientIp};
use crate::handlers::move_device::requesting_credential;
use crate::state::{AppState, Shared};

/// How far a revocation's or an already-enrolled report's `issued_at` may be from the
/// server's clock, seconds.
const REVOKE_SKEW_SECONDS: u64 = 300;
/// Longest device id accepted, bytes.
const MAX_DEVICE_ID_LEN: usize = 128;
/// Longest device name accepted, characters.
const MAX_DEVICE_NAME_LEN: usize = 100;
/// Length of an X25519 public key, bytes.
const AGREEMENT_KEY_LEN: usize = 32;

/// `GET /v1/server-key`.
#[utoipa::path(
    get,
    path = "/v1/server-key",
    tag = "activation",
    summary = "The server signing key devices pin, with the endorsements leading to it",
    responses(
        (status = 200, description = "The current key and its endorsements, oldest first.", body = ibkey_protocol::activation::ServerKeyResponse),
    ),
)]
pub(crate) async fn server_key(State(st): Shared) -> Json<ServerKeyResponse> {
    Json(ServerKeyResponse {
        key_id: st.key.kid.clone(),
        public_key: b64(&st.key.public),
        endorsements: st.key.endorsements.clone(),
    })
}

/// `POST /v1/activation/lookup`: trades a typed session ID for its ticket, under the guess
/// limiter.
#[utoipa::path(
    post,
    path = "/v1/activation/lookup",
    tag = "activation",
    summary = "Trade a typed session ID for its signed activation ticket",
    request_body = ibkey_protocol::activation::LookupRequest,
    responses(
        (status = 200, description = "The ticket the QR code holds.", body = ibkey_protocol::activation::LookupResponse),
        (status = 400, description = "`bad_request`: the body is not the JSON this endpoint expects (malformed, a field missing or of the wrong type).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`code_unknown`: no ticket has this session ID.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`code_used`: the ticket activated a device already; `code_expired`: it expired.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 429, description = "`too_many_attempts`: too many wrong session IDs from this address; `retry_after` says how long to wait.", body = ibkey_protocol::activation::ErrorResponse, headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
    ),
)]
pub(crate) async fn lookup(
    State(st): Shared,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LookupRequest>,
) -> Result<Json<LookupResponse>, ApiError> {
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
    Ok(Json(LookupResponse {
        ticket: ticket.token,
    }))
}

/// A 400 refusal of an activation completion with its own `code`.
fn refused(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// Checks the device id and name a device sent; returns the name to store.
fn check_device_fields(req: &CompleteRequest) -> Result<String, ApiError> {
    let id = &req.device_id;
    if id.is_empty() || id.len() > MAX_DEVICE_ID_LEN || !id.bytes().all(|c| c.is_ascii_graphic()) {
        return Err(refused(
            codes::DEVICE_ID_INVALID,
            format!("The device id must be 1 to {MAX_DEVICE_ID_LEN} printable ASCII characters without spaces."),
        ));
    }
    let name = req.device_name.trim();
    if name.chars().count() > MAX_DEVICE_NAME_LEN || name.chars().any(char::is_control) {
        return Err(refused(
            codes::DEVICE_NAME_INVALID,
            format!("The device name must be at most {MAX_DEVICE_NAME_LEN} characters, without control characters."),
        ));
    }
    Ok(if name.is_empty() {
        "unnamed device".to_string()
    } else {
        name.to_string()
    })
}

/// The device's X25519 public key for offline codes (of an activation or a recovery), if it
/// sent one: 32 bytes in base64url.
pub(crate) fn agreement_key(sent: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(text) = sent else {
        return Ok(None);
    };
    unb64(text)
        .filter(|key| key.len() == AGREEMENT_KEY_LEN)
        .map(Some)
        .ok_or_else(|| {
            refused(
                codes::AGREEMENT_KEY_INVALID,
                format!("The device's agreement key must be an X25519 public key: {AGREEMENT_KEY_LEN} bytes in base64url. Update IB Key, then activate again."),
            )
        })
}

/// The server's side of the offline-code agreement with the device's key: a one-time X25519
/// key, and the per-account secret both ends derive for `credential_id`. The private key is
/// dropped here, so the secret cannot be derived again.
pub(crate) fn agree(
    rng: &SystemRandom,
    device_key: &[u8],
    credential_id: &str,
) -> Result<(Vec<u8>, impl Deref<Target = [u8; SECRET_LEN]>), ApiError> {
    let private = EphemeralPrivateKey::generate(AGREEMENT, rng)
        .map_err(|_| ApiError::internal("agreement key generation", &"generate failed"))?;
    let public = private
        .compute_public_key()
        .map_err(|_| ApiError::internal("agreement key generation", &"public key failed"))?;
    let secret = agree_ephemeral(
        private,
        &UnparsedPublicKey::new(AGREEMENT, device_key),
        |shared| derive_account_secret(shared, credential_id),
    )
    .map_err(|_| {
        refused(
            codes::AGREEMENT_KEY_INVALID,
            "The device's agreement key is not a usable X25519 public key (a point of small order). Update IB Key, then activate again.",
        )
    })?;
    Ok((public.as_ref().to_vec(), secret))
}

/// `POST /v1/activation/complete`: checks the ticket and the device's proof of key, then
/// enrolls the device and answers a signed receipt (and, when the device sent an agreement
/// key, the server's).
#[utoipa::path(
    post,
    path = "/v1/activation/complete",
    tag = "activation",
    summary = "Enroll a device key for the ticket's user",
    request_body = ibkey_protocol::activation::CompleteRequest,
    responses(
        (status = 200, description = "The signed enrollment receipt (and the server's X25519 key when the device sent one).", body = ibkey_protocol::activation::CompleteResponse),
        (status = 400, description = "`bad_request` (malformed body); `device_id_invalid`, `device_name_invalid`, `agreement_key_invalid`, `device_key_invalid`, `proof_invalid`; `ticket_not_ours` (not signed by this server), `ticket_user_mismatch`, `ticket_expiry_mismatch`, `ticket_mismatch` (the ticket is not the one the server issued).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`code_unknown`: no ticket has this session ID.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 409, description = "`already_enrolled`: this device already holds an account for the ticket's user.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`code_used` or `code_expired`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn complete(
    State(st): Shared,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> Result<Json<CompleteResponse>, ApiError> {
    let device_name = check_device_fields(&req)?;
    let device_agreement_key = agreement_key(req.agreement_key.as_deref())?;
    let now = st.clock.now();
    let (claims, ticket) = presented_ticket(&st, &req.ticket, now, "activation")?;
    let sid = claims.sid;
    let last_group = last_group(&sid);
    let public_key = unb64(&req.public_key)
        .filter(|k| k.len() == 65 && k.first() == Some(&4))
        .ok_or_else(|| {
            refused(
                codes::DEVICE_KEY_INVALID,
                "The device's public key is not an uncompressed P-256 key in base64url.",
            )
        })?;
    let proof = unb64(&req.proof)
        .ok_or_else(|| refused(codes::PROOF_INVALID, "The proof of key is not base64url."))?;
    let message = activation_proof_message(&sid, &req.device_id, &req.public_key);
    if !device_signature_ok(&public_key, &message, &proof) {
        return Err(refused(
            codes::PROOF_INVALID,
            "The device's proof of key does not verify: it was not signed by the key sent with it, or over another activation.",
        ));
    }
    let user = ticket.username;
    let expires_at = ticket.expires_at;
    let already_enrolled = || {
        tracing::info!(%user, session = %last_group, "activation refused: already enrolled on this device");
        st.activation_watch
            .refused_as_enrolled(&sid, expires_at, now);
        ApiError::new(
            StatusCode::CONFLICT,
            codes::ALREADY_ENROLLED,
            format!("{user} is already enrolled on this device. If the app was reinstalled or its data cleared, remove the old device in the portal, then activate again."),
        )
    };
    if st.db.is_enrolled(&user, &req.device_id)? {
        return Err(already_enrolled());
    }
    let credential_id = random_b64(&st.rng, 16)?;
    let agreement = device_agreement_key
        .map(|key| agree(&st.rng, &key, &credential_id))
        .transpose()?;
    let receipt = sign_token(
        &ReceiptClaims {
            typ: RECEIPT_TYPE.to_string(),
            cid: credential_id.clone(),
            usr: user.clone(),
            dev: req.device_id.clone(),
            pkid: key_id(&public_key),
            iat: now,
            ctr: None,
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
            offline_secret: agreement.as_ref().map(|(_, secret)| secret.as_slice()),
            replaces_others: claims.mov.is_some(),
        },
    )?;
    match outcome {
        CompleteOutcome::Enrolled => {
            st.activation_watch.activated();
            tracing::info!(%user, session = %last_group, %credential_id, offline_codes = agreement.is_some(), is_move = claims.mov.is_some(), "device enrolled");
            Ok(Json(CompleteResponse {
                receipt,
                agreement_key: agreement.map(|(public, _)| b64(&public)),
            }))
        }
        CompleteOutcome::TicketAlreadyUsed => {
            tracing::info!(session = %last_group, "activation refused: ticket used by a concurrent request");
            Err(ApiError::code_used())
        }
        CompleteOutcome::AlreadyEnrolled => Err(already_enrolled()),
    }
}

/// `POST /v1/activation/already-enrolled`: a device refused a ticket because it already holds
/// the ticket's user, and reports it with a signature of that account's device key. Checks the
/// ticket as a completion does ([`presented_ticket`]), then the credential: active
/// (`credential_unknown`), `issued_at` near the server's clock (`clock_skew`), its key's
/// signature (`bad_signature`), the ticket's user (`credential_user_mismatch`). Then the
/// activation page says the user is already enrolled on that device; the ticket itself is
/// neither used nor changed.
#[utoipa::path(
    post,
    path = "/v1/activation/already-enrolled",
    tag = "activation",
    summary = "Report that the device refused a ticket because it already holds its user",
    description = "The body is signed by the credential's device key (ECDSA P-256, ASN.1 DER, base64url) over the canonical device-request message; see PROTOCOL.md.",
    request_body = ibkey_protocol::activation::AlreadyEnrolledRequest,
    responses(
        (status = 204, description = "Recorded: the activation page says it is already enrolled."),
        (status = 400, description = "`bad_request` (malformed body); `ticket_not_ours`, `ticket_user_mismatch`, `ticket_expiry_mismatch`, `ticket_mismatch`; `clock_skew`; `bad_signature`; `credential_user_mismatch` (the credential is not the ticket's user's).", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`code_unknown` or `credential_unknown`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`code_used`, `code_expired` or `credential_moved`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn already_enrolled(
    State(st): Shared,
    ApiJson(req): ApiJson<AlreadyEnrolledRequest>,
) -> Result<StatusCode, ApiError> {
    let now = st.clock.now();
    let (claims, ticket) = presented_ticket(&st, &req.ticket, now, "already-enrolled report")?;
    let sid = claims.sid;
    let message = already_enrolled_message(&sid, &req.credential_id, req.issued_at);
    let credential = signed_by_credential(
        &st,
        &req.credential_id,
        req.issued_at,
        approval_codes::CLOCK_SKEW,
        &message,
        &req.signature,
    )?;
    if credential.username != ticket.username {
        tracing::warn!(session = %last_group(&sid), credential_id = %req.credential_id, "already-enrolled report refused: the credential is another user's");
        return Err(refused(
            codes::CREDENTIAL_USER_MISMATCH,
            "This credential belongs to another user than the activation code's.",
        ));
    }
    st.activation_watch
        .refused_as_enrolled(&sid, ticket.expires_at, now);
    tracing::info!(user = %ticket.username, session = %last_group(&sid), credential_id = %req.credential_id, "activation refused on the device: already enrolled");
    Ok(StatusCode::NO_CONTENT)
}

/// The last four characters of a session ID, all that the logs show of it.
fn last_group(session_id: &str) -> &str {
    session_id
        .get(session_id.len().saturating_sub(4)..)
        .unwrap_or("")
}

/// Checks a ticket presented for `request` (named in the logs) at `now`: signed by this
/// server (`ticket_not_ours`), known (`code_unknown`), the very ticket issued
/// ([`check_against_record`]), unused (`code_used`) and unexpired (`code_expired`). Gives its
/// verified claims (with the canonical session ID) and the server's record of it.
fn presented_ticket(
    st: &AppState,
    presented: &str,
    now: i64,
    request: &str,
) -> Result<(TicketClaims, TicketRow), ApiError> {
    let claims: TicketClaims = verify_token(presented, &st.key.public).map_err(|e| {
        refused(
            codes::TICKET_NOT_OURS,
            format!("This activation code was not issued by this server ({e}). Scan the QR code shown by this server's portal."),
        )
    })?;
    let session = last_group(&claims.sid);
    let ticket = st
        .db
        .ticket(&claims.sid)?
        .ok_or_else(ApiError::code_unknown)?;
    check_against_record(presented, &claims, &ticket).inspect_err(|e| {
        tracing::warn!(%session, code = e.code, request, "refused: the ticket presented differs from the server's record");
    })?;
    if ticket.used_at.is_some() {
        tracing::info!(%session, request, "refused: ticket already used");
        return Err(ApiError::code_used());
    }
    if now >= ticket.expires_at {
        tracing::info!(%session, request, "refused: ticket expired");
        return Err(ApiError::code_expired());
    }
    Ok((claims, ticket))
}

/// Checks a presented ticket (its text and verified `claims`) against the server's `record`
/// of its session ID: the same user (`ticket_user_mismatch`), the same expiry
/// (`ticket_expiry_mismatch`) and the very text issued (`ticket_mismatch`). A signature alone
/// is not enough: a ticket signed with this key elsewhere (another server sharing the key, an
/// older database) must not enroll the user of this server's record.
fn check_against_record(
    presented: &str,
    claims: &TicketClaims,
    record: &TicketRow,
) -> Result<(), ApiError> {
    let refuse = |code, what: &str| {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            code,
            format!("This activation code does not match the one this server issued for its session ID ({what}), so it cannot be used. Log out of the portal and log in again for a new QR code, then scan it."),
        ))
    };
    if claims.usr != record.username {
        return refuse(codes::TICKET_USER_MISMATCH, "it names another user");
    }
    if claims.exp != record.expires_at {
        return refuse(codes::TICKET_EXPIRY_MISMATCH, "it has another expiry time");
    }
    if presented.trim() != record.token {
        return refuse(codes::TICKET_MISMATCH, "its text differs");
    }
    Ok(())
}

/// `POST /v1/devices/revoke`: a device revokes its credential with a signature of its key.
#[utoipa::path(
    post,
    path = "/v1/devices/revoke",
    tag = "devices",
    summary = "The device removes its own credential",
    description = "The body is signed by the credential's device key (ECDSA P-256, ASN.1 DER, base64url) over the canonical device-request message; see PROTOCOL.md.",
    request_body = ibkey_protocol::activation::RevokeRequest,
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, description = "`bad_request` (malformed body, or `issued_at` more than 5 minutes off); `bad_signature`.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 404, description = "`credential_unknown`: the server has no active credential with this id.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 410, description = "`credential_moved`: the credential was replaced by a move; `moved` carries the signed MovedClaims.", body = ibkey_protocol::activation::ErrorResponse),
        (status = 413, description = "`bad_request`: the body is larger than 64 KiB.", body = ibkey_protocol::activation::ErrorResponse),
    ),
)]
pub(crate) async fn revoke(
    State(st): Shared,
    ApiJson(req): ApiJson<RevokeRequest>,
) -> Result<StatusCode, ApiError> {
    let message = revoke_message(&req.credential_id, req.issued_at);
    let credential = signed_by_credential(
        &st,
        &req.credential_id,
        req.issued_at,
        codes::BAD_REQUEST,
        &message,
        &req.signature,
    )?;
    let now = st.clock.now();
    if !st.db.revoke(&req.credential_id, None, now)? {
        return Err(ApiError::credential_unknown());
    }
    tracing::info!(user = %credential.username, credential_id = %req.credential_id, "credential revoked by its device");
    Ok(StatusCode::NO_CONTENT)
}

/// The active credential `credential_id` whose device key signed `message` (`signature`,
/// base64url) at `issued_at`: refused as `credential_unknown` (`credential_moved` for one
/// replaced by a move, see [`requesting_credential`]), as `skew_code` when
/// `issued_at` is more than [`REVOKE_SKEW_SECONDS`] off the server's clock (so a request
/// cannot be replayed later; a revocation answers `bad_request`, as it always did), or as
/// `bad_signature`.
fn signed_by_credential(
    st: &AppState,
    credential_id: &str,
    issued_at: i64,
    skew_code: &'static str,
    message: &str,
    signature: &str,
) -> Result<CredentialRow, ApiError> {
    let credential = requesting_credential(st, credential_id, message, signature)?;
    if device_clock_off(st.clock.now(), issued_at, REVOKE_SKEW_SECONDS) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            skew_code,
            clock_skew_message(REVOKE_SKEW_SECONDS),
        ));
    }
    let signature = unb64(signature)
        .ok_or_else(|| ApiError::bad_signature("The signature is not base64url."))?;
    if !device_signature_ok(&credential.public_key, message, &signature) {
        return Err(ApiError::bad_signature(
            "The request is not signed by this credential's device key.",
        ));
    }
    Ok(credential)
}

/// Whether a signed device request's `issued_at` is more than `max_skew_seconds` off the
/// server's clock `now`.
pub(crate) fn device_clock_off(now: i64, issued_at: i64, max_skew_seconds: u64) -> bool {
    now.abs_diff(issued_at) > max_skew_seconds
}
