//! Credentials at rest: the embedded SQLite store across restarts, wrong keys, tampering,
//! blobs moved between records, key rotation.

mod common;

use std::sync::Arc;

use common::*;
use railz_connect::crypto::{CryptoError, DataKey, Keyring, envelope_key_id};
use railz_connect::store::Page;
use railz_connect::store::{SqliteStore, Store};
use railz_connect::{ConnectionFilter, ConnectionId, Error, ManualClock};
use railz_connect_mock::MockServer;

async fn sqlite(path: &std::path::Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(path).await.unwrap())
}

fn instance(mock: &MockServer, store: Arc<dyn Store>, ring: Keyring) -> railz_connect::Connect {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    Harness::builder(mock, store, ring, clock).build().unwrap()
}

fn sql(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn blob_of(path: &std::path::Path, id: &ConnectionId) -> Vec<u8> {
    sql(path)
        .query_row("SELECT blob FROM rc_credentials WHERE connection_id = ?1", [id.to_string()], |r| r.get(0))
        .unwrap()
}

fn set_blob(path: &std::path::Path, id: &ConnectionId, blob: &[u8]) {
    let n = sql(path)
        .execute(
            "UPDATE rc_credentials SET blob = ?2 WHERE connection_id = ?1",
            rusqlite::params![id.to_string(), blob],
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_decrypt_after_a_restart_of_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connect.db");
    let mock = MockServer::start().await.unwrap();
    let (id, token) = {
        let h = Harness::on(mock, sqlite(&path).await, keyring()).await;
        let c = h.connect_one().await;
        let t = h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
        (c.id, t.access_token.secret().to_owned())
        // The store and the Connect are dropped here: the "app" stops.
    };
    let mock = MockServer::start().await.unwrap();
    let connect = instance(&mock, sqlite(&path).await, keyring());
    assert_eq!(connect.connections(&ConnectionFilter::all(), Page::default()).await.unwrap().len(), 1);
    let again = connect.credentials(&id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(again.access_token.secret(), token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_tampering_and_moved_blobs_fail_to_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connect.db");
    let h = Harness::on(MockServer::start().await.unwrap(), sqlite(&path).await, keyring()).await;
    let a = h.connect_one().await;
    let b = h.connect_one().await;
    assert!(h.connect.credentials(&a.id).await.is_ok());

    // The same key id with other key bytes.
    let wrong = instance(&h.mock, sqlite(&path).await, Keyring::new(1, DataKey::from_bytes([8; 32])));
    assert!(matches!(wrong.credentials(&a.id).await, Err(Error::Crypto(CryptoError::Authentication))));
    // A keyring without the blob's key.
    let other = instance(&h.mock, sqlite(&path).await, Keyring::new(2, DataKey::from_bytes([7; 32])));
    assert!(matches!(other.credentials(&a.id).await, Err(Error::Crypto(CryptoError::UnknownKey(1)))));

    // One flipped byte in the ciphertext.
    let original = blob_of(&path, &a.id);
    let mut tampered = original.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    set_blob(&path, &a.id, &tampered);
    assert!(matches!(h.connect.credentials(&a.id).await, Err(Error::Crypto(CryptoError::Authentication))));
    // An edited header (the key id is authenticated too).
    let mut header = original.clone();
    header[1] = 9;
    set_blob(&path, &a.id, &header);
    assert!(matches!(h.connect.credentials(&a.id).await, Err(Error::Crypto(CryptoError::UnsupportedAlgorithm(9)))));
    set_blob(&path, &a.id, &original);
    assert!(h.connect.credentials(&a.id).await.is_ok(), "restored");

    // B's blob copied onto A: authentic ciphertext, wrong record.
    set_blob(&path, &a.id, &blob_of(&path, &b.id));
    assert!(matches!(h.connect.credentials(&a.id).await, Err(Error::Crypto(CryptoError::Authentication))));
    assert!(h.connect.credentials(&b.id).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_keeps_old_rows_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connect.db");
    let mock = MockServer::start().await.unwrap();
    let old = Harness::on(mock, sqlite(&path).await, keyring()).await;
    let a = old.connect_one().await;
    assert_eq!(envelope_key_id(&blob_of(&path, &a.id)).unwrap(), 1);

    // Deploy the new key as decrypt-only, then promote it.
    let rotated = keyring().with_decrypt_only(2, DataKey::from_bytes([9; 32])).unwrap().promote(2).unwrap();
    let store = sqlite(&path).await;
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let new = Harness {
        connect: Harness::builder(&old.mock, Arc::clone(&store), rotated.clone(), Arc::clone(&clock)).build().unwrap(),
        mock: old.mock,
        store,
        clock,
    };
    assert!(new.connect.credentials(&a.id).await.is_ok(), "old rows still decrypt");
    let b = new.connect_one().await;
    assert_eq!(envelope_key_id(&blob_of(&path, &b.id)).unwrap(), 2, "new rows use the new key");
    assert!(rotated.needs_reencryption(&blob_of(&path, &a.id)).unwrap());
    // A refresh re-encrypts with the primary key; then the old key can go.
    new.connect.refresh(&a.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(envelope_key_id(&blob_of(&path, &a.id)).unwrap(), 2);
    let retired = instance(&new.mock, sqlite(&path).await, rotated.remove(1).unwrap());
    assert!(retired.credentials(&a.id).await.is_ok());
    assert!(retired.credentials(&b.id).await.is_ok());
}
