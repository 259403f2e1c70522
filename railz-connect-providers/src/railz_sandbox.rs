//! Railz Cloud Accounting — `railzSandbox`: the sandbox provider. No business authorization:
//! its authorization endpoint approves at once. Everything else is real OAuth2 over HTTP
//! (authorization code + PKCE S256, `iss` in callbacks, rotating refresh tokens, RFC 7009
//! revocation) plus a small accounting API, served by `railz-connect-mock`.
//!
//! - Inputs: optional `useCase`, the sandbox use case (`user_good`, `failed_connection`,
//!   `invalid_credentials`, `insufficient_permission`, `data_empty`), sent as `use_case`.
//! - Tenants: the companies of `GET {api}/companies`; several companies → the user chooses.
//! - Refresh: rotates on every use.
//! - Insufficient role: an error callback whose description starts with
//!   `insufficient_permission:` → [`ReasonCode::InsufficientPermission`].

use async_trait::async_trait;
use railz_connect_core::http::HttpClient;
use railz_connect_core::provider::{
    CallContext, ClientAuth, ClientRegistration, Credentials, InputSpec, Inputs, IssuerParam, OAuth2Definition,
    OAuth2Provider, Pkce, Presence, ProviderError, Quirks, RevocationStyle, Rotation, TokenSet,
    default_callback_error_reason,
};
use railz_connect_core::secret::ClientSecret;
use railz_connect_core::{ReasonCode, Tenant};
use railz_connect_core::{ServiceName, TenantId};
use serde::Deserialize;
use url::Url;

/// The service name.
pub const SERVICE_NAME: &str = "railzSandbox";
/// The display name.
pub const DISPLAY_NAME: &str = "Railz Cloud Accounting";
/// The use cases the sandbox offers.
pub const USE_CASES: [&str; 5] =
    ["user_good", "failed_connection", "invalid_credentials", "insufficient_permission", "data_empty"];

/// Where the sandbox runs and the app's client registration there.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RailzSandboxConfig {
    /// The sandbox's base URL (`http://127.0.0.1:PORT/` for the in-process mock).
    pub base_url: Url,
    /// The app's client registration at the sandbox.
    pub client: ClientRegistration,
}

impl RailzSandboxConfig {
    /// A configuration.
    pub fn new(base_url: Url, client_id: impl Into<String>, client_secret: ClientSecret) -> Self {
        Self::with_client(base_url, ClientRegistration::new(client_id, client_secret))
    }

    /// A configuration with this client registration; the base URL gets a trailing `/`.
    fn with_client(mut base_url: Url, client: ClientRegistration) -> Self {
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Self { base_url, client }
    }

    /// The configuration from a service's registration: the sandbox has no public address, so
    /// its base URL is required.
    pub fn from_service(config: &crate::ServiceConfig) -> Result<Self, crate::ConfigError> {
        let base_url = config.base_url.clone().ok_or_else(|| crate::ConfigError::Missing {
            variable: format!("{}_BASE_URL", crate::env_prefix(SERVICE_NAME)),
        })?;
        let client = config.client.clone().ok_or_else(|| crate::ConfigError::Missing {
            variable: format!("{}_CLIENT_ID", crate::env_prefix(SERVICE_NAME)),
        })?;
        Ok(Self::with_client(base_url, client))
    }

    fn join(&self, path: &str) -> Url {
        // Joining a relative path onto a base ending in '/' cannot fail.
        self.base_url.join(path).unwrap_or_else(|_| self.base_url.clone())
    }

    /// The accounting API's base URL.
    pub fn api_url(&self) -> Url {
        self.join("api/")
    }

    /// The issuer (`iss` of callbacks): the base URL without its trailing slash.
    pub fn issuer(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }
}

/// The sandbox's OAuth2 facts.
pub fn definition(config: &RailzSandboxConfig) -> OAuth2Definition {
    let service = ServiceName::new(SERVICE_NAME).unwrap_or_else(|_| unreachable!("valid constant"));
    OAuth2Definition::new(service, DISPLAY_NAME, config.join("oauth/authorize"), config.join("oauth/token"))
        .with_sandbox(true)
        .with_revocation(config.join("oauth/revoke"), RevocationStyle::Rfc7009)
        .with_issuer(config.issuer(), IssuerParam::Required)
        .with_scopes(&["accounting.read"], " ")
        .with_client_auth(ClientAuth::Basic)
        .with_pkce(Pkce::Required)
        .with_rotation(Rotation::Always)
        .with_tenant_selection()
        .with_input(InputSpec::choice("useCase", "Sandbox use case", &USE_CASES).with_presence(Presence::Optional))
}

/// The sandbox adapter.
pub fn provider(config: &RailzSandboxConfig) -> OAuth2Provider<SandboxQuirks> {
    OAuth2Provider::new(definition(config), config.client.clone(), SandboxQuirks { api: config.api_url() })
}

/// What the sandbox does beyond its definition: the `useCase` input, company listing, and
/// the insufficient-permission error callback.
#[derive(Debug, Clone)]
pub struct SandboxQuirks {
    api: Url,
}

#[derive(Deserialize)]
struct CompanyList {
    companies: Vec<CompanyRef>,
}

#[derive(Deserialize)]
struct CompanyRef {
    id: String,
    name: String,
}

#[async_trait]
impl Quirks for SandboxQuirks {
    fn authorize_params(&self, _definition: &OAuth2Definition, inputs: &Inputs) -> Vec<(String, String)> {
        inputs.get("useCase").map(|u| vec![("use_case".to_owned(), u.to_owned())]).unwrap_or_default()
    }

    async fn list_tenants(&self, cx: &CallContext<'_>, tokens: &TokenSet) -> Result<Vec<Tenant>, ProviderError> {
        let url = self.api.join("companies").map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        let list: CompanyList = cx.http.get_json(get(&url, &Credentials::OAuth2(tokens.clone()))?).await?;
        list.companies
            .into_iter()
            .map(|c| {
                let id = TenantId::new(c.id).map_err(|e| ProviderError::InvalidResponse(format!("company id: {e}")))?;
                Ok(Tenant::new(id, c.name))
            })
            .collect()
    }

    fn callback_error_reason(&self, error: &str, description: Option<&str>) -> ReasonCode {
        if error == "access_denied" && description.is_some_and(|d| d.starts_with("insufficient_permission:")) {
            return ReasonCode::InsufficientPermission;
        }
        default_callback_error_reason(error, description)
    }
}

/// A GET of JSON at `url`, authorized with the credentials' bearer token.
fn get(url: &Url, credentials: &Credentials) -> Result<http::Request<Vec<u8>>, ProviderError> {
    let mut request = http::Request::get(url.as_str())
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
    railz_connect_core::provider::bearer(credentials, &mut request)?;
    Ok(request)
}

/// A small client of the sandbox's accounting API, to prove stored credentials work.
#[derive(Debug, Clone)]
pub struct SandboxApi {
    http: HttpClient,
    api: Url,
}

/// A company's details.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CompanyInfo {
    /// Id.
    pub id: String,
    /// Trading name.
    pub name: String,
    /// Legal name.
    pub legal_name: String,
    /// Country code.
    pub country: String,
    /// Currency code.
    pub currency: String,
}

/// An account of the chart of accounts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Account {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind (asset, liability, equity, income, expense).
    pub kind: String,
    /// Balance in cents.
    pub balance_cents: i64,
}

#[derive(Deserialize)]
struct AccountList {
    accounts: Vec<Account>,
}

impl SandboxApi {
    /// A client of the sandbox at `config`.
    pub fn new(http: HttpClient, config: &RailzSandboxConfig) -> Self {
        Self { http, api: config.api_url() }
    }

    fn company_url(&self, company: &TenantId, suffix: &str) -> Result<Url, ProviderError> {
        let mut url = self.api.join("companies/").map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|_| ProviderError::InvalidRequest("API URL cannot be a base".into()))?
            .pop_if_empty()
            .push(company.as_str())
            .extend(suffix.split('/').filter(|s| !s.is_empty()));
        Ok(url)
    }

    /// The company's details.
    pub async fn company_info(
        &self,
        credentials: &Credentials,
        company: &TenantId,
    ) -> Result<CompanyInfo, ProviderError> {
        self.http.get_json(get(&self.company_url(company, "")?, credentials)?).await
    }

    /// The company's accounts.
    pub async fn accounts(&self, credentials: &Credentials, company: &TenantId) -> Result<Vec<Account>, ProviderError> {
        let list: AccountList = self.http.get_json(get(&self.company_url(company, "accounts")?, credentials)?).await?;
        Ok(list.accounts)
    }
}
