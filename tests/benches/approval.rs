//! One login approved on loopback, end to end, with PIN hashing turned down so the figure
//! shows everything else: the login page's password step creates the challenge and its push;
//! the phone reads the push (signature, expiry, account), the user matches the number, the
//! phone signs and sends the decision, and the login page reads "approved". Only reading the
//! push out of the server's outbox table (the stand-in for FCM) is left out of the timing.

// Bench set-up fails fast, and criterion's macros generate undocumented items.
#![allow(missing_docs, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ibkey_e2e::World;
use ibkey_protocol::approval::LoginState;
use ibkey_server::portal_client::PendingLogin;
use ibkey_server::DEMO_PORTAL_PASSWORD;

fn approval(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let world = runtime.block_on(World::start());
    let phone = world.phone_with_cheap_pin("bench-phone");
    phone.user.set_standing_pin(Some("4829"));
    let ticket = runtime.block_on(world.ticket("alice"));
    runtime
        .block_on(phone.auth.activate_from_qr(&ticket.qr_payload))
        .expect("alice activated");
    let server_dir = world.dir.path().join("server");
    let mut group = c.benchmark_group("approval_loopback");
    group.sample_size(30);
    group.bench_function("push_to_approved", |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let (world, phone, server_dir) = (&world, &phone, &server_dir);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let start = Instant::now();
                    let login =
                        PendingLogin::start(&world.url(), "alice", DEMO_PORTAL_PASSWORD, None)
                            .await
                            .expect("login started");
                    total += start.elapsed();
                    let push = ibkey_server::recorded_pushes(server_dir)
                        .expect("outbox")
                        .pop()
                        .expect("a push");
                    let start = Instant::now();
                    let challenge = phone
                        .auth
                        .read_push(push.payload.into_bytes())
                        .await
                        .expect("push read");
                    phone
                        .auth
                        .approve(&challenge, Some(login.started().number))
                        .await
                        .expect("approved");
                    let status = login.status(0).await.expect("status");
                    total += start.elapsed();
                    assert_eq!(status.state, LoginState::Approved);
                }
                total
            }
        })
    });
    group.finish();
}

criterion_group!(benches, approval);
criterion_main!(benches);
