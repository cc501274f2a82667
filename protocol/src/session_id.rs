//! Session IDs: the code printed under the portal's QR, typed by hand when the camera
//! cannot read it.
//!
//! A session ID is 12 characters from Crockford's base-32 alphabet in three groups of four
//! (`K7QP-3MZX-9TWD`). Each group is three random characters and one check character, so
//! an ID carries 45 bits of randomness and a typo is caught on the device, group by group,
//! before any network call. Reading is forgiving: case, spaces and dashes do not matter, and
//! the look-alikes `O` → `0` and `I`/`L` → `1` are folded. That grammar is public
//! ([`ALPHABET`], [`LOOK_ALIKES`], [`fold`], [`is_separator`], [`group_passes`]), so whatever
//! must recognise what a person typed (the diagnostics redactor, its tests) reads the same.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::encoding::crockford_value;
/// The characters of a session ID: Crockford's base 32.
pub use crate::encoding::CROCKFORD as ALPHABET;

/// Number of groups in a session ID.
pub const GROUPS: usize = 3;
/// Characters per group, the check character included.
pub const GROUP_LEN: usize = 4;
/// Characters in a whole session ID, without separators.
pub const LEN: usize = GROUPS * GROUP_LEN;
/// Bits of randomness in a session ID.
pub const RANDOM_BITS: u32 = (GROUPS * (GROUP_LEN - 1) * 5) as u32;
/// The look-alike letters a reader folds, after upper-casing: each typed letter and the
/// character of [`ALPHABET`] it is read as.
pub const LOOK_ALIKES: [(char, u8); 3] = [('O', b'0'), ('I', b'1'), ('L', b'1')];

/// Whether a typed character only separates (and is skipped): a dash or any white space,
/// tabs and non-breaking spaces included, anywhere and repeated.
pub fn is_separator(c: char) -> bool {
    c == '-' || c.is_whitespace()
}

/// The character of [`ALPHABET`] a typed character is read as (any case, look-alikes
/// folded); `None` for one that never appears in a session ID.
pub fn fold(c: char) -> Option<u8> {
    let upper = c.to_ascii_uppercase();
    let read = LOOK_ALIKES
        .iter()
        .find(|(typed, _)| *typed == upper)
        .map_or(u8::try_from(upper).ok(), |&(_, read)| Some(read))?;
    ALPHABET.contains(&read).then_some(read)
}

/// Whether four characters of [`ALPHABET`] end in the check character of group `group`
/// (0-based); anything else (other characters, another length) does not.
pub fn group_passes(group: usize, chars: &[u8]) -> bool {
    let mut values = [0u8; GROUP_LEN];
    if chars.len() != GROUP_LEN {
        return false;
    }
    for (i, &c) in chars.iter().enumerate() {
        match (values.get_mut(i), crockford_value(c)) {
            (Some(value), Some(v)) => *value = v,
            _ => return false,
        }
    }
    check_value(group, &values[..GROUP_LEN - 1]) == values[GROUP_LEN - 1]
}

/// Why a typed session ID was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionIdError {
    /// Too few or too many characters once dashes and spaces are removed.
    #[error("A session ID has {expected} letters and digits; you typed {found}. Type all three groups shown under the QR code.")]
    WrongLength {
        /// Characters found.
        found: u32,
        /// Characters expected.
        expected: u32,
    },
    /// A character that never appears in a session ID.
    #[error("Group {group} of the session ID contains '{character}', which never appears in a session ID. Check group {group} against the portal.")]
    InvalidCharacter {
        /// The group (1-based) holding the character.
        group: u32,
        /// The character as typed.
        character: String,
    },
    /// A group whose check character does not match: a typo in that group.
    #[error("Group {group} of the session ID looks mistyped. Check group {group} against the portal and type it again.")]
    Mistyped {
        /// The group (1-based) that looks wrong.
        group: u32,
    },
}

/// A well-formed session ID. Its `Debug` and `Display` show only the last group.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SessionId {
    /// The 12 canonical characters, no separators.
    canonical: String,
}

impl SessionId {
    /// Makes a fresh random session ID (used by the server).
    pub fn generate(rng: &SystemRandom) -> Result<Self, ring::error::Unspecified> {
        let mut canonical = String::with_capacity(LEN);
        let mut random = [0u8; GROUPS * (GROUP_LEN - 1)];
        rng.fill(&mut random)?;
        for (group, data) in random.chunks(GROUP_LEN - 1).enumerate() {
            let values: Vec<u8> = data.iter().map(|b| b & 31).collect();
            for &v in &values {
                canonical.push(ALPHABET[v as usize] as char);
            }
            canonical.push(ALPHABET[check_value(group, &values) as usize] as char);
        }
        random.zeroize();
        Ok(Self { canonical })
    }

    /// Reads a session ID as a person typed it: case-insensitive, dashes and spaces ignored,
    /// `O` read as `0` and `I`/`L` as `1`. Tells which group looks wrong.
    pub fn parse(typed: &str) -> Result<Self, SessionIdError> {
        let mut canonical = String::with_capacity(LEN);
        let mut bad_char: Option<(usize, char)> = None;
        for c in typed.chars().filter(|&c| !is_separator(c)) {
            let folded = fold(c);
            if bad_char.is_none() && folded.is_none() {
                bad_char = Some((canonical.chars().count(), c));
            }
            canonical.push(folded.map_or(c, char::from));
        }
        let found = canonical.chars().count();
        if let Some((position, character)) = bad_char {
            if position < LEN {
                return Err(SessionIdError::InvalidCharacter {
                    group: (position / GROUP_LEN + 1) as u32,
                    character: character.to_string(),
                });
            }
        }
        if found != LEN {
            return Err(SessionIdError::WrongLength {
                found: found as u32,
                expected: LEN as u32,
            });
        }
        for (group, chars) in canonical.as_bytes().chunks(GROUP_LEN).enumerate() {
            if !group_passes(group, chars) {
                return Err(SessionIdError::Mistyped {
                    group: (group + 1) as u32,
                });
            }
        }
        Ok(Self { canonical })
    }

    /// The 12 characters without separators, as sent to the server.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The ID in groups for people to read (`K7QP-3MZX-9TWD`). Only the portal prints this.
    pub fn grouped(&self) -> String {
        let groups: Vec<&str> = (0..GROUPS)
            .map(|g| &self.canonical[g * GROUP_LEN..(g + 1) * GROUP_LEN])
            .collect();
        groups.join("-")
    }

    /// The last group, which is all that logs, errors and bundles ever show.
    pub fn last_group(&self) -> &str {
        &self.canonical[LEN - GROUP_LEN..]
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(****-****-{})", self.last_group())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "****-****-{}", self.last_group())
    }
}

/// Luhn mod 32 check value over the group's position and its three data values: catches
/// every single-character typo, most swaps of neighbours, and a group typed in the wrong place.
fn check_value(group: usize, data: &[u8]) -> u8 {
    const N: u32 = 32;
    let (mut factor, mut sum) = (2, 0u32);
    let mut add = |value: u8| {
        let addend = factor * u32::from(value);
        sum += addend / N + addend % N;
        factor = 3 - factor;
    };
    data.iter().rev().for_each(|&value| add(value));
    add(group as u8 + 1);
    ((N - sum % N) % N) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> SessionId {
        SessionId::generate(&SystemRandom::new()).expect("random")
    }

    #[test]
    fn generated_ids_parse_back_in_every_typing_style() {
        for _ in 0..200 {
            let id = fresh();
            let grouped = id.grouped();
            assert_eq!(SessionId::parse(&grouped).expect("grouped"), id);
            assert_eq!(
                SessionId::parse(&grouped.to_lowercase()).expect("lower"),
                id
            );
            assert_eq!(SessionId::parse(id.canonical()).expect("no dashes"), id);
            let spaced = grouped.replace('-', " ");
            assert_eq!(
                SessionId::parse(&format!("  {spaced} ")).expect("spaces"),
                id
            );
            let lookalikes = grouped.replace('0', "O").replace('1', "l");
            assert_eq!(SessionId::parse(&lookalikes).expect("look-alikes"), id);
        }
    }

    #[test]
    fn every_single_character_typo_is_caught_in_its_group() {
        for _ in 0..50 {
            let id = fresh();
            let chars: Vec<u8> = id.canonical().bytes().collect();
            for position in 0..LEN {
                for &replacement in ALPHABET.iter() {
                    if replacement == chars[position] {
                        continue;
                    }
                    let mut typo = chars.clone();
                    typo[position] = replacement;
                    let typo = String::from_utf8(typo).expect("ascii");
                    assert_eq!(
                        SessionId::parse(&typo),
                        Err(SessionIdError::Mistyped {
                            group: (position / GROUP_LEN + 1) as u32
                        }),
                        "typo at {position}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_length_and_foreign_characters_are_named() {
        assert_eq!(
            SessionId::parse("K7QP-3MZX"),
            Err(SessionIdError::WrongLength {
                found: 8,
                expected: 12
            })
        );
        assert_eq!(
            SessionId::parse("K7QP-3M#X-9TWD"),
            Err(SessionIdError::InvalidCharacter {
                group: 2,
                character: "#".into()
            })
        );
        assert_eq!(
            SessionId::parse("K7QP-3MZX-9TWU"),
            Err(SessionIdError::InvalidCharacter {
                group: 3,
                character: "U".into()
            })
        );
        assert!(matches!(
            SessionId::parse(""),
            Err(SessionIdError::WrongLength { found: 0, .. })
        ));
        assert!(matches!(
            SessionId::parse("ü😀"),
            Err(SessionIdError::InvalidCharacter { group: 1, .. })
        ));
    }

    #[test]
    fn display_and_debug_show_only_the_last_group() {
        let id = fresh();
        let shown = format!("{id} {id:?}");
        assert!(!shown.contains(&id.canonical()[..GROUP_LEN]));
        assert!(shown.contains(id.last_group()));
    }

    #[test]
    fn randomness_is_at_least_forty_bits() {
        const { assert!(RANDOM_BITS >= 40) };
    }
}
