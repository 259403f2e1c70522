//! What the loopback servers (the sandbox, the provider emulations, the
//! Intacct gateway and NetSuite TBA) share: binding `127.0.0.1:0`, serving
//! until a graceful shutdown, recording requests, and the small
//! request-reading helpers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::header::CONTENT_TYPE;
use http::request::Parts;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::{Url, form_urlencoded};

use crate::server::response::fault_response;
use crate::{Fault, RecordedRequest};

/// How long [`Running::shutdown`] waits for open connections before
/// aborting the server task.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

/// A listener bound to `127.0.0.1` on a random port, not yet serving.
pub(crate) struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
}

/// Binds `127.0.0.1:0`.
pub(crate) async fn bind() -> std::io::Result<Bound> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    Ok(Bound { listener, addr })
}

impl Bound {
    /// The address the listener is bound to.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `router` on the current Tokio runtime until
    /// [`Running::shutdown`]; `name` names the server in the log.
    pub(crate) fn serve(self, router: Router, name: &'static str) -> Running {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let result = axum::serve(self.listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, "{name} stopped with an error");
            }
        });
        Running { stop: Some(stop_tx), task: Some(task) }
    }
}

/// A serving server task. Dropping it aborts the task; [`shutdown`]
/// stops it gracefully.
///
/// [`shutdown`]: Running::shutdown
pub(crate) struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting connections, lets in-flight requests finish (up to
    /// 5 s, then aborts) and waits for the server task to end.
    pub(crate) async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// Decoded `application/x-www-form-urlencoded` pairs, in order.
pub(crate) fn parse_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).into_owned().collect()
}

/// Whether the content type is `application/x-www-form-urlencoded`.
fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// The request as recorded: method, path, decoded query, headers with
/// lower-case names, the raw body, and the decoded form when the body is
/// `application/x-www-form-urlencoded`.
pub(crate) fn record(parts: &Parts, body: Vec<u8>) -> RecordedRequest {
    let form = if is_form(&parts.headers) { parse_pairs(&body) } else { Vec::new() };
    RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parse_pairs(parts.uri.query().unwrap_or("").as_bytes()),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect(),
        body,
        form,
    }
}

/// The first value named `name`.
pub(crate) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Decodes one `application/x-www-form-urlencoded` component strictly:
/// `+` is a space, `%XX` a byte; a malformed escape or invalid UTF-8 fails.
pub(crate) fn form_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Client credentials from `Authorization: Basic` (RFC 6749 2.3.1: both
/// form-encoded): `None` without a Basic header, `Some(None)` when the
/// header is present but unusable.
pub(crate) fn basic_credentials(req: &RecordedRequest) -> Option<Option<(String, String)>> {
    let (scheme, rest) = req.header("authorization")?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok().and_then(|b| String::from_utf8(b).ok());
    Some(decoded.and_then(|joined| {
        let (id, secret) = joined.split_once(':')?;
        Some((form_decode(id)?, form_decode(secret)?))
    }))
}

/// An acceptable `redirect_uri`: an absolute https URL, or http towards a
/// loopback host; no fragment.
pub(crate) fn acceptable_redirect(raw: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    if url.fragment().is_some() {
        return None;
    }
    match url.scheme() {
        "https" => url.host().is_some().then_some(url),
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")).then_some(url),
        _ => None,
    }
}

/// Random 32 bytes, base64url without padding (43 characters).
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The scripting of a single-endpoint server: queued faults, the call
/// count and the recorded requests.
#[derive(Debug, Default)]
pub(crate) struct Script {
    /// Faults for the next requests, in order.
    pub(crate) faults: VecDeque<Fault>,
    /// Requests received, faulted ones included.
    pub(crate) calls: usize,
    /// Every request received, in arrival order.
    pub(crate) requests: Vec<RecordedRequest>,
}

impl Script {
    /// Counts and records a request; its fault, if one is queued.
    pub(crate) fn arrive(&mut self, recorded: &RecordedRequest) -> Option<Fault> {
        self.calls += 1;
        self.requests.push(recorded.clone());
        self.faults.pop_front()
    }
}

/// Locks a server's state, whether or not a handler panicked while holding it (the state is
/// scripted test data: a later request still gets an answer).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// For servers without token responses (the Intacct gateway, NetSuite
/// TBA): [`Fault::Delay`] waits, the token-response faults change nothing,
/// and any other fault is the answer, as the sandbox's.
pub(crate) async fn plain_fault(fault: Option<Fault>) -> Option<Response> {
    match fault {
        None | Some(Fault::MissingAccessToken | Fault::TokenType(_) | Fault::TokenFields(_)) => None,
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(other) => Some(fault_response(other)),
    }
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of Unix seconds (an instant beyond the year 9999 is written as
/// the last second of that year).
pub(crate) fn civil_datetime(unix: i64) -> String {
    let at =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or_else(|_| time::PrimitiveDateTime::MAX.assume_utc());
    at.format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]")).unwrap_or_default()
}
