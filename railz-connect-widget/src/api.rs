//! The JSON API, under `{base}/api`: what the widget page uses, and what an app that builds
//! its own UI calls instead ("custom integration without the widget").
//!
//! | method and path | auth | body → answer |
//! |---|---|---|
//! | `GET /api/csrf` | none | → `{csrfToken}` and the CSRF cookie |
//! | `GET /api/widgets/{widgetId}/services?exclude=&countryCodes=` | none | → `{services: [ServiceSummary]}` |
//! | `POST /api/widgets/{widgetId}/sessions` | CSRF; only with [`WidgetOptions::public_sessions`](crate::WidgetOptions::public_sessions) | `{businessName?, redirectUrl?}` → `{sessionToken, businessName, expiresAt}` |
//! | `POST /api/authorizations` | CSRF + `Authorization: Bearer <session token>` | `{serviceName, inputs: {name: value}}` → `{status: "redirect", url, expiresAt}` and the browser-binding cookie; or, for a service connected with credentials, an outcome |
//! | `POST /api/callback` | CSRF + the browser-binding cookie | `{query}` (the callback's query string) → an outcome |
//! | `POST /api/tenants` | CSRF | `{ticket, tenantId}` → an outcome |
//! | `GET /api/connections/{connectionId}` | `Authorization: Bearer <session token>` | → the connection, if it is the session's business's |
//!
//! An outcome is one of `{status: "connected", connectionId, serviceName, businessName, landingUrl}`,
//! `{status: "chooseTenant", ticket, tenants: [{id, name}], expiresAt}`, or
//! `{status: "failed", errorCode, errorMessage, landingUrl}` (`errorCode` is a Railz reason code:
//! `accessDenied`, `insufficientPermission`, ...). A refused request answers its HTTP status
//! with `{errorCode, errorMessage}`. Messages follow `?language=` (English by default).
//! Nothing in the API answers CORS preflights: a page of another origin cannot call it. A
//! browser's `Origin` header must name the request's `Host` (a reverse proxy in front of the
//! app must pass the public `Host` on).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use railz_connect_core::provider::Inputs;
use railz_connect_core::secret::{SessionToken, TenantTicket};
use railz_connect_core::{
    BusinessName, Callback, CallbackError, Completion, ConnectionId, Error, ErrorKind, SessionError, SessionRequest,
    TenantId, WidgetId,
};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::ConnectWidget;
use crate::i18n::{Language, reason_message};
use crate::page::{MountParams, base_path, filter_services};
use crate::security::{CsrfRefusal, check_csrf, csrf_token};

pub(crate) fn routes() -> Router<ConnectWidget> {
    Router::new()
        .route("/csrf", get(csrf))
        .route("/widgets/{widget_id}/services", get(services))
        .route("/widgets/{widget_id}/sessions", post(create_session))
        .route("/authorizations", post(start_authorization))
        .route("/callback", post(callback))
        .route("/tenants", post(choose_tenant))
        .route("/connections/{connection_id}", get(connection_status))
}

/// A refused request: its status, a Railz-style code and a message.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    lang: Language,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, lang: Language) -> Self {
        Self { status, code, lang }
    }

    /// The code a core error answers with (never its text, which may name internals).
    fn from_core(e: &Error, lang: Language) -> Self {
        let code = match e {
            Error::InvalidSession(SessionError::Expired) => "sessionExpired",
            Error::InvalidSession(_) => "invalidSession",
            Error::ServiceNotOffered { .. } | Error::UnknownService(_) => "serviceNotOffered",
            Error::UnknownWidget(_) => "unknownWidget",
            Error::Callback(CallbackError::BrowserMismatch) => "browserMismatch",
            Error::Callback(CallbackError::UnknownState) => "authorizationExpired",
            Error::Callback(_) => "invalidCallback",
            Error::UnknownTicket => "authorizationExpired",
            Error::UnknownTenant(_) => "unknownTenant",
            Error::BusinessOfAnotherWidget { .. } => "forbidden",
            Error::ConnectionNotFound(_) => "notFound",
            _ if e.kind() == ErrorKind::InvalidRequest => "invalidInput",
            _ if e.kind() == ErrorKind::Unavailable => "providerUnavailable",
            _ => "unknown",
        };
        let status = StatusCode::from_u16(e.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "widget API request failed");
        } else {
            tracing::info!(error = %e, code, "widget API request refused");
        }
        Self::new(status, code, lang)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"errorCode": self.code, "errorMessage": reason_message(self.lang, self.code)});
        (self.status, Json(body)).into_response()
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LangQuery {
    language: Option<String>,
}

impl LangQuery {
    fn lang(&self) -> Language {
        self.language.as_deref().map(Language::from_tag).unwrap_or_default()
    }
}

fn csrf_checked(headers: &HeaderMap, lang: Language) -> Result<(), ApiError> {
    check_csrf(headers).map_err(|refusal| {
        tracing::warn!(?refusal, "widget API request refused: CSRF check failed");
        let code = match refusal {
            CsrfRefusal::Token => "csrf",
            CsrfRefusal::Origin => "originNotAllowed",
        };
        ApiError::new(StatusCode::FORBIDDEN, code, lang)
    })
}

fn bearer_session(headers: &HeaderMap, lang: Language) -> Result<SessionToken, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
        .map(SessionToken::new)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "invalidSession", lang))
}

/// Parses a JSON body (an empty or malformed one is `invalidInput`).
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes, lang: Language) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalidInput", lang))
}

/// The whole `Cookie` header, for the browser binding.
fn cookie_header(headers: &HeaderMap) -> String {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join("; ")
}

/// An outcome, as the API answers it.
fn outcome(completion: Completion, lang: Language) -> Value {
    match completion {
        Completion::Connected { connection, landing } => json!({
            "status": "connected",
            "connectionId": connection.id,
            "serviceName": connection.service_name,
            "businessName": connection.business_name,
            "landingUrl": landing.url,
        }),
        Completion::ChooseTenant { ticket, tenants, expires_at, .. } => json!({
            "status": "chooseTenant",
            "ticket": ticket.secret(),
            "tenants": tenants.iter().map(|t| json!({"id": t.id, "name": t.name})).collect::<Vec<_>>(),
            "expiresAt": expires_at.unix_timestamp(),
        }),
        Completion::Failed(failure) => json!({
            "status": "failed",
            "errorCode": failure.reason.as_str(),
            "errorMessage": reason_message(lang, failure.reason.as_str()),
            "landingUrl": failure.landing.url,
        }),
        other => {
            tracing::error!(?other, "an outcome the widget does not know");
            json!({"status": "failed", "errorCode": "unknown", "errorMessage": reason_message(lang, "unknown")})
        }
    }
}

/// `GET /api/csrf`: a CSRF token for an app's own UI (the widget page has one already).
async fn csrf(OriginalUri(original): OriginalUri, uri: Uri, headers: HeaderMap) -> Response {
    let base = base_path(&original, &uri);
    let base = base.strip_suffix("/api").unwrap_or(&base);
    let (token, set_cookie) = csrf_token(&headers, base);
    let mut response = Json(json!({"csrfToken": token})).into_response();
    if let Some(v) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServicesQuery {
    exclude: Option<String>,
    country_codes: Option<String>,
    language: Option<String>,
}

/// `GET /api/widgets/{widgetId}/services`.
async fn services(
    State(widget): State<ConnectWidget>,
    Path(widget_id): Path<String>,
    Query(q): Query<ServicesQuery>,
) -> Result<Json<Value>, ApiError> {
    let lang = q.language.as_deref().map(Language::from_tag).unwrap_or_default();
    let id = WidgetId::new(widget_id).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "unknownWidget", lang))?;
    let all = widget.connect.services(&id).map_err(|e| ApiError::from_core(&e, lang))?;
    let services =
        filter_services(all, &MountParams::list(q.exclude.as_deref()), &MountParams::list(q.country_codes.as_deref()));
    Ok(Json(json!({ "services": services })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SessionBody {
    business_name: Option<String>,
    redirect_url: Option<String>,
}

/// `POST /api/widgets/{widgetId}/sessions`: a session from a bare business name, when the
/// widget allows it.
async fn create_session(
    State(widget): State<ConnectWidget>,
    Path(widget_id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let lang = q.lang();
    csrf_checked(&headers, lang)?;
    let id = WidgetId::new(widget_id).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "unknownWidget", lang))?;
    if !widget.options(&id).public_sessions {
        tracing::warn!(widget_id = %id, "session refused: this widget takes sessions from the app only");
        return Err(ApiError::new(StatusCode::FORBIDDEN, "invalidSession", lang));
    }
    let b: SessionBody = body(&bytes, lang)?;
    let mut request = SessionRequest::new();
    if let Some(name) = b.business_name.filter(|n| !n.is_empty()) {
        let name = BusinessName::new(name).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalidInput", lang))?;
        request = request.with_business_name(name);
    }
    if let Some(url) = b.redirect_url.filter(|u| !u.is_empty()) {
        // The core keeps it only if the widget's configuration allows that page.
        let url: Url = url.parse().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalidInput", lang))?;
        request = request.with_redirect_url(url);
    }
    let session = widget.connect.create_session(&id, request).await.map_err(|e| ApiError::from_core(&e, lang))?;
    Ok(Json(json!({
        "sessionToken": session.token.secret(),
        "businessName": session.business_name,
        "expiresAt": session.expires_at.unix_timestamp(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartBody {
    service_name: String,
    #[serde(default)]
    inputs: std::collections::BTreeMap<String, String>,
}

/// `POST /api/authorizations`: begins an authorization (or connects a credentials service).
async fn start_authorization(
    State(widget): State<ConnectWidget>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let lang = q.lang();
    csrf_checked(&headers, lang)?;
    let session = bearer_session(&headers, lang)?;
    let b: StartBody = body(&bytes, lang)?;
    let service =
        b.service_name.parse().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "serviceNotOffered", lang))?;
    let mut inputs = Inputs::new();
    for (name, value) in b.inputs {
        if !value.is_empty() {
            inputs.insert(name, value);
        }
    }
    // The core checks the session and that the widget offers the service; here only the way
    // in is chosen.
    let auth_kind = widget
        .connect
        .registry()
        .get(&service)
        .map(|p| p.metadata().auth_kind)
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "serviceNotOffered", lang))?;
    if auth_kind == railz_connect_core::provider::AuthKind::Credentials {
        let completion = widget
            .connect
            .connect_with_inputs(&session, &service, inputs)
            .await
            .map_err(|e| ApiError::from_core(&e, lang))?;
        return Ok(Json(outcome(completion, lang)).into_response());
    }
    let start = widget.connect.begin(&session, &service, inputs).await.map_err(|e| ApiError::from_core(&e, lang))?;
    let mut response = Json(json!({
        "status": "redirect",
        "url": start.url,
        "expiresAt": start.expires_at.unix_timestamp(),
    }))
    .into_response();
    if let Some(v) = start.set_cookie().and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackBody {
    query: String,
}

/// `POST /api/callback`: completes an authorization from the callback's query.
async fn callback(
    State(widget): State<ConnectWidget>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let lang = q.lang();
    csrf_checked(&headers, lang)?;
    let b: CallbackBody = body(&bytes, lang)?;
    let query = b.query.strip_prefix('?').unwrap_or(&b.query);
    let callback = Callback::from_query(query)
        .map_err(|e| ApiError::from_core(&Error::Callback(e), lang))?
        .with_cookie_header(&cookie_header(&headers));
    let completion = widget.connect.complete(&callback).await.map_err(|e| ApiError::from_core(&e, lang))?;
    Ok(Json(outcome(completion, lang)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TenantBody {
    ticket: String,
    tenant_id: String,
}

/// `POST /api/tenants`: finishes with the chosen tenant.
async fn choose_tenant(
    State(widget): State<ConnectWidget>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let lang = q.lang();
    csrf_checked(&headers, lang)?;
    let b: TenantBody = body(&bytes, lang)?;
    let tenant =
        TenantId::new(b.tenant_id).map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "unknownTenant", lang))?;
    let completion = widget
        .connect
        .choose_tenant(&TenantTicket::new(b.ticket), &tenant)
        .await
        .map_err(|e| ApiError::from_core(&e, lang))?;
    Ok(Json(outcome(completion, lang)))
}

/// `GET /api/connections/{connectionId}`: a connection of the session's business.
async fn connection_status(
    State(widget): State<ConnectWidget>,
    Path(connection_id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let lang = q.lang();
    let session = bearer_session(&headers, lang)?;
    let info = widget.connect.session_info(&session).map_err(|e| ApiError::from_core(&e, lang))?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "notFound", lang);
    let id: ConnectionId = connection_id.parse().map_err(|_| not_found())?;
    let connection = match widget.connect.connection(&id).await {
        Ok(c) => c,
        Err(Error::ConnectionNotFound(_)) => return Err(not_found()),
        Err(e) => return Err(ApiError::from_core(&e, lang)),
    };
    // Another business's connection is answered as absent: its existence is not told.
    if connection.widget_id != info.widget_id || connection.business_name != info.business_name {
        return Err(not_found());
    }
    Ok(Json(json!({ "connection": connection })))
}

/// `POST /csp-report`: a browser's report of a Content-Security-Policy violation.
pub(crate) async fn csp_report(State(widget): State<ConnectWidget>, bytes: Bytes) -> StatusCode {
    if bytes.len() > 16 * 1024 {
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    let mut report = serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|_| json!({"unparsed": bytes.len()}));
    redact_report(&mut report);
    let directive = report.pointer("/csp-report/violated-directive").and_then(Value::as_str).unwrap_or("?");
    let blocked = report.pointer("/csp-report/blocked-uri").and_then(Value::as_str).unwrap_or("?");
    tracing::warn!(directive, blocked = %blocked.chars().take(200).collect::<String>(), "Content-Security-Policy violation reported");
    widget.reports.record(report);
    StatusCode::NO_CONTENT
}

/// Drops the query and fragment of every URL in a report: a report from the callback page
/// names that page's address, which carries the authorization code and `state`.
fn redact_report(report: &mut Value) {
    let Some(fields) = report.get_mut("csp-report").and_then(Value::as_object_mut) else { return };
    for key in ["document-uri", "referrer", "source-file", "blocked-uri"] {
        if let Some(Value::String(url)) = fields.get_mut(key) {
            let cut = url.find(['?', '#']).unwrap_or(url.len());
            url.truncate(cut);
        }
    }
}

/// Anything else: a JSON 404.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "notFound", Language::En)
}
