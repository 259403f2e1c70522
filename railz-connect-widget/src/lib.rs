//! The Connect widget: what a business sees inside the app when it connects its accounting
//! software, as an [`axum::Router`] the app nests under a path of its choice.
//!
//! ```no_run
//! # async fn app(connect: railz_connect_core::Connect) -> Result<(), Box<dyn std::error::Error>> {
//! use railz_connect_widget::{ConnectWidget, Origin, WidgetOptions};
//!
//! let widget = ConnectWidget::new(connect)
//!     .with_widget("my-widget".parse()?, WidgetOptions::new().with_allowed_origin(Origin::parse("https://app.example")?));
//! let app = axum::Router::new().nest("/connect", widget.router());
//! # let _ = app; Ok(()) }
//! ```
//!
//! The widget's `redirect_uri` ([`railz_connect_core::WidgetConfig`]) must be the router's
//! `/callback` route (`https://app.example/connect/callback` above).
//!
//! # What the router serves
//! | route | what |
//! |---|---|
//! | `GET /embed.js` | the embed script: `new RailzConnect().mount({...})`, `open({...})`, `unmount()` |
//! | `GET /w/{widgetId}` | the widget page (service picker, inputs, tenant choice, outcome) |
//! | `GET /callback` | the OAuth redirect URI: hands the provider's answer back to the widget page |
//! | `GET /assets/widget.js`, `/assets/widget.css` | the page's one script and one style sheet |
//! | `POST /csp-report` | Content-Security-Policy violation reports ([`CspReports`]) |
//! | `/api/...` | the JSON API ([`api`] module docs), which the widget page itself uses |
//!
//! No Node build step: the HTML is rendered by the server, the script and style sheet are
//! plain files compiled into the crate. Every page carries a strict Content-Security-Policy
//! (no inline script; the theme's one `<style>` carries a nonce; nothing third-party),
//! `frame-ancestors` limited to the widget's allowed origins, `Referrer-Policy: no-referrer`
//! and `Cache-Control: no-store`. Every state-changing request needs the CSRF token of the
//! page the router served (cookie + header, plus an `Origin` check).
//!
//! # Where options come from
//! Configuration ([`WidgetOptions`], server side) sets who may embed the widget, the theme,
//! the texts, the close page and whether a page may open a session from a bare
//! `businessName`. Mount options (from the embedding page) may change the look (theme,
//! texts, language) and narrow the services (`services.exclude`, `countryCodes`); they
//! cannot widen anything: not the services, not the origins, not the landing pages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use railz_connect_core::{Connect, WidgetId};
use url::Url;

pub mod api;
mod assets;
#[cfg(feature = "demo")]
pub mod demo;
mod i18n;
mod page;
mod security;
mod theme;

pub use i18n::{Content, Language, reason_message};
pub use security::{InvalidOrigin, Origin};
pub use theme::{Color, InvalidTheme, Theme};

/// The server-side options of one widget (the core's [`railz_connect_core::WidgetConfig`]
/// holds its URLs and services).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WidgetOptions {
    /// The origins that may frame the widget (`frame-ancestors`), open it as a popup, and
    /// receive its messages. Empty: the widget works only as a page of its own.
    pub allowed_origins: Vec<Origin>,
    /// The look.
    pub theme: Theme,
    /// Text overrides.
    pub content: Content,
    /// The language when the page names none (else the browser's `Accept-Language`).
    pub language: Option<Language>,
    /// Whether the page may open a session from a bare `businessName` (or none: one is
    /// generated). Off by default: then the app opens the session server side
    /// ([`Connect::create_session`]) and hands its token to the page, so nobody can connect
    /// accounts to a business they merely name.
    pub public_sessions: bool,
    /// Where the Close button of a widget shown as its own page leads (else the failure
    /// landing page).
    pub close_url: Option<Url>,
    /// How long the widget waits for the user before it gives up (`sessionTimeout`); the
    /// page may ask for less, never more.
    pub session_timeout: Duration,
}

impl Default for WidgetOptions {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            theme: Theme::default(),
            content: Content::default(),
            language: None,
            public_sessions: false,
            close_url: None,
            session_timeout: Self::DEFAULT_SESSION_TIMEOUT,
        }
    }
}

impl WidgetOptions {
    /// Ten minutes: enough to sign in at a provider.
    pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(600);

    /// No embedding origin, the default look and texts, sessions from the app only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows an origin to embed the widget and receive its messages.
    #[must_use]
    pub fn with_allowed_origin(mut self, origin: Origin) -> Self {
        if !self.allowed_origins.contains(&origin) {
            self.allowed_origins.push(origin);
        }
        self
    }

    /// Sets the look.
    #[must_use]
    pub fn with_theme(mut self, theme: Theme) -> Self {
        self.theme = theme;
        self
    }

    /// Sets text overrides.
    #[must_use]
    pub fn with_content(mut self, content: Content) -> Self {
        self.content = content;
        self
    }

    /// Sets the default language.
    #[must_use]
    pub fn with_language(mut self, language: Language) -> Self {
        self.language = Some(language);
        self
    }

    /// Lets a page open a session from a bare `businessName` (see
    /// [`WidgetOptions::public_sessions`]).
    #[must_use]
    pub fn with_public_sessions(mut self, allowed: bool) -> Self {
        self.public_sessions = allowed;
        self
    }

    /// Where the Close button of a widget shown as its own page leads.
    #[must_use]
    pub fn with_close_url(mut self, url: Url) -> Self {
        self.close_url = Some(url);
        self
    }

    /// How long the widget waits for the user.
    #[must_use]
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }
}

/// The Content-Security-Policy violation reports browsers sent to the router (the last
/// [`CspReports::KEPT`]), each logged at `warn`. A page that works as designed produces none.
#[derive(Debug, Clone, Default)]
pub struct CspReports {
    inner: Arc<ReportsInner>,
}

#[derive(Debug, Default)]
struct ReportsInner {
    reports: Mutex<(u64, Vec<serde_json::Value>)>,
    arrived: tokio::sync::Notify,
}

impl CspReports {
    /// How many reports are kept.
    pub const KEPT: usize = 100;

    pub(crate) fn record(&self, report: serde_json::Value) {
        {
            let mut guard = self.inner.reports.lock().unwrap_or_else(PoisonError::into_inner);
            guard.0 += 1;
            if guard.1.len() < Self::KEPT {
                guard.1.push(report);
            }
        }
        self.inner.arrived.notify_waiters();
    }

    /// How many reports arrived.
    pub fn count(&self) -> u64 {
        self.inner.reports.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// The reports kept (the JSON body each browser sent).
    pub fn reports(&self) -> Vec<serde_json::Value> {
        self.inner.reports.lock().unwrap_or_else(PoisonError::into_inner).1.clone()
    }

    /// Waits until at least `n` reports have arrived.
    pub async fn wait_for(&self, n: u64) {
        loop {
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.count() >= n {
                return;
            }
            arrived.await;
        }
    }
}

/// The widget router's state: the SDK, each widget's options, the CSP reports.
#[derive(Debug, Clone)]
pub struct ConnectWidget {
    pub(crate) connect: Connect,
    pub(crate) options: Arc<HashMap<WidgetId, WidgetOptions>>,
    pub(crate) defaults: Arc<WidgetOptions>,
    pub(crate) reports: CspReports,
}

impl ConnectWidget {
    /// The widget of a [`Connect`]: every widget it is configured with is served, with
    /// [`WidgetOptions::default`] unless given others ([`ConnectWidget::with_widget`]).
    pub fn new(connect: Connect) -> Self {
        Self {
            connect,
            options: Arc::new(HashMap::new()),
            defaults: Arc::new(WidgetOptions::default()),
            reports: CspReports::default(),
        }
    }

    /// Sets one widget's options.
    #[must_use]
    pub fn with_widget(mut self, widget_id: WidgetId, options: WidgetOptions) -> Self {
        Arc::make_mut(&mut self.options).insert(widget_id, options);
        self
    }

    /// The SDK behind the widget.
    pub fn connect(&self) -> &Connect {
        &self.connect
    }

    /// The CSP reports browsers sent.
    pub fn csp_reports(&self) -> CspReports {
        self.reports.clone()
    }

    pub(crate) fn options(&self, widget_id: &WidgetId) -> &WidgetOptions {
        self.options.get(widget_id).unwrap_or(&self.defaults)
    }

    /// The router, to nest under a path of the app's choice (`/connect`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/embed.js", get(assets::embed_js))
            .route("/assets/widget.js", get(assets::widget_js))
            .route("/assets/widget.css", get(assets::widget_css))
            .route("/w/{widget_id}", get(page::widget_page))
            .route("/callback", get(page::callback_page))
            .route("/csp-report", post(api::csp_report))
            .nest("/api", api::routes())
            .fallback(api::not_found)
            .layer(axum::middleware::map_response(assets::with_common_headers))
            .with_state(self.clone())
    }
}
