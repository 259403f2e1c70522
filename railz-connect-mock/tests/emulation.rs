//! The provider emulations over real HTTP: one code flow with PKCE per
//! service, client authentication, rotation on the emulated clock, the
//! admin-role signals, tenant listings, verify calls, revocation, faults.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use railz_connect_mock::Fault;
use railz_connect_mock::emulation::{EmulatedEndpoint, EmulatedTenant, Emulation, Role, Service};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::{Url, form_urlencoded};

const REDIRECT: &str = "http://127.0.0.1:8765/callback";
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// 22+ characters, as NetSuite wants.
const STATE: &str = "st4te-0123456789abcdefghij";

/// How a service's client sends its credentials to the token endpoint.
#[derive(Clone, Copy, PartialEq)]
enum Auth {
    Basic,
    Form,
    Json,
    Query,
}

struct Profile {
    authorize: &'static str,
    token: &'static str,
    auth: Auth,
    scope: &'static str,
    extra: &'static [(&'static str, &'static str)],
}

fn profile(service: Service) -> Profile {
    let p = |authorize, token, auth, scope, extra| Profile { authorize, token, auth, scope, extra };
    match service {
        Service::Quickbooks => {
            p("connect/oauth2", "oauth2/v1/tokens/bearer", Auth::Basic, "com.intuit.quickbooks.accounting", &[])
        }
        Service::Xero => p(
            "identity/connect/authorize",
            "connect/token",
            Auth::Basic,
            "openid offline_access accounting.settings.read",
            &[],
        ),
        Service::SageBusinessCloud => {
            p("oauth2/auth/central", "token", Auth::Form, "full_access", &[("filter", "apiv3.1"), ("country", "gb")])
        }
        Service::Freshbooks => {
            p("oauth/authorize/", "auth/oauth/token", Auth::Json, "user:profile:read user:business:read", &[])
        }
        Service::ZohoBooks => p(
            "oauth/v2/auth",
            "oauth/v2/token",
            Auth::Query,
            "ZohoBooks.settings.READ,ZohoBooks.invoices.READ",
            &[("access_type", "offline"), ("prompt", "consent")],
        ),
        Service::DynamicsBusinessCentral => p(
            "common/oauth2/v2.0/authorize",
            "common/oauth2/v2.0/token",
            Auth::Form,
            "https://api.businesscentral.dynamics.com/Financials.ReadWrite.All offline_access",
            &[],
        ),
        Service::OracleNetsuite => p(
            "app/login/oauth2/authorize.nl",
            "services/rest/auth/oauth2/v1/token",
            Auth::Basic,
            "rest_webservices",
            &[],
        ),
        Service::Wave => p("oauth2/authorize/", "oauth2/token/", Auth::Form, "business:read user:read", &[]),
        Service::Myob => p(
            "oauth2/account/authorize",
            "oauth2/v1/authorize",
            Auth::Form,
            "sme-company-file sme-customer",
            &[("prompt", "consent")],
        ),
        Service::Freeagent => p("v2/approve_app", "v2/token_endpoint", Auth::Basic, "", &[]),
        _ => unreachable!("a new service needs a test profile"),
    }
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(id), enc(secret))))
}

/// The authorization request's query: good parameters, overridden
/// (`Some`) or removed (`None`) by `overrides`.
fn authorize_url(emu: &Emulation, overrides: &[(&str, Option<&str>)]) -> Url {
    let p = profile(emu.service());
    let mut pairs: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), emu.client_id().into()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("state".into(), STATE.into()),
        ("code_challenge".into(), CHALLENGE.into()),
        ("code_challenge_method".into(), "S256".into()),
    ];
    if !p.scope.is_empty() {
        pairs.push(("scope".into(), p.scope.into()));
    }
    pairs.extend(p.extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    for (name, value) in overrides {
        pairs.retain(|(k, _)| k != name);
        if let Some(value) = value {
            pairs.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    let mut url = emu.base_url().join(p.authorize).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

/// Authorizes; the callback URL (asserting a 302 to the redirect URI).
async fn callback(emu: &Emulation, overrides: &[(&str, Option<&str>)]) -> Url {
    let resp = common::client().get(authorize_url(emu, overrides)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND, "{:?}", emu.service());
    let location = Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    location
}

async fn code(emu: &Emulation) -> String {
    let url = callback(emu, &[]).await;
    param(&url, "code").unwrap_or_else(|| panic!("{:?}: no code in {url}", emu.service()))
}

/// POSTs to the token endpoint with the service's client authentication
/// (and `secret`).
async fn token_with(emu: &Emulation, secret: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let p = profile(emu.service());
    let url = emu.base_url().join(p.token).unwrap();
    let http = common::client();
    let mut all: Vec<(&str, &str)> = params.to_vec();
    let req = match p.auth {
        Auth::Basic => http.post(url).header("authorization", basic(emu.client_id(), secret)).form(&all),
        Auth::Form => {
            all.extend([("client_id", emu.client_id()), ("client_secret", secret)]);
            http.post(url).form(&all)
        }
        Auth::Json => {
            all.extend([("client_id", emu.client_id()), ("client_secret", secret)]);
            let map: serde_json::Map<String, Value> = all.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
            http.post(url).json(&map)
        }
        Auth::Query => {
            all.extend([("client_id", emu.client_id()), ("client_secret", secret)]);
            http.post(url).query(&all)
        }
    };
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

async fn token(emu: &Emulation, params: &[(&str, &str)]) -> (StatusCode, Value) {
    token_with(emu, emu.client_secret(), params).await
}

async fn exchange(emu: &Emulation, code: &str) -> (StatusCode, Value) {
    let form =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    token(emu, &form).await
}

async fn refresh(emu: &Emulation, refresh_token: &str) -> (StatusCode, Value) {
    token(emu, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

/// A full grant: the token response.
async fn grant(emu: &Emulation) -> Value {
    let code = code(emu).await;
    let (status, body) = exchange(emu, &code).await;
    assert_eq!(status, StatusCode::OK, "{:?}: {body}", emu.service());
    assert!(body["access_token"].is_string(), "{body}");
    body
}

fn s(v: &Value, name: &str) -> String {
    v[name].as_str().unwrap_or_else(|| panic!("no {name}: {v}")).to_owned()
}

/// A GET/POST to the provider API with its auth scheme.
async fn api(emu: &Emulation, method: &str, path: &str, access: &str, body: Option<Value>) -> (StatusCode, Value) {
    let url = emu.base_url().join(path).unwrap();
    let http = common::client();
    let scheme = if emu.service() == Service::ZohoBooks { "Zoho-oauthtoken" } else { "Bearer" };
    let mut req = if method == "POST" { http.post(url) } else { http.get(url) };
    req = req
        .header("authorization", format!("{scheme} {access}"))
        .header("accept", "application/json")
        .header("user-agent", "railz-connect-tests")
        .header("x-myobapi-key", emu.client_id())
        .header("x-myobapi-version", "v2");
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The tenants listing, as (id, name); `None` where the service has none.
async fn tenants(emu: &Emulation, access: &str) -> Option<(StatusCode, Vec<(String, String)>)> {
    let pairs = |items: &[Value], id: &str, name: &str| -> Vec<(String, String)> {
        items.iter().map(|v| (s(v, id), s(v, name))).collect()
    };
    Some(match emu.service() {
        Service::Xero => {
            let (st, v) = api(emu, "GET", "connections", access, None).await;
            (st, pairs(v.as_array().unwrap(), "tenantId", "tenantName"))
        }
        Service::SageBusinessCloud => {
            let (st, v) = api(emu, "GET", "v3.1/businesses", access, None).await;
            (st, pairs(v["$items"].as_array().unwrap(), "id", "displayed_as"))
        }
        Service::Freshbooks => {
            let (st, v) = api(emu, "GET", "auth/api/v1/users/me", access, None).await;
            let items: Vec<Value> = v["response"]["business_memberships"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["business"].clone())
                .collect();
            (st, pairs(&items, "account_id", "name"))
        }
        Service::ZohoBooks => {
            let (st, v) = api(emu, "GET", "books/v3/organizations", access, None).await;
            assert_eq!(v["code"], 0);
            (st, pairs(v["organizations"].as_array().unwrap(), "organization_id", "name"))
        }
        Service::DynamicsBusinessCentral => {
            let (st, env) = api(emu, "GET", "environments/v1.1", access, None).await;
            assert_eq!(st, StatusCode::OK);
            let aad = s(&env["value"][0], "aadTenantId");
            assert_eq!(env["value"][0]["name"], "production");
            let path = format!("v2.0/{aad}/production/api/v2.0/companies");
            let (st, v) = api(emu, "GET", &path, access, None).await;
            (st, pairs(v["value"].as_array().unwrap(), "id", "displayName"))
        }
        Service::Wave => {
            let query = json!({ "query": "query { businesses(page: 1, pageSize: 20) { edges { node { id name isPersonal } } } }" });
            let (st, v) = api(emu, "POST", "graphql/public", access, Some(query)).await;
            let items: Vec<Value> =
                v["data"]["businesses"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
            (st, pairs(&items, "id", "name"))
        }
        _ => return None,
    })
}

/// The verify call for `tenant`; (status, name).
async fn verify(emu: &Emulation, access: &str, tenant: &str) -> (StatusCode, Option<String>) {
    let name = |v: &Value| v.as_str().map(str::to_owned);
    match emu.service() {
        Service::Quickbooks => {
            let (st, v) = api(emu, "GET", &format!("v3/company/{tenant}/companyinfo/{tenant}"), access, None).await;
            (st, name(&v["CompanyInfo"]["CompanyName"]))
        }
        Service::Xero => {
            let url = emu.base_url().join("api.xro/2.0/Organisation").unwrap();
            let resp = common::client()
                .get(url)
                .bearer_auth(access)
                .header("xero-tenant-id", tenant)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            let st = resp.status();
            let v: Value = resp.json().await.unwrap();
            (st, name(&v["Organisations"][0]["Name"]))
        }
        Service::SageBusinessCloud => {
            let (st, v) = api(emu, "GET", &format!("v3.1/businesses/{tenant}"), access, None).await;
            (st, name(&v["name"]))
        }
        Service::Freshbooks => {
            let (st, v) = api(emu, "GET", &format!("accounting/account/{tenant}/systems/systems"), access, None).await;
            (st, name(&v["response"]["result"]["system"]["name"]))
        }
        Service::ZohoBooks => {
            let (st, v) = api(emu, "GET", &format!("books/v3/organizations/{tenant}"), access, None).await;
            (st, name(&v["organization"]["name"]))
        }
        Service::DynamicsBusinessCentral => {
            let (_, env) = api(emu, "GET", "environments/v1.1", access, None).await;
            let aad = s(&env["value"][0], "aadTenantId");
            let path = format!("v2.0/{aad}/production/api/v2.0/companies({tenant})");
            let (st, v) = api(emu, "GET", &path, access, None).await;
            (st, name(&v["name"]))
        }
        Service::OracleNetsuite => {
            let url = emu.base_url().join("services/rest/record/v1/metadata-catalog").unwrap();
            let resp = common::client().get(url).bearer_auth(access).send().await.unwrap();
            let st = resp.status();
            let company = resp.headers().get("x-emulated-company").map(|v| v.to_str().unwrap().to_owned());
            let n = resp.headers().get("x-emulated-company-name").map(|v| v.to_str().unwrap().to_owned());
            if st == StatusCode::OK {
                assert_eq!(company.as_deref(), Some(tenant));
            }
            (st, n)
        }
        Service::Wave => {
            let query =
                json!({ "query": "query ($id: ID!) { business(id: $id) { id name } }", "variables": { "id": tenant } });
            let (st, v) = api(emu, "POST", "graphql/public", access, Some(query)).await;
            (st, name(&v["data"]["business"]["name"]))
        }
        Service::Myob => {
            let (st, v) = api(emu, "GET", &format!("accountright/{tenant}/Company"), access, None).await;
            (st, name(&v["CompanyName"]))
        }
        Service::Freeagent => {
            let (st, v) = api(emu, "GET", "v2/company", access, None).await;
            (st, name(&v["company"]["name"]))
        }
        _ => unreachable!(),
    }
}

fn three() -> Vec<EmulatedTenant> {
    vec![
        EmulatedTenant::new("0a1b2c3d-0000-4000-8000-000000000001", "Alpha Ltd"),
        EmulatedTenant::new("0a1b2c3d-0000-4000-8000-000000000002", "Beta & Co"),
        EmulatedTenant::new("0a1b2c3d-0000-4000-8000-000000000003", "Gamma Inc"),
    ]
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn names_and_debug() {
    for service in Service::ALL {
        assert_eq!(Service::from_name(service.name()), Some(service));
    }
    let emu = Emulation::start(Service::Xero).await.unwrap();
    let debug = format!("{emu:?}");
    assert!(debug.contains("xero") && !debug.contains(emu.client_secret()), "{debug}");
    assert!(emu.client_secret().contains(':') && emu.client_secret().contains('%'));
    emu.shutdown().await;
}

#[tokio::test]
async fn code_flow_with_pkce_per_service() {
    for service in Service::ALL {
        let emu = Emulation::start(service).await.unwrap();
        emu.set_tenants(vec![EmulatedTenant::new("0a1b2c3d-0000-4000-8000-000000000009", "Acme Holdings")]);
        let cb = callback(&emu, &[]).await;
        assert_eq!(param(&cb, "state").as_deref(), Some(STATE), "{service:?}");
        assert!(param(&cb, "iss").is_none());
        let tenant = "0a1b2c3d-0000-4000-8000-000000000009";
        // The provider's extra callback parameters.
        let extras: &[&str] = match service {
            Service::Quickbooks => &["realmId"],
            Service::Xero => &["scope", "session_state"],
            Service::SageBusinessCloud => &["country"],
            Service::ZohoBooks => &["location", "accounts-server"],
            Service::OracleNetsuite => &["role", "entity", "company"],
            Service::Myob => &["businessId", "businessName"],
            _ => &[],
        };
        for extra in extras {
            assert!(param(&cb, extra).is_some(), "{service:?}: no {extra} in {cb}");
        }
        let code = param(&cb, "code").unwrap();
        let (status, body) = exchange(&emu, &code).await;
        assert_eq!(status, StatusCode::OK, "{service:?}: {body}");
        let access = s(&body, "access_token");
        assert!(body["refresh_token"].is_string(), "{service:?}: {body}");
        // Per-provider token fields.
        let expires_in = body["expires_in"].as_u64().unwrap();
        match service {
            Service::Quickbooks => {
                assert_eq!(body["x_refresh_token_expires_in"], 8_726_400);
                assert_eq!(param(&cb, "realmId").as_deref(), Some(tenant));
            }
            Service::Xero => assert_eq!(expires_in, 1800),
            Service::SageBusinessCloud => {
                assert_eq!(expires_in, 300);
                assert_eq!(body["refresh_token_expires_in"], 2_678_400);
                assert_eq!(param(&cb, "country").as_deref(), Some("GB"));
            }
            Service::ZohoBooks => {
                let base = emu.base_url().as_str().trim_end_matches('/').to_owned();
                assert_eq!(body["api_domain"], json!(base));
                assert_eq!(param(&cb, "accounts-server"), Some(base));
            }
            Service::Freeagent => assert!(body["refresh_token_expires_in"].is_u64()),
            Service::Myob => {
                assert_eq!(expires_in, 1200);
                assert_eq!(param(&cb, "businessId").as_deref(), Some(tenant));
                assert_eq!(param(&cb, "businessName").as_deref(), Some("Acme Holdings"));
            }
            Service::OracleNetsuite => assert_eq!(param(&cb, "company").as_deref(), Some(tenant)),
            _ => {}
        }
        // The code is single use.
        let (status, again) = exchange(&emu, &code).await;
        let error = if service == Service::ZohoBooks { "invalid_code" } else { "invalid_grant" };
        assert_eq!(again["error"], error, "{service:?}");
        assert_eq!(status, if service == Service::ZohoBooks { StatusCode::OK } else { StatusCode::BAD_REQUEST });
        // Verify answers the tenant's name.
        let (status, name) = verify(&emu, &access, tenant).await;
        assert_eq!((status, name.as_deref()), (StatusCode::OK, Some("Acme Holdings")), "{service:?}");
        // A wrong PKCE verifier fails.
        let code = code_of(&emu).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "wrong-verifier-wrong-verifier-wrong-verifier"),
        ];
        let (_, body) = token(&emu, &form).await;
        assert_eq!(body["error"], error, "{service:?}");
        // A different redirect_uri fails.
        let code = code_of(&emu).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:8765/callback/"),
            ("code_verifier", VERIFIER),
        ];
        let (_, body) = token(&emu, &form).await;
        assert_eq!(body["error"], error, "{service:?}");
        assert!(emu.calls(EmulatedEndpoint::Authorize) >= 3);
        assert_eq!(emu.requests(EmulatedEndpoint::Token).len(), emu.calls(EmulatedEndpoint::Token));
        emu.shutdown().await;
    }
}

async fn code_of(emu: &Emulation) -> String {
    code(emu).await
}

#[tokio::test]
async fn pkce_rules() {
    // NetSuite requires S256; Xero refuses plain; the others accept no PKCE.
    for service in Service::ALL {
        let emu = Emulation::start(service).await.unwrap();
        let cb = callback(&emu, &[("code_challenge", None), ("code_challenge_method", None)]).await;
        if service == Service::OracleNetsuite {
            assert_eq!(param(&cb, "error").as_deref(), Some("invalid_request"), "{cb}");
        } else {
            let code = param(&cb, "code").unwrap_or_else(|| panic!("{service:?}: {cb}"));
            let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
            let (status, body) = token(&emu, &form).await;
            assert_eq!(status, StatusCode::OK, "{service:?}: {body}");
        }
        let cb = callback(&emu, &[("code_challenge", Some(VERIFIER)), ("code_challenge_method", Some("plain"))]).await;
        let refuses_plain = matches!(service, Service::OracleNetsuite | Service::Xero);
        assert_eq!(param(&cb, "error").is_some(), refuses_plain, "{service:?}: {cb}");
        // A challenge sent without its verifier fails.
        let code = code(&emu).await;
        let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
        let (_, body) = token(&emu, &form).await;
        assert!(body["error"] == "invalid_grant" || body["error"] == "invalid_code", "{service:?}: {body}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn wrong_client_auth_is_refused() {
    for service in Service::ALL {
        let emu = Emulation::start(service).await.unwrap();
        let code = code(&emu).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let (status, body) = token_with(&emu, "wrong-secret", &form).await;
        assert_eq!(body["error"], "invalid_client", "{service:?}: {body}");
        let want = if service == Service::ZohoBooks { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
        assert_eq!(status, want, "{service:?}");
        // The refused request did not consume the code.
        let (status, body) = exchange(&emu, &code).await;
        assert_eq!(status, StatusCode::OK, "{service:?}: {body}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn the_other_client_auth_method_is_refused() {
    let http = common::client();
    // Basic-only providers refuse body credentials.
    for service in [Service::Xero, Service::OracleNetsuite, Service::Freeagent] {
        let emu = Emulation::start(service).await.unwrap();
        let code = code(&emu).await;
        let url = emu.base_url().join(profile(service).token).unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", emu.client_id()),
            ("client_secret", emu.client_secret()),
        ];
        let resp = http.post(url).form(&form).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{service:?}");
        emu.shutdown().await;
    }
    // Body-only providers refuse Basic.
    for service in [Service::SageBusinessCloud, Service::DynamicsBusinessCentral, Service::Wave, Service::Myob] {
        let emu = Emulation::start(service).await.unwrap();
        let code = code(&emu).await;
        let url = emu.base_url().join(profile(service).token).unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let resp = http
            .post(url)
            .header("authorization", basic(emu.client_id(), emu.client_secret()))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{service:?}");
        if service == Service::DynamicsBusinessCentral {
            let body: Value = resp.json().await.unwrap();
            assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS"), "{body}");
        }
        emu.shutdown().await;
    }
    // QuickBooks also takes client_secret_post; FreshBooks a form body.
    for service in [Service::Quickbooks, Service::Freshbooks] {
        let emu = Emulation::start(service).await.unwrap();
        let code = code(&emu).await;
        let url = emu.base_url().join(profile(service).token).unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", emu.client_id()),
            ("client_secret", emu.client_secret()),
        ];
        let resp = http.post(url).form(&form).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{service:?}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn rotation_per_service() {
    for service in Service::ALL {
        let emu = Emulation::start(service).await.unwrap();
        let first = grant(&emu).await;
        let rt1 = s(&first, "refresh_token");
        assert_eq!(emu.active_refresh_tokens(), 1);
        let (status, second) = refresh(&emu, &rt1).await;
        assert_eq!(status, StatusCode::OK, "{service:?}: {second}");
        let bad = if service == Service::ZohoBooks { "invalid_code" } else { "invalid_grant" };
        match service {
            Service::Quickbooks | Service::Xero => {
                let rt2 = s(&second, "refresh_token");
                assert_ne!(rt1, rt2);
                assert_eq!(emu.active_refresh_tokens(), 2);
                let grace = if service == Service::Quickbooks { 24 * 3600 } else { 30 * 60 };
                emu.advance(Duration::from_secs(grace - 1));
                let (status, _) = refresh(&emu, &rt1).await;
                assert_eq!(status, StatusCode::OK, "{service:?}: old one within grace");
                emu.advance(Duration::from_secs(1));
                let (status, body) = refresh(&emu, &rt1).await;
                assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!(bad)), "{service:?}");
                // Reusing the old one in its grace period leaves rt2 alone.
                let (status, _) = refresh(&emu, &rt2).await;
                assert_eq!(status, StatusCode::OK, "{service:?}");
            }
            Service::ZohoBooks => {
                assert!(second.get("refresh_token").is_none(), "{second}");
                emu.advance(Duration::from_secs(365 * 86_400));
                for _ in 0..2 {
                    let (status, body) = refresh(&emu, &rt1).await;
                    assert!(status == StatusCode::OK && body["access_token"].is_string(), "{body}");
                }
                assert_eq!(emu.active_refresh_tokens(), 1);
            }
            Service::DynamicsBusinessCentral => {
                let rt2 = s(&second, "refresh_token");
                assert_ne!(rt1, rt2);
                assert_eq!(emu.active_refresh_tokens(), 2);
                let (status, _) = refresh(&emu, &rt1).await;
                assert_eq!(status, StatusCode::OK, "old ones are not revoked");
                emu.advance(Duration::from_secs(90 * 86_400));
                let (status, body) = refresh(&emu, &rt2).await;
                assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_grant")));
                assert_eq!(emu.active_refresh_tokens(), 0);
            }
            _ => {
                // Single use: the old one dies at once.
                let rt2 = s(&second, "refresh_token");
                assert_ne!(rt1, rt2);
                assert_eq!(emu.active_refresh_tokens(), 1);
                let (status, body) = refresh(&emu, &rt1).await;
                assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!(bad)), "{service:?}");
                if service == Service::OracleNetsuite {
                    // 7 days from the first grant, however often it rotated.
                    emu.advance(Duration::from_secs(7 * 86_400 - 10));
                    let (status, third) = refresh(&emu, &rt2).await;
                    assert_eq!(status, StatusCode::OK);
                    emu.advance(Duration::from_secs(10));
                    let (status, _) = refresh(&emu, &s(&third, "refresh_token")).await;
                    assert_eq!(status, StatusCode::BAD_REQUEST);
                }
            }
        }
        // An unknown refresh token.
        let (_, body) = refresh(&emu, "no-such-token").await;
        assert_eq!(body["error"], bad, "{service:?}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn access_tokens_and_codes_expire_on_the_emulated_clock() {
    for (service, code_ttl) in [
        (Service::ZohoBooks, 120),
        (Service::SageBusinessCloud, 60),
        (Service::Freshbooks, 300),
        (Service::Freeagent, 900),
        (Service::Xero, 600),
    ] {
        let emu = Emulation::start(service).await.unwrap();
        let code = code(&emu).await;
        emu.advance(Duration::from_secs(code_ttl));
        let (_, body) = exchange(&emu, &code).await;
        assert!(body["error"] == "invalid_grant" || body["error"] == "invalid_code", "{service:?}: {body}");
        let code2 = code_of(&emu).await;
        emu.advance(Duration::from_secs(code_ttl - 1));
        let (status, body) = exchange(&emu, &code2).await;
        assert_eq!(status, StatusCode::OK, "{service:?}: {body}");
        let access = s(&body, "access_token");
        let ttl = body["expires_in"].as_u64().unwrap();
        let tenant = if service == Service::Freeagent { "emulated-consulting".to_owned() } else { String::new() };
        if service == Service::Freeagent {
            assert_eq!(verify(&emu, &access, &tenant).await.0, StatusCode::OK);
            emu.advance(Duration::from_secs(ttl));
            assert_eq!(verify(&emu, &access, &tenant).await.0, StatusCode::UNAUTHORIZED);
        }
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn restricted_role_signal_per_service() {
    for service in Service::ALL {
        let emu = Emulation::start(service).await.unwrap();
        emu.set_tenants(vec![EmulatedTenant::new("0a1b2c3d-0000-4000-8000-000000000009", "Acme Holdings")]);
        emu.set_role(Role::Restricted);
        let cb = callback(&emu, &[]).await;
        let error_callback = matches!(
            service,
            Service::Quickbooks
                | Service::DynamicsBusinessCentral
                | Service::OracleNetsuite
                | Service::Wave
                | Service::Myob
        );
        if error_callback {
            assert_eq!(param(&cb, "error").as_deref(), Some("access_denied"), "{service:?}: {cb}");
            let description = param(&cb, "error_description").unwrap();
            assert!(description.to_lowercase().contains("admin"), "{service:?}: {description}");
            assert!(param(&cb, "code").is_none());
            emu.shutdown().await;
            continue;
        }
        let code = param(&cb, "code").unwrap_or_else(|| panic!("{service:?}: {cb}"));
        let (status, body) = exchange(&emu, &code).await;
        assert_eq!(status, StatusCode::OK);
        let access = s(&body, "access_token");
        match service {
            Service::Xero | Service::SageBusinessCloud => {
                let (status, list) = tenants(&emu, &access).await.unwrap();
                assert_eq!((status, list.len()), (StatusCode::OK, 0), "{service:?}");
            }
            Service::Freshbooks => {
                let (_, me) = api(&emu, "GET", "auth/api/v1/users/me", &access, None).await;
                assert_eq!(me["response"]["business_memberships"][0]["role"], "employee");
            }
            Service::ZohoBooks => {
                let (_, orgs) = api(&emu, "GET", "books/v3/organizations", &access, None).await;
                assert_eq!(orgs["organizations"][0]["user_role"], "staff");
            }
            Service::Freeagent => {
                let (status, body) = api(&emu, "GET", "v2/company", &access, None).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
                assert!(body["errors"]["error"]["message"].is_string(), "{body}");
            }
            _ => unreachable!(),
        }
        // Admins see the ordinary answer.
        emu.set_role(Role::Admin);
        let access = s(&grant(&emu).await, "access_token");
        match service {
            Service::Freshbooks => {
                let (_, me) = api(&emu, "GET", "auth/api/v1/users/me", &access, None).await;
                assert_eq!(me["response"]["business_memberships"][0]["role"], "owner");
            }
            Service::ZohoBooks => {
                let (_, orgs) = api(&emu, "GET", "books/v3/organizations", &access, None).await;
                assert_eq!(orgs["organizations"][0]["user_role"], "admin");
            }
            _ => {
                let (status, name) = verify(&emu, &access, "0a1b2c3d-0000-4000-8000-000000000009").await;
                assert_eq!((status, name.as_deref()), (StatusCode::OK, Some("Acme Holdings")), "{service:?}");
            }
        }
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn deny_next_is_a_plain_access_denied() {
    for service in Service::ALL {
        let emu = Emulation::start(service).await.unwrap();
        emu.deny_next();
        let cb = callback(&emu, &[]).await;
        assert_eq!(param(&cb, "error").as_deref(), Some("access_denied"), "{service:?}");
        assert!(!param(&cb, "error_description").unwrap_or_default().to_lowercase().contains("admin"));
        assert_eq!(param(&cb, "state").as_deref(), Some(STATE));
        // Only the next one.
        assert!(param(&callback(&emu, &[]).await, "code").is_some());
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn tenant_listings_with_one_and_several_tenants() {
    for service in Service::ALL {
        let emu = Emulation::start(service).await.unwrap();
        let access = s(&grant(&emu).await, "access_token");
        let Some((status, one)) = tenants(&emu, &access).await else {
            assert_eq!(emu.calls(EmulatedEndpoint::Tenants), 0);
            emu.shutdown().await;
            continue;
        };
        assert_eq!((status, one.len()), (StatusCode::OK, 1), "{service:?}");
        emu.set_tenants(three());
        let access = s(&grant(&emu).await, "access_token");
        let (status, list) = tenants(&emu, &access).await.unwrap();
        assert_eq!(status, StatusCode::OK);
        let want: Vec<(String, String)> = three().into_iter().map(|t| (t.id, t.name)).collect();
        assert_eq!(list, want, "{service:?}");
        // Each one verifies by id.
        for (id, name) in &want {
            let (status, got) = verify(&emu, &access, id).await;
            assert_eq!((status, got.as_deref()), (StatusCode::OK, Some(name.as_str())), "{service:?}");
        }
        // An unknown tenant is refused.
        let (status, name) = verify(&emu, &access, "0a1b2c3d-0000-4000-8000-00000000dead").await;
        if service == Service::Wave {
            // GraphQL: 200 with `errors` and a null business.
            assert_eq!((status, name), (StatusCode::OK, None));
        } else {
            assert!(status.is_client_error(), "{service:?}: {status}");
        }
        // Without a token: 401.
        let (status, _) = tenants_unauthenticated(&emu).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{service:?}");
        assert!(emu.calls(EmulatedEndpoint::Tenants) >= 2);
        emu.shutdown().await;
    }
}

async fn tenants_unauthenticated(emu: &Emulation) -> (StatusCode, Value) {
    let path = match emu.service() {
        Service::Xero => "connections",
        Service::SageBusinessCloud => "v3.1/businesses",
        Service::Freshbooks => "auth/api/v1/users/me",
        Service::ZohoBooks => "books/v3/organizations",
        Service::DynamicsBusinessCentral => "environments/v1.1",
        _ => "graphql/public",
    };
    let method = if emu.service() == Service::Wave { "POST" } else { "GET" };
    api(emu, method, path, "not-a-token", Some(json!({ "query": "{ businesses { edges { node { id } } } }" }))).await
}

#[tokio::test]
async fn single_realm_providers_grant_the_first_tenant_only() {
    for service in [Service::Quickbooks, Service::OracleNetsuite, Service::Myob] {
        let emu = Emulation::start(service).await.unwrap();
        emu.set_tenants(three());
        let cb = callback(&emu, &[]).await;
        let name = match service {
            Service::Quickbooks => "realmId",
            Service::OracleNetsuite => "company",
            _ => "businessId",
        };
        assert_eq!(param(&cb, name).as_deref(), Some(three()[0].id.as_str()));
        let (_, body) = exchange(&emu, &param(&cb, "code").unwrap()).await;
        let access = s(&body, "access_token");
        if service != Service::OracleNetsuite {
            let (status, _) = verify(&emu, &access, &three()[1].id).await;
            assert!(status.is_client_error(), "{service:?}");
        }
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn revocation_where_it_exists() {
    let http = common::client();
    for service in Service::ALL {
        let emu = Emulation::start(service).await.unwrap();
        let body = grant(&emu).await;
        let (access, rt) = (s(&body, "access_token"), s(&body, "refresh_token"));
        let url = |p: &str| emu.base_url().join(p).unwrap();
        let auth = basic(emu.client_id(), emu.client_secret());
        let resp = match service {
            Service::Quickbooks => {
                http.post(url("v2/oauth2/tokens/revoke")).header("authorization", auth).json(&json!({ "token": rt }))
            }
            Service::Xero => http.post(url("connect/revocation")).header("authorization", auth).form(&[("token", &rt)]),
            Service::ZohoBooks => http.post(url("oauth/v2/token/revoke")).query(&[("token", &rt)]),
            Service::OracleNetsuite => http
                .post(url("services/rest/auth/oauth2/v1/revoke"))
                .header("authorization", auth)
                .form(&[("token", &rt)]),
            Service::Freshbooks => http
                .post(url("auth/oauth/revoke"))
                .json(&json!({ "token": rt, "client_id": emu.client_id(), "client_secret": emu.client_secret() })),
            _ => {
                assert_eq!(emu.calls(EmulatedEndpoint::Revoke), 0);
                emu.shutdown().await;
                continue;
            }
        }
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{service:?}");
        assert_eq!(emu.calls(EmulatedEndpoint::Revoke), 1);
        assert_eq!(emu.active_refresh_tokens(), 0, "{service:?}");
        let (_, body) = refresh(&emu, &rt).await;
        assert!(body["error"] == "invalid_grant" || body["error"] == "invalid_code", "{service:?}");
        // The access token died with the grant.
        let (status, _) = verify(&emu, &access, "x").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{service:?}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn revocation_needs_client_auth() {
    let emu = Emulation::start(Service::Xero).await.unwrap();
    let rt = s(&grant(&emu).await, "refresh_token");
    let url = emu.base_url().join("connect/revocation").unwrap();
    let resp = common::client().post(url).form(&[("token", &rt)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(emu.active_refresh_tokens(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_authorization_requests() {
    let http = common::client();
    let emu = Emulation::start(Service::OracleNetsuite).await.unwrap();
    // Unknown client and missing redirect_uri: an HTML page, no redirect.
    for overrides in [[("client_id", Some("nobody"))], [("redirect_uri", None)]] {
        let resp = http.get(authorize_url(&emu, &overrides)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    // NetSuite: state 22-1024 characters.
    let cb = callback(&emu, &[("state", Some("short"))]).await;
    assert_eq!(param(&cb, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&cb, "state").as_deref(), Some("short"));
    let cb = callback(&emu, &[("response_type", Some("token"))]).await;
    assert_eq!(param(&cb, "error").as_deref(), Some("unsupported_response_type"));
    let cb = callback(&emu, &[("scope", Some("openid"))]).await;
    assert_eq!(param(&cb, "error").as_deref(), Some("invalid_scope"));
    emu.shutdown().await;

    // Zoho: comma-separated scopes only; access_type=offline for a refresh token.
    let emu = Emulation::start(Service::ZohoBooks).await.unwrap();
    let cb = callback(&emu, &[("scope", Some("ZohoBooks.settings.READ ZohoBooks.invoices.READ"))]).await;
    assert_eq!(param(&cb, "error").as_deref(), Some("invalid_scope"), "{cb}");
    let cb = callback(&emu, &[("access_type", None)]).await;
    let (_, body) = exchange(&emu, &param(&cb, "code").unwrap()).await;
    assert!(body["access_token"].is_string() && body.get("refresh_token").is_none(), "{body}");
    emu.shutdown().await;

    // Xero and others: space-separated only.
    let emu = Emulation::start(Service::Xero).await.unwrap();
    let cb = callback(&emu, &[("scope", Some("offline_access,accounting.settings.read"))]).await;
    assert_eq!(param(&cb, "error").as_deref(), Some("invalid_scope"));
    emu.shutdown().await;

    // MYOB: the business only comes back with prompt=consent.
    let emu = Emulation::start(Service::Myob).await.unwrap();
    let cb = callback(&emu, &[("prompt", None)]).await;
    assert!(param(&cb, "code").is_some() && param(&cb, "businessId").is_none());
    emu.shutdown().await;

    // Sage: filter=apiv3.1.
    let emu = Emulation::start(Service::SageBusinessCloud).await.unwrap();
    let cb = callback(&emu, &[("filter", None)]).await;
    assert_eq!(param(&cb, "error").as_deref(), Some("invalid_request"));
    emu.shutdown().await;
}

#[tokio::test]
async fn provider_api_header_rules() {
    // QuickBooks answers XML without Accept: application/json.
    let emu = Emulation::start(Service::Quickbooks).await.unwrap();
    let cb = callback(&emu, &[]).await;
    let realm = param(&cb, "realmId").unwrap();
    let (_, body) = exchange(&emu, &param(&cb, "code").unwrap()).await;
    let url = emu.base_url().join(&format!("v3/company/{realm}/companyinfo/{realm}")).unwrap();
    let resp = common::client().get(url).bearer_auth(s(&body, "access_token")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().starts_with("<?xml"));
    emu.shutdown().await;

    // Xero: xero-tenant-id is required.
    let emu = Emulation::start(Service::Xero).await.unwrap();
    let access = s(&grant(&emu).await, "access_token");
    let url = emu.base_url().join("api.xro/2.0/Organisation").unwrap();
    let resp = common::client().get(url).bearer_auth(&access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    emu.shutdown().await;

    // MYOB: the API key and version headers.
    let emu = Emulation::start(Service::Myob).await.unwrap();
    let cb = callback(&emu, &[]).await;
    let business = param(&cb, "businessId").unwrap();
    let (_, body) = exchange(&emu, &param(&cb, "code").unwrap()).await;
    let url = emu.base_url().join(&format!("accountright/{business}/Company")).unwrap();
    let resp = common::client().get(url.clone()).bearer_auth(s(&body, "access_token")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = common::client()
        .get(url)
        .bearer_auth(s(&body, "access_token"))
        .header("x-myobapi-key", emu.client_id())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    emu.shutdown().await;

    // FreeAgent: Accept and User-Agent.
    let emu = Emulation::start(Service::Freeagent).await.unwrap();
    let access = s(&grant(&emu).await, "access_token");
    let url = emu.base_url().join("v2/company").unwrap();
    let resp = common::client().get(url.clone()).bearer_auth(&access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE);
    let resp =
        common::client().get(url).bearer_auth(&access).header("accept", "application/json").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    emu.shutdown().await;

    // Zoho: a Bearer token is not the Zoho scheme.
    let emu = Emulation::start(Service::ZohoBooks).await.unwrap();
    let access = s(&grant(&emu).await, "access_token");
    let url = emu.base_url().join("books/v3/organizations").unwrap();
    let resp = common::client().get(url).bearer_auth(&access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    emu.shutdown().await;

    // Wave: the user query.
    let emu = Emulation::start(Service::Wave).await.unwrap();
    let access = s(&grant(&emu).await, "access_token");
    let (status, body) =
        api(&emu, "POST", "graphql/public", &access, Some(json!({ "query": "query { user { id defaultEmail } }" })))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["data"]["user"]["defaultEmail"].is_string(), "{body}");
    assert_eq!(emu.calls(EmulatedEndpoint::Tenants), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn faults_apply_after_recording() {
    let emu = Emulation::start(Service::Xero).await.unwrap();
    let body = grant(&emu).await;
    let (access, rt) = (s(&body, "access_token"), s(&body, "refresh_token"));
    emu.fail_next(EmulatedEndpoint::Token, Fault::TooManyRequests { retry_after_secs: 7 });
    emu.fail_next(EmulatedEndpoint::Token, Fault::Status(503));
    let url = emu.base_url().join("connect/token").unwrap();
    let auth = basic(emu.client_id(), emu.client_secret());
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let resp = common::client().post(url.clone()).header("authorization", &auth).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "7");
    let resp = common::client().post(url).header("authorization", &auth).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Faulted requests were recorded and did not rotate anything.
    let recorded = emu.requests(EmulatedEndpoint::Token);
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[2].form_param("refresh_token"), Some(rt.as_str()));
    assert_eq!(emu.active_refresh_tokens(), 1);
    let (status, _) = refresh(&emu, &rt).await;
    assert_eq!(status, StatusCode::OK);
    // A token-shaped fault still rotates.
    emu.fail_next(EmulatedEndpoint::Token, Fault::MissingAccessToken);
    let (status, body) = refresh(&emu, &rt).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("access_token").is_none() && body["refresh_token"].is_string());
    // API faults.
    emu.fail_next(EmulatedEndpoint::Tenants, Fault::Status(500));
    let (status, _) = api(&emu, "GET", "connections", &access, None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    emu.fail_next(EmulatedEndpoint::Authorize, Fault::InvalidGrant);
    let resp = common::client().get(authorize_url(&emu, &[])).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(emu.calls(EmulatedEndpoint::Tenants), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_are_404_and_not_counted() {
    let emu = Emulation::start(Service::Wave).await.unwrap();
    let resp = common::client().post(emu.base_url().join("oauth2/token").unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "Wave's token path has a trailing slash");
    let resp = common::client().post(emu.base_url().join("connect/revocation").unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(emu.calls(EmulatedEndpoint::Token) + emu.calls(EmulatedEndpoint::Revoke), 0);
    emu.shutdown().await;
}
