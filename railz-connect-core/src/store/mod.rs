//! Storage traits integrators implement, with an in-memory store for tests, the embedded
//! SQLite store, and a [`conformance`] suite every implementation can run.
//!
//! A store keeps four kinds of records:
//! - businesses (a reserved `businessName`, so generated names are unique),
//! - connections (never deleted: a disconnected connection stays as an audit record),
//! - encrypted credentials, one per connection, with a version for compare-and-swap writes
//!   and a lease so that exactly one instance refreshes a token at a time,
//! - pending authorizations (one-time `state` records and tenant-selection tickets).
//!
//! Stores see only ciphertext: encryption happens in [`crate::Connect`].

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

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with this key already exists.
    #[error("a record with this key already exists: {0}")]
    Conflict(String),
    /// A stored record could not be read back.
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    /// The backend failed.
    #[error("the storage backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// A reserved business name.
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
#[async_trait]
pub trait ConnectionStore: fmt::Debug + Send + Sync + 'static {
    /// Reserves a business name: inserts it if absent. Answers `false` when it exists already.
    /// Must be atomic: of two concurrent reservations of one name, one answers `true`.
    async fn reserve_business(&self, business: &BusinessRecord) -> Result<bool, StoreError>;

    /// Whether a business name exists.
    async fn business_exists(&self, name: &BusinessName) -> Result<bool, StoreError>;

    /// Inserts a connection and its first credentials (version 1) atomically.
    /// [`StoreError::Conflict`] if the id exists.
    async fn insert_connection(&self, connection: &Connection, credentials: &[u8]) -> Result<(), StoreError>;

    /// A connection by id.
    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError>;

    /// Connections matching a filter, oldest first (then by id).
    async fn list_connections(&self, filter: &ConnectionFilter) -> Result<Vec<Connection>, StoreError>;

    /// Sets a connection's status (and reason, and `updated_at`). Answers the updated
    /// connection, or `None` if there is none with this id.
    async fn set_connection_status(
        &self,
        id: &ConnectionId,
        status: ConnectionStatus,
        reason: Option<ReasonCode>,
        at: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError>;

    /// Marks a connection disconnected and deletes its credentials, atomically. The connection
    /// record stays. Answers the updated connection, or `None` if there is none.
    async fn disconnect(
        &self,
        id: &ConnectionId,
        reason: ReasonCode,
        at: OffsetDateTime,
    ) -> Result<Option<Connection>, StoreError>;
}

/// Encrypted credentials, versioned writes and refresh leases.
#[async_trait]
pub trait CredentialStore: fmt::Debug + Send + Sync + 'static {
    /// The credentials of a connection.
    async fn load_credentials(&self, id: &ConnectionId) -> Result<Option<SealedCredentials>, StoreError>;

    /// Replaces the credentials if their version is still `expected_version` (compare-and-swap).
    /// Answers the new version, or `None` when the version moved on (or the credentials are
    /// gone): re-read and use the winner's.
    async fn replace_credentials(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        blob: &[u8],
    ) -> Result<Option<u64>, StoreError>;

    /// Takes the refresh lease of a connection for `owner` until `until`, if nobody holds an
    /// unexpired lease (at `now`) or `owner` holds it already. Answers whether it was taken.
    async fn try_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Releases the lease if `owner` holds it.
    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> Result<(), StoreError>;
}

/// Pending authorizations and tenant selections.
#[async_trait]
pub trait PendingStore: fmt::Debug + Send + Sync + 'static {
    /// Inserts a pending record. [`StoreError::Conflict`] if the key exists.
    async fn insert_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError>;

    /// Removes and returns a pending record, atomically: of two concurrent calls with one key,
    /// at most one gets it. Expired records are returned too (the caller checks and refuses).
    async fn take_pending(&self, key: &str) -> Result<Option<PendingAuthorization>, StoreError>;

    /// Deletes records that expired before `before`; answers how many.
    async fn purge_pending(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Everything [`crate::Connect`] needs of a store. Implemented for every type that implements
/// the three traits.
pub trait Store: ConnectionStore + CredentialStore + PendingStore {}

impl<T: ConnectionStore + CredentialStore + PendingStore> Store for T {}
