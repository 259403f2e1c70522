//! Microsoft Dynamics 365 Business Central (`dynamicsBusinessCentral`):
//! the Microsoft identity platform v2.0 endpoints plus the Business Central
//! admin (environments) and v2.0 (companies) APIs. One environment,
//! `production`, whose companies are the tenants.

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::engine::{
    ApiCtx, BodyStyle, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, Rotation, Spec, TokenCtx,
    no_callback_extras,
};
use super::http::{json_response, method_not_allowed, not_found};
use super::{EmulatedEndpoint, EmulatedTenant};
use crate::RecordedRequest;

const ENVIRONMENT: &str = "production";

pub(super) static SPEC: Spec = Spec {
    // login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize [M1].
    authorize: &["/{}/oauth2/v2.0/authorize"],
    token: &["/{}/oauth2/v2.0/token"],
    // No per-token revocation [M9].
    revoke: None,
    // Form body (PROVIDERS.md at a glance, [M1]).
    client_auth: ClientAuth::Post,
    token_body: BodyStyle::Form,
    // "recommended" (PROVIDERS.md at a glance): optional, S256 or plain [M1].
    pkce: Pkce::Optional,
    state_len: None,
    scope_sep: ' ',
    // v2.0 endpoints take scope (Corrections "Business Central"), [M3].
    required_scopes: &[&[
        "https://api.businesscentral.dynamics.com/Financials.ReadWrite.All",
        "https://api.businesscentral.dynamics.com/.default",
    ]],
    required_params: &[],
    // offline_access for a refresh token [M3][M4].
    offline: Offline::Scope("offline_access"),
    code_ttl: Duration::from_secs(600),
    // access 60-90 min [M7]: 3599 as the platform usually answers.
    access_ttl: Duration::from_secs(3599),
    token_type: "Bearer",
    // A new one each use, old ones not revoked; 90 days [M7][M8].
    rotation: Rotation::KeepOld,
    refresh_ttl: RefreshTtl::Rolling(Duration::from_secs(90 * 86_400)),
    errors: ErrorStyle::Microsoft,
    // AADSTS90094 (brief); consent that needs an administrator.
    restricted: Restricted::ErrorCallback(
        "AADSTS90094: The grant requires admin permission. An administrator must grant consent to this application.",
    ),
    single_tenant: false,
    api_scheme: "Bearer",
    default_tenant: ("5b2e6b2a-6e0f-4a55-9b8e-1c8a6c0b7d11", "CRONUS USA, Inc."),
    callback: no_callback_extras,
    token_fields,
    route,
    api,
};

fn token_fields(ctx: &TokenCtx<'_>, map: &mut Map<String, Value>) {
    map.insert("ext_expires_in".into(), json!(3599));
    if let Some(scope) = &ctx.grant.scope {
        map.insert("scope".into(), json!(scope));
    }
}

/// `GET /environments/v1.1` \[M5\]; companies \[M3\]\[M6\].
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    if req.path == "/environments/v1.1" {
        return Some(EmulatedEndpoint::Tenants);
    }
    let rest = req.path.strip_prefix("/v2.0/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        [_, _, "api", "v2.0", "companies"] => Some(EmulatedEndpoint::Tenants),
        [_, _, "api", "v2.0", c] if c.starts_with("companies(") && c.ends_with(')') => Some(EmulatedEndpoint::Verify),
        _ => None,
    }
}

fn company(t: &EmulatedTenant) -> Value {
    json!({
        "id": t.id,
        "systemVersion": "25.0.0.0",
        "timestamp": 1,
        "name": t.name,
        "displayName": t.name,
        "businessProfileId": "",
        "systemCreatedAt": "2027-01-15T08:00:00Z",
        "systemCreatedBy": "00000000-0000-0000-0000-000000000001",
        "systemModifiedAt": "2027-01-15T08:00:00Z",
        "systemModifiedBy": "00000000-0000-0000-0000-000000000001",
    })
}

/// The OData error shape of Business Central.
fn odata_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!({ "error": { "code": code, "message": message } }))
}

fn api(ctx: &ApiCtx<'_>, _: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    if req.path == "/environments/v1.1" {
        return json_response(
            StatusCode::OK,
            &json!({ "value": [{
                "friendlyName": "Production",
                "type": "Production",
                "name": ENVIRONMENT,
                "countryCode": "US",
                "applicationFamily": "BusinessCentral",
                "aadTenantId": ctx.aad_tenant,
                "applicationVersion": "25.0.0.0",
                "status": "Active",
                "webClientLoginUrl": format!("{}/{}/{ENVIRONMENT}", ctx.base, ctx.aad_tenant),
            }] }),
        );
    }
    let rest = req.path.strip_prefix("/v2.0/").unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').collect();
    let [tenant, environment, _, _, last] = segments.as_slice() else {
        return not_found();
    };
    if !tenant.eq_ignore_ascii_case(ctx.aad_tenant) {
        return odata_error(StatusCode::UNAUTHORIZED, "Authentication_InvalidCredentials", "The tenant is not valid.");
    }
    if !environment.eq_ignore_ascii_case(ENVIRONMENT) {
        return odata_error(StatusCode::NOT_FOUND, "NoEnvironment", "The environment does not exist.");
    }
    if *last == "companies" {
        let companies: Vec<Value> = ctx.grant.tenants.iter().map(company).collect();
        let context = format!("{}/v2.0/{}/{ENVIRONMENT}/api/v2.0/$metadata#companies", ctx.base, ctx.aad_tenant);
        return json_response(StatusCode::OK, &json!({ "@odata.context": context, "value": companies }));
    }
    let id = last.trim_start_matches("companies(").trim_end_matches(')');
    match ctx.grant.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(id)) {
        Some(t) => json_response(StatusCode::OK, &company(t)),
        None => odata_error(
            StatusCode::NOT_FOUND,
            "BadRequest_ResourceNotFound",
            "Resource not found for the segment 'companies'.",
        ),
    }
}
