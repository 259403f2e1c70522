//! The provider adapter trait, its metadata and capabilities, and the registry.
//!
//! An adapter is an `Arc<dyn Provider>`: object-safe, `Send + Sync + Debug + 'static`. Most
//! services are plain OAuth2 that differ only in data: they are an [`OAuth2Definition`] plus a
//! small [`Quirks`] implementation, run by the generic [`OAuth2Provider`]. A service connected
//! with credentials instead of a redirect ([`AuthKind::Credentials`]) implements
//! [`Provider::connect`] and answers [`Credentials::Secret`].

mod credentials;
mod discovery;
mod error;
mod inputs;
mod oauth;
mod registry;
pub(crate) mod tokens;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use url::Url;

pub(crate) use credentials::AnyPayload;
pub(crate) use credentials::CredentialsRef;
pub use credentials::{AuthKind, Credentials, SecretCredentials};
pub use discovery::ServerMetadata;
pub use error::{OAuthErrorCode, ProviderError};

pub use inputs::{CharSet, InputKind, InputSpec, Inputs, Presence, Sensitivity};
pub use oauth::{
    ClientAuth, ClientRegistration, Endpoints, IssuerParam, NoQuirks, OAuth2Definition, OAuth2Provider, Pkce, Quirks,
    RevocationStyle, default_callback_error_reason,
};
pub use registry::ProviderRegistry;
pub use tokens::TokenSet;

use crate::connection::{ReasonCode, Tenant};
use crate::http::HttpClient;
use crate::ids::{ServiceName, TenantId};
use crate::secret::{AuthorizationCode, PkceVerifier, StateToken};

/// What kind of service a provider is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ServiceKind {
    /// Accounting software.
    Accounting,
}

/// Whether refreshing returns a new refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rotation {
    /// Every refresh returns a new refresh token and the old one dies (maybe after a grace).
    Always,
    /// The refresh token is reused.
    Never,
    /// Not documented: a new refresh token is kept when one comes back, the old one otherwise.
    Unknown,
}

/// What a provider can do, declared up front (no "not implemented" at run time). Starts with
/// nothing; set what the provider does with the `with_*` methods.
///
/// ```
/// use railz_connect_core::provider::{Capabilities, Rotation};
///
/// let caps = Capabilities::new().with_refresh(Rotation::Always).with_revocation(true);
/// assert!(caps.refresh && caps.revocation && !caps.tenant_selection);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Access tokens (or sessions) can be refreshed.
    pub refresh: bool,
    /// How refresh tokens rotate.
    pub rotation: Rotation,
    /// PKCE (S256) is sent.
    pub pkce: bool,
    /// Tokens can be revoked at the provider.
    pub revocation: bool,
    /// A tenant (organisation, company) is chosen after authorization.
    pub tenant_selection: bool,
    /// Inputs are needed before authorization.
    pub pre_auth_inputs: bool,
    /// The credentials can be checked with a call that names the account
    /// ([`Provider::verify`]).
    pub verify: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::new()
    }
}

impl Capabilities {
    /// No capability.
    pub fn new() -> Self {
        Self {
            refresh: false,
            rotation: Rotation::Unknown,
            pkce: false,
            revocation: false,
            tenant_selection: false,
            pre_auth_inputs: false,
            verify: false,
        }
    }

    /// Refresh is supported, with this rotation.
    #[must_use]
    pub fn with_refresh(mut self, rotation: Rotation) -> Self {
        self.refresh = true;
        self.rotation = rotation;
        self
    }

    /// Whether PKCE is sent.
    #[must_use]
    pub fn with_pkce(mut self, pkce: bool) -> Self {
        self.pkce = pkce;
        self
    }

    /// Whether grants can be revoked.
    #[must_use]
    pub fn with_revocation(mut self, revocation: bool) -> Self {
        self.revocation = revocation;
        self
    }

    /// Whether a tenant is chosen after authorization.
    #[must_use]
    pub fn with_tenant_selection(mut self, tenant_selection: bool) -> Self {
        self.tenant_selection = tenant_selection;
        self
    }

    /// Whether the provider has a verify call ([`Provider::verify`]).
    #[must_use]
    pub fn with_verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }
}

/// What a provider's verify call ([`Provider::verify`]) says of the account the credentials
/// reach: at least its name (the company, organisation or business).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountInfo {
    /// The account's name as the provider shows it.
    pub name: String,
    /// The provider's id of the account, when the call returns one.
    pub id: Option<String>,
}

impl AccountInfo {
    /// An account with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), id: None }
    }

    /// With the provider's id of it.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// Static facts about a provider. Build with [`ProviderMetadata::new`] and the `with_*`
/// methods (an adapter implementing [`Provider`] directly needs one).
///
/// ```
/// use railz_connect_core::provider::{AuthKind, Capabilities, InputSpec, ProviderMetadata, Rotation};
///
/// let meta = ProviderMetadata::new("sageIntacct".parse()?, "Sage Intacct", AuthKind::Credentials)
///     .with_capabilities(Capabilities::new().with_refresh(Rotation::Never))
///     .with_input(InputSpec::text("companyId", "Company ID"))
///     .with_input(InputSpec::secret("password", "Password"));
/// assert!(meta.capabilities.pre_auth_inputs);
/// # Ok::<(), railz_connect_core::InvalidId>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The service name (`quickbooks`, `railzSandbox`, ...).
    pub service_name: ServiceName,
    /// The name to show (`Railz Cloud Accounting`).
    pub display_name: String,
    /// The kind of service.
    pub kind: ServiceKind,
    /// How a business connects it.
    pub auth_kind: AuthKind,
    /// Whether this is a sandbox (no real business data).
    pub sandbox: bool,
    /// What it can do.
    pub capabilities: Capabilities,
    /// Inputs needed before authorization (or, for [`AuthKind::Credentials`], instead of it).
    pub inputs: Vec<InputSpec>,
    /// Extra callback parameters to keep (`realmId`, `location`, ...).
    pub callback_params: Vec<String>,
    /// The authorization server's issuer, compared exactly with a callback's `iss` (RFC 9207).
    pub issuer: Option<String>,
    /// Whether the callback must carry `iss`.
    pub issuer_param: IssuerParam,
    /// How long a connection stays valid before it must be re-authorized.
    pub connection_validity: Duration,
    /// The countries the service is sold in (ISO 3166-1 alpha-2, upper case), for a widget's
    /// country filter; empty for a service offered everywhere.
    pub countries: Vec<String>,
}

impl ProviderMetadata {
    /// About 12 months.
    pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

    /// Metadata of an accounting service with no capability, no input, no issuer and the
    /// default validity ([`ProviderMetadata::DEFAULT_VALIDITY`]).
    pub fn new(service_name: ServiceName, display_name: impl Into<String>, auth_kind: AuthKind) -> Self {
        Self {
            service_name,
            display_name: display_name.into(),
            kind: ServiceKind::Accounting,
            auth_kind,
            sandbox: false,
            capabilities: Capabilities::new(),
            inputs: Vec::new(),
            callback_params: Vec::new(),
            issuer: None,
            issuer_param: IssuerParam::Optional,
            connection_validity: Self::DEFAULT_VALIDITY,
            countries: Vec::new(),
        }
    }

    /// The countries the service is sold in (ISO 3166-1 alpha-2; stored upper case). Empty
    /// means everywhere.
    #[must_use]
    pub fn with_countries<I, S>(mut self, countries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.countries = country_codes(countries);
        self
    }

    /// Whether it is a sandbox.
    #[must_use]
    pub fn with_sandbox(mut self, sandbox: bool) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// The capabilities (`pre_auth_inputs` follows the inputs).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = Capabilities { pre_auth_inputs: !self.inputs.is_empty(), ..capabilities };
        self
    }

    /// Adds an input.
    #[must_use]
    pub fn with_input(mut self, input: InputSpec) -> Self {
        self.inputs.push(input);
        self.capabilities.pre_auth_inputs = true;
        self
    }

    /// Adds a callback parameter to keep.
    #[must_use]
    pub fn with_callback_param(mut self, name: impl Into<String>) -> Self {
        self.callback_params.push(name.into());
        self
    }

    /// The issuer, and whether every callback carries it.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>, param: IssuerParam) -> Self {
        self.issuer = Some(issuer.into());
        self.issuer_param = param;
        self
    }

    /// How long a connection stays valid.
    #[must_use]
    pub fn with_connection_validity(mut self, validity: Duration) -> Self {
        self.connection_validity = validity;
        self
    }
}

/// Country codes, upper case.
pub(crate) fn country_codes<I, S>(countries: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    countries.into_iter().map(|c| c.as_ref().to_ascii_uppercase()).collect()
}

/// What every call to a provider receives besides its own arguments: the SDK's HTTP client and
/// the time as the SDK's [`Clock`](crate::Clock) reads it (token expiries are computed from
/// `now`, never from the wall clock). Non-exhaustive, so later additions do not break adapters.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CallContext<'a> {
    /// The HTTP client to reach the provider with.
    pub http: &'a HttpClient,
    /// Now, from the SDK's clock.
    pub now: OffsetDateTime,
    /// The connection's tenant, when the call is made for a connection that has one (API
    /// requests authorized with [`Provider::authorize_request`]: Xero's `xero-tenant-id`,
    /// Sage's `X-Business`).
    pub tenant: Option<&'a TenantId>,
}

impl<'a> CallContext<'a> {
    /// A context: the client, and now as the SDK's clock reads it.
    pub fn new(http: &'a HttpClient, now: OffsetDateTime) -> Self {
        Self { http, now, tenant: None }
    }

    /// For a connection with this tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: Option<&'a TenantId>) -> Self {
        self.tenant = tenant;
        self
    }
}

/// What the flow gives a provider to build its authorization URL.
#[derive(Debug)]
#[non_exhaustive]
pub struct AuthorizationRequest<'a> {
    /// The redirect URI (callback) registered for the app.
    pub redirect_uri: &'a Url,
    /// The one-time CSRF state.
    pub state: &'a StateToken,
    /// The PKCE verifier; the provider sends its S256 challenge.
    pub pkce_verifier: &'a PkceVerifier,
    /// The validated pre-authorization inputs.
    pub inputs: &'a Inputs,
}

impl<'a> AuthorizationRequest<'a> {
    /// A request with no inputs.
    pub fn new(redirect_uri: &'a Url, state: &'a StateToken, pkce_verifier: &'a PkceVerifier) -> Self {
        static NONE: std::sync::LazyLock<Inputs> = std::sync::LazyLock::new(Inputs::new);
        Self { redirect_uri, state, pkce_verifier, inputs: &NONE }
    }

    /// With these validated inputs.
    #[must_use]
    pub fn with_inputs(mut self, inputs: &'a Inputs) -> Self {
        self.inputs = inputs;
        self
    }
}

/// What the flow gives a provider to exchange an authorization code.
#[derive(Debug)]
#[non_exhaustive]
pub struct CodeExchange<'a> {
    /// The code from the callback.
    pub code: &'a AuthorizationCode,
    /// The redirect URI, byte-identical to the authorization request's.
    pub redirect_uri: &'a Url,
    /// The PKCE verifier of this authorization.
    pub pkce_verifier: &'a PkceVerifier,
    /// The pre-authorization inputs.
    pub inputs: &'a Inputs,
    /// The extra callback parameters the provider asked to keep.
    pub callback_params: &'a BTreeMap<String, String>,
}

impl<'a> CodeExchange<'a> {
    /// An exchange with no inputs and no callback parameters.
    pub fn new(code: &'a AuthorizationCode, redirect_uri: &'a Url, pkce_verifier: &'a PkceVerifier) -> Self {
        static NO_INPUTS: std::sync::LazyLock<Inputs> = std::sync::LazyLock::new(Inputs::new);
        static NO_PARAMS: BTreeMap<String, String> = BTreeMap::new();
        Self { code, redirect_uri, pkce_verifier, inputs: &NO_INPUTS, callback_params: &NO_PARAMS }
    }

    /// With these pre-authorization inputs.
    #[must_use]
    pub fn with_inputs(mut self, inputs: &'a Inputs) -> Self {
        self.inputs = inputs;
        self
    }

    /// With these kept callback parameters.
    #[must_use]
    pub fn with_callback_params(mut self, params: &'a BTreeMap<String, String>) -> Self {
        self.callback_params = params;
        self
    }
}

/// An accounting-service adapter.
///
/// Implement it directly (with a [`ProviderMetadata`]) for a service that is not OAuth2, or use
/// [`OAuth2Provider`] with an [`OAuth2Definition`] and [`Quirks`]. A redirect service
/// ([`AuthKind::Redirect`]) implements [`Provider::authorization_url`] and
/// [`Provider::exchange_code`]; a credential-based one ([`AuthKind::Credentials`]) implements
/// [`Provider::connect`]. The others have defaults: no tenants, and "unsupported" for what the
/// [`Capabilities`] do not declare. Convenience methods live in [`ProviderExt`].
#[async_trait]
pub trait Provider: fmt::Debug + Send + Sync + 'static {
    /// Static facts: names, auth kind, capabilities, inputs, issuer, validity.
    fn metadata(&self) -> &ProviderMetadata;

    /// The URL to send the user to (redirect services).
    fn authorization_url(&self, _request: &AuthorizationRequest<'_>) -> Result<Url, ProviderError> {
        Err(ProviderError::Unsupported("redirect authorization"))
    }

    /// Exchanges the callback's code for tokens (redirect services).
    ///
    /// Token expiries are computed from `cx.now`. A lifetime no real token has (beyond
    /// [`TokenSet::MAX_LIFETIME`]) is clamped, never a panic: on refresh the provider has already
    /// rotated, so its answer must be kept whatever else it says.
    async fn exchange_code(
        &self,
        _cx: &CallContext<'_>,
        _exchange: &CodeExchange<'_>,
    ) -> Result<Credentials, ProviderError> {
        Err(ProviderError::Unsupported("redirect authorization"))
    }

    /// Connects from validated inputs (credential-based services): verifies them at the
    /// provider (a session call, a company-info request) and answers the credentials to seal.
    /// Secret inputs go into [`SecretCredentials::fields`], never into its parameters.
    async fn connect(&self, _cx: &CallContext<'_>, _inputs: &Inputs) -> Result<Credentials, ProviderError> {
        Err(ProviderError::Unsupported("connecting from inputs"))
    }

    /// The tenants the credentials give access to. Default: none.
    async fn list_tenants(
        &self,
        _cx: &CallContext<'_>,
        _credentials: &Credentials,
    ) -> Result<Vec<Tenant>, ProviderError> {
        Ok(Vec::new())
    }

    /// Refreshes the access token (or re-opens the session). The result keeps the old refresh
    /// token when the provider returns none.
    async fn refresh(&self, _cx: &CallContext<'_>, _credentials: &Credentials) -> Result<Credentials, ProviderError> {
        Err(ProviderError::Unsupported("refresh"))
    }

    /// Revokes the grant at the provider.
    async fn revoke(&self, _cx: &CallContext<'_>, _credentials: &Credentials) -> Result<(), ProviderError> {
        Err(ProviderError::Unsupported("revocation"))
    }

    /// Checks the credentials with a call to the provider's API that names the account they
    /// reach (QuickBooks' company info, Xero's organisation, an Intacct session), for `tenant`
    /// when the connection has one. Default: unsupported.
    async fn verify(
        &self,
        _cx: &CallContext<'_>,
        _credentials: &Credentials,
        _tenant: Option<&TenantId>,
    ) -> Result<AccountInfo, ProviderError> {
        Err(ProviderError::Unsupported("verify"))
    }

    /// Authorizes a request to the provider's API with the credentials. Default: the access
    /// token as `Authorization: Bearer` (RFC 6750); a provider that signs requests (OAuth 1.0a,
    /// with a timestamp from `cx.now`) or sends a session in the body overrides it.
    fn authorize_request(
        &self,
        _cx: &CallContext<'_>,
        credentials: &Credentials,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        bearer(credentials, request)
    }

    /// Maps an error callback (`error`, `error_description`) to a reason code. This is where a
    /// provider's "the user is not an administrator" refusal becomes
    /// [`ReasonCode::InsufficientPermission`].
    fn callback_error_reason(&self, error: &str, description: Option<&str>) -> ReasonCode {
        default_callback_error_reason(error, description)
    }
}

/// Sets `Authorization: Bearer <access token>` (the default of
/// [`Provider::authorize_request`]).
pub fn bearer(credentials: &Credentials, request: &mut http::Request<Vec<u8>>) -> Result<(), ProviderError> {
    let token = credentials.access_token().ok_or(ProviderError::Unsupported("bearer authorization without a token"))?;
    set_bearer(request, token.secret())
}

/// Sets `Authorization: Bearer <token>`, marked sensitive (never printed by `http`'s `Debug`),
/// for a provider whose token is not the credentials' access token (an API key in a secret
/// field).
pub fn set_bearer(request: &mut http::Request<Vec<u8>>, token: &str) -> Result<(), ProviderError> {
    set_authorization(request, &format!("Bearer {token}"))
}

/// Sets `Authorization` to `value` (a scheme and its credentials: `Zoho-oauthtoken <token>`,
/// `OAuth realm="...", ...`), marked sensitive (never printed by `http`'s `Debug`).
pub fn set_authorization(request: &mut http::Request<Vec<u8>>, value: &str) -> Result<(), ProviderError> {
    let mut value = http::HeaderValue::try_from(value)
        .map_err(|_| ProviderError::InvalidResponse("the token is not a valid header value".into()))?;
    value.set_sensitive(true);
    request.headers_mut().insert(http::header::AUTHORIZATION, value);
    Ok(())
}

/// Conveniences over any [`Provider`].
pub trait ProviderExt: Provider {
    /// The service name.
    fn service_name(&self) -> &ServiceName {
        &self.metadata().service_name
    }

    /// The capabilities.
    fn capabilities(&self) -> &Capabilities {
        &self.metadata().capabilities
    }

    /// Checks inputs against the provider's [`InputSpec`]s: required ones present, values
    /// allowed, no unknown names.
    fn validate_inputs(&self, inputs: &Inputs) -> Result<(), ProviderError> {
        inputs.validate(&self.metadata().inputs)
    }
}

impl<P: Provider + ?Sized> ProviderExt for P {}

/// Boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
