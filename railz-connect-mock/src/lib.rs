//! Railz Cloud Accounting sandbox: a real HTTP server on `127.0.0.1` (random
//! port) that plays the accounting provider for `railz-connect` tests and
//! examples.
//!
//! It is two things at once:
//!
//! 1. an OAuth 2.0 authorization server — authorization code with PKCE
//!    (`S256` only), refresh-token rotation, RFC 7009 revocation, RFC 9207
//!    `iss` in callbacks. `GET /oauth/authorize` approves at once (sandbox:
//!    no user login) by redirecting to the `redirect_uri`;
//! 2. a small accounting API under `/api/` (companies, accounts, invoices)
//!    that proves the credentials work.
//!
//! Tests script it: count calls ([`MockServer::calls`]), read recorded
//! requests ([`MockServer::requests`]), and make the next call(s) to an
//! endpoint fail in a chosen way ([`MockServer::fail_next`] with a
//! [`Fault`]), or hold the next one in flight until the test releases it
//! ([`MockServer::hold_next`]), to prove concurrency properties without
//! sleeps. Sandbox "use cases" (the `use_case` query parameter of the
//! authorization request) simulate denied access, missing permissions,
//! invalid credentials and empty books.
//!
//! [`emulation`] plays real providers instead (QuickBooks, Xero, Sage, …):
//! their OAuth 2.0 paths, client authentication, PKCE rules, callbacks,
//! token shapes, rotation and admin-role signals, plus their tenant and
//! verify calls, one provider per [`emulation::Emulation`].
//!
//! [`browser::Browser`] plays the user's browser: it follows the redirects
//! of an authorization request, keeping cookies, and hands back the app's
//! callback URL.
//!
//! Providers connected without a redirect have their own loopback
//! emulations, scripted the same way (faults, call counts, recorded
//! requests), each with its own clock that only the test moves:
//!
//! * [`intacct`] — the Sage Intacct XML gateway (`getAPISession` with Web
//!   Services sender credentials and a company user's login);
//! * [`netsuite_tba`] — NetSuite REST web services with token-based
//!   authentication, every request signed with OAuth 1.0a `HMAC-SHA256`;
//! * [`oauth1`] — the RFC 5849 signature functions both sides use.
//!
//! # Example
//!
//! ```
//! use railz_connect_mock::{Endpoint, Fault, MockServer};
//!
//! let rt = tokio::runtime::Builder::new_current_thread()
//!     .enable_all()
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let server = MockServer::start().await.unwrap();
//!     assert_eq!(server.client_id(), "railz-sandbox-client");
//!     assert_eq!(
//!         server.token_url().as_str(),
//!         format!("{}/oauth/token", server.issuer())
//!     );
//!
//!     // The next token request answers 503.
//!     server.fail_next(Endpoint::Token, Fault::Status(503));
//!     assert_eq!(server.calls(Endpoint::Token), 0);
//!
//!     server.shutdown().await;
//! });
//! ```
//!
//! # HTTP contract (summary)
//!
//! * `GET /oauth/authorize` — `302` to `redirect_uri` with `code` or
//!   `error`/`error_description`, plus `state` and `iss`; `400` HTML page
//!   (no redirect) for an unknown client or unacceptable `redirect_uri`.
//! * `POST /oauth/token` — grants `authorization_code` and `refresh_token`;
//!   client authentication by HTTP Basic (RFC 6749 2.3.1 form-encoding) or
//!   `client_id`/`client_secret` in the body.
//! * `POST /oauth/revoke` — revokes the whole grant of the given token.
//! * `GET /.well-known/oauth-authorization-server` (RFC 8414) and
//!   `GET /.well-known/openid-configuration` — the same JSON metadata
//!   document: `issuer` (exactly [`MockServer::issuer`], unless
//!   [`MockServer::set_metadata_issuer`] says otherwise), the authorization,
//!   token and revocation endpoints, `code` responses, the
//!   `authorization_code` and `refresh_token` grants, `S256` only,
//!   `client_secret_basic`/`client_secret_post`, and
//!   `authorization_response_iss_parameter_supported: true`.
//! * `GET /api/companies`, `/api/companies/{id}`,
//!   `/api/companies/{id}/accounts`, `/api/companies/{id}/invoices` — need
//!   `Authorization: Bearer <access token>`.

#![forbid(unsafe_code)]

pub mod browser;
pub mod emulation;
mod hold;
pub mod intacct;
mod model;
pub mod netsuite_tba;
pub mod oauth1;
mod serve;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;

pub use crate::hold::HeldRequest;
pub use crate::model::{Account, Company, Invoice};
use crate::server::{ServerState, Shared, lock};

/// Default client id registered in the sandbox.
pub const DEFAULT_CLIENT_ID: &str = "railz-sandbox-client";
/// Default client secret. It deliberately contains `:`, `+`, `%`, `/` and
/// `=` so that clients must form-encode it for HTTP Basic (RFC 6749 2.3.1).
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-secret:+%/=";

const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
const DEFAULT_CODE_TTL: Duration = Duration::from_secs(60);

/// A kind of endpoint, for faults, counters and recording.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /oauth/authorize`.
    Authorize,
    /// `POST /oauth/token`.
    Token,
    /// `POST /oauth/revoke`.
    Revoke,
    /// Any path under `/api/`.
    Api,
    /// `GET /.well-known/oauth-authorization-server` (RFC 8414) and
    /// `GET /.well-known/openid-configuration`.
    Metadata,
}

/// A scripted failure, applied to exactly one call of an endpoint (see
/// [`MockServer::fail_next`]).
///
/// Every fault response also carries `Cache-Control: no-store`.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Fault {
    /// Respond with this status and JSON body `{"error":"server_error"}`;
    /// for 4xx statuses the error is `invalid_request` (and `rate_limited`
    /// for 429). An out-of-range status becomes 500.
    Status(u16),
    /// `429 Too Many Requests` with `Retry-After: N` and JSON
    /// `{"error":"rate_limited"}`.
    TooManyRequests {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// Respond with this status (500 if out of range), `Retry-After: value`
    /// sent verbatim (e.g. an HTTP-date such as
    /// `"Wed, 21 Oct 2015 07:28:00 GMT"`, or `"120"`), and the same JSON
    /// error body as [`Fault::Status`]. A value that is not a valid header
    /// value is left out.
    RetryAfterHeader {
        /// HTTP status.
        status: u16,
        /// The `Retry-After` header value, verbatim.
        value: String,
    },
    /// Sleep this long, then handle the request normally.
    Delay(Duration),
    /// `200` with `content-type: application/json` and a truncated body
    /// (`{"access_token":"abc`).
    MalformedJson,
    /// `200` with `text/html` body `<html><body>Maintenance</body></html>`.
    Html,
    /// `400 {"error":"invalid_grant","error_description":"..."}`.
    InvalidGrant,
    /// `302` with `Location` set to this URL and an empty body.
    Redirect(String),
    /// `200` JSON token response without `access_token`. The request is
    /// handled normally (a code is consumed, a refresh token rotated) and
    /// the field dropped; if normal handling failed, a fabricated token
    /// response is used instead.
    MissingAccessToken,
    /// `200` JSON token response, valid in every way (when the request
    /// itself was valid, the tokens really work), but with this
    /// `token_type`. If normal handling failed, a fabricated token response
    /// is used instead.
    TokenType(String),
    /// `200` JSON token response, valid in every way (when the request was
    /// valid, the tokens really work and rotation happened), with these
    /// fields set on top (overriding same-named ones): for provider answers
    /// with odd extras such as `"expires_in": 300000000000`. If normal
    /// handling failed, a fabricated token response is used instead.
    TokenFields(serde_json::Map<String, serde_json::Value>),
    /// Any OAuth error JSON: `{"error": error, "error_description": description}`
    /// (description omitted when `None`) with this status (400 if invalid).
    ErrorBody {
        /// HTTP status.
        status: u16,
        /// The `error` code.
        error: String,
        /// The optional `error_description`.
        description: Option<String>,
    },
}

/// A request as it reached the server (recorded before any fault applied).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Path without query, e.g. `"/oauth/token"`.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Headers with lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
    /// Decoded `application/x-www-form-urlencoded` body (empty for other
    /// content types).
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// First header value with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// First query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// First form field with this name.
    pub fn form_param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Configures a [`MockServer`] before it starts.
#[derive(Debug, Clone)]
pub struct MockServerBuilder {
    client_id: String,
    client_secret: String,
    companies: Vec<Company>,
    access_token_ttl: Duration,
    refresh_grace: Duration,
    code_ttl: Duration,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            companies: vec![Company::sandbox_default()],
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_grace: Duration::ZERO,
            code_ttl: DEFAULT_CODE_TTL,
        }
    }
}

impl MockServerBuilder {
    /// Registers this client instead of the default one.
    pub fn with_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_secret = secret.into();
        self
    }

    /// Companies every grant sees (default: [`Company::sandbox_default`]).
    pub fn with_companies(mut self, companies: Vec<Company>) -> Self {
        self.companies = companies;
        self
    }

    /// Lifetime of access tokens (`expires_in`, whole seconds on the wire);
    /// default 3600 s.
    pub fn with_access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// How long a rotated-out refresh token stays usable; default zero
    /// (dead at once).
    pub fn with_refresh_grace(mut self, grace: Duration) -> Self {
        self.refresh_grace = grace;
        self
    }

    /// Lifetime of authorization codes; default 60 s.
    pub fn with_code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = ttl;
        self
    }

    /// Binds `127.0.0.1:0` and spawns the server on the current Tokio
    /// runtime.
    pub async fn start(self) -> std::io::Result<MockServer> {
        let bound = serve::bind().await?;
        let addr = bound.local_addr();
        let issuer = format!("http://{addr}");
        let base_url = Url::parse(&format!("{issuer}/")).map_err(std::io::Error::other)?;
        let shared: Shared = Arc::new(Mutex::new(ServerState::new(
            issuer.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
            self.companies,
            self.access_token_ttl,
            self.refresh_grace,
            self.code_ttl,
        )));
        let router = axum::Router::new().fallback(server::handle).with_state(Arc::clone(&shared));
        let running = bound.serve(router, "railz sandbox server");
        tracing::debug!(%addr, "railz sandbox listening");
        Ok(MockServer {
            addr,
            base_url,
            issuer,
            client_id: self.client_id,
            client_secret: self.client_secret,
            shared,
            running,
        })
    }
}

/// The running sandbox. Dropping it aborts the server task; prefer
/// [`MockServer::shutdown`] for a graceful stop.
pub struct MockServer {
    addr: SocketAddr,
    base_url: Url,
    issuer: String,
    client_id: String,
    client_secret: String,
    shared: Shared,
    running: serve::Running,
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("base_url", &self.base_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// A builder with the defaults.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// Starts a sandbox with the defaults (`builder().start()`).
    pub async fn start() -> std::io::Result<MockServer> {
        MockServer::builder().start().await
    }

    /// The socket address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/` (with trailing slash).
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash), sent as `iss` in
    /// authorization callbacks (RFC 9207).
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    fn join(&self, path: &str) -> Url {
        self.base_url.join(path).expect("static relative path joins onto the base URL")
    }

    /// `base_url() + "oauth/authorize"`.
    pub fn authorize_url(&self) -> Url {
        self.join("oauth/authorize")
    }

    /// `base_url() + "oauth/token"`.
    pub fn token_url(&self) -> Url {
        self.join("oauth/token")
    }

    /// `base_url() + "oauth/revoke"`.
    pub fn revoke_url(&self) -> Url {
        self.join("oauth/revoke")
    }

    /// `base_url() + "api/"`.
    pub fn api_url(&self) -> Url {
        self.join("api/")
    }

    /// The RFC 8414 authorization server metadata document:
    /// `base_url() + ".well-known/oauth-authorization-server"`.
    pub fn metadata_url(&self) -> Url {
        self.join(server::OAUTH_METADATA_PATH)
    }

    /// The OpenID Connect discovery document (same content as
    /// [`metadata_url`](MockServer::metadata_url)):
    /// `base_url() + ".well-known/openid-configuration"`.
    pub fn openid_configuration_url(&self) -> Url {
        self.join(server::OPENID_CONFIGURATION_PATH)
    }

    /// The registered client id (default `"railz-sandbox-client"`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The registered client secret (default `"sandbox-secret:+%/="`).
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// Queues a fault: it applies to exactly one subsequent call of
    /// `endpoint`; several queued faults apply in FIFO order.
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        lock(&self.shared).faults.entry(endpoint).or_default().push_back(fault);
    }

    /// Holds the next request to `endpoint`: it is received, recorded and
    /// counted, then waits, before any other work (no fault applied, no
    /// code consumed, no refresh token validated or rotated), until the
    /// returned [`HeldRequest`] is released or dropped. Once released it is
    /// handled normally; its fault, if any, is the first one still queued
    /// for the endpoint at that moment.
    ///
    /// Each call holds exactly one request: `n` calls hold the next `n`
    /// requests, each released by its own handle. Any other request passes
    /// as usual, also while one is held.
    ///
    /// ```
    /// use railz_connect_mock::{Endpoint, MockServer, browser};
    /// use url::Url;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let server = MockServer::start().await.unwrap();
    /// let redirect_uri = Url::parse("http://127.0.0.1:8765/callback").unwrap();
    /// let mut url = server.authorize_url();
    /// url.query_pairs_mut()
    ///     .append_pair("response_type", "code")
    ///     .append_pair("client_id", server.client_id())
    ///     .append_pair("redirect_uri", redirect_uri.as_str())
    ///     .append_pair("state", "st4te")
    ///     .append_pair("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    ///     .append_pair("code_challenge_method", "S256");
    ///
    /// let held = server.hold_next(Endpoint::Authorize);
    /// let user = tokio::spawn(async move { browser::authorize(&url, &redirect_uri).await });
    /// held.arrived().await;
    /// // Received and counted, and waiting: the browser has no answer yet.
    /// assert_eq!(server.calls(Endpoint::Authorize), 1);
    /// assert!(!user.is_finished());
    /// held.release();
    /// assert!(user.await.unwrap().is_ok());
    /// # });
    /// ```
    pub fn hold_next(&self, endpoint: Endpoint) -> HeldRequest {
        let (hold, held) = hold::Hold::new(endpoint);
        lock(&self.shared).holds.entry(endpoint).or_default().push_back(hold);
        held
    }

    /// Requests that reached `endpoint`, including faulted ones.
    pub fn calls(&self, endpoint: Endpoint) -> usize {
        lock(&self.shared).calls.get(&endpoint).copied().unwrap_or(0)
    }

    /// Token endpoint requests with this `grant_type` form value (e.g.
    /// `"authorization_code"`, `"refresh_token"`), including faulted ones.
    /// Requests without a `grant_type` count under `""`.
    pub fn token_calls(&self, grant_type: &str) -> usize {
        lock(&self.shared).token_calls.get(grant_type).copied().unwrap_or(0)
    }

    /// All recorded requests to `endpoint`, in arrival order.
    pub fn requests(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.get(&endpoint).cloned().unwrap_or_default()
    }

    /// Makes the metadata documents announce `issuer` instead of the real one
    /// ([`issuer`](MockServer::issuer)), for issuer-mismatch tests; `None`
    /// restores the real one. Only the documents change: the endpoints they
    /// list and the `iss` of authorization callbacks stay the real ones.
    pub fn set_metadata_issuer(&self, issuer: Option<String>) {
        lock(&self.shared).metadata_issuer = issuer;
    }

    /// Replaces the companies every grant sees (existing grants included).
    pub fn set_companies(&self, companies: Vec<Company>) {
        lock(&self.shared).companies = companies;
    }

    /// Lifetime of access tokens issued from now on (default 3600 s).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        lock(&self.shared).access_ttl = ttl;
    }

    /// How long a rotated-out refresh token stays usable (default zero).
    /// Applies to tokens already rotated out too.
    pub fn set_refresh_grace(&self, grace: Duration) {
        lock(&self.shared).refresh_grace = grace;
    }

    /// Revokes every grant (all access and refresh tokens), as if the user
    /// disconnected the app at the provider.
    pub fn revoke_all(&self) {
        lock(&self.shared).revoke_all();
    }

    /// Number of grants whose current refresh token is usable (rotated-out
    /// tokens still within the grace period are not counted).
    pub fn active_refresh_tokens(&self) -> usize {
        lock(&self.shared).active_refresh_tokens()
    }

    /// Every refresh token issued for the grant `token` belongs to, in
    /// issuance order, rotated-out and revoked ones included: the last one
    /// is the grant's current refresh token. A grant is the chain started by
    /// one authorization code exchange; `token` may be any refresh or access
    /// token of it. `None` if the sandbox never issued `token` (fabricated
    /// tokens of [`Fault::MissingAccessToken`] and [`Fault::TokenType`]
    /// included).
    ///
    /// A crash test uses it to check that the refresh token an app stored is
    /// the last one the provider issued.
    pub fn refresh_token_lineage(&self, token: &str) -> Option<Vec<String>> {
        lock(&self.shared).refresh_token_lineage(token)
    }

    /// Stops accepting connections, lets in-flight requests finish (up to
    /// 5 s, then aborts) and waits for the server task to end.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}
