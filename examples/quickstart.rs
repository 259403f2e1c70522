//! Quickstart: connect a business to Railz Cloud Accounting (the sandbox) end to end.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It starts the sandbox on 127.0.0.1, opens a widget session (a businessName is generated),
//! runs the authorization as a browser would, stores the encrypted credentials in an embedded
//! SQLite file (`.railz-connect/quickstart.db`), and fetches the company name with them.
//! Running it again keeps the earlier connections and adds a new one.
//!
//! Environment: `RAILZ_CONNECT_KEYS` (`id:base64key,...`) to supply the data key; without it a
//! key is generated once into `.railz-connect/quickstart.key`. `RUST_LOG` sets the log level.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use railz_connect::crypto::{DataKey, Keyring};
use railz_connect::http::HttpClient;
use railz_connect::provider::ClientRegistration;
use railz_connect::provider::Inputs;
use railz_connect::providers::railz_sandbox::{self, RailzSandboxConfig, SandboxApi};
use railz_connect::providers::{ProvidersConfig, ServiceConfig, registry};
use railz_connect::secret::ClientSecret;
use railz_connect::store::Page;
use railz_connect::store::SqliteStore;
use railz_connect::{
    Callback, Completion, Connect, ConnectionFilter, ServiceName, SessionRequest, WidgetConfig, WidgetId,
};
use railz_connect_mock::MockServer;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();

    let data_dir = PathBuf::from(".railz-connect");
    std::fs::create_dir_all(&data_dir)?;

    // 1. The sandbox provider, as a real HTTP server on a random loopback port.
    let sandbox = MockServer::start().await?;
    let sandbox_config =
        RailzSandboxConfig::new(sandbox.base_url(), sandbox.client_id(), ClientSecret::new(sandbox.client_secret()));

    // 2. The SDK: providers, the embedded store, the keyring and one widget.
    let service = ServiceName::new(railz_sandbox::SERVICE_NAME)?;
    let widget_id = WidgetId::new("quickstart")?;
    let widget_callback: url::Url = "http://127.0.0.1:8080/connect/callback".parse()?;
    let widget = WidgetConfig::builder(widget_id.clone())
        .with_redirect_uri(widget_callback.clone())
        .with_success_url("http://127.0.0.1:8080/connected".parse()?)
        .with_failure_url("http://127.0.0.1:8080/connect-failed".parse()?)
        .build()?;
    // A service is enabled by giving its client registration (here in code; in an app,
    // `ProvidersConfig::from_env()` reads RAILZ_SANDBOX_CLIENT_ID, ..._CLIENT_SECRET and
    // ..._BASE_URL).
    let providers = ProvidersConfig::new().with_service(
        service.clone(),
        ServiceConfig::new(ClientRegistration::new(sandbox.client_id(), ClientSecret::new(sandbox.client_secret())))
            .with_base_url(sandbox.base_url()),
    );
    let connect = Connect::builder()
        .with_registry(registry(&providers)?)
        .with_store(Arc::new(SqliteStore::open(data_dir.join("quickstart.db")).await?))
        .with_keyring(load_keyring(&data_dir.join("quickstart.key"))?)
        .with_widget(widget)
        .build()?;

    // 3. Server side, before the widget shows: a session with a generated businessName.
    let session = connect.create_session(&widget_id, SessionRequest::new()).await?;

    // 4. The business picks Railz Cloud Accounting; the app sends the browser to the provider.
    let start = connect.begin(&session.token, &service, Inputs::new()).await?;

    // 5. The app answers with a redirect to `start.url` and `Set-Cookie: start.set_cookie()`,
    //    which binds the authorization to this browser. The browser follows the URL; the
    //    sandbox approves at once and redirects to the app's callback route, which hands the
    //    query and the browser's `Cookie` header to `complete`.
    let set_cookie = start.set_cookie().ok_or("a browser-bound authorization has a cookie")?;
    let cookie_header = set_cookie.split(';').next().unwrap_or_default().to_owned();
    let callback_url = railz_connect_mock::browser::authorize(&start.url, &widget_callback).await?;
    let callback = Callback::from_url(&callback_url)?.with_cookie_header(&cookie_header);
    let connection = match connect.complete(&callback).await? {
        Completion::Connected { connection, landing } => {
            println!("landing page:   {}", landing.url);
            connection
        }
        Completion::Failed(failure) => return Err(format!("authorization failed: {}", failure.reason).into()),
        other => return Err(format!("unexpected outcome: {other:?}").into()),
    };

    // 6. Use the stored (encrypted) credentials to call the accounting API.
    let tokens = connect.credentials(&connection.id).await?;
    let tenant = connection.tenant.as_ref().ok_or("the sandbox always has a company")?;
    let company = SandboxApi::new(HttpClient::new()?, &sandbox_config).company_info(&tokens, &tenant.id).await?;

    println!("businessName:   {}", connection.business_name);
    println!("serviceName:    {}", connection.service_name);
    println!("connectionId:   {}", connection.id);
    println!("status:         {}", connection.status);
    println!("company:        {}", company.name);
    let all = connect.connections(&ConnectionFilter::all(), Page::default()).await?;
    println!("stored:         {} connection(s) in {}", all.len(), data_dir.join("quickstart.db").display());

    sandbox.shutdown().await;
    Ok(())
}

/// The data key: from `RAILZ_CONNECT_KEYS`, else a key file made once (readable by the owner
/// only). A real app keeps its key in a secret manager.
fn load_keyring(path: &Path) -> Result<Keyring, AnyError> {
    if std::env::var_os(Keyring::ENV_VAR).is_some() {
        return Ok(Keyring::from_env()?);
    }
    if !path.exists() {
        let key = DataKey::generate();
        write_private(path, format!("1:{}\n", key.to_base64().as_str()).as_bytes())?;
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path)?);
    Ok(Keyring::parse(&text)?)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
