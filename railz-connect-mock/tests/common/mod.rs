//! Helpers shared by the newer test binaries. Unlike `tests/server.rs`, none
//! of them installs a process-wide rustls crypto provider.

// Each test binary uses its own subset.
#![allow(dead_code)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use railz_connect_mock::MockServer;
use railz_connect_mock::browser;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use url::{Url, form_urlencoded};

pub(crate) const REDIRECT: &str = "http://127.0.0.1:8765/callback";
/// RFC 7636 appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A plain-HTTP client: no redirects followed, no idle connections, and an
/// explicit (unused) TLS configuration instead of a process-wide provider.
pub(crate) fn client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("reqwest client")
}

/// The sandbox's authorization URL with good parameters plus `extra`.
pub(crate) fn authorization_url(server: &MockServer, extra: &[(&str, &str)]) -> Url {
    let mut url = server.authorize_url();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", server.client_id())
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "st4te")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    url
}

pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Runs the authorization step with the stand-in browser; the callback URL.
pub(crate) async fn callback(server: &MockServer) -> Url {
    browser::authorize(&authorization_url(server, &[]), &Url::parse(REDIRECT).unwrap()).await.expect("authorize")
}

pub(crate) async fn code(server: &MockServer) -> String {
    param(&callback(server).await, "code").expect("code in callback")
}

/// RFC 6749 2.3.1: form-urlencode id and secret, join with ':', base64.
pub(crate) fn basic(server: &MockServer) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(server.client_id()), enc(server.client_secret()))))
}

/// POST to the token endpoint with Basic auth.
pub(crate) async fn token_post(
    server: &MockServer,
    http: &reqwest::Client,
    form: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let resp = http
        .post(server.token_url())
        .header("authorization", basic(server))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body");
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (status, headers, json)
}

pub(crate) async fn exchange(server: &MockServer, http: &reqwest::Client, code: &str) -> (StatusCode, Value) {
    let form =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    let (status, _, body) = token_post(server, http, &form).await;
    (status, body)
}

pub(crate) async fn refresh(server: &MockServer, http: &reqwest::Client, refresh_token: &str) -> (StatusCode, Value) {
    let (status, _, body) =
        token_post(server, http, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await;
    (status, body)
}

pub(crate) fn tokens(body: &Value) -> (String, String) {
    let field = |name: &str| body[name].as_str().unwrap_or_else(|| panic!("no {name}: {body}")).to_owned();
    (field("access_token"), field("refresh_token"))
}

/// A full grant: (access_token, refresh_token).
pub(crate) async fn grant(server: &MockServer, http: &reqwest::Client) -> (String, String) {
    let code = code(server).await;
    let (status, body) = exchange(server, http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    tokens(&body)
}
