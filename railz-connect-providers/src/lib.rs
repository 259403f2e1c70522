//! # railz-connect-providers
//!
//! One module per accounting service, each behind its own cargo feature (`all` enables every
//! one), and [`registry`], which builds the [`ProviderRegistry`] of the services an app
//! configures.
//!
//! | module | service name | display name |
//! |---|---|---|
//! | [`railz_sandbox`] | `railzSandbox` | Railz Cloud Accounting (sandbox) |
//!
//! The real services (QuickBooks Online, Xero, Sage, FreshBooks, Zoho Books, Business Central,
//! NetSuite, Wave, MYOB, FreeAgent, Sage Intacct) arrive as further modules of the same shape:
//! an [`railz_connect_core::provider::OAuth2Definition`] plus a small
//! [`railz_connect_core::provider::Quirks`] implementation.
//!
//! ```
//! use railz_connect_core::secret::ClientSecret;
//! use railz_connect_providers::railz_sandbox::RailzSandboxConfig;
//! use railz_connect_providers::{ProvidersConfig, registry};
//!
//! let sandbox = RailzSandboxConfig::new(
//!     "http://127.0.0.1:8900/".parse().unwrap(),
//!     "my-client-id",
//!     ClientSecret::new("my-client-secret"),
//! );
//! let providers = registry(&ProvidersConfig::new().with_railz_sandbox(sandbox));
//! assert_eq!(providers.service_names().map(|s| s.as_str()).collect::<Vec<_>>(), ["railzSandbox"]);
//! ```

#![forbid(unsafe_code)]

#[cfg(feature = "railz-sandbox")]
pub mod railz_sandbox;

use std::sync::Arc;

use railz_connect_core::provider::ProviderRegistry;

/// Configuration of every provider an app may enable. A provider whose field is `None` is
/// not registered.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProvidersConfig {
    /// Railz Cloud Accounting, the sandbox.
    #[cfg(feature = "railz-sandbox")]
    pub railz_sandbox: Option<railz_sandbox::RailzSandboxConfig>,
}

impl ProvidersConfig {
    /// An empty configuration (no provider).
    pub fn new() -> Self {
        Self::default()
    }

    /// Enables the sandbox.
    #[cfg(feature = "railz-sandbox")]
    pub fn with_railz_sandbox(mut self, config: railz_sandbox::RailzSandboxConfig) -> Self {
        self.railz_sandbox = Some(config);
        self
    }

    /// Reads every provider's configuration from its documented environment variables;
    /// providers whose variables are unset are left out.
    pub fn from_env() -> Self {
        Self {
            #[cfg(feature = "railz-sandbox")]
            railz_sandbox: railz_sandbox::RailzSandboxConfig::from_env(),
        }
    }
}

/// The registry of the configured providers.
pub fn registry(config: &ProvidersConfig) -> ProviderRegistry {
    let mut registry = ProviderRegistry::new();
    #[cfg(feature = "railz-sandbox")]
    if let Some(c) = &config.railz_sandbox {
        registry.register(Arc::new(railz_sandbox::provider(c)));
    }
    let _ = config;
    registry
}
