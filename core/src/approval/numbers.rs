//! The numbers a user picks from to match the login page: the right one and two others, in
//! an order drawn from the challenge's nonce, so the same challenge always shows the same
//! choices (after a restart too) and the position says nothing about which is right.

use ibkey_protocol::approval::NUMBER_RANGE;
use ring::digest;

/// How many numbers the user picks from.
pub(crate) const CHOICES: usize = 3;

/// The numbers to show for a challenge with nonce `nonce` whose login page shows `right`:
/// [`CHOICES`] distinct numbers in [`NUMBER_RANGE`] (the right one as the server sent it),
/// ordered by SHA-256 of the nonce.
pub(crate) fn number_choices(nonce: &str, right: u8) -> Vec<u8> {
    let low = *NUMBER_RANGE.start();
    let span = u16::from(NUMBER_RANGE.end() - low) + 1;
    let first = digest::digest(&digest::SHA256, nonce.as_bytes());
    let mut others: Vec<u8> = Vec::with_capacity(CHOICES);
    let mut block = first.as_ref().to_vec();
    // Each block of 32 bytes gives 15 candidates; a second block is needed about never.
    for round in 1u8..=8 {
        for pair in block[1..].chunks_exact(2) {
            let candidate = low + (u16::from_be_bytes([pair[0], pair[1]]) % span) as u8;
            if others.len() < CHOICES - 1 && candidate != right && !others.contains(&candidate) {
                others.push(candidate);
            }
        }
        if others.len() == CHOICES - 1 {
            break;
        }
        let mut input = nonce.as_bytes().to_vec();
        input.push(round);
        block = digest::digest(&digest::SHA256, &input).as_ref().to_vec();
    }
    // Cannot happen with SHA-256 output, but never loop or panic on it.
    let mut filler = NUMBER_RANGE;
    while others.len() < CHOICES - 1 {
        match filler.next() {
            Some(n) if n != right && !others.contains(&n) => others.push(n),
            Some(_) => {}
            None => break,
        }
    }
    let position = usize::from(first.as_ref()[0]) % CHOICES;
    others.insert(position.min(others.len()), right);
    others
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_distinct_numbers_in_range_with_the_right_one_stable_per_nonce() {
        let mut positions = [0u32; CHOICES];
        for i in 0..3000u32 {
            let nonce = format!("nonce-{i}");
            let right = 10 + (i % 90) as u8;
            let choices = number_choices(&nonce, right);
            assert_eq!(choices.len(), CHOICES, "{choices:?}");
            assert!(
                choices.iter().all(|n| NUMBER_RANGE.contains(n)),
                "{choices:?}"
            );
            let mut sorted = choices.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), CHOICES, "distinct: {choices:?}");
            let at = choices
                .iter()
                .position(|n| *n == right)
                .expect("the right one");
            positions[at] += 1;
            assert_eq!(number_choices(&nonce, right), choices, "stable");
        }
        // The right number lands in every position, about a third of the time each.
        assert!(
            positions.iter().all(|p| (800..1200).contains(p)),
            "{positions:?}"
        );
    }

    #[test]
    fn another_nonce_gives_other_choices() {
        let a = number_choices("AAAAAAAAAAAAAAAAAAAAAA", 42);
        let differ = (0..20)
            .filter(|i| number_choices(&format!("nonce{i}"), 42) != a)
            .count();
        assert!(differ >= 18, "{differ}");
    }

    #[test]
    fn edge_numbers_and_odd_nonces_never_panic() {
        for right in [0u8, 9, 10, 99, 100, 255] {
            for nonce in ["", "x", "ÄÖÜ", &"n".repeat(10_000)] {
                let choices = number_choices(nonce, right);
                assert_eq!(choices.len(), CHOICES);
                assert!(choices.contains(&right));
            }
        }
    }
}
