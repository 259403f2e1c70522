//! The sandbox server: shared state and the single entry point that
//! records, counts, applies faults and dispatches to one module per
//! endpoint.

mod api;
mod authorize;
mod metadata;
// Its response builders and fault answers are shared with the loopback
// emulations of other providers.
pub(crate) mod response;
mod token;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::Response;
use http::Method;
use serde_json::{Value, json};

pub(crate) use self::metadata::{OAUTH_METADATA_PATH, OPENID_CONFIGURATION_PATH};
use self::response::{
    Reply, answer_with_fault, fault_response, invalid_request, method_not_allowed, not_found, token_shaped,
};
use crate::hold::Hold;
use crate::model::Company;
use crate::serve::{self, first, random_token};
use crate::{Endpoint, Fault, RecordedRequest};

/// Lifetime announced for refresh tokens (`x_refresh_token_expires_in`), 100 days.
const REFRESH_TOKEN_EXPIRES_IN: u64 = 8_640_000;
/// Scope granted when the client asked for none.
const DEFAULT_SCOPE: &str = "accounting.read";
/// Largest request body the server reads.
const BODY_LIMIT: usize = 1 << 20;

pub(crate) type Shared = Arc<Mutex<ServerState>>;

pub(crate) use crate::serve::lock;

#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) issuer: String,
    /// `issuer` announced by the metadata documents instead of the real one.
    pub(crate) metadata_issuer: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) companies: Vec<Company>,
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_grace: Duration,
    pub(crate) code_ttl: Duration,
    pub(crate) faults: HashMap<Endpoint, VecDeque<Fault>>,
    pub(crate) holds: HashMap<Endpoint, VecDeque<Hold>>,
    pub(crate) calls: HashMap<Endpoint, usize>,
    pub(crate) token_calls: HashMap<String, usize>,
    pub(crate) requests: HashMap<Endpoint, Vec<RecordedRequest>>,
    codes: HashMap<String, CodeRecord>,
    used_codes: HashSet<String>,
    grants: Vec<Grant>,
    access_tokens: HashMap<String, AccessRecord>,
    refresh_tokens: HashMap<String, RefreshRecord>,
}

#[derive(Debug)]
struct CodeRecord {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: Option<String>,
    use_case: UseCase,
    issued_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UseCase {
    UserGood,
    InvalidCredentials,
    DataEmpty,
}

#[derive(Debug)]
struct Grant {
    client_id: String,
    scope: String,
    data_empty: bool,
    revoked: bool,
    /// Every refresh token issued for this grant, in issuance order; the
    /// last one is the current one.
    refresh_lineage: Vec<String>,
}

#[derive(Debug)]
struct AccessRecord {
    grant: usize,
    expires_at: Instant,
}

#[derive(Debug)]
struct RefreshRecord {
    grant: usize,
    /// When this token was rotated out; `None` while it is the grant's current one.
    rotated_at: Option<Instant>,
}

impl ServerState {
    pub(crate) fn new(
        issuer: String,
        client_id: String,
        client_secret: String,
        companies: Vec<Company>,
        access_ttl: Duration,
        refresh_grace: Duration,
        code_ttl: Duration,
    ) -> ServerState {
        ServerState {
            issuer,
            metadata_issuer: None,
            client_id,
            client_secret,
            companies,
            access_ttl,
            refresh_grace,
            code_ttl,
            faults: HashMap::new(),
            holds: HashMap::new(),
            calls: HashMap::new(),
            token_calls: HashMap::new(),
            requests: HashMap::new(),
            codes: HashMap::new(),
            used_codes: HashSet::new(),
            grants: Vec::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
        }
    }

    pub(crate) fn revoke_all(&mut self) {
        for grant in &mut self.grants {
            grant.revoked = true;
        }
    }

    pub(crate) fn active_refresh_tokens(&self) -> usize {
        self.grants.iter().filter(|g| !g.revoked).count()
    }

    /// The refresh lineage of the grant `token` (a refresh or access token)
    /// belongs to.
    pub(crate) fn refresh_token_lineage(&self, token: &str) -> Option<Vec<String>> {
        let grant = match self.refresh_tokens.get(token) {
            Some(record) => record.grant,
            None => self.access_tokens.get(token)?.grant,
        };
        Some(self.grants[grant].refresh_lineage.clone())
    }

    fn refresh_usable(&self, record: &RefreshRecord, now: Instant) -> bool {
        let grant = &self.grants[record.grant];
        if grant.revoked {
            return false;
        }
        match record.rotated_at {
            None => true,
            Some(at) => now < at + self.refresh_grace,
        }
    }

    fn issue_tokens(&mut self, grant: usize) -> Value {
        let now = Instant::now();
        let access_token = random_token();
        let refresh_token = random_token();
        self.access_tokens.insert(access_token.clone(), AccessRecord { grant, expires_at: now + self.access_ttl });
        let lineage = &mut self.grants[grant].refresh_lineage;
        if let Some(old) = lineage.last().and_then(|old| self.refresh_tokens.get_mut(old)) {
            old.rotated_at = Some(now);
        }
        lineage.push(refresh_token.clone());
        self.refresh_tokens.insert(refresh_token.clone(), RefreshRecord { grant, rotated_at: None });
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_ttl.as_secs(),
            "refresh_token": refresh_token,
            "scope": self.grants[grant].scope,
            "x_refresh_token_expires_in": REFRESH_TOKEN_EXPIRES_IN,
        })
    }
}

fn classify(path: &str) -> Option<Endpoint> {
    match path {
        "/oauth/authorize" => Some(Endpoint::Authorize),
        "/oauth/token" => Some(Endpoint::Token),
        "/oauth/revoke" => Some(Endpoint::Revoke),
        OAUTH_METADATA_PATH | OPENID_CONFIGURATION_PATH => Some(Endpoint::Metadata),
        p if p == "/api" || p.starts_with("/api/") => Some(Endpoint::Api),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/// The single handler behind every path: records, counts, waits if held,
/// applies the next queued fault, then dispatches.
pub(crate) async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some(endpoint) = classify(parts.uri.path()) else {
        return not_found();
    };
    let body = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => return invalid_request("unreadable request body"),
    };
    let recorded = serve::record(&parts, body);
    tracing::debug!(
        method = %recorded.method,
        path = %recorded.path,
        "railz sandbox request"
    );

    let (hold, fault) = {
        let mut state = lock(&shared);
        *state.calls.entry(endpoint).or_default() += 1;
        if endpoint == Endpoint::Token {
            let grant_type = first(&recorded.form, "grant_type").unwrap_or("").to_owned();
            *state.token_calls.entry(grant_type).or_default() += 1;
        }
        state.requests.entry(endpoint).or_default().push(recorded.clone());
        match state.holds.get_mut(&endpoint).and_then(VecDeque::pop_front) {
            Some(hold) => (Some(hold), None),
            None => (None, state.faults.get_mut(&endpoint).and_then(VecDeque::pop_front)),
        }
    };
    // A held request waits before any work; its fault is the one queued
    // when it is released.
    let fault = match hold {
        Some(hold) => {
            tracing::debug!(?endpoint, "railz sandbox holds request");
            hold.wait().await;
            lock(&shared).faults.get_mut(&endpoint).and_then(VecDeque::pop_front)
        }
        None => fault,
    };

    let run = || dispatch(&shared, endpoint, &parts.method, &recorded);
    let injected = |other: Fault| {
        tracing::debug!(?other, ?endpoint, "railz sandbox injects fault");
        fault_response(other)
    };
    answer_with_fault(fault, run, token_shaped, injected).await
}

fn dispatch(shared: &Shared, endpoint: Endpoint, method: &Method, req: &RecordedRequest) -> Reply {
    let mut state = lock(shared);
    match (endpoint, method) {
        (Endpoint::Authorize, &Method::GET) => Reply::Other(authorize::authorize(&mut state, req)),
        (Endpoint::Token, &Method::POST) => token::token(&mut state, req),
        (Endpoint::Revoke, &Method::POST) => Reply::Other(token::revoke(&mut state, req)),
        (Endpoint::Metadata, &Method::GET) => Reply::Other(metadata::metadata(&state)),
        (Endpoint::Api, &Method::GET) => Reply::Other(api::api(&state, req)),
        (Endpoint::Api, _) => Reply::Other(match api::bearer_grant(&state, req) {
            Ok(_) => method_not_allowed(),
            Err(resp) => *resp,
        }),
        _ => Reply::Other(method_not_allowed()),
    }
}
