//! The commands that act as the bank's side: `ibkey ticket` (a signed-in portal user asking
//! for an activation ticket) and `ibkey server` (the reference server), with their defaults.
//! The login page, `ibkey login`, is in `login.rs`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ibkey_core::scan;
use ibkey_protocol::activation::TicketResponse;
use ibkey_server::portal_client::PortalClient;
use ibkey_server::{PushSender, RunningServer, ServerConfig, WebhookPushSender};

use crate::failure::Failure;
use crate::files::write_file;
use crate::format::format_utc;

/// Where `ibkey server` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8780";
/// The server the device and portal commands talk to unless told otherwise.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8780";

/// Signs `user` in to the portal at `server_url` and asks for a new activation ticket.
pub async fn request_ticket(
    server_url: &str,
    user: &str,
    password: &str,
) -> Result<TicketResponse, Failure> {
    let portal = PortalClient::sign_in(server_url, user, password)
        .await
        .map_err(|e| Failure::cli(e.to_string()))?;
    portal
        .new_ticket()
        .await
        .map_err(|e| Failure::cli(e.to_string()))
}

/// `ibkey ticket`.
pub async fn ticket(
    server_url: &str,
    user: &str,
    password: &str,
    qr_out: Option<&Path>,
) -> Result<(), Failure> {
    let ticket = request_ticket(server_url, user, password).await?;
    println!("{}", scan::render_terminal(&ticket.qr_payload)?);
    println!("Session ID: {}", ticket.session_id);
    println!("Valid until {}", format_utc(ticket.expires_at));
    if let Some(path) = qr_out {
        write_file(path, &scan::render_png(&ticket.qr_payload, 8)?)?;
        println!("QR code written to {}", path.display());
    }
    Ok(())
}

/// Starts the reference server on `listen`.
pub async fn start_server(
    config: ServerConfig,
    listen: SocketAddr,
) -> Result<RunningServer, Failure> {
    ibkey_server::start(config, listen)
        .await
        .map_err(|e| Failure::cli(e.to_string()))
}

/// `ibkey server --rotate-key`: a new server key in `home`'s server folder, endorsed by the
/// current one.
pub fn rotate_key(home: &Path) -> Result<(), Failure> {
    let rotation =
        ibkey_server::rotate_key(&home.join("server")).map_err(|e| Failure::cli(e.to_string()))?;
    println!(
        "Server key {} replaced by {}, which it endorsed; devices that trust the old key follow to the new one.",
        rotation.previous_key_id, rotation.key_id
    );
    Ok(())
}

/// How long the server's codes and mutes last.
pub struct Lifetimes {
    /// An activation ticket.
    pub ticket: Duration,
    /// A login challenge.
    pub challenge: Duration,
    /// The pause of login notifications after a fraud report.
    pub fraud_mute: Duration,
}

/// `ibkey server`; with `push_webhook`, login notifications are posted there.
pub async fn run_server(
    home: &Path,
    listen: SocketAddr,
    lifetimes: Lifetimes,
    push_webhook: Option<&str>,
) -> Result<(), Failure> {
    let push_sender = match push_webhook {
        Some(url) => {
            let sender = WebhookPushSender::new(url).map_err(|e| Failure::cli(e.to_string()))?;
            Some(Arc::new(sender) as Arc<dyn PushSender>)
        }
        None => None,
    };
    let config = ServerConfig {
        push_sender,
        data_dir: home.join("server"),
        ticket_lifetime: lifetimes.ticket,
        challenge_lifetime: lifetimes.challenge,
        fraud_mute: lifetimes.fraud_mute,
        ..ServerConfig::default()
    };
    let server = start_server(config, listen).await?;
    println!(
        "ibkey server listening on {} (data in {}). Stop with Ctrl-C.",
        server.url(),
        home.join("server").display()
    );
    if let Some(made) = server.generated_secrets() {
        println!("Listening beyond loopback: this server refuses the demo portal password and support token and uses its own, made now and shown only this once:");
        if let Some(password) = made.portal_password {
            println!(
                "  portal password: {} (kept in {})",
                password.value,
                password.path.display()
            );
        }
        if let Some(token) = made.support_token {
            println!(
                "  support token:   {} (kept in {})",
                token.value,
                token.path.display()
            );
        }
    }
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
