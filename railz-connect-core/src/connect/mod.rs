//! The connection lifecycle: widget sessions, `begin`, `complete`, tenant choice,
//! connections made from inputs, credentials and refresh, and disconnection. One file per
//! concern: [`session`](self) (widget sessions), `authorize` (begin, complete, tenant choice,
//! finish, fail), `refresh` (credentials and refresh, which a background refresher reuses),
//! `lifecycle` (disconnect, purge), `outcome` (what the flow answers) and `seal` (every seal).

mod authorize;
mod lifecycle;
mod outcome;
mod refresh;
mod seal;
mod session;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use tokio::sync::broadcast;
use url::Url;

pub use outcome::{
    AuthorizationStart, Completion, ConnectionList, Disconnection, Failure, Landing, Revocation, ServiceInput,
    ServiceSummary, SessionInfo, SessionRequest, WidgetSession,
};

use crate::business_name;
use crate::clock::{Clock, SystemClock};
use crate::config::WidgetConfig;
use crate::connection::{Connection, ConnectionFilter};
use crate::crypto::Keyring;
use crate::error::Error;
use crate::event::{BroadcastSink, Event, EventSink};
use crate::http::HttpClient;
use crate::ids::{BusinessName, ConnectionId, ServiceName, WidgetId};
use crate::provider::{CallContext, Provider, ProviderRegistry};
use crate::store::{Cursor, MemoryStore, Page, Store};
use seal::Sealer;

/// Builds a [`Connect`].
#[derive(Debug)]
pub struct ConnectBuilder {
    registry: ProviderRegistry,
    store: Option<Arc<dyn Store>>,
    keyring: Option<Keyring>,
    widgets: Vec<WidgetConfig>,
    http: Option<HttpClient>,
    clock: Arc<dyn Clock>,
    sinks: Vec<Arc<dyn EventSink>>,
    name_generator: NameGenerator,
    authorization_ttl: Duration,
    session_ttl: Duration,
    lease_ttl: Duration,
    refresh_margin: StdDuration,
}

/// Draws candidate business names (see [`ConnectBuilder::with_name_generator`]).
#[derive(Clone)]
struct NameGenerator(Arc<dyn Fn() -> BusinessName + Send + Sync>);

impl fmt::Debug for NameGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NameGenerator")
    }
}

impl Default for ConnectBuilder {
    fn default() -> Self {
        Self {
            registry: ProviderRegistry::new(),
            store: None,
            keyring: None,
            widgets: Vec::new(),
            http: None,
            clock: Arc::new(SystemClock),
            sinks: Vec::new(),
            name_generator: NameGenerator(Arc::new(business_name::generate)),
            authorization_ttl: Duration::minutes(10),
            session_ttl: Duration::hours(1),
            lease_ttl: Duration::seconds(30),
            refresh_margin: StdDuration::from_secs(60),
        }
    }
}

impl ConnectBuilder {
    /// The providers to offer.
    pub fn with_registry(mut self, registry: ProviderRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Adds one provider.
    pub fn with_provider(mut self, provider: Arc<dyn Provider>) -> Self {
        self.registry.register(provider);
        self
    }

    /// The store (default: a [`MemoryStore`], which keeps nothing across restarts).
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The keyring that encrypts credentials (required).
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Adds a widget.
    pub fn with_widget(mut self, widget: WidgetConfig) -> Self {
        self.widgets.push(widget);
        self
    }

    /// The HTTP client (default: [`HttpClient::new`]). It is given the builder's clock.
    pub fn with_http_client(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock (tests use [`crate::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds an event sink besides [`Connect::subscribe`].
    pub fn with_event_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// How candidate business names are drawn (default: [`crate::generate_business_name`],
    /// `amber-falcon-7k3q9x`). Candidates are still reserved in the store, and drawn again
    /// while taken, so a generator only needs to be random enough.
    pub fn with_name_generator(mut self, generator: impl Fn() -> BusinessName + Send + Sync + 'static) -> Self {
        self.name_generator = NameGenerator(Arc::new(generator));
        self
    }

    /// How long an authorization may take (default 10 minutes).
    pub fn with_authorization_ttl(mut self, ttl: StdDuration) -> Self {
        self.authorization_ttl = to_time(ttl);
        self
    }

    /// How long a widget session lasts (default 1 hour).
    pub fn with_session_ttl(mut self, ttl: StdDuration) -> Self {
        self.session_ttl = to_time(ttl);
        self
    }

    /// How long a refresh lease lasts (default 30 s; keep it longer than the HTTP timeout).
    pub fn with_lease_ttl(mut self, ttl: StdDuration) -> Self {
        self.lease_ttl = to_time(ttl);
        self
    }

    /// How long before its expiry an access token is refreshed on read by
    /// [`Connect::credentials`] (default 60 s). Never more than half of a token's lifetime: a
    /// token that lives 30 s is refreshed 15 s before it expires, not on every call.
    pub fn with_refresh_margin(mut self, margin: StdDuration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Builds. Fails without a keyring, without a widget, or with a widget offering a service
    /// that is not registered.
    pub fn build(self) -> Result<Connect, Error> {
        let keyring = self.keyring.ok_or_else(|| Error::InvalidConfig("a keyring is required".into()))?;
        if self.widgets.is_empty() {
            return Err(Error::InvalidConfig("at least one widget is required".into()));
        }
        let mut widgets = HashMap::new();
        for w in self.widgets {
            w.validate()?;
            for s in w.services.iter().flatten() {
                if self.registry.get(s).is_none() {
                    return Err(Error::UnknownService(s.clone()));
                }
            }
            if widgets.insert(w.widget_id.clone(), w).is_some() {
                return Err(Error::InvalidConfig("two widgets have the same id".into()));
            }
        }
        let store = self.store.unwrap_or_else(|| {
            tracing::warn!("no store configured: using an in-memory store that keeps nothing across restarts");
            Arc::new(MemoryStore::new())
        });
        let broadcast = BroadcastSink::new(1024);
        Ok(Connect {
            inner: Arc::new(Inner {
                registry: self.registry,
                store,
                keyring,
                widgets,
                // The SDK's clock everywhere, also in a client the app passed in (it reads
                // `Retry-After` dates against it).
                http: match self.http {
                    Some(http) => http,
                    None => HttpClient::new().map_err(|e| {
                        let cause = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
                        Error::InvalidConfig(format!("the HTTP client could not be built: {cause}"))
                    })?,
                }
                .with_clock(self.clock.clone()),
                clock: self.clock,
                broadcast,
                sinks: self.sinks,
                name_generator: self.name_generator,
                authorization_ttl: self.authorization_ttl,
                session_ttl: self.session_ttl,
                lease_ttl: self.lease_ttl,
                refresh_margin: self.refresh_margin,
                instance: uuid::Uuid::new_v4().to_string(),
                flights: Mutex::new(HashMap::new()),
            }),
        })
    }
}

fn to_time(d: StdDuration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::MAX)
}

struct Inner {
    registry: ProviderRegistry,
    store: Arc<dyn Store>,
    keyring: Keyring,
    widgets: HashMap<WidgetId, WidgetConfig>,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    broadcast: BroadcastSink,
    sinks: Vec<Arc<dyn EventSink>>,
    name_generator: NameGenerator,
    authorization_ttl: Duration,
    session_ttl: Duration,
    lease_ttl: Duration,
    refresh_margin: StdDuration,
    instance: String,
    flights: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
}

/// The SDK's entry point: runs the connection flow and manages connections.
///
/// Cheap to clone; clones share everything. Several `Connect` values (in one process or
/// several) may share one store: refreshes are coordinated through the store's lease and
/// versioned writes.
#[derive(Clone)]
pub struct Connect {
    inner: Arc<Inner>,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("services", &self.inner.registry.service_names().collect::<Vec<_>>())
            .field("widgets", &self.inner.widgets.keys().collect::<Vec<_>>())
            .field("store", &self.inner.store)
            .field("keyring", &self.inner.keyring)
            .finish_non_exhaustive()
    }
}

fn sha256_hex(value: &str) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(value.as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// The query parameters the SDK adds to landing pages. A landing URL's own query keeps every
/// other parameter, but never one of these: the SDK's values win, and nothing from a request
/// can add a second `connectionId`.
pub(crate) const LANDING_PARAMS: [&str; 4] = ["connectionId", "serviceName", "businessName", "reason"];

/// `url` without any of the SDK's landing parameters.
pub(crate) fn without_landing_params(mut url: Url) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !LANDING_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url
}

fn with_params(url: Url, params: &[(&str, &str)]) -> Url {
    let mut url = without_landing_params(url);
    url.query_pairs_mut().extend_pairs(params);
    url
}

impl Connect {
    /// Starts building.
    pub fn builder() -> ConnectBuilder {
        ConnectBuilder::default()
    }

    /// The registered providers.
    pub fn registry(&self) -> &ProviderRegistry {
        &self.inner.registry
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.broadcast.subscribe()
    }

    fn widget(&self, id: &WidgetId) -> Result<&WidgetConfig, Error> {
        self.inner.widgets.get(id).ok_or_else(|| Error::UnknownWidget(id.clone()))
    }

    /// A widget's configuration ([`Error::UnknownWidget`] if none has this id).
    pub fn widget_config(&self, id: &WidgetId) -> Result<&WidgetConfig, Error> {
        self.widget(id)
    }

    fn provider(&self, service: &ServiceName) -> Result<&Arc<dyn Provider>, Error> {
        self.inner.registry.get(service).ok_or_else(|| Error::UnknownService(service.clone()))
    }

    /// Hands events to the sinks, after the store write that carried them succeeded.
    fn emit(&self, events: &[Event]) {
        for event in events {
            tracing::info!(kind = ?event.kind, business_name = %event.business_name, service_name = ?event.service_name.as_ref().map(ServiceName::as_str), connection_id = ?event.connection_id.map(|c| c.to_string()), reason = ?event.reason, "event");
            self.inner.broadcast.emit(event);
            for sink in &self.inner.sinks {
                sink.emit(event);
            }
        }
    }

    fn sealer(&self) -> Sealer<'_> {
        Sealer(&self.inner.keyring)
    }

    /// Now, from the clock, in whole microseconds: the precision the storage contract fixes,
    /// so what the SDK hands out equals what a store reads back.
    fn now(&self) -> OffsetDateTime {
        let now = self.inner.clock.now();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
    }

    /// The context of a provider call.
    fn cx(&self) -> CallContext<'_> {
        CallContext::new(&self.inner.http, self.now())
    }

    // ---- connections -----------------------------------------------------------------

    /// A connection by id.
    pub async fn connection(&self, id: &ConnectionId) -> Result<Connection, Error> {
        self.inner.store.get_connection(id).await?.ok_or(Error::ConnectionNotFound(*id))
    }

    /// One page of the connections matching a filter, oldest first; `next` is where the
    /// following page starts.
    ///
    /// ```no_run
    /// # async fn run(connect: railz_connect_core::Connect) -> Result<(), railz_connect_core::Error> {
    /// use railz_connect_core::ConnectionFilter;
    /// use railz_connect_core::store::Page;
    ///
    /// let mut page = Page::first(100);
    /// loop {
    ///     let list = connect.connections(&ConnectionFilter::all(), page).await?;
    ///     for c in &list.connections {
    ///         println!("{} {}", c.id, c.status);
    ///     }
    ///     match list.next {
    ///         Some(cursor) => page = page.with_after(cursor),
    ///         None => break,
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn connections(&self, filter: &ConnectionFilter, page: Page) -> Result<ConnectionList, Error> {
        let connections = self.inner.store.list_connections(filter, &page).await?;
        let next = (connections.len() >= page.limit).then(|| connections.last().map(Cursor::after)).flatten();
        Ok(ConnectionList { connections, next })
    }
}
