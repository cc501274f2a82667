//! No shared default secrets off loopback, and the sign-in limiter: a server bound beyond
//! loopback (`0.0.0.0`) refuses the demo portal password and support token and uses the ones
//! it made in its data directory (mode 0600, kept across restarts); a loopback server keeps
//! the demo values; wrong passwords lock an address and a user name out for 15 minutes.

#![allow(clippy::expect_used)]

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ibkey_server::{
    AdjustableClock, DEFAULT_SUPPORT_TOKEN, GENERATED_SECRET_CHARS, PORTAL_PASSWORD_FILE,
    SUPPORT_TOKEN_FILE,
};
use reqwest::StatusCode;
use serde_json::json;
use support::{config, harness, Harness, Reply, PASSWORD};

/// Any free port on all interfaces: not loopback.
fn all_interfaces() -> SocketAddr {
    "0.0.0.0:0".parse().expect("address")
}

/// A server on all interfaces over `dir` (a fresh one when `None`).
async fn open_harness(dir: Option<tempfile::TempDir>) -> Harness {
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().expect("tempdir"));
    let clock = Arc::new(AdjustableClock::new());
    let server = ibkey_server::start(config(dir.path(), &clock), all_interfaces())
        .await
        .expect("server starts");
    assert!(!server.addr().ip().is_loopback());
    Harness {
        server,
        clock,
        http: reqwest::Client::new(),
        dir,
    }
}

fn read_secret(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .expect("secret file")
        .trim()
        .to_string()
}

async fn sign_in_with(h: &Harness, http: &reqwest::Client, user: &str, password: &str) -> Reply {
    h.send(
        http.post(h.url("/v1/portal/sign-in"))
            .json(&json!({"username": user, "password": password})),
    )
    .await
}

#[tokio::test]
async fn beyond_loopback_the_demo_secrets_are_refused_and_the_generated_ones_work() {
    let h = open_harness(None).await;
    let made = h.server.generated_secrets().expect("made at first start");
    let password = read_secret(h.dir.path(), PORTAL_PASSWORD_FILE);
    let token = read_secret(h.dir.path(), SUPPORT_TOKEN_FILE);
    assert_eq!(password.len(), GENERATED_SECRET_CHARS);
    assert_ne!(password, PASSWORD);
    assert_ne!(token, DEFAULT_SUPPORT_TOKEN);
    let made_password = made.portal_password.expect("password made");
    assert_eq!(made_password.value, password);
    assert_eq!(made_password.path, h.dir.path().join(PORTAL_PASSWORD_FILE));
    assert_eq!(made.support_token.expect("token made").value, token);
    #[cfg(unix)]
    for file in [PORTAL_PASSWORD_FILE, SUPPORT_TOKEN_FILE] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(h.dir.path().join(file))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    sign_in_with(&h, &h.http, "alice", PASSWORD)
        .await
        .refused(StatusCode::UNAUTHORIZED, "unauthorized");
    let ok = sign_in_with(&h, &h.http, "alice", &password).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    h.get_bearer("/v1/support/diagnostics", DEFAULT_SUPPORT_TOKEN)
        .await
        .refused(StatusCode::UNAUTHORIZED, "unauthorized");
    let listed = h.get_bearer("/v1/support/diagnostics", &token).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);

    // A restart on the same directory keeps the secrets and does not show them again.
    let Harness { server, dir, .. } = h;
    server.shutdown().await;
    let h = open_harness(Some(dir)).await;
    assert!(h.server.generated_secrets().is_none());
    assert_eq!(read_secret(h.dir.path(), PORTAL_PASSWORD_FILE), password);
    let ok = sign_in_with(&h, &h.http, "bob", &password).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn beyond_loopback_configured_secrets_are_used_as_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(AdjustableClock::new());
    let mut cfg = config(dir.path(), &clock);
    cfg.portal_password = "operator-chosen".into();
    let server = ibkey_server::start(cfg, all_interfaces())
        .await
        .expect("server starts");
    let made = server.generated_secrets().expect("the token was made");
    assert!(made.portal_password.is_none());
    assert!(made.support_token.is_some());
    assert!(!dir.path().join(PORTAL_PASSWORD_FILE).exists());
    let h = Harness {
        server,
        clock,
        http: reqwest::Client::new(),
        dir,
    };
    let ok = sign_in_with(&h, &h.http, "alice", "operator-chosen").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn loopback_keeps_the_demo_secrets() {
    let h = harness().await;
    assert!(h.server.addr().ip().is_loopback());
    assert!(h.server.generated_secrets().is_none());
    assert!(!h.dir.path().join(PORTAL_PASSWORD_FILE).exists());
    assert!(!h.dir.path().join(SUPPORT_TOKEN_FILE).exists());
    h.sign_in("alice").await;
    let listed = h
        .get_bearer("/v1/support/diagnostics", DEFAULT_SUPPORT_TOKEN)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
}

#[tokio::test]
async fn ten_wrong_passwords_lock_out_the_address_and_the_user_until_the_window_passes() {
    let h = open_harness(None).await;
    let password = read_secret(h.dir.path(), PORTAL_PASSWORD_FILE);
    for _ in 0..10 {
        sign_in_with(&h, &h.http, "alice", "wrong")
            .await
            .refused(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // Locked out: even the right password is refused, on both sign-in paths.
    let locked = sign_in_with(&h, &h.http, "alice", &password).await;
    locked.refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let wait = locked.error().error.retry_after.expect("retry_after");
    assert!((1..=900).contains(&wait), "{wait}");
    assert_eq!(locked.retry_after_header, Some(wait.to_string()));
    h.post(
        "/v1/logins",
        &json!({"username": "alice", "password": password}),
    )
    .await
    .refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    // The same address for another user: locked (the address is).
    sign_in_with(&h, &h.http, "bob", &password)
        .await
        .refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");

    // Another address: a different user is unaffected, alice is locked (the user name is).
    let other = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .expect("client");
    let ok = sign_in_with(&h, &other, "bob", &password).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    sign_in_with(&h, &other, "alice", &password)
        .await
        .refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");

    // After the window it works again.
    h.clock.advance(Duration::from_secs(wait));
    let ok = sign_in_with(&h, &h.http, "alice", &password).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn right_passwords_never_count_and_the_login_page_counts_wrong_ones() {
    let h = harness().await;
    for _ in 0..20 {
        sign_in_with(&h, &h.http, "alice", PASSWORD).await;
    }
    for _ in 0..10 {
        h.post(
            "/v1/logins",
            &json!({"username": "carol", "password": "wrong"}),
        )
        .await
        .refused(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    sign_in_with(&h, &h.http, "alice", PASSWORD)
        .await
        .refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
}
