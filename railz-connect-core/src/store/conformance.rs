//! The conformance suite every [`Store`] implementation must pass: plain async functions that
//! panic on a failed check, like `object_store`'s integration tests.
//!
//! Run them all from a test of your store:
//!
//! ```no_run
//! # async fn t() {
//! use std::sync::Arc;
//! let store = Arc::new(railz_connect_core::store::MemoryStore::new());
//! railz_connect_core::store::conformance::run_all(store).await;
//! # }
//! ```
//!
//! Every check uses fresh random names and ids, so the suite also runs against a store that
//! already holds data.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use url::Url;

use super::{BusinessRecord, PendingAuthorization, PendingKind, Store, StoreError};
use crate::connection::{Connection, ConnectionFilter, ConnectionStatus, ReasonCode, Tenant};
use crate::ids::{BusinessName, ConnectionId, ServiceName, WidgetId};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A base time with whole microseconds, so stores with microsecond precision round-trip it.
fn t0() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond((now.nanosecond() / 1000) * 1000).unwrap_or(now)
}

fn connection(business: &BusinessName, service: &str, at: OffsetDateTime) -> Connection {
    Connection::new(
        ConnectionId::new_random(),
        WidgetId::new("conformance").unwrap(),
        business.clone(),
        ServiceName::new(service).unwrap(),
        Some(Tenant { id: "tenant-1".parse().unwrap(), name: "Tenant One".into() }),
        at,
        at + Duration::days(365),
    )
}

fn pending(key: &str, expires_at: OffsetDateTime) -> PendingAuthorization {
    let url = Url::parse("http://127.0.0.1:1/callback").unwrap();
    PendingAuthorization {
        key: key.to_owned(),
        kind: PendingKind::Authorization,
        widget_id: WidgetId::new("conformance").unwrap(),
        business_name: BusinessName::new(unique("biz")).unwrap(),
        service_name: ServiceName::new("railzSandbox").unwrap(),
        redirect_uri: url.clone(),
        success_url: url.clone(),
        failure_url: url,
        created_at: expires_at - Duration::minutes(10),
        expires_at,
        sealed: vec![1, 2, 3, 0, 255],
    }
}

/// Runs every check.
pub async fn run_all(store: Arc<dyn Store>) {
    businesses(store.as_ref()).await;
    concurrent_business_reservation(Arc::clone(&store)).await;
    connections_round_trip(store.as_ref()).await;
    listing(store.as_ref()).await;
    credentials_compare_and_swap(store.as_ref()).await;
    leases(store.as_ref()).await;
    disconnect_keeps_audit(store.as_ref()).await;
    pending_is_taken_once(Arc::clone(&store)).await;
    pending_purge(store.as_ref()).await;
}

/// A business name is reserved once.
pub async fn businesses(store: &dyn Store) {
    let name = BusinessName::new(unique("Acme")).unwrap();
    assert!(!store.business_exists(&name).await.unwrap());
    let rec = BusinessRecord::new(name.clone(), WidgetId::new("conformance").unwrap(), t0());
    assert!(store.reserve_business(&rec).await.unwrap(), "first reservation succeeds");
    assert!(!store.reserve_business(&rec).await.unwrap(), "second reservation is refused");
    assert!(store.business_exists(&name).await.unwrap());
}

/// Of 16 concurrent reservations of one name, exactly one wins.
pub async fn concurrent_business_reservation(store: Arc<dyn Store>) {
    let name = BusinessName::new(unique("Race")).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = Arc::clone(&store);
        let rec = BusinessRecord::new(name.clone(), WidgetId::new("conformance").unwrap(), t0());
        tasks.push(tokio::spawn(async move { store.reserve_business(&rec).await.unwrap() }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1, "exactly one concurrent reservation wins");
}

/// A connection reads back equal; its credentials start at version 1; ids are unique.
pub async fn connections_round_trip(store: &dyn Store) {
    let business = BusinessName::new(unique("Round Trip")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"blob-1").await.unwrap();
    assert_eq!(store.get_connection(&c.id).await.unwrap().as_ref(), Some(&c));
    let creds = store.load_credentials(&c.id).await.unwrap().expect("credentials stored");
    assert_eq!(creds.version, 1);
    assert_eq!(creds.blob, b"blob-1");
    match store.insert_connection(&c, b"blob-2").await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("inserting a duplicate id must be a conflict, got {other:?}"),
    }
    assert_eq!(store.load_credentials(&c.id).await.unwrap().unwrap().blob, b"blob-1", "a conflict changes nothing");
    assert_eq!(store.get_connection(&ConnectionId::new_random()).await.unwrap(), None);
    assert_eq!(store.load_credentials(&ConnectionId::new_random()).await.unwrap(), None);

    let at = c.created_at + Duration::minutes(5);
    let updated = store
        .set_connection_status(&c.id, ConnectionStatus::Invalid, Some(ReasonCode::ReauthorizationRequired), at)
        .await
        .unwrap()
        .expect("updated");
    assert_eq!(updated.status, ConnectionStatus::Invalid);
    assert_eq!(updated.status_reason, Some(ReasonCode::ReauthorizationRequired));
    assert_eq!(updated.updated_at, at);
    assert_eq!(store.get_connection(&c.id).await.unwrap(), Some(updated));
    assert!(
        store
            .set_connection_status(&ConnectionId::new_random(), ConnectionStatus::Active, None, at)
            .await
            .unwrap()
            .is_none()
    );
}

/// Listing filters by business, service and status, oldest first.
pub async fn listing(store: &dyn Store) {
    let business = BusinessName::new(unique("Lister")).unwrap();
    let other = BusinessName::new(unique("Other")).unwrap();
    let base = t0();
    let a = connection(&business, "railzSandbox", base);
    let b = connection(&business, "xero", base + Duration::seconds(1));
    let c = connection(&other, "xero", base + Duration::seconds(2));
    // Insert out of order: listing must sort.
    for k in [&c, &b, &a] {
        store.insert_connection(k, b"x").await.unwrap();
    }
    let mine = store.list_connections(&ConnectionFilter::all().business(business.clone())).await.unwrap();
    assert_eq!(mine, vec![a.clone(), b.clone()]);
    let xero = store
        .list_connections(
            &ConnectionFilter::all().business(business.clone()).service(ServiceName::new("xero").unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(xero, vec![b.clone()]);
    store
        .set_connection_status(&a.id, ConnectionStatus::Expired, Some(ReasonCode::ExpiredCredentials), base)
        .await
        .unwrap();
    let expired = store
        .list_connections(&ConnectionFilter::all().business(business.clone()).status(ConnectionStatus::Expired))
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, a.id);
    let all = store.list_connections(&ConnectionFilter::all()).await.unwrap();
    for k in [&a, &b, &c] {
        assert!(all.iter().any(|x| x.id == k.id));
    }
}

/// Credentials change only through a compare-and-swap on their version.
pub async fn credentials_compare_and_swap(store: &dyn Store) {
    let business = BusinessName::new(unique("Cas")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"v1").await.unwrap();
    assert_eq!(store.replace_credentials(&c.id, 1, b"v2").await.unwrap(), Some(2));
    assert_eq!(store.replace_credentials(&c.id, 1, b"stale").await.unwrap(), None, "a stale version writes nothing");
    let now = store.load_credentials(&c.id).await.unwrap().unwrap();
    assert_eq!((now.version, now.blob.as_slice()), (2, &b"v2"[..]));
    assert_eq!(store.replace_credentials(&ConnectionId::new_random(), 1, b"x").await.unwrap(), None);
}

/// A lease excludes other owners until it expires or is released.
pub async fn leases(store: &dyn Store) {
    let business = BusinessName::new(unique("Lease")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"v1").await.unwrap();
    let now = t0();
    let until = now + Duration::seconds(30);
    assert!(store.try_lease(&c.id, "a", now, until).await.unwrap());
    assert!(!store.try_lease(&c.id, "b", now, until).await.unwrap(), "held by a");
    assert!(store.try_lease(&c.id, "a", now, until).await.unwrap(), "the holder may renew");
    assert!(
        store.try_lease(&c.id, "b", until + Duration::seconds(1), until + Duration::seconds(31)).await.unwrap(),
        "an expired lease can be taken over"
    );
    store.release_lease(&c.id, "a").await.unwrap();
    assert!(!store.try_lease(&c.id, "a", now, until).await.unwrap(), "a cannot release b's lease");
    store.release_lease(&c.id, "b").await.unwrap();
    assert!(store.try_lease(&c.id, "a", now, until).await.unwrap(), "released");
    assert!(!store.try_lease(&ConnectionId::new_random(), "a", now, until).await.unwrap(), "no credentials, no lease");
}

/// Disconnecting deletes the credentials and keeps the connection as an audit record.
pub async fn disconnect_keeps_audit(store: &dyn Store) {
    let business = BusinessName::new(unique("Bye")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"v1").await.unwrap();
    let at = c.created_at + Duration::hours(1);
    let d = store.disconnect(&c.id, ReasonCode::DisconnectedByCustomer, at).await.unwrap().expect("disconnected");
    assert_eq!(d.status, ConnectionStatus::Disconnected);
    assert_eq!(d.status_reason, Some(ReasonCode::DisconnectedByCustomer));
    assert_eq!(store.load_credentials(&c.id).await.unwrap(), None, "credentials deleted");
    assert_eq!(store.get_connection(&c.id).await.unwrap(), Some(d), "connection kept");
    assert_eq!(store.replace_credentials(&c.id, 1, b"x").await.unwrap(), None, "nothing to replace");
    assert!(store.disconnect(&ConnectionId::new_random(), ReasonCode::Unknown, at).await.unwrap().is_none());
}

/// A pending record is taken at most once, even by concurrent callers; duplicates conflict.
pub async fn pending_is_taken_once(store: Arc<dyn Store>) {
    let key = unique("state");
    let p = pending(&key, t0() + Duration::minutes(10));
    store.insert_pending(&p).await.unwrap();
    assert!(matches!(store.insert_pending(&p).await, Err(StoreError::Conflict(_))));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        let key = key.clone();
        tasks.push(tokio::spawn(async move { store.take_pending(&key).await.unwrap() }));
    }
    let mut got = Vec::new();
    for t in tasks {
        if let Some(p) = t.await.unwrap() {
            got.push(p);
        }
    }
    assert_eq!(got.len(), 1, "exactly one taker");
    assert!(got[0] == p, "the record reads back whole");
    assert!(store.take_pending(&key).await.unwrap().is_none());
}

/// Purging removes expired records only.
pub async fn pending_purge(store: &dyn Store) {
    let now = t0();
    let old = pending(&unique("old"), now - Duration::minutes(1));
    let fresh = pending(&unique("fresh"), now + Duration::minutes(1));
    store.insert_pending(&old).await.unwrap();
    store.insert_pending(&fresh).await.unwrap();
    assert!(store.purge_pending(now).await.unwrap() >= 1);
    assert!(store.take_pending(&old.key).await.unwrap().is_none(), "expired record purged");
    assert!(store.take_pending(&fresh.key).await.unwrap().is_some(), "fresh record kept");
}
