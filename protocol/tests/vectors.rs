//! The test vectors of PROTOCOL.md, checked against the real code on every run.
//!
//! `docs/test-vectors.json` holds fixed, TEST-ONLY keys (a server key and a device key, PKCS#8
//! and public), inputs, and what the protocol makes of them: canonical signed messages, key
//! ids, context digests, session-ID check characters, offline secrets, responses and
//! time-based codes, and tokens and device signatures that must verify. Everything
//! deterministic is recomputed here and must equal the file; ECDSA signatures are randomised,
//! so the file's signatures are kept and must verify over the recomputed bytes.
//!
//! Regenerate (new signatures only where a message changed) with
//! `UPDATE_VECTORS=1 cargo test -p ibkey-protocol --test vectors`, then review and commit.

// Tests may `expect`: a failed expectation is a failed test.
#![allow(clippy::expect_used)]

use std::path::PathBuf;

use ibkey_protocol::activation::{
    activation_proof_message, already_enrolled_message, key_id, revoke_message, sign_token,
    verify_token, ReceiptClaims, TicketClaims, TokenError, RECEIPT_TYPE, TICKET_TYPE,
};
use ibkey_protocol::approval::{
    decision_message, device_request_message, ChallengeClaims, Decision, LoginContext,
    CHALLENGE_TYPE, PENDING_PURPOSE, PUSH_TOKEN_PURPOSE,
};
use ibkey_protocol::encoding::{b64, hex, unb64, CROCKFORD};
use ibkey_protocol::lifecycle::{
    recovery_complete_detail, RECOVERY_BEGIN_PURPOSE, RECOVERY_COMPLETE_PURPOSE, STATUS_PURPOSE,
    TEST_PUSH_PURPOSE,
};
use ibkey_protocol::offline::{derive_account_secret, parse_challenge, response, time_code};
use ibkey_protocol::session_id::{group_passes, SessionId, SessionIdError};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};

/// The committed vectors.
fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/test-vectors.json")
}

/// What to regenerate with.
const REGENERATE: &str =
    "Regenerate with `UPDATE_VECTORS=1 cargo test -p ibkey-protocol --test vectors`, review the diff of docs/test-vectors.json and commit it.";

/// The committed file, or `Null` when there is none yet.
fn committed() -> Value {
    std::fs::read_to_string(vectors_path())
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

/// A key of the committed file (PKCS#8, base64url), or a new one when regenerating.
fn key_pkcs8(previous: &Value, name: &str, update: bool) -> Vec<u8> {
    if let Some(pkcs8) = previous["keys"][name]["pkcs8"].as_str().and_then(unb64) {
        return pkcs8;
    }
    assert!(
        update,
        "docs/test-vectors.json has no {name} key. {REGENERATE}"
    );
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("generate a test key")
        .as_ref()
        .to_vec()
}

/// The committed signature at `pointer` when it verifies, else (only when regenerating) a
/// new one.
fn kept_or_new(
    previous: &Value,
    pointer: &str,
    verifies: impl Fn(&str) -> bool,
    sign: impl Fn() -> String,
    update: bool,
) -> String {
    match previous.pointer(pointer).and_then(Value::as_str) {
        Some(kept) if verifies(kept) => kept.to_string(),
        _ => {
            assert!(
                update,
                "the signature at {pointer} in docs/test-vectors.json does not verify over what the code signs now. {REGENERATE}"
            );
            sign()
        }
    }
}

/// A device signature (ASN.1 DER, base64url) of `message`, as a device makes it.
fn device_sign(key: &EcdsaKeyPair, message: &str) -> String {
    b64(key
        .sign(&SystemRandom::new(), message.as_bytes())
        .expect("sign")
        .as_ref())
}

/// Whether `signature` (base64url DER) by `public_key` verifies over `message`, as the server
/// checks a device request.
fn device_verifies(public_key: &[u8], message: &str, signature: &str) -> bool {
    unb64(signature).is_some_and(|sig| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
            .verify(message.as_bytes(), &sig)
            .is_ok()
    })
}

/// The session ID whose groups start with these three characters each, check characters
/// found by trying the alphabet against the public check.
fn session_id_with(data: [&str; 3]) -> String {
    let mut id = String::new();
    for (group, chars) in data.iter().enumerate() {
        let check = CROCKFORD
            .iter()
            .find(|&&c| {
                let mut four = chars.as_bytes().to_vec();
                four.push(c);
                group_passes(group, &four)
            })
            .expect("every group has a check character");
        id.push_str(chars);
        id.push(char::from(*check));
    }
    id
}

/// What `SessionId::parse` makes of a typed text, as the vectors spell it.
fn parsed(typed: &str) -> Value {
    match SessionId::parse(typed) {
        Ok(id) => json!({ "typed": typed, "canonical": id.canonical() }),
        Err(SessionIdError::Mistyped { group }) => {
            json!({ "typed": typed, "error": "mistyped", "group": group })
        }
        Err(SessionIdError::WrongLength { found, .. }) => {
            json!({ "typed": typed, "error": "wrong_length", "found": found })
        }
        Err(SessionIdError::InvalidCharacter { group, character }) => {
            json!({ "typed": typed, "error": "invalid_character", "group": group, "character": character })
        }
    }
}

/// Builds the vectors from the committed file's keys and signatures.
fn build(previous: &Value, update: bool) -> Value {
    let rng = SystemRandom::new();
    let server_pkcs8 = key_pkcs8(previous, "server", update);
    let device_pkcs8 = key_pkcs8(previous, "device", update);
    let server = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &server_pkcs8, &rng)
        .expect("the server test key is a P-256 PKCS#8 key");
    let device = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &device_pkcs8, &rng)
        .expect("the device test key is a P-256 PKCS#8 key");
    let server_public = server.public_key().as_ref().to_vec();
    let device_public = device.public_key().as_ref().to_vec();
    let server_kid = key_id(&server_public);
    let device_public_b64 = b64(&device_public);

    // Session IDs.
    let sid = session_id_with(["K7Q", "3MZ", "9TW"]);
    let grouped = format!("{}-{}-{}", &sid[..4], &sid[4..8], &sid[8..]);
    let mut one_typo = sid.clone().into_bytes();
    one_typo[5] = if one_typo[5] == b'N' { b'P' } else { b'N' };
    let one_typo = String::from_utf8(one_typo).expect("ASCII");
    let session_ids = json!({
        "check_character_of_group": [
            { "group": 1, "data": "K7Q", "with_check": &sid[..4] },
            { "group": 2, "data": "3MZ", "with_check": &sid[4..8] },
            { "group": 3, "data": "9TW", "with_check": &sid[8..] },
        ],
        "parse": [
            parsed(&grouped),
            parsed(&grouped.to_lowercase()),
            parsed(&format!(" {} {} {} ", &sid[..4], &sid[4..8], &sid[8..])),
            parsed(&one_typo),
            parsed(&sid[..11]),
            parsed(&format!("{}U{}", &sid[..4], &sid[5..])),
        ],
    });

    // Tokens the server signs.
    let ticket = TicketClaims {
        typ: TICKET_TYPE.into(),
        srv: "https://ibkey.example".into(),
        kid: server_kid.clone(),
        sid: sid.clone(),
        usr: "alice".into(),
        iat: 1_767_225_600,
        exp: 1_767_225_900,
        mov: None,
    };
    let context = LoginContext {
        application: "Client Portal".into(),
        ip_address: "203.0.113.7".into(),
        location: "Zurich, Switzerland".into(),
        browser: "Firefox on Linux".into(),
        login_time: 1_767_225_700,
    };
    let challenge = ChallengeClaims {
        typ: CHALLENGE_TYPE.into(),
        srv: "https://ibkey.example".into(),
        kid: server_kid.clone(),
        id: "chl_01".into(),
        non: "AAECAwQFBgcICQoLDA0ODw".into(),
        usr: "alice".into(),
        cid: Some("cred_01".into()),
        num: Some(42),
        ctx: context.clone(),
        iat: 1_767_225_700,
        exp: 1_767_225_820,
    };
    let receipt = ReceiptClaims {
        typ: RECEIPT_TYPE.into(),
        cid: "cred_01".into(),
        usr: "alice".into(),
        dev: "device-0001".into(),
        pkid: key_id(&device_public),
        iat: 1_767_225_650,
        ctr: None,
    };
    let token_input = |claims: &Value| -> String {
        let mut claims = claims.clone();
        if let Some(object) = claims.as_object_mut() {
            object.insert("kid".into(), server_kid.clone().into());
        }
        format!(
            "IBK1.{}",
            b64(&serde_json::to_vec(&claims).expect("claims serialize"))
        )
    };
    let mut tokens = serde_json::Map::new();
    for (name, claims) in [
        ("activation_ticket", serde_json::to_value(&ticket)),
        ("login_challenge", serde_json::to_value(&challenge)),
        ("enrollment_receipt", serde_json::to_value(&receipt)),
    ] {
        let claims = claims.expect("claims serialize");
        let input = token_input(&claims);
        let token = kept_or_new(
            previous,
            &format!("/tokens/{name}/token"),
            |kept| {
                kept.rsplit_once('.').is_some_and(|(head, _)| head == input)
                    && match name {
                        "activation_ticket" => {
                            verify_token::<TicketClaims>(kept, &server_public).ok()
                                == Some(ticket.clone())
                        }
                        "login_challenge" => {
                            verify_token::<ChallengeClaims>(kept, &server_public).ok()
                                == Some(challenge.clone())
                        }
                        _ => {
                            verify_token::<ReceiptClaims>(kept, &server_public).ok()
                                == Some(receipt.clone())
                        }
                    }
            },
            || sign_token(&claims, &server, &rng).expect("sign a token"),
            update,
        );
        tokens.insert(
            name.into(),
            json!({ "claims": claims, "signing_input": input, "token": token }),
        );
    }
    // A ticket whose claims were changed after signing must not verify.
    let signed = tokens["activation_ticket"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let (_, signature) = signed.rsplit_once('.').expect("a token has a signature");
    let mut forged_claims = serde_json::to_value(&ticket).expect("claims");
    forged_claims["usr"] = "mallory".into();
    let forged = format!("{}.{signature}", token_input(&forged_claims));
    assert_eq!(
        verify_token::<TicketClaims>(&forged, &server_public).err(),
        Some(TokenError::BadSignature)
    );
    tokens.insert(
        "forged_ticket_must_not_verify".into(),
        json!({ "token": forged, "why": "usr changed from alice to mallory after signing" }),
    );

    // Device signatures.
    let mut device_requests = Vec::new();
    let mut signed_message = |name: &str, message: String| {
        let pointer = format!("/device_signatures/{}/signature", device_requests.len());
        let signature = kept_or_new(
            previous,
            &pointer,
            |kept| device_verifies(&device_public, &message, kept),
            || device_sign(&device, &message),
            update,
        );
        assert!(device_verifies(&device_public, &message, &signature));
        device_requests.push(json!({ "what": name, "message": message, "signature": signature }));
    };
    signed_message(
        "activation proof (POST /v1/activation/complete)",
        activation_proof_message(&sid, "device-0001", &device_public_b64),
    );
    signed_message(
        "revocation (POST /v1/devices/revoke)",
        revoke_message("cred_01", 1_767_226_000),
    );
    signed_message(
        "already-enrolled report (POST /v1/activation/already-enrolled)",
        already_enrolled_message(&sid, "cred_01", 1_767_226_000),
    );
    signed_message(
        "pull of pending challenges (POST /v1/challenges/pending)",
        device_request_message(PENDING_PURPOSE, "cred_01", 1_767_225_710, ""),
    );
    signed_message(
        "push token (POST /v1/devices/push-token)",
        device_request_message(
            PUSH_TOKEN_PURPOSE,
            "cred_01",
            1_767_225_710,
            "fcm:token-123",
        ),
    );
    signed_message(
        "notification doctor status (POST /v1/devices/status)",
        device_request_message(STATUS_PURPOSE, "cred_01", 1_767_225_710, ""),
    );
    signed_message(
        "test push (POST /v1/devices/test-push)",
        device_request_message(TEST_PUSH_PURPOSE, "cred_01", 1_767_225_710, ""),
    );
    signed_message(
        "recovery begin, one key (POST /v1/recovery/begin)",
        device_request_message(
            RECOVERY_BEGIN_PURPOSE,
            &key_id(&device_public),
            1_767_225_710,
            "",
        ),
    );
    signed_message(
        "recovery complete (POST /v1/recovery/complete)",
        device_request_message(
            RECOVERY_COMPLETE_PURPOSE,
            &key_id(&device_public),
            1_767_225_710,
            &recovery_complete_detail("123456", None),
        ),
    );
    let digest = context.digest();
    signed_message(
        "approval of the login challenge above, counter 7 (POST /v1/challenges/decide)",
        decision_message(
            &challenge.id,
            &challenge.non,
            &challenge.srv,
            &challenge.usr,
            Decision::Approve,
            Some(42),
            &digest,
            7,
        ),
    );

    // Offline codes.
    let shared: Vec<u8> = (0u8..32).collect();
    let secret = derive_account_secret(&shared, "cred_01");
    let challenge_digits = (0..10)
        .map(|d| format!("12345{d}"))
        .find(|digits| parse_challenge(digits).is_ok())
        .expect("one check digit fits");
    let time_codes: Vec<Value> = [0u64, 59, 1_111_111_109, 1_767_225_600]
        .iter()
        .map(|&t| json!({ "unix_seconds": t, "code": time_code(secret.as_ref(), t) }))
        .collect();
    let offline = json!({
        "x25519_shared_secret_hex": hex(&shared),
        "credential_id": "cred_01",
        "account_secret_hex": hex(secret.as_ref()),
        "challenge": {
            "five_digits": "12345",
            "with_damm_check_digit": challenge_digits,
            "mistyped_is_refused": parse_challenge("123465").is_err(),
        },
        "response": {
            "username": "alice",
            "challenge": challenge_digits,
            "response": response(secret.as_ref(), "alice", &challenge_digits),
        },
        "time_codes": time_codes,
    });

    json!({
        "about": "Test vectors of PROTOCOL.md, checked by protocol/tests/vectors.rs. THE KEYS BELOW ARE TEST-ONLY: published, never to be used for anything real.",
        "keys": {
            "server": {
                "pkcs8": b64(&server_pkcs8),
                "public_key": b64(&server_public),
                "key_id": server_kid,
            },
            "device": {
                "pkcs8": b64(&device_pkcs8),
                "public_key": device_public_b64,
                "key_id": key_id(&device_public),
            },
        },
        "session_ids": session_ids,
        "login_context": {
            "context": context,
            "canonical_json": serde_json::to_string(&(
                &context.application, &context.ip_address, &context.location, &context.browser, context.login_time,
            )).expect("context serializes"),
            "digest": digest,
        },
        "tokens": tokens,
        "device_signatures": device_requests,
        "offline": offline,
    })
}

#[test]
fn the_committed_vectors_are_what_the_code_computes() {
    let update = std::env::var_os("UPDATE_VECTORS").is_some();
    let previous = committed();
    let built = build(&previous, update);
    let text = serde_json::to_string_pretty(&built).expect("vectors serialize") + "\n";
    if update {
        std::fs::write(vectors_path(), &text).expect("write docs/test-vectors.json");
        return;
    }
    assert!(
        previous == built,
        "docs/test-vectors.json differs from what the protocol code computes. {REGENERATE}"
    );
}

#[test]
fn the_session_id_vectors_catch_a_typo_and_read_any_typing_style() {
    let vectors = build(&committed(), true);
    let parse = vectors["session_ids"]["parse"]
        .as_array()
        .expect("session-ID vectors");
    let canonical = parse[0]["canonical"].as_str().expect("a canonical ID");
    assert_eq!(parse[1]["canonical"], canonical);
    assert_eq!(parse[2]["canonical"], canonical);
    assert_eq!(parse[3]["error"], "mistyped");
    assert_eq!(parse[3]["group"], 2);
    assert_eq!(parse[4]["error"], "wrong_length");
    assert_eq!(parse[5]["error"], "invalid_character");
}
