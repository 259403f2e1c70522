//! The provider catalog: one TOML definition file per accounting service (`catalog/xero.toml`),
//! embedded at build time and validated when loaded, plus whatever definitions an app adds or
//! overrides at run time ([`Catalog::add_toml`], [`Catalog::load_file`]).
//!
//! A definition says, as data, what the generic adapter needs: endpoints (production and
//! sandbox), scopes, client authentication, PKCE, authorization and callback parameters,
//! inputs, tenant listing, token lifetimes and rotation, revocation, the verify call, how the
//! provider refuses a user without an administrator or owner role, and the sources of those
//! facts. Rust is needed only for what data cannot say: a service's `hooks`.

mod schema;
pub(crate) mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use railz_connect_core::ServiceName;
use railz_connect_core::provider::{CharSet, InputSpec, OAuthErrorCode, Presence};
use url::Url;

pub(crate) use schema::*;

/// Why a definition file was refused: the file, the field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {field}: {reason}")]
#[non_exhaustive]
pub struct CatalogError {
    /// The file (its path, or the label it was added under).
    pub file: String,
    /// The field, as a dotted path (`oauth2.token_url`, `inputs[0].kind`); empty when the file
    /// as a whole is wrong.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl CatalogError {
    fn new(file: &str, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { file: file.to_owned(), field: field.into(), reason: reason.into() }
    }
}

/// Whether the SDK can connect a service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Support {
    /// It can.
    Supported,
    /// It cannot, for this reason (QuickBooks Desktop is not a web service).
    Unsupported {
        /// Why.
        reason: String,
    },
}

/// How a business connects a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMode {
    /// An OAuth 2.0 authorization-code redirect.
    OAuth2,
    /// Credentials entered as inputs (Sage Intacct's Web Services user, NetSuite's
    /// token-based authentication).
    Credentials,
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OAuth2 => "oauth2",
            Self::Credentials => "credentials",
        })
    }
}

/// Rust code a definition asks for, for what data cannot say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hooks {
    /// Business Central: environments, then their companies.
    DynamicsBusinessCentral,
    /// NetSuite's token-based authentication (OAuth 1.0a request signing).
    NetsuiteTba,
    /// Sage Intacct's XML gateway sessions.
    SageIntacct,
}

impl Hooks {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "dynamicsBusinessCentral" => Some(Self::DynamicsBusinessCentral),
            "netsuiteTba" => Some(Self::NetsuiteTba),
            "sageIntacct" => Some(Self::SageIntacct),
            _ => None,
        }
    }
}

/// Where a fact of a definition comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Source {
    /// The fact.
    pub fact: String,
    /// Where it is documented.
    pub url: String,
}

/// One validated definition.
#[derive(Debug, Clone)]
pub struct ServiceDefinition {
    pub(crate) file: String,
    pub(crate) service: ServiceName,
    pub(crate) display_name: String,
    pub(crate) countries: Vec<String>,
    pub(crate) support: Support,
    pub(crate) modes: Vec<AuthMode>,
    pub(crate) hooks: Option<Hooks>,
    pub(crate) oauth2: Option<RawOAuth2>,
    pub(crate) credentials: Option<RawCredentials>,
    pub(crate) api: Option<RawApi>,
    pub(crate) raw_inputs: Vec<RawInput>,
    pub(crate) inputs: Vec<InputSpec>,
    pub(crate) credential_inputs: Vec<InputSpec>,
    pub(crate) tenants: Option<RawTenants>,
    pub(crate) verify: Option<RawVerify>,
    pub(crate) admin_refusal: Option<RawAdminRefusal>,
    pub(crate) sources: Vec<Source>,
}

impl ServiceDefinition {
    /// The file it was read from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The service name.
    pub fn service_name(&self) -> &ServiceName {
        &self.service
    }

    /// The name to show.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The countries it is sold in (ISO 3166-1 alpha-2); empty for everywhere.
    pub fn countries(&self) -> &[String] {
        &self.countries
    }

    /// Whether the SDK can connect it.
    pub fn support(&self) -> &Support {
        &self.support
    }

    /// The ways in, the default first (empty when unsupported).
    pub fn auth_modes(&self) -> &[AuthMode] {
        &self.modes
    }

    /// The inputs asked for in this mode.
    pub fn inputs(&self, mode: AuthMode) -> &[InputSpec] {
        match mode {
            AuthMode::OAuth2 => &self.inputs,
            AuthMode::Credentials => &self.credential_inputs,
        }
    }

    /// How long a rotated refresh token keeps working after its successor is issued, where
    /// the definition says (Xero: 30 minutes, QuickBooks: 24 hours).
    pub fn refresh_grace(&self) -> Option<std::time::Duration> {
        self.oauth2.as_ref()?.refresh_grace_secs.map(std::time::Duration::from_secs)
    }

    /// The sources of its facts.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// How the provider refuses a user without an administrator or owner role, in words.
    pub fn admin_refusal(&self) -> Option<&'static str> {
        self.admin_refusal.as_ref().map(|a| match a.signal {
            RawSignal::Callback => "error callback",
            RawSignal::EmptyTenants => "no tenant listed",
            RawSignal::TenantRole => "role in the tenant list",
            RawSignal::Forbidden => "403 from the API",
            RawSignal::CredentialsError => "refused credentials",
        })
    }

    /// Parses and validates one definition file's text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, CatalogError> {
        let deserializer =
            toml::Deserializer::parse(text).map_err(|e| CatalogError::new(file, "", e.message().to_owned()))?;
        let raw: RawDefinition = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let field = e.path().to_string();
            CatalogError::new(file, if field == "." { String::new() } else { field }, e.inner().message().to_owned())
        })?;
        validate(file, raw)
    }
}

fn validate(file: &str, raw: RawDefinition) -> Result<ServiceDefinition, CatalogError> {
    let err = |field: &str, reason: String| CatalogError::new(file, field, reason);
    let service = ServiceName::new(raw.service.clone()).map_err(|e| err("service", e.to_string()))?;
    if raw.display_name.trim().is_empty() {
        return Err(err("display_name", "is empty".into()));
    }
    let hooks = match &raw.hooks {
        Some(name) => Some(Hooks::parse(name).ok_or_else(|| err("hooks", format!("no hooks are named `{name}`")))?),
        None => None,
    };
    for (i, source) in raw.sources.iter().enumerate() {
        let url = Url::parse(&source.url).map_err(|e| err(&format!("sources[{i}].url"), e.to_string()))?;
        if url.scheme() != "https" {
            return Err(err(&format!("sources[{i}].url"), "is not https".into()));
        }
    }
    let sources = raw.sources.iter().map(|s| Source { fact: s.fact.clone(), url: s.url.clone() }).collect();
    for (i, country) in raw.countries.iter().enumerate() {
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(err(&format!("countries[{i}]"), format!("`{country}` is not an ISO 3166-1 alpha-2 code")));
        }
    }
    let mut definition = ServiceDefinition {
        file: file.to_owned(),
        service,
        display_name: raw.display_name.clone(),
        countries: raw.countries.clone(),
        support: Support::Supported,
        modes: Vec::new(),
        hooks,
        oauth2: None,
        credentials: None,
        api: None,
        raw_inputs: Vec::new(),
        inputs: Vec::new(),
        credential_inputs: Vec::new(),
        tenants: None,
        verify: None,
        admin_refusal: None,
        sources,
    };
    if raw.status == RawStatus::Unsupported {
        let reason = raw.unsupported_reason.filter(|r| !r.trim().is_empty());
        definition.support =
            Support::Unsupported { reason: reason.ok_or_else(|| err("unsupported_reason", "is required".into()))? };
        return Ok(definition);
    }
    if raw.sources.is_empty() {
        return Err(err("sources", "a supported service cites its sources".into()));
    }
    let default = raw.auth.ok_or_else(|| err("auth", "is required".into()))?;
    match (default, &raw.oauth2, &raw.credentials) {
        (RawAuth::Oauth2, None, _) => return Err(err("oauth2", "is required with auth = \"oauth2\"".into())),
        (RawAuth::Credentials, _, None) => {
            return Err(err("credentials", "is required with auth = \"credentials\"".into()));
        }
        _ => {}
    }
    if raw.credentials.is_some() && !matches!(hooks, Some(Hooks::NetsuiteTba | Hooks::SageIntacct)) {
        return Err(err("hooks", "credentials need hooks that open them (`netsuiteTba`, `sageIntacct`)".into()));
    }
    definition.modes = match default {
        RawAuth::Oauth2 => {
            std::iter::once(AuthMode::OAuth2).chain(raw.credentials.as_ref().map(|_| AuthMode::Credentials)).collect()
        }
        RawAuth::Credentials => {
            std::iter::once(AuthMode::Credentials).chain(raw.oauth2.as_ref().map(|_| AuthMode::OAuth2)).collect()
        }
    };
    definition.inputs = inputs(file, "inputs", &raw.inputs)?;
    if let Some(credentials) = &raw.credentials {
        definition.credential_inputs = inputs(file, "credentials.inputs", &credentials.inputs)?;
        check_url(file, "credentials.endpoint", &credentials.endpoint, &names(&credentials.inputs, &[]))?;
    }
    let input_names: Vec<String> = raw.inputs.iter().map(|i| i.name.clone()).collect();
    let mut known: BTreeSet<String> = input_names.iter().cloned().collect();
    if let Some(oauth) = &raw.oauth2 {
        check_oauth2(file, oauth, &known)?;
        known.extend(oauth.callback_params.iter().cloned());
    }
    if let Some(api) = &raw.api {
        check_url(file, "api.base_url", &api.base_url, &known)?;
        if let Some(sandbox) =
            raw.oauth2.as_ref().and_then(|o| o.sandbox.as_ref()).and_then(|s| s.api_base_url.as_ref())
        {
            check_url(file, "oauth2.sandbox.api_base_url", sandbox, &BTreeSet::new())?;
        }
        for (name, value) in &api.headers {
            http::HeaderName::try_from(name.as_str())
                .map_err(|e| err(&format!("api.headers.{name}"), e.to_string()))?;
            http::HeaderValue::try_from(value.as_str())
                .map_err(|e| err(&format!("api.headers.{name}"), e.to_string()))?;
        }
        for header in [&api.client_id_header, &api.tenant_header].into_iter().flatten() {
            http::HeaderName::try_from(header.as_str()).map_err(|e| err("api", format!("`{header}`: {e}")))?;
        }
    }
    let mut with_api = known.clone();
    with_api.insert("api".into());
    if let Some(tenants) = &raw.tenants {
        check_tenants(file, tenants, &with_api, &known, hooks, raw.api.is_some())?;
    }
    if let Some(verify) = &raw.verify {
        let mut vars = with_api.clone();
        vars.insert("tenant".into());
        check_request(file, "verify.request", &verify.request, &vars, raw.api.is_some())?;
        pointer(file, "verify.name", &verify.name)?;
        if let Some(id) = &verify.id {
            pointer(file, "verify.id", id)?;
        }
    }
    if let Some(refusal) = &raw.admin_refusal {
        match refusal.signal {
            RawSignal::Callback if refusal.error.is_none() => {
                return Err(err("admin_refusal.error", "is required with signal = \"callback\"".into()));
            }
            RawSignal::TenantRole if raw.tenants.as_ref().and_then(|t| t.role.as_ref()).is_none() => {
                return Err(err("tenants.role", "is required with admin_refusal.signal = \"tenant_role\"".into()));
            }
            RawSignal::EmptyTenants | RawSignal::TenantRole if raw.tenants.is_none() => {
                return Err(err("tenants", "is required by admin_refusal.signal".into()));
            }
            _ => {}
        }
    }
    definition.oauth2 = raw.oauth2;
    definition.credentials = raw.credentials;
    definition.api = raw.api;
    definition.raw_inputs = raw.inputs;
    definition.tenants = raw.tenants;
    definition.verify = raw.verify;
    definition.admin_refusal = raw.admin_refusal;
    Ok(definition)
}

fn names(inputs: &[RawInput], extra: &[&str]) -> BTreeSet<String> {
    inputs.iter().map(|i| i.name.clone()).chain(extra.iter().map(|s| (*s).to_owned())).collect()
}

fn inputs(file: &str, field: &str, raw: &[RawInput]) -> Result<Vec<InputSpec>, CatalogError> {
    let mut seen = BTreeSet::new();
    raw.iter()
        .enumerate()
        .map(|(i, input)| {
            let at = |f: &str| format!("{field}[{i}].{f}");
            if input.name.is_empty() || !input.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(CatalogError::new(file, at("name"), "letters, digits and `_` only"));
            }
            if !seen.insert(input.name.clone()) {
                return Err(CatalogError::new(file, at("name"), format!("`{}` is given twice", input.name)));
            }
            let mut spec = match input.kind {
                RawInputKind::Text => InputSpec::text(&input.name, &input.label),
                RawInputKind::Secret => InputSpec::secret(&input.name, &input.label),
                RawInputKind::Choice => {
                    if input.choices.is_empty() {
                        return Err(CatalogError::new(file, at("choices"), "a choice needs choices"));
                    }
                    let choices: Vec<&str> = input.choices.iter().map(String::as_str).collect();
                    InputSpec::choice(&input.name, &input.label, &choices)
                }
            };
            if input.kind != RawInputKind::Choice && !input.choices.is_empty() {
                return Err(CatalogError::new(file, at("choices"), "only a choice has choices"));
            }
            if input.kind == RawInputKind::Secret && input.authorize_param.is_some() {
                return Err(CatalogError::new(file, at("authorize_param"), "a secret is never sent in a URL"));
            }
            if let Some(len) = input.max_len {
                spec = spec.with_max_len(len);
            }
            if input.identifier {
                spec = spec.with_charset(CharSet::Identifier);
            }
            if !input.required {
                spec = spec.with_presence(Presence::Optional);
            }
            Ok(spec)
        })
        .collect()
}

/// Checks a URL template: known placeholders, and a URL once expanded with sample values.
fn check_url(file: &str, field: &str, template: &str, known: &BTreeSet<String>) -> Result<(), CatalogError> {
    let err = |reason: String| CatalogError::new(file, field, reason);
    for (name, _) in template::placeholders(template).map_err(err)? {
        if !known.contains(&name) {
            return Err(err(format!("`{{{name}}}` names no input, kept parameter or known value")));
        }
    }
    let url = template::expand(template, &|name| {
        Some(if name == "api" { "https://api.example.com".into() } else { "sample".into() })
    })
    .map_err(err)?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(err("is not https".into()));
    }
    Ok(())
}

fn check_oauth2(file: &str, oauth: &RawOAuth2, inputs: &BTreeSet<String>) -> Result<(), CatalogError> {
    let err = |field: &str, reason: String| CatalogError::new(file, format!("oauth2.{field}"), reason);
    check_url(file, "oauth2.authorize_url", &oauth.authorize_url, inputs)?;
    check_url(file, "oauth2.token_url", &oauth.token_url, inputs)?;
    match (&oauth.revoke_url, oauth.revocation) {
        (Some(url), Some(_)) => check_url(file, "oauth2.revoke_url", url, inputs)?,
        (None, None) => {}
        (Some(_), None) => return Err(err("revocation", "is required with revoke_url".into())),
        (None, Some(_)) => return Err(err("revoke_url", "is required with revocation".into())),
    }
    if let Some(sandbox) = &oauth.sandbox {
        for (field, url) in [
            ("sandbox.authorize_url", &sandbox.authorize_url),
            ("sandbox.token_url", &sandbox.token_url),
            ("sandbox.revoke_url", &sandbox.revoke_url),
        ] {
            if let Some(url) = url {
                check_url(file, &format!("oauth2.{field}"), url, inputs)?;
            }
        }
    }
    if let Some(sep) = &oauth.scope_separator
        && !matches!(sep.as_str(), " " | ",")
    {
        return Err(err("scope_separator", "is \" \" or \",\"".into()));
    }
    if oauth.scopes.iter().any(|s| s.is_empty() || s.contains([' ', ','])) {
        return Err(err("scopes", "a scope is empty or holds a separator".into()));
    }
    if let Some(param) = &oauth.token_origin_param
        && !oauth.callback_params.contains(param)
    {
        return Err(err("token_origin_param", format!("`{param}` is not among callback_params")));
    }
    for (alias, means) in &oauth.error_aliases {
        if matches!(OAuthErrorCode::parse(means), OAuthErrorCode::Other(_)) {
            return Err(err(&format!("error_aliases.{alias}"), format!("`{means}` is not a standard error code")));
        }
    }
    for host in &oauth.allowed_hosts {
        let bare = host.strip_prefix("*.").unwrap_or(host);
        if bare.is_empty() || bare.contains(['/', ':', '*']) {
            return Err(err("allowed_hosts", format!("`{host}` is not a host name")));
        }
    }
    Ok(())
}

fn check_request(
    file: &str,
    field: &str,
    request: &RawRequest,
    known: &BTreeSet<String>,
    has_api: bool,
) -> Result<(), CatalogError> {
    if request.url.starts_with("{api}") && !has_api {
        return Err(CatalogError::new(file, format!("{field}.url"), "uses {api} without an [api] table"));
    }
    check_url(file, &format!("{field}.url"), &request.url, known)?;
    if let Some(method) = &request.method
        && !matches!(method.as_str(), "GET" | "POST")
    {
        return Err(CatalogError::new(file, format!("{field}.method"), "is GET or POST"));
    }
    if let Some(json) = &request.json {
        let sample = json.replace("{tenant}", "t");
        serde_json::from_str::<serde_json::Value>(&sample)
            .map_err(|e| CatalogError::new(file, format!("{field}.json"), format!("is not JSON: {e}")))?;
    }
    Ok(())
}

fn pointer(file: &str, field: &str, pointer: &str) -> Result<(), CatalogError> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(CatalogError::new(file, field, "a JSON pointer starts with `/` (or is empty)"))
    }
}

fn check_tenants(
    file: &str,
    tenants: &RawTenants,
    with_api: &BTreeSet<String>,
    params: &BTreeSet<String>,
    hooks: Option<Hooks>,
    has_api: bool,
) -> Result<(), CatalogError> {
    let err = |field: &str, reason: &str| CatalogError::new(file, format!("tenants.{field}"), reason);
    match tenants.source {
        RawTenantSource::List => {
            let request =
                tenants.request.as_ref().ok_or_else(|| err("request", "is required with source = \"list\""))?;
            check_request(file, "tenants.request", request, with_api, has_api)?;
            for (field, value) in [("items", &tenants.items), ("id", &tenants.id), ("name", &tenants.name)] {
                pointer(file, &format!("tenants.{field}"), value.as_deref().ok_or_else(|| err(field, "is required"))?)?;
            }
            if let Some(role) = &tenants.role {
                pointer(file, "tenants.role", role)?;
                if tenants.admin_roles.is_empty() {
                    return Err(err("admin_roles", "is required with role"));
                }
            }
        }
        RawTenantSource::Callback => {
            let id =
                tenants.id_param.as_ref().ok_or_else(|| err("id_param", "is required with source = \"callback\""))?;
            if !params.contains(id) {
                return Err(err("id_param", "names no input or callback parameter"));
            }
            if let Some(name) = &tenants.name_param
                && !params.contains(name)
            {
                return Err(err("name_param", "names no input or callback parameter"));
            }
        }
        RawTenantSource::Hooks => {
            if hooks.is_none() {
                return Err(err("source", "\"hooks\" needs the definition's hooks"));
            }
        }
    }
    Ok(())
}

/// The definitions files built into this crate, one per service (each behind its cargo
/// feature).
const BUILTIN: &[(&str, &str)] = &[
    #[cfg(feature = "quickbooks")]
    ("catalog/quickbooks.toml", include_str!("../../catalog/quickbooks.toml")),
    #[cfg(feature = "xero")]
    ("catalog/xero.toml", include_str!("../../catalog/xero.toml")),
    #[cfg(feature = "sage-business-cloud")]
    ("catalog/sageBusinessCloud.toml", include_str!("../../catalog/sageBusinessCloud.toml")),
    #[cfg(feature = "freshbooks")]
    ("catalog/freshbooks.toml", include_str!("../../catalog/freshbooks.toml")),
    #[cfg(feature = "zoho-books")]
    ("catalog/zohoBooks.toml", include_str!("../../catalog/zohoBooks.toml")),
    #[cfg(feature = "dynamics-business-central")]
    ("catalog/dynamicsBusinessCentral.toml", include_str!("../../catalog/dynamicsBusinessCentral.toml")),
    #[cfg(feature = "oracle-netsuite")]
    ("catalog/oracleNetsuite.toml", include_str!("../../catalog/oracleNetsuite.toml")),
    #[cfg(feature = "wave")]
    ("catalog/wave.toml", include_str!("../../catalog/wave.toml")),
    #[cfg(feature = "myob")]
    ("catalog/myob.toml", include_str!("../../catalog/myob.toml")),
    #[cfg(feature = "sage-intacct")]
    ("catalog/sageIntacct.toml", include_str!("../../catalog/sageIntacct.toml")),
    #[cfg(feature = "freeagent")]
    ("catalog/freeagent.toml", include_str!("../../catalog/freeagent.toml")),
    ("catalog/quickbooksDesktop.toml", include_str!("../../catalog/quickbooksDesktop.toml")),
];

/// The definitions of the services an app can offer, by service name.
///
/// ```
/// use railz_connect_providers::catalog::{Catalog, Support};
///
/// let mut catalog = Catalog::builtin()?;
/// # #[cfg(feature = "xero")]
/// assert_eq!(catalog.get(&"xero".parse().unwrap()).unwrap().display_name(), "Xero");
/// // An app's own provider, from its own file, without recompiling the SDK.
/// catalog.add_toml("acme.toml", r#"
///     service = "acmeBooks"
///     display_name = "Acme Books"
///     status = "supported"
///     auth = "oauth2"
///     [oauth2]
///     authorize_url = "https://auth.acme.example/authorize"
///     token_url = "https://auth.acme.example/token"
///     client_auth = "basic"
///     pkce = "required"
///     rotation = "always"
///     [[sources]]
///     fact = "endpoints"
///     url = "https://developer.acme.example/oauth"
/// "#)?;
/// assert_eq!(catalog.get(&"acmeBooks".parse().unwrap()).unwrap().support(), &Support::Supported);
/// # Ok::<(), railz_connect_providers::catalog::CatalogError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    definitions: BTreeMap<ServiceName, Arc<ServiceDefinition>>,
}

impl Catalog {
    /// No definition.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The definitions built into this crate (one per enabled provider feature, plus the
    /// unsupported services, listed with their reason).
    /// The files are parsed and validated once per process; each call answers a copy (the
    /// definitions themselves are shared).
    pub fn builtin() -> Result<Self, CatalogError> {
        static BUILT: std::sync::LazyLock<Result<Catalog, CatalogError>> = std::sync::LazyLock::new(|| {
            let mut catalog = Catalog::empty();
            for (file, text) in BUILTIN {
                catalog.add_toml(file, text)?;
            }
            Ok(catalog)
        });
        BUILT.clone()
    }

    /// Adds a definition from its text, replacing one of the same service name (an app's
    /// staging endpoints, or a new provider). `file` names it in errors.
    pub fn add_toml(&mut self, file: &str, text: &str) -> Result<&ServiceDefinition, CatalogError> {
        let definition = ServiceDefinition::from_toml(file, text)?;
        let name = definition.service.clone();
        if self.definitions.insert(name.clone(), Arc::new(definition)).is_some() {
            tracing::info!(service = %name, file, "catalog definition replaced");
        }
        Ok(&self.definitions[&name])
    }

    /// Adds a definition file (see [`Catalog::add_toml`]).
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<&ServiceDefinition, CatalogError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::new(&label, "", e.to_string()))?;
        self.add_toml(&label, &text)
    }

    /// Adds every `*.toml` file of a directory, in name order.
    pub fn load_dir(&mut self, dir: impl AsRef<Path>) -> Result<usize, CatalogError> {
        let dir = dir.as_ref();
        let label = dir.display().to_string();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| CatalogError::new(&label, "", e.to_string()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for file in &files {
            self.load_file(file)?;
        }
        Ok(files.len())
    }

    /// A service's definition.
    pub fn get(&self, service: &ServiceName) -> Option<&ServiceDefinition> {
        self.definitions.get(service).map(Arc::as_ref)
    }

    pub(crate) fn get_arc(&self, service: &ServiceName) -> Option<Arc<ServiceDefinition>> {
        self.definitions.get(service).cloned()
    }

    /// Every definition, by service name.
    pub fn iter(&self) -> impl Iterator<Item = &ServiceDefinition> {
        self.definitions.values().map(Arc::as_ref)
    }

    /// How many definitions it holds.
    pub fn len(&self) -> usize {
        self.definitions.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.definitions.is_empty()
    }
}

#[cfg(test)]
mod tests;
