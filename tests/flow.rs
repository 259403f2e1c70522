//! The connection flow end to end over real HTTP against the sandbox mock.

mod common;

use std::sync::Arc;

use common::*;
use railz_connect::provider::Inputs;
use railz_connect::store::MemoryStore;
use railz_connect::store::Page;
use railz_connect::{
    BusinessName, CallbackError, Completion, ConnectionFilter, ConnectionStatus, Error, EventKind, Landing, ReasonCode,
    Revocation, SessionRequest, TenantId,
};
use railz_connect_mock::{Company, Endpoint, Fault};
use url::Url;

#[tokio::test]
async fn full_flow_creates_an_encrypted_connection_that_works() {
    let h = Harness::new().await;
    let mut events = h.connect.subscribe();
    let session = h
        .connect
        .create_session(
            &widget_id(),
            SessionRequest::new().with_business_name(BusinessName::new("Acme Trading Ltd").unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(session.business_name.as_str(), "Acme Trading Ltd");
    assert!(!session.generated);
    assert_eq!(session.services.len(), 1);
    assert_eq!(session.services[0].service_name, sandbox_service());
    assert!(session.services[0].sandbox);
    assert!(session.connections.is_empty());

    let start = h.connect.begin(&session.token, &sandbox_service(), Inputs::new()).await.unwrap();
    let q = query_of(&start.url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], h.mock.client_id());
    assert_eq!(q["redirect_uri"], CALLBACK);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["state"].len(), 43, "32 random bytes, base64url");
    assert_eq!(q["scope"], "accounting.read");

    let callback = h.authorize(&start).await;
    let completion = h.connect.complete(&callback).await.unwrap();
    let Completion::Connected { connection, landing } = completion else { panic!("{completion:?}") };
    assert_eq!(connection.business_name.as_str(), "Acme Trading Ltd");
    assert_eq!(connection.service_name, sandbox_service());
    assert_eq!(connection.status, ConnectionStatus::Active);
    assert_eq!(connection.tenant.as_ref().unwrap().id.as_str(), "cmp_sandbox_1");
    let validity = connection.expires_at - connection.created_at;
    assert_eq!(validity.whole_days(), 365);

    // Landing: configured page, ids added, no code or state.
    assert!(landing.url.as_str().starts_with(SUCCESS));
    let lq = query_of(&landing.url);
    assert_eq!(lq["connectionId"], connection.id.to_string());
    assert_eq!(lq["serviceName"], "railzSandbox");
    assert!(!lq.contains_key("code") && !lq.contains_key("state"));
    assert_eq!(Landing::HEADERS, [("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store")]);

    // One code exchange, one event.
    assert_eq!(h.mock.token_calls("authorization_code"), 1);
    let event = events.recv().await.unwrap();
    assert_eq!(event.kind, EventKind::Auth);
    assert_eq!(event.connection_id, Some(connection.id));

    // Read back, list, and use the stored credentials against the API.
    assert_eq!(h.connect.connection(&connection.id).await.unwrap(), connection);
    let filter = ConnectionFilter::all().with_business(connection.business_name.clone());
    let listed = h.connect.connections(&filter, Page::default()).await.unwrap();
    assert_eq!(listed.connections, vec![connection.clone()]);
    assert_eq!(listed.next, None, "one page");
    let tokens = h.connect.credentials(&connection.id).await.unwrap();
    let api = railz_connect::providers::railz_sandbox::SandboxApi::new(
        railz_connect::http::HttpClient::new().expect("an HTTP client"),
        &sandbox_config(&h.mock),
    );
    let info = api.company_info(&tokens, &connection.tenant.unwrap().id).await.unwrap();
    assert_eq!(info.name, "Railz Sandbox Company");

    // The store holds ciphertext only.
    let sealed = h.store.load_credentials(&connection.id).await.unwrap().unwrap();
    let token = tokens.access_token().unwrap().secret().as_bytes();
    assert!(!sealed.sealed.blob.windows(token.len()).any(|w| w == token), "the access token is stored in clear");
    assert_eq!(sealed.sealed.blob[0], 1, "envelope version");
    assert_eq!(sealed.sealed.key_id, 1, "the key id beside the blob");
    assert_eq!(sealed.sealed.access_expires_at, tokens.access_expires_at(), "the expiry beside the blob");
}

#[tokio::test]
async fn generated_business_names_are_unique_and_reserved() {
    let h = Harness::new().await;
    let mut names = std::collections::HashSet::new();
    for _ in 0..50 {
        let s = h.connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
        assert!(s.generated);
        assert!(h.store.get_business(&s.business_name).await.unwrap().is_some(), "reserved in the store");
        assert!(names.insert(s.business_name));
    }
}

#[tokio::test]
async fn a_taken_generated_name_is_drawn_again_and_endless_collisions_are_an_error() {
    let mock = railz_connect_mock::MockServer::start().await.unwrap();
    let store: Arc<dyn railz_connect::store::Store> = Arc::new(MemoryStore::new());
    let taken = BusinessName::new("taken-name").unwrap();
    let now = time::OffsetDateTime::now_utc();
    let record = railz_connect::store::BusinessRecord::new(taken.clone(), widget_id(), now);
    assert!(store.reserve_business(&record).await.unwrap());
    let clock = Arc::new(railz_connect::ManualClock::new(now));

    // Draws "taken-name" twice, then a fresh one.
    let draws = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&draws);
    let connect = Harness::builder(&mock, Arc::clone(&store), keyring(), Arc::clone(&clock))
        .with_name_generator(move || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            BusinessName::new(if n < 2 { "taken-name".to_owned() } else { format!("fresh-{n}") }).unwrap()
        })
        .build()
        .unwrap();
    let s = connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
    assert_eq!(s.business_name.as_str(), "fresh-2");
    assert_eq!(draws.load(std::sync::atomic::Ordering::SeqCst), 3);

    let stuck = Harness::builder(&mock, Arc::clone(&store), keyring(), clock)
        .with_name_generator(|| BusinessName::new("taken-name").unwrap())
        .build()
        .unwrap();
    assert!(matches!(
        stuck.create_session(&widget_id(), SessionRequest::new()).await,
        Err(Error::BusinessNameExhausted)
    ));
}

#[tokio::test]
async fn widget_session_lists_existing_connections_and_checks_landing_targets() {
    let h = Harness::new().await;
    let first = h.connect_one().await;
    let session = h
        .connect
        .create_session(&widget_id(), SessionRequest::new().with_business_name(first.business_name.clone()))
        .await
        .unwrap();
    assert_eq!(session.connections, vec![first.clone()]);

    // An allow-listed success page is used; anything else falls back to the default.
    for (asked, expected) in [
        ("https://app.example/welcome?step=2", "https://app.example/welcome?step=2"),
        ("https://evil.example/welcome", SUCCESS),
    ] {
        let s = h
            .connect
            .create_session(&widget_id(), SessionRequest::new().with_redirect_url(Url::parse(asked).unwrap()))
            .await
            .unwrap();
        let start = h.connect.begin(&s.token, &sandbox_service(), Inputs::new()).await.unwrap();
        let cb = h.authorize(&start).await;
        let Completion::Connected { landing, .. } = h.connect.complete(&cb).await.unwrap() else { panic!() };
        assert!(landing.url.as_str().starts_with(expected), "{asked} -> {}", landing.url);
    }
}

#[tokio::test]
async fn sessions_are_tamper_proof_and_expire() {
    let h = Harness::new().await;
    let s = h.connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
    let mut forged = s.token.secret().to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let forged = railz_connect::secret::SessionToken::new(forged);
    assert!(matches!(h.connect.begin(&forged, &sandbox_service(), Inputs::new()).await, Err(Error::InvalidSession(_))));
    h.clock.advance(std::time::Duration::from_secs(7200));
    assert!(matches!(
        h.connect.begin(&s.token, &sandbox_service(), Inputs::new()).await,
        Err(Error::InvalidSession(railz_connect::SessionError::Expired))
    ));
}

#[tokio::test]
async fn bad_input_is_a_typed_error() {
    let h = Harness::new().await;
    let s = h.connect.create_session(&widget_id(), SessionRequest::new()).await.unwrap();
    let unknown = railz_connect::ServiceName::new("xero").unwrap();
    assert!(matches!(
        h.connect.begin(&s.token, &unknown, Inputs::new()).await,
        Err(Error::ServiceNotOffered { .. } | Error::UnknownService(_))
    ));
    let err = h.connect.begin(&s.token, &sandbox_service(), use_case("no_such_case")).await.unwrap_err();
    assert!(
        matches!(err, Error::Provider { source: railz_connect::provider::ProviderError::InvalidInput { .. }, .. }),
        "{err:?}"
    );
    let mut extra = Inputs::new();
    extra.insert("accountId", "123");
    assert!(h.connect.begin(&s.token, &sandbox_service(), extra).await.is_err());
    assert!(matches!(
        h.connect.create_session(&railz_connect::WidgetId::new("nope").unwrap(), SessionRequest::new()).await,
        Err(Error::UnknownWidget(_))
    ));
    assert!(BusinessName::new("").is_err());
    assert!(railz_connect::ConnectionId::parse("123").is_err());
}

async fn failed(h: &Harness, case: &str) -> railz_connect::Failure {
    let start = h.begin(use_case(case)).await;
    let cb = h.authorize(&start).await;
    match h.connect.complete(&cb).await.unwrap() {
        Completion::Failed(f) => f,
        other => panic!("{case}: expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn denial_and_insufficient_role_reach_the_app_as_reason_codes() {
    let h = Harness::new().await;
    let mut events = h.connect.subscribe();
    for (case, reason) in [
        ("failed_connection", ReasonCode::AccessDenied),
        ("insufficient_permission", ReasonCode::InsufficientPermission),
        ("invalid_credentials", ReasonCode::UnauthorizedCredentials),
    ] {
        let f = failed(&h, case).await;
        assert_eq!(f.reason, reason, "{case}");
        assert!(f.landing.url.as_str().starts_with(FAILURE));
        assert_eq!(query_of(&f.landing.url)["reason"], reason.as_str());
        let e = events.recv().await.unwrap();
        assert_eq!((e.kind, e.reason), (EventKind::AuthFailed, Some(reason)));
    }
    // Denials never reach the token endpoint; invalid_credentials does (its code is refused).
    assert_eq!(h.mock.token_calls("authorization_code"), 1);
    assert!(h.connect.connections(&ConnectionFilter::all(), Page::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn data_empty_still_connects() {
    let h = Harness::new().await;
    let start = h.begin(use_case("data_empty")).await;
    let cb = h.authorize(&start).await;
    let Completion::Connected { connection, .. } = h.connect.complete(&cb).await.unwrap() else { panic!() };
    let tokens = h.connect.credentials(&connection.id).await.unwrap();
    let api = railz_connect::providers::railz_sandbox::SandboxApi::new(
        railz_connect::http::HttpClient::new().expect("an HTTP client"),
        &sandbox_config(&h.mock),
    );
    assert!(api.accounts(&tokens, &connection.tenant.unwrap().id).await.unwrap().is_empty());
}

#[tokio::test]
async fn several_tenants_ask_the_user_to_choose() {
    let h = Harness::new().await;
    h.mock.set_companies(vec![Company::sample("cmp_a", "Alpha Ltd"), Company::sample("cmp_b", "Beta LLC")]);
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    let Completion::ChooseTenant { ticket, tenants, .. } = h.connect.complete(&cb).await.unwrap() else { panic!() };
    assert_eq!(tenants.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Alpha Ltd", "Beta LLC"]);
    // A tenant outside the grant is refused and the choice stays open.
    assert!(matches!(
        h.connect.choose_tenant(&ticket, &TenantId::new("cmp_zzz").unwrap()).await,
        Err(Error::UnknownTenant(_))
    ));
    let Completion::Connected { connection, .. } =
        h.connect.choose_tenant(&ticket, &TenantId::new("cmp_b").unwrap()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(connection.tenant.unwrap().name, "Beta LLC");
    assert!(matches!(
        h.connect.choose_tenant(&ticket, &TenantId::new("cmp_b").unwrap()).await,
        Err(Error::UnknownTicket)
    ));
    // A grant that sees no company fails with its own reason.
    h.mock.set_companies(vec![]);
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    let Completion::Failed(f) = h.connect.complete(&cb).await.unwrap() else { panic!() };
    assert_eq!(f.reason, ReasonCode::NoTenant);
}

#[tokio::test]
async fn a_failing_tenant_listing_fails_the_authorization_with_its_reason() {
    let h = Harness::new().await;
    for (fault, reason, retryable) in [
        (railz_connect_mock::Fault::Status(500), ReasonCode::ProviderUnavailable, true),
        (railz_connect_mock::Fault::MalformedJson, ReasonCode::InvalidProviderResponse, false),
    ] {
        let start = h.begin(Inputs::new()).await;
        let cb = h.authorize(&start).await;
        h.mock.fail_next(Endpoint::Api, fault);
        let Completion::Failed(f) = h.connect.complete(&cb).await.unwrap() else { panic!() };
        assert_eq!(f.reason, reason);
        assert_eq!(f.error.unwrap().is_retryable(), retryable);
    }
    assert!(h.connect.connections(&ConnectionFilter::all(), Page::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_reused_missing_and_expired_state_never_reach_the_token_endpoint() {
    let h = Harness::new().await;
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;

    // Unknown state (same code, forged state).
    let forged = railz_connect::Callback::from_query(&format!(
        "code={}&state=forged-state&iss={}",
        cb.get("code").unwrap(),
        h.mock.issuer()
    ))
    .unwrap();
    assert!(matches!(h.connect.complete(&forged).await, Err(Error::Callback(CallbackError::UnknownState))));
    // Missing state.
    let missing = railz_connect::Callback::from_query(&format!("code={}", cb.get("code").unwrap())).unwrap();
    assert!(matches!(h.connect.complete(&missing).await, Err(Error::Callback(CallbackError::MissingState))));
    assert_eq!(h.mock.calls(Endpoint::Token), 0);

    // Used once, then reused.
    assert!(matches!(h.connect.complete(&cb).await.unwrap(), Completion::Connected { .. }));
    assert!(matches!(h.connect.complete(&cb).await, Err(Error::Callback(CallbackError::UnknownState))));
    assert_eq!(h.mock.calls(Endpoint::Token), 1);

    // Expired: a failure with its reason, no token call.
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    h.clock.advance(std::time::Duration::from_secs(660));
    let Completion::Failed(f) = h.connect.complete(&cb).await.unwrap() else { panic!() };
    assert_eq!(f.reason, ReasonCode::AuthorizationExpired);
    assert_eq!(h.mock.calls(Endpoint::Token), 1);
    assert!(matches!(h.connect.complete(&cb).await, Err(Error::Callback(CallbackError::UnknownState))));
    assert!(h.connect.purge_expired().await.unwrap() == 0);
}

#[tokio::test]
async fn the_same_callback_twice_at_once_exchanges_once() {
    let h = Harness::new().await;
    let start = h.begin(Inputs::new()).await;
    let cb = h.authorize(&start).await;
    let (a, b) = tokio::join!(h.connect.complete(&cb), h.connect.complete(&cb));
    let ok = [&a, &b].iter().filter(|r| matches!(r, Ok(Completion::Connected { .. }))).count();
    let rejected = [&a, &b].iter().filter(|r| matches!(r, Err(Error::Callback(CallbackError::UnknownState)))).count();
    assert_eq!((ok, rejected), (1, 1));
    assert_eq!(h.mock.token_calls("authorization_code"), 1);
    assert_eq!(h.connect.connections(&ConnectionFilter::all(), Page::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn disconnect_revokes_deletes_credentials_and_keeps_an_audit_record() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    let mut events = h.connect.subscribe();
    let d = h.connect.disconnect(&c.id).await.unwrap();
    assert!(matches!(d.revocation, Revocation::Revoked), "{:?}", d.revocation);
    let d = d.connection;
    assert_eq!(d.status, ConnectionStatus::Disconnected);
    assert_eq!(d.status_reason, Some(ReasonCode::DisconnectedByCustomer));
    assert_eq!(h.mock.calls(Endpoint::Revoke), 1);
    assert_eq!(h.mock.active_refresh_tokens(), 0, "grant revoked at the provider");
    assert!(h.store.load_credentials(&c.id).await.unwrap().is_none());
    assert_eq!(h.connect.connection(&c.id).await.unwrap().status, ConnectionStatus::Disconnected);
    assert!(matches!(
        h.connect.credentials(&c.id).await,
        Err(Error::ConnectionUnusable { status: ConnectionStatus::Disconnected, .. })
    ));
    let e = events.recv().await.unwrap();
    assert_eq!((e.kind, e.status), (EventKind::ConnectionStatus, Some(ConnectionStatus::Disconnected)));
    // Idempotent.
    let again = h.connect.disconnect(&c.id).await.unwrap();
    assert_eq!(again.connection.status, ConnectionStatus::Disconnected);
    assert!(matches!(again.revocation, Revocation::AlreadyDisconnected));
    assert_eq!(h.mock.calls(Endpoint::Revoke), 1);
}

#[tokio::test]
async fn disconnect_reports_a_failed_revocation_and_still_disconnects() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    h.mock.fail_next(Endpoint::Revoke, Fault::Status(503));
    let d = h.connect.disconnect(&c.id).await.unwrap();
    assert!(matches!(&d.revocation, Revocation::Failed(e) if e.is_retryable()), "{:?}", d.revocation);
    assert!(!d.revocation.is_revoked());
    assert_eq!(d.connection.status, ConnectionStatus::Disconnected);
    assert!(h.store.load_credentials(&c.id).await.unwrap().is_none());
}

#[tokio::test]
async fn connections_expire_after_their_validity() {
    let h = Harness::new().await;
    let c = h.connect_one().await;
    h.clock.advance(std::time::Duration::from_secs(31622400));
    assert!(matches!(
        h.connect.credentials(&c.id).await,
        Err(Error::ConnectionUnusable { status: ConnectionStatus::Expired, .. })
    ));
    assert_eq!(h.connect.connection(&c.id).await.unwrap().status, ConnectionStatus::Expired);
}

#[tokio::test]
async fn a_memory_store_can_be_shared_by_instances() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::with_store(store).await;
    let c = h.connect_one().await;
    let sibling = h.sibling();
    assert_eq!(sibling.connection(&c.id).await.unwrap(), c);
    assert!(sibling.credentials(&c.id).await.is_ok());
}
