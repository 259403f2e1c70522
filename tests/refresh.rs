//! Refresh: rotation, invalid_grant, exactly one refresh under concurrency across instances,
//! stalled lease holders, and storage failures after the provider rotated.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use railz_connect::store::{MemoryStore, SealedCredentials, SqliteStore, Store};
use railz_connect::{ConnectionStatus, Error, EventKind, ReasonCode};
use railz_connect_mock::{Endpoint, Fault};

#[tokio::test]
async fn refresh_rotates_and_stores_the_new_refresh_token() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    let before = h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    let v1 = h.store.load_credentials(&c.id).await.unwrap().unwrap().version;
    let after = h.connect.refresh(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_ne!(after.access_token.secret(), before.access_token.secret());
    assert_ne!(after.refresh_token.as_ref().unwrap().secret(), before.refresh_token.as_ref().unwrap().secret());
    assert_eq!(after.params.get("tenantId").map(String::as_str), Some("cmp_sandbox_1"), "params survive refresh");
    assert_eq!(h.store.load_credentials(&c.id).await.unwrap().unwrap().version, v1 + 1);
    let stored = h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), after.refresh_token.as_ref().unwrap().secret());
    assert_eq!(h.mock.token_calls("refresh_token"), 1);
    assert_eq!(
        h.mock.requests(Endpoint::Token)[1].form_param("refresh_token"),
        before.refresh_token.as_ref().map(|r| r.secret())
    );
}

#[tokio::test]
async fn an_expiring_access_token_is_refreshed_on_read() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    let before = h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(h.mock.token_calls("refresh_token"), 0, "fresh token, no refresh");
    h.clock.advance(std::time::Duration::from_secs(3570));
    let after = h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(h.mock.token_calls("refresh_token"), 1);
    assert_ne!(after.access_token.secret(), before.access_token.secret());
}

#[tokio::test]
async fn invalid_grant_needs_reauthorization_and_is_never_retried() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    let mut events = h.connect.subscribe();
    h.mock.revoke_all();
    let err = h.connect.refresh(&c.id).await.unwrap_err();
    assert!(matches!(err, Error::NeedsReauthorization(id) if id == c.id), "{err:?}");
    assert_eq!(err.reason_code(), ReasonCode::ReauthorizationRequired);
    assert_eq!(h.mock.token_calls("refresh_token"), 1, "no retry loop");
    let now = h.connect.connection(&c.id).await.unwrap();
    assert_eq!((now.status, now.status_reason), (ConnectionStatus::Invalid, Some(ReasonCode::ReauthorizationRequired)));
    let e = events.recv().await.unwrap();
    assert_eq!((e.kind, e.status), (EventKind::ConnectionStatus, Some(ConnectionStatus::Invalid)));
    // Further calls fail fast without calling the provider.
    assert!(matches!(h.connect.refresh(&c.id).await, Err(Error::ConnectionUnusable { .. })));
    assert_eq!(h.mock.token_calls("refresh_token"), 1);
}

#[tokio::test]
async fn a_retryable_refresh_failure_changes_nothing() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    let before = h.store.load_credentials(&c.id).await.unwrap().unwrap();
    h.mock.fail_next(Endpoint::Token, Fault::TooManyRequests { retry_after_secs: 30 });
    let err = h.connect.refresh(&c.id).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(err.reason_code(), ReasonCode::RateLimited);
    assert_eq!(h.store.load_credentials(&c.id).await.unwrap().unwrap(), before, "stored credentials unchanged");
    assert_eq!(h.connect.connection(&c.id).await.unwrap().status, ConnectionStatus::Active);
    assert!(h.connect.refresh(&c.id).await.is_ok(), "the lease was released");
}

/// 20 callers over 4 instances ("app processes" sharing one store) call `refresh()` at once,
/// against a provider that kills a refresh token on use. The provider's answer is held until
/// every caller has read the credentials it starts from, so all of them race for real; exactly
/// one refresh call reaches the provider and every caller gets its tokens.
async fn exactly_one_refresh(store: Arc<dyn Store>) {
    let store = Arc::new(InstrumentedStore::new(store));
    let h = Harness::with_store(store.clone()).await;
    let c = h.connect_one().await;
    let instances: Vec<_> = (0..4).map(|_| h.sibling()).collect();
    let held = h.mock.hold_next(Endpoint::Token);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let connect = instances[i % 4].clone();
        let id = c.id;
        tasks.push(tokio::spawn(CALLER.scope(i, async move { connect.refresh(&id).await })));
    }
    store.wait_readers(20).await;
    held.arrived().await;
    held.release();
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        let set = t.await.unwrap().expect("every caller gets tokens");
        tokens.insert(set.access_token().unwrap().secret().to_owned());
    }
    assert_eq!(h.mock.token_calls("refresh_token"), 1, "exactly one refresh call");
    assert_eq!(tokens.len(), 1, "all callers got the same access token");
    assert_eq!(h.store.load_credentials(&c.id).await.unwrap().unwrap().version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refreshers_over_four_instances_refresh_once_in_memory() {
    exactly_one_refresh(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refreshers_over_four_instances_refresh_once_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    exactly_one_refresh(Arc::new(SqliteStore::open(dir.path().join("r.db")).await.unwrap())).await;
}

/// 20 readers over 4 instances ask for the credentials of a connection whose access token is
/// due: exactly one refresh, whenever each of them runs (a late reader finds a fresh token,
/// stamped with the SDK's clock, not the wall clock).
async fn due_token_read_by_twenty(store: Arc<dyn Store>) {
    let h = Harness::with_store(store).await;
    let c = h.connect_one().await;
    h.clock.advance(std::time::Duration::from_secs(3570));
    let instances: Vec<_> = (0..4).map(|_| h.sibling()).collect();
    let held = h.mock.hold_next(Endpoint::Token);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let connect = instances[i % 4].clone();
            let id = c.id;
            tokio::spawn(async move { connect.credentials(&id).await })
        })
        .collect();
    held.arrived().await;
    held.release();
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        tokens.insert(t.await.unwrap().expect("every reader gets tokens").access_token().unwrap().secret().to_owned());
    }
    assert_eq!(h.mock.token_calls("refresh_token"), 1, "exactly one refresh call");
    assert_eq!(tokens.len(), 1, "all readers got the refreshed access token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_readers_of_a_due_token_refresh_once_in_memory() {
    due_token_read_by_twenty(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_readers_of_a_due_token_refresh_once_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    due_token_read_by_twenty(Arc::new(SqliteStore::open(dir.path().join("d.db")).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_lease_holder_is_overtaken_and_its_stale_write_changes_nothing() {
    let store = Arc::new(InstrumentedStore::new(Arc::new(MemoryStore::new())));
    let h = Harness::with_store(store.clone()).await;
    let c = h.connect_one().await;
    let stale = h.store.load_credentials(&c.id).await.unwrap().unwrap();
    // Another instance took the lease and stalls.
    let now = railz_connect::Clock::now(h.clock.as_ref());
    assert!(h.store.try_lease(&c.id, "stalled-instance", now, now + time::Duration::seconds(30)).await.unwrap());
    let clock = Arc::clone(&h.clock);
    let connect = h.connect.clone();
    let id = c.id;
    let refresher = tokio::spawn(async move { connect.refresh(&id).await });
    store.wait_lease_refusals(1).await;
    assert_eq!(h.mock.token_calls("refresh_token"), 0, "waits while the lease is held");
    clock.advance(std::time::Duration::from_secs(31));
    let fresh = refresher.await.unwrap().unwrap();
    assert_eq!(h.mock.token_calls("refresh_token"), 1);
    // The stalled holder wakes up and writes with the version it read: nothing changes.
    assert_eq!(
        h.store
            .replace_credentials(&c.id, stale.version, &SealedCredentials::new(b"stale".to_vec(), 1), &[])
            .await
            .unwrap(),
        None
    );
    let stored = h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(stored.access_token.secret(), fresh.access_token().unwrap().secret());
}

#[tokio::test]
async fn a_failed_write_after_rotation_is_retried_and_the_new_token_kept() {
    let store = Arc::new(InstrumentedStore::new(Arc::new(MemoryStore::new())));
    let h = Harness::with_store(store.clone()).await;
    let c = h.connect_one().await;
    store.write_failures_left.store(2, Ordering::SeqCst);
    let fresh = h.connect.refresh(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(store.write_failures_left.load(Ordering::SeqCst), 0, "both failures were hit");
    let stored = h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(
        stored.refresh_token.unwrap().secret(),
        fresh.refresh_token.unwrap().secret(),
        "the rotated token is kept"
    );
    assert_eq!(h.mock.token_calls("refresh_token"), 1);
    // And it works: the provider accepts it.
    assert!(h.connect.refresh(&c.id).await.is_ok());
}
