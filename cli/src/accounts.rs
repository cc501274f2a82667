//! The commands that act as the phone and manage its users: `ibkey activate`, `ibkey users`
//! and `ibkey remove`, and how an activation's outcome reads.

use std::path::Path;

use ibkey_core::activation::ActivationOutcome;
use ibkey_core::{scan, Authenticator};

use crate::failure::Failure;
use crate::files::read_file;
use crate::format::format_utc;

/// `ibkey activate`.
pub async fn activate(
    authenticator: &Authenticator,
    qr: Option<&Path>,
    session_id: Option<&str>,
) -> Result<(), Failure> {
    let outcome = match (qr, session_id) {
        (Some(image), _) => {
            let payload = read_qr_image(image)?;
            authenticator.activate_from_qr(&payload).await?
        }
        (None, Some(typed)) => authenticator.activate_with_session_id(typed).await?,
        (None, None) => return Err(Failure::cli("give --qr IMAGE or --session-id ID")),
    };
    println!("{}", describe_outcome(&outcome));
    Ok(())
}

/// The text of the QR code in an image file.
pub fn read_qr_image(image: &Path) -> Result<String, Failure> {
    Ok(scan::decode_image(&read_file(image)?)?)
}

/// One line saying how an activation ended.
pub fn describe_outcome(outcome: &ActivationOutcome) -> String {
    match outcome {
        ActivationOutcome::Activated { account } => {
            format!(
                "Activated: {} is now enrolled on this device.",
                account.username
            )
        }
        ActivationOutcome::Moved { account, replaced } => format!(
            "Moved: {} is now enrolled on this device; {} no longer approve{} their logins.",
            account.username,
            replaced
                .iter()
                .map(|name| format!("'{name}'"))
                .collect::<Vec<_>>()
                .join(", "),
            if replaced.len() == 1 { "s" } else { "" }
        ),
        ActivationOutcome::AlreadyActivatedWithThisCode { account } => format!(
            "This code activated {} on this device a moment ago; nothing more to do.",
            account.username
        ),
    }
}

/// `ibkey users`.
pub fn users(authenticator: &Authenticator) -> Result<(), Failure> {
    for notice in authenticator.take_move_notices()? {
        println!("{}", notice.message);
    }
    let accounts = authenticator.accounts()?;
    if accounts.is_empty() {
        println!("No users are enrolled on this device. Add one with `ibkey activate`.");
        return Ok(());
    }
    println!("{:<24} {:<24} SERVER", "USER", "ENROLLED (UTC)");
    for account in accounts {
        println!(
            "{:<24} {:<24} {}",
            account.username,
            format_utc(account.enrolled_at),
            account.server_url
        );
    }
    Ok(())
}

/// `ibkey remove`.
pub async fn remove(authenticator: &Authenticator, user: &str) -> Result<(), Failure> {
    let account = authenticator.remove_account(user).await?;
    println!(
        "Removed {} from this device and revoked its key on the server.",
        account.username
    );
    Ok(())
}
