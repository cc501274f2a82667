//! Concurrency: many threads on one authenticator, and several processes on one store, against
//! the real reference server on loopback. No lost update (every user activated and not removed
//! is there; approval counters went up once per approval and the server accepted each: no
//! clone alarm), no deadlock (every thread and process finishes within a bounded wait, else
//! the test names the one that hung), no panic.

// A test stops at the first surprise.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::panic::AssertUnwindSafe;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use ibkey_core::activation::ActivationOutcome;
use ibkey_core::diagnostics::{
    AppInfo, BundleRequest, Diagnostics, DiagnosticsConfig, DiagnosticsServices, SendOutcome,
    ThreadSleeper,
};
use ibkey_core::platform::{FileStore, ReqwestTransport, SecureStore, SystemClock};
use ibkey_e2e::{log_in_with_approval, Phone, World, TEST_PIN};
use ibkey_protocol::encoding::b64;
use ibkey_server::DEMO_PORTAL_PASSWORD;

/// The longest the threads or processes of one test may take together.
const DEADLINE: Duration = Duration::from_secs(90);
/// Approvals per approving thread.
const APPROVALS: u64 = 6;

/// A named job for [`run_threads`].
type Job = (String, Box<dyn FnOnce() -> Result<String, String> + Send>);

/// The approval counter on record for `user`'s account in the store at `store`.
fn counter(store: &dyn SecureStore, credential_id: &str) -> u64 {
    let bytes = store
        .load(format!("approval.{credential_id}"))
        .expect("the approval record reads")
        .unwrap_or_default();
    if bytes.len() < 12 {
        return 0;
    }
    let json: serde_json::Value = serde_json::from_slice(&bytes[12..]).expect("JSON");
    json["counter"].as_u64().unwrap_or(0)
}

/// Runs each job on a thread of its own (each with its own runtime, as an app's threads call
/// the core), waits for all of them until [`DEADLINE`], and returns what each returned.
/// A job that panicked, failed, or did not finish in time fails the test with its name.
fn run_threads(jobs: Vec<Job>) {
    let (tx, rx) = mpsc::channel();
    let names: BTreeSet<String> = jobs.iter().map(|(n, _)| n.clone()).collect();
    for (name, job) in jobs {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(job))
                .unwrap_or_else(|_| Err("panicked".to_string()));
            let _ = tx.send((name, outcome));
        });
    }
    let deadline = Instant::now() + DEADLINE;
    let mut finished = BTreeSet::new();
    while finished.len() < names.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((name, Ok(summary))) => {
                println!("{name}: {summary}");
                finished.insert(name);
            }
            Ok((name, Err(message))) => panic!("thread {name} failed: {message}"),
            Err(_) => {
                let hung: Vec<_> = names.difference(&finished).collect();
                panic!("threads still running after {DEADLINE:?} (deadlock?): {hung:?}");
            }
        }
    }
}

/// The runtime every thread of a test blocks on.
fn runtime() -> &'static tokio::runtime::Runtime {
    // One runtime, with its own workers, for every thread: the authenticator's HTTP client pools
    // connections whose tasks live on the runtime that opened them. With a runtime per thread,
    // a connection opened by a thread that has finished (its runtime dropped, or not driven) is
    // dead to the others ("runtime dropped the dispatch task").
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// `user` signs in to the portal and the phone activates with the ticket's QR code.
async fn activate(world_url: &str, phone: &Phone, user: &str) -> Result<(), String> {
    let ticket =
        ibkey_server::portal_client::PortalClient::sign_in(world_url, user, DEMO_PORTAL_PASSWORD)
            .await
            .map_err(|e| format!("sign-in of {user}: {e}"))?
            .new_ticket()
            .await
            .map_err(|e| format!("ticket of {user}: {e}"))?;
    match phone.auth.activate_from_qr(&ticket.qr_payload).await {
        Ok(ActivationOutcome::Activated { .. }) => Ok(()),
        other => Err(format!("activation of {user}: {other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_threads_on_one_authenticator_lose_nothing_and_all_finish() {
    let world = World::start().await;
    let url = world.url();
    let phone = Arc::new(world.phone("shared"));
    // The PIN is chosen once, at the first activation; the approvers' users exist up front.
    world
        .enroll(&phone, &["first", "ap0", "ap1", "codes0"])
        .await;
    let diag_dir = world.dir.path().join("diagnostics");
    let mut jobs: Vec<Job> = Vec::new();
    for t in 0..2 {
        let (act_phone, act_url) = (phone.clone(), url.clone());
        jobs.push((
            format!("activate{t}"),
            Box::new(move || {
                runtime().block_on(async {
                    for i in 0..4 {
                        activate(&act_url, &act_phone, &format!("act{t}-{i}")).await?;
                    }
                    Ok("4 activated".to_string())
                })
            }),
        ));
        let (ap_phone, ap_url) = (phone.clone(), url.clone());
        jobs.push((
            format!("approve{t}"),
            Box::new(move || {
                runtime().block_on(async {
                    for _ in 0..APPROVALS {
                        log_in_with_approval(&ap_url, &ap_phone.auth, &format!("ap{t}")).await?;
                    }
                    Ok(format!("{APPROVALS} approved"))
                })
            }),
        ));
    }
    let (codes_phone, list_phone) = (phone.clone(), phone.clone());
    jobs.push((
        "codes".into(),
        Box::new(move || {
            runtime().block_on(async {
                for _ in 0..20 {
                    let code = codes_phone
                        .auth
                        .time_code("codes0")
                        .await
                        .map_err(|e| format!("time code: {e}"))?;
                    if code.code.len() != 6 {
                        return Err(format!("a time code of {} digits", code.code.len()));
                    }
                }
                Ok("20 time codes".to_string())
            })
        }),
    ));
    jobs.push((
        "list".into(),
        Box::new(move || {
            let mut most = 0;
            for _ in 0..200 {
                let accounts = list_phone
                    .auth
                    .accounts()
                    .map_err(|e| format!("list: {e}"))?;
                if !accounts.iter().any(|a| a.username == "first") {
                    return Err(format!("the first user is missing from {accounts:?}"));
                }
                most = most.max(accounts.len());
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(format!("200 lists, at most {most} users"))
        }),
    ));
    let (rm_phone, rm_url) = (phone.clone(), url.clone());
    jobs.push((
        "remove".into(),
        Box::new(move || {
            runtime().block_on(async {
                for i in 0..3 {
                    let user = format!("rm{i}");
                    activate(&rm_url, &rm_phone, &user).await?;
                    rm_phone
                        .auth
                        .remove_account(&user)
                        .await
                        .map_err(|e| format!("removal of {user}: {e}"))?;
                }
                Ok("3 activated and removed".to_string())
            })
        }),
    ));
    let diag_url = url.clone();
    jobs.push((
        "diagnostics".into(),
        Box::new(move || {
            let app = AppInfo {
                app_name: "ibkey e2e".into(),
                app_version: "9.9.9".into(),
                platform: "test".into(),
                os_version: "linux".into(),
                device_model: "loopback".into(),
            };
            let diag = Diagnostics::open(
                DiagnosticsConfig::new(&diag_dir, &diag_url, app),
                DiagnosticsServices {
                    clock: Arc::new(SystemClock),
                    http: Arc::new(ReqwestTransport::new().map_err(|e| e.to_string())?),
                    sleeper: Arc::new(ThreadSleeper),
                },
            )
            .map_err(|e| format!("diagnostics: {e}"))?;
            runtime().block_on(async {
                for i in 0..3 {
                    let bundle = diag
                        .prepare_bundle(&BundleRequest {
                            comment: format!("bundle {i} while the phone is busy"),
                            ..BundleRequest::default()
                        })
                        .map_err(|e| format!("bundle: {e}"))?;
                    match diag.send(&bundle, None).await {
                        Ok(SendOutcome::Sent { .. }) => {}
                        other => return Err(format!("upload: {other:?}")),
                    }
                }
                Ok("3 bundles uploaded".to_string())
            })
        }),
    ));
    let started = Instant::now();
    tokio::task::spawn_blocking(move || run_threads(jobs))
        .await
        .expect("the threads");
    println!("{:.1} s", started.elapsed().as_secs_f64());

    // No lost update: every user activated and not removed is there, the removed are gone.
    let accounts = phone.auth.accounts().expect("accounts");
    let names: BTreeSet<&str> = accounts.iter().map(|a| a.username.as_str()).collect();
    let mut expected: BTreeSet<String> = ["first", "ap0", "ap1", "codes0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for t in 0..2 {
        for i in 0..4 {
            expected.insert(format!("act{t}-{i}"));
        }
    }
    let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(names, expected, "the users after the threads");
    // Each approval raised its account's counter once.
    let store = FileStore::open(&phone.store_dir).expect("store");
    for account in accounts.iter().filter(|a| a.username.starts_with("ap")) {
        assert_eq!(
            counter(&store, &account.credential_id),
            APPROVALS,
            "{}'s approval counter",
            account.username
        );
    }
    // The phone still approves: nothing was left locked, no counter was refused.
    log_in_with_approval(&url, &phone.auth, "first")
        .await
        .expect("an approval after the threads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_on_one_store_lose_nothing_and_all_finish() {
    let world = World::start().await;
    let store_dir = world.dir.path().join("shared-store");
    let processes = 3;
    let ops = 10;
    let mut children = Vec::new();
    for p in 0..processes {
        let child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg("--store")
            .arg(&store_dir)
            .args(["--server", &world.url()])
            .args(["--server-key", &b64(&world.server.public_key())])
            .args(["--prefix", &format!("p{p}-")])
            .args(["--seed", &(p + 40).to_string()])
            .args(["--ops", &ops.to_string()])
            .arg("--no-wrong-pins")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("a writer starts");
        children.push(child);
    }
    let (tx, rx) = mpsc::channel();
    for (p, child) in children.iter_mut().enumerate() {
        let stdout = child.stdout.take().expect("piped");
        let tx = tx.clone();
        std::thread::spawn(move || {
            let lines: Vec<String> = BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect();
            let _ = tx.send((p, lines));
        });
    }
    let deadline = Instant::now() + DEADLINE;
    let mut outputs = BTreeMap::new();
    let rx_outputs = tokio::task::spawn_blocking(move || {
        while outputs.len() < processes as usize {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((p, lines)) => {
                    outputs.insert(p, lines);
                }
                Err(_) => break,
            }
        }
        outputs
    })
    .await
    .expect("the readers");
    let mut hung = Vec::new();
    for (p, child) in children.iter_mut().enumerate() {
        if !rx_outputs.contains_key(&p) {
            hung.push(p);
            let _ = child.kill();
        }
        let _ = child.wait();
    }
    assert!(
        hung.is_empty(),
        "writer processes still running after {DEADLINE:?} (deadlock?): {hung:?}"
    );
    let mut expected = BTreeSet::new();
    let mut approvals: BTreeMap<String, u64> = BTreeMap::new();
    for (p, lines) in &rx_outputs {
        assert_eq!(
            lines.last().map(String::as_str),
            Some("done"),
            "writer {p} did not finish: {lines:?}"
        );
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["ack", "enroll", user] => {
                    expected.insert(user.to_string());
                }
                ["ack", "remove", user] => {
                    expected.remove(*user);
                }
                ["ack", "approve", user] => *approvals.entry(user.to_string()).or_default() += 1,
                ["fail", ..] => panic!("writer {p} failed: {line}"),
                _ => {}
            }
        }
    }
    let store = FileStore::open(&store_dir).expect("store");
    let phone = world.phone("shared-store");
    let accounts = phone.auth.accounts().expect("the shared store opens");
    let names: BTreeSet<String> = accounts.iter().map(|a| a.username.clone()).collect();
    assert_eq!(names, expected, "the users after the writers");
    for account in &accounts {
        let done = approvals.get(&account.username).copied().unwrap_or(0);
        assert!(
            counter(&store, &account.credential_id) >= done,
            "{}'s counter is below its {done} approvals",
            account.username
        );
    }
    println!(
        "{processes} processes x {ops} operations: {} users, {} approvals",
        names.len(),
        approvals.values().sum::<u64>()
    );
    // The PIN the first writer chose still opens the phone.
    phone.user.set_standing_pin(Some(TEST_PIN));
    if let Some(user) = names.iter().next() {
        log_in_with_approval(&world.url(), &phone.auth, user)
            .await
            .expect("an approval on the shared store");
    }
}
