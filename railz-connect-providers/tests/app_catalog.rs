//! A provider an app defines in its own catalog file, with no code, runs the whole flow
//! against an OAuth2 server it has never seen: the sandbox mock, reached through this file
//! (not through the sandbox's Rust definition) with a base-URL override. The same file shows
//! up in the registry and is enabled from environment variables like a built-in service.

use std::sync::Arc;

use railz_connect_core::crypto::{DataKey, Keyring};
use railz_connect_core::http::HttpClient;
use railz_connect_core::provider::Inputs;
use railz_connect_core::store::MemoryStore;
use railz_connect_core::{
    Callback, Completion, Connect, ConnectionStatus, ManualClock, ServiceName, SessionRequest, WidgetConfig, WidgetId,
};
use railz_connect_mock::{Company, Endpoint, MockServer};
use railz_connect_providers::{Catalog, ProvidersConfig, registry_with};
use url::Url;

/// The app's file: the sandbox's facts as any OAuth2 provider's, at an address it does not
/// have (every URL is moved onto the mock by the base-URL override).
const ACME: &str = r#"
service = "acmeLedger"
display_name = "Acme Ledger"
status = "supported"
auth = "oauth2"

[oauth2]
authorize_url = "https://auth.acme.example/oauth/authorize"
token_url = "https://auth.acme.example/oauth/token"
revoke_url = "https://auth.acme.example/oauth/revoke"
revocation = "form"
issuer = "https://auth.acme.example"
scopes = ["accounting.read"]
client_auth = "basic"
pkce = "required"
rotation = "always"

[api]
base_url = "https://auth.acme.example/api"

[tenants]
source = "list"
items = "/companies"
id = "/id"
name = "/name"
[tenants.request]
url = "{api}/companies"

[verify]
name = "/legalName"
id = "/id"
[verify.request]
url = "{api}/companies/{tenant}"

[[sources]]
fact = "the app's own provider"
url = "https://developer.acme.example/oauth"
"#;

const CALLBACK: &str = "http://127.0.0.1:9/connect/callback";

#[tokio::test]
async fn an_app_catalog_file_adds_a_working_provider() {
    let mock = MockServer::start().await.unwrap();
    mock.set_companies(vec![Company::sample("c-1", "Acme One"), Company::sample("c-2", "Acme Two")]);
    let mut catalog = Catalog::builtin().unwrap();
    catalog.add_toml("acme.toml", ACME).unwrap();

    // Enabled like any service: its variables, no code.
    let vars = [
        ("RAILZ_ACME_LEDGER_CLIENT_ID", mock.client_id().to_owned()),
        ("RAILZ_ACME_LEDGER_CLIENT_SECRET", mock.client_secret().to_owned()),
        ("RAILZ_ACME_LEDGER_BASE_URL", mock.base_url().to_string()),
    ];
    let config = ProvidersConfig::from_vars_with(&catalog, |name| {
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| Ok(v.clone()))
    })
    .unwrap();
    let service: ServiceName = "acmeLedger".parse().unwrap();
    let registry = registry_with(&catalog, &config).unwrap();
    assert_eq!(registry.service_names().collect::<Vec<_>>(), [&service]);

    // A fixed instant: the SDK computes every expiry from its own clock.
    let clock = Arc::new(ManualClock::new(
        railz_connect_core::time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
    ));
    let widget = WidgetId::new("app").unwrap();
    let connect = Connect::builder()
        .with_registry(registry)
        .with_store(Arc::new(MemoryStore::new()))
        .with_keyring(Keyring::new(1, DataKey::generate()))
        .with_widget(
            WidgetConfig::builder(widget.clone())
                .with_redirect_uri(Url::parse(CALLBACK).unwrap())
                .with_success_url(Url::parse("https://app.example/ok").unwrap())
                .with_failure_url(Url::parse("https://app.example/failed").unwrap())
                .build()
                .unwrap(),
        )
        .with_http_client(HttpClient::new().unwrap().with_clock(Arc::clone(&clock) as _))
        .with_clock(Arc::clone(&clock) as _)
        .build()
        .unwrap();
    let listed = connect.registry().get(&service).unwrap().metadata().clone();
    assert_eq!(listed.display_name, "Acme Ledger");
    assert!(listed.capabilities.tenant_selection && listed.capabilities.revocation && listed.capabilities.verify);

    let session = connect.create_session(&widget, SessionRequest::new()).await.unwrap();
    let start = connect.begin_headless(&session.token, &service, Inputs::new()).await.unwrap();
    assert!(start.url.as_str().starts_with(&format!("{}oauth/authorize?", mock.base_url())), "{}", start.url);
    let callback = railz_connect_mock::browser::authorize(&start.url, &Url::parse(CALLBACK).unwrap()).await.unwrap();
    assert!(callback.query_pairs().any(|(k, _)| k == "iss"), "the mock sends its issuer, compared after the move");
    let completion = connect.complete(&Callback::from_url(&callback).unwrap()).await.unwrap();
    let Completion::ChooseTenant { ticket, tenants, .. } = completion else { panic!("{completion:?}") };
    assert_eq!(tenants.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Acme One", "Acme Two"]);
    let Completion::Connected { connection, .. } = connect.choose_tenant(&ticket, &tenants[1].id).await.unwrap() else {
        panic!("not connected")
    };
    let token_request = mock.requests(Endpoint::Token).pop().unwrap();
    assert!(token_request.form_param("code_verifier").is_some(), "PKCE, as the file says");
    assert!(token_request.header("authorization").is_some_and(|a| a.starts_with("Basic ")), "Basic, as the file says");

    let info = connect.verify(&connection.id).await.unwrap();
    assert_eq!((info.name.as_str(), info.id.as_deref()), ("Acme Two Ltd.", Some("c-2")));
    let before = connect.credentials(&connection.id).await.unwrap();
    let after = connect.refresh(&connection.id).await.unwrap();
    assert_ne!(
        before.oauth2().unwrap().refresh_token.as_ref().unwrap().secret(),
        after.oauth2().unwrap().refresh_token.as_ref().unwrap().secret(),
        "rotated, as the file says"
    );
    let disconnection = connect.disconnect(&connection.id).await.unwrap();
    assert!(disconnection.revocation.is_revoked());
    assert_eq!(mock.calls(Endpoint::Revoke), 1);
    assert_eq!(connect.connection(&connection.id).await.unwrap().status, ConnectionStatus::Disconnected);
    mock.shutdown().await;
}
