//! ibkey-server: the reference portal and API that the ibkey core activates against.
//!
//! It plays the broker's side of activation: a test user signs in to the "portal", gets a
//! QR code (a signed activation ticket) with a session ID under it, and a device trades
//! either for an enrollment by proving it holds a fresh P-256 key. The wire format is
//! [`ibkey_protocol::activation`]; session IDs are [`ibkey_protocol::session_id`].
//!
//! State lives in a data directory: `ibkey-server.sqlite3` (portal sessions, tickets,
//! credentials and their offline secrets, logins and their challenges, counters, pushes, fraud
//! reports) and `server-key.p8` (the signing key every device pins; PKCS#8, mode 0600,
//! made on first start). Restarting on the same directory keeps both. The current public key
//! is published in `server-key.pub` (base64url SEC1, one line) for tools on the same machine
//! to configure their trust with.
//!
//! **Key rotation.** [`rotate_key`] (the CLI: `ibkey server --rotate-key`) replaces the key
//! with a new one the old one endorses (a signed `ibkey_protocol::server_key::EndorsementClaims`);
//! earlier public keys and their endorsements are kept in `server-key-history.json`. Every
//! token names its signing key (`kid`), and `GET /v1/server-key` answers the current key with
//! the endorsements leading to it, oldest first, so a device that pinned any earlier key
//! follows to the new one, and refuses a key no pinned key endorsed.
//!
//! # Endpoints
//!
//! All bodies are JSON; every error reply is a `protocol::ErrorResponse` with one of
//! `protocol::codes` and a message saying what to do. Bodies over 64 KiB are refused (413),
//! a malformed body or missing field is 400 `bad_request`.
//!
//! | method, path | request → reply | errors |
//! |---|---|---|
//! | `GET /healthz` | → 200 `ok` (text) | |
//! | `GET /openapi.json` | → this API as an OpenAPI 3.1 document (also `docs/openapi.json`) | |
//! | `GET /v1/server-key` | → `ServerKeyResponse` | |
//! | `POST /v1/portal/sign-in` | `SignInRequest` → `SignInResponse` | 401 `unauthorized`, 429 `too_many_attempts` |
//! | `POST /v1/portal/activation-tickets` | bearer portal token → `TicketResponse` | 401 `unauthorized` |
//! | `GET /v1/portal/devices` | bearer portal token → `[PortalDevice]` (active ones, and those replaced by a move with `moved_to`/`moved_at`) | 401 `unauthorized` |
//! | `DELETE /v1/portal/devices/{credential_id}` | bearer portal token → 204 | 401, 404 `credential_unknown` |
//! | `GET /v1/portal/activity` | bearer portal token → `[PortalLogin]` (last 50, newest first) | 401 `unauthorized` |
//! | `GET /v1/portal/fraud-reports` | bearer portal token → `[FraudReport]` (newest first) | 401 `unauthorized` |
//! | `POST /v1/portal/move` | bearer portal token → `MoveStartResponse` (a code goes out of band) | 401, 409 `nothing_to_move`, 502 `internal` (the code could not be sent) |
//! | `POST /v1/portal/move/confirm` | bearer portal token, `MoveConfirmRequest` → `TicketResponse` (a move ticket) | 401, 409 `nothing_to_move`, 400 `oob_code_wrong`, 410 `oob_code_expired` / `oob_code_used`, 429 `too_many_attempts` |
//! | `POST /v1/portal/push-approvals` | bearer portal token, `PushApprovalsRequest` → 204 | 401 `unauthorized` |
//! | `POST /v1/recovery/begin` | `RecoveryBeginRequest` (≤ 32 keys) → `RecoveryBeginResponse` | 400 `bad_request` / `clock_skew`, 502 `internal` |
//! | `POST /v1/recovery/complete` | `RecoveryCompleteRequest` → `RecoveryCompleteResponse` | 400 `device_key_invalid` / `clock_skew` / `bad_signature` / `agreement_key_invalid` / `oob_code_wrong`, 409 `not_recoverable`, 410 `oob_code_expired` / `oob_code_used`, 429 `too_many_attempts` |
//! | `POST /v1/devices/status` | `DeviceStatusRequest` → `DeviceStatusResponse` | as `pending`, 410 `credential_moved` |
//! | `POST /v1/devices/test-push` | `TestPushRequest` → `TestPushResponse` | as `pending`, 410 `credential_moved`, 429 `too_many_attempts`, 502 `internal` (the push sender failed) |
//! | `POST /v1/activation/lookup` | `LookupRequest` → `LookupResponse` | 404 `code_unknown`, 410 `code_used` / `code_expired`, 429 `too_many_attempts` |
//! | `POST /v1/activation/complete` | `CompleteRequest` → `CompleteResponse` | 400 `device_id_invalid` / `device_name_invalid` / `agreement_key_invalid` / `ticket_not_ours` / `device_key_invalid` / `proof_invalid`, 404 `code_unknown`, 400 `ticket_user_mismatch` / `ticket_expiry_mismatch` / `ticket_mismatch`, 410 `code_used` / `code_expired`, 409 `already_enrolled` |
//! | `POST /v1/activation/already-enrolled` | `AlreadyEnrolledRequest` → 204 (the activation page says "already enrolled") | 400 `ticket_not_ours`, 404 `code_unknown`, 400 `ticket_user_mismatch` / `ticket_expiry_mismatch` / `ticket_mismatch`, 410 `code_used` / `code_expired`, 404 `credential_unknown`, 410 `credential_moved`, 400 `clock_skew` / `bad_signature` / `credential_user_mismatch` |
//! | `POST /v1/devices/revoke` | `RevokeRequest` → 204 | 404 `credential_unknown`, 410 `credential_moved`, 400 `bad_request` (clock skew), 400 `bad_signature` |
//! | `POST /v1/logins` | `LoginRequest` → `LoginStarted` | 401 `unauthorized`, 400 `bad_request`, 409 `no_devices`, 429 `too_many_attempts` |
//! | `GET /v1/logins/{login_id}?wait=N` | bearer login secret → `LoginStatus` | 404 `login_unknown`, 400 `bad_request` |
//! | `POST /v1/logins/{login_id}/qr` | bearer login secret → `LoginQrResponse` | 404 `login_unknown`, 409 `challenge_used`, 410 `challenge_expired` |
//! | `POST /v1/logins/{login_id}/offline` | bearer login secret → `OfflineChallenge` | 404 `login_unknown`, 409 `challenge_used` / `offline_unavailable`, 410 `challenge_expired` |
//! | `POST /v1/logins/{login_id}/response` | bearer login secret, `OfflineResponse` → `LoginStatus` | 404 `login_unknown`, 400 `bad_request` / `response_wrong`, 409 `challenge_unknown` (no challenge yet) / `response_used` / `challenge_used` / `offline_unavailable`, 410 `challenge_expired`, 429 `too_many_attempts` |
//! | `POST /v1/logins/{login_id}/code` | bearer login secret, `TimeCodeRequest` → `LoginStatus` | 404 `login_unknown`, 400 `bad_request` / `response_wrong`, 409 `response_used` / `challenge_used` / `offline_unavailable`, 410 `challenge_expired`, 429 `too_many_attempts` |
//! | `POST /v1/challenges/pending` | `PendingRequest` → `PendingResponse` | 404 `credential_unknown`, 410 `credential_moved`, 400 `clock_skew`, 400 `bad_signature`, 403 `possibly_cloned` |
//! | `POST /v1/challenges/decide` | `DecideRequest` → `DecideResponse` | 404 `challenge_unknown` / `credential_unknown`, 410 `credential_moved`, 403 `possibly_cloned` / `pushes_muted`, 400 `bad_signature` / `context_mismatch` / `number_mismatch`, 409 `challenge_used`, 410 `challenge_expired` |
//! | `POST /v1/devices/push-token` | `PushTokenRequest` → 204 | 404 `credential_unknown`, 410 `credential_moved`, 400 `bad_request` / `clock_skew`, 400 `bad_signature` |
//! | `GET /v1/diagnostics/bundles/{bundle_id}` | → `UploadStatus` | 400 `bad_request` |
//! | `PUT /v1/diagnostics/bundles/{bundle_id}/chunks/{n}` | chunk bytes (≤ 1 MiB) → `ChunkReceipt` | 413 `diag_too_large`, 429 `diag_quota`, 507 `diag_storage_full` |
//! | `POST /v1/diagnostics/bundles/{bundle_id}/complete` | `CompleteBundleRequest` → `CompleteBundleResponse` | 409 `diag_incomplete` / `diag_conflict`, 400 `diag_checksum_mismatch`, 413 `diag_too_large`, 422 `diag_malformed` |
//! | `GET /v1/support/diagnostics` | bearer support token → `[SupportBundleSummary]` | 401 `unauthorized` |
//! | `GET /v1/support/diagnostics/{reference}` | bearer support token → the bundle (`application/zip`) | 401, 404 `diag_unknown` |
//!
//! **Portal pages** (HTML for a browser; the `pages` module): `GET /` → 303 to
//! `/portal/sign-in` (the sign-in form; `POST` signs in with the same password check and
//! limiter as `POST /v1/portal/sign-in`, 401/429 show the form again with the reason, success
//! sets the session cookie and 303s to `/portal/activate`); `GET /portal/activate` issues a
//! fresh ticket and shows its QR code (an SVG `data:` URL), session ID and countdown;
//! `POST /portal/activate/fresh` 303s back for a new one; `GET
//! /portal/activate/events?session=<last group>` streams the ticket's status as server-sent
//! events (`status`: `waiting`, `activated`, `used`, `expired`, `already_enrolled`), woken
//! when a device completes or is refused an activation. `/static/portal.css` and
//! `GET /portal/account` lists the user's devices (each with a `Revoke` form posting to
//! `/portal/account/devices/{credential_id}/revoke`, which 303s back), recent logins and
//! fraud reports, and links to `GET /portal/move` ("Move IB Key to a new phone": the devices
//! it replaces and a "Send me a code" form posting to `/portal/move/code`, whose code step
//! posts to `/portal/move/confirm`; the right code shows the move ticket like the activation
//! page, its status streamed by `GET /portal/move/events?session=<last group>`, `moved` once
//! the new phone is set up). The login page: `GET`/`POST /login` starts a login as `POST /v1/logins`
//! does, keeps its id and secret in the `ibkey_login` cookie (`Path=/login`) and 303s to
//! `GET /login/wait` (the number to match); `GET /login/events` streams its status
//! (`waiting`, `approved`, `denied`, `fraud`, `expired`), woken by the login waiters;
//! `GET /login/qr` shows the login's QR code, `GET`/`POST /login/offline` its
//! challenge/response (a right response 303s on); `GET /login/done` answers only for an
//! approved login (and sets the portal session it gives). `/static/portal.css` and
//! `/static/portal.js` are the only style and script. Every reply of these routes carries a
//! strict Content-Security-Policy (no inline script or style, `frame-ancestors 'none'`),
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`; pages also
//! `Cache-Control: no-store`. Cookies are `HttpOnly; SameSite=Strict` (and `Secure` off
//! loopback); every form carries a CSRF token tied to the session (or, on the sign-in and
//! login forms, to a pre-session cookie; on the response form, to the login cookie): a POST
//! without the right one is 403.
//!
//! **Sign-in.** Any user name matching `^[a-z0-9][a-z0-9._@-]{0,63}$` (after lower-casing)
//! is a test user; the password is [`ServerConfig::portal_password`] for all of them. The
//! portal token (32 random bytes, base64url) lasts 15 minutes; only its SHA-256 is stored.
//! Wrong passwords (portal sign-in and the login page together) are limited to 10 per client
//! address and 10 per user name in a sliding 15 minutes; beyond that every sign-in of that
//! address or user, a right one too, is 429 `too_many_attempts` with `retry_after`.
//!
//! **Secrets off loopback.** A server listening beyond loopback never uses the shipped
//! [`DEMO_PORTAL_PASSWORD`] or [`DEFAULT_SUPPORT_TOKEN`]: while the configuration keeps them,
//! it uses per-installation ones from [`PORTAL_PASSWORD_FILE`] and [`SUPPORT_TOKEN_FILE`] in
//! the data directory (mode 0600), made at first start ([`RunningServer::generated_secrets`]
//! hands newly made ones out once). Explicitly configured values are used as given.
//!
//! **Tickets.** A fresh random session ID each time; the QR payload is a signed
//! `TicketClaims` valid for [`ServerConfig::ticket_lifetime`]. The reply's `session_id` is
//! grouped (`K7QP-3MZX-9TWD`) for the portal page.
//!
//! **Lookup** trades a typed session ID for the ticket. An unknown or malformed session ID
//! is a wrong guess; a right one never counts. Wrong guesses are counted in sliding one-minute
//! windows per client (IPv4 address or IPv6 /64,
//! [`ServerConfig::guesses_per_minute_per_client`]), per network (IPv4 /24 or IPv6 /48,
//! [`ServerConfig::guesses_per_minute_per_network`]) and overall
//! ([`ServerConfig::guesses_per_minute_total`]). A client with no wrong guess in the last
//! minute is always answered; one with a wrong guess in it is refused while its own, its
//! network's or the global window is full, so a crowd that spends the network and global
//! budgets slows only itself, never a client whose lookups succeed. A refused lookup is 429
//! `too_many_attempts` with `retry_after` (body and `Retry-After` header), a correct session
//! ID too, so the limiter reveals nothing. In any minute at most `per_client` wrong guesses
//! from one client, and `total` plus one per client from all of them, are answered (the
//! figures are in the `rate_limit` module).
//!
//! **Complete** checks, in order: the ticket verifies with the server key (`bad_signature`),
//! exists (`code_unknown`), is the one the server's record holds for its session ID: the same
//! user (`ticket_user_mismatch`), expiry (`ticket_expiry_mismatch`) and text
//! (`ticket_mismatch`); it is unused (`code_used`), unexpired (`code_expired`); the public
//! key is P-256 and the proof verifies over `activation_proof_message` (`bad_signature`);
//! the user has no active credential on the device (`already_enrolled`; the ticket stays
//! unused). Then, in one transaction, the ticket is marked used (only if nobody did first,
//! so two racing completes give one success) and the credential is stored. The reply is a
//! signed `ReceiptClaims`.
//!
//! **Diagnostics** (types in `ibkey_protocol::diagnostics::wire`): a device uploads a support
//! bundle in chunks and completes it with its size and SHA-256; the server checks it (a zip
//! whose files match its manifest, at most [`ServerConfig::diagnostics_max_bundle_bytes`]),
//! stores it in `diagnostics/` of the data directory, and answers a reference such as
//! `DIAG-7K3P9Q`. Completing a bundle id again answers the same reference, so retries never
//! make two bundles. Uploads cannot fill the disk: a chunk is stored only within the bundle
//! limit, the device's limit ([`ServerConfig::diagnostics_max_device_bytes`]: its unfinished
//! uploads and the bundles it completed in the last day; the device is its client address,
//! IPv4 or IPv6 /64; 429 `diag_quota` with `retry_after`) and the total
//! ([`ServerConfig::diagnostics_max_total_bytes`], 507 `diag_storage_full`), all checked in
//! one database transaction; an upload with no chunk for
//! [`ServerConfig::diagnostics_upload_expiry`] is deleted. Support lists and fetches bundles with [`ServerConfig::support_token`]
//! (default [`DEFAULT_SUPPORT_TOKEN`]). The details are in the `handlers::diagnostics` module.
//!
//! **Revoke**: the device signs `revoke_message` with its key; `issued_at` may be at most
//! 5 minutes off the server's clock.
//!
//! **Login approval** (types in `ibkey_protocol::approval`): the login page sends the user's
//! password (the portal's check); the server makes a login with a number (10–99) and a
//! context (application, IP address, rough location, browser from the user agent, time), and
//! one signed challenge per active device not blocked as possibly cloned, valid for
//! [`ServerConfig::challenge_lifetime`], each handed to the [`PushSender`]
//! ([`ServerConfig::push_sender`]; by default the pushes are recorded in the database, see
//! [`recorded_pushes`]). A failed push is logged, never a failed login: the app pulls its
//! open challenges (`pending`, signed, `issued_at` within 10 minutes of the server's clock;
//! the reply carries the server's clock, signed). The page long-polls the status (`wait` up
//! to 30 seconds) and may show a QR challenge any device of the user can answer. A decision
//! is signed over `decision_message` with a counter that must go up: one that does not
//! blocks the credential as possibly cloned. "This wasn't me" records a fraud report and
//! mutes the user's pushes for [`ServerConfig::fraud_mute`]: meanwhile logins make no device
//! challenges (QR code only) and push challenges made before cannot approve. The first
//! status read after an approval hands out a portal session token, once. The checks and
//! their order are in the `handlers::challenges` module.
//!
//! **A phone's later life** (types in `ibkey_protocol::lifecycle`). *Move*: the portal asks
//! for a move; a six-digit code goes to the user through the [`Notifier`]
//! ([`ServerConfig::notifier`]; by default recorded in the database, see
//! [`recorded_out_of_band`]; every test user's address is `<username>@example.test`); the code
//! typed back gets a move ticket, an activation ticket whose `mov` names the user's active
//! devices. Completing it enrolls the new phone and, in the same transaction, revokes every
//! other active credential of the user with a record of the move (`GET /v1/portal/devices`
//! and the account page show those as moved, with `moved_to` and `moved_at`). Every signed
//! device request about a replaced credential (`pending`, `decide`, `push-token`, `revoke`,
//! `already-enrolled`, `status`, `test-push`) is then 410 `credential_moved` with a signed
//! `MovedClaims` in the error's `moved`, once its signature verified (without it:
//! `credential_unknown`, as for a revoked credential); its offline codes are refused like a
//! revoked one's. *Recovery*: a phone proves each key it kept; each is `recoverable` (a code
//! goes to its user), `revoked`, `moved` or `unknown` (also for a bad signature); the code,
//! signed with the key, gets a new receipt of the same credential with the last accepted
//! approval counter (`ctr`) and, with an agreement key, a fresh offline secret replacing the
//! old one. *Codes* are six random digits, stored as SHA-256 of user, purpose and code, valid
//! for `OUT_OF_BAND_CODE_SECONDS`, single use; a code is void after 5 wrong tries, and wrong
//! codes count as wrong guesses of the client in the session-ID guess limiter. A newer code
//! replaces an older one. *Doctor*: a device reads what the server knows of its
//! notifications (push token platform and SHA-256, when registered, the user's login
//! notifications setting, the fraud mute, the last challenge, how the last push went, the
//! signed clock) and asks for a test push (at most 10 per credential an hour). The user may
//! turn login notifications off (`POST /v1/portal/push-approvals`, or the account page):
//! logins then still make a challenge for each device, which the app pulls, but notify none
//! (`devices_notified` 0; the login status says notifications are off).
//!
//! **Offline codes** (types in `ibkey_protocol::offline`): a device that sends an X25519
//! `agreement_key` with its activation gets the server's one-time key back; both derive the
//! same per-account secret, which the server stores with the credential (table
//! `offline_secrets`). Without a network on the phone, the login page asks for a 6-digit
//! challenge (`offline`, one per login, given again while the login is pending) and sends the
//! phone's 8-digit response, or sends a time-based code (`code`: RFC 6238, SHA-256, 30 s, the
//! current step or the one before or after). A match, against any active, unblocked credential
//! of the user with a secret, approves the login as that device (status, portal token once,
//! long-polls woken); the challenge is single use, and so is each credential's time step (one
//! at or before the last accepted is `response_used`). At most 5 wrong responses or codes per
//! user in 15 minutes: beyond that every try, a right one too, is 429 with `retry_after`.
//! Muted pushes do not stop offline codes. Devices activated without an agreement key get
//! `offline_unavailable`. The details are in the `handlers::offline` module.
//!
//! **Clock skew.** A signed pull or push-token registration whose `issued_at` is more than
//! 10 minutes off is 400 `clock_skew` (`ibkey_protocol::approval::codes::CLOCK_SKEW`); a
//! revocation more than 5 minutes off is still 400 `bad_request`.
//!
//! Logs never hold portal tokens, login secrets, passwords, keys, nonces, signatures,
//! counters, push payloads or tokens, offline secrets, challenges, responses or codes, or more
//! of a session ID than its last group.

// Tests may `expect`: a failed expectation is a failed test.
#![cfg_attr(test, allow(clippy::expect_used))]

mod activation_watch;
mod bundle_store;
mod clock;
mod config;
mod crypto;
mod db;
mod error;
mod extract;
mod handlers;
mod keys;
mod notifier;
mod pages;
pub mod portal_client;
mod push;
mod rate_limit;
mod secrets;
mod serve;
mod state;

pub use clock::{AdjustableClock, ServerClock, SystemClock};
pub use config::{
    ServerConfig, DEFAULT_DIAGNOSTICS_MAX_BUNDLE_BYTES, DEFAULT_DIAGNOSTICS_MAX_DEVICE_BYTES,
    DEFAULT_DIAGNOSTICS_MAX_TOTAL_BYTES, DEFAULT_DIAGNOSTICS_UPLOAD_EXPIRY, DEFAULT_SUPPORT_TOKEN,
    DEMO_PORTAL_PASSWORD,
};
pub use db::activation::PortalDevice;
pub use db::approval::{FraudReport, PortalLogin, RecordedPush};
pub use db::lifecycle::OutOfBandMessage;
pub use db::DB_FILE;
pub use error::{ApiError, ServerError};
pub use extract::MAX_BODY_BYTES;
pub use handlers::diagnostics::MAX_CHUNK_BYTES;
pub use handlers::openapi::openapi_json;
pub use handlers::portal::PORTAL_SESSION_SECONDS;
pub use keys::{rotate_key, KeyRotation, KEY_FILE, KEY_HISTORY_FILE, PUBLIC_KEY_FILE};
pub use notifier::{recorded_out_of_band, Notifier, NotifyError, OutOfBandCode, OutOfBandPurpose};
pub use push::{recorded_pushes, PushError, PushMessage, PushSender, WebhookPushSender};
pub use secrets::{
    GeneratedSecret, GeneratedSecrets, GENERATED_SECRET_CHARS, PORTAL_PASSWORD_FILE,
    SUPPORT_TOKEN_FILE,
};
pub use serve::{start, RunningServer};
