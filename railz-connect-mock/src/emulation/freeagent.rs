//! FreeAgent (`freeagent`).

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::engine::{
    ApiCtx, BodyStyle, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, Rotation, Spec, TokenCtx,
    first_tenant, no_callback_extras,
};
use super::http::{json_response, method_not_allowed, text_response};
use super::{EmulatedEndpoint, Role};
use crate::RecordedRequest;

/// UNCONFIRMED value of `refresh_token_expires_in` \[A3\]\[A7\]: 20 years.
const REFRESH_TTL_SECS: u64 = 631_152_000;

pub(super) static SPEC: Spec = Spec {
    // api.freeagent.com/v2/approve_app [A1].
    authorize: &["/v2/approve_app"],
    // api.freeagent.com/v2/token_endpoint, Basic (PROVIDERS.md at a glance) [A1][A2].
    token: &["/v2/token_endpoint"],
    // UNCONFIRMED: none emulated.
    revoke: None,
    client_auth: ClientAuth::Basic,
    token_body: BodyStyle::Form,
    // UNCONFIRMED.
    pkce: Pkce::Optional,
    state_len: None,
    scope_sep: ' ',
    // No scopes [A4].
    required_scopes: &[],
    required_params: &[],
    offline: Offline::Always,
    // Auth code 15 min [A2].
    code_ttl: Duration::from_secs(900),
    // Access 1 h [A3].
    access_ttl: Duration::from_secs(3600),
    token_type: "bearer",
    // Every refresh returns a refresh token (Corrections "FreeAgent"); the
    // old one dying at once is UNCONFIRMED: assumed.
    rotation: Rotation::Grace(Duration::ZERO),
    refresh_ttl: RefreshTtl::Rolling(Duration::from_secs(REFRESH_TTL_SECS)),
    errors: ErrorStyle::Standard,
    // Access follows the user's permission level [A4]; the 403 is
    // UNCONFIRMED: assumed (brief).
    restricted: Restricted::InApi,
    // One company per user [A4].
    single_tenant: true,
    api_scheme: "Bearer",
    default_tenant: ("emulated-consulting", "Emulated Consulting Ltd"),
    callback: no_callback_extras,
    token_fields,
    route,
    api,
};

fn token_fields(_: &TokenCtx<'_>, map: &mut Map<String, Value>) {
    // Corrections "FreeAgent", [A7].
    if map.contains_key("refresh_token") {
        map.insert("refresh_token_expires_in".into(), json!(REFRESH_TTL_SECS));
    }
}

/// `GET /v2/company` \[A4\] (Verify; FreeAgent has no tenant listing).
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    (req.path == "/v2/company").then_some(EmulatedEndpoint::Verify)
}

/// FreeAgent's error JSON (shape UNCONFIRMED).
fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "errors": { "error": { "message": message } } }))
}

fn api(ctx: &ApiCtx<'_>, _: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    // Accept: application/json and a User-Agent are required [A4][A5].
    if !req.header("accept").is_some_and(|a| a.contains("application/json")) {
        return text_response(StatusCode::NOT_ACCEPTABLE, "text/plain", "Accept: application/json is required".into());
    }
    if req.header("user-agent").is_none_or(|ua| ua.trim().is_empty()) {
        return error(StatusCode::BAD_REQUEST, "A User-Agent header is required");
    }
    if ctx.grant.role == Role::Restricted {
        return error(StatusCode::FORBIDDEN, "Access denied: your permission level does not allow this.");
    }
    let Some(t) = first_tenant(ctx.grant) else {
        return error(StatusCode::NOT_FOUND, "No company");
    };
    json_response(
        StatusCode::OK,
        &json!({ "company": {
            "url": format!("{}/v2/company", ctx.base),
            "name": t.name,
            "subdomain": t.id.to_ascii_lowercase(),
            "type": "UkLimitedCompany",
            "currency": "GBP",
            "mileage_units": "miles",
            "company_start_date": "2020-01-01",
        } }),
    )
}
