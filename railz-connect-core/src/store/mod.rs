//! Storage traits integrators implement, with an in-memory store for tests, the embedded
//! SQLite store, and a [`conformance`] suite every implementation can run.
//!
//! A store keeps four kinds of records:
//! - businesses (a reserved `businessName`, so generated names are unique, with the widget that
//!   reserved it, so one widget cannot claim another widget's business),
//! - connections (never deleted: a disconnected connection stays as an audit record),
//! - encrypted credentials, one per connection, with a version for compare-and-swap writes
//!   and a lease so that exactly one instance refreshes a token at a time,
//! - pending authorizations (one-time `state` records and tenant-selection tickets).
//!
//! Stores see only ciphertext: encryption happens in [`crate::Connect`].
//!
//! # The contract every store keeps
//!
//! [`conformance::run_all`] checks each point below; a store that passes it can back
//! [`crate::Connect`].
//!
//! - **Timestamps** keep at least whole microseconds (PostgreSQL's `timestamptz` precision):
//!   a timestamp with whole microseconds reads back exactly equal, and compares (leases,
//!   purges) at that precision. A store may drop digits below a microsecond and may answer in
//!   UTC. Rounding to milliseconds (JavaScript dates, MySQL `DATETIME(3)`) is not enough: a
//!   lease would end early and a connection would read back unequal.
//! - **Records are stored as given**: every field of a [`Connection`] (its status, reason,
//!   `updated_at`, and `expires_at`, which the provider sets: not always 365 days), every
//!   field of a [`PendingAuthorization`] (its [`PendingKind`] too), of a [`BusinessRecord`]
//!   (its widget) and of [`SealedCredentials`] (key id and expiries beside the blob).
//! - **Atomicity**: each method is one atomic step, also across processes sharing the store:
//!   of concurrent reservations of one business, one wins; of concurrent takers of one pending
//!   record, one gets it, and only if it is of the kind asked for; a credential write is a
//!   compare-and-swap on the version; a status change is conditional on the current status.
//! - **Events**: a mutation that carries events ([`Event`]) records them with the change
//!   when the store has an outbox (one write, so a crash keeps both or neither).
//! - **Listings page**: at most the page's limit, strictly after its cursor, in a fixed order.
//! - **Errors** (see [`StoreError`]) say whether a retry can help: [`StoreError::Backend`] is
//!   transient, [`StoreError::Conflict`] and [`StoreError::Corrupt`] are not.
//!
//! Records that outside stores rebuild have public constructors and `with_*` setters
//! ([`Connection::new`], [`crate::Tenant::new`], [`BusinessRecord::new`],
//! [`SealedCredentials::new`], [`StoredCredentials::new`], [`PendingAuthorization::new`],
//! [`DueRefresh::new`]); [`PendingAuthorization`] also has a documented serde form.

pub mod conformance;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use crate::connection::{Connection, ConnectionFilter, ConnectionStatus, ReasonCode};
use crate::crypto::KeyId;
use crate::event::Event;
use crate::ids::{BusinessName, ConnectionId, ServiceName, WidgetId};

/// Why a store operation failed. The variant tells the SDK whether to retry, so a store must
/// pick it with care.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with this key already exists (an insert of a connection id or a pending key
    /// that is taken). Definite: this call wrote nothing, and a retry would conflict again, so
    /// the SDK never retries it. Use it only for a key conflict, never for a failure whose outcome
    /// is unknown.
    #[error("a record with this key already exists: {0}")]
    Conflict(String),
    /// A stored record could not be read back (an unparsable row, an unknown status, a
    /// timestamp out of range). Permanent: the SDK does not retry and reports it.
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    /// The backend failed: I/O error, lost connection, timeout, lock contention, a failed
    /// transaction. Transient: the write may or may not have happened, and the same call may
    /// succeed later. The SDK retries writes that must not be lost (credentials a provider has
    /// just rotated, whose old refresh token is already dead; a new connection after a code
    /// exchange), so a store must make a retried write safe: a compare-and-swap that did
    /// happen answers `None` on the retry (the SDK then re-reads), an insert that did happen
    /// answers [`StoreError::Conflict`].
    #[error("the storage backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// A reserved business name, with the widget that reserved it: its owner, which lets the flow
/// keep one widget from claiming another widget's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BusinessRecord {
    /// The name.
    pub name: BusinessName,
    /// The widget that created it.
    pub widget_id: WidgetId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl BusinessRecord {
    /// A record.
    pub fn new(name: BusinessName, widget_id: WidgetId, created_at: OffsetDateTime) -> Self {
        Self { name, widget_id, created_at }
    }
}

/// An encrypted credentials blob, with the facts a store may index in plaintext beside it:
/// the key it is sealed with (for the key-rotation sweep, [`CredentialStore::sealed_with_key`])
/// and the expiries of the access and refresh tokens (for the background refresher,
/// [`CredentialStore::due_for_refresh`]). None of them is secret; the SDK fills them from the
/// credentials it sealed.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedCredentials {
    /// The envelope (see [`crate::crypto`]).
    pub blob: Vec<u8>,
    /// The id of the key the envelope is sealed with (also in its header).
    pub key_id: KeyId,
    /// When the access (or session) token expires, when known.
    pub access_expires_at: Option<OffsetDateTime>,
    /// When the refresh token expires, when known.
    pub refresh_expires_at: Option<OffsetDateTime>,
}

impl SealedCredentials {
    /// A blob sealed with `key_id`, with no known expiry.
    pub fn new(blob: Vec<u8>, key_id: KeyId) -> Self {
        Self { blob, key_id, access_expires_at: None, refresh_expires_at: None }
    }

    /// With the access token's expiry.
    #[must_use]
    pub fn with_access_expires_at(mut self, at: Option<OffsetDateTime>) -> Self {
        self.access_expires_at = at;
        self
    }

    /// With the refresh token's expiry.
    #[must_use]
    pub fn with_refresh_expires_at(mut self, at: Option<OffsetDateTime>) -> Self {
        self.refresh_expires_at = at;
        self
    }
}

impl fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedCredentials")
            .field("blob_len", &self.blob.len())
            .field("key_id", &self.key_id)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

/// Stored credentials and their version (starts at 1, +1 per write), for compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredCredentials {
    /// The version.
    pub version: u64,
    /// The credentials.
    pub sealed: SealedCredentials,
}

impl StoredCredentials {
    /// Credentials at a version.
    pub fn new(version: u64, sealed: SealedCredentials) -> Self {
        Self { version, sealed }
    }
}

/// A connection whose access token is due for refresh (see
/// [`CredentialStore::due_for_refresh`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DueRefresh {
    /// The connection.
    pub connection_id: ConnectionId,
    /// When its access token expires.
    pub access_expires_at: OffsetDateTime,
}

impl DueRefresh {
    /// An entry.
    pub fn new(connection_id: ConnectionId, access_expires_at: OffsetDateTime) -> Self {
        Self { connection_id, access_expires_at }
    }
}

/// Where a listing of connections resumes: after the connection with this `created_at` and
/// id, in the listing order (`created_at`, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Cursor {
    /// The last listed connection's `created_at`.
    pub created_at: OffsetDateTime,
    /// The last listed connection's id.
    pub id: ConnectionId,
}

impl Cursor {
    /// A cursor at this `created_at` and id (as an HTTP layer reads it back from a query).
    pub fn new(created_at: OffsetDateTime, id: ConnectionId) -> Self {
        Self { created_at, id }
    }

    /// The cursor just after `connection`.
    pub fn after(connection: &Connection) -> Self {
        Self { created_at: connection.created_at, id: connection.id }
    }

    /// Whether `connection` comes after the cursor in the listing order.
    pub fn precedes(&self, connection: &Connection) -> bool {
        (connection.created_at, connection.id) > (self.created_at, self.id)
    }
}

/// One page of a listing: at most `limit` records (1 to [`Page::MAX_LIMIT`]), after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// At most this many records.
    pub limit: usize,
    /// Resume after this record; `None` starts at the beginning.
    pub after: Option<Cursor>,
}

impl Page {
    /// The largest page.
    pub const MAX_LIMIT: usize = 1000;

    /// The first page of at most `limit` records (clamped to 1..=[`Page::MAX_LIMIT`]).
    pub fn first(limit: usize) -> Self {
        Self { limit: limit.clamp(1, Self::MAX_LIMIT), after: None }
    }

    /// The page after `cursor`.
    #[must_use]
    pub fn with_after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::first(100)
    }
}

/// A conditional status change: `status`, `reason` and `updated_at = at`, written only if the
/// connection's status is `expected` (so a refresh finding a token expired cannot overwrite a
/// concurrent disconnection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusChange {
    /// The status the connection must have for the change to be written.
    pub expected: ConnectionStatus,
    /// The new status.
    pub status: ConnectionStatus,
    /// The new reason; `None` clears the stored one.
    pub reason: Option<ReasonCode>,
    /// The new `updated_at`.
    pub at: OffsetDateTime,
}

impl StatusChange {
    /// From `expected` to `status` at `at`, with no reason.
    pub fn new(expected: ConnectionStatus, status: ConnectionStatus, at: OffsetDateTime) -> Self {
        Self { expected, status, reason: None, at }
    }

    /// With a reason.
    #[must_use]
    pub fn with_reason(mut self, reason: ReasonCode) -> Self {
        self.reason = Some(reason);
        self
    }
}

/// What a pending record waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum PendingKind {
    /// The callback of an authorization (keyed by the hash of its `state`).
    Authorization,
    /// The user's choice of tenant (keyed by the hash of its ticket).
    TenantSelection,
}

/// A pending authorization or tenant selection. Everything else it needs (its landing pages,
/// redirect URI, creation time, browser binding, and its secrets: the PKCE verifier, or the
/// credentials waiting for a tenant) is sealed in `sealed`, bound to its key, kind, widget,
/// business and service: whoever can write the store cannot pick where users land.
///
/// A store keeps it as columns (rebuilt with [`PendingAuthorization::new`]) or as its serde
/// form, which is stable: JSON object keys in camelCase, `kind` as `"authorization"` or
/// `"tenantSelection"`, `expiresAt` as an RFC 3339 string (keeping every digit given), `sealed`
/// as standard base64 (`+` and `/`) without `=` padding:
///
/// ```json
/// {
///   "key": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
///   "kind": "tenantSelection",
///   "widgetId": "my-widget",
///   "businessName": "Acme Ltd",
///   "serviceName": "xero",
///   "expiresAt": "2025-03-01T12:10:00.123456Z",
///   "sealed": "AQIDAP8"
/// }
/// ```
///
/// Store the `expiresAt` instant in a column of its own when
/// [`PendingStore::purge_pending`] should use an index.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PendingAuthorization {
    /// SHA-256 (hex) of the `state` or ticket: the store never sees the value itself.
    pub key: String,
    /// What it waits for.
    pub kind: PendingKind,
    /// The widget.
    pub widget_id: WidgetId,
    /// The business.
    pub business_name: BusinessName,
    /// The provider it belongs to (mix-up defense).
    pub service_name: ServiceName,
    /// When it expires (10 minutes by default; also sealed: a changed copy is refused).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Encrypted secrets.
    #[serde(with = "b64")]
    pub sealed: Vec<u8>,
}

impl PendingAuthorization {
    /// A record, as a store rebuilds it from its columns.
    pub fn new(
        key: String,
        kind: PendingKind,
        widget_id: WidgetId,
        business_name: BusinessName,
        service_name: ServiceName,
        expires_at: OffsetDateTime,
        sealed: Vec<u8>,
    ) -> Self {
        Self { key, kind, widget_id, business_name, service_name, expires_at, sealed }
    }
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("kind", &self.kind)
            .field("widget_id", &self.widget_id)
            .field("business_name", &self.business_name)
            .field("service_name", &self.service_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(s).map_err(serde::de::Error::custom)
    }
}

/// Businesses and connections.
///
/// Every record reads back exactly as written, timestamps at microsecond precision at least
/// (see the [module docs](self)).
///
/// Mutations carry the [`Event`]s they cause. A store with an outbox records them in the same
/// transaction as the change, so a crash cannot keep one without the other; a store without
/// one ignores them, and [`crate::Connect`] hands them to its event sinks after the write.
#[async_trait]
pub trait ConnectionStore: fmt::Debug + Send + Sync + 'static {
    /// Reserves a business name: inserts it if absent. Answers `false` when it exists already,
    /// and then changes nothing (the first widget stays the owner). Must be atomic: of two
    /// concurrent reservations of one name, one answers `true`.
    async fn reserve_business(&self, business: &BusinessRecord) -> Result<bool, StoreError>;

    /// A reserved business, exactly as reserved (name, owning widget, `created_at`), or `None`.
    async fn get_business(&self, name: &BusinessName) -> Result<Option<BusinessRecord>, StoreError>;

    /// Inserts a connection, stored as given (status, reason, `updated_at` and `expires_at`
    /// included), and its first credentials (version 1, with their plaintext key id and
    /// expiries), atomically, with `events`. [`StoreError::Conflict`] if the id exists; then
    /// nothing changes.
    async fn insert_connection(
        &self,
        connection: &Connection,
        credentials: &SealedCredentials,
        events: &[Event],
    ) -> Result<(), StoreError>;

    /// A connection by id.
    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError>;

    /// One page of the connections matching every field the filter sets (business, service,
    /// status, widget), ordered by `created_at` ascending, and connections with equal
    /// `created_at` by id ascending (the order of [`ConnectionId`]'s `Ord`, which is also the
    /// order of its lowercase hyphenated text: `ORDER BY created_at, id` in SQL): at most
    /// `page.limit` of them, strictly after `page.after` in that order.
    async fn list_connections(&self, filter: &ConnectionFilter, page: &Page) -> Result<Vec<Connection>, StoreError>;

    /// Applies a conditional status change, with `events`: only if the connection's status is
    /// `change.expected`. Answers the updated connection, or `None` (and writes nothing) if
    /// there is no connection with this id or its status is another.
    async fn set_connection_status(
        &self,
        id: &ConnectionId,
        change: &StatusChange,
        events: &[Event],
    ) -> Result<Option<Connection>, StoreError>;

    /// Marks a connection disconnected (with `reason` and `updated_at = at`) and deletes its
    /// credentials and its refresh lease, atomically, with `events`. The connection record
    /// stays. Afterwards [`CredentialStore::load_credentials`] answers `None` and
    /// [`CredentialStore::try_lease`] answers `false`, for the lease's former holder too.
    /// Answers the updated connection, or `None` (and writes nothing) if there is none or it is
    /// disconnected already.
    async fn disconnect(
        &self,
        id: &ConnectionId,
        reason: ReasonCode,
        at: OffsetDateTime,
        events: &[Event],
    ) -> Result<Option<Connection>, StoreError>;
}

/// Encrypted credentials, versioned writes and refresh leases.
///
/// The SDK reads credentials on every API call an app makes: keep
/// [`CredentialStore::load_credentials`] fast.
#[async_trait]
pub trait CredentialStore: fmt::Debug + Send + Sync + 'static {
    /// The credentials of a connection as of the last successful write, with their version.
    async fn load_credentials(&self, id: &ConnectionId) -> Result<Option<StoredCredentials>, StoreError>;

    /// Replaces the credentials (blob, key id and expiries) if their version is exactly
    /// `expected_version` (compare-and-swap), making it `expected_version + 1`, with `events`.
    /// Answers the new version, or `None` and writes nothing when the version differs, lower or
    /// higher (another instance wrote, or the caller's version is bogus), or the credentials
    /// are gone: re-read and use the winner's.
    async fn replace_credentials(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        credentials: &SealedCredentials,
        events: &[Event],
    ) -> Result<Option<u64>, StoreError>;

    /// The connections with credentials whose access token expires strictly before `before`,
    /// soonest first (ties by connection id), at most `limit`: the background refresher's
    /// work list. Credentials with no known expiry are never due.
    async fn due_for_refresh(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<DueRefresh>, StoreError>;

    /// The connections whose credentials are sealed with `key_id`, by connection id ascending,
    /// strictly after `after`, at most `limit`: the key-rotation sweep's work list.
    async fn sealed_with_key(
        &self,
        key_id: KeyId,
        after: Option<ConnectionId>,
        limit: usize,
    ) -> Result<Vec<ConnectionId>, StoreError>;

    /// Takes the refresh lease of a connection for `owner` until `until`, if its credentials
    /// exist and nobody else holds an unexpired lease at `now`. A lease is held while
    /// `now < until` (at `until` it has expired), compared at microsecond precision. When
    /// `owner` holds it already this renews it: the stored `until` becomes the new one, so a
    /// renewal extends the lease (or shortens it). Answers whether `owner` holds it now.
    async fn try_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Releases the lease if `owner` holds it; another owner's lease stays.
    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> Result<(), StoreError>;
}

/// Pending authorizations and tenant selections.
#[async_trait]
pub trait PendingStore: fmt::Debug + Send + Sync + 'static {
    /// Inserts a pending record, kept whole (every field, [`PendingKind`] included).
    /// [`StoreError::Conflict`] if the key exists; then nothing changes.
    async fn insert_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError>;

    /// Removes and returns the pending record with this key if it is of `kind`, exactly as
    /// inserted, atomically: of two concurrent calls with one key, at most one gets it, and a
    /// record of the other kind stays untouched (`None`). Expired records are returned too,
    /// whatever their `expires_at` and whatever the time: the store does not look at the
    /// clock, the caller checks and refuses (and so can tell "expired" from "unknown").
    async fn take_pending(&self, key: &str, kind: PendingKind) -> Result<Option<PendingAuthorization>, StoreError>;

    /// Deletes the records whose `expires_at` is strictly before `before` (a record expiring
    /// exactly at `before` stays), compared at microsecond precision; answers how many.
    async fn purge_pending(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Everything [`crate::Connect`] needs of a store. Implemented for every type that implements
/// the three traits.
pub trait Store: ConnectionStore + CredentialStore + PendingStore {}

impl<T: ConnectionStore + CredentialStore + PendingStore> Store for T {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON example in [`PendingAuthorization`]'s docs, read from this file.
    fn documented_example() -> String {
        let src = include_str!("mod.rs");
        let start = src.find("/// ```json\n").expect("the docs hold a JSON example") + "/// ```json\n".len();
        let end = start + src[start..].find("/// ```\n").expect("the example ends");
        src[start..end].lines().map(|l| l.trim_start().trim_start_matches("///").trim_start()).collect()
    }

    #[test]
    fn the_documented_pending_form_deserializes_and_is_what_serde_writes() {
        let json = documented_example();
        let p: PendingAuthorization = serde_json::from_str(&json).unwrap();
        assert_eq!(p.kind, PendingKind::TenantSelection);
        assert_eq!(p.widget_id.as_str(), "my-widget");
        assert_eq!(p.business_name.as_str(), "Acme Ltd");
        assert_eq!(p.service_name.as_str(), "xero");
        assert_eq!(p.expires_at, time::macros::datetime!(2025-03-01 12:10:00.123456 UTC));
        assert_eq!(p.sealed, [1, 2, 3, 0, 255], "standard base64 without padding");
        // The form is exactly what the SDK writes.
        let expected: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), expected);
        // Padded or URL-safe base64 is refused: the form is one encoding.
        for bad in ["AQIDAP8=", "AQIDAP-_"] {
            let v = json.replace("AQIDAP8", bad);
            assert!(serde_json::from_str::<PendingAuthorization>(&v).is_err(), "{bad}");
        }
    }
}
