//! OAuth 1.0a request signing (RFC 5849 section 3.4) with HMAC-SHA256, as NetSuite's
//! token-based authentication needs it.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;
use url::Url;
use zeroize::Zeroizing;

/// RFC 5849 3.6: everything but the unreserved characters is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The keys a request is signed with.
pub(crate) struct Keys<'a> {
    pub(crate) realm: &'a str,
    pub(crate) consumer_key: &'a str,
    pub(crate) consumer_secret: &'a str,
    pub(crate) token: &'a str,
    pub(crate) token_secret: &'a str,
}

/// The signature base string (RFC 5849 3.4.1): the method, the base string URI and the
/// normalized parameters (query, form body and `oauth_*`, without `realm` and
/// `oauth_signature`).
pub(crate) fn base_string(method: &str, url: &Url, params: &[(String, String)]) -> String {
    let mut uri = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default().to_ascii_lowercase());
    if let Some(port) = url.port() {
        uri.push_str(&format!(":{port}"));
    }
    uri.push_str(url.path());
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (enc(&k), enc(&v)))
        .chain(params.iter().map(|(k, v)| (enc(k), enc(v))))
        .collect();
    pairs.sort();
    let normalized = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    format!("{}&{}&{}", method.to_ascii_uppercase(), enc(&uri), enc(&normalized))
}

/// The `Authorization: OAuth ...` header value of a request signed with HMAC-SHA256.
/// `body_params` are the request's form-encoded body parameters, if any.
pub(crate) fn authorization(
    method: &str,
    url: &Url,
    body_params: &[(String, String)],
    keys: &Keys<'_>,
    timestamp: i64,
    nonce: &str,
) -> String {
    let timestamp = timestamp.to_string();
    let oauth = [
        ("oauth_consumer_key", keys.consumer_key),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA256"),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_token", keys.token),
        ("oauth_version", "1.0"),
    ];
    let mut params: Vec<(String, String)> = body_params.to_vec();
    params.extend(oauth.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let base = base_string(method, url, &params);
    let key = Zeroizing::new(format!("{}&{}", enc(keys.consumer_secret), enc(keys.token_secret)));
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(base.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut header = format!("OAuth realm=\"{}\"", enc(keys.realm));
    for (k, v) in oauth.iter().chain([("oauth_signature", signature.as_str())].iter()) {
        header.push_str(&format!(",{k}=\"{}\"", enc(v)));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5849 section 3.4.1.1's example, byte for byte.
    #[test]
    fn rfc5849_base_string() {
        let url = Url::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap();
        let params: Vec<(String, String)> = [
            ("c2", ""),
            ("a3", "2 q"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            base_string("POST", &url, &params),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn header_shape_and_determinism() {
        let url = Url::parse("https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/metadata-catalog")
            .unwrap();
        let keys =
            Keys { realm: "1234567_SB1", consumer_key: "ck", consumer_secret: "cs&", token: "tk", token_secret: "ts" };
        let a = authorization("GET", &url, &[], &keys, 1_800_000_000, "n0nce");
        assert_eq!(a, authorization("GET", &url, &[], &keys, 1_800_000_000, "n0nce"));
        assert_ne!(a, authorization("GET", &url, &[], &keys, 1_800_000_001, "n0nce"));
        assert!(a.starts_with("OAuth realm=\"1234567_SB1\",oauth_consumer_key=\"ck\",oauth_nonce=\"n0nce\","));
        assert!(a.contains("oauth_signature_method=\"HMAC-SHA256\""));
        assert!(!a.contains("cs&"), "secrets are never in the header");
    }
}
