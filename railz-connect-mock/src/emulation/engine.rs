//! The generic engine: a provider's spec as data, and the state every
//! emulation shares (emulated clock, codes, grants, tokens, faults,
//! recordings). Nothing here knows a provider by name.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{EmulatedEndpoint, EmulatedTenant, Role};
pub(super) use crate::serve::{first, random_token};
use crate::{Fault, RecordedRequest};

/// The emulated clock starts here (unix seconds).
pub(super) const CLOCK_START: u64 = 1_800_000_000;

pub(super) type Shared = Arc<Mutex<State>>;

pub(super) use crate::serve::lock;

// ---------------------------------------------------------------------------
// The spec of one provider, as data
// ---------------------------------------------------------------------------

/// How the client authenticates at the token (or revocation) endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientAuth {
    /// `Authorization: Basic` only (RFC 6749 2.3.1 form-encoding).
    Basic,
    /// Basic, or `client_id` + `client_secret` among the parameters.
    BasicOrPost,
    /// `client_id` + `client_secret` among the parameters only.
    Post,
    /// No client authentication.
    None,
}

/// Where the parameters of a POST come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyStyle {
    /// `application/x-www-form-urlencoded` body.
    Form,
    /// JSON object body.
    Json,
    /// Form or JSON body (by `Content-Type`).
    FormOrJson,
    /// Query string and form body, merged.
    FormOrQuery,
}

/// PKCE policy at the authorization endpoint. A challenge that was sent is
/// always verified at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pkce {
    /// A challenge with `code_challenge_method=S256` is required.
    RequiredS256,
    /// Optional; when sent, the method must be `S256`.
    OptionalS256,
    /// Optional; `S256` or `plain` (the default method, RFC 7636 4.3).
    Optional,
}

/// When a refresh token is issued at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Offline {
    /// Always.
    Always,
    /// Only when this scope was requested.
    Scope(&'static str),
    /// Only when this authorization parameter had this value.
    Param(&'static str, &'static str),
}

/// What happens to a refresh token when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rotation {
    /// A new one each use; the used one stays valid this long (zero:
    /// single use).
    Grace(Duration),
    /// No new one; the same one keeps working.
    Never,
    /// A new one each use; the used one is not revoked.
    KeepOld,
}

/// How long a refresh token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefreshTtl {
    /// No expiry.
    Forever,
    /// This long from its own issuance.
    Rolling(Duration),
    /// This long from the grant's first token response.
    FromFirstGrant(Duration),
}

/// The shape of token-endpoint errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorStyle {
    /// RFC 6749 5.2: `{"error", "error_description"}` with the status.
    Standard,
    /// Zoho: HTTP 200 `{"error": ...}`; a bad code or refresh token is `invalid_code`.
    Zoho,
    /// Microsoft identity platform: adds `error_codes` and AADSTS wording.
    Microsoft,
}

/// How a user without the admin/owner role is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Restricted {
    /// Error callback `error=access_denied` with this description.
    ErrorCallback(&'static str),
    /// The authorization succeeds; the provider's API shows it.
    InApi,
}

/// The revocation endpoint.
#[derive(Debug, Clone, Copy)]
pub(super) struct RevokeSpec {
    pub(super) paths: &'static [&'static str],
    pub(super) auth: ClientAuth,
    pub(super) body: BodyStyle,
    /// Zoho answers `{"status":"success"}`; the others an empty 200.
    pub(super) json_status: bool,
}

/// Everything the callback builder may look at.
#[derive(Debug)]
pub(super) struct CallbackCtx<'a> {
    pub(super) base: &'a str,
    pub(super) query: &'a [(String, String)],
    pub(super) tenants: &'a [EmulatedTenant],
    pub(super) scope: Option<&'a str>,
}

/// Everything a token-response builder may look at.
#[derive(Debug)]
pub(super) struct TokenCtx<'a> {
    pub(super) base: &'a str,
    pub(super) now: u64,
    pub(super) grant: &'a Grant,
}

/// Everything a tenant/verify handler may look at.
#[derive(Debug)]
pub(super) struct ApiCtx<'a> {
    pub(super) base: &'a str,
    pub(super) client_id: &'a str,
    pub(super) now: u64,
    pub(super) grant: &'a Grant,
    pub(super) aad_tenant: &'a str,
}

/// One provider, as data plus the few functions that shape its answers.
#[derive(Debug)]
pub(super) struct Spec {
    /// Accepted authorization paths (the first is the documented one).
    pub(super) authorize: &'static [&'static str],
    /// Accepted token paths; `{}` matches any one path segment.
    pub(super) token: &'static [&'static str],
    pub(super) revoke: Option<RevokeSpec>,
    pub(super) client_auth: ClientAuth,
    pub(super) token_body: BodyStyle,
    pub(super) pkce: Pkce,
    /// Allowed `state` length, when the provider restricts it.
    pub(super) state_len: Option<(usize, usize)>,
    /// `' '` or `','`.
    pub(super) scope_sep: char,
    /// Each group needs one of its scopes; `x*` matches any scope starting with `x`.
    pub(super) required_scopes: &'static [&'static [&'static str]],
    /// Authorization parameters that must have exactly this value.
    pub(super) required_params: &'static [(&'static str, &'static str)],
    pub(super) offline: Offline,
    pub(super) code_ttl: Duration,
    pub(super) access_ttl: Duration,
    pub(super) token_type: &'static str,
    pub(super) rotation: Rotation,
    pub(super) refresh_ttl: RefreshTtl,
    pub(super) errors: ErrorStyle,
    pub(super) restricted: Restricted,
    /// The grant covers only the first configured tenant.
    pub(super) single_tenant: bool,
    /// `Authorization` scheme of API calls (`Bearer`, `Zoho-oauthtoken`).
    pub(super) api_scheme: &'static str,
    pub(super) default_tenant: (&'static str, &'static str),
    /// Extra callback parameters on success.
    pub(super) callback: fn(&CallbackCtx<'_>) -> Vec<(&'static str, String)>,
    /// Provider-specific token response fields.
    pub(super) token_fields: fn(&TokenCtx<'_>, &mut Map<String, Value>),
    /// Which API endpoint (tenants or verify) a request is for.
    pub(super) route: fn(&RecordedRequest) -> Option<EmulatedEndpoint>,
    /// Answers an authenticated tenants/verify request.
    pub(super) api: fn(&ApiCtx<'_>, EmulatedEndpoint, &RecordedRequest) -> Response,
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

#[derive(Debug)]
pub(super) struct CodeRecord {
    pub(super) redirect_uri: String,
    /// `(challenge, method)`.
    pub(super) challenge: Option<(String, String)>,
    pub(super) scope: Option<String>,
    pub(super) tenants: Vec<EmulatedTenant>,
    pub(super) role: Role,
    pub(super) offline: bool,
    pub(super) issued_at: Duration,
}

/// What one authorization granted.
#[derive(Debug)]
pub(super) struct Grant {
    pub(super) scope: Option<String>,
    pub(super) tenants: Vec<EmulatedTenant>,
    pub(super) role: Role,
    pub(super) offline: bool,
    pub(super) revoked: bool,
    /// Emulated unix seconds of the code exchange.
    pub(super) granted_at: u64,
    /// Identifies the authorization (Xero `authEventId`).
    pub(super) auth_event_id: String,
}

#[derive(Debug)]
pub(super) struct AccessRecord {
    pub(super) grant: usize,
    pub(super) expires_at: Duration,
}

#[derive(Debug)]
pub(super) struct RefreshRecord {
    pub(super) grant: usize,
    /// Dead from then on (rotated out, past its grace) if set.
    pub(super) dies_at: Option<Duration>,
    /// Its own expiry, if any.
    pub(super) expires_at: Option<Duration>,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) spec: &'static Spec,
    /// Base URL without trailing slash.
    pub(super) base: String,
    pub(super) client_id: String,
    pub(super) client_secret: String,
    /// Business Central: the Entra tenant the environments live in.
    pub(super) aad_tenant: String,
    /// Emulated time since the unix epoch.
    pub(super) now: Duration,
    pub(super) tenants: Vec<EmulatedTenant>,
    pub(super) role: Role,
    pub(super) deny_next: bool,
    pub(super) faults: HashMap<EmulatedEndpoint, VecDeque<Fault>>,
    pub(super) calls: HashMap<EmulatedEndpoint, usize>,
    pub(super) requests: HashMap<EmulatedEndpoint, Vec<RecordedRequest>>,
    pub(super) codes: HashMap<String, CodeRecord>,
    pub(super) grants: Vec<Grant>,
    pub(super) access: HashMap<String, AccessRecord>,
    pub(super) refresh: HashMap<String, RefreshRecord>,
}

impl State {
    pub(super) fn new(spec: &'static Spec, base: String, client_id: String, secret: String) -> State {
        let (id, name) = spec.default_tenant;
        State {
            spec,
            aad_tenant: uuid_from(&format!("aad:{base}")),
            base,
            client_id,
            client_secret: secret,
            now: Duration::from_secs(CLOCK_START),
            tenants: vec![EmulatedTenant::new(id, name)],
            role: Role::Admin,
            deny_next: false,
            faults: HashMap::new(),
            calls: HashMap::new(),
            requests: HashMap::new(),
            codes: HashMap::new(),
            grants: Vec::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
        }
    }

    pub(super) fn now_secs(&self) -> u64 {
        self.now.as_secs()
    }

    pub(super) fn refresh_usable(&self, record: &RefreshRecord) -> bool {
        !self.grants[record.grant].revoked
            && record.dies_at.is_none_or(|at| self.now < at)
            && record.expires_at.is_none_or(|at| self.now < at)
    }

    pub(super) fn active_refresh_tokens(&self) -> usize {
        self.refresh.values().filter(|r| self.refresh_usable(r)).count()
    }

    /// The grant of a live access token.
    pub(super) fn access_grant(&self, token: &str) -> Option<usize> {
        let record = self.access.get(token)?;
        (!self.grants[record.grant].revoked && self.now < record.expires_at).then_some(record.grant)
    }

    /// Issues a token response for `grant`; `used` is the refresh token
    /// being exchanged (None for a code exchange).
    pub(super) fn issue(&mut self, grant: usize, used: Option<&str>) -> Value {
        let spec = self.spec;
        let now = self.now;
        let access_token = random_token();
        self.access.insert(access_token.clone(), AccessRecord { grant, expires_at: now + spec.access_ttl });
        let new_refresh = match (used, spec.rotation) {
            (None, _) => self.grants[grant].offline,
            (Some(_), Rotation::Never) => false,
            (Some(old), Rotation::Grace(grace)) => {
                if let Some(record) = self.refresh.get_mut(old) {
                    let at = now + grace;
                    record.dies_at = Some(record.dies_at.map_or(at, |d| d.min(at)));
                }
                true
            }
            (Some(_), Rotation::KeepOld) => true,
        };
        let mut map = Map::new();
        map.insert("access_token".into(), json!(access_token));
        map.insert("token_type".into(), json!(spec.token_type));
        map.insert("expires_in".into(), json!(spec.access_ttl.as_secs()));
        if new_refresh {
            let refresh_token = random_token();
            let expires_at = match spec.refresh_ttl {
                RefreshTtl::Forever => None,
                RefreshTtl::Rolling(ttl) => Some(now + ttl),
                RefreshTtl::FromFirstGrant(ttl) => Some(Duration::from_secs(self.grants[grant].granted_at) + ttl),
            };
            self.refresh.insert(refresh_token.clone(), RefreshRecord { grant, dies_at: None, expires_at });
            map.insert("refresh_token".into(), json!(refresh_token));
        }
        let ctx = TokenCtx { base: &self.base, now: self.now_secs(), grant: &self.grants[grant] };
        (spec.token_fields)(&ctx, &mut map);
        Value::Object(map)
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// No extra callback parameters.
pub(super) fn no_callback_extras(_: &CallbackCtx<'_>) -> Vec<(&'static str, String)> {
    Vec::new()
}

/// The first granted tenant, if any.
pub(super) fn first_tenant(grant: &Grant) -> Option<&EmulatedTenant> {
    grant.tenants.first()
}

/// A UUID-shaped id derived from `seed` (stable across runs).
pub(super) fn uuid_from(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A number derived from `seed`, in `0..modulo`.
pub(super) fn number_from(seed: &str, modulo: u64) -> u64 {
    let h = Sha256::digest(seed.as_bytes());
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]) % modulo
}

/// `pattern` matches `path` segment by segment; a `{}` segment matches any
/// non-empty segment.
pub(super) fn path_matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut q) = (pattern.split('/'), path.split('/'));
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some("{}"), Some(seg)) if !seg.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The path segments after `prefix` (which must match exactly), if any.
pub(super) fn segments_after<'a>(path: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let rest = rest.strip_prefix('/')?;
    Some(rest.split('/').collect())
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of unix seconds.
pub(super) fn iso_datetime(secs: u64) -> String {
    crate::serve::civil_datetime(i64::try_from(secs).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::form_decode;

    #[test]
    fn helpers() {
        assert!(path_matches("/{}/oauth2/v2.0/token", "/common/oauth2/v2.0/token"));
        assert!(!path_matches("/{}/oauth2/v2.0/token", "//oauth2/v2.0/token"));
        assert!(!path_matches("/connect/token", "/connect/token/"));
        assert_eq!(iso_datetime(1_800_000_000), "2027-01-15T08:00:00");
        assert_eq!(iso_datetime(0), "1970-01-01T00:00:00");
        assert_eq!(form_decode("a%3A%2B%25%2F%3D+b").as_deref(), Some("a:+%/= b"));
        assert_eq!(segments_after("/v3.1/businesses/x", "/v3.1/businesses"), Some(vec!["x"]));
        assert_eq!(segments_after("/v3.1/businessesx", "/v3.1/businesses"), None);
        assert_eq!(uuid_from("a").len(), 36);
    }
}
