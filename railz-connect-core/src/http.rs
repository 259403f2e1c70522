//! The HTTP seam: one small client type over `reqwest`, used for every call to a provider.
//!
//! It never follows redirects (a token endpoint that redirects is an error, not a hop: RFC 9700
//! and oauth2-rs's SSRF warning), has a request timeout shorter than a refresh lease, and maps
//! transport failures to a typed [`HttpError`] that keeps the status and `Retry-After`.
//!
//! TLS is rustls with the `ring` crypto provider and the platform's certificate verifier
//! (`rustls-platform-verifier`), configured on each client: building an [`HttpClient`] never
//! installs a process-wide default rustls provider, so an app's own rustls or reqwest clients
//! behave the same whether or not the SDK ran first.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::StatusCode;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::clock::{Clock, SystemClock};
use crate::provider::{BoxError, ProviderError};

/// Why an HTTP exchange failed before an OAuth answer could be read, or why a client could not
/// be built.
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
        /// The `Retry-After` delay, given as delta-seconds or as an HTTP-date (read against the
        /// client's clock; zero for a date in the past), at most
        /// [`HttpClient::MAX_RETRY_AFTER`]. `None` when absent or unreadable.
        retry_after: Option<Duration>,
        /// The start of the body (at most 256 characters), when there was one.
        body: Option<String>,
        /// The diagnostic headers (see [`ProviderError::Status`]).
        headers: Vec<(String, String)>,
    },
    /// No answer in time.
    #[error("the request timed out")]
    Timeout,
    /// The connection failed or broke.
    #[error("the request failed")]
    Transport(#[source] BoxError),
    /// The request could not be built.
    #[error("the request could not be built: {0}")]
    Build(String),
    /// The client could not be set up: the TLS configuration or the platform's certificate
    /// verifier failed (for example, no CA certificate could be loaded from the system).
    #[error("the HTTP client could not be set up")]
    Setup(#[source] BoxError),
}

impl From<HttpError> for ProviderError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Redirect { status } => ProviderError::Redirect { status },
            HttpError::Status { status, retry_after, body, headers } => {
                ProviderError::Status { status, retry_after, body, headers }
            }
            HttpError::Timeout => ProviderError::Timeout,
            HttpError::Transport(source) => ProviderError::Transport(source),
            HttpError::Build(reason) => ProviderError::InvalidRequest(reason),
            HttpError::Setup(source) => {
                ProviderError::InvalidRequest(format!("the HTTP client could not be set up: {source}"))
            }
        }
    }
}

/// The HTTP client of the SDK. Cheap to clone (one connection pool, one clock).
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl HttpClient {
    /// The default request timeout (shorter than the refresh lease).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

    /// The default connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The longest `Retry-After` delay the client reports (24 hours): a longer delay, in
    /// delta-seconds or as an HTTP-date, is reported as this.
    pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

    /// A client with the default timeouts ([`HttpClient::DEFAULT_TIMEOUT`],
    /// [`HttpClient::DEFAULT_CONNECT_TIMEOUT`]) and the system clock.
    ///
    /// Fails with [`HttpError::Setup`] if TLS cannot be set up (for example, when no CA
    /// certificate can be loaded from the system).
    pub fn new() -> Result<Self, HttpError> {
        Self::with_timeouts(Self::DEFAULT_TIMEOUT, Self::DEFAULT_CONNECT_TIMEOUT)
    }

    /// A client with a total request timeout and a connect timeout, and the system clock.
    ///
    /// TLS is rustls with the `ring` provider and the platform's certificate verifier, set on
    /// this client only; no process-wide default rustls provider is installed. Fails with
    /// [`HttpError::Setup`] if TLS cannot be set up.
    pub fn with_timeouts(timeout: Duration, connect_timeout: Duration) -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .user_agent(concat!("railz-connect/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Setup(Box::new(e)))?;
        Ok(Self { inner, clock: Arc::new(SystemClock) })
    }

    /// The clock the client reads a `Retry-After` HTTP-date against (default: the system
    /// clock; [`crate::ConnectBuilder`] gives a client it builds its own clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sends a request and returns the raw response, whatever its status. Only transport
    /// failures are errors.
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(|e| HttpError::Build(e.to_string()))?;
        let mut response = self.inner.execute(request).await.map_err(map_reqwest)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = response.bytes().await.map_err(map_reqwest)?;
        let mut out = http::Response::new(Vec::from(body));
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }

    /// Sends a request; 3xx, 429 and 5xx answers become [`HttpError`]s, other statuses are
    /// returned for the caller to read (OAuth error bodies come with 400 and 401).
    pub async fn send_checked(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, HttpError> {
        let response = self.send(request).await?;
        self.check_status(&response)?;
        Ok(response)
    }

    /// Sends a request (built and authorized by the caller, for example with
    /// [`Provider::authorize_request`](crate::provider::Provider::authorize_request)) and reads
    /// a JSON answer; any status but 2xx is a [`ProviderError::Status`] that keeps a bounded
    /// excerpt of the body and the diagnostic headers.
    pub async fn get_json<T: DeserializeOwned>(&self, request: http::Request<Vec<u8>>) -> Result<T, ProviderError> {
        let response = self.send_checked(request).await?;
        if !response.status().is_success() {
            return Err(status_error(&response, None));
        }
        parse_json(response.body())
    }

    /// 3xx, 429 and 5xx answers as [`HttpError`]s; `Retry-After` is read against the client's
    /// clock.
    fn check_status(&self, response: &http::Response<Vec<u8>>) -> Result<(), HttpError> {
        let status = response.status();
        if status.is_redirection() {
            return Err(HttpError::Redirect { status: status.as_u16() });
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, self.clock.now()));
            let (body, headers) = diagnostics(response);
            return Err(HttpError::Status { status: status.as_u16(), retry_after, body, headers });
        }
        Ok(())
    }
}

/// Whether a response header helps diagnose a failure and is safe to keep: never cookies or
/// credentials.
fn is_diagnostic_header(name: &str) -> bool {
    matches!(name, "content-type" | "www-authenticate" | "retry-after" | "intuit_tid")
        || ["request-id", "requestid", "correlation", "trace-id", "traceid"].iter().any(|p| name.contains(p))
}

/// A bounded excerpt of a failed response's body (if it is text) and its diagnostic headers.
pub(crate) fn diagnostics(response: &http::Response<Vec<u8>>) -> (Option<String>, Vec<(String, String)>) {
    use crate::text::{MAX_LOGGED, bounded};
    let raw = response.body();
    let head = &raw[..raw.len().min(MAX_LOGGED * 4)];
    let text = String::from_utf8_lossy(head);
    let body = (!text.trim().is_empty()).then(|| bounded(text.trim(), MAX_LOGGED));
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| is_diagnostic_header(name.as_str()))
        .take(16)
        .map(|(name, value)| {
            (name.as_str().to_owned(), bounded(&String::from_utf8_lossy(value.as_bytes()), MAX_LOGGED))
        })
        .collect();
    (body, headers)
}

/// A non-2xx answer as a [`ProviderError::Status`], with a bounded excerpt of its body and its
/// diagnostic headers (never cookies), for adapters that send requests themselves.
pub fn status_error(response: &http::Response<Vec<u8>>, retry_after: Option<Duration>) -> ProviderError {
    let (body, headers) = diagnostics(response);
    ProviderError::Status { status: response.status().as_u16(), retry_after, body, headers }
}

/// The TLS configuration of every client: rustls with the `ring` provider given explicitly
/// (never installed as the process default), safe default protocol versions (TLS 1.2 and 1.3),
/// the platform's certificate verifier, and HTTP/1.1 over ALPN (what reqwest itself offers
/// without its `http2` feature).
fn tls_config() -> Result<rustls::ClientConfig, HttpError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new(Arc::clone(&provider)).map_err(|e| HttpError::Setup(Box::new(e)))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Setup(Box::new(e)))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Reads a `Retry-After` value (RFC 9110 section 10.2.3): delta-seconds, or an HTTP-date
/// (IMF-fixdate, or the obsolete RFC 850 and asctime forms) taken relative to `now`. A date in
/// the past gives zero; any delay is capped at [`HttpClient::MAX_RETRY_AFTER`]. `None` for
/// anything else.
fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // 1*DIGIT: a value too large for u64 is far past the cap anyway.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(HttpClient::MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(value).ok()?.duration_since(UNIX_EPOCH).ok()?;
    let delay_nanos = i128::try_from(at.as_nanos()).ok()? - now.unix_timestamp_nanos();
    if delay_nanos <= 0 {
        return Some(Duration::ZERO);
    }
    let delay = Duration::from_nanos(u64::try_from(delay_nanos).unwrap_or(u64::MAX));
    Some(delay.min(HttpClient::MAX_RETRY_AFTER))
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

fn map_reqwest(e: reqwest::Error) -> HttpError {
    if e.is_timeout() { HttpError::Timeout } else { HttpError::Transport(Box::new(e.without_url())) }
}

impl<'c> oauth2::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send_checked(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use time::macros::datetime;

    /// One minute and a half before the example date of RFC 9110 section 10.2.3.
    const NOW: OffsetDateTime = datetime!(1999-12-31 23:58:29 UTC);

    fn answer(status: u16, retry_after: Option<&str>) -> http::Response<Vec<u8>> {
        let mut builder = http::Response::builder().status(status);
        if let Some(value) = retry_after {
            builder = builder.header(http::header::RETRY_AFTER, value);
        }
        builder.body(Vec::new()).unwrap()
    }

    #[test]
    fn retry_after_delta_seconds() {
        assert_eq!(parse_retry_after("120", NOW), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 7 ", NOW), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0", NOW), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_http_date() {
        let ninety = Some(Duration::from_secs(90));
        assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", NOW), ninety);
        // The obsolete forms a recipient must accept (RFC 9110 section 5.6.7).
        assert_eq!(parse_retry_after("Friday, 31-Dec-99 23:59:59 GMT", NOW), ninety);
        assert_eq!(parse_retry_after("Fri Dec 31 23:59:59 1999", NOW), ninety);
        // Relative to the given time, not to the system clock.
        let later = NOW + time::Duration::seconds(30);
        assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", later), Some(Duration::from_secs(60)));
        let fraction = NOW + time::Duration::milliseconds(500);
        assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", fraction), Some(Duration::from_millis(89_500)));
    }

    #[test]
    fn retry_after_in_the_past_is_zero() {
        assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:58:29 GMT", NOW), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", NOW), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_garbage_is_none() {
        for garbage in ["", "  ", "soon", "-5", "+5", "1.5", "5s", "0x10", "Fri, 31 Dec 1999", "31 Dec 1999 23:59:59"] {
            assert_eq!(parse_retry_after(garbage, NOW), None, "{garbage:?}");
        }
    }

    #[test]
    fn retry_after_is_capped() {
        let max = Some(HttpClient::MAX_RETRY_AFTER);
        assert_eq!(HttpClient::MAX_RETRY_AFTER, Duration::from_secs(86_400));
        assert_eq!(parse_retry_after("86400", NOW), max);
        assert_eq!(parse_retry_after("86401", NOW), max);
        assert_eq!(parse_retry_after("18446744073709551615", NOW), max);
        assert_eq!(parse_retry_after("99999999999999999999999999999999", NOW), max);
        assert_eq!(parse_retry_after("Sat, 01 Jan 2000 23:58:30 GMT", NOW), max);
        assert_eq!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", NOW), max);
    }

    #[test]
    fn check_status_reads_retry_after_against_the_clients_clock() {
        let clock = Arc::new(ManualClock::new(NOW));
        let client = HttpClient::new().unwrap().with_clock(clock.clone());
        let date = Some("Fri, 31 Dec 1999 23:59:59 GMT");
        match client.check_status(&answer(503, date)) {
            Err(HttpError::Status { status: 503, retry_after, .. }) => {
                assert_eq!(retry_after, Some(Duration::from_secs(90)))
            }
            other => panic!("{other:?}"),
        }
        clock.advance(Duration::from_secs(60));
        match client.clone().check_status(&answer(429, date)) {
            Err(HttpError::Status { status: 429, retry_after, .. }) => {
                assert_eq!(retry_after, Some(Duration::from_secs(30)))
            }
            other => panic!("{other:?}"),
        }
        match client.check_status(&answer(429, Some("12"))) {
            Err(HttpError::Status { retry_after, .. }) => assert_eq!(retry_after, Some(Duration::from_secs(12))),
            other => panic!("{other:?}"),
        }
        match client.check_status(&answer(500, Some("later"))) {
            Err(HttpError::Status { status: 500, retry_after, .. }) => assert_eq!(retry_after, None),
            other => panic!("{other:?}"),
        }
        assert!(matches!(client.check_status(&answer(302, None)), Err(HttpError::Redirect { status: 302 })));
        assert!(client.check_status(&answer(200, Some("5"))).is_ok());
        assert!(client.check_status(&answer(400, None)).is_ok());
    }

    #[test]
    fn transport_errors_keep_their_source() {
        let e = HttpError::Transport("connection reset".into());
        assert_eq!(std::error::Error::source(&e).map(ToString::to_string).as_deref(), Some("connection reset"));
        match ProviderError::from(e) {
            ProviderError::Transport(source) => assert_eq!(source.to_string(), "connection reset"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_answer_keeps_a_bounded_excerpt_and_diagnostic_headers_never_cookies() {
        let mut response = http::Response::new(format!("{{\"fault\":\"{}\"}}\u{7}", "x".repeat(5000)).into_bytes());
        *response.status_mut() = StatusCode::FORBIDDEN;
        let h = response.headers_mut();
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert("x-request-id", "req-42".parse().unwrap());
        h.insert("set-cookie", "session=SENTINEL".parse().unwrap());
        h.insert("www-authenticate", "Bearer error=\"insufficient_scope\"".parse().unwrap());
        match status_error(&response, None) {
            ProviderError::Status { status: 403, body: Some(body), headers, .. } => {
                assert!(body.starts_with("{\"fault\":\"xxx"), "{body}");
                assert!(body.chars().count() <= crate::text::MAX_LOGGED + 1);
                assert!(!body.contains('\u{7}'));
                let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(names, ["content-type", "x-request-id", "www-authenticate"]);
                assert!(!format!("{headers:?}").contains("SENTINEL"));
            }
            other => panic!("{other:?}"),
        }
        let empty = http::Response::new(Vec::new());
        assert!(matches!(status_error(&empty, None), ProviderError::Status { body: None, .. }));
    }
}
