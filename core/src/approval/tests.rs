//! Approval tests without a server: challenges signed here with a test server key, a real
//! `FileStore` in a temp dir, software keys, a settable clock and a network that is down.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use super::*;
use crate::device::{AuthenticatorConfig, Device};
use crate::gate::PinPolicy;
use crate::platform::{
    FileStore, Platform, ScriptedVerifier, SoftwareKeyVault, VerificationMethod,
};
use crate::test_support::{Offline, TestClock};
use crate::Account;
use ibkey_protocol::activation::{key_id, sign_token, TicketClaims, TICKET_TYPE};
use ibkey_protocol::approval::{ChallengeClaims, CHALLENGE_TYPE, NUMBER_RANGE};
use ibkey_protocol::encoding::b64;

const SERVER: &str = "http://127.0.0.1:9";
const NOW: i64 = 1_790_000_000;

fn key_pair() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("generate");
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("parse")
}

struct World {
    _dir: tempfile::TempDir,
    server: EcdsaKeyPair,
    clock: Arc<TestClock>,
    http: Arc<Offline>,
    device: Device,
}

fn open(
    dir: &std::path::Path,
    server: &EcdsaKeyPair,
    clock: Arc<TestClock>,
    http: Arc<Offline>,
) -> Device {
    let store = Arc::new(FileStore::open(dir).expect("store"));
    let platform = Platform {
        keys: Arc::new(SoftwareKeyVault::new(store.clone())),
        store,
        verifier: Arc::new(ScriptedVerifier::always_pin("4829")),
        http,
        clock,
    };
    let config = AuthenticatorConfig {
        server_url: SERVER.into(),
        server_public_key: Some(b64(server.public_key().as_ref())),
        trust_on_first_use: false,
        device_name: "test".into(),
        verification: VerificationMethod::Pin,
        pin_policy: PinPolicy::fast_for_tests(),
    };
    Device::new(config, platform).expect("device")
}

impl World {
    /// A device with alice enrolled (credential `cred-alice`).
    fn new() -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = key_pair();
        let clock = Arc::new(TestClock(AtomicI64::new(NOW)));
        let http = Arc::new(Offline::default());
        let device = open(dir.path(), &server, clock.clone(), http.clone());
        device
            .platform
            .keys
            .create_key("account-alice".into())
            .expect("key");
        let added = device
            .book
            .add(Account {
                username: "alice".into(),
                server_url: SERVER.into(),
                credential_id: "cred-alice".into(),
                key_alias: "account-alice".into(),
                enrolled_at: NOW,
            })
            .expect("store");
        assert!(added.is_ok());
        World {
            _dir: dir,
            server,
            clock,
            http,
            device,
        }
    }

    /// The same device after a restart.
    fn restart(&mut self) {
        self.device = open(
            self._dir.path(),
            &self.server,
            self.clock.clone(),
            self.http.clone(),
        );
    }

    fn sign(&self, claims: &ChallengeClaims) -> String {
        sign_token(claims, &self.server, &SystemRandom::new()).expect("sign")
    }
}

fn claims(id: &str) -> ChallengeClaims {
    ChallengeClaims {
        typ: CHALLENGE_TYPE.into(),
        srv: SERVER.into(),
        kid: "kid".into(),
        id: id.into(),
        non: format!("nonce-of-{id}"),
        usr: "alice".into(),
        cid: Some("cred-alice".into()),
        num: Some(42),
        ctx: LoginContext {
            application: "Client Portal".into(),
            ip_address: "127.0.0.1".into(),
            location: "this computer".into(),
            browser: "Chrome on Linux".into(),
            login_time: NOW,
        },
        iat: NOW,
        exp: NOW + 120,
    }
}

fn push_json(token: &str) -> Vec<u8> {
    format!(r#"{{"type":"ibkey.login","challenge":"{token}"}}"#).into_bytes()
}

#[tokio::test]
async fn a_signed_push_reads_into_a_challenge_without_the_network() {
    let world = World::new();
    let token = world.sign(&claims("c1"));
    let challenge = world
        .device
        .read_push(&push_json(&token))
        .await
        .expect("read");
    assert_eq!(challenge.challenge_id, "c1");
    assert_eq!(challenge.username, "alice");
    assert_eq!(challenge.server_url, SERVER);
    assert_eq!(challenge.context.application, "Client Portal");
    assert_eq!(challenge.expires_at, NOW + 120);
    assert_eq!(challenge.seconds_left, 120);
    assert_eq!(challenge.source, ChallengeSource::Push);
    assert_eq!(challenge.token, token);
    assert_eq!(challenge.number_choices.len(), 3);
    assert!(challenge.number_choices.contains(&42));
    assert!(challenge
        .number_choices
        .iter()
        .all(|n| NUMBER_RANGE.contains(n)));
    assert_eq!(world.http.0.load(Ordering::SeqCst), 0, "no network call");

    // The bare token reads the same; the record's Debug never shows it.
    let bare = world
        .device
        .read_push(format!(" {token}\n").as_bytes())
        .await
        .expect("bare");
    assert_eq!(bare, challenge);
    let shown = format!("{challenge:?}");
    assert!(
        !shown.contains(&token) && !shown.contains("nonce-of-c1"),
        "{shown}"
    );
    for part in token.split('.').skip(1) {
        assert!(!shown.contains(part), "{shown}");
    }

    // A QR code's challenge (no device, no number) for a user of this device.
    let qr = world.sign(&ChallengeClaims {
        cid: None,
        num: None,
        ..claims("q1")
    });
    let challenge = world.device.read_login_qr(&qr).await.expect("qr");
    assert_eq!(challenge.source, ChallengeSource::QrCode);
    assert!(challenge.number_choices.is_empty());
}

#[tokio::test]
async fn forged_tampered_foreign_and_misdirected_challenges_are_refused() {
    let world = World::new();
    let read = |token: String| {
        let device = &world.device;
        async move { device.read_push(token.as_bytes()).await }
    };

    // Signed by a key this device does not know: only the server could say it is its new
    // one (endorsed by the pinned key), and the network is down.
    let other_key = key_pair();
    let forged = sign_token(&claims("c1"), &other_key, &SystemRandom::new()).expect("sign");
    assert!(matches!(
        read(forged).await,
        Err(ApprovalError::ServerUnreachable { .. })
    ));

    // The context changed after signing, the signature kept.
    let genuine = world.sign(&claims("c1"));
    let (_, signature) = genuine.rsplit_once('.').expect("token");
    let mut changed = claims("c1");
    changed.kid = key_id(world.server.public_key().as_ref());
    changed.ctx.location = "somewhere else".into();
    let tampered = format!(
        "IBK1.{}.{signature}",
        b64(&serde_json::to_vec(&changed).expect("json"))
    );
    assert_eq!(read(tampered).await, Err(ApprovalError::ForgedChallenge));

    let elsewhere = world.sign(&ChallengeClaims {
        srv: "https://other.example.com".into(),
        ..claims("c1")
    });
    assert!(matches!(
        read(elsewhere).await,
        Err(ApprovalError::WrongServer { .. })
    ));

    let other_device = world.sign(&ChallengeClaims {
        cid: Some("cred-of-another-phone".into()),
        ..claims("c1")
    });
    assert_eq!(read(other_device).await, Err(ApprovalError::OtherDevice));

    let stranger = world.sign(&ChallengeClaims {
        usr: "mallory".into(),
        cid: None,
        ..claims("c1")
    });
    assert_eq!(
        read(stranger).await,
        Err(ApprovalError::UnknownAccount {
            username: "mallory".into()
        })
    );

    // An activation ticket of the same server is no login code.
    let ticket = sign_token(
        &TicketClaims {
            typ: TICKET_TYPE.into(),
            srv: SERVER.into(),
            kid: key_id(world.server.public_key().as_ref()),
            sid: "K7QP3MZX9TWD".into(),
            usr: "alice".into(),
            iat: NOW,
            exp: NOW + 300,
            mov: None,
        },
        &world.server,
        &SystemRandom::new(),
    )
    .expect("sign");
    assert_eq!(
        world.device.read_login_qr(&ticket).await,
        Err(ApprovalError::NotALoginCode)
    );
    assert_eq!(
        world.device.read_login_qr("https://example.com").await,
        Err(ApprovalError::NotALoginCode)
    );
}

#[tokio::test]
async fn expiry_and_clock_trouble_are_told_apart() {
    let world = World::new();
    let token = world.sign(&claims("c1"));
    // Just past the expiry, within the leeway: still fine.
    world.clock.0.store(NOW + 140, Ordering::SeqCst);
    let challenge = world
        .device
        .read_push(token.as_bytes())
        .await
        .expect("leeway");
    assert_eq!(challenge.seconds_left, 0);
    // Well past it, the server out of reach to say otherwise: expired.
    world.clock.0.store(NOW + 600, Ordering::SeqCst);
    assert_eq!(
        world.device.read_push(token.as_bytes()).await,
        Err(ApprovalError::ChallengeExpired)
    );
    assert!(
        world.http.0.load(Ordering::SeqCst) > 0,
        "asked the server's time"
    );
    // Issued an hour after the phone's time: the phone's clock is behind.
    world.clock.0.store(NOW - 3600, Ordering::SeqCst);
    let err = world
        .device
        .read_push(token.as_bytes())
        .await
        .expect_err("clock");
    assert_eq!(err, ApprovalError::ClockWrong { offset_secs: -3600 });
    assert!(err.to_string().contains("about 1 hour behind"), "{err}");
    assert!(
        err.to_string().contains("date and time to automatic"),
        "{err}"
    );

    // A learned offset corrects the phone's clock.
    world
        .device
        .book
        .update_device(|d| d.clock_offset_secs = Some(3600))
        .expect("store");
    let challenge = world
        .device
        .read_push(token.as_bytes())
        .await
        .expect("corrected");
    assert_eq!(challenge.seconds_left, 120);
}

#[tokio::test]
async fn wrong_picks_count_across_restarts_and_the_third_refuses() {
    let mut world = World::new();
    let token = world.sign(&claims("c1"));
    let challenge = world
        .device
        .read_push(token.as_bytes())
        .await
        .expect("read");
    assert_eq!(
        world.device.check_number(&challenge, 42).await,
        Ok(NumberCheck::Match)
    );
    assert_eq!(
        world.device.check_number(&challenge, 43).await,
        Ok(NumberCheck::Wrong { attempts_left: 2 })
    );
    assert_eq!(
        world.device.approve(&challenge, None).await,
        Err(ApprovalError::NumberRequired)
    );
    let err = world
        .device
        .approve(&challenge, Some(44))
        .await
        .expect_err("wrong");
    assert_eq!(err, ApprovalError::WrongNumber { attempts_left: 1 });
    assert!(err.to_string().contains("This wasn't me"), "{err}");
    assert!(err.to_string().contains("1 try left"), "{err}");

    world.restart();
    let before = world.http.0.load(Ordering::SeqCst);
    assert_eq!(
        world.device.check_number(&challenge, 45).await,
        Err(ApprovalError::NumberMismatchRefused)
    );
    assert!(
        world.http.0.load(Ordering::SeqCst) > before,
        "tried to tell the server"
    );
    // Refused for good, even with the right number now.
    for result in [
        world.device.approve(&challenge, Some(42)).await.map(|_| ()),
        world.device.check_number(&challenge, 42).await.map(|_| ()),
        world.device.read_push(token.as_bytes()).await.map(|_| ()),
    ] {
        assert_eq!(result, Err(ApprovalError::NumberMismatchRefused));
    }
    // The counter went up for the refusal's signature even though it was never sent.
    let state = world
        .device
        .book
        .approval_state("cred-alice")
        .expect("state");
    assert_eq!(state.counter, 1);
}

#[tokio::test]
async fn an_answered_challenge_is_recognised_and_removal_deletes_the_record() {
    let world = World::new();
    let token = world.sign(&claims("c1"));
    world
        .device
        .book
        .update_approval_state("cred-alice", |s| s.mark_answered("c1"))
        .expect("store");
    assert_eq!(
        world.device.read_push(token.as_bytes()).await,
        Err(ApprovalError::AlreadyAnswered)
    );
    let challenge = LoginChallenge {
        challenge_id: "c1".into(),
        username: "alice".into(),
        server_url: SERVER.into(),
        context: claims("c1").ctx,
        expires_at: NOW + 120,
        seconds_left: 120,
        number_choices: vec![],
        source: ChallengeSource::Push,
        token,
    };
    assert_eq!(
        world.device.deny(&challenge, true).await,
        Err(ApprovalError::AlreadyAnswered)
    );

    assert!(world.device.book.remove("alice").expect("remove").is_some());
    let state = world
        .device
        .book
        .approval_state("cred-alice")
        .expect("state");
    assert!(
        state.answered.is_empty(),
        "the record went with the account"
    );
    assert!(world
        .device
        .platform
        .store
        .load("approval.cred-alice".into())
        .expect("load")
        .is_none());
}

fn every_error() -> Vec<ApprovalError> {
    use crate::gate::GateError;
    use crate::platform::{KeyError, StoreError};
    vec![
        ApprovalError::NotALoginCode,
        ApprovalError::WrongServer {
            expected: "a".into(),
            found: "b".into(),
        },
        ApprovalError::ForgedChallenge,
        ApprovalError::ChallengeExpired,
        ApprovalError::ClockWrong { offset_secs: 300 },
        ApprovalError::UnknownAccount {
            username: "alice".into(),
        },
        ApprovalError::OtherDevice,
        ApprovalError::AlreadyAnswered,
        ApprovalError::NumberRequired,
        ApprovalError::WrongNumber { attempts_left: 2 },
        ApprovalError::NumberMismatchRefused,
        ApprovalError::ChallengeUsed,
        ApprovalError::PossiblyCloned {
            username: "alice".into(),
        },
        ApprovalError::PushesMuted {
            server_message: "Muted.".into(),
        },
        ApprovalError::Revoked {
            username: "alice".into(),
        },
        ApprovalError::ServerUnreachable {
            reason: "offline".into(),
        },
        ApprovalError::ServerReply {
            detail: "junk".into(),
        },
        ApprovalError::DeviceKey {
            error: KeyError::NotFound,
        },
        ApprovalError::Verification {
            error: GateError::Cancelled,
        },
        ApprovalError::Store {
            error: StoreError::Corrupt { key: "k".into() },
        },
    ]
}

#[test]
fn every_error_has_its_own_code_and_a_message_saying_what_to_do() {
    let errors = every_error();
    let codes: HashSet<&str> = errors.iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), errors.len(), "codes are unique");
    for e in &errors {
        let code = e.code();
        assert!(
            code.starts_with("APR_") || code.starts_with("GATE_") || code.starts_with("STORE_"),
            "{code}"
        );
        let message = e.to_string();
        assert!(
            message.len() > 20 && message.ends_with('.'),
            "{code}: {message}"
        );
    }
    // No code is shared with another area's errors.
    let others = [
        crate::ActivationError::CodeUsed.code(),
        crate::ActivationError::ServerUnreachable {
            reason: String::new(),
        }
        .code(),
        crate::AccountsError::ServerUnreachable {
            reason: String::new(),
        }
        .code(),
    ];
    for code in others {
        assert!(!codes.contains(code), "{code}");
    }
    assert!(ApprovalError::PossiblyCloned {
        username: "alice".into()
    }
    .to_string()
    .contains("Remove IB Key for alice"));
    assert!(ApprovalError::ForgedChallenge
        .to_string()
        .starts_with("This login request is not signed by your server: do not approve it."));
}

#[test]
fn server_codes_map_to_their_own_errors() {
    let refused = |code: &str| ApiError::Refused {
        code: code.into(),
        message: "Pushes are muted until 12:00.".into(),
        retry_after: None,
        moved: None,
    };
    let cases = [
        (codes::CHALLENGE_USED, "APR_CHALLENGE_USED"),
        (codes::CHALLENGE_EXPIRED, "APR_CHALLENGE_EXPIRED"),
        (codes::POSSIBLY_CLONED, "APR_POSSIBLY_CLONED"),
        (codes::PUSHES_MUTED, "APR_PUSHES_MUTED"),
        (activation_codes::CREDENTIAL_UNKNOWN, "APR_REVOKED"),
        (codes::NUMBER_MISMATCH, "APR_SERVER_REPLY"),
        (activation_codes::BAD_SIGNATURE, "APR_SERVER_REPLY"),
        ("clock_skew", "APR_CLOCK_WRONG"),
    ];
    for (server, ours) in cases {
        assert_eq!(
            ApprovalError::from_api(refused(server), "alice").code(),
            ours,
            "{server}"
        );
    }
    // The server refuses the phone's time without saying by how much: the clock is named as
    // the cause all the same.
    let skew = ApprovalError::from_api(refused("clock_skew"), "alice");
    assert_eq!(skew, ApprovalError::ClockWrong { offset_secs: 0 });
    assert!(
        skew.to_string()
            .starts_with("This phone's clock is wrong, so"),
        "{skew}"
    );
    assert!(ApprovalError::ClockWrong { offset_secs: -600 }
        .to_string()
        .starts_with("This phone's clock is about 10 minutes behind, so"));
    let muted = ApprovalError::from_api(refused(codes::PUSHES_MUTED), "alice");
    assert!(
        muted.to_string().ends_with("Pushes are muted until 12:00."),
        "{muted}"
    );
    assert_eq!(
        ApprovalError::from_api(
            ApiError::Unreachable {
                reason: "offline".into()
            },
            "alice"
        ),
        ApprovalError::ServerUnreachable {
            reason: "offline".into()
        }
    );
}
