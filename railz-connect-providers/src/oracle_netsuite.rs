//! Oracle NetSuite — `oracleNetsuite`, connected by token-based authentication (TBA), the way
//! Railz connects it: the customer creates an integration record and an access token and
//! enters the account id, consumer key and secret, and token id and secret; every API request
//! is then signed with OAuth 1.0a HMAC-SHA256, `realm` = the account id (see PROVIDERS.md,
//! "How Railz itself connects two services"). The OAuth 2.0 code flow of the same service is
//! its catalog definition, run by the generic adapter; an app picks one per service
//! ([`crate::ServiceConfig::with_auth_mode`]).
//!
//! The credentials are checked when they are entered, with a signed `GET` of the verify call
//! (the root subsidiary's record, `/services/rest/record/v1/subsidiary/1`, which names the
//! company). They do not expire (until the customer
//! revokes the token), so there is nothing to refresh. The secrets are sealed with the
//! connection and never logged.

use std::sync::Arc;

use async_trait::async_trait;
use railz_connect_core::TenantId;
use railz_connect_core::provider::{
    AccountInfo, AuthKind, CallContext, Capabilities, Credentials, Inputs, Provider, ProviderError, ProviderMetadata,
    SecretCredentials, set_authorization,
};
use railz_connect_core::secret::SecretValue;
use rand::Rng as _;
use serde_json::Value;
use url::Url;

use crate::adapter::{Placement, text_at, text_of};
use crate::catalog::{AuthMode, ServiceDefinition, template};
use crate::oauth1;

const ACCOUNT: &str = "accountId";
const SECRETS: [&str; 4] = ["consumerKey", "consumerSecret", "tokenId", "tokenSecret"];

/// The NetSuite TBA adapter.
#[derive(Debug)]
pub struct NetsuiteTba {
    metadata: ProviderMetadata,
    definition: Arc<ServiceDefinition>,
    placement: Placement,
}

fn field<'a>(credentials: &'a SecretCredentials, name: &str) -> Result<&'a str, ProviderError> {
    credentials
        .field(name)
        .map(SecretValue::secret)
        .ok_or_else(|| ProviderError::InvalidInput { name: name.into(), reason: "is missing".into() })
}

fn secret_credentials(credentials: &Credentials) -> Result<&SecretCredentials, ProviderError> {
    credentials.secret().ok_or(ProviderError::Unsupported("NetSuite TBA with OAuth2 tokens"))
}

impl NetsuiteTba {
    pub(crate) fn new(definition: Arc<ServiceDefinition>, placement: Placement) -> Self {
        let mut metadata =
            ProviderMetadata::new(definition.service.clone(), definition.display_name.clone(), AuthKind::Credentials)
                .with_sandbox(placement.sandbox)
                .with_countries(&definition.countries)
                .with_capabilities(Capabilities::new().with_verify(definition.verify.is_some()));
        for input in definition.inputs(AuthMode::Credentials) {
            metadata = metadata.with_input(input.clone());
        }
        Self { metadata, definition, placement }
    }

    /// The account's REST endpoint origin (`https://{account}.suitetalk.api.netsuite.com`),
    /// placed.
    fn origin(&self, account: &str) -> Result<Url, ProviderError> {
        let credentials = self.definition.credentials.as_ref().ok_or(ProviderError::Unsupported("TBA"))?;
        let url = template::expand(&credentials.endpoint, &|name| (name == ACCOUNT).then(|| account.to_owned()))
            .map_err(|reason| ProviderError::InvalidInput { name: ACCOUNT.into(), reason })?;
        Ok(self.placement.place(url))
    }

    fn verify_url(&self, account: &str) -> Result<Url, ProviderError> {
        let verify = self.definition.verify.as_ref().ok_or(ProviderError::Unsupported("verify"))?;
        // The verify call is under the account's REST origin (`{api}` in the OAuth 2.0 mode).
        let path = verify.request.url.strip_prefix("{api}").unwrap_or(&verify.request.url);
        let origin = self.origin(account)?;
        let joined = format!("{}{path}", origin.as_str().trim_end_matches('/'));
        Url::parse(&joined).map_err(|e| ProviderError::InvalidRequest(e.to_string()))
    }

    async fn verified(&self, cx: &CallContext<'_>, credentials: &Credentials) -> Result<AccountInfo, ProviderError> {
        let secret = secret_credentials(credentials)?;
        let account = secret.params.get(ACCOUNT).ok_or(ProviderError::Unsupported("TBA without an account id"))?;
        let mut request = http::Request::get(self.verify_url(account)?.as_str())
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        self.authorize_request(cx, credentials, &mut request)?;
        let answer: Value = cx.http.get_json(request).await.map_err(|e| match e {
            ProviderError::Status { status: 401, .. } => {
                ProviderError::CredentialsRefused("NetSuite refused the token (invalid login)".into())
            }
            ProviderError::Status { status: 403, .. } => {
                ProviderError::InsufficientRole("the token's role may not use the REST web services".into())
            }
            other => other,
        })?;
        let verify = self.definition.verify.as_ref().ok_or(ProviderError::Unsupported("verify"))?;
        let mut info = AccountInfo::new(text_at(&answer, &verify.name)?).with_id(account.clone());
        if let Some(id) = verify.id.as_ref().and_then(|p| answer.pointer(p)).and_then(text_of) {
            info = info.with_id(id);
        }
        Ok(info)
    }
}

#[async_trait]
impl Provider for NetsuiteTba {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn connect(&self, cx: &CallContext<'_>, inputs: &Inputs) -> Result<Credentials, ProviderError> {
        let account = inputs
            .get(ACCOUNT)
            .ok_or_else(|| ProviderError::InvalidInput { name: ACCOUNT.into(), reason: "is required".into() })?;
        let mut secret = SecretCredentials::new(cx.now).with_param(ACCOUNT, account);
        for name in SECRETS {
            let value = inputs
                .get(name)
                .ok_or_else(|| ProviderError::InvalidInput { name: name.into(), reason: "is required".into() })?;
            secret = secret.with_field(name, SecretValue::new(value));
        }
        let credentials = Credentials::Secret(secret);
        let info = self.verified(cx, &credentials).await?;
        tracing::info!(account = %account, company = %info.name, "NetSuite token verified");
        Ok(credentials)
    }

    async fn verify(
        &self,
        cx: &CallContext<'_>,
        credentials: &Credentials,
        _tenant: Option<&TenantId>,
    ) -> Result<AccountInfo, ProviderError> {
        self.verified(cx, credentials).await
    }

    fn authorize_request(
        &self,
        cx: &CallContext<'_>,
        credentials: &Credentials,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        let secret = secret_credentials(credentials)?;
        let account = secret.params.get(ACCOUNT).ok_or(ProviderError::Unsupported("TBA without an account id"))?;
        let url = Url::parse(&request.uri().to_string()).map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        let form = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/x-www-form-urlencoded"));
        let body: Vec<(String, String)> =
            if form { url::form_urlencoded::parse(request.body()).into_owned().collect() } else { Vec::new() };
        let keys = oauth1::Keys {
            realm: account,
            consumer_key: field(secret, "consumerKey")?,
            consumer_secret: field(secret, "consumerSecret")?,
            token: field(secret, "tokenId")?,
            token_secret: field(secret, "tokenSecret")?,
        };
        let nonce: String =
            rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(20).map(char::from).collect();
        let header =
            oauth1::authorization(request.method().as_str(), &url, &body, &keys, cx.now.unix_timestamp(), &nonce);
        set_authorization(request, &header)
    }
}
