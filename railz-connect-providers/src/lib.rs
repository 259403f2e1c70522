//! # railz-connect-providers
//!
//! One module per accounting service, each behind its own cargo feature (`all` enables every
//! one), the app's configuration of them ([`ProvidersConfig`]: one [`ServiceConfig`] per
//! service, from the builder or from documented environment variables), and [`registry`],
//! which builds the [`ProviderRegistry`] of the services an app configures.
//!
//! | module | service name | display name | variables |
//! |---|---|---|---|
//! | [`railz_sandbox`] | `railzSandbox` | Railz Cloud Accounting (sandbox) | `RAILZ_SANDBOX_CLIENT_ID`, `RAILZ_SANDBOX_CLIENT_SECRET`, `RAILZ_SANDBOX_BASE_URL` (required) |
//!
//! The real services (QuickBooks Online, Xero, Sage, FreshBooks, Zoho Books, Business Central,
//! NetSuite, Wave, MYOB, FreeAgent, Sage Intacct) arrive as further modules of the same shape:
//! an [`railz_connect_core::provider::OAuth2Definition`] plus a small
//! [`railz_connect_core::provider::Quirks`] implementation, configured the same way.
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

#[cfg(feature = "railz-sandbox")]
pub mod railz_sandbox;

use std::collections::BTreeMap;
use std::fmt;
#[cfg(feature = "railz-sandbox")]
use std::sync::Arc;

use railz_connect_core::ServiceName;
use railz_connect_core::provider::{ClientRegistration, ProviderRegistry};
use railz_connect_core::secret::ClientSecret;
use url::Url;

/// The services this build knows (one per enabled feature).
pub const SERVICES: &[&str] = &[
    #[cfg(feature = "railz-sandbox")]
    railz_sandbox::SERVICE_NAME,
];

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
    /// No service of this build has this name.
    #[error("unknown service `{0}`")]
    UnknownService(ServiceName),
}

/// The app's configuration of one service: its client registration there and, optionally,
/// where the service is (a base URL that replaces its default endpoints: a staging server, an
/// emulation, the sandbox).
#[derive(Clone)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// The app's client id and secret at the service.
    pub client: ClientRegistration,
    /// Where the service is, instead of its default endpoints.
    pub base_url: Option<Url>,
}

impl ServiceConfig {
    /// A configuration with this client registration and the service's default endpoints.
    pub fn new(client: ClientRegistration) -> Self {
        Self { client, base_url: None }
    }

    /// With a base URL.
    #[must_use]
    pub fn with_base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("client", &self.client)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
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

    /// Reads every known service's configuration from the environment: for a service with
    /// prefix `P` (see [`env_prefix`]), `P_CLIENT_ID` enables it, `P_CLIENT_SECRET` is then
    /// required, and `P_BASE_URL` is read when set. Services whose `P_CLIENT_ID` is unset are
    /// left out. An error names the variable, never its value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var_os(name).map(|v| v.into_string().map_err(|_| ())))
    }

    /// [`ProvidersConfig::from_env`] over any source of variables (`Err(())`: set, not UTF-8).
    pub fn from_vars(var: impl Fn(&str) -> Option<Result<String, ()>>) -> Result<Self, ConfigError> {
        let read = |variable: String| -> Result<Option<String>, ConfigError> {
            match var(&variable) {
                None => Ok(None),
                Some(Ok(v)) if v.trim().is_empty() => Err(ConfigError::Invalid { variable, reason: "is empty".into() }),
                Some(Ok(v)) => Ok(Some(v)),
                Some(Err(())) => Err(ConfigError::Invalid { variable, reason: "is not valid UTF-8".into() }),
            }
        };
        let mut config = Self::new();
        for service in SERVICES {
            let prefix = env_prefix(service);
            let Some(id) = read(format!("{prefix}_CLIENT_ID"))? else { continue };
            let secret_var = format!("{prefix}_CLIENT_SECRET");
            let secret = read(secret_var.clone())?.ok_or(ConfigError::Missing { variable: secret_var })?;
            let mut service_config = ServiceConfig::new(ClientRegistration::new(id, ClientSecret::new(secret)));
            let url_var = format!("{prefix}_BASE_URL");
            if let Some(url) = read(url_var.clone())? {
                let url = Url::parse(&url)
                    .map_err(|e| ConfigError::Invalid { variable: url_var.clone(), reason: e.to_string() })?;
                if !matches!(url.scheme(), "https" | "http") {
                    return Err(ConfigError::Invalid { variable: url_var, reason: "is not an http(s) URL".into() });
                }
                service_config = service_config.with_base_url(url);
            }
            let name = ServiceName::new(*service)
                .map_err(|e| ConfigError::Invalid { variable: format!("{prefix}_CLIENT_ID"), reason: e.to_string() })?;
            config.services.insert(name, service_config);
        }
        Ok(config)
    }
}

/// The registry of the configured providers. A configured service this build does not know,
/// or whose configuration it cannot use (the sandbox without a base URL), is an error.
pub fn registry(config: &ProvidersConfig) -> Result<ProviderRegistry, ConfigError> {
    // (Without any provider feature nothing is registered, and `mut` is unused.)
    #[cfg_attr(not(feature = "railz-sandbox"), allow(unused_mut))]
    let mut registry = ProviderRegistry::new();
    for (service, service_config) in config.iter() {
        match service.as_str() {
            #[cfg(feature = "railz-sandbox")]
            railz_sandbox::SERVICE_NAME => {
                let sandbox = railz_sandbox::RailzSandboxConfig::from_service(service_config)?;
                registry.register(Arc::new(railz_sandbox::provider(&sandbox)));
            }
            _ => {
                let _ = service_config;
                return Err(ConfigError::UnknownService(service.clone()));
            }
        }
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

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
