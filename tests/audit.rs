//! The findings of the adversarial audit of the core, each proven over real HTTP against the
//! sandbox mock (SECURITY.md): browser binding, landing parameters, unused grants, tampered
//! pending records, bounded outside values, endpoints from configuration only, the refresh
//! margin, error callbacks and refresh events.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use railz_connect::provider::{
    CallContext, Endpoints, Inputs, OAuth2Definition, OAuth2Provider, ProviderError, Quirks, TokenSet,
};
use railz_connect::providers::railz_sandbox;
use railz_connect::store::Page;
use railz_connect::store::{MemoryStore, Store};
use railz_connect::{
    Callback, CallbackError, Completion, Connect, ConnectionFilter, Error, EventKind, ReasonCode, SessionRequest,
    Tenant,
};
use railz_connect_mock::{Company, Endpoint, Fault};
use sha2::Digest;
use url::Url;

fn sha256_hex(s: &str) -> String {
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

// ---- 2.3 browser binding ------------------------------------------------------------------

#[tokio::test]
async fn a_callback_from_another_browser_is_refused_before_any_token_call() {
    let h = Harness::new().await;
    let start = h.begin(Inputs::new()).await;
    let set_cookie = start.set_cookie().unwrap();
    assert!(set_cookie.starts_with("railz_connect_binding_"), "{set_cookie}");
    for attribute in ["; HttpOnly", "; SameSite=Lax", "; Path=/", "; Max-Age=600"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing");
    }
    assert!(!set_cookie.contains("Secure"), "a loopback http callback cannot carry a Secure cookie");
    let target = browse(&start.url).await;

    // Opened in another browser: no cookie, or someone else's.
    let bare = Callback::from_url(&target).unwrap();
    let r = h.connect.complete(&bare).await;
    assert!(matches!(r, Err(Error::Callback(CallbackError::BrowserMismatch))), "{r:?}");
    assert_eq!(h.mock.calls(Endpoint::Token), 0);
    // The state is spent: the attacker's attempt also ends the legitimate one.
    let own = Callback::from_url(&target).unwrap().with_cookie_header(&cookie_header(&start));
    assert!(matches!(h.connect.complete(&own).await, Err(Error::Callback(CallbackError::UnknownState))));

    let start = h.begin(Inputs::new()).await;
    let target = browse(&start.url).await;
    let other = h.begin(Inputs::new()).await;
    let wrong =
        cookie_header(&start).split('=').next().unwrap().to_owned() + "=" + other.binding.as_ref().unwrap().1.secret();
    let r = h.connect.complete(&Callback::from_url(&target).unwrap().with_cookie_header(&wrong)).await;
    assert!(matches!(r, Err(Error::Callback(CallbackError::BrowserMismatch))), "{r:?}");
    assert_eq!(h.mock.calls(Endpoint::Token), 0);

    // The right browser, among other cookies.
    let start = h.begin(Inputs::new()).await;
    let target = browse(&start.url).await;
    let header = format!("theme=dark; {}; {}", cookie_header(&other), cookie_header(&start));
    let done = h.connect.complete(&Callback::from_url(&target).unwrap().with_cookie_header(&header)).await.unwrap();
    assert!(matches!(done, Completion::Connected { .. }), "{done:?}");
}

#[tokio::test]
async fn headless_authorizations_are_explicit_and_need_no_cookie() {
    let h = Harness::new().await;
    let session = h.connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
    let start = h.connect.begin_headless(&session.token, &sandbox_service(), Inputs::new()).await.unwrap();
    assert!(start.binding.is_none() && start.set_cookie().is_none());
    let target = browse(&start.url).await;
    let done = h.connect.complete(&Callback::from_url(&target).unwrap()).await.unwrap();
    assert!(matches!(done, Completion::Connected { .. }), "{done:?}");
}

#[tokio::test]
async fn the_binding_cookie_is_secure_on_an_https_callback() {
    let mock = railz_connect_mock::MockServer::start().await.unwrap();
    let widget = railz_connect::WidgetConfig::builder(widget_id())
        .with_redirect_uri(Url::parse("https://app.example/connect/callback").unwrap())
        .with_success_url(Url::parse(SUCCESS).unwrap())
        .with_failure_url(Url::parse(FAILURE).unwrap())
        .build()
        .unwrap();
    let connect = Connect::builder()
        .with_provider(Arc::new(railz_sandbox::provider(&sandbox_config(&mock))))
        .with_keyring(keyring())
        .with_widget(widget)
        .build()
        .unwrap();
    let session = connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
    let start = connect.begin(&session.token, &sandbox_service(), Inputs::new()).await.unwrap();
    assert!(start.set_cookie().unwrap().ends_with("; Secure"));
    assert!(!format!("{start:?}").contains(start.binding.as_ref().unwrap().1.secret()));
}

// ---- 2.4 landing parameters ------------------------------------------------------------------

#[tokio::test]
async fn the_sdks_landing_parameters_win_over_an_allowed_urls_own_query() {
    let h = Harness::new().await;
    let forged = "https://app.example/welcome?connectionId=00000000-0000-0000-0000-000000000000&businessName=Evil&reason=accessDenied&next=https://evil.example/";
    let session = h
        .connect
        .create_session(&widget_id(), SessionRequest::new().with_redirect_url(Url::parse(forged).unwrap()))
        .await
        .unwrap();
    let start = h.connect.begin(&session.token, &sandbox_service(), Inputs::new()).await.unwrap();
    let cb = h.authorize(&start).await;
    let Completion::Connected { connection, landing } = h.connect.complete(&cb).await.unwrap() else { panic!() };
    let pairs: Vec<(String, String)> = landing.url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
    let count = |name: &str| pairs.iter().filter(|(k, _)| k == name).count();
    assert_eq!((count("connectionId"), count("businessName"), count("serviceName"), count("reason")), (1, 1, 1, 0));
    let q = query_of(&landing.url);
    assert_eq!(q["connectionId"], connection.id.to_string());
    assert_eq!(q["businessName"], connection.business_name.as_str());
    assert_eq!(landing.url.path(), "/welcome");
    assert_eq!(q["next"], "https://evil.example/", "the app's own parameters are its business");
}

// ---- 2.5 grants without a connection are revoked ---------------------------------------------

#[tokio::test]
async fn a_grant_with_no_tenant_is_revoked() {
    let h = Harness::new().await;
    h.mock.set_companies(Vec::new());
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    let Completion::Failed(f) = h.connect.complete(&cb).await.unwrap() else { panic!() };
    assert_eq!(f.reason, ReasonCode::NoTenant);
    assert_eq!(h.mock.calls(Endpoint::Revoke), 1);
    assert_eq!(h.mock.active_refresh_tokens(), 0, "nothing stays live at the provider");
}

#[tokio::test]
async fn a_grant_whose_tenant_listing_failed_is_revoked() {
    let h = Harness::new().await;
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    h.mock.fail_next(Endpoint::Api, Fault::Status(500));
    let Completion::Failed(f) = h.connect.complete(&cb).await.unwrap() else { panic!() };
    assert_eq!(f.reason, ReasonCode::ProviderUnavailable);
    assert_eq!(h.mock.calls(Endpoint::Revoke), 1);
    assert_eq!(h.mock.active_refresh_tokens(), 0);
}

#[tokio::test]
async fn a_grant_whose_tenant_choice_expired_is_revoked() {
    let h = Harness::new().await;
    h.mock.set_companies(vec![Company::sample("cmp_a", "A Ltd"), Company::sample("cmp_b", "B Ltd")]);
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    let Completion::ChooseTenant { ticket, tenants, .. } = h.connect.complete(&cb).await.unwrap() else { panic!() };
    h.clock.advance(std::time::Duration::from_secs(660));
    let Completion::Failed(f) = h.connect.choose_tenant(&ticket, &tenants[0].id).await.unwrap() else { panic!() };
    assert_eq!(f.reason, ReasonCode::AuthorizationExpired);
    assert_eq!(h.mock.calls(Endpoint::Revoke), 1);
    assert_eq!(h.mock.active_refresh_tokens(), 0);
    assert!(h.connect.connections(&ConnectionFilter::all(), Page::default()).await.unwrap().is_empty());
}

// ---- 2.7 pending records are authenticated ---------------------------------------------------

#[tokio::test]
async fn a_pending_record_edited_in_the_store_is_refused() {
    type Edit = fn(&mut railz_connect::store::PendingAuthorization);
    // The landing pages and the redirect URI are not in the store's record at all (sealed
    // only); every field it does hold is bound into the seal.
    let edits: [(&str, Edit); 5] = [
        ("widget_id", |p| p.widget_id = "second-widget".parse().unwrap()),
        ("business_name", |p| p.business_name = "Someone Else Ltd".parse().unwrap()),
        ("service_name", |p| p.service_name = "xero".parse().unwrap()),
        ("expires_at", |p| p.expires_at += time::Duration::days(365)),
        ("sealed", |p| p.sealed[20] ^= 1),
    ];
    for (what, edit) in edits {
        let h = Harness::new().await;
        let start = h.begin(Inputs::new()).await;
        let cb = h.authorize(&start).await;
        let key = sha256_hex(cb.get("state").unwrap());
        let mut record = h
            .store
            .take_pending(&key, railz_connect::store::PendingKind::Authorization)
            .await
            .unwrap()
            .expect("pending record");
        edit(&mut record);
        h.store.insert_pending(&record).await.unwrap();
        let r = h.connect.complete(&cb).await;
        assert!(matches!(r, Err(Error::Crypto(_))), "{what}: {r:?}");
        assert_eq!(h.mock.calls(Endpoint::Token), 0, "{what}");
    }
}

// ---- 2.8 / 3.2 error callbacks ---------------------------------------------------------------

#[tokio::test]
async fn an_error_callback_keeps_the_providers_words_bounded() {
    let h = Harness::new().await;
    let start = h.begin(use_case("insufficient_permission")).await;
    let cb = h.authorize(&start).await;
    let Completion::Failed(f) = h.connect.complete(&cb).await.unwrap() else { panic!() };
    assert_eq!(f.reason, ReasonCode::InsufficientPermission);
    assert_eq!(f.provider_error.as_deref(), Some("access_denied"));
    assert!(f.provider_error_description.as_deref().unwrap().starts_with("insufficient_permission"));

    // A 1 MB error parameter with a valid state: bounded wherever it goes.
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt().with_env_filter("trace").with_writer(capture.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let start = h.begin(Inputs::new()).await;
    let target = browse(&start.url).await;
    let state = query_of(&target)["state"].clone();
    let huge = "e".repeat(1_000_000);
    let query = format!("error={huge}&error_description={huge}&state={state}&iss={}", h.mock.issuer());
    let cb = Callback::from_query(&query).unwrap().with_cookie_header(&cookie_header(&start));
    let Completion::Failed(f) = h.connect.complete(&cb).await.unwrap() else { panic!() };
    assert_eq!(f.reason, ReasonCode::Unknown);
    assert!(f.provider_error.unwrap().chars().count() <= 257);
    assert!(f.provider_error_description.unwrap().chars().count() <= 257);
    let logs = capture.text();
    assert!(logs.contains("error callback"), "logs were captured");
    assert!(logs.len() < 20_000, "{} bytes logged", logs.len());
}

#[tokio::test]
async fn oidc_and_configuration_errors_have_their_own_reasons() {
    use railz_connect::provider::default_callback_error_reason as reason;
    for code in ["login_required", "consent_required", "interaction_required", "account_selection_required"] {
        assert_eq!(reason(code, None), ReasonCode::InteractionRequired, "{code}");
    }
    for code in ["invalid_scope", "invalid_request", "unsupported_response_type"] {
        assert_eq!(reason(code, None), ReasonCode::InvalidConfiguration, "{code}");
    }
    assert_eq!(ReasonCode::InteractionRequired.as_str(), "interactionRequired");
    assert_eq!(ReasonCode::InvalidConfiguration.as_str(), "invalidConfiguration");
}

// ---- 2.14 endpoints come from configuration only ---------------------------------------------

/// The sandbox behind a Zoho-like quirk: the token endpoint is derived from the callback's
/// `accounts-server` parameter.
#[derive(Debug)]
struct AccountsServer;

#[async_trait]
impl Quirks for AccountsServer {
    fn callback_endpoints(
        &self,
        _definition: &OAuth2Definition,
        mut endpoints: Endpoints,
        params: &BTreeMap<String, String>,
    ) -> Result<Endpoints, ProviderError> {
        if let Some(server) = params.get("accounts-server") {
            let base = Url::parse(server).map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
            endpoints.token = base.join("oauth/token").map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        }
        Ok(endpoints)
    }

    async fn list_tenants(&self, _cx: &CallContext<'_>, _tokens: &TokenSet) -> Result<Vec<Tenant>, ProviderError> {
        Ok(vec![Tenant::new("cmp_sandbox_1".parse().unwrap(), "Sandbox")])
    }
}

async fn accounts_server_harness() -> Harness {
    let mock = railz_connect_mock::MockServer::start().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(railz_connect::ManualClock::new(time::OffsetDateTime::now_utc()));
    let config = sandbox_config(&mock);
    let definition = railz_sandbox::definition(&config).with_callback_param("accounts-server");
    let provider = OAuth2Provider::new(definition, config.client.clone(), AccountsServer);
    let connect = Connect::builder()
        .with_provider(Arc::new(provider))
        .with_store(Arc::clone(&store))
        .with_keyring(keyring())
        .with_widget(widget())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    Harness { mock, connect, store, clock }
}

#[tokio::test]
async fn a_token_endpoint_named_by_the_callback_must_be_an_allowed_host() {
    let h = accounts_server_harness().await;
    // The attacker's data centre: refused before anything is sent, the code never leaves.
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    let query = format!("{}&accounts-server=https%3A%2F%2Faccounts.evil.example", query_string(&cb, &h, &start).await);
    let cb = Callback::from_query(&query).unwrap().with_cookie_header(&cookie_header(&start));
    let r = h.connect.complete(&cb).await;
    assert!(
        matches!(&r, Err(Error::Provider { source: ProviderError::EndpointNotAllowed(host), .. }) if host == "accounts.evil.example"),
        "{r:?}"
    );
    assert_eq!(h.mock.calls(Endpoint::Token), 0);

    // The provider's own host: allowed.
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    let server = h.mock.base_url().as_str().to_owned();
    let query = format!(
        "{}&accounts-server={}",
        query_string(&cb, &h, &start).await,
        url::form_urlencoded::byte_serialize(server.as_bytes()).collect::<String>()
    );
    let cb = Callback::from_query(&query).unwrap().with_cookie_header(&cookie_header(&start));
    let done = h.connect.complete(&cb).await.unwrap();
    let Completion::Connected { connection, .. } = done else { panic!("{done:?}") };
    // The kept parameter drives refresh too, and is checked again there.
    assert!(h.connect.refresh(&connection.id).await.is_ok());
    assert_eq!(h.mock.token_calls("refresh_token"), 1);
}

/// The callback's query as the mock sent it (the harness already parsed it).
async fn query_string(cb: &Callback, h: &Harness, _start: &railz_connect::AuthorizationStart) -> String {
    format!(
        "code={}&state={}&iss={}",
        cb.get("code").unwrap(),
        cb.get("state").unwrap(),
        url::form_urlencoded::byte_serialize(h.mock.issuer().as_bytes()).collect::<String>()
    )
}

#[test]
fn allowed_hosts_are_exact_or_subdomains_and_https() {
    let def = OAuth2Definition::new(
        "zohoBooks".parse().unwrap(),
        "Zoho Books",
        Url::parse("https://accounts.zoho.com/oauth/v2/auth").unwrap(),
        Url::parse("https://accounts.zoho.com/oauth/v2/token").unwrap(),
    )
    .with_allowed_host("accounts.zoho.eu")
    .with_allowed_host("*.app.netsuite.com");
    let ok = |s: &str| def.allows(&Url::parse(s).unwrap());
    assert!(ok("https://accounts.zoho.com/x") && ok("https://accounts.zoho.eu/oauth/v2/token"));
    assert!(ok("https://1234.app.netsuite.com/x") && ok("https://A.b.App.NetSuite.com/x"));
    assert!(!ok("https://app.netsuite.com/x"), "the wildcard needs a subdomain");
    assert!(!ok("https://evilapp.netsuite.com/x") && !ok("https://accounts.zoho.eu.evil.example/x"));
    assert!(!ok("http://accounts.zoho.eu/x"), "https only off loopback");
    assert!(!ok("https://user:pw@accounts.zoho.eu/x"));
    assert!(ok("http://127.0.0.1:9/x") == def.allows(&Url::parse("http://127.0.0.1:9/x").unwrap()));
}

// ---- 3.1 refresh margin, 3.3 refresh events --------------------------------------------------

#[tokio::test]
async fn the_refresh_margin_is_configurable() {
    let mock = railz_connect_mock::MockServer::start().await.unwrap();
    let clock = Arc::new(railz_connect::ManualClock::new(time::OffsetDateTime::now_utc()));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let connect = Harness::builder(&mock, Arc::clone(&store), keyring(), clock.clone())
        .with_refresh_margin(Duration::from_secs(600))
        .build()
        .unwrap();
    let h = Harness { mock, connect, store, clock };
    let c = h.connect_one().await;
    let mut events = h.connect.subscribe();
    h.clock.advance(std::time::Duration::from_secs(2940));
    h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(h.mock.token_calls("refresh_token"), 0, "11 minutes left of an hour: not due");
    h.clock.advance(std::time::Duration::from_secs(61));
    h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(h.mock.token_calls("refresh_token"), 1, "within 10 minutes: refreshed");
    let e = events.recv().await.unwrap();
    assert_eq!((e.kind, e.connection_id), (EventKind::TokenRefreshed, Some(c.id)));
    // The refreshed token is fresh again (stamped with the clock, not the wall clock).
    h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(h.mock.token_calls("refresh_token"), 1);
}

// ---- 2.1 absurd lifetimes, 2.12 Retry-After dates, over HTTP ---------------------------------

#[tokio::test]
async fn an_absurd_lifetime_on_refresh_keeps_the_rotated_token_and_frees_the_lease() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    let mut fields = serde_json::Map::new();
    fields.insert("expires_in".into(), serde_json::json!(300_000_000_000u64));
    fields.insert("x_refresh_token_expires_in".into(), serde_json::json!(300_000_000_000u64));
    fields.insert("refresh_token_expires_in".into(), serde_json::json!(1e300));
    h.mock.fail_next(Endpoint::Token, Fault::TokenFields(fields));
    let fresh = h.connect.refresh(&c.id).await.expect("no panic, no error: the answer is kept").into_oauth2().unwrap();
    let stored = h.connect.credentials(&c.id).await.unwrap().into_oauth2().unwrap();
    let rotated = fresh.refresh_token.as_ref().unwrap().secret().to_owned();
    assert_eq!(stored.refresh_token.unwrap().secret(), rotated);
    let lineage = h.mock.refresh_token_lineage(&rotated).unwrap();
    assert_eq!(lineage.last().unwrap(), &rotated, "the stored token is the provider's last");
    let ceiling = stored.obtained_at + time::Duration::try_from(TokenSet::MAX_LIFETIME).unwrap();
    assert_eq!(stored.access_expires_at, Some(ceiling), "clamped, computed from the SDK's clock");
    // The lease was released: another refresh goes through at once.
    h.connect.refresh(&c.id).await.unwrap().into_oauth2().unwrap();
    assert_eq!(h.mock.token_calls("refresh_token"), 2);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_read_against_the_sdks_clock() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    let now = railz_connect::Clock::now(h.clock.as_ref()).replace_nanosecond(0).unwrap();
    h.clock.set(now);
    let at = now + time::Duration::seconds(90);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let value = at.format(&format).unwrap();
    h.mock.fail_next(Endpoint::Token, Fault::RetryAfterHeader { status: 503, value });
    let err = h.connect.refresh(&c.id).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    let Error::Provider { source, .. } = &err else { panic!("{err:?}") };
    assert_eq!(source.retry_after(), Some(Duration::from_secs(90)));
}

// ---- 2.2 a business belongs to the widget that reserved it -----------------------------------

#[tokio::test]
async fn another_widget_cannot_claim_a_business_or_see_its_connections() {
    let mock = railz_connect_mock::MockServer::start().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(railz_connect::ManualClock::new(time::OffsetDateTime::now_utc()));
    let second = railz_connect::WidgetConfig::builder("second-widget".parse().unwrap())
        .with_redirect_uri(Url::parse(CALLBACK).unwrap())
        .with_success_url(Url::parse(SUCCESS).unwrap())
        .with_failure_url(Url::parse(FAILURE).unwrap())
        .build()
        .unwrap();
    let connect =
        Harness::builder(&mock, Arc::clone(&store), keyring(), clock.clone()).with_widget(second).build().unwrap();
    let h = Harness { mock, connect, store, clock };
    let acme = railz_connect::BusinessName::new("Acme Ltd").unwrap();
    let session =
        h.connect.create_session(&widget_id(), SessionRequest::new().with_business_name(acme.clone())).await.unwrap();
    let start = h.connect.begin(&session.token, &sandbox_service(), Inputs::new()).await.unwrap();
    let cb = h.authorize(&start).await;
    assert!(matches!(h.connect.complete(&cb).await.unwrap(), Completion::Connected { .. }));

    let other = "second-widget".parse().unwrap();
    let r = h.connect.create_session(&other, SessionRequest::new().with_business_name(acme.clone())).await;
    assert!(matches!(&r, Err(Error::BusinessOfAnotherWidget { business, .. }) if *business == acme), "{r:?}");
    // The owner's widget still may, and sees its connection.
    let again = h.connect.create_session(&widget_id(), SessionRequest::new().with_business_name(acme)).await.unwrap();
    assert_eq!(again.connections.len(), 1);
    // A fresh name is free for the second widget.
    let fresh =
        h.connect.create_session(&other, SessionRequest::new().with_business_name("Beta Ltd".parse().unwrap())).await;
    assert!(fresh.unwrap().connections.is_empty());
}

#[tokio::test]
async fn a_connection_insert_whose_acknowledgement_was_lost_still_connects() {
    let store = Arc::new(InstrumentedStore::new(Arc::new(MemoryStore::new())));
    let h = Harness::with_store(store.clone()).await;
    store.insert_acks_lost.store(1, std::sync::atomic::Ordering::SeqCst);
    let c = h.connect_one().await;
    assert_eq!(store.insert_acks_lost.load(std::sync::atomic::Ordering::SeqCst), 0, "the lost acknowledgement was hit");
    assert_eq!(h.connect.connections(&ConnectionFilter::all(), Page::default()).await.unwrap().connections, vec![c]);
    assert_eq!(h.mock.calls(Endpoint::Revoke), 0, "the grant is in use: not revoked");
}

// ---- 3.5 discovery ------------------------------------------------------------------------------

#[tokio::test]
async fn a_provider_is_discovered_from_its_metadata_and_the_issuer_must_match() {
    use railz_connect::http::HttpClient;
    use railz_connect::provider::{ClientAuth, Pkce, ServerMetadata};
    let mock = railz_connect_mock::MockServer::start().await.unwrap();
    let http = HttpClient::new().unwrap();
    let issuer = mock.issuer();
    let d = OAuth2Definition::discover(&http, &issuer, "acmeBooks".parse().unwrap(), "Acme Books").await.unwrap();
    assert_eq!((&d.endpoints.authorize, &d.endpoints.token), (&mock.authorize_url(), &mock.token_url()));
    assert_eq!(d.endpoints.revoke.as_ref(), Some(&mock.revoke_url()));
    assert_eq!(
        (d.issuer.as_deref(), d.issuer_param),
        (Some(issuer.as_str()), railz_connect::provider::IssuerParam::Required)
    );
    assert_eq!((d.pkce, d.client_auth), (Pkce::Supported, ClientAuth::Basic));
    assert_eq!(mock.calls(Endpoint::Metadata), 1);

    // RFC 8414's document missing: OpenID Connect discovery's is used.
    mock.fail_next(Endpoint::Metadata, Fault::Status(404));
    assert_eq!(ServerMetadata::discover(&http, &issuer).await.unwrap().issuer, issuer);
    assert_eq!(mock.calls(Endpoint::Metadata), 3);

    // A document naming another issuer is refused, saying what was expected and what came.
    mock.set_metadata_issuer(Some("https://attacker.example".into()));
    let err = ServerMetadata::discover(&http, &issuer).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::IssuerMismatch { expected, got } if *expected == issuer && got == "https://attacker.example"),
        "{err:?}"
    );
    assert!(err.to_string().contains("https://attacker.example") && err.to_string().contains(&issuer));
    // Not https: refused before any request.
    let err = ServerMetadata::discover(&http, "http://auth.acme.example").await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest(_)), "{err:?}");
}
