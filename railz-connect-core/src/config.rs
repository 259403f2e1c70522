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

/// Builds a [`WidgetConfig`]: the redirect URI and both landing pages are required.
///
/// ```
/// use railz_connect_core::WidgetConfig;
///
/// let widget = WidgetConfig::builder("my-widget".parse()?)
///     .with_redirect_uri("https://app.example/connect/callback".parse()?)
///     .with_success_url("https://app.example/connected".parse()?)
///     .with_failure_url("https://app.example/connect-failed".parse()?)
///     .build()?;
/// assert!(widget.offers(&"railzSandbox".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct WidgetConfigBuilder {
    widget_id: WidgetId,
    redirect_uri: Option<Url>,
    success_url: Option<Url>,
    failure_url: Option<Url>,
    allowed_landing_urls: Vec<Url>,
    services: Option<Vec<ServiceName>>,
}

impl WidgetConfigBuilder {
    /// The app's callback URL, registered at every provider as the OAuth2 redirect URI.
    pub fn with_redirect_uri(mut self, url: Url) -> Self {
        self.redirect_uri = Some(url);
        self
    }

    /// Where the user lands after a successful connection.
    pub fn with_success_url(mut self, url: Url) -> Self {
        self.success_url = Some(url);
        self
    }

    /// Where the user lands after a failure or denial.
    pub fn with_failure_url(mut self, url: Url) -> Self {
        self.failure_url = Some(url);
        self
    }

    /// Allows a session to choose this success page too.
    pub fn with_allowed_landing_url(mut self, url: Url) -> Self {
        self.allowed_landing_urls.push(url);
        self
    }

    /// Limits the services the widget offers (default: every registered one).
    pub fn with_services(mut self, services: Vec<ServiceName>) -> Self {
        self.services = Some(services);
        self
    }

    /// Checks that the three URLs are given and that every URL is `https` or loopback `http`,
    /// without fragment or credentials.
    pub fn build(self) -> Result<WidgetConfig, Error> {
        let missing = |what: &str| Error::InvalidConfig(format!("widget `{}`: {what} is required", self.widget_id));
        let config = WidgetConfig {
            redirect_uri: self.redirect_uri.clone().ok_or_else(|| missing("redirect_uri"))?,
            success_url: self.success_url.clone().ok_or_else(|| missing("success_url"))?,
            failure_url: self.failure_url.clone().ok_or_else(|| missing("failure_url"))?,
            widget_id: self.widget_id,
            allowed_landing_urls: self.allowed_landing_urls,
            services: self.services,
        };
        config.validate()?;
        Ok(config)
    }
}

impl WidgetConfig {
    /// Starts building a widget's configuration.
    pub fn builder(widget_id: WidgetId) -> WidgetConfigBuilder {
        WidgetConfigBuilder {
            widget_id,
            redirect_uri: None,
            success_url: None,
            failure_url: None,
            allowed_landing_urls: Vec::new(),
            services: None,
        }
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

    fn build(redirect: &str) -> Result<WidgetConfig, Error> {
        WidgetConfig::builder(WidgetId::new("w").unwrap())
            .with_redirect_uri(u(redirect))
            .with_success_url(u("https://a/ok"))
            .with_failure_url(u("https://a/f"))
            .build()
    }

    fn widget() -> WidgetConfig {
        WidgetConfig::builder(WidgetId::new("w1").unwrap())
            .with_redirect_uri(u("https://app.example/cb"))
            .with_success_url(u("https://app.example/ok"))
            .with_failure_url(u("https://app.example/fail"))
            .with_allowed_landing_url(u("https://app.example/ok2"))
            .build()
            .unwrap()
    }

    #[test]
    fn urls_must_be_https_or_loopback() {
        assert!(build("http://app.example/cb").is_err());
        assert!(build("http://127.0.0.1:8/cb").is_ok());
        assert!(build("https://a/cb#x").is_err());
        assert!(build("javascript:alert(1)").is_err());
        let missing = WidgetConfig::builder(WidgetId::new("w").unwrap()).with_redirect_uri(u("https://a/cb")).build();
        assert!(matches!(missing, Err(Error::InvalidConfig(m)) if m.contains("success_url")));
        let bad_allowed = WidgetConfig::builder(WidgetId::new("w").unwrap())
            .with_redirect_uri(u("https://a/cb"))
            .with_success_url(u("https://a/ok"))
            .with_failure_url(u("https://a/f"))
            .with_allowed_landing_url(u("http://evil.example/ok"))
            .build();
        assert!(bad_allowed.is_err());
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
