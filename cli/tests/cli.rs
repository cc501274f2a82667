//! The `ibkey` binary as a user runs it: portal ticket, activation from a QR image and from a
//! typed session ID with the PIN on stdin, listing, removal, logins approved on the phone and
//! by challenge/response, `otpauth` codes, the failure messages, and the demo. The reference
//! server runs in-process on loopback.

// Helpers of a test stop it at the first surprise.
#![allow(clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ibkey_server::{RunningServer, ServerConfig, SystemClock};

/// `ibkey --data-dir <home> --server <server> <args>` with its standard streams piped.
fn ibkey_command(home: &Path, server: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ibkey"));
    command
        .arg("--data-dir")
        .arg(home)
        .args(["--server", server])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The reference server on a free loopback port, its data in `dir/server`.
async fn start_server(dir: &Path) -> RunningServer {
    let config = ServerConfig {
        data_dir: dir.join("server"),
        clock: std::sync::Arc::new(SystemClock),
        ..ServerConfig::default()
    };
    let any_port: SocketAddr = ([127, 0, 0, 1], 0).into();
    ibkey_server::start(config, any_port).await.expect("server")
}

/// Runs `ibkey` with `stdin` typed in, to the end.
fn ibkey(home: &Path, server: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = ibkey_command(home, server, args)
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
    let home = dir.path().join("home");
    // The server keeps its data in the CLI's data folder (as `ibkey server` does): the device
    // trusts the key it publishes there, with no flag.
    let server = start_server(&home).await;
    let url = server.url();
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
fn the_demo_with_serve_keeps_the_portal_up_until_stopped() {
    use std::io::{BufRead, BufReader, Read};
    use std::time::{Duration, Instant};

    let home = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = ibkey_command(
        home.path(),
        "http://127.0.0.1:9",
        &["demo", "--serve", "--listen", &listen],
    )
    .spawn()
    .expect("ibkey runs");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut printed = String::new();
    while !printed.contains("/portal/sign-in") {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) => printed.push_str(&(line + "\n")),
            Err(_) => {
                let _ = child.kill();
                panic!("no portal URL printed: {printed}");
            }
        }
    }
    assert!(printed.contains("behaved as expected"), "{printed}");
    assert!(
        printed.contains(&format!("http://{listen}/portal/sign-in")),
        "{printed}"
    );

    // Still serving after the walk-through.
    let mut stream = std::net::TcpStream::connect(&listen).expect("the portal is up");
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    assert!(
        reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200"),
        "{reply}"
    );
    child.kill().expect("stop the demo");
    let _ = child.wait();
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

/// `ibkey login` started as the login page would be: waits in the background while the test
/// reads its output line by line.
struct LoginPage {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl LoginPage {
    fn start(home: &Path, server: &str, args: &[&str]) -> LoginPage {
        let args: Vec<&str> = ["login"].iter().chain(args).copied().collect();
        let mut child = ibkey_command(home, server, &args)
            .spawn()
            .expect("ibkey login runs");
        let stdout = child.stdout.take().expect("stdout");
        LoginPage {
            child,
            lines: std::io::BufRead::lines(std::io::BufReader::new(stdout)),
        }
    }

    /// The first output line that `pick` accepts, picked apart.
    fn read<T>(&mut self, pick: impl Fn(&str) -> Option<T>) -> T {
        for line in self.lines.by_ref() {
            if let Some(found) = pick(&line.expect("a line")) {
                return found;
            }
        }
        panic!("ibkey login ended without the expected line");
    }

    /// Types `text` into the login page (its standard input).
    fn type_in(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write");
        stdin.flush().expect("flush");
    }

    /// Waits for the login page to end; gives whether it succeeded and the rest of its output.
    fn finish(mut self) -> (bool, String) {
        let rest: Vec<String> = self.lines.by_ref().map_while(Result::ok).collect();
        let status = self.child.wait().expect("ibkey login ends");
        (status.success(), rest.join("\n"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_go_through_by_approval_and_by_challenge_response_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start_server(dir.path()).await;
    let url = server.url();
    // The server's data is elsewhere: its key is given with --server-key.
    let key = ibkey_protocol::encoding::b64(&server.public_key());
    let home = dir.path().join("home");
    tokio::task::spawn_blocking(move || {
        let ticket = ibkey(&home, &url, &["ticket", "--user", "alice"], "");
        let session_id = session_id_of(&ticket);
        let activate = ["activate", "--session-id", &session_id, "--pin-stdin"];
        let unchecked = ibkey(&home, &url, &activate, "4829\n");
        assert_eq!(unchecked.status.code(), Some(1));
        let stderr = text(&unchecked.stderr);
        assert!(
            stderr.contains("error [ACT_SERVER_KEY_NOT_CONFIGURED]")
                && stderr.contains("--server-key"),
            "{stderr}"
        );
        let activated = ibkey(
            &home,
            &url,
            &[&activate[..], &["--server-key", &key]].concat(),
            "4829\n",
        );
        assert!(activated.status.success(), "{}", text(&activated.stderr));

        // The login page shows the number; the phone picks it and approves with the PIN.
        let mut page = LoginPage::start(&home, &url, &["--user", "alice"]);
        let number = page.read(|line| {
            let (_, tail) = line.split_once("pick the number ")?;
            Some(tail.trim_end_matches('.').to_string())
        });
        let approved = ibkey(
            &home,
            &url,
            &[
                "approve",
                "--number",
                &number,
                "--pin-stdin",
                "--server-key",
                &key,
            ],
            "4829\n",
        );
        assert!(approved.status.success(), "{}", text(&approved.stderr));
        assert!(text(&approved.stdout).contains("Login for alice to Client Portal"));
        assert!(text(&approved.stdout).contains("approved"));
        let (ok, output) = page.finish();
        assert!(ok, "the login page: {output}");
        assert!(output.contains("Login approved"), "{output}");

        // Offline: the challenge typed into the phone, the response typed back.
        let mut page = LoginPage::start(&home, &url, &["--user", "alice", "--offline"]);
        let challenge = page.read(|line| {
            let (_, tail) = line.split_once("Challenge for alice: ")?;
            tail.get(..7).map(str::to_string)
        });
        let responded = ibkey(
            &home,
            &url,
            &["respond", "alice", &challenge, "--pin-stdin"],
            "4829\n",
        );
        assert!(responded.status.success(), "{}", text(&responded.stderr));
        let response = text(&responded.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Response for alice: ").map(str::to_string))
            .expect("a response line");
        page.type_in(&format!("{response}\n"));
        let (ok, output) = page.finish();
        assert!(ok, "the offline login page: {output}");

        // The same response again does not log in.
        let mut page = LoginPage::start(&home, &url, &["--user", "alice", "--offline"]);
        page.read(|line| line.contains("Challenge for alice: ").then_some(()));
        page.type_in("0000 0000\n");
        let (ok, _) = page.finish();
        assert!(!ok, "a wrong response logged in");
    })
    .await
    .expect("join");
}

#[test]
fn otp_prints_the_code_of_a_uri_and_explains_a_bad_one() {
    let home = tempfile::tempdir().expect("temp dir");
    // RFC 6238 Appendix B, SHA-1, T = 59.
    let uri = "otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8";
    let good = ibkey(
        home.path(),
        "http://127.0.0.1:9",
        &["otp", uri, "--time", "59"],
        "",
    );
    assert!(good.status.success(), "{}", text(&good.stderr));
    assert!(
        text(&good.stdout).starts_with("94287082"),
        "{}",
        text(&good.stdout)
    );

    let bad = ibkey(
        home.path(),
        "http://127.0.0.1:9",
        &[
            "otp",
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBV&digits=10",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(1));
    let message = text(&bad.stderr);
    assert!(message.contains("error [OTP_"), "{message}");
    assert!(
        !message.contains("GEZDGNBV"),
        "the secret is shown: {message}"
    );
}
