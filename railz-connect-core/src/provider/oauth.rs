//! The generic OAuth2 adapter: a declarative [`OAuth2Definition`] plus [`Quirks`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, ClientId, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::{
    AccountInfo, AuthKind, AuthorizationRequest, CallContext, Capabilities, CodeExchange, Credentials, InputSpec,
    Inputs, OAuthErrorCode, Provider, ProviderError, ProviderExt, ProviderMetadata, Rotation, TokenSet,
};
use crate::connection::{ReasonCode, Tenant};
use crate::http::HttpError;
use crate::ids::{ServiceName, TenantId};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic, id and secret form-urlencoded first (RFC 6749 2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    RequestBody,
}

/// Whether PKCE is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pkce {
    /// S256 is required by the provider.
    Required,
    /// S256 is accepted (or harmless): sent.
    Supported,
    /// The provider rejects PKCE parameters: not sent.
    Unsupported,
}

/// How tokens are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationStyle {
    /// RFC 7009: form `token=...` with client authentication.
    Rfc7009,
    /// JSON body `{"token": "..."}` with HTTP Basic client authentication (QuickBooks).
    JsonBody,
    /// The token as the `token` query parameter of a POST (Zoho), client authentication as
    /// for the token endpoint.
    QueryParameter,
}

impl Endpoints {
    /// Authorization and token endpoints, no revocation endpoint.
    pub fn new(authorize: Url, token: Url) -> Self {
        Self { authorize, token, revoke: None }
    }

    /// With a revocation endpoint.
    #[must_use]
    pub fn with_revoke(mut self, revoke: Url) -> Self {
        self.revoke = Some(revoke);
        self
    }
}

/// The endpoints of one authorization (some providers derive them from inputs or callback
/// parameters: NetSuite's account id, Zoho's data centre). Whatever a [`Quirks`] derives, every
/// host must be one of the definition's own endpoints' hosts or of its
/// [`allowed_hosts`](OAuth2Definition::allowed_hosts), and the scheme `https` (or `http` on a
/// loopback host): checked before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The authorization endpoint.
    pub authorize: Url,
    /// The token endpoint.
    pub token: Url,
    /// The revocation endpoint, if any.
    pub revoke: Option<Url>,
}

/// Whether a provider's callbacks carry its issuer (`iss`, RFC 9207).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerParam {
    /// Every callback carries `iss`: one without it is refused.
    Required,
    /// `iss` is checked when present.
    Optional,
}

/// The app's client registration at a provider: its client id and secret. (The business's
/// credentials are [`Credentials`].)
#[derive(Clone)]
pub struct ClientRegistration {
    /// The client id.
    pub client_id: String,
    /// The client secret (none for public clients).
    pub client_secret: Option<ClientSecret>,
}

impl ClientRegistration {
    /// A confidential client.
    pub fn new(client_id: impl Into<String>, client_secret: ClientSecret) -> Self {
        Self { client_id: client_id.into(), client_secret: Some(client_secret) }
    }

    /// A public client (no secret).
    pub fn public(client_id: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), client_secret: None }
    }
}

impl fmt::Debug for ClientRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRegistration")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// A provider's OAuth2 facts, as data. Build with [`OAuth2Definition::new`] and the `with_`
/// methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuth2Definition {
    /// Service name.
    pub service_name: ServiceName,
    /// Display name.
    pub display_name: String,
    /// Whether it is a sandbox.
    pub sandbox: bool,
    /// Default endpoints.
    pub endpoints: Endpoints,
    /// How revocation is sent.
    pub revocation_style: RevocationStyle,
    /// The issuer, compared with a callback's `iss`.
    pub issuer: Option<String>,
    /// Whether every callback carries `iss`.
    pub issuer_param: IssuerParam,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// How scopes are joined (`" "` by the RFC, `","` at Zoho).
    pub scope_separator: String,
    /// Client authentication.
    pub client_auth: ClientAuth,
    /// PKCE.
    pub pkce: Pkce,
    /// Extra authorization parameters (`access_type=offline`, `prompt=consent`, ...).
    pub authorize_params: Vec<(String, String)>,
    /// Extra callback parameters to keep.
    pub callback_params: Vec<String>,
    /// Pre-authorization inputs.
    pub inputs: Vec<InputSpec>,
    /// Hosts besides those of [`endpoints`](OAuth2Definition::endpoints) that a [`Quirks`] may
    /// derive endpoints on (`accounts.zoho.eu`, or `*.app.netsuite.com` for any subdomain).
    pub allowed_hosts: Vec<String>,
    /// Refresh-token rotation.
    pub rotation: Rotation,
    /// Whether the provider hands out refresh tokens.
    pub refresh: bool,
    /// Whether tenants are chosen after authorization.
    pub tenant_selection: bool,
    /// Access-token lifetime to assume when `expires_in` is missing.
    pub default_access_ttl: Option<Duration>,
    /// Lifetime of a newly issued refresh token when the response does not say
    /// (`refresh_token_expires_in`).
    pub default_refresh_ttl: Option<Duration>,
    /// Connection validity (about 12 months unless the provider says otherwise).
    pub connection_validity: Duration,
    /// Provider error codes that mean a standard one (Zoho's `invalid_code` is
    /// `invalid_grant`).
    pub error_aliases: Vec<(String, OAuthErrorCode)>,
    /// Whether the [`Quirks`] have a verify call.
    pub verify: bool,
    /// The countries the service is sold in ([`ProviderMetadata::countries`]).
    pub countries: Vec<String>,
}

impl OAuth2Definition {
    /// About 12 months.
    pub const DEFAULT_VALIDITY: Duration = ProviderMetadata::DEFAULT_VALIDITY;

    /// A definition with the RFC defaults: Basic client auth, PKCE S256, space-separated
    /// scopes, refresh with unknown rotation, no revocation, no tenants.
    pub fn new(service_name: ServiceName, display_name: &str, authorize: Url, token: Url) -> Self {
        Self {
            service_name,
            display_name: display_name.into(),
            sandbox: false,
            endpoints: Endpoints { authorize, token, revoke: None },
            revocation_style: RevocationStyle::Rfc7009,
            issuer: None,
            issuer_param: IssuerParam::Optional,
            scopes: Vec::new(),
            scope_separator: " ".into(),
            client_auth: ClientAuth::Basic,
            pkce: Pkce::Supported,
            authorize_params: Vec::new(),
            callback_params: Vec::new(),
            inputs: Vec::new(),
            allowed_hosts: Vec::new(),
            rotation: Rotation::Unknown,
            refresh: true,
            tenant_selection: false,
            default_access_ttl: None,
            default_refresh_ttl: None,
            connection_validity: Self::DEFAULT_VALIDITY,
            error_aliases: Vec::new(),
            verify: false,
            countries: Vec::new(),
        }
    }

    /// Reads the provider's error code `code` as `means` (Zoho answers a dead refresh token
    /// with `invalid_code`, which is `invalid_grant`).
    pub fn with_error_alias(mut self, code: &str, means: OAuthErrorCode) -> Self {
        self.error_aliases.push((code.to_owned(), means));
        self
    }

    /// Declares that the [`Quirks`] implement [`Quirks::verify`].
    pub fn with_verify(mut self) -> Self {
        self.verify = true;
        self
    }

    /// A provider error code as the SDK reads it (after [`OAuth2Definition::error_aliases`]).
    pub fn error_code(&self, code: &str) -> OAuthErrorCode {
        self.error_aliases
            .iter()
            .find(|(alias, _)| alias == code)
            .map_or_else(|| OAuthErrorCode::parse(code), |(_, means)| means.clone())
    }

    /// Whether it is a sandbox.
    pub fn with_sandbox(mut self, sandbox: bool) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// Sets the revocation endpoint and style.
    pub fn with_revocation(mut self, url: Url, style: RevocationStyle) -> Self {
        self.endpoints.revoke = Some(url);
        self.revocation_style = style;
        self
    }

    /// Sets the issuer, and whether the server always sends `iss`.
    pub fn with_issuer(mut self, issuer: impl Into<String>, param: IssuerParam) -> Self {
        self.issuer = Some(issuer.into());
        self.issuer_param = param;
        self
    }

    /// Sets the scopes and their separator.
    pub fn with_scopes(mut self, scopes: &[&str], separator: &str) -> Self {
        self.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.scope_separator = separator.into();
        self
    }

    /// Sets client authentication.
    pub fn with_client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// Sets PKCE use.
    pub fn with_pkce(mut self, pkce: Pkce) -> Self {
        self.pkce = pkce;
        self
    }

    /// Adds an authorization parameter.
    pub fn with_authorize_param(mut self, name: &str, value: &str) -> Self {
        self.authorize_params.push((name.into(), value.into()));
        self
    }

    /// Adds a callback parameter to keep.
    pub fn with_callback_param(mut self, name: &str) -> Self {
        self.callback_params.push(name.into());
        self
    }

    /// Adds a pre-authorization input.
    pub fn with_input(mut self, input: InputSpec) -> Self {
        self.inputs.push(input);
        self
    }

    /// Allows a [`Quirks`] to derive endpoints on this host (`accounts.zoho.eu`), or on any
    /// subdomain of a suffix written `*.app.netsuite.com`.
    pub fn with_allowed_host(mut self, host: &str) -> Self {
        self.allowed_hosts.push(host.to_ascii_lowercase());
        self
    }

    /// Whether an endpoint may be used: `https` (or `http` on a loopback host), on a host of the
    /// definition's own endpoints or of [`OAuth2Definition::allowed_hosts`].
    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else { return false };
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        let own = [Some(&self.endpoints.authorize), Some(&self.endpoints.token), self.endpoints.revoke.as_ref()]
            .into_iter()
            .flatten()
            .any(|u| u.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&host)));
        let listed = self.allowed_hosts.iter().any(|allowed| match allowed.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => *allowed == host,
        });
        scheme_ok && url.username().is_empty() && url.password().is_none() && (own || listed)
    }

    /// Sets refresh-token rotation.
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// Whether the provider issues refresh tokens (default: it does).
    pub fn with_refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// Declares tenant selection after authorization.
    pub fn with_tenant_selection(mut self) -> Self {
        self.tenant_selection = true;
        self
    }

    /// Sets the access-token lifetime assumed when `expires_in` is missing.
    pub fn with_default_access_ttl(mut self, ttl: Duration) -> Self {
        self.default_access_ttl = Some(ttl);
        self
    }

    /// Sets the refresh-token lifetime assumed when a response issues one without saying.
    pub fn with_default_refresh_ttl(mut self, ttl: Duration) -> Self {
        self.default_refresh_ttl = Some(ttl);
        self
    }

    /// Sets the connection validity.
    pub fn with_connection_validity(mut self, validity: Duration) -> Self {
        self.connection_validity = validity;
        self
    }

    /// Sets the countries the service is sold in (ISO 3166-1 alpha-2), for a widget's country
    /// filter.
    pub fn with_countries<I, S>(mut self, countries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.countries = super::country_codes(countries);
        self
    }

    fn metadata(&self) -> ProviderMetadata {
        let mut capabilities = Capabilities::new()
            .with_pkce(self.pkce != Pkce::Unsupported)
            .with_revocation(self.endpoints.revoke.is_some())
            .with_tenant_selection(self.tenant_selection)
            .with_verify(self.verify);
        if self.refresh {
            capabilities = capabilities.with_refresh(self.rotation);
        }
        let mut meta = ProviderMetadata::new(self.service_name.clone(), self.display_name.clone(), AuthKind::Redirect)
            .with_sandbox(self.sandbox)
            .with_capabilities(capabilities)
            .with_connection_validity(self.connection_validity)
            .with_countries(&self.countries);
        for input in &self.inputs {
            meta = meta.with_input(input.clone());
        }
        for param in &self.callback_params {
            meta = meta.with_callback_param(param.clone());
        }
        if let Some(issuer) = &self.issuer {
            meta = meta.with_issuer(issuer.clone(), self.issuer_param);
        }
        meta
    }
}

/// The code a provider needs beyond its [`OAuth2Definition`]. Every method has a default that
/// suits a plain OAuth2 provider.
#[async_trait]
pub trait Quirks: fmt::Debug + Send + Sync + 'static {
    /// The endpoints for this authorization, from the definition and the validated
    /// pre-authorization inputs only (default: the definition's). Never from a callback.
    fn endpoints(&self, definition: &OAuth2Definition, _inputs: &Inputs) -> Result<Endpoints, ProviderError> {
        Ok(definition.endpoints.clone())
    }

    /// The endpoints to use once the callback came back, for a provider that names its data
    /// centre there (Zoho's `accounts-server`): `params` are the callback parameters the
    /// definition keeps (also on refresh and revocation, from the stored tokens). Default:
    /// `endpoints` unchanged. Every host returned is checked against the definition
    /// ([`OAuth2Definition::allows`]): a callback cannot send the code or a token elsewhere.
    fn callback_endpoints(
        &self,
        _definition: &OAuth2Definition,
        endpoints: Endpoints,
        _params: &BTreeMap<String, String>,
    ) -> Result<Endpoints, ProviderError> {
        Ok(endpoints)
    }

    /// Extra authorization parameters computed from the inputs.
    fn authorize_params(&self, _definition: &OAuth2Definition, _inputs: &Inputs) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The tenants the tokens give access to (default: none).
    async fn list_tenants(&self, _cx: &CallContext<'_>, _tokens: &TokenSet) -> Result<Vec<Tenant>, ProviderError> {
        Ok(Vec::new())
    }

    /// Checks the tokens with a call that names the account (default: unsupported; a
    /// definition declaring [`OAuth2Definition::with_verify`] implements it).
    async fn verify(
        &self,
        _cx: &CallContext<'_>,
        _tokens: &TokenSet,
        _tenant: Option<&TenantId>,
    ) -> Result<AccountInfo, ProviderError> {
        Err(ProviderError::Unsupported("verify"))
    }

    /// Authorizes a request to the provider's API (default: `Authorization: Bearer`; Zoho
    /// writes `Zoho-oauthtoken`, MYOB adds its API-key headers).
    fn authorize_request(
        &self,
        _cx: &CallContext<'_>,
        tokens: &TokenSet,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        super::set_bearer(request, tokens.access_token.secret())
    }

    /// Maps an error callback to a reason code.
    fn callback_error_reason(&self, error: &str, description: Option<&str>) -> ReasonCode {
        default_callback_error_reason(error, description)
    }
}

/// Quirks of a provider that has none.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoQuirks;

impl Quirks for NoQuirks {}

/// The standard mapping of error callbacks: `access_denied` → [`ReasonCode::AccessDenied`],
/// `unauthorized_client`/`invalid_client` → [`ReasonCode::UnauthorizedClientIdKey`],
/// `server_error`/`temporarily_unavailable` → [`ReasonCode::ProviderUnavailable`], OIDC's
/// `login_required`/`consent_required`/`interaction_required`/`account_selection_required` →
/// [`ReasonCode::InteractionRequired`], `invalid_scope`/`invalid_request`/
/// `unsupported_response_type` → [`ReasonCode::InvalidConfiguration`]; a description that names
/// a missing administrator/owner role → [`ReasonCode::InsufficientPermission`].
pub fn default_callback_error_reason(error: &str, description: Option<&str>) -> ReasonCode {
    let description = description.unwrap_or_default().to_ascii_lowercase();
    if description.starts_with("insufficient_permission")
        || description.contains("not an administrator")
        || description.contains("admin role")
    {
        return ReasonCode::InsufficientPermission;
    }
    match error {
        "access_denied" => ReasonCode::AccessDenied,
        "unauthorized_client" | "invalid_client" => ReasonCode::UnauthorizedClientIdKey,
        "server_error" | "temporarily_unavailable" => ReasonCode::ProviderUnavailable,
        "login_required" | "consent_required" | "interaction_required" | "account_selection_required" => {
            ReasonCode::InteractionRequired
        }
        "invalid_scope" | "invalid_request" | "unsupported_response_type" => ReasonCode::InvalidConfiguration,
        _ => ReasonCode::Unknown,
    }
}

/// Fields of a token response beyond RFC 6749 that the SDK keeps (unknown ones are ignored).
/// Read leniently: a malformed value of one of them is dropped, not a reason to lose the
/// (possibly rotated) tokens of the response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TokenExtras {
    #[serde(default, deserialize_with = "lenient_seconds")]
    refresh_token_expires_in: Option<u64>,
    /// QuickBooks' name for it. A separate field, not a serde alias: a response carrying both
    /// would otherwise be a "duplicate field" error, and a rotated token would be lost.
    #[serde(default, deserialize_with = "lenient_seconds")]
    x_refresh_token_expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_string")]
    api_domain: Option<String>,
}

/// Seconds as a non-negative number (fractions and huge values saturate) or a string of
/// digits; anything else is `None`.
fn lenient_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    })
}

fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

impl ExtraTokenFields for TokenExtras {}

type TokenResponseOf = StandardTokenResponse<TokenExtras, BasicTokenType>;

type Client<HasAuth> = oauth2::Client<
    BasicErrorResponse,
    TokenResponseOf,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuth,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A provider run from an [`OAuth2Definition`], the app's [`ClientRegistration`] and [`Quirks`].
#[derive(Debug)]
pub struct OAuth2Provider<Q = NoQuirks> {
    definition: OAuth2Definition,
    credentials: ClientRegistration,
    quirks: Q,
    metadata: ProviderMetadata,
}

impl<Q: Quirks> OAuth2Provider<Q> {
    /// A provider from its definition, the app's credentials and its quirks.
    pub fn new(definition: OAuth2Definition, credentials: ClientRegistration, quirks: Q) -> Self {
        let metadata = definition.metadata();
        Self { definition, credentials, quirks, metadata }
    }

    /// The definition.
    pub fn definition(&self) -> &OAuth2Definition {
        &self.definition
    }

    /// The quirks.
    pub fn quirks(&self) -> &Q {
        &self.quirks
    }

    /// The validated pre-authorization inputs among stored parameters (refresh, revocation).
    /// (Secret inputs are never kept as parameters: a definition whose endpoints depend on one
    /// cannot refresh, and says so as an invalid input.)
    fn inputs_of(&self, params: &BTreeMap<String, String>) -> Result<Inputs, ProviderError> {
        let inputs: Inputs = self
            .definition
            .inputs
            .iter()
            .filter_map(|spec| params.get(&spec.name).map(|v| (spec.name.clone(), v.clone())))
            .collect();
        self.validate_inputs(&inputs)?;
        Ok(inputs)
    }

    fn tokens(credentials: &Credentials) -> Result<&TokenSet, ProviderError> {
        credentials.oauth2().ok_or(ProviderError::Unsupported("credentials that are not OAuth2 tokens"))
    }

    /// The kept callback parameters among stored parameters.
    fn callback_params_of(&self, params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        self.definition
            .callback_params
            .iter()
            .filter_map(|name| params.get(name).map(|v| (name.clone(), v.clone())))
            .collect()
    }

    /// The endpoints for these inputs and, once the callback came back, its kept parameters;
    /// every one checked against the definition.
    fn endpoints(
        &self,
        inputs: &Inputs,
        callback: Option<&BTreeMap<String, String>>,
    ) -> Result<Endpoints, ProviderError> {
        let mut endpoints = self.quirks.endpoints(&self.definition, inputs)?;
        if let Some(params) = callback {
            endpoints = self.quirks.callback_endpoints(&self.definition, endpoints, params)?;
        }
        for url in [Some(&endpoints.authorize), Some(&endpoints.token), endpoints.revoke.as_ref()].into_iter().flatten()
        {
            if !self.definition.allows(url) {
                return Err(ProviderError::EndpointNotAllowed(crate::text::bounded(
                    url.host_str().unwrap_or(url.scheme()),
                    crate::text::MAX_LOGGED,
                )));
            }
        }
        Ok(endpoints)
    }

    fn client(&self, endpoints: &Endpoints) -> Client<EndpointNotSet> {
        let mut client = oauth2::Client::new(ClientId::new(self.credentials.client_id.clone()))
            .set_token_uri(TokenUrl::from_url(endpoints.token.clone()))
            .set_auth_type(match self.definition.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::RequestBody => AuthType::RequestBody,
            });
        if let Some(secret) = &self.credentials.client_secret {
            client = client.set_client_secret(oauth2::ClientSecret::new(secret.secret().to_owned()));
        }
        client
    }

    fn token_set(
        &self,
        response: TokenResponseOf,
        previous: Option<&TokenSet>,
        now: OffsetDateTime,
    ) -> Result<TokenSet, ProviderError> {
        if !response.token_type().as_ref().eq_ignore_ascii_case("bearer") {
            return Err(ProviderError::InvalidResponse(format!(
                "token_type `{}` is not bearer",
                response.token_type().as_ref()
            )));
        }
        if response.access_token().secret().is_empty() {
            return Err(ProviderError::InvalidResponse("access_token is empty".into()));
        }
        let mut set = TokenSet::new(AccessToken::new(response.access_token().secret().clone()), now);
        set.refresh_token = match response.refresh_token() {
            Some(r) => Some(RefreshToken::new(r.secret().clone())),
            None => previous.and_then(|p| p.refresh_token.clone()),
        };
        set.scopes = match response.scopes() {
            Some(scopes) => scopes.iter().map(|s| s.to_string()).collect(),
            None => previous.map(|p| p.scopes.clone()).unwrap_or_default(),
        };
        let ttl = response.expires_in().or(self.definition.default_access_ttl);
        set.access_expires_at = ttl.map(|d| TokenSet::expiry(now, d));
        let extras = response.extra_fields();
        set.refresh_expires_at = match extras.refresh_token_expires_in.or(extras.x_refresh_token_expires_in) {
            Some(secs) => Some(TokenSet::expiry(now, Duration::from_secs(secs))),
            None if response.refresh_token().is_some() => {
                self.definition.default_refresh_ttl.map(|d| TokenSet::expiry(now, d))
            }
            None => previous.and_then(|p| p.refresh_expires_at),
        };
        if let Some(previous) = previous {
            set.params = previous.params.clone();
        }
        if let Some(domain) = &extras.api_domain {
            set.params.insert("api_domain".into(), domain.clone());
        }
        Ok(set)
    }
}

impl OAuth2Definition {
    /// A token-endpoint failure as a [`ProviderError`]. A success status whose body is an OAuth
    /// error (Zoho answers `200 {"error":"invalid_code"}`) is that error, not a malformed
    /// response.
    fn token_error(&self, e: RequestTokenError<HttpError, BasicErrorResponse>) -> ProviderError {
        match e {
            RequestTokenError::ServerResponse(r) => self.oauth_error(&r),
            RequestTokenError::Request(e) => e.into(),
            RequestTokenError::Parse(e, body) => match serde_json::from_slice::<BasicErrorResponse>(&body) {
                Ok(r) => self.oauth_error(&r),
                Err(_) => ProviderError::InvalidResponse(format!(
                    "malformed token response at `{}` ({:?})",
                    e.path(),
                    e.inner().classify()
                )),
            },
            RequestTokenError::Other(reason) => ProviderError::InvalidResponse(reason),
        }
    }

    fn oauth_error(&self, r: &BasicErrorResponse) -> ProviderError {
        ProviderError::oauth(self.error_code(r.error().as_ref()), r.error_description().map(String::as_str))
    }
}

#[async_trait]
impl<Q: Quirks> Provider for OAuth2Provider<Q> {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    fn authorization_url(&self, request: &AuthorizationRequest<'_>) -> Result<Url, ProviderError> {
        let endpoints = self.endpoints(request.inputs, None)?;
        let client = self
            .client(&endpoints)
            .set_auth_uri(AuthUrl::from_url(endpoints.authorize.clone()))
            .set_redirect_uri(RedirectUrl::from_url(request.redirect_uri.clone()));
        let state = request.state.secret().to_owned();
        let mut auth = client.authorize_url(move || CsrfToken::new(state));
        if !self.definition.scopes.is_empty() {
            auth = auth.add_extra_param("scope", self.definition.scopes.join(&self.definition.scope_separator));
        }
        if self.definition.pkce != Pkce::Unsupported {
            let verifier = PkceCodeVerifier::new(request.pkce_verifier.secret().to_owned());
            auth = auth.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
        }
        for (name, value) in self
            .definition
            .authorize_params
            .iter()
            .cloned()
            .chain(self.quirks.authorize_params(&self.definition, request.inputs))
        {
            auth = auth.add_extra_param(name, value);
        }
        Ok(auth.url().0)
    }

    async fn exchange_code(
        &self,
        cx: &CallContext<'_>,
        exchange: &CodeExchange<'_>,
    ) -> Result<Credentials, ProviderError> {
        // Only the parameters the definition keeps, whatever else the callback carried.
        let callback = self.callback_params_of(exchange.callback_params);
        let endpoints = self.endpoints(exchange.inputs, Some(&callback))?;
        let client = self.client(&endpoints).set_redirect_uri(RedirectUrl::from_url(exchange.redirect_uri.clone()));
        let mut request = client.exchange_code(oauth2::AuthorizationCode::new(exchange.code.secret().to_owned()));
        if self.definition.pkce != Pkce::Unsupported {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(exchange.pkce_verifier.secret().to_owned()));
        }
        let response = request.request_async(cx.http).await.map_err(|e| self.definition.token_error(e))?;
        let mut set = self.token_set(response, None, cx.now)?;
        // Plain inputs first (secret ones are never kept as parameters): a callback parameter
        // never replaces an input of the same name.
        for (k, v) in exchange.inputs.plain_params(&self.definition.inputs).into_iter().chain(callback) {
            set.params.entry(k).or_insert(v);
        }
        Ok(Credentials::OAuth2(set))
    }

    async fn list_tenants(
        &self,
        cx: &CallContext<'_>,
        credentials: &Credentials,
    ) -> Result<Vec<Tenant>, ProviderError> {
        self.quirks.list_tenants(cx, Self::tokens(credentials)?).await
    }

    async fn refresh(&self, cx: &CallContext<'_>, credentials: &Credentials) -> Result<Credentials, ProviderError> {
        let tokens = Self::tokens(credentials)?;
        let refresh =
            tokens.refresh_token.as_ref().ok_or(ProviderError::Unsupported("refresh without a refresh token"))?;
        let endpoints =
            self.endpoints(&self.inputs_of(&tokens.params)?, Some(&self.callback_params_of(&tokens.params)))?;
        let client = self.client(&endpoints);
        let refresh = oauth2::RefreshToken::new(refresh.secret().to_owned());
        let response = client
            .exchange_refresh_token(&refresh)
            .request_async(cx.http)
            .await
            .map_err(|e| self.definition.token_error(e))?;
        self.token_set(response, Some(tokens), cx.now).map(Credentials::OAuth2)
    }

    async fn revoke(&self, cx: &CallContext<'_>, credentials: &Credentials) -> Result<(), ProviderError> {
        let tokens = Self::tokens(credentials)?;
        let endpoints =
            self.endpoints(&self.inputs_of(&tokens.params)?, Some(&self.callback_params_of(&tokens.params)))?;
        let mut url = endpoints.revoke.clone().ok_or(ProviderError::Unsupported("revocation"))?;
        let (token, hint) = match &tokens.refresh_token {
            Some(r) => (zeroize::Zeroizing::new(r.secret().to_owned()), true),
            None => (zeroize::Zeroizing::new(tokens.access_token.secret().to_owned()), false),
        };
        // RFC 7009 is sent by hand: oauth2-rs refuses non-https revocation URLs, which rules
        // out loopback test servers.
        let (content_type, mut body) = match self.definition.revocation_style {
            RevocationStyle::Rfc7009 => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("token", &token);
                form.append_pair("token_type_hint", if hint { "refresh_token" } else { "access_token" });
                ("application/x-www-form-urlencoded", zeroize::Zeroizing::new(form.finish().into_bytes()))
            }
            RevocationStyle::QueryParameter => {
                url.query_pairs_mut().append_pair("token", &token);
                ("application/x-www-form-urlencoded", zeroize::Zeroizing::new(Vec::new()))
            }
            RevocationStyle::JsonBody => {
                let json = serde_json::to_vec(&serde_json::json!({ "token": token.as_str() }))
                    .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
                ("application/json", zeroize::Zeroizing::new(json))
            }
        };
        drop(token);
        let mut builder = http::Request::post(url.as_str())
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::ACCEPT, "application/json");
        match (&self.credentials.client_secret, self.definition.client_auth, self.definition.revocation_style) {
            (Some(secret), ClientAuth::Basic, _) | (Some(secret), _, RevocationStyle::JsonBody) => {
                builder = builder
                    .header(http::header::AUTHORIZATION, basic_auth(&self.credentials.client_id, secret.secret()));
            }
            (secret, _, RevocationStyle::Rfc7009 | RevocationStyle::QueryParameter) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("client_id", &self.credentials.client_id);
                if let Some(secret) = secret {
                    form.append_pair("client_secret", secret.secret());
                }
                if !body.is_empty() {
                    body.push(b'&');
                }
                body.extend_from_slice(form.finish().as_bytes());
            }
            (None, _, _) => {}
        }
        let request = builder.body(body.to_vec()).map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        let response = cx.http.send_checked(request).await?;
        if response.status().is_success() {
            return Ok(());
        }
        match serde_json::from_slice::<BasicErrorResponse>(response.body()) {
            Ok(e) => Err(self.definition.oauth_error(&e)),
            Err(_) => Err(crate::http::status_error(&response, None)),
        }
    }

    async fn verify(
        &self,
        cx: &CallContext<'_>,
        credentials: &Credentials,
        tenant: Option<&TenantId>,
    ) -> Result<AccountInfo, ProviderError> {
        self.quirks.verify(cx, Self::tokens(credentials)?, tenant).await
    }

    fn authorize_request(
        &self,
        cx: &CallContext<'_>,
        credentials: &Credentials,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        self.quirks.authorize_request(cx, Self::tokens(credentials)?, request)
    }

    fn callback_error_reason(&self, error: &str, description: Option<&str>) -> ReasonCode {
        self.quirks.callback_error_reason(error, description)
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 2.3.1).
pub(crate) fn basic_auth(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = zeroize::Zeroizing::new(format!("{}:{}", enc(id), enc(secret)));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> OAuth2Provider {
        let definition = OAuth2Definition::new(
            "acme".parse().unwrap(),
            "Acme",
            Url::parse("https://auth.acme.example/authorize").unwrap(),
            Url::parse("https://auth.acme.example/token").unwrap(),
        );
        OAuth2Provider::new(definition, ClientRegistration::public("client"), NoQuirks)
    }

    fn parse(json: serde_json::Value) -> TokenResponseOf {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn absurd_lifetimes_are_clamped_and_the_tokens_kept() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let max = TokenSet::expiry(now, TokenSet::MAX_LIFETIME);
        for field in ["refresh_token_expires_in", "x_refresh_token_expires_in"] {
            // Both names at once are not a duplicate field.
            let both = parse(serde_json::json!({
                "access_token": "a", "token_type": "bearer", "refresh_token": "r",
                "refresh_token_expires_in": 60, "x_refresh_token_expires_in": 120,
            }));
            let set = provider().token_set(both, None, now).unwrap();
            assert_eq!(set.refresh_expires_at, Some(now + time::Duration::seconds(60)));
            let response = parse(serde_json::json!({
                "access_token": "new-access", "token_type": "Bearer", "refresh_token": "new-refresh",
                "expires_in": 300_000_000_000u64, field: 300_000_000_000u64,
            }));
            let set = provider().token_set(response, None, now).unwrap();
            assert_eq!(set.refresh_token.unwrap().secret(), "new-refresh", "{field}: the rotated token is kept");
            assert_eq!((set.access_expires_at, set.refresh_expires_at), (Some(max), Some(max)), "{field}");
        }
        // Malformed extras are dropped, never a reason to lose the tokens.
        for odd in [serde_json::json!(-5), serde_json::json!(1e300), serde_json::json!("soon"), serde_json::json!({})] {
            let response = parse(serde_json::json!({
                "access_token": "a", "token_type": "bearer", "refresh_token": "r",
                "refresh_token_expires_in": odd, "api_domain": 7,
            }));
            let set = provider().token_set(response, None, now).unwrap();
            assert_eq!(set.refresh_token.unwrap().secret(), "r");
            assert!(set.refresh_expires_at.is_none_or(|at| at <= max));
        }
    }
}
