//! The callback the provider sends the user back with.

use std::collections::BTreeMap;
use std::fmt;

use url::Url;

use crate::error::CallbackError;
use crate::ids::ServiceName;
use crate::secret::BrowserBinding;
use crate::text::{MAX_LOGGED, bounded};

/// Parameters whose values `Debug` shows (bounded); every other value prints `[redacted]`,
/// whatever a provider or an attacker puts in the query (`code`, `state`, `id_token`,
/// `access_token`, `refresh_token`, `token`, ...).
const SHOWN_PARAMS: [&str; 9] =
    ["error", "error_description", "error_uri", "iss", "realmId", "location", "accounts-server", "businessId", "scope"];

/// The prefix of the browser-binding cookie names (see [`Callback::with_cookie_header`]).
pub(crate) const BINDING_COOKIE_PREFIX: &str = "railz_connect_binding_";

/// A parsed callback query. Every parameter name appears once at most: a repeated parameter
/// is rejected (RFC 9700: repeated `code`, `state` or `iss` are an attack signal).
#[derive(Clone)]
pub struct Callback {
    params: BTreeMap<String, String>,
    service: Option<ServiceName>,
    bindings: BTreeMap<String, BrowserBinding>,
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
                return Err(CallbackError::DuplicateParameter(bounded(&k, MAX_LOGGED)));
            }
        }
        Ok(Self { params, service: None, bindings: BTreeMap::new() })
    }

    /// Parses the query of a full callback URL.
    pub fn from_url(url: &Url) -> Result<Self, CallbackError> {
        Self::from_query(url.query().unwrap_or_default())
    }

    /// Declares which service's callback endpoint received this callback (for apps with one
    /// callback URL per service): a callback for another service's authorization is rejected.
    pub fn with_service(mut self, service: ServiceName) -> Self {
        self.service = Some(service);
        self
    }

    /// Reads the browser-binding cookies from the request's `Cookie` header (the cookies that
    /// [`AuthorizationStart::set_cookie`](crate::AuthorizationStart::set_cookie) set). Other
    /// cookies are ignored. Call it once per `Cookie` header the request carries.
    pub fn with_cookie_header(mut self, header: &str) -> Self {
        for pair in header.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else { continue };
            if name.starts_with(BINDING_COOKIE_PREFIX) && !value.is_empty() {
                self.bindings.insert(name.to_owned(), BrowserBinding::new(value.trim_matches('"')));
            }
        }
        self
    }

    /// Adds the browser binding of an authorization directly, for apps that keep it elsewhere
    /// than in the cookie (a server-side session of their own).
    pub fn with_browser_binding(mut self, cookie_name: &str, binding: BrowserBinding) -> Self {
        self.bindings.insert(cookie_name.to_owned(), binding);
        self
    }

    /// A parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The service declared with [`Callback::with_service`].
    pub fn service(&self) -> Option<&ServiceName> {
        self.service.as_ref()
    }

    /// The browser binding brought under this cookie name, if any.
    pub(crate) fn binding(&self, cookie_name: &str) -> Option<&BrowserBinding> {
        self.bindings.get(cookie_name)
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: BTreeMap<String, String> = self
            .params
            .iter()
            .map(|(k, v)| {
                let value =
                    if SHOWN_PARAMS.contains(&k.as_str()) { bounded(v, MAX_LOGGED) } else { "[redacted]".to_owned() };
                (bounded(k, MAX_LOGGED), value)
            })
            .collect();
        f.debug_struct("Callback")
            .field("params", &shown)
            .field("service", &self.service)
            .field("bindings", &self.bindings.len())
            .finish()
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
    fn debug_shows_only_known_safe_values() {
        let q = "code=S1&state=S2&id_token=S3&access_token=S4&refresh_token=S5&token=S6&client_secret=S7&anything=S8&realmId=7&error=access_denied";
        let c = Callback::from_query(q).unwrap().with_cookie_header("railz_connect_binding_ab=S9; other=S10");
        let d = format!("{c:?}");
        for i in 1..=10 {
            assert!(!d.contains(&format!("S{i}\"")) && !d.contains(&format!("S{i},")), "S{i} leaked: {d}");
        }
        assert!(!d.contains("S1"), "{d}");
        assert!(d.contains("\"realmId\": \"7\"") && d.contains("access_denied"), "{d}");
    }

    #[test]
    fn debug_bounds_huge_values() {
        let q = format!("error={}&state=s", "e".repeat(1_000_000));
        let d = format!("{:?}", Callback::from_query(&q).unwrap());
        assert!(d.len() < 2_000, "{} bytes", d.len());
    }

    #[test]
    fn reads_binding_cookies_only() {
        let c = Callback::from_query("state=s").unwrap().with_cookie_header(
            "a=1; railz_connect_binding_0011=v1 ;railz_connect_binding_22=\"v2\"; railz_connect_binding_x=",
        );
        assert_eq!(c.binding("railz_connect_binding_0011").map(BrowserBinding::secret), Some("v1"));
        assert_eq!(c.binding("railz_connect_binding_22").map(BrowserBinding::secret), Some("v2"));
        assert!(c.binding("railz_connect_binding_x").is_none());
        assert!(c.binding("a").is_none());
    }
}
