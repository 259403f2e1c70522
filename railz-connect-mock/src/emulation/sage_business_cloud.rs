//! Sage Business Cloud Accounting (`sageBusinessCloud`), API v3.1.

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::engine::{
    ApiCtx, BodyStyle, CallbackCtx, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, Rotation, Spec,
    TokenCtx, first, segments_after,
};
use super::http::{json_response, method_not_allowed, not_found};
use super::{EmulatedEndpoint, EmulatedTenant, Role};
use crate::RecordedRequest;

/// `refresh_token_expires_in` \[S2\]: 31 days.
const REFRESH_TTL_SECS: u64 = 2_678_400;

pub(super) static SPEC: Spec = Spec {
    // www.sageone.com/oauth2/auth/central?filter=apiv3.1 (PROVIDERS.md at a glance, [S1]).
    authorize: &["/oauth2/auth/central"],
    // oauth.accounting.sage.com/token, client_id/client_secret in the form [S3].
    token: &["/token"],
    // No revocation endpoint documented (UNCONFIRMED): none.
    revoke: None,
    client_auth: ClientAuth::Post,
    token_body: BodyStyle::Form,
    // UNCONFIRMED.
    pkce: Pkce::Optional,
    state_len: None,
    scope_sep: ' ',
    // `readonly` or `full_access` [S1].
    required_scopes: &[&["full_access", "readonly"]],
    required_params: &[("filter", "apiv3.1")],
    offline: Offline::Always,
    // Auth code 60 s, single use [S7].
    code_ttl: Duration::from_secs(60),
    // access 300 s [S2].
    access_ttl: Duration::from_secs(300),
    token_type: "bearer",
    // Single use (3p) [S6]; the samples store the new one every time (Corrections "Sage").
    rotation: Rotation::Grace(Duration::ZERO),
    refresh_ttl: RefreshTtl::Rolling(Duration::from_secs(REFRESH_TTL_SECS)),
    errors: ErrorStyle::Standard,
    // UNCONFIRMED: assumed (brief): the businesses list comes back empty.
    restricted: Restricted::InApi,
    single_tenant: false,
    api_scheme: "Bearer",
    default_tenant: ("4f6a6a14c4d94e2c8d3a4bd7f3a1c9e2", "Emulated Trading Ltd"),
    callback,
    token_fields,
    route,
    api,
};

/// `country` \[S3\]: the requested one upper-cased, else GB (case UNCONFIRMED).
fn callback(ctx: &CallbackCtx<'_>) -> Vec<(&'static str, String)> {
    let country = first(ctx.query, "country").map(str::to_ascii_uppercase).unwrap_or_else(|| "GB".to_owned());
    vec![("country", country)]
}

fn token_fields(ctx: &TokenCtx<'_>, map: &mut Map<String, Value>) {
    // [S2].
    map.insert("refresh_token_expires_in".into(), json!(REFRESH_TTL_SECS));
    if let Some(scope) = &ctx.grant.scope {
        map.insert("scope".into(), json!(scope));
    }
}

/// `GET /v3.1/businesses` \[S5\] and `GET /v3.1/businesses/{id}` \[S2\].
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    match segments_after(&req.path, "/v3.1/businesses")?.as_slice() {
        [] => Some(EmulatedEndpoint::Tenants),
        [_] => Some(EmulatedEndpoint::Verify),
        _ => None,
    }
}

fn visible<'a>(ctx: &'a ApiCtx<'_>) -> &'a [EmulatedTenant] {
    if ctx.grant.role == Role::Restricted { &[] } else { &ctx.grant.tenants }
}

fn business(t: &EmulatedTenant) -> Value {
    json!({ "id": t.id, "displayed_as": t.name, "$path": format!("/businesses/{}", t.id) })
}

fn api(ctx: &ApiCtx<'_>, endpoint: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    match endpoint {
        EmulatedEndpoint::Tenants => {
            let items: Vec<Value> = visible(ctx).iter().map(business).collect();
            json_response(
                StatusCode::OK,
                &json!({ "$total": items.len(), "$page": 1, "$next": null, "$back": null,
                         "$itemsPerPage": 20, "$items": items }),
            )
        }
        EmulatedEndpoint::Verify => {
            let id = segments_after(&req.path, "/v3.1/businesses").unwrap_or_default();
            match visible(ctx).iter().find(|t| id.first() == Some(&t.id.as_str())) {
                Some(t) => {
                    let mut value = business(t);
                    value["name"] = json!(t.name);
                    json_response(StatusCode::OK, &value)
                }
                // The API's error list [S7].
                None => json_response(
                    StatusCode::NOT_FOUND,
                    &json!([{ "$severity": "error", "$dataCode": "RecordNotFound",
                              "$message": "Resource not found", "$source": "" }]),
                ),
            }
        }
        _ => not_found(),
    }
}
