//! The provider adapter trait, its metadata and capabilities, and the registry.
//!
//! An adapter is an `Arc<dyn Provider>`: object-safe, `Send + Sync + Debug + 'static`. Most
//! services are plain OAuth2 that differ only in data: they are an [`OAuth2Definition`] plus a
//! small [`Quirks`] implementation, run by the generic [`OAuth2Provider`].

mod discovery;
mod oauth;
mod registry;
pub(crate) mod tokens;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use url::Url;

pub use discovery::ServerMetadata;
pub use oauth::{
    ClientAuth, Endpoints, NoQuirks, OAuth2Credentials, OAuth2Definition, OAuth2Provider, Pkce, Quirks,
    RevocationStyle, default_callback_error_reason,
};
pub use registry::ProviderRegistry;
pub use tokens::TokenSet;

pub use oauth2::basic::BasicErrorResponseType as OAuthErrorCode;

use crate::connection::{ReasonCode, Tenant};
use crate::http::HttpClient;
use crate::ids::ServiceName;
use crate::secret::{AuthorizationCode, PkceVerifier, StateToken};

/// Inputs a provider needs before authorization (a NetSuite account id, a Zoho data centre,
/// a sandbox use case), by input name.
pub type Inputs = BTreeMap<String, String>;

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

/// What a provider can do, declared up front (no "not implemented" at run time).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Access tokens can be refreshed.
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
}

/// The kind of a pre-authorization input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputKind {
    /// Free text of at most `max_len` characters, matching `allowed` characters.
    Text {
        /// The maximum length.
        max_len: usize,
        /// Which characters are allowed.
        allowed: CharSet,
    },
    /// One of these values.
    Choice(Vec<String>),
}

/// The characters a text input allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CharSet {
    /// ASCII letters, digits, `_` and `-`.
    Identifier,
    /// Any printable text.
    Printable,
}

/// One input a provider needs before authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputSpec {
    /// The name, as given in [`Inputs`].
    pub name: String,
    /// A label to show the user.
    pub label: String,
    /// Whether it must be given.
    pub required: bool,
    /// What it may hold.
    pub kind: InputKind,
}

impl InputSpec {
    /// A text input.
    pub fn text(name: &str, label: &str, required: bool, max_len: usize, allowed: CharSet) -> Self {
        Self { name: name.into(), label: label.into(), required, kind: InputKind::Text { max_len, allowed } }
    }

    /// A choice among values.
    pub fn choice(name: &str, label: &str, required: bool, values: &[&str]) -> Self {
        Self {
            name: name.into(),
            label: label.into(),
            required,
            kind: InputKind::Choice(values.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    fn check(&self, value: &str) -> Result<(), String> {
        match &self.kind {
            InputKind::Choice(values) => {
                if values.iter().any(|v| v == value) {
                    Ok(())
                } else {
                    Err(format!("must be one of {}", values.join(", ")))
                }
            }
            InputKind::Text { max_len, allowed } => {
                if value.is_empty() {
                    return Err("is empty".into());
                }
                if value.chars().count() > *max_len {
                    return Err(format!("is longer than {max_len} characters"));
                }
                let ok = match allowed {
                    CharSet::Identifier => value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                    CharSet::Printable => !value.chars().any(char::is_control),
                };
                if ok { Ok(()) } else { Err("has characters that are not allowed".into()) }
            }
        }
    }
}

/// Static facts about a provider.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The service name (`quickbooks`, `railzSandbox`, ...).
    pub service_name: ServiceName,
    /// The name to show (`Railz Cloud Accounting`).
    pub display_name: String,
    /// The kind of service.
    pub kind: ServiceKind,
    /// Whether this is a sandbox (no real business data).
    pub sandbox: bool,
    /// What it can do.
    pub capabilities: Capabilities,
    /// Inputs needed before authorization.
    pub inputs: Vec<InputSpec>,
    /// Extra callback parameters to keep (`realmId`, `location`, ...).
    pub callback_params: Vec<String>,
    /// The authorization server's issuer, compared exactly with a callback's `iss` (RFC 9207).
    pub issuer: Option<String>,
    /// Whether the callback must carry `iss` (the server always sends it).
    pub require_issuer: bool,
    /// How long a connection stays valid before it must be re-authorized.
    pub connection_validity: Duration,
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
}

impl<'a> CallContext<'a> {
    /// A context: the client, and now as the SDK's clock reads it.
    pub fn new(http: &'a HttpClient, now: OffsetDateTime) -> Self {
        Self { http, now }
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
    /// Bundles the parts of an authorization request.
    pub fn new(
        redirect_uri: &'a Url,
        state: &'a StateToken,
        pkce_verifier: &'a PkceVerifier,
        inputs: &'a Inputs,
    ) -> Self {
        Self { redirect_uri, state, pkce_verifier, inputs }
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
    /// Bundles the parts of a code exchange.
    pub fn new(
        code: &'a AuthorizationCode,
        redirect_uri: &'a Url,
        pkce_verifier: &'a PkceVerifier,
        inputs: &'a Inputs,
        callback_params: &'a BTreeMap<String, String>,
    ) -> Self {
        Self { code, redirect_uri, pkce_verifier, inputs, callback_params }
    }
}

/// An accounting-service adapter.
///
/// Implement it directly for a service that is not OAuth2, or use [`OAuth2Provider`] with an
/// [`OAuth2Definition`] and [`Quirks`]. Convenience methods live in [`ProviderExt`].
#[async_trait]
pub trait Provider: fmt::Debug + Send + Sync + 'static {
    /// Static facts: names, capabilities, inputs, issuer, validity.
    fn metadata(&self) -> &ProviderMetadata;

    /// The URL to send the user to.
    fn authorization_url(&self, request: &AuthorizationRequest<'_>) -> Result<Url, ProviderError>;

    /// Exchanges the callback's code for tokens.
    ///
    /// Token expiries are computed from `cx.now`. A lifetime no real token has (beyond
    /// [`TokenSet::MAX_LIFETIME`]) is clamped, never a panic: on refresh the provider has already
    /// rotated, so its answer must be kept whatever else it says.
    async fn exchange_code(&self, cx: &CallContext<'_>, exchange: &CodeExchange<'_>)
    -> Result<TokenSet, ProviderError>;

    /// The tenants the tokens give access to. Providers without tenants answer an empty list.
    async fn list_tenants(&self, cx: &CallContext<'_>, tokens: &TokenSet) -> Result<Vec<Tenant>, ProviderError>;

    /// Refreshes the access token. The result keeps the old refresh token when the provider
    /// returns none.
    async fn refresh(&self, cx: &CallContext<'_>, tokens: &TokenSet) -> Result<TokenSet, ProviderError>;

    /// Revokes the grant at the provider.
    async fn revoke(&self, cx: &CallContext<'_>, tokens: &TokenSet) -> Result<(), ProviderError>;

    /// Maps an error callback (`error`, `error_description`) to a reason code. This is where a
    /// provider's "the user is not an administrator" refusal becomes
    /// [`ReasonCode::InsufficientPermission`].
    fn callback_error_reason(&self, error: &str, description: Option<&str>) -> ReasonCode {
        default_callback_error_reason(error, description)
    }
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
        let specs = &self.metadata().inputs;
        for name in inputs.keys() {
            if !specs.iter().any(|s| &s.name == name) {
                return Err(ProviderError::InvalidInput {
                    name: name.clone(),
                    reason: "is not an input of this service".into(),
                });
            }
        }
        for spec in specs {
            match inputs.get(&spec.name) {
                None if spec.required => {
                    return Err(ProviderError::InvalidInput { name: spec.name.clone(), reason: "is required".into() });
                }
                None => {}
                Some(value) => spec
                    .check(value)
                    .map_err(|reason| ProviderError::InvalidInput { name: spec.name.clone(), reason })?,
            }
        }
        Ok(())
    }
}

impl<P: Provider + ?Sized> ProviderExt for P {}

/// Boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a call to a provider failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider answered an OAuth error (`invalid_grant`, `invalid_client`, ...).
    #[error("the provider answered OAuth error `{}`", error.as_ref())]
    OAuth {
        /// The error code; unknown codes keep their text.
        error: OAuthErrorCode,
        /// The provider's description, if any.
        description: Option<String>,
    },
    /// The provider answered an HTTP status that is not part of OAuth (429, 5xx, or a non-2xx
    /// from an API call).
    #[error("the provider answered HTTP {status}")]
    Status {
        /// The status.
        status: u16,
        /// The `Retry-After` delay, when given.
        retry_after: Option<Duration>,
    },
    /// The provider answered a redirect, which is not followed.
    #[error("the provider answered a redirect ({status}), which is not followed")]
    Redirect {
        /// The status.
        status: u16,
    },
    /// The provider did not answer in time.
    #[error("the provider did not answer in time")]
    Timeout,
    /// The connection to the provider failed.
    #[error("the connection to the provider failed")]
    Transport(#[source] BoxError),
    /// The provider's answer is malformed or breaks OAuth2 (no `access_token`, `token_type`
    /// not bearer, HTML instead of JSON, ...).
    #[error("the provider's answer is invalid: {0}")]
    InvalidResponse(String),
    /// A pre-authorization input is missing or invalid.
    #[error("input `{name}` {reason}")]
    InvalidInput {
        /// The input's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The request could not be built (bad configuration).
    #[error("the request could not be built: {0}")]
    InvalidRequest(String),
    /// Discovered metadata names another issuer than the one asked for.
    #[error("the metadata's issuer `{got}` is not the issuer `{expected}` it was fetched for")]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer the document names (at most 256 characters).
        got: String,
    },
    /// An endpoint a [`Quirks`] derived (from inputs or a callback) is not on a host the
    /// definition allows: nothing was sent there (mix-up defense).
    #[error("endpoint host `{0}` is not one the provider's definition allows")]
    EndpointNotAllowed(String),
    /// The provider does not support this operation (see [`Capabilities`]).
    #[error("the provider does not support {0}")]
    Unsupported(&'static str),
}

impl ProviderError {
    /// Whether trying again later may succeed: 429, 5xx, time-outs, broken connections and the
    /// OAuth errors `server_error` / `temporarily_unavailable`. `invalid_grant` and other 4xx
    /// answers are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout | Self::Transport(_) => true,
            Self::OAuth { error: OAuthErrorCode::Extension(code), .. } => {
                code == "server_error" || code == "temporarily_unavailable"
            }
            _ => false,
        }
    }

    /// The `Retry-After` delay the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the provider refused the grant (`invalid_grant`): authorize again, never retry.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, Self::OAuth { error: OAuthErrorCode::InvalidGrant, .. })
    }

    /// The reason code this failure gives the app.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::OAuth { error, .. } => match error {
                OAuthErrorCode::InvalidGrant => ReasonCode::UnauthorizedCredentials,
                OAuthErrorCode::InvalidClient | OAuthErrorCode::UnauthorizedClient => {
                    ReasonCode::UnauthorizedClientIdKey
                }
                OAuthErrorCode::Extension(code) if code == "server_error" || code == "temporarily_unavailable" => {
                    ReasonCode::ProviderUnavailable
                }
                OAuthErrorCode::Extension(code) if code == "access_denied" => ReasonCode::AccessDenied,
                _ => ReasonCode::Unknown,
            },
            Self::Status { status: 429, .. } => ReasonCode::RateLimited,
            Self::Status { status: 401, .. } => ReasonCode::UnauthorizedCredentials,
            Self::Status { status: 403, .. } => ReasonCode::InsufficientPermission,
            Self::Status { .. } | Self::Transport(_) => ReasonCode::ProviderUnavailable,
            Self::Timeout => ReasonCode::Timeout,
            Self::Redirect { .. } | Self::InvalidResponse(_) => ReasonCode::InvalidProviderResponse,
            Self::EndpointNotAllowed(_) => ReasonCode::InvalidCallback,
            Self::IssuerMismatch { .. } => ReasonCode::InvalidConfiguration,
            Self::InvalidInput { .. } | Self::InvalidRequest(_) | Self::Unsupported(_) => ReasonCode::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability() {
        assert!(ProviderError::Status { status: 429, retry_after: None }.is_retryable());
        assert!(ProviderError::Status { status: 503, retry_after: None }.is_retryable());
        assert!(!ProviderError::Status { status: 404, retry_after: None }.is_retryable());
        assert!(ProviderError::Timeout.is_retryable());
        let grant = ProviderError::OAuth { error: OAuthErrorCode::InvalidGrant, description: None };
        assert!(!grant.is_retryable());
        assert!(grant.is_invalid_grant());
        assert_eq!(grant.reason_code(), ReasonCode::UnauthorizedCredentials);
        assert!(!ProviderError::InvalidResponse("x".into()).is_retryable());
        let unknown = ProviderError::OAuth { error: OAuthErrorCode::Extension("weird_code".into()), description: None };
        assert_eq!(unknown.to_string(), "the provider answered OAuth error `weird_code`");
    }
}
