//! What the end-to-end tests share: a real server on 127.0.0.1 (port 0) over a real SQLite
//! file in a temporary directory, with an adjustable clock and an HTTP client; its replies;
//! and a phone with a real P-256 key that speaks the activation protocol (with or without the
//! X25519 agreement of offline codes).

// Each test file is its own crate and uses only part of this module (the activation tests
// never call `Reply::refused`, the approval tests never read `Reply::error`, ...), so what one
// of them leaves unused is not dead code.
#![allow(dead_code)]

pub mod browser;
pub mod phone;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use ibkey_protocol::activation::{
    activation_proof_message, CompleteRequest, ErrorResponse, SignInResponse, TicketClaims,
    TicketResponse,
};
use ibkey_protocol::encoding::{b64, unb64};
use ibkey_protocol::offline::{derive_account_secret, AGREEMENT, SECRET_LEN};
use ibkey_protocol::session_id::SessionId;
use ibkey_server::{AdjustableClock, PortalDevice, RunningServer, ServerClock as _, ServerConfig};
use reqwest::StatusCode;
use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

/// The demo portal's password, good for every username.
pub const PASSWORD: &str = ibkey_server::DEMO_PORTAL_PASSWORD;

/// Any free port on 127.0.0.1.
pub fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

/// The default configuration over the data directory `dir`, with `clock`.
pub fn config(dir: &Path, clock: &Arc<AdjustableClock>) -> ServerConfig {
    ServerConfig {
        data_dir: dir.to_path_buf(),
        clock: clock.clone(),
        ..ServerConfig::default()
    }
}

/// A server with its own data directory and clock, and an HTTP client.
pub struct Harness {
    pub server: RunningServer,
    pub clock: Arc<AdjustableClock>,
    pub http: reqwest::Client,
    /// The data directory, removed when the harness is dropped.
    pub dir: tempfile::TempDir,
}

/// A harness with the default configuration.
pub async fn harness() -> Harness {
    harness_with(|_| {}).await
}

/// A harness whose configuration `adjust` changes before the server starts.
pub async fn harness_with(adjust: impl FnOnce(&mut ServerConfig)) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(AdjustableClock::new());
    let mut config = config(dir.path(), &clock);
    adjust(&mut config);
    let server = ibkey_server::start(config, localhost())
        .await
        .expect("server starts");
    Harness {
        server,
        clock,
        http: reqwest::Client::new(),
        dir,
    }
}

/// A harness whose server listens on every interface (off loopback: cookies are `Secure`,
/// and the portal password is made at first start), and that password.
pub async fn off_loopback_harness() -> (Harness, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(AdjustableClock::new());
    let all_interfaces: SocketAddr = "0.0.0.0:0".parse().expect("address");
    let server = ibkey_server::start(config(dir.path(), &clock), all_interfaces)
        .await
        .expect("server starts");
    let password = std::fs::read_to_string(dir.path().join(ibkey_server::PORTAL_PASSWORD_FILE))
        .expect("generated password");
    let harness = Harness {
        server,
        clock,
        http: reqwest::Client::new(),
        dir,
    };
    (harness, password.trim().to_string())
}

/// An HTTP client whose connections come from `ip`, so the server sees another client: on
/// Linux every address of 127.0.0.0/8 is on the loopback interface.
pub fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .build()
        .expect("HTTP client")
}

/// A well-formed session ID that no ticket has (a wrong guess), canonical.
pub fn unknown_session_id() -> String {
    SessionId::generate(&SystemRandom::new())
        .expect("random")
        .canonical()
        .to_string()
}

/// A reply: status, `Retry-After` header, JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after_header: Option<String>,
    pub body: Value,
}

impl Reply {
    /// The error code, or `<no error code>`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// The error message, or empty.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// The body as an error reply.
    pub fn error(&self) -> ErrorResponse {
        serde_json::from_value(self.body.clone()).expect("an ErrorResponse body")
    }

    /// The body of a successful reply.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> T {
        assert!(self.status.is_success(), "{} {}", self.status, self.body);
        serde_json::from_value(self.body.clone()).expect("reply body")
    }

    /// Asserts an error reply.
    pub fn refused(&self, status: StatusCode, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        assert!(!self.message().is_empty());
    }
}

/// Reads a response into a [`Reply`].
pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let retry_after_header = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_string());
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        retry_after_header,
        body,
    }
}

impl Harness {
    /// The server's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// The server clock's reading, Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Sends `request` and reads the reply.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        read(request.send().await.expect("send")).await
    }

    /// POSTs `body` as JSON.
    pub async fn post(&self, path: &str, body: &impl serde::Serialize) -> Reply {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// POSTs with no body and a bearer token.
    pub async fn post_bearer(&self, path: &str, token: &str) -> Reply {
        self.send(self.http.post(self.url(path)).bearer_auth(token))
            .await
    }

    /// GETs with a bearer token.
    pub async fn get_bearer(&self, path: &str, token: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// Looks up the ticket of `session_id`, as a phone does with a typed code.
    pub async fn lookup(&self, session_id: &str) -> Reply {
        self.lookup_with(&self.http, session_id).await
    }

    /// Looks up the ticket of `session_id` with the client `http` (see [`client_from`]).
    pub async fn lookup_with(&self, http: &reqwest::Client, session_id: &str) -> Reply {
        self.send(
            http.post(self.url("/v1/activation/lookup"))
                .json(&json!({ "session_id": session_id })),
        )
        .await
    }

    /// Signs `user` in to the portal; the portal token.
    pub async fn sign_in(&self, user: &str) -> String {
        self.post(
            "/v1/portal/sign-in",
            &json!({"username": user, "password": PASSWORD}),
        )
        .await
        .parse::<SignInResponse>()
        .portal_token
    }

    /// A new activation ticket from the portal session `token`.
    pub async fn ticket(&self, token: &str) -> TicketResponse {
        self.post_bearer("/v1/portal/activation-tickets", token)
            .await
            .parse()
    }

    /// A new activation ticket for `user`, signing in first.
    pub async fn ticket_for(&self, user: &str) -> TicketResponse {
        let token = self.sign_in(user).await;
        self.ticket(&token).await
    }

    /// Completes the activation of `device` with `ticket`.
    pub async fn complete(&self, device: &Device, ticket: &str) -> Reply {
        self.post("/v1/activation/complete", &device.complete_request(ticket))
            .await
    }

    /// The devices the portal lists for `user`.
    pub async fn devices(&self, user: &str) -> Vec<PortalDevice> {
        let token = self.sign_in(user).await;
        self.get_bearer("/v1/portal/devices", &token).await.parse()
    }
}

/// A phone: an install id and a software P-256 key.
pub struct Device {
    pub id: String,
    /// The name it gives when it enrolls: `phone <id>`.
    pub name: String,
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Device {
    /// A phone with the install id `id` and a new key.
    pub fn new(id: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("generate");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("parse");
        Self {
            id: id.to_string(),
            name: format!("phone {id}"),
            key,
            rng,
        }
    }

    /// The public key, uncompressed SEC1.
    pub fn public(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    /// A signature over `message`, base64.
    pub fn sign(&self, message: &str) -> String {
        b64(self
            .key
            .sign(&self.rng, message.as_bytes())
            .expect("sign")
            .as_ref())
    }

    /// The request that enrolls this phone with `ticket`, with its proof of the key.
    pub fn complete_request(&self, ticket: &str) -> CompleteRequest {
        let sid = ticket_claims_unverified(ticket).sid;
        let public_key = b64(&self.public());
        CompleteRequest {
            ticket: ticket.to_string(),
            device_id: self.id.clone(),
            device_name: self.name.clone(),
            proof: self.sign(&activation_proof_message(&sid, &self.id, &public_key)),
            public_key,
            agreement_key: None,
        }
    }

    /// The request that enrolls this phone with `ticket` and a new one-time X25519 key for
    /// offline codes, and that key's private half (for [`offline_secret`]), as IB Key makes
    /// them.
    pub fn complete_request_with_agreement(
        &self,
        ticket: &str,
    ) -> (CompleteRequest, EphemeralPrivateKey) {
        let private = EphemeralPrivateKey::generate(AGREEMENT, &self.rng).expect("x25519 key");
        let public = private.compute_public_key().expect("public key");
        let request = CompleteRequest {
            agreement_key: Some(b64(public.as_ref())),
            ..self.complete_request(ticket)
        };
        (request, private)
    }
}

/// The per-account secret the phone derives, as IB Key will: from its private X25519 key,
/// the server's `agreement_key` of the completion and the credential id of the receipt.
pub fn offline_secret(
    private: EphemeralPrivateKey,
    server_key: &str,
    credential_id: &str,
) -> [u8; SECRET_LEN] {
    let server_key = unb64(server_key).expect("server agreement key in base64url");
    agree_ephemeral(
        private,
        &UnparsedPublicKey::new(AGREEMENT, &server_key),
        |shared| *derive_account_secret(shared, credential_id),
    )
    .expect("agreement with the server's key")
}

/// The claims of a ticket, read without checking the signature (a device would verify).
pub fn ticket_claims_unverified(ticket: &str) -> TicketClaims {
    let claims = ticket.split('.').nth(1).expect("claims part");
    let json = unb64(claims).expect("base64");
    serde_json::from_slice(&json).expect("claims json")
}
