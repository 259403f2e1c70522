//! Oracle NetSuite REST web services with token-based authentication (TBA)
//! as a loopback server: every request is signed with OAuth 1.0a
//! `HMAC-SHA256` ([`crate::oauth1`]), as Railz's widget connects NetSuite
//! (the customer pastes Account ID, Consumer Key/Secret and Token ID/Secret).
//!
//! [`NetsuiteTba::base_url`] stands for
//! `https://{account}.suitetalk.api.netsuite.com/`.
//!
//! # HTTP contract
//!
//! Every request needs `Authorization: OAuth realm="<ACCOUNT ID>",
//! oauth_consumer_key, oauth_token, oauth_signature_method="HMAC-SHA256",
//! oauth_timestamp, oauth_nonce, oauth_version="1.0", oauth_signature`.
//! It is accepted when, in this order:
//!
//! 1. the header parses and the signature method is `HMAC-SHA256`
//!    (`oauth_version`, if sent, is `1.0`);
//! 2. `realm` is exactly the account id as NetSuite writes it
//!    ([`TbaCredentials::account_id`], e.g. `1234567_SB1`: upper case,
//!    underscore; the host-name form `1234567-sb1` is refused);
//! 3. the consumer key and token id are the registered ones and the token
//!    is not revoked ([`NetsuiteTba::revoke_token`]);
//! 4. the signature verifies over the *public* URL: the server rebuilds it
//!    from [`NetsuiteTba::base_url`] plus the request's path and query, so
//!    clients sign the URL they send to;
//! 5. `oauth_timestamp` is within ±300 s of the emulation's clock
//!    ([`NetsuiteTba::now`]; never the wall clock);
//! 6. the nonce is at least 6 characters and the combination token + nonce +
//!    timestamp was not used before (a replayed request is refused).
//!
//! Sources for 6: Oracle NetSuite help "Error Messages for RESTlets, SOAP
//! Web Services, and REST Web Services" (subsect_156935170194: `nonce_rejected`
//! "Nonce must be at least six characters long"; `nonce_used` "The
//! combination of nonce and timestamp has already been used by this user").
//! The ±300 s window is the brief's choice (NetSuite documents none that we
//! found: UNCONFIRMED).
//!
//! Any failure answers `401` with NetSuite's REST error body (Oracle help
//! "Error Handling in REST Web Services", section_156570709583; the `type`
//! URL as current responses write it):
//!
//! ```json
//! {"type":"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2","title":"Unauthorized","status":401,
//!  "o:errorDetails":[{"detail":"Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.","o:errorCode":"INVALID_LOGIN"}]}
//! ```
//!
//! The body never says which check failed (NetSuite's does not either); the
//! emulation records it for tests: [`NetsuiteTba::rejections`].
//!
//! Endpoints (after authentication):
//!
//! * `GET /services/rest/record/v1/metadata-catalog` — the verify call
//!   (Oracle help section_1540810174): `200` with `items` (one entry per
//!   record type: `name` and `links`).
//! * `GET /services/rest/record/v1/subsidiary/{id}` — subsidiary `1`, the
//!   root subsidiary, whose `name` and `legalName` are the company name
//!   ([`NetsuiteTba::set_company_name`]); any other id is `404`
//!   `NONEXISTENT_ID`. This is where a client reads the company name: the
//!   metadata catalog carries none, and the emulation invents no header.
//! * Any other path: `404`; another method: `405`.
//!
//! Content types (UNCONFIRMED, as NetSuite REST responses are commonly
//! seen): records `application/vnd.oracle.resource+json; type=singular`,
//! the catalog `...; type=collection`, errors `...; type=error`.
//!
//! ```
//! use railz_connect_mock::netsuite_tba::NetsuiteTba;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let netsuite = NetsuiteTba::start().await.unwrap();
//! let creds = netsuite.credentials();
//! assert_eq!(creds.account_id, "1234567_SB1");
//! assert_eq!(netsuite.now(), 1_800_000_000);
//! netsuite.shutdown().await;
//! # });
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

use crate::serve::{self, Running, Script};
use crate::{Fault, RecordedRequest, oauth1};

/// Where the emulation clock starts (Unix seconds).
pub const START_UNIX: i64 = 1_800_000_000;
/// How far `oauth_timestamp` may be from the emulation clock, in seconds.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;
/// The shortest nonce NetSuite accepts.
pub const MIN_NONCE_LEN: usize = 6;

const METADATA_CATALOG_PATH: &str = "/services/rest/record/v1/metadata-catalog";
const SUBSIDIARY_PREFIX: &str = "/services/rest/record/v1/subsidiary/";
const BODY_LIMIT: usize = 1 << 20;
const INVALID_LOGIN_DETAIL: &str = "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.";

/// The TBA credentials a customer pastes: the account id and the
/// integration record's and access token's keys and secrets.
///
/// `Debug` redacts both secrets.
#[derive(Clone)]
pub struct TbaCredentials {
    /// NetSuite account id as the Account ID field writes it, e.g.
    /// `1234567_SB1` for a sandbox (the `realm`).
    pub account_id: String,
    /// The integration record's consumer key.
    pub consumer_key: String,
    /// The integration record's consumer secret.
    pub consumer_secret: String,
    /// The access token's id (`oauth_token`).
    pub token_id: String,
    /// The access token's secret.
    pub token_secret: String,
}

impl fmt::Debug for TbaCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TbaCredentials")
            .field("account_id", &self.account_id)
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"[redacted]")
            .field("token_id", &self.token_id)
            .field("token_secret", &"[redacted]")
            .finish()
    }
}

impl TbaCredentials {
    /// The emulation's default credentials. Both secrets contain characters
    /// that RFC 5849 percent-encoding changes (`/ + & = %` and a space), so
    /// a client that forgets to encode them in the signing key fails.
    fn emulation_default() -> TbaCredentials {
        TbaCredentials {
            account_id: "1234567_SB1".to_owned(),
            consumer_key: "ns-consumer-key-6f1c2a9e".to_owned(),
            consumer_secret: "ns consumer/secret+&=%1".to_owned(),
            token_id: "ns-token-id-3b7a5d10".to_owned(),
            token_secret: "ns token/secret+&=%2~*".to_owned(),
        }
    }
}

/// Why the emulation refused a request (the wire answer is the same
/// `INVALID_LOGIN` for all of them).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TbaRejection {
    /// No `Authorization` header, not the OAuth scheme, or unparseable.
    MalformedHeader,
    /// A required OAuth parameter is missing, or `oauth_version` is not 1.0.
    MissingOrBadParameter,
    /// `oauth_signature_method` is not `HMAC-SHA256`.
    SignatureMethod,
    /// `realm` is missing or not the account id.
    Realm,
    /// Unknown consumer key.
    ConsumerKey,
    /// Unknown token id.
    Token,
    /// The token was revoked.
    TokenRevoked,
    /// The signature does not verify.
    Signature,
    /// `oauth_timestamp` is outside the ±300 s window.
    Timestamp,
    /// The nonce is shorter than 6 characters.
    NonceTooShort,
    /// The token + nonce + timestamp combination was used before.
    NonceReused,
}

struct TbaState {
    base_url: Url,
    creds: TbaCredentials,
    company_name: String,
    now: i64,
    revoked: bool,
    restricted: bool,
    used_nonces: HashSet<(String, String, i64)>,
    script: Script,
    rejections: Vec<TbaRejection>,
}

type Shared = Arc<Mutex<TbaState>>;

use crate::serve::lock;

/// The running NetSuite TBA emulation. Dropping it aborts the server task;
/// prefer [`NetsuiteTba::shutdown`].
pub struct NetsuiteTba {
    base_url: Url,
    shared: Shared,
    running: Running,
}

impl fmt::Debug for NetsuiteTba {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetsuiteTba").field("base_url", &self.base_url.as_str()).finish_non_exhaustive()
    }
}

impl NetsuiteTba {
    /// Binds `127.0.0.1:0` and spawns the server on the current Tokio
    /// runtime, with the default credentials, company name
    /// `"Railz Demo NetSuite Co."` and the clock at [`START_UNIX`].
    pub async fn start() -> std::io::Result<NetsuiteTba> {
        let bound = serve::bind().await?;
        let addr = bound.local_addr();
        let base_url = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        let shared: Shared = Arc::new(Mutex::new(TbaState {
            base_url: base_url.clone(),
            creds: TbaCredentials::emulation_default(),
            company_name: "Railz Demo NetSuite Co.".to_owned(),
            now: START_UNIX,
            revoked: false,
            restricted: false,
            used_nonces: HashSet::new(),
            script: Script::default(),
            rejections: Vec::new(),
        }));
        let router = axum::Router::new().fallback(handle).with_state(Arc::clone(&shared));
        let running = bound.serve(router, "netsuite tba emulation");
        Ok(NetsuiteTba { base_url, shared, running })
    }

    /// `http://127.0.0.1:PORT/`, standing for
    /// `https://{account}.suitetalk.api.netsuite.com/`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The registered credentials (account id, consumer key/secret, token
    /// id/secret).
    pub fn credentials(&self) -> TbaCredentials {
        lock(&self.shared).creds.clone()
    }

    /// The company name: subsidiary 1's `name` and `legalName`.
    pub fn set_company_name(&self, name: &str) {
        lock(&self.shared).company_name = name.to_owned();
    }

    /// The emulation clock, Unix seconds (starts at [`START_UNIX`]).
    pub fn now(&self) -> i64 {
        lock(&self.shared).now
    }

    /// Sets the emulation clock (Unix seconds).
    pub fn set_now(&self, unix: i64) {
        lock(&self.shared).now = unix;
    }

    /// Moves the emulation clock forward (whole seconds).
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let mut state = lock(&self.shared);
        state.now = state.now.saturating_add(secs);
    }

    /// Whether the token's role lacks the permissions the REST web services need: signed
    /// requests then pass authentication and answer `403` `INSUFFICIENT_PERMISSION`.
    pub fn set_restricted(&self, restricted: bool) {
        lock(&self.shared).restricted = restricted;
    }

    /// Revokes the access token (as a NetSuite administrator would): every
    /// signed request now fails `401 INVALID_LOGIN`.
    pub fn revoke_token(&self) {
        lock(&self.shared).revoked = true;
    }

    /// Queues a fault for the next request (FIFO), applied after recording
    /// and before authentication, with the sandbox's responses
    /// ([`crate::MockServer::fail_next`]). [`Fault::Delay`] waits, then
    /// handles the request normally; the token-response faults
    /// ([`Fault::MissingAccessToken`], [`Fault::TokenType`],
    /// [`Fault::TokenFields`]) have nothing to alter here: the request is
    /// handled normally.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared).script.faults.push_back(fault);
    }

    /// Requests received, faulted and refused ones included.
    pub fn calls(&self) -> usize {
        lock(&self.shared).script.calls
    }

    /// Every request received, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).script.requests.clone()
    }

    /// Why each refused request was refused, in order.
    pub fn rejections(&self) -> Vec<TbaRejection> {
        lock(&self.shared).rejections.clone()
    }

    /// Stops accepting connections, lets in-flight requests finish (up to
    /// 5 s, then aborts) and waits for the server task to end.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

fn netsuite_json(status: StatusCode, kind: &'static str, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    let content_type = match kind {
        "singular" => "application/vnd.oracle.resource+json; type=singular",
        "collection" => "application/vnd.oracle.resource+json; type=collection",
        _ => "application/vnd.oracle.resource+json; type=error",
    };
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// NetSuite's REST error body (RFC 9457-like, with `o:errorDetails`).
fn netsuite_error(status: StatusCode, section: &str, detail: &str, code: &str) -> Response {
    let body = json!({
        "type": format!("https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "o:errorDetails": [{ "detail": detail, "o:errorCode": code }],
    });
    netsuite_json(status, "error", &body)
}

fn invalid_login() -> Response {
    netsuite_error(StatusCode::UNAUTHORIZED, "15.5.2", INVALID_LOGIN_DETAIL, "INVALID_LOGIN")
}

async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => {
            return netsuite_error(StatusCode::BAD_REQUEST, "15.5.1", "Unreadable request body.", "INVALID_CONTENT");
        }
    };
    let recorded = serve::record(&parts, body);
    tracing::debug!(method = %recorded.method, path = %recorded.path, "netsuite tba request");
    let fault = lock(&shared).script.arrive(&recorded);
    if let Some(resp) = serve::plain_fault(fault).await {
        return resp;
    }
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut state = lock(&shared);
    if let Err(rejection) = authenticate(&mut state, &parts.method, &parts.headers, path_and_query, &recorded.form) {
        tracing::debug!(?rejection, "netsuite tba refuses request");
        state.rejections.push(rejection);
        return invalid_login();
    }
    route(&state, &parts.method, parts.uri.path())
}

/// The checks of the module docs, in order.
fn authenticate(
    state: &mut TbaState,
    method: &Method,
    headers: &http::HeaderMap,
    path_and_query: &str,
    form: &[(String, String)],
) -> Result<(), TbaRejection> {
    let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(TbaRejection::MalformedHeader)?;
    let parsed = oauth1::parse_authorization(header).map_err(|_| TbaRejection::MalformedHeader)?;
    if parsed.get("oauth_signature_method").is_some_and(|m| m != oauth1::HMAC_SHA256) {
        return Err(TbaRejection::SignatureMethod);
    }
    if parsed.realm.as_deref() != Some(state.creds.account_id.as_str()) {
        return Err(TbaRejection::Realm);
    }
    if parsed.get("oauth_consumer_key") != Some(state.creds.consumer_key.as_str()) {
        return Err(TbaRejection::ConsumerKey);
    }
    if parsed.get("oauth_token") != Some(state.creds.token_id.as_str()) {
        return Err(TbaRejection::Token);
    }
    if state.revoked {
        return Err(TbaRejection::TokenRevoked);
    }
    // The URL the client signed: the public base URL + path + query.
    let url = state.base_url.join(path_and_query).map_err(|_| TbaRejection::MalformedHeader)?;
    let verified =
        oauth1::verify(method.as_str(), &url, header, form, &state.creds.consumer_secret, &state.creds.token_secret)
            .map_err(|error| match error {
                oauth1::Oauth1Error::BadSignature => TbaRejection::Signature,
                oauth1::Oauth1Error::UnsupportedSignatureMethod(_) => TbaRejection::SignatureMethod,
                oauth1::Oauth1Error::NotOAuth
                | oauth1::Oauth1Error::Malformed(_)
                | oauth1::Oauth1Error::DuplicateParam(_) => TbaRejection::MalformedHeader,
                _ => TbaRejection::MissingOrBadParameter,
            })?;
    if (verified.timestamp - state.now).abs() > TIMESTAMP_WINDOW_SECS {
        return Err(TbaRejection::Timestamp);
    }
    if verified.nonce.chars().count() < MIN_NONCE_LEN {
        return Err(TbaRejection::NonceTooShort);
    }
    let key = (state.creds.token_id.clone(), verified.nonce, verified.timestamp);
    if !state.used_nonces.insert(key) {
        return Err(TbaRejection::NonceReused);
    }
    Ok(())
}

fn route(state: &TbaState, method: &Method, path: &str) -> Response {
    let known = path == METADATA_CATALOG_PATH || path.starts_with(SUBSIDIARY_PREFIX);
    if known && state.restricted {
        return netsuite_error(
            StatusCode::FORBIDDEN,
            "15.5.4",
            "Permission Violation: The role does not have the REST Web Services permission.",
            "INSUFFICIENT_PERMISSION",
        );
    }
    if known && method != Method::GET {
        return netsuite_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "15.5.6",
            "The HTTP method is not allowed for this resource.",
            "INVALID_REQUEST",
        );
    }
    let public = |p: &str| format!("{}{}", state.base_url.as_str().trim_end_matches('/'), p);
    if path == METADATA_CATALOG_PATH {
        let items: Vec<Value> = ["account", "customer", "invoice", "subsidiary", "vendor"]
            .iter()
            .map(|name| {
                json!({
                    "name": name,
                    "links": [{
                        "rel": "canonical",
                        "href": public(&format!("{METADATA_CATALOG_PATH}/{name}")),
                        "mediaType": "application/json",
                    }],
                })
            })
            .collect();
        let body = json!({
            "items": items,
            "links": [{ "rel": "self", "href": public(METADATA_CATALOG_PATH) }],
        });
        return netsuite_json(StatusCode::OK, "collection", &body);
    }
    if let Some(id) = path.strip_prefix(SUBSIDIARY_PREFIX) {
        if id != "1" {
            return netsuite_error(
                StatusCode::NOT_FOUND,
                "15.5.5",
                "The record instance does not exist. Provide a valid record instance ID.",
                "NONEXISTENT_ID",
            );
        }
        let body = json!({
            "links": [{ "rel": "self", "href": public(&format!("{SUBSIDIARY_PREFIX}1")) }],
            "id": "1",
            "name": state.company_name,
            "legalName": state.company_name,
            "fullName": state.company_name,
            "isElimination": false,
            "isInactive": false,
        });
        return netsuite_json(StatusCode::OK, "singular", &body);
    }
    netsuite_error(StatusCode::NOT_FOUND, "15.5.5", "The requested resource was not found.", "NONEXISTENT_ID")
}
