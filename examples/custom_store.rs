//! A custom store: how an integrator plugs their own storage into railz-connect.
//!
//! ```text
//! cargo run --example custom_store
//! ```
//!
//! [`JsonFileStore`] keeps every record in one JSON file. It shows what a store must do:
//! implement the three traits of `railz_connect::store` (`ConnectionStore`,
//! `CredentialStore`, `PendingStore`; `Store` then comes for free), keep their atomic
//! semantics, and pass `store::conformance::run_all`. Copy the pattern, not the backend:
//!
//! - every mutation works on a copy of the state, persists it, and only then publishes it, all
//!   under one `std::sync::Mutex` that is never held across an `.await`;
//! - the file is replaced crash-safely: temp file in the same directory, `sync_all`, `rename`
//!   over the target, `sync_all` on the directory;
//! - credentials are opaque ciphertext (`SealedCredentials`): store the bytes, the version, and
//!   the plaintext facts beside them (key id, expiries) that the refresher and the key-rotation
//!   sweep query;
//! - mutations carry the events they cause: a store with an outbox writes them with the change
//!   (this one has none, so `Connect` hands them to its sinks after the write);
//! - status changes are conditional on the current status, pending records are taken only as
//!   their kind, and listings page.
//!
//! One file and one in-process lock means one process at a time: for several app instances,
//! use a database (the embedded `SqliteStore`, or your own) with the same trait semantics.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use railz_connect::crypto::{DataKey, KeyId, Keyring};
use railz_connect::provider::Inputs;
use railz_connect::providers::railz_sandbox::{self, RailzSandboxConfig};
use railz_connect::secret::ClientSecret;
use railz_connect::store::{
    BusinessRecord, ConnectionStore, CredentialStore, DueRefresh, Page, PendingAuthorization, PendingKind,
    PendingStore, SealedCredentials, StatusChange, StoreError, StoredCredentials, conformance,
};
use railz_connect::{
    BusinessName, Callback, Completion, Connect, Connection, ConnectionFilter, ConnectionId, ConnectionStatus, Event,
    ReasonCode, ServiceName, SessionRequest, WidgetConfig, WidgetId,
};
use railz_connect_mock::MockServer;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the store holds. Persisted whole on every change.
#[derive(Debug, Clone, Default, PartialEq)]
struct State {
    businesses: BTreeMap<BusinessName, BusinessRecord>,
    connections: BTreeMap<ConnectionId, Connection>,
    credentials: BTreeMap<ConnectionId, StoredCredentials>,
    leases: BTreeMap<ConnectionId, (String, OffsetDateTime)>,
    pending: BTreeMap<String, PendingAuthorization>,
}

fn corrupt(what: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("store file: {what}"))
}

impl State {
    /// The file format: the SDK's own serde forms for records, base64 for credential blobs.
    fn to_json(&self) -> Result<Value, StoreError> {
        let records = |r: Result<Vec<Value>, serde_json::Error>| r.map_err(StoreError::backend);
        let time = |t: Option<OffsetDateTime>| t.map(|t| t.format(&Rfc3339)).transpose().map_err(StoreError::backend);
        let mut credentials = Map::new();
        for (id, c) in &self.credentials {
            let s = &c.sealed;
            credentials.insert(
                id.to_string(),
                json!({
                    "version": c.version,
                    "blob": STANDARD.encode(&s.blob),
                    "keyId": s.key_id,
                    "accessExpiresAt": time(s.access_expires_at)?,
                    "refreshExpiresAt": time(s.refresh_expires_at)?,
                }),
            );
        }
        let mut leases = Map::new();
        for (id, (owner, until)) in &self.leases {
            let until = until.format(&Rfc3339).map_err(StoreError::backend)?;
            leases.insert(id.to_string(), json!({ "owner": owner, "until": until }));
        }
        Ok(json!({
            "format": 2,
            "businesses": records(self.businesses.values().map(serde_json::to_value).collect())?,
            "connections": records(self.connections.values().map(serde_json::to_value).collect())?,
            "credentials": credentials,
            "leases": leases,
            "pending": records(self.pending.values().map(serde_json::to_value).collect())?,
        }))
    }

    fn from_json(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut file: Value = serde_json::from_slice(bytes).map_err(corrupt)?;
        if file["format"] != 2 {
            return Err(corrupt("unknown format"));
        }
        let mut take = |key: &str| file.get_mut(key).map(Value::take).ok_or_else(|| corrupt(format!("no {key}")));
        let (businesses, connections, pending) = (take("businesses")?, take("connections")?, take("pending")?);
        let (credentials, leases) = (take("credentials")?, take("leases")?);

        let mut s = State::default();
        for b in serde_json::from_value::<Vec<BusinessRecord>>(businesses).map_err(corrupt)? {
            s.businesses.insert(b.name.clone(), b);
        }
        for c in serde_json::from_value::<Vec<Connection>>(connections).map_err(corrupt)? {
            s.connections.insert(c.id, c);
        }
        for p in serde_json::from_value::<Vec<PendingAuthorization>>(pending).map_err(corrupt)? {
            s.pending.insert(p.key.clone(), p);
        }
        for (id, c) in credentials.as_object().ok_or_else(|| corrupt("credentials"))? {
            let id = ConnectionId::parse(id).map_err(corrupt)?;
            let version = c["version"].as_u64().ok_or_else(|| corrupt("credentials version"))?;
            let blob = c["blob"].as_str().ok_or_else(|| corrupt("credentials blob"))?;
            let key_id = c["keyId"].as_u64().and_then(|k| KeyId::try_from(k).ok()).ok_or_else(|| corrupt("key id"))?;
            let time = |v: &Value| match v.as_str() {
                Some(t) => OffsetDateTime::parse(t, &Rfc3339).map(Some).map_err(corrupt),
                None if v.is_null() => Ok(None),
                None => Err(corrupt("credentials expiry")),
            };
            let sealed = SealedCredentials::new(STANDARD.decode(blob).map_err(corrupt)?, key_id)
                .with_access_expires_at(time(&c["accessExpiresAt"])?)
                .with_refresh_expires_at(time(&c["refreshExpiresAt"])?);
            s.credentials.insert(id, StoredCredentials::new(version, sealed));
        }
        for (id, l) in leases.as_object().ok_or_else(|| corrupt("leases"))? {
            let id = ConnectionId::parse(id).map_err(corrupt)?;
            let owner = l["owner"].as_str().ok_or_else(|| corrupt("lease owner"))?;
            let until = OffsetDateTime::parse(l["until"].as_str().unwrap_or_default(), &Rfc3339).map_err(corrupt)?;
            s.leases.insert(id, (owner.to_owned(), until));
        }
        Ok(s)
    }
}

struct Inner {
    path: PathBuf,
    state: Mutex<State>,
}

impl Inner {
    /// Memory only changes after a successful write, so a poisoned lock still guards a
    /// consistent state.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the file crash-safely: a reader (or a restart) sees the old file or the new
    /// one, never a torn one.
    fn persist(&self, state: &State) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(&state.to_json()?).map_err(StoreError::backend)?;
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut tmp_name = self.path.file_name().ok_or_else(|| corrupt("the path names no file"))?.to_owned();
        tmp_name.push(".tmp");
        let tmp = dir.join(tmp_name);

        // A temp file left by a crash is stale: start afresh, readable by the owner only.
        if let Err(e) = fs::remove_file(&tmp)
            && e.kind() != ErrorKind::NotFound
        {
            return Err(StoreError::backend(e));
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(StoreError::backend)?;
        file.write_all(&bytes).map_err(StoreError::backend)?;
        file.sync_all().map_err(StoreError::backend)?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(StoreError::backend)?;
        // Make the rename itself durable (directories cannot be opened this way on Windows).
        #[cfg(unix)]
        File::open(dir).and_then(|d| d.sync_all()).map_err(StoreError::backend)?;
        Ok(())
    }
}

/// A [`railz_connect::store::Store`] that keeps every record in one JSON file.
/// Open one per file per process.
pub struct JsonFileStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for JsonFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonFileStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl JsonFileStore {
    /// Opens the store at `path`, loading the file if it exists (it is created on the first
    /// write). Blocking: call it at startup.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        let state = match fs::read(&path) {
            Ok(bytes) => State::from_json(&bytes)?,
            Err(e) if e.kind() == ErrorKind::NotFound => State::default(),
            Err(e) => return Err(StoreError::backend(e)),
        };
        Ok(Self { inner: Arc::new(Inner { path, state: Mutex::new(state) }) })
    }

    /// Reads the in-memory state: no I/O, and the guard drops before any await.
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.inner.lock())
    }

    /// Runs `f` on a copy of the state and, if it changed anything, persists the copy and then
    /// publishes it. The lock makes check-and-write atomic; the blocking file I/O runs on
    /// tokio's blocking pool, and the lock lives only inside that closure.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut State) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut state = inner.lock();
            let mut next = state.clone();
            let out = f(&mut next)?;
            if next != *state {
                inner.persist(&next)?;
                *state = next;
            }
            Ok(out)
        })
        .await
        .map_err(StoreError::backend)?
    }
}

#[async_trait]
impl ConnectionStore for JsonFileStore {
    async fn reserve_business(&self, business: &BusinessRecord) -> Result<bool, StoreError> {
        let b = business.clone();
        self.write(move |s| {
            if s.businesses.contains_key(&b.name) {
                return Ok(false);
            }
            s.businesses.insert(b.name.clone(), b);
            Ok(true)
        })
        .await
    }

    async fn get_business(&self, name: &BusinessName) -> Result<Option<BusinessRecord>, StoreError> {
        Ok(self.read(|s| s.businesses.get(name).cloned()))
    }

    async fn insert_connection(
        &self,
        connection: &Connection,
        credentials: &SealedCredentials,
        _events: &[Event],
    ) -> Result<(), StoreError> {
        let (c, sealed) = (connection.clone(), credentials.clone());
        self.write(move |s| {
            if s.connections.contains_key(&c.id) {
                return Err(StoreError::Conflict(format!("connection {}", c.id)));
            }
            s.credentials.insert(c.id, StoredCredentials::new(1, sealed));
            s.connections.insert(c.id, c);
            Ok(())
        })
        .await
    }

    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        Ok(self.read(|s| s.connections.get(id).cloned()))
    }

    async fn list_connections(&self, filter: &ConnectionFilter, page: &Page) -> Result<Vec<Connection>, StoreError> {
        let after = |c: &Connection| page.after.is_none_or(|cursor| cursor.precedes(c));
        let mut out: Vec<Connection> =
            self.read(|s| s.connections.values().filter(|c| filter.matches(c) && after(c)).cloned().collect());
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        out.truncate(page.limit);
        Ok(out)
    }

    async fn set_connection_status(
        &self,
        id: &ConnectionId,
        change: &StatusChange,
        _events: &[Event],
    ) -> Result<Option<Connection>, StoreError> {
        let (id, change) = (*id, *change);
        self.write(move |s| {
            Ok(s.connections.get_mut(&id).filter(|c| c.status == change.expected).map(|c| {
                (c.status, c.status_reason, c.updated_at) = (change.status, change.reason, change.at);
                c.clone()
            }))
        })
        .await
    }

    async fn disconnect(
        &self,
        id: &ConnectionId,
        reason: ReasonCode,
        at: OffsetDateTime,
        _events: &[Event],
    ) -> Result<Option<Connection>, StoreError> {
        let id = *id;
        self.write(move |s| {
            let Some(c) = s.connections.get_mut(&id).filter(|c| c.status != ConnectionStatus::Disconnected) else {
                return Ok(None);
            };
            (c.status, c.status_reason, c.updated_at) = (ConnectionStatus::Disconnected, Some(reason), at);
            let c = c.clone();
            s.credentials.remove(&id);
            s.leases.remove(&id);
            Ok(Some(c))
        })
        .await
    }
}

#[async_trait]
impl CredentialStore for JsonFileStore {
    async fn load_credentials(&self, id: &ConnectionId) -> Result<Option<StoredCredentials>, StoreError> {
        Ok(self.read(|s| s.credentials.get(id).cloned()))
    }

    async fn replace_credentials(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        credentials: &SealedCredentials,
        _events: &[Event],
    ) -> Result<Option<u64>, StoreError> {
        let (id, sealed) = (*id, credentials.clone());
        self.write(move |s| match s.credentials.get_mut(&id) {
            Some(c) if c.version == expected_version => {
                *c = StoredCredentials::new(c.version + 1, sealed);
                Ok(Some(c.version))
            }
            _ => Ok(None),
        })
        .await
    }

    async fn due_for_refresh(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<DueRefresh>, StoreError> {
        let mut due: Vec<DueRefresh> = self.read(|s| {
            s.credentials
                .iter()
                .filter_map(|(id, c)| {
                    c.sealed.access_expires_at.filter(|at| *at < before).map(|at| DueRefresh::new(*id, at))
                })
                .collect()
        });
        due.sort_by_key(|d| (d.access_expires_at, d.connection_id));
        due.truncate(limit);
        Ok(due)
    }

    async fn sealed_with_key(
        &self,
        key_id: KeyId,
        after: Option<ConnectionId>,
        limit: usize,
    ) -> Result<Vec<ConnectionId>, StoreError> {
        // A BTreeMap iterates in id order.
        Ok(self.read(|s| {
            s.credentials
                .iter()
                .filter(|(id, c)| c.sealed.key_id == key_id && after.is_none_or(|a| **id > a))
                .map(|(id, _)| *id)
                .take(limit)
                .collect()
        }))
    }

    async fn try_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (id, owner) = (*id, owner.to_owned());
        self.write(move |s| {
            if !s.credentials.contains_key(&id) {
                return Ok(false);
            }
            match s.leases.get(&id) {
                Some((holder, expiry)) if *holder != owner && *expiry > now => Ok(false),
                _ => {
                    s.leases.insert(id, (owner, until));
                    Ok(true)
                }
            }
        })
        .await
    }

    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> Result<(), StoreError> {
        let (id, owner) = (*id, owner.to_owned());
        self.write(move |s| {
            if s.leases.get(&id).is_some_and(|(holder, _)| *holder == owner) {
                s.leases.remove(&id);
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl PendingStore for JsonFileStore {
    async fn insert_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let p = pending.clone();
        self.write(move |s| {
            if s.pending.contains_key(&p.key) {
                return Err(StoreError::Conflict("pending authorization".into()));
            }
            s.pending.insert(p.key.clone(), p);
            Ok(())
        })
        .await
    }

    async fn take_pending(&self, key: &str, kind: PendingKind) -> Result<Option<PendingAuthorization>, StoreError> {
        let key = key.to_owned();
        self.write(move |s| {
            if s.pending.get(&key).is_none_or(|p| p.kind != kind) {
                return Ok(None);
            }
            Ok(s.pending.remove(&key))
        })
        .await
    }

    async fn purge_pending(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.write(move |s| {
            let n = s.pending.len();
            s.pending.retain(|_, p| p.expires_at >= before);
            Ok((n - s.pending.len()) as u64)
        })
        .await
    }
}

/// A `Connect` over the sandbox and the given store (what an app builds once at startup).
fn build_connect(sandbox: &MockServer, keyring: Keyring, store: JsonFileStore) -> Result<Connect, AnyError> {
    let config =
        RailzSandboxConfig::new(sandbox.base_url(), sandbox.client_id(), ClientSecret::new(sandbox.client_secret()));
    let widget = WidgetConfig::builder(WidgetId::new("custom-store")?)
        .with_redirect_uri(connect_callback_url()?)
        .with_success_url("http://127.0.0.1:8080/connected".parse()?)
        .with_failure_url("http://127.0.0.1:8080/connect-failed".parse()?)
        .build()?;
    Ok(Connect::builder()
        .with_provider(Arc::new(railz_sandbox::provider(&config)))
        .with_store(Arc::new(store))
        .with_keyring(keyring)
        .with_widget(widget)
        .build()?)
}

/// The app's callback route, registered at the provider.
fn connect_callback_url() -> Result<url::Url, url::ParseError> {
    "http://127.0.0.1:8080/connect/callback".parse()
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("railz-connect.json");

    // 1. The conformance suite: run it from a test of your own store (it panics on a failure).
    conformance::run_all(Arc::new(JsonFileStore::open(&path)?)).await;
    println!("conformance suite: passed");

    // 2. Everything it wrote is in the file.
    let left = JsonFileStore::open(&path)?
        .list_connections(&ConnectionFilter::all(), &Page::first(Page::MAX_LIMIT))
        .await?
        .len();
    assert!(left > 0, "the conformance run left connections behind");
    println!("reopened:        {left} connection(s) in {}", path.display());

    // 3. The whole flow against the in-process sandbox, with the JSON file as the store.
    let sandbox = MockServer::start().await?;
    let keyring = Keyring::new(1, DataKey::generate());
    let connect = build_connect(&sandbox, keyring.clone(), JsonFileStore::open(&path)?)?;
    let session = connect.create_session(&WidgetId::new("custom-store")?, SessionRequest::new()).await?;
    let service = ServiceName::new(railz_sandbox::SERVICE_NAME)?;
    // A command-line run has no browser session to bind the authorization to: say so.
    let start = connect.begin_headless(&session.token, &service, Inputs::new()).await?;
    let callback_url = connect_callback_url()?;
    let callback = Callback::from_url(&railz_connect_mock::browser::authorize(&start.url, &callback_url).await?)?;
    let connection = match connect.complete(&callback).await? {
        Completion::Connected { connection, .. } => connection,
        other => return Err(format!("unexpected outcome: {other:?}").into()),
    };
    println!("connectionId:    {}", connection.id);
    println!("businessName:    {}", connection.business_name);
    println!("status:          {}", connection.status);
    drop(connect); // one open store per file: close it before reopening

    // 4. A fresh `Connect` over the reopened file (a restart): the credentials are still there.
    let connect = build_connect(&sandbox, keyring, JsonFileStore::open(&path)?)?;
    let credentials = connect.credentials(&connection.id).await?;
    assert_eq!(connect.connection(&connection.id).await?.status, ConnectionStatus::Active);
    let expires = credentials.access_expires_at().map_or_else(|| "unknown".to_owned(), |t| t.to_string());
    println!("credentials:     read back after reopening (access token expires {expires})");
    println!("OK");

    sandbox.shutdown().await;
    Ok(())
}
