//! The commands that act as the phone (activate, users, remove) or as the portal and server
//! (ticket, server), over the desktop platform services.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ibkey_core::activation::ActivationOutcome;
use ibkey_core::gate::PinPolicy;
use ibkey_core::platform::{
    FileStore, Platform, ReqwestTransport, SoftwareKeyVault, SystemClock, UserVerifier,
    VerificationMethod,
};
use ibkey_core::{scan, Authenticator, AuthenticatorConfig};
use ibkey_server::portal_client::PortalClient;

use crate::failure::Failure;
use crate::terminal::TerminalVerifier;

/// Where `ibkey server` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8780";
/// The server the device and portal commands talk to unless told otherwise.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8780";
/// The data folder: the one given, else `$XDG_DATA_HOME/ibkey`, else `~/.local/share/ibkey`.
pub fn data_home(given: Option<PathBuf>) -> Result<PathBuf, Failure> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("ibkey"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".local/share/ibkey"))
        .ok_or_else(|| Failure::cli("no data folder: set --data-dir or IBKEY_HOME"))
}

/// The desktop platform services over a store folder.
pub fn desktop_platform(
    store_dir: &Path,
    verifier: Arc<dyn UserVerifier>,
) -> Result<Platform, Failure> {
    let store = Arc::new(FileStore::open(store_dir)?);
    let http = ReqwestTransport::new()
        .map_err(|e| Failure::cli(format!("HTTP client could not start: {e}")))?;
    Ok(Platform {
        keys: Arc::new(SoftwareKeyVault::new(store.clone())),
        store,
        verifier,
        http: Arc::new(http),
        clock: Arc::new(SystemClock),
    })
}

/// The authenticator of this desktop "device", with the PIN read from the terminal or stdin.
pub fn open(home: &Path, server_url: &str, pin_stdin: bool) -> Result<Authenticator, Failure> {
    let mut platform = desktop_platform(
        &home.join("device"),
        Arc::new(TerminalVerifier::new(pin_stdin)),
    )?;
    platform.http = crate::diagnostics::recorded(platform.http);
    let config = AuthenticatorConfig {
        server_url: server_url.to_string(),
        server_public_key: None,
        device_name: "ibkey desktop".into(),
        verification: VerificationMethod::Pin,
        pin_policy: PinPolicy::default(),
    };
    Ok(Authenticator::new(config, platform)?)
}

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
    let bytes = std::fs::read(image)
        .map_err(|e| Failure::cli(format!("cannot read {}: {e}", image.display())))?;
    Ok(scan::decode_image(&bytes)?)
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
        ActivationOutcome::AlreadyActivatedWithThisCode { account } => format!(
            "This code activated {} on this device a moment ago; nothing more to do.",
            account.username
        ),
    }
}

/// `ibkey users`.
pub fn users(authenticator: &Authenticator) -> Result<(), Failure> {
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

/// `ibkey ticket`.
pub async fn ticket(
    server_url: &str,
    user: &str,
    password: &str,
    qr_out: Option<&Path>,
) -> Result<(), Failure> {
    let portal = PortalClient::sign_in(server_url, user, password)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    let ticket = portal
        .new_ticket()
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    println!("{}", scan::render_terminal(&ticket.qr_payload)?);
    println!("Session ID: {}", ticket.session_id);
    println!("Valid until {}", format_utc(ticket.expires_at));
    if let Some(path) = qr_out {
        std::fs::write(path, scan::render_png(&ticket.qr_payload, 8)?)
            .map_err(|e| Failure::cli(format!("cannot write {}: {e}", path.display())))?;
        println!("QR code written to {}", path.display());
    }
    Ok(())
}

/// `ibkey server`.
pub async fn run_server(
    home: &Path,
    listen: SocketAddr,
    ticket_lifetime: Duration,
) -> Result<(), Failure> {
    let config = ibkey_server::ServerConfig {
        data_dir: home.join("server"),
        ticket_lifetime,
        ..ibkey_server::ServerConfig::default()
    };
    let server = ibkey_server::start(config, listen)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    println!(
        "ibkey server listening on {} (data in {}). Stop with Ctrl-C.",
        server.url(),
        home.join("server").display()
    );
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS`, UTC.
pub fn format_utc(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::format_utc;

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_utc(1_795_824_000), "2026-11-28 00:00:00");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59");
    }
}
