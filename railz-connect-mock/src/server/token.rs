//! Client authentication (RFC 6749 2.3.1), `POST /oauth/token` and `POST /oauth/revoke` (RFC 7009).

use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::response::{Reply, invalid_client, invalid_grant, invalid_request, no_store, oauth_error};
use super::{DEFAULT_SCOPE, Grant, ServerState, UseCase, first};
use crate::RecordedRequest;
use crate::serve::basic_credentials;

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

pub(super) fn token(state: &mut ServerState, req: &RecordedRequest) -> Reply {
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
        refresh_lineage: Vec::new(),
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

pub(super) fn revoke(state: &mut ServerState, req: &RecordedRequest) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::form_decode;

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
}
