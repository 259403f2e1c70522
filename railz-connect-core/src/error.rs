//! The core error type.

use crate::connection::{ConnectionStatus, ReasonCode};
use crate::crypto::CryptoError;
use crate::ids::{BusinessName, ConnectionId, InvalidId, ServiceName, TenantId, WidgetId};
use crate::provider::AuthKind;
use crate::provider::ProviderError;
use crate::store::StoreError;

/// Why a callback was rejected outright. The token endpoint was not called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The query string could not be parsed.
    #[error("the callback query is malformed")]
    Malformed,
    /// A parameter appears more than once (`code`, `state`, `iss`, ...).
    #[error("the callback repeats parameter `{0}`")]
    DuplicateParameter(String),
    /// No `state`.
    #[error("the callback has no state")]
    MissingState,
    /// The `state` matches no pending authorization: unknown, already used, or purged.
    #[error("the callback's state is unknown or was already used")]
    UnknownState,
    /// The callback arrived at another provider's flow.
    #[error("the callback belongs to service `{expected}`, not `{got}`")]
    ProviderMismatch {
        /// The service of the pending authorization.
        expected: ServiceName,
        /// The service the callback arrived for.
        got: ServiceName,
    },
    /// The `iss` parameter does not name the provider's issuer (mix-up attack).
    #[error("the callback's issuer `{got}` is not the provider's issuer `{expected}`")]
    IssuerMismatch {
        /// The provider's issuer, from configuration.
        expected: String,
        /// What the callback said (at most 256 characters).
        got: String,
    },
    /// The provider always sends `iss`, and this callback has none.
    #[error("the callback has no issuer")]
    MissingIssuer,
    /// The authorization was begun bound to a browser, and this callback does not carry that
    /// browser's binding cookie (the URL was opened in another browser): refused before any
    /// call to the provider. The pending authorization is spent.
    #[error("the callback does not come from the browser that began the authorization")]
    BrowserMismatch,
}

/// Why a widget session token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// It is not a session token at all (bad encoding, truncated).
    #[error("the session token is malformed")]
    Malformed,
    /// It does not authenticate: not issued by this app (another key), or tampered with.
    #[error("the session token was not issued by this app or was tampered with")]
    Forged,
    /// It was issued by this app and has expired: open a new session.
    #[error("the session has expired")]
    Expired,
}

/// What kind of failure an [`Error`] is, for an HTTP layer (the widget router) to answer with:
/// see [`ErrorKind::http_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is invalid (a bad id, input or callback): 400.
    InvalidRequest,
    /// The session is missing, forged or expired: 401.
    Unauthenticated,
    /// The caller may not do this (another widget's business, a callback from another browser
    /// than the one that began): 403.
    Forbidden,
    /// The thing asked for does not exist (a widget, service, connection, ticket): 404.
    NotFound,
    /// The thing is in a state that does not allow it (an unusable connection): 409.
    Conflict,
    /// The provider failed or refused: 502.
    Provider,
    /// Temporarily unavailable; try again (a store outage, a contended refresh): 503.
    Unavailable,
    /// A fault of the app's configuration or of the SDK's environment: 500.
    Internal,
}

impl ErrorKind {
    /// The HTTP status an HTTP layer answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::Provider => 502,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

/// Errors of [`crate::Connect`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An identifier was refused.
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// No widget has this id.
    #[error("unknown widget `{0}`")]
    UnknownWidget(WidgetId),
    /// No provider is registered for this service.
    #[error("unknown service `{0}`")]
    UnknownService(ServiceName),
    /// The widget does not offer this service.
    #[error("widget `{widget}` does not offer service `{service}`")]
    ServiceNotOffered {
        /// The widget.
        widget: WidgetId,
        /// The service.
        service: ServiceName,
    },
    /// The widget session token is malformed, forged or tampered with, or expired.
    #[error("invalid widget session")]
    InvalidSession(#[source] SessionError),
    /// The service is not connected this way: [`Connect::begin`](crate::Connect::begin) for a
    /// credential-based service, or [`Connect::connect_with_inputs`](crate::Connect::connect_with_inputs)
    /// for a redirect one.
    #[error("service `{service}` is connected by {expected:?}, not this way")]
    WrongAuthKind {
        /// The service.
        service: ServiceName,
        /// How it is connected.
        expected: AuthKind,
    },
    /// The callback was rejected.
    #[error("callback rejected")]
    Callback(#[from] CallbackError),
    /// The tenant-selection ticket is unknown, used or expired.
    #[error("the tenant-selection ticket is unknown, used or expired")]
    UnknownTicket,
    /// The chosen tenant is not one the grant gives access to.
    #[error("tenant `{0}` is not one the authorization gives access to")]
    UnknownTenant(TenantId),
    /// No connection has this id.
    #[error("connection {0} not found")]
    ConnectionNotFound(ConnectionId),
    /// The connection has no credentials (disconnected).
    #[error("connection {0} has no credentials")]
    CredentialsNotFound(ConnectionId),
    /// The connection is not usable in its status.
    #[error("connection {id} is {status}")]
    ConnectionUnusable {
        /// The connection.
        id: ConnectionId,
        /// Its status.
        status: ConnectionStatus,
    },
    /// The provider refused the refresh token: the business must authorize again.
    #[error("connection {0} needs re-authorization")]
    NeedsReauthorization(ConnectionId),
    /// The business name was reserved through another widget: a session of this widget may not
    /// see or extend its connections. Business names are unique across the app's widgets.
    #[error("business `{business}` belongs to another widget than `{widget}`")]
    BusinessOfAnotherWidget {
        /// The business.
        business: BusinessName,
        /// The widget that asked.
        widget: WidgetId,
    },
    /// Another instance held the connection's refresh lease longer than this instance waits
    /// (twice the lease time); try again.
    #[error("connection {0} is being refreshed by another instance; try again")]
    RefreshContended(ConnectionId),
    /// No unique business name could be generated (the store keeps answering "taken").
    #[error("no unique business name could be generated")]
    BusinessNameExhausted,
    /// A provider call failed.
    #[error("provider `{service}` failed")]
    Provider {
        /// The service.
        service: ServiceName,
        /// What failed.
        #[source]
        source: ProviderError,
    },
    /// Encryption or decryption failed.
    #[error("credential encryption failed")]
    Crypto(#[from] CryptoError),
    /// The store failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl Error {
    /// The reason code this error gives the app.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Callback(_) => ReasonCode::InvalidCallback,
            Self::InvalidSession(SessionError::Expired) | Self::UnknownTicket => ReasonCode::AuthorizationExpired,
            Self::InvalidSession(_) => ReasonCode::InvalidCallback,
            Self::CredentialsNotFound(_) | Self::ConnectionNotFound(_) => ReasonCode::CredentialsNotFound,
            Self::NeedsReauthorization(_) => ReasonCode::ReauthorizationRequired,
            Self::ConnectionUnusable { status: ConnectionStatus::Expired, .. } => ReasonCode::ExpiredCredentials,
            Self::ConnectionUnusable { status: ConnectionStatus::Disconnected, .. } => {
                ReasonCode::DisconnectedByCustomer
            }
            Self::ConnectionUnusable { .. } => ReasonCode::ReauthorizationRequired,
            Self::Provider { source, .. } => source.reason_code(),
            _ => ReasonCode::Unknown,
        }
    }

    /// What kind of failure this is (for an HTTP answer: [`ErrorKind::http_status`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            // Not this browser's authorization: a refusal, not a malformed request.
            Self::Callback(CallbackError::BrowserMismatch) => ErrorKind::Forbidden,
            Self::InvalidId(_) | Self::Callback(_) | Self::UnknownTenant(_) | Self::WrongAuthKind { .. } => {
                ErrorKind::InvalidRequest
            }
            Self::Provider { source: ProviderError::InvalidInput { .. }, .. } => ErrorKind::InvalidRequest,
            Self::Provider { source: ProviderError::EndpointNotAllowed(_), .. } => ErrorKind::InvalidRequest,
            Self::InvalidSession(_) => ErrorKind::Unauthenticated,
            Self::BusinessOfAnotherWidget { .. } | Self::ServiceNotOffered { .. } => ErrorKind::Forbidden,
            Self::UnknownWidget(_)
            | Self::UnknownService(_)
            | Self::UnknownTicket
            | Self::ConnectionNotFound(_)
            | Self::CredentialsNotFound(_) => ErrorKind::NotFound,
            Self::ConnectionUnusable { .. } | Self::NeedsReauthorization(_) => ErrorKind::Conflict,
            Self::Provider { source, .. } if source.is_retryable() => ErrorKind::Unavailable,
            Self::Provider { .. } => ErrorKind::Provider,
            Self::RefreshContended(_) | Self::Store(StoreError::Backend(_)) => ErrorKind::Unavailable,
            Self::InvalidConfig(_) | Self::BusinessNameExhausted | Self::Crypto(_) | Self::Store(_) => {
                ErrorKind::Internal
            }
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Provider { source, .. } => source.is_retryable(),
            Self::Store(StoreError::Backend(_)) | Self::RefreshContended(_) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses() {
        let id = ConnectionId::new_random();
        let service: ServiceName = "xero".parse().unwrap();
        let status = |status| ProviderError::Status { status, retry_after: None, body: None, headers: Vec::new() };
        let cases = [
            (Error::InvalidSession(SessionError::Expired), ErrorKind::Unauthenticated, 401),
            (Error::Callback(CallbackError::UnknownState), ErrorKind::InvalidRequest, 400),
            (Error::Callback(CallbackError::BrowserMismatch), ErrorKind::Forbidden, 403),
            (Error::UnknownTicket, ErrorKind::NotFound, 404),
            (Error::ConnectionNotFound(id), ErrorKind::NotFound, 404),
            (Error::ConnectionUnusable { id, status: ConnectionStatus::Expired }, ErrorKind::Conflict, 409),
            (
                Error::BusinessOfAnotherWidget { business: "Acme".parse().unwrap(), widget: "w".parse().unwrap() },
                ErrorKind::Forbidden,
                403,
            ),
            (Error::Provider { service: service.clone(), source: status(503) }, ErrorKind::Unavailable, 503),
            (Error::Provider { service: service.clone(), source: status(404) }, ErrorKind::Provider, 502),
            (Error::RefreshContended(id), ErrorKind::Unavailable, 503),
            (Error::InvalidConfig("x".into()), ErrorKind::Internal, 500),
            (Error::Store(StoreError::Corrupt("x".into())), ErrorKind::Internal, 500),
        ];
        for (error, kind, http) in cases {
            assert_eq!((error.kind(), error.kind().http_status()), (kind, http), "{error:?}");
        }
    }
}
