//! SECURITY case 17: callback parsing never panics, and agrees with an independent oracle.
//!
//! The input (lossily decoded as UTF-8) goes through `Callback::from_query`, and through
//! `Callback::from_url` on `http://127.0.0.1/cb?<input>` when that is a URL. The oracle re-parses
//! the same query with `url::form_urlencoded::parse`:
//! - `from_query` succeeds exactly when no name is empty and no name repeats (RFC 9700: a repeated
//!   `code`, `state` or `iss` is an attack signal), and fails with the first offending name;
//! - on success every name maps to the value `get` returns;
//! - decode(encode(x)) == x: re-serializing the parameters and parsing again gives the same callback;
//! - the Debug output never depends on the values of `code`, `state` or `id_token`.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use railz_connect_core::{Callback, CallbackError};
use url::Url;
use url::form_urlencoded;

const SECRET_PARAMS: [&str; 3] = ["code", "state", "id_token"];

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    check_query(&input);

    if let Ok(url) = Url::parse(&format!("http://127.0.0.1/cb?{input}")) {
        let query = url.query().unwrap_or_default();
        let via_url = Callback::from_url(&url);
        let via_query = Callback::from_query(query);
        assert_eq!(via_url.as_ref().err(), via_query.as_ref().err(), "from_url and from_query disagree on {query:?}");
        check_query(query);
    }
});

/// How the SDK bounds an outside value it keeps in an error: at most 256 characters, control
/// characters replaced by U+FFFD, `…` when cut.
fn bounded(value: &str) -> String {
    let mut out: String =
        value.chars().take(256).map(|c| if c.is_control() { char::REPLACEMENT_CHARACTER } else { c }).collect();
    if value.chars().nth(256).is_some() {
        out.push('…');
    }
    out
}

/// What `from_query` must answer for `query`: the parameters, or the first offending name
/// (bounded).
fn oracle(query: &str) -> Result<BTreeMap<String, String>, CallbackError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut params = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name.is_empty() {
            return Err(CallbackError::Malformed);
        }
        if params.contains_key(name.as_ref()) {
            return Err(CallbackError::DuplicateParameter(bounded(&name)));
        }
        params.insert(name.into_owned(), value.into_owned());
    }
    Ok(params)
}

fn check_query(query: &str) {
    let parsed = Callback::from_query(query);
    let expected = oracle(query);
    let (callback, params) = match (parsed, expected) {
        (Ok(callback), Ok(params)) => (callback, params),
        (Err(got), Err(want)) => {
            assert_eq!(got, want, "wrong rejection for {query:?}");
            return;
        }
        (Ok(callback), Err(want)) => panic!("accepted {query:?} ({callback:?}), expected {want:?}"),
        (Err(got), Ok(params)) => panic!("rejected {query:?} with {got:?}, expected {params:?}"),
    };
    check_params(&callback, &params, query);

    for name in ["code", "state", "iss", "error"] {
        let _ = callback.get(name);
    }
    let debug = format!("{callback:?}");

    // decode(encode(x)) == x.
    let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
    let again = Callback::from_query(&encoded)
        .unwrap_or_else(|e| panic!("re-encoded {query:?} as {encoded:?}, which is rejected: {e:?}"));
    check_params(&again, &params, &encoded);

    // The secret values do not reach Debug: replacing them leaves it unchanged.
    if SECRET_PARAMS.iter().any(|s| params.contains_key(*s)) {
        let masked = params
            .iter()
            .map(|(k, v)| (k.as_str(), if SECRET_PARAMS.contains(&k.as_str()) { "other value" } else { v.as_str() }));
        let masked = form_urlencoded::Serializer::new(String::new()).extend_pairs(masked).finish();
        let masked = Callback::from_query(&masked).expect("the masked query has the same names");
        assert_eq!(debug, format!("{masked:?}"), "a secret value shows in Debug for {query:?}");
    }
}

/// Every name maps to the value `get` returns, and nothing else is there.
fn check_params(callback: &Callback, params: &BTreeMap<String, String>, query: &str) {
    for (name, value) in params {
        assert_eq!(callback.get(name), Some(value.as_str()), "parameter {name:?} of {query:?}");
    }
    for name in ["code", "state", "iss", "error", "id_token", "realmId", ""] {
        if !params.contains_key(name) {
            assert_eq!(callback.get(name), None, "{name:?} is not in {query:?}");
        }
    }
}
