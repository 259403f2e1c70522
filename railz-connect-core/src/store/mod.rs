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
//!   field of a [`PendingAuthorization`] (its [`PendingKind`] too) and of a
//!   [`BusinessRecord`] (its widget).
//! - **Atomicity**: each method is one atomic step, also across processes sharing the store:
//!   of concurrent reservations of one business, one wins; of concurrent takers of one pending
//!   record, one gets it; a credential write is a compare-and-swap on the version.
//! - **Errors** (see [`StoreError`]) say whether a retry can help: [`StoreError::Backend`] is
//!   transient, [`StoreError::Conflict`] and [`StoreError::Corrupt`] are not.
//!
//! Records that outside stores rebuild have public constructors and setters
//! ([`Connection::new`] with [`Connection::with_status`] and [`Connection::with_updated_at`],
//! [`crate::Tenant::new`], [`BusinessRecord::new`]) or a documented serde form
//! ([`PendingAuthorization`]).

pub mod conformance;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use crate::connection::{Connection, ConnectionFilter, ConnectionStatus, ReasonCode};
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

/// An encrypted credentials blob and its version (starts at 1, +1 per write).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredentials {
    /// The version, for compare-and-swap.
    pub version: u64,
    /// The envelope (see [`crate::crypto`]).
    pub blob: Vec<u8>,
}

impl fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedCredentials").field("version", &self.version).field("blob_len", &self.blob.len()).finish()
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

/// A pending authorization or tenant selection. Its secrets (PKCE verifier, or tokens waiting
/// for a tenant) are sealed in `sealed`.
///
/// Its fields are public but the type is `#[non_exhaustive]`: outside code does not build it,
/// the SDK does. A store keeps it whole, as columns or as its serde form, which is stable:
/// JSON object keys in camelCase, `kind` as `"authorization"` or `"tenantSelection"`,
/// timestamps as RFC 3339 strings (keeping every digit given), `sealed` as standard base64
/// (`+` and `/`) without `=` padding, URLs as strings:
///
/// ```json
/// {
///   "key": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
///   "kind": "tenantSelection",
///   "widgetId": "my-widget",
///   "businessName": "Acme Ltd",
///   "serviceName": "xero",
///   "redirectUri": "https://app.example/connect/callback",
///   "successUrl": "https://app.example/connected",
///   "failureUrl": "https://app.example/connect-failed",
///   "createdAt": "2025-03-01T12:00:00.123456Z",
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
    /// The exact redirect URI of the authorization request.
    pub redirect_uri: Url,
    /// Where to send the user on success.
    pub success_url: Url,
    /// Where to send the user on failure.
    pub failure_url: Url,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it expires (10 minutes by default).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Encrypted secrets.
    #[serde(with = "b64")]
    pub sealed: Vec<u8>,
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
#[async_trait]
pub trait ConnectionStore: fmt::Debug + Send + Sync + 'static {
    /// Reserves a business name: inserts it if absent. Answers `false` when it exists already,
    /// and then changes nothing (the first widget stays the owner). Must be atomic: of two
    /// concurrent reservations of one name, one answers `true`.
    async fn reserve_business(&self, business: &BusinessRecord) -> Result<bool, StoreError>;

    /// A reserved business, exactly as reserved (name, owning widget, `created_at`), or `None`.
    async fn get_business(&self, name: &BusinessName) -> Result<Option<BusinessRecord>, StoreError>;

    /// Inserts a connection, stored as given (status, reason, `updated_at` and `expires_at`
    /// included), and its first credentials (version 1), atomically.
    /// [`StoreError::Conflict`] if the id exists; then nothing changes.
    async fn insert_connection(&self, connection: &Connection, credentials: &[u8]) -> Result<(), StoreError>;

    /// A connection by id.
    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError>;

    /// The connections matching every field the filter sets (business, service, status,
    /// widget), ordered by `created_at` ascending, and connections with equal `created_at` by
    /// id ascending (the order of [`ConnectionId`]'s `Ord`, which is also the order of its
    /// lowercase hyphenated text: `ORDER BY created_at, id` in SQL).
    async fn list_connections(&self, filter: &ConnectionFilter) -> Result<Vec<Connection>, StoreError>;

    /// Sets a connection's status, its reason and its `updated_at`, all three as given: a
    /// `None` reason clears the stored one. Answers the updated connection, or `None` if there
    /// is none with this id.
    async fn set_connection_status(
        &self,
        id: &ConnectionId,
        status: ConnectionStatus,
        reason: Option<ReasonCode>,
        at: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError>;

    /// Marks a connection disconnected (with `reason` and `updated_at = at`) and deletes its
    /// credentials and its refresh lease, atomically. The connection record stays. Afterwards
    /// [`CredentialStore::load_credentials`] answers `None` and [`CredentialStore::try_lease`]
    /// answers `false`, for the lease's former holder too. Answers the updated connection, or
    /// `None` if there is none.
    async fn disconnect(
        &self,
        id: &ConnectionId,
        reason: ReasonCode,
        at: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError>;
}

/// Encrypted credentials, versioned writes and refresh leases.
///
/// The SDK reads credentials on every API call an app makes: keep
/// [`CredentialStore::load_credentials`] fast.
#[async_trait]
pub trait CredentialStore: fmt::Debug + Send + Sync + 'static {
    /// The credentials of a connection: the blob and version of the last successful write.
    async fn load_credentials(&self, id: &ConnectionId) -> Result<Option<SealedCredentials>, StoreError>;

    /// Replaces the credentials if their version is exactly `expected_version`
    /// (compare-and-swap), making it `expected_version + 1`. Answers the new version, or
    /// `None` and writes nothing when the version differs, lower or higher (another instance
    /// wrote, or the caller's version is bogus), or the credentials are gone: re-read and use
    /// the winner's.
    async fn replace_credentials(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        blob: &[u8],
    ) -> Result<Option<u64>, StoreError>;

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

    /// Removes and returns a pending record exactly as inserted, atomically: of two concurrent
    /// calls with one key, at most one gets it. Expired records are returned too, whatever
    /// their `expires_at` and whatever the time: the store does not look at the clock, the
    /// caller checks and refuses (and so can tell "expired" from "unknown").
    async fn take_pending(&self, key: &str) -> Result<Option<PendingAuthorization>, StoreError>;

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
        assert_eq!(p.redirect_uri.as_str(), "https://app.example/connect/callback");
        assert_eq!(p.created_at, time::macros::datetime!(2025-03-01 12:00:00.123456 UTC));
        assert_eq!(p.expires_at - p.created_at, time::Duration::minutes(10));
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
