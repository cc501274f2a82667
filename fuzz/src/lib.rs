//! What the fuzz targets share: a phone with one enrolled account (alice) over an in-memory
//! store, its server's signing key, a transport that answers with the replies a fuzz input
//! gives, and a way to drive the core's futures without a runtime.
//!
//! Signed tokens: a fuzzer cannot forge an ECDSA signature, so it would never get past the
//! signature check and into the claims. In any input, `@@<claims>@@` is replaced by a token
//! `IBK1.<claims>.<signature>` signed with the server's key the phone trusts (`$KID` in the claims
//! becoming that key's id): the claims bytes (JSON, or anything) are then read by the code that
//! runs after a good signature.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use ibkey_core::accounts::Account;
use ibkey_core::gate::PinPolicy;
use ibkey_core::platform::{
    BiometricOutcome, Clock, HttpRequest, HttpResponse, HttpTransport, KeyVault, MemoryStore,
    Platform, ScriptedVerifier, SecureStore, SoftwareKeyVault, TransportError, VerificationMethod,
};
use ibkey_core::{Authenticator, AuthenticatorConfig};
use ibkey_protocol::activation::{key_id, TOKEN_PREFIX};
use ibkey_protocol::encoding::b64;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

/// The server the phone is enrolled with (loopback: the core refuses plain HTTP elsewhere;
/// nothing listens there, the transport below answers instead).
pub const SERVER: &str = "http://127.0.0.1:8780";
/// The enrolled user.
pub const USER: &str = "alice";
/// Her credential on the server.
pub const CREDENTIAL: &str = "cred-alice";
/// The phone's clock: 2 Dec 2026 10:00:00 UTC, in milliseconds. Seeds' claims are issued
/// just before it.
pub const NOW_MS: i64 = 1_796_205_600_000;

/// The server's signing key, made once per fuzzing process.
pub struct ServerKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl ServerKey {
    /// The key (made on first use).
    pub fn get() -> &'static ServerKey {
        static KEY: OnceLock<ServerKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .unwrap_or_else(|_| panic!("no randomness for the fuzzing server key"));
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap_or_else(|_| panic!("the fuzzing server key does not load"));
            ServerKey { pair, rng }
        })
    }

    /// The public key (SEC1), base64url: what a phone build pins.
    pub fn public_b64(&self) -> String {
        b64(self.pair.public_key().as_ref())
    }

    /// The public key (SEC1).
    pub fn public(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The key's id, as tokens name it.
    pub fn key_id(&self) -> String {
        key_id(self.public())
    }

    /// A token over `claims` as they are (no `kid` added: the phone then uses its pinned key;
    /// claims that name another `kid` make it ask the server for its key chain).
    pub fn sign(&self, claims: &[u8]) -> String {
        let input = format!("{TOKEN_PREFIX}.{}", b64(claims));
        let sig = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .unwrap_or_else(|_| panic!("signing failed"));
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

/// `input` with every `@@<claims>@@` replaced by a token signed over `<claims>`.
pub fn with_signed_tokens(input: &[u8]) -> Vec<u8> {
    const MARK: &[u8] = b"@@";
    let mut out = Vec::with_capacity(input.len() + 128);
    let mut rest = input;
    while let Some(start) = find(rest, MARK) {
        let after = &rest[start + MARK.len()..];
        let Some(end) = find(after, MARK) else { break };
        out.extend_from_slice(&rest[..start]);
        let claims = replace(&after[..end], b"$KID", ServerKey::get().key_id().as_bytes());
        out.extend_from_slice(ServerKey::get().sign(&claims).as_bytes());
        rest = &after[end + MARK.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// `haystack` with every `needle` replaced by `with`.
fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = find(rest, needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What separates the parts of a fuzz input: two bytes that UTF-8 text (JSON, tokens) never
/// holds.
pub const SEPARATOR: &[u8] = b"\xfe\xfd";

/// Splits a fuzz input into its parts (see [`SEPARATOR`]).
pub fn parts(input: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = input;
    while let Some(at) = find(rest, SEPARATOR) {
        parts.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    parts.push(rest);
    parts
}

/// Answers each request with the next scripted reply; unreachable once they run out.
#[derive(Default)]
pub struct ScriptedServer {
    replies: Mutex<VecDeque<HttpResponse>>,
}

impl ScriptedServer {
    /// A server that gives `replies` in turn.
    pub fn new(replies: Vec<HttpResponse>) -> Self {
        Self {
            replies: Mutex::new(replies.into()),
        }
    }
}

#[async_trait]
impl HttpTransport for ScriptedServer {
    async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let next = self
            .replies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        next.ok_or(TransportError::Unreachable {
            reason: "no more scripted replies".into(),
        })
    }
}

/// A reply from a part of a fuzz input: the first byte picks the status (`'0'` the first of
/// the table below), the rest is the body (with its `@@claims@@` signed).
pub fn reply(part: &[u8]) -> HttpResponse {
    const STATUSES: [u16; 12] = [200, 200, 200, 204, 400, 401, 404, 409, 410, 429, 500, 302];
    let (status, body) = match part.split_first() {
        Some((&s, body)) => (
            STATUSES[usize::from(s.wrapping_sub(b'0')) % STATUSES.len()],
            body,
        ),
        None => (200, part),
    };
    HttpResponse {
        status,
        headers: Vec::new(),
        body: with_signed_tokens(body),
    }
}

/// A clock stopped at [`NOW_MS`].
struct StoppedClock;

impl Clock for StoppedClock {
    fn now_unix_ms(&self) -> i64 {
        NOW_MS
    }
    fn uptime_ms(&self) -> u64 {
        1_000_000
    }
}

/// A phone with alice enrolled (approval counter 5, an offline codes secret, the server's
/// key pinned, clock in step), whose user verifies with biometrics and whose server answers
/// with `replies`.
pub fn phone(replies: Vec<HttpResponse>) -> Authenticator {
    phone_over(Arc::new(MemoryStore::new()), replies, true)
}

/// A phone over `store`, with alice enrolled first when `enroll` is set.
pub fn phone_over(
    store: Arc<MemoryStore>,
    replies: Vec<HttpResponse>,
    enroll: bool,
) -> Authenticator {
    let key = ServerKey::get();
    let keys = Arc::new(SoftwareKeyVault::new(store.clone()));
    if enroll {
        keys.create_key("key-alice".into())
            .unwrap_or_else(|e| panic!("no device key: {e}"));
        let account = Account {
            username: USER.into(),
            server_url: SERVER.into(),
            credential_id: CREDENTIAL.into(),
            key_alias: "key-alice".into(),
            enrolled_at: NOW_MS / 1000 - 86_400,
        };
        ibkey_core::fuzzing::enroll(store.clone(), account, &key.public_b64(), 5, &[7; 32], 0)
            .unwrap_or_else(|e| panic!("enrolling alice failed: {e}"));
    }
    let verifier = ScriptedVerifier::new();
    for _ in 0..4 {
        verifier.push_biometric(BiometricOutcome::Verified);
    }
    let config = AuthenticatorConfig {
        server_url: SERVER.into(),
        server_public_key: Some(key.public_b64()),
        trust_on_first_use: false,
        device_name: "fuzz phone".into(),
        verification: VerificationMethod::Biometric,
        pin_policy: PinPolicy::default(),
    };
    let store: Arc<dyn SecureStore> = store;
    let platform = Platform {
        store,
        keys,
        verifier: Arc::new(verifier),
        http: Arc::new(ScriptedServer::new(replies)),
        clock: Arc::new(StoppedClock),
    };
    Authenticator::new(config, platform).unwrap_or_else(|e| panic!("no authenticator: {e}"))
}

/// Runs a future of the core to its end. The core's futures wait only on the platform's
/// services, which here answer at once: one that is still pending after many polls is a hang.
pub fn run<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("a core future never completed: a hang");
}
