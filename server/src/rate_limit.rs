//! The wrong-guess limiters: [`GuessLimiter`] for typed session IDs and [`AttemptLimiter`]
//! for offline responses and codes.
//!
//! **Session IDs.**
//! A session ID carries 45 random bits, so guessing one takes about 2^45 / (tickets alive)
//! tries; the limiter keeps the rate of tries low without letting a crowd of guessers lock
//! honest users out. It counts wrong guesses (unknown or malformed session IDs) in sliding
//! one-minute windows at three levels: the client (an IPv4 address, or the /64 prefix of an
//! IPv6 address), the client's network (IPv4 /24, IPv6 /48) and all clients together. A
//! right lookup never counts, so a client whose lookups succeed never has a wrong guess in
//! its window: it is a *clean* client and is always answered. A client with a wrong guess in
//! its window is a *guesser*, and is refused while its own window is full (`per_client`), its
//! network's is (`per_network`) or the global one is (`total`). The global and network
//! budgets thus slow only the guessers: once a crowd has spent them, each of its addresses
//! gets one guess a minute (the one that makes it a guesser again after its window emptied).
//! A clean client is refused only when its network has also spent [`FRESH_CLIENTS_PER_NETWORK`]
//! guesses beyond its budget: an IPv4 /24 cannot reach that (it holds 256 addresses, each
//! clean at most once a minute), an IPv6 /48 that rotates through its /64s can, and then
//! locks only itself out. So in any 60 seconds at most `per_client` wrong guesses from one
//! client, and at most `total` plus one per client (address or IPv6 /64) from all clients,
//! are answered. A refused lookup is refused before the session ID is looked at, a correct
//! one too, so the limiter does not tell a guesser which guess was right.
//!
//! Clients are told apart by the TCP peer address; behind a reverse proxy every client
//! shares the proxy's address (and so the per-client window).
//!
//! Measured on the real server (`tests/abuse.rs`, default limits of 10 per client, 30 per
//! network and 60 in total): a crowd of 1,000 addresses in 40 /24 networks, each guessing
//! until refused three times a minute, had 1,000 to about 1,010 wrong guesses a minute
//! answered in total, one or two per address; honest phones activated by session ID
//! meanwhile, one of them on a network of the crowd. With 1,000 tickets alive at any time, a
//! guess hits one with a chance of 1,000 in 2^45, so 1,060 guesses a minute hit one after
//! 2^45 / (1,000 × 1,060) minutes, about 63 years, on average.
//!
//! **Offline responses and codes.** An 8-digit response or a 6-digit code is guessed with a
//! chance of one in 10^8 or about 3 in 10^6 (three time steps) per try, so tries are limited
//! per user, whichever login page or address they come from: at most
//! [`OFFLINE_WRONG_ATTEMPTS`] wrong ones in a sliding window of [`OFFLINE_WINDOW_SECONDS`].
//! While a user's window is full, every response and code for the user is refused, a right
//! one too, so the limiter reveals nothing.
//!
//! **Test pushes.** A device may ask for at most [`TEST_PUSHES_PER_HOUR`] test notifications
//! per credential in a sliding hour (an [`AttemptLimiter`] keyed by credential), so the
//! notification doctor cannot be made to flood a phone or the push service.
//!
//! **Codes sent out of band.** Wrong move and recovery codes count as wrong guesses of the
//! client in the [`GuessLimiter`] above, and each code is void after a few wrong tries (the
//! `handlers::out_of_band` module). At most [`CODES_SENT_PER_USER`] codes go to a user for
//! one purpose in [`CODE_SEND_WINDOW_SECONDS`] (an [`AttemptLimiter`] keyed by purpose and
//! user), so nobody can flood a user's phone or mailbox, or the SMS bill.
//!
//! **Portal passwords.** Wrong passwords at portal sign-in and on the login page are limited
//! per client (as for session IDs) and per user name: at most [`SIGN_IN_WRONG_ATTEMPTS`] in a
//! sliding window of [`SIGN_IN_WINDOW_SECONDS`] for each ([`SignInLimiter`]). While either
//! window is full, every sign-in of that client or user is refused, a right password too.
//! Right passwords never count.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The window's length in seconds.
pub const WINDOW_SECONDS: i64 = 60;
/// Wrong offline responses or codes allowed per user per [`OFFLINE_WINDOW_SECONDS`].
pub const OFFLINE_WRONG_ATTEMPTS: usize = 5;
/// The offline attempt window's length in seconds (15 minutes).
pub const OFFLINE_WINDOW_SECONDS: i64 = 15 * 60;

/// Test pushes a credential may ask for per [`TEST_PUSH_WINDOW_SECONDS`].
pub const TEST_PUSHES_PER_HOUR: usize = 10;
/// The test-push window's length in seconds (an hour).
pub const TEST_PUSH_WINDOW_SECONDS: i64 = 3600;

/// One-time codes sent out of band per user and purpose per [`CODE_SEND_WINDOW_SECONDS`].
pub const CODES_SENT_PER_USER: usize = 5;
/// The window of codes sent, seconds (15 minutes).
pub const CODE_SEND_WINDOW_SECONDS: i64 = 15 * 60;

/// Wrong portal passwords allowed per client and per user per [`SIGN_IN_WINDOW_SECONDS`].
pub const SIGN_IN_WRONG_ATTEMPTS: usize = 10;
/// The sign-in window's length in seconds (15 minutes).
pub const SIGN_IN_WINDOW_SECONDS: i64 = 15 * 60;

/// Wrong guesses a network answers from clean clients beyond its budget in a window, before
/// it refuses them too: more than the addresses of an IPv4 /24.
pub const FRESH_CLIENTS_PER_NETWORK: usize = 256;

/// What identifies a client: an IPv4 address or an IPv6 /64 prefix. Shown as the address or
/// as `2001:db8:1:2::/64`, as the diagnostics quota records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    /// An IPv4 client (IPv4-mapped IPv6 included).
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 client's address.
    V6([u8; 8]),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&v6.octets()[..8]);
                    Self::V6(prefix)
                }
            },
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::V4(octets) => write!(f, "{}", Ipv4Addr::from(octets)),
            Self::V6(prefix) => {
                let mut octets = [0u8; 16];
                octets[..8].copy_from_slice(&prefix);
                write!(f, "{}/64", Ipv6Addr::from(octets))
            }
        }
    }
}

/// What identifies a client's network: an IPv4 /24 or an IPv6 /48 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NetworkKey {
    /// The first 24 bits of an IPv4 address.
    V4([u8; 3]),
    /// The first 48 bits of an IPv6 address.
    V6([u8; 6]),
}

impl From<ClientKey> for NetworkKey {
    fn from(client: ClientKey) -> Self {
        match client {
            ClientKey::V4([a, b, c, _]) => Self::V4([a, b, c]),
            ClientKey::V6([a, b, c, d, e, f, _, _]) => Self::V6([a, b, c, d, e, f]),
        }
    }
}

/// Sliding one-minute windows of wrong guesses, per client, per network and global.
#[derive(Debug)]
pub(crate) struct GuessLimiter {
    /// Wrong guesses allowed per client per window (at least 1).
    per_client: usize,
    /// Wrong guesses allowed per network per window from guessers (at least 1).
    per_network: usize,
    /// Wrong guesses allowed from all guessers per window (at least 1).
    total: usize,
    /// Times of each client's wrong guesses in the window, oldest first.
    clients: HashMap<ClientKey, VecDeque<i64>>,
    /// Times of each network's wrong guesses in the window, oldest first.
    networks: HashMap<NetworkKey, VecDeque<i64>>,
    /// Times of all wrong guesses in the window, oldest first.
    global: VecDeque<i64>,
    /// When idle clients and networks were last dropped.
    last_sweep: i64,
}

impl GuessLimiter {
    /// A limiter allowing `per_client` wrong guesses per client, `per_network` per network
    /// and `total` overall per minute. A limit of 0 is taken as 1.
    pub fn new(per_client: u32, per_network: u32, total: u32) -> Self {
        let limit = |n: u32| usize::try_from(n.max(1)).unwrap_or(usize::MAX);
        Self {
            per_client: limit(per_client),
            per_network: limit(per_network),
            total: limit(total),
            clients: HashMap::new(),
            networks: HashMap::new(),
            global: VecDeque::new(),
            last_sweep: i64::MIN,
        }
    }

    /// Whether a lookup from `ip` may go ahead now; `Err(seconds)` says how long to wait.
    pub fn check(&mut self, ip: IpAddr, now: i64) -> Result<(), u64> {
        self.sweep(now);
        let key = ClientKey::from(ip);
        let network = NetworkKey::from(key);
        // Seconds until the client's last wrong guess leaves the window; none: it is clean.
        let clean_in = self
            .clients
            .get_mut(&key)
            .and_then(|times| wait_if_full(times, 1, WINDOW_SECONDS, now));
        let Some(clean_in) = clean_in else {
            // A clean client: refused only by a network that spent its fresh-client allowance.
            let limit = self.per_network.saturating_add(FRESH_CLIENTS_PER_NETWORK);
            return self
                .networks
                .get_mut(&network)
                .and_then(|times| wait_if_full(times, limit, WINDOW_SECONDS, now))
                .map_or(Ok(()), Err);
        };
        if let Some(wait) = self
            .clients
            .get_mut(&key)
            .and_then(|times| wait_if_full(times, self.per_client, WINDOW_SECONDS, now))
        {
            return Err(wait);
        }
        let network_wait = self
            .networks
            .get_mut(&network)
            .and_then(|times| wait_if_full(times, self.per_network, WINDOW_SECONDS, now));
        let global_wait = wait_if_full(&mut self.global, self.total, WINDOW_SECONDS, now);
        network_wait
            .max(global_wait)
            .map_or(Ok(()), |wait| Err(wait.min(clean_in)))
    }

    /// Counts a wrong guess from `ip`.
    pub fn record_wrong_guess(&mut self, ip: IpAddr, now: i64) {
        let key = ClientKey::from(ip);
        for times in [
            self.clients.entry(key).or_default(),
            self.networks.entry(NetworkKey::from(key)).or_default(),
            &mut self.global,
        ] {
            times.push_back(now);
            prune(times, WINDOW_SECONDS, now);
        }
    }

    /// Drops clients and networks with no guess left in the window, once a window.
    fn sweep(&mut self, now: i64) {
        if now.saturating_sub(self.last_sweep) < WINDOW_SECONDS {
            return;
        }
        self.last_sweep = now;
        self.clients.retain(|_, times| {
            prune(times, WINDOW_SECONDS, now);
            !times.is_empty()
        });
        self.networks.retain(|_, times| {
            prune(times, WINDOW_SECONDS, now);
            !times.is_empty()
        });
    }

    /// Number of clients and networks being tracked (for tests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.len() + self.networks.len()
    }
}

/// A sliding window of attempts per key: by default, wrong offline responses and codes per
/// user, at most [`OFFLINE_WRONG_ATTEMPTS`] in [`OFFLINE_WINDOW_SECONDS`]; also test pushes
/// per credential ([`TEST_PUSHES_PER_HOUR`]) and codes sent per user
/// ([`CODES_SENT_PER_USER`]).
#[derive(Debug)]
pub(crate) struct AttemptLimiter {
    /// Attempts allowed per key in the window (at least 1).
    limit: usize,
    /// The window's length, seconds.
    window: i64,
    /// Times of each key's attempts in the window, oldest first.
    users: HashMap<String, VecDeque<i64>>,
    /// When idle keys were last dropped from `users`.
    last_sweep: i64,
}

impl Default for AttemptLimiter {
    fn default() -> Self {
        Self::new(OFFLINE_WRONG_ATTEMPTS, OFFLINE_WINDOW_SECONDS)
    }
}

impl AttemptLimiter {
    /// A limiter allowing `limit` attempts (0 is taken as 1) per key in a sliding window of
    /// `window` seconds.
    pub fn new(limit: usize, window: i64) -> Self {
        Self {
            limit: limit.max(1),
            window,
            users: HashMap::new(),
            last_sweep: i64::MIN,
        }
    }

    /// Whether an attempt for `key` (a user, a credential) may go ahead now; `Err(seconds)`
    /// says how long to wait.
    pub fn check(&mut self, key: &str, now: i64) -> Result<(), u64> {
        self.sweep(now);
        match self
            .users
            .get_mut(key)
            .and_then(|times| wait_if_full(times, self.limit, self.window, now))
        {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts an attempt (a wrong response or code, a test push, a code sent) for `key`.
    pub fn record(&mut self, key: &str, now: i64) {
        let times = self.users.entry(key.to_string()).or_default();
        times.push_back(now);
        prune(times, self.window, now);
    }

    /// Drops keys with no attempt left in the window, once a window.
    fn sweep(&mut self, now: i64) {
        if now.saturating_sub(self.last_sweep) < self.window {
            return;
        }
        self.last_sweep = now;
        let window = self.window;
        self.users.retain(|_, times| {
            prune(times, window, now);
            !times.is_empty()
        });
    }

    /// Number of users being tracked (for tests).
    #[cfg(test)]
    fn tracked_users(&self) -> usize {
        self.users.len()
    }
}

/// Sliding windows of wrong portal passwords, per client and per user name.
#[derive(Debug)]
pub(crate) struct SignInLimiter {
    /// Times of each client's wrong passwords in the window, oldest first.
    clients: HashMap<ClientKey, VecDeque<i64>>,
    /// Times of each (lower-cased) user name's wrong passwords in the window, oldest first.
    users: HashMap<String, VecDeque<i64>>,
    /// When idle entries were last dropped.
    last_sweep: i64,
}

impl Default for SignInLimiter {
    fn default() -> Self {
        Self {
            clients: HashMap::new(),
            users: HashMap::new(),
            last_sweep: i64::MIN,
        }
    }
}

impl SignInLimiter {
    /// Whether a sign-in of `username` from `ip` may be checked now; `Err(seconds)` says how
    /// long to wait.
    pub fn check(&mut self, ip: IpAddr, username: &str, now: i64) -> Result<(), u64> {
        self.sweep(now);
        let (limit, window) = (SIGN_IN_WRONG_ATTEMPTS, SIGN_IN_WINDOW_SECONDS);
        let client_wait = self
            .clients
            .get_mut(&ClientKey::from(ip))
            .and_then(|times| wait_if_full(times, limit, window, now));
        let user_wait = self
            .users
            .get_mut(username)
            .and_then(|times| wait_if_full(times, limit, window, now));
        match client_wait.max(user_wait) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a wrong password from `ip`, and for `username` when it is a possible user.
    pub fn record_wrong(&mut self, ip: IpAddr, username: Option<&str>, now: i64) {
        let times = self.clients.entry(ClientKey::from(ip)).or_default();
        times.push_back(now);
        prune(times, SIGN_IN_WINDOW_SECONDS, now);
        if let Some(username) = username {
            let times = self.users.entry(username.to_string()).or_default();
            times.push_back(now);
            prune(times, SIGN_IN_WINDOW_SECONDS, now);
        }
    }

    /// Drops clients and users with no wrong password left in the window, once a window.
    fn sweep(&mut self, now: i64) {
        if now.saturating_sub(self.last_sweep) < SIGN_IN_WINDOW_SECONDS {
            return;
        }
        self.last_sweep = now;
        self.clients.retain(|_, times| {
            prune(times, SIGN_IN_WINDOW_SECONDS, now);
            !times.is_empty()
        });
        self.users.retain(|_, times| {
            prune(times, SIGN_IN_WINDOW_SECONDS, now);
            !times.is_empty()
        });
    }

    /// Number of clients and users being tracked (for tests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.len() + self.users.len()
    }
}

/// Drops attempts older than the window of `window` seconds.
fn prune(times: &mut VecDeque<i64>, window: i64, now: i64) {
    while times
        .front()
        .is_some_and(|&t| now.saturating_sub(t) >= window)
    {
        times.pop_front();
    }
}

/// Seconds until the window of `window` seconds has room again, if it is full now.
fn wait_if_full(times: &mut VecDeque<i64>, limit: usize, window: i64, now: i64) -> Option<u64> {
    prune(times, window, now);
    if times.len() < limit {
        return None;
    }
    // The window frees up when its oldest guess within the last `limit` leaves it.
    let oldest = times.get(times.len() - limit).copied().unwrap_or(now);
    let wait = oldest
        .saturating_add(window)
        .saturating_sub(now)
        .clamp(1, window);
    Some(u64::try_from(wait).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    /// A client that guesses as fast as it is allowed (five lookups a second) for `minutes`: returns how many wrong guesses were answered in each minute.
    fn answered_per_minute(limiter: &mut GuessLimiter, client: IpAddr, minutes: i64) -> Vec<u32> {
        let start = 1_700_000_000;
        let mut counts = vec![0u32; usize::try_from(minutes).expect("minutes")];
        for second in 0..minutes * WINDOW_SECONDS {
            for _ in 0..5 {
                let now = start + second;
                if limiter.check(client, now).is_ok() {
                    limiter.record_wrong_guess(client, now);
                    counts[usize::try_from(second / WINDOW_SECONDS).expect("index")] += 1;
                }
            }
        }
        counts
    }

    #[test]
    fn measurement_a_client_gets_exactly_its_limit_of_guesses_per_minute() {
        // This is the measurement behind the documented figure: an attacker hammering the
        // lookup endpoint from one address gets `per_client` answers a minute, no more.
        let mut limiter = GuessLimiter::new(10, 30, 60);
        let counts = answered_per_minute(&mut limiter, ip(1), 10);
        assert_eq!(counts, vec![10; 10]);
    }

    #[test]
    fn a_crowd_gets_the_global_budget_plus_one_guess_per_address_a_minute() {
        // 1,000 addresses in 40 /24 networks, each guessing once a second for 5 minutes.
        let mut limiter = GuessLimiter::new(10, 30, 60);
        let crowd: Vec<IpAddr> = (0..1000u16)
            .map(|i| {
                let [high, low] = (i / 25).to_be_bytes();
                IpAddr::V4(Ipv4Addr::new(
                    10,
                    high,
                    low,
                    u8::try_from(i % 25).expect("u8"),
                ))
            })
            .collect();
        for minute in 0..5 {
            let mut answered = vec![0u32; crowd.len()];
            for second in 0..WINDOW_SECONDS {
                let now = 1_700_000_000 + minute * WINDOW_SECONDS + second;
                for (client, count) in crowd.iter().zip(answered.iter_mut()) {
                    if limiter.check(*client, now).is_ok() {
                        limiter.record_wrong_guess(*client, now);
                        *count += 1;
                    }
                }
            }
            let total: u32 = answered.iter().sum();
            assert!((1000..=1060).contains(&total), "minute {minute}: {total}");
            assert!(answered.iter().all(|&n| (1..=10).contains(&n)));
        }
    }

    #[test]
    fn a_full_window_refuses_with_the_time_to_wait_and_refills_after_a_minute() {
        let mut limiter = GuessLimiter::new(3, 100, 100);
        let t = 1_000;
        for i in 0..3 {
            assert_eq!(limiter.check(ip(1), t + i), Ok(()));
            limiter.record_wrong_guess(ip(1), t + i);
        }
        assert_eq!(limiter.check(ip(1), t + 2), Err(58));
        assert_eq!(limiter.check(ip(1), t + 30), Err(30));
        assert_eq!(
            limiter.check(ip(2), t + 30),
            Ok(()),
            "other clients are not hit"
        );
        assert_eq!(limiter.check(ip(1), t + 60), Ok(()), "the first guess left");
        limiter.record_wrong_guess(ip(1), t + 60);
        assert_eq!(limiter.check(ip(1), t + 60), Err(1));
        assert_eq!(limiter.check(ip(1), t + 200), Ok(()));
    }

    #[test]
    fn the_global_window_stops_only_guessers() {
        let mut limiter = GuessLimiter::new(10, 100, 4);
        for client in 0..4 {
            limiter.record_wrong_guess(ip(client), 50);
        }
        assert_eq!(limiter.check(ip(0), 55), Err(55), "a guesser waits");
        assert_eq!(
            limiter.check(ip(200), 55),
            Ok(()),
            "a clean client does not"
        );
        limiter.record_wrong_guess(ip(200), 55);
        assert_eq!(limiter.check(ip(200), 56), Err(54), "now it is a guesser");
        assert_eq!(limiter.check(ip(0), 110), Ok(()), "clean again");
    }

    #[test]
    fn a_full_network_stops_its_guessers_but_not_its_clean_clients() {
        let mut limiter = GuessLimiter::new(10, 3, 100);
        for client in 1..=3 {
            limiter.record_wrong_guess(ip(client), 0);
        }
        assert_eq!(limiter.check(ip(1), 10), Err(50));
        assert_eq!(limiter.check(ip(4), 10), Ok(()), "clean, same /24");
        let elsewhere = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
        limiter.record_wrong_guess(elsewhere, 0);
        assert_eq!(limiter.check(elsewhere, 10), Ok(()), "another /24");
    }

    #[test]
    fn an_ipv6_network_rotating_its_64s_locks_only_itself_out() {
        let mut limiter = GuessLimiter::new(10, 2, 100_000);
        let client =
            |net: u16, n: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, net, n, 0, 0, 0, 1));
        let fresh = u16::try_from(2 + FRESH_CLIENTS_PER_NETWORK).expect("u16");
        for n in 0..fresh {
            assert_eq!(limiter.check(client(1, n), 0), Ok(()), "/64 number {n}");
            limiter.record_wrong_guess(client(1, n), 0);
        }
        assert_eq!(limiter.check(client(1, fresh), 1), Err(59));
        assert_eq!(limiter.check(client(2, 0), 1), Ok(()), "another /48");
    }

    #[test]
    fn clients_show_as_their_address_or_64_bit_prefix() {
        assert_eq!(ClientKey::from(ip(7)).to_string(), "192.0.2.7");
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6));
        assert_eq!(ClientKey::from(v6).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64_bit_prefix() {
        let mut limiter = GuessLimiter::new(2, 100, 100);
        let a = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, 1));
        let b = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9));
        let other = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        limiter.record_wrong_guess(a, 0);
        limiter.record_wrong_guess(b, 0);
        assert!(limiter.check(a, 1).is_err());
        assert!(limiter.check(other, 1).is_ok());
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        limiter.record_wrong_guess(mapped, 0);
        limiter.record_wrong_guess(ip(7), 0);
        assert!(limiter.check(ip(7), 1).is_err());
    }

    #[test]
    fn five_wrong_offline_attempts_lock_the_user_for_the_rest_of_15_minutes() {
        let mut limiter = AttemptLimiter::default();
        let t = 1_000;
        for i in 0..5 {
            assert_eq!(limiter.check("alice", t + i * 60), Ok(()));
            limiter.record("alice", t + i * 60);
        }
        assert_eq!(limiter.check("alice", t + 240), Err(660));
        assert_eq!(limiter.check("alice", t + 600), Err(300));
        assert_eq!(
            limiter.check("bob", t + 600),
            Ok(()),
            "other users are not hit"
        );
        assert_eq!(
            limiter.check("alice", t + 900),
            Ok(()),
            "the first attempt left"
        );
        limiter.record("alice", t + 900);
        assert_eq!(limiter.check("alice", t + 900), Err(60));
        assert_eq!(limiter.check("alice", t + 2_000), Ok(()));
        assert_eq!(limiter.tracked_users(), 0, "idle users are forgotten");
    }

    #[test]
    fn ten_wrong_passwords_lock_the_client_and_the_user_for_15_minutes() {
        let mut limiter = SignInLimiter::default();
        let t = 10_000;
        for i in 0..10 {
            assert_eq!(limiter.check(ip(1), "alice", t + i), Ok(()));
            limiter.record_wrong(ip(1), Some("alice"), t + i);
        }
        assert_eq!(limiter.check(ip(1), "alice", t + 10), Err(890));
        assert_eq!(limiter.check(ip(1), "bob", t + 10), Err(890), "the client");
        assert_eq!(limiter.check(ip(2), "alice", t + 10), Err(890), "the user");
        assert_eq!(limiter.check(ip(2), "bob", t + 10), Ok(()), "others");
        assert_eq!(limiter.check(ip(1), "alice", t + 900), Ok(()));
        let mut limiter = SignInLimiter::default();
        for i in 0..10 {
            limiter.record_wrong(ip(3), None, t + i);
        }
        assert!(limiter.check(ip(3), "carol", t + 20).is_err());
        assert!(limiter.check(ip(4), "carol", t + 20).is_ok());
        assert_eq!(limiter.check(ip(4), "carol", t + 5_000), Ok(()));
        assert_eq!(limiter.tracked(), 0, "idle entries are forgotten");
    }

    #[test]
    fn idle_clients_and_networks_are_forgotten() {
        let mut limiter = GuessLimiter::new(2, 1000, 1000);
        for client in 0..100 {
            limiter.record_wrong_guess(ip(client), 0);
        }
        assert_eq!(limiter.tracked(), 101, "100 clients in one network");
        assert!(limiter.check(ip(1), 61).is_ok());
        assert_eq!(limiter.tracked(), 0);
    }
}
