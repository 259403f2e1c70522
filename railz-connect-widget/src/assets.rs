//! The embed script, the page's script and its style sheet, compiled into the crate.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The embed script an app's page loads (`<script src="/connect/embed.js">`).
pub(crate) const EMBED_JS: &str = include_str!("../assets/embed.js");
/// The widget page's one script.
pub(crate) const WIDGET_JS: &str = include_str!("../assets/widget.js");
/// The widget page's one style sheet.
pub(crate) const WIDGET_CSS: &str = include_str!("../assets/widget.css");

const JS: &str = "text/javascript; charset=utf-8";

pub(crate) async fn embed_js() -> Response {
    // The embedding page is another document: it may load this script cross-origin.
    let mut response = ([(header::CONTENT_TYPE, JS)], EMBED_JS).into_response();
    response.headers_mut().insert("cross-origin-resource-policy", header::HeaderValue::from_static("cross-origin"));
    response
}

pub(crate) async fn widget_js() -> Response {
    ([(header::CONTENT_TYPE, JS)], WIDGET_JS).into_response()
}

pub(crate) async fn widget_css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], WIDGET_CSS).into_response()
}

/// Adds the headers every response carries (a handler's own `Cross-Origin-Resource-Policy`
/// is kept).
pub(crate) async fn with_common_headers(mut response: Response) -> Response {
    let corp = response.headers().get("cross-origin-resource-policy").cloned();
    crate::security::common_headers(response.headers_mut());
    if let Some(corp) = corp {
        response.headers_mut().insert("cross-origin-resource-policy", corp);
    }
    response
}
