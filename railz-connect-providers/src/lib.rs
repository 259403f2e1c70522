//! # railz-connect-providers
//!
//! The accounting services railz-connect connects, as a **catalog of definition files** (one
//! TOML file per service under `catalog/`, embedded at build time, validated when loaded; see
//! [`catalog`]) run by one generic adapter, plus Rust hooks for what data cannot say
//! (Business Central's environments, NetSuite's signed requests, Sage Intacct's XML
//! sessions), and the sandbox, Railz Cloud Accounting ([`railz_sandbox`]).
//!
//! An app enables a service by giving its client registration ([`ServiceConfig`]), in code or
//! from the environment ([`ProvidersConfig::from_env`]: `RAILZ_<SERVICE>_CLIENT_ID`,
//! `_CLIENT_SECRET`, and optionally `_BASE_URL`, `_ENVIRONMENT`, `_AUTH`), and builds the
//! [`ProviderRegistry`] with [`registry`] (or [`registry_with`] over its own [`Catalog`]: a
//! definition file it adds shows up in the registry and the service list with no other
//! change). The table of services, their facts and sources is in this crate's README.
//!
//! ```
//! use railz_connect_core::provider::ClientRegistration;
//! use railz_connect_core::secret::ClientSecret;
//! use railz_connect_providers::{ProvidersConfig, ServiceConfig, registry};
//!
//! let sandbox = ServiceConfig::new(ClientRegistration::new("my-client-id", ClientSecret::new("my-client-secret")))
//!     .with_base_url("http://127.0.0.1:8900/".parse().unwrap());
//! let config = ProvidersConfig::new().with_service("railzSandbox".parse().unwrap(), sandbox);
//! let providers = registry(&config)?;
//! assert_eq!(providers.service_names().map(|s| s.as_str()).collect::<Vec<_>>(), ["railzSandbox"]);
//! # Ok::<(), railz_connect_providers::ConfigError>(())
//! ```

#![forbid(unsafe_code)]

mod adapter;
pub mod catalog;
#[cfg(feature = "conformance")]
pub mod conformance;
mod dynamics_business_central;
mod oauth1;
mod oracle_netsuite;
#[cfg(feature = "railz-sandbox")]
pub mod railz_sandbox;
mod sage_intacct;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use railz_connect_core::ServiceName;
use railz_connect_core::provider::{ClientRegistration, Provider, ProviderRegistry};
use railz_connect_core::secret::ClientSecret;
use url::Url;

pub use adapter::CatalogQuirks;
pub use catalog::{AuthMode, Catalog, CatalogError, ServiceDefinition, Support};
pub use oracle_netsuite::NetsuiteTba;
pub use sage_intacct::SageIntacct;

use crate::adapter::Placement;
use crate::catalog::Hooks;

/// Why a provider configuration was refused. Each error names the environment variable (or,
/// for a configuration built in code, the variable it stands for) and never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable the service needs is not set.
    #[error("{variable} is required")]
    Missing {
        /// The variable.
        variable: String,
    },
    /// A variable is set but not valid.
    #[error("{variable} is invalid: {reason}")]
    Invalid {
        /// The variable.
        variable: String,
        /// What is wrong (never the value).
        reason: String,
    },
    /// No service of this build or catalog has this name.
    #[error("unknown service `{0}`")]
    UnknownService(ServiceName),
    /// The catalog lists the service as one the SDK cannot connect.
    #[error("`{service}` is not supported: {reason}")]
    Unsupported {
        /// The service.
        service: ServiceName,
        /// Why.
        reason: String,
    },
    /// The service cannot be connected this way (an auth mode its definition lacks).
    #[error("`{service}` has no {mode} connection")]
    NoSuchMode {
        /// The service.
        service: ServiceName,
        /// The mode asked for.
        mode: AuthMode,
    },
    /// A catalog definition is invalid.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// Which of a provider's environments to use, where its definition has a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// The real service.
    #[default]
    Production,
    /// The provider's own sandbox (QuickBooks' sandbox companies, FreeAgent's sandbox).
    Sandbox,
}

/// The app's configuration of one service: its client registration there and, optionally,
/// where the service is (a base URL onto which every endpoint and API URL of the service is
/// moved, keeping its path: a staging server, an emulation, the sandbox), which environment,
/// and which way in.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// The app's client id and secret at the service (Sage Intacct: the sender id and sender
    /// password). `None` for a way in that needs none (NetSuite's token-based authentication,
    /// whose keys the business enters).
    pub client: Option<ClientRegistration>,
    /// Where the service is, instead of its default endpoints.
    pub base_url: Option<Url>,
    /// Production or the provider's sandbox.
    pub environment: Environment,
    /// The way in (default: the definition's first).
    pub auth_mode: Option<AuthMode>,
}

impl ServiceConfig {
    /// A configuration with this client registration and the service's default endpoints.
    pub fn new(client: ClientRegistration) -> Self {
        Self { client: Some(client), base_url: None, environment: Environment::Production, auth_mode: None }
    }

    /// A configuration without a client registration, for a way in that needs none.
    pub fn without_client() -> Self {
        Self { client: None, base_url: None, environment: Environment::Production, auth_mode: None }
    }

    /// With a base URL.
    #[must_use]
    pub fn with_base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// With an environment.
    #[must_use]
    pub fn with_environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// With a way in (NetSuite: [`AuthMode::OAuth2`] or [`AuthMode::Credentials`]).
    #[must_use]
    pub fn with_auth_mode(mut self, mode: AuthMode) -> Self {
        self.auth_mode = Some(mode);
        self
    }

    fn placement(&self) -> Placement {
        Placement { base: self.base_url.clone(), sandbox: self.environment == Environment::Sandbox }
    }
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("client", &self.client)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("environment", &self.environment)
            .field("auth_mode", &self.auth_mode)
            .finish()
    }
}

/// The services an app enables, by service name: a service is enabled by giving its
/// configuration.
#[derive(Debug, Clone, Default)]
pub struct ProvidersConfig {
    services: BTreeMap<ServiceName, ServiceConfig>,
}

/// The environment-variable prefix of a service: `RAILZ_` and the service name in
/// SCREAMING_SNAKE_CASE, without doubling a leading `RAILZ` (`quickbooks` →
/// `RAILZ_QUICKBOOKS`, `sageBusinessCloud` → `RAILZ_SAGE_BUSINESS_CLOUD`, `railzSandbox` →
/// `RAILZ_SANDBOX`).
pub fn env_prefix(service: &str) -> String {
    let mut snake = String::new();
    for (i, c) in service.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_uppercase());
    }
    match snake.strip_prefix("RAILZ_") {
        Some(rest) => format!("RAILZ_{rest}"),
        None => format!("RAILZ_{snake}"),
    }
}

impl ProvidersConfig {
    /// No service enabled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Enables a service with this configuration (replacing an earlier one).
    #[must_use]
    pub fn with_service(mut self, service: ServiceName, config: ServiceConfig) -> Self {
        self.services.insert(service, config);
        self
    }

    /// A service's configuration.
    pub fn get(&self, service: &ServiceName) -> Option<&ServiceConfig> {
        self.services.get(service)
    }

    /// The enabled services and their configurations, by service name.
    pub fn iter(&self) -> impl Iterator<Item = (&ServiceName, &ServiceConfig)> {
        self.services.iter()
    }

    /// Reads the configuration of the sandbox and of every service of the built-in catalog
    /// from the environment (see [`ProvidersConfig::from_vars_with`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(&Catalog::builtin()?)
    }

    /// Reads the configuration of the sandbox and of every service of `catalog` from the
    /// environment (see [`ProvidersConfig::from_vars_with`]).
    pub fn from_env_with(catalog: &Catalog) -> Result<Self, ConfigError> {
        Self::from_vars_with(catalog, |name| std::env::var_os(name).map(|v| v.into_string().map_err(|_| ())))
    }

    /// [`ProvidersConfig::from_env`] over any source of variables (`Err(())`: set, not UTF-8).
    pub fn from_vars(var: impl Fn(&str) -> Option<Result<String, ()>>) -> Result<Self, ConfigError> {
        Self::from_vars_with(&Catalog::builtin()?, var)
    }

    /// Reads each service's configuration: for a service with prefix `P` (see
    /// [`env_prefix`]), `P_CLIENT_ID` enables it and `P_CLIENT_SECRET` is then required;
    /// `P_BASE_URL` (every endpoint moved onto it), `P_ENVIRONMENT` (`production` or
    /// `sandbox`) and `P_AUTH` (`oauth2` or `credentials`) are read when set, and
    /// `P_AUTH=credentials` alone enables a service whose credentials mode needs no client.
    /// Services with neither are left out. An error names the variable, never its value.
    pub fn from_vars_with(
        catalog: &Catalog,
        var: impl Fn(&str) -> Option<Result<String, ()>>,
    ) -> Result<Self, ConfigError> {
        let read = |variable: String| -> Result<Option<String>, ConfigError> {
            match var(&variable) {
                None => Ok(None),
                Some(Ok(v)) if v.trim().is_empty() => Err(ConfigError::Invalid { variable, reason: "is empty".into() }),
                Some(Ok(v)) => Ok(Some(v)),
                Some(Err(())) => Err(ConfigError::Invalid { variable, reason: "is not valid UTF-8".into() }),
            }
        };
        let sandbox = [
            #[cfg(feature = "railz-sandbox")]
            ServiceName::new(railz_sandbox::SERVICE_NAME).unwrap_or_else(|_| unreachable!("valid constant")),
        ];
        let names: Vec<ServiceName> = catalog.iter().map(|d| d.service_name().clone()).chain(sandbox).collect();
        let mut config = Self::new();
        for service in names {
            let prefix = env_prefix(service.as_str());
            let auth_var = format!("{prefix}_AUTH");
            let mode = match read(auth_var.clone())?.as_deref() {
                None => None,
                Some("oauth2") => Some(AuthMode::OAuth2),
                Some("credentials") => Some(AuthMode::Credentials),
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        variable: auth_var,
                        reason: "is `oauth2` or `credentials`".into(),
                    });
                }
            };
            let mut service_config = match read(format!("{prefix}_CLIENT_ID"))? {
                Some(id) => {
                    let secret_var = format!("{prefix}_CLIENT_SECRET");
                    let secret = read(secret_var.clone())?.ok_or(ConfigError::Missing { variable: secret_var })?;
                    ServiceConfig::new(ClientRegistration::new(id, ClientSecret::new(secret)))
                }
                None if mode == Some(AuthMode::Credentials) => ServiceConfig::without_client(),
                None => continue,
            };
            if let Some(mode) = mode {
                service_config = service_config.with_auth_mode(mode);
            }
            let url_var = format!("{prefix}_BASE_URL");
            if let Some(url) = read(url_var.clone())? {
                let url = Url::parse(&url)
                    .map_err(|e| ConfigError::Invalid { variable: url_var.clone(), reason: e.to_string() })?;
                if !matches!(url.scheme(), "https" | "http") {
                    return Err(ConfigError::Invalid { variable: url_var, reason: "is not an http(s) URL".into() });
                }
                service_config = service_config.with_base_url(url);
            }
            let env_var = format!("{prefix}_ENVIRONMENT");
            match read(env_var.clone())?.as_deref() {
                None | Some("production") => {}
                Some("sandbox") => service_config = service_config.with_environment(Environment::Sandbox),
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        variable: env_var,
                        reason: "is `production` or `sandbox`".into(),
                    });
                }
            }
            config.services.insert(service, service_config);
        }
        Ok(config)
    }
}

/// The registry of the configured providers, from the built-in catalog (see
/// [`registry_with`]).
pub fn registry(config: &ProvidersConfig) -> Result<ProviderRegistry, ConfigError> {
    registry_with(&Catalog::builtin()?, config)
}

/// The registry of the configured providers of `catalog` (and the sandbox). A configured
/// service the catalog does not know, lists as unsupported, or whose configuration it cannot
/// use (no client registration where one is needed, the sandbox without a base URL) is an
/// error.
pub fn registry_with(catalog: &Catalog, config: &ProvidersConfig) -> Result<ProviderRegistry, ConfigError> {
    let mut registry = ProviderRegistry::new();
    for (service, service_config) in config.iter() {
        #[cfg(feature = "railz-sandbox")]
        if service.as_str() == railz_sandbox::SERVICE_NAME {
            let sandbox = railz_sandbox::RailzSandboxConfig::from_service(service_config)?;
            registry.register(Arc::new(railz_sandbox::provider(&sandbox)));
            continue;
        }
        let definition = catalog.get_arc(service).ok_or_else(|| ConfigError::UnknownService(service.clone()))?;
        registry.register(provider(definition, service_config)?);
    }
    Ok(registry)
}

/// The adapter of one catalog definition with the app's configuration of it.
pub fn provider_for(definition: &ServiceDefinition, config: &ServiceConfig) -> Result<Arc<dyn Provider>, ConfigError> {
    provider(Arc::new(definition.clone()), config)
}

fn provider(definition: Arc<ServiceDefinition>, config: &ServiceConfig) -> Result<Arc<dyn Provider>, ConfigError> {
    let service = definition.service_name().clone();
    if let Support::Unsupported { reason } = definition.support() {
        return Err(ConfigError::Unsupported { service, reason: reason.clone() });
    }
    let mode = config.auth_mode.or_else(|| definition.auth_modes().first().copied()).unwrap_or(AuthMode::OAuth2);
    if !definition.auth_modes().contains(&mode) {
        return Err(ConfigError::NoSuchMode { service, mode });
    }
    let prefix = env_prefix(service.as_str());
    let client =
        || config.client.clone().ok_or_else(|| ConfigError::Missing { variable: format!("{prefix}_CLIENT_ID") });
    let invalid = |reason: String| ConfigError::Invalid { variable: format!("{prefix}_CLIENT_ID"), reason };
    let placement = config.placement();
    Ok(match (mode, definition.hooks) {
        (AuthMode::Credentials, Some(Hooks::NetsuiteTba)) => Arc::new(NetsuiteTba::new(definition, placement)),
        (AuthMode::Credentials, Some(Hooks::SageIntacct)) => {
            Arc::new(SageIntacct::new(&definition, &client()?, &placement).map_err(invalid)?)
        }
        (AuthMode::Credentials, _) => return Err(ConfigError::NoSuchMode { service, mode }),
        _ => Arc::new(adapter::oauth2_provider(definition, client()?, placement).map_err(|reason| {
            ConfigError::Catalog(CatalogError { file: String::new(), field: "oauth2".into(), reason })
        })?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "railz-sandbox")]
    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<Result<String, ()>> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| Ok((*v).to_owned()))
    }

    #[test]
    fn prefixes() {
        assert_eq!(env_prefix("quickbooks"), "RAILZ_QUICKBOOKS");
        assert_eq!(env_prefix("sageBusinessCloud"), "RAILZ_SAGE_BUSINESS_CLOUD");
        assert_eq!(env_prefix("railzSandbox"), "RAILZ_SANDBOX");
    }

    #[test]
    #[cfg(feature = "railz-sandbox")]
    fn from_vars_enables_and_names_the_variable() {
        assert!(ProvidersConfig::from_vars(vars(&[])).unwrap().iter().next().is_none(), "nothing set: nothing enabled");
        let ok = ProvidersConfig::from_vars(vars(&[
            ("RAILZ_SANDBOX_CLIENT_ID", "id"),
            ("RAILZ_SANDBOX_CLIENT_SECRET", "SENTINEL-secret"),
            ("RAILZ_SANDBOX_BASE_URL", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert!(!format!("{ok:?}").contains("SENTINEL"));
        assert_eq!(registry(&ok).unwrap().len(), 1);
        let e = ProvidersConfig::from_vars(vars(&[("RAILZ_SANDBOX_CLIENT_ID", "id")])).unwrap_err();
        assert_eq!(e, ConfigError::Missing { variable: "RAILZ_SANDBOX_CLIENT_SECRET".into() });
        let e = ProvidersConfig::from_vars(vars(&[
            ("RAILZ_SANDBOX_CLIENT_ID", "id"),
            ("RAILZ_SANDBOX_CLIENT_SECRET", "s"),
            ("RAILZ_SANDBOX_BASE_URL", "not a url SENTINEL"),
        ]))
        .unwrap_err();
        assert!(matches!(&e, ConfigError::Invalid { variable, .. } if variable == "RAILZ_SANDBOX_BASE_URL"));
        assert!(!e.to_string().contains("SENTINEL"), "{e}");
        let no_url = ProvidersConfig::from_vars(vars(&[
            ("RAILZ_SANDBOX_CLIENT_ID", "id"),
            ("RAILZ_SANDBOX_CLIENT_SECRET", "s"),
        ]))
        .unwrap();
        assert_eq!(registry(&no_url).unwrap_err(), ConfigError::Missing { variable: "RAILZ_SANDBOX_BASE_URL".into() });
        let not_utf8 = |name: &str| (name == "RAILZ_SANDBOX_CLIENT_ID").then_some(Err(()));
        assert!(matches!(ProvidersConfig::from_vars(not_utf8), Err(ConfigError::Invalid { .. })));
    }
}
