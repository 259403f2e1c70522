//! Response headers (CSP with a nonce, framing, referrer, caching), the CSRF token, origins.

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use url::Url;

/// The CSRF cookie's name.
pub(crate) const CSRF_COOKIE: &str = "railz_connect_csrf";
/// The header a state-changing request carries the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// 32 random bytes, base64url.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A web origin (`scheme://host[:port]`), as `postMessage` and `frame-ancestors` compare it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

/// An origin was refused.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an origin: give scheme://host[:port], https (or http on a loopback host), nothing else")]
pub struct InvalidOrigin(String);

impl Origin {
    /// Parses `https://app.example` or `http://127.0.0.1:8080`: https, or http on a loopback
    /// host; no path, query, fragment or credentials.
    pub fn parse(s: &str) -> Result<Self, InvalidOrigin> {
        let bad = || InvalidOrigin(s.chars().take(100).collect());
        let url = Url::parse(s).map_err(|_| bad())?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        if !scheme_ok
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.host_str().is_none()
        {
            return Err(bad());
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    /// The origin of a URL (`None` for an opaque one).
    pub fn of(url: &Url) -> Option<Self> {
        match url.origin() {
            o @ url::Origin::Tuple(..) => Some(Self(o.ascii_serialization())),
            url::Origin::Opaque(_) => None,
        }
    }

    /// As a string (`https://app.example`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether the request came to a loopback host (cookies may then go without `Secure` on http).
pub(crate) fn is_loopback(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The CSRF token of this browser: its cookie's when it has a well-formed one, else a new one
/// with the `Set-Cookie` value to send (HttpOnly, SameSite=Strict, the widget's path, Secure
/// unless on a loopback host).
pub(crate) fn csrf_token(headers: &HeaderMap, base: &str) -> (String, Option<String>) {
    if let Some(existing) = cookie(headers, CSRF_COOKIE).filter(|v| v.len() == 43 && is_token(v)) {
        return (existing.to_owned(), None);
    }
    let token = random_token();
    let secure = if is_loopback(headers) { "" } else { "; Secure" };
    let path = if base.is_empty() { "/" } else { base };
    let set = format!("{CSRF_COOKIE}={token}; Path={path}; HttpOnly; SameSite=Strict{secure}");
    (token, Some(set))
}

fn is_token(v: &str) -> bool {
    v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a state-changing request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CsrfRefusal {
    /// No CSRF cookie or header, or they differ.
    Token,
    /// The `Origin` header names another origin than the request's host.
    Origin,
}

/// Checks a state-changing request: the `X-CSRF-Token` header equals the CSRF cookie
/// (compared in constant time), and an `Origin` header, when the browser sends one, is this
/// host's. The custom header alone keeps a cross-origin page out (it needs a CORS preflight,
/// which the router never grants); the cookie comparison ties the request to a page the
/// router served to this browser.
pub(crate) fn check_csrf(headers: &HeaderMap) -> Result<(), CsrfRefusal> {
    let cookie = cookie(headers, CSRF_COOKIE).ok_or(CsrfRefusal::Token)?;
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).ok_or(CsrfRefusal::Token)?;
    if cookie.is_empty() || !bool::from(cookie.as_bytes().ct_eq(sent.as_bytes())) {
        return Err(CsrfRefusal::Token);
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        let same =
            origin.to_str().ok().and_then(|o| Url::parse(o).ok()).is_some_and(|o| {
                o.host_str().map(|h| (h, o.port())).is_some_and(|(h, port)| host_matches(host, h, port))
            });
        if !same {
            return Err(CsrfRefusal::Origin);
        }
    }
    Ok(())
}

fn host_matches(host_header: &str, origin_host: &str, origin_port: Option<u16>) -> bool {
    match origin_port {
        Some(port) => host_header == format!("{origin_host}:{port}"),
        None => host_header == origin_host,
    }
}

/// What a page's `Content-Security-Policy` allows.
#[derive(Debug)]
pub(crate) struct PagePolicy<'a> {
    /// The nonce of the page's one `<style>` element (the theme).
    pub(crate) nonce: &'a str,
    /// Who may frame the page.
    pub(crate) frame_ancestors: &'a [Origin],
    /// Where violations are reported.
    pub(crate) report_uri: &'a str,
}

impl PagePolicy<'_> {
    /// The policy: nothing but the router's own script, style and images (and `data:` images
    /// for an inline logo), the theme's nonce'd style, no inline script at all, API calls to
    /// the router only, framing by the widget's allowed origins only.
    pub(crate) fn header(&self) -> String {
        let ancestors = if self.frame_ancestors.is_empty() {
            "'none'".to_owned()
        } else {
            self.frame_ancestors.iter().map(Origin::as_str).collect::<Vec<_>>().join(" ")
        };
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{}'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}; report-uri {}",
            self.nonce, self.report_uri
        )
    }
}

/// Headers every response of the router carries.
pub(crate) fn common_headers(headers: &mut HeaderMap) {
    let fixed: [(HeaderName, &str); 4] = [
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn origins() {
        assert_eq!(Origin::parse("https://app.example").unwrap().as_str(), "https://app.example");
        assert_eq!(Origin::parse("https://app.example:443/").unwrap().as_str(), "https://app.example");
        assert_eq!(Origin::parse("http://127.0.0.1:8080").unwrap().as_str(), "http://127.0.0.1:8080");
        for bad in
            ["http://app.example", "https://app.example/path", "https://u@app.example", "*", "null", "https://a?x"]
        {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn csrf_needs_matching_cookie_and_header_and_own_origin() {
        let t = "a".repeat(43);
        let good = [("host", "127.0.0.1:8080"), ("cookie", &format!("x=1; {CSRF_COOKIE}={t}")), (CSRF_HEADER, &t)];
        assert_eq!(check_csrf(&headers(&good)), Ok(()));
        let mut with_origin = good.to_vec();
        with_origin.push(("origin", "http://127.0.0.1:8080"));
        assert_eq!(check_csrf(&headers(&with_origin)), Ok(()));
        let mut foreign = good.to_vec();
        foreign.push(("origin", "http://localhost:8080"));
        assert_eq!(check_csrf(&headers(&foreign)), Err(CsrfRefusal::Origin));
        let wrong = [("host", "h"), ("cookie", &format!("{CSRF_COOKIE}={t}")), (CSRF_HEADER, "b")];
        assert_eq!(check_csrf(&headers(&wrong)), Err(CsrfRefusal::Token));
        let no_cookie = [("host", "h"), (CSRF_HEADER, t.as_str())];
        assert_eq!(check_csrf(&headers(&no_cookie)), Err(CsrfRefusal::Token));
    }

    #[test]
    fn csrf_cookie_is_reused_or_minted() {
        let (token, set) = csrf_token(&headers(&[("host", "app.example")]), "/connect");
        let set = set.unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure"));
        assert!(set.contains("Path=/connect"));
        let again = headers(&[("host", "127.0.0.1:1"), ("cookie", &format!("{CSRF_COOKIE}={token}"))]);
        assert_eq!(csrf_token(&again, "/connect"), (token, None));
        let (_, loopback) = csrf_token(&headers(&[("host", "127.0.0.1:9")]), "");
        assert!(!loopback.unwrap().contains("Secure"));
    }

    #[test]
    fn policy_is_strict() {
        let origins = [Origin::parse("https://app.example").unwrap()];
        let csp = PagePolicy { nonce: "n0", frame_ancestors: &origins, report_uri: "/connect/csp-report" }.header();
        assert!(csp.starts_with("default-src 'none'; script-src 'self';"));
        assert!(!csp.contains("unsafe"));
        assert!(csp.contains("frame-ancestors https://app.example;"));
        let none = PagePolicy { nonce: "n", frame_ancestors: &[], report_uri: "/r" }.header();
        assert!(none.contains("frame-ancestors 'none'"));
    }
}
