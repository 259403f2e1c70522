//! Building an [`HttpClient`] configures TLS on that client only: the process-wide default
//! rustls crypto provider stays unset, so an app's own rustls clients do not depend on whether
//! the SDK ran first.
//!
//! This is a test binary of its own, with one test, so that nothing else in the process has
//! installed a default provider.

use std::time::Duration;

use railz_connect_core::http::HttpClient;
use rustls::crypto::CryptoProvider;

#[test]
fn building_clients_installs_no_default_crypto_provider() {
    assert!(CryptoProvider::get_default().is_none(), "no test before this one installs a provider");
    let _default = HttpClient::new().expect("an HTTP client with the default timeouts");
    let _custom = HttpClient::with_timeouts(Duration::from_secs(3), Duration::from_secs(1))
        .expect("an HTTP client with custom timeouts");
    assert!(CryptoProvider::get_default().is_none(), "building an HttpClient installed a default rustls provider");
}
