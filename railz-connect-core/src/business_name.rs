//! Generated business names: readable, random, and unique against the store.
//!
//! A generated name looks like `amber-falcon-7k3q9x`: an adjective, an animal and six
//! characters of a 32-letter alphabet without look-alikes (64 × 64 × 32⁶ ≈ 4.4 × 10¹² names).
//! Uniqueness is not assumed: [`crate::Connect`] reserves each candidate in the store and
//! draws again when it is taken.

use rand::Rng;

use crate::ids::BusinessName;

const ADJECTIVES: [&str; 64] = [
    "amber", "azure", "bold", "brave", "brisk", "calm", "clever", "coral", "crisp", "daring", "deft", "eager", "early",
    "fair", "fleet", "fresh", "gentle", "gilded", "glad", "golden", "grand", "hardy", "honest", "ivory", "jade",
    "jolly", "keen", "kind", "lively", "lucid", "lucky", "merry", "mighty", "misty", "nimble", "noble", "olive",
    "opal", "plucky", "polar", "proud", "quick", "quiet", "rapid", "ready", "royal", "rustic", "sage", "scarlet",
    "sharp", "silver", "sleek", "snowy", "solar", "steady", "sunny", "swift", "tidy", "true", "urban", "vivid", "warm",
    "witty", "zesty",
];

const ANIMALS: [&str; 64] = [
    "badger", "beaver", "bison", "bobcat", "condor", "coyote", "crane", "cougar", "dingo", "dolphin", "eagle", "egret",
    "falcon", "ferret", "finch", "gazelle", "gecko", "heron", "ibex", "ibis", "jackal", "jaguar", "kestrel", "koala",
    "lemur", "leopard", "lynx", "magpie", "marmot", "marten", "mink", "moose", "narwhal", "ocelot", "oriole", "osprey",
    "otter", "owl", "panda", "panther", "pelican", "puffin", "quail", "rabbit", "raven", "robin", "salmon", "seal",
    "sparrow", "stork", "swan", "tapir", "tern", "tiger", "toucan", "trout", "turtle", "viper", "walrus", "weasel",
    "whale", "wolf", "wombat", "zebra",
];

/// 32 characters: digits and lower-case letters without `0 o 1 l`.
const ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";

/// Draws one candidate name (not yet checked for uniqueness).
pub fn generate() -> BusinessName {
    let mut rng = rand::thread_rng();
    let mut suffix = String::with_capacity(6);
    for _ in 0..6 {
        suffix.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    let name = format!(
        "{}-{}-{}",
        ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())],
        ANIMALS[rng.gen_range(0..ANIMALS.len())],
        suffix
    );
    // The word lists and the alphabet only produce valid names (tested below).
    BusinessName::new_unchecked(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn shape_and_spread() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let n = generate();
            let parts: Vec<&str> = n.as_str().split('-').collect();
            assert_eq!(parts.len(), 3, "{n}");
            assert!(ADJECTIVES.contains(&parts[0]));
            assert!(ANIMALS.contains(&parts[1]));
            assert_eq!(parts[2].len(), 6);
            assert!(parts[2].bytes().all(|b| ALPHABET.contains(&b)));
            // What `new` would make of it: valid, and already in NFC.
            assert_eq!(BusinessName::new(n.as_str()).as_ref(), Ok(&n));
            seen.insert(n);
        }
        assert!(seen.len() > 9_990, "names repeat far too often: {}", seen.len());
        let words: HashSet<&str> = ADJECTIVES.iter().chain(ANIMALS.iter()).copied().collect();
        assert_eq!(words.len(), 128, "word lists hold duplicates");
    }
}
