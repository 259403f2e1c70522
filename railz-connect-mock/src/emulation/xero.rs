//! Xero (`xero`). Shapes from Xero's OpenAPI specs: `xero-identity.yaml`
//! (`Connection`) and `xero_accounting.yaml` (`Organisations`).

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::engine::{
    ApiCtx, BodyStyle, CallbackCtx, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, RevokeSpec,
    Rotation, Spec, TokenCtx, iso_datetime, random_token, uuid_from,
};
use super::http::{json_response, method_not_allowed, not_found};
use super::{EmulatedEndpoint, Role};
use crate::RecordedRequest;

pub(super) static SPEC: Spec = Spec {
    // login.xero.com/identity/connect/authorize [X1].
    authorize: &["/identity/connect/authorize"],
    // identity.xero.com/connect/token, Basic [X1].
    token: &["/connect/token"],
    // identity.xero.com/connect/revocation, Basic, form token= (Corrections "Xero", [X8]).
    revoke: Some(RevokeSpec {
        paths: &["/connect/revocation"],
        auth: ClientAuth::Basic,
        body: BodyStyle::Form,
        json_status: false,
    }),
    client_auth: ClientAuth::Basic,
    token_body: BodyStyle::Form,
    // PKCE supported [X4] (S256).
    pkce: Pkce::OptionalS256,
    state_len: None,
    scope_sep: ' ',
    // offline_access for a refresh token [X5]; required here.
    required_scopes: &[&["offline_access"]],
    required_params: &[],
    offline: Offline::Scope("offline_access"),
    code_ttl: Duration::from_secs(600),
    // access 30 min [X4].
    access_ttl: Duration::from_secs(1800),
    token_type: "Bearer",
    // Rotates on every use, the previous one valid 30 min [X4].
    rotation: Rotation::Grace(Duration::from_secs(30 * 60)),
    // Expires after 60 days unused [X4].
    refresh_ttl: RefreshTtl::Rolling(Duration::from_secs(60 * 86_400)),
    errors: ErrorStyle::Standard,
    // No error: the organisation does not appear in GET /connections (Corrections "Xero").
    restricted: Restricted::InApi,
    single_tenant: false,
    api_scheme: "Bearer",
    default_tenant: ("fe79f7dd-b6d4-4a92-ba7b-538af6289c58", "Demo Company (NZ)"),
    callback,
    token_fields,
    route,
    api,
};

/// `scope` and `session_state` (Corrections "Xero").
fn callback(ctx: &CallbackCtx<'_>) -> Vec<(&'static str, String)> {
    vec![("scope", ctx.scope.unwrap_or_default().to_owned()), ("session_state", random_token())]
}

fn token_fields(ctx: &TokenCtx<'_>, map: &mut Map<String, Value>) {
    if let Some(scope) = &ctx.grant.scope {
        map.insert("scope".into(), json!(scope));
    }
}

fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    // `/connections` in the docs, `/Connections` in xero-identity.yaml [X7].
    if req.path.eq_ignore_ascii_case("/connections") {
        Some(EmulatedEndpoint::Tenants)
    } else if req.path.eq_ignore_ascii_case("/api.xro/2.0/Organisation") {
        Some(EmulatedEndpoint::Verify)
    } else {
        None
    }
}

/// The connected tenants: none for a user without the Standard/Adviser role.
fn connected<'a>(ctx: &'a ApiCtx<'_>) -> &'a [super::EmulatedTenant] {
    if ctx.grant.role == Role::Restricted { &[] } else { &ctx.grant.tenants }
}

/// Xero's problem JSON (3p; UNCONFIRMED in detail).
fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    json_response(
        status,
        &json!({ "Type": null, "Title": title, "Status": status.as_u16(), "Detail": detail,
                 "Instance": uuid_from(&random_token()), "Extensions": {} }),
    )
}

fn api(ctx: &ApiCtx<'_>, endpoint: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    match endpoint {
        EmulatedEndpoint::Tenants => {
            let created = format!("{}.0000000", iso_datetime(ctx.grant.granted_at));
            let filter = req.query_param("authEventId");
            let list: Vec<Value> = connected(ctx)
                .iter()
                .filter(|_| filter.is_none_or(|f| f == ctx.grant.auth_event_id))
                .map(|t| {
                    json!({
                        "id": uuid_from(&format!("connection:{}:{}", ctx.grant.auth_event_id, t.id)),
                        "authEventId": ctx.grant.auth_event_id,
                        "tenantId": t.id,
                        "tenantType": "ORGANISATION",
                        "tenantName": t.name,
                        "createdDateUtc": created,
                        "updatedDateUtc": created,
                    })
                })
                .collect();
            json_response(StatusCode::OK, &Value::Array(list))
        }
        EmulatedEndpoint::Verify => {
            let Some(tenant_id) = req.header("xero-tenant-id") else {
                return problem(StatusCode::BAD_REQUEST, "Bad Request", "xero-tenant-id header is required");
            };
            let Some(tenant) = connected(ctx).iter().find(|t| t.id == tenant_id) else {
                return problem(StatusCode::FORBIDDEN, "Forbidden", "AuthenticationUnsuccessful");
            };
            json_response(
                StatusCode::OK,
                &json!({
                    "Id": uuid_from(&random_token()),
                    "Status": "OK",
                    "ProviderName": ctx.client_id,
                    "DateTimeUTC": format!("/Date({}000)/", ctx.now),
                    "Organisations": [{
                        "OrganisationID": tenant.id,
                        "Name": tenant.name,
                        "LegalName": tenant.name,
                        "OrganisationType": "COMPANY",
                        "OrganisationStatus": "ACTIVE",
                        "IsDemoCompany": false,
                        "Version": "NZ",
                        "BaseCurrency": "NZD",
                        "CountryCode": "NZ",
                        "ShortCode": "!emul8",
                    }],
                }),
            )
        }
        _ => not_found(),
    }
}
