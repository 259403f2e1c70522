//! The catalog file format, as read (unvalidated). Every table refuses unknown fields, so a
//! typo is an error naming the field, never a silently ignored fact.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One definition file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefinition {
    pub(crate) service: String,
    pub(crate) display_name: String,
    /// The countries the service is sold in (ISO 3166-1 alpha-2); absent for everywhere.
    #[serde(default)]
    pub(crate) countries: Vec<String>,
    pub(crate) status: RawStatus,
    #[serde(default)]
    pub(crate) unsupported_reason: Option<String>,
    /// The default way in: `oauth2` or `credentials`.
    #[serde(default)]
    pub(crate) auth: Option<RawAuth>,
    /// Rust hooks for what data cannot say (`dynamicsBusinessCentral`, `netsuiteTba`,
    /// `sageIntacct`).
    #[serde(default)]
    pub(crate) hooks: Option<String>,
    #[serde(default)]
    pub(crate) oauth2: Option<RawOAuth2>,
    #[serde(default)]
    pub(crate) credentials: Option<RawCredentials>,
    #[serde(default)]
    pub(crate) api: Option<RawApi>,
    #[serde(default)]
    pub(crate) inputs: Vec<RawInput>,
    #[serde(default)]
    pub(crate) tenants: Option<RawTenants>,
    #[serde(default)]
    pub(crate) verify: Option<RawVerify>,
    #[serde(default)]
    pub(crate) admin_refusal: Option<RawAdminRefusal>,
    #[serde(default)]
    pub(crate) sources: Vec<RawSource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawStatus {
    Supported,
    Unsupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawAuth {
    Oauth2,
    Credentials,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuth2 {
    pub(crate) authorize_url: String,
    pub(crate) token_url: String,
    #[serde(default)]
    pub(crate) revoke_url: Option<String>,
    #[serde(default)]
    pub(crate) revocation: Option<RawRevocation>,
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    #[serde(default)]
    pub(crate) scope_separator: Option<String>,
    pub(crate) client_auth: RawClientAuth,
    pub(crate) pkce: RawPkce,
    #[serde(default)]
    pub(crate) authorize_params: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) callback_params: Vec<String>,
    /// A kept callback parameter naming the origin of the token and revocation endpoints
    /// (Zoho's `accounts-server`).
    #[serde(default)]
    pub(crate) token_origin_param: Option<String>,
    #[serde(default)]
    pub(crate) allowed_hosts: Vec<String>,
    #[serde(default)]
    pub(crate) issuer: Option<String>,
    pub(crate) rotation: RawRotation,
    #[serde(default)]
    pub(crate) refresh_grace_secs: Option<u64>,
    #[serde(default)]
    pub(crate) access_token_ttl_secs: Option<u64>,
    #[serde(default)]
    pub(crate) refresh_token_ttl_secs: Option<u64>,
    #[serde(default)]
    pub(crate) error_aliases: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) sandbox: Option<RawSandbox>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSandbox {
    #[serde(default)]
    pub(crate) authorize_url: Option<String>,
    #[serde(default)]
    pub(crate) token_url: Option<String>,
    #[serde(default)]
    pub(crate) revoke_url: Option<String>,
    #[serde(default)]
    pub(crate) api_base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawRevocation {
    Form,
    Json,
    QueryToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawClientAuth {
    Basic,
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawPkce {
    Required,
    Supported,
    Unsupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawRotation {
    Always,
    Never,
    Unknown,
    /// No refresh tokens at all.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCredentials {
    /// Where the credentials are checked (Intacct's XML gateway, NetSuite's REST API).
    pub(crate) endpoint: String,
    #[serde(default)]
    pub(crate) inputs: Vec<RawInput>,
    #[serde(default)]
    pub(crate) session_timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApi {
    pub(crate) base_url: String,
    /// The token's scheme in `Authorization` (default `Bearer`).
    #[serde(default)]
    pub(crate) auth_scheme: Option<String>,
    /// A header that carries the app's client id on every call (MYOB's `x-myobapi-key`).
    #[serde(default)]
    pub(crate) client_id_header: Option<String>,
    /// A header that names the tenant on every call (Xero's `xero-tenant-id`).
    #[serde(default)]
    pub(crate) tenant_header: Option<String>,
    /// A kept parameter naming the API's origin (Zoho's `api_domain`).
    #[serde(default)]
    pub(crate) origin_param: Option<String>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInput {
    pub(crate) name: String,
    pub(crate) label: String,
    #[serde(default)]
    pub(crate) kind: RawInputKind,
    #[serde(default = "yes")]
    pub(crate) required: bool,
    #[serde(default)]
    pub(crate) choices: Vec<String>,
    #[serde(default)]
    pub(crate) max_len: Option<usize>,
    #[serde(default)]
    pub(crate) identifier: bool,
    /// Sent as this authorization parameter.
    #[serde(default)]
    pub(crate) authorize_param: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawInputKind {
    #[default]
    Text,
    Secret,
    Choice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawTenantSource {
    /// Listed by an API call.
    List,
    /// Named by callback (or input) parameters.
    Callback,
    /// Listed by the service's hooks.
    Hooks,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTenants {
    pub(crate) source: RawTenantSource,
    #[serde(default)]
    pub(crate) request: Option<RawRequest>,
    /// JSON pointer to the list (or, with `single`, to the one object).
    #[serde(default)]
    pub(crate) items: Option<String>,
    #[serde(default)]
    pub(crate) single: bool,
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// JSON pointer to the user's role in an item.
    #[serde(default)]
    pub(crate) role: Option<String>,
    #[serde(default)]
    pub(crate) admin_roles: Vec<String>,
    #[serde(default)]
    pub(crate) id_param: Option<String>,
    #[serde(default)]
    pub(crate) name_param: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequest {
    #[serde(default)]
    pub(crate) method: Option<String>,
    pub(crate) url: String,
    /// A JSON body (GraphQL); `{tenant}` in it is replaced JSON-escaped.
    #[serde(default)]
    pub(crate) json: Option<String>,
    /// Send the tenant header of `[api]`.
    #[serde(default)]
    pub(crate) tenant_header: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVerify {
    pub(crate) request: RawRequest,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawSignal {
    Callback,
    EmptyTenants,
    TenantRole,
    Forbidden,
    CredentialsError,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdminRefusal {
    pub(crate) signal: RawSignal,
    #[serde(default)]
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) description_contains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub(crate) fact: String,
    pub(crate) url: String,
}
