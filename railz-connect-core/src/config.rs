//! Widget configuration: where callbacks arrive and where users land.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Error;
use crate::ids::{ServiceName, WidgetId};

/// One configured instance of the connection flow (Railz's `widgetId`).
///
/// Landing targets come from here, never from a raw query parameter: a session may ask for
/// another success page only if it is in `allowed_landing_urls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WidgetConfig {
    /// The widget's id.
    pub widget_id: WidgetId,
    /// The app's callback URL, registered at every provider as the OAuth2 redirect URI.
    /// `https`, or `http` on a loopback host.
    pub redirect_uri: Url,
    /// Where the user lands after a successful connection (Railz's `redirectUrl`).
    pub success_url: Url,
    /// Where the user lands after a failure or denial; the reason code is added as `reason`.
    pub failure_url: Url,
    /// Other success pages a widget session may choose.
    #[serde(default)]
    pub allowed_landing_urls: Vec<Url>,
    /// The services this widget offers; `None` offers every registered one.
    #[serde(default)]
    pub services: Option<Vec<ServiceName>>,
}

fn check_url(what: &str, url: &Url) -> Result<(), Error> {
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(Error::InvalidConfig(format!("{what} must be https (or http on a loopback host)"))),
    }
    if url.fragment().is_some() {
        return Err(Error::InvalidConfig(format!("{what} must not have a fragment")));
    }
    if url.username() != "" || url.password().is_some() {
        return Err(Error::InvalidConfig(format!("{what} must not carry credentials")));
    }
    Ok(())
}

impl WidgetConfig {
    /// A widget; checks that every URL is `https` or loopback `http`, without fragment or
    /// credentials.
    pub fn new(widget_id: WidgetId, redirect_uri: Url, success_url: Url, failure_url: Url) -> Result<Self, Error> {
        let config = Self {
            widget_id,
            redirect_uri,
            success_url,
            failure_url,
            allowed_landing_urls: Vec::new(),
            services: None,
        };
        config.validate()?;
        Ok(config)
    }

    /// Allows a session to choose this success page.
    pub fn allow_landing_url(mut self, url: Url) -> Result<Self, Error> {
        check_url("an allowed landing URL", &url)?;
        self.allowed_landing_urls.push(url);
        Ok(self)
    }

    /// Limits the services the widget offers.
    pub fn with_services(mut self, services: Vec<ServiceName>) -> Self {
        self.services = Some(services);
        self
    }

    /// Checks the URLs (for configs loaded from a file).
    pub fn validate(&self) -> Result<(), Error> {
        check_url("redirect_uri", &self.redirect_uri)?;
        check_url("success_url", &self.success_url)?;
        check_url("failure_url", &self.failure_url)?;
        for url in &self.allowed_landing_urls {
            check_url("an allowed landing URL", url)?;
        }
        Ok(())
    }

    /// Whether the widget offers a service.
    pub fn offers(&self, service: &ServiceName) -> bool {
        self.services.as_ref().is_none_or(|s| s.contains(service))
    }

    /// The success page for a requested one: the request if it matches an allowed URL
    /// (scheme, host, port and path), the default otherwise.
    pub fn success_landing(&self, requested: Option<&Url>) -> Url {
        match requested {
            Some(req)
                if std::iter::once(&self.success_url).chain(&self.allowed_landing_urls).any(|a| {
                    a.scheme() == req.scheme()
                        && a.host_str() == req.host_str()
                        && a.port_or_known_default() == req.port_or_known_default()
                        && a.path() == req.path()
                        && req.username().is_empty()
                        && req.password().is_none()
                }) =>
            {
                let mut url = req.clone();
                url.set_fragment(None);
                url
            }
            _ => self.success_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn widget() -> WidgetConfig {
        WidgetConfig::new(
            WidgetId::new("w1").unwrap(),
            u("https://app.example/cb"),
            u("https://app.example/ok"),
            u("https://app.example/fail"),
        )
        .unwrap()
        .allow_landing_url(u("https://app.example/ok2"))
        .unwrap()
    }

    #[test]
    fn urls_must_be_https_or_loopback() {
        assert!(
            WidgetConfig::new(
                WidgetId::new("w").unwrap(),
                u("http://app.example/cb"),
                u("https://a/ok"),
                u("https://a/f")
            )
            .is_err()
        );
        assert!(
            WidgetConfig::new(
                WidgetId::new("w").unwrap(),
                u("http://127.0.0.1:8/cb"),
                u("https://a/ok"),
                u("https://a/f")
            )
            .is_ok()
        );
        assert!(
            WidgetConfig::new(WidgetId::new("w").unwrap(), u("https://a/cb#x"), u("https://a/ok"), u("https://a/f"))
                .is_err()
        );
        assert!(
            WidgetConfig::new(
                WidgetId::new("w").unwrap(),
                u("javascript:alert(1)"),
                u("https://a/ok"),
                u("https://a/f")
            )
            .is_err()
        );
    }

    #[test]
    fn landing_allowlist() {
        let w = widget();
        assert_eq!(w.success_landing(None), u("https://app.example/ok"));
        assert_eq!(w.success_landing(Some(&u("https://app.example/ok2?tab=1"))), u("https://app.example/ok2?tab=1"));
        assert_eq!(w.success_landing(Some(&u("https://evil.example/ok2"))), u("https://app.example/ok"));
        assert_eq!(w.success_landing(Some(&u("https://app.example/other"))), u("https://app.example/ok"));
        assert_eq!(w.success_landing(Some(&u("https://user@app.example/ok2"))), u("https://app.example/ok"));
    }
}
