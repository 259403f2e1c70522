//! MYOB Business (`myob`), AccountRight API.

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::EmulatedEndpoint;
use super::engine::{
    ApiCtx, BodyStyle, CallbackCtx, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, Rotation, Spec,
    TokenCtx, first, number_from, segments_after,
};
use super::http::{json_response, method_not_allowed};
use crate::RecordedRequest;

pub(super) static SPEC: Spec = Spec {
    // secure.myob.com/oauth2/account/authorize (PROVIDERS.md at a glance) [Y2].
    authorize: &["/oauth2/account/authorize"],
    // (sic) POST secure.myob.com/oauth2/v1/authorize, form params [Y2][Y3].
    token: &["/oauth2/v1/authorize"],
    // UNCONFIRMED: none emulated.
    revoke: None,
    client_auth: ClientAuth::Post,
    token_body: BodyStyle::Form,
    // UNCONFIRMED.
    pkce: Pkce::Optional,
    state_len: None,
    scope_sep: ' ',
    // Granular sme-* scopes for keys from 12 March 2025 [Y4]; legacy CompanyFile.
    required_scopes: &[&["sme-company-file", "CompanyFile"]],
    required_params: &[],
    offline: Offline::Always,
    code_ttl: Duration::from_secs(600),
    // Access tokens last 20 minutes (Corrections "MYOB").
    access_ttl: Duration::from_secs(1200),
    token_type: "bearer",
    // UNCONFIRMED: assumed rotating, old dies at once.
    rotation: Rotation::Grace(Duration::ZERO),
    refresh_ttl: RefreshTtl::Forever,
    errors: ErrorStyle::Standard,
    // Only a company file Admin can approve consent [Y1].
    restricted: Restricted::ErrorCallback("Only a company file Admin user can approve access to this business."),
    // The callback's businessId is the one granted [Y4].
    single_tenant: true,
    api_scheme: "Bearer",
    default_tenant: ("b5d2c7a0-8f7e-4b0f-9d5a-2f1c3e4a5b6c", "Emulated Clearwater Ltd"),
    callback,
    token_fields: no_token_fields,
    route,
    api,
};

/// `businessId`, `businessName` only with `prompt=consent` (Corrections "MYOB").
fn callback(ctx: &CallbackCtx<'_>) -> Vec<(&'static str, String)> {
    match (first(ctx.query, "prompt"), ctx.tenants.first()) {
        (Some("consent"), Some(t)) => vec![("businessId", t.id.clone()), ("businessName", t.name.clone())],
        _ => Vec::new(),
    }
}

fn no_token_fields(_: &TokenCtx<'_>, _: &mut serde_json::Map<String, Value>) {}

/// `GET /accountright/{businessId}/Company` (Corrections "MYOB") \[Y7\].
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    match segments_after(&req.path, "/accountright")?.as_slice() {
        [_, "Company"] => Some(EmulatedEndpoint::Verify),
        _ => None,
    }
}

/// MYOB's error list (shape UNCONFIRMED in detail).
fn error(status: StatusCode, name: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({ "Errors": [{ "Name": name, "Message": message, "AdditionalDetails": "", "ErrorCode": status.as_u16(), "Severity": "Error" }],
                 "Information": "" }),
    )
}

fn api(ctx: &ApiCtx<'_>, _: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    // x-myobapi-key (the client id) and x-myobapi-version: v2 [Y7][Y8].
    if req.header("x-myobapi-key") != Some(ctx.client_id) {
        return error(StatusCode::FORBIDDEN, "InvalidApiKey", "x-myobapi-key is missing or not the API key");
    }
    if !req.header("x-myobapi-version").is_some_and(|v| v.eq_ignore_ascii_case("v2")) {
        return error(StatusCode::BAD_REQUEST, "InvalidApiVersion", "x-myobapi-version: v2 is required");
    }
    let segments = segments_after(&req.path, "/accountright").unwrap_or_default();
    match ctx.grant.tenants.iter().find(|t| segments.first().is_some_and(|id| id.eq_ignore_ascii_case(&t.id))) {
        Some(t) => json_response(
            StatusCode::OK,
            &json!({
                "CompanyName": t.name,
                "SerialNumber": (600_000_000_000u64 + number_from(&t.id, 99_999_999_999)).to_string(),
                "Address": null,
                "PhoneNumber": null,
                "ABN": null,
                "URI": format!("{}/accountright/{}/Company", ctx.base, t.id),
                "RowVersion": "-1",
            }),
        ),
        None => error(StatusCode::NOT_FOUND, "ResourceNotFound", "The business is not one this token was granted"),
    }
}
