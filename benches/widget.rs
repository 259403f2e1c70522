//! Requests per second of the Connect widget's server side (`railz-connect-widget`, served by
//! its demo app with the sandbox and without the provider emulations) over real loopback HTTP,
//! each beside a floor measured in the same run:
//!
//! - `GET /connect/w/demo`: the widget page (the service list): a fresh CSP nonce and CSRF
//!   token (the request carries no cookie, like a first visit), the page rendered, the strict
//!   headers and the CSRF cookie.
//! - `POST /connect/api/authorizations` with `{"serviceName":"railzSandbox","inputs":{}}`, the
//!   CSRF cookie and `x-csrf-token` header and `Authorization: Bearer <session token>`: the
//!   start of an authorization: the CSRF check, the session opened, the SDK's `begin` (a
//!   pending record sealed into the in-memory store: each request writes one, which is the
//!   real cost), the JSON answer (`status: "redirect"`) and the browser-binding cookie.
//! - the floor of each: a bare axum handler on another loopback listener, for the same method
//!   and path, answering exactly the bytes of one real widget answer captured at setup (status,
//!   every header, body; hyper adds `date` and `content-length` on both sides). The floor's
//!   POST handler reads the request body, as the widget does. The clients send the floor the
//!   very same requests. At setup the floor's answers are checked against the captured ones.
//!
//! The load runs in-process on one tokio multi-thread runtime with 2 worker threads (servers and
//! clients alike): `CLIENTS` client tasks, each with its own keep-alive reqwest client (one
//! connection each, with its own CSRF token and session), send requests back to back, taking
//! them from a shared count of `REQUESTS` per round; rps = requests ÷ elapsed. Rounds
//! alternate widget and floor (`ROUNDS` of each, after one warm-up round of each), so the
//! machine's drift falls on both. Every answer is checked (status 200; the page lists the
//! sandbox; the authorization answers `status: "redirect"`), so errors cannot pass for speed.
//!
//! Run with `cargo bench --bench widget`. Without `--bench` (`cargo test --bench widget`) it
//! runs one round of `TEST_REQUESTS` per target and checks the answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use railz_connect::{SessionRequest, WidgetId};
use railz_connect_widget::demo::{DemoApp, DemoOptions, WIDGET_ID};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::runtime::Runtime;

/// Concurrent client tasks, each on its own keep-alive connection.
const CLIENTS: usize = 16;
/// Measured rounds per target (widget and floor alternate).
const ROUNDS: usize = 7;
/// Requests per round.
const REQUESTS: usize = 2_000;
/// Requests of the one round per target without `--bench`.
const TEST_REQUESTS: usize = 20;

const PAGE: &str = "/connect/w/demo";
const AUTHORIZATIONS: &str = "/connect/api/authorizations";
const START_BODY: &str = r#"{"serviceName":"railzSandbox","inputs":{}}"#;
/// What the page must hold: the sandbox in the service list.
const PAGE_MARK: &str = r#"data-service="railzSandbox""#;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// What is measured.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// `GET /connect/w/demo`.
    Page,
    /// `POST /connect/api/authorizations`.
    Start,
}

impl Target {
    fn path(self) -> &'static str {
        match self {
            Target::Page => PAGE,
            Target::Start => AUTHORIZATIONS,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Target::Page => "GET /connect/w/demo (the widget page)",
            Target::Start => "POST /connect/api/authorizations (start of an authorization: begin)",
        }
    }
}

/// One client task's keep-alive client and the headers of its authorization requests (its
/// own CSRF cookie and token, and its own session).
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    start_headers: HeaderMap,
}

impl Client {
    async fn new(app: &DemoApp) -> Client {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client");
        let r = http.get(format!("http://{}/connect/api/csrf", app.addr)).send().await.expect("GET /connect/api/csrf");
        assert_eq!(r.status(), StatusCode::OK, "GET /connect/api/csrf");
        let set_cookie = r.headers().get(header::SET_COOKIE).expect("the CSRF cookie").to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let answer: serde_json::Value = r.json().await.unwrap();
        let csrf = answer["csrfToken"].as_str().expect("a CSRF token").to_owned();
        let widget_id = WidgetId::new(WIDGET_ID).unwrap();
        let session = app.connect.create_session(&widget_id, SessionRequest::new()).await.expect("a session");
        let mut start_headers = HeaderMap::new();
        start_headers.insert("x-csrf-token", HeaderValue::try_from(csrf).unwrap());
        start_headers.insert(header::COOKIE, HeaderValue::try_from(cookie).unwrap());
        start_headers.insert(
            header::AUTHORIZATION,
            HeaderValue::try_from(format!("Bearer {}", session.token.secret())).unwrap(),
        );
        start_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Client { http, start_headers }
    }

    fn request(&self, target: Target, base: &Url) -> reqwest::RequestBuilder {
        let url = base.join(target.path()).unwrap();
        match target {
            Target::Page => self.http.get(url),
            Target::Start => self.http.post(url).headers(self.start_headers.clone()).body(START_BODY),
        }
    }

    /// One request, its answer checked.
    async fn send(&self, target: Target, base: &Url) {
        let r = self.request(target, base).send().await.unwrap_or_else(|e| panic!("{base} {target:?}: {e}"));
        assert_eq!(r.status(), StatusCode::OK, "{base} {target:?}");
        match target {
            Target::Page => {
                let page = r.text().await.unwrap();
                assert!(page.contains(PAGE_MARK), "{base} {target:?}: not the service list");
            }
            Target::Start => {
                let answer: serde_json::Value = r.json().await.unwrap();
                assert_eq!(answer["status"], "redirect", "{base} {target:?}: {answer}");
            }
        }
    }

    /// One answer as it arrived.
    async fn capture(&self, target: Target, base: &Url) -> Captured {
        let r = self.request(target, base).send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        let body = r.bytes().await.unwrap();
        Captured { status, headers, body }
    }
}

/// A recorded answer, which the floor answers every request with.
#[derive(Debug, Clone, PartialEq)]
struct Captured {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Captured {
    /// Without the headers hyper writes itself (`date`, `content-length`).
    fn for_floor(&self) -> Captured {
        let mut headers = self.headers.clone();
        headers.remove(header::DATE);
        headers.remove(header::CONTENT_LENGTH);
        Captured { status: self.status, headers, body: self.body.clone() }
    }

    fn answer(&self) -> Response {
        (self.status, self.headers.clone(), self.body.clone()).into_response()
    }
}

/// The bare handlers: the captured answers for the same method and path.
fn floor_router(page: Captured, start: Captured) -> axum::Router {
    let (page, start) = (Arc::new(page.for_floor()), Arc::new(start.for_floor()));
    axum::Router::new().route(PAGE, get(move || async move { page.answer() })).route(
        AUTHORIZATIONS,
        post(move |body: Bytes| async move {
            drop(body);
            start.answer()
        }),
    )
}

/// The demo app, the floor server and the clients.
struct Setup {
    app: DemoApp,
    widget: Url,
    floor: Url,
    floor_server: tokio::task::JoinHandle<()>,
    clients: Vec<Client>,
    page: Captured,
    start: Captured,
}

impl Setup {
    async fn new() -> Setup {
        let mut options = DemoOptions::default();
        options.emulations = false;
        let app = DemoApp::start("127.0.0.1:0".parse().unwrap(), options).await.expect("the demo app");
        let widget: Url = format!("http://{}/", app.addr).parse().unwrap();
        let mut clients = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            clients.push(Client::new(&app).await);
        }

        // One real answer of each, checked, for the floor to answer with.
        let page = clients[0].capture(Target::Page, &widget).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(std::str::from_utf8(&page.body).unwrap().contains(PAGE_MARK), "the page lists the sandbox");
        let start = clients[0].capture(Target::Start, &widget).await;
        assert_eq!(start.status, StatusCode::OK);
        let answer: serde_json::Value = serde_json::from_slice(&start.body).unwrap();
        assert_eq!(answer["status"], "redirect", "{answer}");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let floor: Url = format!("http://{}/", listener.local_addr().unwrap()).parse().unwrap();
        let router = floor_router(page.clone(), start.clone());
        let floor_server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

        // The floor answers the same bytes: status, headers (but the date) and body.
        for (target, captured) in [(Target::Page, &page), (Target::Start, &start)] {
            let mut expected = captured.clone();
            let mut got = clients[0].capture(target, &floor).await;
            expected.headers.remove(header::DATE);
            got.headers.remove(header::DATE);
            assert_eq!(got, expected, "{target:?}: the floor answers what the widget answered");
        }
        Setup { app, widget, floor, floor_server, clients, page, start }
    }

    /// One round: `requests` requests to `base`, from every client at once; the requests per
    /// second.
    async fn round(&self, target: Target, base: &Url, requests: usize) -> f64 {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = self
            .clients
            .iter()
            .map(|client| {
                let (client, base, next) = (client.clone(), base.clone(), Arc::clone(&next));
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < requests {
                        client.send(target, &base).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a client task");
        }
        requests as f64 / started.elapsed().as_secs_f64()
    }

    async fn shutdown(self) {
        self.floor_server.abort();
        self.app.shutdown().await;
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

/// The alternating rounds of one target, printed as a table.
fn measure(rt: &Runtime, setup: &Setup, target: Target) {
    let captured = match target {
        Target::Page => &setup.page,
        Target::Start => &setup.start,
    };
    // Warm-up: connections open, allocators and caches settled.
    rt.block_on(setup.round(target, &setup.widget, REQUESTS / 4));
    rt.block_on(setup.round(target, &setup.floor, REQUESTS / 4));
    let (mut widget, mut floor) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    println!("\n{}", target.title());
    println!(
        "  answer: {} body bytes, {} headers; {CLIENTS} clients, {REQUESTS} requests per round",
        captured.body.len(),
        captured.headers.len()
    );
    println!("  {:>6}  {:>11}  {:>11}  {:>7}  {:>10}", "round", "widget rps", "floor rps", "cost ×", "% of floor");
    for i in 1..=ROUNDS {
        let w = rt.block_on(setup.round(target, &setup.widget, REQUESTS));
        let f = rt.block_on(setup.round(target, &setup.floor, REQUESTS));
        println!("  {i:>6}  {w:>11.0}  {f:>11.0}  {:>7.2}  {:>9.1}%", f / w, 100.0 * w / f);
        widget.push(w);
        floor.push(f);
    }
    let (w, f) = (median(&widget), median(&floor));
    println!("  {:>6}  {w:>11.0}  {f:>11.0}  {:>7.2}  {:>9.1}%", "median", f / w, 100.0 * w / f);
}

fn main() {
    // reqwest is built without a default TLS provider (plain http here, but the client needs one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = runtime();
    let setup = rt.block_on(Setup::new());
    // Only when benchmarking (`cargo bench` passes `--bench`), not in `cargo test`'s run.
    if std::env::args().any(|a| a == "--bench") {
        println!(
            "widget vs floor, requests per second over loopback HTTP: 2 worker threads, {CLIENTS} client tasks, \
             {ROUNDS} alternating rounds of {REQUESTS} requests per target; cost × = floor rps ÷ widget rps"
        );
        measure(&rt, &setup, Target::Page);
        measure(&rt, &setup, Target::Start);
    } else {
        for target in [Target::Page, Target::Start] {
            for base in [&setup.widget, &setup.floor] {
                let rps = rt.block_on(setup.round(target, base, TEST_REQUESTS));
                println!("{target:?} {base}: {TEST_REQUESTS} requests checked ({rps:.0} rps)");
            }
        }
    }
    rt.block_on(setup.shutdown());
}
