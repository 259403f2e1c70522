//! The stand-in browser over real HTTP: a tiny site of its own (cookies,
//! redirect chains, broken redirects) and the sandbox's authorize endpoint.
//!
//! Nothing in this test binary installs a process-wide rustls crypto
//! provider, so every test here also proves the browser does not need one.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::response::Response;
use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use railz_connect_mock::browser::{self, Browser, BrowserError, MAX_REDIRECTS};
use railz_connect_mock::{Endpoint, MockServer};
use url::Url;

use crate::common::{REDIRECT, authorization_url, param};

const SESSION_COOKIE: &str = "session=s3cret";

/// One request the test site received.
#[derive(Debug, Clone)]
struct Hit {
    /// Path and query.
    target: String,
    cookie: Option<String>,
}

#[derive(Clone)]
struct Site {
    origin: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Site {
    /// Starts the site on `127.0.0.1:0`, on the current runtime.
    async fn start() -> Site {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let site = Site {
            origin: format!("http://{}", listener.local_addr().unwrap()),
            hits: Arc::new(Mutex::new(Vec::new())),
        };
        let router = axum::Router::new().fallback(respond).with_state(site.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        site
    }

    fn url(&self, path_and_query: &str) -> Url {
        Url::parse(&format!("{}{path_and_query}", self.origin)).unwrap()
    }

    /// The app's callback on this site. The site answers it (so a request to
    /// it would be recorded), but the browser must never request it.
    fn redirect_uri(&self) -> Url {
        self.url("/callback")
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn targets(&self) -> Vec<String> {
        self.hits().into_iter().map(|hit| hit.target).collect()
    }
}

fn answer(status: u16, location: Option<&str>) -> Response {
    let mut response = Response::new(axum::body::Body::from("<html><body>site</body></html>"));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    if let Some(location) = location {
        response.headers_mut().insert(LOCATION, HeaderValue::from_str(location).unwrap());
    }
    response
}

async fn respond(State(site): State<Site>, request: Request) -> Response {
    let uri = request.uri();
    let target = uri.path_and_query().map(|pq| pq.as_str().to_owned()).unwrap_or_default();
    let cookie = request.headers().get(COOKIE).map(|v| v.to_str().unwrap().to_owned());
    site.hits.lock().unwrap().push(Hit { target, cookie: cookie.clone() });
    let callback = |query: &str| format!("{}/callback?{query}", site.origin);
    let path = uri.path();

    if let Some(n) = path.strip_prefix("/chain/") {
        // `/chain/0` .. `/chain/10`: exactly MAX_REDIRECTS hops, then the
        // callback; every redirect status in turn.
        let n: usize = n.parse().unwrap();
        let status = [301, 302, 303, 307, 308][n % 5];
        return if n < MAX_REDIRECTS {
            answer(status, Some(&format!("/chain/{}", n + 1)))
        } else {
            answer(status, Some(&callback("code=chained")))
        };
    }
    if let Some(n) = path.strip_prefix("/loop/") {
        let n: usize = n.parse().unwrap();
        return answer(302, Some(&format!("/loop/{}", n + 1)));
    }
    match path {
        // Sets the session cookie, then a relative redirect.
        "/authorize" => {
            let mut response = answer(302, Some("login?step=1"));
            response.headers_mut().insert(SET_COOKIE, HeaderValue::from_static("session=s3cret; Path=/; HttpOnly"));
            response
        }
        "/login" => answer(303, Some("/consent")),
        // Needs the cookie set two hops earlier.
        "/consent" => match cookie {
            Some(cookie) if cookie.split("; ").any(|c| c == SESSION_COOKIE) => {
                answer(302, Some(&callback("code=c0de&state=st4te")))
            }
            _ => answer(403, None),
        },
        // Sets the cookie and goes straight to the callback.
        "/sign-in" => {
            let mut response = answer(302, Some(&callback("signed_in=1")));
            response.headers_mut().insert(SET_COOKIE, HeaderValue::from_static("session=s3cret; Path=/"));
            response
        }
        // Same scheme, host and port as the callback, another path: followed.
        "/decoy" => answer(302, Some(&format!("{}/callbackx", site.origin))),
        "/callbackx" => answer(302, Some(&callback("code=after-decoy"))),
        "/no-location" => answer(302, None),
        "/bad-location" => answer(302, Some("http://[::1")),
        "/mailto" => answer(302, Some("mailto:someone@example.com")),
        "/not-modified" => answer(304, Some("/callback?code=never")),
        _ => answer(200, None),
    }
}

fn assert_no_process_wide_provider() {
    assert!(rustls::crypto::CryptoProvider::get_default().is_none(), "a process-wide crypto provider was installed");
}

// ---------------------------------------------------------------------------
// Redirects and cookies
// ---------------------------------------------------------------------------

#[tokio::test]
async fn follows_redirects_keeping_cookies_and_stops_at_the_callback() {
    let site = Site::start().await;
    let browser = Browser::new().unwrap();
    let callback = browser.authorize(&site.url("/authorize"), &site.redirect_uri()).await.unwrap();

    assert_eq!(callback.as_str(), format!("{}/callback?code=c0de&state=st4te", site.origin));
    let hits = site.hits();
    assert_eq!(site.targets(), ["/authorize", "/login?step=1", "/consent"], "the callback is never requested");
    assert_eq!(hits[0].cookie, None);
    assert_eq!(hits[1].cookie.as_deref(), Some(SESSION_COOKIE));
    assert_eq!(hits[2].cookie.as_deref(), Some(SESSION_COOKIE));
    assert_no_process_wide_provider();
}

#[tokio::test]
async fn without_the_cookie_the_second_hop_refuses() {
    let site = Site::start().await;
    // A fresh browser that skips the page setting the cookie.
    let err = browser::authorize(&site.url("/login"), &site.redirect_uri()).await.unwrap_err();
    let consent = site.url("/consent");
    assert!(matches!(&err, BrowserError::NoRedirect { url, status: 403 } if *url == consent), "{err:?}");
    assert_eq!(err.to_string(), format!("{consent} answered 403 instead of a redirect"));
    assert_eq!(site.hits()[1].cookie, None);
}

#[tokio::test]
async fn the_cookie_jar_lasts_across_calls_and_is_shared_by_clones() {
    let site = Site::start().await;
    let browser = Browser::new().unwrap();
    let signed_in = browser.authorize(&site.url("/sign-in"), &site.redirect_uri()).await.unwrap();
    assert_eq!(param(&signed_in, "signed_in").as_deref(), Some("1"));

    let tab = browser.clone();
    let callback = tab.authorize(&site.url("/login"), &site.redirect_uri()).await.unwrap();
    assert_eq!(param(&callback, "code").as_deref(), Some("c0de"));

    // Another browser has its own, empty jar.
    let other = Browser::new().unwrap();
    let err = other.authorize(&site.url("/login"), &site.redirect_uri()).await.unwrap_err();
    assert!(matches!(err, BrowserError::NoRedirect { status: 403, .. }), "{err:?}");
    assert!(format!("{browser:?}").starts_with("Browser"));
}

#[tokio::test]
async fn follows_exactly_max_redirects_with_every_redirect_status() {
    let site = Site::start().await;
    let callback = browser::authorize(&site.url("/chain/0"), &site.redirect_uri()).await.unwrap();
    assert_eq!(param(&callback, "code").as_deref(), Some("chained"));
    let expected: Vec<String> = (0..=MAX_REDIRECTS).map(|n| format!("/chain/{n}")).collect();
    assert_eq!(site.targets(), expected);
}

#[tokio::test]
async fn too_many_redirects() {
    let site = Site::start().await;
    let err = browser::authorize(&site.url("/loop/0"), &site.redirect_uri()).await.unwrap_err();
    assert!(matches!(err, BrowserError::TooManyRedirects { limit: MAX_REDIRECTS }), "{err:?}");
    assert_eq!(err.to_string(), "more than 10 redirects without reaching the redirect URI");
    // The first request plus MAX_REDIRECTS followed hops; the next is not requested.
    assert_eq!(site.hits().len(), 1 + MAX_REDIRECTS);
    assert_eq!(site.targets().last().map(String::as_str), Some("/loop/10"));
}

#[tokio::test]
async fn only_scheme_host_port_and_path_identify_the_callback() {
    let site = Site::start().await;
    let callback = browser::authorize(&site.url("/decoy"), &site.redirect_uri()).await.unwrap();
    assert_eq!(param(&callback, "code").as_deref(), Some("after-decoy"));
    assert_eq!(site.targets(), ["/decoy", "/callbackx"]);

    // A redirect_uri with its own query still matches the callback.
    let with_query = site.url("/callback?tenant=7");
    let callback = browser::authorize(&site.url("/decoy"), &with_query).await.unwrap();
    assert_eq!(callback.path(), "/callback");
}

// ---------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_page_that_does_not_redirect() {
    let site = Site::start().await;
    let page = site.url("/page");
    let err = browser::authorize(&page, &site.redirect_uri()).await.unwrap_err();
    assert!(matches!(&err, BrowserError::NoRedirect { url, status: 200 } if *url == page), "{err:?}");
    // 304 carries a Location but is not a redirect to follow.
    let err = browser::authorize(&site.url("/not-modified"), &site.redirect_uri()).await.unwrap_err();
    assert!(matches!(err, BrowserError::NoRedirect { status: 304, .. }), "{err:?}");
}

#[tokio::test]
async fn bad_locations() {
    let site = Site::start().await;
    let redirect_uri = site.redirect_uri();

    let no_location = site.url("/no-location");
    let err = browser::authorize(&no_location, &redirect_uri).await.unwrap_err();
    assert!(matches!(&err, BrowserError::BadLocation { url, location: None } if *url == no_location), "{err:?}");

    let err = browser::authorize(&site.url("/bad-location"), &redirect_uri).await.unwrap_err();
    assert!(matches!(&err, BrowserError::BadLocation { location: Some(l), .. } if l == "http://[::1"), "{err:?}");

    let err = browser::authorize(&site.url("/mailto"), &redirect_uri).await.unwrap_err();
    assert!(
        matches!(&err, BrowserError::BadLocation { location: Some(l), .. } if l == "mailto:someone@example.com"),
        "{err:?}"
    );
    assert_eq!(site.targets(), ["/no-location", "/bad-location", "/mailto"]);
}

#[tokio::test]
async fn a_failed_request() {
    // A server that accepts one connection and closes it unanswered.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = Url::parse(&format!("http://{}/authorize", listener.local_addr().unwrap())).unwrap();
    let closer = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        drop(socket);
    });
    let err = browser::authorize(&url, &Url::parse("http://127.0.0.1:9/callback").unwrap()).await.unwrap_err();
    assert!(matches!(&err, BrowserError::Request { url: failed, .. } if *failed == url), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
    closer.await.unwrap();
}

#[tokio::test]
async fn https_uses_the_browsers_own_tls_configuration() {
    // A TLS handshake against a plain-HTTP site fails, as a request error;
    // without its own configuration reqwest (built with `rustls-no-provider`)
    // would panic for want of a process-wide provider.
    let site = Site::start().await;
    let https = Url::parse(&site.origin.replace("http://", "https://")).unwrap().join("/authorize").unwrap();
    let err = browser::authorize(&https, &site.redirect_uri()).await.unwrap_err();
    assert!(matches!(err, BrowserError::Request { .. }), "{err:?}");
    assert_no_process_wide_provider();
}

// ---------------------------------------------------------------------------
// The sandbox's authorize endpoint
// ---------------------------------------------------------------------------

#[tokio::test]
async fn authorizes_against_the_sandbox() {
    let server = MockServer::start().await.unwrap();
    let redirect_uri = Url::parse(REDIRECT).unwrap();
    let callback = browser::authorize(&authorization_url(&server, &[]), &redirect_uri).await.unwrap();
    assert_eq!(callback.origin(), redirect_uri.origin());
    assert_eq!(callback.path(), "/callback");
    assert!(param(&callback, "code").is_some_and(|code| !code.is_empty()));
    assert_eq!(param(&callback, "state").as_deref(), Some("st4te"));
    assert_eq!(param(&callback, "iss"), Some(server.issuer()));
    assert_eq!(server.calls(Endpoint::Authorize), 1);

    // A denial comes back the same way.
    let denied = authorization_url(&server, &[("use_case", "failed_connection")]);
    let callback = browser::authorize(&denied, &redirect_uri).await.unwrap();
    assert_eq!(param(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&callback, "code"), None);

    // The sandbox's error page (unknown client) is not a redirect.
    let mut unknown_client = server.authorize_url();
    unknown_client.query_pairs_mut().append_pair("client_id", "nobody").append_pair("redirect_uri", REDIRECT);
    let err = browser::authorize(&unknown_client, &redirect_uri).await.unwrap_err();
    assert!(matches!(err, BrowserError::NoRedirect { status: 400, .. }), "{err:?}");
    assert_eq!(server.calls(Endpoint::Authorize), 3);
    assert_no_process_wide_provider();
    server.shutdown().await;
}
