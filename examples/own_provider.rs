//! Define your own provider: an OAuth2 accounting service the SDK does not ship, from data.
//!
//! ```text
//! cargo run --example own_provider
//! ```
//!
//! Three ways, each run through the whole flow:
//!
//! 1. an [`OAuth2Definition`] written by hand: endpoints, scopes, client authentication, PKCE,
//!    issuer, revocation, rotation (session, authorization with PKCE and a browser binding,
//!    callback, encrypted storage, refresh, disconnect with revocation);
//! 2. the same service discovered from its authorization server's metadata (RFC 8414
//!    `/.well-known/oauth-authorization-server`, falling back to OpenID Connect discovery),
//!    with the issuer compared exactly;
//! 3. a service connected with credentials instead of a redirect, implementing [`Provider`]
//!    directly: its [`ProviderMetadata`] says [`AuthKind::Credentials`] and asks for an API key
//!    (a secret input), [`Provider::connect`] verifies it, and
//!    [`Provider::authorize_request`] applies it to API requests
//!    ([`Connect::connect_with_inputs`], then [`Connect::authorize_request`]).
//!
//! "Acme Books" is played here by the sandbox server on 127.0.0.1, reached only through its
//! URLs, as if the SDK had never seen it. Add a [`Quirks`](railz_connect::provider::Quirks)
//! implementation for what data cannot say (tenant listing, error mapping, endpoints derived
//! from inputs).

use std::sync::Arc;

use async_trait::async_trait;
use railz_connect::crypto::{DataKey, Keyring};
use railz_connect::http::HttpClient;
use railz_connect::provider::{
    AuthKind, CallContext, Capabilities, ClientAuth, ClientRegistration, Credentials, InputSpec, Inputs, IssuerParam,
    NoQuirks, OAuth2Definition, OAuth2Provider, Pkce, Provider, ProviderError, ProviderMetadata, RevocationStyle,
    Rotation, SecretCredentials,
};
use railz_connect::secret::{ClientSecret, SecretValue};
use railz_connect::store::MemoryStore;
use railz_connect::{Callback, Completion, Connect, SessionRequest, WidgetConfig, WidgetId, WidgetSession};
use railz_connect_mock::MockServer;
use url::Url;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

const CALLBACK: &str = "http://127.0.0.1:8080/connect/callback";

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let server = MockServer::start().await?; // "Acme Books"' authorization server and API
    let http = HttpClient::new()?;

    // 1. By hand, from the provider's documentation.
    let by_hand = OAuth2Definition::new("acmeBooks".parse()?, "Acme Books", server.authorize_url(), server.token_url())
        .with_revocation(server.revoke_url(), RevocationStyle::Rfc7009)
        .with_issuer(server.issuer(), IssuerParam::Required)
        .with_scopes(&["accounting.read"], " ")
        .with_client_auth(ClientAuth::Basic)
        .with_pkce(Pkce::Required)
        .with_rotation(Rotation::Always);

    // 2. Discovered from the issuer's metadata; what metadata cannot say is added by hand.
    let discovered =
        OAuth2Definition::discover(&http, &server.issuer(), "acmeBooksDiscovered".parse()?, "Acme Books (discovered)")
            .await?
            .with_scopes(&["accounting.read"], " ")
            .with_rotation(Rotation::Always);

    let client = ClientRegistration::new(server.client_id(), ClientSecret::new(server.client_secret()));
    for definition in [by_hand, discovered] {
        let service = definition.service_name.clone();
        let (connect, session) = connect_for(OAuth2Provider::new(definition, client.clone(), NoQuirks), &http).await?;
        let start = connect.begin(&session.token, &service, Inputs::new()).await?;
        // The app answers with a redirect to `start.url` and `Set-Cookie: start.set_cookie()`;
        // the browser comes back to the callback with the cookie.
        let set_cookie = start.set_cookie().ok_or("a browser-bound authorization has a cookie")?;
        let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
        let target = railz_connect_mock::browser::authorize(&start.url, &Url::parse(CALLBACK)?).await?;
        let callback = Callback::from_url(&target)?.with_cookie_header(&cookie);
        let Completion::Connected { connection, .. } = connect.complete(&callback).await? else {
            return Err("the authorization did not connect".into());
        };
        let refresh_token = |c: &railz_connect::provider::Credentials| {
            c.oauth2().and_then(|t| t.refresh_token.as_ref()).map(|t| t.secret().to_owned())
        };
        let before = connect.credentials(&connection.id).await?;
        let after = connect.refresh(&connection.id).await?;
        let rotated = refresh_token(&before) != refresh_token(&after);
        let gone = connect.disconnect(&connection.id).await?;
        println!(
            "{:<22} connected {}  refreshed (rotated: {rotated})  disconnected (revoked at the provider: {})",
            service.as_str(),
            connection.id,
            gone.revocation.is_revoked()
        );
    }
    // 3. A service connected with an API key. The sandbox's API plays it; one of its access
    //    tokens serves as the key the business would copy from the service's settings.
    let key = {
        let token = connect_once(&server, &http).await?;
        token.access_token().ok_or("the sandbox issues access tokens")?.secret().to_owned()
    };
    let provider = ApiKeyProvider::new(&server);
    let service = provider.metadata.service_name.clone();
    let (connect, session) = connect_for(provider, &http).await?;
    let inputs = Inputs::new().with_input("apiKey", key);
    let Completion::Connected { connection, .. } =
        connect.connect_with_inputs(&session.token, &service, inputs).await?
    else {
        return Err("the API key was not accepted".into());
    };
    let mut request = http::Request::get(server.api_url().join("companies")?.as_str()).body(Vec::new())?;
    connect.authorize_request(&connection.id, &mut request).await?;
    let companies: serde_json::Value = http.get_json(request).await?;
    println!(
        "{:<22} connected {}  (credentials, no redirect)  its API lists {} company",
        service.as_str(),
        connection.id,
        companies["companies"].as_array().map_or(0, Vec::len)
    );
    server.shutdown().await;
    Ok(())
}

fn widget(id: &WidgetId) -> Result<WidgetConfig, AnyError> {
    Ok(WidgetConfig::builder(id.clone())
        .with_redirect_uri(CALLBACK.parse()?)
        .with_success_url("http://127.0.0.1:8080/connected".parse()?)
        .with_failure_url("http://127.0.0.1:8080/connect-failed".parse()?)
        .build()?)
}

/// A `Connect` offering one provider (what an app builds once at startup), and a widget
/// session for a generated business.
async fn connect_for(provider: impl Provider, http: &HttpClient) -> Result<(Connect, WidgetSession), AnyError> {
    let widget_id = WidgetId::new("own-provider")?;
    let connect = Connect::builder()
        .with_provider(Arc::new(provider))
        .with_store(Arc::new(MemoryStore::new()))
        .with_keyring(Keyring::new(1, DataKey::generate()))
        .with_widget(widget(&widget_id)?)
        .with_http_client(http.clone())
        .build()?;
    let session = connect.create_session(&widget_id, SessionRequest::new()).await?;
    Ok((connect, session))
}

/// Connects the sandbox once by its own OAuth2 flow and answers the credentials.
async fn connect_once(server: &MockServer, http: &HttpClient) -> Result<Credentials, AnyError> {
    let definition = OAuth2Definition::discover(http, &server.issuer(), "sandbox".parse()?, "Sandbox").await?;
    let client = ClientRegistration::new(server.client_id(), ClientSecret::new(server.client_secret()));
    let (connect, session) = connect_for(OAuth2Provider::new(definition, client, NoQuirks), http).await?;
    let start = connect.begin_headless(&session.token, &"sandbox".parse()?, Inputs::new()).await?;
    let target = railz_connect_mock::browser::authorize(&start.url, &Url::parse(CALLBACK)?).await?;
    let Completion::Connected { connection, .. } = connect.complete(&Callback::from_url(&target)?).await? else {
        return Err("the sandbox did not connect".into());
    };
    Ok(connect.credentials(&connection.id).await?)
}

/// "Acme Ledger": businesses connect it with an API key, which it checks by listing the
/// companies the key reaches.
#[derive(Debug)]
struct ApiKeyProvider {
    metadata: ProviderMetadata,
    companies: Url,
}

impl ApiKeyProvider {
    fn new(server: &MockServer) -> Self {
        let metadata = ProviderMetadata::new(
            "acmeLedger".parse().expect("a valid service name"),
            "Acme Ledger",
            AuthKind::Credentials,
        )
        .with_capabilities(Capabilities::new())
        .with_input(InputSpec::secret("apiKey", "API key"));
        Self { metadata, companies: server.api_url().join("companies").expect("a relative path") }
    }
}

#[async_trait]
impl Provider for ApiKeyProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn connect(&self, cx: &CallContext<'_>, inputs: &Inputs) -> Result<Credentials, ProviderError> {
        let key = inputs.get("apiKey").unwrap_or_default();
        let credentials: Credentials =
            SecretCredentials::new(cx.now).with_field("apiKey", SecretValue::new(key)).into();
        let mut request = http::Request::get(self.companies.as_str())
            .body(Vec::new())
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        self.authorize_request(cx, &credentials, &mut request)?;
        match cx.http.get_json::<serde_json::Value>(request).await {
            Ok(_) => Ok(credentials),
            Err(ProviderError::Status { status: 401, .. }) => {
                Err(ProviderError::CredentialsRefused("the API key was refused".into()))
            }
            Err(e) => Err(e),
        }
    }

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
