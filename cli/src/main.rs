//! `ibkey`: the desktop command line of the ibkey authenticator. It plays both sides: the
//! portal user asking for an activation ticket or logging in, and the phone activating with
//! it and approving the login.

mod accounts;
mod demo;
mod diagnostics;
mod failure;
mod files;
mod format;
mod home;
mod lifecycle;
mod login;
mod portal;
mod scan;
mod terminal;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use failure::Failure;

/// The ibkey authenticator on the desktop: reference server, portal and device in one tool.
#[derive(Parser)]
#[command(name = "ibkey", version, about)]
struct Cli {
    /// Folder for this tool's data (device store and server data live below it).
    /// Default: $IBKEY_HOME, else ~/.local/share/ibkey.
    #[arg(long, global = true, env = "IBKEY_HOME")]
    data_dir: Option<PathBuf>,
    /// Base URL of the server the device and portal talk to.
    #[arg(long, global = true, env = "IBKEY_SERVER", default_value = portal::DEFAULT_SERVER_URL)]
    server: String,
    /// The server's signing key the device trusts: base64url SEC1, or its SHA-256 in hex.
    /// Default: the key a reference server keeping its data in this data folder publishes
    /// (`<data dir>/server/server-key.pub`).
    #[arg(long, global = true, env = "IBKEY_SERVER_KEY", value_name = "KEY")]
    server_key: Option<String>,
    /// The name this device enrolls with, as the portal and a phone IB Key moved away from
    /// show it.
    #[arg(
        long,
        global = true,
        env = "IBKEY_DEVICE_NAME",
        default_value = "ibkey desktop"
    )]
    device_name: String,
    /// Print debug logs on stderr.
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the reference server (portal + device API) until interrupted.
    Server {
        /// Address to listen on.
        #[arg(long, default_value = portal::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// How long an activation ticket stays valid, in seconds.
        #[arg(long, default_value_t = 300)]
        ticket_lifetime: u64,
        /// How long a login challenge stays valid, in seconds.
        #[arg(long, default_value_t = ibkey_protocol::approval::DEFAULT_CHALLENGE_SECONDS as u64)]
        challenge_lifetime: u64,
        /// How long a "this wasn't me" report pauses login notifications, in seconds.
        #[arg(long, default_value_t = ibkey_protocol::approval::DEFAULT_FRAUD_MUTE_SECONDS as u64)]
        fraud_mute: u64,
        /// Post login notifications to this URL (the bank's FCM/APNs gateway; plain http://)
        /// instead of recording them in the server's database.
        #[arg(long, value_name = "URL")]
        push_webhook: Option<String>,
        /// Before starting, replace the server's signing key with a new one the current key
        /// endorses: devices that trust the old key follow to the new one.
        #[arg(long)]
        rotate_key: bool,
    },
    /// As a signed-in portal user: get an activation ticket (session ID and QR code).
    Ticket {
        /// Portal user name.
        #[arg(long)]
        user: String,
        /// Portal password of the test users.
        #[arg(long, env = "IBKEY_PORTAL_PASSWORD", default_value = ibkey_server::DEMO_PORTAL_PASSWORD)]
        password: String,
        /// Also write the QR code to this PNG file.
        #[arg(long)]
        qr_out: Option<PathBuf>,
    },
    /// As the login page: log a user in and wait for the phone's approval (exit 0 only when
    /// the login went through).
    Login {
        /// The user logging in.
        #[arg(long)]
        user: String,
        /// Portal password of the test users.
        #[arg(long, env = "IBKEY_PORTAL_PASSWORD", default_value = ibkey_server::DEMO_PORTAL_PASSWORD)]
        password: String,
        /// The application the phone names ("Client Portal" when not given).
        #[arg(long)]
        application: Option<String>,
        /// Also show the login QR code and write it to this PNG file ("log in with QR code").
        #[arg(long, value_name = "FILE")]
        qr_out: Option<PathBuf>,
        /// For a phone without a network: show a challenge and read the phone's response
        /// from standard input.
        #[arg(long, conflicts_with = "time_code")]
        offline: bool,
        /// For a phone without a network: read the phone's time-based code from standard input.
        #[arg(long)]
        time_code: bool,
    },
    /// As the phone without a network: the response to a login page's challenge.
    Respond {
        /// The user logging in.
        user: String,
        /// The challenge the login page shows (spaces do not matter).
        challenge: String,
        #[command(flatten)]
        pin: PinSource,
    },
    /// As the phone without a network: the user's current time-based code.
    Code {
        /// The user.
        user: String,
        #[command(flatten)]
        pin: PinSource,
    },
    /// The code of any `otpauth://totp/...` or `otpauth://hotp/...` URI.
    Otp {
        /// The URI (as a QR code of an authenticator set-up page holds it).
        uri: String,
        /// The time to compute a TOTP code for, Unix seconds (now when not given).
        #[arg(long, value_name = "T", allow_negative_numbers = true)]
        time: Option<i64>,
    },
    /// As the phone: show the logins waiting for approval and decide the first one.
    Approve {
        /// Deny the login.
        #[arg(long, conflicts_with = "number")]
        deny: bool,
        /// Deny the login and report it as fraud ("this wasn't me"): notifications pause.
        #[arg(long, conflicts_with = "number")]
        report_fraud: bool,
        /// The number the login page shows (asked for when not given).
        #[arg(long, value_name = "N")]
        number: Option<u8>,
        /// A PNG or JPEG image of the login page's QR code, instead of the waiting logins.
        #[arg(long, value_name = "IMAGE")]
        qr: Option<PathBuf>,
        /// Only this user's logins.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        pin: PinSource,
    },
    /// Activate this device for a user, from a QR image or a typed session ID.
    Activate {
        #[command(flatten)]
        code: ActivationCode,
        #[command(flatten)]
        pin: PinSource,
    },
    /// List the users enrolled on this device.
    Users,
    /// Remove a user from this device (also revokes the credential on the server).
    Remove {
        /// The user to remove.
        user: String,
        #[command(flatten)]
        pin: PinSource,
    },
    /// Walk through the whole activation journey against an embedded server.
    Demo {
        /// After the walk-through, keep serving the portal (on real time, with the demo's
        /// data) for a person with a browser and a phone, until Ctrl-C.
        #[arg(long)]
        serve: bool,
        /// Where the portal listens with --serve (a phone on USB reaches it through
        /// `adb reverse tcp:8780 tcp:8780`).
        #[arg(long, default_value = "127.0.0.1:8780", requires = "serve")]
        listen: SocketAddr,
    },
    /// Support diagnostics: preview or upload a bundle, the outbox, the log mode.
    Diagnostics {
        #[command(subcommand)]
        command: diagnostics::DiagnosticsCommand,
    },
    /// As a signed-in portal user on the new phone's behalf: move IB Key to a new phone. Without
    /// --code, a one-time code is sent out of band (read it with `ibkey outbox`); with it,
    /// the move's QR code and session ID are shown.
    Move {
        /// Portal user name.
        #[arg(long)]
        user: String,
        /// Portal password of the test users.
        #[arg(long, env = "IBKEY_PORTAL_PASSWORD", default_value = ibkey_server::DEMO_PORTAL_PASSWORD)]
        password: String,
        /// The code sent out of band.
        #[arg(long)]
        code: Option<String>,
        /// Also write the QR code to this PNG file.
        #[arg(long, requires = "code")]
        qr_out: Option<PathBuf>,
    },
    /// The latest one-time code the reference server (data in this data folder) sent a user:
    /// what their e-mail or SMS inbox would show.
    Outbox {
        /// The user.
        #[arg(long)]
        user: String,
    },
    /// As the phone after a reinstall or lost data: find the accounts whose keys this device
    /// kept (a code is sent to each user), then restore one with --user and --code.
    Recover {
        /// The user to restore.
        #[arg(long, requires = "code")]
        user: Option<String>,
        /// The code sent to the user.
        #[arg(long, requires = "user")]
        code: Option<String>,
        #[command(flatten)]
        pin: PinSource,
    },
    /// As the phone: the "notifications do not arrive" checklist.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Ask the server for a test notification first.
        #[arg(long)]
        test_notification: bool,
    },
    /// Read the QR code in each PNG or JPEG file: one line a file, the text or the reason.
    Scan {
        /// The image files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// One JSON object a line: file, text (or null), activation, and code and reason
        /// when nothing was read.
        #[arg(long)]
        json: bool,
        /// The files are consecutive frames of one camera stream, read in the order given by
        /// one scanner that uses what earlier frames showed; succeeds when any frame gave a
        /// text.
        #[arg(long)]
        frames: bool,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct ActivationCode {
    /// A PNG or JPEG image of the portal's QR code.
    #[arg(long, value_name = "IMAGE")]
    qr: Option<PathBuf>,
    /// The session ID shown under the QR code (dashes and case do not matter).
    #[arg(long, value_name = "ID")]
    session_id: Option<String>,
}

#[derive(Args)]
struct PinSource {
    /// Read the PIN (and any number asked for) from standard input, one line each, instead of
    /// the terminal.
    #[arg(long)]
    pin_stdin: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    home::init_logging(cli.data_dir.clone(), &cli.server, cli.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            home::note_failure(&failure);
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let home = home::data_home(cli.data_dir)?;
    let device = home::Device {
        home: &home,
        server_url: &cli.server,
        server_key: cli.server_key.as_deref(),
        name: &cli.device_name,
    };
    match cli.command {
        Command::Server {
            listen,
            ticket_lifetime,
            challenge_lifetime,
            fraud_mute,
            push_webhook,
            rotate_key,
        } => {
            let lifetimes = portal::Lifetimes {
                ticket: Duration::from_secs(ticket_lifetime),
                challenge: Duration::from_secs(challenge_lifetime),
                fraud_mute: Duration::from_secs(fraud_mute),
            };
            if rotate_key {
                portal::rotate_key(&home)?;
            }
            portal::run_server(&home, listen, lifetimes, push_webhook.as_deref()).await
        }
        Command::Ticket {
            user,
            password,
            qr_out,
        } => portal::ticket(&cli.server, &user, &password, qr_out.as_deref()).await,
        Command::Login {
            user,
            password,
            application,
            qr_out,
            offline,
            time_code,
        } => {
            let offline = match (offline, time_code) {
                (true, _) => Some(login::OfflineMode::ChallengeResponse),
                (false, true) => Some(login::OfflineMode::TimeCode),
                (false, false) => None,
            };
            let args = login::LoginArgs {
                user: &user,
                password: &password,
                application: application.as_deref(),
                qr_out: qr_out.as_deref(),
                offline,
            };
            login::login(&cli.server, args).await
        }
        Command::Respond {
            user,
            challenge,
            pin,
        } => {
            let authenticator = device.open(pin.pin_stdin)?;
            login::respond(&authenticator, &user, &challenge).await
        }
        Command::Code { user, pin } => {
            let authenticator = device.open(pin.pin_stdin)?;
            login::time_code(&authenticator, &user).await
        }
        Command::Otp { uri, time } => login::otp(&uri, time),
        Command::Approve {
            deny,
            report_fraud,
            number,
            qr,
            user,
            pin,
        } => {
            let authenticator = device.open(pin.pin_stdin)?;
            let args = login::ApproveArgs {
                deny,
                report_fraud,
                number,
                qr: qr.as_deref(),
                user: user.as_deref(),
            };
            login::approve(&authenticator, args).await
        }
        Command::Activate { code, pin } => {
            let authenticator = device.open(pin.pin_stdin)?;
            accounts::activate(
                &authenticator,
                code.qr.as_deref(),
                code.session_id.as_deref(),
            )
            .await
        }
        Command::Users => accounts::users(&device.open(false)?),
        Command::Remove { user, pin } => {
            accounts::remove(&device.open(pin.pin_stdin)?, &user).await
        }
        Command::Demo { serve, listen } => demo::run(serve.then_some(listen)).await,
        Command::Diagnostics { command } => diagnostics::run(&home, &cli.server, command).await,
        Command::Scan {
            files,
            json,
            frames,
        } => scan::run(&files, json, frames),
        Command::Move {
            user,
            password,
            code,
            qr_out,
        } => {
            lifecycle::move_to_new_phone(
                &cli.server,
                &user,
                &password,
                code.as_deref(),
                qr_out.as_deref(),
            )
            .await
        }
        Command::Outbox { user } => lifecycle::outbox(&home, &user),
        Command::Recover { user, code, pin } => {
            let authenticator = device.open(pin.pin_stdin)?;
            lifecycle::recover(&authenticator, user.as_deref(), code.as_deref()).await
        }
        Command::Doctor {
            json,
            test_notification,
        } => {
            let authenticator = device.open(false)?;
            lifecycle::doctor(&authenticator, json, test_notification).await
        }
    }
}
