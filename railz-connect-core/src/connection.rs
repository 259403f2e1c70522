//! Connections: what the app sees of an authorized link between a business and a service.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{BusinessName, ConnectionId, ServiceName, TenantId, WidgetId};

/// The status of a connection (Railz's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ConnectionStatus {
    /// Authorization started, not finished.
    Pending,
    /// Credentials are stored and usable.
    Active,
    /// Temporarily unusable (for example the provider is failing).
    Inactive,
    /// The connection passed its validity and must be re-authorized.
    Expired,
    /// Disconnected by the app or the business; credentials deleted.
    Disconnected,
    /// The provider refused the credentials (revoked, `invalid_grant`): re-authorization needed.
    Invalid,
}

impl ConnectionStatus {
    /// The wire name (`active`, `disconnected`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Expired => "expired",
            Self::Disconnected => "disconnected",
            Self::Invalid => "invalid",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "active" => Self::Active,
            "inactive" => Self::Inactive,
            "expired" => Self::Expired,
            "disconnected" => Self::Disconnected,
            "invalid" => Self::Invalid,
            _ => return None,
        })
    }
}

impl std::fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an authorization failed or a connection stopped working: the code the app receives on
/// the failure landing page, in events and in errors. Wire names follow Railz's disconnect
/// reasons where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The user declined at the provider.
    AccessDenied,
    /// The authorizing user lacks the administrator or owner role the provider requires.
    InsufficientPermission,
    /// The provider refused the code or credentials (`invalid_grant` on exchange).
    UnauthorizedCredentials,
    /// The credentials expired.
    ExpiredCredentials,
    /// The credentials are gone (deleted, never stored).
    CredentialsNotFound,
    /// The provider refused the refresh token: the business must authorize again.
    ReauthorizationRequired,
    /// The access was revoked at the provider.
    AuthorizationRevoked,
    /// The app's client id or secret was refused (`invalid_client`).
    UnauthorizedClientIdKey,
    /// The business disconnected.
    DisconnectedByCustomer,
    /// The provider answered 429.
    RateLimited,
    /// The provider failed (5xx, unreachable).
    ProviderUnavailable,
    /// The provider did not answer in time.
    Timeout,
    /// The provider's answer was malformed or not what OAuth2 requires.
    InvalidProviderResponse,
    /// The callback was invalid (state, issuer, parameters).
    InvalidCallback,
    /// The authorization was not finished in time.
    AuthorizationExpired,
    /// The provider granted access to no tenant (organisation, company).
    NoTenant,
    /// The provider needs the user to log in, consent or choose an account in its own page
    /// first (OIDC `login_required`, `consent_required`, `interaction_required`,
    /// `account_selection_required`): start the authorization again, interactively.
    InteractionRequired,
    /// The provider refused the request as configured (`invalid_scope`, `invalid_request`,
    /// `unsupported_response_type`): a configuration fault of the app, not of the user.
    InvalidConfiguration,
    /// Any other failure.
    Unknown,
}

impl ReasonCode {
    /// The wire name (`insufficientPermission`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AccessDenied => "accessDenied",
            Self::InsufficientPermission => "insufficientPermission",
            Self::UnauthorizedCredentials => "unauthorizedCredentials",
            Self::ExpiredCredentials => "expiredCredentials",
            Self::CredentialsNotFound => "credentialsNotFound",
            Self::ReauthorizationRequired => "reauthorizationRequired",
            Self::AuthorizationRevoked => "authorizationRevoked",
            Self::UnauthorizedClientIdKey => "unauthorizedClientIdKey",
            Self::DisconnectedByCustomer => "disconnectedByCustomer",
            Self::RateLimited => "rateLimited",
            Self::ProviderUnavailable => "providerUnavailable",
            Self::Timeout => "timeout",
            Self::InvalidProviderResponse => "invalidProviderResponse",
            Self::InvalidCallback => "invalidCallback",
            Self::AuthorizationExpired => "authorizationExpired",
            Self::NoTenant => "noTenant",
            Self::InteractionRequired => "interactionRequired",
            Self::InvalidConfiguration => "invalidConfiguration",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant at a provider: an organisation, company or realm the grant gives access to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Tenant {
    /// The provider's id of the tenant.
    pub id: TenantId,
    /// Its display name.
    pub name: String,
}

impl Tenant {
    /// A tenant (for providers listing tenants, and stores rebuilding a connection's row).
    pub fn new(id: TenantId, name: impl Into<String>) -> Self {
        Self { id, name: name.into() }
    }
}

/// A connection between a business and an accounting service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Connection {
    /// The connection's id (Railz's `connectionUuid`).
    pub id: ConnectionId,
    /// The widget through which it was made.
    pub widget_id: WidgetId,
    /// The business it belongs to.
    pub business_name: BusinessName,
    /// The accounting service.
    pub service_name: ServiceName,
    /// The tenant chosen at the provider, when the provider has tenants.
    pub tenant: Option<Tenant>,
    /// Its status.
    pub status: ConnectionStatus,
    /// Why it has its status, when not active.
    pub status_reason: Option<ReasonCode>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When it stops being valid and must be re-authorized (about 12 months after creation
    /// unless the provider says otherwise).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Connection {
    /// How long a connection is valid unless its provider says otherwise: about 12 months.
    pub const DEFAULT_VALIDITY: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

    /// A new active connection with no tenant and no status reason, last updated at
    /// `created_at`, valid for [`Connection::DEFAULT_VALIDITY`]. The `with_*` methods set the
    /// rest; a store rebuilding a stored row chains them:
    ///
    /// ```
    /// # use railz_connect_core::{BusinessName, Connection, ConnectionId, ConnectionStatus, ReasonCode, ServiceName, Tenant, WidgetId};
    /// # let (id, at) = (ConnectionId::new_random(), railz_connect_core::time::OffsetDateTime::UNIX_EPOCH);
    /// let row = Connection::new(id, WidgetId::new("w")?, BusinessName::new("Acme")?, ServiceName::new("xero")?, at)
    ///     .with_tenant(Some(Tenant::new("org-1".parse()?, "Acme NZ")))
    ///     .with_status(ConnectionStatus::Invalid, Some(ReasonCode::ReauthorizationRequired))
    ///     .with_updated_at(at + railz_connect_core::time::Duration::hours(2))
    ///     .with_expires_at(at + railz_connect_core::time::Duration::days(90));
    /// assert_eq!(row.status_reason, Some(ReasonCode::ReauthorizationRequired));
    /// # Ok::<(), railz_connect_core::InvalidId>(())
    /// ```
    pub fn new(
        id: ConnectionId,
        widget_id: WidgetId,
        business_name: BusinessName,
        service_name: ServiceName,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            widget_id,
            business_name,
            service_name,
            tenant: None,
            status: ConnectionStatus::Active,
            status_reason: None,
            created_at,
            updated_at: created_at,
            expires_at: created_at.checked_add(time::Duration::days(365)).unwrap_or(created_at),
        }
    }

    /// The same connection with this tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: Option<Tenant>) -> Self {
        self.tenant = tenant;
        self
    }

    /// The same connection with this status and status reason (`None`: no reason).
    #[must_use]
    pub fn with_status(mut self, status: ConnectionStatus, reason: Option<ReasonCode>) -> Self {
        self.status = status;
        self.status_reason = reason;
        self
    }

    /// The same connection, last updated at `at`.
    #[must_use]
    pub fn with_updated_at(mut self, at: OffsetDateTime) -> Self {
        self.updated_at = at;
        self
    }

    /// The same connection, valid until `at`.
    #[must_use]
    pub fn with_expires_at(mut self, at: OffsetDateTime) -> Self {
        self.expires_at = at;
        self
    }
}

/// Which connections to list. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionFilter {
    /// Only this business's connections.
    pub business_name: Option<BusinessName>,
    /// Only connections to this service.
    pub service_name: Option<ServiceName>,
    /// Only connections with this status.
    pub status: Option<ConnectionStatus>,
    /// Only connections made through this widget.
    pub widget_id: Option<WidgetId>,
}

impl ConnectionFilter {
    /// Matches every connection.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only this business's connections.
    pub fn with_business(mut self, name: BusinessName) -> Self {
        self.business_name = Some(name);
        self
    }

    /// Only connections to this service.
    pub fn with_service(mut self, name: ServiceName) -> Self {
        self.service_name = Some(name);
        self
    }

    /// Only connections with this status.
    pub fn with_status(mut self, status: ConnectionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only connections made through this widget.
    pub fn with_widget(mut self, widget_id: WidgetId) -> Self {
        self.widget_id = Some(widget_id);
        self
    }

    /// Whether a connection matches: every field that is set is equal.
    pub fn matches(&self, c: &Connection) -> bool {
        self.business_name.as_ref().is_none_or(|b| *b == c.business_name)
            && self.service_name.as_ref().is_none_or(|s| *s == c.service_name)
            && self.status.is_none_or(|s| s == c.status)
            && self.widget_id.as_ref().is_none_or(|w| *w == c.widget_id)
    }
}
