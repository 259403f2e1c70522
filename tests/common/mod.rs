//! Shared harness: the sandbox mock, a `Connect` wired to it, and a stand-in browser.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use railz_connect::ConnectBuilder;
use railz_connect::crypto::KeyId;
use railz_connect::crypto::{DataKey, Keyring};
use railz_connect::provider::Inputs;
use railz_connect::providers::railz_sandbox::{self, RailzSandboxConfig};
use railz_connect::secret::ClientSecret;
use railz_connect::store::{
    BusinessRecord, ConnectionStore, CredentialStore, DueRefresh, MemoryStore, Page, PendingAuthorization, PendingKind,
    PendingStore, SealedCredentials, StatusChange, Store, StoreError, StoredCredentials,
};
use railz_connect::{
    AuthorizationStart, BusinessName, Callback, Completion, Connect, Connection, ConnectionFilter, ConnectionId, Event,
    ManualClock, ReasonCode, ServiceName, SessionRequest, WidgetConfig, WidgetId,
};
use railz_connect_mock::MockServer;
use time::OffsetDateTime;
use tokio::sync::Notify;
use url::Url;

pub const WIDGET: &str = "test-widget";
pub const CALLBACK: &str = "http://127.0.0.1:9/connect/callback";
pub const SUCCESS: &str = "https://app.example/connected";
pub const FAILURE: &str = "https://app.example/failed";

pub fn widget_id() -> WidgetId {
    WidgetId::new(WIDGET).unwrap()
}

pub fn sandbox_service() -> ServiceName {
    ServiceName::new(railz_sandbox::SERVICE_NAME).unwrap()
}

pub fn widget() -> WidgetConfig {
    WidgetConfig::builder(widget_id())
        .with_redirect_uri(Url::parse(CALLBACK).unwrap())
        .with_success_url(Url::parse(SUCCESS).unwrap())
        .with_failure_url(Url::parse(FAILURE).unwrap())
        .with_allowed_landing_url(Url::parse("https://app.example/welcome").unwrap())
        .build()
        .unwrap()
}

pub fn keyring() -> Keyring {
    Keyring::new(1, DataKey::from_bytes([7; 32]))
}

pub fn sandbox_config(mock: &MockServer) -> RailzSandboxConfig {
    RailzSandboxConfig::new(mock.base_url(), mock.client_id(), ClientSecret::new(mock.client_secret()))
}

pub struct Harness {
    pub mock: MockServer,
    pub connect: Connect,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_store(Arc::new(MemoryStore::new())).await
    }

    pub async fn with_store(store: Arc<dyn Store>) -> Self {
        let mock = MockServer::start().await.unwrap();
        Self::on(mock, store, keyring()).await
    }

    pub async fn on(mock: MockServer, store: Arc<dyn Store>, keyring: Keyring) -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let connect = Self::builder(&mock, Arc::clone(&store), keyring, Arc::clone(&clock)).build().unwrap();
        Self { mock, connect, store, clock }
    }

    pub fn builder(
        mock: &MockServer,
        store: Arc<dyn Store>,
        keyring: Keyring,
        clock: Arc<ManualClock>,
    ) -> ConnectBuilder {
        Connect::builder()
            .with_provider(Arc::new(railz_sandbox::provider(&sandbox_config(mock))))
            .with_store(store)
            .with_keyring(keyring)
            .with_widget(widget())
            .with_clock(clock)
    }

    /// A second `Connect` ("another app instance") over the same store and mock.
    pub fn sibling(&self) -> Connect {
        Self::builder(&self.mock, Arc::clone(&self.store), keyring(), Arc::clone(&self.clock)).build().unwrap()
    }

    pub async fn begin(&self, inputs: Inputs) -> AuthorizationStart {
        let session = self.connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
        self.connect.begin(&session.token, &sandbox_service(), inputs).await.unwrap()
    }

    /// Plays the browser: opens the authorization URL and returns the callback it is sent to.
    pub async fn authorize(&self, start: &AuthorizationStart) -> Callback {
        let target = browse(&start.url).await;
        assert!(target.as_str().starts_with(CALLBACK), "redirected to {target}");
        Callback::from_url(&target).unwrap().with_cookie_header(&cookie_header(start))
    }

    /// Runs the whole flow and returns the new connection.
    pub async fn connect_one(&self) -> Connection {
        let start = self.begin(Inputs::new()).await;
        let callback = self.authorize(&start).await;
        match self.connect.complete(&callback).await.unwrap() {
            Completion::Connected { connection, .. } => connection,
            other => panic!("expected a connection, got {other:?}"),
        }
    }
}

pub fn use_case(case: &str) -> Inputs {
    Inputs::new().with_input("useCase", case)
}

pub fn query_of(url: &Url) -> std::collections::BTreeMap<String, String> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The `Cookie` header a browser sends back after the `Set-Cookie` of `start`.
pub fn cookie_header(start: &AuthorizationStart) -> String {
    let set = start.set_cookie().expect("a browser-bound authorization");
    set.split(';').next().unwrap().to_owned()
}

tokio::task_local! {
    /// Which test caller a store call comes from (see [`InstrumentedStore::wait_readers`]).
    pub static CALLER: usize;
}

/// A store wrapper for concurrency tests: it records which callers (the [`CALLER`] task-local)
/// have read credentials, counts refused leases, and can fail a number of credential writes
/// (a database blip). Tests wait on what it saw instead of sleeping.
#[derive(Debug)]
pub struct InstrumentedStore {
    inner: Arc<dyn Store>,
    pub write_failures_left: AtomicUsize,
    /// Connection inserts that commit, then answer a backend error (a lost acknowledgement).
    pub insert_acks_lost: AtomicUsize,
    /// Status changes that find the connection disconnected by "another instance" first: the
    /// wrapper disconnects it, then passes the change on.
    pub disconnect_before_status_change: AtomicUsize,
    /// The events each mutation carried, in order: (method, events).
    pub carried: Mutex<Vec<(&'static str, Vec<Event>)>>,
    readers: Mutex<HashSet<usize>>,
    lease_refusals: AtomicUsize,
    changed: Notify,
}

impl InstrumentedStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            write_failures_left: AtomicUsize::new(0),
            insert_acks_lost: AtomicUsize::new(0),
            disconnect_before_status_change: AtomicUsize::new(0),
            carried: Mutex::new(Vec::new()),
            readers: Mutex::new(HashSet::new()),
            lease_refusals: AtomicUsize::new(0),
            changed: Notify::new(),
        }
    }

    async fn wait_until(&self, done: impl Fn(&Self) -> bool) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(self) {
                return;
            }
            notified.await;
        }
    }

    /// Waits until `n` distinct callers have read credentials.
    pub async fn wait_readers(&self, n: usize) {
        self.wait_until(|s| s.readers.lock().unwrap().len() >= n).await;
    }

    fn carry(&self, method: &'static str, events: &[Event]) {
        self.carried.lock().unwrap().push((method, events.to_vec()));
    }

    /// Every event carried by a successful mutation, in order.
    pub fn carried_events(&self) -> Vec<Event> {
        self.carried.lock().unwrap().iter().flat_map(|(_, e)| e.clone()).collect()
    }

    /// Waits until the store has refused `n` leases.
    pub async fn wait_lease_refusals(&self, n: usize) {
        self.wait_until(|s| s.lease_refusals.load(Ordering::SeqCst) >= n).await;
    }
}

#[async_trait]
impl ConnectionStore for InstrumentedStore {
    async fn reserve_business(&self, b: &BusinessRecord) -> Result<bool, StoreError> {
        self.inner.reserve_business(b).await
    }
    async fn get_business(&self, n: &BusinessName) -> Result<Option<BusinessRecord>, StoreError> {
        self.inner.get_business(n).await
    }
    async fn insert_connection(&self, c: &Connection, s: &SealedCredentials, e: &[Event]) -> Result<(), StoreError> {
        self.inner.insert_connection(c, s, e).await?;
        self.carry("insert_connection", e);
        if self.insert_acks_lost.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::backend(std::io::Error::other("connection reset after commit")));
        }
        Ok(())
    }
    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        self.inner.get_connection(id).await
    }
    async fn list_connections(&self, f: &ConnectionFilter, p: &Page) -> Result<Vec<Connection>, StoreError> {
        self.inner.list_connections(f, p).await
    }
    async fn set_connection_status(
        &self,
        id: &ConnectionId,
        c: &StatusChange,
        e: &[Event],
    ) -> Result<Option<Connection>, StoreError> {
        if self
            .disconnect_before_status_change
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.inner.disconnect(id, ReasonCode::DisconnectedByCustomer, c.at, &[]).await?;
        }
        let written = self.inner.set_connection_status(id, c, e).await?;
        if written.is_some() {
            self.carry("set_connection_status", e);
        }
        Ok(written)
    }
    async fn disconnect(
        &self,
        id: &ConnectionId,
        r: ReasonCode,
        at: OffsetDateTime,
        e: &[Event],
    ) -> Result<Option<Connection>, StoreError> {
        let written = self.inner.disconnect(id, r, at, e).await?;
        if written.is_some() {
            self.carry("disconnect", e);
        }
        Ok(written)
    }
}

#[async_trait]
impl CredentialStore for InstrumentedStore {
    async fn load_credentials(&self, id: &ConnectionId) -> Result<Option<StoredCredentials>, StoreError> {
        let loaded = self.inner.load_credentials(id).await;
        if let Ok(caller) = CALLER.try_with(|c| *c)
            && self.readers.lock().unwrap().insert(caller)
        {
            self.changed.notify_waiters();
        }
        loaded
    }
    async fn replace_credentials(
        &self,
        id: &ConnectionId,
        v: u64,
        s: &SealedCredentials,
        e: &[Event],
    ) -> Result<Option<u64>, StoreError> {
        if self.write_failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::backend(std::io::Error::other("database blip")));
        }
        let written = self.inner.replace_credentials(id, v, s, e).await?;
        if written.is_some() {
            self.carry("replace_credentials", e);
        }
        Ok(written)
    }
    async fn due_for_refresh(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<DueRefresh>, StoreError> {
        self.inner.due_for_refresh(before, limit).await
    }
    async fn sealed_with_key(
        &self,
        key: KeyId,
        after: Option<ConnectionId>,
        limit: usize,
    ) -> Result<Vec<ConnectionId>, StoreError> {
        self.inner.sealed_with_key(key, after, limit).await
    }
    async fn try_lease(
        &self,
        id: &ConnectionId,
        o: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let taken = self.inner.try_lease(id, o, now, until).await?;
        if !taken {
            self.lease_refusals.fetch_add(1, Ordering::SeqCst);
            self.changed.notify_waiters();
        }
        Ok(taken)
    }
    async fn release_lease(&self, id: &ConnectionId, o: &str) -> Result<(), StoreError> {
        self.inner.release_lease(id, o).await
    }
}

#[async_trait]
impl PendingStore for InstrumentedStore {
    async fn insert_pending(&self, p: &PendingAuthorization) -> Result<(), StoreError> {
        self.inner.insert_pending(p).await
    }
    async fn take_pending(&self, key: &str, kind: PendingKind) -> Result<Option<PendingAuthorization>, StoreError> {
        self.inner.take_pending(key, kind).await
    }
    async fn purge_pending(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_pending(before).await
    }
}

/// Plays the browser: opens an authorization URL, follows the provider's redirects with
/// cookies, and returns the callback URL it is finally sent to (without requesting it).
pub async fn browse(authorization_url: &Url) -> Url {
    railz_connect_mock::browser::authorize(authorization_url, &Url::parse(CALLBACK).unwrap()).await.unwrap()
}

/// A `tracing` writer that keeps everything written to it, for tests that read the logs.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
