//! End-to-end tests of the sandbox over real HTTP.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use railz_connect_mock::{Company, Endpoint, Fault, MockServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::{Url, form_urlencoded};

/// Query parameters to override (`Some`) or remove (`None`).
type Overrides<'a> = &'a [(&'a str, Option<&'a str>)];

const REDIRECT: &str = "http://127.0.0.1:8765/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn client() -> reqwest::Client {
    // reqwest is built with `rustls-no-provider`: a Client cannot even be
    // built without a process-wide crypto provider. No TLS is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("reqwest client")
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 6749 2.3.1: form-urlencode id and secret, join with ':', base64.
fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(id), enc(secret))))
}

fn basic_for(server: &MockServer) -> String {
    basic(server.client_id(), server.client_secret())
}

fn params(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Authorization request with the standard good parameters, overridden
/// (or removed, with `None`) by `overrides`.
async fn authorize_raw(
    server: &MockServer,
    http: &reqwest::Client,
    overrides: &[(&str, Option<&str>)],
) -> reqwest::Response {
    let challenge = challenge(VERIFIER);
    let mut query: Vec<(&str, String)> = vec![
        ("response_type", "code".to_owned()),
        ("client_id", server.client_id().to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("scope", "accounting.read offline_access".to_owned()),
        ("state", "st4te".to_owned()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".to_owned()),
    ];
    for (name, value) in overrides {
        query.retain(|(k, _)| k != name);
        if let Some(value) = value {
            query.push((name, (*value).to_owned()));
        }
    }
    http.get(server.authorize_url()).query(&query).send().await.expect("authorize request")
}

/// Authorizes and returns the parsed `Location`, asserting a 302.
async fn authorize(server: &MockServer, http: &reqwest::Client, overrides: &[(&str, Option<&str>)]) -> Url {
    let resp = authorize_raw(server, http, overrides).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    Url::parse(&location).expect("absolute Location")
}

async fn get_code(server: &MockServer, http: &reqwest::Client) -> String {
    let location = authorize(server, http, &[]).await;
    param(&location, "code").expect("code in callback")
}

async fn code_with(server: &MockServer, http: &reqwest::Client, overrides: &[(&str, Option<&str>)]) -> String {
    let location = authorize(server, http, overrides).await;
    param(&location, "code").expect("code in callback")
}

async fn read(resp: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body");
    (status, headers, body)
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// POST to the token endpoint with Basic auth.
async fn token_post(
    server: &MockServer,
    http: &reqwest::Client,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = http
        .post(server.token_url())
        .header("authorization", basic_for(server))
        .form(form)
        .send()
        .await
        .expect("token request");
    let (status, headers, body) = read(resp).await;
    (status, headers, parse(&body))
}

async fn exchange(
    server: &MockServer,
    http: &reqwest::Client,
    code: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    token_post(
        server,
        http,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn refresh(server: &MockServer, http: &reqwest::Client, refresh_token: &str) -> (StatusCode, Value) {
    let (status, _, body) =
        token_post(server, http, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await;
    (status, body)
}

/// A full grant: (access_token, refresh_token).
async fn grant(server: &MockServer, http: &reqwest::Client) -> (String, String) {
    let code = get_code(server, http).await;
    let (status, _, body) = exchange(server, http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

async fn api_get(
    server: &MockServer,
    http: &reqwest::Client,
    path: &str,
    access_token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp =
        http.get(server.api_url().join(path).unwrap()).bearer_auth(access_token).send().await.expect("api request");
    read(resp).await
}

async fn api_status(server: &MockServer, http: &reqwest::Client, path: &str, access_token: &str) -> StatusCode {
    api_get(server, http, path, access_token).await.0
}

fn assert_invalid_grant(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
}

// ---------------------------------------------------------------------------
// URLs and identity
// ---------------------------------------------------------------------------

#[tokio::test]
async fn urls_and_defaults() {
    let server = MockServer::start().await.unwrap();
    let base = server.base_url();
    assert_eq!(base.scheme(), "http");
    assert_eq!(base.host_str(), Some("127.0.0.1"));
    assert_eq!(base.path(), "/");
    let port = base.port().unwrap();
    assert_ne!(port, 0);
    assert_eq!(server.issuer(), format!("http://127.0.0.1:{port}"));
    assert_eq!(base.as_str(), format!("http://127.0.0.1:{port}/"));
    assert_eq!(server.authorize_url().as_str(), format!("http://127.0.0.1:{port}/oauth/authorize"));
    assert_eq!(server.token_url().as_str(), format!("http://127.0.0.1:{port}/oauth/token"));
    assert_eq!(server.revoke_url().as_str(), format!("http://127.0.0.1:{port}/oauth/revoke"));
    assert_eq!(server.api_url().as_str(), format!("http://127.0.0.1:{port}/api/"));
    assert_eq!(server.client_id(), "railz-sandbox-client");
    assert_eq!(server.client_secret(), "sandbox-secret:+%/=");
    assert_eq!(server.active_refresh_tokens(), 0);
    let debug = format!("{server:?}");
    assert!(debug.starts_with("MockServer"), "{debug}");
    assert!(debug.contains(base.as_str()), "{debug}");
    assert!(debug.len() < 200, "{debug}");

    let other = MockServer::start().await.unwrap();
    assert_ne!(other.base_url(), server.base_url());
}

#[tokio::test]
async fn unknown_path_is_404_and_not_counted() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let resp = http.get(server.base_url().join("nope").unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    for endpoint in [Endpoint::Authorize, Endpoint::Token, Endpoint::Revoke, Endpoint::Api, Endpoint::Metadata] {
        assert_eq!(server.calls(endpoint), 0);
    }
}

// ---------------------------------------------------------------------------
// Happy path
// ---------------------------------------------------------------------------

#[tokio::test]
async fn authorize_exchange_and_api() {
    let server = MockServer::start().await.unwrap();
    let http = client();

    let location = authorize(&server, &http, &[]).await;
    assert_eq!(location.as_str().split('?').next().unwrap(), REDIRECT, "redirects to redirect_uri");
    let code = param(&location, "code").unwrap();
    assert_eq!(code.len(), 43, "32 bytes base64url without padding");
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(param(&location, "state").as_deref(), Some("st4te"));
    assert_eq!(param(&location, "iss"), Some(server.issuer()));
    assert_eq!(param(&location, "error"), None);

    let (status, headers, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "accounting.read offline_access");
    assert_eq!(body["x_refresh_token_expires_in"], 8_640_000);
    let access = body["access_token"].as_str().unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert!(!access.is_empty() && !refresh_token.is_empty());
    assert_ne!(access, refresh_token);
    assert_eq!(server.active_refresh_tokens(), 1);

    let (status, headers, body) = api_get(&server, &http, "companies", access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(parse(&body), json!({"companies": [{"id": "cmp_sandbox_1", "name": "Railz Sandbox Company"}]}));

    let (status, _, body) = api_get(&server, &http, "companies/cmp_sandbox_1", access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        parse(&body),
        json!({
            "id": "cmp_sandbox_1",
            "name": "Railz Sandbox Company",
            "legalName": "Railz Sandbox Company Ltd.",
            "country": "CA",
            "currency": "CAD",
        })
    );

    let (status, _, body) = api_get(&server, &http, "companies/cmp_sandbox_1/accounts", access).await;
    assert_eq!(status, StatusCode::OK);
    let accounts = parse(&body)["accounts"].as_array().unwrap().clone();
    assert!(accounts.len() >= 4, "{body}");
    assert_eq!(
        accounts[0],
        json!({"id": "cmp_sandbox_1_acc_1", "name": "Cash", "kind": "asset", "balanceCents": 1_254_300})
    );
    let kinds: Vec<&str> = accounts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    for kind in kinds {
        assert!(["asset", "liability", "equity", "income", "expense"].contains(&kind), "{kind}");
    }

    let (status, _, body) = api_get(&server, &http, "companies/cmp_sandbox_1/invoices", access).await;
    assert_eq!(status, StatusCode::OK);
    let invoices = parse(&body)["invoices"].as_array().unwrap().clone();
    assert_eq!(invoices.len(), 3, "{body}");
    assert_eq!(
        invoices[0],
        json!({
            "id": "cmp_sandbox_1_inv_1",
            "number": "INV-1001",
            "customer": "Maple Leaf Logistics",
            "totalCents": 125_000,
            "currency": "CAD",
            "status": "paid",
        })
    );

    // The sample model round-trips through the wire format.
    let sample = Company::sample("cmp_sandbox_1", "Railz Sandbox Company");
    let decoded: Vec<railz_connect_mock::Invoice> = serde_json::from_value(Value::Array(invoices)).unwrap();
    assert_eq!(decoded, sample.invoices);

    server.shutdown().await;
}

#[tokio::test]
async fn default_scope_when_none_requested() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = code_with(&server, &http, &[("scope", None)]).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "accounting.read");
}

#[tokio::test]
async fn authorize_keeps_existing_redirect_query() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let redirect = "http://localhost:9/cb?tenant=acme&x=a+b";
    let location = authorize(&server, &http, &[("redirect_uri", Some(redirect))]).await;
    assert_eq!(location.host_str(), Some("localhost"));
    assert_eq!(location.path(), "/cb");
    let pairs = params(&location);
    assert_eq!(pairs[0], ("tenant".to_owned(), "acme".to_owned()));
    assert_eq!(pairs[1], ("x".to_owned(), "a b".to_owned()));
    assert!(location.as_str().starts_with(redirect), "{location}");
    let code = param(&location, "code").unwrap();

    // The token request must repeat the redirect_uri byte for byte.
    let (status, _, body) = token_post(
        &server,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn https_and_ipv6_loopback_redirects_are_accepted() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    for redirect in ["https://app.example.com/oauth/cb", "http://[::1]:4000/cb"] {
        let location = authorize(&server, &http, &[("redirect_uri", Some(redirect))]).await;
        assert!(location.as_str().starts_with(redirect), "{location}");
        assert!(param(&location, "code").is_some(), "{location}");
    }
}

// ---------------------------------------------------------------------------
// Authorization errors
// ---------------------------------------------------------------------------

#[tokio::test]
async fn authorize_refuses_to_redirect_for_bad_client_or_redirect_uri() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let cases: &[&[(&str, Option<&str>)]] = &[
        &[("client_id", Some("someone-else"))],
        &[("client_id", None)],
        &[("redirect_uri", None)],
        &[("redirect_uri", Some("not a url"))],
        &[("redirect_uri", Some("/relative/cb"))],
        &[("redirect_uri", Some("ftp://127.0.0.1/cb"))],
        &[("redirect_uri", Some("http://example.com/cb"))],
        &[("redirect_uri", Some("http://127.0.0.2.example.com/cb"))],
    ];
    for overrides in cases {
        let resp = authorize_raw(&server, &http, overrides).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{overrides:?}");
        assert!(resp.headers().get("location").is_none(), "{overrides:?}");
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("<html"), "{body}");
    }
    assert_eq!(server.calls(Endpoint::Authorize), cases.len());
}

#[tokio::test]
async fn authorize_error_redirects() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let cases: &[(Overrides<'_>, &str, Option<&str>)] = &[
        (&[("state", None)], "invalid_request", Some("state is required")),
        (&[("response_type", Some("token"))], "unsupported_response_type", None),
        (&[("response_type", None)], "unsupported_response_type", None),
        (&[("code_challenge", None)], "invalid_request", Some("PKCE S256 is required")),
        (&[("code_challenge_method", Some("plain"))], "invalid_request", Some("PKCE S256 is required")),
        (&[("code_challenge_method", None)], "invalid_request", Some("PKCE S256 is required")),
        (&[("use_case", Some("failed_connection"))], "access_denied", Some("The user denied access")),
        (
            &[("use_case", Some("insufficient_permission"))],
            "access_denied",
            Some("insufficient_permission: the user is not an administrator or owner"),
        ),
        (&[("use_case", Some("bogus"))], "invalid_request", Some("unknown use_case")),
    ];
    for (overrides, error, description) in cases {
        let location = authorize(&server, &http, overrides).await;
        assert!(location.as_str().starts_with(REDIRECT), "{location}");
        assert_eq!(param(&location, "code"), None, "{overrides:?}");
        assert_eq!(param(&location, "error").as_deref(), Some(*error), "{overrides:?}");
        assert_eq!(param(&location, "error_description").as_deref(), *description, "{overrides:?}");
        assert_eq!(param(&location, "iss"), Some(server.issuer()));
        let expected_state = if overrides.iter().any(|(k, _)| *k == "state") { None } else { Some("st4te") };
        assert_eq!(param(&location, "state").as_deref(), expected_state);
    }
}

#[tokio::test]
async fn authorize_error_description_is_form_encoded() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let location = authorize(&server, &http, &[("state", None)]).await;
    assert!(location.as_str().contains("error=invalid_request&error_description=state+is+required"), "{location}");
    let location = authorize(&server, &http, &[("use_case", Some("insufficient_permission"))]).await;
    assert!(location.as_str().contains("error_description=insufficient_permission%3A+the+user"), "{location}");
}

// ---------------------------------------------------------------------------
// Code exchange failures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn pkce_mismatch_is_invalid_grant_and_consumes_the_code() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    let (status, headers, body) = token_post(
        &server,
        &http,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "another-verifier-another-verifier-another-verifier"),
        ],
    )
    .await;
    assert_invalid_grant(status, &body);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["content-type"], "application/json");

    // The code is gone even though the right verifier is sent now.
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_invalid_grant(status, &body);
    assert_eq!(server.active_refresh_tokens(), 0);
}

#[tokio::test]
async fn code_reuse_is_invalid_grant() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_invalid_grant(status, &body);
    assert_eq!(server.active_refresh_tokens(), 1);
}

#[tokio::test]
async fn unknown_code_is_invalid_grant() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (status, _, body) = exchange(&server, &http, "no-such-code").await;
    assert_invalid_grant(status, &body);
}

#[tokio::test]
async fn redirect_uri_mismatch_is_invalid_grant() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    for other in ["http://127.0.0.1:8765/callback/", "http://localhost:8765/callback", "http://127.0.0.1:8765/Callback"]
    {
        let code = get_code(&server, &http).await;
        let (status, _, body) = token_post(
            &server,
            &http,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", other),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_invalid_grant(status, &body);
        // Consumed by the failed attempt.
        let (status, _, body) = exchange(&server, &http, &code).await;
        assert_invalid_grant(status, &body);
    }
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let server = MockServer::builder().with_code_ttl(Duration::from_millis(50)).start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_invalid_grant(status, &body);
}

#[tokio::test]
async fn missing_code_exchange_parameters_are_invalid_request() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    let full = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    for missing in ["code", "redirect_uri", "code_verifier"] {
        let form: Vec<(&str, &str)> = full.iter().copied().filter(|(k, _)| *k != missing).collect();
        let (status, headers, body) = token_post(&server, &http, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{missing}: {body}");
        assert_eq!(body["error"], "invalid_request", "{missing}: {body}");
        assert_eq!(headers["cache-control"], "no-store");
    }
    // The code survived: invalid_request does not consume it.
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn grant_type_errors() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (status, headers, body) = token_post(&server, &http, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "unsupported_grant_type"}));
    assert_eq!(headers["cache-control"], "no-store");

    let (status, _, body) = token_post(&server, &http, &[("code", "x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");

    let (status, _, body) = token_post(&server, &http, &[("grant_type", "refresh_token")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(server.token_calls("client_credentials"), 1);
    assert_eq!(server.token_calls("refresh_token"), 1);
    assert_eq!(server.token_calls(""), 1);
}

// ---------------------------------------------------------------------------
// Client authentication
// ---------------------------------------------------------------------------

#[tokio::test]
async fn basic_auth_with_tricky_secret_must_be_form_encoded() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let header = basic_for(&server);
    // Sanity check of our own encoding of "sandbox-secret:+%/=".
    let decoded = String::from_utf8(STANDARD.decode(&header[6..]).unwrap()).unwrap();
    assert_eq!(decoded, "railz-sandbox-client:sandbox-secret%3A%2B%25%2F%3D");

    let code = get_code(&server, &http).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Without the RFC 6749 2.3.1 encoding the secret does not match.
    let raw = format!("Basic {}", STANDARD.encode(format!("{}:{}", server.client_id(), server.client_secret())));
    let wrong = basic(server.client_id(), "sandbox-secret");
    let wrong_id = basic("someone", server.client_secret());
    for header in [raw, wrong, wrong_id, "Basic !!!notbase64".to_owned()] {
        let code = get_code(&server, &http).await;
        let resp = http
            .post(server.token_url())
            .header("authorization", &header)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap();
        let (status, headers, body) = read(resp).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(parse(&body), json!({"error": "invalid_client"}));
        assert_eq!(headers["www-authenticate"], "Basic realm=\"railz-sandbox\"");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn space_in_credentials_is_encoded_as_plus() {
    let server = MockServer::builder().with_client("my client", "s3cret with spaces&more").start().await.unwrap();
    assert_eq!(server.client_id(), "my client");
    let http = client();
    let header = basic_for(&server);
    let decoded = String::from_utf8(STANDARD.decode(&header[6..]).unwrap()).unwrap();
    assert_eq!(decoded, "my+client:s3cret+with+spaces%26more");
    let code = get_code(&server, &http).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn body_client_authentication() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    let resp = http
        .post(server.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", server.client_id()),
            ("client_secret", server.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    let (status, _, body) = read(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh_token = parse(&body)["refresh_token"].as_str().unwrap().to_owned();

    // Wrong or missing body secret.
    for secret in [Some("nope"), None] {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", server.client_id()),
        ];
        if let Some(secret) = secret {
            form.push(("client_secret", secret));
        }
        let resp = http.post(server.token_url()).form(&form).send().await.unwrap();
        let (status, headers, body) = read(resp).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{secret:?}");
        assert_eq!(parse(&body), json!({"error": "invalid_client"}));
        assert_eq!(headers["www-authenticate"], "Basic realm=\"railz-sandbox\"");
    }

    // The refresh token was not touched by the rejected calls.
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// ---------------------------------------------------------------------------
// Refresh
// ---------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_tokens() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access1, refresh1) = grant(&server, &http).await;

    let (status, body) = refresh(&server, &http, &refresh1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "accounting.read offline_access");
    assert_eq!(body["x_refresh_token_expires_in"], 8_640_000);
    let access2 = body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(access2, access1);
    assert_ne!(refresh2, refresh1);
    assert_eq!(server.active_refresh_tokens(), 1);

    // The rotated-out refresh token is dead at once (grace 0).
    let (status, body) = refresh(&server, &http, &refresh1).await;
    assert_invalid_grant(status, &body);

    // Both access tokens work until they expire.
    assert_eq!(api_status(&server, &http, "companies", &access1).await, StatusCode::OK);
    assert_eq!(api_status(&server, &http, "companies", &access2).await, StatusCode::OK);

    // The new refresh token rotates again.
    let (status, body) = refresh(&server, &http, &refresh2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = refresh(&server, &http, &refresh2).await;
    assert_invalid_grant(status, &body);

    let (status, body) = refresh(&server, &http, "unknown-refresh-token").await;
    assert_invalid_grant(status, &body);
    assert_eq!(server.token_calls("refresh_token"), 5);
    assert_eq!(server.token_calls("authorization_code"), 1);
}

#[tokio::test]
async fn refresh_grace_keeps_old_token_alive_briefly() {
    let server = MockServer::builder().with_refresh_grace(Duration::from_millis(400)).start().await.unwrap();
    let http = client();
    let (_, refresh1) = grant(&server, &http).await;
    let (status, body) = refresh(&server, &http, &refresh1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh2 = body["refresh_token"].as_str().unwrap().to_owned();

    // Within the grace period the old one still works (a concurrent refresh).
    let (status, body) = refresh(&server, &http, &refresh1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh3 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh3, refresh2);
    assert_eq!(server.active_refresh_tokens(), 1);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = refresh(&server, &http, &refresh1).await;
    assert_invalid_grant(status, &body);
    let (status, body) = refresh(&server, &http, &refresh2).await;
    assert_invalid_grant(status, &body);
    let (status, body) = refresh(&server, &http, &refresh3).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn set_refresh_grace_at_runtime() {
    let server = MockServer::start().await.unwrap();
    server.set_refresh_grace(Duration::from_secs(30));
    let http = client();
    let (_, refresh1) = grant(&server, &http).await;
    let (status, _) = refresh(&server, &http, &refresh1).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = refresh(&server, &http, &refresh1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.set_refresh_grace(Duration::ZERO);
    let (status, body) = refresh(&server, &http, &refresh1).await;
    assert_invalid_grant(status, &body);
}

#[tokio::test]
async fn access_tokens_expire() {
    let server = MockServer::builder().with_access_token_ttl(Duration::from_millis(200)).start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], 0);
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(api_status(&server, &http, "companies", &access).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, headers, body) = api_get(&server, &http, "companies", &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(parse(&body), json!({"error": "invalid_token"}));
    assert_eq!(headers["www-authenticate"], "Bearer error=\"invalid_token\"");

    server.set_access_token_ttl(Duration::from_secs(120));
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], 120);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(api_status(&server, &http, "companies", access).await, StatusCode::OK);
}

// ---------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------

async fn revoke(
    server: &MockServer,
    http: &reqwest::Client,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp =
        http.post(server.revoke_url()).header("authorization", basic_for(server)).form(form).send().await.unwrap();
    read(resp).await
}

#[tokio::test]
async fn revoke_by_refresh_token_kills_the_grant() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access1, refresh1) = grant(&server, &http).await;
    let (status, body) = refresh(&server, &http, &refresh1).await;
    assert_eq!(status, StatusCode::OK);
    let access2 = body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = body["refresh_token"].as_str().unwrap().to_owned();
    let (other_access, _) = grant(&server, &http).await;
    assert_eq!(server.active_refresh_tokens(), 2);

    let (status, _, body) = revoke(&server, &http, &[("token", &refresh2), ("token_type_hint", "refresh_token")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "");
    assert_eq!(server.active_refresh_tokens(), 1);

    let (status, body) = refresh(&server, &http, &refresh2).await;
    assert_invalid_grant(status, &body);
    for access in [&access1, &access2] {
        assert_eq!(api_status(&server, &http, "companies", access).await, StatusCode::UNAUTHORIZED);
    }
    // Another grant is unaffected.
    assert_eq!(api_status(&server, &http, "companies", &other_access).await, StatusCode::OK);
}

#[tokio::test]
async fn revoke_by_access_token_kills_the_grant() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access, refresh_token) = grant(&server, &http).await;
    let (status, _, body) = revoke(&server, &http, &[("token", &access)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "");
    assert_eq!(api_status(&server, &http, "companies", &access).await, StatusCode::UNAUTHORIZED);
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_invalid_grant(status, &body);
    assert_eq!(server.active_refresh_tokens(), 0);
}

#[tokio::test]
async fn revoke_edge_cases() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    // Unknown token: still 200 (RFC 7009 2.2).
    let (status, _, body) = revoke(&server, &http, &[("token", "never-issued")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "");
    // Missing token.
    let (status, _, body) = revoke(&server, &http, &[("token_type_hint", "access_token")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(parse(&body)["error"], "invalid_request");
    // Unauthenticated client.
    let (access, _) = grant(&server, &http).await;
    let resp = http.post(server.revoke_url()).form(&[("token", access.as_str())]).send().await.unwrap();
    let (status, headers, body) = read(resp).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(parse(&body), json!({"error": "invalid_client"}));
    assert_eq!(headers["www-authenticate"], "Basic realm=\"railz-sandbox\"");
    assert_eq!(api_status(&server, &http, "companies", &access).await, StatusCode::OK);
    // Body authentication works for revocation too.
    let resp = http
        .post(server.revoke_url())
        .form(&[
            ("token", access.as_str()),
            ("client_id", server.client_id()),
            ("client_secret", server.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(api_status(&server, &http, "companies", &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(server.calls(Endpoint::Revoke), 4);
}

#[tokio::test]
async fn revoke_all_kills_every_token() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access1, refresh1) = grant(&server, &http).await;
    let (access2, refresh2) = grant(&server, &http).await;
    assert_eq!(server.active_refresh_tokens(), 2);
    server.revoke_all();
    assert_eq!(server.active_refresh_tokens(), 0);
    for access in [&access1, &access2] {
        assert_eq!(api_status(&server, &http, "companies", access).await, StatusCode::UNAUTHORIZED);
    }
    for refresh_token in [&refresh1, &refresh2] {
        let (status, body) = refresh(&server, &http, refresh_token).await;
        assert_invalid_grant(status, &body);
    }
    // New grants work again afterwards.
    let (access3, _) = grant(&server, &http).await;
    assert_eq!(api_status(&server, &http, "companies", &access3).await, StatusCode::OK);
}

// ---------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------

#[tokio::test]
async fn api_requires_a_valid_bearer_token() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let resp = http.get(server.api_url().join("companies").unwrap()).send().await.unwrap();
    let (status, headers, body) = read(resp).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(parse(&body), json!({"error": "invalid_token"}));
    assert_eq!(headers["www-authenticate"], "Bearer error=\"invalid_token\"");

    let (status, headers, body) = api_get(&server, &http, "companies", "made-up").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(parse(&body), json!({"error": "invalid_token"}));
    assert_eq!(headers["www-authenticate"], "Bearer error=\"invalid_token\"");

    // A refresh token is not an access token.
    let (_, refresh_token) = grant(&server, &http).await;
    assert_eq!(api_status(&server, &http, "companies", &refresh_token).await, StatusCode::UNAUTHORIZED);

    // Basic is not Bearer.
    let resp = http
        .get(server.api_url().join("companies").unwrap())
        .header("authorization", basic_for(&server))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.calls(Endpoint::Api), 4);
}

#[tokio::test]
async fn api_not_found() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access, _) = grant(&server, &http).await;
    for path in [
        "companies/cmp_nope",
        "companies/cmp_nope/accounts",
        "companies/cmp_nope/invoices",
        "companies/cmp_sandbox_1/payments",
        "ledgers",
    ] {
        let (status, _, body) = api_get(&server, &http, path, &access).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(parse(&body), json!({"error": "not_found"}), "{path}");
    }
}

#[tokio::test]
async fn set_companies_is_seen_by_existing_grants() {
    let server =
        MockServer::builder().with_companies(vec![Company::sample("cmp_a", "Alpha Inc")]).start().await.unwrap();
    let http = client();
    let (access, _) = grant(&server, &http).await;
    let (_, _, body) = api_get(&server, &http, "companies", &access).await;
    assert_eq!(parse(&body), json!({"companies": [{"id": "cmp_a", "name": "Alpha Inc"}]}));

    let mut beta = Company::sample("cmp_b", "Beta GmbH");
    beta.country = "DE".to_owned();
    beta.currency = "EUR".to_owned();
    server.set_companies(vec![Company::sample("cmp_a", "Alpha Inc"), beta]);
    let (_, _, body) = api_get(&server, &http, "companies", &access).await;
    assert_eq!(
        parse(&body),
        json!({"companies": [
            {"id": "cmp_a", "name": "Alpha Inc"},
            {"id": "cmp_b", "name": "Beta GmbH"},
        ]})
    );
    let (status, _, body) = api_get(&server, &http, "companies/cmp_b", &access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        parse(&body),
        json!({"id": "cmp_b", "name": "Beta GmbH", "legalName": "Beta GmbH Ltd.", "country": "DE", "currency": "EUR"})
    );

    server.set_companies(Vec::new());
    let (_, _, body) = api_get(&server, &http, "companies", &access).await;
    assert_eq!(parse(&body), json!({"companies": []}));
}

#[test]
fn company_wire_format_is_camel_case() {
    let company = Company::sample("cmp_x", "X Corp");
    let value = serde_json::to_value(&company).unwrap();
    assert_eq!(value["legalName"], "X Corp Ltd.");
    assert!(value.get("legal_name").is_none());
    assert!(value["accounts"][0].get("balanceCents").is_some());
    assert!(value["invoices"][0].get("totalCents").is_some());
    assert_eq!(company.accounts.len(), 5);
    assert_eq!(company.invoices.len(), 3);
    let statuses: Vec<&str> = company.invoices.iter().map(|i| i.status.as_str()).collect();
    assert_eq!(statuses, ["paid", "open", "draft"]);
    let back: Company = serde_json::from_value(value).unwrap();
    assert_eq!(back, company);
}

// ---------------------------------------------------------------------------
// Sandbox use cases
// ---------------------------------------------------------------------------

#[tokio::test]
async fn use_case_user_good_is_the_default() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = code_with(&server, &http, &[("use_case", Some("user_good"))]).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap();
    let (_, _, body) = api_get(&server, &http, "companies/cmp_sandbox_1/accounts", access).await;
    assert_eq!(parse(&body)["accounts"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn use_case_invalid_credentials_fails_the_exchange() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = code_with(&server, &http, &[("use_case", Some("invalid_credentials"))]).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_invalid_grant(status, &body);
    assert_eq!(server.active_refresh_tokens(), 0);
}

#[tokio::test]
async fn use_case_data_empty_survives_refresh() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = code_with(&server, &http, &[("use_case", Some("data_empty"))]).await;
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();

    let check = |access: String| {
        let server = &server;
        let http = &http;
        async move {
            let (_, _, body) = api_get(server, http, "companies", &access).await;
            assert_eq!(parse(&body), json!({"companies": [{"id": "cmp_sandbox_1", "name": "Railz Sandbox Company"}]}));
            let (status, _, body) = api_get(server, http, "companies/cmp_sandbox_1/accounts", &access).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(parse(&body), json!({"accounts": []}));
            let (status, _, body) = api_get(server, http, "companies/cmp_sandbox_1/invoices", &access).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(parse(&body), json!({"invoices": []}));
        }
    };
    check(access).await;
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    check(body["access_token"].as_str().unwrap().to_owned()).await;

    // A normal grant on the same server still sees the data.
    let (normal, _) = grant(&server, &http).await;
    let (_, _, body) = api_get(&server, &http, "companies/cmp_sandbox_1/invoices", &normal).await;
    assert_eq!(parse(&body)["invoices"].as_array().unwrap().len(), 3);
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

#[tokio::test]
async fn fault_status() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access, refresh_token) = grant(&server, &http).await;

    server.fail_next(Endpoint::Token, Fault::Status(503));
    let (status, headers, body) =
        token_post(&server, &http, &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)]).await;
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"error": "server_error"}));

    // Fault consumed; the refresh token was not rotated by the faulted call.
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    server.fail_next(Endpoint::Api, Fault::Status(500));
    server.fail_next(Endpoint::Api, Fault::Status(403));
    let (status, _, body) = api_get(&server, &http, "companies", &access).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(parse(&body), json!({"error": "server_error"}));
    let (status, _, body) = api_get(&server, &http, "companies/cmp_sandbox_1", &access).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(parse(&body), json!({"error": "invalid_request"}));
    assert_eq!(api_status(&server, &http, "companies", &access).await, StatusCode::OK);
}

#[tokio::test]
async fn faults_are_fifo_and_one_shot() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    server.fail_next(Endpoint::Revoke, Fault::Status(500));
    server.fail_next(Endpoint::Revoke, Fault::Status(502));
    server.fail_next(Endpoint::Revoke, Fault::Status(504));
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (status, _, _) = revoke(&server, &http, &[("token", "x")]).await;
        seen.push(status.as_u16());
    }
    assert_eq!(seen, [500, 502, 504, 200]);
    assert_eq!(server.calls(Endpoint::Revoke), 4);
    // Faults are per endpoint kind.
    assert_eq!(server.calls(Endpoint::Token), 0);
}

#[tokio::test]
async fn fault_too_many_requests() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    server.fail_next(Endpoint::Token, Fault::TooManyRequests { retry_after_secs: 7 });
    let (status, headers, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body, json!({"error": "rate_limited"}));
    // The faulted call did not consume the code.
    let (status, _, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fault_retry_after_header() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (_, refresh_token) = grant(&server, &http).await;
    let http_date = "Wed, 21 Oct 2015 07:28:00 GMT";
    server.fail_next(Endpoint::Token, Fault::RetryAfterHeader { status: 503, value: http_date.to_owned() });
    server.fail_next(Endpoint::Token, Fault::RetryAfterHeader { status: 429, value: "120".to_owned() });
    server.fail_next(Endpoint::Token, Fault::RetryAfterHeader { status: 503, value: "not\na header".to_owned() });

    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
    let (status, headers, body) = token_post(&server, &http, &form).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], http_date);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body, json!({"error": "server_error"}));

    let (status, headers, body) = token_post(&server, &http, &form).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "120");
    assert_eq!(body, json!({"error": "rate_limited"}));

    // An invalid header value is left out.
    let (status, headers, _) = token_post(&server, &http, &form).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.get("retry-after").is_none());

    // The faulted calls did no work: the refresh token is still good.
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fault_delay() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access, _) = grant(&server, &http).await;

    // A client-side timeout fires.
    server.fail_next(Endpoint::Api, Fault::Delay(Duration::from_millis(800)));
    let err = http
        .get(server.api_url().join("companies").unwrap())
        .bearer_auth(&access)
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .expect_err("must time out");
    assert!(err.is_timeout(), "{err}");

    // Without a timeout the request is answered normally, late.
    server.fail_next(Endpoint::Api, Fault::Delay(Duration::from_millis(150)));
    let started = Instant::now();
    let (status, _, body) = api_get(&server, &http, "companies", &access).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse(&body)["companies"][0]["id"], "cmp_sandbox_1");
    assert_eq!(server.calls(Endpoint::Api), 2);
}

#[tokio::test]
async fn fault_malformed_json() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    server.fail_next(Endpoint::Token, Fault::MalformedJson);
    let resp = http
        .post(server.token_url())
        .header("authorization", basic_for(&server))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    let (status, headers, body) = read(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, r#"{"access_token":"abc"#);
    assert!(serde_json::from_str::<Value>(&body).is_err());
}

#[tokio::test]
async fn fault_html() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access, _) = grant(&server, &http).await;
    server.fail_next(Endpoint::Api, Fault::Html);
    let (status, headers, body) = api_get(&server, &http, "companies", &access).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(body, "<html><body>Maintenance</body></html>");
}

#[tokio::test]
async fn fault_invalid_grant() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (_, refresh_token) = grant(&server, &http).await;
    server.fail_next(Endpoint::Token, Fault::InvalidGrant);
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_invalid_grant(status, &body);
    // Injected: the real refresh token is still good.
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fault_redirect() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    server.fail_next(Endpoint::Token, Fault::Redirect("https://evil.example/steal".to_owned()));
    let resp = http
        .post(server.token_url())
        .header("authorization", basic_for(&server))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    let (status, headers, body) = read(resp).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers["location"], "https://evil.example/steal");
    assert_eq!(body, "");
}

#[tokio::test]
async fn fault_missing_access_token() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    server.fail_next(Endpoint::Token, Fault::MissingAccessToken);
    let (status, headers, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert!(body.get("access_token").is_none(), "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"].is_string(), "{body}");

    // Also applied when the request itself was bad.
    server.fail_next(Endpoint::Token, Fault::MissingAccessToken);
    let (status, body) = refresh(&server, &http, "bogus").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("access_token").is_none(), "{body}");
}

#[tokio::test]
async fn fault_token_type() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let code = get_code(&server, &http).await;
    server.fail_next(Endpoint::Token, Fault::TokenType("mac".to_owned()));
    let (status, headers, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "mac");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "accounting.read offline_access");
    // Valid in every way: the tokens really work.
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(api_status(&server, &http, "companies", access).await, StatusCode::OK);
    let (status, body) = refresh(&server, &http, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn fault_error_body() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    server.fail_next(
        Endpoint::Token,
        Fault::ErrorBody {
            status: 400,
            error: "invalid_scope".to_owned(),
            description: Some("scope accounting.write is not allowed".to_owned()),
        },
    );
    server.fail_next(
        Endpoint::Token,
        Fault::ErrorBody { status: 401, error: "unauthorized_client".to_owned(), description: None },
    );
    let (status, body) = refresh(&server, &http, "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "invalid_scope", "error_description": "scope accounting.write is not allowed"}));
    let (status, body) = refresh(&server, &http, "x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"error": "unauthorized_client"}));
}

#[tokio::test]
async fn fault_on_authorize() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    server.fail_next(Endpoint::Authorize, Fault::Html);
    let resp = authorize_raw(&server, &http, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "<html><body>Maintenance</body></html>");
    // Next one is normal.
    let location = authorize(&server, &http, &[]).await;
    assert!(param(&location, "code").is_some());
    assert_eq!(server.calls(Endpoint::Authorize), 2);
    assert_eq!(server.requests(Endpoint::Authorize).len(), 2);
}

// ---------------------------------------------------------------------------
// Counters and recording
// ---------------------------------------------------------------------------

#[tokio::test]
async fn calls_and_recorded_requests() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access, refresh_token) = grant(&server, &http).await;
    server.fail_next(Endpoint::Token, Fault::Status(500));
    let (status, _) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let _ = api_status(&server, &http, "companies", &access).await;
    let _ = api_status(&server, &http, "companies/cmp_sandbox_1/invoices", &access).await;

    assert_eq!(server.calls(Endpoint::Authorize), 1);
    assert_eq!(server.calls(Endpoint::Token), 2);
    assert_eq!(server.calls(Endpoint::Revoke), 0);
    assert_eq!(server.calls(Endpoint::Api), 2);
    assert_eq!(server.token_calls("authorization_code"), 1);
    assert_eq!(server.token_calls("refresh_token"), 1, "faulted calls count");
    assert_eq!(server.token_calls("password"), 0);

    let authorize = server.requests(Endpoint::Authorize);
    assert_eq!(authorize.len(), 1);
    assert_eq!(authorize[0].method, "GET");
    assert_eq!(authorize[0].path, "/oauth/authorize");
    assert_eq!(authorize[0].query_param("state"), Some("st4te"));
    assert_eq!(authorize[0].query_param("redirect_uri"), Some(REDIRECT));
    assert_eq!(authorize[0].query_param("scope"), Some("accounting.read offline_access"));
    assert!(authorize[0].body.is_empty());
    assert!(authorize[0].form.is_empty());

    let token = server.requests(Endpoint::Token);
    assert_eq!(token.len(), 2);
    assert_eq!(token[0].method, "POST");
    assert_eq!(token[0].path, "/oauth/token");
    assert_eq!(token[0].form_param("grant_type"), Some("authorization_code"));
    assert_eq!(token[0].form_param("code_verifier"), Some(VERIFIER));
    assert_eq!(token[0].form_param("redirect_uri"), Some(REDIRECT));
    assert_eq!(token[1].form_param("grant_type"), Some("refresh_token"));
    assert_eq!(token[1].form_param("refresh_token"), Some(refresh_token.as_str()));
    let expected_auth = basic_for(&server);
    assert_eq!(token[0].header("Authorization"), Some(expected_auth.as_str()));
    assert!(
        token[0]
            .headers
            .iter()
            .any(|(name, value)| name == "content-type" && value == "application/x-www-form-urlencoded"),
        "{:?}",
        token[0].headers
    );
    assert!(token[0].headers.iter().all(|(name, _)| *name == name.to_ascii_lowercase()));
    let raw_form: Vec<(String, String)> = form_urlencoded::parse(&token[1].body).into_owned().collect();
    assert_eq!(raw_form, token[1].form);

    let api = server.requests(Endpoint::Api);
    assert_eq!(
        api.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/api/companies", "/api/companies/cmp_sandbox_1/invoices"]
    );
    let bearer = format!("Bearer {access}");
    assert_eq!(api[0].header("authorization"), Some(bearer.as_str()));
    assert!(server.requests(Endpoint::Revoke).is_empty());
}

#[tokio::test]
async fn non_form_body_is_recorded_but_not_parsed() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let resp = http
        .post(server.token_url())
        .header("authorization", basic_for(&server))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"refresh_token"}"#)
        .send()
        .await
        .unwrap();
    let (status, _, body) = read(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(parse(&body)["error"], "invalid_request");
    let recorded = server.requests(Endpoint::Token);
    assert_eq!(recorded[0].body, br#"{"grant_type":"refresh_token"}"#);
    assert!(recorded[0].form.is_empty());
}

#[tokio::test]
async fn wrong_methods_are_rejected() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let resp = http.get(server.token_url()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = http.post(server.authorize_url()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(server.calls(Endpoint::Token), 1);
    assert_eq!(server.calls(Endpoint::Authorize), 1);
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

#[tokio::test]
async fn shutdown_stops_the_server() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access, _) = grant(&server, &http).await;
    let url = server.api_url().join("companies").unwrap();
    assert_eq!(api_status(&server, &http, "companies", &access).await, StatusCode::OK);
    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(4), "idle keep-alive connections must not stall shutdown");
    let err = client().get(url).bearer_auth(&access).send().await.expect_err("server is gone");
    assert!(err.is_connect(), "{err}");
}

#[tokio::test]
async fn drop_stops_the_server() {
    let server = MockServer::start().await.unwrap();
    let url = server.api_url().join("companies").unwrap();
    let http = client();
    assert_eq!(http.get(url.clone()).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    drop(server);
    // Abort is asynchronous: give the runtime a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match client().get(url.clone()).send().await {
            Err(err) if err.is_connect() => break,
            other => {
                assert!(Instant::now() < deadline, "still serving: {other:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
