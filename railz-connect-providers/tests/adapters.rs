//! Every catalog adapter runs the conformance kit against its emulation over real HTTP:
//! adding a provider is a catalog file, (maybe) hooks, its emulation, and one line here.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use railz_connect_core::ServiceName;
use railz_connect_core::provider::{ClientRegistration, Inputs};
use railz_connect_core::secret::ClientSecret;
use railz_connect_core::time::OffsetDateTime;
use railz_connect_mock::emulation::{EmulatedEndpoint, EmulatedTenant, Emulation, Role, Service};
use railz_connect_mock::intacct::{IntacctGateway, UserRole};
use railz_connect_mock::netsuite_tba::NetsuiteTba;
use railz_connect_mock::{Fault, RecordedRequest};
use railz_connect_providers::conformance::{self, Emulator, KitEndpoint, KitFault, KitRequest, TENANTS};
use railz_connect_providers::{AuthMode, Catalog, ServiceConfig};
use url::Url;

const START: i64 = 1_800_000_000;

fn fault(fault: KitFault) -> Fault {
    match fault {
        KitFault::InvalidGrant => Fault::InvalidGrant,
        KitFault::TooManyRequests { retry_after_secs } => Fault::TooManyRequests { retry_after_secs },
        KitFault::Status(status) => Fault::Status(status),
        other => panic!("unknown fault {other:?}"),
    }
}

fn kit_request(r: RecordedRequest) -> KitRequest {
    KitRequest::new(r.method, r.path, r.query, r.headers, r.body)
}

/// A `railz-connect-mock` emulation as the kit drives it.
struct Emulated {
    emulation: Emulation,
    advanced: Mutex<u64>,
}

#[async_trait]
impl Emulator for Emulated {
    fn service(&self) -> ServiceName {
        self.emulation.service().name().parse().unwrap()
    }
    fn base_url(&self) -> Url {
        self.emulation.base_url()
    }
    fn client(&self) -> Option<ClientRegistration> {
        let secret = ClientSecret::new(self.emulation.client_secret());
        Some(ClientRegistration::new(self.emulation.client_id(), secret))
    }
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(START).unwrap() + Duration::from_secs(*self.advanced.lock().unwrap())
    }
    fn advance(&self, by: Duration) {
        *self.advanced.lock().unwrap() += by.as_secs();
        self.emulation.advance(by);
    }
    fn set_tenants(&self, tenants: &[(&str, &str)]) {
        self.emulation.set_tenants(tenants.iter().map(|(id, name)| EmulatedTenant::new(*id, *name)).collect());
    }
    fn set_admin(&self, admin: bool) {
        self.emulation.set_role(if admin { Role::Admin } else { Role::Restricted });
    }
    fn deny_next(&self) {
        self.emulation.deny_next();
    }
    fn fail_next(&self, endpoint: KitEndpoint, kit_fault: KitFault) {
        self.emulation.fail_next(emulated(endpoint), fault(kit_fault));
    }
    fn requests(&self, endpoint: KitEndpoint) -> Vec<KitRequest> {
        self.emulation.requests(emulated(endpoint)).into_iter().map(kit_request).collect()
    }
    fn inputs(&self) -> Inputs {
        match self.emulation.service() {
            // The account is the tenant the emulation grants.
            Service::OracleNetsuite => Inputs::new().with_input("accountId", TENANTS[0].0),
            Service::ZohoBooks => Inputs::new().with_input("dataCenter", "accounts.zoho.eu"),
            Service::SageBusinessCloud => Inputs::new().with_input("businessCountry", "gb"),
            _ => Inputs::new(),
        }
    }
    async fn authorize(&self, url: &Url, redirect_uri: &Url) -> Result<Url, String> {
        railz_connect_mock::browser::authorize(url, redirect_uri).await.map_err(|e| e.to_string())
    }
}

fn emulated(endpoint: KitEndpoint) -> EmulatedEndpoint {
    match endpoint {
        KitEndpoint::Authorize => EmulatedEndpoint::Authorize,
        KitEndpoint::Token => EmulatedEndpoint::Token,
        KitEndpoint::Revoke => EmulatedEndpoint::Revoke,
        KitEndpoint::Tenants => EmulatedEndpoint::Tenants,
        KitEndpoint::Verify => EmulatedEndpoint::Verify,
        other => panic!("unknown endpoint {other:?}"),
    }
}

async fn kit(service: Service) {
    let emulated = Emulated { emulation: Emulation::start(service).await.unwrap(), advanced: Mutex::new(0) };
    let catalog = Catalog::builtin().unwrap();
    let definition = catalog.get(&service.name().parse().unwrap()).expect("a catalog definition");
    let config = ServiceConfig::new(emulated.client().unwrap()).with_auth_mode(AuthMode::OAuth2);
    conformance::run_all(&emulated, definition, config).await;
    emulated.emulation.shutdown().await;
}

#[tokio::test]
async fn quickbooks() {
    kit(Service::Quickbooks).await;
}

#[tokio::test]
async fn xero() {
    kit(Service::Xero).await;
}

#[tokio::test]
async fn sage_business_cloud() {
    kit(Service::SageBusinessCloud).await;
}

#[tokio::test]
async fn freshbooks() {
    kit(Service::Freshbooks).await;
}

#[tokio::test]
async fn zoho_books() {
    kit(Service::ZohoBooks).await;
}

#[tokio::test]
async fn dynamics_business_central() {
    kit(Service::DynamicsBusinessCentral).await;
}

#[tokio::test]
async fn oracle_netsuite_oauth2() {
    kit(Service::OracleNetsuite).await;
}

#[tokio::test]
async fn wave() {
    kit(Service::Wave).await;
}

#[tokio::test]
async fn myob() {
    kit(Service::Myob).await;
}

#[tokio::test]
async fn freeagent() {
    kit(Service::Freeagent).await;
}

/// Sage Intacct's XML gateway, as the kit drives it.
struct Intacct(IntacctGateway);

#[async_trait]
impl Emulator for Intacct {
    fn service(&self) -> ServiceName {
        "sageIntacct".parse().unwrap()
    }
    fn base_url(&self) -> Url {
        self.0.base_url()
    }
    fn client(&self) -> Option<ClientRegistration> {
        Some(ClientRegistration::new(self.0.sender_id(), ClientSecret::new(self.0.sender_password())))
    }
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0.now()).unwrap()
    }
    fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
    fn set_tenants(&self, _tenants: &[(&str, &str)]) {}
    fn set_admin(&self, admin: bool) {
        let user = self.0.user();
        let role = if admin { UserRole::Admin } else { UserRole::Restricted };
        self.0.set_user_role(&user.company_id, &user.user_id, role);
    }
    fn deny_next(&self) {}
    fn fail_next(&self, _endpoint: KitEndpoint, kit_fault: KitFault) {
        self.0.fail_next(fault(kit_fault));
    }
    fn requests(&self, _endpoint: KitEndpoint) -> Vec<KitRequest> {
        self.0.requests().into_iter().map(kit_request).collect()
    }
    fn inputs(&self) -> Inputs {
        let user = self.0.user();
        Inputs::new()
            .with_input("companyId", user.company_id)
            .with_input("userId", user.user_id)
            .with_input("password", user.password)
    }
    fn wrong_inputs(&self) -> Inputs {
        self.inputs().with_input("password", "not-the-password")
    }
    async fn authorize(&self, _url: &Url, _redirect_uri: &Url) -> Result<Url, String> {
        Err("Sage Intacct has no redirect".into())
    }
}

#[tokio::test]
async fn sage_intacct() {
    let gateway = Intacct(IntacctGateway::start().await.unwrap());
    let catalog = Catalog::builtin().unwrap();
    let definition = catalog.get(&"sageIntacct".parse().unwrap()).unwrap();
    conformance::run_credentials(&gateway, definition, ServiceConfig::new(gateway.client().unwrap())).await;
    gateway.0.shutdown().await;
}

/// NetSuite's token-based authentication, as the kit drives it.
struct Tba(NetsuiteTba);

#[async_trait]
impl Emulator for Tba {
    fn service(&self) -> ServiceName {
        "oracleNetsuite".parse().unwrap()
    }
    fn base_url(&self) -> Url {
        self.0.base_url()
    }
    fn client(&self) -> Option<ClientRegistration> {
        None
    }
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0.now()).unwrap()
    }
    fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
    fn set_tenants(&self, tenants: &[(&str, &str)]) {
        if let Some((_, name)) = tenants.first() {
            self.0.set_company_name(name);
        }
    }
    fn set_admin(&self, admin: bool) {
        self.0.set_restricted(!admin);
    }
    fn deny_next(&self) {}
    fn fail_next(&self, _endpoint: KitEndpoint, kit_fault: KitFault) {
        self.0.fail_next(fault(kit_fault));
    }
    fn requests(&self, _endpoint: KitEndpoint) -> Vec<KitRequest> {
        self.0.requests().into_iter().map(kit_request).collect()
    }
    fn inputs(&self) -> Inputs {
        let c = self.0.credentials();
        Inputs::new()
            .with_input("accountId", c.account_id)
            .with_input("consumerKey", c.consumer_key)
            .with_input("consumerSecret", c.consumer_secret)
            .with_input("tokenId", c.token_id)
            .with_input("tokenSecret", c.token_secret)
    }
    fn wrong_inputs(&self) -> Inputs {
        self.inputs().with_input("tokenSecret", "not-the-token-secret")
    }
    async fn authorize(&self, _url: &Url, _redirect_uri: &Url) -> Result<Url, String> {
        Err("TBA has no redirect".into())
    }
}

#[tokio::test]
async fn oracle_netsuite_tba() {
    let tba = Tba(NetsuiteTba::start().await.unwrap());
    let catalog = Catalog::builtin().unwrap();
    let definition = catalog.get(&"oracleNetsuite".parse().unwrap()).unwrap();
    let config = ServiceConfig::without_client().with_auth_mode(AuthMode::Credentials);
    conformance::run_credentials(&tba, definition, config).await;
    tba.0.shutdown().await;
}

/// Zoho answers a dead refresh token with HTTP 200 and `{"error":"invalid_code"}`: read as
/// `invalid_grant` (the definition's error alias), so the connection is marked invalid, not
/// retried as a malformed answer.
#[tokio::test]
async fn zoho_invalid_code_on_200_is_invalid_grant() {
    use railz_connect_core::{Completion, ConnectionStatus};
    let emulated = Emulated { emulation: Emulation::start(Service::ZohoBooks).await.unwrap(), advanced: Mutex::new(0) };
    emulated.set_tenants(&TENANTS[..1]);
    let catalog = Catalog::builtin().unwrap();
    let definition = catalog.get(&"zohoBooks".parse().unwrap()).unwrap();
    let kit = conformance::Kit::new(&emulated, definition, ServiceConfig::new(emulated.client().unwrap()));
    let (_, _, completion) = kit.authorize().await;
    let Completion::Connected { connection, .. } = completion else { panic!("{completion:?}") };
    emulated.emulation.fail_next(
        EmulatedEndpoint::Token,
        Fault::ErrorBody { status: 200, error: "invalid_code".into(), description: None },
    );
    let e = kit.connect.refresh(&connection.id).await.expect_err("a dead refresh token");
    assert!(!e.is_retryable(), "{e}");
    assert_eq!(kit.connect.connection(&connection.id).await.unwrap().status, ConnectionStatus::Invalid);
    emulated.emulation.shutdown().await;
}
