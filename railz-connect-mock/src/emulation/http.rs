//! The single HTTP entry point (record, count, apply the next fault,
//! dispatch) and the response builders the providers share.

use std::collections::VecDeque;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use super::EmulatedEndpoint;
use super::engine::{ApiCtx, Shared, State, lock, path_matches, random_token};
use super::oauth;
use crate::server::response::answer_with_fault;
pub(super) use crate::server::response::{
    Reply, invalid_token, json_response, method_not_allowed, no_store, not_found, redirect,
};
use crate::{Fault, RecordedRequest, serve};

const BODY_LIMIT: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Response builders
// ---------------------------------------------------------------------------

pub(super) fn text_response(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
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

/// A token response shaped by a token fault: the real one when the
/// request succeeded, otherwise a fabricated one.
fn token_shaped(reply: Reply) -> Value {
    match reply {
        Reply::Token(value) => value,
        Reply::Other(_) => json!({
            "access_token": random_token(),
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": random_token(),
        }),
    }
}

/// The sandbox's fault answers (see [`Fault`]), except for two: the
/// emulation's `Html` page is plain `text/html`, and its `InvalidGrant`
/// names the emulation.
fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::Html => {
            no_store(text_response(StatusCode::OK, "text/html", "<html><body>Maintenance</body></html>".to_owned()))
        }
        Fault::InvalidGrant => no_store(json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_grant", "error_description": "the grant is invalid (injected by the emulation)" }),
        )),
        other => crate::server::response::fault_response(other),
    }
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

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
    let recorded = serve::record(&parts, body);
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
    answer_with_fault(fault, run, token_shaped, fault_response).await
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
