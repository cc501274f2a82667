//! What an account remembers about its login approvals: the counter its signed decisions
//! carry, the challenges it answered, and the wrong number picks per challenge; and, in its
//! `codes` sub-record, the secret of its offline codes. One record a credential, under the
//! store key `approval.<credential id>`, kept by the [`super::AccountBook`].
//!
//! The record is versioned JSON whose fields all have defaults, and it keeps any field it does
//! not know (written by a newer app version) when it is saved again, so later records can be
//! added without a format break.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Version written into new records.
pub(crate) const STATE_VERSION: u32 = 1;
/// How many answered challenge ids are remembered (the most recent).
pub(crate) const MAX_ANSWERED: usize = 64;
/// How many challenges' wrong picks are remembered (the most recent).
pub(crate) const MAX_WRONG_PICK_CHALLENGES: usize = 16;

/// The store key of a credential's approval record.
pub(crate) fn state_key(credential_id: &str) -> String {
    format!("approval.{credential_id}")
}

/// One account's approval record. Its `Debug` shows no counter and no challenge ids.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ApprovalState {
    /// The record's format version.
    #[serde(default = "current_version")]
    pub version: u32,
    /// The counter of the last signed decision (0 before the first); only goes up.
    #[serde(default)]
    pub counter: u64,
    /// Ids of the challenges answered on this device, oldest first, at most
    /// [`MAX_ANSWERED`].
    #[serde(default)]
    pub answered: Vec<String>,
    /// Wrong number picks per challenge id, oldest challenge first, at most
    /// [`MAX_WRONG_PICK_CHALLENGES`].
    #[serde(default)]
    pub wrong_picks: Vec<(String, u8)>,
    /// The offline codes' record; absent for an account activated without them (an older
    /// server or app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<CodesState>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

fn current_version() -> u32 {
    STATE_VERSION
}

impl Default for ApprovalState {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            counter: 0,
            answered: Vec::new(),
            wrong_picks: Vec::new(),
            codes: None,
            other: serde_json::Map::new(),
        }
    }
}

/// What an account keeps for its offline codes: the secret it shares with the server (derived
/// at activation, never sent). Its `Debug` shows no secret; it is wiped when dropped.
#[derive(Clone, PartialEq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct CodesState {
    /// The per-account secret, base64url.
    pub secret: String,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    #[zeroize(skip)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl CodesState {
    /// The record of a new secret.
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self {
            secret: ibkey_protocol::encoding::b64(secret),
            other: serde_json::Map::new(),
        }
    }
}

impl fmt::Debug for CodesState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodesState").finish_non_exhaustive()
    }
}

impl ApprovalState {
    /// Moves the counter one up and returns the new value, to be saved before it is signed.
    pub(crate) fn next_counter(&mut self) -> u64 {
        self.counter = self.counter.saturating_add(1);
        self.counter
    }

    /// Whether the challenge `id` was answered on this device.
    pub(crate) fn was_answered(&self, id: &str) -> bool {
        self.answered.iter().any(|a| a == id)
    }

    /// Remembers that the challenge `id` was answered, forgetting the oldest beyond the
    /// bound, and drops its wrong picks.
    pub(crate) fn mark_answered(&mut self, id: &str) {
        if !self.was_answered(id) {
            self.answered.push(id.to_string());
        }
        let excess = self.answered.len().saturating_sub(MAX_ANSWERED);
        self.answered.drain(..excess);
        self.wrong_picks.retain(|(c, _)| c != id);
    }

    /// How many wrong picks the challenge `id` has had.
    pub(crate) fn wrong_picks_of(&self, id: &str) -> u8 {
        self.wrong_picks
            .iter()
            .find(|(c, _)| c == id)
            .map_or(0, |(_, n)| *n)
    }

    /// Counts one more wrong pick for the challenge `id` and returns the count.
    pub(crate) fn add_wrong_pick(&mut self, id: &str) -> u8 {
        let count = self.wrong_picks_of(id).saturating_add(1);
        self.wrong_picks.retain(|(c, _)| c != id);
        self.wrong_picks.push((id.to_string(), count));
        let excess = self
            .wrong_picks
            .len()
            .saturating_sub(MAX_WRONG_PICK_CHALLENGES);
        self.wrong_picks.drain(..excess);
        count
    }
}

impl fmt::Debug for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApprovalState")
            .field("version", &self.version)
            .field("answered", &self.answered.len())
            .field("wrong_picks", &self.wrong_picks.len())
            .field("codes", &self.codes.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // Tests may panic on a broken precondition.
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_keeps_fields_it_does_not_know() {
        let mut state = ApprovalState::default();
        assert_eq!(state.next_counter(), 1);
        assert_eq!(state.next_counter(), 2);
        state.mark_answered("c1");
        state.add_wrong_pick("c2");
        let bytes = serde_json::to_vec(&state).expect("json");
        let back: ApprovalState = serde_json::from_slice(&bytes).expect("read");
        assert_eq!(back, state);
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(json["version"], STATE_VERSION);

        // A newer version's record: its extra sub-record survives a read-modify-write.
        let newer =
            br#"{"version":2,"counter":7,"answered":["a"],"codes":{"secret":"x","counter":3}}"#;
        let mut read: ApprovalState = serde_json::from_slice(newer).expect("read");
        assert_eq!((read.version, read.counter), (2, 7));
        assert!(read.wrong_picks.is_empty());
        read.next_counter();
        let again: serde_json::Value =
            serde_json::from_slice(&serde_json::to_vec(&read).expect("json")).expect("json");
        assert_eq!(again["codes"]["counter"], 3);
        assert_eq!(again["codes"]["secret"], "x");
        assert_eq!(again["counter"], 8);
        assert_eq!(read.codes.as_ref().map(|c| c.secret.as_str()), Some("x"));

        // A record without codes (activated before they existed) writes none.
        let plain = serde_json::to_value(ApprovalState::default()).expect("json");
        assert!(plain.get("codes").is_none());

        // An empty object reads as a fresh record.
        let empty: ApprovalState = serde_json::from_slice(b"{}").expect("read");
        assert_eq!(empty, ApprovalState::default());
    }

    #[test]
    fn the_lists_stay_bounded_and_keep_the_newest() {
        let mut state = ApprovalState::default();
        for i in 0..200 {
            state.mark_answered(&format!("c{i}"));
            state.add_wrong_pick(&format!("w{i}"));
        }
        assert_eq!(state.answered.len(), MAX_ANSWERED);
        assert!(state.was_answered("c199") && !state.was_answered("c0"));
        assert_eq!(state.wrong_picks.len(), MAX_WRONG_PICK_CHALLENGES);
        assert_eq!(state.wrong_picks_of("w199"), 1);
        assert_eq!(state.wrong_picks_of("w0"), 0);
        state.mark_answered("c199");
        assert_eq!(state.answered.len(), MAX_ANSWERED, "no duplicates");
    }

    #[test]
    fn wrong_picks_count_per_challenge_and_end_when_answered() {
        let mut state = ApprovalState::default();
        assert_eq!(state.add_wrong_pick("a"), 1);
        assert_eq!(state.add_wrong_pick("b"), 1);
        assert_eq!(state.add_wrong_pick("a"), 2);
        assert_eq!(state.wrong_picks_of("a"), 2);
        state.mark_answered("a");
        assert_eq!(state.wrong_picks_of("a"), 0);
        assert_eq!(state.wrong_picks_of("b"), 1);
    }

    #[test]
    fn debug_shows_no_counter_and_no_ids() {
        let mut state = ApprovalState {
            counter: 987_654_321,
            ..ApprovalState::default()
        };
        state.mark_answered("challenge-secret-id");
        state.codes = Some(CodesState::new(b"offline-secret-bytes"));
        let secret = state
            .codes
            .as_ref()
            .map(|c| c.secret.clone())
            .expect("codes");
        let shown = format!("{state:?}");
        assert!(!shown.contains("987654321") && !shown.contains("challenge-secret-id"));
        assert!(!shown.contains(&secret), "{shown}");
    }
}
