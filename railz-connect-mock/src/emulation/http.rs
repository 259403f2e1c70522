//! The single HTTP entry point (record, count, apply the next fault,
//! dispatch) and the response builders the providers share.

use std::collections::VecDeque;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};
use url::form_urlencoded;

use super::EmulatedEndpoint;
use super::engine::{ApiCtx, Shared, State, lock, path_matches, random_token};
use super::oauth;
use crate::{Fault, RecordedRequest};

const BODY_LIMIT: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Response builders
// ---------------------------------------------------------------------------

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub(super) fn text_response(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub(super) fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(super) fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

pub(super) fn html_error_page(message: &str) -> Response {
    // Our own constant strings only: no escaping needed.
    let html = format!(
        "<!DOCTYPE html><html><head><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p>{message}</p></body></html>"
    );
    no_store(text_response(StatusCode::BAD_REQUEST, "text/html; charset=utf-8", html))
}

pub(super) fn redirect(location: &str) -> Response {
    let mut resp = empty(StatusCode::FOUND);
    if let Ok(value) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, value);
    }
    no_store(resp)
}

pub(super) fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({ "error": "not_found" }))
}

pub(super) fn method_not_allowed() -> Response {
    json_response(StatusCode::METHOD_NOT_ALLOWED, &json!({ "error": "method_not_allowed" }))
}

/// 401 for a missing, unknown, expired or revoked access token.
pub(super) fn invalid_token() -> Response {
    let mut resp = json_response(StatusCode::UNAUTHORIZED, &json!({ "error": "invalid_token" }));
    resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    resp
}

/// A normal dispatch result: a successful token response stays JSON so the
/// token-shaped faults can alter it.
pub(super) enum Reply {
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

    fn token_shaped(self) -> Value {
        match self {
            Reply::Token(value) => value,
            Reply::Other(_) => json!({
                "access_token": random_token(),
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": random_token(),
            }),
        }
    }
}

/// Same shapes as the sandbox's faults (see [`Fault`]).
fn status_fault(code: u16) -> Response {
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

fn fault_response(fault: Fault) -> Response {
    let resp = match fault {
        Fault::Status(code) => status_fault(code),
        Fault::RetryAfterHeader { status, value } => {
            let mut resp = status_fault(status);
            if let Ok(value) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(RETRY_AFTER, value);
            }
            resp
        }
        Fault::TooManyRequests { retry_after_secs } => {
            let mut resp = json_response(StatusCode::TOO_MANY_REQUESTS, &json!({ "error": "rate_limited" }));
            resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        Fault::MalformedJson => text_response(StatusCode::OK, "application/json", r#"{"access_token":"abc"#.to_owned()),
        Fault::Html => text_response(StatusCode::OK, "text/html", "<html><body>Maintenance</body></html>".to_owned()),
        Fault::InvalidGrant => json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_grant", "error_description": "the grant is invalid (injected by the emulation)" }),
        ),
        Fault::Redirect(location) => return redirect(&location),
        Fault::ErrorBody { status, error, description } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = match description {
                Some(d) => json!({ "error": error, "error_description": d }),
                None => json!({ "error": error }),
            };
            json_response(status, &body)
        }
        // Handled by the caller; a future variant answers 500.
        _ => status_fault(500),
    };
    no_store(resp)
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

fn parse_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).into_owned().collect()
}

fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

fn classify(state: &State, req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    let spec = state.spec;
    let any = |paths: &[&str]| paths.iter().any(|p| path_matches(p, &req.path));
    if any(spec.authorize) {
        Some(EmulatedEndpoint::Authorize)
    } else if any(spec.token) {
        Some(EmulatedEndpoint::Token)
    } else if spec.revoke.is_some_and(|r| any(r.paths)) {
        Some(EmulatedEndpoint::Revoke)
    } else {
        (spec.route)(req)
    }
}

/// The handler behind every path.
pub(super) async fn handle(AxumState(shared): AxumState<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => return json_response(StatusCode::BAD_REQUEST, &json!({ "error": "invalid_request" })),
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
    let (endpoint, fault) = {
        let mut state = lock(&shared);
        let Some(endpoint) = classify(&state, &recorded) else {
            return not_found();
        };
        *state.calls.entry(endpoint).or_default() += 1;
        state.requests.entry(endpoint).or_default().push(recorded.clone());
        (endpoint, state.faults.get_mut(&endpoint).and_then(VecDeque::pop_front))
    };
    tracing::debug!(?endpoint, path = %recorded.path, "emulation request");
    let run = || dispatch(&shared, endpoint, &parts.method, &recorded);
    match fault {
        None => run().into_response(),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            run().into_response()
        }
        Some(Fault::MissingAccessToken) => {
            let mut value = run().token_shaped();
            if let Some(map) = value.as_object_mut() {
                map.remove("access_token");
            }
            Reply::Token(value).into_response()
        }
        Some(Fault::TokenFields(fields)) => {
            let mut value = run().token_shaped();
            if let Some(map) = value.as_object_mut() {
                map.extend(fields);
            }
            Reply::Token(value).into_response()
        }
        Some(Fault::TokenType(token_type)) => {
            let mut value = run().token_shaped();
            value["token_type"] = Value::String(token_type);
            Reply::Token(value).into_response()
        }
        Some(other) => fault_response(other),
    }
}

fn dispatch(shared: &Shared, endpoint: EmulatedEndpoint, method: &Method, req: &RecordedRequest) -> Reply {
    let mut state = lock(shared);
    match (endpoint, method) {
        (EmulatedEndpoint::Authorize, &Method::GET) => Reply::Other(oauth::authorize(&mut state, req)),
        (EmulatedEndpoint::Token, &Method::POST) => oauth::token(&mut state, req),
        (EmulatedEndpoint::Revoke, &Method::POST) => Reply::Other(oauth::revoke(&mut state, req)),
        (EmulatedEndpoint::Tenants | EmulatedEndpoint::Verify, _) => Reply::Other(api(&state, endpoint, req)),
        _ => Reply::Other(method_not_allowed()),
    }
}

/// Authenticates the access token (with the provider's scheme), then lets
/// the provider answer.
fn api(state: &State, endpoint: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    let scheme = state.spec.api_scheme;
    let token = req
        .header("authorization")
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case(scheme))
        .map(|(_, t)| t.trim());
    let Some(grant) = token.and_then(|t| state.access_grant(t)) else {
        let mut resp = invalid_token();
        if scheme != "Bearer" {
            resp.headers_mut().remove(WWW_AUTHENTICATE);
        }
        return resp;
    };
    let ctx = ApiCtx {
        base: &state.base,
        client_id: &state.client_id,
        now: state.now_secs(),
        grant: &state.grants[grant],
        aad_tenant: &state.aad_tenant,
    };
    (state.spec.api)(&ctx, endpoint, req)
}
