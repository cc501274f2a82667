//! Hot paths of the core: session-ID parsing, ticket verification, a login challenge verified
//! and its decision signed (the device's work on an approval, PIN excluded), offline codes
//! (a time-based code, a challenge's response), and the PIN check whose slowness is deliberate
//! (calibrated PBKDF2).

// Bench set-up fails fast, and criterion's macros generate undocumented items.
#![allow(missing_docs, clippy::expect_used)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use ibkey_core::activation::SessionId;
use ibkey_core::gate::{Gate, PinPolicy};
use ibkey_core::platform::{
    KeyVault, MemoryStore, ScriptedVerifier, SoftwareKeyVault, SystemClock, VerificationMethod,
};
use ibkey_protocol::activation::{self as protocol, TicketClaims};
use ibkey_protocol::approval::{self, ChallengeClaims, Decision, LoginContext};
use ibkey_protocol::offline;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

fn session_ids(c: &mut Criterion) {
    let id = SessionId::generate(&SystemRandom::new())
        .expect("random")
        .grouped();
    let sloppy = id.to_lowercase().replace('-', " ");
    c.bench_function("session_id/parse", |b| b.iter(|| SessionId::parse(&sloppy)));
}

fn tickets(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("key");
    let public = key.public_key().as_ref().to_vec();
    let claims = TicketClaims {
        typ: protocol::TICKET_TYPE.into(),
        srv: "https://auth.example.com".into(),
        kid: protocol::key_id(&public),
        sid: SessionId::generate(&rng)
            .expect("random")
            .canonical()
            .into(),
        usr: "alice".into(),
        iat: 1_800_000_000,
        exp: 1_800_000_300,
        mov: None,
    };
    let token = protocol::sign_token(&claims, &key, &rng).expect("sign");
    c.bench_function("ticket/verify_and_parse", |b| {
        b.iter(|| protocol::verify_token::<TicketClaims>(&token, &public))
    });
}

/// What the device does for one approval besides the PIN and the network: check the server's
/// signature on the challenge and read it, digest the context shown, build the decision
/// message and sign it with the account's device key.
fn approval_crypto(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let server = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("key");
    let public = server.public_key().as_ref().to_vec();
    let claims = ChallengeClaims {
        typ: approval::CHALLENGE_TYPE.into(),
        srv: "https://auth.example.com".into(),
        kid: protocol::key_id(&public),
        id: "Yk3d0QyS1mXq4b2VfT8nZw".into(),
        non: "c2VjcmV0IG5vbmNlIGJ5dGVz".into(),
        usr: "alice".into(),
        cid: Some("credential-1".into()),
        num: Some(47),
        ctx: LoginContext {
            application: "Client Portal".into(),
            ip_address: "203.0.113.7".into(),
            location: "Zurich, Switzerland".into(),
            browser: "Chrome on Windows".into(),
            login_time: 1_800_000_000,
        },
        iat: 1_800_000_000,
        exp: 1_800_000_120,
    };
    let token = protocol::sign_token(&claims, &server, &rng).expect("sign");
    let keys = SoftwareKeyVault::new(Arc::new(MemoryStore::new()));
    keys.create_key("account-bench".into()).expect("device key");
    c.bench_function("approval/verify_challenge_and_sign_decision", |b| {
        b.iter(|| {
            let read: ChallengeClaims = protocol::verify_token(&token, &public).expect("verified");
            let message = approval::decision_message(
                &read.id,
                &read.non,
                &read.srv,
                &read.usr,
                Decision::Approve,
                read.num,
                &read.ctx.digest(),
                42,
            );
            keys.sign("account-bench".into(), message.into_bytes())
                .expect("signed")
        })
    });
}

/// The offline codes as the phone computes them once the PIN is checked: a time-based code
/// (RFC 6238 over ring HMAC-SHA256), and a challenge read and answered.
fn offline_codes(c: &mut Criterion) {
    let secret = [0x5au8; offline::SECRET_LEN];
    c.bench_function("offline/time_code", |b| {
        b.iter(|| offline::time_code(&secret, 1_800_000_000))
    });
    c.bench_function("offline/challenge_response", |b| {
        b.iter(|| {
            let challenge = offline::parse_challenge("392 856").expect("a valid challenge");
            offline::response(&secret, "alice", &challenge)
        })
    });
}

fn pin_check(c: &mut Criterion) {
    let verifier = Arc::new(ScriptedVerifier::always_pin("4829"));
    let gate = Gate::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
        verifier,
        VerificationMethod::Pin,
        PinPolicy::default(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let created = runtime
        .block_on(gate.verify_user("bench"))
        .expect("PIN created");
    gate.commit(created).expect("PIN saved");
    let mut group = c.benchmark_group("pin");
    group.sample_size(20);
    group.bench_function("verify_default_policy", |b| {
        b.iter(|| gate.verify_pin(b"4829"))
    });
    group.finish();
}

criterion_group!(
    benches,
    session_ids,
    tickets,
    approval_crypto,
    offline_codes,
    pin_check
);
criterion_main!(benches);
