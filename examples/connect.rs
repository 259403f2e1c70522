//! Connects a business to one accounting service end to end, against that service's
//! emulation (`railz-connect-mock`), through the service's catalog definition: what an app
//! does with the real service, with the real service swapped for a loopback server.
//!
//! ```text
//! cargo run --example connect -- <serviceName> [tba]
//! cargo run --example connect -- xero
//! cargo run --example connect -- oracleNetsuite tba     # token-based authentication
//! ```
//!
//! Redirect services run session → begin → the browser step → complete (choosing the first
//! tenant when several are offered); Sage Intacct (and NetSuite with `tba`) connect from the
//! credentials a business enters. It prints what the quickstart prints, the company name
//! coming from the provider's verify call.

use std::sync::Arc;

use railz_connect::crypto::{DataKey, Keyring};
use railz_connect::provider::{ClientRegistration, Inputs};
use railz_connect::providers::{AuthMode, Catalog, ProvidersConfig, ServiceConfig, registry_with};
use railz_connect::secret::ClientSecret;
use railz_connect::store::{MemoryStore, Page};
use railz_connect::{
    Callback, Completion, Connect, ConnectionFilter, ServiceName, SessionRequest, WidgetConfig, WidgetId,
};
use railz_connect_mock::emulation::{EmulatedTenant, Emulation, Service};
use railz_connect_mock::intacct::IntacctGateway;
use railz_connect_mock::netsuite_tba::NetsuiteTba;
use url::Url;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The running emulation, the app's configuration of the service there, and what the
/// business enters.
enum Running {
    OAuth(Emulation),
    Intacct(IntacctGateway),
    Tba(NetsuiteTba),
}

impl Running {
    async fn start(service: &str, tba: bool) -> Result<(Self, ServiceConfig, Inputs), AnyError> {
        if service == "sageIntacct" {
            let gateway = IntacctGateway::start().await?;
            let user = gateway.user();
            let client = ClientRegistration::new(gateway.sender_id(), ClientSecret::new(gateway.sender_password()));
            let inputs = Inputs::new()
                .with_input("companyId", user.company_id)
                .with_input("userId", user.user_id)
                .with_input("password", user.password);
            let config = ServiceConfig::new(client).with_base_url(gateway.base_url());
            return Ok((Self::Intacct(gateway), config, inputs));
        }
        if service == "oracleNetsuite" && tba {
            let netsuite = NetsuiteTba::start().await?;
            // Signatures carry a timestamp the server checks against its clock: the emulation's
            // clock is set to this machine's, which the SDK reads here.
            netsuite.set_now(railz_connect::time::OffsetDateTime::now_utc().unix_timestamp());
            let c = netsuite.credentials();
            let inputs = Inputs::new()
                .with_input("accountId", c.account_id)
                .with_input("consumerKey", c.consumer_key)
                .with_input("consumerSecret", c.consumer_secret)
                .with_input("tokenId", c.token_id)
                .with_input("tokenSecret", c.token_secret);
            let config = ServiceConfig::without_client()
                .with_auth_mode(AuthMode::Credentials)
                .with_base_url(netsuite.base_url());
            return Ok((Self::Tba(netsuite), config, inputs));
        }
        let known = Service::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ");
        let emulated = Service::from_name(service)
            .ok_or_else(|| format!("unknown service `{service}`; one of: {known}, sageIntacct"))?;
        let emulation = Emulation::start(emulated).await?;
        emulation.set_tenants(vec![
            EmulatedTenant::new("11110001", "Northwind Traders"),
            EmulatedTenant::new("22220002", "Contoso Ltd"),
        ]);
        let inputs = match emulated {
            Service::OracleNetsuite => Inputs::new().with_input("accountId", "11110001"),
            Service::ZohoBooks => Inputs::new().with_input("dataCenter", "accounts.zoho.eu"),
            _ => Inputs::new(),
        };
        let client = ClientRegistration::new(emulation.client_id(), ClientSecret::new(emulation.client_secret()));
        let config = ServiceConfig::new(client).with_base_url(emulation.base_url());
        Ok((Self::OAuth(emulation), config, inputs))
    }

    async fn shutdown(self) {
        match self {
            Self::OAuth(e) => e.shutdown().await,
            Self::Intacct(g) => g.shutdown().await,
            Self::Tba(t) => t.shutdown().await,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let name = args.next().ok_or("usage: connect <serviceName> [tba]")?;
    let tba = args.next().is_some_and(|a| a == "tba");
    let service = ServiceName::new(name.clone())?;

    // 1. The service's emulation, and the app's configuration of the service there (its
    //    client registration, and a base URL onto which every endpoint is moved).
    let (running, service_config, inputs) = Running::start(&name, tba).await?;

    // 2. The SDK, with the service from the built-in catalog.
    let catalog = Catalog::builtin()?;
    let providers = ProvidersConfig::new().with_service(service.clone(), service_config);
    let widget_id = WidgetId::new("connect-example")?;
    let widget_callback: Url = "http://127.0.0.1:8080/connect/callback".parse()?;
    let widget = WidgetConfig::builder(widget_id.clone())
        .with_redirect_uri(widget_callback.clone())
        .with_success_url("http://127.0.0.1:8080/connected".parse()?)
        .with_failure_url("http://127.0.0.1:8080/connect-failed".parse()?)
        .build()?;
    let connect = Connect::builder()
        .with_registry(registry_with(&catalog, &providers)?)
        .with_store(Arc::new(MemoryStore::new()))
        .with_keyring(Keyring::new(1, DataKey::generate()))
        .with_widget(widget)
        .build()?;

    // 3. A widget session (a businessName is generated), then the connection itself.
    let session = connect.create_session(&widget_id, SessionRequest::new()).await?;
    let completion = if matches!(running, Running::OAuth(_)) {
        let start = connect.begin_headless(&session.token, &service, inputs).await?;
        let callback_url = railz_connect_mock::browser::authorize(&start.url, &widget_callback).await?;
        match connect.complete(&Callback::from_url(&callback_url)?).await? {
            Completion::ChooseTenant { ticket, tenants, .. } => {
                let names: Vec<&str> = tenants.iter().map(|t| t.name.as_str()).collect();
                println!("tenants:        {} (choosing the first)", names.join(", "));
                connect.choose_tenant(&ticket, &tenants[0].id).await?
            }
            other => other,
        }
    } else {
        connect.connect_with_inputs(&session.token, &service, inputs).await?
    };
    let connection = match completion {
        Completion::Connected { connection, landing } => {
            println!("landing page:   {}", landing.url);
            connection
        }
        Completion::Failed(failure) => return Err(format!("authorization failed: {}", failure.reason).into()),
        other => return Err(format!("unexpected outcome: {other:?}").into()),
    };

    // 4. The provider's verify call, with the stored (encrypted) credentials.
    let account = connect.verify(&connection.id).await?;
    println!("businessName:   {}", connection.business_name);
    println!("serviceName:    {}", connection.service_name);
    println!("connectionId:   {}", connection.id);
    println!("status:         {}", connection.status);
    println!("company:        {}", account.name);
    let all = connect.connections(&ConnectionFilter::all(), Page::default()).await?;
    println!("stored:         {} connection(s) in memory", all.len());
    running.shutdown().await;
    Ok(())
}
