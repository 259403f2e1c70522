//! The reshaped core from outside: a provider connected with credentials instead of a redirect
//! (implemented directly on `Provider`), requests authorized by the provider, the events every
//! store write carries, conditional status writes, session errors and error kinds.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use railz_connect::http::HttpClient;
use railz_connect::provider::{
    AuthKind, CallContext, Capabilities, Credentials, InputSpec, Inputs, Provider, ProviderError, ProviderMetadata,
    SecretCredentials,
};
use railz_connect::secret::{SecretValue, SessionToken};
use railz_connect::store::{CredentialStore, MemoryStore, Page, Store};
use railz_connect::{
    Completion, Connect, ConnectionFilter, ConnectionStatus, Error, ErrorKind, EventKind, ReasonCode, ServiceName,
    SessionError, SessionRequest, Tenant, TenantId,
};
use railz_connect_mock::MockServer;
use serde::Deserialize;
use url::Url;

/// "Acme Ledger": a service whose businesses connect with an API key (a secret input) that the
/// provider verifies by listing the companies it reaches. Played by the sandbox's API, whose
/// access tokens serve as API keys.
#[derive(Debug)]
struct ApiKeyProvider {
    metadata: ProviderMetadata,
    companies: Url,
}

const SERVICE: &str = "acmeLedger";

impl ApiKeyProvider {
    fn new(mock: &MockServer) -> Self {
        let metadata = ProviderMetadata::new(SERVICE.parse().unwrap(), "Acme Ledger", AuthKind::Credentials)
            .with_capabilities(Capabilities::new().with_tenant_selection(true))
            .with_input(InputSpec::text("region", "Region"))
            .with_input(InputSpec::secret("apiKey", "API key"));
        Self { metadata, companies: mock.api_url().join("companies").unwrap() }
    }

    async fn list(&self, cx: &CallContext<'_>, credentials: &Credentials) -> Result<Vec<Tenant>, ProviderError> {
        #[derive(Deserialize)]
        struct List {
            companies: Vec<Company>,
        }
        #[derive(Deserialize)]
        struct Company {
            id: String,
            name: String,
        }
        let mut request = http::Request::get(self.companies.as_str()).body(Vec::new()).unwrap();
        self.authorize_request(cx, credentials, &mut request)?;
        let list: List = cx.http.get_json(request).await.map_err(|e| match e {
            ProviderError::Status { status: 401, .. } => {
                ProviderError::CredentialsRefused("the API key was refused".into())
            }
            e => e,
        })?;
        Ok(list.companies.into_iter().map(|c| Tenant::new(c.id.parse().unwrap(), c.name)).collect())
    }
}

#[async_trait]
impl Provider for ApiKeyProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn connect(&self, cx: &CallContext<'_>, inputs: &Inputs) -> Result<Credentials, ProviderError> {
        let key = inputs
            .get("apiKey")
            .ok_or(ProviderError::InvalidInput { name: "apiKey".into(), reason: "is required".into() })?;
        let credentials: Credentials = SecretCredentials::new(cx.now)
            .with_field("apiKey", SecretValue::new(key))
            .with_param("region", inputs.get("region").unwrap_or_default())
            .into();
        // The verify call: a refused key fails here, before anything is stored.
        self.list(cx, &credentials).await?;
        Ok(credentials)
    }

    async fn list_tenants(
        &self,
        cx: &CallContext<'_>,
        credentials: &Credentials,
    ) -> Result<Vec<Tenant>, ProviderError> {
        self.list(cx, credentials).await
    }

    /// The key is a bearer token, from the secret field (there is no access token).
    fn authorize_request(
        &self,
        _cx: &CallContext<'_>,
        credentials: &Credentials,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        let key =
            credentials.secret().and_then(|s| s.field("apiKey")).ok_or(ProviderError::Unsupported("no API key"))?;
        railz_connect::provider::set_bearer(request, key.secret())
    }
}

struct Setup {
    h: Harness,
    connect: Connect,
    store: Arc<InstrumentedStore>,
    /// A key the "service" accepts: an access token of the sandbox.
    key: String,
}

async fn setup() -> Setup {
    let h = Harness::new().await;
    let sandbox_connection = h.connect_one().await;
    let key = h.connect.credentials(&sandbox_connection.id).await.unwrap().access_token().unwrap().secret().to_owned();
    let store = Arc::new(InstrumentedStore::new(Arc::new(MemoryStore::new())));
    let connect = Harness::builder(&h.mock, store.clone() as Arc<dyn Store>, keyring(), Arc::clone(&h.clock))
        .with_provider(Arc::new(ApiKeyProvider::new(&h.mock)))
        .build()
        .unwrap();
    Setup { h, connect, store, key }
}

fn acme() -> ServiceName {
    SERVICE.parse().unwrap()
}

async fn session(connect: &Connect) -> SessionToken {
    connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap().token
}

#[tokio::test]
async fn a_service_connected_with_credentials_ends_like_a_redirect_and_keeps_its_secret_sealed() {
    let s = setup().await;
    let mut events = s.connect.subscribe();
    let capture = Capture::default();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(capture.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let listed = s.connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
    let acme_summary = listed.services.iter().find(|svc| svc.service_name == acme()).unwrap();
    assert_eq!(acme_summary.auth_kind, AuthKind::Credentials);
    let key_input = acme_summary.inputs.iter().find(|i| i.name == "apiKey").unwrap();
    assert!(key_input.secret && key_input.required, "the widget shows a required password field");

    let inputs = Inputs::new().with_input("region", "eu").with_input("apiKey", s.key.clone());
    let done = s.connect.connect_with_inputs(&listed.token, &acme(), inputs).await.unwrap();
    let Completion::Connected { connection, landing } = &done else { panic!("{done:?}") };
    assert_eq!(connection.service_name, acme());
    assert_eq!(connection.tenant.as_ref().unwrap().id.as_str(), "cmp_sandbox_1", "the one company, picked");
    assert_eq!(landing.url.query_pairs().find(|(k, _)| k == "connectionId").unwrap().1, connection.id.to_string());

    // The credentials: the secret field sealed, only plain inputs as parameters.
    let credentials = s.connect.credentials(&connection.id).await.unwrap();
    let secret = credentials.secret().expect("secret credentials");
    assert_eq!(secret.field("apiKey").unwrap().secret(), s.key);
    assert_eq!(credentials.params().get("region").map(String::as_str), Some("eu"));
    assert_eq!(credentials.params().get("tenantId").map(String::as_str), Some("cmp_sandbox_1"));
    assert!(!credentials.params().contains_key("apiKey"), "a secret input is never a parameter");
    let stored = s.store.load_credentials(&connection.id).await.unwrap().unwrap();
    assert!(!stored.sealed.blob.windows(s.key.len()).any(|w| w == s.key.as_bytes()), "sealed, not in clear");

    // Requests to the service's API are authorized the provider's way.
    let url = s.h.mock.api_url().join("companies/cmp_sandbox_1").unwrap();
    let mut request = http::Request::get(url.as_str()).body(Vec::new()).unwrap();
    s.connect.authorize_request(&connection.id, &mut request).await.unwrap();
    let info: serde_json::Value = HttpClient::new().unwrap().get_json(request).await.unwrap();
    assert_eq!(info["name"], "Railz Sandbox Company");

    // One event, carried by the store write that created the connection, then emitted.
    let event = events.recv().await.unwrap();
    assert_eq!((event.kind, event.connection_id), (EventKind::Auth, Some(connection.id)));
    assert_eq!(s.store.carried.lock().unwrap()[0].0, "insert_connection");
    assert_eq!(s.store.carried_events(), [event]);

    // The key appears nowhere: logs, Debug of the outcome, the credentials, the events.
    drop(_guard);
    let shown = format!("{} {done:?} {credentials:?} {:?}", capture.text(), s.store.carried_events());
    assert!(!shown.contains(&s.key), "the API key leaked");
}

#[tokio::test]
async fn a_refused_key_fails_with_a_reason_and_stores_nothing() {
    let s = setup().await;
    let token = session(&s.connect).await;
    let inputs = Inputs::new().with_input("region", "eu").with_input("apiKey", "SENTINEL-wrong-key");
    let done = s.connect.connect_with_inputs(&token, &acme(), inputs).await.unwrap();
    let Completion::Failed(failure) = &done else { panic!("{done:?}") };
    assert_eq!(failure.reason, ReasonCode::UnauthorizedCredentials);
    assert_eq!(failure.landing.url.query_pairs().find(|(k, _)| k == "reason").unwrap().1, "unauthorizedCredentials");
    assert!(!format!("{done:?}").contains("SENTINEL"));
    assert!(s.connect.connections(&ConnectionFilter::all(), Page::default()).await.unwrap().is_empty());
    assert!(s.store.carried_events().is_empty(), "no connection, no write");

    // Inputs are validated before anything is sent: a missing secret names the input only.
    let e = s.connect.connect_with_inputs(&token, &acme(), Inputs::new().with_input("region", "eu")).await.unwrap_err();
    assert!(matches!(&e, Error::Provider { source: ProviderError::InvalidInput { name, .. }, .. } if name == "apiKey"));
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert_eq!(e.kind().http_status(), 400);
}

#[tokio::test]
async fn several_companies_wait_for_a_choice_with_the_secret_sealed_in_the_ticket() {
    let s = setup().await;
    s.h.mock.set_companies(vec![
        railz_connect_mock::Company::sample("cmp_a", "Alpha"),
        railz_connect_mock::Company::sample("cmp_b", "Beta"),
    ]);
    let token = session(&s.connect).await;
    let inputs = Inputs::new().with_input("region", "us").with_input("apiKey", s.key.clone());
    let Completion::ChooseTenant { ticket, tenants, .. } =
        s.connect.connect_with_inputs(&token, &acme(), inputs).await.unwrap()
    else {
        panic!("expected a tenant choice")
    };
    assert_eq!(tenants.len(), 2);
    let Completion::Connected { connection, .. } =
        s.connect.choose_tenant(&ticket, &TenantId::new("cmp_b").unwrap()).await.unwrap()
    else {
        panic!("expected a connection")
    };
    assert_eq!(connection.tenant.unwrap().name, "Beta");
    let credentials = s.connect.credentials(&connection.id).await.unwrap();
    assert_eq!(
        credentials.secret().unwrap().field("apiKey").unwrap().secret(),
        s.key,
        "the secret survived the ticket"
    );
}

#[tokio::test]
async fn each_service_is_connected_only_its_own_way() {
    let s = setup().await;
    let token = session(&s.connect).await;
    let e = s
        .connect
        .begin(&token, &acme(), Inputs::new().with_input("region", "eu").with_input("apiKey", "k"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::WrongAuthKind { expected: AuthKind::Credentials, .. }), "{e:?}");
    let e = s.connect.connect_with_inputs(&token, &sandbox_service(), Inputs::new()).await.unwrap_err();
    assert!(matches!(e, Error::WrongAuthKind { expected: AuthKind::Redirect, .. }), "{e:?}");
    assert_eq!(e.kind().http_status(), 400);
}

#[tokio::test]
async fn session_tokens_say_why_they_are_refused() {
    let h = Harness::new().await;
    let cases = [
        (SessionToken::new("not base64 !"), SessionError::Malformed),
        (SessionToken::new("AAAA"), SessionError::Malformed),
    ];
    for (token, expected) in cases {
        let e = h.connect.begin(&token, &sandbox_service(), Inputs::new()).await.unwrap_err();
        assert!(matches!(e, Error::InvalidSession(got) if got == expected), "{e:?}");
    }
    // Sealed by another app (another key): forged.
    let other = Harness::on(
        MockServer::start().await.unwrap(),
        Arc::new(MemoryStore::new()),
        railz_connect::crypto::Keyring::new(1, railz_connect::crypto::DataKey::from_bytes([9; 32])),
    )
    .await;
    let foreign = other.connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap().token;
    let e = h.connect.begin(&foreign, &sandbox_service(), Inputs::new()).await.unwrap_err();
    assert!(matches!(e, Error::InvalidSession(SessionError::Forged)), "{e:?}");
    assert_eq!((e.kind(), e.kind().http_status()), (ErrorKind::Unauthenticated, 401));
    // Ours, too late: expired.
    let token = h.connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap().token;
    h.clock.advance(std::time::Duration::from_secs(3601));
    let e = h.connect.begin(&token, &sandbox_service(), Inputs::new()).await.unwrap_err();
    assert!(matches!(e, Error::InvalidSession(SessionError::Expired)), "{e:?}");
    assert_eq!(e.reason_code(), ReasonCode::AuthorizationExpired);
}

#[tokio::test]
async fn an_expiry_never_overwrites_a_concurrent_disconnection() {
    let store = Arc::new(InstrumentedStore::new(Arc::new(MemoryStore::new())));
    let h = Harness::with_store(store.clone()).await;
    let c = h.connect_one().await;
    let mut events = h.connect.subscribe();
    h.clock.advance(std::time::Duration::from_secs(366 * 86_400));
    // Between reading the connection (active) and writing `expired`, another instance
    // disconnects it.
    store.disconnect_before_status_change.store(1, std::sync::atomic::Ordering::SeqCst);
    let e = h.connect.credentials(&c.id).await.unwrap_err();
    assert!(matches!(e, Error::ConnectionUnusable { status: ConnectionStatus::Disconnected, .. }), "{e:?}");
    assert_eq!(h.connect.connection(&c.id).await.unwrap().status, ConnectionStatus::Disconnected, "not overwritten");
    assert!(events.try_recv().is_err(), "no status event for a change that was not written");
    assert!(store.carried.lock().unwrap().iter().all(|(m, _)| *m != "set_connection_status"));
}

#[tokio::test]
async fn every_change_carries_its_events_and_the_same_events_are_emitted() {
    let store = Arc::new(InstrumentedStore::new(Arc::new(MemoryStore::new())));
    let h = Harness::with_store(store.clone()).await;
    let mut events = h.connect.subscribe();
    let c = h.connect_one().await;
    h.connect.refresh(&c.id).await.unwrap();
    h.connect.disconnect(&c.id).await.unwrap();
    // A second disconnection changes nothing and records nothing.
    assert!(h.connect.disconnect(&c.id).await.unwrap().revocation.is_revoked());
    let methods: Vec<&str> = store.carried.lock().unwrap().iter().map(|(m, _)| *m).collect();
    assert_eq!(methods, ["insert_connection", "replace_credentials", "disconnect"]);
    let carried = store.carried_events();
    let kinds: Vec<EventKind> = carried.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Auth, EventKind::TokenRefreshed, EventKind::ConnectionStatus]);
    assert_eq!(carried[2].status, Some(ConnectionStatus::Disconnected));
    let mut emitted = Vec::new();
    while let Ok(e) = events.try_recv() {
        emitted.push(e);
    }
    assert_eq!(emitted, carried, "what the sinks get is exactly what the writes carried");
}

#[tokio::test]
async fn connections_page_with_a_cursor() {
    let h = Harness::new().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(h.connect_one().await.id);
        h.clock.advance(std::time::Duration::from_secs(1));
    }
    let mut page = Page::first(2);
    let mut seen = Vec::new();
    loop {
        let list = h.connect.connections(&ConnectionFilter::all(), page).await.unwrap();
        seen.extend(list.iter().map(|c| c.id));
        match list.next {
            Some(cursor) => page = page.with_after(cursor),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every connection once, oldest first");
}
