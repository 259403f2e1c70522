//! FreshBooks (`freshbooks`).

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::engine::{
    ApiCtx, BodyStyle, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, RevokeSpec, Rotation, Spec,
    TokenCtx, no_callback_extras, number_from, segments_after, uuid_from,
};
use super::http::{json_response, method_not_allowed, not_found};
use super::{EmulatedEndpoint, EmulatedTenant, Role};
use crate::RecordedRequest;

pub(super) static SPEC: Spec = Spec {
    // auth.freshbooks.com/oauth/authorize/ (PROVIDERS.md at a glance); also without the slash.
    authorize: &["/oauth/authorize/", "/oauth/authorize"],
    // api.freshbooks.com/auth/oauth/token [F1].
    token: &["/auth/oauth/token"],
    // POST /auth/oauth/revoke, JSON (3p) [F7]; form accepted too, client creds in the body.
    revoke: Some(RevokeSpec {
        paths: &["/auth/oauth/revoke"],
        auth: ClientAuth::Post,
        body: BodyStyle::FormOrJson,
        json_status: false,
    }),
    // client_id, client_secret in the body [F1]; form or JSON (Corrections "FreshBooks").
    client_auth: ClientAuth::Post,
    token_body: BodyStyle::FormOrJson,
    // UNCONFIRMED.
    pkce: Pkce::Optional,
    state_len: None,
    scope_sep: ' ',
    // `user:profile:read` is required [F3].
    required_scopes: &[&["user:profile:read"]],
    required_params: &[],
    offline: Offline::Always,
    // Code valid 5 min [F1].
    code_ttl: Duration::from_secs(300),
    // access 12 h [F1].
    access_ttl: Duration::from_secs(43_200),
    token_type: "Bearer",
    // Refresh tokens never expire but are single use [F1], Corrections.
    rotation: Rotation::Grace(Duration::ZERO),
    refresh_ttl: RefreshTtl::Forever,
    errors: ErrorStyle::Standard,
    // The membership role [F6]: "employee" instead of "owner" (brief; roles per [F6]).
    restricted: Restricted::InApi,
    single_tenant: false,
    api_scheme: "Bearer",
    default_tenant: ("ABC123", "Awesome Business Inc."),
    callback: no_callback_extras,
    token_fields,
    route,
    api,
};

fn token_fields(ctx: &TokenCtx<'_>, map: &mut Map<String, Value>) {
    if let Some(scope) = &ctx.grant.scope {
        map.insert("scope".into(), json!(scope));
    }
    map.insert("created_at".into(), json!(ctx.now));
}

/// Tenants: `GET /auth/api/v1/users/me` \[F6\]. Verify: the accounting
/// "system" of the account, `GET /accounting/account/{account_id}/systems/systems/{business_id}`
/// (freshbooks.com/api/systems, scope `user:business:read`; the path with
/// an id is 3p), whose `name` is the business name.
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    if req.path == "/auth/api/v1/users/me" {
        return Some(EmulatedEndpoint::Tenants);
    }
    match segments_after(&req.path, "/accounting/account")?.as_slice() {
        [_, "systems", "systems"] | [_, "systems", "systems", _] => Some(EmulatedEndpoint::Verify),
        _ => None,
    }
}

/// The numeric business id of a tenant (stable).
fn business_id(t: &EmulatedTenant) -> u64 {
    100_000 + number_from(&t.id, 900_000)
}

fn api(ctx: &ApiCtx<'_>, endpoint: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    let role = if ctx.grant.role == Role::Restricted { "employee" } else { "owner" };
    match endpoint {
        EmulatedEndpoint::Tenants => {
            let memberships: Vec<Value> = ctx
                .grant
                .tenants
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    json!({
                        "id": 111 + i,
                        "role": role,
                        "business": {
                            "id": business_id(t),
                            "business_uuid": uuid_from(&format!("business:{}", t.id)),
                            "name": t.name,
                            "account_id": t.id,
                            "date_format": "mm/dd/yyyy",
                            "active": true,
                        },
                    })
                })
                .collect();
            json_response(
                StatusCode::OK,
                &json!({ "response": {
                    "id": 2_192_788,
                    "identity_id": 2_192_788,
                    "first_name": "Emulated",
                    "last_name": "User",
                    "email": "user@example.com",
                    "business_memberships": memberships,
                    "roles": [],
                } }),
            )
        }
        EmulatedEndpoint::Verify => {
            let segments = segments_after(&req.path, "/accounting/account").unwrap_or_default();
            let found = ctx.grant.tenants.iter().find(|t| {
                segments.first() == Some(&t.id.as_str())
                    && segments.get(3).is_none_or(|id| *id == business_id(t).to_string())
            });
            match found {
                Some(t) => json_response(
                    StatusCode::OK,
                    &json!({ "response": { "result": { "system": {
                        "id": business_id(t),
                        "systemid": business_id(t),
                        "accountid": t.id,
                        "name": t.name,
                        "business_uuid": uuid_from(&format!("business:{}", t.id)),
                        "active": true,
                        "modern_system": true,
                        "currency_code": "USD",
                    } } } }),
                ),
                // FreshBooks' error envelope (3p; UNCONFIRMED in detail).
                None => json_response(
                    StatusCode::NOT_FOUND,
                    &json!({ "response": { "errors": [{ "errno": 1012, "field": "accountid",
                             "message": "The requested resource was not found.", "object": "system" }] } }),
                ),
            }
        }
        _ => not_found(),
    }
}
