//! OAuth 1.0a signatures (RFC 5849 vectors) and the NetSuite TBA emulation
//! over real HTTP. Requests are signed here with the base-string function
//! of `oauth1` and the `hmac` crate directly; no sleeps, no wall clock.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use railz_connect_mock::Fault;
use railz_connect_mock::netsuite_tba::{NetsuiteTba, TbaCredentials, TbaRejection};
use railz_connect_mock::oauth1::{self, Oauth1Error};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Sha256;
use url::Url;

// ---------------------------------------------------------------------------
// RFC 5849 vectors
// ---------------------------------------------------------------------------

/// RFC 5849 section 3.4.1.1, the example request and its base string.
#[test]
fn rfc5849_section_3_4_1_1_base_string() {
    let url = Url::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap();
    let header = r#"OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D""#;
    let oauth = oauth1::parse_authorization(header).unwrap();
    assert_eq!(oauth.realm.as_deref(), Some("Example"));
    assert_eq!(oauth.get("oauth_signature"), Some("bYT5CMsGcbgUdFHObYMEfcx6bsw="));
    let mut params = oauth.signed_params();
    params.extend(oauth1::form_params(b"c2&a3=2+q"));
    assert_eq!(
        oauth1::signature_base_string("POST", &url, &params),
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
    );
}

/// RFC 5849 section 1.2 (photos example): the base string, then SHA-256
/// instead of SHA-1 over it. Expected values computed independently with
/// Python's `hmac`/`hashlib`; the same computation with SHA-1 gives the
/// RFC's own signature, `MdpQcU8iPSUjWoN/UDMsK2sui9I=`.
#[test]
fn rfc5849_section_1_2_sha256_instead_of_sha1() {
    let url = Url::parse("http://photos.example.net/photos?file=vacation.jpg&size=original").unwrap();
    let params: Vec<(String, String)> = [
        ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
        ("oauth_token", "nnch734d00sl2jdk"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131202"),
        ("oauth_nonce", "chapoH"),
        ("realm", "Photos"),
        ("oauth_signature", "ignored"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    let base = oauth1::signature_base_string("get", &url, &params);
    assert_eq!(
        base,
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
    );
    let sha256 = oauth1::sign(&base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00");
    assert_eq!(sha256, "7NYnfiUN//Gcjb9IY6/4CCsThBHtV2M8qinB+HZr4js=");
    assert_ne!(sha256, "MdpQcU8iPSUjWoN/UDMsK2sui9I=", "SHA-256, not the RFC's SHA-1");

    // Secrets that percent-encoding changes: the key is
    // "c0nsumer%2Fsecret%2B%26%3D%3A~&t0ken%20secret%25%21%2A".
    let base256 = base.replace("HMAC-SHA1", "HMAC-SHA256");
    assert_eq!(
        oauth1::sign(&base256, "c0nsumer/secret+&=:~", "t0ken secret%!*"),
        "mXG3vD2xvXMMfc1aEnSVjwAHnxjyvBhZZ1P/DSq0hlM="
    );
    assert_eq!(
        oauth1::sign(&base256, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00"),
        "HtMwoX2zenlFjgGg/SNEoKEQmL7CzxYFEKzs7er044Y="
    );
}

#[test]
fn verify_accepts_its_own_signature_and_refuses_tampering() {
    let url =
        Url::parse("https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/account?limit=5").unwrap();
    let creds = test_creds();
    let header = authorization(&creds, "GET", &url, &creds.account_id, 1_800_000_000, "n0nce-1", &[]);
    let ok = oauth1::verify("GET", &url, &header, &[], &creds.consumer_secret, &creds.token_secret).unwrap();
    assert_eq!(ok.consumer_key, creds.consumer_key);
    assert_eq!(ok.token.as_deref(), Some(creds.token_id.as_str()));
    assert_eq!(ok.realm.as_deref(), Some("1234567_SB1"));
    assert_eq!((ok.timestamp, ok.nonce.as_str()), (1_800_000_000, "n0nce-1"));

    let other =
        Url::parse("https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/account?limit=6").unwrap();
    assert_eq!(
        oauth1::verify("GET", &other, &header, &[], &creds.consumer_secret, &creds.token_secret),
        Err(Oauth1Error::BadSignature)
    );
    assert_eq!(
        oauth1::verify("POST", &url, &header, &[], &creds.consumer_secret, &creds.token_secret),
        Err(Oauth1Error::BadSignature)
    );
    assert_eq!(
        oauth1::verify("GET", &url, &header, &[], &creds.consumer_secret, "wrong"),
        Err(Oauth1Error::BadSignature)
    );
    let sha1 = header.replace("HMAC-SHA256", "HMAC-SHA1");
    assert!(matches!(
        oauth1::verify("GET", &url, &sha1, &[], &creds.consumer_secret, &creds.token_secret),
        Err(Oauth1Error::UnsupportedSignatureMethod(_))
    ));
    let no_nonce = header.replace("oauth_nonce=", "x_nonce=");
    assert_eq!(
        oauth1::verify("GET", &url, &no_nonce, &[], &creds.consumer_secret, &creds.token_secret),
        Err(Oauth1Error::MissingParam("oauth_nonce"))
    );
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn test_creds() -> TbaCredentials {
    TbaCredentials {
        account_id: "1234567_SB1".to_owned(),
        consumer_key: "ck".to_owned(),
        consumer_secret: "c/s+&=%".to_owned(),
        token_id: "tk".to_owned(),
        token_secret: "t s~*".to_owned(),
    }
}

fn client() -> reqwest::Client {
    // reqwest is built with `rustls-no-provider`: a Client needs a crypto
    // provider even though no TLS is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("reqwest client")
}

/// Signs with the test's own HMAC-SHA256 over `oauth1`'s base string and
/// writes the header as NetSuite documents it.
fn authorization(
    creds: &TbaCredentials,
    method: &str,
    url: &Url,
    realm: &str,
    timestamp: i64,
    nonce: &str,
    form: &[(String, String)],
) -> String {
    let oauth: Vec<(String, String)> = [
        ("oauth_consumer_key", creds.consumer_key.as_str()),
        ("oauth_token", creds.token_id.as_str()),
        ("oauth_signature_method", "HMAC-SHA256"),
        ("oauth_timestamp", &timestamp.to_string()),
        ("oauth_nonce", nonce),
        ("oauth_version", "1.0"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    let mut params = oauth.clone();
    params.extend(form.iter().cloned());
    let base = oauth1::signature_base_string(method, url, &params);
    let key =
        format!("{}&{}", oauth1::percent_encode(&creds.consumer_secret), oauth1::percent_encode(&creds.token_secret));
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(base.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let mut header = format!("OAuth realm=\"{}\"", oauth1::percent_encode(realm));
    for (name, value) in oauth.iter().chain([("oauth_signature".to_owned(), signature)].iter()) {
        header.push_str(&format!(", {name}=\"{}\"", oauth1::percent_encode(value)));
    }
    header
}

struct Call<'a> {
    creds: TbaCredentials,
    realm: String,
    timestamp: i64,
    nonce: &'a str,
    method: &'a str,
    path: &'a str,
}

impl<'a> Call<'a> {
    fn new(server: &NetsuiteTba, path: &'a str, nonce: &'a str) -> Call<'a> {
        let creds = server.credentials();
        Call { realm: creds.account_id.clone(), creds, timestamp: server.now(), nonce, method: "GET", path }
    }

    async fn send(&self, server: &NetsuiteTba) -> (StatusCode, Value) {
        let url = server.base_url().join(self.path).unwrap();
        let header = authorization(&self.creds, self.method, &url, &self.realm, self.timestamp, self.nonce, &[]);
        send_signed(self.method, &url, &header, None).await
    }
}

async fn send_signed(method: &str, url: &Url, header: &str, form: Option<&[(String, String)]>) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client().request(method, url.clone()).header("authorization", header);
    if let Some(form) = form {
        req = req.form(form);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

const CATALOG: &str = "services/rest/record/v1/metadata-catalog";

fn assert_invalid_login(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2");
    assert_eq!(body["title"], "Unauthorized");
    assert_eq!(body["status"], 401);
    assert_eq!(body["o:errorDetails"][0]["o:errorCode"], "INVALID_LOGIN");
    assert!(body["o:errorDetails"][0]["detail"].as_str().unwrap().starts_with("Invalid login attempt."));
}

// ---------------------------------------------------------------------------
// The emulation over HTTP
// ---------------------------------------------------------------------------

#[tokio::test]
async fn good_signature_is_accepted_and_reads_the_company_name() {
    let server = NetsuiteTba::start().await.unwrap();
    server.set_company_name("Smith & Sons \"Ltd\"");
    let (status, body) = Call::new(&server, CATALOG, "nonce-0001").send(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["items"].as_array().unwrap().iter().any(|i| i["name"] == "subsidiary"));

    let (status, body) = Call::new(&server, "services/rest/record/v1/subsidiary/1", "nonce-0002").send(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Smith & Sons \"Ltd\"");
    assert_eq!(body["id"], "1");

    // Query parameters are signed too (decoded, re-encoded, sorted).
    let (status, body) =
        Call::new(&server, "services/rest/record/v1/metadata-catalog?select=a%20b&limit=5", "nonce-0003")
            .send(&server)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = Call::new(&server, "services/rest/record/v1/subsidiary/2", "nonce-0004").send(&server).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["o:errorDetails"][0]["o:errorCode"], "NONEXISTENT_ID");

    assert_eq!(server.calls(), 4);
    assert!(server.rejections().is_empty());
    let recorded = server.requests();
    let auth = recorded[0].header("authorization").unwrap();
    assert!(auth.starts_with("OAuth realm=\"1234567_SB1\""), "{auth}");
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_secrets_are_refused() {
    let server = NetsuiteTba::start().await.unwrap();
    let mut call = Call::new(&server, CATALOG, "nonce-a1");
    call.creds.consumer_secret.push('x');
    let (status, body) = call.send(&server).await;
    assert_invalid_login(status, &body);

    let mut call = Call::new(&server, CATALOG, "nonce-a2");
    call.creds.token_secret = "not-the-token-secret".to_owned();
    let (status, body) = call.send(&server).await;
    assert_invalid_login(status, &body);

    // Secrets used without RFC 5849 encoding in the key also fail.
    let creds = server.credentials();
    let url = server.base_url().join(CATALOG).unwrap();
    let base = oauth1::signature_base_string(
        "GET",
        &url,
        &[
            ("oauth_consumer_key".into(), creds.consumer_key.clone()),
            ("oauth_token".into(), creds.token_id.clone()),
            ("oauth_signature_method".into(), "HMAC-SHA256".into()),
            ("oauth_timestamp".into(), server.now().to_string()),
            ("oauth_nonce".into(), "nonce-a3".into()),
        ],
    );
    let mut mac =
        Hmac::<Sha256>::new_from_slice(format!("{}&{}", creds.consumer_secret, creds.token_secret).as_bytes()).unwrap();
    mac.update(base.as_bytes());
    let header = format!(
        "OAuth realm=\"{}\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"{}\", oauth_nonce=\"nonce-a3\", oauth_signature=\"{}\"",
        creds.account_id,
        creds.consumer_key,
        creds.token_id,
        server.now(),
        oauth1::percent_encode(&STANDARD.encode(mac.finalize().into_bytes()))
    );
    let (status, body) = send_signed("GET", &url, &header, None).await;
    assert_invalid_login(status, &body);

    assert_eq!(server.rejections(), [TbaRejection::Signature; 3]);
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_realm_key_or_token_is_refused() {
    let server = NetsuiteTba::start().await.unwrap();
    let mut call = Call::new(&server, CATALOG, "nonce-b1");
    call.realm = "1234567-sb1".to_owned(); // the host-name form, not the account id
    let (status, body) = call.send(&server).await;
    assert_invalid_login(status, &body);

    let mut call = Call::new(&server, CATALOG, "nonce-b2");
    call.creds.consumer_key = "someone-else".to_owned();
    let (status, body) = call.send(&server).await;
    assert_invalid_login(status, &body);

    let mut call = Call::new(&server, CATALOG, "nonce-b3");
    call.creds.token_id = "other-token".to_owned();
    let (status, body) = call.send(&server).await;
    assert_invalid_login(status, &body);

    let (status, body) = send_signed("GET", &server.base_url().join(CATALOG).unwrap(), "Bearer abc", None).await;
    assert_invalid_login(status, &body);

    assert_eq!(
        server.rejections(),
        [TbaRejection::Realm, TbaRejection::ConsumerKey, TbaRejection::Token, TbaRejection::MalformedHeader]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn timestamps_outside_five_minutes_are_refused() {
    let server = NetsuiteTba::start().await.unwrap();
    let signed_at = server.now();
    server.advance(std::time::Duration::from_secs(301));
    let mut call = Call::new(&server, CATALOG, "nonce-c1");
    call.timestamp = signed_at;
    let (status, body) = call.send(&server).await;
    assert_invalid_login(status, &body);

    // From the future, too.
    let mut call = Call::new(&server, CATALOG, "nonce-c2");
    call.timestamp = server.now() + 301;
    let (status, body) = call.send(&server).await;
    assert_invalid_login(status, &body);

    // 300 s either way is still fine.
    let mut call = Call::new(&server, CATALOG, "nonce-c3");
    call.timestamp = server.now() - 300;
    assert_eq!(call.send(&server).await.0, StatusCode::OK);

    server.set_now(2_000_000_000);
    let mut call = Call::new(&server, CATALOG, "nonce-c4");
    call.timestamp = 2_000_000_000;
    assert_eq!(call.send(&server).await.0, StatusCode::OK);

    assert_eq!(server.rejections(), [TbaRejection::Timestamp, TbaRejection::Timestamp]);
    server.shutdown().await;
}

#[tokio::test]
async fn replayed_nonce_and_short_nonce_are_refused() {
    let server = NetsuiteTba::start().await.unwrap();
    let url = server.base_url().join(CATALOG).unwrap();
    let creds = server.credentials();
    let header = authorization(&creds, "GET", &url, &creds.account_id, server.now(), "nonce-d1", &[]);
    assert_eq!(send_signed("GET", &url, &header, None).await.0, StatusCode::OK);
    let (status, body) = send_signed("GET", &url, &header, None).await;
    assert_invalid_login(status, &body);

    let (status, body) = Call::new(&server, CATALOG, "12345").send(&server).await;
    assert_invalid_login(status, &body);
    assert_eq!(server.rejections(), [TbaRejection::NonceReused, TbaRejection::NonceTooShort]);
    server.shutdown().await;
}

#[tokio::test]
async fn revoked_token_is_refused() {
    let server = NetsuiteTba::start().await.unwrap();
    assert_eq!(Call::new(&server, CATALOG, "nonce-e1").send(&server).await.0, StatusCode::OK);
    server.revoke_token();
    let (status, body) = Call::new(&server, CATALOG, "nonce-e2").send(&server).await;
    assert_invalid_login(status, &body);
    assert_eq!(server.rejections(), [TbaRejection::TokenRevoked]);
    server.shutdown().await;
}

#[tokio::test]
async fn the_signed_url_must_be_the_public_one_and_form_bodies_are_signed() {
    let server = NetsuiteTba::start().await.unwrap();
    let creds = server.credentials();
    // Signed for another host than the one the request goes to.
    let sent = server.base_url().join(CATALOG).unwrap();
    let mut signed = sent.clone();
    signed.set_host(Some("localhost")).unwrap();
    let header = authorization(&creds, "GET", &signed, &creds.account_id, server.now(), "nonce-f1", &[]);
    let (status, body) = send_signed("GET", &sent, &header, None).await;
    assert_invalid_login(status, &body);

    // HMAC-SHA1 is refused.
    let header = authorization(&creds, "GET", &sent, &creds.account_id, server.now(), "nonce-f2", &[])
        .replace("HMAC-SHA256", "HMAC-SHA1");
    let (status, body) = send_signed("GET", &sent, &header, None).await;
    assert_invalid_login(status, &body);

    // A form body's parameters are part of the signature: signed with them,
    // the request passes authentication (and the catalog refuses POST).
    let form = vec![("a b".to_owned(), "c+d&e".to_owned())];
    let header = authorization(&creds, "POST", &sent, &creds.account_id, server.now(), "nonce-f3", &form);
    let (status, _) = send_signed("POST", &sent, &header, Some(&form)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // Signed without them, it does not.
    let header = authorization(&creds, "POST", &sent, &creds.account_id, server.now(), "nonce-f4", &[]);
    let (status, body) = send_signed("POST", &sent, &header, Some(&form)).await;
    assert_invalid_login(status, &body);

    assert_eq!(server.rejections(), [TbaRejection::Signature, TbaRejection::SignatureMethod, TbaRejection::Signature]);
    server.shutdown().await;
}

#[tokio::test]
async fn faults_apply_before_authentication_and_are_counted() {
    let server = NetsuiteTba::start().await.unwrap();
    server.fail_next(Fault::TooManyRequests { retry_after_secs: 7 });
    server.fail_next(Fault::Status(503));
    let url = server.base_url().join(CATALOG).unwrap();
    let resp = client().get(url.clone()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(client().get(url).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(Call::new(&server, CATALOG, "nonce-g1").send(&server).await.0, StatusCode::OK);
    assert_eq!(server.calls(), 3);
    assert_eq!(server.requests().len(), 3);
    assert!(server.rejections().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn debug_output_redacts_secrets() {
    let server = NetsuiteTba::start().await.unwrap();
    let creds = server.credentials();
    let debug = format!("{creds:?}");
    assert!(!debug.contains(&creds.consumer_secret) && !debug.contains(&creds.token_secret), "{debug}");
    assert!(debug.contains("1234567_SB1") && debug.contains("[redacted]"));
    // The secrets really need RFC 5849 encoding.
    assert_ne!(oauth1::percent_encode(&creds.consumer_secret), creds.consumer_secret);
    assert_ne!(oauth1::percent_encode(&creds.token_secret), creds.token_secret);
    assert!(!format!("{server:?}").contains(&creds.token_secret));
    server.shutdown().await;
}
