//! Wave (`wave`): OAuth on api.waveapps.com, GraphQL on gql.waveapps.com.

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::EmulatedEndpoint;
use super::engine::{
    ApiCtx, BodyStyle, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, Rotation, Spec, TokenCtx,
    no_callback_extras, uuid_from,
};
use super::http::{json_response, method_not_allowed};
use crate::RecordedRequest;

const GRAPHQL: &str = "/graphql/public";

pub(super) static SPEC: Spec = Spec {
    // api.waveapps.com/oauth2/authorize/ [W1].
    authorize: &["/oauth2/authorize/"],
    // api.waveapps.com/oauth2/token/ (PROVIDERS.md at a glance, 3p).
    token: &["/oauth2/token/"],
    // UNCONFIRMED: no revocation endpoint emulated.
    revoke: None,
    // Form (3p).
    client_auth: ClientAuth::Post,
    token_body: BodyStyle::Form,
    // UNCONFIRMED.
    pkce: Pkce::Optional,
    state_len: None,
    // Space-delimited [W1].
    scope_sep: ' ',
    // Listing businesses needs business:read [W4].
    required_scopes: &[&["business:read"]],
    required_params: &[],
    offline: Offline::Always,
    code_ttl: Duration::from_secs(600),
    // UNCONFIRMED: 2 hours (3p).
    access_ttl: Duration::from_secs(7200),
    token_type: "Bearer",
    // UNCONFIRMED: assumed rotating, old dies at once.
    rotation: Rotation::Grace(Duration::ZERO),
    refresh_ttl: RefreshTtl::Forever,
    errors: ErrorStyle::Standard,
    // UNCONFIRMED: assumed (Railz convention: an owner/admin must authorize).
    restricted: Restricted::ErrorCallback(
        "Only a business owner or admin can authorize this application for the business.",
    ),
    single_tenant: false,
    api_scheme: "Bearer",
    default_tenant: ("QnVzaW5lc3M6ZW11bGF0ZWQtd2F2ZS1idXNpbmVzcw==", "Emulated Wave Business"),
    callback: no_callback_extras,
    token_fields,
    route,
    api,
};

fn token_fields(ctx: &TokenCtx<'_>, map: &mut Map<String, Value>) {
    if let Some(scope) = &ctx.grant.scope {
        map.insert("scope".into(), json!(scope));
    }
}

fn query_text(req: &RecordedRequest) -> (String, String) {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let query = body["query"].as_str().unwrap_or_default().to_owned();
    (query, body["variables"].to_string())
}

/// `business(` (with or without spaces) names the single-business query.
fn asks_business(query: &str) -> bool {
    let compact: String = query.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("business(")
}

/// `POST /graphql/public` \[W6\]\[W7\]: `business(id: …)` is Verify, anything
/// else (`businesses`, `user`) Tenants.
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    if req.path != GRAPHQL {
        return None;
    }
    let (query, _) = query_text(req);
    Some(if asks_business(&query) { EmulatedEndpoint::Verify } else { EmulatedEndpoint::Tenants })
}

fn api(ctx: &ApiCtx<'_>, _: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "POST" {
        return method_not_allowed();
    }
    let (query, variables) = query_text(req);
    if query.is_empty() {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "errors": [{ "message": "Must provide query string." }] }),
        );
    }
    let mut data = Map::new();
    let mut errors = Vec::new();
    if asks_business(&query) {
        // The id comes from the variables or the query text.
        let found = ctx.grant.tenants.iter().find(|t| variables.contains(&t.id) || query.contains(&t.id));
        match found {
            Some(t) => {
                data.insert("business".into(), json!({ "id": t.id, "name": t.name, "isPersonal": false }));
            }
            None => {
                data.insert("business".into(), Value::Null);
                errors.push(json!({ "message": "Business not found.", "path": ["business"],
                                    "extensions": { "code": "NOT_FOUND" } }));
            }
        }
    } else if query.contains("businesses") {
        let edges: Vec<Value> = ctx
            .grant
            .tenants
            .iter()
            .map(|t| json!({ "node": { "id": t.id, "name": t.name, "isPersonal": false } }))
            .collect();
        let total = edges.len();
        data.insert(
            "businesses".into(),
            json!({ "pageInfo": { "currentPage": 1, "totalPages": 1, "totalCount": total }, "edges": edges }),
        );
    }
    if query.split(|c: char| !c.is_alphanumeric()).any(|word| word == "user") {
        data.insert(
            "user".into(),
            json!({ "id": uuid_from(&format!("user:{}", ctx.grant.auth_event_id)), "defaultEmail": "user@example.com" }),
        );
    }
    let mut body = json!({ "data": data });
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    json_response(StatusCode::OK, &body)
}
