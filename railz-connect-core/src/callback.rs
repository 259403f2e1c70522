//! The callback the provider sends the user back with.

use std::collections::BTreeMap;
use std::fmt;

use url::Url;

use crate::error::CallbackError;
use crate::ids::ServiceName;

/// Parameters whose values are secret and never printed.
const SECRET_PARAMS: [&str; 3] = ["code", "state", "id_token"];

/// A parsed callback query. Every parameter name appears once at most: a repeated parameter
/// is rejected (RFC 9700: repeated `code`, `state` or `iss` are an attack signal).
#[derive(Clone)]
pub struct Callback {
    params: BTreeMap<String, String>,
    service: Option<ServiceName>,
}

impl Callback {
    /// Parses a query string (with or without the leading `?`).
    pub fn from_query(query: &str) -> Result<Self, CallbackError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut params = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if k.is_empty() {
                return Err(CallbackError::Malformed);
            }
            if params.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(CallbackError::DuplicateParameter(k.into_owned()));
            }
        }
        Ok(Self { params, service: None })
    }

    /// Parses the query of a full callback URL.
    pub fn from_url(url: &Url) -> Result<Self, CallbackError> {
        Self::from_query(url.query().unwrap_or_default())
    }

    /// Declares which service's callback endpoint received this callback (for apps with one
    /// callback URL per service): a callback for another service's authorization is rejected.
    pub fn for_service(mut self, service: ServiceName) -> Self {
        self.service = Some(service);
        self
    }

    /// A parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The service declared with [`Callback::for_service`].
    pub fn service(&self) -> Option<&ServiceName> {
        self.service.as_ref()
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), if SECRET_PARAMS.contains(&k.as_str()) { "[redacted]" } else { v.as_str() }))
            .collect();
        f.debug_struct("Callback").field("params", &shown).field("service", &self.service).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_repeats() {
        let c = Callback::from_query("?code=abc&state=s1&realmId=42").unwrap();
        assert_eq!(c.get("realmId"), Some("42"));
        assert_eq!(c.get("code"), Some("abc"));
        for q in ["code=a&code=b&state=s", "code=a&state=s&state=t", "code=a&state=s&iss=x&iss=x"] {
            assert!(matches!(Callback::from_query(q), Err(CallbackError::DuplicateParameter(_))), "{q}");
        }
        assert_eq!(Callback::from_query("=x").unwrap_err(), CallbackError::Malformed);
    }

    #[test]
    fn debug_hides_code_and_state() {
        let c = Callback::from_query("code=SENTINEL1&state=SENTINEL2&realmId=7").unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("SENTINEL"), "{d}");
        assert!(d.contains("realmId"));
    }
}
