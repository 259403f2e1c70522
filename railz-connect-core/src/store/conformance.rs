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
//! already holds data. Timestamps have non-zero microseconds below the millisecond (`.123456`),
//! so a store that keeps only milliseconds fails; the wall clock only gives the base time.
//! Each check names the point of the contract (see [the module docs](super)) it enforces.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use url::Url;

use super::{BusinessRecord, PendingAuthorization, PendingKind, Store, StoreError};
use crate::connection::{Connection, ConnectionFilter, ConnectionStatus, ReasonCode, Tenant};
use crate::ids::{BusinessName, ConnectionId, ServiceName, WidgetId};

/// One microsecond: the precision every store keeps.
const MICRO: Duration = Duration::microseconds(1);

/// A validity no store would guess (not the default 365 days), with a microsecond part.
fn validity() -> Duration {
    Duration::days(17) + Duration::microseconds(3)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn widget(name: &str) -> WidgetId {
    WidgetId::new(name).unwrap()
}

/// A base time: now, with `.123456` as its fraction of a second, so it has microseconds below
/// the millisecond that a millisecond-precision store would lose.
fn t0() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(123_456_000).expect("a valid nanosecond")
}

fn connection_with_id(id: ConnectionId, business: &BusinessName, service: &str, at: OffsetDateTime) -> Connection {
    Connection::new(
        id,
        widget("conformance"),
        business.clone(),
        ServiceName::new(service).unwrap(),
        Some(Tenant::new("tenant-1".parse().unwrap(), "Tenant One")),
        at,
        at + validity(),
    )
}

fn connection(business: &BusinessName, service: &str, at: OffsetDateTime) -> Connection {
    connection_with_id(ConnectionId::new_random(), business, service, at)
}

fn pending(key: &str, kind: PendingKind, expires_at: OffsetDateTime) -> PendingAuthorization {
    let url = Url::parse("http://127.0.0.1:1/callback").unwrap();
    PendingAuthorization {
        key: key.to_owned(),
        kind,
        widget_id: widget("conformance"),
        business_name: BusinessName::new(unique("biz")).unwrap(),
        service_name: ServiceName::new("railzSandbox").unwrap(),
        redirect_uri: url.clone(),
        success_url: Url::parse("http://127.0.0.1:1/ok").unwrap(),
        failure_url: Url::parse("http://127.0.0.1:1/failed").unwrap(),
        // Not a whole number of minutes before `expires_at`: both keep their microseconds.
        created_at: expires_at - Duration::minutes(10) - Duration::microseconds(17),
        expires_at,
        sealed: vec![1, 2, 3, 0, 255],
    }
}

/// Runs every check.
pub async fn run_all(store: Arc<dyn Store>) {
    businesses(store.as_ref()).await;
    concurrent_business_reservation(Arc::clone(&store)).await;
    connections_round_trip(store.as_ref()).await;
    connections_keep_every_field(store.as_ref()).await;
    status_reason_is_cleared(store.as_ref()).await;
    listing(store.as_ref()).await;
    listing_by_widget(store.as_ref()).await;
    listing_order(store.as_ref()).await;
    credentials_compare_and_swap(store.as_ref()).await;
    leases(store.as_ref()).await;
    lease_times_keep_microseconds(store.as_ref()).await;
    lease_renewal_extends(store.as_ref()).await;
    disconnect_keeps_audit(store.as_ref()).await;
    disconnect_removes_the_lease(store.as_ref()).await;
    pending_is_taken_once(Arc::clone(&store)).await;
    pending_expired_is_taken_whole(store.as_ref()).await;
    pending_purge(store.as_ref()).await;
}

/// A business name is reserved once, and reads back as reserved: the first widget stays its
/// owner.
pub async fn businesses(store: &dyn Store) {
    let name = BusinessName::new(unique("Acme")).unwrap();
    assert_eq!(store.get_business(&name).await.unwrap(), None, "an unknown business");
    let rec = BusinessRecord::new(name.clone(), widget("conformance-owner"), t0() + MICRO);
    assert!(store.reserve_business(&rec).await.unwrap(), "first reservation succeeds");
    assert_eq!(store.get_business(&name).await.unwrap().as_ref(), Some(&rec), "reads back as reserved");
    let other = BusinessRecord::new(name.clone(), widget("conformance-other"), t0() + Duration::seconds(1));
    assert!(!store.reserve_business(&other).await.unwrap(), "second reservation is refused");
    assert!(!store.reserve_business(&rec).await.unwrap(), "the same reservation again is refused");
    assert_eq!(
        store.get_business(&name).await.unwrap().as_ref(),
        Some(&rec),
        "a refused reservation changes nothing: the first widget stays the owner"
    );
}

/// Of 16 concurrent reservations of one name by 16 widgets, exactly one wins, and its widget
/// is the stored owner.
pub async fn concurrent_business_reservation(store: Arc<dyn Store>) {
    let name = BusinessName::new(unique("Race")).unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&store);
        let rec = BusinessRecord::new(name.clone(), widget(&format!("conformance-{i}")), t0());
        tasks.push(tokio::spawn(async move { (store.reserve_business(&rec).await.unwrap(), rec) }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (won, rec) = t.await.unwrap();
        if won {
            winners.push(rec);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent reservation wins");
    assert_eq!(store.get_business(&name).await.unwrap().as_ref(), winners.first(), "the winner owns it");
}

/// A connection reads back equal (timestamps to the microsecond, `expires_at` as given); its
/// credentials start at version 1; ids are unique; a status change reads back.
pub async fn connections_round_trip(store: &dyn Store) {
    let business = BusinessName::new(unique("Round Trip")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"blob-1").await.unwrap();
    let got = store.get_connection(&c.id).await.unwrap().expect("stored");
    assert_eq!(got.created_at, c.created_at, "created_at keeps its microseconds");
    assert_eq!(got.updated_at, c.updated_at, "updated_at keeps its microseconds");
    assert_eq!(got.expires_at - got.created_at, validity(), "expires_at is stored as given, not recomputed");
    assert_eq!(got, c);
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

    let at = c.created_at + Duration::minutes(5) + Duration::microseconds(789);
    let updated = store
        .set_connection_status(&c.id, ConnectionStatus::Invalid, Some(ReasonCode::ReauthorizationRequired), at)
        .await
        .unwrap()
        .expect("updated");
    assert_eq!(updated.status, ConnectionStatus::Invalid);
    assert_eq!(updated.status_reason, Some(ReasonCode::ReauthorizationRequired));
    assert_eq!(updated.updated_at, at, "updated_at keeps its microseconds");
    assert_eq!(updated, c.clone().with_status(ConnectionStatus::Invalid, updated.status_reason).with_updated_at(at));
    assert_eq!(store.get_connection(&c.id).await.unwrap(), Some(updated));
    assert!(
        store
            .set_connection_status(&ConnectionId::new_random(), ConnectionStatus::Active, None, at)
            .await
            .unwrap()
            .is_none()
    );
}

/// A connection inserted with any status, reason, `updated_at`, `expires_at` and tenant (or
/// none) reads back with exactly those.
pub async fn connections_keep_every_field(store: &dyn Store) {
    let business = BusinessName::new(unique("Fields")).unwrap();
    let base = t0();
    let rows = [
        connection(&business, "xero", base)
            .with_status(ConnectionStatus::Expired, Some(ReasonCode::ExpiredCredentials))
            .with_updated_at(base + Duration::days(3) + Duration::microseconds(41)),
        connection(&business, "quickbooks", base).with_status(ConnectionStatus::Inactive, None),
        Connection::new(
            ConnectionId::new_random(),
            widget("conformance-fields"),
            business.clone(),
            ServiceName::new("railzSandbox").unwrap(),
            None,
            base - Duration::microseconds(999),
            base + Duration::days(90) + Duration::microseconds(1),
        ),
    ];
    for row in &rows {
        store.insert_connection(row, b"x").await.unwrap();
        assert_eq!(store.get_connection(&row.id).await.unwrap().as_ref(), Some(row), "stored as given");
    }
}

/// Setting a status with no reason clears the stored reason.
pub async fn status_reason_is_cleared(store: &dyn Store) {
    let business = BusinessName::new(unique("Reason")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"x").await.unwrap();
    let at = c.created_at + MICRO;
    store
        .set_connection_status(&c.id, ConnectionStatus::Inactive, Some(ReasonCode::ProviderUnavailable), at)
        .await
        .unwrap()
        .expect("updated");
    let later = at + Duration::seconds(1);
    let back = store.set_connection_status(&c.id, ConnectionStatus::Active, None, later).await.unwrap();
    let expected = c.clone().with_updated_at(later);
    assert_eq!(back.as_ref(), Some(&expected), "a `None` reason clears the reason");
    assert_eq!(store.get_connection(&c.id).await.unwrap(), Some(expected), "and the cleared reason is stored");
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

/// Listing filters by widget, alone and with the other fields.
pub async fn listing_by_widget(store: &dyn Store) {
    let business = BusinessName::new(unique("Widgets")).unwrap();
    let (w1, w2) = (widget(&unique("w1")), widget(&unique("w2")));
    let base = t0();
    let on = |w: &WidgetId, service: &str, at: OffsetDateTime| {
        Connection::new(
            ConnectionId::new_random(),
            w.clone(),
            business.clone(),
            ServiceName::new(service).unwrap(),
            None,
            at,
            at + validity(),
        )
    };
    let a = on(&w1, "xero", base);
    let b = on(&w2, "xero", base + MICRO);
    let c = on(&w1, "quickbooks", base + MICRO + MICRO);
    for k in [&c, &b, &a] {
        store.insert_connection(k, b"x").await.unwrap();
    }
    assert_eq!(store.list_connections(&ConnectionFilter::all().widget(w1.clone())).await.unwrap(), [a.clone(), c]);
    assert_eq!(store.list_connections(&ConnectionFilter::all().widget(w2.clone())).await.unwrap(), [b]);
    let xero_w1 =
        ConnectionFilter::all().business(business.clone()).service(ServiceName::new("xero").unwrap()).widget(w1);
    assert_eq!(store.list_connections(&xero_w1).await.unwrap(), [a]);
    let none = ConnectionFilter::all().widget(w2).status(ConnectionStatus::Disconnected);
    assert_eq!(store.list_connections(&none).await.unwrap(), []);
    assert!(store.list_connections(&ConnectionFilter::all().widget(widget(&unique("w3")))).await.unwrap().is_empty());
}

/// Listing orders by `created_at` (to the microsecond), then by id: connections sharing one
/// `created_at`, inserted in shuffled order, come back sorted by id.
pub async fn listing_order(store: &dyn Store) {
    let business = BusinessName::new(unique("Order")).unwrap();
    let mut ids: Vec<ConnectionId> = (0..10).map(|_| ConnectionId::new_random()).collect();
    ids.sort();
    let at = t0();
    // The largest id is the oldest and the smallest the newest, one microsecond either side of
    // eight ties: ordering by id alone, or by milliseconds, fails.
    let oldest = connection_with_id(ids[9], &business, "xero", at - MICRO);
    let newest = connection_with_id(ids[0], &business, "xero", at + MICRO);
    let ties: Vec<Connection> = ids[1..9].iter().map(|id| connection_with_id(*id, &business, "xero", at)).collect();
    let mut expected = vec![oldest.clone()];
    expected.extend(ties.iter().cloned());
    expected.push(newest.clone());
    // A fixed shuffle: neither insertion order nor its reverse is the answer.
    for i in [5, 2, 7, 0, 3, 6, 1, 4] {
        store.insert_connection(&ties[i], b"x").await.unwrap();
        if i == 3 {
            store.insert_connection(&newest, b"x").await.unwrap();
            store.insert_connection(&oldest, b"x").await.unwrap();
        }
    }
    let got = store.list_connections(&ConnectionFilter::all().business(business)).await.unwrap();
    let got_ids: Vec<ConnectionId> = got.iter().map(|c| c.id).collect();
    let expected_ids: Vec<ConnectionId> = expected.iter().map(|c| c.id).collect();
    assert_eq!(got_ids, expected_ids, "ordered by created_at, then by id");
    assert_eq!(got, expected);
}

/// Credentials change only through a compare-and-swap on their exact version: a stale version
/// and a version above the current one both write nothing.
pub async fn credentials_compare_and_swap(store: &dyn Store) {
    let business = BusinessName::new(unique("Cas")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"v1").await.unwrap();
    assert_eq!(store.replace_credentials(&c.id, 1, b"v2").await.unwrap(), Some(2));
    assert_eq!(store.replace_credentials(&c.id, 1, b"stale").await.unwrap(), None, "a stale version writes nothing");
    for ahead in [3, 4, u64::from(u32::MAX)] {
        assert_eq!(
            store.replace_credentials(&c.id, ahead, b"ahead").await.unwrap(),
            None,
            "a version above the current one ({ahead} > 2) writes nothing"
        );
    }
    let now = store.load_credentials(&c.id).await.unwrap().unwrap();
    assert_eq!((now.version, now.blob.as_slice()), (2, &b"v2"[..]));
    assert_eq!(store.replace_credentials(&c.id, 2, b"v3").await.unwrap(), Some(3));
    assert_eq!(store.load_credentials(&c.id).await.unwrap().unwrap().blob, b"v3");
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

/// A lease is held while `now < until`, to the microsecond.
pub async fn lease_times_keep_microseconds(store: &dyn Store) {
    let business = BusinessName::new(unique("Lease Precision")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"v1").await.unwrap();
    let now = t0();
    let until = now + Duration::seconds(30);
    assert!(store.try_lease(&c.id, "a", now, until).await.unwrap());
    assert!(
        !store.try_lease(&c.id, "b", until - MICRO, until + Duration::seconds(30)).await.unwrap(),
        "one microsecond before `until` the lease is still held"
    );
    assert!(
        store.try_lease(&c.id, "b", until, until + Duration::seconds(30)).await.unwrap(),
        "at `until` the lease has expired"
    );
}

/// A holder's renewal replaces `until`: a holds until t1 and renews until t2 > t1; between t1
/// and t2, b cannot take it.
pub async fn lease_renewal_extends(store: &dyn Store) {
    let business = BusinessName::new(unique("Renewal")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"v1").await.unwrap();
    let now = t0();
    let t1 = now + Duration::seconds(30);
    let t2 = now + Duration::seconds(60) + Duration::microseconds(7);
    assert!(store.try_lease(&c.id, "a", now, t1).await.unwrap());
    assert!(store.try_lease(&c.id, "a", now + Duration::seconds(20), t2).await.unwrap(), "the holder renews");
    for at in [t1, t1 + Duration::seconds(15), t2 - MICRO] {
        assert!(
            !store.try_lease(&c.id, "b", at, at + Duration::seconds(30)).await.unwrap(),
            "the renewed lease is held until t2"
        );
    }
    assert!(store.try_lease(&c.id, "b", t2, t2 + Duration::seconds(30)).await.unwrap(), "and expires at t2");
}

/// Disconnecting deletes the credentials and keeps the connection as an audit record.
pub async fn disconnect_keeps_audit(store: &dyn Store) {
    let business = BusinessName::new(unique("Bye")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"v1").await.unwrap();
    let at = c.created_at + Duration::hours(1) + Duration::microseconds(5);
    let d = store.disconnect(&c.id, ReasonCode::DisconnectedByCustomer, at).await.unwrap().expect("disconnected");
    assert_eq!(
        d,
        c.clone()
            .with_status(ConnectionStatus::Disconnected, Some(ReasonCode::DisconnectedByCustomer))
            .with_updated_at(at)
    );
    assert_eq!(store.load_credentials(&c.id).await.unwrap(), None, "credentials deleted");
    assert_eq!(store.get_connection(&c.id).await.unwrap(), Some(d), "connection kept");
    assert_eq!(store.replace_credentials(&c.id, 1, b"x").await.unwrap(), None, "nothing to replace");
    assert!(store.disconnect(&ConnectionId::new_random(), ReasonCode::Unknown, at).await.unwrap().is_none());
}

/// Disconnecting removes the refresh lease with the credentials: afterwards nobody, not even
/// its former holder, holds or takes a lease.
pub async fn disconnect_removes_the_lease(store: &dyn Store) {
    let business = BusinessName::new(unique("Bye Lease")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, b"v1").await.unwrap();
    let now = t0();
    let until = now + Duration::seconds(30);
    assert!(store.try_lease(&c.id, "a", now, until).await.unwrap());
    store.disconnect(&c.id, ReasonCode::DisconnectedByCustomer, now).await.unwrap().expect("disconnected");
    assert_eq!(store.load_credentials(&c.id).await.unwrap(), None, "credentials deleted");
    assert!(!store.try_lease(&c.id, "a", now, until).await.unwrap(), "the former holder cannot renew");
    assert!(!store.try_lease(&c.id, "b", until, until + Duration::seconds(30)).await.unwrap(), "nor anyone take it");
    store.release_lease(&c.id, "a").await.unwrap();
}

/// A pending record is taken at most once, even by concurrent callers; duplicates conflict.
pub async fn pending_is_taken_once(store: Arc<dyn Store>) {
    let key = unique("state");
    let p = pending(&key, PendingKind::Authorization, t0() + Duration::minutes(10));
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
    assert_eq!(got[0].created_at, p.created_at, "created_at keeps its microseconds");
    assert_eq!(got[0].expires_at, p.expires_at, "expires_at keeps its microseconds");
    assert!(got[0] == p, "the record reads back whole");
    assert!(store.take_pending(&key).await.unwrap().is_none());
}

/// An expired record is still taken, whole: the store does not look at the clock, and a
/// tenant selection reads back as a tenant selection.
pub async fn pending_expired_is_taken_whole(store: &dyn Store) {
    let p = pending(&unique("ticket"), PendingKind::TenantSelection, t0() - Duration::hours(1));
    store.insert_pending(&p).await.unwrap();
    let got = store.take_pending(&p.key).await.unwrap().expect("an expired record is returned too");
    assert_eq!(got.kind, PendingKind::TenantSelection, "the kind is kept");
    assert!(got == p, "the record reads back whole");
    assert!(store.take_pending(&p.key).await.unwrap().is_none(), "and is gone");
}

/// Purging removes the records that expired strictly before the given time, to the
/// microsecond: a record expiring exactly then stays.
pub async fn pending_purge(store: &dyn Store) {
    let now = t0();
    let old = pending(&unique("old"), PendingKind::Authorization, now - Duration::minutes(1));
    let just = pending(&unique("just"), PendingKind::TenantSelection, now - MICRO);
    let boundary = pending(&unique("boundary"), PendingKind::Authorization, now);
    let fresh = pending(&unique("fresh"), PendingKind::Authorization, now + MICRO);
    for p in [&old, &just, &boundary, &fresh] {
        store.insert_pending(p).await.unwrap();
    }
    assert!(store.purge_pending(now).await.unwrap() >= 2);
    assert!(store.take_pending(&old.key).await.unwrap().is_none(), "expired record purged");
    assert!(store.take_pending(&just.key).await.unwrap().is_none(), "expired a microsecond before: purged");
    assert!(store.take_pending(&boundary.key).await.unwrap().is_some(), "expiring exactly at `before`: kept");
    assert!(store.take_pending(&fresh.key).await.unwrap().is_some(), "fresh record kept");
}
