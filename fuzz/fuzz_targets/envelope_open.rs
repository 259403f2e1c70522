//! SECURITY case 17 (and 14): envelope decoding never panics and never yields plaintext for
//! bytes that were not sealed with the keyring's key for this record.
//!
//! The input is a blob, opened with a fixed keyring (key 2 primary, key 1 decrypt-only) and a
//! fixed binding. Forging an AES-GCM-SIV tag is out of reach, so `open` must fail, with the error
//! the header calls for; `envelope_key_id` must agree with the header bytes. The seed corpus
//! (fuzz/seeds/envelope_open) holds real envelopes sealed for *other* records, so the fuzzer
//! starts past the header checks, at the authentication step.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use railz_connect_core::crypto::{
    ALGORITHM_AES_256_GCM_SIV, CryptoError, DataKey, FORMAT_VERSION, HEADER_LEN, Keyring, RecordBinding, RecordKind,
    envelope_key_id,
};

const TAG_LEN: usize = 16;

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        Keyring::new(1, DataKey::from_bytes([0x11; 32]))
            .with_decrypt_only(2, DataKey::from_bytes([0x22; 32]))
            .and_then(|ring| ring.promote(2))
            .expect("a fixed keyring")
    })
}

fuzz_target!(|blob: &[u8]| {
    let ring = keyring();
    let ids = ["conn_0001", "biz_0001", "xero"];
    let binding = RecordBinding::new(RecordKind::Credentials, &ids);

    // What the header says, read independently of the crate.
    let expected = if blob.len() < 6 {
        Err(CryptoError::Truncated { len: blob.len() })
    } else if blob[0] != FORMAT_VERSION {
        Err(CryptoError::UnsupportedVersion(blob[0]))
    } else if blob[1] != ALGORITHM_AES_256_GCM_SIV {
        Err(CryptoError::UnsupportedAlgorithm(blob[1]))
    } else {
        Ok(u32::from_be_bytes([blob[2], blob[3], blob[4], blob[5]]))
    };
    assert_eq!(envelope_key_id(blob), expected, "envelope_key_id disagrees with the header of {blob:?}");
    assert_eq!(
        ring.needs_reencryption(blob),
        expected.clone().map(|id| id != ring.primary_key_id()),
        "needs_reencryption disagrees with the header"
    );

    // The header's own errors come first; past them a short blob or an unknown key may be
    // reported in either order; a well-formed blob for a known key fails authentication.
    let allowed = match expected {
        Err(e) => vec![e],
        Ok(id) => {
            let mut allowed = Vec::new();
            if blob.len() < HEADER_LEN + TAG_LEN {
                allowed.push(CryptoError::Truncated { len: blob.len() });
            }
            if !ring.contains(id) {
                allowed.push(CryptoError::UnknownKey(id));
            }
            if allowed.is_empty() {
                allowed.push(CryptoError::Authentication);
            }
            allowed
        }
    };
    match ring.open(&binding, blob) {
        Ok(plaintext) => panic!("{} unsealed bytes authenticated as {:?}", blob.len(), plaintext.as_slice()),
        Err(got) => {
            assert!(allowed.contains(&got), "{got:?} for a {}-byte blob, expected one of {allowed:?}", blob.len())
        }
    }
});
