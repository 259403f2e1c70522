//! The adapter conformance kit: plain `pub async fn` checks that every catalog adapter runs
//! against an emulation of its provider over real HTTP, like the storage kit
//! ([`railz_connect_core::store::conformance`]). Enabled by the `conformance` feature.
//!
//! The kit drives the SDK's whole flow ([`Connect`] over a [`MemoryStore`] and a
//! [`ManualClock`]) with the adapter built from the service's catalog definition, pointed at
//! the emulation with a base-URL override, and asserts what the provider expects on the wire
//! (the authorization URL, the token request's headers and form body) and what the app sees
//! (tenants, refresh, errors and their reason codes). A check panics with a message naming the
//! service and what differed.
//!
//! The emulation is reached through the [`Emulator`] trait, so the kit does not depend on any
//! particular emulation crate: `railz-connect-mock`'s emulations implement it in a few lines
//! (see this crate's `tests/adapters.rs`). Adding a provider = a catalog file + (maybe) hooks +
//! its emulation + one line running [`run_all`] (or [`run_credentials`]).

mod checks;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use railz_connect_core::crypto::{DataKey, Keyring};
use railz_connect_core::http::HttpClient;
use railz_connect_core::provider::{ClientRegistration, Inputs};
use railz_connect_core::store::MemoryStore;
use railz_connect_core::time::OffsetDateTime;
use railz_connect_core::{
    Callback, Completion, Connect, ManualClock, ServiceName, SessionRequest, WidgetConfig, WidgetId, WidgetSession,
};
use url::Url;

pub use checks::*;

use crate::{ServiceConfig, ServiceDefinition};

/// An endpoint of an emulated provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KitEndpoint {
    /// The authorization endpoint.
    Authorize,
    /// The token endpoint (or, for credential services, the session/verify call that checks
    /// the credentials).
    Token,
    /// The revocation endpoint.
    Revoke,
    /// The tenant listing.
    Tenants,
    /// The verify call.
    Verify,
}

/// A failure the emulation answers the next call of an endpoint with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KitFault {
    /// `400 {"error":"invalid_grant"}`.
    InvalidGrant,
    /// `429` with `Retry-After: N`.
    TooManyRequests {
        /// Seconds.
        retry_after_secs: u64,
    },
    /// This status with a generic error body.
    Status(u16),
}

/// A request as the emulation received it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KitRequest {
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The decoded query parameters.
    pub query: Vec<(String, String)>,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl KitRequest {
    /// A request.
    pub fn new(
        method: String,
        path: String,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self { method, path, query, headers, body }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A form-body parameter.
    pub fn form(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(&self.body).find(|(n, _)| n == name).map(|(_, v)| v.into_owned())
    }

    /// A query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// An emulation of one provider, as the kit drives it.
#[async_trait]
pub trait Emulator: Send + Sync {
    /// The service it emulates.
    fn service(&self) -> ServiceName;
    /// Its base URL: every endpoint of the service is moved onto it.
    fn base_url(&self) -> Url;
    /// The app's client registration there.
    fn client(&self) -> Option<ClientRegistration>;
    /// What the emulation's clock reads now (the kit's clock starts there).
    fn now(&self) -> OffsetDateTime;
    /// Moves the emulation's clock.
    fn advance(&self, by: Duration);
    /// The tenants the next authorizations grant, as `(id, name)`.
    fn set_tenants(&self, tenants: &[(&str, &str)]);
    /// Whether the user who authorizes next has the administrator or owner role.
    fn set_admin(&self, admin: bool);
    /// The user refuses the next authorization.
    fn deny_next(&self);
    /// The next call of an endpoint fails this way.
    fn fail_next(&self, endpoint: KitEndpoint, fault: KitFault);
    /// The requests an endpoint received.
    fn requests(&self, endpoint: KitEndpoint) -> Vec<KitRequest>;
    /// The inputs a business enters: pre-authorization inputs (NetSuite's account id, Zoho's
    /// data centre), or for a credential service, credentials the emulation accepts.
    fn inputs(&self) -> Inputs;
    /// For a credential service: credentials the emulation refuses.
    fn wrong_inputs(&self) -> Inputs {
        Inputs::new()
    }
    /// Plays the user's browser: opens the authorization URL, follows the provider's redirects
    /// and answers the callback URL.
    async fn authorize(&self, url: &Url, redirect_uri: &Url) -> Result<Url, String>;
}

/// The redirect URI the kit's app registers.
pub const CALLBACK: &str = "http://127.0.0.1:9/connect/callback";

/// One adapter under test: the SDK configured with it, against the emulation.
pub struct Kit<'e, E: Emulator> {
    /// The emulation.
    pub emulator: &'e E,
    /// The definition under test.
    pub definition: ServiceDefinition,
    /// The SDK.
    pub connect: Connect,
    /// The SDK's clock (kept in step with the emulation's by [`Kit::advance`]).
    pub clock: Arc<ManualClock>,
    widget: WidgetId,
}

impl<E: Emulator> std::fmt::Debug for Kit<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kit").field("service", self.definition.service_name()).finish_non_exhaustive()
    }
}

impl<'e, E: Emulator> Kit<'e, E> {
    /// The SDK with `definition`'s adapter, configured (`config`: its client registration and
    /// auth mode; the base URL is set to the emulation's) against the emulation.
    pub fn new(emulator: &'e E, definition: &ServiceDefinition, config: ServiceConfig) -> Self {
        let clock = Arc::new(ManualClock::new(emulator.now()));
        let config = config.with_base_url(emulator.base_url());
        let provider = crate::provider_for(definition, &config).expect("the adapter is built");
        let http = HttpClient::new().expect("an HTTP client").with_clock(Arc::clone(&clock) as _);
        let widget = WidgetId::new("conformance").expect("a widget id");
        let config = WidgetConfig::builder(widget.clone())
            .with_redirect_uri(Url::parse(CALLBACK).expect("a URL"))
            .with_success_url(Url::parse("https://app.example/connected").expect("a URL"))
            .with_failure_url(Url::parse("https://app.example/failed").expect("a URL"))
            .build()
            .expect("a widget");
        let connect = Connect::builder()
            .with_provider(provider)
            .with_store(Arc::new(MemoryStore::new()))
            .with_keyring(Keyring::new(1, DataKey::generate()))
            .with_widget(config)
            .with_http_client(http)
            .with_clock(Arc::clone(&clock) as _)
            .build()
            .expect("the SDK is built");
        Self { emulator, definition: definition.clone(), connect, clock, widget }
    }

    /// The service under test.
    pub fn service(&self) -> &ServiceName {
        self.definition.service_name()
    }

    /// Whether the adapter declares a verify call.
    pub fn verifies(&self) -> bool {
        self.connect.registry().get(self.service()).is_some_and(|p| p.metadata().capabilities.verify)
    }

    /// Moves both clocks.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.emulator.advance(by);
    }

    /// A new widget session.
    pub async fn session(&self) -> WidgetSession {
        self.connect.create_session(&self.widget, SessionRequest::new()).await.expect("a session")
    }

    /// Begins an authorization, plays the browser and completes it.
    pub async fn authorize(&self) -> (Url, Url, Completion) {
        let session = self.session().await;
        let start = self
            .connect
            .begin_headless(&session.token, self.service(), self.emulator.inputs())
            .await
            .unwrap_or_else(|e| panic!("{}: begin: {e}", self.service()));
        let redirect = Url::parse(CALLBACK).expect("a URL");
        let callback = self
            .emulator
            .authorize(&start.url, &redirect)
            .await
            .unwrap_or_else(|e| panic!("{}: the emulation refused the authorization request: {e}", self.service()));
        let completion = self
            .connect
            .complete(&Callback::from_url(&callback).expect("a callback"))
            .await
            .unwrap_or_else(|e| panic!("{}: complete: {e}", self.service()));
        (start.url, callback, completion)
    }

    /// Connects with credential inputs.
    pub async fn connect_with(&self, inputs: Inputs) -> Completion {
        let session = self.session().await;
        self.connect
            .connect_with_inputs(&session.token, self.service(), inputs)
            .await
            .unwrap_or_else(|e| panic!("{}: connect_with_inputs: {e}", self.service()))
    }
}
