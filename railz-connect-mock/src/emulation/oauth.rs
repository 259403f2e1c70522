//! The OAuth 2.0 endpoints, driven by the provider's [`Spec`]:
//! authorization (RFC 6749 4.1.1/4.1.2), token (4.1.3, 6) with client
//! authentication (2.3.1) and PKCE (RFC 7636), and revocation.

use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Role;
use super::engine::{
    BodyStyle, CallbackCtx, ClientAuth, CodeRecord, ErrorStyle, Grant, Offline, Pkce, Restricted, Spec, State, first,
    random_token, uuid_from,
};
use super::http::{Reply, empty, html_error_page, json_response, no_store, redirect};
use crate::RecordedRequest;
use crate::serve::{acceptable_redirect, basic_credentials};

// ---------------------------------------------------------------------------
// Errors in the provider's shape
// ---------------------------------------------------------------------------

/// A token/revocation endpoint error in the provider's shape.
pub(super) fn oauth_error(style: ErrorStyle, status: StatusCode, error: &str, description: &str) -> Response {
    let resp = match style {
        ErrorStyle::Standard => json_response(status, &json!({ "error": error, "error_description": description })),
        // Zoho: HTTP 200 and a bare `error`; bad codes and refresh tokens are
        // both `invalid_code` (PROVIDERS.md [Z9], 3p).
        ErrorStyle::Zoho => {
            let error = if error == "invalid_grant" { "invalid_code" } else { error };
            json_response(StatusCode::OK, &json!({ "error": error }))
        }
        // Microsoft identity platform: AADSTS code in the description and in
        // `error_codes` (PROVIDERS.md [M10], 3p).
        ErrorStyle::Microsoft => {
            let code = match error {
                "invalid_client" => 7_000_215,
                "invalid_grant" => 70_000,
                "unsupported_grant_type" => 70_003,
                _ => 900_144,
            };
            json_response(
                status,
                &json!({
                    "error": error,
                    "error_description": format!("AADSTS{code}: {description}"),
                    "error_codes": [code],
                    "trace_id": uuid_from(&random_token()),
                    "correlation_id": uuid_from(&random_token()),
                }),
            )
        }
    };
    no_store(resp)
}

fn err(state: &State, status: StatusCode, error: &str, description: &str) -> Response {
    oauth_error(state.spec.errors, status, error, description)
}

fn invalid_grant(state: &State, description: &str) -> Response {
    err(state, StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn invalid_client(state: &State) -> Response {
    err(state, StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed")
}

// ---------------------------------------------------------------------------
// GET authorize
// ---------------------------------------------------------------------------

type AuthError = (&'static str, String);

fn check_scope(spec: &Spec, raw: Option<&str>) -> Result<(), AuthError> {
    let invalid = |d: String| Err(("invalid_scope", d));
    let raw = raw.map(str::trim).filter(|s| !s.is_empty());
    let Some(raw) = raw else {
        return if spec.required_scopes.is_empty() { Ok(()) } else { invalid("scope is required".into()) };
    };
    let (sep, wrong) = if spec.scope_sep == ',' { (',', ' ') } else { (' ', ',') };
    let scopes: Vec<&str> = raw.split(sep).map(str::trim).filter(|s| !s.is_empty()).collect();
    if scopes.iter().any(|s| s.contains(wrong)) {
        return invalid(format!("scopes must be separated by {sep:?}"));
    }
    for group in spec.required_scopes {
        let found = group.iter().any(|want| match want.strip_suffix('*') {
            Some(prefix) => scopes.iter().any(|s| s.starts_with(prefix)),
            None => scopes.contains(want),
        });
        if !found {
            return invalid(format!("scope must include one of: {}", group.join(" | ")));
        }
    }
    Ok(())
}

fn check_pkce(spec: &Spec, q: &[(String, String)]) -> Result<Option<(String, String)>, AuthError> {
    let challenge = first(q, "code_challenge").filter(|c| !c.is_empty());
    let method = first(q, "code_challenge_method").unwrap_or("plain");
    let bad = |d: &str| Err(("invalid_request", d.to_owned()));
    let Some(challenge) = challenge else {
        return if spec.pkce == Pkce::RequiredS256 { bad("code_challenge (S256) is required") } else { Ok(None) };
    };
    let well_formed = (43..=128).contains(&challenge.len())
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return bad("malformed code_challenge");
    }
    match (spec.pkce, method) {
        (_, "S256") | (Pkce::Optional, "plain") => Ok(Some((challenge.to_owned(), method.to_owned()))),
        _ => bad("code_challenge_method must be S256"),
    }
}

pub(super) fn authorize(state: &mut State, req: &RecordedRequest) -> Response {
    let spec = state.spec;
    let q = &req.query;
    if first(q, "client_id") != Some(state.client_id.as_str()) {
        return html_error_page("Unknown or missing client_id.");
    }
    let Some(raw_redirect) = first(q, "redirect_uri") else {
        return html_error_page("Missing redirect_uri.");
    };
    let Some(mut location) = acceptable_redirect(raw_redirect) else {
        return html_error_page("Invalid redirect_uri: an absolute https URL, or http on a loopback host.");
    };
    let state_param = first(q, "state");
    let outcome = (|| -> Result<Vec<(&'static str, String)>, AuthError> {
        let Some(st) = state_param else {
            return Err(("invalid_request", "state is required".into()));
        };
        if let Some((min, max)) = spec.state_len
            && !(min..=max).contains(&st.chars().count())
        {
            return Err(("invalid_request", format!("state must be {min} to {max} characters")));
        }
        if first(q, "response_type") != Some("code") {
            return Err(("unsupported_response_type", "response_type must be code".into()));
        }
        for (name, value) in spec.required_params {
            if first(q, name) != Some(value) {
                return Err(("invalid_request", format!("{name}={value} is required")));
            }
        }
        let scope = first(q, "scope");
        check_scope(spec, scope)?;
        let challenge = check_pkce(spec, q)?;
        if std::mem::take(&mut state.deny_next) {
            return Err(("access_denied", "The user denied access to the application.".into()));
        }
        if state.role == Role::Restricted
            && let Restricted::ErrorCallback(description) = spec.restricted
        {
            return Err(("access_denied", description.to_owned()));
        }
        let offline = match spec.offline {
            Offline::Always => true,
            Offline::Scope(want) => scope.is_some_and(|s| s.split(spec.scope_sep).any(|x| x.trim() == want)),
            Offline::Param(name, value) => first(q, name) == Some(value),
        };
        let tenants =
            if spec.single_tenant { state.tenants.iter().take(1).cloned().collect() } else { state.tenants.clone() };
        let ctx = CallbackCtx { base: &state.base, query: q, tenants: &tenants, scope };
        let mut pairs = vec![("code", random_token())];
        pairs.extend((spec.callback)(&ctx));
        state.codes.insert(
            pairs[0].1.clone(),
            CodeRecord {
                redirect_uri: raw_redirect.to_owned(),
                challenge,
                scope: scope.map(str::to_owned),
                tenants,
                role: state.role,
                offline,
                issued_at: state.now,
            },
        );
        Ok(pairs)
    })();
    {
        let mut out = location.query_pairs_mut();
        match outcome {
            Ok(pairs) => {
                out.append_pair("code", &pairs[0].1);
                if let Some(s) = state_param {
                    out.append_pair("state", s);
                }
                for (name, value) in &pairs[1..] {
                    out.append_pair(name, value);
                }
            }
            Err((error, description)) => {
                out.append_pair("error", error);
                out.append_pair("error_description", &description);
                if let Some(s) = state_param {
                    out.append_pair("state", s);
                }
            }
        }
    }
    redirect(location.as_str())
}

// ---------------------------------------------------------------------------
// Client authentication and parameters
// ---------------------------------------------------------------------------

fn content_type_is(req: &RecordedRequest, want: &str) -> bool {
    req.header("content-type").and_then(|v| v.split(';').next()).is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

fn json_pairs(req: &RecordedRequest) -> Vec<(String, String)> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&req.body) else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Number(n) => Some((k, n.to_string())),
            _ => None,
        })
        .collect()
}

/// The request's parameters, read the way the provider reads them.
fn params(style: BodyStyle, req: &RecordedRequest) -> Vec<(String, String)> {
    let json = || if content_type_is(req, "application/json") { json_pairs(req) } else { Vec::new() };
    match style {
        BodyStyle::Form => req.form.clone(),
        BodyStyle::Json => json(),
        BodyStyle::FormOrJson => {
            if req.form.is_empty() {
                json()
            } else {
                req.form.clone()
            }
        }
        BodyStyle::FormOrQuery => req.query.iter().chain(&req.form).cloned().collect(),
    }
}

fn authenticate(state: &State, mode: ClientAuth, req: &RecordedRequest, params: &[(String, String)]) -> bool {
    let body = match (first(params, "client_id"), first(params, "client_secret")) {
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        _ => None,
    };
    let credentials = match mode {
        ClientAuth::None => return true,
        ClientAuth::Post => body,
        ClientAuth::Basic | ClientAuth::BasicOrPost => match basic_credentials(req) {
            Some(Some((id, secret))) => {
                // A body client_id, when also sent, must name the same client.
                if first(params, "client_id").is_some_and(|b| b != id) {
                    return false;
                }
                Some((id, secret))
            }
            Some(None) => None,
            None if mode == ClientAuth::BasicOrPost => body,
            None => None,
        },
    };
    credentials.is_some_and(|(id, secret)| id == state.client_id && secret == state.client_secret)
}

// ---------------------------------------------------------------------------
// POST token
// ---------------------------------------------------------------------------

fn pkce_verify(verifier: &str, challenge: &str, method: &str) -> bool {
    match method {
        "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge,
        _ => verifier == challenge,
    }
}

pub(super) fn token(state: &mut State, req: &RecordedRequest) -> Reply {
    let spec = state.spec;
    let params = params(spec.token_body, req);
    if !authenticate(state, spec.client_auth, req, &params) {
        return Reply::Other(invalid_client(state));
    }
    match first(&params, "grant_type") {
        Some("authorization_code") => exchange_code(state, &params),
        Some("refresh_token") => refresh(state, &params),
        Some(_) => {
            Reply::Other(err(state, StatusCode::BAD_REQUEST, "unsupported_grant_type", "unsupported grant_type"))
        }
        None => Reply::Other(err(state, StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required")),
    }
}

fn exchange_code(state: &mut State, params: &[(String, String)]) -> Reply {
    let (Some(code), Some(redirect_uri)) = (first(params, "code"), first(params, "redirect_uri")) else {
        return Reply::Other(err(
            state,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code and redirect_uri are required",
        ));
    };
    // Single use: consumed whatever happens next.
    let Some(record) = state.codes.remove(code) else {
        return Reply::Other(invalid_grant(state, "unknown or already used authorization code"));
    };
    if state.now >= record.issued_at + state.spec.code_ttl {
        return Reply::Other(invalid_grant(state, "authorization code expired"));
    }
    if record.redirect_uri != redirect_uri {
        return Reply::Other(invalid_grant(state, "redirect_uri does not match the authorization request"));
    }
    if let Some((challenge, method)) = &record.challenge {
        match first(params, "code_verifier") {
            Some(verifier) if pkce_verify(verifier, challenge, method) => {}
            Some(_) => return Reply::Other(invalid_grant(state, "PKCE verification failed")),
            None => return Reply::Other(invalid_grant(state, "code_verifier is required")),
        }
    }
    let grant = state.grants.len();
    state.grants.push(Grant {
        scope: record.scope,
        tenants: record.tenants,
        role: record.role,
        offline: record.offline,
        revoked: false,
        granted_at: state.now_secs(),
        auth_event_id: uuid_from(&random_token()),
    });
    Reply::Token(state.issue(grant, None))
}

fn refresh(state: &mut State, params: &[(String, String)]) -> Reply {
    let Some(token) = first(params, "refresh_token") else {
        return Reply::Other(err(state, StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required"));
    };
    let grant = match state.refresh.get(token) {
        Some(record) if state.refresh_usable(record) => record.grant,
        Some(_) => return Reply::Other(invalid_grant(state, "refresh token expired, revoked or already used")),
        None => return Reply::Other(invalid_grant(state, "unknown refresh token")),
    };
    Reply::Token(state.issue(grant, Some(token)))
}

// ---------------------------------------------------------------------------
// POST revoke
// ---------------------------------------------------------------------------

pub(super) fn revoke(state: &mut State, req: &RecordedRequest) -> Response {
    let Some(spec) = state.spec.revoke else {
        return empty(StatusCode::NOT_FOUND);
    };
    let params = params(spec.body, req);
    if !authenticate(state, spec.auth, req, &params) {
        return invalid_client(state);
    }
    let Some(token) = first(&params, "token") else {
        return err(state, StatusCode::BAD_REQUEST, "invalid_request", "token is required");
    };
    let grant = state.refresh.get(token).map(|r| r.grant).or_else(|| state.access.get(token).map(|a| a.grant));
    if let Some(grant) = grant {
        state.grants[grant].revoked = true;
    }
    if spec.json_status {
        json_response(StatusCode::OK, &json!({ "status": "success" }))
    } else {
        empty(StatusCode::OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert!(pkce_verify(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "S256"
        ));
        assert!(pkce_verify("abc", "abc", "plain"));
    }

    #[test]
    fn redirect_rules() {
        assert!(acceptable_redirect("https://app.example.com/cb").is_some());
        assert!(acceptable_redirect("http://127.0.0.1:8080/cb").is_some());
        assert!(acceptable_redirect("http://example.com/cb").is_none());
        assert!(acceptable_redirect("https://app.example.com/cb#x").is_none());
    }
}
