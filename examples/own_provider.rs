//! Define your own provider: an OAuth2 accounting service the SDK does not ship, from data.
//!
//! ```text
//! cargo run --example own_provider
//! ```
//!
//! Two ways, each run through the whole flow (session, authorization with PKCE and a browser
//! binding, callback, encrypted storage, refresh, disconnect with revocation):
//!
//! 1. an [`OAuth2Definition`] written by hand: endpoints, scopes, client authentication, PKCE,
//!    issuer, revocation, rotation;
//! 2. the same service discovered from its authorization server's metadata (RFC 8414
//!    `/.well-known/oauth-authorization-server`, falling back to OpenID Connect discovery),
//!    with the issuer compared exactly.
//!
//! "Acme Books" is played here by the sandbox server on 127.0.0.1, reached only through its
//! URLs, as if the SDK had never seen it. Add a [`Quirks`](railz_connect::provider::Quirks)
//! implementation for what data cannot say (tenant listing, error mapping, endpoints derived
//! from inputs).

use std::sync::Arc;

use railz_connect::crypto::{DataKey, Keyring};
use railz_connect::http::HttpClient;
use railz_connect::provider::{
    ClientAuth, ClientRegistration, Inputs, IssuerParam, NoQuirks, OAuth2Definition, OAuth2Provider, Pkce,
    RevocationStyle, Rotation,
};
use railz_connect::secret::ClientSecret;
use railz_connect::store::MemoryStore;
use railz_connect::{Callback, Completion, Connect, SessionRequest, WidgetConfig, WidgetId};
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
        let provider = OAuth2Provider::new(definition, client.clone(), NoQuirks);
        let widget_id = WidgetId::new("own-provider")?;
        let connect = Connect::builder()
            .with_provider(Arc::new(provider))
            .with_store(Arc::new(MemoryStore::new()))
            .with_keyring(Keyring::new(1, DataKey::generate()))
            .with_widget(
                WidgetConfig::builder(widget_id.clone())
                    .with_redirect_uri(CALLBACK.parse()?)
                    .with_success_url("http://127.0.0.1:8080/connected".parse()?)
                    .with_failure_url("http://127.0.0.1:8080/connect-failed".parse()?)
                    .build()?,
            )
            .with_http_client(http.clone())
            .build()?;

        let session = connect.create_session(&widget_id, SessionRequest::new()).await?;
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
    server.shutdown().await;
    Ok(())
}
