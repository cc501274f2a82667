//! How a server runs: [`ServerConfig`] and its defaults (the demo portal password, the
//! default support token, the diagnostics size limit, login challenges' lifetime, the push
//! mute after a fraud report, the recording push sender).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ibkey_protocol::approval::{DEFAULT_CHALLENGE_SECONDS, DEFAULT_FRAUD_MUTE_SECONDS};

use crate::clock::{ServerClock, SystemClock};
use crate::push::PushSender;

/// The support token of a server whose configuration sets none: change it for any server
/// that holds real users' bundles.
pub const DEFAULT_SUPPORT_TOKEN: &str = "ibkey-support";
/// The password of every test user of the reference portal unless
/// [`ServerConfig::portal_password`] says otherwise.
pub const DEMO_PORTAL_PASSWORD: &str = "ibkey-demo";
/// Default largest diagnostics bundle, bytes.
pub const DEFAULT_DIAGNOSTICS_MAX_BUNDLE_BYTES: u64 = 25 * 1024 * 1024;

/// How the server runs.
#[derive(Clone)]
pub struct ServerConfig {
    /// Directory holding the database and the server key; created if missing.
    pub data_dir: PathBuf,
    /// Base URL put into tickets' `srv` (what phones connect to). Default:
    /// `http://{bound address}` (`127.0.0.1` when bound to an unspecified address).
    pub public_url: Option<String>,
    /// How long an activation ticket (QR code / session ID) is good for.
    pub ticket_lifetime: Duration,
    /// The password every test user signs in to the portal with.
    pub portal_password: String,
    /// Wrong session-ID guesses answered per client (IPv4 address, IPv6 /64) per minute (0 is
    /// taken as 1).
    pub guesses_per_minute_per_client: u32,
    /// Wrong session-ID guesses answered per minute to the clients of one network (IPv4 /24,
    /// IPv6 /48) that already guessed wrong in the last minute (0 is taken as 1).
    pub guesses_per_minute_per_network: u32,
    /// Wrong session-ID guesses answered per minute to all clients that already guessed wrong
    /// in the last minute (0 is taken as 1); a client without a wrong guess in the last minute
    /// is always answered.
    pub guesses_per_minute_total: u32,
    /// The clock for expiry, sessions and the guess limiter.
    pub clock: Arc<dyn ServerClock>,
    /// Largest diagnostics bundle accepted, bytes.
    pub diagnostics_max_bundle_bytes: u64,
    /// The bearer token support lists and fetches diagnostics bundles with.
    pub support_token: String,
    /// How long a login challenge (a push, a pulled challenge, the login page's QR code) is
    /// good for; whole seconds.
    pub challenge_lifetime: Duration,
    /// How long a "this wasn't me" report mutes the user's login notifications; whole seconds.
    pub fraud_mute: Duration,
    /// Where login notifications go. `None`: the reference sender, which records them in the
    /// database (read them with [`crate::recorded_pushes`]).
    pub push_sender: Option<Arc<dyn PushSender>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./ibkey-server-data"),
            public_url: None,
            ticket_lifetime: Duration::from_secs(5 * 60),
            portal_password: DEMO_PORTAL_PASSWORD.to_string(),
            guesses_per_minute_per_client: 10,
            guesses_per_minute_per_network: 30,
            guesses_per_minute_total: 60,
            clock: Arc::new(SystemClock),
            diagnostics_max_bundle_bytes: DEFAULT_DIAGNOSTICS_MAX_BUNDLE_BYTES,
            support_token: DEFAULT_SUPPORT_TOKEN.to_string(),
            challenge_lifetime: Duration::from_secs(DEFAULT_CHALLENGE_SECONDS.unsigned_abs()),
            fraud_mute: Duration::from_secs(DEFAULT_FRAUD_MUTE_SECONDS.unsigned_abs()),
            push_sender: None,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("ticket_lifetime", &self.ticket_lifetime)
            .field("portal_password", &"<hidden>")
            .field(
                "guesses_per_minute_per_client",
                &self.guesses_per_minute_per_client,
            )
            .field(
                "guesses_per_minute_per_network",
                &self.guesses_per_minute_per_network,
            )
            .field("guesses_per_minute_total", &self.guesses_per_minute_total)
            .field(
                "diagnostics_max_bundle_bytes",
                &self.diagnostics_max_bundle_bytes,
            )
            .field("support_token", &"<hidden>")
            .field("challenge_lifetime", &self.challenge_lifetime)
            .field("fraud_mute", &self.fraud_mute)
            .field(
                "push_sender",
                &if self.push_sender.is_some() {
                    "custom"
                } else {
                    "recording"
                },
            )
            .finish_non_exhaustive()
    }
}
