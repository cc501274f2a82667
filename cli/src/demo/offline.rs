//! The demo's offline steps: bob's phone has no network; he logs in by challenge/response
//! (the login page's challenge typed into the phone, with a typo caught first, the response
//! typed back), then with a time-based code, which the server accepts once.

use ibkey_core::{Authenticator, ErrorCode};
use ibkey_protocol::approval::LoginState;
use ibkey_server::portal_client::PendingLogin;
use ibkey_server::DEMO_PORTAL_PASSWORD;

use super::Steps;
use crate::failure::Failure;

/// Runs the offline steps for `user`, enrolled on `phone`.
pub async fn run(
    steps: &mut Steps,
    url: &str,
    phone: &Authenticator,
    user: &str,
) -> Result<(), Failure> {
    steps.begin(&format!(
        "{user}'s phone has no network: he logs in by challenge/response"
    ));
    let login = start(url, user).await?;
    let challenge = login
        .offline_challenge()
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    steps.note(&format!(
        "the login page shows the challenge {}",
        challenge.challenge
    ));
    let typo = with_swapped_digits(&challenge.challenge);
    steps.note(&format!(
        "typed into the phone with two digits swapped: {typo}"
    ));
    match phone.respond(user, &typo).await {
        Err(e) => steps.verdict(
            e.code() == "COD_CHALLENGE_MISTYPED",
            &format!("[{}] {e}", e.code()),
        ),
        Ok(_) => steps.verdict(false, "a mistyped challenge was answered"),
    }
    match phone.respond(user, &challenge.challenge).await {
        Ok(answer) => {
            steps.note(&format!(
                "typed again; after the PIN the phone shows {}",
                answer.response
            ));
            let status = login
                .submit_response(&answer.response)
                .await
                .map_err(|e| Failure::cli(e.to_string()))?;
            steps.verdict(
                status.state == LoginState::Approved,
                &format!("login page: {}", status.message),
            );
            let again = login.submit_response(&answer.response).await;
            steps.verdict(
                again.is_err(),
                &format!(
                    "the same response typed again: {}",
                    again.err().map_or("accepted".into(), |e| e.to_string())
                ),
            );
        }
        Err(e) => steps.verdict(false, &format!("[{}] {e}", e.code())),
    }

    steps.begin(&format!(
        "{user} logs in again with the phone's time-based code"
    ));
    let login = start(url, user).await?;
    match phone.time_code(user).await {
        Ok(code) => {
            steps.note(&format!(
                "the phone shows {} ({} s left)",
                code.code, code.seconds_left
            ));
            let status = login
                .submit_time_code(&code.code)
                .await
                .map_err(|e| Failure::cli(e.to_string()))?;
            steps.verdict(
                status.state == LoginState::Approved,
                &format!("login page: {}", status.message),
            );
        }
        Err(e) => steps.verdict(false, &format!("[{}] {e}", e.code())),
    }
    Ok(())
}

/// The login page after `user` typed the test password.
async fn start(url: &str, user: &str) -> Result<PendingLogin, Failure> {
    PendingLogin::start(url, user, DEMO_PORTAL_PASSWORD, None)
        .await
        .map_err(|e| Failure::cli(e.to_string()))
}

/// The challenge with its first two different neighbouring digits swapped (a typo the check
/// digit catches).
fn with_swapped_digits(challenge: &str) -> String {
    let mut digits: Vec<char> = challenge.chars().filter(char::is_ascii_digit).collect();
    if let Some(i) = (0..digits.len().saturating_sub(1)).find(|&i| digits[i] != digits[i + 1]) {
        digits.swap(i, i + 1);
    }
    digits.into_iter().collect()
}
