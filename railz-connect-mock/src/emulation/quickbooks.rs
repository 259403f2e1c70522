//! QuickBooks Online (`quickbooks`).

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::EmulatedEndpoint;
use super::engine::{
    ApiCtx, BodyStyle, CallbackCtx, ClientAuth, ErrorStyle, Offline, Pkce, RefreshTtl, Restricted, RevokeSpec,
    Rotation, Spec, TokenCtx, iso_datetime, segments_after,
};
use super::http::{json_response, method_not_allowed, not_found, text_response};
use crate::RecordedRequest;

/// `x_refresh_token_expires_in` \[Q2\]: about 101 days.
const REFRESH_TTL_SECS: u64 = 8_726_400;

pub(super) static SPEC: Spec = Spec {
    // appcenter.intuit.com/connect/oauth2 [Q2].
    authorize: &["/connect/oauth2"],
    // oauth.platform.intuit.com/oauth2/v1/tokens/bearer [Q2].
    token: &["/oauth2/v1/tokens/bearer"],
    // developer.api.intuit.com/v2/oauth2/tokens/revoke, Basic, JSON {"token"} [Q2].
    revoke: Some(RevokeSpec {
        paths: &["/v2/oauth2/tokens/revoke"],
        auth: ClientAuth::Basic,
        body: BodyStyle::Json,
        json_status: false,
    }),
    // Basic in the official SDK [Q2]; client_secret_post also works [Q1], Corrections.
    client_auth: ClientAuth::BasicOrPost,
    token_body: BodyStyle::Form,
    // UNCONFIRMED (PROVIDERS.md at a glance): accepted with or without.
    pkce: Pkce::Optional,
    state_len: None,
    scope_sep: ' ',
    // [Q2].
    required_scopes: &[&["com.intuit.quickbooks.accounting"]],
    required_params: &[],
    offline: Offline::Always,
    code_ttl: Duration::from_secs(600),
    // access 3600 s [Q5].
    access_ttl: Duration::from_secs(3600),
    token_type: "bearer",
    // The previous refresh token stays valid 24 h (Corrections "QuickBooks").
    rotation: Rotation::Grace(Duration::from_secs(24 * 3600)),
    // 100 days rolling [Q5]; announced as 8726400 [Q2].
    refresh_ttl: RefreshTtl::Rolling(Duration::from_secs(REFRESH_TTL_SECS)),
    errors: ErrorStyle::Standard,
    // Only Administrator users can connect apps [Q11] (3p); wording UNCONFIRMED.
    restricted: Restricted::ErrorCallback(
        "The user is not an admin of this QuickBooks company: only a company administrator can connect apps.",
    ),
    // One realm per authorization [Q4].
    single_tenant: true,
    api_scheme: "Bearer",
    default_tenant: ("9341453050298124", "Sandbox Company_US_1"),
    callback,
    token_fields,
    route,
    api,
};

/// `realmId` \[Q3\].
fn callback(ctx: &CallbackCtx<'_>) -> Vec<(&'static str, String)> {
    ctx.tenants.first().map(|t| vec![("realmId", t.id.clone())]).unwrap_or_default()
}

fn token_fields(_: &TokenCtx<'_>, map: &mut Map<String, Value>) {
    // [Q2].
    map.insert("x_refresh_token_expires_in".into(), json!(REFRESH_TTL_SECS));
}

/// `GET /v3/company/{realmId}/companyinfo/{realmId}` \[Q8\], Corrections.
fn route(req: &RecordedRequest) -> Option<EmulatedEndpoint> {
    match segments_after(&req.path, "/v3/company")?.as_slice() {
        [_, "companyinfo", _] => Some(EmulatedEndpoint::Verify),
        _ => None,
    }
}

fn api(ctx: &ApiCtx<'_>, _: EmulatedEndpoint, req: &RecordedRequest) -> Response {
    if req.method != "GET" {
        return method_not_allowed();
    }
    let segments = segments_after(&req.path, "/v3/company").unwrap_or_default();
    let [realm, _, realm2] = segments.as_slice() else {
        return not_found();
    };
    let time = format!("{}.000-08:00", iso_datetime(ctx.now));
    let Some(tenant) = ctx.grant.tenants.iter().find(|t| t.id == *realm).filter(|_| realm == realm2) else {
        // Fault shape of the QuickBooks API (3p; UNCONFIRMED for this case).
        return json_response(
            StatusCode::FORBIDDEN,
            &json!({
                "Fault": {
                    "Error": [{
                        "Message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                        "Detail": "The realm is not the one this token was granted for",
                        "code": "3100",
                    }],
                    "type": "AuthorizationFault",
                },
                "time": time,
            }),
        );
    };
    // Without `Accept: application/json` the QuickBooks API answers XML.
    let wants_json = req.header("accept").is_some_and(|a| a.contains("application/json"));
    if !wants_json {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <IntuitResponse xmlns=\"http://schema.intuit.com/finance/v3\" time=\"{time}\">\
             <CompanyInfo><Id>1</Id><CompanyName>{}</CompanyName></CompanyInfo></IntuitResponse>",
            tenant.name.replace('&', "&amp;").replace('<', "&lt;")
        );
        return text_response(StatusCode::OK, "application/xml", xml);
    }
    json_response(
        StatusCode::OK,
        &json!({
            "CompanyInfo": {
                "CompanyName": tenant.name,
                "LegalName": tenant.name,
                "Country": "US",
                "Id": "1",
                "SyncToken": "0",
                "domain": "QBO",
                "sparse": false,
            },
            "time": time,
        }),
    )
}
