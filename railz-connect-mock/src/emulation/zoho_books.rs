//! Zoho Books (`zohoBooks`).

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::engine::{
    ApiCtx, BodyStyle, CallbackCtx, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, RevokeSpec,
    Rotation, Spec, TokenCtx, segments_after,
};
use super::http::{json_response, method_not_allowed, not_found};
use super::{EmulatedEndpoint, EmulatedTenant, Role};
use crate::RecordedRequest;

pub(super) static SPEC: Spec = Spec {
    // accounts.zoho.{dc}/oauth/v2/auth [Z1][Z3].
    authorize: &["/oauth/v2/auth"],
    // {accounts-server}/oauth/v2/token, params [Z2][Z4].
    token: &["/oauth/v2/token"],
    // POST {accounts-server}/oauth/v2/token/revoke?token=<refresh> [Z8].
    revoke: Some(RevokeSpec {
        paths: &["/oauth/v2/token/revoke"],
        auth: ClientAuth::None,
        body: BodyStyle::FormOrQuery,
        json_status: true,
    }),
    // client_id, client_secret as parameters (query or form) [Z4].
    client_auth: ClientAuth::Post,
    token_body: BodyStyle::FormOrQuery,
    // UNCONFIRMED.
    pkce: Pkce::Optional,
    state_len: None,
    // Comma-separated [Z3].
    scope_sep: ',',
    // ZohoBooks.settings.READ, ZohoBooks.invoices.READ, ... [Z5][Z6].
    required_scopes: &[&["ZohoBooks.*"]],
    required_params: &[],
    // access_type=offline for a refresh token [Z3].
    offline: Offline::Param("access_type", "offline"),
    // Codes live 2 minutes (Corrections "Zoho Books").
    code_ttl: Duration::from_secs(120),
    // access 1 h [Z4].
    access_ttl: Duration::from_secs(3600),
    token_type: "Bearer",
    // Never expires, does not rotate [Z4][Z7].
    rotation: Rotation::Never,
    refresh_ttl: RefreshTtl::Forever,
    // Bad refresh: HTTP 200 {"error":"invalid_code"} [Z9] (3p).
    errors: ErrorStyle::Zoho,
    // organizations[].user_role (Corrections "Zoho Books").
    restricted: Restricted::InApi,
    single_tenant: false,
    // Authorization: Zoho-oauthtoken <token> [Z5].
    api_scheme: "Zoho-oauthtoken",
    default_tenant: ("10234695", "Zillum"),
    callback,
    token_fields,
    route,
    api,
};

/// `location` and `accounts-server` \[Z2\]; the base URL stands for
/// https://accounts.zoho.eu.
fn callback(ctx: &CallbackCtx<'_>) -> Vec<(&'static str, String)> {
    vec![("location", "eu".to_owned()), ("accounts-server", ctx.base.to_owned())]
}

/// `api_domain` \[Z2\]\[Z4\].
fn token_fields(ctx: &TokenCtx<'_>, map: &mut Map<String, Value>) {
    map.insert("api_domain".into(), json!(ctx.base));
}

/// `GET /books/v3/organizations` and `/books/v3/organizations/{id}` \[Z5\].
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    match segments_after(&req.path, "/books/v3/organizations")?.as_slice() {
        [] => Some(EmulatedEndpoint::Tenants),
        [_] => Some(EmulatedEndpoint::Verify),
        _ => None,
    }
}

fn organization(t: &EmulatedTenant, role: &str) -> Value {
    json!({
        "organization_id": t.id,
        "name": t.name,
        "contact_name": "Emulated User",
        "email": "user@example.com",
        "is_default_org": false,
        "user_role": role,
        "account_created_date": "2027-01-15",
        "time_zone": "Europe/London",
        "language_code": "en",
        "currency_code": "GBP",
        "is_org_active": true,
    })
}

fn api(ctx: &ApiCtx<'_>, endpoint: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    let role = if ctx.grant.role == Role::Restricted { "staff" } else { "admin" };
    match endpoint {
        EmulatedEndpoint::Tenants => {
            let orgs: Vec<Value> = ctx.grant.tenants.iter().map(|t| organization(t, role)).collect();
            json_response(StatusCode::OK, &json!({ "code": 0, "message": "success", "organizations": orgs }))
        }
        EmulatedEndpoint::Verify => {
            let id = segments_after(&req.path, "/books/v3/organizations").unwrap_or_default();
            match ctx.grant.tenants.iter().find(|t| id.first() == Some(&t.id.as_str())) {
                Some(t) => json_response(
                    StatusCode::OK,
                    &json!({ "code": 0, "message": "success", "organization": organization(t, role) }),
                ),
                // Zoho Books error body `{code, message}` [Z5]; the code is UNCONFIRMED.
                None => json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({ "code": 6041, "message": "This organization does not exist or you are not a member of it." }),
                ),
            }
        }
        _ => not_found(),
    }
}
