//! A minimal stand-in for the user's browser: it opens an authorization URL and reports where
//! the provider redirects it (the app's callback URL with `code` or `error`, `state`, `iss`).
//! Examples and tests use it to run the flow end to end without a real browser.

use url::Url;

/// Why the browser step failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BrowserError {
    /// The request failed.
    Request(reqwest::Error),
    /// The provider did not redirect (it answered this status).
    NoRedirect(u16),
    /// The redirect target is not a valid URL.
    BadLocation,
}

impl std::fmt::Display for BrowserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Request(_) => f.write_str("the authorization request failed"),
            Self::NoRedirect(status) => write!(f, "the provider answered {status} instead of a redirect"),
            Self::BadLocation => f.write_str("the redirect target is not a valid URL"),
        }
    }
}

impl std::error::Error for BrowserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Request(e) => Some(e),
            _ => None,
        }
    }
}

/// Opens `authorization_url` and returns the URL the provider redirects to, without following
/// it (the caller plays the app's callback route).
pub async fn authorize(authorization_url: &Url) -> Result<Url, BrowserError> {
    // One client for the process (building one loads the system's root certificates), without
    // idle connections: tests run one tokio runtime each, and a pooled connection must not
    // outlive the runtime that drives it.
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = match CLIENT.get() {
        Some(c) => c,
        None => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let built = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .map_err(BrowserError::Request)?;
            CLIENT.get_or_init(|| built)
        }
    };
    let response = client.get(authorization_url.clone()).send().await.map_err(BrowserError::Request)?;
    if !response.status().is_redirection() {
        return Err(BrowserError::NoRedirect(response.status().as_u16()));
    }
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(BrowserError::BadLocation)?;
    authorization_url.join(location).map_err(|_| BrowserError::BadLocation)
}
