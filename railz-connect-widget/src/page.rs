//! The two HTML pages: the widget (`/w/{widgetId}`) and the callback (`/callback`).

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use railz_connect_core::provider::AuthKind;
use railz_connect_core::{ServiceSummary, WidgetId};
use serde::Deserialize;

use crate::i18n::{Content, Language, reason_keys, reason_message};
use crate::security::{Origin, PagePolicy, csrf_token, random_token};
use crate::{ConnectWidget, Theme, WidgetOptions};

/// The mount options a page may carry in its query (all optional; the embed script writes
/// them from `mount(options)`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MountParams {
    language: Option<String>,
    /// The embedding page's origin (checked against the allowed origins).
    origin: Option<String>,
    /// `frame` (mounted), `popup` (opened) or `page` (the widget is the page).
    display: Option<String>,
    /// Services to leave out, comma-separated.
    exclude: Option<String>,
    /// Countries to show services of, comma-separated.
    country_codes: Option<String>,
    logo: Option<String>,
    font_family: Option<String>,
    primary: Option<String>,
    secondary: Option<String>,
    /// Railz-style `content` JSON.
    content: Option<String>,
    business_name: Option<String>,
    redirect_url: Option<String>,
    session_timeout: Option<u64>,
}

impl MountParams {
    /// The most a `content` parameter may hold.
    const MAX_CONTENT: usize = 8 * 1024;

    pub(crate) fn list(value: Option<&str>) -> Vec<String> {
        value
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(64)
            .map(str::to_owned)
            .collect()
    }
}

/// The services a page shows: the widget's, less `exclude`, in `countries` when given.
pub(crate) fn filter_services(
    all: Vec<ServiceSummary>,
    exclude: &[String],
    countries: &[String],
) -> Vec<ServiceSummary> {
    all.into_iter()
        .filter(|s| !exclude.iter().any(|e| e == s.service_name.as_str()))
        .filter(|s| s.offered_in(countries))
        .collect()
}

struct ServiceView {
    name: String,
    display: String,
    initials: String,
    sandbox: bool,
    countries: String,
    auth: &'static str,
    has_inputs: bool,
    inputs: Vec<InputView>,
}

struct InputView {
    name: String,
    label: String,
    required: bool,
    secret: bool,
    choices: Option<Vec<String>>,
}

/// Up to two capitals of the display name (`QuickBooks` → `QB`), else its first letter.
fn initials(display: &str) -> String {
    let caps: String = display.chars().filter(|c| c.is_uppercase()).take(2).collect();
    if caps.is_empty() { display.chars().take(1).flat_map(char::to_uppercase).collect() } else { caps }
}

impl ServiceView {
    fn of(s: &ServiceSummary) -> Self {
        Self {
            name: s.service_name.to_string(),
            display: s.display_name.clone(),
            initials: initials(&s.display_name),
            sandbox: s.sandbox,
            countries: s.countries.join(" "),
            auth: match s.auth_kind {
                AuthKind::Credentials => "credentials",
                _ => "redirect",
            },
            has_inputs: !s.inputs.is_empty(),
            inputs: s
                .inputs
                .iter()
                .map(|i| InputView {
                    name: i.name.clone(),
                    label: i.label.clone(),
                    required: i.required,
                    secret: i.secret,
                    choices: i.choices.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "widget.html")]
struct Page<'a> {
    mode: &'static str,
    lang: Language,
    content: Content,
    nonce: &'a str,
    theme_css: String,
    logo: Option<String>,
    base: &'a str,
    widget_id: String,
    csrf: &'a str,
    parent_origin: String,
    display: &'static str,
    timeout_secs: u64,
    business_name: String,
    redirect_url: String,
    public_sessions: bool,
    close_url: String,
    load_error: &'static str,
    services: Vec<ServiceView>,
    countries: Vec<String>,
    reasons: Vec<(&'static str, &'static str)>,
}

impl Page<'_> {
    fn t(&self, key: &str) -> &str {
        self.content.text(self.lang, key)
    }
}

/// The path the router is nested under (`/connect`), from the full and the nested URI.
pub(crate) fn base_path(original: &Uri, nested: &Uri) -> String {
    original.path().strip_suffix(nested.path()).unwrap_or_default().trim_end_matches('/').to_owned()
}

fn language(requested: Option<&str>, options: &WidgetOptions, headers: &HeaderMap) -> Language {
    requested.map(Language::from_tag).or(options.language).unwrap_or_else(|| {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Language::from_accept_language)
            .unwrap_or_default()
    })
}

fn render(page: &Page<'_>, frame_ancestors: &[Origin], set_cookie: Option<String>, status: StatusCode) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "rendering the widget page failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let report_uri = format!("{}/csp-report", page.base);
    let csp = PagePolicy { nonce: page.nonce, frame_ancestors, report_uri: &report_uri }.header();
    let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if let Some(v) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.append(header::SET_COOKIE, v);
    }
    response
}

fn reasons(lang: Language) -> Vec<(&'static str, &'static str)> {
    reason_keys().map(|k| (k, reason_message(lang, k))).collect()
}

/// What every page starts from: the router's base path, a fresh CSP nonce, and the browser's
/// CSRF token (with the cookie to set when it is new).
struct Prelude {
    base: String,
    nonce: String,
    csrf: String,
    set_cookie: Option<String>,
}

impl Prelude {
    fn of(original: &Uri, nested: &Uri, headers: &HeaderMap) -> Self {
        let base = base_path(original, nested);
        let (csrf, set_cookie) = csrf_token(headers, &base);
        Self { base, nonce: random_token(), csrf, set_cookie }
    }
}

/// `GET /w/{widgetId}`: the widget page.
pub(crate) async fn widget_page(
    State(widget): State<ConnectWidget>,
    Path(widget_id): Path<String>,
    Query(params): Query<MountParams>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Prelude { base, nonce, csrf, set_cookie } = Prelude::of(&original, &uri, &headers);
    let id = WidgetId::new(widget_id.clone()).ok();
    let config = id.as_ref().and_then(|id| widget.connect.widget_config(id).ok());
    let (Some(id), Some(config)) = (id, config) else {
        return not_found_page(&widget, &base, &nonce, &csrf, set_cookie, &headers);
    };
    let options = widget.options(&id);
    let lang = language(params.language.as_deref(), options, &headers);
    let content = match params.content.as_deref().filter(|c| c.len() <= MountParams::MAX_CONTENT) {
        Some(json) => {
            options.content.merged(&serde_json::from_str(json).map(|v| Content::from_json(&v)).unwrap_or_default())
        }
        None => options.content.clone(),
    };
    let theme = options.theme.overlaid(
        params.logo.as_deref(),
        params.font_family.as_deref(),
        params.primary.as_deref(),
        params.secondary.as_deref(),
    );
    let display = match params.display.as_deref() {
        Some("frame") => "frame",
        Some("popup") => "popup",
        _ => "page",
    };
    // The page talks to its embedder only when the embedder is allowed.
    let requested_origin = params.origin.as_deref().map(Origin::parse);
    let parent = match requested_origin {
        Some(Ok(origin)) if options.allowed_origins.contains(&origin) => Some(origin),
        _ => None,
    };
    let load_error = if display != "page" && parent.is_none() {
        tracing::warn!(widget_id = %id, "widget page refused: its embedder's origin is not allowed");
        "originNotAllowed"
    } else {
        ""
    };
    let all = widget.connect.services(&id).unwrap_or_default();
    let countries_filter = MountParams::list(params.country_codes.as_deref());
    let mut services = filter_services(all, &MountParams::list(params.exclude.as_deref()), &countries_filter);
    // The sandbox first, then by name.
    services.sort_by(|a, b| b.sandbox.cmp(&a.sandbox).then_with(|| a.display_name.cmp(&b.display_name)));
    let countries: BTreeSet<String> = services.iter().flat_map(|s| s.countries.iter().cloned()).collect();
    let countries = countries
        .into_iter()
        .filter(|c| countries_filter.is_empty() || countries_filter.iter().any(|f| f.eq_ignore_ascii_case(c)))
        .collect();
    let timeout = params
        .session_timeout
        .filter(|s| *s >= 30)
        .map_or(options.session_timeout.as_secs(), |s| s.min(options.session_timeout.as_secs()));
    let close_url = options.close_url.as_ref().unwrap_or(&config.failure_url).to_string();
    let page = Page {
        mode: "widget",
        lang,
        content,
        nonce: &nonce,
        theme_css: theme.css(),
        logo: theme.logo.clone(),
        base: &base,
        widget_id: id.to_string(),
        csrf: &csrf,
        parent_origin: parent.as_ref().map(|o| o.to_string()).unwrap_or_default(),
        display,
        timeout_secs: timeout,
        business_name: params.business_name.unwrap_or_default().chars().take(200).collect(),
        redirect_url: params.redirect_url.unwrap_or_default().chars().take(2000).collect(),
        public_sessions: options.public_sessions,
        close_url,
        load_error,
        services: services.iter().map(ServiceView::of).collect(),
        countries,
        reasons: reasons(lang),
    };
    render(&page, &options.allowed_origins, set_cookie, StatusCode::OK)
}

fn not_found_page(
    widget: &ConnectWidget,
    base: &str,
    nonce: &str,
    csrf: &str,
    set_cookie: Option<String>,
    headers: &HeaderMap,
) -> Response {
    let lang = language(None, &widget.defaults, headers);
    let page = bare_page("widget", lang, base, nonce, csrf, "unknown");
    render(&page, &[], set_cookie, StatusCode::NOT_FOUND)
}

fn bare_page<'a>(
    mode: &'static str,
    lang: Language,
    base: &'a str,
    nonce: &'a str,
    csrf: &'a str,
    load_error: &'static str,
) -> Page<'a> {
    Page {
        mode,
        lang,
        content: Content::new(),
        nonce,
        theme_css: Theme::default().css(),
        logo: None,
        base,
        widget_id: String::new(),
        csrf,
        parent_origin: String::new(),
        display: "page",
        timeout_secs: WidgetOptions::DEFAULT_SESSION_TIMEOUT.as_secs(),
        business_name: String::new(),
        redirect_url: String::new(),
        public_sessions: false,
        close_url: String::new(),
        load_error,
        services: Vec::new(),
        countries: Vec::new(),
        reasons: reasons(lang),
    }
}

/// `GET /callback`: the OAuth redirect URI. The page hands the provider's answer back to the
/// widget page that started the authorization (its opener, or the widget page it reloads in
/// this window with the answer in the fragment), which completes it through the JSON API.
/// The page is static (`Referrer-Policy: no-referrer`, `Cache-Control: no-store`), its script
/// removes the code and `state` from the address bar at once, and the code goes to the API
/// in a POST body, not in a URL.
pub(crate) async fn callback_page(
    State(widget): State<ConnectWidget>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Prelude { base, nonce, csrf, set_cookie } = Prelude::of(&original, &uri, &headers);
    let lang = language(None, &widget.defaults, &headers);
    let page = bare_page("callback", lang, &base, &nonce, &csrf, "");
    render(&page, &[], set_cookie, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_and_base() {
        assert_eq!(initials("QuickBooks"), "QB");
        assert_eq!(initials("Railz Cloud Accounting"), "RC");
        assert_eq!(initials("wave"), "W");
        let original: Uri = "/connect/w/x?a=1".parse().unwrap();
        let nested: Uri = "/w/x?a=1".parse().unwrap();
        assert_eq!(base_path(&original, &nested), "/connect");
        assert_eq!(base_path(&nested, &nested), "");
    }
}
