//! The checks of the adapter kit.

use base64::Engine as _;
use railz_connect_core::provider::{Credentials, ProviderExt, Rotation};
use railz_connect_core::{Completion, ConnectionStatus, Error, ReasonCode, Revocation};
use sha2::Digest as _;

use super::{CALLBACK, Emulator, Kit, KitEndpoint, KitFault};
use crate::adapter::Placement;
use crate::catalog::{RawClientAuth, RawPkce, RawRevocation, RawTenantSource, template};
use crate::{ServiceConfig, ServiceDefinition};

/// The tenants the checks grant, `(id, name)`.
pub const TENANTS: [(&str, &str); 3] =
    [("11110001", "Alpha Trading Ltd"), ("22220002", "Beta & Sons LLC"), ("33330003", "Gamma Werke GmbH")];

fn one<E: Emulator>(emulator: &E) {
    emulator.set_admin(true);
    emulator.set_tenants(&TENANTS[..1]);
}

/// Whether the provider lists tenants (and so offers a choice among several), rather than
/// naming the one the user picked at its consent screen or having one per user.
fn lists_tenants(definition: &ServiceDefinition) -> bool {
    definition.tenants.as_ref().is_some_and(|t| t.source != RawTenantSource::Callback && !t.single)
}

async fn connected<E: Emulator>(kit: &Kit<'_, E>) -> (url::Url, url::Url, railz_connect_core::Connection) {
    let (start, callback, completion) = kit.authorize().await;
    match completion {
        Completion::Connected { connection, .. } => (start, callback, connection),
        other => panic!("{}: expected a connection, got {other:?}", kit.service()),
    }
}

fn tokens(credentials: &Credentials) -> &railz_connect_core::provider::TokenSet {
    credentials.oauth2().expect("OAuth2 credentials")
}

fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret))))
}

/// Checks the client authentication of a token-endpoint (or revocation) request.
fn client_auth<E: Emulator>(kit: &Kit<'_, E>, request: &super::KitRequest, what: &str) {
    let service = kit.service();
    let client = kit.emulator.client().expect("a client registration");
    let secret = client.client_secret.as_ref().expect("a client secret").secret().to_owned();
    let oauth = kit.definition.oauth2.as_ref().expect("[oauth2]");
    match oauth.client_auth {
        RawClientAuth::Basic => {
            assert_eq!(
                request.header("authorization"),
                Some(basic(&client.client_id, &secret).as_str()),
                "{service}: {what}: HTTP Basic with the form-encoded id and secret"
            );
            assert_eq!(request.form("client_secret"), None, "{service}: {what}: no secret in the body with Basic");
        }
        RawClientAuth::Body => {
            assert_eq!(request.form("client_id").as_deref(), Some(client.client_id.as_str()), "{service}: {what}");
            assert_eq!(request.form("client_secret").as_deref(), Some(secret.as_str()), "{service}: {what}");
            assert_eq!(request.header("authorization"), None, "{service}: {what}: body auth sends no Basic header");
        }
    }
}

/// The authorization URL: the provider's path, the app's client id and redirect URI, a state,
/// the definition's scopes with their separator, PKCE S256 unless unsupported, the extra and
/// input-derived parameters.
pub async fn authorization_url<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    let oauth = kit.definition.oauth2.as_ref().expect("[oauth2]");
    let (url, _, _) = connected(kit).await;
    let param = |name: &str| url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned());
    let client = kit.emulator.client().expect("a client registration");
    let inputs = kit.emulator.inputs();
    let expected = template::expand(&oauth.authorize_url, &|n| inputs.get(n).map(str::to_owned)).expect("a URL");
    let expected = Placement { base: Some(kit.emulator.base_url()), sandbox: false }.place(expected);
    assert_eq!(url.path(), expected.path(), "{service}: the authorization endpoint's path");
    for (name, value) in expected.query_pairs() {
        assert_eq!(param(&name).as_deref(), Some(&*value), "{service}: the endpoint's own `{name}` parameter");
    }
    assert_eq!(param("client_id").as_deref(), Some(client.client_id.as_str()), "{service}: client_id");
    assert_eq!(param("response_type").as_deref(), Some("code"), "{service}: response_type");
    assert_eq!(param("redirect_uri").as_deref(), Some(CALLBACK), "{service}: redirect_uri");
    assert!(param("state").is_some_and(|s| s.len() >= 22), "{service}: a state of at least 22 characters");
    if !oauth.scopes.is_empty() {
        let joined = oauth.scopes.join(oauth.scope_separator.as_deref().unwrap_or(" "));
        assert_eq!(param("scope"), Some(joined), "{service}: the scopes, joined by the provider's separator");
    }
    match oauth.pkce {
        RawPkce::Unsupported => assert_eq!(param("code_challenge"), None, "{service}: no PKCE"),
        _ => {
            assert_eq!(param("code_challenge_method").as_deref(), Some("S256"), "{service}: PKCE S256");
            assert_eq!(param("code_challenge").map(|c| c.len()), Some(43), "{service}: an S256 challenge");
        }
    }
    for (name, value) in &oauth.authorize_params {
        assert_eq!(param(name).as_ref(), Some(value), "{service}: authorization parameter `{name}`");
    }
    for input in &kit.definition.raw_inputs {
        if let (Some(sent), Some(value)) = (&input.authorize_param, inputs.get(&input.name)) {
            assert_eq!(param(sent).as_deref(), Some(value), "{service}: input `{}` sent as `{sent}`", input.name);
        }
    }
}

/// The token request, exactly: a form POST with `grant_type=authorization_code`, the code, the
/// redirect URI, the PKCE verifier matching the challenge, and the provider's client
/// authentication; then the kept callback parameters among the credentials' parameters.
pub async fn token_request<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    let oauth = kit.definition.oauth2.as_ref().expect("[oauth2]");
    let before = kit.emulator.requests(KitEndpoint::Token).len();
    let (start, callback, connection) = connected(kit).await;
    let requests = kit.emulator.requests(KitEndpoint::Token);
    assert_eq!(requests.len(), before + 1, "{service}: one token request");
    let request = requests.last().expect("a request");
    assert_eq!(request.method, "POST", "{service}: token request method");
    assert!(
        request.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
        "{service}: a form body"
    );
    let code = callback.query_pairs().find(|(n, _)| n == "code").map(|(_, v)| v.into_owned());
    assert_eq!(request.form("grant_type").as_deref(), Some("authorization_code"), "{service}: grant_type");
    assert_eq!(request.form("code"), code, "{service}: the callback's code");
    assert_eq!(request.form("redirect_uri").as_deref(), Some(CALLBACK), "{service}: the same redirect_uri");
    let challenge = start.query_pairs().find(|(n, _)| n == "code_challenge").map(|(_, v)| v.into_owned());
    match (oauth.pkce, request.form("code_verifier")) {
        (RawPkce::Unsupported, verifier) => assert_eq!(verifier, None, "{service}: no verifier"),
        (_, Some(verifier)) => {
            let hashed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&verifier));
            assert_eq!(Some(hashed), challenge, "{service}: the verifier matches the challenge");
        }
        (_, None) => panic!("{service}: the PKCE verifier is missing"),
    }
    client_auth(kit, request, "token request");
    let credentials = kit.connect.credentials(&connection.id).await.expect("credentials");
    for name in &oauth.callback_params {
        if let Some((_, value)) = callback.query_pairs().find(|(n, _)| n == name) {
            assert_eq!(credentials.params().get(name), Some(&value.into_owned()), "{service}: callback `{name}` kept");
        }
    }
}

/// Tenant selection with one tenant (connected to it) and with several (a choice among all of
/// them when the provider lists them; the one picked at the consent screen otherwise).
pub async fn tenants<E: Emulator>(kit: &Kit<'_, E>) {
    let service = kit.service();
    one(kit.emulator);
    let (_, _, connection) = connected(kit).await;
    let tenant = connection.tenant.expect("a tenant");
    assert_eq!(tenant.name, TENANTS[0].1, "{service}: the one tenant");
    kit.emulator.set_tenants(&TENANTS);
    let (_, _, completion) = kit.authorize().await;
    if lists_tenants(&kit.definition) {
        let Completion::ChooseTenant { ticket, tenants, .. } = completion else {
            panic!("{service}: several tenants must be offered: {completion:?}")
        };
        let names: Vec<&str> = tenants.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, TENANTS.map(|t| t.1), "{service}: every tenant offered, in order");
        let chosen = kit.connect.choose_tenant(&ticket, &tenants[1].id).await.expect("chosen");
        let Completion::Connected { connection, .. } = chosen else { panic!("{service}: {chosen:?}") };
        assert_eq!(connection.tenant.map(|t| t.name).as_deref(), Some(TENANTS[1].1), "{service}: the chosen one");
    } else {
        let Completion::Connected { connection, .. } = completion else { panic!("{service}: {completion:?}") };
        assert_eq!(connection.tenant.map(|t| t.name).as_deref(), Some(TENANTS[0].1), "{service}: the one granted");
    }
    one(kit.emulator);
}

/// Refresh: a new access token; a new refresh token kept when the provider rotates, the same
/// one kept (and still working) when it does not; the request carries the refresh token and
/// the client authentication; the tokens work afterwards (verify).
pub async fn refresh<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    let (_, _, connection) = connected(kit).await;
    let first = kit.connect.credentials(&connection.id).await.expect("credentials");
    kit.advance(std::time::Duration::from_secs(60));
    let second = kit.connect.refresh(&connection.id).await.unwrap_or_else(|e| panic!("{service}: refresh: {e}"));
    let request = kit.emulator.requests(KitEndpoint::Token).pop().expect("a refresh request");
    assert_eq!(request.form("grant_type").as_deref(), Some("refresh_token"), "{service}: grant_type");
    let old = tokens(&first).refresh_token.as_ref().expect("a refresh token").secret().to_owned();
    assert_eq!(request.form("refresh_token").as_deref(), Some(old.as_str()), "{service}: the refresh token sent");
    client_auth(kit, &request, "refresh request");
    assert_ne!(
        tokens(&first).access_token.secret(),
        tokens(&second).access_token.secret(),
        "{service}: a new access token"
    );
    let new = tokens(&second).refresh_token.as_ref().expect("a refresh token kept").secret().to_owned();
    let rotation = kit.connect.registry().get(service).expect("registered").capabilities().rotation;
    match rotation {
        Rotation::Always => assert_ne!(new, old, "{service}: a rotating provider's new refresh token is kept"),
        Rotation::Never => assert_eq!(new, old, "{service}: the same refresh token is kept"),
        _ => {}
    }
    kit.advance(std::time::Duration::from_secs(60));
    kit.connect.refresh(&connection.id).await.unwrap_or_else(|e| panic!("{service}: a second refresh: {e}"));
    if kit.verifies() {
        kit.connect.verify(&connection.id).await.unwrap_or_else(|e| panic!("{service}: verify after refresh: {e}"));
    }
}

/// `invalid_grant` on refresh: an error, never retried, and the connection marked `invalid`.
pub async fn invalid_grant<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    let (_, _, connection) = connected(kit).await;
    let calls = kit.emulator.requests(KitEndpoint::Token).len();
    kit.emulator.fail_next(KitEndpoint::Token, KitFault::InvalidGrant);
    let e = kit.connect.refresh(&connection.id).await.expect_err("invalid_grant");
    assert!(!e.is_retryable(), "{service}: invalid_grant is not retryable: {e}");
    assert_eq!(kit.emulator.requests(KitEndpoint::Token).len(), calls + 1, "{service}: not retried");
    let after = kit.connect.connection(&connection.id).await.expect("the connection");
    assert_eq!(after.status, ConnectionStatus::Invalid, "{service}: marked invalid");
}

/// 429 and 5xx on refresh: retryable errors with the `Retry-After` they carried, and the
/// connection left as it was; the next refresh succeeds.
pub async fn rate_limits<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    let (_, _, connection) = connected(kit).await;
    kit.emulator.fail_next(KitEndpoint::Token, KitFault::TooManyRequests { retry_after_secs: 7 });
    let e = kit.connect.refresh(&connection.id).await.expect_err("429");
    assert!(e.is_retryable(), "{service}: 429 is retryable: {e}");
    let Error::Provider { source, .. } = &e else { panic!("{service}: a provider error: {e:?}") };
    assert_eq!(source.retry_after(), Some(std::time::Duration::from_secs(7)), "{service}: Retry-After kept");
    assert_eq!(source.reason_code(), ReasonCode::RateLimited, "{service}");
    kit.emulator.fail_next(KitEndpoint::Token, KitFault::Status(503));
    let e = kit.connect.refresh(&connection.id).await.expect_err("503");
    assert!(e.is_retryable(), "{service}: 503 is retryable: {e}");
    let after = kit.connect.connection(&connection.id).await.expect("the connection");
    assert_eq!(after.status, ConnectionStatus::Active, "{service}: still active");
    kit.connect.refresh(&connection.id).await.unwrap_or_else(|e| panic!("{service}: refresh after faults: {e}"));
}

/// Disconnecting revokes the grant where the provider can (the refresh token sent the
/// provider's way, with its client authentication) and sends nothing where it cannot.
pub async fn revocation<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    let oauth = kit.definition.oauth2.as_ref().expect("[oauth2]");
    let (_, _, connection) = connected(kit).await;
    let refresh = tokens(&kit.connect.credentials(&connection.id).await.expect("credentials"))
        .refresh_token
        .as_ref()
        .map(|r| r.secret().to_owned());
    let before = kit.emulator.requests(KitEndpoint::Revoke).len();
    let disconnection = kit.connect.disconnect(&connection.id).await.expect("disconnected");
    let requests = kit.emulator.requests(KitEndpoint::Revoke);
    match oauth.revocation {
        None => {
            assert!(matches!(disconnection.revocation, Revocation::NotSupported), "{service}: no revocation");
            assert_eq!(requests.len(), before, "{service}: nothing sent");
        }
        Some(style) => {
            assert!(disconnection.revocation.is_revoked(), "{service}: revoked: {:?}", disconnection.revocation);
            let request = requests.last().expect("a revocation request");
            let sent = match style {
                RawRevocation::Form => request.form("token"),
                RawRevocation::QueryToken => request.query_param("token").map(str::to_owned),
                RawRevocation::Json => serde_json::from_slice::<serde_json::Value>(&request.body)
                    .ok()
                    .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(str::to_owned)),
            };
            assert_eq!(sent, refresh, "{service}: the refresh token, sent the provider's way");
            if style == RawRevocation::Form {
                client_auth(kit, request, "revocation");
            }
        }
    }
}

/// The verify call names the connected tenant.
pub async fn verify<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    let (_, _, connection) = connected(kit).await;
    let info = kit.connect.verify(&connection.id).await.unwrap_or_else(|e| panic!("{service}: verify: {e}"));
    assert_eq!(info.name, TENANTS[0].1, "{service}: the verify call names the tenant");
}

/// An app's own API request, authorized by the SDK: the token in the provider's scheme, the
/// provider's fixed headers, and its tenant header naming the connection's tenant.
pub async fn api_request<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    let (_, _, connection) = connected(kit).await;
    let mut request = http::Request::get(kit.emulator.base_url().as_str()).body(Vec::new()).expect("a request");
    kit.connect.authorize_request(&connection.id, &mut request).await.expect("authorized");
    let credentials = kit.connect.credentials(&connection.id).await.expect("credentials");
    let token = tokens(&credentials).access_token.secret().to_owned();
    let authorization = request.headers().get(http::header::AUTHORIZATION).expect("an Authorization header");
    assert!(authorization.is_sensitive(), "{service}: the header is marked sensitive");
    assert!(authorization.to_str().unwrap_or_default().ends_with(&format!(" {token}")), "{service}: the token");
    let api = kit.definition.api.as_ref();
    if let (Some(header), Some(tenant)) = (api.and_then(|a| a.tenant_header.as_ref()), &connection.tenant) {
        let sent = request.headers().get(header.as_str()).and_then(|v| v.to_str().ok());
        assert_eq!(sent, Some(tenant.id.as_str()), "{service}: `{header}` names the tenant");
    }
    for (name, value) in api.map(|a| &a.headers).into_iter().flatten() {
        let sent = request.headers().get(name.as_str()).and_then(|v| v.to_str().ok());
        assert_eq!(sent, Some(value.as_str()), "{service}: header `{name}`");
    }
}

/// A user without the administrator or owner role: the authorization fails with
/// `insufficientPermission`, whichever way the provider says it.
pub async fn admin_refusal<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    kit.emulator.set_admin(false);
    let (_, _, completion) = kit.authorize().await;
    kit.emulator.set_admin(true);
    let Completion::Failed(failure) = completion else { panic!("{service}: a restricted user connected") };
    assert_eq!(failure.reason, ReasonCode::InsufficientPermission, "{service}: {failure:?}");
}

/// The user refuses: the error callback becomes `accessDenied`.
pub async fn error_callback<E: Emulator>(kit: &Kit<'_, E>) {
    one(kit.emulator);
    let service = kit.service();
    kit.emulator.deny_next();
    let (_, _, completion) = kit.authorize().await;
    let Completion::Failed(failure) = completion else { panic!("{service}: a denied authorization connected") };
    assert_eq!(failure.reason, ReasonCode::AccessDenied, "{service}: {failure:?}");
}

/// Every check of an OAuth2 adapter against its emulation.
pub async fn run_all<E: Emulator>(emulator: &E, definition: &ServiceDefinition, config: ServiceConfig) {
    let kit = Kit::new(emulator, definition, config);
    authorization_url(&kit).await;
    token_request(&kit).await;
    tenants(&kit).await;
    refresh(&kit).await;
    invalid_grant(&kit).await;
    rate_limits(&kit).await;
    revocation(&kit).await;
    if kit.verifies() {
        verify(&kit).await;
    }
    api_request(&kit).await;
    if definition.admin_refusal.is_some() {
        admin_refusal(&kit).await;
    }
    error_callback(&kit).await;
}

/// Every check of a credential-based adapter: good credentials connect (and verify), wrong
/// ones are `unauthorizedCredentials`, a restricted user is `insufficientPermission`, a 429 is
/// `rateLimited`, and no secret input appears in the connection, the events or any `Debug`.
pub async fn run_credentials<E: Emulator>(emulator: &E, definition: &ServiceDefinition, config: ServiceConfig) {
    let kit = Kit::new(emulator, definition, config);
    let service = kit.service().clone();
    emulator.set_admin(true);
    let mut events = kit.connect.subscribe();
    let completion = kit.connect_with(emulator.inputs()).await;
    let Completion::Connected { connection, .. } = &completion else { panic!("{service}: {completion:?}") };
    let credentials = kit.connect.credentials(&connection.id).await.expect("credentials");
    let info = kit.connect.verify(&connection.id).await.unwrap_or_else(|e| panic!("{service}: verify: {e}"));
    assert!(!info.name.is_empty(), "{service}: verify names the account");
    let secrets: Vec<String> = emulator
        .inputs()
        .iter()
        .filter(|(name, _)| {
            definition
                .inputs(crate::AuthMode::Credentials)
                .iter()
                .any(|spec| spec.name == *name && spec.sensitivity == railz_connect_core::provider::Sensitivity::Secret)
        })
        .map(|(_, value)| value.to_owned())
        .collect();
    assert!(!secrets.is_empty(), "{service}: the kit's inputs hold a secret");
    let mut printed = format!("{completion:?}{credentials:?}{connection:?}{:?}", credentials.params());
    while let Ok(event) = events.try_recv() {
        printed.push_str(&format!("{event:?}{}", serde_json::to_string(&event).unwrap_or_default()));
    }
    for secret in &secrets {
        assert!(!printed.contains(secret.as_str()), "{service}: a secret input was printed");
    }
    let completion = kit.connect_with(emulator.wrong_inputs()).await;
    let Completion::Failed(failure) = completion else { panic!("{service}: wrong credentials connected") };
    assert_eq!(failure.reason, ReasonCode::UnauthorizedCredentials, "{service}: {failure:?}");
    emulator.set_admin(false);
    let completion = kit.connect_with(emulator.inputs()).await;
    emulator.set_admin(true);
    let Completion::Failed(failure) = completion else { panic!("{service}: a restricted user connected") };
    assert_eq!(failure.reason, ReasonCode::InsufficientPermission, "{service}: {failure:?}");
    emulator.fail_next(KitEndpoint::Token, KitFault::TooManyRequests { retry_after_secs: 3 });
    let completion = kit.connect_with(emulator.inputs()).await;
    let Completion::Failed(failure) = completion else { panic!("{service}: connected through a 429") };
    assert_eq!(failure.reason, ReasonCode::RateLimited, "{service}: {failure:?}");
}
