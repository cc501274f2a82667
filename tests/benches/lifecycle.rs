//! A phone's later life on loopback: a move to a new phone (the code typed on the portal is
//! traded for the move ticket, which the new phone activates, replacing the old one) and the
//! notification doctor's run, with PIN hashing turned down so the figures show everything
//! else. Enrolling the user on the old phone and sending the code are outside the timed part.

// Bench set-up fails fast, and criterion's macros generate undocumented items.
#![allow(missing_docs, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ibkey_core::activation::ActivationOutcome;
use ibkey_core::lifecycle::NotificationSettings;
use ibkey_e2e::World;
use ibkey_server::portal_client::PortalClient;
use ibkey_server::DEMO_PORTAL_PASSWORD;

fn lifecycle(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let world = runtime.block_on(World::start());
    let old = world.phone_with_cheap_pin("old-phone");
    let new = world.phone_with_cheap_pin("new-phone");
    old.user.set_standing_pin(Some("4829"));
    new.user.set_standing_pin(Some("4829"));
    let mut counter = 0u64;
    let mut group = c.benchmark_group("lifecycle_loopback");
    group.sample_size(20);
    group.bench_function("move_to_new_phone", |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let mut names = Vec::new();
            for _ in 0..iterations {
                counter += 1;
                names.push(format!("mover{counter}"));
            }
            let (world, old, new) = (&world, &old, &new);
            async move {
                let mut total = Duration::ZERO;
                for name in names {
                    let ticket = world.ticket(&name).await;
                    old.auth
                        .activate_from_qr(&ticket.qr_payload)
                        .await
                        .expect("enrolled on the old phone");
                    let portal = PortalClient::sign_in(&world.url(), &name, DEMO_PORTAL_PASSWORD)
                        .await
                        .expect("sign-in");
                    portal.start_move().await.expect("code sent");
                    let code = ibkey_server::recorded_out_of_band(&world.dir.path().join("server"))
                        .expect("codes")
                        .into_iter()
                        .rev()
                        .find(|m| m.username == name)
                        .expect("code")
                        .code;
                    let start = Instant::now();
                    let ticket = portal.confirm_move(&code).await.expect("move ticket");
                    let outcome = new.auth.activate_from_qr(&ticket.qr_payload).await;
                    total += start.elapsed();
                    assert!(matches!(outcome, Ok(ActivationOutcome::Moved { .. })));
                }
                total
            }
        })
    });
    let doctor = runtime.block_on(async {
        let phone = world.phone_with_cheap_pin("doctor-phone");
        world.enroll(&phone, &["dora"]).await;
        phone
    });
    group.bench_function("notification_doctor_one_account", |b| {
        b.to_async(&runtime).iter(|| async {
            let settings = NotificationSettings {
                platform: "android".into(),
                ..NotificationSettings::default()
            };
            doctor
                .auth
                .notification_doctor(settings, None)
                .await
                .expect("report")
        })
    });
    group.finish();
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);
