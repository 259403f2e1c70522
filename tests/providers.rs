//! The credential-based services through the facade, as an app uses them: Sage Intacct's
//! XML sessions (opened from the inputs, re-created when they time out, requests wrapped in
//! the gateway's envelope) and NetSuite's token-based authentication (every request signed),
//! with every log line at TRACE captured: no secret input, sender password or session id is
//! ever printed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Capture, keyring, widget, widget_id};
use railz_connect::http::HttpClient;
use railz_connect::provider::{ClientRegistration, Inputs};
use railz_connect::providers::{AuthMode, ProvidersConfig, ServiceConfig, registry};
use railz_connect::secret::ClientSecret;
use railz_connect::store::MemoryStore;
use railz_connect::{Completion, Connect, ManualClock, ServiceName, SessionRequest};
use railz_connect_mock::intacct::IntacctGateway;
use railz_connect_mock::netsuite_tba::NetsuiteTba;
use time::OffsetDateTime;

fn connect_for(service: &ServiceName, config: ServiceConfig, clock: &Arc<ManualClock>) -> Connect {
    let providers = ProvidersConfig::new().with_service(service.clone(), config);
    Connect::builder()
        .with_registry(registry(&providers).unwrap())
        .with_store(Arc::new(MemoryStore::new()))
        .with_keyring(keyring())
        .with_widget(widget())
        .with_http_client(HttpClient::new().unwrap().with_clock(Arc::clone(clock) as _))
        .with_clock(Arc::clone(clock) as _)
        .build()
        .unwrap()
}

async fn connected(connect: &Connect, service: &ServiceName, inputs: Inputs) -> railz_connect::Connection {
    let session = connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
    match connect.connect_with_inputs(&session.token, service, inputs).await.unwrap() {
        Completion::Connected { connection, .. } => connection,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn sage_intacct_sessions_are_recreated_and_nothing_secret_is_logged() {
    let capture = Capture::default();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(capture.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let gateway = IntacctGateway::start().await.unwrap();
    let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(gateway.now()).unwrap()));
    let service: ServiceName = "sageIntacct".parse().unwrap();
    let client = ClientRegistration::new(gateway.sender_id(), ClientSecret::new(gateway.sender_password()));
    let connect = connect_for(&service, ServiceConfig::new(client).with_base_url(gateway.base_url()), &clock);
    let user = gateway.user();
    let inputs = Inputs::new()
        .with_input("companyId", user.company_id.clone())
        .with_input("userId", user.user_id.clone())
        .with_input("password", user.password.clone());
    let connection = connected(&connect, &service, inputs).await;
    let first = connect.credentials(&connection.id).await.unwrap();
    let first_session = first.access_token().unwrap().secret().to_owned();
    assert_eq!(connect.verify(&connection.id).await.unwrap().name, "Railz Demo Intacct Co.");

    // The session times out on the gateway's clock and the SDK's: the next use opens a new one
    // from the sealed login (there is no refresh token).
    clock.advance(Duration::from_secs(3601));
    gateway.advance(Duration::from_secs(3601));
    let second = connect.credentials(&connection.id).await.unwrap();
    let second_session = second.access_token().unwrap().secret().to_owned();
    assert_ne!(first_session, second_session, "a new session");
    assert_eq!(connect.verify(&connection.id).await.unwrap().name, "Railz Demo Intacct Co.");

    // An app's request: the <function> elements, wrapped by the SDK and sent to the session's
    // endpoint.
    let mut request = http::Request::post("http://placeholder.invalid/")
        .body(b"<function controlid=\"q\"><readByQuery><object>COMPANY</object><fields>NAME</fields><query></query></readByQuery></function>".to_vec())
        .unwrap();
    connect.authorize_request(&connection.id, &mut request).await.unwrap();
    let body = String::from_utf8(request.body().clone()).unwrap();
    assert!(body.contains(&format!("<sessionid>{second_session}</sessionid>")), "the session authenticates it");
    let answer = HttpClient::new().unwrap().send(request).await.unwrap();
    assert!(String::from_utf8_lossy(answer.body()).contains("Railz Demo Intacct Co."));

    drop(_guard);
    let logs = capture.text();
    assert!(logs.contains("Sage Intacct session opened"), "the logs are captured");
    for secret in [user.password.as_str(), gateway.sender_password(), &first_session, &second_session] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    gateway.shutdown().await;
}

#[tokio::test]
async fn netsuite_tba_signs_every_request_and_logs_no_secret() {
    let capture = Capture::default();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(capture.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let netsuite = NetsuiteTba::start().await.unwrap();
    let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(netsuite.now()).unwrap()));
    let service: ServiceName = "oracleNetsuite".parse().unwrap();
    let config =
        ServiceConfig::without_client().with_auth_mode(AuthMode::Credentials).with_base_url(netsuite.base_url());
    let connect = connect_for(&service, config, &clock);
    let c = netsuite.credentials();
    let inputs = Inputs::new()
        .with_input("accountId", c.account_id.clone())
        .with_input("consumerKey", c.consumer_key.clone())
        .with_input("consumerSecret", c.consumer_secret.clone())
        .with_input("tokenId", c.token_id.clone())
        .with_input("tokenSecret", c.token_secret.clone());
    let connection = connected(&connect, &service, inputs).await;
    netsuite.set_company_name("Northwind Traders");
    assert_eq!(connect.verify(&connection.id).await.unwrap().name, "Northwind Traders");

    // Two requests signed at the same instant still differ (nonces), and both are accepted.
    let http = HttpClient::new().unwrap();
    let url = format!("{}services/rest/record/v1/metadata-catalog", netsuite.base_url());
    let mut headers = Vec::new();
    for _ in 0..2 {
        let mut request = http::Request::get(url.as_str()).body(Vec::new()).unwrap();
        connect.authorize_request(&connection.id, &mut request).await.unwrap();
        headers.push(request.headers()[http::header::AUTHORIZATION].to_str().unwrap().to_owned());
        assert_eq!(http.send(request).await.unwrap().status(), 200);
    }
    assert_ne!(headers[0], headers[1]);
    assert!(headers[0].starts_with(&format!("OAuth realm=\"{}\"", c.account_id)));
    // Signed five minutes away from the server's clock: refused.
    clock.advance(Duration::from_secs(301));
    let mut late = http::Request::get(url.as_str()).body(Vec::new()).unwrap();
    connect.authorize_request(&connection.id, &mut late).await.unwrap();
    assert_eq!(http.send(late).await.unwrap().status(), 401);

    drop(_guard);
    let logs = capture.text();
    assert!(logs.contains("NetSuite token verified"), "the logs are captured");
    for secret in [&c.consumer_secret, &c.token_secret, &c.token_id, &c.consumer_key] {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
    netsuite.shutdown().await;
}
