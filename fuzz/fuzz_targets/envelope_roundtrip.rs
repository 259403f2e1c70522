//! SECURITY case 17 (and 15, 16): decode(encode(x)) == x for envelopes, and a blob only opens
//! for the record it was sealed for.
//!
//! Structured input: a plaintext and a binding (kind and ids, lengths bounded), plus the edits to
//! try. `open(seal(x)) == x`, also with a keyring that holds the key as decrypt-only (rotation);
//! opening with one binding id changed, with any other binding, or after flipping a bit fails.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use railz_connect_core::crypto::{
    CryptoError, DataKey, HEADER_LEN, Keyring, RecordBinding, RecordKind, envelope_key_id,
};

const MAX_PLAINTEXT: usize = 4096;
const MAX_STR: usize = 64;
const MAX_IDS: usize = 5;
const TAG_LEN: usize = 16;

/// One of the record kinds the SDK seals.
fn record_kind(n: u8) -> RecordKind {
    [RecordKind::Session, RecordKind::Pending, RecordKind::Credentials][usize::from(n) % 3]
}

#[derive(Debug, Arbitrary)]
struct Input {
    plaintext: Vec<u8>,
    kind: u8,
    ids: Vec<String>,
    /// Which id to change, and the string to change it to (when that differs).
    change_index: u8,
    change_to: String,
    /// Another whole binding to try; it must fail unless it equals the first.
    other_kind: u8,
    other_ids: Vec<String>,
    /// Seal with key 1 instead of key 2.
    old_key: bool,
    /// A bit of the blob to flip.
    flip_bit: u16,
}

fn bounded(s: &str) -> String {
    s.chars().take(MAX_STR).collect()
}

fn bounded_ids(ids: &[String]) -> Vec<String> {
    ids.iter().take(MAX_IDS).map(|s| bounded(s)).collect()
}

/// Key 2 primary, key 1 decrypt-only; and the ring before rotation, key 1 primary alone.
fn rings() -> &'static (Keyring, Keyring) {
    static RINGS: OnceLock<(Keyring, Keyring)> = OnceLock::new();
    RINGS.get_or_init(|| {
        let old = Keyring::new(1, DataKey::from_bytes([0x11; 32]));
        let new = Keyring::new(1, DataKey::from_bytes([0x11; 32]))
            .with_decrypt_only(2, DataKey::from_bytes([0x22; 32]))
            .and_then(|ring| ring.promote(2))
            .expect("a fixed keyring");
        (new, old)
    })
}

fuzz_target!(|input: Input| {
    let (current, before_rotation) = rings();
    let plaintext = &input.plaintext[..input.plaintext.len().min(MAX_PLAINTEXT)];
    let kind = record_kind(input.kind);
    let ids = bounded_ids(&input.ids);
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let binding = RecordBinding::new(kind, &id_refs);

    let sealer = if input.old_key { before_rotation } else { current };
    let blob = sealer.seal(&binding, plaintext).expect("sealing a bounded plaintext");
    assert_eq!(blob.len(), HEADER_LEN + plaintext.len() + TAG_LEN, "envelope length");
    assert_eq!(envelope_key_id(&blob), Ok(sealer.primary_key_id()), "the header names the sealing key");

    // decode(encode(x)) == x, with the sealing ring and with the rotated ring (key 1 decrypt-only).
    let opened = sealer.open(&binding, &blob).expect("a blob opens for its own record");
    assert_eq!(opened.as_slice(), plaintext, "open(seal(x)) != x");
    let opened = current.open(&binding, &blob).expect("the rotated keyring opens old and new blobs");
    assert_eq!(opened.as_slice(), plaintext, "open(seal(x)) != x after rotation");
    assert_eq!(current.needs_reencryption(&blob), Ok(input.old_key), "needs_reencryption");
    if !input.old_key {
        // Sealed with key 2, which the old keyring does not have.
        assert_eq!(before_rotation.open(&binding, &blob).err(), Some(CryptoError::UnknownKey(2)));
    }

    // One binding id changed (when a different string can be made) -> authentication failure.
    if !ids.is_empty() {
        let index = usize::from(input.change_index) % ids.len();
        let mut changed = ids.clone();
        changed[index] = bounded(&input.change_to);
        if changed[index] == ids[index] {
            changed[index].push('x');
        }
        let changed_refs: Vec<&str> = changed.iter().map(String::as_str).collect();
        let result = current.open(&RecordBinding::new(kind, &changed_refs), &blob);
        assert_eq!(result.err(), Some(CryptoError::Authentication), "opened with id {index} changed to {changed:?}");
    }

    // Any other binding (kind changed, ids added, removed, or split differently) fails.
    let other_kind = record_kind(input.other_kind);
    let other_ids = bounded_ids(&input.other_ids);
    let result = {
        let refs: Vec<&str> = other_ids.iter().map(String::as_str).collect();
        current.open(&RecordBinding::new(other_kind, &refs), &blob).map(|p| p.to_vec())
    };
    if other_kind == kind && other_ids == ids {
        assert_eq!(result.as_deref(), Ok(plaintext), "the same binding, rebuilt, opens");
    } else {
        assert_eq!(result.err(), Some(CryptoError::Authentication), "opened for {other_kind:?} {other_ids:?}");
    }

    // A flipped bit anywhere (header, nonce, ciphertext or tag) -> an error, never plaintext.
    let mut tampered = blob.clone();
    let bit = usize::from(input.flip_bit) % (tampered.len() * 8);
    tampered[bit / 8] ^= 1 << (bit % 8);
    assert!(current.open(&binding, &tampered).is_err(), "opened with bit {bit} flipped");
});
