//! Authorization server metadata (RFC 8414) and OpenID Connect discovery
//! over real HTTP.

mod common;

use railz_connect_mock::{Endpoint, Fault, MockServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{callback, client, param};

async fn get(http: &reqwest::Client, url: url::Url) -> (StatusCode, String, Value) {
    let resp = http.get(url).send().await.expect("metadata request");
    let status = resp.status();
    let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = resp.text().await.unwrap();
    (status, content_type, serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")))
}

fn expected(server: &MockServer, issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": server.authorize_url().as_str(),
        "token_endpoint": server.token_url().as_str(),
        "revocation_endpoint": server.revoke_url().as_str(),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["accounting.read"],
    })
}

#[tokio::test]
async fn both_documents_describe_the_sandbox() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let port = server.local_addr().port();
    assert_eq!(
        server.metadata_url().as_str(),
        format!("http://127.0.0.1:{port}/.well-known/oauth-authorization-server")
    );
    assert_eq!(
        server.openid_configuration_url().as_str(),
        format!("http://127.0.0.1:{port}/.well-known/openid-configuration")
    );

    let (status, content_type, oauth) = get(&http, server.metadata_url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(oauth, expected(&server, &server.issuer()));
    // RFC 8414 section 3.3: the issuer is exactly the one the metadata was fetched for.
    assert_eq!(oauth["issuer"], server.issuer().as_str());
    assert_eq!(oauth["token_endpoint"], format!("http://127.0.0.1:{port}/oauth/token"));

    let (status, _, openid) = get(&http, server.openid_configuration_url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(openid, oauth);

    assert_eq!(server.calls(Endpoint::Metadata), 2);
    let recorded = server.requests(Endpoint::Metadata);
    assert_eq!(
        recorded.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect::<Vec<_>>(),
        [("GET", "/.well-known/oauth-authorization-server"), ("GET", "/.well-known/openid-configuration")]
    );
    for endpoint in [Endpoint::Authorize, Endpoint::Token, Endpoint::Revoke, Endpoint::Api] {
        assert_eq!(server.calls(endpoint), 0);
    }
}

#[tokio::test]
async fn set_metadata_issuer_changes_only_the_announced_issuer() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    server.set_metadata_issuer(Some("https://impostor.example".to_owned()));
    for url in [server.metadata_url(), server.openid_configuration_url()] {
        let (_, _, document) = get(&http, url).await;
        assert_eq!(document, expected(&server, "https://impostor.example"));
    }
    // The authorization callback still carries the real issuer.
    assert_eq!(param(&callback(&server).await, "iss"), Some(server.issuer()));

    server.set_metadata_issuer(None);
    let (_, _, document) = get(&http, server.metadata_url()).await;
    assert_eq!(document["issuer"], server.issuer().as_str());
}

#[tokio::test]
async fn metadata_is_scriptable_like_every_endpoint() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    server.fail_next(Endpoint::Metadata, Fault::Status(503));
    let (status, _, body) = get(&http, server.metadata_url()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"error": "server_error"}));
    let (status, _, _) = get(&http, server.openid_configuration_url()).await;
    assert_eq!(status, StatusCode::OK);

    let resp = http.post(server.metadata_url()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(server.calls(Endpoint::Metadata), 3);

    // Other `.well-known` paths are unknown, and not counted.
    let resp = http.get(server.base_url().join(".well-known/jwks.json").unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.calls(Endpoint::Metadata), 3);
}
