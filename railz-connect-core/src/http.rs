//! The HTTP seam: one small client type over `reqwest`, used for every call to a provider.
//!
//! It never follows redirects (a token endpoint that redirects is an error, not a hop: RFC 9700
//! and oauth2-rs's SSRF warning), has a request timeout shorter than a refresh lease, and maps
//! transport failures to a typed [`HttpError`] that keeps the status and `Retry-After`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::provider::ProviderError;
use crate::secret::AccessToken;

/// Why an HTTP exchange failed before an OAuth answer could be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The server answered with a redirect, which is not followed.
    #[error("the server answered a redirect ({status}), which is not followed")]
    Redirect {
        /// The 3xx status.
        status: u16,
    },
    /// The server answered 429 or a 5xx status.
    #[error("the server answered HTTP {status}")]
    Status {
        /// The status.
        status: u16,
        /// The `Retry-After` delay, when given in seconds.
        retry_after: Option<Duration>,
    },
    /// No answer in time.
    #[error("the request timed out")]
    Timeout,
    /// The connection failed or broke.
    #[error("the request failed")]
    Transport(#[source] reqwest::Error),
    /// The request could not be built.
    #[error("the request could not be built: {0}")]
    Build(String),
}

impl From<HttpError> for ProviderError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Redirect { status } => ProviderError::Redirect { status },
            HttpError::Status { status, retry_after } => ProviderError::Status { status, retry_after },
            HttpError::Timeout => ProviderError::Timeout,
            HttpError::Transport(source) => ProviderError::Transport(Box::new(source)),
            HttpError::Build(reason) => ProviderError::InvalidRequest(reason),
        }
    }
}

/// The HTTP client of the SDK. Cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// The default request timeout (shorter than the refresh lease).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

    /// A client with the default timeouts.
    ///
    /// # Panics
    /// If the TLS backend cannot be initialised (as `reqwest::Client::new` does); use
    /// [`HttpClient::try_with_timeouts`] to handle that case.
    pub fn new() -> Self {
        Self::with_timeouts(Self::DEFAULT_TIMEOUT, Duration::from_secs(5))
    }

    /// A client with a total request timeout and a connect timeout.
    ///
    /// # Panics
    /// If the TLS backend cannot be initialised; see [`HttpClient::try_with_timeouts`].
    pub fn with_timeouts(timeout: Duration, connect_timeout: Duration) -> Self {
        match Self::try_with_timeouts(timeout, connect_timeout) {
            Ok(client) => client,
            Err(e) => panic!("the HTTP client could not be built: {e}"),
        }
    }

    /// A client with a total request timeout and a connect timeout, or an error if the TLS
    /// backend cannot be initialised.
    ///
    /// TLS is rustls with the `ring` provider; if the process has no default rustls crypto
    /// provider yet, this installs `ring` as the default.
    pub fn try_with_timeouts(timeout: Duration, connect_timeout: Duration) -> Result<Self, HttpError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .user_agent(concat!("railz-connect/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpError::Transport)?;
        Ok(Self { inner })
    }

    /// Sends a request and returns the raw response, whatever its status. Only transport
    /// failures are errors.
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(|e| HttpError::Build(e.to_string()))?;
        let response = self.inner.execute(request).await.map_err(map_reqwest)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(map_reqwest)?;
        let mut out = http::Response::new(body.to_vec());
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }

    /// Sends a request; 3xx, 429 and 5xx answers become [`HttpError`]s, other statuses are
    /// returned for the caller to read (OAuth error bodies come with 400 and 401).
    pub async fn send_checked(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, HttpError> {
        let response = self.send(request).await?;
        check_status(&response)?;
        Ok(response)
    }

    /// GETs JSON with a bearer token and extra headers; any status but 2xx is an error.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &url::Url,
        token: &AccessToken,
        headers: &[(&str, &str)],
    ) -> Result<T, ProviderError> {
        let mut builder = http::Request::get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::AUTHORIZATION, format!("Bearer {}", token.secret()));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Vec::new()).map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        let response = self.send_checked(request).await?;
        if !response.status().is_success() {
            return Err(ProviderError::Status { status: response.status().as_u16(), retry_after: None });
        }
        parse_json(response.body())
    }
}

/// Parses a JSON body; the error names where it failed, never the data.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ProviderError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error_free(de).map_err(|e| {
        ProviderError::InvalidResponse(format!(
            "malformed JSON ({:?} at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

fn serde_path_to_error_free<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, serde_json::Error> {
    let value = T::deserialize(&mut *de)?;
    de.end()?;
    Ok(value)
}

fn check_status(response: &http::Response<Vec<u8>>) -> Result<(), HttpError> {
    let status = response.status();
    if status.is_redirection() {
        return Err(HttpError::Redirect { status: status.as_u16() });
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Err(HttpError::Status { status: status.as_u16(), retry_after });
    }
    Ok(())
}

fn map_reqwest(e: reqwest::Error) -> HttpError {
    if e.is_timeout() { HttpError::Timeout } else { HttpError::Transport(e.without_url()) }
}

impl<'c> oauth2::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send_checked(request))
    }
}
