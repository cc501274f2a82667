//! A phone with an account for the login approval tests: enrolled by the real activation
//! protocol, it pulls its open challenges and signs decisions as IB Key does; or an account
//! with offline codes ([`Account`]), whose secret was agreed at activation.

use ibkey_protocol::activation::{verify_token, CompleteResponse, ReceiptClaims, TicketClaims};
use ibkey_protocol::approval::{
    decision_message, device_request_message, ChallengeClaims, DecideRequest, Decision,
    PendingRequest, PendingResponse, TimeClaims, PENDING_PURPOSE,
};

use ibkey_protocol::offline::{parse_challenge, response, OfflineChallenge, SECRET_LEN};

use super::{offline_secret, Device, Harness, Reply};

/// A phone with one account: its key and credential (the test picks the counter it signs
/// with).
pub struct Phone {
    /// The phone and its key.
    pub device: Device,
    /// The account's credential.
    pub credential_id: String,
}

impl Phone {
    /// The signed request that pulls its open challenges, issued at `issued_at`.
    pub fn pending_request(&self, issued_at: i64) -> PendingRequest {
        PendingRequest {
            credential_id: self.credential_id.clone(),
            issued_at,
            signature: self.device.sign(&device_request_message(
                PENDING_PURPOSE,
                &self.credential_id,
                issued_at,
                "",
            )),
        }
    }

    /// A decision about `challenge`, signed as the app signs it.
    pub fn decision(
        &self,
        challenge: &ChallengeClaims,
        decision: Decision,
        number: Option<u8>,
        counter: u64,
    ) -> DecideRequest {
        let digest = challenge.ctx.digest();
        DecideRequest {
            challenge_id: challenge.id.clone(),
            credential_id: self.credential_id.clone(),
            decision,
            number,
            context_digest: digest.clone(),
            counter,
            signature: self.device.sign(&decision_message(
                &challenge.id,
                &challenge.non,
                &challenge.srv,
                &challenge.usr,
                decision,
                number,
                &digest,
                counter,
            )),
        }
    }
}

impl Harness {
    /// Activates a phone for `user` with an agreement key; checks the server's answer.
    pub async fn enroll_offline(&self, user: &str, device_id: &str) -> Account {
        let ticket = self.ticket_for(user).await;
        let device = Device::new(device_id);
        let (request, private) = device.complete_request_with_agreement(&ticket.qr_payload);
        let complete: CompleteResponse =
            self.post("/v1/activation/complete", &request).await.parse();
        let receipt: ReceiptClaims =
            verify_token(&complete.receipt, &self.server.public_key()).expect("receipt");
        let server_key = complete
            .agreement_key
            .expect("the server answers an agreement key");
        let secret = offline_secret(private, &server_key, &receipt.cid);
        Account {
            user: user.to_string(),
            device,
            credential_id: receipt.cid,
            secret,
        }
    }

    /// Enrolls a new phone for `user` with the real activation protocol.
    pub async fn enroll(&self, user: &str, device_id: &str) -> Phone {
        self.enroll_device(user, Device::new(device_id)).await
    }

    /// Enrolls `device` for `user` with the real activation protocol.
    pub async fn enroll_device(&self, user: &str, device: Device) -> Phone {
        let ticket = self.ticket_for(user).await;
        verify_token::<TicketClaims>(&ticket.qr_payload, &self.server.public_key())
            .expect("ticket");
        let complete: CompleteResponse = self.complete(&device, &ticket.qr_payload).await.parse();
        let receipt: ReceiptClaims =
            verify_token(&complete.receipt, &self.server.public_key()).expect("receipt");
        Phone {
            device,
            credential_id: receipt.cid,
        }
    }

    /// Pulls the phone's open challenges, checking the signed time.
    pub async fn pull(&self, phone: &Phone) -> Vec<ChallengeClaims> {
        let issued_at = self.now();
        let reply: PendingResponse = self
            .post("/v1/challenges/pending", &phone.pending_request(issued_at))
            .await
            .parse();
        let time: TimeClaims =
            verify_token(&reply.time, &self.server.public_key()).expect("time verifies");
        assert_eq!(time.cid, phone.credential_id);
        assert_eq!(time.req, issued_at);
        assert!((time.now - self.now()).abs() <= 2, "{time:?}");
        reply
            .challenges
            .iter()
            .map(|token| self.challenge(token))
            .collect()
    }

    /// The claims of a signed challenge, verified with the server key.
    pub fn challenge(&self, token: &str) -> ChallengeClaims {
        verify_token(token, &self.server.public_key()).expect("challenge verifies")
    }

    /// Sends a decision.
    pub async fn decide(&self, request: &DecideRequest) -> Reply {
        self.post("/v1/challenges/decide", request).await
    }
}

/// The one challenge a phone has open.
pub async fn only_challenge(h: &Harness, phone: &Phone) -> ChallengeClaims {
    let mut open = h.pull(phone).await;
    assert_eq!(open.len(), 1, "{open:?}");
    open.remove(0)
}

/// A phone's account with offline codes: its key, credential and per-account secret.
pub struct Account {
    /// The account's user.
    pub user: String,
    /// The phone and its key.
    pub device: Device,
    /// The account's credential.
    pub credential_id: String,
    /// The per-account secret of offline codes.
    pub secret: [u8; SECRET_LEN],
}

impl Account {
    /// The phone's response to the challenge the login page shows.
    pub fn response(&self, shown: &OfflineChallenge) -> String {
        let challenge = parse_challenge(&shown.challenge).expect("a well-formed challenge");
        response(&self.secret, &self.user, &challenge)
    }
}
