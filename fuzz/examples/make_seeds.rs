//! Writes the seed corpus of `envelope_open` into fuzz/seeds/envelope_open/:
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`.
//!
//! Each seed is a real envelope that must still fail to open in the target: sealed under the
//! target's keys (1 and 2) for another record, or for its record under key 3, which it lacks.
//! They start the fuzzer past the header and length checks, at the authentication step. None may
//! open in the target: it asserts that nothing does.
//!
//! Never seed a blob sealed for the target's own record and then altered (say, one tag bit
//! flipped): the fuzzer undoes a one-bit change within seconds, the blob authenticates, and the
//! target fails. Tried: it found the valid blob after about 73,000 executions.

use std::fs;
use std::path::Path;

use railz_connect_core::crypto::{DataKey, Keyring, RecordBinding, RecordKind};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/envelope_open");
    fs::create_dir_all(&dir)?;
    // The target's keys: 2 primary, 1 decrypt-only.
    let key1 = Keyring::new(1, DataKey::from_bytes([0x11; 32]));
    let key2 = Keyring::new(2, DataKey::from_bytes([0x22; 32]));
    let target_ids = ["conn_0001", "biz_0001", "xero"];
    let other_ids = ["conn_0002", "biz_0001", "xero"];
    let payload = br#"{"access_token":"a","refresh_token":"r","expires_at":"2026-01-01T00:00:00Z"}"#;

    let write = |name: &str, blob: Vec<u8>| fs::write(dir.join(name), blob);
    let seal = |ring: &Keyring, kind: RecordKind, ids: &[&str], plaintext: &[u8]| {
        ring.seal(&RecordBinding::new(kind, ids), plaintext).expect("seal")
    };
    write("key1-other-record", seal(&key1, RecordKind::Credentials, &other_ids, payload))?;
    write("key2-other-record", seal(&key2, RecordKind::Credentials, &other_ids, payload))?;
    write("key2-other-kind", seal(&key2, RecordKind::Pending, &target_ids, payload))?;
    write("key2-empty-other-record", seal(&key2, RecordKind::Credentials, &other_ids, b""))?;
    // Key 3 is not in the target's keyring.
    let key3 = Keyring::new(3, DataKey::from_bytes([0x33; 32]));
    write("key3-unknown", seal(&key3, RecordKind::Credentials, &target_ids, payload))?;
    println!("seeds written to {}", dir.display());
    Ok(())
}
