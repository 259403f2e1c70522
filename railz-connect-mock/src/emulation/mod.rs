//! Emulations of real accounting providers' OAuth 2.0 authorization servers
//! and of the few API calls an SDK makes right after authorization (tenant
//! listing, verify), each on a real loopback HTTP server.
//!
//! An [`Emulation`] plays ONE provider ([`Service`]) with its real paths,
//! parameter names, client authentication, PKCE rules, callback parameters,
//! token-response fields, error shapes and refresh-token rotation. Its
//! [`base_url`](Emulation::base_url) stands for every host of the provider;
//! the real path is kept (`https://identity.xero.com/connect/token` is
//! `{base}connect/token`). The authorization endpoint approves at once (no
//! login page) with a `302` to the `redirect_uri`. All expiries follow the
//! emulation's own clock ([`Emulation::advance`], starting at unix
//! 1 800 000 000), never the wall clock.
//!
//! Written from the providers' documentation (tags refer to
//! `PROVIDERS.md`, whose "Corrections and additions" win; `xero-identity.yaml`
//! and `xero_accounting.yaml` are Xero's OpenAPI specs), independently of the
//! adapters. **UNCONFIRMED** marks a choice the documentation does not settle.
//!
//! # Common rules
//!
//! * Authorize (`GET`): unknown `client_id`, missing or unacceptable
//!   `redirect_uri` (https, or http to a loopback host, no fragment) → `400`
//!   HTML page, no redirect. Otherwise errors come back as an RFC 6749
//!   4.1.2.1 error redirect (`error`, `error_description`, `state`):
//!   missing `state` or wrong length, `response_type` ≠ `code`, missing
//!   required scope or wrong scope separator (`invalid_scope`), PKCE
//!   violations, a denied consent ([`Emulation::deny_next`]:
//!   `access_denied`, no admin wording). `redirect_uri` is compared
//!   byte-exactly at the token endpoint. No `iss` is sent.
//! * A PKCE challenge that was sent is always verified at the token
//!   endpoint (`S256`, or `plain` where allowed); the code is single use.
//! * Token errors: `400 {"error":"invalid_grant","error_description":…}`
//!   for a bad, used or expired code, a redirect mismatch, a failed PKCE
//!   check, or a dead refresh token; wrong client authentication → `401
//!   {"error":"invalid_client",…}`. Business Central adds `error_codes` and
//!   `AADSTS…` wording; Zoho answers every token error with HTTP **200**
//!   `{"error":…}`, `invalid_code` for bad codes and refresh tokens.
//! * Tenants/verify calls need the access token (`Authorization: Bearer`,
//!   Zoho `Zoho-oauthtoken`); a missing, unknown, expired or revoked one
//!   → `401 {"error":"invalid_token"}`.
//! * Revocation (where one exists) kills the whole grant: every refresh and
//!   access token of it. Unknown tokens are answered `200` (RFC 7009).
//!   Providers without one answer `404` on every path.
//! * Faults ([`Emulation::fail_next`]) behave as the sandbox's
//!   ([`crate::MockServer::fail_next`]); every request is recorded and
//!   counted before its fault applies.
//!
//! # Providers
//!
//! Paths are relative to [`Emulation::base_url`] (real host in brackets).
//! "code" = authorization code lifetime; "access" = `expires_in`.
//!
//! | service | authorize | token | revoke | tenants | verify | client auth | PKCE | callback extras | rotation (emulated clock) | admin-role signal ([`Role::Restricted`]) | sources |
//! |---|---|---|---|---|---|---|---|---|---|---|---|
//! | `quickbooks` | `GET connect/oauth2` (appcenter.intuit.com); scope must include `com.intuit.quickbooks.accounting` | `POST oauth2/v1/tokens/bearer` (oauth.platform.intuit.com); code 10 min, access 3600, `x_refresh_token_expires_in: 8726400` | `POST v2/oauth2/tokens/revoke` (developer.api.intuit.com), Basic, JSON `{"token"}` | none | `GET v3/company/{realmId}/companyinfo/{realmId}` → `{"CompanyInfo":{"CompanyName","Id":"1",…}}`; needs `Accept: application/json` (else XML); another realm → 403 `Fault` | Basic or `client_id`/`client_secret` in the form | optional (S256 or plain), UNCONFIRMED | `realmId` = first tenant (one realm per authorization) | new refresh token each use; the previous stays valid 24 h; each lives 8726400 s | error callback `access_denied`, description names the admin role (wording UNCONFIRMED) | \[Q2\] \[Q3\] \[Q4\] \[Q5\] \[Q11\], Corrections "QuickBooks" |
//! | `xero` | `GET identity/connect/authorize` (login.xero.com); scope must include `offline_access` (else no refresh token is the real behaviour: here `invalid_scope`) | `POST connect/token` (identity.xero.com); code 10 min, access 1800, `scope` echoed | `POST connect/revocation`, Basic, form `token=` | `GET connections` (api.xero.com; also `Connections`; `?authEventId=` filters) → `[{id, authEventId, tenantId, tenantType:"ORGANISATION", tenantName, createdDateUtc, updatedDateUtc}]` | `GET api.xro/2.0/Organisation` with `xero-tenant-id` (missing → 400, not connected → 403) → `{"Organisations":[{"OrganisationID","Name",…}]}` | Basic only | optional; when sent, S256 only | `scope`, `session_state` | rotates; the previous stays valid 30 min; unused refresh tokens die after 60 days | no error: `GET connections` answers `[]` | \[X1\] \[X4\] \[X7\] `xero-identity.yaml`, `xero_accounting.yaml`, Corrections "Xero" |
//! | `sageBusinessCloud` | `GET oauth2/auth/central` (www.sageone.com); `filter=apiv3.1` required; scope `full_access` or `readonly` | `POST token` (oauth.accounting.sage.com); code 60 s, access 300, `refresh_token_expires_in: 2678400` | none (404) | `GET v3.1/businesses` (api.accounting.sage.com) → `{"$items":[{id, displayed_as, $path}], "$total", …}` | `GET v3.1/businesses/{id}` → `{id, name, displayed_as, $path}` (unknown → 404 Sage error list) | `client_id`/`client_secret` in the form only | optional (S256 or plain), UNCONFIRMED | `country` (the request's `country`, upper-cased, else `GB`; case UNCONFIRMED) | single use (rotates, old dies at once); 31 days | `GET v3.1/businesses` answers an empty `$items` | \[S1\] \[S2\] \[S3\] \[S5\] \[S6\] \[S7\] |
//! | `freshbooks` | `GET oauth/authorize` or `oauth/authorize/` (auth.freshbooks.com); scope must include `user:profile:read` | `POST auth/oauth/token` (api.freshbooks.com); code 5 min, access 43200, `created_at` | `POST auth/oauth/revoke`, form or JSON `token` + `client_id`/`client_secret` | `GET auth/api/v1/users/me` → `{"response":{…,"business_memberships":[{id, role, business:{id, business_uuid, name, account_id}}]}}`; tenant id = `account_id` | `GET accounting/account/{account_id}/systems/systems/{business_id}` (also without `{business_id}`) → `{"response":{"result":{"system":{"id","systemid","accountid","name",…}}}}` | `client_id`/`client_secret` in a form **or JSON** body | optional (S256 or plain), UNCONFIRMED | — | single use | `business_memberships[].role` = `"employee"` (admins: `"owner"`) | \[F1\] \[F3\] \[F6\] \[F7\], freshbooks.com/api/systems (3p for the path with id), Corrections "FreshBooks" |
//! | `zohoBooks` | `GET oauth/v2/auth` (accounts.zoho.com); scopes **comma**-separated, one `ZohoBooks.*` required; refresh token only with `access_type=offline` | `POST oauth/v2/token` ({accounts-server}); params in query or form; code 2 min, access 3600, `api_domain` = base without `/` | `POST oauth/v2/token/revoke?token=<refresh>` → `{"status":"success"}` | `GET books/v3/organizations` ({api_domain}) → `{code:0, message:"success", organizations:[{organization_id, name, user_role, is_default_org, …}]}` | `GET books/v3/organizations/{organization_id}` → `{code:0, message:"success", organization:{organization_id, name, …}}` | `client_id`/`client_secret` as query or form params | optional (S256 or plain), UNCONFIRMED | `location=eu`, `accounts-server` = base without `/` | never rotates (no `refresh_token` in refresh answers; same one keeps working); the 20-per-user cap is not emulated | `organizations[].user_role` = `"staff"` (admins `"admin"`) | \[Z2\] \[Z3\] \[Z4\] \[Z5\] \[Z8\] \[Z9\], Corrections "Zoho Books" |
//! | `dynamicsBusinessCentral` | `GET {tenant}/oauth2/v2.0/authorize` (login.microsoftonline.com; any `{tenant}` segment); scope needs `https://api.businesscentral.dynamics.com/Financials.ReadWrite.All` or `…/.default`; refresh token only with `offline_access` | `POST {tenant}/oauth2/v2.0/token`; code 10 min, access 3599, `ext_expires_in`, `scope` | none (404) | `GET environments/v1.1` (api.businesscentral.dynamics.com) → `value[{aadTenantId, type:"Production", name:"production", countryCode, …}]`, then `GET v2.0/{aadTenantId}/production/api/v2.0/companies` → `value[{id, name, displayName, …}]` (both count as Tenants) | `GET v2.0/{aadTenantId}/production/api/v2.0/companies({id})` → `{id, name, displayName, …}` | `client_id`/`client_secret` in the form only | optional (S256 or plain), "recommended" | — | a new refresh token each use, old ones NOT revoked; each lives 90 days | error callback `access_denied`, `AADSTS90094: The grant requires admin permission.` | \[M1\] \[M3\] \[M5\] \[M6\] \[M7\] \[M8\] \[M9\] \[M10\], Corrections "Business Central" |
//! | `oracleNetsuite` | `GET app/login/oauth2/authorize.nl` ({account}.app.netsuite.com); `state` 22–1024 chars; scope one of `rest_webservices`, `restlets`, `suite_analytics` | `POST services/rest/auth/oauth2/v1/token` ({account}.suitetalk.api.netsuite.com); code 10 min, access 3600 | `POST services/rest/auth/oauth2/v1/revoke`, Basic, form `token=` | none | `GET services/rest/record/v1/metadata-catalog` (also with trailing `/`) → `{"items":[…],"links":[…]}`; the company name in header `x-emulated-company-name`, the account id in `x-emulated-company` | Basic only | **required, S256 only** | `role=3`, `entity` (a number), `company` = first tenant id (the account) | single use; confidential-client refresh tokens die 7 days after the first grant | error callback `access_denied`, description names the Administrator role (wording UNCONFIRMED) | \[N1\] \[N3\] \[N7\] \[N8\] \[N9\] \[N10\] \[N11\], Corrections "NetSuite" |
//! | `wave` | `GET oauth2/authorize/` (api.waveapps.com); scope must include `business:read` | `POST oauth2/token/`; code 10 min, access 7200 (UNCONFIRMED) | none (404) | `POST graphql/public` (gql.waveapps.com) with a query naming `businesses` → `{"data":{"businesses":{"pageInfo":{…},"edges":[{"node":{"id","name","isPersonal":false}}]}}}`; naming `user` → `{"data":{"user":{"id","defaultEmail"}}}` | `POST graphql/public` with a query containing `business(` → `{"data":{"business":{"id","name"}}}` (the id is read from `variables` or the query text; unknown → `errors` + `business: null`) | `client_id`/`client_secret` in the form only (3p) | optional (S256 or plain), UNCONFIRMED | — | rotates, old dies at once (UNCONFIRMED) | error callback `access_denied`, description names the owner/admin role (UNCONFIRMED) | \[W1\] \[W4\] \[W6\] \[W7\] |
//! | `myob` | `GET oauth2/account/authorize` (secure.myob.com); scope `sme-company-file` (or legacy `CompanyFile`) | `POST oauth2/v1/authorize` (sic); code 10 min, access 1200 | none (404) | none | `GET accountright/{businessId}/Company` (api.myob.com) with `x-myobapi-key` = client id (else 403) and `x-myobapi-version: v2` (else 400) → `{"CompanyName","SerialNumber",…}`; another business → 404 | `client_id`/`client_secret` in the form only | optional (S256 or plain), UNCONFIRMED | `businessId`, `businessName` = first tenant, only when the request had `prompt=consent` | rotates, old dies at once (UNCONFIRMED) | error callback `access_denied`, description says only a company file Admin can approve | \[Y1\] \[Y2\] \[Y3\] \[Y4\] \[Y7\], Corrections "MYOB" |
//! | `freeagent` | `GET v2/approve_app` (api.freeagent.com); no scopes | `POST v2/token_endpoint`; code 15 min, access 3600, `refresh_token_expires_in` (value UNCONFIRMED: 631152000, 20 years) | none (404) | none | `GET v2/company` with `Accept: application/json` (else 406) and a `User-Agent` (else 400) → `{"company":{"url","name","subdomain",…}}` | Basic only | optional (S256 or plain), UNCONFIRMED | — | rotates, old dies at once (UNCONFIRMED) | the token works, but `GET v2/company` answers 403 `{"errors":{"error":{"message":…}}}` (shape UNCONFIRMED) | \[A1\] \[A2\] \[A3\] \[A4\] \[A5\] \[A7\], Corrections "FreeAgent" |
//!
//! Single-tenant grants: `quickbooks`, `oracleNetsuite`, `myob`,
//! `freeagent` grant the first configured tenant only; the others grant
//! every configured tenant ([`Emulation::set_tenants`]).

mod dynamics_business_central;
mod engine;
mod freeagent;
mod freshbooks;
mod http;
mod myob;
mod oauth;
mod oracle_netsuite;
mod quickbooks;
mod sage_business_cloud;
mod wave;
mod xero;
mod zoho_books;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;

use self::engine::{Shared, Spec, State, lock};
use crate::serve::{self, Running};
use crate::{Fault, RecordedRequest};

/// The client secret every emulation registers: it contains `:`, `+`, `%`,
/// `/` and `=`, so HTTP Basic must form-encode it (RFC 6749 2.3.1).
const CLIENT_SECRET: &str = "emulated-secret:+%/=";

/// An accounting provider that can be emulated; [`Service::name`] is the
/// Railz `serviceName`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// QuickBooks Online, `quickbooks`.
    Quickbooks,
    /// Xero, `xero`.
    Xero,
    /// Sage Business Cloud Accounting, `sageBusinessCloud`.
    SageBusinessCloud,
    /// FreshBooks, `freshbooks`.
    Freshbooks,
    /// Zoho Books, `zohoBooks`.
    ZohoBooks,
    /// Microsoft Dynamics 365 Business Central, `dynamicsBusinessCentral`.
    DynamicsBusinessCentral,
    /// Oracle NetSuite (its OAuth 2.0 code flow), `oracleNetsuite`.
    OracleNetsuite,
    /// Wave, `wave`.
    Wave,
    /// MYOB Business, `myob`.
    Myob,
    /// FreeAgent, `freeagent`.
    Freeagent,
}

impl Service {
    /// Every emulated service.
    pub const ALL: [Service; 10] = [
        Service::Quickbooks,
        Service::Xero,
        Service::SageBusinessCloud,
        Service::Freshbooks,
        Service::ZohoBooks,
        Service::DynamicsBusinessCentral,
        Service::OracleNetsuite,
        Service::Wave,
        Service::Myob,
        Service::Freeagent,
    ];

    /// The `serviceName`, e.g. `"sageBusinessCloud"`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Quickbooks => "quickbooks",
            Service::Xero => "xero",
            Service::SageBusinessCloud => "sageBusinessCloud",
            Service::Freshbooks => "freshbooks",
            Service::ZohoBooks => "zohoBooks",
            Service::DynamicsBusinessCentral => "dynamicsBusinessCentral",
            Service::OracleNetsuite => "oracleNetsuite",
            Service::Wave => "wave",
            Service::Myob => "myob",
            Service::Freeagent => "freeagent",
        }
    }

    /// The service with this exact `serviceName`.
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    fn spec(self) -> &'static Spec {
        match self {
            Service::Quickbooks => &quickbooks::SPEC,
            Service::Xero => &xero::SPEC,
            Service::SageBusinessCloud => &sage_business_cloud::SPEC,
            Service::Freshbooks => &freshbooks::SPEC,
            Service::ZohoBooks => &zoho_books::SPEC,
            Service::DynamicsBusinessCentral => &dynamics_business_central::SPEC,
            Service::OracleNetsuite => &oracle_netsuite::SPEC,
            Service::Wave => &wave::SPEC,
            Service::Myob => &myob::SPEC,
            Service::Freeagent => &freeagent::SPEC,
        }
    }
}

/// A kind of emulated endpoint, for faults, counters and recordings.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmulatedEndpoint {
    /// The authorization endpoint.
    Authorize,
    /// The token endpoint.
    Token,
    /// The revocation endpoint (where the provider has one).
    Revoke,
    /// The tenant listing (see the module table; none for some providers).
    Tenants,
    /// The verify call that returns the granted tenant's name.
    Verify,
}

/// The role of the user who authorizes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Has the administrator/owner role the provider requires.
    #[default]
    Admin,
    /// Lacks it; each provider signals it its own way (module table).
    Restricted,
}

/// A tenant (organisation, company, business, realm, account) an
/// authorization grants access to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedTenant {
    /// The provider's id for it (Xero `tenantId`, QuickBooks `realmId`,
    /// FreshBooks `account_id`, Zoho `organization_id`, NetSuite account id,
    /// MYOB `businessId`, FreeAgent: the subdomain is derived from it…).
    pub id: String,
    /// Its display name.
    pub name: String,
}

impl EmulatedTenant {
    /// A tenant with this id and name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> EmulatedTenant {
        EmulatedTenant { id: id.into(), name: name.into() }
    }
}

/// A running emulation of one provider. Dropping it aborts the server
/// task; prefer [`Emulation::shutdown`].
pub struct Emulation {
    service: Service,
    base_url: Url,
    client_id: String,
    client_secret: String,
    shared: Shared,
    running: Running,
}

impl fmt::Debug for Emulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulation")
            .field("service", &self.service.name())
            .field("base_url", &self.base_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Emulation {
    /// Binds `127.0.0.1:0` and serves `service` on the current Tokio runtime.
    pub async fn start(service: Service) -> std::io::Result<Emulation> {
        let bound = serve::bind().await?;
        let addr = bound.local_addr();
        let base_url = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        let client_id = format!("{}-emulated-client", service.name());
        let state = State::new(service.spec(), format!("http://{addr}"), client_id.clone(), CLIENT_SECRET.to_owned());
        let shared: Shared = Arc::new(Mutex::new(state));
        let router = axum::Router::new().fallback(http::handle).with_state(Arc::clone(&shared));
        let running = bound.serve(router, "emulation server");
        Ok(Emulation { service, base_url, client_id, client_secret: CLIENT_SECRET.to_owned(), shared, running })
    }

    /// The emulated service.
    pub fn service(&self) -> Service {
        self.service
    }

    /// `http://127.0.0.1:PORT/`: stands for EVERY host of the service; the
    /// real path is kept: `https://identity.xero.com/connect/token` is
    /// served at `{base}connect/token`, `https://api.xero.com/connections`
    /// at `{base}connections`,
    /// `https://{account}.app.netsuite.com/app/login/oauth2/authorize.nl` at
    /// `{base}app/login/oauth2/authorize.nl`, etc.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The registered client id (MYOB: also the API key).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The registered client secret; it contains `:`, `+`, `%`, `/` and
    /// `=`, so HTTP Basic must form-encode it (RFC 6749 2.3.1).
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The tenants the next authorizations grant access to (default:
    /// exactly one). Existing grants keep theirs.
    pub fn set_tenants(&self, tenants: Vec<EmulatedTenant>) {
        lock(&self.shared).tenants = tenants;
    }

    /// The role of the user who authorizes next (and after, until changed).
    pub fn set_role(&self, role: Role) {
        lock(&self.shared).role = role;
    }

    /// The next authorization: the user clicks "deny" (error callback
    /// `error=access_denied`, no admin wording).
    pub fn deny_next(&self) {
        lock(&self.shared).deny_next = true;
    }

    /// Queues a fault for exactly one subsequent call of `endpoint`; several
    /// apply in FIFO order (as [`crate::MockServer::fail_next`]).
    pub fn fail_next(&self, endpoint: EmulatedEndpoint, fault: Fault) {
        lock(&self.shared).faults.entry(endpoint).or_default().push_back(fault);
    }

    /// Requests that reached `endpoint`, faulted ones included.
    pub fn calls(&self, endpoint: EmulatedEndpoint) -> usize {
        lock(&self.shared).calls.get(&endpoint).copied().unwrap_or(0)
    }

    /// The requests that reached `endpoint`, in arrival order.
    pub fn requests(&self, endpoint: EmulatedEndpoint) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.get(&endpoint).cloned().unwrap_or_default()
    }

    /// Moves the emulation's clock forward (codes, tokens and grace periods
    /// expire by it only).
    pub fn advance(&self, by: Duration) {
        lock(&self.shared).now += by;
    }

    /// Refresh tokens that would be accepted now (rotated-out ones still in
    /// their grace period included).
    pub fn active_refresh_tokens(&self) -> usize {
        lock(&self.shared).active_refresh_tokens()
    }

    /// Stops accepting connections, lets in-flight requests finish (up to
    /// 5 s, then aborts) and waits for the server task.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for service in Service::ALL {
            assert_eq!(Service::from_name(service.name()), Some(service));
        }
        assert_eq!(Service::from_name("sageIntacct"), None);
    }
}
