//! Benchmarks of every catalog OAuth adapter against its emulation, each beside a floor
//! measured in the same run:
//!
//! - `adapters/<serviceName>/sdk`: one whole connection through the SDK (session,
//!   `begin_headless`, the browser step, `complete` with the code exchange, the tenant listing
//!   and/or verify calls the adapter makes, encrypted insert) against the service's loopback
//!   emulation (`railz_connect_mock::emulation`, exactly one tenant granted), with the
//!   in-memory store. The adapter is built from the built-in catalog and pointed at the
//!   emulation with a base-URL override.
//! - `adapters/<serviceName>/bare_reqwest`: the floor: the same HTTP exchanges done with bare
//!   reqwest: the authorize GET on a fresh connection (like the stand-in browser, reading the
//!   302's `Location` and its code), then, on a pooled connection, the token POST and each API
//!   call the SDK made during `complete`, each answer parsed as JSON. The exchanges are learnt
//!   from one SDK run at setup: the emulation's recordings of the authorize, token, tenant and
//!   verify requests are replayed (same method, path, query, headers and body), with the
//!   floor's own PKCE pair, code and access token in place of the SDK's.
//!
//! After the criterion group, the same pairs are measured again in alternating rounds (see
//! `paired`), whose per-round ratios do not suffer from the machine drifting between two
//! benchmarks measured a minute apart.
//!
//! Run with `cargo bench --bench adapters`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use railz_connect::crypto::{DataKey, Keyring};
use railz_connect::provider::{ClientRegistration, Inputs};
use railz_connect::providers::{AuthMode, Catalog, ServiceConfig, provider_for};
use railz_connect::secret::ClientSecret;
use railz_connect::store::MemoryStore;
use railz_connect::{Callback, Completion, Connect, ServiceName, SessionRequest, WidgetConfig, WidgetId};
use railz_connect_mock::RecordedRequest;
use railz_connect_mock::browser::Browser;
use railz_connect_mock::emulation::{EmulatedEndpoint, EmulatedTenant, Emulation, Service};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::Digest;
use tokio::runtime::Runtime;
use url::Url;

const CALLBACK: &str = "http://127.0.0.1:9/connect/callback";
/// The one tenant every emulation grants (NetSuite: the account id the business enters).
const TENANT: (&str, &str) = ("11110001", "Alpha Trading Ltd");
/// The floor's PKCE verifier (RFC 7636 appendix B); its challenge is computed per run.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn inputs(service: Service) -> Inputs {
    match service {
        Service::OracleNetsuite => Inputs::new().with_input("accountId", TENANT.0),
        Service::ZohoBooks => Inputs::new().with_input("dataCenter", "accounts.zoho.eu"),
        _ => Inputs::new(),
    }
}

/// One service under test: the SDK configured with its catalog adapter, and the exchanges the
/// floor replays.
struct Target {
    sdk: Sdk,
    floor: Floor,
}

impl Target {
    async fn new(service: Service) -> Target {
        let sdk = Sdk::new(service).await;
        // One SDK run teaches the floor which exchanges to make.
        sdk.connect(&Browser::new().unwrap()).await;
        let floor = Floor::learn(&sdk.emulation);
        Target { sdk, floor }
    }
}

/// The SDK with one catalog adapter, pointed at the service's emulation.
struct Sdk {
    emulation: Emulation,
    connect: Connect,
    widget: WidgetId,
    service: ServiceName,
    inputs: Inputs,
    callback: Url,
}

impl Sdk {
    async fn new(service: Service) -> Sdk {
        let emulation = Emulation::start(service).await.unwrap();
        emulation.set_tenants(vec![EmulatedTenant::new(TENANT.0, TENANT.1)]);
        let catalog = Catalog::builtin().unwrap();
        let name = ServiceName::new(service.name()).unwrap();
        let definition = catalog.get(&name).expect("a catalog definition");
        let client = ClientRegistration::new(emulation.client_id(), ClientSecret::new(emulation.client_secret()));
        let config = ServiceConfig::new(client).with_base_url(emulation.base_url()).with_auth_mode(AuthMode::OAuth2);
        let widget = WidgetId::new("bench").unwrap();
        let widget_config = WidgetConfig::builder(widget.clone())
            .with_redirect_uri(CALLBACK.parse().unwrap())
            .with_success_url("https://app.example/ok".parse().unwrap())
            .with_failure_url("https://app.example/fail".parse().unwrap())
            .build()
            .unwrap();
        let connect = Connect::builder()
            .with_provider(provider_for(definition, &config).unwrap())
            .with_store(Arc::new(MemoryStore::new()))
            .with_keyring(Keyring::new(1, DataKey::generate()))
            .with_widget(widget_config)
            .build()
            .unwrap();
        Sdk { emulation, connect, widget, service: name, inputs: inputs(service), callback: CALLBACK.parse().unwrap() }
    }

    /// One whole connection.
    async fn connect(&self, browser: &Browser) {
        let session = self.connect.create_session(&self.widget, SessionRequest::new()).await.unwrap();
        let start = self.connect.begin_headless(&session.token, &self.service, self.inputs.clone()).await.unwrap();
        let target = browser.authorize(&start.url, &self.callback).await.unwrap();
        let done = self.connect.complete(&Callback::from_url(&target).unwrap()).await.unwrap();
        assert!(matches!(done, Completion::Connected { .. }), "{}: {done:?}", self.service);
        black_box(done);
    }
}

/// A value of the recorded request, with what changes from run to run marked.
#[derive(Debug, Clone)]
enum Part {
    Fixed(String),
    /// The code, the PKCE verifier or challenge, or the access token, inside this text.
    Fresh {
        before: String,
        what: Fresh,
        after: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fresh {
    Code,
    Verifier,
    Challenge,
    AccessToken,
}

impl Part {
    fn new(text: &str, secrets: &[(&str, Fresh)]) -> Part {
        for (secret, what) in secrets {
            if !secret.is_empty()
                && let Some(at) = text.find(secret)
            {
                let (before, after) = (text[..at].to_owned(), text[at + secret.len()..].to_owned());
                return Part::Fresh { before, what: *what, after };
            }
        }
        Part::Fixed(text.to_owned())
    }

    fn get(&self, run: &Run<'_>) -> String {
        match self {
            Part::Fixed(text) => text.clone(),
            Part::Fresh { before, what, after } => {
                let value = match what {
                    Fresh::Code => run.code,
                    Fresh::Verifier => VERIFIER,
                    Fresh::Challenge => run.challenge,
                    Fresh::AccessToken => run.access_token,
                };
                format!("{before}{value}{after}")
            }
        }
    }
}

/// The values of one floor run.
struct Run<'a> {
    challenge: &'a str,
    code: &'a str,
    access_token: &'a str,
}

/// A recorded request, replayable.
#[derive(Debug)]
struct Replay {
    method: reqwest::Method,
    url: Url,
    query: Vec<(String, Part)>,
    headers: HeaderMap,
    fresh_headers: Vec<(HeaderName, Part)>,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Empty,
    Form(Vec<(String, Part)>),
    Json(serde_json::Value),
    Raw(Part),
}

impl Replay {
    fn new(base: &Url, request: &RecordedRequest, secrets: &[(&str, Fresh)]) -> Replay {
        let url = base.join(request.path.trim_start_matches('/')).unwrap();
        let query = request.query.iter().map(|(n, v)| (n.clone(), Part::new(v, secrets))).collect();
        let mut headers = HeaderMap::new();
        let mut fresh_headers = Vec::new();
        for (name, value) in &request.headers {
            if matches!(name.as_str(), "host" | "content-length") {
                continue;
            }
            let name = HeaderName::try_from(name.as_str()).unwrap();
            match Part::new(value, secrets) {
                Part::Fixed(value) => {
                    headers.append(name, HeaderValue::try_from(value).unwrap());
                }
                fresh => fresh_headers.push((name, fresh)),
            }
        }
        let body = if request.body.is_empty() {
            Body::Empty
        } else if !request.form.is_empty() {
            Body::Form(request.form.iter().map(|(n, v)| (n.clone(), Part::new(v, secrets))).collect())
        } else {
            let text = String::from_utf8(request.body.clone()).unwrap();
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(json) if !secrets.iter().any(|(s, _)| !s.is_empty() && text.contains(s)) => Body::Json(json),
                _ => Body::Raw(Part::new(&text, secrets)),
            }
        };
        Replay { method: request.method.parse().unwrap(), url, query, headers, fresh_headers, body }
    }

    fn url(&self, run: &Run<'_>) -> Url {
        let mut url = self.url.clone();
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &self.query {
                pairs.append_pair(name, &value.get(run));
            }
        }
        url
    }

    fn request(&self, client: &reqwest::Client, run: &Run<'_>) -> reqwest::RequestBuilder {
        let url = self.url(run);
        let mut headers = self.headers.clone();
        for (name, value) in &self.fresh_headers {
            headers.append(name.clone(), HeaderValue::try_from(value.get(run)).unwrap());
        }
        let builder = client.request(self.method.clone(), url).headers(headers);
        match &self.body {
            Body::Empty => builder,
            Body::Form(form) => {
                let form: Vec<(&str, String)> = form.iter().map(|(n, v)| (n.as_str(), v.get(run))).collect();
                builder.form(&form)
            }
            Body::Json(json) => builder.json(json),
            Body::Raw(raw) => builder.body(raw.get(run)),
        }
    }
}

/// What the floor replays: the SDK's authorize request (with the floor's challenge), its token
/// request (with the floor's code and verifier), and the API calls it made during `complete`
/// (with the floor's access token).
struct Floor {
    authorize: Replay,
    token: Replay,
    api: Vec<Replay>,
}

impl Floor {
    fn learn(emulation: &Emulation) -> Floor {
        let base = emulation.base_url();
        let authorize = emulation.requests(EmulatedEndpoint::Authorize);
        assert_eq!(authorize.len(), 1, "{:?}: one authorize request", emulation.service());
        let authorize = &authorize[0];
        let param = |r: &RecordedRequest, name: &str| {
            r.query.iter().chain(&r.form).find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        if authorize.query.iter().any(|(n, _)| n == "code_challenge") {
            assert_eq!(param(authorize, "code_challenge_method"), "S256", "the floor's challenge is S256");
        }
        let authorize = Replay::new(&base, authorize, &[(&param(authorize, "code_challenge"), Fresh::Challenge)]);
        assert!(emulation.requests(EmulatedEndpoint::Revoke).is_empty(), "no revocation while connecting");
        let token = emulation.requests(EmulatedEndpoint::Token);
        assert_eq!(token.len(), 1, "{:?}: one token request", emulation.service());
        let token = &token[0];
        let (code, verifier) = (param(token, "code"), param(token, "code_verifier"));
        assert!(!code.is_empty(), "the code in the token request");
        let token = Replay::new(&base, token, &[(&code, Fresh::Code), (&verifier, Fresh::Verifier)]);
        // The adapters list tenants first, then verify.
        let api = emulation
            .requests(EmulatedEndpoint::Tenants)
            .into_iter()
            .chain(emulation.requests(EmulatedEndpoint::Verify));
        let api = api
            .map(|r| {
                let authorization = r.header("authorization").expect("an authorized API call");
                let access_token = authorization.rsplit(' ').next().unwrap().to_owned();
                Replay::new(&base, &r, &[(&access_token, Fresh::AccessToken)])
            })
            .collect();
        Floor { authorize, token, api }
    }

    /// One connection's exchanges: the browser step with the same stand-in browser the SDK's
    /// run uses (it is the user's, not the SDK's work), the rest on a pooled connection
    /// (`client`).
    async fn run(&self, browser: &Browser, callback: &Url, client: &reqwest::Client) {
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
        let mut run = Run { challenge: &challenge, code: "", access_token: "" };
        let location = browser.authorize(&self.authorize.url(&run), callback).await.unwrap();
        let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        run.code = &code;
        let r = self.token.request(client, &run).send().await.unwrap();
        assert!(r.status().is_success());
        let token: serde_json::Value = r.json().await.unwrap();
        let access_token = token["access_token"].as_str().unwrap();
        run.access_token = access_token;
        for call in &self.api {
            let r = call.request(client, &run).send().await.unwrap();
            assert!(r.status().is_success(), "{}: {}", call.url, r.status());
            let answer: serde_json::Value = r.json().await.unwrap();
            black_box(answer);
        }
        black_box(token);
    }
}

fn adapters(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = runtime();
    let targets: Vec<Target> = Service::ALL.into_iter().map(|s| rt.block_on(Target::new(s))).collect();
    // One stand-in browser for every run, as in `flow`: `browser::authorize` would build a new
    // HTTP client (and TLS configuration) per call, which the floor does not pay.
    let browser = Browser::new().unwrap();
    let bare = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let callback: Url = CALLBACK.parse().unwrap();

    let mut group = c.benchmark_group("adapters");
    group.sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for target in &targets {
        let name = &target.sdk.service;
        group.bench_function(format!("{name}/sdk"), |b| b.to_async(&rt).iter(|| target.sdk.connect(&browser)));
        group.bench_function(format!("{name}/bare_reqwest"), |b| {
            b.to_async(&rt).iter(|| target.floor.run(&browser, &callback, &bare))
        });
    }
    group.finish();
    // Only when benchmarking (`cargo bench` passes `--bench`), not in `cargo test`'s single run.
    if std::env::args().any(|a| a == "--bench") {
        paired(&rt, &targets, &browser, &callback, &bare);
    }
    for target in targets {
        rt.block_on(target.sdk.emulation.shutdown());
    }
}

/// The ratios again, measured in alternating rounds (a batch of SDK connections, then a batch
/// of floor runs, per service) so that the machine's drift and load fall on both sides alike:
/// the median of the per-round ratios, with the quartiles.
fn paired(rt: &Runtime, targets: &[Target], browser: &Browser, callback: &Url, bare: &reqwest::Client) {
    const ROUNDS: usize = 21;
    const BATCH: u32 = 100;
    println!("\npaired ratios (sdk / bare_reqwest), median of {ROUNDS} alternating rounds of {BATCH} each:");
    for target in targets {
        let mut ratios: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let started = std::time::Instant::now();
                rt.block_on(async {
                    for _ in 0..BATCH {
                        target.sdk.connect(browser).await;
                    }
                });
                let sdk = started.elapsed();
                let started = std::time::Instant::now();
                rt.block_on(async {
                    for _ in 0..BATCH {
                        target.floor.run(browser, callback, bare).await;
                    }
                });
                sdk.as_secs_f64() / started.elapsed().as_secs_f64()
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let at = |q: usize| ratios[(ROUNDS - 1) * q / 4];
        println!("  {:<26} {:.3}  (quartiles {:.3} .. {:.3})", target.sdk.service.as_str(), at(2), at(1), at(3));
    }
}

criterion_group!(benches, adapters);
criterion_main!(benches);
