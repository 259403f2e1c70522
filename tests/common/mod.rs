//! Shared harness: the sandbox mock, a `Connect` wired to it, and a stand-in browser.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use railz_connect::core::crypto::{DataKey, Keyring};
use railz_connect::core::store::{MemoryStore, Store};
use railz_connect::providers::railz_sandbox::{self, RailzSandboxConfig};
use railz_connect::{
    AuthorizationStart, Callback, Completion, Connect, Connection, ManualClock, ServiceName, SessionRequest,
    WidgetConfig, WidgetId,
};
use railz_connect_core::ConnectBuilder;
use railz_connect_core::provider::Inputs;
use railz_connect_core::secret::ClientSecret;
use railz_connect_mock::MockServer;
use time::OffsetDateTime;
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
    WidgetConfig::new(
        widget_id(),
        Url::parse(CALLBACK).unwrap(),
        Url::parse(SUCCESS).unwrap(),
        Url::parse(FAILURE).unwrap(),
    )
    .unwrap()
    .allow_landing_url(Url::parse("https://app.example/welcome").unwrap())
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
        let target = railz_connect_mock::browser::authorize(&start.url).await.unwrap();
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
    let mut inputs = Inputs::new();
    inputs.insert("useCase".into(), case.into());
    inputs
}

pub fn query_of(url: &Url) -> std::collections::BTreeMap<String, String> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The `Cookie` header a browser sends back after the `Set-Cookie` of `start`.
pub fn cookie_header(start: &AuthorizationStart) -> String {
    let set = start.set_cookie().expect("a browser-bound authorization");
    set.split(';').next().unwrap().to_owned()
}
