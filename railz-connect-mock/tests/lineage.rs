//! Refresh-token lineage over real HTTP: every refresh token the sandbox
//! issued for a grant, in order.

mod common;

use railz_connect_mock::{Endpoint, Fault, MockServer};
use reqwest::StatusCode;

use crate::common::{client, code, exchange, grant, refresh, tokens};

/// Refreshes successfully; the new (access, refresh) tokens.
async fn rotate(server: &MockServer, http: &reqwest::Client, refresh_token: &str) -> (String, String) {
    let (status, body) = refresh(server, http, refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    tokens(&body)
}

#[tokio::test]
async fn a_code_exchange_and_two_refreshes() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access1, refresh1) = grant(&server, &http).await;
    assert_eq!(server.refresh_token_lineage(&refresh1), Some(vec![refresh1.clone()]));

    let (access2, refresh2) = rotate(&server, &http, &refresh1).await;
    let (access3, refresh3) = rotate(&server, &http, &refresh2).await;
    let expected = vec![refresh1.clone(), refresh2.clone(), refresh3.clone()];
    // The same lineage from any token of the grant, rotated-out ones included.
    for token in [&refresh1, &refresh2, &refresh3, &access1, &access2, &access3] {
        assert_eq!(server.refresh_token_lineage(token).as_ref(), Some(&expected), "from {token}");
    }
    assert_eq!(server.refresh_token_lineage(&refresh1).unwrap().last(), Some(&refresh3));

    assert_eq!(server.refresh_token_lineage("never-issued"), None);
    assert_eq!(server.refresh_token_lineage(""), None);
}

#[tokio::test]
async fn each_grant_has_its_own_lineage_which_survives_revocation() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (_, first) = grant(&server, &http).await;
    let (_, other) = grant(&server, &http).await;
    let (_, second) = rotate(&server, &http, &first).await;
    assert_eq!(server.refresh_token_lineage(&other), Some(vec![other.clone()]));

    let resp = http
        .post(server.revoke_url())
        .header("authorization", common::basic(&server))
        .form(&[("token", second.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    server.revoke_all();
    assert_eq!(server.refresh_token_lineage(&first), Some(vec![first.clone(), second.clone()]));
    assert_eq!(server.refresh_token_lineage(&other), Some(vec![other]));
}

#[tokio::test]
async fn only_tokens_the_provider_really_issued_join_the_lineage() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (_, first) = grant(&server, &http).await;
    let (_, second) = rotate(&server, &http, &first).await;

    // Refused refreshes issue nothing: a faulted one, a rotated-out token.
    server.fail_next(Endpoint::Token, Fault::Status(503));
    assert_eq!(refresh(&server, &http, &second).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refresh(&server, &http, &first).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(server.refresh_token_lineage(&first), Some(vec![first.clone(), second.clone()]));

    // A response the client cannot use still rotated the token at the
    // provider: the lineage shows it (what a crash test looks for).
    server.fail_next(Endpoint::Token, Fault::MissingAccessToken);
    let (status, body) = refresh(&server, &http, &second).await;
    assert_eq!(status, StatusCode::OK);
    let third = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(server.refresh_token_lineage(&second), Some(vec![first, second, third]));

    // Tokens fabricated for a bad request were never issued.
    server.fail_next(Endpoint::Token, Fault::MissingAccessToken);
    let (_, body) = exchange(&server, &http, "not-a-code").await;
    assert_eq!(server.refresh_token_lineage(body["refresh_token"].as_str().unwrap()), None);

    // A new code starts a new grant, with a new lineage.
    let code = code(&server).await;
    let (status, body) = exchange(&server, &http, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, fresh) = tokens(&body);
    assert_eq!(server.refresh_token_lineage(&fresh), Some(vec![fresh]));
}
