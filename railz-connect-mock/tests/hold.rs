//! Held requests over real HTTP: a request waits, received and counted but
//! otherwise untouched, until the test releases it. No sleeps: every step
//! waits on a notification.

mod common;

use std::sync::Arc;

use railz_connect_mock::{Endpoint, Fault, MockServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::common::{client, grant, refresh};

/// A refresh request running in its own task.
fn spawn_refresh(server: &Arc<MockServer>, refresh_token: &str) -> JoinHandle<(StatusCode, Value)> {
    let (server, refresh_token, http) = (Arc::clone(server), refresh_token.to_owned(), client());
    tokio::spawn(async move { refresh(&server, &http, &refresh_token).await })
}

/// An API request running in its own task; its status.
fn spawn_api(server: &MockServer, access_token: &str) -> JoinHandle<StatusCode> {
    let url = server.api_url().join("companies").unwrap();
    let (access_token, http) = (access_token.to_owned(), client());
    tokio::spawn(async move { http.get(url).bearer_auth(access_token).send().await.unwrap().status() })
}

#[tokio::test]
async fn a_held_token_request_waits_until_released() {
    let server = Arc::new(MockServer::start().await.unwrap());
    let http = client();
    let (_, first_refresh) = grant(&server, &http).await;

    let held = server.hold_next(Endpoint::Token);
    assert_eq!(held.endpoint(), Endpoint::Token);
    let task = spawn_refresh(&server, &first_refresh);
    held.arrived().await;
    // Resolves at once now that it has arrived.
    held.arrived().await;

    // Received, recorded and counted, but not answered.
    assert!(!task.is_finished());
    assert_eq!(server.calls(Endpoint::Token), 2);
    assert_eq!(server.token_calls("refresh_token"), 1);
    let recorded = server.requests(Endpoint::Token);
    assert_eq!(recorded[1].form_param("refresh_token"), Some(first_refresh.as_str()));
    // No work done yet: nothing rotated.
    assert_eq!(server.refresh_token_lineage(&first_refresh), Some(vec![first_refresh.clone()]));

    held.release();
    let (status, body) = task.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotated = body["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, first_refresh);
    assert_eq!(server.refresh_token_lineage(rotated), Some(vec![first_refresh.clone(), rotated.to_owned()]));
    // Handled normally: the old token is rotated out, the new one works.
    let (status, body) = refresh(&server, &http, &first_refresh).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_grant")), "{body}");
    let (status, body) = refresh(&server, &http, rotated).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_held_refresh_is_validated_only_after_release() {
    let server = Arc::new(MockServer::start().await.unwrap());
    let http = client();
    let (_, refresh_token) = grant(&server, &http).await;

    let held = server.hold_next(Endpoint::Token);
    let first = spawn_refresh(&server, &refresh_token);
    held.arrived().await;

    // A second refresh with the same token passes the hold and rotates the
    // token while the first is still waiting.
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!first.is_finished());

    // Released, the first one is validated now, against the rotated state.
    held.release();
    let (status, body) = first.await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn dropping_the_handle_releases_the_request() {
    let server = MockServer::start().await.unwrap();
    let (access, _) = grant(&server, &client()).await;
    let held = server.hold_next(Endpoint::Api);
    let task = spawn_api(&server, &access);
    held.arrived().await;
    assert!(!task.is_finished());
    drop(held);
    assert_eq!(task.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn several_holds_take_the_next_requests_in_turn_and_later_ones_pass() {
    let server = MockServer::start().await.unwrap();
    let http = client();
    let (access, _) = grant(&server, &http).await;
    let first_hold = server.hold_next(Endpoint::Api);
    let second_hold = server.hold_next(Endpoint::Api);

    let first = spawn_api(&server, &access);
    first_hold.arrived().await;
    let second = spawn_api(&server, &access);
    second_hold.arrived().await;

    // Both holds are taken: the next request passes.
    let resp = http.get(server.api_url().join("companies").unwrap()).bearer_auth(&access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(server.calls(Endpoint::Api), 3);

    // Each hold releases its own request.
    second_hold.release();
    assert_eq!(second.await.unwrap(), StatusCode::OK);
    assert!(!first.is_finished());
    first_hold.release();
    assert_eq!(first.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn the_fault_queued_at_release_applies_to_the_held_request() {
    let server = Arc::new(MockServer::start().await.unwrap());
    let http = client();
    let (_, refresh_token) = grant(&server, &http).await;

    let held = server.hold_next(Endpoint::Token);
    let task = spawn_refresh(&server, &refresh_token);
    held.arrived().await;
    server.fail_next(Endpoint::Token, Fault::Status(503));
    held.release();
    let (status, body) = task.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"error": "server_error"}));
    // The faulted request did no work: the token is still good.
    let (status, body) = refresh(&server, &http, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
#[should_panic(expected = "the sandbox stopped before the held Token request arrived")]
async fn arrived_panics_when_the_server_stops_first() {
    let server = MockServer::start().await.unwrap();
    let held = server.hold_next(Endpoint::Token);
    server.shutdown().await;
    held.arrived().await;
}
