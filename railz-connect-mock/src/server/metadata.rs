//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and
//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0):
//! one document served at both places.

use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use super::ServerState;
use super::response::json_response;

/// Path of the RFC 8414 document.
pub(crate) const OAUTH_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// Path of the OpenID Connect discovery document.
pub(crate) const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";

/// The document: endpoints always on the real origin; `issuer` the real one
/// unless a test asked for another ([`ServerState::metadata_issuer`]).
pub(super) fn metadata(state: &ServerState) -> Response {
    let origin = &state.issuer;
    let issuer = state.metadata_issuer.as_deref().unwrap_or(origin);
    let client_auth = ["client_secret_basic", "client_secret_post"];
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{origin}/oauth/authorize"),
            "token_endpoint": format!("{origin}/oauth/token"),
            "revocation_endpoint": format!("{origin}/oauth/revoke"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": client_auth,
            "revocation_endpoint_auth_methods_supported": client_auth,
            "authorization_response_iss_parameter_supported": true,
            "scopes_supported": ["accounting.read"],
        }),
    )
}
