use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Provider, ProviderExt};
use crate::ids::ServiceName;

/// The providers an app enables, by service name. Adding a provider needs no change in app
/// code: the flow looks services up here.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    providers: BTreeMap<ServiceName, Arc<dyn Provider>>,
}

impl ProviderRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a provider; a provider with the same service name is replaced and returned.
    pub fn register(&mut self, provider: Arc<dyn Provider>) -> Option<Arc<dyn Provider>> {
        self.providers.insert(provider.service_name().clone(), provider)
    }

    /// Adds a provider (builder form).
    pub fn with_provider(mut self, provider: Arc<dyn Provider>) -> Self {
        self.register(provider);
        self
    }

    /// The provider of a service.
    pub fn get(&self, service: &ServiceName) -> Option<&Arc<dyn Provider>> {
        self.providers.get(service)
    }

    /// Every provider, ordered by service name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.values()
    }

    /// The service names, ordered.
    pub fn service_names(&self) -> impl Iterator<Item = &ServiceName> {
        self.providers.keys()
    }

    /// How many providers.
    pub fn len(&self) -> usize {
        self.providers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}
