//! The OAuth and secrecy rules of SECURITY.md, proven over real HTTP against the mock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use railz_connect::http::HttpClient;
use railz_connect::provider::ProviderError;
use railz_connect::provider::{AuthorizationRequest, Inputs, Provider};
use railz_connect::providers::railz_sandbox;
use railz_connect::secret::{PkceVerifier, StateToken};
use railz_connect::store::MemoryStore;
use railz_connect::store::Page;
use railz_connect::{Callback, CallbackError, Completion, ConnectionFilter, Error, ReasonCode};
use railz_connect_mock::{Endpoint, Fault, MockServer};
use sha2::Digest;

#[tokio::test]
async fn token_request_is_exact() {
    let h = Harness::new().await;
    let start = h.begin(Inputs::new()).await;
    let challenge = query_of(&start.url)["code_challenge"].clone();
    let cb = h.authorize(&start).await;
    assert!(matches!(h.connect.complete(&cb).await.unwrap(), Completion::Connected { .. }));
    let requests = h.mock.requests(Endpoint::Token);
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.form_param("grant_type"), Some("authorization_code"));
    assert_eq!(r.form_param("code"), cb.get("code"));
    assert_eq!(r.form_param("redirect_uri"), Some(CALLBACK), "byte-identical redirect_uri");
    let verifier = r.form_param("code_verifier").expect("code_verifier sent");
    assert_eq!(verifier.len(), 43);
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    assert_eq!(computed, challenge, "the verifier matches the S256 challenge");
    // RFC 6749 2.3.1: id and secret form-urlencoded before base64. The mock's secret holds `: + % / =`.
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(h.mock.client_id()),
            enc(h.mock.client_secret())
        ))
    );
    assert!(
        h.mock.client_secret().contains(':')
            && h.mock.client_secret().contains('+')
            && h.mock.client_secret().contains('%')
    );
    assert_eq!(r.header("authorization"), Some(expected.as_str()));
    assert_eq!(r.form_param("client_secret"), None, "the secret is not sent twice");
}

#[tokio::test]
async fn a_thousand_authorization_urls_are_s256_and_distinct() {
    let h = Harness::new().await;
    let session = h.connect.create_session(&widget_id(), railz_connect::SessionRequest::new()).await.unwrap();
    let mut challenges = std::collections::HashSet::new();
    let mut states = std::collections::HashSet::new();
    for _ in 0..1000 {
        let start = h.connect.begin(&session.token, &sandbox_service(), Inputs::new()).await.unwrap();
        let q = query_of(&start.url);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(q["state"].len(), 43);
        assert!(challenges.insert(q["code_challenge"].clone()));
        assert!(states.insert(q["state"].clone()));
    }
}

#[test]
fn rfc7636_appendix_b_vector() {
    let config = railz_sandbox::RailzSandboxConfig::new(
        "http://127.0.0.1:1/".parse().unwrap(),
        "id",
        railz_connect::secret::ClientSecret::new("s"),
    );
    let provider = railz_sandbox::provider(&config);
    let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let state = StateToken::new("s".repeat(43));
    let redirect = url::Url::parse(CALLBACK).unwrap();
    let inputs = Inputs::new();
    let url = provider
        .authorization_url(&AuthorizationRequest::new(&redirect, &state, &verifier).with_inputs(&inputs))
        .unwrap();
    assert_eq!(query_of(&url)["code_challenge"], "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

#[tokio::test]
async fn repeated_parameters_issuer_and_provider_mismatch_are_rejected_without_a_token_call() {
    let h = Harness::new().await;
    let start = h.begin(Inputs::new()).await;
    let target = browse(&start.url).await;
    let query = target.query().unwrap().to_owned();
    for extra in ["&code=again", "&state=again", "&iss=again"] {
        assert!(matches!(Callback::from_query(&format!("{query}{extra}")), Err(CallbackError::DuplicateParameter(_))));
    }
    let cb = Callback::from_query(&query).unwrap();

    // Another provider's callback route: rejected, and the state is spent.
    let other = railz_connect::ServiceName::new("xero").unwrap();
    let r = h.connect.complete(&cb.clone().with_service(other)).await;
    assert!(matches!(r, Err(Error::Callback(CallbackError::ProviderMismatch { .. }))), "{r:?}");

    // A foreign issuer (mix-up) and a missing issuer.
    for mangle in [
        |q: &str, iss: &str| {
            q.replace(
                &format!("iss={}", url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>()),
                "iss=https%3A%2F%2Fattacker.example",
            )
        },
        |q: &str, iss: &str| {
            q.replace(&format!("&iss={}", url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>()), "")
        },
    ] {
        let start = h.begin(Inputs::new()).await;
        let target = browse(&start.url).await;
        let mangled = mangle(target.query().unwrap(), &h.mock.issuer());
        assert_ne!(mangled, target.query().unwrap());
        let r = h.connect.complete(&Callback::from_query(&mangled).unwrap()).await;
        assert!(
            matches!(r, Err(Error::Callback(CallbackError::IssuerMismatch { .. } | CallbackError::MissingIssuer))),
            "{r:?}"
        );
    }
    assert_eq!(h.mock.calls(Endpoint::Token), 0);
}

#[tokio::test]
async fn an_error_callback_needs_a_valid_state() {
    let h = Harness::new().await;
    let bad = Callback::from_query(&format!("error=access_denied&state=nope&iss={}", h.mock.issuer())).unwrap();
    assert!(matches!(h.connect.complete(&bad).await, Err(Error::Callback(CallbackError::UnknownState))));
    let start = h.begin(use_case("failed_connection")).await;
    let cb = h.authorize(&start).await;
    let Completion::Failed(f) = h.connect.complete(&cb).await.unwrap() else { panic!() };
    assert_eq!(f.reason, ReasonCode::AccessDenied);
}

/// Runs one flow with a fault on the token endpoint; returns the failure.
async fn exchange_with(fault: Fault, timeout: Duration) -> (railz_connect::Failure, Harness) {
    let mock = MockServer::start().await.unwrap();
    let store: Arc<dyn railz_connect::store::Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(railz_connect::ManualClock::new(time::OffsetDateTime::now_utc()));
    let connect = Harness::builder(&mock, Arc::clone(&store), keyring(), Arc::clone(&clock))
        .with_http_client(HttpClient::with_timeouts(timeout, Duration::from_secs(2)).expect("an HTTP client"))
        .build()
        .unwrap();
    let h = Harness { mock, connect, store, clock };
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    h.mock.fail_next(Endpoint::Token, fault);
    match h.connect.complete(&cb).await.unwrap() {
        Completion::Failed(f) => (f, h),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn every_token_endpoint_failure_is_typed_and_stores_nothing() {
    let short = Duration::from_millis(400);
    let cases: Vec<(Fault, ReasonCode, bool)> = vec![
        (Fault::Redirect("https://elsewhere.example/token".into()), ReasonCode::InvalidProviderResponse, false),
        (Fault::Status(500), ReasonCode::ProviderUnavailable, true),
        (Fault::Status(503), ReasonCode::ProviderUnavailable, true),
        (Fault::TooManyRequests { retry_after_secs: 7 }, ReasonCode::RateLimited, true),
        (Fault::Delay(Duration::from_secs(2)), ReasonCode::Timeout, true),
        (Fault::MalformedJson, ReasonCode::InvalidProviderResponse, false),
        (Fault::Html, ReasonCode::InvalidProviderResponse, false),
        (Fault::MissingAccessToken, ReasonCode::InvalidProviderResponse, false),
        (Fault::TokenType("mac".into()), ReasonCode::InvalidProviderResponse, false),
        (Fault::InvalidGrant, ReasonCode::UnauthorizedCredentials, false),
        (
            Fault::ErrorBody { status: 401, error: "invalid_client".into(), description: None },
            ReasonCode::UnauthorizedClientIdKey,
            false,
        ),
    ];
    for (fault, reason, retryable) in cases {
        let label = format!("{fault:?}");
        let (f, h) = exchange_with(fault, short).await;
        assert_eq!(f.reason, reason, "{label}");
        let error = f.error.as_ref().unwrap_or_else(|| panic!("{label}: no error"));
        assert_eq!(error.is_retryable(), retryable, "{label}: {error:?}");
        if label.starts_with("TooManyRequests") {
            assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
        }
        if label.starts_with("Redirect") {
            assert!(matches!(error, ProviderError::Redirect { status: 302 }));
        }
        assert!(f.landing.url.as_str().starts_with(FAILURE), "{label}");
        assert!(
            h.connect.connections(&ConnectionFilter::all(), Page::default()).await.unwrap().is_empty(),
            "{label}: nothing stored"
        );
        assert_eq!(h.mock.calls(Endpoint::Token), 1, "{label}: no retry of a spent code");
    }
}

#[tokio::test]
async fn token_type_is_compared_case_insensitively() {
    let h = Harness::new().await;
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    h.mock.fail_next(Endpoint::Token, Fault::TokenType("BeArEr".into()));
    assert!(matches!(h.connect.complete(&cb).await.unwrap(), Completion::Connected { .. }));
}

#[tokio::test]
async fn sentinel_secrets_appear_nowhere() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_env_filter("trace,railz_connect_mock=off")
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    const CLIENT_SECRET: &str = "SENTINEL-client-secret";
    let mock = MockServer::builder().with_client("sentinel-client", CLIENT_SECRET).start().await.unwrap();
    let h = Harness::on(mock, Arc::new(MemoryStore::new()), keyring()).await;
    let mut events = h.connect.subscribe();

    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    let code = cb.get("code").unwrap().to_owned();
    let state = cb.get("state").unwrap().to_owned();
    let completion = h.connect.complete(&cb).await.unwrap();
    let Completion::Connected { connection, .. } = &completion else { panic!() };
    let first = h.connect.credentials(&connection.id).await.unwrap().into_oauth2().unwrap();
    let refreshed = h.connect.refresh(&connection.id).await.unwrap().into_oauth2().unwrap();
    // A failing refresh, to have an error to print.
    h.mock.fail_next(Endpoint::Token, Fault::Status(503));
    let error = h.connect.refresh(&connection.id).await.unwrap_err();
    let verifier = h.mock.requests(Endpoint::Token)[0].form_param("code_verifier").unwrap().to_owned();

    let mut seen = String::from_utf8(capture.bytes()).unwrap();
    seen.push_str(&format!("{completion:?}{cb:?}{first:?}{refreshed:?}{error:?}{error}{:?}{start:?}", h.connect));
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        seen.push_str(&format!("{e} {e:?}"));
        source = e.source();
    }
    while let Ok(e) = events.try_recv() {
        seen.push_str(&format!("{e:?}{}", serde_json::to_string(&e).unwrap()));
    }
    assert!(seen.contains("connection created"), "logs were captured");
    let secrets = [
        ("client secret", CLIENT_SECRET.to_owned()),
        ("code", code),
        ("state", state),
        ("verifier", verifier),
        ("access token", first.access_token.secret().to_owned()),
        ("refresh token", first.refresh_token.as_ref().unwrap().secret().to_owned()),
        ("new access token", refreshed.access_token.secret().to_owned()),
        ("new refresh token", refreshed.refresh_token.as_ref().unwrap().secret().to_owned()),
        ("browser binding", start.binding.as_ref().unwrap().1.secret().to_owned()),
    ];
    for (what, value) in secrets {
        assert!(value.len() >= 16, "{what} is long enough to be a meaningful sentinel");
        if let Some(at) = seen.find(&value) {
            panic!(
                "the {what} leaked: ...{}...",
                &seen[at.saturating_sub(300)..(at + value.len() + 50).min(seen.len())]
            );
        }
    }
    assert!(seen.contains("[redacted]"));
}
