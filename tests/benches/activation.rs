//! One activation on loopback, end to end (lookup or scan → key → register → store), with
//! PIN hashing turned down so the figure shows everything else. The portal's ticket is made
//! outside the timed part.

// Bench set-up fails fast, and criterion's macros generate undocumented items.
#![allow(missing_docs, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ibkey_core::activation::ActivationOutcome;
use ibkey_e2e::World;

fn activation(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let world = runtime.block_on(World::start());
    let phone = world.phone_with_cheap_pin("bench-phone");
    phone.user.set_standing_pin(Some("4829"));
    let mut counter = 0u64;
    let mut group = c.benchmark_group("activation_loopback");
    group.sample_size(30);
    for route in ["qr_payload", "session_id"] {
        group.bench_function(route, |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let mut names = Vec::new();
                for _ in 0..iterations {
                    counter += 1;
                    names.push(format!("user{counter}"));
                }
                let (world, phone) = (&world, &phone);
                async move {
                    let mut total = Duration::ZERO;
                    for name in names {
                        let ticket = world.ticket(&name).await;
                        let start = Instant::now();
                        let outcome = if route == "qr_payload" {
                            phone.auth.activate_from_qr(&ticket.qr_payload).await
                        } else {
                            phone
                                .auth
                                .activate_with_session_id(&ticket.session_id)
                                .await
                        };
                        total += start.elapsed();
                        assert!(matches!(outcome, Ok(ActivationOutcome::Activated { .. })));
                    }
                    total
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, activation);
criterion_main!(benches);
