//! What a crowd of clients or a holder of a signed ticket can do against the real server on
//! loopback: a crowd of 1,000 addresses guessing session IDs cannot stop an honest activation
//! (and gets its guesses counted per address, per network and overall), and a completion is
//! checked against the server's record of its ticket.

// Tests may `expect`: a failed expectation is a failed test.
#![allow(clippy::expect_used)]

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use ibkey_protocol::activation::{
    codes, sign_token, CompleteResponse, LookupResponse, TicketClaims,
};
use ibkey_server::{ServerConfig, KEY_FILE};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use support::{
    client_from, harness, ticket_claims_unverified, unknown_session_id, Device, Harness,
};
use tokio::task::JoinSet;

/// The attacking addresses: 127.10.n.h for 40 networks n (/24) of 25 hosts h each.
const CROWD: u16 = 1000;
/// Addresses of the crowd in one /24.
const HOSTS_PER_NETWORK: u16 = 25;
/// How many attacking addresses guess at the same time.
const IN_FLIGHT: usize = 100;
/// The crowd guesses this often within a minute, [`STEP_SECONDS`] apart on the server's
/// clock. The steps of a minute stay within the same one-minute window as long as running
/// them takes less than the rest of the minute (40 seconds) of real time.
const STEPS_PER_MINUTE: u64 = 3;
/// Seconds between the crowd's steps within a minute.
const STEP_SECONDS: u64 = 10;

/// The crowd: an HTTP client from each of [`CROWD`] addresses of 127.0.0.0/8.
fn crowd() -> Vec<reqwest::Client> {
    (0..CROWD)
        .map(|i| {
            let network = u8::try_from(i / HOSTS_PER_NETWORK).expect("network");
            let host = u8::try_from(i % HOSTS_PER_NETWORK + 1).expect("host");
            client_from(IpAddr::V4(Ipv4Addr::new(127, 10, network, host)))
        })
        .collect()
}

/// Every attacker guesses wrong session IDs until it is refused (at most one more time than
/// a client may guess per minute): how many guesses each had answered.
async fn hammer(h: &Arc<Harness>, crowd: &[reqwest::Client], per_client: u32) -> Vec<u32> {
    let mut answered = vec![0u32; crowd.len()];
    for (batch, attackers) in crowd.chunks(IN_FLIGHT).enumerate() {
        let mut tasks = JoinSet::new();
        for (i, client) in attackers.iter().enumerate() {
            let (h, client) = (h.clone(), client.clone());
            tasks.spawn(async move {
                let mut count = 0;
                for _ in 0..=per_client {
                    let reply = h.lookup_with(&client, &unknown_session_id()).await;
                    match reply.status {
                        StatusCode::NOT_FOUND => count += 1,
                        StatusCode::TOO_MANY_REQUESTS => break,
                        other => panic!("a wrong guess answered {other} {}", reply.body),
                    }
                }
                (batch * IN_FLIGHT + i, count)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (index, count) = done.expect("attacker task");
            answered[index] = count;
        }
    }
    answered
}

/// An honest phone at `http` types the session ID of its user's ticket and activates.
async fn activate_by_session_id(h: &Harness, http: &reqwest::Client, user: &str, device: &str) {
    let ticket = h.ticket_for(user).await;
    let found: LookupResponse = h.lookup_with(http, &ticket.session_id).await.parse();
    assert_eq!(found.ticket, ticket.qr_payload);
    let _: CompleteResponse = h
        .complete(&Device::new(device), &found.ticket)
        .await
        .parse();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_1000_addresses_cannot_stop_an_honest_activation() {
    let h = Arc::new(harness().await);
    let limits = ServerConfig::default();
    let crowd = crowd();
    let carol = h.ticket_for("carol").await;
    let mut minutes = Vec::new();
    for minute in 0..2 {
        let mut answered = vec![0u32; crowd.len()];
        for step in 0..STEPS_PER_MINUTE {
            // In the middle of the second minute, with the crowd's budgets long spent, honest
            // phones activate while the crowd guesses: one on another network, one on a
            // network of the crowd.
            let honest = (minute == 1 && step == 1).then(|| {
                let h = h.clone();
                tokio::spawn(async move {
                    activate_by_session_id(&h, &h.http, "alice", "alice-phone").await;
                    let neighbour = client_from(IpAddr::V4(Ipv4Addr::new(127, 10, 0, 200)));
                    activate_by_session_id(&h, &neighbour, "bob", "bob-phone").await;
                })
            });
            let counts = hammer(&h, &crowd, limits.guesses_per_minute_per_client).await;
            for (sum, count) in answered.iter_mut().zip(counts) {
                *sum += count;
            }
            if let Some(honest) = honest {
                honest.await.expect("the honest activations succeed");
                // A refused attacker holding a right session ID learns nothing from it.
                let reply = h.lookup_with(&crowd[0], &carol.session_id).await;
                assert_eq!(
                    reply.status,
                    StatusCode::TOO_MANY_REQUESTS,
                    "{}",
                    reply.body
                );
            }
            let last = step + 1 == STEPS_PER_MINUTE;
            h.clock.advance(Duration::from_secs(if last {
                60 - STEP_SECONDS * (STEPS_PER_MINUTE - 1)
            } else {
                STEP_SECONDS
            }));
        }
        minutes.push(answered);
    }
    assert_eq!(h.devices("alice").await.len(), 1);
    assert_eq!(h.devices("bob").await.len(), 1);

    // The figures: wrong guesses answered per minute, to each address and in total.
    for (minute, answered) in minutes.iter().enumerate() {
        let total: u32 = answered.iter().sum();
        let (fewest, most) = (
            answered.iter().copied().min().unwrap_or(0),
            answered.iter().copied().max().unwrap_or(0),
        );
        println!(
            "minute {minute}: {total} wrong guesses answered to {CROWD} addresses ({:.2} per address, {fewest} to {most})",
            f64::from(total) / f64::from(CROWD)
        );
        assert!(
            total <= limits.guesses_per_minute_total + u32::from(CROWD),
            "minute {minute}: {total} answered"
        );
        assert!(
            most <= limits.guesses_per_minute_per_client,
            "minute {minute}: {most}"
        );
        assert!(fewest >= 1, "every address is answered while clean");
    }
}

#[tokio::test]
async fn completion_checks_the_ticket_against_the_servers_record() {
    let h = harness().await;
    let ticket = h.ticket_for("alice").await;
    let claims = ticket_claims_unverified(&ticket.qr_payload);
    // Tickets signed with the server's own key (as another server sharing the key, or an
    // older copy of the database, would issue) that this server's record does not back.
    let rng = SystemRandom::new();
    let pkcs8 = std::fs::read(h.dir.path().join(KEY_FILE)).expect("server key file");
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
        .expect("server key");
    let forged = [
        (
            TicketClaims {
                usr: "mallory".into(),
                ..claims.clone()
            },
            codes::TICKET_USER_MISMATCH,
        ),
        (
            TicketClaims {
                exp: claims.exp + 86_400,
                ..claims.clone()
            },
            codes::TICKET_EXPIRY_MISMATCH,
        ),
        (
            TicketClaims {
                iat: claims.iat - 1,
                ..claims.clone()
            },
            codes::TICKET_MISMATCH,
        ),
        (
            TicketClaims {
                srv: "http://elsewhere.example".into(),
                ..claims.clone()
            },
            codes::TICKET_MISMATCH,
        ),
    ];
    let phone = Device::new("install-1");
    for (claims, code) in forged {
        let presented = sign_token(&claims, &key, &rng).expect("sign");
        h.complete(&phone, &presented)
            .await
            .refused(StatusCode::BAD_REQUEST, code);
    }
    // None of them enrolled anyone or used the ticket.
    assert!(h.devices("mallory").await.is_empty());
    let _: CompleteResponse = h.complete(&phone, &ticket.qr_payload).await.parse();
    assert_eq!(h.devices("alice").await.len(), 1);
    h.server.shutdown().await;
}
