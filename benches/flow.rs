//! Benchmarks, each beside a floor measured in the same run:
//!
//! - `flow/sdk`: one whole connection (session, begin, browser step, complete with code
//!   exchange, company listing, encrypted insert) against the loopback sandbox, with the
//!   in-memory store; floor `flow/bare_reqwest`: the same three HTTP exchanges (authorize on a
//!   fresh connection like the stand-in browser, then token and companies on a pooled one) done
//!   with bare reqwest.
//! - `credentials/seal_and_store`: serialize + seal a token set + compare-and-swap write in the
//!   embedded SQLite store, called as the SDK calls it (through `Arc<dyn Store>`); floor
//!   `credentials/raw_encrypt_and_update`: raw aes-gcm-siv + one raw UPDATE on the same
//!   database file with the same pragmas. Both wait for one `fsync`, whose time varies from
//!   run to run far more than the SDK's overhead.
//! - `credentials/load_and_open`: store read (through `Arc<dyn Store>`) + `Keyring::open` +
//!   parsing the token set; floor `credentials/raw_select_and_decrypt`: one raw SELECT + raw
//!   aes-gcm-siv decrypt on the same file. Every API call an app makes pays this read.
//!
//! Run with `cargo bench --bench flow`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aes_gcm_siv::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use railz_connect::crypto::{DataKey, Keyring, RecordBinding, RecordKind};
use railz_connect::provider::{Credentials, Inputs, TokenSet};
use railz_connect::providers::railz_sandbox::{self, RailzSandboxConfig};
use railz_connect::secret::{AccessToken, ClientSecret, RefreshToken};
use railz_connect::store::{MemoryStore, SqliteStore, Store};
use railz_connect::{
    BusinessName, Callback, Completion, Connect, Connection, ConnectionId, ServiceName, SessionRequest, WidgetConfig,
    WidgetId,
};
use railz_connect_mock::MockServer;
use sha2::Digest;
use tokio::runtime::Runtime;

const CALLBACK: &str = "http://127.0.0.1:9/connect/callback";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn flow(c: &mut Criterion) {
    let rt = runtime();
    let mock = rt.block_on(MockServer::start()).unwrap();
    let config = RailzSandboxConfig::new(mock.base_url(), mock.client_id(), ClientSecret::new(mock.client_secret()));
    let widget_id = WidgetId::new("bench").unwrap();
    let widget = WidgetConfig::builder(widget_id.clone())
        .with_redirect_uri(CALLBACK.parse().unwrap())
        .with_success_url("https://app.example/ok".parse().unwrap())
        .with_failure_url("https://app.example/fail".parse().unwrap())
        .build()
        .unwrap();
    let connect = Connect::builder()
        .with_provider(Arc::new(railz_sandbox::provider(&config)))
        .with_store(Arc::new(MemoryStore::new()))
        .with_keyring(Keyring::new(1, DataKey::generate()))
        .with_widget(widget)
        .build()
        .unwrap();
    let service = ServiceName::new(railz_sandbox::SERVICE_NAME).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bare = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // The browser step opens a fresh connection, as `railz_connect_mock::browser` does.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let basic = {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(mock.client_id()),
                enc(mock.client_secret())
            ))
        )
    };

    let sdk_browser = railz_connect_mock::browser::Browser::new().unwrap();
    let callback: url::Url = CALLBACK.parse().unwrap();
    let mut group = c.benchmark_group("flow");
    group.sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    group.bench_function("sdk", |b| {
        b.to_async(&rt).iter(|| async {
            let session = connect.create_session(&widget_id, SessionRequest::new()).await.unwrap();
            let start = connect.begin(&session.token, &service, Inputs::new()).await.unwrap();
            let target = sdk_browser.authorize(&start.url, &callback).await.unwrap();
            let cookie = start.set_cookie().unwrap();
            let cookie = cookie.split(';').next().unwrap();
            let done =
                connect.complete(&Callback::from_url(&target).unwrap().with_cookie_header(cookie)).await.unwrap();
            assert!(matches!(done, Completion::Connected { .. }));
            black_box(done);
        })
    });
    group.bench_function("bare_reqwest", |b| {
        b.to_async(&rt).iter(|| async {
            let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
            let challenge =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            let mut url = mock.authorize_url();
            url.query_pairs_mut()
                .append_pair("response_type", "code")
                .append_pair("client_id", mock.client_id())
                .append_pair("redirect_uri", CALLBACK)
                .append_pair("scope", "accounting.read")
                .append_pair("state", "bench-state-0123456789")
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            let r = browser.get(url).send().await.unwrap();
            let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
            let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
            let token: serde_json::Value = bare
                .post(mock.token_url())
                .header("authorization", &basic)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CALLBACK),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let access = token["access_token"].as_str().unwrap();
            let companies: serde_json::Value = bare
                .get(mock.api_url().join("companies").unwrap())
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            black_box(companies);
        })
    });
    group.finish();
}

fn token_set() -> TokenSet {
    let mut t = TokenSet::new(AccessToken::new("a".repeat(64)), time::OffsetDateTime::now_utc());
    t.refresh_token = Some(RefreshToken::new("r".repeat(64)));
    t.scopes = vec!["accounting.read".into()];
    t.access_expires_at = Some(t.obtained_at + time::Duration::hours(1));
    t.params.insert("tenantId".into(), "cmp_sandbox_1".into());
    t
}

fn credentials(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let store: Arc<dyn Store> = Arc::new(rt.block_on(SqliteStore::open(&path)).unwrap());
    let keyring = Keyring::new(1, DataKey::from_bytes([7; 32]));
    let now = time::OffsetDateTime::now_utc();
    let connection = Connection::new(
        ConnectionId::new_random(),
        WidgetId::new("bench").unwrap(),
        BusinessName::new("Bench Ltd").unwrap(),
        ServiceName::new("railzSandbox").unwrap(),
        now,
    );
    let id = connection.id.to_string();
    let ids = [id.as_str(), connection.business_name.as_str(), connection.service_name.as_str()];
    let tokens = Credentials::from(token_set());
    let first = keyring.seal_credentials(&connection, &tokens).unwrap();
    rt.block_on(store.insert_connection(&connection, &first, &[])).unwrap();

    // The floor: a second connection to the same file, same pragmas, a raw row of its own.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.pragma_update(None, "journal_mode", "WAL").unwrap();
    raw.pragma_update(None, "synchronous", "FULL").unwrap();
    // The same columns the store writes: the blob, its key id and the two expiries.
    raw.execute_batch(
        "CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, blob BLOB NOT NULL, key_id INTEGER NOT NULL,
         access_expires_at INTEGER, refresh_expires_at INTEGER);
         INSERT OR REPLACE INTO floor VALUES (1, x'00', 1, NULL, NULL);",
    )
    .unwrap();
    let cipher = Aes256GcmSiv::new_from_slice(&[7; 32]).unwrap();
    // The floor encrypts a payload of the same size as the SDK's sealed token set.
    let plaintext = keyring.open(&RecordBinding::new(RecordKind::Credentials, &ids), &first.blob).unwrap();
    let expiry = first.access_expires_at.map(|t| t.unix_timestamp_nanos() as i64);

    let mut group = c.benchmark_group("credentials");
    group.sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    let mut version = 1u64;
    group.bench_function("seal_and_store", |b| {
        b.to_async(&rt).iter(|| {
            let sealed = keyring.seal_credentials(&connection, &tokens).unwrap();
            let v = version;
            version += 1;
            let store = &store;
            let cid = connection.id;
            async move {
                assert_eq!(store.replace_credentials(&cid, v, &sealed, &[]).await.unwrap(), Some(v + 1));
            }
        })
    });
    group.bench_function("raw_encrypt_and_update", |b| {
        b.iter(|| {
            let nonce = Nonce::generate();
            let ct = cipher.encrypt(&nonce, Payload { msg: &plaintext, aad: b"floor" }).unwrap();
            let n = raw
                .execute(
                    "UPDATE floor SET blob = ?1, key_id = ?2, access_expires_at = ?3, refresh_expires_at = ?4 WHERE id = 1",
                    rusqlite::params![ct, 1, expiry, None::<i64>],
                )
                .unwrap();
            assert_eq!(n, 1);
        })
    });
    group.bench_function("load_and_open", |b| {
        b.to_async(&rt).iter(|| async {
            let sealed = store.load_credentials(&connection.id).await.unwrap().unwrap();
            let back: TokenSet =
                keyring.open_credentials(&connection, &sealed.sealed.blob).unwrap().into_oauth2().unwrap();
            black_box(back);
        })
    });
    let nonce = Nonce::generate();
    let ct = cipher.encrypt(&nonce, Payload { msg: &plaintext, aad: b"floor" }).unwrap();
    raw.execute("UPDATE floor SET blob = ?1 WHERE id = 1", [&ct]).unwrap();
    group.bench_function("raw_select_and_decrypt", |b| {
        b.iter(|| {
            let blob: Vec<u8> = raw.query_row("SELECT blob FROM floor WHERE id = 1", [], |r| r.get(0)).unwrap();
            let plain = cipher.decrypt(&nonce, Payload { msg: &blob, aad: b"floor" }).unwrap();
            black_box(plain);
        })
    });
    group.finish();
}

criterion_group!(benches, flow, credentials);
criterion_main!(benches);
