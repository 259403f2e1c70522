//! Shared state and the HTTP handlers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::{Url, form_urlencoded};

use crate::model::Company;
use crate::{Endpoint, Fault, RecordedRequest};

/// Lifetime announced for refresh tokens (`x_refresh_token_expires_in`), 100 days.
const REFRESH_TOKEN_EXPIRES_IN: u64 = 8_640_000;
/// Scope granted when the client asked for none.
const DEFAULT_SCOPE: &str = "accounting.read";
/// Largest request body the server reads.
const BODY_LIMIT: usize = 1 << 20;

pub(crate) type Shared = Arc<Mutex<ServerState>>;

/// Locks the state, shrugging off poisoning (a panicking handler must not
/// take the whole sandbox down with it).
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, ServerState> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) companies: Vec<Company>,
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_grace: Duration,
    pub(crate) code_ttl: Duration,
    pub(crate) faults: HashMap<Endpoint, VecDeque<Fault>>,
    pub(crate) calls: HashMap<Endpoint, usize>,
    pub(crate) token_calls: HashMap<String, usize>,
    pub(crate) requests: HashMap<Endpoint, Vec<RecordedRequest>>,
    codes: HashMap<String, CodeRecord>,
    used_codes: HashSet<String>,
    grants: Vec<Grant>,
    access_tokens: HashMap<String, AccessRecord>,
    refresh_tokens: HashMap<String, RefreshRecord>,
}

#[derive(Debug)]
struct CodeRecord {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: Option<String>,
    use_case: UseCase,
    issued_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UseCase {
    UserGood,
    InvalidCredentials,
    DataEmpty,
}

#[derive(Debug)]
struct Grant {
    client_id: String,
    scope: String,
    data_empty: bool,
    revoked: bool,
    current_refresh: String,
}

#[derive(Debug)]
struct AccessRecord {
    grant: usize,
    expires_at: Instant,
}

#[derive(Debug)]
struct RefreshRecord {
    grant: usize,
    /// When this token was rotated out; `None` while it is the grant's current one.
    rotated_at: Option<Instant>,
}

impl ServerState {
    pub(crate) fn new(
        issuer: String,
        client_id: String,
        client_secret: String,
        companies: Vec<Company>,
        access_ttl: Duration,
        refresh_grace: Duration,
        code_ttl: Duration,
    ) -> ServerState {
        ServerState {
            issuer,
            client_id,
            client_secret,
            companies,
            access_ttl,
            refresh_grace,
            code_ttl,
            faults: HashMap::new(),
            calls: HashMap::new(),
            token_calls: HashMap::new(),
            requests: HashMap::new(),
            codes: HashMap::new(),
            used_codes: HashSet::new(),
            grants: Vec::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
        }
    }

    pub(crate) fn revoke_all(&mut self) {
        for grant in &mut self.grants {
            grant.revoked = true;
        }
    }

    pub(crate) fn active_refresh_tokens(&self) -> usize {
        self.grants.iter().filter(|g| !g.revoked).count()
    }

    fn refresh_usable(&self, record: &RefreshRecord, now: Instant) -> bool {
        let grant = &self.grants[record.grant];
        if grant.revoked {
            return false;
        }
        match record.rotated_at {
            None => true,
            Some(at) => now < at + self.refresh_grace,
        }
    }

    fn issue_tokens(&mut self, grant: usize) -> Value {
        let now = Instant::now();
        let access_token = random_token();
        let refresh_token = random_token();
        self.access_tokens.insert(access_token.clone(), AccessRecord { grant, expires_at: now + self.access_ttl });
        let old = std::mem::replace(&mut self.grants[grant].current_refresh, refresh_token.clone());
        if let Some(old) = self.refresh_tokens.get_mut(&old) {
            old.rotated_at = Some(now);
        }
        self.refresh_tokens.insert(refresh_token.clone(), RefreshRecord { grant, rotated_at: None });
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_ttl.as_secs(),
            "refresh_token": refresh_token,
            "scope": self.grants[grant].scope,
            "x_refresh_token_expires_in": REFRESH_TOKEN_EXPIRES_IN,
        })
    }
}

/// Random 32 bytes, base64url without padding (43 characters).
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn classify(path: &str) -> Option<Endpoint> {
    match path {
        "/oauth/authorize" => Some(Endpoint::Authorize),
        "/oauth/token" => Some(Endpoint::Token),
        "/oauth/revoke" => Some(Endpoint::Revoke),
        p if p == "/api" || p.starts_with("/api/") => Some(Endpoint::Api),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn oauth_error(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    let body = match description {
        Some(d) => json!({ "error": error, "error_description": d }),
        None => json!({ "error": error }),
    };
    no_store(json_response(status, &body))
}

fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", Some(description))
}

fn invalid_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", Some(description))
}

fn invalid_client() -> Response {
    let mut resp = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", None);
    resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"railz-sandbox\""));
    resp
}

fn invalid_token() -> Response {
    let mut resp = json_response(StatusCode::UNAUTHORIZED, &json!({ "error": "invalid_token" }));
    resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    resp
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut resp = Response::new(Body::from(html));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp
}

fn html_error_page(message: &str) -> Response {
    // The message is one of our own constant strings: no escaping needed.
    let html = format!(
        "<!DOCTYPE html><html><head><title>Railz Sandbox: authorization error</title></head>\
         <body><h1>Authorization error</h1><p>{message}</p></body></html>"
    );
    no_store(html_response(StatusCode::BAD_REQUEST, html))
}

fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({ "error": "not_found" }))
}

fn method_not_allowed() -> Response {
    json_response(StatusCode::METHOD_NOT_ALLOWED, &json!({ "error": "method_not_allowed" }))
}

fn redirect(location: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, value);
    }
    no_store(resp)
}

/// What a normal (unfaulted) dispatch produced: a successful token response
/// is kept as JSON so the token-shaped faults can alter it.
enum Reply {
    Token(Value),
    Other(Response),
}

impl Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Token(value) => no_store(json_response(StatusCode::OK, &value)),
            Reply::Other(resp) => resp,
        }
    }
}

fn fault_response(fault: Fault) -> Response {
    let resp = match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = if status == StatusCode::TOO_MANY_REQUESTS {
                "rate_limited"
            } else if status.is_client_error() {
                "invalid_request"
            } else {
                "server_error"
            };
            json_response(status, &json!({ "error": error }))
        }
        Fault::TooManyRequests { retry_after_secs } => {
            let mut resp = json_response(StatusCode::TOO_MANY_REQUESTS, &json!({ "error": "rate_limited" }));
            resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        Fault::MalformedJson => {
            let mut resp = Response::new(Body::from(r#"{"access_token":"abc"#));
            resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp
        }
        Fault::Html => html_response(StatusCode::OK, "<html><body>Maintenance</body></html>".to_owned()),
        Fault::InvalidGrant => {
            return invalid_grant("the grant is invalid (injected by the sandbox)");
        }
        Fault::Redirect(location) => return redirect(&location),
        Fault::ErrorBody { status, error, description } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return oauth_error(status, &error, description.as_deref());
        }
        // Handled by the caller (they need the normal handling to run).
        Fault::Delay(_) | Fault::MissingAccessToken | Fault::TokenType(_) => {
            json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({ "error": "server_error" }))
        }
    };
    no_store(resp)
}

/// A token response shaped by a token fault: the real one when the request
/// succeeded, otherwise a fabricated one with tokens the server does not know.
fn token_shaped(reply: Reply) -> Value {
    match reply {
        Reply::Token(value) => value,
        Reply::Other(_) => json!({
            "access_token": random_token(),
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": random_token(),
            "scope": DEFAULT_SCOPE,
            "x_refresh_token_expires_in": REFRESH_TOKEN_EXPIRES_IN,
        }),
    }
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

fn parse_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).into_owned().collect()
}

/// The single handler behind every path: records, counts, applies the next
/// queued fault, then dispatches.
pub(crate) async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some(endpoint) = classify(parts.uri.path()) else {
        return not_found();
    };
    let body = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => return invalid_request("unreadable request body"),
    };
    let form = if is_form(&parts.headers) { parse_pairs(&body) } else { Vec::new() };
    let recorded = RecordedRequest {
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
    };
    tracing::debug!(
        method = %recorded.method,
        path = %recorded.path,
        "railz sandbox request"
    );

    let fault = {
        let mut state = lock(&shared);
        *state.calls.entry(endpoint).or_default() += 1;
        if endpoint == Endpoint::Token {
            let grant_type = first(&recorded.form, "grant_type").unwrap_or("").to_owned();
            *state.token_calls.entry(grant_type).or_default() += 1;
        }
        state.requests.entry(endpoint).or_default().push(recorded.clone());
        state.faults.get_mut(&endpoint).and_then(VecDeque::pop_front)
    };

    match fault {
        None => dispatch(&shared, endpoint, &parts.method, &recorded).into_response(),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            dispatch(&shared, endpoint, &parts.method, &recorded).into_response()
        }
        Some(Fault::MissingAccessToken) => {
            let mut value = token_shaped(dispatch(&shared, endpoint, &parts.method, &recorded));
            if let Some(map) = value.as_object_mut() {
                map.remove("access_token");
            }
            Reply::Token(value).into_response()
        }
        Some(Fault::TokenType(token_type)) => {
            let mut value = token_shaped(dispatch(&shared, endpoint, &parts.method, &recorded));
            value["token_type"] = Value::String(token_type);
            Reply::Token(value).into_response()
        }
        Some(other) => {
            tracing::debug!(?other, ?endpoint, "railz sandbox injects fault");
            fault_response(other)
        }
    }
}

fn dispatch(shared: &Shared, endpoint: Endpoint, method: &Method, req: &RecordedRequest) -> Reply {
    let mut state = lock(shared);
    match (endpoint, method) {
        (Endpoint::Authorize, &Method::GET) => Reply::Other(authorize(&mut state, req)),
        (Endpoint::Token, &Method::POST) => token(&mut state, req),
        (Endpoint::Revoke, &Method::POST) => Reply::Other(revoke(&mut state, req)),
        (Endpoint::Api, &Method::GET) => Reply::Other(api(&state, req)),
        (Endpoint::Api, _) => Reply::Other(match bearer_grant(&state, req) {
            Ok(_) => method_not_allowed(),
            Err(resp) => *resp,
        }),
        _ => Reply::Other(method_not_allowed()),
    }
}

// ---------------------------------------------------------------------------
// GET /oauth/authorize
// ---------------------------------------------------------------------------

/// `redirect_uri` must be absolute http(s) without fragment; plain http only
/// towards a loopback host.
fn acceptable_redirect(raw: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    if url.fragment().is_some() {
        return None;
    }
    match url.scheme() {
        "https" => url.host().is_some().then_some(url),
        "http" => {
            let loopback = matches!(url.host_str(), Some("127.0.0.1") | Some("localhost") | Some("[::1]"));
            loopback.then_some(url)
        }
        _ => None,
    }
}

fn authorize(state: &mut ServerState, req: &RecordedRequest) -> Response {
    let q = &req.query;
    if first(q, "client_id") != Some(state.client_id.as_str()) {
        return html_error_page("Unknown or missing client_id.");
    }
    let Some(raw_redirect) = first(q, "redirect_uri") else {
        return html_error_page("Missing redirect_uri.");
    };
    let Some(mut location) = acceptable_redirect(raw_redirect) else {
        return html_error_page("Invalid redirect_uri: it must be an absolute https URL, or http on a loopback host.");
    };

    let state_param = first(q, "state");
    let outcome: Result<String, (&str, Option<&str>)> = (|| {
        if state_param.is_none() {
            return Err(("invalid_request", Some("state is required")));
        }
        if first(q, "response_type") != Some("code") {
            return Err(("unsupported_response_type", None));
        }
        let challenge = first(q, "code_challenge").filter(|c| !c.is_empty());
        let (Some(challenge), Some("S256")) = (challenge, first(q, "code_challenge_method")) else {
            return Err(("invalid_request", Some("PKCE S256 is required")));
        };
        let use_case = match first(q, "use_case").unwrap_or("user_good") {
            "user_good" => UseCase::UserGood,
            "invalid_credentials" => UseCase::InvalidCredentials,
            "data_empty" => UseCase::DataEmpty,
            "failed_connection" => {
                return Err(("access_denied", Some("The user denied access")));
            }
            "insufficient_permission" => {
                return Err((
                    "access_denied",
                    Some("insufficient_permission: the user is not an administrator or owner"),
                ));
            }
            _ => return Err(("invalid_request", Some("unknown use_case"))),
        };
        let code = random_token();
        state.codes.insert(
            code.clone(),
            CodeRecord {
                client_id: state.client_id.clone(),
                redirect_uri: raw_redirect.to_owned(),
                code_challenge: challenge.to_owned(),
                scope: first(q, "scope").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
                use_case,
                issued_at: Instant::now(),
            },
        );
        Ok(code)
    })();

    {
        let mut pairs = location.query_pairs_mut();
        match &outcome {
            Ok(code) => {
                pairs.append_pair("code", code);
            }
            Err((error, description)) => {
                pairs.append_pair("error", error);
                if let Some(description) = description {
                    pairs.append_pair("error_description", description);
                }
            }
        }
        if let Some(s) = state_param {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("iss", &state.issuer);
    }
    redirect(location.as_str())
}

// ---------------------------------------------------------------------------
// Client authentication (RFC 6749 2.3.1)
// ---------------------------------------------------------------------------

/// Decodes one `application/x-www-form-urlencoded` component strictly:
/// `+` is a space, `%XX` a byte; a malformed escape or invalid UTF-8 fails.
fn form_decode(input: &str) -> Option<String> {
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

/// Credentials from `Authorization: Basic`: `Some(None)` when the header is
/// present but unusable.
fn basic_credentials(req: &RecordedRequest) -> Option<Option<(String, String)>> {
    let value = req.headers.iter().find(|(name, _)| name == "authorization").map(|(_, v)| v.trim())?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok().and_then(|b| String::from_utf8(b).ok());
    Some(decoded.and_then(|joined| {
        let (id, secret) = joined.split_once(':')?;
        Some((form_decode(id)?, form_decode(secret)?))
    }))
}

/// Authenticates the client with Basic or body credentials.
fn authenticate_client(state: &ServerState, req: &RecordedRequest) -> Result<(), Box<Response>> {
    let credentials = match basic_credentials(req) {
        Some(Some((id, secret))) => {
            // A body client_id, when also sent, must name the same client.
            if first(&req.form, "client_id").is_some_and(|body_id| body_id != id) {
                return Err(Box::new(invalid_client()));
            }
            Some((id, secret))
        }
        Some(None) => None,
        None => match (first(&req.form, "client_id"), first(&req.form, "client_secret")) {
            (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
            _ => None,
        },
    };
    match credentials {
        Some((id, secret)) if id == state.client_id && secret == state.client_secret => Ok(()),
        _ => Err(Box::new(invalid_client())),
    }
}

// ---------------------------------------------------------------------------
// POST /oauth/token
// ---------------------------------------------------------------------------

fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn token(state: &mut ServerState, req: &RecordedRequest) -> Reply {
    if let Err(resp) = authenticate_client(state, req) {
        return Reply::Other(*resp);
    }
    let form = &req.form;
    match first(form, "grant_type") {
        None => Reply::Other(invalid_request("grant_type is required")),
        Some("authorization_code") => match exchange_code(state, form) {
            Ok(value) => Reply::Token(value),
            Err(resp) => Reply::Other(*resp),
        },
        Some("refresh_token") => match refresh(state, form) {
            Ok(value) => Reply::Token(value),
            Err(resp) => Reply::Other(*resp),
        },
        Some(_) => Reply::Other(oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", None)),
    }
}

fn exchange_code(state: &mut ServerState, form: &[(String, String)]) -> Result<Value, Box<Response>> {
    let (Some(code), Some(redirect_uri), Some(verifier)) =
        (first(form, "code"), first(form, "redirect_uri"), first(form, "code_verifier"))
    else {
        return Err(Box::new(invalid_request("code, redirect_uri and code_verifier are required")));
    };
    // Consumed on first use, whatever happens next.
    let Some(record) = state.codes.remove(code) else {
        return Err(Box::new(if state.used_codes.contains(code) {
            invalid_grant("authorization code already used")
        } else {
            invalid_grant("unknown authorization code")
        }));
    };
    state.used_codes.insert(code.to_owned());
    if record.issued_at.elapsed() >= state.code_ttl {
        return Err(Box::new(invalid_grant("authorization code expired")));
    }
    if record.client_id != state.client_id {
        return Err(Box::new(invalid_grant("authorization code was issued to another client")));
    }
    if record.redirect_uri != redirect_uri {
        return Err(Box::new(invalid_grant("redirect_uri does not match the authorization request")));
    }
    if pkce_s256(verifier) != record.code_challenge {
        return Err(Box::new(invalid_grant("PKCE verification failed")));
    }
    if record.use_case == UseCase::InvalidCredentials {
        return Err(Box::new(invalid_grant("invalid credentials for the accounting software")));
    }
    let grant = state.grants.len();
    state.grants.push(Grant {
        client_id: record.client_id,
        scope: record.scope.unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
        data_empty: record.use_case == UseCase::DataEmpty,
        revoked: false,
        current_refresh: String::new(),
    });
    Ok(state.issue_tokens(grant))
}

fn refresh(state: &mut ServerState, form: &[(String, String)]) -> Result<Value, Box<Response>> {
    let Some(refresh_token) = first(form, "refresh_token") else {
        return Err(Box::new(invalid_request("refresh_token is required")));
    };
    let now = Instant::now();
    let grant = match state.refresh_tokens.get(refresh_token) {
        Some(record) if state.refresh_usable(record, now) => record.grant,
        Some(_) => {
            return Err(Box::new(invalid_grant("refresh token revoked or rotated out")));
        }
        None => return Err(Box::new(invalid_grant("unknown refresh token"))),
    };
    if state.grants[grant].client_id != state.client_id {
        return Err(Box::new(invalid_grant("refresh token was issued to another client")));
    }
    Ok(state.issue_tokens(grant))
}

// ---------------------------------------------------------------------------
// POST /oauth/revoke (RFC 7009)
// ---------------------------------------------------------------------------

fn revoke(state: &mut ServerState, req: &RecordedRequest) -> Response {
    if let Err(resp) = authenticate_client(state, req) {
        return *resp;
    }
    let Some(token) = first(&req.form, "token") else {
        return invalid_request("token is required");
    };
    let grant =
        state.refresh_tokens.get(token).map(|r| r.grant).or_else(|| state.access_tokens.get(token).map(|a| a.grant));
    if let Some(grant) = grant {
        let grant = &mut state.grants[grant];
        if grant.client_id == state.client_id {
            grant.revoked = true;
        }
    }
    no_store(Response::new(Body::empty()))
}

// ---------------------------------------------------------------------------
// /api/*
// ---------------------------------------------------------------------------

fn bearer_grant<'s>(state: &'s ServerState, req: &RecordedRequest) -> Result<&'s Grant, Box<Response>> {
    let token = req
        .headers
        .iter()
        .find(|(name, _)| name == "authorization")
        .and_then(|(_, v)| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| Box::new(invalid_token()))?;
    let record = state.access_tokens.get(token).ok_or_else(|| Box::new(invalid_token()))?;
    let grant = &state.grants[record.grant];
    if grant.revoked || Instant::now() >= record.expires_at {
        return Err(Box::new(invalid_token()));
    }
    Ok(grant)
}

fn api(state: &ServerState, req: &RecordedRequest) -> Response {
    let grant = match bearer_grant(state, req) {
        Ok(grant) => grant,
        Err(resp) => return *resp,
    };
    let path = req.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(2).collect(); // skip "" and "api"
    let find = |id: &str| -> Option<&Company> {
        let id = percent_decode_path(id);
        state.companies.iter().find(|c| c.id == id)
    };
    match segments.as_slice() {
        ["companies"] => {
            let companies: Vec<Value> = state.companies.iter().map(|c| json!({ "id": c.id, "name": c.name })).collect();
            json_response(StatusCode::OK, &json!({ "companies": companies }))
        }
        ["companies", id] => match find(id) {
            Some(c) => json_response(
                StatusCode::OK,
                &json!({
                    "id": c.id,
                    "name": c.name,
                    "legalName": c.legal_name,
                    "country": c.country,
                    "currency": c.currency,
                }),
            ),
            None => not_found(),
        },
        ["companies", id, "accounts"] => match find(id) {
            Some(c) => {
                let accounts = if grant.data_empty { &[][..] } else { &c.accounts[..] };
                json_response(StatusCode::OK, &json!({ "accounts": accounts }))
            }
            None => not_found(),
        },
        ["companies", id, "invoices"] => match find(id) {
            Some(c) => {
                let invoices = if grant.data_empty { &[][..] } else { &c.invoices[..] };
                json_response(StatusCode::OK, &json!({ "invoices": invoices }))
            }
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// Percent-decodes a path segment (`+` stays a plus); malformed input is
/// returned as is.
fn percent_decode_path(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    form_decode(&segment.replace('+', "%2B")).unwrap_or_else(|| segment.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decode_handles_rfc6749_encoding() {
        assert_eq!(form_decode("sandbox-secret%3A%2B%25%2F%3D").as_deref(), Some("sandbox-secret:+%/="));
        assert_eq!(form_decode("a+b").as_deref(), Some("a b"));
        assert_eq!(form_decode("bad%zz"), None);
        assert_eq!(form_decode("trunc%4"), None);
    }

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(acceptable_redirect("https://app.example.com/cb").is_some());
        assert!(acceptable_redirect("http://127.0.0.1:8080/cb").is_some());
        assert!(acceptable_redirect("http://localhost/cb?x=1").is_some());
        assert!(acceptable_redirect("http://[::1]:9/cb").is_some());
        assert!(acceptable_redirect("http://example.com/cb").is_none());
        assert!(acceptable_redirect("ftp://127.0.0.1/cb").is_none());
        assert!(acceptable_redirect("https://app.example.com/cb#frag").is_none());
        assert!(acceptable_redirect("not a url").is_none());
        assert!(acceptable_redirect("/relative").is_none());
    }
}
