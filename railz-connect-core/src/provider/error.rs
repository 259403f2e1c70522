//! Why a call to a provider failed, and the OAuth error codes.

use std::fmt;
use std::time::Duration;

use super::BoxError;
use crate::connection::ReasonCode;
use crate::text::{MAX_LOGGED, bounded};

/// An OAuth 2.0 error code (RFC 6749 5.2 and 4.1.2.1). The SDK's own type: an oauth2-rs
/// release does not change it. Unknown codes keep their text (at most 256 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client`.
    InvalidClient,
    /// `invalid_grant`.
    InvalidGrant,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// `access_denied`.
    AccessDenied,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// Any other code, as the provider wrote it.
    Other(String),
}

impl OAuthErrorCode {
    /// Reads a code.
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            other => Self::Other(bounded(other, MAX_LOGGED)),
        }
    }

    /// The code as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call to a provider failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider answered an OAuth error (`invalid_grant`, `invalid_client`, ...).
    #[error("the provider answered OAuth error `{error}`")]
    OAuth {
        /// The error code.
        error: OAuthErrorCode,
        /// The provider's description, if any (at most 256 characters, control characters
        /// replaced).
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
        /// The start of the response body (at most 256 characters, control characters
        /// replaced), when there was one: what the provider said about the failure.
        body: Option<String>,
        /// The response headers that help diagnose a failure (content type,
        /// `WWW-Authenticate`, request and correlation ids), each value bounded; never
        /// cookies.
        headers: Vec<(String, String)>,
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
        /// What is wrong (never the value).
        reason: String,
    },
    /// The provider refused the credentials the business entered (a credential-based
    /// service: wrong password, disabled web-services user).
    #[error("the provider refused the credentials: {0}")]
    CredentialsRefused(String),
    /// The user who authorized lacks the administrator or owner role the provider requires.
    #[error("the user lacks the role the provider requires: {0}")]
    InsufficientRole(String),
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
    /// An endpoint a [`Quirks`](super::Quirks) derived (from inputs or a callback) is not on a
    /// host the definition allows: nothing was sent there (mix-up defense).
    #[error("endpoint host `{0}` is not one the provider's definition allows")]
    EndpointNotAllowed(String),
    /// The provider does not support this operation (see [`Capabilities`](super::Capabilities)).
    #[error("the provider does not support {0}")]
    Unsupported(&'static str),
}

impl ProviderError {
    /// An OAuth error answer; the description is bounded.
    pub fn oauth(error: OAuthErrorCode, description: Option<&str>) -> Self {
        Self::OAuth { error, description: description.map(|d| bounded(d, MAX_LOGGED)) }
    }

    /// Whether trying again later may succeed: 429, 5xx, time-outs, broken connections and the
    /// OAuth errors `server_error` / `temporarily_unavailable`. `invalid_grant` and other 4xx
    /// answers are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Timeout | Self::Transport(_) => true,
            Self::OAuth { error, .. } => {
                matches!(error, OAuthErrorCode::ServerError | OAuthErrorCode::TemporarilyUnavailable)
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
        matches!(self, Self::OAuth { error: OAuthErrorCode::InvalidGrant, .. } | Self::CredentialsRefused(_))
    }

    /// The reason code this failure gives the app.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::OAuth { error, .. } => match error {
                OAuthErrorCode::InvalidGrant => ReasonCode::UnauthorizedCredentials,
                OAuthErrorCode::InvalidClient | OAuthErrorCode::UnauthorizedClient => {
                    ReasonCode::UnauthorizedClientIdKey
                }
                OAuthErrorCode::ServerError | OAuthErrorCode::TemporarilyUnavailable => ReasonCode::ProviderUnavailable,
                OAuthErrorCode::AccessDenied => ReasonCode::AccessDenied,
                OAuthErrorCode::InvalidScope
                | OAuthErrorCode::InvalidRequest
                | OAuthErrorCode::UnsupportedGrantType => ReasonCode::InvalidConfiguration,
                OAuthErrorCode::Other(_) => ReasonCode::Unknown,
            },
            Self::CredentialsRefused(_) => ReasonCode::UnauthorizedCredentials,
            Self::InsufficientRole(_) => ReasonCode::InsufficientPermission,
            Self::Status { status: 429, .. } => ReasonCode::RateLimited,
            Self::Status { status: 401, .. } => ReasonCode::UnauthorizedCredentials,
            Self::Status { status: 403, .. } => ReasonCode::InsufficientPermission,
            Self::Status { .. } | Self::Transport(_) => ReasonCode::ProviderUnavailable,
            Self::Timeout => ReasonCode::Timeout,
            Self::Redirect { .. } | Self::InvalidResponse(_) => ReasonCode::InvalidProviderResponse,
            Self::EndpointNotAllowed(_) => ReasonCode::InvalidCallback,
            Self::IssuerMismatch { .. } | Self::InvalidRequest(_) => ReasonCode::InvalidConfiguration,
            Self::InvalidInput { .. } | Self::Unsupported(_) => ReasonCode::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability() {
        let status = |status| ProviderError::Status { status, retry_after: None, body: None, headers: Vec::new() };
        assert!(status(429).is_retryable());
        assert!(status(503).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(ProviderError::Timeout.is_retryable());
        let grant = ProviderError::oauth(OAuthErrorCode::InvalidGrant, None);
        assert!(!grant.is_retryable());
        assert!(grant.is_invalid_grant());
        assert_eq!(grant.reason_code(), ReasonCode::UnauthorizedCredentials);
        assert!(!ProviderError::InvalidResponse("x".into()).is_retryable());
        let unknown = ProviderError::oauth(OAuthErrorCode::parse("weird_code"), None);
        assert_eq!(unknown.to_string(), "the provider answered OAuth error `weird_code`");
        assert!(ProviderError::oauth(OAuthErrorCode::parse("temporarily_unavailable"), None).is_retryable());
    }

    #[test]
    fn codes_round_trip_and_unknown_ones_are_bounded() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "access_denied",
            "server_error",
            "temporarily_unavailable",
        ] {
            let parsed = OAuthErrorCode::parse(code);
            assert!(!matches!(parsed, OAuthErrorCode::Other(_)), "{code}");
            assert_eq!(parsed.as_str(), code);
        }
        let long = OAuthErrorCode::parse(&"x".repeat(10_000));
        assert!(long.as_str().chars().count() <= MAX_LOGGED + 1);
    }
}
