//! How a server runs: [`ServerConfig`] and its defaults (the demo portal password, the
//! default support token, the diagnostics size limits, login challenges' lifetime, the push
//! mute after a fraud report, the recording push sender, the recording notifier of one-time
//! codes).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ibkey_protocol::approval::{DEFAULT_CHALLENGE_SECONDS, DEFAULT_FRAUD_MUTE_SECONDS};

use crate::clock::{ServerClock, SystemClock};
use crate::notifier::Notifier;
use crate::push::PushSender;

/// The support token of a server whose configuration sets none: change it for any server
/// that holds real users' bundles.
pub const DEFAULT_SUPPORT_TOKEN: &str = "ibkey-support";
/// The password of every test user of the reference portal unless
/// [`ServerConfig::portal_password`] says otherwise.
pub const DEMO_PORTAL_PASSWORD: &str = "ibkey-demo";
/// Default largest diagnostics bundle, bytes.
pub const DEFAULT_DIAGNOSTICS_MAX_BUNDLE_BYTES: u64 = 25 * 1024 * 1024;
/// Default most diagnostics bytes per device: four bundles of the default largest size.
pub const DEFAULT_DIAGNOSTICS_MAX_DEVICE_BYTES: u64 = 4 * DEFAULT_DIAGNOSTICS_MAX_BUNDLE_BYTES;
/// Default most diagnostics bytes on disk in all (2 GiB).
pub const DEFAULT_DIAGNOSTICS_MAX_TOTAL_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Default time an unfinished diagnostics upload is kept after its last chunk (a day).
pub const DEFAULT_DIAGNOSTICS_UPLOAD_EXPIRY: Duration = Duration::from_secs(24 * 3600);

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
    /// Most diagnostics bytes one device may have on the server: its unfinished uploads plus
    /// the bundles it completed in the last 24 hours. The server knows a device that uploads
    /// (perhaps before any activation) only by its address, so this is per client (IPv4
    /// address or IPv6 /64), as for the guess limiter; behind a reverse proxy every device
    /// shares the proxy's address, and so this limit.
    pub diagnostics_max_device_bytes: u64,
    /// Most diagnostics bytes on disk in all: every unfinished upload and every stored bundle.
    pub diagnostics_max_total_bytes: u64,
    /// How long an unfinished diagnostics upload is kept after its last chunk; then its chunks
    /// are deleted. Whole seconds.
    pub diagnostics_upload_expiry: Duration,
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
    /// How one-time codes of moves and recoveries reach users (SMS, e-mail). `None`: the
    /// reference notifier, which records them in the database (read them with
    /// [`crate::recorded_out_of_band`]) and gives every user the address
    /// `<username>@example.test`.
    pub notifier: Option<Arc<dyn Notifier>>,
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
            diagnostics_max_device_bytes: DEFAULT_DIAGNOSTICS_MAX_DEVICE_BYTES,
            diagnostics_max_total_bytes: DEFAULT_DIAGNOSTICS_MAX_TOTAL_BYTES,
            diagnostics_upload_expiry: DEFAULT_DIAGNOSTICS_UPLOAD_EXPIRY,
            support_token: DEFAULT_SUPPORT_TOKEN.to_string(),
            challenge_lifetime: Duration::from_secs(DEFAULT_CHALLENGE_SECONDS.unsigned_abs()),
            fraud_mute: Duration::from_secs(DEFAULT_FRAUD_MUTE_SECONDS.unsigned_abs()),
            push_sender: None,
            notifier: None,
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
            .field(
                "diagnostics_max_device_bytes",
                &self.diagnostics_max_device_bytes,
            )
            .field(
                "diagnostics_max_total_bytes",
                &self.diagnostics_max_total_bytes,
            )
            .field("diagnostics_upload_expiry", &self.diagnostics_upload_expiry)
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
            .field(
                "notifier",
                &if self.notifier.is_some() {
                    "custom"
                } else {
                    "recording"
                },
            )
            .finish_non_exhaustive()
    }
}
