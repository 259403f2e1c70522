//! Response builders and scripted faults.

use axum::body::Body;
use axum::response::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::{DEFAULT_SCOPE, REFRESH_TOKEN_EXPIRES_IN, random_token};
use crate::Fault;

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub(crate) fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(super) fn oauth_error(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    let body = match description {
        Some(d) => json!({ "error": error, "error_description": d }),
        None => json!({ "error": error }),
    };
    no_store(json_response(status, &body))
}

pub(super) fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", Some(description))
}

pub(super) fn invalid_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", Some(description))
}

pub(super) fn invalid_client() -> Response {
    let mut resp = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", None);
    resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"railz-sandbox\""));
    resp
}

pub(crate) fn invalid_token() -> Response {
    let mut resp = json_response(StatusCode::UNAUTHORIZED, &json!({ "error": "invalid_token" }));
    resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    resp
}

pub(super) fn html_response(status: StatusCode, html: String) -> Response {
    let mut resp = Response::new(Body::from(html));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp
}

pub(super) fn html_error_page(message: &str) -> Response {
    // The message is one of our own constant strings: no escaping needed.
    let html = format!(
        "<!DOCTYPE html><html><head><title>Railz Sandbox: authorization error</title></head>\
         <body><h1>Authorization error</h1><p>{message}</p></body></html>"
    );
    no_store(html_response(StatusCode::BAD_REQUEST, html))
}

pub(crate) fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({ "error": "not_found" }))
}

pub(crate) fn method_not_allowed() -> Response {
    json_response(StatusCode::METHOD_NOT_ALLOWED, &json!({ "error": "method_not_allowed" }))
}

pub(crate) fn redirect(location: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, value);
    }
    no_store(resp)
}

/// What a normal (unfaulted) dispatch produced: a successful token response
/// is kept as JSON so the token-shaped faults can alter it.
pub(crate) enum Reply {
    Token(Value),
    Other(Response),
}

impl Reply {
    pub(crate) fn into_response(self) -> Response {
        match self {
            Reply::Token(value) => no_store(json_response(StatusCode::OK, &value)),
            Reply::Other(resp) => resp,
        }
    }
}

/// This status (500 if out of range) with `{"error": ...}`: `rate_limited`
/// for 429, `invalid_request` for other 4xx, `server_error` otherwise.
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

/// The answer to a scripted fault (see [`Fault`]); the loopback emulations
/// of other providers answer with it too.
pub(crate) fn fault_response(fault: Fault) -> Response {
    let resp = match fault {
        Fault::Status(code) => status_fault(code),
        Fault::RetryAfterHeader { status, value } => {
            let mut resp = status_fault(status);
            match HeaderValue::from_str(&value) {
                Ok(value) => {
                    resp.headers_mut().insert(RETRY_AFTER, value);
                }
                Err(_) => {
                    tracing::warn!(%value, "scripted fault: Retry-After value is not a valid header value, left out")
                }
            }
            resp
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
        Fault::Delay(_) | Fault::MissingAccessToken | Fault::TokenType(_) | Fault::TokenFields(_) => {
            json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({ "error": "server_error" }))
        }
    };
    no_store(resp)
}

/// Answers a request with its scripted fault, if any: `run` is the normal
/// handling. [`Fault::Delay`] sleeps, then runs it; the token-response
/// faults alter the token response `token_shaped` makes of its reply; any
/// other fault is answered by `fault_response` instead of running it.
pub(crate) async fn answer_with_fault(
    fault: Option<Fault>,
    run: impl FnOnce() -> Reply,
    token_shaped: impl FnOnce(Reply) -> Value,
    fault_response: impl FnOnce(Fault) -> Response,
) -> Response {
    let value = match fault {
        None => return run().into_response(),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            return run().into_response();
        }
        Some(Fault::MissingAccessToken) => {
            let mut value = token_shaped(run());
            if let Some(map) = value.as_object_mut() {
                map.remove("access_token");
            }
            value
        }
        Some(Fault::TokenFields(fields)) => {
            let mut value = token_shaped(run());
            if let Some(map) = value.as_object_mut() {
                map.extend(fields);
            }
            value
        }
        Some(Fault::TokenType(token_type)) => {
            let mut value = token_shaped(run());
            value["token_type"] = Value::String(token_type);
            value
        }
        Some(other) => return fault_response(other),
    };
    Reply::Token(value).into_response()
}

/// A token response shaped by a token fault: the real one when the request
/// succeeded, otherwise a fabricated one with tokens the server does not know.
pub(super) fn token_shaped(reply: Reply) -> Value {
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
