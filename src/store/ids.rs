//! Migration IDs and batch IDs: short, unguessable, and easy to read aloud.
//!
//! The alphabet leaves out `0`, `O`, `1`, `I` and `L`, so an ID read over
//! the phone or copied by hand cannot be mistyped between look-alikes.
//! Twelve characters from 31 give about 59 bits of randomness.

use rand::RngExt;

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A new random migration ID such as `7K3F-9QXP-A2RT`.
pub fn migration_id() -> String {
    grouped(3)
}

/// A new random batch ID such as `B-7K3F-9QXP`.
pub fn batch_id() -> String {
    format!("B-{}", grouped(2))
}

fn grouped(groups: usize) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(groups * 5);
    for group in 0..groups {
        if group > 0 {
            id.push('-');
        }
        for _ in 0..4 {
            id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_use_only_unambiguous_characters() {
        for _ in 0..1000 {
            let id = migration_id();
            assert_eq!(id.len(), 14);
            assert!(
                id.chars()
                    .all(|c| c == '-' || ALPHABET.contains(&(c as u8))),
                "{id}"
            );
            assert!(!id.contains(['0', 'O', '1', 'I', 'L']));
        }
    }

    #[test]
    fn ids_differ() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| migration_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
