//! OAuth 1.0a request signatures (RFC 5849) with `HMAC-SHA256`, the method
//! NetSuite token-based authentication (TBA) uses.
//!
//! Pure functions, no I/O: parse an `Authorization: OAuth ...` header
//! ([`parse_authorization`], RFC 5849 section 3.5.1), build the signature
//! base string ([`signature_base_string`], section 3.4.1, with the
//! percent-encoding of section 3.6, [`percent_encode`]), sign it
//! ([`sign`], section 3.4.2 with SHA-256 in place of SHA-1) and check a
//! whole request ([`verify`]).
//!
//! What is signed (section 3.4.1.3): the query parameters of the URL, the
//! protocol parameters of the header except `realm` and `oauth_signature`,
//! and the parameters of an `application/x-www-form-urlencoded` body (the
//! caller passes those; other bodies are not signed).
//!
//! ```
//! use railz_connect_mock::oauth1;
//! use url::Url;
//!
//! // RFC 5849 section 3.4.1.1, the example request.
//! let url = Url::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap();
//! let header = r#"OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D""#;
//! let oauth = oauth1::parse_authorization(header).unwrap();
//! let mut params = oauth.signed_params();
//! params.extend(oauth1::form_params(b"c2&a3=2+q"));
//! let base = oauth1::signature_base_string("POST", &url, &params);
//! assert!(base.starts_with("POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q"));
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::{Url, form_urlencoded};

/// The only signature method [`verify`] accepts.
pub const HMAC_SHA256: &str = "HMAC-SHA256";

type HmacSha256 = Hmac<Sha256>;

/// Why a request's OAuth 1.0a signature was not accepted.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Oauth1Error {
    /// The header does not use the `OAuth` scheme.
    #[error("the Authorization header does not use the OAuth scheme")]
    NotOAuth,
    /// The header's parameter list cannot be parsed (RFC 5849 section 3.5.1).
    #[error("malformed OAuth Authorization header: {0}")]
    Malformed(String),
    /// A protocol parameter appears more than once.
    #[error("OAuth parameter {0} appears more than once")]
    DuplicateParam(String),
    /// A required protocol parameter is missing.
    #[error("OAuth parameter {0} is missing")]
    MissingParam(&'static str),
    /// `oauth_signature_method` is not `HMAC-SHA256`.
    #[error("unsupported oauth_signature_method {0:?}")]
    UnsupportedSignatureMethod(String),
    /// `oauth_version` is present and not `1.0`.
    #[error("unsupported oauth_version {0:?}")]
    UnsupportedVersion(String),
    /// `oauth_timestamp` is not a whole number of seconds.
    #[error("oauth_timestamp is not a number")]
    BadTimestamp,
    /// The signature does not match the request and the secrets.
    #[error("the OAuth signature does not match")]
    BadSignature,
}

/// The parameters of an `Authorization: OAuth ...` header, percent-decoded,
/// in header order.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthParams {
    /// The `realm` parameter, if any (not signed).
    pub realm: Option<String>,
    /// Every other parameter, `oauth_signature` included, in header order.
    pub params: Vec<(String, String)>,
}

impl fmt::Debug for OAuthParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The signature is not a secret, but it is a credential-shaped value
        // some logs should not carry: show the names only.
        let names: Vec<&str> = self.params.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OAuthParams").field("realm", &self.realm).field("params", &names).finish()
    }
}

impl OAuthParams {
    /// The value of parameter `name` (first occurrence).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The signed protocol parameters: all but `realm` and `oauth_signature`
    /// (RFC 5849 section 3.4.1.3.1).
    pub fn signed_params(&self) -> Vec<(String, String)> {
        self.params.iter().filter(|(n, _)| n != "oauth_signature").cloned().collect()
    }
}

/// What [`verify`] checked: the signed identity of the request. Timestamp
/// and nonce are returned for the caller to check against its clock and its
/// record of used nonces (RFC 5849 section 3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedOAuth {
    /// `oauth_consumer_key`.
    pub consumer_key: String,
    /// `oauth_token`, if present.
    pub token: Option<String>,
    /// `realm`, if present (it is not covered by the signature).
    pub realm: Option<String>,
    /// `oauth_timestamp`, seconds since the Unix epoch.
    pub timestamp: i64,
    /// `oauth_nonce`.
    pub nonce: String,
}

/// RFC 5849 section 3.6: every byte of the UTF-8 form except the unreserved
/// characters `A-Z a-z 0-9 - . _ ~` becomes `%XX` (upper-case hex).
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for &byte in input.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (no `+` rule), as header parameter values are
/// encoded (RFC 5849 section 3.5.1).
fn percent_decode(input: &str) -> Result<String, Oauth1Error> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Oauth1Error::Malformed("bad percent-encoding".to_owned()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Oauth1Error::Malformed("parameter is not UTF-8".to_owned()))
}

/// Parses `OAuth realm="...", oauth_consumer_key="...", ...` (RFC 5849
/// section 3.5.1): the scheme name is case-insensitive; parameters are
/// `name="value"` pairs separated by commas with optional whitespace;
/// values are percent-decoded. A parameter given twice is an error.
pub fn parse_authorization(header: &str) -> Result<OAuthParams, Oauth1Error> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return Err(Oauth1Error::NotOAuth);
    }
    let mut realm = None;
    let mut params: Vec<(String, String)> = Vec::new();
    let mut rest = rest.trim_start();
    while !rest.is_empty() {
        let (name, after) =
            rest.split_once('=').ok_or_else(|| Oauth1Error::Malformed("parameter without '='".to_owned()))?;
        let name = name.trim();
        let after =
            after.strip_prefix('"').ok_or_else(|| Oauth1Error::Malformed(format!("value of {name} is not quoted")))?;
        let (raw, after) =
            after.split_once('"').ok_or_else(|| Oauth1Error::Malformed(format!("value of {name} is not closed")))?;
        if name.is_empty() {
            return Err(Oauth1Error::Malformed("empty parameter name".to_owned()));
        }
        let value = percent_decode(raw)?;
        let name = percent_decode(name)?;
        if name == "realm" {
            if realm.is_some() {
                return Err(Oauth1Error::DuplicateParam(name));
            }
            realm = Some(value);
        } else {
            if params.iter().any(|(n, _)| *n == name) {
                return Err(Oauth1Error::DuplicateParam(name));
            }
            params.push((name, value));
        }
        let after = after.trim_start();
        rest = match after.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if after.is_empty() => after,
            None => return Err(Oauth1Error::Malformed("parameters must be separated by ','".to_owned())),
        };
    }
    Ok(OAuthParams { realm, params })
}

/// Decodes an `application/x-www-form-urlencoded` body into parameters
/// (`+` is a space), for [`signature_base_string`] and [`verify`].
pub fn form_params(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// RFC 5849 section 3.4.1.2: lower-case scheme and host, the port only when
/// it is not the scheme's default, the path; no query, no fragment.
fn base_string_uri(url: &Url) -> String {
    let mut out =
        format!("{}://{}", url.scheme().to_ascii_lowercase(), url.host_str().unwrap_or("").to_ascii_lowercase());
    // `Url::port` is already `None` for the scheme's default port.
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    out
}

/// RFC 5849 section 3.4.1.3.2: encode names and values, sort by name then
/// value, join as `name=value` with `&`. `realm` and `oauth_signature` in
/// `params` are left out.
fn normalized_parameters(url: &Url, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .chain(params.iter().map(|(n, v)| (n.as_str().into(), v.as_str().into())))
        .filter(|(n, _)| n != "realm" && n != "oauth_signature")
        .map(|(n, v)| (percent_encode(&n), percent_encode(&v)))
        .collect();
    pairs.sort();
    pairs.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&")
}

/// The signature base string (RFC 5849 section 3.4.1.1): the upper-case
/// method, the base string URI and the normalized parameters, each
/// percent-encoded, joined with `&`.
///
/// The query parameters are read from `url`; `params` are the other signed
/// parameters: the protocol parameters (`oauth_*`; `realm` and
/// `oauth_signature` are ignored if present) and, for an
/// `application/x-www-form-urlencoded` body, its parameters
/// ([`form_params`]).
pub fn signature_base_string(method: &str, url: &Url, params: &[(String, String)]) -> String {
    format!(
        "{}&{}&{}",
        percent_encode(&method.to_ascii_uppercase()),
        percent_encode(&base_string_uri(url)),
        percent_encode(&normalized_parameters(url, params))
    )
}

/// The HMAC key (RFC 5849 section 3.4.2): the encoded consumer secret and
/// the encoded token secret joined with `&` (an empty token secret keeps
/// the `&`).
fn signing_key(consumer_secret: &str, token_secret: &str) -> String {
    format!("{}&{}", percent_encode(consumer_secret), percent_encode(token_secret))
}

fn mac(consumer_secret: &str, token_secret: &str, base_string: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(signing_key(consumer_secret, token_secret).as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(base_string.as_bytes());
    mac
}

/// The `HMAC-SHA256` signature of `base_string`, base64 (not yet
/// percent-encoded for the header).
pub fn sign(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    STANDARD.encode(mac(consumer_secret, token_secret, base_string).finalize().into_bytes())
}

/// Checks a request's `Authorization: OAuth ...` header: the required
/// parameters are present (`oauth_consumer_key`, `oauth_signature_method`
/// = `HMAC-SHA256`, `oauth_timestamp`, `oauth_nonce`, `oauth_signature`;
/// `oauth_version`, if present, is `1.0`), and the signature matches the
/// request (`method`, the public `url` the client signed, `body_params` of
/// a form body, empty otherwise) under the two secrets (compared in
/// constant time).
///
/// Which consumer and token the secrets belong to, the realm, the timestamp
/// window and nonce reuse are the caller's checks: the identity comes back
/// in [`VerifiedOAuth`]. A caller that needs the consumer key to find the
/// secrets first calls [`parse_authorization`].
pub fn verify(
    method: &str,
    url: &Url,
    authorization_header: &str,
    body_params: &[(String, String)],
    consumer_secret: &str,
    token_secret: &str,
) -> Result<VerifiedOAuth, Oauth1Error> {
    let oauth = parse_authorization(authorization_header)?;
    let required = |name: &'static str| oauth.get(name).map(str::to_owned).ok_or(Oauth1Error::MissingParam(name));
    let consumer_key = required("oauth_consumer_key")?;
    let signature_method = required("oauth_signature_method")?;
    let signature = required("oauth_signature")?;
    let timestamp = required("oauth_timestamp")?;
    let nonce = required("oauth_nonce")?;
    if signature_method != HMAC_SHA256 {
        return Err(Oauth1Error::UnsupportedSignatureMethod(signature_method));
    }
    if let Some(version) = oauth.get("oauth_version")
        && version != "1.0"
    {
        return Err(Oauth1Error::UnsupportedVersion(version.to_owned()));
    }
    let timestamp: i64 = timestamp.parse().map_err(|_| Oauth1Error::BadTimestamp)?;
    let mut params = oauth.signed_params();
    params.extend(body_params.iter().cloned());
    let base = signature_base_string(method, url, &params);
    let given = STANDARD.decode(signature.as_bytes()).map_err(|_| Oauth1Error::BadSignature)?;
    mac(consumer_secret, token_secret, &base).verify_slice(&given).map_err(|_| Oauth1Error::BadSignature)?;
    Ok(VerifiedOAuth {
        consumer_key,
        token: oauth.get("oauth_token").map(str::to_owned),
        realm: oauth.realm,
        timestamp,
        nonce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_follows_section_3_6() {
        assert_eq!(percent_encode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
        assert_eq!(percent_encode("An encoded string!"), "An%20encoded%20string%21");
        assert_eq!(percent_encode("Dogs, Cats & Mice"), "Dogs%2C%20Cats%20%26%20Mice");
        assert_eq!(percent_encode("☃"), "%E2%98%83");
        assert_eq!(percent_encode("-._~"), "-._~");
    }

    #[test]
    fn header_parsing() {
        let p = parse_authorization(r#"oauth realm="R%20x",oauth_a="1",  oauth_b="%2B""#).unwrap();
        assert_eq!(p.realm.as_deref(), Some("R x"));
        assert_eq!(p.get("oauth_b"), Some("+"));
        assert_eq!(parse_authorization("Bearer abc"), Err(Oauth1Error::NotOAuth));
        assert!(matches!(parse_authorization(r#"OAuth a="1", a="2""#), Err(Oauth1Error::DuplicateParam(_))));
        assert!(matches!(parse_authorization(r#"OAuth a=1"#), Err(Oauth1Error::Malformed(_))));
        assert!(matches!(parse_authorization(r#"OAuth a="1" b="2""#), Err(Oauth1Error::Malformed(_))));
    }

    #[test]
    fn base_string_uri_drops_default_port_keeps_others() {
        let url = Url::parse("HTTP://EXAMPLE.COM:80/r%20v/X?id=123").unwrap();
        assert_eq!(base_string_uri(&url), "http://example.com/r%20v/X");
        let url = Url::parse("https://www.example.net:8080/?q=1").unwrap();
        assert_eq!(base_string_uri(&url), "https://www.example.net:8080/");
    }
}
