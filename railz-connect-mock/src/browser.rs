//! A small stand-in for the user's browser: it opens an authorization URL,
//! follows the provider's redirects itself (keeping cookies across hops, as a
//! login or consent page would need) and reports the first redirect that
//! lands on the app's callback URL (with `code` or `error`, `state`, `iss`),
//! without requesting it. Examples and tests use it to run the flow end to
//! end without a real browser.
//!
//! # Example
//!
//! ```
//! use railz_connect_mock::MockServer;
//! use railz_connect_mock::browser::Browser;
//! use url::Url;
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let server = MockServer::start().await.unwrap();
//!     let redirect_uri = Url::parse("http://127.0.0.1:8765/callback").unwrap();
//!     let mut authorization_url = server.authorize_url();
//!     authorization_url
//!         .query_pairs_mut()
//!         .append_pair("response_type", "code")
//!         .append_pair("client_id", server.client_id())
//!         .append_pair("redirect_uri", redirect_uri.as_str())
//!         .append_pair("state", "st4te")
//!         // BASE64URL(SHA256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")), RFC 7636 appendix B.
//!         .append_pair("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
//!         .append_pair("code_challenge_method", "S256");
//!
//!     let browser = Browser::new().unwrap();
//!     let callback = browser.authorize(&authorization_url, &redirect_uri).await.unwrap();
//!     assert_eq!(callback.path(), "/callback");
//!     assert!(callback.query_pairs().any(|(name, _)| name == "code"));
//!     server.shutdown().await;
//! });
//! ```

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use url::Url;

/// How many redirects [`Browser::authorize`] follows before it gives up. The
/// final redirect to the `redirect_uri` is reported, not followed, so it does
/// not count.
pub const MAX_REDIRECTS: usize = 10;

/// Why the browser step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// The TLS configuration could not be built (the platform certificate
    /// verifier or the protocol versions were refused).
    #[error("the browser's TLS configuration could not be built")]
    Tls(#[source] rustls::Error),
    /// The HTTP client could not be built.
    #[error("the browser's HTTP client could not be built")]
    Client(#[source] reqwest::Error),
    /// A request failed (connection refused, protocol error, ...).
    #[error("the request to {url} failed")]
    Request {
        /// The URL that was requested.
        url: Url,
        /// What failed.
        #[source]
        source: reqwest::Error,
    },
    /// A page answered with something other than a redirect.
    #[error("{url} answered {status} instead of a redirect")]
    NoRedirect {
        /// The URL that was requested.
        url: Url,
        /// The HTTP status it answered.
        status: u16,
    },
    /// A redirect's `Location` is missing, not a valid URL, or not an
    /// `http`/`https` URL (and not the `redirect_uri` either).
    #[error("{url} redirected to an unusable location")]
    BadLocation {
        /// The URL that answered the redirect.
        url: Url,
        /// The `Location` header as received (`None` when missing).
        location: Option<String>,
    },
    /// More than [`MAX_REDIRECTS`] redirects were followed without reaching
    /// the `redirect_uri`.
    #[error("more than {limit} redirects without reaching the redirect URI")]
    TooManyRedirects {
        /// The limit that was reached ([`MAX_REDIRECTS`]).
        limit: usize,
    },
}

/// A cookie-keeping browser that follows redirects itself.
///
/// Each `Browser` has its own cookie jar, kept across hops and across
/// [`authorize`](Browser::authorize) calls; clones share it (as tabs of one
/// browser do). Building one installs nothing process-wide: TLS uses an
/// explicitly configured `ring` provider with the platform's certificate
/// verifier.
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Result<Browser, BrowserError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new(Arc::clone(&provider)).map_err(BrowserError::Tls)?;
        // `dangerous()` is rustls's door to any custom verifier; this one is the
        // platform's own, which verifies certificates fully.
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(BrowserError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            // Tests run one tokio runtime each: a pooled connection must not
            // outlive the runtime that drives it.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(BrowserError::Client)?;
        Ok(Browser { client })
    }

    /// Opens `authorization_url` and follows redirects (`GET`, relative
    /// `Location`s resolved against the current URL, cookies kept) until one
    /// points at `redirect_uri`: same scheme, host, port and path (query and
    /// fragment may differ). That URL is returned without being requested:
    /// the caller plays the app's callback route.
    ///
    /// At most [`MAX_REDIRECTS`] redirects are followed. Statuses 301, 302,
    /// 303, 307 and 308 count as redirects; anything else is
    /// [`BrowserError::NoRedirect`].
    pub async fn authorize(&self, authorization_url: &Url, redirect_uri: &Url) -> Result<Url, BrowserError> {
        let mut current = authorization_url.clone();
        let mut followed = 0;
        loop {
            let response = match self.client.get(current.clone()).send().await {
                Ok(response) => response,
                Err(source) => return Err(BrowserError::Request { url: current, source }),
            };
            let status = response.status();
            if !is_redirect(status) {
                return Err(BrowserError::NoRedirect { url: current, status: status.as_u16() });
            }
            let location = match response.headers().get(LOCATION) {
                None => return Err(BrowserError::BadLocation { url: current, location: None }),
                Some(value) => match value.to_str() {
                    Ok(location) => location.to_owned(),
                    Err(_) => {
                        let location = String::from_utf8_lossy(value.as_bytes()).into_owned();
                        return Err(BrowserError::BadLocation { url: current, location: Some(location) });
                    }
                },
            };
            drop(response);
            let target = match current.join(&location) {
                Ok(target) => target,
                Err(_) => return Err(BrowserError::BadLocation { url: current, location: Some(location) }),
            };
            tracing::debug!(from = %current, to = %target, status = status.as_u16(), "browser redirected");
            if is_callback(&target, redirect_uri) {
                return Ok(target);
            }
            if !matches!(target.scheme(), "http" | "https") {
                return Err(BrowserError::BadLocation { url: current, location: Some(location) });
            }
            if followed == MAX_REDIRECTS {
                return Err(BrowserError::TooManyRedirects { limit: MAX_REDIRECTS });
            }
            followed += 1;
            current = target;
        }
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// Same scheme, host, port (default ports made explicit) and path.
fn is_callback(target: &Url, redirect_uri: &Url) -> bool {
    target.scheme() == redirect_uri.scheme()
        && target.host() == redirect_uri.host()
        && target.port_or_known_default() == redirect_uri.port_or_known_default()
        && target.path() == redirect_uri.path()
}

/// [`Browser::authorize`] with a fresh [`Browser`] (empty cookie jar).
pub async fn authorize(authorization_url: &Url, redirect_uri: &Url) -> Result<Url, BrowserError> {
    Browser::new()?.authorize(authorization_url, redirect_uri).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_matching() {
        let redirect = Url::parse("http://127.0.0.1:8765/callback").unwrap();
        let matches = |s: &str| is_callback(&Url::parse(s).unwrap(), &redirect);
        assert!(matches("http://127.0.0.1:8765/callback"));
        assert!(matches("http://127.0.0.1:8765/callback?code=x&state=y"));
        assert!(matches("http://127.0.0.1:8765/callback#frag"));
        assert!(!matches("https://127.0.0.1:8765/callback"));
        assert!(!matches("http://localhost:8765/callback"));
        assert!(!matches("http://127.0.0.1:8766/callback"));
        assert!(!matches("http://127.0.0.1:8765/callback/"));
        assert!(!matches("http://127.0.0.1:8765/callbackx"));

        let https = Url::parse("https://app.example.com/cb").unwrap();
        assert!(is_callback(&Url::parse("https://app.example.com:443/cb?code=1").unwrap(), &https));
        assert!(!is_callback(&Url::parse("https://app.example.com:8443/cb").unwrap(), &https));
    }
}
