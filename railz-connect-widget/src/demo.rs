//! A tiny demo app that embeds the widget, against the sandbox and every provider emulation
//! (feature `demo`): what `cargo run --example widget` serves, and what the browser tests
//! drive.
//!
//! The app's page (`/`) loads the embed script and mounts the widget with a session its own
//! backend opened (`POST /session`); `/page` shows the widget as a page of its own;
//! `/connected` and `/connect-failed` are its landing pages. Every callback the embed script
//! makes is appended to `window.railzEvents` and shown on the page.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use railz_connect_core::crypto::{DataKey, Keyring};
use railz_connect_core::provider::ClientRegistration;
use railz_connect_core::secret::ClientSecret;
use railz_connect_core::store::MemoryStore;
use railz_connect_core::{BusinessName, Connect, ServiceName, SessionRequest, WidgetConfig, WidgetId};
use railz_connect_mock::emulation::{EmulatedTenant, Emulation, Service};
use railz_connect_mock::intacct::{IntacctGateway, IntacctUser};
use railz_connect_mock::{Company, MockServer};
use railz_connect_providers::{ProvidersConfig, ServiceConfig, registry};
use serde::Deserialize;
use tokio::net::TcpListener;
use url::Url;

use crate::{ConnectWidget, Origin, WidgetOptions};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The demo's widget id.
pub const WIDGET_ID: &str = "demo";

/// How the demo is set up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DemoOptions {
    /// The sandbox's companies (several: the tenant picker shows).
    pub sandbox_companies: Vec<Company>,
    /// Whether to start every provider emulation (else the sandbox and Sage Intacct only).
    pub emulations: bool,
    /// Extra origins allowed to embed the widget (the app's own always is).
    pub extra_origins: Vec<Origin>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { sandbox_companies: vec![Company::sandbox_default()], emulations: true, extra_origins: Vec::new() }
    }
}

/// The running demo: its address, its SDK, and the servers behind it.
#[derive(Debug)]
pub struct DemoApp {
    /// The app's address.
    pub addr: SocketAddr,
    /// The SDK the widget runs on.
    pub connect: Connect,
    /// The widget (its CSP reports).
    pub widget: ConnectWidget,
    /// The sandbox.
    pub sandbox: MockServer,
    /// Sage Intacct's gateway, and the user a business enters.
    pub intacct: (IntacctGateway, IntacctUser),
    /// The provider emulations.
    pub emulations: Vec<Emulation>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct AppState {
    connect: Connect,
    widget_id: WidgetId,
    intacct: IntacctUser,
}

impl DemoApp {
    /// Starts the sandbox, the emulations and the app on `addr` (`127.0.0.1:0` for any port).
    pub async fn start(addr: SocketAddr, options: DemoOptions) -> Result<Self, AnyError> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app_url: Url = format!("http://{addr}/").parse()?;
        let sandbox = MockServer::builder().with_companies(options.sandbox_companies.clone()).start().await?;
        let gateway = IntacctGateway::start().await?;
        let user = gateway.user();

        let registration = |id: &str, secret: &str| ClientRegistration::new(id, ClientSecret::new(secret));
        let mut providers = ProvidersConfig::new()
            .with_service(
                ServiceName::new("railzSandbox")?,
                ServiceConfig::new(registration(sandbox.client_id(), sandbox.client_secret()))
                    .with_base_url(sandbox.base_url()),
            )
            .with_service(
                ServiceName::new("sageIntacct")?,
                ServiceConfig::new(registration(gateway.sender_id(), gateway.sender_password()))
                    .with_base_url(gateway.base_url()),
            );
        let mut emulations = Vec::new();
        if options.emulations {
            for service in Service::ALL {
                let emulation = Emulation::start(service).await?;
                if service == Service::Xero {
                    emulation.set_tenants(vec![
                        EmulatedTenant::new("11110001", "Northwind Traders"),
                        EmulatedTenant::new("22220002", "Contoso Ltd"),
                    ]);
                }
                providers = providers.with_service(
                    ServiceName::new(service.name())?,
                    ServiceConfig::new(registration(emulation.client_id(), emulation.client_secret()))
                        .with_base_url(emulation.base_url()),
                );
                emulations.push(emulation);
            }
        }

        let widget_id = WidgetId::new(WIDGET_ID)?;
        let config = WidgetConfig::builder(widget_id.clone())
            .with_redirect_uri(app_url.join("connect/callback")?)
            .with_success_url(app_url.join("connected")?)
            .with_failure_url(app_url.join("connect-failed")?)
            .build()?;
        let connect = Connect::builder()
            .with_registry(registry(&providers)?)
            .with_store(Arc::new(MemoryStore::new()))
            .with_keyring(Keyring::new(1, DataKey::generate()))
            .with_widget(config)
            .build()?;
        let mut widget_options = WidgetOptions::new().with_allowed_origin(Origin::parse(&format!("http://{addr}"))?);
        for origin in options.extra_origins {
            widget_options = widget_options.with_allowed_origin(origin);
        }
        let widget = ConnectWidget::new(connect.clone()).with_widget(widget_id.clone(), widget_options);
        let state = AppState { connect: connect.clone(), widget_id, intacct: user.clone() };
        let router = Router::new()
            .route("/", get(home))
            .route("/app.js", get(app_js))
            .route("/session", post(session))
            .route("/page", get(page))
            .route("/connected", get(landing))
            .route("/connect-failed", get(landing))
            .with_state(state)
            .nest("/connect", widget.router());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the demo app stopped");
            }
        });
        tracing::info!(%addr, "demo app listening");
        Ok(Self { addr, connect, widget, sandbox, intacct: (gateway, user), emulations, server })
    }

    /// The app's home page.
    pub fn url(&self) -> Url {
        format!("http://{}/", self.addr).parse().expect("an address is a URL")
    }

    /// Stops the app and every server behind it.
    pub async fn shutdown(self) {
        self.server.abort();
        self.sandbox.shutdown().await;
        self.intacct.0.shutdown().await;
        for e in self.emulations {
            e.shutdown().await;
        }
    }
}

const APP_JS: &str = r#"// The app's own script: its backend opens the session, the embed script does the rest.
window.railzEvents = [];
// Every message this page receives is counted: the embed script acts only on its widget's.
window.railzMessagesSeen = 0;
window.addEventListener("message", function () { window.railzMessagesSeen++; });
function record(type, payload) {
  window.railzEvents.push({ type: type, payload: payload || {} });
  document.getElementById("events").textContent += type + " " + JSON.stringify(payload || {}) + "\n";
}
function options(token, extra) {
  var params = new URLSearchParams(location.search);
  var o = {
    parentElement: "railz-connect", widgetId: "demo", token: token,
    language: params.get("language") || undefined,
    countryCodes: params.get("countryCodes") ? params.get("countryCodes").split(",") : undefined,
    services: params.get("exclude") ? { exclude: params.get("exclude").split(",") } : undefined,
    onSuccess: function (p) { record("success", p); },
    onError: function (p) { record("error", p); },
    onExit: function () { record("exit"); },
    onLoad: function () { record("load"); }
  };
  return Object.assign(o, extra || {});
}
function session() {
  var name = document.getElementById("business").value;
  return fetch("/session", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ businessName: name || null }) }).then(function (r) { return r.json(); });
}
var widget = new RailzConnect();
document.getElementById("mount").addEventListener("click", function () {
  session().then(function (s) { record("session", { businessName: s.businessName }); widget.mount(options(s.token)); });
});
document.getElementById("open").addEventListener("click", function () {
  // The popup opens now, in the click; its session follows through the fragment.
  session().then(function (s) { record("session", { businessName: s.businessName }); widget.open(options(s.token)); });
});
if (new URLSearchParams(location.search).get("autoload") === "1") document.getElementById("mount").click();
"#;

#[derive(Template)]
#[template(path = "demo_home.html")]
struct HomePage<'a> {
    company: &'a str,
    user: &'a str,
    password: &'a str,
}

async fn home(State(state): State<AppState>) -> Response {
    let u = &state.intacct;
    let html =
        HomePage { company: &u.company_id, user: &u.user_id, password: &u.password }.render().unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-src 'self'; object-src 'none'"),
        ],
        html,
    )
        .into_response()
}

async fn app_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    business_name: Option<String>,
}

/// The app's backend: opens a widget session (a real app checks its own user first).
async fn session(State(state): State<AppState>, body: Option<axum::Json<SessionBody>>) -> Response {
    let mut request = SessionRequest::new();
    if let Some(name) = body.and_then(|b| b.0.business_name).filter(|n| !n.trim().is_empty()) {
        match BusinessName::new(name) {
            Ok(name) => request = request.with_business_name(name),
            Err(e) => return (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    }
    match state.connect.create_session(&state.widget_id, request).await {
        Ok(s) => {
            axum::Json(serde_json::json!({"token": s.token.secret(), "businessName": s.business_name})).into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// The widget as a page of its own: the session goes in the fragment.
async fn page(State(state): State<AppState>) -> Response {
    match state.connect.create_session(&state.widget_id, SessionRequest::new()).await {
        Ok(s) => Redirect::to(&format!("/connect/w/{}#session={}", state.widget_id, s.token.secret())).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Template)]
#[template(
    source = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo app</title></head><body><main><h1>Demo app</h1><p id=\"landing\">{{ text }}</p><p><a href=\"/\">Home</a></p></main></body></html>",
    ext = "html"
)]
struct LandingPage {
    text: String,
}

#[derive(Debug, Deserialize)]
struct LandingQuery {
    #[serde(rename = "connectionId")]
    connection_id: Option<String>,
    reason: Option<String>,
}

async fn landing(Query(q): Query<LandingQuery>) -> Response {
    let text = match (q.connection_id, q.reason) {
        (Some(id), _) => format!("Connected: connection {id}."),
        (None, Some(reason)) => format!("Not connected: {reason}."),
        _ => "Back in the app.".to_owned(),
    };
    let html = LandingPage { text }.render().unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::REFERRER_POLICY, "no-referrer")], html)
        .into_response()
}
