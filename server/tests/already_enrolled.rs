//! `POST /v1/activation/already-enrolled`: a phone that refused an activation code because it
//! already holds the code's user reports it, signed by that account's device key, and the
//! activation page turns to "already enrolled". Only the enrolled device's key can make the
//! page say so: another key, another user's credential or a ticket this server did not issue
//! are refused, each with its code, and change nothing.

#![allow(clippy::expect_used)]

mod support;

use ibkey_protocol::activation::{
    already_enrolled_message, codes, AlreadyEnrolledRequest, CompleteResponse,
};
use ibkey_protocol::approval::codes as approval_codes;
use reqwest::StatusCode;
use support::browser::{ticket_of, Browser};
use support::{harness, ticket_claims_unverified, Device, Harness, Reply};

/// Enrolls `device` for `user` with a fresh ticket; the new credential's id.
async fn enrolled(h: &Harness, device: &Device, user: &str) -> String {
    let ticket = h.ticket_for(user).await;
    h.complete(device, &ticket.qr_payload)
        .await
        .parse::<CompleteResponse>();
    h.devices(user)
        .await
        .into_iter()
        .find(|d| d.device_id == device.id)
        .expect("the enrolled device")
        .credential_id
}

/// The report that `credential_id`'s device holds the user of `ticket`, signed by `signer`,
/// dated `issued_at`.
fn report(
    ticket: &str,
    credential_id: &str,
    issued_at: i64,
    signer: &Device,
) -> AlreadyEnrolledRequest {
    let sid = ticket_claims_unverified(ticket).sid;
    AlreadyEnrolledRequest {
        ticket: ticket.to_string(),
        credential_id: credential_id.to_string(),
        issued_at,
        signature: signer.sign(&already_enrolled_message(&sid, credential_id, issued_at)),
    }
}

/// Sends `request` to the endpoint.
async fn send(h: &Harness, request: &AlreadyEnrolledRequest) -> Reply {
    h.post("/v1/activation/already-enrolled", request).await
}

#[tokio::test]
async fn a_report_signed_by_the_users_device_key_turns_the_page_to_already_enrolled() {
    let h = harness().await;
    let phone = Device::new("install-1");
    let credential = enrolled(&h, &phone, "alice").await;
    let mut browser = Browser::new(&h);
    let page = browser.activation_page("alice").await;
    let ticket = ticket_of(&h, &page).await;
    let mut events = browser.events(&page).await;
    assert_eq!(events.next_state().await.0, "waiting");

    let reply = send(&h, &report(&ticket, &credential, h.now(), &phone)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(
        events.next_state().await,
        (
            "already_enrolled".to_string(),
            "alice is already enrolled on that device.".to_string()
        )
    );

    // The ticket was neither used nor changed: the session ID still gives it.
    assert_eq!(ticket_of(&h, &page).await, ticket);
    h.server.shutdown().await;
}

#[tokio::test]
async fn reports_without_the_enrolled_devices_key_are_refused_and_change_nothing() {
    let h = harness().await;
    let phone = Device::new("install-1");
    let alice = enrolled(&h, &phone, "alice").await;
    let bobs_phone = Device::new("install-9");
    let bob = enrolled(&h, &bobs_phone, "bob").await;
    let other = harness().await;
    let foreign = other.ticket_for("alice").await.qr_payload;
    let mut browser = Browser::new(&h);
    let page = browser.activation_page("alice").await;
    let ticket = ticket_of(&h, &page).await;
    let now = h.now();

    let mut bad_base64 = report(&ticket, &alice, now, &phone);
    bad_base64.signature = "not base64!".into();
    let cases = [
        // Another key, for alice's credential.
        (
            report(&ticket, &alice, now, &Device::new("intruder")),
            StatusCode::BAD_REQUEST,
            codes::BAD_SIGNATURE,
        ),
        (bad_base64, StatusCode::BAD_REQUEST, codes::BAD_SIGNATURE),
        // Bob's own phone, signing for bob's credential on alice's code.
        (
            report(&ticket, &bob, now, &bobs_phone),
            StatusCode::BAD_REQUEST,
            codes::CREDENTIAL_USER_MISMATCH,
        ),
        // A ticket from another server, for alice.
        (
            report(&foreign, &alice, now, &phone),
            StatusCode::BAD_REQUEST,
            codes::TICKET_NOT_OURS,
        ),
        (
            report(&ticket, "no-such-credential", now, &phone),
            StatusCode::NOT_FOUND,
            codes::CREDENTIAL_UNKNOWN,
        ),
        (
            report(&ticket, &alice, now - 301, &phone),
            StatusCode::BAD_REQUEST,
            approval_codes::CLOCK_SKEW,
        ),
    ];
    for (request, status, code) in &cases {
        send(&h, request).await.refused(*status, code);
    }
    // A report signed over another session ID does not verify either.
    let mut replayed = report(&foreign, &alice, now, &phone);
    replayed.ticket = ticket.clone();
    send(&h, &replayed)
        .await
        .refused(StatusCode::BAD_REQUEST, codes::BAD_SIGNATURE);

    let mut events = browser.events(&page).await;
    assert_eq!(events.next_state().await.0, "waiting", "nothing changed");
    assert_eq!(ticket_of(&h, &page).await, ticket);
    other.server.shutdown().await;
    h.server.shutdown().await;
}
