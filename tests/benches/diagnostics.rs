//! Diagnostics figures on loopback against the real reference server:
//!
//! - the size of a bundle after a heavy day of extended logging: 140 user flows (20 rounds
//!   of: an activation by QR code, a mistyped session ID, an activation by session ID, the
//!   used code again, an unknown code, two removals), every exchange traced, printed before
//!   the benchmarks run;
//! - the time to build that bundle, and to upload it and a 4 MiB bundle (256 KiB chunks,
//!   server-side check, store and fsync included).

// Bench set-up fails fast, and criterion's macros generate undocumented items.
#![allow(missing_docs, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use ibkey_core::activation::SessionId;
use ibkey_core::diagnostics::{
    AppInfo, BundleRequest, Diagnostics, DiagnosticsConfig, DiagnosticsServices, FileKind, LogMode,
    Screenshot, SendOutcome, Sleeper,
};
use ibkey_core::platform::{HttpTransport, ReqwestTransport, SystemClock};
use ibkey_e2e::{incompressible_bytes, noisy_png, World};

struct NoWait;

#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _millis: u64) {}
}

fn diagnostics(dir: &std::path::Path, url: &str) -> Diagnostics {
    Diagnostics::open(
        DiagnosticsConfig::new(
            dir,
            url,
            AppInfo {
                app_name: "bench".into(),
                app_version: "1".into(),
                platform: "desktop".into(),
                os_version: "linux".into(),
                device_model: "bench".into(),
            },
        ),
        DiagnosticsServices {
            clock: Arc::new(SystemClock),
            http: Arc::new(ReqwestTransport::new().expect("http")),
            sleeper: Arc::new(NoWait),
        },
    )
    .expect("diagnostics")
}

/// A heavy day: 140 flows with the extended log on.
async fn a_day_of_flows(world: &World, diag: &Diagnostics) {
    let wrap = {
        let diag = diag.clone();
        Arc::new(move |inner: Arc<dyn HttpTransport>| diag.recording_transport(inner))
    };
    let phone = world.phone_with_http("day-phone", wrap);
    phone.user.set_standing_pin(Some("5938271604"));
    let random_id = || {
        SessionId::generate(&ring::rand::SystemRandom::new())
            .expect("random")
            .grouped()
    };
    for i in 0..20 {
        // Activation by QR, the same QR again, a second user by session ID with a typo
        // first, the used code, an unknown code, then both removed.
        let a = world.ticket(&format!("qr{i}")).await;
        let _ = phone.auth.activate_from_qr(&a.qr_payload).await;
        let b = world.ticket(&format!("sid{i}")).await;
        let typo = b.session_id.replace(&b.session_id[5..6], "Z");
        let _ = phone.auth.activate_with_session_id(&typo).await;
        let _ = phone.auth.activate_with_session_id(&b.session_id).await;
        let _ = phone.auth.activate_with_session_id(&b.session_id).await;
        let _ = phone.auth.activate_with_session_id(&random_id()).await;
        let _ = phone.auth.remove_account(&format!("qr{i}")).await;
        let _ = phone.auth.remove_account(&format!("sid{i}")).await;
    }
}

fn figures(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let world = runtime.block_on(World::start_with(|c| {
        c.guesses_per_minute_per_client = 1000;
        c.guesses_per_minute_total = 1000;
    }));
    let url = world.url();
    let diag = diagnostics(&world.dir.path().join("day"), &url);
    diag.set_log_mode(LogMode::Extended).expect("mode");
    {
        let _log = diag.set_thread_default();
        let started = Instant::now();
        runtime.block_on(a_day_of_flows(&world, &diag));
        println!("a day of 140 flows ran in {:?}", started.elapsed());
    }
    let day_request = BundleRequest {
        comment: "a day of extended logging".into(),
        username: Some("qr0".into()),
        screenshots: vec![],
        days: 1,
        include_network_trace: true,
    };
    let bundle = diag.prepare_bundle(&day_request).expect("bundle");
    let size_of = |kind: FileKind| -> u64 {
        bundle
            .preview()
            .files
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.size)
            .sum()
    };
    println!(
        "day of extended logging: log {} B, network.har {} B ({} entries), zip {} B",
        size_of(FileKind::Log),
        size_of(FileKind::NetworkTrace),
        std::fs::read_dir(diag.logs_dir())
            .expect("logs")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("network-"))
            .map(|e| std::fs::read_to_string(e.path())
                .expect("read")
                .lines()
                .count())
            .sum::<usize>(),
        bundle.preview().total_bytes
    );

    let mut group = c.benchmark_group("diagnostics");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("prepare_day_bundle", |b| {
        b.iter(|| diag.prepare_bundle(&day_request).expect("bundle"))
    });

    // Incompressible pixels, like a photo: the bundle stays about 4 MiB.
    let noise = incompressible_bytes(4 * 1024 * 1024);
    let big_shot = noisy_png(1024, &noise);
    let uploader = diagnostics(&world.dir.path().join("upload"), &url);
    for (name, request) in [
        ("upload_day_bundle_loopback", day_request.clone()),
        (
            "upload_4mib_bundle_loopback",
            BundleRequest {
                screenshots: vec![Screenshot {
                    name: "big.png".into(),
                    bytes: big_shot.clone(),
                }],
                ..BundleRequest::default()
            },
        ),
    ] {
        let source = if name.contains("day") {
            &diag
        } else {
            &uploader
        };
        let size = source
            .prepare_bundle(&request)
            .expect("bundle")
            .preview()
            .total_bytes;
        println!("{name}: bundle of {size} B");
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let bundles: Vec<_> = (0..iterations)
                    .map(|_| source.prepare_bundle(&request).expect("bundle"))
                    .collect();
                let uploader = &uploader;
                async move {
                    let mut total = Duration::ZERO;
                    for bundle in bundles {
                        let start = Instant::now();
                        let outcome = uploader.send(&bundle, None).await.expect("send");
                        total += start.elapsed();
                        assert!(matches!(outcome, SendOutcome::Sent { .. }));
                    }
                    total
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, figures);
criterion_main!(benches);
