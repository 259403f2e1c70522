//! The widget router over real HTTP, without a browser: headers, CSRF, the JSON API's whole
//! flow against the sandbox (and Sage Intacct's gateway for a credentials service).

use std::sync::Arc;

use railz_connect_core::crypto::{DataKey, Keyring};
use railz_connect_core::provider::ClientRegistration;
use railz_connect_core::secret::ClientSecret;
use railz_connect_core::store::MemoryStore;
use railz_connect_core::{Connect, ManualClock, SessionRequest, WidgetConfig, WidgetId};
use railz_connect_mock::intacct::IntacctGateway;
use railz_connect_mock::{Company, MockServer};
use railz_connect_providers::{ProvidersConfig, ServiceConfig, registry};
use railz_connect_widget::{ConnectWidget, Origin, WidgetOptions};
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};
use url::Url;

const EMBEDDER: &str = "http://127.0.0.1:9999";

struct App {
    base: Url,
    connect: Connect,
    http: reqwest::Client,
    sandbox: MockServer,
    _intacct: IntacctGateway,
    intacct_user: railz_connect_mock::intacct::IntacctUser,
    widget: ConnectWidget,
}

async fn app(companies: usize, public_sessions: bool) -> App {
    // The test's own client (plain http to loopback) needs a TLS provider to be built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let list = (1..=companies).map(|i| Company::sample(format!("cmp_{i}"), format!("Company {i}"))).collect();
    let sandbox = MockServer::builder().with_companies(list).start().await.unwrap();
    let intacct = IntacctGateway::start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base: Url = format!("http://{addr}/connect/").parse().unwrap();
    let widget_id = WidgetId::new("demo").unwrap();
    let config = WidgetConfig::builder(widget_id.clone())
        .with_redirect_uri(base.join("callback").unwrap())
        .with_success_url(format!("http://{addr}/connected").parse().unwrap())
        .with_failure_url(format!("http://{addr}/failed").parse().unwrap())
        .build()
        .unwrap();
    let providers = ProvidersConfig::new()
        .with_service(
            "railzSandbox".parse().unwrap(),
            ServiceConfig::new(ClientRegistration::new(
                sandbox.client_id(),
                ClientSecret::new(sandbox.client_secret()),
            ))
            .with_base_url(sandbox.base_url()),
        )
        .with_service(
            "sageIntacct".parse().unwrap(),
            ServiceConfig::new(ClientRegistration::new(
                intacct.sender_id(),
                ClientSecret::new(intacct.sender_password()),
            ))
            .with_base_url(intacct.base_url()),
        );
    let connect = Connect::builder()
        .with_registry(registry(&providers).unwrap())
        .with_store(Arc::new(MemoryStore::new()))
        .with_keyring(Keyring::new(1, DataKey::from_bytes([9; 32])))
        .with_clock(Arc::new(ManualClock::new(
            railz_connect_core::time::OffsetDateTime::from_unix_timestamp(1_795_780_800).unwrap(),
        )))
        .with_widget(config)
        .build()
        .unwrap();
    let widget = ConnectWidget::new(connect.clone()).with_widget(
        widget_id,
        WidgetOptions::new()
            .with_allowed_origin(Origin::parse(EMBEDDER).unwrap())
            .with_public_sessions(public_sessions),
    );
    let router = axum::Router::new().nest("/connect", widget.router());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let intacct_user = intacct.user();
    App {
        base,
        connect,
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        sandbox,
        _intacct: intacct,
        intacct_user,
        widget,
    }
}

/// `name=value` of each `Set-Cookie`.
fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned()).collect()
}

impl App {
    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    async fn csrf(&self) -> (String, String) {
        let r = self.http.get(self.url("api/csrf")).send().await.unwrap();
        let cookie = cookies(r.headers()).pop().unwrap();
        let token = r.json::<Value>().await.unwrap()["csrfToken"].as_str().unwrap().to_owned();
        (token, cookie)
    }

    async fn post(
        &self,
        path: &str,
        body: Value,
        csrf: &(String, String),
        extra_cookie: &str,
        bearer: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url(path))
            .header("x-csrf-token", &csrf.0)
            .header("cookie", format!("{}; {extra_cookie}", csrf.1))
            .json(&body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send().await.unwrap()
    }

    async fn session(&self, business: &str) -> String {
        let request = SessionRequest::new().with_business_name(business.parse().unwrap());
        let session = self.connect.create_session(&"demo".parse().unwrap(), request).await.unwrap();
        session.token.secret().to_owned()
    }

    /// Begins through the API, lets the sandbox answer, and returns the callback query and the
    /// binding cookie.
    async fn authorize(&self, csrf: &(String, String), token: &str, use_case: Option<&str>) -> (String, String) {
        let inputs = use_case.map_or(json!({}), |u| json!({"useCase": u}));
        let r = self
            .post("api/authorizations", json!({"serviceName": "railzSandbox", "inputs": inputs}), csrf, "", Some(token))
            .await;
        assert_eq!(r.status(), 200);
        let binding = cookies(r.headers()).pop().expect("a binding cookie");
        let start: Value = r.json().await.unwrap();
        assert_eq!(start["status"], "redirect");
        let url: Url = start["url"].as_str().unwrap().parse().unwrap();
        let callback = railz_connect_mock::browser::authorize(&url, &self.url("callback")).await.unwrap();
        (callback.query().unwrap().to_owned(), binding)
    }
}

#[tokio::test]
async fn the_page_is_served_with_strict_headers() {
    let app = app(1, false).await;
    let r = app.http.get(app.url(&format!("w/demo?display=frame&origin={EMBEDDER}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self' 'nonce-"), "{csp}");
    assert!(csp.contains(&format!("frame-ancestors {EMBEDDER};")) && !csp.contains("unsafe"), "{csp}");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let set = h[SET_COOKIE].to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/connect"), "{set}");
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"data-service="railzSandbox""#) && body.contains(r#"data-service="sageIntacct""#));
    assert!(body.contains(&format!(r#"data-parent-origin="{EMBEDDER}""#)));
    assert!(body.contains(r#"data-load-error="""#));
    // The nonce of the header is the nonce of the page's one <style>, and there is no inline script.
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(body.contains(&format!(r#"<style nonce="{nonce}">"#)));
    assert_eq!(body.matches("<script").count(), 1);
    assert!(body.contains(r#"<script src="/connect/assets/widget.js" defer>"#));

    // Options narrow; they never widen.
    let narrowed = app.http.get(app.url("w/demo?exclude=sageIntacct&language=fr-CA")).send().await.unwrap();
    let body = narrowed.text().await.unwrap();
    assert!(!body.contains(r#"data-service="sageIntacct""#) && body.contains(r#"data-service="railzSandbox""#));
    assert!(body.contains(r#"<html lang="fr">"#) && body.contains("Connectez votre logiciel"));
    let by_country = app.http.get(app.url("w/demo?countryCodes=AU")).send().await.unwrap().text().await.unwrap();
    assert!(by_country.contains(r#"data-service="sageIntacct""#), "Intacct is sold in AU");
    let elsewhere = app.http.get(app.url("w/demo?countryCodes=BR")).send().await.unwrap().text().await.unwrap();
    assert!(
        !elsewhere.contains(r#"data-service="sageIntacct""#) && elsewhere.contains(r#"data-service="railzSandbox""#)
    );

    // An embedder that is not allowed gets no parent origin, and the page says why.
    let foreign = app.http.get(app.url("w/demo?display=frame&origin=http://localhost:9999")).send().await.unwrap();
    let body = foreign.text().await.unwrap();
    assert!(body.contains(r#"data-parent-origin="""#) && body.contains(r#"data-load-error="originNotAllowed""#));
    // Theme options are checked: a colour that tries to break out of the style is dropped.
    let themed = app.http.get(app.url("w/demo?primary=%23ff0000&secondary=red%7D*%7Bx:y")).send().await.unwrap();
    let body = themed.text().await.unwrap();
    assert!(body.contains("--rcw-primary:#ff0000;") && !body.contains("x:y"));

    // sessionTimeout may shorten the configured wait (10 minutes), never lengthen it.
    for (asked, got) in [("100", "100"), ("99999", "600"), ("5", "600")] {
        let page = app.http.get(app.url(&format!("w/demo?sessionTimeout={asked}"))).send().await.unwrap();
        assert!(page.text().await.unwrap().contains(&format!(r#"data-timeout="{got}""#)), "{asked}");
    }

    let missing = app.http.get(app.url("w/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn the_page_its_script_and_style_are_small() {
    let app = app(1, false).await;
    let mut total = 0;
    for path in ["w/demo", "assets/widget.js", "assets/widget.css"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        total += r.bytes().await.unwrap().len();
    }
    assert!(total < 60 * 1024, "the widget weighs {total} bytes");
    let embed = app.http.get(app.url("embed.js")).send().await.unwrap();
    assert!(embed.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token_and_our_origin() {
    let app = app(1, false).await;
    let token = app.session("Acme Csrf").await;
    let body = json!({"serviceName": "railzSandbox"});
    let none = app.http.post(app.url("api/authorizations")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(none.status(), 403);
    assert_eq!(none.json::<Value>().await.unwrap()["errorCode"], "csrf");
    let csrf = app.csrf().await;
    let wrong = app
        .http
        .post(app.url("api/authorizations"))
        .header("x-csrf-token", "x".repeat(43))
        .header("cookie", &csrf.1)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let foreign = app
        .http
        .post(app.url("api/authorizations"))
        .header("x-csrf-token", &csrf.0)
        .header("cookie", &csrf.1)
        .header("origin", "http://evil.example")
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert_eq!(foreign.json::<Value>().await.unwrap()["errorCode"], "originNotAllowed");
    assert_eq!(app.sandbox.calls(railz_connect_mock::Endpoint::Authorize), 0);
    let good = app.post("api/authorizations", body, &csrf, "", Some(&token)).await;
    assert_eq!(good.status(), 200);
}

#[tokio::test]
async fn the_api_connects_a_business_end_to_end() {
    let app = app(1, false).await;
    let csrf = app.csrf().await;
    let token = app.session("Acme Api").await;
    let services: Value = app
        .http
        .get(app.url("api/widgets/demo/services?exclude=sageIntacct"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(services["services"].as_array().unwrap().len(), 1);
    assert_eq!(services["services"][0]["serviceName"], "railzSandbox");

    let (query, binding) = app.authorize(&csrf, &token, None).await;
    // Without the browser binding the callback is refused, and the state is spent.
    let stolen = app.post("api/callback", json!({"query": query}), &csrf, "", None).await;
    assert_eq!(stolen.status(), 403);
    assert_eq!(stolen.json::<Value>().await.unwrap()["errorCode"], "browserMismatch");

    let (query, binding2) = app.authorize(&csrf, &token, None).await;
    assert_ne!(binding, binding2);
    let done = app.post("api/callback", json!({"query": query}), &csrf, &binding2, None).await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["status"], "connected", "{done}");
    assert_eq!(done["businessName"], "Acme Api");
    assert!(done["landingUrl"].as_str().unwrap().contains("connectionId="));
    let id = done["connectionId"].as_str().unwrap();

    let status = app.http.get(app.url(&format!("api/connections/{id}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(status.status(), 200);
    assert_eq!(status.json::<Value>().await.unwrap()["connection"]["status"], "active");
    let other = app.session("Someone Else").await;
    let hidden = app.http.get(app.url(&format!("api/connections/{id}"))).bearer_auth(&other).send().await.unwrap();
    assert_eq!(hidden.status(), 404);
    // A replayed callback is refused.
    let replay = app.post("api/callback", json!({"query": query}), &csrf, &binding2, None).await;
    assert_eq!(replay.status(), 400);
}

#[tokio::test]
async fn refusals_come_back_as_reason_codes() {
    let app = app(1, false).await;
    let csrf = app.csrf().await;
    let token = app.session("Acme Refusals").await;
    for (use_case, code) in
        [("failed_connection", "accessDenied"), ("insufficient_permission", "insufficientPermission")]
    {
        let (query, binding) = app.authorize(&csrf, &token, Some(use_case)).await;
        let r: Value = app
            .post("api/callback?language=fr", json!({"query": query}), &csrf, &binding, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r["status"], "failed");
        assert_eq!(r["errorCode"], code);
        assert!(r["landingUrl"].as_str().unwrap().contains(&format!("reason={code}")));
        assert_eq!(r["errorMessage"], railz_connect_widget::reason_message(railz_connect_widget::Language::Fr, code));
    }
    let bad = app.post("api/authorizations", json!({"serviceName": "xero"}), &csrf, "", Some(&token)).await;
    assert_eq!(bad.status(), 403);
    assert_eq!(bad.json::<Value>().await.unwrap()["errorCode"], "serviceNotOffered");
    let forged = app.post("api/authorizations", json!({"serviceName": "railzSandbox"}), &csrf, "", Some("AAAA")).await;
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn several_companies_are_chosen_from() {
    let app = app(3, false).await;
    let csrf = app.csrf().await;
    let token = app.session("Acme Tenants").await;
    let (query, binding) = app.authorize(&csrf, &token, None).await;
    let r: Value = app.post("api/callback", json!({"query": query}), &csrf, &binding, None).await.json().await.unwrap();
    assert_eq!(r["status"], "chooseTenant");
    assert_eq!(r["tenants"].as_array().unwrap().len(), 3);
    let ticket = r["ticket"].as_str().unwrap();
    let wrong = app.post("api/tenants", json!({"ticket": ticket, "tenantId": "cmp_9"}), &csrf, "", None).await;
    assert_eq!(wrong.status(), 400);
    let r: Value = app
        .post("api/tenants", json!({"ticket": ticket, "tenantId": "cmp_2"}), &csrf, "", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "connected");
    let id = r["connectionId"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.connect.connection(&id).await.unwrap().tenant.unwrap().id.as_str(), "cmp_2");
}

#[tokio::test]
async fn a_credentials_service_connects_from_the_form() {
    let app = app(1, false).await;
    let csrf = app.csrf().await;
    let token = app.session("Acme Intacct").await;
    let u = &app.intacct_user;
    let wrong = json!({"serviceName": "sageIntacct", "inputs": {"companyId": u.company_id, "userId": u.user_id, "password": "nope"}});
    let r: Value = app.post("api/authorizations", wrong, &csrf, "", Some(&token)).await.json().await.unwrap();
    assert_eq!(r["status"], "failed");
    assert_eq!(r["errorCode"], "unauthorizedCredentials");
    let right = json!({"serviceName": "sageIntacct", "inputs": {"companyId": u.company_id, "userId": u.user_id, "password": u.password}});
    let r: Value = app.post("api/authorizations", right, &csrf, "", Some(&token)).await.json().await.unwrap();
    assert_eq!(r["status"], "connected", "{r}");
    let missing = json!({"serviceName": "sageIntacct", "inputs": {"companyId": u.company_id}});
    let r = app.post("api/authorizations", missing, &csrf, "", Some(&token)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["errorCode"], "invalidInput");
}

#[tokio::test]
async fn sessions_from_a_bare_business_name_only_when_allowed() {
    let closed = app(1, false).await;
    let csrf = closed.csrf().await;
    let r = closed.post("api/widgets/demo/sessions", json!({"businessName": "Acme"}), &csrf, "", None).await;
    assert_eq!(r.status(), 403);
    let open = app(1, true).await;
    let csrf = open.csrf().await;
    let r: Value = open
        .post("api/widgets/demo/sessions", json!({"businessName": "Acme Open"}), &csrf, "", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["businessName"], "Acme Open");
    let generated: Value =
        open.post("api/widgets/demo/sessions", json!({}), &csrf, "", None).await.json().await.unwrap();
    assert!(generated["businessName"].as_str().is_some_and(|n| !n.is_empty()));
}

#[tokio::test]
async fn csp_reports_are_recorded() {
    let app = app(1, false).await;
    let reports = app.widget.csp_reports();
    let report = json!({"csp-report": {
        "violated-directive": "img-src",
        "blocked-uri": "https://evil.example/x.png?leak=1",
        "document-uri": "http://127.0.0.1/connect/callback?code=secret-code&state=secret-state",
    }});
    let r = app
        .http
        .post(app.url("csp-report"))
        .header("content-type", "application/csp-report")
        .body(report.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    reports.wait_for(1).await;
    let kept = &reports.reports()[0]["csp-report"];
    assert_eq!(kept["violated-directive"], "img-src");
    // The callback page's address carries the code and state: reports keep no query.
    assert_eq!(kept["document-uri"], "http://127.0.0.1/connect/callback");
    assert_eq!(kept["blocked-uri"], "https://evil.example/x.png");
}
