//! Oracle NetSuite (`oracleNetsuite`), its OAuth 2.0 authorization code
//! flow (confidential client). Token-based authentication is not emulated.

use std::time::Duration;

use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use super::EmulatedEndpoint;
use super::engine::{
    ApiCtx, BodyStyle, CallbackCtx, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, RevokeSpec,
    Rotation, Spec, TokenCtx, first_tenant, number_from,
};
use super::http::{json_response, method_not_allowed};
use crate::RecordedRequest;

pub(super) static SPEC: Spec = Spec {
    // {account}.app.netsuite.com/app/login/oauth2/authorize.nl [N1].
    authorize: &["/app/login/oauth2/authorize.nl"],
    // {account}.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token, Basic [N2].
    token: &["/services/rest/auth/oauth2/v1/token"],
    // .../oauth2/v1/revoke, Basic, form token= [N10].
    revoke: Some(RevokeSpec {
        paths: &["/services/rest/auth/oauth2/v1/revoke"],
        auth: ClientAuth::Basic,
        body: BodyStyle::Form,
        json_status: false,
    }),
    client_auth: ClientAuth::Basic,
    token_body: BodyStyle::Form,
    // S256 required, no plain [N1]. Corrections: optional for confidential
    // clients created before release 2027.1, mandatory after; emulated: a new
    // integration (required).
    pkce: Pkce::RequiredS256,
    // state 22-1024 characters [N1].
    state_len: Some((22, 1024)),
    scope_sep: ' ',
    // rest_webservices, restlets, suite_analytics [N1].
    required_scopes: &[&["rest_webservices", "restlets", "suite_analytics"]],
    required_params: &[],
    offline: Offline::Always,
    code_ttl: Duration::from_secs(600),
    // access 60 min [N3].
    access_ttl: Duration::from_secs(3600),
    token_type: "bearer",
    // Single use [N3].
    rotation: Rotation::Grace(Duration::ZERO),
    // Confidential clients: 7 days from the first grant (Corrections "NetSuite", 3p) [N9].
    refresh_ttl: RefreshTtl::FromFirstGrant(Duration::from_secs(7 * 86_400)),
    errors: ErrorStyle::Standard,
    // The role needs "Log in using OAuth 2.0 Access Tokens" [N6]; the
    // admin wording is UNCONFIRMED: assumed.
    restricted: Restricted::ErrorCallback(
        "The user's role lacks the Administrator permission \"Log in using OAuth 2.0 Access Tokens\".",
    ),
    // The token is bound to one account + role [N8].
    single_tenant: true,
    api_scheme: "Bearer",
    default_tenant: ("1234567_SB1", "Emulated Manufacturing Inc."),
    callback,
    token_fields: no_token_fields,
    route,
    api,
};

/// `role`, `entity`, `company` \[N7\]: Administrator role id 3, an employee
/// id, and the account id (the first tenant).
fn callback(ctx: &CallbackCtx<'_>) -> Vec<(&'static str, String)> {
    let Some(t) = ctx.tenants.first() else {
        return Vec::new();
    };
    vec![("role", "3".to_owned()), ("entity", (1000 + number_from(&t.id, 9000)).to_string()), ("company", t.id.clone())]
}

fn no_token_fields(_: &TokenCtx<'_>, _: &mut Map<String, Value>) {}

/// The root subsidiary's record: the account's company \[N11\].
const SUBSIDIARY: &str = "/services/rest/record/v1/subsidiary/1";

/// `GET /services/rest/record/v1/metadata-catalog` \[N11\] and `GET {SUBSIDIARY}`.
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    matches!(
        req.path.as_str(),
        "/services/rest/record/v1/metadata-catalog" | "/services/rest/record/v1/metadata-catalog/" | SUBSIDIARY
    )
    .then_some(EmulatedEndpoint::Verify)
}

fn api(ctx: &ApiCtx<'_>, _: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    if req.path == SUBSIDIARY {
        // The root subsidiary's name is the company's (as the TBA emulation answers it).
        let Some(t) = first_tenant(ctx.grant) else {
            return json_response(StatusCode::NOT_FOUND, &json!({ "title": "Not Found", "status": 404 }));
        };
        return json_response(
            StatusCode::OK,
            &json!({
                "links": [{ "rel": "self", "href": format!("{}{SUBSIDIARY}", ctx.base) }],
                "id": "1", "name": t.name, "legalName": t.name, "fullName": t.name,
            }),
        );
    }
    let href = |record: &str| format!("{}/services/rest/record/v1/metadata-catalog/{record}", ctx.base);
    let items: Vec<Value> = ["account", "customer", "invoice", "subsidiary"]
        .iter()
        .map(|r| json!({ "name": r, "links": [{ "rel": "canonical", "href": href(r) }] }))
        .collect();
    let mut resp = json_response(
        StatusCode::OK,
        &json!({ "items": items, "links": [{ "rel": "self", "href": format!("{}/services/rest/record/v1/metadata-catalog", ctx.base) }] }),
    );
    // The metadata catalog names no company: the emulation tells which
    // account (and its name) the token is bound to in two headers.
    if let Some(t) = first_tenant(ctx.grant) {
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&t.id) {
            headers.insert("x-emulated-company", v);
        }
        if let Ok(v) = HeaderValue::from_str(&t.name) {
            headers.insert("x-emulated-company-name", v);
        }
    }
    resp
}
