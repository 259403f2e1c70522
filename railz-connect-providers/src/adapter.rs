//! The generic adapter of catalog definitions: an [`OAuth2Provider`] whose [`Quirks`] are read
//! from a [`ServiceDefinition`] (endpoint templates, the base-URL override, tenant listing,
//! the verify call, the API's authorization headers, the admin-role refusal).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use railz_connect_core::provider::{
    AccountInfo, CallContext, ClientAuth, ClientRegistration, Endpoints, Inputs, IssuerParam, OAuth2Definition,
    OAuth2Provider, OAuthErrorCode, Pkce, ProviderError, Quirks, RevocationStyle, Rotation, TokenSet,
    default_callback_error_reason, set_authorization,
};
use railz_connect_core::{ReasonCode, Tenant, TenantId};
use serde_json::Value;
use url::Url;

use crate::catalog::template::{self, rebase, with_origin};
use crate::catalog::{
    Hooks, RawClientAuth, RawOAuth2, RawPkce, RawRequest, RawRevocation, RawRotation, RawSignal, RawTenantSource,
    ServiceDefinition,
};

/// Where an adapter's requests go: the definition's own hosts, or every one of them moved
/// onto one base URL (an emulation, a staging server), and which of the definition's
/// environments.
#[derive(Debug, Clone, Default)]
pub(crate) struct Placement {
    /// Every endpoint and API URL moved onto this base.
    pub(crate) base: Option<Url>,
    /// The provider's sandbox endpoints (where the definition has them).
    pub(crate) sandbox: bool,
}

impl Placement {
    pub(crate) fn place(&self, url: Url) -> Url {
        match &self.base {
            Some(base) => rebase(&url, base),
            None => url,
        }
    }
}

/// The [`Quirks`] of a catalog definition.
#[derive(Debug, Clone)]
pub struct CatalogQuirks {
    definition: Arc<ServiceDefinition>,
    client_id: String,
    placement: Placement,
    /// The endpoints, when no input changes them (built once).
    fixed: Option<Endpoints>,
}

fn invalid(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::InvalidRequest(e.to_string())
}

/// A JSON value as text (strings as they are, numbers written out).
pub(crate) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The text at a JSON pointer, or an error naming it.
pub(crate) fn text_at(value: &Value, pointer: &str) -> Result<String, ProviderError> {
    value
        .pointer(pointer)
        .and_then(text_of)
        .ok_or_else(|| ProviderError::InvalidResponse(format!("no text at `{pointer}` in the answer")))
}

fn host_allowed(host: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| match a.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => a.eq_ignore_ascii_case(host),
    })
}

impl CatalogQuirks {
    pub(crate) fn new(definition: Arc<ServiceDefinition>, client_id: String, placement: Placement) -> Self {
        let mut quirks = Self { definition, client_id, placement, fixed: None };
        let templated = quirks.definition.oauth2.as_ref().is_none_or(|o| {
            let sandbox = o.sandbox.iter().flat_map(|s| [&s.authorize_url, &s.token_url, &s.revoke_url]).flatten();
            [&o.authorize_url, &o.token_url].into_iter().chain(&o.revoke_url).chain(sandbox).any(|u| u.contains('{'))
        });
        if !templated {
            quirks.fixed = quirks.placed_endpoints(&Inputs::new()).ok();
        }
        quirks
    }

    /// The endpoints for these inputs, placed.
    fn placed_endpoints(&self, inputs: &Inputs) -> Result<Endpoints, ProviderError> {
        let oauth = self.oauth();
        let sandbox = oauth.sandbox.as_ref().filter(|_| self.placement.sandbox);
        let pick = |own: &String, sandboxed: Option<&String>| sandboxed.unwrap_or(own).clone();
        let authorize = pick(&oauth.authorize_url, sandbox.and_then(|s| s.authorize_url.as_ref()));
        let token = pick(&oauth.token_url, sandbox.and_then(|s| s.token_url.as_ref()));
        let mut endpoints = Endpoints::new(self.endpoint(&authorize, inputs)?, self.endpoint(&token, inputs)?);
        if let Some(revoke) = &oauth.revoke_url {
            let revoke = pick(revoke, sandbox.and_then(|s| s.revoke_url.as_ref()));
            endpoints = endpoints.with_revoke(self.endpoint(&revoke, inputs)?);
        }
        Ok(endpoints)
    }

    /// The definition.
    pub fn definition(&self) -> &ServiceDefinition {
        &self.definition
    }

    fn oauth(&self) -> &RawOAuth2 {
        // A catalog OAuth2 adapter is only built from a definition with an [oauth2] table.
        self.definition.oauth2.as_ref().unwrap_or_else(|| unreachable!("built only with [oauth2]"))
    }

    /// The API's base URL for these tokens: the definition's (or its sandbox's), on the origin
    /// a kept parameter names (Zoho's `api_domain`) when that origin is allowed, then placed.
    pub(crate) fn api_base(&self, params: &BTreeMap<String, String>) -> Result<Url, ProviderError> {
        let api = self.definition.api.as_ref().ok_or(ProviderError::Unsupported("API calls"))?;
        let sandbox =
            self.definition.oauth2.as_ref().and_then(|o| o.sandbox.as_ref()).and_then(|s| s.api_base_url.as_ref());
        let configured = match sandbox {
            Some(url) if self.placement.sandbox => url,
            _ => &api.base_url,
        };
        let mut base = template::expand(configured, &|name| params.get(name).cloned()).map_err(invalid)?;
        if self.placement.base.is_none()
            && let Some(origin) = api.origin_param.as_ref().and_then(|p| params.get(p))
        {
            let origin = Url::parse(origin).map_err(|e| ProviderError::InvalidResponse(format!("API origin: {e}")))?;
            let host = origin.host_str().unwrap_or_default().to_ascii_lowercase();
            if origin.scheme() != "https" || !host_allowed(&host, &api.allowed_hosts) {
                return Err(ProviderError::EndpointNotAllowed(host));
            }
            base = with_origin(&base, &origin).map_err(invalid)?;
        }
        Ok(self.placement.place(base))
    }

    /// Expands a URL template for an API call and checks where it goes.
    fn api_url(&self, template: &str, tokens: &TokenSet, tenant: Option<&TenantId>) -> Result<Url, ProviderError> {
        let base = self.api_base(&tokens.params)?;
        let vars = |name: &str| match name {
            "api" => Some(base.as_str().to_owned()),
            "tenant" => tenant.map(|t| t.as_str().to_owned()),
            other => tokens.params.get(other).cloned(),
        };
        let url = template::expand(template, &vars).map_err(invalid)?;
        let url = if template.starts_with("{api}") { url } else { self.placement.place(url) };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
        let same_as_base = base.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&host));
        let listed = self.definition.api.as_ref().is_some_and(|a| host_allowed(&host, &a.allowed_hosts));
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        if !scheme_ok || !(same_as_base || listed) {
            return Err(ProviderError::EndpointNotAllowed(host));
        }
        Ok(url)
    }

    /// An authorized API request of a catalog `request` table.
    pub(crate) fn api_request(
        &self,
        cx: &CallContext<'_>,
        request: &RawRequest,
        tokens: &TokenSet,
        tenant: Option<&TenantId>,
    ) -> Result<http::Request<Vec<u8>>, ProviderError> {
        let url = self.api_url(&request.url, tokens, tenant)?;
        let method = request.method.as_deref().unwrap_or("GET");
        let mut builder =
            http::Request::builder().method(method).uri(url.as_str()).header(http::header::ACCEPT, "application/json");
        let body = match &request.json {
            Some(json) => {
                let tenant = tenant.map(|t| serde_json::to_string(t.as_str())).transpose().map_err(invalid)?;
                let escaped = tenant.as_deref().map(|t| &t[1..t.len() - 1]).unwrap_or_default();
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                json.replace("{tenant}", escaped).into_bytes()
            }
            None => Vec::new(),
        };
        if request.tenant_header
            && let (Some(tenant), Some(header)) =
                (tenant, self.definition.api.as_ref().and_then(|a| a.tenant_header.as_ref()))
        {
            builder = builder.header(header.as_str(), tenant.as_str());
        }
        let mut request = builder.body(body).map_err(invalid)?;
        self.authorize(cx, tokens, &mut request)?;
        Ok(request)
    }

    /// Sends an authorized API request and reads its JSON answer.
    pub(crate) async fn call(
        &self,
        cx: &CallContext<'_>,
        request: &RawRequest,
        tokens: &TokenSet,
        tenant: Option<&TenantId>,
    ) -> Result<Value, ProviderError> {
        cx.http.get_json(self.api_request(cx, request, tokens, tenant)?).await
    }

    /// Sends an authorized GET to a URL built in code (under [`CatalogQuirks::api_base`]).
    pub(crate) async fn get(&self, cx: &CallContext<'_>, url: &Url, tokens: &TokenSet) -> Result<Value, ProviderError> {
        let mut request = http::Request::get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(invalid)?;
        self.authorize(cx, tokens, &mut request)?;
        cx.http.get_json(request).await
    }

    /// Authorizes an API request: the token with the definition's scheme, the client-id and
    /// fixed headers, and the tenant header for the context's tenant (unless the request
    /// already names one).
    fn authorize(
        &self,
        cx: &CallContext<'_>,
        tokens: &TokenSet,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        let api = self.definition.api.as_ref();
        let scheme = api.and_then(|a| a.auth_scheme.as_deref()).unwrap_or("Bearer");
        set_authorization(request, &format!("{scheme} {}", tokens.access_token.secret()))?;
        let headers = request.headers_mut();
        if let Some(api) = api {
            if let Some(name) = &api.client_id_header {
                let name = http::HeaderName::try_from(name.as_str()).map_err(invalid)?;
                headers.insert(name, http::HeaderValue::try_from(self.client_id.as_str()).map_err(invalid)?);
            }
            for (name, value) in &api.headers {
                let name = http::HeaderName::try_from(name.as_str()).map_err(invalid)?;
                headers.insert(name, http::HeaderValue::try_from(value.as_str()).map_err(invalid)?);
            }
            if let (Some(name), Some(tenant)) = (&api.tenant_header, cx.tenant) {
                let name = http::HeaderName::try_from(name.as_str()).map_err(invalid)?;
                if !headers.contains_key(&name) {
                    headers.insert(name, http::HeaderValue::try_from(tenant.as_str()).map_err(invalid)?);
                }
            }
        }
        Ok(())
    }

    fn endpoint(&self, template: &str, inputs: &Inputs) -> Result<Url, ProviderError> {
        let url = template::expand(template, &|name| inputs.get(name).map(str::to_owned))
            .map_err(|e| ProviderError::InvalidInput { name: "endpoint".into(), reason: e })?;
        Ok(self.placement.place(url))
    }

    fn refused(&self, what: &str) -> ProviderError {
        ProviderError::InsufficientRole(format!("{}: {what}", self.definition.display_name))
    }

    async fn listed_tenants(&self, cx: &CallContext<'_>, tokens: &TokenSet) -> Result<Vec<Tenant>, ProviderError> {
        let tenants = self.definition.tenants.as_ref().ok_or(ProviderError::Unsupported("tenants"))?;
        match tenants.source {
            RawTenantSource::Hooks => match self.definition.hooks {
                Some(Hooks::DynamicsBusinessCentral) => {
                    crate::dynamics_business_central::tenants(self, cx, tokens).await
                }
                _ => Err(ProviderError::Unsupported("tenant listing hooks")),
            },
            RawTenantSource::Callback => {
                let id_param = tenants.id_param.as_deref().unwrap_or_default();
                let id = tokens
                    .params
                    .get(id_param)
                    .ok_or_else(|| ProviderError::InvalidResponse(format!("the callback carried no `{id_param}`")))?;
                let id = TenantId::new(id.clone()).map_err(|e| ProviderError::InvalidResponse(e.to_string()))?;
                let name = match tenants.name_param.as_ref().and_then(|p| tokens.params.get(p)) {
                    Some(name) => name.clone(),
                    None if self.definition.verify.is_some() => self.verify_tokens(cx, tokens, Some(&id)).await?.name,
                    None => id.as_str().to_owned(),
                };
                Ok(vec![Tenant::new(id, name)])
            }
            RawTenantSource::List => {
                let request = tenants.request.as_ref().ok_or(ProviderError::Unsupported("tenants"))?;
                let answer = self.call(cx, request, tokens, None).await?;
                let items = answer.pointer(tenants.items.as_deref().unwrap_or_default());
                let items: Vec<&Value> = match items {
                    Some(v) if tenants.single => vec![v],
                    Some(Value::Array(list)) => list.iter().collect(),
                    _ => return Err(ProviderError::InvalidResponse("the tenant list is missing".into())),
                };
                let listed = items.len();
                let mut out = Vec::new();
                for item in items {
                    if let Some(role) = &tenants.role {
                        let role = item.pointer(role).and_then(text_of).unwrap_or_default();
                        if !tenants.admin_roles.iter().any(|r| r.eq_ignore_ascii_case(&role)) {
                            continue;
                        }
                    }
                    let id = text_at(item, tenants.id.as_deref().unwrap_or_default())?;
                    let id = TenantId::new(id).map_err(|e| ProviderError::InvalidResponse(e.to_string()))?;
                    out.push(Tenant::new(id, text_at(item, tenants.name.as_deref().unwrap_or_default())?));
                }
                if listed > 0 && out.is_empty() {
                    return Err(self.refused("no tenant where the user is an administrator or owner"));
                }
                let empty_is_refusal =
                    self.definition.admin_refusal.as_ref().is_some_and(|a| a.signal == RawSignal::EmptyTenants);
                if out.is_empty() && empty_is_refusal {
                    return Err(self.refused("no tenant is connected to the user"));
                }
                Ok(out)
            }
        }
    }

    async fn verify_tokens(
        &self,
        cx: &CallContext<'_>,
        tokens: &TokenSet,
        tenant: Option<&TenantId>,
    ) -> Result<AccountInfo, ProviderError> {
        if self.definition.hooks == Some(Hooks::DynamicsBusinessCentral) {
            return crate::dynamics_business_central::verify(self, cx, tokens, tenant).await;
        }
        let verify = self.definition.verify.as_ref().ok_or(ProviderError::Unsupported("verify"))?;
        let answer = self.call(cx, &verify.request, tokens, tenant).await?;
        let mut info = AccountInfo::new(text_at(&answer, &verify.name)?);
        if let Some(id) = verify.id.as_ref().and_then(|p| answer.pointer(p)).and_then(text_of) {
            info = info.with_id(id);
        }
        Ok(info)
    }
}

#[async_trait]
impl Quirks for CatalogQuirks {
    fn endpoints(&self, _definition: &OAuth2Definition, inputs: &Inputs) -> Result<Endpoints, ProviderError> {
        match &self.fixed {
            Some(fixed) => Ok(fixed.clone()),
            None => self.placed_endpoints(inputs),
        }
    }

    fn callback_endpoints(
        &self,
        _definition: &OAuth2Definition,
        mut endpoints: Endpoints,
        params: &BTreeMap<String, String>,
    ) -> Result<Endpoints, ProviderError> {
        let Some(origin) = self.oauth().token_origin_param.as_ref().and_then(|p| params.get(p)) else {
            return Ok(endpoints);
        };
        if self.placement.base.is_some() {
            // Every host is the base: the callback's data centre changes nothing.
            return Ok(endpoints);
        }
        let origin = Url::parse(origin).map_err(|e| ProviderError::InvalidResponse(format!("callback origin: {e}")))?;
        endpoints.token = with_origin(&endpoints.token, &origin).map_err(invalid)?;
        if let Some(revoke) = &endpoints.revoke {
            endpoints.revoke = Some(with_origin(revoke, &origin).map_err(invalid)?);
        }
        Ok(endpoints)
    }

    fn authorize_params(&self, _definition: &OAuth2Definition, inputs: &Inputs) -> Vec<(String, String)> {
        self.definition
            .raw_inputs
            .iter()
            .filter_map(|i| Some((i.authorize_param.clone()?, inputs.get(&i.name)?.to_owned())))
            .collect()
    }

    async fn list_tenants(&self, cx: &CallContext<'_>, tokens: &TokenSet) -> Result<Vec<Tenant>, ProviderError> {
        self.listed_tenants(cx, tokens).await
    }

    async fn verify(
        &self,
        cx: &CallContext<'_>,
        tokens: &TokenSet,
        tenant: Option<&TenantId>,
    ) -> Result<AccountInfo, ProviderError> {
        self.verify_tokens(cx, tokens, tenant).await
    }

    fn authorize_request(
        &self,
        cx: &CallContext<'_>,
        tokens: &TokenSet,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), ProviderError> {
        self.authorize(cx, tokens, request)
    }

    fn callback_error_reason(&self, error: &str, description: Option<&str>) -> ReasonCode {
        if let Some(refusal) = &self.definition.admin_refusal
            && refusal.signal == RawSignal::Callback
            && refusal.error.as_deref() == Some(error)
        {
            let description = description.unwrap_or_default().to_ascii_lowercase();
            if refusal.description_contains.iter().any(|needle| description.contains(&needle.to_ascii_lowercase())) {
                return ReasonCode::InsufficientPermission;
            }
        }
        default_callback_error_reason(error, description)
    }
}

/// The core's definition of a catalog service, placed.
pub(crate) fn oauth2_definition(
    definition: &ServiceDefinition,
    placement: &Placement,
) -> Result<OAuth2Definition, String> {
    let oauth = definition.oauth2.as_ref().ok_or("the definition has no [oauth2] table")?;
    // Hosts derived from inputs are checked against `allowed_hosts`; here every placeholder
    // stands for one sample label.
    let sample = |template: &str| template::expand(template, &|_| Some("sample".into())).map(|u| placement.place(u));
    let mut core = OAuth2Definition::new(
        definition.service.clone(),
        &definition.display_name,
        sample(&oauth.authorize_url)?,
        sample(&oauth.token_url)?,
    )
    .with_scopes(
        &oauth.scopes.iter().map(String::as_str).collect::<Vec<_>>(),
        oauth.scope_separator.as_deref().unwrap_or(" "),
    )
    .with_client_auth(match oauth.client_auth {
        RawClientAuth::Basic => ClientAuth::Basic,
        RawClientAuth::Body => ClientAuth::RequestBody,
    })
    .with_pkce(match oauth.pkce {
        RawPkce::Required => Pkce::Required,
        RawPkce::Supported => Pkce::Supported,
        RawPkce::Unsupported => Pkce::Unsupported,
    })
    .with_sandbox(placement.sandbox)
    .with_countries(&definition.countries);
    if let (Some(url), Some(style)) = (&oauth.revoke_url, oauth.revocation) {
        let style = match style {
            RawRevocation::Form => RevocationStyle::Rfc7009,
            RawRevocation::Json => RevocationStyle::JsonBody,
            RawRevocation::QueryToken => RevocationStyle::QueryParameter,
        };
        core = core.with_revocation(sample(url)?, style);
    }
    if let Some(sandbox) = oauth.sandbox.as_ref().filter(|_| placement.sandbox) {
        for url in [&sandbox.authorize_url, &sandbox.token_url, &sandbox.revoke_url].into_iter().flatten() {
            let url = sample(url)?;
            if let Some(host) = url.host_str() {
                core = core.with_allowed_host(host);
            }
        }
    }
    for (name, value) in &oauth.authorize_params {
        core = core.with_authorize_param(name, value);
    }
    for param in &oauth.callback_params {
        core = core.with_callback_param(param);
    }
    for input in &definition.inputs {
        core = core.with_input(input.clone());
    }
    for host in &oauth.allowed_hosts {
        core = core.with_allowed_host(host);
    }
    if let Some(base) = placement.base.as_ref().and_then(Url::host_str) {
        core = core.with_allowed_host(base);
    }
    core = match oauth.rotation {
        RawRotation::Always => core.with_rotation(Rotation::Always),
        RawRotation::Never => core.with_rotation(Rotation::Never),
        RawRotation::Unknown => core.with_rotation(Rotation::Unknown),
        RawRotation::None => core.with_refresh(false),
    };
    if definition.tenants.is_some() {
        core = core.with_tenant_selection();
    }
    if definition.verify.is_some() || definition.hooks == Some(Hooks::DynamicsBusinessCentral) {
        core = core.with_verify();
    }
    if let Some(ttl) = oauth.access_token_ttl_secs {
        core = core.with_default_access_ttl(Duration::from_secs(ttl));
    }
    if let Some(ttl) = oauth.refresh_token_ttl_secs {
        core = core.with_default_refresh_ttl(Duration::from_secs(ttl));
    }
    for (alias, means) in &oauth.error_aliases {
        core = core.with_error_alias(alias, OAuthErrorCode::parse(means));
    }
    if let Some(issuer) = &oauth.issuer {
        // Moved like every endpoint: an emulation or staging server is its own issuer.
        let issuer = match (Url::parse(issuer), &placement.base) {
            (Ok(url), Some(_)) => placement.place(url).as_str().trim_end_matches('/').to_owned(),
            _ => issuer.clone(),
        };
        core = core.with_issuer(issuer, IssuerParam::Optional);
    }
    Ok(core)
}

/// The adapter of an OAuth2 catalog definition.
pub(crate) fn oauth2_provider(
    definition: Arc<ServiceDefinition>,
    client: ClientRegistration,
    placement: Placement,
) -> Result<OAuth2Provider<CatalogQuirks>, String> {
    let core = oauth2_definition(&definition, &placement)?;
    let quirks = CatalogQuirks::new(definition, client.client_id.clone(), placement);
    Ok(OAuth2Provider::new(core, client, quirks))
}

/// (These tests read the built-in definitions of every service.)
#[cfg(all(test, feature = "all"))]
mod tests {
    use railz_connect_core::http::HttpClient;
    use railz_connect_core::provider::{CodeExchange, Provider};
    use railz_connect_core::secret::{AuthorizationCode, ClientSecret, PkceVerifier};

    use super::*;
    use crate::Catalog;

    fn definition(service: &str) -> Arc<ServiceDefinition> {
        Catalog::builtin().unwrap().get_arc(&service.parse().unwrap()).unwrap()
    }

    fn quirks(service: &str, placement: Placement) -> CatalogQuirks {
        CatalogQuirks::new(definition(service), "client".into(), placement)
    }

    #[tokio::test]
    async fn a_callback_cannot_send_the_code_to_another_host() {
        let client = ClientRegistration::new("client", ClientSecret::new("secret"));
        let zoho = oauth2_provider(definition("zohoBooks"), client, Placement::default()).unwrap();
        let http = HttpClient::new().unwrap();
        // A fixed instant: the exchange is refused before anything reads the time.
        let now = railz_connect_core::time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let cx = CallContext::new(&http, now);
        let (code, verifier) = (AuthorizationCode::new("c"), PkceVerifier::new("v".repeat(43)));
        let redirect = Url::parse("https://app.example/callback").unwrap();
        let inputs = Inputs::new().with_input("dataCenter", "accounts.zoho.eu");
        for origin in ["https://evil.example", "http://accounts.zoho.eu", "https://accounts.zoho.eu.evil.example"] {
            let params: BTreeMap<String, String> = [("accounts-server".to_owned(), origin.to_owned())].into();
            let exchange =
                CodeExchange::new(&code, &redirect, &verifier).with_inputs(&inputs).with_callback_params(&params);
            let e = zoho.exchange_code(&cx, &exchange).await.expect_err("refused before any request");
            assert!(matches!(e, ProviderError::EndpointNotAllowed(_)), "{origin}: {e:?}");
        }
    }

    #[test]
    fn a_token_response_cannot_send_the_token_to_another_host() {
        let zoho = quirks("zohoBooks", Placement::default());
        let at = |domain: &str| zoho.api_base(&[("api_domain".to_owned(), domain.to_owned())].into());
        assert_eq!(at("https://www.zohoapis.eu").unwrap().host_str(), Some("www.zohoapis.eu"));
        for refused in ["https://evil.example", "http://www.zohoapis.eu", "https://www.zohoapis.eu.evil.example"] {
            assert!(matches!(at(refused), Err(ProviderError::EndpointNotAllowed(_))), "{refused}");
        }
        // Moved onto a base URL, the token's domain changes nothing.
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        let moved = quirks("zohoBooks", Placement { base: Some(base), sandbox: false });
        let url = moved.api_base(&[("api_domain".to_owned(), "https://evil.example".to_owned())].into()).unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"));
    }

    #[test]
    fn input_hosts_and_the_base_url_override() {
        let netsuite = quirks("oracleNetsuite", Placement::default());
        let core = oauth2_definition(netsuite.definition(), &Placement::default()).unwrap();
        let endpoints = netsuite.endpoints(&core, &Inputs::new().with_input("accountId", "1234567_SB1")).unwrap();
        assert_eq!(endpoints.authorize.host_str(), Some("1234567-sb1.app.netsuite.com"));
        assert_eq!(endpoints.token.host_str(), Some("1234567-sb1.suitetalk.api.netsuite.com"));
        assert!(core.allows(&endpoints.authorize) && core.allows(&endpoints.token));
        assert!(netsuite.endpoints(&core, &Inputs::new().with_input("accountId", "evil.example/x")).is_err());
        let base = Url::parse("http://127.0.0.1:9/emu/").unwrap();
        let placement = Placement { base: Some(base), sandbox: false };
        let moved = quirks("oracleNetsuite", placement.clone());
        let core = oauth2_definition(moved.definition(), &placement).unwrap();
        let endpoints = moved.endpoints(&core, &Inputs::new().with_input("accountId", "1234567_SB1")).unwrap();
        assert_eq!(endpoints.token.as_str(), "http://127.0.0.1:9/emu/services/rest/auth/oauth2/v1/token");
        assert!(core.allows(&endpoints.token));
    }

    #[test]
    fn sandbox_endpoints_where_the_definition_has_them() {
        let api = |sandbox| quirks("quickbooks", Placement { base: None, sandbox }).api_base(&BTreeMap::new());
        assert_eq!(api(false).unwrap().host_str(), Some("quickbooks.api.intuit.com"));
        assert_eq!(api(true).unwrap().host_str(), Some("sandbox-quickbooks.api.intuit.com"));
        let freeagent = quirks("freeagent", Placement { base: None, sandbox: true });
        let core = oauth2_definition(freeagent.definition(), &Placement { base: None, sandbox: true }).unwrap();
        let endpoints = freeagent.endpoints(&core, &Inputs::new()).unwrap();
        assert_eq!(endpoints.token.host_str(), Some("api.sandbox.freeagent.com"));
        assert!(core.allows(&endpoints.token));
    }

    #[test]
    fn callback_refusals_read_from_the_definition() {
        let myob = quirks("myob", Placement::default());
        let reason = |e: &str, d: Option<&str>| myob.callback_error_reason(e, d);
        assert_eq!(
            reason("access_denied", Some("Only a company file Admin can approve")),
            ReasonCode::InsufficientPermission
        );
        assert_eq!(reason("access_denied", Some("The user denied access")), ReasonCode::AccessDenied);
        assert_eq!(reason("access_denied", None), ReasonCode::AccessDenied);
        assert_eq!(reason("server_error", Some("admin")), ReasonCode::ProviderUnavailable);
    }
}
