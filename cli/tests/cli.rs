//! The `ibkey` binary as a user runs it: portal ticket, activation from a QR image and from a
//! typed session ID with the PIN on stdin, listing, removal, the failure messages, and the
//! demo. The reference server runs in-process on loopback.

// Helpers of a test stop it at the first surprise.
#![allow(clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ibkey_server::{ServerConfig, SystemClock};

fn ibkey(home: &Path, server: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ibkey"))
        .arg("--data-dir")
        .arg(home)
        .args(["--server", server])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ibkey runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("ibkey finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The session ID line `ibkey ticket` prints.
fn session_id_of(ticket_output: &Output) -> String {
    text(&ticket_output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Session ID: "))
        .expect("a session ID line")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_activates_lists_and_removes_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig {
        data_dir: dir.path().join("server"),
        clock: std::sync::Arc::new(SystemClock),
        ..ServerConfig::default()
    };
    let any_port: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = ibkey_server::start(config, any_port).await.expect("server");
    let url = server.url();
    let home = dir.path().join("home");
    let qr = dir.path().join("alice.png");

    let run = |args: Vec<String>, stdin: String| {
        let (home, url) = (home.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ibkey(&home, &url, &args, &stdin)
        })
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let ticket = run(
        args(&[
            "ticket",
            "--user",
            "alice",
            "--qr-out",
            &qr.to_string_lossy(),
        ]),
        String::new(),
    )
    .await
    .expect("join");
    assert!(ticket.status.success(), "{}", text(&ticket.stderr));
    assert!(qr.exists());

    let activate = run(
        args(&["activate", "--qr", &qr.to_string_lossy(), "--pin-stdin"]),
        "4829\n".into(),
    )
    .await
    .expect("join");
    assert!(activate.status.success(), "{}", text(&activate.stderr));
    assert!(text(&activate.stdout).contains("alice is now enrolled"));

    // A weak PIN is explained; a typo in a session ID is caught and named.
    let bob = run(args(&["ticket", "--user", "bob"]), String::new())
        .await
        .expect("join");
    let bob_id = session_id_of(&bob);
    let mut typo: Vec<char> = bob_id.chars().collect();
    typo[11] = if typo[11] == 'Z' { 'Y' } else { 'Z' };
    let typo: String = typo.into_iter().collect();
    let failed = run(
        args(&["activate", "--session-id", &typo, "--pin-stdin"]),
        "4829\n".into(),
    )
    .await
    .expect("join");
    assert_eq!(failed.status.code(), Some(1));
    let message = text(&failed.stderr);
    assert!(
        message.contains("error [ACT_SESSION_ID_MISTYPED]") && message.contains("Group 3"),
        "{message}"
    );

    // A wrong PIN first, then the right one: the PIN pad asks again.
    let added = run(
        args(&[
            "activate",
            "--session-id",
            &bob_id.to_lowercase(),
            "--pin-stdin",
        ]),
        "1357\n4829\n".into(),
    )
    .await
    .expect("join");
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(
        text(&added.stderr).contains("Wrong PIN"),
        "{}",
        text(&added.stderr)
    );

    let again = run(
        args(&["activate", "--qr", &qr.to_string_lossy(), "--pin-stdin"]),
        "4829\n".into(),
    )
    .await
    .expect("join");
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("error [ACT_ALREADY_ENROLLED]: alice is already enrolled"));

    let users = run(args(&["users"]), String::new()).await.expect("join");
    let listed = text(&users.stdout);
    assert!(
        listed.contains("alice") && listed.contains("bob"),
        "{listed}"
    );

    let removed = run(args(&["remove", "alice", "--pin-stdin"]), "4829\n".into())
        .await
        .expect("join");
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let users = text(
        &run(args(&["users"]), String::new())
            .await
            .expect("join")
            .stdout,
    );
    assert!(!users.contains("alice") && users.contains("bob"), "{users}");

    let unknown = run(args(&["remove", "carol"]), String::new())
        .await
        .expect("join");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("error [ACC_NOT_FOUND]"));
    server.shutdown().await;
}

#[test]
fn the_demo_walks_the_whole_journey_and_succeeds() {
    let home = tempfile::tempdir().expect("temp dir");
    let output = ibkey(home.path(), "http://127.0.0.1:9", &["demo"], "");
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("behaved as expected"), "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");
}

#[test]
fn activating_without_a_server_says_it_is_unreachable() {
    let home = tempfile::tempdir().expect("temp dir");
    let id = ibkey_core::activation::SessionId::generate(&ring::rand::SystemRandom::new())
        .expect("random")
        .grouped();
    let output = ibkey(
        home.path(),
        "http://127.0.0.1:9",
        &["activate", "--session-id", &id],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("error [ACT_SERVER_UNREACHABLE]"),
        "{stderr}"
    );
}
