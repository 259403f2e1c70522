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

use super::{
    BusinessRecord, Cursor, Page, PendingAuthorization, PendingKind, SealedCredentials, StatusChange, Store, StoreError,
};
use crate::connection::{Connection, ConnectionFilter, ConnectionStatus, ReasonCode, Tenant};
use crate::crypto::KeyId;
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
    Connection::new(id, widget("conformance"), business.clone(), ServiceName::new(service).unwrap(), at)
        .with_tenant(Some(Tenant::new("tenant-1".parse().unwrap(), "Tenant One")))
        .with_expires_at(at + validity())
}

/// Credentials with this blob, sealed with key 1, no known expiry.
fn sealed(blob: &[u8]) -> SealedCredentials {
    SealedCredentials::new(blob.to_vec(), 1)
}

/// A key id no other check (or earlier run on the same store) uses.
fn unique_key_id() -> KeyId {
    // Above 2^16: the checks' fixed ids stay below.
    (uuid::Uuid::new_v4().as_u128() as u32) | 0x1_0000
}

fn connection(business: &BusinessName, service: &str, at: OffsetDateTime) -> Connection {
    connection_with_id(ConnectionId::new_random(), business, service, at)
}

fn pending(key: &str, kind: PendingKind, expires_at: OffsetDateTime) -> PendingAuthorization {
    PendingAuthorization::new(
        key.to_owned(),
        kind,
        widget("conformance"),
        BusinessName::new(unique("biz")).unwrap(),
        ServiceName::new("railzSandbox").unwrap(),
        expires_at,
        vec![1, 2, 3, 0, 255],
    )
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
    listing_pages(store.as_ref()).await;
    status_changes_are_conditional(store.as_ref()).await;
    credentials_compare_and_swap(store.as_ref()).await;
    credentials_keep_key_and_expiries(store.as_ref()).await;
    due_for_refresh(store.as_ref()).await;
    sealed_with_key(store.as_ref()).await;
    leases(store.as_ref()).await;
    lease_times_keep_microseconds(store.as_ref()).await;
    lease_renewal_extends(store.as_ref()).await;
    disconnect_keeps_audit(store.as_ref()).await;
    disconnect_removes_the_lease(store.as_ref()).await;
    disconnect_happens_once(store.as_ref()).await;
    pending_is_taken_once(Arc::clone(&store)).await;
    pending_expired_is_taken_whole(store.as_ref()).await;
    pending_is_taken_only_as_its_kind(store.as_ref()).await;
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
    store.insert_connection(&c, &sealed(b"blob-1"), &[]).await.unwrap();
    let got = store.get_connection(&c.id).await.unwrap().expect("stored");
    assert_eq!(got.created_at, c.created_at, "created_at keeps its microseconds");
    assert_eq!(got.updated_at, c.updated_at, "updated_at keeps its microseconds");
    assert_eq!(got.expires_at - got.created_at, validity(), "expires_at is stored as given, not recomputed");
    assert_eq!(got, c);
    let creds = store.load_credentials(&c.id).await.unwrap().expect("credentials stored");
    assert_eq!(creds.version, 1);
    assert_eq!(creds.sealed.blob, b"blob-1");
    match store.insert_connection(&c, &sealed(b"blob-2"), &[]).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("inserting a duplicate id must be a conflict, got {other:?}"),
    }
    assert_eq!(
        store.load_credentials(&c.id).await.unwrap().unwrap().sealed.blob,
        b"blob-1",
        "a conflict changes nothing"
    );
    assert_eq!(store.get_connection(&ConnectionId::new_random()).await.unwrap(), None);
    assert_eq!(store.load_credentials(&ConnectionId::new_random()).await.unwrap(), None);

    let at = c.created_at + Duration::minutes(5) + Duration::microseconds(789);
    let updated = store
        .set_connection_status(
            &c.id,
            &StatusChange::new(ConnectionStatus::Active, ConnectionStatus::Invalid, at)
                .with_reason(ReasonCode::ReauthorizationRequired),
            &[],
        )
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
            .set_connection_status(
                &ConnectionId::new_random(),
                &StatusChange::new(ConnectionStatus::Active, ConnectionStatus::Active, at),
                &[]
            )
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
            base - Duration::microseconds(999),
        )
        .with_expires_at(base + Duration::days(90) + Duration::microseconds(1)),
    ];
    for row in &rows {
        store.insert_connection(row, &sealed(b"x"), &[]).await.unwrap();
        assert_eq!(store.get_connection(&row.id).await.unwrap().as_ref(), Some(row), "stored as given");
    }
}

/// Setting a status with no reason clears the stored reason.
pub async fn status_reason_is_cleared(store: &dyn Store) {
    let business = BusinessName::new(unique("Reason")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, &sealed(b"x"), &[]).await.unwrap();
    let at = c.created_at + MICRO;
    store
        .set_connection_status(
            &c.id,
            &StatusChange::new(ConnectionStatus::Active, ConnectionStatus::Inactive, at)
                .with_reason(ReasonCode::ProviderUnavailable),
            &[],
        )
        .await
        .unwrap()
        .expect("updated");
    let later = at + Duration::seconds(1);
    let change = StatusChange::new(ConnectionStatus::Inactive, ConnectionStatus::Active, later);
    let back = store.set_connection_status(&c.id, &change, &[]).await.unwrap();
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
        store.insert_connection(k, &sealed(b"x"), &[]).await.unwrap();
    }
    let mine = store
        .list_connections(&ConnectionFilter::all().with_business(business.clone()), &Page::first(Page::MAX_LIMIT))
        .await
        .unwrap();
    assert_eq!(mine, vec![a.clone(), b.clone()]);
    let xero = store
        .list_connections(
            &ConnectionFilter::all().with_business(business.clone()).with_service(ServiceName::new("xero").unwrap()),
            &Page::first(Page::MAX_LIMIT),
        )
        .await
        .unwrap();
    assert_eq!(xero, vec![b.clone()]);
    store
        .set_connection_status(
            &a.id,
            &StatusChange::new(ConnectionStatus::Active, ConnectionStatus::Expired, base)
                .with_reason(ReasonCode::ExpiredCredentials),
            &[],
        )
        .await
        .unwrap()
        .expect("updated");
    let expired = store
        .list_connections(
            &ConnectionFilter::all().with_business(business.clone()).with_status(ConnectionStatus::Expired),
            &Page::first(Page::MAX_LIMIT),
        )
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, a.id);
    let all = store.list_connections(&ConnectionFilter::all(), &Page::first(Page::MAX_LIMIT)).await.unwrap();
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
        Connection::new(ConnectionId::new_random(), w.clone(), business.clone(), ServiceName::new(service).unwrap(), at)
            .with_expires_at(at + validity())
    };
    let a = on(&w1, "xero", base);
    let b = on(&w2, "xero", base + MICRO);
    let c = on(&w1, "quickbooks", base + MICRO + MICRO);
    for k in [&c, &b, &a] {
        store.insert_connection(k, &sealed(b"x"), &[]).await.unwrap();
    }
    assert_eq!(
        store
            .list_connections(&ConnectionFilter::all().with_widget(w1.clone()), &Page::first(Page::MAX_LIMIT))
            .await
            .unwrap(),
        [a.clone(), c]
    );
    assert_eq!(
        store
            .list_connections(&ConnectionFilter::all().with_widget(w2.clone()), &Page::first(Page::MAX_LIMIT))
            .await
            .unwrap(),
        [b]
    );
    let xero_w1 = ConnectionFilter::all()
        .with_business(business.clone())
        .with_service(ServiceName::new("xero").unwrap())
        .with_widget(w1);
    assert_eq!(store.list_connections(&xero_w1, &Page::first(Page::MAX_LIMIT)).await.unwrap(), [a]);
    let none = ConnectionFilter::all().with_widget(w2).with_status(ConnectionStatus::Disconnected);
    assert_eq!(store.list_connections(&none, &Page::first(Page::MAX_LIMIT)).await.unwrap(), []);
    assert!(
        store
            .list_connections(
                &ConnectionFilter::all().with_widget(widget(&unique("w3"))),
                &Page::first(Page::MAX_LIMIT)
            )
            .await
            .unwrap()
            .is_empty()
    );
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
        store.insert_connection(&ties[i], &sealed(b"x"), &[]).await.unwrap();
        if i == 3 {
            store.insert_connection(&newest, &sealed(b"x"), &[]).await.unwrap();
            store.insert_connection(&oldest, &sealed(b"x"), &[]).await.unwrap();
        }
    }
    let got = store
        .list_connections(&ConnectionFilter::all().with_business(business), &Page::first(Page::MAX_LIMIT))
        .await
        .unwrap();
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
    store.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
    assert_eq!(store.replace_credentials(&c.id, 1, &sealed(b"v2"), &[]).await.unwrap(), Some(2));
    assert_eq!(
        store.replace_credentials(&c.id, 1, &sealed(b"stale"), &[]).await.unwrap(),
        None,
        "a stale version writes nothing"
    );
    for ahead in [3, 4, u64::from(u32::MAX)] {
        assert_eq!(
            store.replace_credentials(&c.id, ahead, &sealed(b"ahead"), &[]).await.unwrap(),
            None,
            "a version above the current one ({ahead} > 2) writes nothing"
        );
    }
    let now = store.load_credentials(&c.id).await.unwrap().unwrap();
    assert_eq!((now.version, now.sealed.blob.as_slice()), (2, &b"v2"[..]));
    assert_eq!(store.replace_credentials(&c.id, 2, &sealed(b"v3"), &[]).await.unwrap(), Some(3));
    assert_eq!(store.load_credentials(&c.id).await.unwrap().unwrap().sealed.blob, b"v3");
    assert_eq!(store.replace_credentials(&ConnectionId::new_random(), 1, &sealed(b"x"), &[]).await.unwrap(), None);
}

/// A lease excludes other owners until it expires or is released.
pub async fn leases(store: &dyn Store) {
    let business = BusinessName::new(unique("Lease")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
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
    store.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
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
    store.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
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
    store.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
    let at = c.created_at + Duration::hours(1) + Duration::microseconds(5);
    let d = store.disconnect(&c.id, ReasonCode::DisconnectedByCustomer, at, &[]).await.unwrap().expect("disconnected");
    assert_eq!(
        d,
        c.clone()
            .with_status(ConnectionStatus::Disconnected, Some(ReasonCode::DisconnectedByCustomer))
            .with_updated_at(at)
    );
    assert_eq!(store.load_credentials(&c.id).await.unwrap(), None, "credentials deleted");
    assert_eq!(store.get_connection(&c.id).await.unwrap(), Some(d), "connection kept");
    assert_eq!(store.replace_credentials(&c.id, 1, &sealed(b"x"), &[]).await.unwrap(), None, "nothing to replace");
    assert!(store.disconnect(&ConnectionId::new_random(), ReasonCode::Unknown, at, &[]).await.unwrap().is_none());
}

/// Disconnecting removes the refresh lease with the credentials: afterwards nobody, not even
/// its former holder, holds or takes a lease.
pub async fn disconnect_removes_the_lease(store: &dyn Store) {
    let business = BusinessName::new(unique("Bye Lease")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, &sealed(b"v1"), &[]).await.unwrap();
    let now = t0();
    let until = now + Duration::seconds(30);
    assert!(store.try_lease(&c.id, "a", now, until).await.unwrap());
    store.disconnect(&c.id, ReasonCode::DisconnectedByCustomer, now, &[]).await.unwrap().expect("disconnected");
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
        tasks.push(tokio::spawn(async move { store.take_pending(&key, PendingKind::Authorization).await.unwrap() }));
    }
    let mut got = Vec::new();
    for t in tasks {
        if let Some(p) = t.await.unwrap() {
            got.push(p);
        }
    }
    assert_eq!(got.len(), 1, "exactly one taker");
    assert_eq!(got[0].expires_at, p.expires_at, "expires_at keeps its microseconds");
    assert!(got[0] == p, "the record reads back whole");
    assert!(store.take_pending(&key, PendingKind::Authorization).await.unwrap().is_none());
}

/// An expired record is still taken, whole: the store does not look at the clock, and a
/// tenant selection reads back as a tenant selection.
pub async fn pending_expired_is_taken_whole(store: &dyn Store) {
    let p = pending(&unique("ticket"), PendingKind::TenantSelection, t0() - Duration::hours(1));
    store.insert_pending(&p).await.unwrap();
    let got = store
        .take_pending(&p.key, PendingKind::TenantSelection)
        .await
        .unwrap()
        .expect("an expired record is returned too");
    assert_eq!(got.kind, PendingKind::TenantSelection, "the kind is kept");
    assert!(got == p, "the record reads back whole");
    assert!(store.take_pending(&p.key, PendingKind::TenantSelection).await.unwrap().is_none(), "and is gone");
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
    assert!(store.take_pending(&old.key, PendingKind::Authorization).await.unwrap().is_none(), "expired record purged");
    assert!(
        store.take_pending(&just.key, PendingKind::TenantSelection).await.unwrap().is_none(),
        "expired a microsecond before: purged"
    );
    assert!(
        store.take_pending(&boundary.key, PendingKind::Authorization).await.unwrap().is_some(),
        "expiring exactly at `before`: kept"
    );
    assert!(store.take_pending(&fresh.key, PendingKind::Authorization).await.unwrap().is_some(), "fresh record kept");
}

/// Listing pages: for each filter field, pages of at most `limit` connections, each strictly
/// after the cursor (ties on `created_at` broken by id), concatenate to the whole listing.
pub async fn listing_pages(store: &dyn Store) {
    let business = BusinessName::new(unique("Pages")).unwrap();
    let w = widget(&unique("pages"));
    let service = ServiceName::new(format!("svc{}", uuid::Uuid::new_v4().simple())).unwrap();
    let base = t0();
    let mut rows = Vec::new();
    for i in 0..5i64 {
        // Two pairs share a `created_at`: a cursor must break ties by id.
        let at = base + MICRO * (i / 2 * 2) as i32;
        let row = Connection::new(ConnectionId::new_random(), w.clone(), business.clone(), service.clone(), at)
            .with_status(ConnectionStatus::Inactive, None);
        store.insert_connection(&row, &sealed(b"x"), &[]).await.unwrap();
        rows.push(row);
    }
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let filters = [
        ("business", ConnectionFilter::all().with_business(business.clone())),
        ("service", ConnectionFilter::all().with_service(service.clone())),
        ("widget", ConnectionFilter::all().with_widget(w.clone())),
        ("status", ConnectionFilter::all().with_widget(w.clone()).with_status(ConnectionStatus::Inactive)),
    ];
    for (field, filter) in filters {
        let mut got = Vec::new();
        let mut page = Page::first(2);
        let mut sizes = Vec::new();
        loop {
            let chunk = store.list_connections(&filter, &page).await.unwrap();
            assert!(chunk.len() <= 2, "{field}: a page holds at most its limit");
            sizes.push(chunk.len());
            let Some(last) = chunk.last() else { break };
            page = page.with_after(Cursor::after(last));
            got.extend(chunk);
        }
        assert_eq!(sizes, [2, 2, 1, 0], "{field}: pages of the limit, then the rest");
        assert_eq!(got, rows, "{field}: the pages concatenate to the listing, in order, without repeats");
        let after_first =
            store.list_connections(&filter, &Page::first(10).with_after(Cursor::after(&rows[0]))).await.unwrap();
        assert_eq!(after_first, rows[1..], "{field}: strictly after the cursor");
    }
}

/// A status change is written only if the connection has the expected status: a stale
/// expectation (say `active` after a concurrent disconnection) writes nothing.
pub async fn status_changes_are_conditional(store: &dyn Store) {
    let business = BusinessName::new(unique("Conditional")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, &sealed(b"x"), &[]).await.unwrap();
    let at = c.created_at + Duration::seconds(1);
    let stale = StatusChange::new(ConnectionStatus::Inactive, ConnectionStatus::Expired, at)
        .with_reason(ReasonCode::ExpiredCredentials);
    assert_eq!(store.set_connection_status(&c.id, &stale, &[]).await.unwrap(), None, "another status: nothing written");
    assert_eq!(store.get_connection(&c.id).await.unwrap().as_ref(), Some(&c), "unchanged");
    store.disconnect(&c.id, ReasonCode::DisconnectedByCustomer, at, &[]).await.unwrap().expect("disconnected");
    let late = StatusChange::new(ConnectionStatus::Active, ConnectionStatus::Expired, at + MICRO)
        .with_reason(ReasonCode::ExpiredCredentials);
    assert_eq!(
        store.set_connection_status(&c.id, &late, &[]).await.unwrap(),
        None,
        "a disconnection is not overwritten"
    );
    let back = store.get_connection(&c.id).await.unwrap().unwrap();
    assert_eq!(back.status, ConnectionStatus::Disconnected);
    assert_eq!(back.updated_at, at);
}

/// Credentials keep their key id and expiries beside the blob, and a compare-and-swap replaces
/// all of them.
pub async fn credentials_keep_key_and_expiries(store: &dyn Store) {
    let business = BusinessName::new(unique("Plain Facts")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    let first = SealedCredentials::new(b"v1".to_vec(), 7)
        .with_access_expires_at(Some(t0() + Duration::hours(1) + MICRO))
        .with_refresh_expires_at(Some(t0() + Duration::days(100) + MICRO));
    store.insert_connection(&c, &first, &[]).await.unwrap();
    let got = store.load_credentials(&c.id).await.unwrap().unwrap();
    assert_eq!((got.version, &got.sealed), (1, &first), "key id and expiries read back as written");
    let second = SealedCredentials::new(b"v2".to_vec(), 8).with_access_expires_at(Some(t0() + Duration::hours(2)));
    assert_eq!(store.replace_credentials(&c.id, 1, &second, &[]).await.unwrap(), Some(2));
    let got = store.load_credentials(&c.id).await.unwrap().unwrap();
    assert_eq!(got.sealed, second, "a replacement replaces the key id and both expiries (the refresh one cleared)");
}

/// The refresher's work list: credentials whose access token expires strictly before the
/// time, soonest first, at most the limit; no known expiry is never due; disconnected
/// connections have no credentials and are not listed.
pub async fn due_for_refresh(store: &dyn Store) {
    let business = BusinessName::new(unique("Due")).unwrap();
    // Far in the past, with a random offset: other data in the store is unlikely to share it.
    let base = OffsetDateTime::UNIX_EPOCH
        + Duration::days(3650)
        + Duration::seconds(i64::from(uuid::Uuid::new_v4().as_u128() as u32 >> 4))
        + MICRO * 123;
    let before = base + Duration::minutes(10);
    let insert = |expiry: Option<OffsetDateTime>| {
        let c = connection(&business, "railzSandbox", t0());
        let creds = sealed(b"x").with_access_expires_at(expiry);
        async move {
            store.insert_connection(&c, &creds, &[]).await.unwrap();
            c.id
        }
    };
    let soon = insert(Some(base)).await;
    let sooner = insert(Some(base - Duration::minutes(1))).await;
    let just = insert(Some(before - MICRO)).await;
    let boundary = insert(Some(before)).await;
    let unknown = insert(None).await;
    let gone = insert(Some(base)).await;
    store.disconnect(&gone, ReasonCode::DisconnectedByCustomer, t0(), &[]).await.unwrap();
    let due = store.due_for_refresh(before, Page::MAX_LIMIT).await.unwrap();
    assert!(due.iter().all(|d| d.access_expires_at < before), "only tokens expiring strictly before");
    assert!(
        due.windows(2)
            .all(|w| (w[0].access_expires_at, w[0].connection_id) <= (w[1].access_expires_at, w[1].connection_id)),
        "soonest first"
    );
    let ours: Vec<ConnectionId> = due
        .iter()
        .map(|d| d.connection_id)
        .filter(|id| [soon, sooner, just, boundary, unknown, gone].contains(id))
        .collect();
    assert_eq!(
        ours,
        [sooner, soon, just],
        "due ones, soonest first; not the boundary, the unknown or the disconnected"
    );
    let entry = due.iter().find(|d| d.connection_id == sooner).unwrap();
    assert_eq!(entry.access_expires_at, base - Duration::minutes(1), "the expiry reads back to the microsecond");
    let one = store.due_for_refresh(before, 1).await.unwrap();
    assert_eq!(one.len(), 1, "the limit holds");
    assert!(one[0].access_expires_at <= base - Duration::minutes(1));
}

/// The key-rotation sweep's work list: the connections sealed with a key, by id, after a
/// cursor, at most the limit; a re-sealed record leaves its old key's list.
pub async fn sealed_with_key(store: &dyn Store) {
    let business = BusinessName::new(unique("Keys")).unwrap();
    let (old, new) = (unique_key_id(), unique_key_id());
    let mut ids = Vec::new();
    for _ in 0..4 {
        let c = connection(&business, "railzSandbox", t0());
        store.insert_connection(&c, &SealedCredentials::new(b"x".to_vec(), old), &[]).await.unwrap();
        ids.push(c.id);
    }
    let other = connection(&business, "railzSandbox", t0());
    store.insert_connection(&other, &SealedCredentials::new(b"x".to_vec(), new), &[]).await.unwrap();
    ids.sort();
    assert_eq!(store.sealed_with_key(old, None, 100).await.unwrap(), ids, "by id, only that key");
    assert_eq!(store.sealed_with_key(old, None, 2).await.unwrap(), ids[..2], "the limit holds");
    assert_eq!(store.sealed_with_key(old, Some(ids[1]), 100).await.unwrap(), ids[2..], "strictly after the cursor");
    assert_eq!(store.sealed_with_key(new, None, 100).await.unwrap(), [other.id]);
    store.replace_credentials(&ids[0], 1, &SealedCredentials::new(b"y".to_vec(), new), &[]).await.unwrap();
    assert_eq!(
        store.sealed_with_key(old, None, 100).await.unwrap(),
        ids[1..],
        "re-sealed: no longer under the old key"
    );
    let mut under_new = vec![ids[0], other.id];
    under_new.sort();
    assert_eq!(store.sealed_with_key(new, None, 100).await.unwrap(), under_new);
}

/// A connection is disconnected once: a second disconnection writes nothing and answers `None`.
pub async fn disconnect_happens_once(store: &dyn Store) {
    let business = BusinessName::new(unique("Twice")).unwrap();
    let c = connection(&business, "railzSandbox", t0());
    store.insert_connection(&c, &sealed(b"x"), &[]).await.unwrap();
    let at = c.created_at + MICRO;
    let first = store.disconnect(&c.id, ReasonCode::DisconnectedByCustomer, at, &[]).await.unwrap().expect("first");
    let again = store.disconnect(&c.id, ReasonCode::AuthorizationRevoked, at + Duration::hours(1), &[]).await.unwrap();
    assert_eq!(again, None, "already disconnected: nothing written");
    assert_eq!(store.get_connection(&c.id).await.unwrap(), Some(first), "the first disconnection stays");
}

/// A pending record is taken only as its own kind: a ticket used as a state (or the reverse)
/// gets nothing and leaves the record in place, whole.
pub async fn pending_is_taken_only_as_its_kind(store: &dyn Store) {
    let p = pending(&unique("kind"), PendingKind::TenantSelection, t0() + Duration::minutes(10));
    store.insert_pending(&p).await.unwrap();
    assert!(store.take_pending(&p.key, PendingKind::Authorization).await.unwrap().is_none(), "not as another kind");
    let got = store.take_pending(&p.key, PendingKind::TenantSelection).await.unwrap().expect("still there");
    assert!(got == p, "untouched by the refused take");
}
